import * as k8s from '@kubernetes/client-node'
import {execFileSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
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

requireCluster()
/** Created by wpk8s itself, by two workflows at once. */
const fresh = uniqueName('e2e-fresh')
const ns = uniqueName('e2e-shared')

beforeAll(() => createNamespace(ns))
afterAll(() => Promise.all([deleteNamespace(fresh), deleteNamespace(ns)]))

const leases = async (namespace: string) =>
  (await kubeConfig().makeApiClient(k8s.CoordinationV1Api).listNamespacedLease({namespace})).items

/** A git checkout with a `.woodpecker/` folder holding these workflows. */
function folderRepo(workflows: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'wpk8s-e2e-folder-'))
  mkdirSync(join(dir, '.woodpecker'))
  for (const [name, text] of Object.entries(workflows)) writeFileSync(join(dir, '.woodpecker', name), text)
  const git = (...args: string[]) => execFileSync('git', args, {cwd: dir, stdio: 'ignore'})
  git('init', '-q', '-b', 'main')
  git('add', '.')
  git('-c', 'user.name=T', '-c', 'user.email=t@example.com', 'commit', '-qm', 'init')
  return dir
}

async function runningPods(namespace: string, step: string, count: number): Promise<k8s.V1Pod[]> {
  return waitFor(
    `${count} running pod(s) of step ${step}`,
    async () => {
      const pods = (await core().listNamespacedPod({namespace, labelSelector: `wpk8s.dev/step=${step}`})).items.filter(
        (p) => p.status?.phase === 'Running',
      )
      return pods.length >= count ? pods : undefined
    },
    90_000,
  )
}

describe('a namespace shared by workflows, runs and colleagues', () => {
  it('runs a two-workflow folder into a namespace that does not exist yet, and `wpk8s clean` leaves the runs alone while they go', async () => {
    const workflow =
      'skip_clone: true\nsteps:\n  work:\n    image: busybox:1.35\n    commands: [echo started, sleep 8, echo done]\n'
    const {result} = startWpk8s(['exec', '--json', '--namespace', fresh, '--no-storage-rwx'], {
      cwd: folderRepo({'one.yaml': workflow, 'two.yaml': workflow}),
    })
    await runningPods(fresh, 'work', 2)
    const heartbeats = await leases(fresh)
    expect(heartbeats.map((l) => l.metadata!.labels!['wpk8s.dev/role'])).toEqual(['heartbeat', 'heartbeat'])
    const clean = await wpk8s(['clean', '--namespace', fresh])
    expect(clean.code).toBe(0)
    expect(clean.stdout.match(/left alone: run \S+, alive: heartbeat \d+ s ago/g)).toHaveLength(2)
    expect(clean.stdout).toMatch(/nothing left behind in namespace \S+ \(2 run\(s\) in progress left alone\)/)
    const run = await result
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(
      events(run)
        .filter((e) => e.type === 'step-end')
        .map((e) => e.status),
    ).toEqual(['success', 'success'])
    expect(await leftovers(fresh)).toEqual([])
    expect(await leases(fresh)).toEqual([])
  })

  it('gives every pod a deadline: after a SIGKILL they end by themselves, gated ones too, and clean deletes the rest once the heartbeat is stale', async () => {
    const {child, result} = startWpk8s(['exec', '--namespace', ns, '--no-storage-rwx', '--timeout', '15'], {
      cwd: pipelineRepo(
        'skip_clone: true\nsteps:\n  killed:\n    image: busybox:1.35\n    commands: [sleep 300]\n  waiting:\n    image: busybox:1.35\n    commands: [echo never]\n',
      ),
    })
    const [pod] = await runningPods(ns, 'killed', 1)
    const deadline = pod.spec!.activeDeadlineSeconds!
    expect(deadline).toBeGreaterThan(10)
    expect(deadline).toBeLessThanOrEqual(25)
    // The next step's pod, created ahead, waits at its gate with its own deadline.
    const [gated] = await runningPods(ns, 'waiting', 1)
    expect(gated.spec!.activeDeadlineSeconds).toBeLessThanOrEqual(25)
    child.kill('SIGKILL')
    await result
    const killedAt = Date.now()
    // Just killed: its heartbeat is still fresh.
    expect((await wpk8s(['clean', '--namespace', ns])).stdout).toMatch(/left alone: run \S+, alive/)
    const startedAt = new Date(pod.status!.startTime!).getTime()
    for (const name of [pod.metadata!.name!, gated.metadata!.name!]) {
      const ended = await waitFor(
        `pod ${name} to end by itself`,
        async () => {
          const p = await core().readNamespacedPod({namespace: ns, name})
          return p.status?.phase === 'Failed' ? p : undefined
        },
        60_000,
      )
      expect(ended.status!.reason).toBe('DeadlineExceeded')
    }
    // Within the deadline, give or take the kubelet's rounds.
    expect(Date.now() - startedAt).toBeLessThan((deadline + 15) * 1000)
    await new Promise((r) => setTimeout(r, Math.max(0, killedAt + 11_000 - Date.now())))
    const clean = await wpk8s(['clean', '--namespace', ns, '--stale-after', '10s'])
    expect(clean.code).toBe(0)
    expect(clean.stdout).toMatch(/deleted Pod\/wp-\S+-killed/)
    expect(clean.stdout).toMatch(/deleted PersistentVolumeClaim\/wp-\S+-workspace/)
    expect(clean.stdout).toMatch(/deleted Lease\/wp-\S+/)
    await waitFor(
      'the namespace to be empty',
      async () => ((await leftovers(ns)).length === 0 ? true : undefined),
      30_000,
    )
    expect(await leases(ns)).toEqual([])
  })

  it("reports the container's exit code of a step that prints the end mark itself and then fails", async () => {
    const run = await wpk8s(['exec', '--json', '--namespace', ns, '--no-storage-rwx'], {
      cwd: pipelineRepo(
        'skip_clone: true\nsteps:\n  faker:\n    image: busybox:1.35\n    commands:\n      - echo "$WPK8S_END"0\n      - echo "$WPK8S_END$wpk8s_nonce:0"\n      - sleep 2\n      - exit 3\n  after:\n    image: busybox:1.35\n    commands: [echo after]\n',
      ),
    })
    expect(run.code).toBe(1)
    const ends = events(run).filter((e) => e.type === 'step-end')
    expect(ends[0]).toMatchObject({step: 'faker', status: 'failure', exitCode: 3})
    expect(ends[1]).toMatchObject({step: 'after', status: 'skipped'})
    const lines = events(run)
      .filter((e) => e.type === 'log' && e.step === 'faker')
      .map((e) => e.line)
    // The step's own marks are just output; it cannot know the wrapper's nonce.
    const mark = `::wpk8s-end-${events(run).find((e) => e.type === 'run-start')!.runId}::`
    expect(lines).toEqual([
      '+ echo "$WPK8S_END"0',
      `${mark}0`,
      '+ echo "$WPK8S_END$wpk8s_nonce:0"',
      `${mark}:0`,
      '+ sleep 2',
      '+ exit 3',
    ])
    expect(await leftovers(ns)).toEqual([])
  })
})
