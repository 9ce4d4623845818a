import type {RunPlan} from '../compile/plan.js'
import type {Cluster} from '../cluster/cluster.js'
import {ExitCode} from '../errors.js'
import type {Workflow} from '../pipeline/model.js'
import type {Emit, WorkflowEvent, WorkflowStatus} from './events.js'
import {type RunLimits, runPlan} from './run.js'
import type {Archive} from './checkout.js'

export interface WorkflowRun {
  workflow: Workflow
  plan: RunPlan
}

interface Outcome {
  status: WorkflowStatus
  exitCode: number
  reason?: string
}

/**
 * Runs the workflows of a pipeline: each once its `depends_on` workflows are done, in parallel where
 * independent; a workflow whose dependency failed runs only with `runs_on: [failure]`. One result for all.
 */
export async function runWorkflows(
  runs: WorkflowRun[],
  cluster: Cluster,
  emit: Emit,
  checkout: () => Promise<Archive>,
  limits: RunLimits,
): Promise<number> {
  const started = Date.now()
  emit({type: 'pipeline-start', workflows: runs.map((r) => r.workflow.title)})
  const tar = memo(checkout)
  const outcomes = new Map<WorkflowRun, Outcome>()
  const inFlight = new Map<WorkflowRun, Promise<void>>()
  const single = runs.length === 1
  const tagFor = (run: WorkflowRun): Emit =>
    single ? emit : (event) => emit({...(event as WorkflowEvent), workflow: run.workflow.title})
  /** A workflow that does not run still shows each of its steps as skipped, with the reason. */
  const skip = (run: WorkflowRun, reason: string) => {
    outcomes.set(run, {status: 'skipped', exitCode: ExitCode.ok, reason})
    for (const step of [...run.plan.services, ...run.plan.steps])
      tagFor(run)({type: 'step-end', step: step.name, status: 'skipped', durationMs: 0, reason})
  }
  for (;;) {
    for (const run of runs) {
      if (outcomes.has(run) || inFlight.has(run)) continue
      if (limits.interrupt?.signal.aborted) {
        skip(run, 'not run: interrupted')
        continue
      }
      const deps = dependencies(run, runs)
      if (!deps.every((d) => outcomes.has(d))) continue
      const failedDep = deps.find((d) => ['failure', 'error'].includes(outcomes.get(d)!.status))
      if (failedDep && !run.workflow.runsOn.includes('failure')) {
        skip(run, `depends on ${failedDep.workflow.title}, which failed`)
        continue
      }
      if (!failedDep && !run.workflow.runsOn.includes('success')) {
        skip(run, 'runs_on: only after a failure')
        continue
      }
      inFlight.set(
        run,
        runPlan(run.plan, cluster, tagFor(run), tar, limits).then((result) => {
          const skipped = run.plan.skipReason !== undefined
          outcomes.set(run, {
            status: skipped
              ? 'skipped'
              : result.exitCode === ExitCode.ok
                ? 'success'
                : result.exitCode === ExitCode.stepFailed
                  ? 'failure'
                  : 'error',
            exitCode: result.exitCode,
            ...(skipped ? {reason: run.plan.skipReason} : {}),
          })
          inFlight.delete(run)
        }),
      )
    }
    if (inFlight.size === 0) break
    await Promise.race(inFlight.values())
  }
  const all = runs.map((r) => ({name: r.workflow.title, ...outcomes.get(r)!}))
  const interrupted = limits.interrupt?.error
  const exitCode = interrupted
    ? interrupted.exitCode
    : all.some((o) => o.status === 'error')
      ? Math.max(...all.map((o) => o.exitCode))
      : all.some((o) => o.status === 'failure')
        ? ExitCode.stepFailed
        : ExitCode.ok
  emit({
    type: 'pipeline-end',
    status: exitCode === ExitCode.ok ? 'success' : exitCode === ExitCode.stepFailed ? 'failure' : 'error',
    exitCode,
    durationMs: Date.now() - started,
    workflows: all.map((o) => ({name: o.name, status: o.status, ...(o.reason ? {reason: o.reason} : {})})),
  })
  return exitCode
}

/** The instances (every matrix combination) of the workflows this one depends on; absent optional ones are dropped. */
function dependencies(run: WorkflowRun, runs: WorkflowRun[]): WorkflowRun[] {
  return runs.filter((other) => run.workflow.dependsOn.includes(other.workflow.name) && other !== run)
}

function memo<T>(make: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined
  return () => (value ??= make())
}
