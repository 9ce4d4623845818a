import type {V1PersistentVolumeClaim, V1Pod, V1Secret} from '@kubernetes/client-node'
import type {Duplex, Readable} from 'node:stream'
import type {PodState} from './pod-state.js'

/** How to reach the cluster: the kubeconfig file(s) and context, as kubectl would pick them. */
export interface ClusterTarget {
  kubeconfig?: string
  context?: string
}

export interface RunObject {
  kind: 'Pod' | 'PersistentVolumeClaim' | 'Secret' | 'Lease'
  namespace: string
  name: string
  /** When it was created, in this machine's clock (see listRunObjects). */
  created?: Date
  /** Its labels (the run it belongs to is its `wpk8s.dev/run` label). */
  labels?: Record<string, string>
  /** A heartbeat Lease: its last renewal, in this machine's clock. */
  renewed?: Date
  /** A heartbeat Lease: how long it stays fresh without a renewal. */
  durationSeconds?: number
  /** A heartbeat Lease: who holds it (host and process). */
  holder?: string
}

/**
 * A run's heartbeat: a coordination.k8s.io Lease named after the run and labelled like its other
 * objects, renewed every few seconds while the run is alive, so that `wpk8s clean` leaves the run alone.
 */
export interface Heartbeat {
  namespace: string
  name: string
  labels: Record<string, string>
  /** Who runs it, for people looking at the namespace: host and process id. */
  holder: string
  /** How long the heartbeat stays fresh without a renewal. */
  durationSeconds: number
}

/** How waiting for a pod's readiness ended: Ready, its step container ended or cannot start, or the time ran out. */
export type PodReadiness = {kind: 'ready'} | {kind: 'ended'; state: PodState} | {kind: 'not-ready'}

/** What a run found for a claim named in `volumes`: created now as a cache, a cache of an earlier run, or someone else's claim (mounted as it is). */
export type CacheUse = 'created' | 'found' | 'foreign'

/** Undefined when output can take more now, else a promise of when it can. */
export type OutputReady = () => Promise<void> | undefined

export interface FollowOptions {
  /** While it returns a promise (the output is backed up), reading pauses until the promise resolves. */
  ready?: OutputReady
  /** Once it resolves, a stream that has not ended by itself (a silently broken connection) is dropped and the rest read at once. */
  containerEnded?: Promise<void>
  /** Once it resolves, every line that matters has been read (the step's end mark, and the container ended): the stream is closed. */
  complete?: Promise<void>
}

/**
 * What a request or a command reads: bytes, or a stream of known length opened anew by each attempt
 * (a retry after a dropped connection cannot reuse a stream that was half read), so that a large
 * payload flows from disk without being held in memory.
 */
export type Payload = Buffer | {length: number; open(): Readable}

export interface PodRequest {
  method: 'GET' | 'POST'
  body?: Payload
  /** Extra request headers (such as a token that must not appear in the URL). */
  headers?: Record<string, string>
  idleTimeoutMs: number
}

/**
 * What the cluster recorded about a pod's life (see Cluster.podTimeline), in this machine's clock: the
 * API server's times are whole seconds (events' may be finer), corrected by its clock's offset.
 */
export interface PodTimeline {
  /** The node it ran on. */
  node?: string
  createdAt?: Date
  /** Its PodScheduled condition turned true. */
  scheduledAt?: Date
  /** The kubelet's `Pulling` and `Pulled` events for the step container (none when events may not be read). */
  pullingAt?: Date
  pulledAt?: Date
  /** The step container's start and end, from its status. */
  startedAt?: Date
  finishedAt?: Date
  /** The step container's requests and limits. */
  resources?: {requests?: Record<string, string>; limits?: Record<string, string>}
}

