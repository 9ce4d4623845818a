import type {V1Pod} from '@kubernetes/client-node'
import type {PlannedStep} from '../compile/plan.js'
import {podAtStart, STEP_CONTAINER} from '../compile/pod.js'
import {endMark, printsEndMark} from '../compile/script.js'
import type {PodState} from '../cluster/pod-state.js'
import {ClusterError} from '../errors.js'
import type {PipelineStatus} from '../pipeline/when.js'
import {dns1123Subdomain} from '../validate/kube-rules.js'
import type {AheadPods} from './ahead.js'
import type {StepResult} from './events.js'
import {logTail, serviceDuration, serviceRecord, waitUntilReady} from './services.js'
import {create, pipelineStatus, type RunState, startedPod} from './state.js'

// One step's pod: started (or taken from those created ahead), its log followed, its end read.

/** Only names that are valid host names can be aliases (a step called "Build it" is not reachable by name). */
export function isHostname(name: string): boolean {
  return dns1123Subdomain(name) === undefined
}

/** The step's running pod: the one created ahead, released now, or else a new one. */
export async function startStepPod(
  state: RunState,
  step: PlannedStep,
  ahead: AheadPods,
): Promise<{name: string; releasedAt?: number}> {
  const start = {
    pipelineStatus: pipelineStatus(state),
    startedAt: Math.floor(Date.now() / 1000),
    hostAliases: state.hostAliases,
  }
  state.emit({type: 'step-starting', step: step.name, pod: step.pod.metadata!.name!})
  const taken = await ahead.take(step.name, start, state.limits.startTimeoutMs)
  if (taken) return taken
  const pod = podAtStart(step.pod, start)
  await create(state, pod)
  await startedPod(state.cluster, pod, state.limits)
  return {name: pod.metadata!.name!}
}

/**
 * A service or detached step: started, its log followed in the background (each line under its name),
 * done for the scheduler once running, or, when it has a readiness check (its TCP `ports`, or
 * --service-probe), once ready; then its --port-forward ports connect.
 */
export async function startBackground(
  state: RunState,
  step: PlannedStep,
  status: PipelineStatus,
): Promise<{name: string; ip?: string}> {
  const {plan, cluster, emit} = state
  const pod = podAtStart(step.pod, {
    pipelineStatus: status,
    startedAt: Math.floor(Date.now() / 1000),
    hostAliases: state.hostAliases,
  })
  const name = pod.metadata!.name!
  serviceRecord(state).started.set(step.name, {at: Date.now()})
  emit({type: 'step-starting', step: step.name, pod: name})
  await create(state, pod)
  const started = await startedPod(cluster, pod, state.limits)
  emit({type: 'step-start', step: step.name, pod: name, background: true})
  const tail = logTail()
  const emitLine = (line: string) => {
    tail.push(line)
    emit({type: 'log', step: step.name, line})
  }
  // The wrapper's marks are not the service's output (a service's end is read from its pod's status).
  const onLine = printsEndMark(step.pod.spec!.containers[0].command)
    ? endMarkReader(endMark(plan.runId), emitLine).onLine
    : emitLine
  // Once cleanup deleted its pod the run is over: the log is closed then, not when the node has killed
  // the container (about 2 s later).
  const logDone = cluster
    .followLog(plan.namespace, name, STEP_CONTAINER, onLine, {
      ready: state.limits.outputReady,
      complete: serviceRecord(state).over,
    })
    .catch(() => {})
  state.background.push(logDone)
  const ended =
    started.kind === 'terminated'
      ? Promise.resolve(started)
      : cluster.watchPod(
          plan.namespace,
          name,
          (s) => s.kind === 'terminated' || s.kind === 'lost',
          state.limits.timeoutMs,
        )
  // Its phases once it ended, or (still running) when the run stops it, before cleanup.
  readPhasesAfter(state, step.name, name, ended)
  state.background.push(
    ended.then(
      (end) => {
        if (end.kind !== 'terminated' || state.stopped) return
        state.backgroundEnds.set(step.name, end)
        // In this machine's clock, as its start: the container's own times are the node's.
        const record = serviceRecord(state).started.get(step.name)
        if (record) record.endedAt = Date.now()
      },
      () => {},
    ),
  )
  // While it gets ready it counts as running: if it never does, it fails with the run's error.
  state.running.add(step.name)
  await waitUntilReady(state, step, pod, {lines: tail.lines, done: logDone})
  state.running.delete(step.name)
  serviceRecord(state).forwards?.attach(step, name)
  return {name: step.host ?? step.name, ip: started.kind === 'running' ? started.ip : undefined}
}

/**
 * A service's result: how it exited if it ended on its own, else stopped by the run's end
 * (`stoppedAt`); its duration from its pod's creation, and when it was ready.
 */
