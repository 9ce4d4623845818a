import {relative, isAbsolute} from 'node:path'
import type {BackendFlags} from '../config.js'
import {requireSecrets, selectSteps, type PlannedStep, type RunPlan} from '../compile/plan.js'
import {resolveArch} from '../compile/platform.js'
import {ExitCode, InvalidPipelineError, WpkError} from '../errors.js'
import {pipelineEnvironment} from '../pipeline/ci-variables.js'
import type {Step, Workflow} from '../pipeline/model.js'
import {decide, type PipelineStatus} from '../pipeline/when.js'
import {formatIssueReport, issueReport} from '../render/issues.js'
import {validateTarget} from '../validate/files.js'
import {hostArch, planWorkflows, prepareRun, type ExecFlags, type PreparedRun} from './exec.js'

/*
 * `wpk8s plan`: what `exec` would run, decided without a cluster. The view is built from exec's own
 * planning (`prepareRun`, `planWorkflows`, the planned steps' `when` rules, `decide`, `requireSecrets`,
 * `selectSteps`), so the two never disagree; it is plain data, rendered by src/render/plan.ts.
 */

export const PLAN_FORMATS = ['tree', 'json', 'mermaid', 'dot'] as const
export type PlanFormat = (typeof PLAN_FORMATS)[number]

/** Where the platform came from: `--platform`, the workflow's `labels.platform`, or this machine (exec asks the cluster's nodes). */
export type PlatformSource = 'flag' | 'label' | 'machine'

/**
 * What happens to a step (or a workflow) when everything before it succeeds: it runs, it is skipped
 * (`reason` says why), or it runs only once something failed.
 */
export type Verdict = 'run' | 'skip' | 'on-failure'

export interface PlanView {
  /** What the conditions were decided against. */
  context: PlanContext
  workflows: WorkflowView[]
  /** Why `exec` would stop before creating anything, as it would say it (a secret that a step that runs needs). */
  blocked?: {message: string; hint?: string}
  totals: {workflows: number; steps: number; run: number; skip: number; onFailure: number}
}

export interface PlanContext {
  event: string
  branch: string
  ref: string
  tag?: string
  defaultBranch?: string
  pullRequest?: number
  deployTo?: string
  /** The checkout's uncommitted changes, else the last commit's files (what `when.path` matches). */
  changedFiles: string[]
  /** `--step`: only these steps and what they depend on. */
  selected?: string[]
}

export interface WorkflowView {
  name: string
  /** The name with the matrix values, as exec shows it. */
  title: string
  /** Relative to the current folder. */
  file: string
  /** 1-based, over files and matrix rows (`CI_WORKFLOW_NUMBER`). */
  number: number
  matrix: Record<string, string>
  platform: string
  platformSource: PlatformSource
  /** Workflows (by name) this one waits for. */
  dependsOn: string[]
  runsOn: ('success' | 'failure')[]
  verdict: Verdict
  reason?: string
  services: StepView[]
  /** Step names by wave: a wave's steps can run together once the waves before it are done. */
  waves: string[][]
  steps: StepView[]
}

export interface StepView {
  /** As exec names it (a service named like a step gets ` (service)`). */
  name: string
  kind: 'step' | 'service'
  image: string
  /** Steps of the workflow that must end first. */
  dependsOn: string[]
  /** 0 for services, then 1, 2, ... (see WorkflowView.waves). */
  wave: number
  /** Keeps running in the background (services, `detach: true`). */
  background: boolean
  /** `failure: ignore`: its failure does not fail the pipeline. */
  ignoreFailure: boolean
  verdict: Verdict
  /** Runs after a failure too (`status: [success, failure]`). */
  afterFailure: boolean
  /** Why it does not run (or runs only after a failure): the `when` item and value that decided it. */
  reason?: string
  /** Each `when` item as decided before the run (`status` is decided when the step is due). */
  when: {matches: boolean; reason?: string; status: PipelineStatus[]}[]
  /** A `from_secret` that was not given: exec stops (a step that runs) or the step fails when due. */
  missingSecret?: {secret: string; message: string}
}

export interface PlanOptions {
  /** `--platform`. */
  platform?: string
  /** `--step`. */
  steps?: string[]
  /** The architecture of this machine, for workflows without `--platform` or `labels.platform`. */
  hostArch: string
  /** Paths are shown relative to this folder. */
  cwd: string
}

