import net from 'node:net'
import type {Duplex} from 'node:stream'
import {describe, expect, it} from 'vitest'
import type {Cluster} from '../../src/cluster/cluster.js'
import {resolveBackendConfig} from '../../src/config.js'
import {planRun} from '../../src/compile/plan.js'
import {describeReadiness, gatedPod, hasReadinessProbe, podAtStart} from '../../src/compile/pod.js'
import {UsageError} from '../../src/errors.js'
import type {RunMetadata} from '../../src/pipeline/metadata.js'
import {toWorkflow} from '../../src/pipeline/normalize.js'
import {parsePipelineText} from '../../src/pipeline/parse.js'
import type {RunEvent} from '../../src/runner/events.js'
import {assignPortForwards, parsePortForward, PortForwards} from '../../src/runner/port-forward.js'
import {
  applyServiceFlags,
  logTail,
  parseServiceProbe,
  serviceFailure,
  withServiceProbes,
} from '../../src/runner/services.js'

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

function plan(text: string, runId = 'r1', helperImage?: string) {
  const workflow = toWorkflow('ci', 'p.yml', parsePipelineText('p.yml', text).data as Record<string, unknown>)
  return planRun({
    workflow,
    config: resolveBackendConfig({}, {}).config,
    metadata,
    runId,
    arch: 'amd64',
    extraEnv: {},
    ...(helperImage ? {helperImage} : {}),
  })
}

const PIPELINE = `services:
  db:
    image: postgres:16
    ports: [5432, "9187", 5432, 53/udp]
  plain:
    image: redis:7
  dns:
    image: coredns
    ports: [53/udp]
steps:
  server:
    image: busybox:1.35
    detach: true
    ports: [8080]
    commands: [httpd -f -p 8080]
  build:
    image: busybox:1.35
    ports: [9000]
    commands: [true]
`

describe('readiness probes of services and detached steps', () => {
  const p = plan(PIPELINE, 'r1', 'registry.example.com/tools/busybox:1.36')
  const pod = (name: string) => [...p.services, ...p.steps].find((s) => s.name === name)!.pod

  it('probes the first TCP port on the step container and each further one on a small container of its own', () => {
    const containers = pod('db').spec!.containers
    expect(containers.map((c) => c.name)).toEqual(['step', 'wpk8s-port-9187'])
    expect(containers[0].readinessProbe).toEqual({
      tcpSocket: {port: 5432},
      periodSeconds: 1,
      timeoutSeconds: 1,
      successThreshold: 1,
      failureThreshold: 3,
    })
    expect(containers[1]).toMatchObject({
      image: 'registry.example.com/tools/busybox:1.36',
      readinessProbe: {tcpSocket: {port: 9187}},
      securityContext: {
        runAsUser: 65534,
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        capabilities: {drop: ['ALL']},
      },
      resources: {limits: {memory: '16Mi'}},
    })
    // It ends at once when the pod is deleted.
    expect(containers[1].command!.join(' ')).toMatch(/trap "exit 0" TERM/)
    // The declared ports stay as they were, UDP included.
    expect(containers[0].ports).toEqual([
      {containerPort: 5432, protocol: 'TCP'},
      {containerPort: 9187, protocol: 'TCP'},
      {containerPort: 5432, protocol: 'TCP'},
      {containerPort: 53, protocol: 'UDP'},
    ])
    expect(describeReadiness(pod('db'))).toBe('tcp 5432, tcp 9187')
  })

  it('probes detached steps too, and nothing without TCP ports or for ordinary steps', () => {
    expect(pod('server').spec!.containers[0].readinessProbe).toEqual(expect.objectContaining({tcpSocket: {port: 8080}}))
    for (const name of ['plain', 'dns', 'build']) {
      expect(hasReadinessProbe(pod(name))).toBe(false)
      expect(pod(name).spec!.containers).toHaveLength(1)
    }
  })

  it('uses the default helper image for the probing containers', () => {
    expect(plan(PIPELINE).services[0].pod.spec!.containers[1].image).toBe('docker.io/library/busybox:1.35')
  })

  it('keeps the probing containers when the pod gets its start-time values or waits at a gate', () => {
    const started = podAtStart(pod('db'), {
      pipelineStatus: 'success',
      startedAt: 1,
      hostAliases: [{hostnames: ['x'], ip: '10.0.0.1'}],
    })
    expect(started.spec!.containers.map((c) => c.name)).toEqual(['step', 'wpk8s-port-9187'])
    expect(started.spec!.containers[0].env!.find((e) => e.name === 'CI_STEP_STARTED')!.value).toBe('1')
    expect(gatedPod(pod('db')).spec!.containers.map((c) => c.name)).toEqual(['step', 'wpk8s-port-9187'])
  })
})

