import type {V1Pod} from '@kubernetes/client-node'
import type {RunPlan} from '../compile/plan.js'
import type {Cluster, OutputReady} from '../cluster/cluster.js'
import type {PodState} from '../cluster/pod-state.js'
import {ClusterError} from '../errors.js'
import type {PipelineStatus} from '../pipeline/when.js'
import type {Emit, StepResult} from './events.js'
import type {RunHeartbeat} from './heartbeat.js'
import type {Interrupt} from './interrupt.js'

export interface RunLimits {
  /** The whole run, cleanup excluded. */
  timeoutMs: number
  /** A pod from creation to its container starting (image pull included). */
  startTimeoutMs: number
  /** The workspace claim from creation to bound. */
  bindTimeoutMs: number
  /** Cleanup: how long to wait for everything to be gone. */
  cleanupTimeoutMs: number
  /** The helper pod from running to serving its upload endpoint; after it the checkout goes through exec. */
  helperServeTimeoutMs: number
  /** Steps running at once (0: no limit). */
  parallel: number
  /** Seconds a running pod gets to stop after an interrupt (a second signal makes it 0). */
  stopGraceSeconds: number
  interrupt?: Interrupt
  /** Flow control of the output: log reading pauses while it is backed up. */
  outputReady?: OutputReady
}

export const DEFAULT_LIMITS: RunLimits = {
  timeoutMs: 60 * 60_000,
  startTimeoutMs: 5 * 60_000,
  bindTimeoutMs: 2 * 60_000,
  cleanupTimeoutMs: 60_000,
  helperServeTimeoutMs: 10_000,
  parallel: 0,
  stopGraceSeconds: 10,
}

/** What a run knows while it goes; shared by the phases below. */
export interface RunState {
  plan: RunPlan
  cluster: Cluster
  emit: Emit
  limits: RunLimits
  results: Map<string, StepResult>
  running: Set<string>
  hostAliases: {hostnames: string[]; ip: string}[]
  background: Promise<void>[]
  /** Set when the run is over (error, timeout): nothing new may start while cleanup deletes. */
  stopped: boolean
  /** How services and detached steps ended, if they ended before the run did. */
  backgroundEnds: Map<string, PodState>
  /** Create calls under way: cleanup waits for them, so nothing is created after it looked. */
  creating: Set<Promise<void>>
  /** When the run gives up (its start plus --timeout), in ms since the epoch; pods end by themselves soon after. */
  endsAt?: number
  /** Keeps `wpk8s clean` away while the run is alive. */
  heartbeat?: RunHeartbeat
}

/** Failed steps that are not `failure: ignore` make the pipeline fail (Woodpecker's rule). */
export function pipelineStatus(state: RunState): PipelineStatus {
  for (const step of state.plan.steps) {
    const r = state.results.get(step.name)
    if (r?.status === 'failure' && step.failure !== 'ignore') return 'failure'
  }
  return 'success'
}

/** Waits until the pod's container started (or already ended); a pod that cannot start is an error. */
export async function startedPod(cluster: Cluster, pod: V1Pod, limits: RunLimits): Promise<PodState> {
  const name = pod.metadata!.name!
  const state = await cluster.watchPod(
    pod.metadata!.namespace!,
    name,
    (s) => s.kind !== 'pending',
    limits.startTimeoutMs,
  )
  if (state.kind === 'stuck' || state.kind === 'lost')
    throw new ClusterError(`pod ${name} cannot start: ${state.reason}: ${state.message}`, startHint(state.reason))
  return state
}

function startHint(reason: string): string | undefined {
  if (/Image/.test(reason)) return 'check the image name and tag, and that the cluster can pull it'
  if (reason === 'Unschedulable') return 'check nodeSelector, tolerations and resource requests against the nodes'
  if (reason === 'CreateContainerConfigError')
    return 'a Secret, ConfigMap or ServiceAccount the step refers to may be missing'
  return undefined
}

/**
 * Seconds a pod may live past the run's own deadline. wpk8s gives up at --timeout and deletes its pods;
 * the pod's deadline only matters when wpk8s could not (killed with SIGKILL, a lost machine).
 */
export const POD_DEADLINE_MARGIN_S = 10

/** The `activeDeadlineSeconds` of a pod created with this much of the run's --timeout left. */
export function podDeadlineSeconds(remainingMs: number): number {
  return Math.max(1, Math.ceil(remainingMs / 1000)) + POD_DEADLINE_MARGIN_S
}

/**
 * The pod with an `activeDeadlineSeconds`: the kubelet stops it (phase Failed, reason DeadlineExceeded)
 * that long after it started, so pods of a wpk8s that was killed end by themselves, gated pods
 * waiting ahead included. `--dry-run` shows it with the whole --timeout left.
 */
export function withDeadline(pod: V1Pod, seconds: number): V1Pod {
  return {...pod, spec: {...pod.spec!, activeDeadlineSeconds: seconds}}
}

/** Creates a pod, with its deadline, unless the run has stopped; cleanup waits for creations under way. */
export function create(state: RunState, pod: V1Pod): Promise<void> {
  const remainingMs = (state.endsAt ?? Date.now() + state.limits.timeoutMs) - Date.now()
  return track(state, () => state.cluster.createPod(withDeadline(pod, podDeadlineSeconds(remainingMs))))
}

export async function track(state: RunState, creation: () => Promise<void>): Promise<void> {
  if (state.stopped) throw new ClusterError('the run stopped')
  const call = creation()
  state.creating.add(call)
  try {
    await call
  } finally {
    state.creating.delete(call)
  }
}