/** The plan of a prepared run: pure (given the prepared run), serialisable. */
export function buildPlanView(run: PreparedRun, options: PlanOptions): PlanView {
  const archOf = (w: Workflow) =>
    resolveArch({flag: options.platform, label: w.labels.platform, fallback: options.hostArch})
  const planned = planWorkflows(run, archOf, 'plan').map(({workflow, plan}) => ({
    workflow,
    plan: options.steps?.length ? selectSteps(plan, options.steps) : plan,
  }))
  let blocked: PlanView['blocked']
  for (const {plan} of planned) {
    try {
      requireSecrets(plan)
    } catch (error) {
      if (!(error instanceof WpkError)) throw error
      blocked ??= {message: error.message, ...(error.hint ? {hint: error.hint} : {})}
    }
  }
  const workflows = planned.map(({workflow, plan}, i) => workflowView(workflow, plan, i + 1, options))
  const steps = workflows.flatMap((w) => [...w.services, ...w.steps])
  const m = run.metadata
  return {
    context: {
      // The branch `when.branch` sees: for pull requests the target branch, as Woodpecker's CI_COMMIT_BRANCH.
      event: m.event,
      branch: pipelineEnvironment(m, {name: '', number: 1}).CI_COMMIT_BRANCH ?? '',
      ref: m.ref,
      ...(m.tag ? {tag: m.tag} : {}),
      ...(m.defaultBranch ? {defaultBranch: m.defaultBranch} : {}),
      ...(m.pullRequest !== undefined ? {pullRequest: m.pullRequest} : {}),
      ...(m.deployTo ? {deployTo: m.deployTo} : {}),
      changedFiles: m.changedFiles,
      ...(options.steps?.length ? {selected: options.steps} : {}),
    },
    workflows,
    ...(blocked ? {blocked} : {}),
    totals: {
      workflows: workflows.length,
      steps: steps.length,
      run: steps.filter((s) => s.verdict === 'run').length,
      skip: steps.filter((s) => s.verdict === 'skip').length,
      onFailure: steps.filter((s) => s.verdict === 'on-failure').length,
    },
  }
}

function workflowView(workflow: Workflow, plan: RunPlan, number: number, options: PlanOptions): WorkflowView {
  // As runWorkflows decides a workflow when every workflow before it succeeded.
  const workflowVerdict: {verdict: Verdict; reason?: string} = plan.skipReason
    ? {verdict: 'skip', reason: plan.skipReason}
    : // The runner's words when it skips such a workflow after a success.
      !workflow.runsOn.includes('success')
      ? {verdict: 'on-failure', reason: 'runs_on: only after a failure'}
      : {verdict: 'run'}
  const waveOf = waves(plan.steps)
  const view = (p: PlannedStep, step: Step, wave: number): StepView => {
    const own = stepVerdict(p)
    // As the runner: a workflow that does not run reports each of its steps skipped with its own reason.
    const verdict =
      workflowVerdict.verdict === 'skip'
        ? {verdict: 'skip' as const, afterFailure: false, reason: workflowVerdict.reason}
        : workflowVerdict.verdict === 'on-failure' && own.verdict !== 'skip'
          ? {verdict: 'on-failure' as const, afterFailure: own.afterFailure, reason: workflowVerdict.reason}
          : own
    return {
      name: p.name,
      kind: p.kind,
      image: step.image,
      dependsOn: p.dependsOn,
      wave,
      background: p.background,
      ignoreFailure: p.failure === 'ignore',
      ...verdict,
      when: p.rules.map((r) => ({matches: r.matches, ...(r.reason ? {reason: r.reason} : {}), status: r.statuses})),
      ...(p.missingSecret ? {missingSecret: {secret: p.missingSecret.secret, message: p.missingSecret.message}} : {}),
    }
  }
  const steps = plan.steps.map((p, i) => view(p, workflow.steps[i], waveOf.get(p.name)!))
  const byWave: string[][] = []
  for (const s of steps) (byWave[s.wave - 1] ??= []).push(s.name)
  return {
    name: workflow.name,
    title: workflow.title,
    file: shownPath(workflow.file, options.cwd),
    number,
    matrix: workflow.matrixRow,
    platform: `linux/${plan.arch}`,
    platformSource: options.platform ? 'flag' : workflow.labels.platform ? 'label' : 'machine',
    dependsOn: workflow.dependsOn,
    runsOn: workflow.runsOn,
    ...workflowVerdict,
    services: plan.services.map((p, i) => view(p, workflow.services[i], 0)),
    waves: byWave,
    steps,
  }
}

