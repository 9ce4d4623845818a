import {hostname} from 'node:os'
import type {Cluster, Heartbeat} from '../cluster/cluster.js'
import {heartbeatName, LABELS, MANAGER, toLabelValue} from '../compile/names.js'
import type {RunPlan} from '../compile/plan.js'

/** How often a run renews its heartbeat. */
export const HEARTBEAT_INTERVAL_MS = 5_000
/**
 * How long a heartbeat stays fresh without a renewal: `wpk8s clean` leaves the run alone until then.
 * Twelve renewals may fail (a network hiccup, a busy laptop) before a live run looks dead.
 */
export const HEARTBEAT_SECONDS = 60

/** The heartbeat Lease of a run: named after it, labelled like its other objects. */
export function runHeartbeat(plan: RunPlan, holder = `${hostname()} pid ${process.pid}`): Heartbeat {
  return {
    namespace: plan.namespace,
    name: heartbeatName(plan.runId),
    labels: {
      [LABELS.managedBy]: MANAGER,
      [LABELS.role]: 'heartbeat',
      [LABELS.run]: plan.runId,
      [LABELS.workflow]: toLabelValue(plan.workflow),
    },
    holder,
    durationSeconds: HEARTBEAT_SECONDS,
  }
}

/**
 * Keeps a run's heartbeat Lease fresh while the run is alive, so that `wpk8s clean` (of a colleague
 * sharing the namespace, or the user's own in another terminal) never deletes a run in progress.
 * Never fails the run: without permission for Leases it goes on without one, and a renewal that
 * fails is tried again at the next interval.
 */
export class RunHeartbeat {
  private timer?: NodeJS.Timeout
  private beating: Promise<void> = Promise.resolve()
  private created = false
  private busy = false
  private stopped = false

  constructor(
    private readonly cluster: Cluster,
    readonly heartbeat: Heartbeat,
    private readonly intervalMs = HEARTBEAT_INTERVAL_MS,
  ) {}

  /** The first beat: resolves once the Lease exists, or cannot (no permission, an error); never rejects. */
  async start(): Promise<void> {
    await this.beat()
    if (this.stopped || !this.created) return
    this.timer = setInterval(() => void this.beat(), this.intervalMs)
    this.timer.unref()
  }

  /** Stops renewing and deletes the Lease: the run is over and its objects are gone. */
  async stop(): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    await this.beating
    if (!this.created) return
    const {namespace, name} = this.heartbeat
    // If this fails, the Lease goes stale and `wpk8s clean` deletes it.
    await this.cluster.deleteObject({kind: 'Lease', namespace, name}).catch(() => {})
  }

  /** One renewal at a time: while one is slow, the next interval skips rather than piling up requests. */
  private beat(): Promise<void> {
    if (this.stopped || this.busy) return this.beating
    this.busy = true
    this.beating = this.cluster
      .beat(this.heartbeat)
      .then(
        (allowed) => {
          if (allowed) this.created = true
          else clearInterval(this.timer)
        },
        () => {
          // Tried again at the next interval: only a heartbeat missing for its whole duration makes the run look dead.
          // (A failed first beat may still have created the Lease, so stop() deletes it.)
          this.created = true
        },
      )
      .finally(() => {
        this.busy = false
      })
    return this.beating
  }
}