/** The small surface the runner needs; the only implementation talking to a real API server is kube.ts. */
export interface Cluster {
  readonly server: string
  ensureNamespace(name: string): Promise<void>
  nodeArchitectures(): Promise<string[]>
  createPvc(pvc: V1PersistentVolumeClaim): Promise<void>
  /** Resolves once bound; rejects with the provisioner's event when provisioning fails. */
  waitPvcBound(namespace: string, name: string, timeoutMs: number): Promise<void>
  createPod(pod: V1Pod): Promise<void>
  createSecret(secret: V1Secret): Promise<void>
  /** Resolves at the first state `until` accepts; rejects with a ClusterError after the timeout. */
  watchPod(namespace: string, name: string, until: (state: PodState) => boolean, timeoutMs: number): Promise<PodState>
  /** Follows the container's log to its end, each line once, resuming after broken streams. */
  followLog(
    namespace: string,
    pod: string,
    container: string,
    onLine: (line: string) => void,
    options?: FollowOptions,
  ): Promise<void>
  /** The container's log so far. */
  readLog(namespace: string, pod: string, container: string): Promise<string>
  /** Runs a command in a container with `input` on stdin (as fast as the connection takes it); resolves with its exit code. */
  execWithInput(
    namespace: string,
    pod: string,
    container: string,
    command: string[],
    input: Payload,
  ): Promise<{exitCode: number; stderr: string}>
  /**
   * An HTTP request to a port of a pod through the API server's pod proxy; resolves with the answer,
   * rejects when the proxy refuses, cannot reach the pod, or the connection is idle for `idleTimeoutMs`.
   */
  requestPod(
    namespace: string,
    pod: string,
    port: number,
    path: string,
    options: PodRequest,
  ): Promise<{statusCode: number; body: string}>
  deletePod(namespace: string, name: string, graceSeconds?: number): Promise<void>
  deletePvc(namespace: string, name: string): Promise<void>
  deleteSecret(namespace: string, name: string): Promise<void>
  /** Deletes any object listRunObjects returned; one that is already gone counts as deleted. */
  deleteObject(object: RunObject): Promise<void>
  /**
   * Pods, volume claims and Secrets with these labels, and with `heartbeats` their Leases too (none
   * when the user may not list Leases). Times are in this machine's clock, corrected by the API server's.
   */
  listRunObjects(namespace: string, labelSelector: string, options?: {heartbeats?: boolean}): Promise<RunObject[]>
  /**
   * Creates the run's heartbeat Lease, or renews it (creating it again if someone deleted it), with the
   * API server's time. False when the user may not write Leases: the run goes on without a heartbeat.
   */
  beat(heartbeat: Heartbeat): Promise<boolean>
  /** Whether the object exists; undefined when the user may not look. */
  exists(
    namespace: string,
    kind: 'ServiceAccount' | 'Secret' | 'PersistentVolumeClaim',
    name: string,
  ): Promise<boolean | undefined>
  /**
   * Waits until the pod is Ready (every readiness probe passed); resolves early with `ended` when its
   * first container ended or cannot start (also another container that cannot start), and with
   * `not-ready` after `timeoutMs`.
   */
  waitPodReady(namespace: string, name: string, timeoutMs: number): Promise<PodReadiness>
  /** Why a pod is not ready, in the kubelet's words: its latest probe failures and warnings (events), then its unready containers; empty when nothing says. */
  podProblems(namespace: string, name: string): Promise<string[]>
  /** The pod's phases as the cluster recorded them (node, scheduling, image pull, start, end); undefined when it is gone or may not be read. */
  podTimeline(namespace: string, name: string): Promise<PodTimeline | undefined>
  /**
   * A claim named in `volumes`: created (with `annotations`) as a cache when it does not exist, another
   * run creating it at the same moment being fine; found with the cache's labels, `annotations` are
   * set on it (when it was last used); a claim without them is someone else's and left as it is.
   */
  useCacheClaim(claim: V1PersistentVolumeClaim, annotations: Record<string, string>): Promise<CacheUse>
  /**
   * Resolves once the claim is bound, or waits for its first pod (a WaitForFirstConsumer class); rejects
   * with the provisioner's event when it cannot be provisioned, or after `timeoutMs`.
   */
  waitCacheClaim(namespace: string, name: string, timeoutMs: number): Promise<void>
  /**
   * Connects `socket` to a TCP port of a pod through the API server (pods/portforward, websocket) and
   * resolves when either side closes; rejects when the tunnel cannot be opened or the pod refuses the
   * connection (with the runtime's message). The socket is closed in every case.
   */
  forwardPort(namespace: string, pod: string, port: number, socket: Duplex): Promise<void>
  /**
   * Merges labels and annotations into a claim or Secret (a null value removes the key): how a kept
   * workspace leaves its run (`exec --keep`, see runner/keep.ts). Rejects when the object is gone.
   */
  patchMetadata(
    kind: 'PersistentVolumeClaim' | 'Secret',
    namespace: string,
    name: string,
    metadata: {labels?: Record<string, string | null>; annotations?: Record<string, string | null>},
  ): Promise<void>
}
