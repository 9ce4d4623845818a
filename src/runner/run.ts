import type {V1Pod} from '@kubernetes/client-node'
import {LABELS} from '../compile/names.js'
import {STEP_CONTAINER} from '../compile/pod.js'
import type {PlannedStep, RunPlan} from '../compile/plan.js'
import type {Cluster} from '../cluster/cluster.js'
import type {PodState} from '../cluster/pod-state.js'
import {ClusterError, errorMessage, ExitCode, WpkError} from '../errors.js'
import type {Emit, StepResult} from './events.js'

export interface RunLimits {
  /** The whole run, cleanup excluded. */
  timeoutMs: number
  /** A pod from creation to its container starting (image pull included). */
  startTimeoutMs: number
  /** The workspace claim from creation to bound. */
  bindTimeoutMs: number
  /** Cleanup: how long to wait for everything to be gone. */
  cleanupTimeoutMs: number
}

export const DEFAULT_LIMITS: RunLimits = {timeoutMs: 60 * 60_000, startTimeoutMs: 5 * 60_000, bindTimeoutMs: 2 * 60_000, cleanupTimeoutMs: 60_000}

export interface RunResult {
  exitCode: number
  steps: StepResult[]
}

/** Runs a plan: workspace, checkout, steps in order; then deletes everything the run created, always. */
export async function runPlan(plan: RunPlan, cluster: Cluster, emit: Emit, checkout: () => Promise<Buffer>, limits: RunLimits = DEFAULT_LIMITS): Promise<RunResult> {
  const started = Date.now()
  emit({type: 'run-start', runId: plan.runId, namespace: plan.namespace, workflow: plan.workflow, server: cluster.server, steps: plan.steps.map((s) => s.name)})
  const results: StepResult[] = []
  const progress: {running?: string} = {}
  let exitCode: number = ExitCode.ok
  let failure: WpkError | undefined
  try {
    await withTimeout(runSteps(plan, cluster, emit, checkout, limits, results, progress), limits.timeoutMs, `the run did not finish within ${Math.round(limits.timeoutMs / 1000)} s (--timeout)`)
    exitCode = results.some((r) => r.status === 'failure' && !ignored(plan, r.name)) ? ExitCode.stepFailed : ExitCode.ok
  } catch (error) {
    failure = error instanceof WpkError ? error : new ClusterError(errorMessage(error))
    exitCode = failure.exitCode
    markUnfinished(plan, results, emit, failure.message, progress.running)
  } finally {
    await cleanUp(plan, cluster, emit, limits)
  }
  const status = failure ? 'error' : exitCode === ExitCode.ok ? 'success' : 'failure'
  emit({type: 'run-end', status, exitCode, durationMs: Date.now() - started, ...(failure ? {error: failure.message, ...(failure.hint ? {hint: failure.hint} : {})} : {})})
  return {exitCode, steps: results}
}

function ignored(plan: RunPlan, step: string): boolean {
  return plan.steps.find((s) => s.name === step)?.failure === 'ignore'
}

async function runSteps(plan: RunPlan, cluster: Cluster, emit: Emit, checkout: () => Promise<Buffer>, limits: RunLimits, results: StepResult[], progress: {running?: string}): Promise<void> {
  await cluster.ensureNamespace(plan.namespace)
  emit({type: 'phase', phase: 'workspace', status: 'start'})
  await cluster.createPvc(plan.pvc)
  const bound = cluster.waitPvcBound(plan.namespace, plan.pvc.metadata!.name!, limits.bindTimeoutMs)
  if (plan.shipCheckout) {
    await shipCheckout(plan, cluster, emit, checkout(), bound, limits)
  } else {
    await bound
    emit({type: 'phase', phase: 'workspace', status: 'done'})
  }
  let failed = false
  for (const step of plan.steps) {
    if (failed) {
      const result: StepResult = {name: step.name, status: 'skipped', durationMs: 0, reason: 'an earlier step failed'}
      results.push(result)
      emit({type: 'step-end', step: step.name, status: 'skipped', durationMs: 0, reason: result.reason})
      continue
    }
    progress.running = step.name
    const result = await runStep(step, plan, cluster, emit, limits)
    progress.running = undefined
    results.push(result)
    if (result.status === 'failure' && step.failure !== 'ignore') failed = true
  }
}

/** Streams the checkout into the workspace through the helper pod; packing overlaps the pod's start. */
async function shipCheckout(plan: RunPlan, cluster: Cluster, emit: Emit, tar: Promise<Buffer>, bound: Promise<void>, limits: RunLimits): Promise<void> {
  const pod = plan.helperPod
  const name = pod.metadata!.name!
  await cluster.createPod(pod)
  await Promise.all([bound, startedPod(cluster, pod, limits, 'running')])
  emit({type: 'phase', phase: 'workspace', status: 'done'})
  emit({type: 'phase', phase: 'ship', status: 'start'})
  const archive = await tar
  const script = 'mkdir -p "$1" && head -c "$2" | tar -x -o -f - -C "$1"'
  const {exitCode, stderr} = await cluster.execWithInput(plan.namespace, name, 'ship', ['sh', '-c', script, 'ship', plan.workspaceDir, String(archive.length)], archive)
  if (exitCode !== 0) throw new ClusterError(`copying the checkout into the workspace failed (exit ${exitCode}): ${stderr.trim()}`)
  emit({type: 'phase', phase: 'ship', status: 'done', detail: `${(archive.length / 1024).toFixed(0)} KiB`})
  void cluster.deletePod(plan.namespace, name, 0).catch(() => {})
}

