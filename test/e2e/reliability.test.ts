import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {
  core,
  createNamespace,
  deleteNamespace,
  events,
  kubeConfig,
  leftovers,
  pipelineRepo,
  startWpk8s,
  uniqueName,
  waitFor,
  wpk8s,
} from './kube.js'
import {requireCluster} from './setup.js'
import {KubeCluster} from '../../src/cluster/kube.js'

requireCluster()
const ns = uniqueName('e2e-reliable')
const base = ['--namespace', ns, '--no-storage-rwx', '--allow-from-step', 'all', '--stop-timeout', '10s']

beforeAll(() => createNamespace(ns))
afterAll(() => deleteNamespace(ns))

/** A pipeline whose first step runs for long, under a name of its own so tests never see each other's pods. */
const sleeper = (name: string) =>
  `skip_clone: true\nsteps:\n  ${name}:\n    image: busybox:1.35\n    commands: [echo started, sleep 300]\n  next:\n    image: busybox:1.35\n    commands: [echo never]\n`

/** A one-step pipeline with `options` (one line of YAML) as its backend_options.kubernetes. */
const withKubernetes = (options: string) =>
  `skip_clone: true\nsteps:\n  a:\n    image: busybox:1.35\n    commands: [true]\n    backend_options:\n      kubernetes:\n        ${options}\n`

async function runningPod(name: string): Promise<string> {
  return waitFor(
    'a running step pod',
    async () => {
      const pods = await core().listNamespacedPod({namespace: ns, labelSelector: `wpk8s.dev/step=${name}`})
      return pods.items.find((p) => p.status?.phase === 'Running')?.metadata?.name
    },
    60_000,
  )
}

