import type {Readable} from 'node:stream'
import type {Cluster, Payload} from '../cluster/cluster.js'
import {retryIfDropped} from '../cluster/errors.js'
import type {RunPlan} from '../compile/plan.js'
import {
  HELPER_CONTAINER,
  HELPER_NO_ENDPOINT,
  HELPER_SERVING,
  PING_PATH,
  SHIP_PORT,
  TOKEN_HEADER,
  unpackScript,
  uploadExitCode,
  uploadPath,
} from '../compile/ship.js'
import {ClusterError} from '../errors.js'
import {type Archive, coalesce, formatBytes} from './checkout.js'
import type {Emit} from './events.js'

/** How long one ping of the helper's upload endpoint may take. */
const PING_TIMEOUT_MS = 2000
/** An upload with no progress for this long has stalled (the body streams while tar unpacks it). */
const UPLOAD_IDLE_MS = 30_000
/** Smaller archives ship in a moment: no progress events for them. */
export const PROGRESS_MIN_BYTES = 4 * 1024 * 1024
/** At most this often a progress event. */
const PROGRESS_EVERY_MS = 250
/** The rate is measured over about this much of the recent past. */
const RATE_WINDOW_MS = 3000

/**
 * Streams the archive into the workspace through the running helper pod; says what went and which way
 * (`18.2 MiB gzipped, through the pod proxy`). A large archive reports its progress as it goes.
 */
export async function shipArchive(
  cluster: Cluster,
  plan: RunPlan,
  helper: string,
  archive: Archive,
  serveTimeoutMs: number,
  emit: Emit = () => {},
): Promise<string> {
  const progress = new ShipProgress(archive.size, emit)
  // Each attempt opens the archive anew (a retry after a dropped connection sends it from its start).
  const payload: Payload = {length: archive.size, open: () => progress.track(archive.open())}
  const size = `${formatBytes(archive.size)}${archive.gzipped ? ' gzipped' : ''}`
  if (await uploadThroughProxy(cluster, plan, helper, archive.gzipped, payload, serveTimeoutMs)) {
    progress.finish()
    return `${size}, through the pod proxy`
  }
  await unpackThroughExec(cluster, plan, helper, archive.gzipped, payload)
  progress.finish()
  return `${size}, through exec`
}

/**
 * Posts the archive to the helper's upload endpoint (see compile/ship.ts), the token in a header; false
 * when that is not possible here (no endpoint, the proxy refused or cannot reach the pod, the upload
 * broke or was refused), so the caller sends it through exec: unpacking twice is harmless.
 */
async function uploadThroughProxy(
  cluster: Cluster,
  plan: RunPlan,
  helper: string,
  gzipped: boolean,
  payload: Payload,
  serveTimeoutMs: number,
): Promise<boolean> {
  if (!plan.shipToken) return false
  const ping = () =>
    cluster.requestPod(plan.namespace, helper, SHIP_PORT, PING_PATH, {method: 'GET', idleTimeoutMs: PING_TIMEOUT_MS})
  if (!(await endpointAnswers(cluster, plan.namespace, helper, ping, serveTimeoutMs))) return false
  const answer = await cluster
    .requestPod(plan.namespace, helper, SHIP_PORT, uploadPath(gzipped), {
      method: 'POST',
      body: payload,
      headers: {[TOKEN_HEADER]: plan.shipToken},
      idleTimeoutMs: UPLOAD_IDLE_MS,
    })
    .catch(() => undefined)
  return answer?.statusCode === 200 && uploadExitCode(answer.body) === 0
}

/**
 * Pings the helper's endpoint until it answers. A refused ping is told apart by the helper's log: not
 * serving (no httpd in its image), serving while the proxy cannot reach it, or still starting on a busy
 * node (then pinged again, up to `serveTimeoutMs`). RBAC's refusal of the proxy ends it at once.
 */
async function endpointAnswers(
  cluster: Cluster,
  namespace: string,
  helper: string,
  ping: () => Promise<{statusCode: number}>,
  serveTimeoutMs: number,
): Promise<boolean> {
  const giveUpAt = Date.now() + serveTimeoutMs
  let refusedWhileServing = 0
  for (;;) {
    const answer = await ping().catch(() => undefined)
    if (answer?.statusCode === 200) return true
    if (answer?.statusCode === 403 || Date.now() >= giveUpAt) return false
    const log = await cluster.readLog(namespace, helper, HELPER_CONTAINER).catch(() => '')
    if (log.includes(HELPER_NO_ENDPOINT)) return false
    // The first such ping may have come just before the server listened; a second one did not.
    if (log.includes(HELPER_SERVING) && ++refusedWhileServing > 1) return false
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Sends the archive on the stdin of a command in the helper. */
async function unpackThroughExec(
  cluster: Cluster,
  plan: RunPlan,
  helper: string,
  gzipped: boolean,
  payload: Payload,
): Promise<void> {
  const ship = () =>
    cluster.execWithInput(
      plan.namespace,
      helper,
      HELPER_CONTAINER,
      ['sh', '-c', unpackScript(gzipped), 'ship', plan.workspaceDir, String(payload.length)],
      payload,
    )
  // Unpacking again is harmless, and Kubernetes 1.20's kubelet sometimes drops the connection of a
  // command that ends right after a large input, before sending its status.
  const {exitCode, stderr} = await retryIfDropped(ship)
  if (exitCode !== 0)
    throw new ClusterError(`copying the checkout into the workspace failed (exit ${exitCode}): ${stderr.trim()}`)
}

/**
 * Counts what leaves (chunks as the connection takes them) and emits `progress` events for archives
 * of PROGRESS_MIN_BYTES or more, at most every PROGRESS_EVERY_MS, with the rate over the last few
 * seconds. A new attempt starts counting from zero again.
 */
export class ShipProgress {
  private sent = 0
  private lastEmit = 0
  private samples: {at: number; sent: number}[] = []
  private emitted = false

  constructor(
    private readonly total: number,
    private readonly emit: Emit,
    private readonly now: () => number = Date.now,
  ) {}

  track(stream: Readable): Readable {
    this.sent = 0
    this.samples = [{at: this.now(), sent: 0}]
    return coalesce(stream, undefined, undefined, (bytes) => this.add(bytes))
  }

  add(bytes: number): void {
    this.sent += bytes
    const at = this.now()
    this.samples.push({at, sent: this.sent})
    while (this.samples.length > 2 && at - this.samples[1].at >= RATE_WINDOW_MS) this.samples.shift()
    if (this.total >= PROGRESS_MIN_BYTES && at - this.lastEmit >= PROGRESS_EVERY_MS) this.report(at)
  }

  /** The last event says everything went, when any was sent. */
  finish(): void {
    if (!this.emitted) return
    this.sent = this.total
    this.report(this.now())
  }

  private report(at: number): void {
    this.lastEmit = at
    this.emitted = true
    const first = this.samples[0]
    const elapsed = at - first.at
    const bytesPerSecond = elapsed > 0 ? Math.round(((this.sent - first.sent) * 1000) / elapsed) : 0
    this.emit({type: 'progress', phase: 'ship', sent: this.sent, total: this.total, bytesPerSecond})
  }
}