describe('--service-probe', () => {
  it('reads tcp, http, exec and none', () => {
    expect(parseServiceProbe('db=tcp:5433')).toEqual({
      service: 'db',
      probe: {tcpSocket: {port: 5433}, periodSeconds: 1, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3},
    })
    expect(parseServiceProbe('web=http:8080/healthz?full=1').probe!.httpGet).toEqual({
      port: 8080,
      path: '/healthz?full=1',
    })
    expect(parseServiceProbe('web=http:8080').probe!.httpGet).toEqual({port: 8080, path: '/'})
    expect(parseServiceProbe('db=exec:pg_isready -U postgres').probe).toMatchObject({
      exec: {command: ['/bin/sh', '-c', 'pg_isready -U postgres']},
      timeoutSeconds: 5,
    })
    expect(parseServiceProbe('db=none')).toEqual({service: 'db'})
  })

  it('refuses anything else, with the forms it takes', () => {
    for (const bad of [
      'db',
      '=tcp:1',
      'db=tcp:0',
      'db=tcp:70000',
      'db=udp:53',
      'db=exec:',
      'db=http:x',
      'db=pg_isready',
    ]) {
      expect(() => parseServiceProbe(bad), bad).toThrow(UsageError)
    }
    expect(() => parseServiceProbe('db=pg_isready')).toThrow(
      /NAME=tcp:PORT, NAME=http:PORT\/PATH, NAME=exec:COMMAND or NAME=none/,
    )
  })

  it("replaces the ports' probes of that service only, dropping its probing containers; none waits for nothing", () => {
    const p = plan(PIPELINE)
    const [changed] = withServiceProbes(
      [p],
      [parseServiceProbe('db=exec:pg_isready'), parseServiceProbe('server=none')],
    )
    const db = changed.services.find((s) => s.name === 'db')!.pod
    expect(db.spec!.containers.map((c) => c.name)).toEqual(['step'])
    expect(describeReadiness(db)).toBe('exec pg_isready')
    expect(hasReadinessProbe(changed.steps.find((s) => s.name === 'server')!.pod)).toBe(false)
    // A service without ports can be given one.
    const [plain] = withServiceProbes([p], [parseServiceProbe('plain=tcp:6379')])
    expect(describeReadiness(plain.services.find((s) => s.name === 'plain')!.pod)).toBe('tcp 6379')
    // The plan it came from is unchanged.
    expect(describeReadiness(p.services[0].pod)).toBe('tcp 5432, tcp 9187')
  })

  it('refuses a name that is no service or detached step, naming those there are', () => {
    expect(() => withServiceProbes([plan(PIPELINE)], [parseServiceProbe('build=none')])).toThrow(
      /no service or detached step is called build/,
    )
    const thrown = (() => {
      try {
        withServiceProbes([plan(PIPELINE)], [parseServiceProbe('nope=none')])
      } catch (error) {
        return error
      }
    })()
    expect(thrown).toMatchObject({hint: 'services and detached steps: db, plain, dns, server'})
  })
})