export function backgroundResult(state: RunState, name: string, stoppedAt: number): StepResult {
  const end = state.backgroundEnds.get(name)
  const ended = end?.kind === 'terminated'
  const {durationMs, ready} = serviceDuration(
    state,
    name,
    (ended && serviceRecord(state).started.get(name)?.endedAt) || stoppedAt,
  )
  const reason = (text: string) => (ready ? `${ready}; ${text}` : text)
  if (!ended) return {name, status: 'success', durationMs, reason: reason('stopped at the end')}
  return {
    name,
    status: end.exitCode === 0 ? 'success' : 'failure',
    exitCode: end.exitCode,
    durationMs,
    reason: reason('ended before the run did'),
  }
}

export async function runStep(
  state: RunState,
  step: PlannedStep,
  ahead: AheadPods,
  onRunning: () => void,
): Promise<StepResult> {
  const {plan, cluster, emit} = state
  const started = Date.now()
  if (step.background) {
    const {ip} = await startBackground(state, step, pipelineStatus(state))
    const host = step.host ?? step.name
    if (ip && isHostname(host)) state.hostAliases = [...state.hostAliases, {hostnames: [host], ip}]
    const {ready} = serviceDuration(state, step.name, Date.now())
    return {
      name: step.name,
      status: 'success',
      durationMs: Date.now() - started,
      reason: `detached: ${ready ? `${ready}, ` : ''}runs until the end`,
    }
  }
  state.running.add(step.name)
  const {name, releasedAt} = await startStepPod(state, step, ahead)
  emit({type: 'step-start', step: step.name, pod: name})
  onRunning()
  let containerEnded!: () => void
  const ended = new Promise<void>((resolve) => (containerEnded = resolve))
  const emitLine = (line: string) => emit({type: 'log', step: step.name, line})
  // Only wpk8s's own wrapper prints a mark that counts; any other container's output is just output.
  const marked = printsEndMark(step.pod.spec!.containers[0].command)
    ? endMarkReader(endMark(plan.runId), emitLine)
    : {onLine: emitLine, success: new Promise<'success'>(() => {})}
  // After the end mark (the script's last line) and the container's end, the log has nothing more to say.
  const complete = marked.success.then(() => ended)
  const log = cluster.followLog(plan.namespace, name, STEP_CONTAINER, marked.onLine, {
    ready: state.limits.outputReady,
    containerEnded: ended,
    complete,
  })
  const status = cluster.watchPod(
    plan.namespace,
    name,
    (s) => s.kind === 'terminated' || s.kind === 'lost',
    state.limits.timeoutMs,
  )
  const first = await Promise.race([status, marked.success])
  if (first === 'success') {
    // The script said it ended with 0: later steps may start now. The pod's status (seen only at the
    // kubelet's next relist) and the log's end are awaited in the background.
    state.background.push(
      status
        .then(containerEnded, containerEnded)
        .then(() => log)
        .catch(() => {}),
    )
    // Its phases once its status tells the end (finishedAt), in the background.
    readPhasesAfter(state, step.name, name, status, releasedAt)
    state.running.delete(step.name)
    return {name: step.name, status: 'success', exitCode: 0, durationMs: Date.now() - started}
  }
  const end = first
  containerEnded()
  readPhasesAfter(state, step.name, name, Promise.resolve(), releasedAt)
  await log
  if (end.kind !== 'terminated')
    throw new ClusterError(`step ${step.name}: ${end.kind === 'lost' ? end.message : 'did not finish'}`)
  state.running.delete(step.name)
  // The ended pod stays until cleanup: deleting it now makes the node tear it down while it starts the
  // next step's pod (6 trivial steps: 12.0 s → 9.2 s on the test cluster), and its log stays readable.
  const durationMs = Date.now() - started
  const reason =
    end.reason === 'OOMKilled' ? `killed for exceeding its memory limit${memoryLimit(step.pod)}` : undefined
  const containerMs = ownRunTime(end, releasedAt)
  return {
    name: step.name,
    status: end.exitCode === 0 ? 'success' : 'failure',
    exitCode: end.exitCode,
    durationMs,
    ...(reason ? {reason} : {}),
    ...(containerMs === undefined ? {} : {containerMs}),
  }
}

/** Each run's reads of its pods' phases (`step-phases`): waiting for their pod's end, and under way. */
const phaseReads = new WeakMap<RunState, {waiting: Set<() => void>; reading: Promise<void>[]; over: boolean}>()

/**
 * Reads the pod's phases from the cluster (one GET of the pod, one list of its events) once `after`
 * settles (its end), or when the run stops first (readPhasesBeforeCleanup), and emits `step-phases`.
 * Never delays the step's result, and never fails anything: a pod that is gone or unreadable says nothing.
 */
