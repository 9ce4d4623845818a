import {describe, expect, it} from 'vitest'
import type {Cluster, Heartbeat, RunObject} from '../../src/cluster/cluster.js'
import {chooseLeftovers, NO_HEARTBEAT_AGE_MS, parseAge} from '../../src/app/clean.js'
import {HEARTBEAT_SECONDS, RunHeartbeat, runHeartbeat} from '../../src/runner/heartbeat.js'
import type {RunPlan} from '../../src/compile/plan.js'

/** Only what the heartbeat calls. */
function fakeCluster(answers: (boolean | Error)[] = []) {
  const beats: number[] = []
  const deleted: RunObject[] = []
  const cluster = {
    async beat(): Promise<boolean> {
      beats.push(Date.now())
      const answer = answers.length > 1 ? answers.shift()! : (answers[0] ?? true)
      if (answer instanceof Error) throw answer
      return answer
    },
    async deleteObject(o: RunObject): Promise<void> {
      deleted.push(o)
    },
  } as unknown as Cluster
  return {cluster, beats, deleted}
}

const heartbeat: Heartbeat = {namespace: 'ns', name: 'wp-r1', labels: {}, holder: 'me', durationSeconds: 60}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('RunHeartbeat', () => {
  it('is a Lease named after the run, labelled like its objects', () => {
    const plan = {namespace: 'woodpecker', runId: 'k3x9qa-2', workflow: 'Build It'} as RunPlan
    expect(runHeartbeat(plan, 'laptop pid 42')).toEqual({
      namespace: 'woodpecker',
      name: 'wp-k3x9qa-2',
      holder: 'laptop pid 42',
      durationSeconds: HEARTBEAT_SECONDS,
      labels: {
        'app.kubernetes.io/managed-by': 'wpk8s',
        'wpk8s.dev/role': 'heartbeat',
        'wpk8s.dev/run': 'k3x9qa-2',
        'wpk8s.dev/workflow': 'build-it-e4b91a',
      },
    })
  })

  it('beats at once, renews at every interval, and deletes the Lease when stopped', async () => {
    const {cluster, beats, deleted} = fakeCluster()
    const hb = new RunHeartbeat(cluster, heartbeat, 30)
    await hb.start()
    expect(beats).toHaveLength(1)
    await sleep(100)
    expect(beats.length).toBeGreaterThanOrEqual(3)
    await hb.stop()
    const count = beats.length
    expect(deleted).toEqual([{kind: 'Lease', namespace: 'ns', name: 'wp-r1'}])
    await sleep(80)
    expect(beats).toHaveLength(count)
  })

  it('goes on without a heartbeat when RBAC forbids Leases, and deletes nothing', async () => {
    const {cluster, beats, deleted} = fakeCluster([false])
    const hb = new RunHeartbeat(cluster, heartbeat, 20)
    await hb.start()
    await sleep(80)
    expect(beats).toHaveLength(1)
    await hb.stop()
    expect(deleted).toEqual([])
  })

  it('never fails the run: a failed renewal is tried again at the next interval', async () => {
    const {cluster, beats, deleted} = fakeCluster([new Error('ECONNRESET'), new Error('ECONNRESET'), true])
    const hb = new RunHeartbeat(cluster, heartbeat, 20)
    await hb.start()
    await sleep(100)
    expect(beats.length).toBeGreaterThanOrEqual(3)
    await hb.stop()
    expect(deleted).toHaveLength(1)
  })

  it('sends one renewal at a time when they are slow', async () => {
    let inFlight = 0
    let most = 0
    const cluster = {
      async beat() {
        most = Math.max(most, ++inFlight)
        await sleep(50)
        inFlight--
        return true
      },
      async deleteObject() {},
    } as unknown as Cluster
    const hb = new RunHeartbeat(cluster, heartbeat, 5)
    await hb.start()
    await sleep(150)
    await hb.stop()
    expect(most).toBe(1)
  })
})

