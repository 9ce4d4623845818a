import type {V1PersistentVolumeClaim, V1Pod, V1Secret} from '@kubernetes/client-node'
import {type Duplex, Readable} from 'node:stream'
import {describe, expect, it} from 'vitest'
import type {
  CacheUse,
  Cluster,
  FollowOptions,
  Heartbeat,
  Payload,
  PodReadiness,
  PodRequest,
  PodTimeline,
  RunObject,
} from '../../src/cluster/cluster.js'
import {ExecDroppedError} from '../../src/cluster/errors.js'
import type {PodState} from '../../src/cluster/pod-state.js'
import {resolveBackendConfig} from '../../src/config.js'
import {onExistingClaim, planRun, selectSteps} from '../../src/compile/plan.js'
import {endMark} from '../../src/compile/script.js'
import {HELPER_NO_ENDPOINT, HELPER_SERVING} from '../../src/compile/ship.js'
import type {RunMetadata} from '../../src/pipeline/metadata.js'
import {toWorkflow} from '../../src/pipeline/normalize.js'
import {parsePipelineText} from '../../src/pipeline/parse.js'
import {AheadPods} from '../../src/runner/ahead.js'
import {bufferArchive} from '../../src/runner/checkout.js'
import type {RunEvent} from '../../src/runner/events.js'
import {Interrupt} from '../../src/runner/interrupt.js'
import {DEFAULT_LIMITS, runPlan} from '../../src/runner/run.js'

const metadata: RunMetadata = {
  root: '/src/app',
  repoOwner: 'o',
  repoName: 'a',
  repoUrl: '',
  sha: 'abc',
  branch: 'main',
  ref: 'refs/heads/main',
  message: 'm',
  author: 'a',
  authorEmail: 'a@b',
  event: 'push',
  tag: '',
  changedFiles: [],
  started: 1700000000,
}

/**
 * A cluster whose step pods run until deleted, and whose node never finishes a graceful deletion
 * (a stuck kubelet): a pod goes away only when deleted with a grace period of 0.
 */
class StuckNodeCluster implements Cluster {
  readonly server = 'https://fake'
  /** Steps end at once with exit 0 (else they run until deleted); execs answer these results in turn. */
  constructor(
    private readonly stepsEnd = false,
    private readonly execResults: (Error | number)[] = [],
  ) {}
  execCalls = 0
  readonly objects = new Map<string, RunObject>()
  readonly podDeletes: {name: string; grace?: number}[] = []
  private readonly gone = new Map<string, () => void>()