function readPhasesAfter(
  state: RunState,
  step: string,
  pod: string,
  after: Promise<unknown>,
  releasedAt?: number,
): void {
  let record = phaseReads.get(state)
  if (!record) phaseReads.set(state, (record = {waiting: new Set(), reading: [], over: false}))
  const reads = record
  let done = false
  const read = () => {
    if (done || reads.over) return
    done = true
    reads.waiting.delete(read)
    reads.reading.push(readPhases(state, step, pod, releasedAt, reads))
  }
  reads.waiting.add(read)
  after.then(read, read)
}

async function readPhases(
  state: RunState,
  step: string,
  pod: string,
  releasedAt: number | undefined,
  reads: {over: boolean},
): Promise<void> {
  const timeline = await state.cluster.podTimeline(state.plan.namespace, pod).catch(() => undefined)
  if (!timeline || reads.over) return
  const iso = (date: Date | undefined) => (date && !Number.isNaN(date.getTime()) ? date.toISOString() : undefined)
  const times = {
    createdAt: iso(timeline.createdAt),
    releasedAt: iso(releasedAt === undefined ? undefined : new Date(releasedAt)),
    scheduledAt: iso(timeline.scheduledAt),
    pullingAt: iso(timeline.pullingAt),
    pulledAt: iso(timeline.pulledAt),
    startedAt: iso(timeline.startedAt),
    finishedAt: iso(timeline.finishedAt),
  }
  state.emit({
    type: 'step-phases',
    step,
    pod,
    ...(timeline.node ? {node: timeline.node} : {}),
    ...Object.fromEntries(Object.entries(times).filter(([, v]) => v !== undefined)),
    ...(timeline.resources ? {resources: timeline.resources} : {}),
  })
}

/**
 * Before cleanup deletes the pods: reads the phases of those whose end was not seen (services, a run
 * that stopped) and waits for the reads under way, at most `timeoutMs`; later reads emit nothing.
 */
export async function readPhasesBeforeCleanup(state: RunState, timeoutMs = 5000): Promise<void> {
  const reads = phaseReads.get(state)
  if (!reads) return
  for (const read of [...reads.waiting]) read()
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    Promise.allSettled(reads.reading),
    new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
  ])
  clearTimeout(timer)
  reads.over = true
}

/** What the wrapper prints after the mark on its first lines: a random UUID, or nothing where /proc has none. */
const NONCE = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})?$/

/**
 * Passes log lines on, except the wrapper's own (see SCRIPT_COMMAND): the mark with the step's nonce,
 * which it prints first on stdout and stderr, and the end mark with the nonce and the exit code, which
 * it prints last (text before it on the same line is passed on). The nonce is the one of the first
 * line of that form: the step's commands run only after the wrapper printed it on both streams, and
 * cannot see it. An end mark with that nonce and exit code 0 resolves `success`; a failure is left to
 * the pod's status, which also tells an OOM kill from a plain failure. A mark the step printed itself
 * (`$WPK8S_END`, or with a nonce it made up) is just output, so it cannot fake the step's result.
 */
export function endMarkReader(
  mark: string,
  emitLine: (line: string) => void,
): {onLine: (line: string) => void; success: Promise<'success'>} {
  let succeeded!: (value: 'success') => void
  const success = new Promise<'success'>((resolve) => (succeeded = resolve))
  let begin: string | undefined
  let end = ''
  const onLine = (line: string) => {
    if (begin === undefined) {
      if (line.startsWith(mark) && NONCE.test(line.slice(mark.length))) {
        begin = line
        end = `${line}:`
        return
      }
      return emitLine(line)
    }
    if (line === begin) return
    const at = line.lastIndexOf(end)
    const code = at < 0 ? '' : line.slice(at + end.length)
    if (!/^\d+$/.test(code)) return emitLine(line)
    if (at > 0) emitLine(line.slice(0, at))
    // Without a nonce (no /proc/sys/kernel/random/uuid) the mark proves nothing: the pod's status decides.
    if (code === '0' && begin !== mark) succeeded('success')
  }
  return {onLine, success}
}

/** The container's own run time from its status; for a pod created ahead, from its release (it waited before). */
function ownRunTime(end: PodState & {kind: 'terminated'}, releasedAt: number | undefined): number | undefined {
  if (!end.startedAt || !end.finishedAt) return undefined
  return Math.max(0, end.finishedAt.getTime() - Math.max(end.startedAt.getTime(), releasedAt ?? 0))
}

function memoryLimit(pod: V1Pod): string {
  const limit = pod.spec?.containers[0].resources?.limits?.memory
  return limit ? ` (${limit})` : ''
}