describe('what clean deletes', () => {
  const now = new Date('2026-12-01T12:00:00Z')
  const at = (secondsAgo: number) => new Date(now.getTime() - secondsAgo * 1000)
  const obj = (
    kind: RunObject['kind'],
    run: string,
    createdAgo: number,
    extra: Partial<RunObject> = {},
  ): RunObject => ({
    kind,
    namespace: 'ns',
    name: `wp-${run}-${kind.toLowerCase()}`,
    created: at(createdAgo),
    labels: {'wpk8s.dev/run': run},
    ...extra,
  })
  const lease = (run: string, renewedAgo: number, createdAgo = 600) =>
    obj('Lease', run, createdAgo, {
      name: `wp-${run}`,
      renewed: at(renewedAgo),
      durationSeconds: 60,
      holder: 'laptop pid 7',
    })
  const names = (objects: RunObject[]) => objects.map((o) => `${o.kind}/${o.name}`).sort()
  const policy = {now, olderThanMs: 0, all: false}

  it('leaves a run with a fresh heartbeat alone, and deletes one whose heartbeat is stale, Lease included', () => {
    const objects = [
      obj('Pod', 'live', 600),
      obj('PersistentVolumeClaim', 'live', 600),
      lease('live', 4),
      obj('Pod', 'dead', 600),
      obj('Secret', 'dead', 600),
      lease('dead', 61),
    ]
    const {chosen, kept} = chooseLeftovers(objects, policy)
    expect(names(chosen)).toEqual(['Lease/wp-dead', 'Pod/wp-dead-pod', 'Secret/wp-dead-secret'])
    expect(kept).toEqual([{run: 'live', why: 'alive: heartbeat 4 s ago from laptop pid 7'}])
  })

  it("takes --stale-after over the Lease's own duration", () => {
    const objects = [obj('Pod', 'r', 600), lease('r', 20)]
    expect(chooseLeftovers(objects, policy).chosen).toEqual([])
    expect(names(chooseLeftovers(objects, {...policy, staleAfterMs: 15_000}).chosen)).toEqual([
      'Lease/wp-r',
      'Pod/wp-r-pod',
    ])
  })

  it('leaves a run without a heartbeat alone until it is an hour old', () => {
    const young = [obj('Pod', 'y', 600), obj('PersistentVolumeClaim', 'y', 700)]
    const old = [obj('Pod', 'o', NO_HEARTBEAT_AGE_MS / 1000), obj('PersistentVolumeClaim', 'o', 10)]
    const {chosen, kept} = chooseLeftovers([...young, ...old], policy)
    expect(names(chosen)).toEqual(['PersistentVolumeClaim/wp-o-persistentvolumeclaim', 'Pod/wp-o-pod'])
    expect(kept).toEqual([
      {run: 'y', why: 'no heartbeat and started 12 min ago, so it may still be running (--all deletes it)'},
    ])
  })

  it('deletes everything with --all', () => {
    const objects = [obj('Pod', 'live', 5), lease('live', 1), obj('Secret', 'young', 5)]
    expect(names(chooseLeftovers(objects, {...policy, all: true}).chosen)).toEqual([
      'Lease/wp-live',
      'Pod/wp-live-pod',
      'Secret/wp-young-secret',
    ])
  })

  it('applies --older-than to each object, and keeps the Lease of a run it does not take whole', () => {
    const objects = [obj('Pod', 'd', 30), obj('PersistentVolumeClaim', 'd', 7200), lease('d', 300, 7200)]
    expect(names(chooseLeftovers(objects, {...policy, olderThanMs: parseAge('1h')}).chosen)).toEqual([
      'PersistentVolumeClaim/wp-d-persistentvolumeclaim',
    ])
    expect(names(chooseLeftovers(objects, {...policy, olderThanMs: parseAge('10s')}).chosen)).toEqual([
      'Lease/wp-d',
      'PersistentVolumeClaim/wp-d-persistentvolumeclaim',
      'Pod/wp-d-pod',
    ])
  })

  it('names the flag of a bad duration', () => {
    expect(() => parseAge('5', '--stale-after')).toThrow(/--stale-after 5: expected a number and a unit/)
  })
})
