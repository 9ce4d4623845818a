import type * as k8s from '@kubernetes/client-node'
import {existsSync} from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import {homedir} from 'node:os'
import {join} from 'node:path'
import {PassThrough, Writable} from 'node:stream'
import {ClusterError} from '../errors.js'
import type {Cluster, ClusterTarget, FollowOptions, PodRequest, RunObject} from './cluster.js'
import {CoreV1Api, Exec, KubeConfig, Log, Watch} from './k8s-client.js'
import {ExecDroppedError, isConflict, isForbidden, isNotFound, toClusterError} from './errors.js'
import {LogCursor} from './log-lines.js'
import {type PodState, podState} from './pod-state.js'

/** Loads the kubeconfig like kubectl: --kubeconfig, else KUBECONFIG (a colon-separated list), else ~/.kube/config. */
export function loadKubeConfig(target: ClusterTarget): k8s.KubeConfig {
  const home = join(homedir(), '.kube', 'config')
  if (!target.kubeconfig && !process.env.KUBECONFIG && !existsSync(home) && !process.env.KUBERNETES_SERVICE_HOST) {
    throw new ClusterError(`no kubeconfig: KUBECONFIG is not set and ${home} does not exist`, 'point KUBECONFIG or --kubeconfig at your cluster\'s kubeconfig (npm run cluster:up starts a local one)')
  }
  const kc = new KubeConfig()
  try {
    if (target.kubeconfig) kc.loadFromFile(target.kubeconfig)
    else kc.loadFromDefault()
  } catch (error) {
    throw new ClusterError(`cannot load the kubeconfig: ${(error as Error).message}`)
  }
  if (target.context) {
    if (!kc.getContextObject(target.context)) throw new ClusterError(`no context \`${target.context}\` in the kubeconfig`, `contexts: ${kc.getContexts().map((c) => c.name).join(', ') || 'none'}`)
    kc.setCurrentContext(target.context)
  }
  if (!kc.getCurrentCluster()) throw new ClusterError('the kubeconfig names no cluster', 'set KUBECONFIG or pass --kubeconfig and --context')
  return kc
}

const EXEC_CHUNK = 1024 * 1024
const LOG_END_GRACE_MS = 2000

export class KubeCluster implements Cluster {
  readonly server: string
  private readonly core: k8s.CoreV1Api

  constructor(private readonly kc: k8s.KubeConfig) {
    this.server = kc.getCurrentCluster()?.server ?? 'unknown'
    this.core = kc.makeApiClient(CoreV1Api)
  }

