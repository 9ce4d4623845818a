import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {
  createNamespace,
  deleteNamespace,
  events,
  leftovers,
  pipelineRepo,
  type Run,
  startWpk8s,
  uniqueName,
  waitFor,
  wpk8s,
} from './kube.js'
import {requireCluster} from './setup.js'

// Services that are ready before the steps use them, a service's port forwarded to the test process
// during the run, and cache volumes that outlive runs. Markers in logs are built at run time
// (`$(echo OK)`), since the log also echoes each command.

requireCluster()
const ns = uniqueName('e2e-services')

beforeAll(() => createNamespace(ns))
afterAll(() => deleteNamespace(ns))

const base = ['exec', '--json', '--namespace', ns, '--no-storage-rwx']

function exec(pipeline: string, args: string[] = []): Promise<Run> {
  return wpk8s([...base, ...args], {cwd: pipelineRepo(pipeline)})
}

function logsOf(run: Run, step: string): string[] {
  return events(run)
    .filter((e) => e.type === 'log' && e.step === step)
    .map((e) => e.line)
}

const stepEnd = (run: Run, step: string) => events(run).find((e) => e.type === 'step-end' && e.step === step)

describe('services with ports', () => {
  it('starts the steps only once every port accepts connections: a service listening after 3 s, a step connecting at once', async () => {
    const run = await exec(`skip_clone: true
services:
  web:
    image: busybox:1.35
    ports: [8080, 9090]
    commands:
      - mkdir -p /www && echo BODY-$(echo OK) > /www/index.html
      - (sleep 4; nc -ll -p 9090 -e echo SECOND-$(echo PORT)) &
      - sleep 3
      - httpd -f -p 8080 -h /www
steps:
  client:
    image: busybox:1.35
    commands:
      - wget -q -O - http://web:8080/index.html
      - echo x | nc web 9090
`)
    expect(run.code).toBe(0)
    // One try each, no retry loop: both ports were open when the step started.
    expect(logsOf(run, 'client')).toEqual(expect.arrayContaining(['BODY-OK', 'SECOND-PORT']))
    const all = events(run)
    const ready = all.find((e) => e.type === 'service-ready')
    expect(ready).toMatchObject({step: 'web', probe: 'tcp 8080, tcp 9090'})
    // From the pod's creation: the 4 s the second port took, plus the pod's start.
    expect(ready!.durationMs).toBeGreaterThan(4000)
    expect(all.findIndex((e) => e.type === 'step-start' && e.step === 'client')).toBeGreaterThan(all.indexOf(ready!))
    // The service's log is shown under its name, and its summary has its real duration.
    expect(logsOf(run, 'web')).toContain('+ httpd -f -p 8080 -h /www')
    expect(stepEnd(run, 'web')).toMatchObject({
      status: 'success',
      reason: expect.stringMatching(/^ready after \d+\.\ds; stopped at the end$/),
    })
    expect(stepEnd(run, 'web')!.durationMs).toBeGreaterThan(ready!.durationMs)
    expect(await leftovers(ns)).toEqual([])
  })

  it("fails the run within --service-timeout when a port never opens, with the probe's message and the service's last log lines", async () => {
    const started = Date.now()
    const run = await exec(
      `skip_clone: true
services:
  db:
    image: busybox:1.35
    ports: [5432]
    commands:
      - echo WAITING-$(echo FOREVER)
      - sleep 600
steps:
  never:
    image: busybox:1.35
    commands: [echo never]
`,
      ['--service-timeout', '6'],
    )
    const elapsed = Date.now() - started
    expect(run.code).toBe(3)
    const end = events(run).find((e) => e.type === 'run-end')!
    expect(end.error).toMatch(
      /^service db was not ready within 6 s \(--service-timeout\) \(checked: tcp 5432\): Unhealthy: Readiness probe failed: dial tcp [\d.]+:5432: connect: connection refused/,
    )
    expect(end.error).toMatch(/last log lines of db:\n(.*\n)* {2}\| WAITING-FOREVER/)
    expect(stepEnd(run, 'db')).toMatchObject({status: 'failure'})
    expect(stepEnd(run, 'never')).toMatchObject({status: 'skipped'})
    expect(events(run).some((e) => e.type === 'step-start' && e.step === 'never')).toBe(false)
    // The timeout, the pod's start and the cleanup: well under the default 120 s.
    expect(elapsed).toBeLessThan(40_000)
    expect(await leftovers(ns)).toEqual([])
  })
})

