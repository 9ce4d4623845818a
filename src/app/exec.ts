import {randomBytes} from 'node:crypto'
import type {V1Pod} from '@kubernetes/client-node'
import {stringify} from 'yaml'
import {type BackendConfig, type BackendFlags, resolveBackendConfig} from '../config.js'
import {InvalidPipelineError, UsageError} from '../errors.js'
import {newRunId} from '../compile/names.js'
import {planRun, type RunPlan} from '../compile/plan.js'
import {resolveArch} from '../compile/platform.js'
import {pipelineEnvironment} from '../pipeline/ci-variables.js'
import {type MetadataOverrides, PULL_REQUEST_EVENTS, readMetadata, type RunMetadata} from '../pipeline/metadata.js'
import type {Workflow} from '../pipeline/model.js'
import {loadSecrets} from '../pipeline/secrets-file.js'
import {EVENTS} from '../validate/when.js'
import {loadWorkflows} from '../pipeline/workflow.js'
import {chooseOutput, type Renderer} from '../render/choose.js'
import {formatIssueReport, issueReport} from '../render/issues.js'
import {jsonRenderer, plainRenderer} from '../render/run-output.js'
import {applyServiceFlags, type ServiceFlags} from '../runner/services.js'
import {podDeadlineSeconds, withDeadline} from '../runner/state.js'

export interface ExecFlags extends BackendFlags {
  env?: string[]
  event?: string
  branch?: string
  tag?: string
  'default-branch'?: string
  'pull-request'?: number
  'deploy-to'?: string
  'pipeline-number'?: number
  secret?: string[]
  'secrets-file'?: string
  'helper-image'?: string
}

/** Everything a run needs that does not come from the cluster: checked configuration, metadata, workflows, secrets. */
export interface PreparedRun {
  config: BackendConfig
  metadata: RunMetadata
  workflows: Workflow[]
  extraEnv: Record<string, string>
  secrets: Record<string, string>
  helperImage?: string
}

/** Validates flags, environment and pipeline; nothing touches a cluster, and any problem stops here. */
export function prepareRun(target: string | undefined, flags: ExecFlags): PreparedRun {
  const {config, issues} = resolveBackendConfig(flags, process.env, (line) => process.stderr.write(line))
  if (issues.length > 0) throw new InvalidPipelineError(formatIssueReport(issueReport([], issues, false), false))
  const extraEnv = parseEnvFlags(flags.env ?? [])
  const metadata = readMetadata(process.cwd(), metadataOverrides(flags), new Date())
  // Woodpecker's order: global variables only where the metadata has nothing, the matrix over both.
  const {workflows, warnings} = loadWorkflows(target, process.cwd(), (workflow) => ({
    ...extraEnv,
    ...pipelineEnvironment(metadata, workflow),
  }))
  for (const w of warnings)
    process.stderr.write(`warning ${w.file}:${w.line}:${w.col} ${w.path ? `${w.path}: ` : ''}${w.message}\n`)
  const secrets = loadSecrets(flags['secrets-file'], flags.secret ?? [])
  return {config, metadata, workflows, extraEnv, secrets, helperImage: flags['helper-image']}
}

/** One plan per workflow instance; with several, run ids get the instance's number. */
export function planWorkflows(
  run: PreparedRun,
  archOf: (workflow: Workflow) => string,
  runId = newRunId(),
): {workflow: Workflow; plan: RunPlan}[] {
  return run.workflows.map((workflow, i) => ({
    workflow,
    plan: planRun({
      workflow,
      config: run.config,
      metadata: run.metadata,
      runId: run.workflows.length === 1 ? runId : `${runId}-${i + 1}`,
      arch: archOf(workflow),
      matrix: workflow.matrixRow,
      extraEnv: run.extraEnv,
      workflowNumber: i + 1,
      secrets: run.secrets,
      helperImage: run.helperImage,
      shipToken: randomBytes(16).toString('hex'),
    }),
  }))
}

/** `--dry-run`: the objects a run would create, Secret values redacted, as YAML documents or a JSON List. */
export function printPlans(
  run: PreparedRun,
  platform: string | undefined,
  output: string,
  timeoutSeconds: number,
  serviceFlags: ServiceFlags = {},
): void {
  const {runs: plans} = applyServiceFlags(
    planWorkflows(run, (w) => resolveArch({flag: platform, label: w.labels.platform, fallback: hostArch()})),
    serviceFlags,
  )
  // As a run creates them: with the deadline of a pod created at the start of the run.
  const deadline = (pod: V1Pod) => withDeadline(pod, podDeadlineSeconds(timeoutSeconds * 1000))
  const objects = plans.flatMap(({plan}) => {
    const secret = plan.secret && {
      ...plan.secret,
      stringData: Object.fromEntries(Object.keys(plan.secret.stringData ?? {}).map((k) => [k, 'REDACTED'])),
    }
    // Cache claims are created only when missing, and kept.
    return [
      plan.pvc,
      ...(plan.caches ?? []),
      ...(secret ? [secret] : []),
      ...plan.services.map((s) => deadline(s.pod)),
      ...plan.steps.map((s) => deadline(s.pod)),
    ]
  })
  if (output === 'json')
    process.stdout.write(`${JSON.stringify({apiVersion: 'v1', kind: 'List', items: objects}, null, 2)}\n`)
  else process.stdout.write(objects.map((o) => stringify(o, {lineWidth: 0})).join('---\n'))
}

export async function outputFor(json: boolean, workflows: number): Promise<Renderer> {
  const write = (text: string) => process.stdout.write(text)
  const kind = chooseOutput({
    json,
    isTTY: Boolean(process.stdout.isTTY),
    columns: process.stdout.columns ?? 0,
    env: process.env,
    workflows,
  })
  if (kind === 'json') return jsonRenderer(write)
  if (kind === 'plain') return plainRenderer(write, Boolean(process.env.FORCE_COLOR) && process.env.FORCE_COLOR !== '0')
  return (await import('../render/tty.js')).ttyRenderer(write)
}

/** This machine's architecture as Kubernetes names it (`x64` → `amd64`). */
export function hostArch(): string {
  return (
    ({x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x'} as Record<string, string>)[
      process.arch
    ] ?? process.arch
  )
}

function parseEnvFlags(values: string[]): Record<string, string> {
  const env: Record<string, string> = {}
  for (const value of values) {
    const eq = value.indexOf('=')
    if (eq <= 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(value.slice(0, eq)))
      throw new UsageError(`--env ${value}: expected KEY=VALUE`)
    env[value.slice(0, eq)] = value.slice(eq + 1)
  }
  return env
}

function metadataOverrides(flags: ExecFlags): MetadataOverrides {
  if (flags.event !== undefined && !EVENTS.includes(flags.event))
    throw new UsageError(`--event ${flags.event}: not a Woodpecker event`, `one of ${EVENTS.join(', ')}`)
  if (flags['pull-request'] !== undefined && !PULL_REQUEST_EVENTS.includes(flags.event ?? ''))
    throw new UsageError(
      '--pull-request goes with --event pull_request (or pull_request_closed, pull_request_metadata)',
    )
  return {
    event: flags.event,
    branch: flags.branch,
    tag: flags.tag,
    defaultBranch: flags['default-branch'],
    pullRequest: flags['pull-request'],
    deployTo: flags['deploy-to'],
    pipelineNumber: flags['pipeline-number'],
  }
}