  async ensureNamespace(): Promise<void> {}
  async nodeArchitectures(): Promise<string[]> {
    return ['amd64']
  }
  async createPvc(pvc: V1PersistentVolumeClaim): Promise<void> {
    this.add('PersistentVolumeClaim', pvc.metadata!.name!)
  }
  async waitPvcBound(): Promise<void> {}
  readonly createdPods: V1Pod[] = []
  async createPod(pod: V1Pod): Promise<void> {
    this.createdPods.push(pod)
    this.add('Pod', pod.metadata!.name!)
  }
  async createSecret(secret: V1Secret): Promise<void> {
    this.add('Secret', secret.metadata!.name!)
  }
  watchPod(_ns: string, name: string, until: (s: PodState) => boolean): Promise<PodState> {
    const running: PodState = {kind: 'running', ip: '10.0.0.2'}
    if (until(running)) return Promise.resolve(running)
    if (this.stepsEnd) return Promise.resolve({kind: 'terminated', exitCode: 0})
    return new Promise((resolve) =>
      this.gone.set(name, () => resolve({kind: 'lost', reason: 'Deleted', message: 'deleted'})),
    )
  }
  followLog(_ns: string, _pod: string, _c: string, onLine: (line: string) => void): Promise<void> {
    onLine('started')
    return Promise.resolve()
  }
  /** Answers of the pod proxy in turn (after them: 503, as for a pod nobody listens on). */
  proxyAnswers: (Error | {statusCode: number; body: string})[] = []
  readonly proxyCalls: {method: string; path: string; bytes: number; headers?: Record<string, string>}[] = []
  async requestPod(
    _ns: string,
    _pod: string,
    _port: number,
    path: string,
    options: PodRequest,
  ): Promise<{statusCode: number; body: string}> {
    const bytes = (await payloadBytes(options.body)).length
    this.proxyCalls.push({method: options.method, path, bytes, ...(options.headers ? {headers: options.headers} : {})})
    const answer = this.proxyAnswers.shift() ?? {
      statusCode: 503,
      body: 'error trying to reach service: connection refused',
    }
    if (answer instanceof Error) throw answer
    return answer
  }
  /** The helper's log as read in turn (the last one stays). */
  helperLogs: string[] = ['']
  async readLog(): Promise<string> {
    return this.helperLogs.length > 1 ? this.helperLogs.shift()! : this.helperLogs[0]
  }
  /** The bytes each exec read from its input (every attempt opens the archive anew). */
  readonly execInputs: number[] = []
  async execWithInput(
    _ns: string,
    _pod: string,
    _c: string,
    _command: string[],
    input: Payload,
  ): Promise<{exitCode: number; stderr: string}> {
    this.execInputs.push((await payloadBytes(input)).length)
    const result = this.execResults[this.execCalls++] ?? 0
    if (result instanceof Error) throw result
    return {exitCode: result, stderr: result === 0 ? '' : 'tar: short read'}
  }
  async deletePod(_ns: string, name: string, grace?: number): Promise<void> {
    this.podDeletes.push({name, grace})
    if (grace !== 0) return
    this.objects.delete(`Pod/${name}`)
    this.gone.get(name)?.()
  }
  async deletePvc(_ns: string, name: string): Promise<void> {
    if (![...this.objects.values()].some((o) => o.kind === 'Pod')) this.objects.delete(`PersistentVolumeClaim/${name}`)
  }
  async deleteSecret(_ns: string, name: string): Promise<void> {
    this.objects.delete(`Secret/${name}`)
  }
  readonly deletedLeases: {name: string; objects: number}[] = []
  deleteObject(o: RunObject): Promise<void> {
    if (o.kind === 'Lease') {
      this.deletedLeases.push({name: o.name, objects: this.objects.size})
      return Promise.resolve()
    }
    return o.kind === 'Pod'
      ? this.deletePod(o.namespace, o.name, 0)
      : o.kind === 'Secret'
        ? this.deleteSecret(o.namespace, o.name)
        : this.deletePvc(o.namespace, o.name)
  }
  async exists(): Promise<boolean> {
    return true
  }
  async listRunObjects(): Promise<RunObject[]> {
    return [...this.objects.values()]
  }
  /** Heartbeats in turn, and what else existed at each (the Lease itself is not among the objects). */
  readonly beats: {name: string; objects: number}[] = []
  async beat(heartbeat: Heartbeat): Promise<boolean> {
    this.beats.push({name: heartbeat.name, objects: this.objects.size})
    return true
  }
  /** How waiting for a service's readiness ends (the pods it was asked about, in turn). */
  readiness: PodReadiness = {kind: 'ready'}
  readonly readyWaits: {name: string; timeoutMs: number}[] = []
  async waitPodReady(_ns: string, name: string, timeoutMs: number): Promise<PodReadiness> {
    this.readyWaits.push({name, timeoutMs})
    await new Promise((r) => setTimeout(r, 30))
    return this.readiness
  }
  async podProblems(): Promise<string[]> {
    return ['Unhealthy: Readiness probe failed: dial tcp 10.0.0.2:5432: connect: connection refused']
  }
  /** The pods whose phases were read, and whether each still existed then (cleanup had not deleted it). */
  readonly timelineReads: {name: string; exists: boolean}[] = []
  async podTimeline(_ns: string, name: string): Promise<PodTimeline | undefined> {
    const exists = this.objects.has(`Pod/${name}`)
    this.timelineReads.push({name, exists})
    return exists
      ? {
          node: 'node-1',
          createdAt: new Date(1000),
          scheduledAt: new Date(2000),
          startedAt: new Date(3000),
          resources: {limits: {memory: '64Mi'}},
        }
      : undefined
  }
  /** Cache claims: the names that exist (others are created), and each use with its annotations. */
  readonly claims = new Set<string>()
  readonly cacheUses: {name: string; annotations: Record<string, string>; use: CacheUse}[] = []
  async useCacheClaim(claim: V1PersistentVolumeClaim, annotations: Record<string, string>): Promise<CacheUse> {
    const name = claim.metadata!.name!
    const use: CacheUse = this.claims.has(name) ? 'found' : 'created'
    this.claims.add(name)
    this.cacheUses.push({name, annotations, use})
    return use
  }
  async waitCacheClaim(): Promise<void> {}
  async forwardPort(_ns: string, _pod: string, _port: number, socket: Duplex): Promise<void> {
    socket.destroy()
  }
  /** Patches of metadata in turn; an object whose run label is removed leaves the run (cleanup no longer lists it). */
  readonly patches: {
    kind: string
    name: string
    metadata: {labels?: Record<string, string | null>; annotations?: Record<string, string | null>}
  }[] = []
  async patchMetadata(
    kind: 'PersistentVolumeClaim' | 'Secret',
    _ns: string,
    name: string,
    metadata: {labels?: Record<string, string | null>; annotations?: Record<string, string | null>},
  ): Promise<void> {
    this.patches.push({kind, name, metadata})
    if (metadata.labels && 'wpk8s.dev/run' in metadata.labels && metadata.labels['wpk8s.dev/run'] === null)
      this.objects.delete(`${kind}/${name}`)
  }
  private add(kind: RunObject['kind'], name: string): void {
    this.objects.set(`${kind}/${name}`, {kind, namespace: 'ns', name})
  }
}