describe("exec's service flags", () => {
  const runs = () => [{plan: plan(PIPELINE)}]

  it('applies --cache-size to the cache claims and --service-timeout to the options', () => {
    const p = plan(`steps:\n  a:\n    image: x\n    volumes: ["gocache:/root/.cache"]\n`)
    const {runs: sized, options} = applyServiceFlags([{plan: p}], {'cache-size': '5Gi', 'service-timeout': 30})
    expect(sized[0].plan.caches![0].spec!.resources!.requests).toEqual({storage: '5Gi'})
    expect(p.caches![0].spec!.resources!.requests).toEqual({storage: '1Gi'})
    expect(options).toEqual({serviceTimeoutMs: 30_000, portForwards: []})
  })

  it('refuses a bad size, a probe given twice, a local port given twice', () => {
    expect(() => applyServiceFlags(runs(), {'cache-size': '12x'})).toThrow(
      /--cache-size 12x: not a Kubernetes quantity/,
    )
    expect(() => applyServiceFlags(runs(), {'cache-size': '0'})).toThrow(UsageError)
    expect(() => applyServiceFlags(runs(), {'service-probe': ['db=none', 'db=tcp:1']})).toThrow(/given twice/)
    expect(() => applyServiceFlags(runs(), {'port-forward': ['db:5432:7000', 'server:8080:7000']})).toThrow(
      /local port 7000 is given twice/,
    )
    // Any free port, twice, is fine.
    expect(
      applyServiceFlags(runs(), {'port-forward': ['db:5432:0', 'server:8080:0']}).options.portForwards,
    ).toHaveLength(2)
  })
})

describe('--port-forward', () => {
  it("reads SERVICE:PORT[:LOCAL]; the local port is the service's unless given", () => {
    expect(parsePortForward('db:5432')).toEqual({service: 'db', port: 5432, local: 5432})
    expect(parsePortForward('web:80:8080')).toEqual({service: 'web', port: 80, local: 8080})
    expect(parsePortForward('web:80:0')).toEqual({service: 'web', port: 80, local: 0})
    for (const bad of ['db', 'db:', ':80', 'db:0', 'db:65536', 'db:80:65536', 'db:80:x', 'a:b:80'])
      expect(() => parsePortForward(bad), bad).toThrow(UsageError)
  })

  it('assigns each to the workflow that has the service, and refuses names no workflow or several have', () => {
    const one = plan(PIPELINE, 'r1-1')
    const two = plan('services:\n  cache:\n    image: redis\nsteps:\n  a: {image: x}\n', 'r1-2')
    expect(
      assignPortForwards([parsePortForward('cache:6379'), parsePortForward('server:8080')], [one, two]).map(
        (f) => f.runId,
      ),
    ).toEqual(['r1-2', 'r1-1'])
    expect(() => assignPortForwards([parsePortForward('build:9000')], [one, two])).toThrow(
      /no service or detached step is called build/,
    )
    expect(() => assignPortForwards([parsePortForward('db:5432')], [one, plan(PIPELINE, 'r1-3')])).toThrow(
      /2 workflows have a service called db/,
    )
  })

  /** Forwards by echoing what it receives, prefixed with the pod and port it was asked for. */
  function echoCluster(calls: string[]): Cluster {
    return {
      forwardPort: async (_ns: string, pod: string, port: number, socket: Duplex) => {
        calls.push(`${pod}:${port}`)
        await new Promise<void>((resolve) => {
          socket.on('data', (chunk: Buffer) => socket.end(`${pod}:${port} ${chunk.toString()}`))
          socket.on('close', resolve)
        })
      },
    } as unknown as Cluster
  }

  function request(port: number, text: string): Promise<string> {
    return new Promise((resolve, reject) => {
      let answer = ''
      const socket = net.connect(port, '127.0.0.1', () => socket.write(text))
      socket.on('data', (chunk) => (answer += chunk.toString()))
      socket.on('end', () => resolve(answer))
      socket.on('error', reject)
    })
  }

  it('listens before the service is up, holds connections until it is ready, then forwards them to its pod', async () => {
    const calls: string[] = []
    const events: RunEvent[] = []
    const p = plan(PIPELINE)
    const forwards = new PortForwards(echoCluster(calls), 'ns', (e) => events.push(e))
    await forwards.listen(p, [
      {...parsePortForward('db:5432:0'), runId: 'r1'},
      {...parsePortForward('server:8080:0'), runId: 'other-run'},
    ])
    // Only this run's request is bound: no event until the service is ready.
    expect(events).toEqual([])
    const port = Number((forwards as unknown as {listeners: {address: string}[]}).listeners[0].address.split(':')[1])
    const early = request(port, 'hello')
    await new Promise((r) => setTimeout(r, 100))
    expect(calls).toEqual([])
    forwards.attach(p.services[0], 'wp-r1-db')
    expect(await early).toBe('wp-r1-db:5432 hello')
    expect(await request(port, 'again')).toBe('wp-r1-db:5432 again')
    expect(events).toEqual([
      {type: 'port-forward', step: 'db', port: 5432, address: `127.0.0.1:${port}`, url: `http://127.0.0.1:${port}`},
    ])
    forwards.close()
    await expect(request(port, 'closed')).rejects.toThrow(/ECONNREFUSED/)
  })

  it('stops the run at once when the local port is in use', async () => {
    const busy = net.createServer().listen(0, '127.0.0.1')
    await new Promise((r) => busy.once('listening', r))
    const taken = (busy.address() as net.AddressInfo).port
    const forwards = new PortForwards(echoCluster([]), 'ns', () => {})
    await expect(forwards.listen(plan(PIPELINE), [parsePortForward(`db:5432:${taken}`)])).rejects.toThrow(
      new RegExp(`cannot listen on 127.0.0.1:${taken}: EADDRINUSE`),
    )
    busy.close()
    forwards.close()
  })
})

