import type {Cluster} from '../cluster/cluster.js'
import {ExecDroppedError} from '../cluster/errors.js'
import type {RunPlan} from '../compile/plan.js'
import {PING_PATH, SHIP_PORT, unpackScript, uploadExitCode, uploadPath} from '../compile/ship.js'
import {ClusterError} from '../errors.js'
import type {Archive} from './checkout.js'

/** How long one ping of the helper's upload endpoint may take. */
const PING_TIMEOUT_MS = 2000
/**
 * How long a refused ping is tried again. The helper starts its server right after its container
 * starts, well before the pod is seen running; a refusal after that means an image without httpd.
 */
const PING_RETRY_MS = 500
/** An upload with no progress for this long has stalled (the body streams while tar unpacks it). */
const UPLOAD_IDLE_MS = 30_000

/** Puts the archive into the workspace through the running helper pod; says which way it went. */
export async function shipArchive(cluster: Cluster, plan: RunPlan, helper: string, archive: Archive): Promise<string> {
  if (await uploadThroughProxy(cluster, plan, helper, archive)) return 'through the pod proxy'
  await unpackThroughExec(cluster, plan, helper, archive)
  return 'through exec'
}

/**
 * Posts the archive to the helper's upload endpoint (see compile/ship.ts); false when that is not
 * possible here (no endpoint, the proxy refused or cannot reach the pod, the upload broke), so the
 * caller sends it through exec: unpacking twice is harmless.
 */
async function uploadThroughProxy(cluster: Cluster, plan: RunPlan, helper: string, archive: Archive): Promise<boolean> {
  if (!plan.shipToken) return false
  const request = (path: string, body?: Buffer) => cluster.requestPod(plan.namespace, helper, SHIP_PORT, path, {method: body ? 'POST' : 'GET', body, idleTimeoutMs: body ? UPLOAD_IDLE_MS : PING_TIMEOUT_MS})
  const giveUpAt = Date.now() + PING_RETRY_MS
  for (;;) {
    const ping = await request(PING_PATH).catch(() => undefined)
    if (ping?.statusCode === 200) break
    // The helper may be starting its server still (a quick "connection refused" from the proxy). RBAC's
    // refusal, an image without httpd or an API server that cannot reach pods will not change.
    if (ping?.statusCode === 403 || Date.now() >= giveUpAt) return false
    await new Promise((r) => setTimeout(r, 100))
  }
  const answer = await request(uploadPath(plan.shipToken, archive.gzipped), archive.bytes).catch(() => undefined)
  return answer?.statusCode === 200 && uploadExitCode(answer.body) === 0
}

/** Sends the archive on the stdin of a command in the helper. */
async function unpackThroughExec(cluster: Cluster, plan: RunPlan, helper: string, archive: Archive): Promise<void> {
  const ship = () => cluster.execWithInput(plan.namespace, helper, 'ship', ['sh', '-c', unpackScript(archive.gzipped), 'ship', plan.workspaceDir, String(archive.bytes.length)], archive.bytes)
  // Unpacking again is harmless, and Kubernetes 1.20's kubelet sometimes drops the connection of a
  // command that ends right after a large input, before sending its status.
  const {exitCode, stderr} = await ship().catch((error) => (error instanceof ExecDroppedError ? ship() : Promise.reject(error)))
  if (exitCode !== 0) throw new ClusterError(`copying the checkout into the workspace failed (exit ${exitCode}): ${stderr.trim()}`)
}