/** The step's fate if every step before it succeeds, as the runner decides it (`skip`, then `decide`). */
function stepVerdict(step: PlannedStep): Pick<StepView, 'verdict' | 'afterFailure' | 'reason'> {
  if (step.skip) return {verdict: 'skip', afterFailure: false, reason: step.skip}
  const onSuccess = decide(step.rules, 'success')
  // Services are started once, before the steps: their `when` is decided on success only.
  const onFailure = step.kind === 'service' ? {run: false} : decide(step.rules, 'failure')
  if (onSuccess.run) return {verdict: 'run', afterFailure: onFailure.run}
  if (onFailure.run) return {verdict: 'on-failure', afterFailure: true, reason: onSuccess.reason}
  const failing = step.rules.filter((r) => !r.matches)
  // A list of `when` items: every one of them failed; say why for each.
  const reason =
    step.rules.length > 1 && failing.length === step.rules.length
      ? `when: no item matches: ${step.rules.map((r, i) => `[${i + 1}] ${r.reason}`).join('; ')}`
      : onSuccess.reason
  return {verdict: 'skip', afterFailure: false, ...(reason ? {reason} : {})}
}

/** Wave of each step: 1 for those that wait for nothing, else one more than the latest of what they wait for. */
function waves(steps: readonly PlannedStep[]): Map<string, number> {
  const byName = new Map(steps.map((s) => [s.name, s]))
  const wave = new Map<string, number>()
  const visit = (name: string, seen: Set<string>): number => {
    const known = wave.get(name)
    if (known !== undefined) return known
    // Validation refuses cycles; stay finite anyway.
    if (seen.has(name)) return 1
    seen.add(name)
    const deps = byName.get(name)?.dependsOn ?? []
    const value = deps.length === 0 ? 1 : 1 + Math.max(...deps.map((d) => visit(d, seen)))
    wave.set(name, value)
    return value
  }
  for (const s of steps) visit(s.name, new Set())
  return wave
}

function shownPath(file: string, cwd: string): string {
  if (!isAbsolute(file)) return file
  const rel = relative(cwd, file)
  return rel.startsWith('..') ? file : rel
}

export interface PlanFlags extends BackendFlags, ExecFlags {
  format?: string
  platform?: string
  step?: string[]
}

export interface PlanIo {
  stdout: (text: string) => void
  stderr: (text: string) => void
  /** Colours and width of the terminal for the tree; none when output is not a terminal. */
  terminal: {color: boolean; width?: number}
}

/**
 * `wpk8s plan`: validates as `validate` does (same exit codes: 1 invalid, 2 usage), then prints the
 * plan in the chosen format. Returns the exit code.
 */
export async function runPlanCommand(target: string | undefined, flags: PlanFlags, io: PlanIo): Promise<number> {
  const format = (flags.format ?? 'tree') as PlanFormat
  const checked = validateTarget(target, process.cwd(), flags, process.env)
  const report = issueReport(checked.files, checked.issues, false)
  if (!report.valid) {
    io.stderr(`${formatIssueReport(report, false)}\n`)
    return ExitCode.invalid
  }
  let run: PreparedRun
  try {
    // Secrets are only needed to tell which steps would lack one; exec's own loading and checks.
    run = prepareRun(target, flags)
  } catch (error) {
    // What only a run's loading finds (a matrix row's substitution, the agent settings) is an invalid pipeline too.
    if (error instanceof InvalidPipelineError) {
      io.stderr(`${error.message.replace(/\n*$/, '\n')}`)
      return ExitCode.invalid
    }
    throw error
  }
  const view = buildPlanView(run, {
    platform: flags.platform,
    steps: flags.step,
    hostArch: hostArch(),
    cwd: process.cwd(),
  })
  const render = await import('../render/plan.js')
  io.stdout(render.renderPlan(view, format, io.terminal))
  return ExitCode.ok
}

/** FORCE_COLOR (not 0) turns colour on, NO_COLOR off; otherwise a terminal that is not dumb gets it. */
export function colorWanted(tty: boolean, env: NodeJS.ProcessEnv): boolean {
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '')
    return env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false'
  if (env.NO_COLOR) return false
  return tty && env.TERM !== 'dumb'
}