describe('a service that is not ready', () => {
  it('is reported with what the kubelet says and its last log lines', () => {
    expect(
      serviceFailure(
        'db',
        'was not ready within 10 s (--service-timeout)',
        'tcp 5432',
        ['Unhealthy: Readiness probe failed: dial tcp 10.0.0.7:5432: connect: connection refused'],
        ['starting', 'still starting'],
      ),
    ).toBe(
      'service db was not ready within 10 s (--service-timeout) (checked: tcp 5432): Unhealthy: Readiness probe failed: dial tcp 10.0.0.7:5432: connect: connection refused\n  last log lines of db:\n  | starting\n  | still starting',
    )
    expect(serviceFailure('db', 'ended before it was ready (exit code 1)', 'tcp 5432', [], [])).toBe(
      'service db ended before it was ready (exit code 1) (checked: tcp 5432)\n  (no log lines from db)',
    )
  })

  it('keeps only the last lines of its log', () => {
    const tail = logTail(3)
    for (const line of ['1', '2', '3', '4', '5']) tail.push(line)
    expect(tail.lines()).toEqual(['3', '4', '5'])
  })
})

describe('plain output of services, forwards and caches', () => {
  it('says when a service is ready, where its port is forwarded, and what became of a cache', async () => {
    const {plainRenderer} = await import('../../src/render/run-output.js')
    let out = ''
    const {emit} = plainRenderer((text) => (out += text), false)
    emit({type: 'service-ready', step: 'db', durationMs: 4210, probe: 'tcp 5432, tcp 9187'})
    emit({type: 'port-forward', step: 'db', port: 5432, address: '127.0.0.1:40001', url: 'http://127.0.0.1:40001'})
    emit({
      type: 'port-forward',
      step: 'db',
      port: 5432,
      address: '127.0.0.1:40001',
      url: 'http://127.0.0.1:40001',
      error: 'connection refused',
    })
    emit({type: 'cache', claim: 'gocache', status: 'created', size: '1Gi'})
    emit({type: 'cache', claim: 'gocache', status: 'found'})
    expect(out.split('\n')).toEqual([
      '[db] ready after 4.2s (tcp 5432, tcp 9187)',
      '[db] port 5432 forwarded to http://127.0.0.1:40001',
      '[db] port-forward 127.0.0.1:40001 → 5432: connection refused',
      'cache volume gocache created (1Gi), kept after the run (wpk8s cache ls); a Woodpecker agent creates no claims: on the server it must exist',
      'cache volume gocache found: mounted as it is (made by an earlier run, or one running now)',
      '',
    ])
  })
})
