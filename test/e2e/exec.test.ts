import {execFileSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {
  core,
  createNamespace,
  deleteNamespace,
  events,
  KUBECONFIG,
  leftovers,
  ROOT,
  uniqueName,
  waitFor,
  wpk8s,
} from './kube.js'
import {requireCluster} from './setup.js'

requireCluster()
const ns = uniqueName('e2e-exec')
const base = ['--namespace', ns, '--no-storage-rwx']

beforeAll(() => createNamespace(ns))
afterAll(() => deleteNamespace(ns))

/** A git checkout with a tracked, an untracked and an ignored file, and the given pipeline. */
function checkout(pipeline: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'wpk8s-e2e-'))
  writeFileSync(join(dir, '.woodpecker.yml'), pipeline)
  writeFileSync(join(dir, 'tracked.txt'), 'tracked content\n')
  writeFileSync(join(dir, '.gitignore'), 'ignored.txt\n')
  const git = (...args: string[]) => execFileSync('git', args, {cwd: dir, stdio: 'ignore'})
  git('init', '-q', '-b', 'feature/e2e')
  git('add', '.')
  git('-c', 'user.name=E2E Tester', '-c', 'user.email=e2e@example.com', 'commit', '-qm', 'first commit')
  writeFileSync(join(dir, 'untracked.txt'), 'untracked content\n')
  writeFileSync(join(dir, 'ignored.txt'), 'must not ship\n')
  return dir
}

function stepEnds(run: {stdout: string}) {
  return events(run as never)
    .filter((e) => e.type === 'step-end')
    .map((e) => ({step: e.step, status: e.status, exitCode: e.exitCode}))
}