describe('--port-forward', () => {
  it('reaches a service from this machine while the run is on', async () => {
    const dir = pipelineRepo(`skip_clone: true
services:
  web:
    image: busybox:1.35
    ports: [80]
    commands:
      - mkdir -p /www && echo FORWARDED-$(echo OK) > /www/index.html
      - httpd -f -p 80 -h /www
steps:
  linger:
    image: busybox:1.35
    commands: [sleep 8]
`)
    const {result, output} = startWpk8s([...base, '--port-forward', 'web:80:0'], {cwd: dir})
    const forward = await waitFor(
      'the port-forward event',
      async () =>
        output()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l))
          .find((e) => e.type === 'port-forward'),
      60_000,
    )
    expect(forward).toMatchObject({step: 'web', port: 80, url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/)})
    const body = await (await fetch(`${forward.url}/index.html`)).text()
    const again = await (await fetch(`${forward.url}/index.html`)).text()
    const run = await result
    expect(body).toBe('FORWARDED-OK\n')
    expect(again).toBe(body)
    expect(run.code).toBe(0)
    // The forward ends with the run.
    await expect(fetch(`${forward.url}/index.html`)).rejects.toThrow()
    expect(await leftovers(ns)).toEqual([])
  })
})

describe('cache volumes', () => {
  it('creates a missing claim as a cache that the next run reads, cache ls lists, clean leaves and cache rm removes', async () => {
    const cache = uniqueName('e2e-cache')
    const write = await exec(
      `skip_clone: true\nsteps:\n  fill:\n    image: busybox:1.35\n    volumes: ["${cache}:/cache"]\n    commands: ['echo CACHED-$(echo OK) > /cache/marker']\n`,
      ['--cache-size', '64Mi'],
    )
    expect(write.code).toBe(0)
    expect(events(write).find((e) => e.type === 'cache')).toMatchObject({claim: cache, status: 'created', size: '64Mi'})
    // Only the cache is left: the run deleted everything of its own.
    expect(await leftovers(ns)).toEqual([`pvc/${cache}`])
    const read = await exec(
      `skip_clone: true\nsteps:\n  use:\n    image: busybox:1.35\n    volumes: ["${cache}:/cache"]\n    commands: [cat /cache/marker]\n`,
    )
    expect(read.code).toBe(0)
    expect(events(read).find((e) => e.type === 'cache')).toMatchObject({claim: cache, status: 'found'})
    expect(logsOf(read, 'use')).toEqual(['+ cat /cache/marker', 'CACHED-OK'])
    const ls = await wpk8s(['cache', 'ls', '-n', ns])
    expect(ls.code).toBe(0)
    expect(ls.stdout).toMatch(
      new RegExp(`^NAME +SIZE +STATUS +AGE +LAST USED\n${cache} +64Mi +Bound +\\d+[sm] +\\d+s ago\n$`),
    )
    const clean = await wpk8s(['clean', '-n', ns])
    expect(clean.stdout).toMatch(/nothing left behind/)
    expect(await leftovers(ns)).toEqual([`pvc/${cache}`])
    const rm = await wpk8s(['cache', 'rm', '-n', ns, cache])
    expect(rm.code).toBe(0)
    expect(rm.stdout).toBe(`deleted cache ${cache}\n`)
    await waitFor('the cache to go', async () => ((await leftovers(ns)).length === 0 ? true : undefined))
    expect((await wpk8s(['cache', 'ls', '-n', ns])).stdout).toBe(`no cache volumes in namespace ${ns}\n`)
  })
})
