import type {V1Pod} from '@kubernetes/client-node'

/** What a run needs to know about a pod right now. */
export type PodState =
  | {kind: 'pending'}
  | {kind: 'running'; ip?: string}
  | {kind: 'terminated'; exitCode: number; reason?: string; message?: string; startedAt?: Date; finishedAt?: Date}
  /** It will not get anywhere by waiting: bad image, unschedulable, config error. */
  | {kind: 'stuck'; reason: string; message: string}
  /** Deleted or evicted by someone else, or failed before its container ran. */
  | {kind: 'lost'; reason: string; message: string}

const STUCK_WAITING_REASONS = [
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'ErrImageNeverPull',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
]

/** Classifies a pod's status (pure): the single source of truth for waiting on pods. */
export function podState(pod: V1Pod): PodState {
  const status = pod.status ?? {}
  const container = status.containerStatuses?.[0]
  const terminated = container?.state?.terminated
  if (terminated) {
    return {
      kind: 'terminated',
      exitCode: terminated.exitCode,
      reason: terminated.reason,
      message: terminated.message,
      startedAt: toDate(terminated.startedAt),
      finishedAt: toDate(terminated.finishedAt),
    }
  }
  if (status.phase === 'Failed' || status.phase === 'Succeeded') {
    return {
      kind: 'lost',
      reason: status.reason ?? status.phase,
      message: status.message ?? `the pod ended (${status.phase}) before its container ran`,
    }
  }
  // Someone else's delete or eviction: say so now, not after the grace period as an exit code 137.
  if (pod.metadata?.deletionTimestamp) {
    return {
      kind: 'lost',
      reason: 'Deleted',
      message: `pod ${pod.metadata.name} is being deleted by someone else (deleted or evicted)`,
    }
  }
  const waiting = container?.state?.waiting
  if (waiting?.reason && STUCK_WAITING_REASONS.includes(waiting.reason)) {
    return {kind: 'stuck', reason: waiting.reason, message: waiting.message ?? waiting.reason}
  }
  if (container?.state?.running) return status.podIP ? {kind: 'running', ip: status.podIP} : {kind: 'running'}
  const scheduled = status.conditions?.find((c) => c.type === 'PodScheduled')
  // Waiting for the workspace claim to bind is not a scheduling failure: the claim is watched on its own.
  if (
    scheduled?.status === 'False' &&
    scheduled.reason === 'Unschedulable' &&
    !/unbound .*PersistentVolumeClaims/.test(scheduled.message ?? '')
  ) {
    return {kind: 'stuck', reason: 'Unschedulable', message: scheduled.message ?? 'no node can run this pod'}
  }
  return {kind: 'pending'}
}

function toDate(value: Date | string | undefined): Date | undefined {
  return value === undefined ? undefined : new Date(value)
}