describe('failing fast, with the reason', () => {
  it('reports an OOM kill as such, with the memory limit', async () => {
    const run = await wpk8s(['exec', '--json', ...base], {
      cwd: pipelineRepo(`skip_clone: true
steps:
  hungry:
    image: busybox:1.35
    commands: [head -c 200m /dev/zero | tail]
    backend_options:
      kubernetes:
        resources: {limits: {memory: 16Mi}}
`),
    })
    expect(run.code).toBe(1)
    expect(events(run).find((e) => e.type === 'step-end')).toMatchObject({
      step: 'hungry',
      status: 'failure',
      exitCode: 137,
      reason: 'killed for exceeding its memory limit (16Mi)',
    })
  })

  it('refuses a step whose ServiceAccount or Secret is missing before creating anything', async () => {
    const started = Date.now()
    const run = await wpk8s(['exec', ...base], {
      cwd: pipelineRepo(`skip_clone: true
steps:
  first:
    image: busybox:1.35
    commands: [true]
  later:
    image: busybox:1.35
    commands: [true]
    backend_options:
      kubernetes:
        serviceAccountName: no-such-account
        secrets: [{name: does-not-exist, key: k, target: {env: K}}]
`),
    })
    expect(run.code).toBe(3)
    expect(run.stdout).toMatch(
      /has no ServiceAccount no-such-account \(used by later\); Secret does-not-exist \(used by later\)/,
    )
    expect(run.stdout).toMatch(/hint: create it there first/)
    expect(run.stdout).not.toMatch(/workspace volume bound|first \(success/)
    expect(Date.now() - started).toBeLessThan(10_000)
    expect(await leftovers(ns)).toEqual([])
  })

  it("stops at once with the kubelet's CreateContainerConfigError when a Secret lacks the key", async () => {
    await core().createNamespacedSecret({namespace: ns, body: {metadata: {name: 'keyless'}, stringData: {other: 'x'}}})
    const started = Date.now()
    const run = await wpk8s(['exec', ...base], {
      cwd: pipelineRepo(withKubernetes('secrets: [{name: keyless, key: k, target: {env: K}}]')),
    })
    await core().deleteNamespacedSecret({namespace: ns, name: 'keyless'})
    expect(run.code).toBe(3)
    expect(run.stdout).toMatch(/CreateContainerConfigError: .*key k.*keyless/)
    expect(run.stdout).toMatch(/may be missing/)
    expect(Date.now() - started).toBeLessThan(30_000)
    expect(await leftovers(ns)).toEqual([])
  })

  it("refuses an invalid image name before creating anything; the kubelet's InvalidImageName counts as a start failure", async () => {
    const run = await wpk8s(['exec', ...base], {
      cwd: pipelineRepo('skip_clone: true\nsteps:\n  a:\n    image: Busybox:1.35\n    commands: [true]\n'),
    })
    expect(run.code).toBe(2)
    expect(run.stderr + run.stdout).toMatch(
      /\.woodpecker\.yml:4:12 steps\.a\.image: not a valid image reference: `Busybox`: repository names must be lower-case/,
    )
    expect(await leftovers(ns)).toEqual([])
    // What reaches the kubelet anyway (a manifest applied by hand) is classified at once, not waited on.
    const name = uniqueName('badimage')
    await core().createNamespacedPod({
      namespace: ns,
      body: {metadata: {name}, spec: {restartPolicy: 'Never', containers: [{name: 'step', image: 'Busybox:1.35'}]}},
    })
    const started = Date.now()
    const state = await new KubeCluster(kubeConfig()).watchPod(ns, name, (s) => s.kind !== 'pending', 60_000)
    expect(state).toMatchObject({kind: 'stuck', reason: 'InvalidImageName'})
    expect(Date.now() - started).toBeLessThan(15_000)
    await core().deleteNamespacedPod({namespace: ns, name, gracePeriodSeconds: 0})
  })

  it("stops at once with the scheduler's message when the matching node has a taint the step does not tolerate", async () => {
    // A second, kubelet-less node carrying the taint: tainting the real node would stop the other test files' pods.
    const [real] = (await core().listNode()).items
    const node = uniqueName('e2e-tainted')
    const labels = {
      'kubernetes.io/hostname': node,
      'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': real.metadata!.labels!['kubernetes.io/arch'],
    }
    await core().createNode({
      body: {
        metadata: {name: node, labels},
        spec: {taints: [{key: 'wpk8s.dev/e2e-dedicated', value: 'gpu', effect: 'NoSchedule'}]},
      },
    })
    try {
      const started = Date.now()
      const run = await wpk8s(['exec', ...base], {
        cwd: pipelineRepo(withKubernetes(`nodeSelector: {kubernetes.io/hostname: ${node}}`)),
      })
      expect(run.code).toBe(3)
      expect(run.stdout).toMatch(
        /Unschedulable: .*had taint \{wpk8s.dev\/e2e-dedicated: gpu\}, that the pod didn't tolerate/,
      )
      expect(run.stdout).toMatch(/hint: check nodeSelector, tolerations/)
      expect(Date.now() - started).toBeLessThan(30_000)
      expect(await leftovers(ns)).toEqual([])
    } finally {
      await core().deleteNode({name: node})
    }
  })

  it("stops at once with the scheduler's message when no node has the resources", async () => {
    const started = Date.now()
    const run = await wpk8s(['exec', ...base], {
      cwd: pipelineRepo(withKubernetes('resources: {requests: {cpu: "64"}}')),
    })
    expect(run.code).toBe(3)
    expect(Date.now() - started).toBeLessThan(30_000)
    expect(run.stdout).toMatch(/Unschedulable: .*Insufficient cpu/)
    expect(await leftovers(ns)).toEqual([])
  })

  it('reports a step pod deleted by someone else as an error, never as success', async () => {
    const {result} = startWpk8s(['exec', '--json', ...base], {cwd: pipelineRepo(sleeper('deleted'))})
    const pod = await runningPod('deleted')
    await core().deleteNamespacedPod({namespace: ns, name: pod, gracePeriodSeconds: 0})
    const run = await result
    expect(run.code).toBe(3)
    expect(events(run).find((e) => e.type === 'run-end')!.error).toMatch(/deleted/)
    expect(events(run).filter((e) => e.type === 'step-end' && e.step === 'deleted')).toMatchObject([
      {status: 'failure'},
    ])
    expect(await leftovers(ns)).toEqual([])
  })
})

describe("someone else's eviction", () => {
  it('reports a step pod evicted mid-step at once, not after its grace period as an exit code', async () => {
    const {result} = startWpk8s(['exec', '--json', ...base], {cwd: pipelineRepo(sleeper('evicted'))})
    const pod = await runningPod('evicted')
    const evicted = Date.now()
    await core().createNamespacedPodEviction({namespace: ns, name: pod, body: {metadata: {name: pod, namespace: ns}}})
    const run = await result
    expect(run.code).toBe(3)
    expect(events(run).find((e) => e.type === 'run-end')!.error).toMatch(
      /being deleted by someone else \(deleted or evicted\)/,
    )
    expect(events(run).filter((e) => e.type === 'step-end' && e.step === 'evicted')).toMatchObject([
      {status: 'failure'},
    ])
    // The pod's 30 s grace period is not waited for before reporting.
    expect(Date.now() - evicted).toBeLessThan(20_000)
    expect(await leftovers(ns)).toEqual([])
  })
})

describe('interruptions', () => {
  it('stops on SIGINT: cleans up everything and exits 130', async () => {
    const {child, result} = startWpk8s(['exec', ...base], {cwd: pipelineRepo(sleeper('interrupted'))})
    await runningPod('interrupted')
    const signalled = Date.now()
    child.kill('SIGINT')
    const run = await result
    expect(run.code).toBe(130)
    expect(run.stderr).toMatch(/stopping/)
    expect(run.stdout).toMatch(/interrupted by SIGINT/)
    expect(run.stdout.match(/^✖ interrupted /gm)).toHaveLength(1)
    expect(Date.now() - signalled).toBeLessThan(25_000)
    expect(await leftovers(ns)).toEqual([])
  })

  it('forces immediate deletion on a second signal, and exits 143 for SIGTERM', async () => {
    const {child, result} = startWpk8s(['exec', ...base], {cwd: pipelineRepo(sleeper('terminated'))})
    await runningPod('terminated')
    const signalled = Date.now()
    child.kill('SIGTERM')
    await new Promise((r) => setTimeout(r, 500))
    child.kill('SIGTERM')
    const run = await result
    expect(run.code).toBe(143)
    expect(run.stderr).toMatch(/forcing/)
    // The 10 s grace was cut short by the second signal.
    expect(Date.now() - signalled).toBeLessThan(8_000)
    expect(await leftovers(ns)).toEqual([])
  })

  it('still cleans up when its output went away first (the terminal or tee of a pipe died)', async () => {
    const {child, result} = startWpk8s(['exec', ...base], {cwd: pipelineRepo(sleeper('orphaned'))})
    await runningPod('orphaned')
    child.stdout!.destroy()
    child.stderr!.destroy()
    const signalled = Date.now()
    child.kill('SIGTERM')
    const run = await result
    expect(run.code).toBe(143)
    expect(Date.now() - signalled).toBeLessThan(25_000)
    expect(await leftovers(ns)).toEqual([])
  })

  it('leaves objects behind when killed with SIGKILL, and `wpk8s clean` finds and deletes them', async () => {
    const {child, result} = startWpk8s(['exec', ...base], {cwd: pipelineRepo(sleeper('killed'))})
    await runningPod('killed')
    child.kill('SIGKILL')
    await result
    expect((await leftovers(ns)).length).toBeGreaterThan(0)
    // Right after the kill its heartbeat is still fresh: --all takes the run all the same.
    const dry = await wpk8s(['clean', '--namespace', ns, '--dry-run', '--all'])
    expect(dry.code).toBe(0)
    expect(dry.stdout).toMatch(/would delete Pod\/wp-.*-killed/)
    expect(dry.stdout).toMatch(/would delete PersistentVolumeClaim\/wp-.*-workspace/)
    expect((await wpk8s(['clean', '--namespace', ns, '--older-than', '1h'])).stdout).toMatch(/nothing left behind/)
    const clean = await wpk8s(['clean', '--namespace', ns, '--all'])
    expect(clean.stdout).toMatch(/object\(s\) deleted/)
    await waitFor(
      'the namespace to be empty',
      async () => ((await leftovers(ns)).length === 0 ? true : undefined),
      30_000,
    )
  })
})

describe('soak', () => {
  it('runs 20 pipelines back to back and leaves no pod, claim, Secret, Service or helper behind', async () => {
    const dir = pipelineRepo(`services:
  cache:
    image: busybox:1.35
    commands: [sleep 60]
steps:
  work:
    image: busybox:1.35
    environment: {TOKEN: {from_secret: token}}
    commands: [ls .woodpecker.yml, echo "$TOKEN"]
`)
    const codes: (number | null)[] = []
    for (let i = 0; i < 20; i++)
      codes.push((await wpk8s(['exec', ...base, '--secret', 'token=soak-value'], {cwd: dir})).code)
    expect(codes).toEqual(Array(20).fill(0))
    expect(await leftovers(ns)).toEqual([])
    const volumes = await core().listPersistentVolume()
    expect(volumes.items.filter((v) => v.spec?.claimRef?.namespace === ns && v.status?.phase === 'Bound')).toEqual([])
  }, 600_000)
})