/** Waits until the pod's container started (or already ended); a pod that cannot start is an error. */
async function startedPod(cluster: Cluster, pod: V1Pod, limits: RunLimits, want: 'running' | 'started'): Promise<PodState> {
  const name = pod.metadata!.name!
  const state = await cluster.watchPod(pod.metadata!.namespace!, name, (s) => s.kind !== 'pending', limits.startTimeoutMs)
  if (state.kind === 'stuck' || state.kind === 'lost') throw new ClusterError(`pod ${name} cannot start: ${state.reason}: ${state.message}`, startHint(state.reason))
  if (want === 'running' && state.kind === 'terminated') throw new ClusterError(`pod ${name} ended unexpectedly (exit ${state.exitCode})`)
  return state
}

function startHint(reason: string): string | undefined {
  if (/Image/.test(reason)) return 'check the image name and tag, and that the cluster can pull it'
  if (reason === 'Unschedulable') return 'check nodeSelector, tolerations and resource requests against the nodes'
  if (reason === 'CreateContainerConfigError') return 'a Secret, ConfigMap or ServiceAccount the step refers to may be missing'
  return undefined
}

async function runStep(step: PlannedStep, plan: RunPlan, cluster: Cluster, emit: Emit, limits: RunLimits): Promise<StepResult> {
  const started = Date.now()
  const name = step.pod.metadata!.name!
  await cluster.createPod(step.pod)
  await startedPod(cluster, step.pod, limits, 'started')
  emit({type: 'step-start', step: step.name, pod: name})
  const log = cluster.followLog(plan.namespace, name, STEP_CONTAINER, (line) => emit({type: 'log', step: step.name, line}))
  const end = await cluster.watchPod(plan.namespace, name, (s) => s.kind === 'terminated' || s.kind === 'lost', limits.timeoutMs)
  await log
  void cluster.deletePod(plan.namespace, name, 0).catch(() => {})
  const durationMs = Date.now() - started
  if (end.kind !== 'terminated') throw new ClusterError(`step ${step.name}: ${end.kind === 'lost' ? end.message : 'did not finish'}`)
  const status = end.exitCode === 0 ? 'success' : 'failure'
  const reason = end.reason === 'OOMKilled' ? `killed for exceeding its memory limit${memoryLimit(step.pod)}` : undefined
  emit({type: 'step-end', step: step.name, status, exitCode: end.exitCode, durationMs, ...(reason ? {reason} : {})})
  return {name: step.name, status, exitCode: end.exitCode, durationMs, ...(reason ? {reason} : {})}
}

function memoryLimit(pod: V1Pod): string {
  const limit = pod.spec?.containers[0].resources?.limits?.memory
  return limit ? ` (${limit})` : ''
}

/** After an error: the step that was running failed with it; the ones after it did not run. */
function markUnfinished(plan: RunPlan, results: StepResult[], emit: Emit, reason: string, running: string | undefined): void {
  for (const step of plan.steps.slice(results.length)) {
    const failed = step.name === running
    const result: StepResult = {name: step.name, status: failed ? 'failure' : 'skipped', durationMs: 0, reason: failed ? reason : 'not run: the run stopped'}
    results.push(result)
    emit({type: 'step-end', step: step.name, status: result.status, durationMs: 0, reason: result.reason})
  }
}

/** Deletes every object labelled with the run id and waits until they are gone (or the limit passes). */
async function cleanUp(plan: RunPlan, cluster: Cluster, emit: Emit, limits: RunLimits): Promise<void> {
  emit({type: 'cleanup', status: 'start'})
  const selector = `${LABELS.run}=${plan.runId}`
  const deadline = Date.now() + limits.cleanupTimeoutMs
  let deleted = 0
  let left: string[] = []
  try {
    for (;;) {
      const objects = await cluster.listRunObjects(plan.namespace, selector)
      left = objects.map((o) => `${o.kind}/${o.name}`)
      if (objects.length === 0 || Date.now() > deadline) break
      await Promise.all(objects.map((o) => (o.kind === 'Pod' ? cluster.deletePod(o.namespace, o.name, 0) : cluster.deletePvc(o.namespace, o.name))))
      deleted = Math.max(deleted, objects.length)
      await new Promise((r) => setTimeout(r, 250))
    }
  } catch (error) {
    left = [`(cleanup failed: ${errorMessage(error)})`]
  }
  emit({type: 'cleanup', status: 'done', deleted, ...(left.length > 0 ? {left} : {})})
}

function withTimeout<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ClusterError(message)), ms)
  })
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer))
}
