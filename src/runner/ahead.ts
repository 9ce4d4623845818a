import type {V1Pod} from '@kubernetes/client-node'
import {gateRelease, gatedPod, STEP_CONTAINER, type StartContext} from '../compile/pod.js'
import type {Cluster} from '../cluster/cluster.js'
import {ExecDroppedError, retryIfDropped} from '../cluster/errors.js'
import {ClusterError} from '../errors.js'

interface AheadPod {
  name: string
  /** The host aliases it was created with: a pod's cannot change, so different ones now mean a new pod. */
  aliases: string
  created: Promise<boolean>
}

const DISCARD_WAIT_MS = 15_000

/**
 * Step pods created before their turn (while the steps they depend on run), so that scheduling, the
 * sandbox and the container start overlap with earlier work. Each waits at a gate (see gatedPod) until
 * its step is due and `take` releases it with the values known only then. Anything unexpected (not
 * running by then, a release that fails) discards the pod: the step then starts the usual way, which
 * reports any real problem as it always does.
 */
export class AheadPods {
  private readonly pods = new Map<string, AheadPod>()

  constructor(
    private readonly cluster: Cluster,
    private readonly namespace: string,
    private readonly runSelector: string,
  ) {}

  get size(): number {
    return this.pods.size
  }

  has(step: string): boolean {
    return this.pods.has(step)
  }

  /** Starts creating the gated pod of `step`; `create` is the run's tracked create call. */
  create(step: string, pod: V1Pod, create: (pod: V1Pod) => Promise<void>): void {
    const gated = gatedPod(pod)
    const created = create(gated).then(
      () => true,
      () => false,
    )
    this.pods.set(step, {name: gated.metadata!.name!, aliases: JSON.stringify(pod.spec!.hostAliases ?? []), created})
  }

  /** The released pod of a step that is due, and when it was released; undefined when the step needs a new pod. */
  async take(
    step: string,
    start: StartContext,
    startTimeoutMs: number,
  ): Promise<{name: string; releasedAt: number} | undefined> {
    const ahead = this.pods.get(step)
    if (!ahead) return undefined
    this.pods.delete(step)
    if (!(await ahead.created)) return undefined
    if (ahead.aliases === JSON.stringify(start.hostAliases) && (await this.running(ahead.name, startTimeoutMs))) {
      const releasedAt = Date.now()
      if (await this.release(step, ahead.name, start)) return {name: ahead.name, releasedAt}
    }
    await this.deleteAndWait(ahead.name)
    return undefined
  }

  /**
   * Opens the gate; false when it surely stayed shut. A connection dropped before the exit status
   * leaves that unknown, so the release (which changes nothing the second time) is sent again; a
   * step that may have started is never replaced by a new pod, which would run its commands twice.
   */
  private async release(step: string, name: string, start: StartContext): Promise<boolean> {
    const send = () =>
      this.cluster.execWithInput(this.namespace, name, STEP_CONTAINER, gateRelease(start), Buffer.alloc(0))
    try {
      const {exitCode} = await retryIfDropped(send)
      return exitCode === 0
    } catch (error) {
      if (error instanceof ExecDroppedError)
        throw new ClusterError(`step ${step}: cannot tell whether its pod ${name} was started: ${error.message}`)
      return false
    }
  }

  /** Deletes the pod of a step that will not run. */
  async discard(step: string): Promise<void> {
    const ahead = this.pods.get(step)
    if (!ahead) return
    this.pods.delete(step)
    if (await ahead.created) await this.cluster.deletePod(this.namespace, ahead.name, 0)
  }

  /** Unscheduled for lack of room, stuck or ended: all mean a fresh pod is the safer start. */
  private async running(name: string, timeoutMs: number): Promise<boolean> {
    const state = await this.cluster
      .watchPod(this.namespace, name, (s) => s.kind !== 'pending', timeoutMs)
      .catch(() => undefined)
    return state?.kind === 'running'
  }

  /** The step's new pod takes the same name, so the old one must be gone first. */
  private async deleteAndWait(name: string): Promise<void> {
    await this.cluster.deletePod(this.namespace, name, 0)
    const deadline = Date.now() + DISCARD_WAIT_MS
    while (Date.now() < deadline) {
      const objects = await this.cluster.listRunObjects(this.namespace, this.runSelector)
      if (!objects.some((o) => o.kind === 'Pod' && o.name === name)) return
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}
