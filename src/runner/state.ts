import type {V1Pod} from '@kubernetes/client-node'
import type {RunPlan} from '../compile/plan.js'
import type {Cluster, OutputReady} from '../cluster/cluster.js'
import type {PodState} from '../cluster/pod-state.js'
import {ClusterError} from '../errors.js'
import type {PipelineStatus} from '../pipeline/when.js'
import type {Emit, StepResult} from './events.js'
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

export const DEFAULT_LIMITS: RunLimits = {timeoutMs: 60 * 60_000, startTimeoutMs: 5 * 60_000, bindTimeoutMs: 2 * 60_000, cleanupTimeoutMs: 60_000, helperServeTimeoutMs: 10_000, parallel: 0, stopGraceSeconds: 10}

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
  const state = await cluster.watchPod(pod.metadata!.namespace!, name, (s) => s.kind !== 'pending', limits.startTimeoutMs)
  if (state.kind === 'stuck' || state.kind === 'lost') throw new ClusterError(`pod ${name} cannot start: ${state.reason}: ${state.message}`, startHint(state.reason))
  return state
}

function startHint(reason: string): string | undefined {
  if (/Image/.test(reason)) return 'check the image name and tag, and that the cluster can pull it'
  if (reason === 'Unschedulable') return 'check nodeSelector, tolerations and resource requests against the nodes'
  if (reason === 'CreateContainerConfigError') return 'a Secret, ConfigMap or ServiceAccount the step refers to may be missing'
  return undefined
}

/** Creates a pod unless the run has stopped; cleanup waits for creations under way. */
export function create(state: RunState, pod: V1Pod): Promise<void> {
  return track(state, () => state.cluster.createPod(pod))
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