  private async call<T>(doing: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request()
    } catch (error) {
      throw toClusterError(error, doing, this.server)
    }
  }

  async ensureNamespace(name: string): Promise<void> {
    try {
      await this.core.readNamespace({name})
    } catch (error) {
      // A user with only a Role in the namespace may not read namespaces: the namespace exists for them.
      if (isForbidden(error)) return
      if (!isNotFound(error)) throw toClusterError(error, `reading namespace ${name}`, this.server)
      await this.call(`creating namespace ${name}`, () => this.core.createNamespace({body: {metadata: {name}}})).catch((e) => {
        if (!isConflict(e)) throw e
      })
    }
  }

  async nodeArchitectures(): Promise<string[]> {
    let nodes: k8s.V1NodeList
    try {
      nodes = await this.core.listNode()
    } catch (error) {
      if (isForbidden(error)) throw new ClusterError('your user may not list nodes, so their architecture is unknown', 'pass --platform, such as --platform linux/amd64, or set labels.platform in the pipeline')
      throw toClusterError(error, 'listing nodes', this.server)
    }
    const schedulable = nodes.items.filter((n) => !n.spec?.unschedulable)
    return [...new Set(schedulable.map((n) => n.metadata?.labels?.['kubernetes.io/arch']).filter((a): a is string => Boolean(a)))].sort()
  }

  async createPvc(pvc: k8s.V1PersistentVolumeClaim): Promise<void> {
    await this.call(`creating volume claim ${pvc.metadata?.name}`, () => this.core.createNamespacedPersistentVolumeClaim({namespace: pvc.metadata!.namespace!, body: pvc}))
  }

  async waitPvcBound(namespace: string, name: string, timeoutMs: number): Promise<void> {
    const failed = this.watchEvents(namespace, 'PersistentVolumeClaim', name, ['ProvisioningFailed'])
    try {
      await Promise.race([
        this.watchUntil<k8s.V1PersistentVolumeClaim>(`/api/v1/namespaces/${namespace}/persistentvolumeclaims`, name, (pvc) => pvc.status?.phase === 'Bound', timeoutMs, `volume claim ${name} to bind`),
        failed.promise.then((event) => {
          throw new ClusterError(`the workspace volume ${name} cannot be provisioned: ${event.message}`, 'use --no-storage-rwx (ReadWriteOnce) or a --storage-class that supports ReadWriteMany')
        }),
      ])
    } finally {
      failed.stop()
    }
  }

  async createPod(pod: k8s.V1Pod): Promise<void> {
    await this.call(`creating pod ${pod.metadata?.name}`, () => this.core.createNamespacedPod({namespace: pod.metadata!.namespace!, body: pod}))
  }

  async createSecret(secret: k8s.V1Secret): Promise<void> {
    await this.call(`creating secret ${secret.metadata?.name}`, () => this.core.createNamespacedSecret({namespace: secret.metadata!.namespace!, body: secret}))
  }

  async watchPod(namespace: string, name: string, until: (state: PodState) => boolean, timeoutMs: number): Promise<PodState> {
    let last: PodState = {kind: 'pending'}
    await this.watchUntil<k8s.V1Pod>(`/api/v1/namespaces/${namespace}/pods`, name, (pod) => until((last = podState(pod))), timeoutMs, `pod ${name}`, () => {
      last = {kind: 'lost', reason: 'Deleted', message: `pod ${name} was deleted by someone else`}
      return until(last)
    })
    return last
  }

  /**
   * Watches one object until `done` accepts it. The watch starts with the object's current state, is
   * re-established when the server closes it, and ends with a ClusterError after `timeoutMs`.
   */
  private watchUntil<T>(path: string, name: string, done: (obj: T) => boolean, timeoutMs: number, what: string, onDeleted?: () => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      let controller: AbortController | undefined
      let finished = false
      const finish = (error?: Error) => {
        if (finished) return
        finished = true
        clearTimeout(timer)
        controller?.abort()
        if (error) reject(error)
        else resolve()
      }
      const timer = setTimeout(() => finish(new ClusterError(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`)), timeoutMs)
      const start = () => {
        if (finished) return
        new Watch(this.kc)
          .watch(path, {fieldSelector: `metadata.name=${name}`}, (type, obj) => {
            try {
              if (type === 'DELETED' ? onDeleted?.() : type !== 'ERROR' && done(obj as T)) finish()
            } catch (error) {
              finish(error as Error)
            }
          }, () => setTimeout(start, 200))
          .then((c) => {
            controller = c
            if (finished) c.abort()
          })
          .catch((error) => (isRetryable(error) ? setTimeout(start, 500) : finish(toClusterError(error, `watching ${what}`, this.server))))
      }
      start()
    })
  }

  /** Watches events of one object for the given reasons; `promise` resolves with the first such event. */
  private watchEvents(namespace: string, kind: string, name: string, reasons: string[]): {promise: Promise<k8s.CoreV1Event>; stop: () => void} {
    let controller: AbortController | undefined
    let stopped = false
    const promise = new Promise<k8s.CoreV1Event>((resolve) => {
      const start = () => {
        if (stopped) return
        new Watch(this.kc)
          .watch(`/api/v1/namespaces/${namespace}/events`, {fieldSelector: `involvedObject.kind=${kind},involvedObject.name=${name}`}, (type, event: k8s.CoreV1Event) => {
            if (type !== 'DELETED' && event.reason && reasons.includes(event.reason)) resolve(event)
          }, () => setTimeout(start, 200))
          .then((c) => {
            controller = c
            if (stopped) c.abort()
          })
          .catch(() => setTimeout(start, 500))
      }
      start()
    })
    return {promise, stop: () => {
      stopped = true
      controller?.abort()
    }}
  }

  async followLog(namespace: string, pod: string, container: string, onLine: (line: string) => void, options: FollowOptions = {}): Promise<void> {
    const cursor = new LogCursor(onLine)
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.streamLog(namespace, pod, container, cursor, true, options)
      if (outcome === 'complete') return
      const state = await this.readPodState(namespace, pod)
      if (state.kind !== 'running' && state.kind !== 'pending') {
        if (outcome === 'dropped') {
          cursor.restart()
          await this.streamLog(namespace, pod, container, cursor, false, {ready: options.ready})
        }
        return
      }
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(2000, 100 * attempt)))
      cursor.restart()
    }
  }

  private async readPodState(namespace: string, name: string): Promise<PodState> {
    try {
      return podState(await this.core.readNamespacedPod({namespace, name}))
    } catch (error) {
      if (isNotFound(error)) return {kind: 'lost', reason: 'Deleted', message: `pod ${name} was deleted`}
      return {kind: 'running'}
    }
  }

  /** One log request: `ended` when the server ended the stream, `dropped` when it broke or stalled, `complete` on `options.complete`. */
  private async streamLog(namespace: string, pod: string, container: string, cursor: LogCursor, follow: boolean, options: FollowOptions): Promise<'ended' | 'dropped' | 'complete'> {
    const {ready, containerEnded, complete} = options
    const sink = new PassThrough()
    sink.setEncoding('utf8')
    sink.on('data', (chunk: string) => {
      cursor.push(chunk)
      // Backpressure: while the output is backed up, stop reading (and so the API server stops sending).
      const wait = ready?.()
      if (wait) {
        sink.pause()
        void wait.then(() => sink.resume())
      }
    })
    const ended = new Promise<'ended' | 'dropped'>((resolve) => {
      sink.on('end', () => resolve('ended'))
      sink.on('error', () => resolve('dropped'))
    })
    let controller: AbortController
    try {
      const sinceTime = cursor.resumeFrom
      controller = await new Log(this.kc).log(namespace, pod, container, sink, {follow, timestamps: true, ...(sinceTime ? {sinceTime} : {})})
    } catch {
      return 'dropped'
    }
    // A broken connection may never end the stream: after the container ended, give it a moment, then drop it.
    const stalled = containerEnded?.then(() => new Promise<'dropped'>((resolve) => setTimeout(() => resolve('dropped'), LOG_END_GRACE_MS)))
    const outcome = await Promise.race([ended, ...(stalled ? [stalled] : []), ...(complete ? [complete.then(() => 'complete' as const)] : [])])
    if (outcome !== 'ended') {
      controller.abort()
      sink.removeAllListeners('data')
      return outcome
    }
    cursor.end()
    return outcome
  }

  async readLog(namespace: string, pod: string, container: string): Promise<string> {
    try {
      return await this.core.readNamespacedPodLog({namespace, name: pod, container})
    } catch (error) {
      throw toClusterError(error, `reading the log of pod ${pod}`, this.server)
    }
  }

  async execWithInput(namespace: string, pod: string, container: string, command: string[], input: Buffer): Promise<{exitCode: number; stderr: string}> {
    const stdin = new PassThrough()
    let stderr = ''
    const errors = new Writable({write: (chunk, _enc, cb) => {
      stderr += chunk.toString()
      cb()
    }})
    return new Promise((resolve, reject) => {
      let settled = false
      const settle = (exitCode: number) => {
        if (settled) return
        settled = true
        // Ending stdin only now: on the v4 exec protocol, ending it early closes the socket and loses the status.
        stdin.end()
        resolve({exitCode, stderr})
      }
      new Exec(this.kc)
        .exec(namespace, pod, container, command, null, errors, stdin, false, (status) => {
          const code = status.details?.causes?.find((c) => c.reason === 'ExitCode')?.message
          settle(status.status === 'Success' ? 0 : Number(code ?? 1))
        })
        .then((socket) => {
          socket.on('close', () => {
            if (!settled) reject(new ExecDroppedError(`running ${command[0]} in pod ${pod}: the connection closed without an exit status`))
          })
          // One websocket message per MiB: a single huge message is dropped by the API server.
          for (let offset = 0; offset < input.length; offset += EXEC_CHUNK) stdin.write(input.subarray(offset, offset + EXEC_CHUNK))
        })
        .catch((error) => reject(toClusterError(error, `running ${command[0]} in pod ${pod}`, this.server)))
    })
  }

  async requestPod(namespace: string, pod: string, port: number, path: string, options: PodRequest): Promise<{statusCode: number; body: string}> {
    const server = new URL(this.server)
    const request: https.RequestOptions = {
      method: options.method,
      hostname: server.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: server.port || undefined,
      path: `${server.pathname.replace(/\/$/, '')}/api/v1/namespaces/${namespace}/pods/${pod}:${port}/proxy${path}`,
      headers: options.body ? {'content-type': 'application/octet-stream', 'content-length': options.body.length} : {},
    }
    await this.kc.applyToHTTPSOptions(request)
    return new Promise((resolve, reject) => {
      const req = (server.protocol === 'http:' ? http : https).request(request, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (body += chunk))
        res.on('end', () => resolve({statusCode: res.statusCode ?? 0, body}))
        res.on('error', reject)
      })
      req.setTimeout(options.idleTimeoutMs, () => req.destroy(new Error(`no answer from pod ${pod} for ${options.idleTimeoutMs} ms`)))
      req.on('error', reject)
      req.end(options.body)
    })
  }

  async deletePod(namespace: string, name: string, graceSeconds?: number): Promise<void> {
    try {
      await this.core.deleteNamespacedPod({namespace, name, ...(graceSeconds === undefined ? {} : {gracePeriodSeconds: graceSeconds})})
    } catch (error) {
      if (!isNotFound(error)) throw toClusterError(error, `deleting pod ${name}`, this.server)
    }
  }

  async deletePvc(namespace: string, name: string): Promise<void> {
    try {
      await this.core.deleteNamespacedPersistentVolumeClaim({namespace, name})
    } catch (error) {
      if (!isNotFound(error)) throw toClusterError(error, `deleting volume claim ${name}`, this.server)
    }
  }

  async deleteSecret(namespace: string, name: string): Promise<void> {
    try {
      await this.core.deleteNamespacedSecret({namespace, name})
    } catch (error) {
      if (!isNotFound(error)) throw toClusterError(error, `deleting secret ${name}`, this.server)
    }
  }

  async exists(namespace: string, kind: 'ServiceAccount' | 'Secret', name: string): Promise<boolean | undefined> {
    try {
      await (kind === 'Secret' ? this.core.readNamespacedSecret({namespace, name}) : this.core.readNamespacedServiceAccount({namespace, name}))
      return true
    } catch (error) {
      if (isNotFound(error)) return false
      if (isForbidden(error)) return undefined
      throw toClusterError(error, `looking up ${kind} ${name}`, this.server)
    }
  }

  deleteObject(object: RunObject): Promise<void> {
    if (object.kind === 'Pod') return this.deletePod(object.namespace, object.name, 0)
    if (object.kind === 'Secret') return this.deleteSecret(object.namespace, object.name)
    return this.deletePvc(object.namespace, object.name)
  }

  async listRunObjects(namespace: string, labelSelector: string): Promise<RunObject[]> {
    const [pods, pvcs, secrets] = await Promise.all([
      this.call('listing pods', () => this.core.listNamespacedPod({namespace, labelSelector})),
      this.call('listing volume claims', () => this.core.listNamespacedPersistentVolumeClaim({namespace, labelSelector})),
      this.call('listing secrets', () => this.core.listNamespacedSecret({namespace, labelSelector})),
    ])
    const toObject = (kind: RunObject['kind']) => (o: {metadata?: k8s.V1ObjectMeta}): RunObject => ({kind, namespace, name: o.metadata!.name!, created: o.metadata?.creationTimestamp ? new Date(o.metadata.creationTimestamp) : undefined})
    return [...pods.items.map(toObject('Pod')), ...pvcs.items.map(toObject('PersistentVolumeClaim')), ...secrets.items.map(toObject('Secret'))]
  }
}

function isRetryable(error: unknown): boolean {
  const code = (error as {code?: number | string}).code
  return code === undefined || typeof code === 'string' || code >= 500
}