/** All of a payload, as the cluster would read it. */
async function payloadBytes(payload?: Payload): Promise<Buffer> {
  if (!payload) return Buffer.alloc(0)
  if (Buffer.isBuffer(payload)) return payload
  const chunks: Buffer[] = []
  for await (const chunk of payload.open()) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

function sleeperPlan(
  text = 'skip_clone: true\nsteps:\n  long:\n    image: busybox:1.35\n    commands: [sleep 300]\n',
  shipToken?: string,
) {
  const workflow = toWorkflow('ci', 'p.yml', parsePipelineText('p.yml', text).data as Record<string, unknown>)
  return planRun({
    workflow,
    config: resolveBackendConfig({}, {}).config,
    metadata,
    runId: 'r1',
    arch: 'amd64',
    extraEnv: {},
    ...(shipToken ? {shipToken} : {}),
  })
}

describe('cleanup after an interrupt', () => {
  it('gives running pods their grace period, then deletes a pod the node does not let go of at once', async () => {
    const cluster = new StuckNodeCluster()
    const interrupt = new Interrupt()
    const limits = {...DEFAULT_LIMITS, stopGraceSeconds: 1, interrupt}
    setTimeout(() => interrupt.receive('SIGINT'), 50)
    const started = Date.now()
    const result = await runPlan(
      sleeperPlan(),
      cluster,
      () => {},
      async () => bufferArchive(Buffer.alloc(0), false),
      limits,
    )
    const elapsed = Date.now() - started
    expect(result.exitCode).toBe(130)
    expect(cluster.objects.size).toBe(0)
    const graces = cluster.podDeletes.map((d) => d.grace)
    expect(graces[0]).toBe(1)
    expect(graces.at(-1)).toBe(0)
    // Grace (1 s) plus the slack for a stuck node, not the whole cleanup timeout (60 s).
    expect(elapsed).toBeGreaterThan(1_000)
    expect(elapsed).toBeLessThan(10_000)
  })

  it('deletes at once when a second signal forces it', async () => {
    const cluster = new StuckNodeCluster()
    const interrupt = new Interrupt()
    const limits = {...DEFAULT_LIMITS, stopGraceSeconds: 30, interrupt}
    setTimeout(() => interrupt.receive('SIGTERM'), 50)
    setTimeout(() => interrupt.receive('SIGTERM'), 400)
    const started = Date.now()
    const result = await runPlan(
      sleeperPlan(),
      cluster,
      () => {},
      async () => bufferArchive(Buffer.alloc(0), false),
      limits,
    )
    expect(result.exitCode).toBe(143)
    expect(cluster.objects.size).toBe(0)
    expect(Date.now() - started).toBeLessThan(3_000)
  })
})

describe('shipping the checkout', () => {
  const shipping = 'steps:\n  build:\n    image: busybox:1.35\n    commands: [ls]\n'
  const dropped = () => new ExecDroppedError('running sh in pod p: the connection closed without an exit status')

  it('unpacks again once when the connection drops before the exit status', async () => {
    const cluster = new StuckNodeCluster(true, [dropped(), 0])
    const result = await runPlan(
      sleeperPlan(shipping),
      cluster,
      () => {},
      async () => bufferArchive(Buffer.from('tar'), false),
      DEFAULT_LIMITS,
    )
    expect(result.exitCode).toBe(0)
    expect(cluster.execCalls).toBe(2)
    // The retry opened the archive again and sent all of it.
    expect(cluster.execInputs).toEqual([3, 3])
    expect(cluster.objects.size).toBe(0)
  })

  it('gives up with the error when it drops twice, and when unpacking fails', async () => {
    const twice = new StuckNodeCluster(true, [dropped(), dropped()])
    expect(
      (
        await runPlan(
          sleeperPlan(shipping),
          twice,
          () => {},
          async () => bufferArchive(Buffer.from('tar'), false),
          DEFAULT_LIMITS,
        )
      ).exitCode,
    ).toBe(3)
    const failing = new StuckNodeCluster(true, [1])
    expect(
      (
        await runPlan(
          sleeperPlan(shipping),
          failing,
          () => {},
          async () => bufferArchive(Buffer.from('tar'), false),
          DEFAULT_LIMITS,
        )
      ).exitCode,
    ).toBe(3)
    expect(failing.execCalls).toBe(1)
    expect(twice.objects.size + failing.objects.size).toBe(0)
  })
})

describe('shipping through the pod proxy', () => {
  const shipping = 'steps:\n  build:\n    image: busybox:1.35\n    commands: [ls]\n'
  const ok = {statusCode: 200, body: 'ok\n'}
  const archive = async () => bufferArchive(Buffer.from('tar bytes'), true)
  const refused = {statusCode: 503, body: 'connection refused'}
  async function ship(cluster: StuckNodeCluster, limits = DEFAULT_LIMITS) {
    const events: {type: string; detail?: string}[] = []
    const result = await runPlan(
      sleeperPlan(shipping, 'f00d'),
      cluster,
      (e) => events.push(e as {type: string}),
      archive,
      limits,
    )
    return {result, detail: events.find((e) => e.type === 'phase' && e.detail)?.detail}
  }

  it('posts the archive with the token in a header (never in the URL) once the helper answers, and uses no exec', async () => {
    const cluster = new StuckNodeCluster(true)
    cluster.proxyAnswers = [ok, {statusCode: 200, body: 'exit 0\n'}]
    const {result, detail} = await ship(cluster)
    expect(result.exitCode).toBe(0)
    expect(cluster.proxyCalls).toEqual([
      {method: 'GET', path: '/ok', bytes: 0},
      {method: 'POST', path: '/cgi-bin/unpack?z=1', bytes: 9, headers: {'X-Wpk8s-Token': 'f00d'}},
    ])
    expect(cluster.execCalls).toBe(0)
    expect(detail).toBe('9 B gzipped, through the pod proxy')
  })

  it('reports the progress of a large archive, from 0 to all of it, and none for a small one', async () => {
    const total = 6 * 1024 * 1024
    const chunks = Array.from({length: 48}, () => Buffer.alloc(total / 48))
    // A slow stream: 48 chunks over about 1.2 s.
    const slow = {
      size: total,
      gzipped: false,
      entries: 1,
      open: () =>
        Readable.from(
          (async function* () {
            for (const chunk of chunks) {
              await new Promise((r) => setTimeout(r, 25))
              yield chunk
            }
          })(),
          {objectMode: false},
        ),
    }
    const cluster = new StuckNodeCluster(true)
    cluster.proxyAnswers = [ok, {statusCode: 200, body: 'exit 0\n'}]
    const events: RunEvent[] = []
    expect(
      (
        await runPlan(
          sleeperPlan(shipping, 'f00d'),
          cluster,
          (e) => events.push(e),
          async () => slow,
          DEFAULT_LIMITS,
        )
      ).exitCode,
    ).toBe(0)
    const progress = events.filter((e) => e.type === 'progress')
    expect(progress.length).toBeGreaterThan(2)
    const sent = progress.map((e) => e.sent)
    expect(sent).toEqual([...sent].sort((a, b) => a - b))
    expect(progress.at(-1)).toMatchObject({phase: 'ship', sent: total, total})
    expect(progress.every((e) => e.total === total && e.bytesPerSecond >= 0)).toBe(true)
    expect(events.findIndex((e) => e.type === 'progress')).toBeGreaterThan(
      events.findIndex((e) => e.type === 'phase' && e.phase === 'ship' && e.status === 'start'),
    )
    expect(events.find((e) => e.type === 'phase' && e.phase === 'ship' && e.status === 'done')).toMatchObject({
      detail: '6.0 MiB, through the pod proxy',
    })
    const small: RunEvent[] = []
    const quiet = new StuckNodeCluster(true)
    quiet.proxyAnswers = [ok, {statusCode: 200, body: 'exit 0\n'}]
    await runPlan(sleeperPlan(shipping, 'f00d'), quiet, (e) => small.push(e), archive, DEFAULT_LIMITS)
    expect(small.filter((e) => e.type === 'progress')).toEqual([])
  })

  it('waits for a helper whose server is starting', async () => {
    const cluster = new StuckNodeCluster(true)
    cluster.proxyAnswers = [refused, refused, ok, {statusCode: 200, body: 'exit 0\n'}]
    cluster.helperLogs = ['', HELPER_SERVING]
    expect((await ship(cluster)).result.exitCode).toBe(0)
    expect(cluster.proxyCalls).toHaveLength(4)
    expect(cluster.execCalls).toBe(0)
  })

  it('falls back to exec when RBAC refuses the proxy, the upload fails or breaks, or the helper does not serve', async () => {
    const cases: {answers: (Error | {statusCode: number; body: string})[]; log?: string; calls: number}[] = [
      {answers: [{statusCode: 403, body: 'forbidden'}], calls: 1},
      {answers: [ok, {statusCode: 200, body: 'exit 2\ntar: short read'}], calls: 2},
      {answers: [ok, new Error('socket hang up')], calls: 2},
      // An image without httpd: no waiting once the helper said so.
      {answers: [], log: HELPER_NO_ENDPOINT, calls: 1},
      // Serving, yet refused twice: the API server cannot reach the pod.
      {answers: [], log: HELPER_SERVING, calls: 2},
    ]
    for (const {answers, log, calls} of cases) {
      const cluster = new StuckNodeCluster(true)
      cluster.proxyAnswers = [...answers]
      cluster.helperLogs = [log ?? '']
      const {result, detail} = await ship(cluster)
      expect(result.exitCode).toBe(0)
      expect(cluster.proxyCalls).toHaveLength(calls)
      expect(cluster.execCalls).toBe(1)
      expect(detail).toBe('9 B gzipped, through exec')
    }
  })

  it('gives up on a helper that says nothing after its serve timeout', async () => {
    const silent = new StuckNodeCluster(true)
    const started = Date.now()
    expect((await ship(silent, {...DEFAULT_LIMITS, helperServeTimeoutMs: 400})).result.exitCode).toBe(0)
    expect(Date.now() - started).toBeGreaterThanOrEqual(400)
    expect(silent.proxyCalls.length).toBeGreaterThan(2)
    expect(silent.execCalls).toBe(1)
  })

  it('uses exec only when the plan has no upload token', async () => {
    const cluster = new StuckNodeCluster(true)
    expect((await runPlan(sleeperPlan(shipping), cluster, () => {}, archive, DEFAULT_LIMITS)).exitCode).toBe(0)
    expect(cluster.proxyCalls).toHaveLength(0)
    expect(cluster.execCalls).toBe(1)
  })
})

describe('the log of a step that printed its end mark', () => {
  /** Prints the end mark, then keeps the stream open until told the log is complete (as a stream the server never ends). */
  class OpenStreamCluster extends StuckNodeCluster {
    completeSeen = false
    override followLog(
      _ns: string,
      _pod: string,
      _c: string,
      onLine: (line: string) => void,
      options?: FollowOptions,
    ): Promise<void> {
      const nonce = '0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9'
      onLine(`${endMark('r1')}${nonce}`)
      onLine('hello')
      onLine(`${endMark('r1')}${nonce}`)
      onLine(`${endMark('r1')}${nonce}:0`)
      return new Promise((resolve) =>
        options?.complete?.then(() => {
          this.completeSeen = true
          resolve()
        }),
      )
    }
    override watchPod(ns: string, name: string, until: (s: PodState) => boolean): Promise<PodState> {
      if (until({kind: 'running', ip: '10.0.0.2'})) return super.watchPod(ns, name, until)
      return new Promise((resolve) => setTimeout(() => resolve({kind: 'terminated', exitCode: 0}), 50))
    }
  }

  it('is closed once the container ended, so the run ends without waiting for the stream', async () => {
    const cluster = new OpenStreamCluster(true)
    const lines: string[] = []
    const result = await runPlan(
      sleeperPlan('skip_clone: true\nsteps:\n  s:\n    image: busybox:1.35\n    commands: [echo hello]\n'),
      cluster,
      (e) => {
        if (e.type === 'log') lines.push(e.line)
      },
      async () => bufferArchive(Buffer.alloc(0), false),
      DEFAULT_LIMITS,
    )
    expect(result.exitCode).toBe(0)
    expect(cluster.completeSeen).toBe(true)
    expect(lines).toEqual(['hello'])
  })
})

describe('AheadPods', () => {
  const start = {pipelineStatus: 'success' as const, startedAt: 1700000000, hostAliases: []}
  const dropped = () => new ExecDroppedError('running /bin/sh in pod p: the connection closed without an exit status')

  async function aheadWith(execResults: (Error | number)[]) {
    const cluster = new StuckNodeCluster(false, execResults)
    const ahead = new AheadPods(cluster, 'ns', 'wpk8s.dev/run=r1')
    ahead.create('long', sleeperPlan().steps[0].pod, (pod) => cluster.createPod(pod))
    return {cluster, ahead}
  }

  it('releases a waiting pod, sending the release again when the connection dropped before its status', async () => {
    const {cluster, ahead} = await aheadWith([dropped(), 0])
    expect(await ahead.take('long', start, 1000)).toMatchObject({name: 'wp-r1-long'})
    expect(cluster.execCalls).toBe(2)
    expect(cluster.podDeletes).toEqual([])
  })

  it('never replaces a pod that may have started: two dropped releases are an error', async () => {
    const {cluster, ahead} = await aheadWith([dropped(), dropped()])
    await expect(ahead.take('long', start, 1000)).rejects.toThrow(/cannot tell whether its pod wp-r1-long was started/)
    expect(cluster.podDeletes).toEqual([])
  })

  it('deletes the pod and leaves the step to a new one when the release surely failed', async () => {
    for (const result of [new Error('forbidden'), 1]) {
      const {cluster, ahead} = await aheadWith([result])
      expect(await ahead.take('long', start, 1000)).toBeUndefined()
      expect(cluster.podDeletes).toEqual([{name: 'wp-r1-long', grace: 0}])
      expect(cluster.objects.size).toBe(0)
    }
  })

  it('deletes the pod of a step that will not run, and hands out nothing for it', async () => {
    const {cluster, ahead} = await aheadWith([])
    await ahead.discard('long')
    expect(cluster.objects.size).toBe(0)
    expect(await ahead.take('long', start, 1000)).toBeUndefined()
  })
})

describe('a secret that was not given', () => {
  const text =
    'skip_clone: true\nsteps:\n  build:\n    image: busybox:1.35\n    commands: [exit 1]\n  notify:\n    image: busybox:1.35\n    commands: [echo hi]\n    environment: {HOOK: {from_secret: hook}}\n    when: {status: failure}\n'

  it('fails the step that needs it when it is due, with the reason, and creates no pod for it', async () => {
    const cluster = new StuckNodeCluster(true)
    cluster.watchPod = async () => ({kind: 'terminated', exitCode: 1})
    const events: {type: string; step?: string; status?: string; reason?: string}[] = []
    const result = await runPlan(
      sleeperPlan(text),
      cluster,
      (e) => events.push(e as never),
      async () => bufferArchive(Buffer.alloc(0), false),
      DEFAULT_LIMITS,
    )
    expect(result.exitCode).toBe(1)
    expect(events.find((e) => e.type === 'step-end' && e.step === 'notify')).toMatchObject({
      status: 'failure',
      reason: expect.stringMatching(/HOOK needs the secret `hook`, which was not given/),
    })
    expect(cluster.podDeletes.map((d) => d.name).some((n) => n.includes('notify'))).toBe(false)
  })

  it('is not needed when the step that refers to it is skipped', async () => {
    const cluster = new StuckNodeCluster(true)
    const events: {type: string; step?: string; status?: string}[] = []
    const result = await runPlan(
      sleeperPlan(text.replace('exit 1', 'true')),
      cluster,
      (e) => events.push(e as never),
      async () => bufferArchive(Buffer.alloc(0), false),
      DEFAULT_LIMITS,
    )
    expect(result.exitCode).toBe(0)
    expect(events.find((e) => e.type === 'step-end' && e.step === 'notify')).toMatchObject({status: 'skipped'})
  })
})

describe("a run's heartbeat and its pods' deadline", () => {
  it('beats before creating anything, deletes the Lease after everything else, and gives every pod an activeDeadlineSeconds', async () => {
    const cluster = new StuckNodeCluster(true)
    const started = Date.now()
    const result = await runPlan(
      sleeperPlan('skip_clone: true\nsteps:\n  a:\n    image: busybox:1.35\n    commands: [true]\n'),
      cluster,
      () => {},
      async () => bufferArchive(Buffer.alloc(0), false),
      {...DEFAULT_LIMITS, timeoutMs: 100_000},
    )
    expect(result.exitCode).toBe(0)
    expect(cluster.beats[0]).toEqual({name: 'wp-r1', objects: 0})
    expect(cluster.deletedLeases).toEqual([{name: 'wp-r1', objects: 0}])
    // The run's remaining time plus a margin, counted from now (the helper's pod goes through the same call).
    expect(cluster.createdPods).toHaveLength(1)
    for (const pod of cluster.createdPods) {
      const deadline = pod.spec!.activeDeadlineSeconds!
      expect(deadline).toBeGreaterThan(100 - Math.ceil((Date.now() - started) / 1000) + 5)
      expect(deadline).toBeLessThanOrEqual(110)
    }
  })
})

describe('the phases of each pod (step-phases)', () => {
  it('are read once per pod after its end, or before cleanup for a service still running, and emitted without delaying results', async () => {
    const cluster = new StuckNodeCluster(true)
    const events: RunEvent[] = []
    const result = await runPlan(
      sleeperPlan(
        'skip_clone: true\nservices:\n  db:\n    image: postgres:16\nsteps:\n  a:\n    image: busybox:1.35\n    commands: [true]\n',
      ),
      cluster,
      (e) => events.push(e),
      async () => bufferArchive(Buffer.alloc(0), false),
      {...DEFAULT_LIMITS, timeoutMs: 100_000},
    )
    expect(result.exitCode).toBe(0)
    expect(cluster.timelineReads.map((r) => r.exists)).toEqual([true, true])
    expect(cluster.timelineReads.map((r) => r.name).sort()).toEqual(['wp-r1-a', 'wp-r1-db'])
    const phases = events.filter((e) => e.type === 'step-phases')
    expect(phases.map((e) => e.step).sort()).toEqual(['a', 'db'])
    expect(phases[0]).toMatchObject({
      node: 'node-1',
      createdAt: new Date(1000).toISOString(),
      scheduledAt: new Date(2000).toISOString(),
      startedAt: new Date(3000).toISOString(),
      resources: {limits: {memory: '64Mi'}},
    })
    // All before cleanup deleted the pods, and before the run's end.
    const types = events.map((e) => e.type)
    expect(types.lastIndexOf('step-phases')).toBeLessThan(types.indexOf('cleanup'))
  })
})

describe('a step that prints the end mark itself', () => {
  /** The wrapper's first lines, then the step's own marks (early, and with a nonce it made up), then its container fails with 3. */
  class FakingStepCluster extends StuckNodeCluster {
    override followLog(_ns: string, _pod: string, _c: string, onLine: (line: string) => void): Promise<void> {
      const nonce = '0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9'
      for (const line of [
        `${endMark('r1')}${nonce}`,
        `${endMark('r1')}${nonce}`,
        `${endMark('r1')}0`,
        `${endMark('r1')}11111111-2222-4333-8444-555555555555:0`,
        'failing now',
        `${endMark('r1')}${nonce}:3`,
      ])
        onLine(line)
      return Promise.resolve()
    }
    override watchPod(ns: string, name: string, until: (s: PodState) => boolean): Promise<PodState> {
      if (until({kind: 'running', ip: '10.0.0.2'})) return super.watchPod(ns, name, until)
      return new Promise((resolve) => setTimeout(() => resolve({kind: 'terminated', exitCode: 3}), 50))
    }
  }

  it("is reported with its container's exit code: printing the mark early and then failing is a failure", async () => {
    const events: {type: string; step?: string; status?: string; exitCode?: number; line?: string}[] = []
    const result = await runPlan(
      sleeperPlan(
        'skip_clone: true\nsteps:\n  s:\n    image: busybox:1.35\n    commands: [echo "$WPK8S_END"0, exit 3]\n',
      ),
      new FakingStepCluster(true),
      (e) => events.push(e as never),
      async () => bufferArchive(Buffer.alloc(0), false),
      DEFAULT_LIMITS,
    )
    expect(result.exitCode).toBe(1)
    expect(events.find((e) => e.type === 'step-end')).toMatchObject({step: 's', status: 'failure', exitCode: 3})
    expect(events.filter((e) => e.type === 'log').map((e) => e.line)).toEqual([
      `${endMark('r1')}0`,
      `${endMark('r1')}11111111-2222-4333-8444-555555555555:0`,
      'failing now',
    ])
  })
})

describe('services that are ready before the steps use them', () => {
  /** Steps end at once with 0; services run until the run deletes them. */
  class ServiceCluster extends StuckNodeCluster {
    constructor() {
      super(true)
    }
    private readonly services = new Map<string, () => void>()
    override watchPod(ns: string, name: string, until: (s: PodState) => boolean): Promise<PodState> {
      if (name.endsWith('-db') && !until({kind: 'running', ip: '10.0.0.2'}))
        return new Promise((resolve) =>
          this.services.set(name, () => resolve({kind: 'lost', reason: 'Deleted', message: 'deleted'})),
        )
      return super.watchPod(ns, name, until)
    }
    override async deletePod(ns: string, name: string, grace?: number): Promise<void> {
      await super.deletePod(ns, name, grace)
      if (grace === 0) this.services.get(name)?.()
    }
  }
  const pipeline = (ports: string) =>
    `skip_clone: true\nservices:\n  db:\n    image: postgres\n${ports}steps:\n  a:\n    image: busybox:1.35\n    commands: [true]\n`
  async function run(cluster: ServiceCluster, ports = '    ports: [5432]\n', limits: object = {}) {
    const events: RunEvent[] = []
    const result = await runPlan(
      sleeperPlan(pipeline(ports)),
      cluster,
      (e) => events.push(e),
      async () => bufferArchive(Buffer.alloc(0), false),
      {...DEFAULT_LIMITS, ...limits},
    )
    return {result, events, end: events.find((e) => e.type === 'run-end') as Extract<RunEvent, {type: 'run-end'}>}
  }

  it('starts the steps only once the service is ready, within --service-timeout, and reports when, and its real duration', async () => {
    const cluster = new ServiceCluster()
    const {result, events} = await run(cluster, undefined, {serviceTimeoutMs: 7000})
    expect(result.exitCode).toBe(0)
    expect(cluster.readyWaits).toEqual([{name: 'wp-r1-db', timeoutMs: 7000}])
    const order = events
      .filter((e) => e.type === 'step-start' || e.type === 'service-ready')
      .map((e) => `${e.type} ${(e as {step: string}).step}`)
    expect(order).toEqual(['step-start db', 'service-ready db', 'step-start a'])
    expect(events.find((e) => e.type === 'service-ready')).toMatchObject({
      probe: 'tcp 5432',
      durationMs: expect.any(Number),
    })
    const db = events.find((e) => e.type === 'step-end' && e.step === 'db') as Extract<RunEvent, {type: 'step-end'}>
    expect(db.reason).toMatch(/^ready after \d+\.\ds; stopped at the end$/)
    expect(db.durationMs).toBeGreaterThan(20)
  })

  it("fails the run when the service is not ready in time, with the kubelet's reason and the service's last log lines", async () => {
    const cluster = new ServiceCluster()
    cluster.readiness = {kind: 'not-ready'}
    const {result, events, end} = await run(cluster, undefined, {serviceTimeoutMs: 5000})
    expect(result.exitCode).toBe(3)
    expect(end.error).toBe(
      'service db was not ready within 5 s (--service-timeout) (checked: tcp 5432): Unhealthy: Readiness probe failed: dial tcp 10.0.0.2:5432: connect: connection refused\n  last log lines of db:\n  | started',
    )
    expect(end.hint).toMatch(/--service-timeout/)
    expect(events.filter((e) => e.type === 'step-start').map((e) => (e as {step: string}).step)).toEqual(['db'])
    expect(events.find((e) => e.type === 'step-end' && e.step === 'db')).toMatchObject({
      status: 'failure',
      reason: end.error,
    })
    expect(events.find((e) => e.type === 'step-end' && e.step === 'a')).toMatchObject({status: 'skipped'})
    expect(cluster.objects.size).toBe(0)
  })

  it('fails at once when the service ends before it is ready', async () => {
    const cluster = new ServiceCluster()
    cluster.readiness = {kind: 'ended', state: {kind: 'terminated', exitCode: 2}}
    const {result, end} = await run(cluster)
    expect(result.exitCode).toBe(3)
    expect(end.error).toMatch(
      /^service db ended before it was ready \(exit code 2\) \(checked: tcp 5432\)\n {2}last log lines of db:\n {2}\| started$/,
    )
  })

  it('does not wait for a service without TCP ports', async () => {
    for (const ports of ['', '    ports: [53/udp]\n']) {
      const cluster = new ServiceCluster()
      cluster.readiness = {kind: 'not-ready'}
      const {result, events} = await run(cluster, ports)
      expect(result.exitCode).toBe(0)
      expect(cluster.readyWaits).toEqual([])
      expect(events.some((e) => e.type === 'service-ready')).toBe(false)
    }
  })
})

describe('cache volumes', () => {
  const text =
    'skip_clone: true\nsteps:\n  a:\n    image: busybox:1.35\n    volumes: ["gocache:/cache"]\n    commands: [true]\n  b:\n    image: busybox:1.35\n    volumes: ["tagcache:/cache"]\n    when: {event: tag}\n    commands: [true]\n'

  it('creates a missing claim as a cache and finds it in the next run, marking when it was used, only for steps that may run', async () => {
    const cluster = new StuckNodeCluster(true)
    const caches: RunEvent[] = []
    const run = () =>
      runPlan(
        sleeperPlan(text),
        cluster,
        (e) => e.type === 'cache' && caches.push(e),
        async () => bufferArchive(Buffer.alloc(0), false),
        DEFAULT_LIMITS,
      )
    const before = Date.now()
    expect((await run()).exitCode).toBe(0)
    expect((await run()).exitCode).toBe(0)
    expect(caches).toEqual([
      {type: 'cache', claim: 'gocache', status: 'created', size: '1Gi'},
      {type: 'cache', claim: 'gocache', status: 'found'},
    ])
    expect(cluster.cacheUses.map((u) => u.name)).toEqual(['gocache', 'gocache'])
    const used = Date.parse(cluster.cacheUses[1].annotations['wpk8s.dev/last-used'])
    expect(used).toBeGreaterThanOrEqual(before - 1000)
    // No run deleted it: it is no object of theirs.
    expect(cluster.objects.size).toBe(0)
    expect(cluster.claims).toEqual(new Set(['gocache']))
  })
})

describe('a kept workspace (--keep, --reuse)', () => {
  const text =
    'skip_clone: true\nsteps:\n  build:\n    image: busybox:1.35\n    commands: [echo hi]\n    environment:\n      TOKEN: {from_secret: token}\n  test:\n    image: busybox:1.35\n    commands: [echo test]\n'
  const plan = () => {
    const workflow = toWorkflow('ci', 'p.yml', parsePipelineText('p.yml', text).data as Record<string, unknown>)
    return planRun({
      workflow,
      config: resolveBackendConfig({}, {}).config,
      metadata,
      runId: 'r1',
      arch: 'amd64',
      extraEnv: {},
      secrets: {token: 's3cret'},
    })
  }

  it('--keep: the claim and the Secret leave the run, labelled as kept with the result, and the pods are deleted', async () => {
    const cluster = new StuckNodeCluster(true)
    const kept = {...plan(), keep: {runId: 'r1', annotations: {'wpk8s.dev/pipeline': 'p.yml'}}}
    const result = await runPlan(
      kept,
      cluster,
      () => {},
      async () => bufferArchive(Buffer.alloc(0), false),
    )
    expect(result.exitCode).toBe(0)
    expect(cluster.patches.map((p) => `${p.kind}/${p.name}`)).toEqual([
      'PersistentVolumeClaim/wp-r1-workspace',
      'Secret/wp-r1-secrets',
    ])
    expect(cluster.patches[0].metadata.labels).toEqual({'wpk8s.dev/run': null, 'wpk8s.dev/kept': 'r1'})
    expect(cluster.patches[0].metadata.annotations).toMatchObject({
      'wpk8s.dev/pipeline': 'p.yml',
      'wpk8s.dev/result': 'success',
    })
    expect([...cluster.objects.keys()]).toEqual([])
    expect(cluster.createdPods.map((p) => p.metadata!.name)).toEqual(['wp-r1-build', 'wp-r1-test'])
  })

  it('--reuse with --step: the kept claim is mounted, not created, and only the named step runs', async () => {
    const cluster = new StuckNodeCluster(true)
    const reused = {
      ...onExistingClaim(selectSteps(plan(), ['test'], {dependencies: false}), 'wp-k0-workspace'),
      keep: {runId: 'k0', annotations: {}},
    }
    const result = await runPlan(
      reused,
      cluster,
      () => {},
      async () => bufferArchive(Buffer.alloc(0), false),
    )
    expect(result.steps.map((s) => `${s.name}:${s.status}`)).toEqual(['build:skipped', 'test:success'])
    expect(cluster.createdPods.map((p) => p.metadata!.name)).toEqual(['wp-r1-test'])
    expect(
      cluster.createdPods[0].spec!.volumes!.find((v) => v.name === 'workspace')!.persistentVolumeClaim!.claimName,
    ).toBe('wp-k0-workspace')
    // The kept claim is patched (result, time), the run's own Secret is not kept.
    expect(cluster.patches.map((p) => `${p.kind}/${p.name}`)).toEqual(['PersistentVolumeClaim/wp-k0-workspace'])
    expect([...cluster.objects.keys()].filter((k) => k.startsWith('PersistentVolumeClaim'))).toEqual([])
  })
})

describe('cleanup while the API server is away for a moment', () => {
  it("asks again until the deadline instead of leaving the run's objects behind", async () => {
    const cluster = new StuckNodeCluster(true)
    let failures = 0
    const list = cluster.listRunObjects.bind(cluster)
    cluster.listRunObjects = async (...args: Parameters<typeof list>) => {
      // The first two looks fail as they would while the API server restarts.
      if (failures++ < 2) throw new Error('connect ECONNREFUSED 127.0.0.1:6443')
      return list(...args)
    }
    const events: {type: string; left?: string[]}[] = []
    const result = await runPlan(
      sleeperPlan('skip_clone: true\nsteps:\n  s:\n    image: busybox:1.35\n    commands: [true]\n'),
      cluster,
      (e) => events.push(e as never),
      async () => bufferArchive(Buffer.alloc(0), false),
      DEFAULT_LIMITS,
    )
    expect(result.exitCode).toBe(0)
    expect(failures).toBeGreaterThan(2)
    expect(cluster.objects.size).toBe(0)
    expect(events.find((e) => e.type === 'cleanup' && 'left' in e)).toBeUndefined()
  })
})