describe('wpk8s exec', () => {
  it('ships the checkout, shares files between steps, sets CI_* from git, and leaves nothing behind', async () => {
    const dir = checkout(`steps:
  first:
    image: busybox:1.35
    commands:
      - cat tracked.txt untracked.txt
      - test ! -e ignored.txt
      - echo "$CI_COMMIT_BRANCH|$CI_COMMIT_AUTHOR|$CI_COMMIT_MESSAGE|$CI_PIPELINE_EVENT|$CI_WORKSPACE|$(pwd)"
      - echo from-first > handoff.txt
  second:
    image: busybox:1.35
    commands:
      - cat handoff.txt
`)
    const run = await wpk8s(['exec', '--json', ...base], {cwd: dir})
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    const logs = events(run)
      .filter((e) => e.type === 'log')
      .map((e) => `${e.step}: ${e.line}`)
    expect(logs).toEqual([
      'first: + cat tracked.txt untracked.txt',
      'first: tracked content',
      'first: untracked content',
      'first: + test ! -e ignored.txt',
      'first: + echo "$CI_COMMIT_BRANCH|$CI_COMMIT_AUTHOR|$CI_COMMIT_MESSAGE|$CI_PIPELINE_EVENT|$CI_WORKSPACE|$(pwd)"',
      'first: feature/e2e|E2E Tester|first commit|push|/woodpecker/src|/woodpecker/src',
      'first: + echo from-first > handoff.txt',
      'second: + cat handoff.txt',
      'second: from-first',
    ])
    expect(stepEnds(run)).toEqual([
      {step: 'first', status: 'success', exitCode: 0},
      {step: 'second', status: 'success', exitCode: 0},
    ])
    expect(events(run).find((e) => e.type === 'phase' && e.phase === 'ship' && e.status === 'done')?.detail).toMatch(
      /, through the pod proxy$/,
    )
    expect(await leftovers(ns)).toEqual([])
  })

  it('ships through exec when the helper image has no httpd', async () => {
    const dir = checkout('steps:\n  s:\n    image: busybox:1.35\n    commands: [cat tracked.txt]\n')
    const started = Date.now()
    const run = await wpk8s(['exec', '--json', ...base, '--helper-image', 'debian:bookworm-slim'], {cwd: dir})
    expect(run.code).toBe(0)
    const ship = events(run).filter((e) => e.type === 'phase' && e.phase === 'ship')
    expect(ship.at(-1)?.detail).toMatch(/, through exec$/)
    // The helper's log says it does not serve: no waiting for the 10 s serve timeout.
    expect(Date.parse(ship.at(-1)!.time) - Date.parse(ship[0].time)).toBeLessThan(5000)
    expect(
      events(run)
        .filter((e) => e.type === 'log')
        .map((e) => e.line),
    ).toContain('tracked content')
    expect(Date.now() - started).toBeLessThan(60_000)
    expect(await leftovers(ns)).toEqual([])
  })

  it('ships a large checkout intact (2,000 files, 20 MB)', async () => {
    const dir = checkout(
      'steps:\n  count:\n    image: busybox:1.35\n    commands: [find big -type f | wc -l, cat big/*/* | md5sum]\n',
    )
    const hash = createHash('md5')
    for (let i = 0; i < 2000; i++) {
      const content = Buffer.alloc(10_000, i % 251)
      mkdirSync(join(dir, 'big', `d${i % 20}`), {recursive: true})
      writeFileSync(join(dir, 'big', `d${i % 20}`, `f${i}`), content)
    }
    // In the order the step's shell glob lists them: names sorted bytewise.
    for (const d of readdirSync(join(dir, 'big')).sort())
      for (const f of readdirSync(join(dir, 'big', d)).sort()) hash.update(readFileSync(join(dir, 'big', d, f)))
    const run = await wpk8s(['exec', '--json', ...base], {cwd: dir})
    expect(run.code).toBe(0)
    const lines = events(run)
      .filter((e) => e.type === 'log' && !e.line.startsWith('+'))
      .map((e) => e.line.trim())
    expect(lines).toEqual(['2000', `${hash.digest('hex')}  -`])
  })

  it('stops at a failing step, reports its exit code, skips the rest and exits 1', async () => {
    const dir = checkout(`steps:
  ok:
    image: busybox:1.35
    commands: [echo fine]
  broken:
    image: busybox:1.35
    commands:
      - echo before
      - exit 42
      - echo never
  after:
    image: busybox:1.35
    commands: [echo should not run]
`)
    const run = await wpk8s(['exec', '--json', ...base], {cwd: dir})
    expect(run.code).toBe(1)
    expect(stepEnds(run)).toEqual([
      {step: 'ok', status: 'success', exitCode: 0},
      {step: 'broken', status: 'failure', exitCode: 42},
      {step: 'after', status: 'skipped', exitCode: undefined},
    ])
    expect(
      events(run)
        .filter((e) => e.step === 'broken' && e.type === 'log')
        .map((e) => e.line),
    ).toEqual(['+ echo before', 'before', '+ exit 42'])
    expect(await leftovers(ns)).toEqual([])
  })

  it('continues past a failure: ignore step and succeeds', async () => {
    const dir = checkout(
      'steps:\n  flaky:\n    image: busybox:1.35\n    failure: ignore\n    commands: [exit 3]\n  next:\n    image: busybox:1.35\n    commands: [echo ran]\n',
    )
    const run = await wpk8s(['exec', '--json', ...base], {cwd: dir})
    expect(stepEnds(run)).toEqual([
      {step: 'flaky', status: 'failure', exitCode: 3},
      {step: 'next', status: 'success', exitCode: 0},
    ])
    expect(run.code).toBe(0)
  })

  it('fails fast with exit 3 on an image that cannot be pulled, and cleans up', async () => {
    const dir = checkout('steps:\n  pull:\n    image: registry.invalid/nothing/here:1.0\n    commands: [echo hi]\n')
    const started = Date.now()
    const run = await wpk8s(['exec', ...base], {cwd: dir})
    expect(run.code).toBe(3)
    expect(run.stdout).toMatch(/cannot start: (ErrImagePull|ImagePullBackOff)/)
    expect(Date.now() - started).toBeLessThan(30_000)
    expect(await leftovers(ns)).toEqual([])
  })

  it('runs the seed example shape: resources, a service account, a node selector, platform from labels', async () => {
    await core().createNamespacedServiceAccount({namespace: ns, body: {metadata: {name: 'builder'}}})
    const arch = (await core().listNode()).items[0].metadata!.labels!['kubernetes.io/arch']
    const dir = checkout(`labels:
  platform: linux/${arch}
steps:
  build:
    image: busybox:1.35
    commands:
      - echo "namespace=$(cat /var/run/secrets/kubernetes.io/serviceaccount/namespace)"
    backend_options:
      kubernetes:
        serviceAccountName: builder
        resources:
          requests: {memory: 32Mi, cpu: 100m}
          limits: {memory: 64Mi, cpu: 500m}
        nodeSelector:
          kubernetes.io/os: linux
`)
    const run = wpk8s(['exec', '--json', ...base, '--allow-from-step', 'serviceAccountName,nodeSelector'], {cwd: dir})
    const pod = await waitFor(
      'the build pod',
      async () => (await core().listNamespacedPod({namespace: ns, labelSelector: 'wpk8s.dev/step=build'})).items[0],
    )
    expect(pod.spec!.serviceAccountName).toBe('builder')
    expect(pod.spec!.nodeSelector).toEqual({'kubernetes.io/arch': arch, 'kubernetes.io/os': 'linux'})
    expect(pod.spec!.containers[0].resources).toEqual({
      requests: {memory: '32Mi', cpu: '100m'},
      limits: {memory: '64Mi', cpu: '500m'},
    })
    const result = await run
    expect(result.code).toBe(0)
    expect(
      events(result)
        .filter((e) => e.type === 'log')
        .map((e) => e.line),
    ).toContain(`namespace=${ns}`)
  })

  it('sizes, classes and access-modes the workspace from flags and from WOODPECKER_BACKEND_K8S_*; labels and annotates pods', async () => {
    const dir = checkout('steps:\n  wait:\n    image: busybox:1.35\n    commands: [sleep 2]\n')
    const claimOf = async (run: Promise<unknown>) => {
      const pvc = await waitFor(
        'the workspace claim',
        async () => (await core().listNamespacedPersistentVolumeClaim({namespace: ns})).items[0],
      )
      const pod = await waitFor(
        'a step pod',
        async () => (await core().listNamespacedPod({namespace: ns, labelSelector: 'wpk8s.dev/step=wait'})).items[0],
      )
      await run
      return {pvc, pod}
    }
    const fromFlags = await claimOf(
      wpk8s(
        [
          'exec',
          '--namespace',
          ns,
          '--volume-size',
          '1Gi',
          '--storage-class',
          'shared-rwx',
          '--storage-rwx',
          '--pod-labels',
          '{team: platform}',
          '--pod-annotations',
          '{note: from-flag}',
        ],
        {cwd: dir},
      ),
    )
    expect(fromFlags.pvc.spec).toMatchObject({
      accessModes: ['ReadWriteMany'],
      storageClassName: 'shared-rwx',
      resources: {requests: {storage: '1Gi'}},
    })
    expect(fromFlags.pod.metadata!.labels).toMatchObject({team: 'platform'})
    expect(fromFlags.pod.metadata!.annotations).toMatchObject({note: 'from-flag'})
    const fromEnv = await claimOf(
      wpk8s(['exec', '--namespace', ns], {
        cwd: dir,
        env: {
          WOODPECKER_BACKEND_K8S_VOLUME_SIZE: '2Gi',
          WOODPECKER_BACKEND_K8S_STORAGE_RWX: 'false',
          WOODPECKER_BACKEND_K8S_STORAGE_CLASS: 'local-path',
          WOODPECKER_BACKEND_K8S_POD_LABELS: '{"tier": "ci"}',
          WOODPECKER_BACKEND_K8S_POD_ANNOTATIONS: 'owner: env',
        },
      }),
    )
    expect(fromEnv.pvc.spec).toMatchObject({
      accessModes: ['ReadWriteOnce'],
      storageClassName: 'local-path',
      resources: {requests: {storage: '2Gi'}},
    })
    expect(fromEnv.pod.metadata!.labels).toMatchObject({tier: 'ci'})
    expect(fromEnv.pod.metadata!.annotations).toMatchObject({owner: 'env'})
    expect(await leftovers(ns)).toEqual([])
  })

  it('fails fast, with the hint, when the default class refuses the ReadWriteMany workspace', async () => {
    const dir = checkout('steps:\n  a:\n    image: busybox:1.35\n    commands: [true]\n')
    const started = Date.now()
    const run = await wpk8s(['exec', '--namespace', ns], {cwd: dir})
    expect(run.code).toBe(3)
    expect(Date.now() - started).toBeLessThan(30_000)
    expect(run.stdout).toMatch(/cannot be provisioned: .*ReadWriteMany/)
    expect(run.stdout).toMatch(/--no-storage-rwx/)
    expect(await leftovers(ns)).toEqual([])
  })

  it('schedules by platform: --platform overrides, and a platform no node has fails fast as unschedulable', async () => {
    const dir = checkout('steps:\n  a:\n    image: busybox:1.35\n    commands: [true]\n')
    const other =
      (await core().listNode()).items[0].metadata!.labels!['kubernetes.io/arch'] === 'arm64' ? 'amd64' : 'arm64'
    const started = Date.now()
    const run = await wpk8s(['exec', ...base, '--platform', `linux/${other}`], {cwd: dir})
    expect(run.code).toBe(3)
    expect(Date.now() - started).toBeLessThan(30_000)
    expect(run.stdout).toMatch(/Unschedulable/)
    expect(await leftovers(ns)).toEqual([])
  })

  it('shows listr2 progress on a terminal, with every log line and a summary', async () => {
    const command = `stty cols 120 rows 40; ${process.execPath} bin/run.js exec examples/hello.yml ${base.join(' ')}`
    const {CI: _ci, ...outsideCi} = process.env
    const env = {...outsideCi, KUBECONFIG, COLUMNS: '120', TERM: 'xterm'}
    const screen = execFileSync('script', ['-qec', command, '/dev/null'], {cwd: ROOT, env, encoding: 'utf8'}).replace(
      /\x1b\[[0-9;?]*[A-Za-z]/g,
      '',
    )
    expect(screen).toMatch(/✔ greet\s+success, exit 0, [\d.]+s/)
    expect(screen).toMatch(/✔ check\s+success, exit 0, [\d.]+s/)
    for (const line of ['[greet] hello from greet on', '[greet] examples', '[check] + test -s greeting.txt', 'Summary'])
      expect(screen).toContain(line)
    // The listr2 view, not the plain one: its workspace task, and no plain "started (pod ...)" lines.
    expect(screen).toContain('✔ workspace ready')
    expect(screen).not.toContain('started (pod')
    expect(await leftovers(ns)).toEqual([])
  })

  it('runs examples/hello.yml as it is', async () => {
    const run = await wpk8s(['exec', 'examples/hello.yml', '--json', ...base])
    expect(run.code).toBe(0)
    expect(stepEnds(run)).toEqual([
      {step: 'greet', status: 'success', exitCode: 0},
      {step: 'check', status: 'success', exitCode: 0},
    ])
    expect(await leftovers(ns)).toEqual([])
  })

  it('prints with --dry-run manifests that work when applied by hand, and creates nothing itself', async () => {
    const dir = checkout('steps:\n  hello:\n    image: busybox:1.35\n    commands: [echo applied by hand, pwd]\n')
    const run = await wpk8s(['exec', '--dry-run', ...base], {cwd: dir})
    expect(run.code).toBe(0)
    expect(await leftovers(ns)).toEqual([])
    expect(run.stdout).toMatch(/^apiVersion: v1\nkind: PersistentVolumeClaim/)
    execFileSync('kubectl', ['apply', '-f', '-'], {input: run.stdout, env: {...process.env, KUBECONFIG}})
    const pod = await waitFor(
      'the applied pod to finish',
      async () => {
        const p = (await core().listNamespacedPod({namespace: ns, labelSelector: 'wpk8s.dev/step=hello'})).items[0]
        return p?.status?.phase === 'Succeeded' ? p : undefined
      },
      60_000,
    )
    // The first lines (one per stream) and the last are the end marks wpk8s reads (and hides) when it runs the step itself.
    expect(await core().readNamespacedPodLog({namespace: ns, name: pod.metadata!.name!})).toMatch(
      /^(::wpk8s-end-[a-z0-9]+::[0-9a-f-]{36}\n){2}\+ echo applied by hand\napplied by hand\n\+ pwd\n\/woodpecker\/src\n::wpk8s-end-[a-z0-9]+::[0-9a-f-]{36}:0\n$/,
    )
    const json = await wpk8s(['exec', '--dry-run', '--output', 'json', ...base], {cwd: dir})
    expect(JSON.parse(json.stdout).items.map((o: {kind: string}) => o.kind)).toEqual(['PersistentVolumeClaim', 'Pod'])
    execFileSync('kubectl', ['delete', 'pod,pvc', '-l', 'app.kubernetes.io/managed-by=wpk8s', '-n', ns, '--wait'], {
      env: {...process.env, KUBECONFIG},
      stdio: 'ignore',
    })
  })

  it('refuses an invalid pipeline with exit 2 before creating anything', async () => {
    const dir = checkout(
      'steps:\n  a:\n    image: busybox:1.35\n    backend_options:\n      kubernetes:\n        resources: {limits: {memory: 12x}}\n',
    )
    const run = await wpk8s(['exec', ...base], {cwd: dir})
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/\.woodpecker\.yml:6:38 .*memory: not a Kubernetes quantity/)
    expect(await leftovers(ns)).toEqual([])
  })
})
