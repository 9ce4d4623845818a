import type {Cluster} from '../cluster/cluster.js'
import {retryIfDropped} from '../cluster/errors.js'
import type {RunPlan} from '../compile/plan.js'
import {HELPER_CONTAINER, HELPER_NO_ENDPOINT, HELPER_SERVING, PING_PATH, SHIP_PORT, unpackScript, uploadExitCode, uploadPath} from '../compile/ship.js'
import {ClusterError} from '../errors.js'
import type {Archive} from './checkout.js'

/** How long one ping of the helper's upload endpoint may take. */
const PING_TIMEOUT_MS = 2000
/** An upload with no progress for this long has stalled (the body streams while tar unpacks it). */
const UPLOAD_IDLE_MS = 30_000

/** Puts the archive into the workspace through the running helper pod; says which way it went. */
export async function shipArchive(cluster: Cluster, plan: RunPlan, helper: string, archive: Archive, serveTimeoutMs: number): Promise<string> {
  if (await uploadThroughProxy(cluster, plan, helper, archive, serveTimeoutMs)) return 'through the pod proxy'
  await unpackThroughExec(cluster, plan, helper, archive)
  return 'through exec'
}

/**
 * Posts the archive to the helper's upload endpoint (see compile/ship.ts); false when that is not
 * possible here (no endpoint, the proxy refused or cannot reach the pod, the upload broke), so the
 * caller sends it through exec: unpacking twice is harmless.
 */
async function uploadThroughProxy(cluster: Cluster, plan: RunPlan, helper: string, archive: Archive, serveTimeoutMs: number): Promise<boolean> {
  if (!plan.shipToken) return false
  const request = (path: string, body?: Buffer) => cluster.requestPod(plan.namespace, helper, SHIP_PORT, path, {method: body ? 'POST' : 'GET', body, idleTimeoutMs: body ? UPLOAD_IDLE_MS : PING_TIMEOUT_MS})
  if (!(await endpointAnswers(cluster, plan.namespace, helper, () => request(PING_PATH), serveTimeoutMs))) return false
  const answer = await request(uploadPath(plan.shipToken, archive.gzipped), archive.bytes).catch(() => undefined)
  return answer?.statusCode === 200 && uploadExitCode(answer.body) === 0
}

/**
 * Pings the helper's endpoint until it answers. A refused ping is told apart by the helper's log: not
 * serving (no httpd in its image), serving while the proxy cannot reach it, or still starting on a busy
 * node (then pinged again, up to `serveTimeoutMs`). RBAC's refusal of the proxy ends it at once.
 */
async function endpointAnswers(cluster: Cluster, namespace: string, helper: string, ping: () => Promise<{statusCode: number}>, serveTimeoutMs: number): Promise<boolean> {
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
async function unpackThroughExec(cluster: Cluster, plan: RunPlan, helper: string, archive: Archive): Promise<void> {
  const ship = () => cluster.execWithInput(plan.namespace, helper, HELPER_CONTAINER, ['sh', '-c', unpackScript(archive.gzipped), 'ship', plan.workspaceDir, String(archive.bytes.length)], archive.bytes)
  // Unpacking again is harmless, and Kubernetes 1.20's kubelet sometimes drops the connection of a
  // command that ends right after a large input, before sending its status.
  const {exitCode, stderr} = await retryIfDropped(ship)
  if (exitCode !== 0) throw new ClusterError(`copying the checkout into the workspace failed (exit ${exitCode}): ${stderr.trim()}`)
}
