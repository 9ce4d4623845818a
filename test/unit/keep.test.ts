import type {V1PersistentVolumeClaim} from '@kubernetes/client-node'
import {describe, expect, it} from 'vitest'
import {keptToDelete} from '../../src/app/clean.js'
import {age, formatRuns} from '../../src/app/runs.js'
import {resolveBackendConfig} from '../../src/config.js'
import {onExistingClaim, planRun, selectSteps} from '../../src/compile/plan.js'
import type {RunMetadata} from '../../src/pipeline/metadata.js'
import {toWorkflow} from '../../src/pipeline/normalize.js'
import {parsePipelineText} from '../../src/pipeline/parse.js'
import {
  decodeInfo,
  encodeInfo,
  findKept,
  KEPT_ANNOTATIONS,
  keepAnnotations,
  keptCheckout,
  keptMessage,
  keptRun,
  listKept,
  manifestAnnotation,
  manifestChanges,
  reuseMetadata,
} from '../../src/runner/keep.js'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {hasPathCondition, nextChanges} from '../../src/runner/watch.js'
import {join} from 'node:path'

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
const text =
  'steps:\n  build:\n    image: busybox:1.35\n    commands: [echo hi]\n    environment:\n      TOKEN: {from_secret: token}\n  test:\n    image: busybox:1.35\n    commands: [echo test]\n    depends_on: [build]\n  lint:\n    image: busybox:1.35\n    commands: [echo lint]\n    depends_on: []\n'
const workflow = toWorkflow(
  'ci',
  '/src/app/.woodpecker/ci.yml',
  parsePipelineText('ci.yml', text).data as Record<string, unknown>,
)
const plan = (existingClaim?: {claimName: string; secretName?: string}) =>
  planRun({
    workflow,
    config: resolveBackendConfig({}, {}).config,
    metadata,
    runId: 'r1',
    arch: 'amd64',
    extraEnv: {},
    secrets: {token: 'x'},
    ...(existingClaim ? {existingClaim} : {}),
  })

function claim(
  runId: string,
  annotations: Record<string, string>,
  created = '2026-01-01T00:00:00Z',
): V1PersistentVolumeClaim {
  return {
    metadata: {
      name: `wp-${runId}-workspace`,
      namespace: 'ns',
      creationTimestamp: new Date(created),
      labels: {'app.kubernetes.io/managed-by': 'wpk8s', 'wpk8s.dev/kept': runId},
      annotations,
    },
    spec: {resources: {requests: {storage: '10G'}}},
  }
}

describe('--step on a kept workspace', () => {
  it('runs just the named steps, not what they depend on (their outputs are in the workspace)', () => {
    const only = selectSteps(plan(), ['test'], {dependencies: false})
    expect(only.steps.map((s) => `${s.name}:${s.skip ?? 'run'}`)).toEqual([
      'build:not selected (--step)',
      'test:run',
      'lint:not selected (--step)',
    ])
    const withDeps = selectSteps(plan(), ['test'])
    expect(withDeps.steps.filter((s) => !s.skip).map((s) => s.name)).toEqual(['build', 'test'])
  })

  it('mounts the kept claim in every pod and the helper, and creates none', () => {
    const reused = onExistingClaim(plan(), 'wp-k0-workspace')
    expect(reused.reusedClaim).toBe(true)
    expect(reused.pvc.metadata!.name).toBe('wp-k0-workspace')
    for (const pod of [reused.helperPod, ...reused.steps.map((s) => s.pod)]) {
      expect(
        pod.spec!.volumes!.filter((v) => v.persistentVolumeClaim).map((v) => v.persistentVolumeClaim!.claimName),
      ).toEqual(['wp-k0-workspace'])
    }
  })

  it('planRun with an existing claim and Secret refers to them', () => {
    const p = plan({claimName: 'wp-k0-workspace', secretName: 'wp-k0-secrets'})
    const build = p.steps[0].pod.spec!
    expect(build.volumes!.find((v) => v.name === 'workspace')!.persistentVolumeClaim!.claimName).toBe('wp-k0-workspace')
    expect(build.containers[0].env!.find((e) => e.name === 'TOKEN')!.valueFrom!.secretKeyRef!.name).toBe(
      'wp-k0-secrets',
    )
  })
})

describe('kept workspaces', () => {
  it("remember the pipeline, the workflow, the CI_* values and each step's pod", () => {
    const annotations = keepAnnotations(plan(), workflow, metadata)
    expect(annotations[KEPT_ANNOTATIONS.pipeline]).toBe('.woodpecker/ci.yml')
    expect(annotations[KEPT_ANNOTATIONS.workflow]).toBe(workflow.title)
    const info = decodeInfo(annotations[KEPT_ANNOTATIONS.info])!
    expect(info.metadata.sha).toBe('abc')
    expect(info.secretName).toBe('wp-r1-secrets')
    expect(Object.keys(info.pods)).toEqual(['build', 'test', 'lint'])
    expect(decodeInfo('not base64 gzip')).toBeUndefined()
  })

  it('are read from their claims, the most recently used first; last and a run id find one, an unknown id says what there is', async () => {
    const info = encodeInfo({metadata, pods: {}})
    const claims = [
      claim('old', {[KEPT_ANNOTATIONS.lastUsed]: '2026-01-01T01:00:00Z', [KEPT_ANNOTATIONS.info]: info}),
      claim('new', {[KEPT_ANNOTATIONS.lastUsed]: '2026-01-02T00:00:00Z', [KEPT_ANNOTATIONS.result]: 'failure'}),
    ]
    const lister = {
      listClaims: async (_ns: string, selector: string) => (selector.includes('wpk8s.dev/kept') ? claims : []),
    }
    expect((await listKept(lister, 'ns')).map((r) => r.runId)).toEqual(['new', 'old'])
    expect((await findKept(lister, 'ns', 'last')).runId).toBe('new')
    expect((await findKept(lister, 'ns', 'old')).info?.metadata.sha).toBe('abc')
    await expect(findKept(lister, 'ns', 'nope')).rejects.toThrow(/no kept workspace nope in namespace ns/)
    await expect(findKept({listClaims: async () => []}, 'ns', 'last')).rejects.toThrow(
      /no kept workspace in namespace ns/,
    )
    expect(keptRun({metadata: {name: 'x', labels: {}}})).toBeUndefined()
  })

  it("keep the kept run's CI_* values while the checkout is on the same commit", () => {
    const kept = keptRun(
      claim('k', {[KEPT_ANNOTATIONS.info]: encodeInfo({metadata: {...metadata, started: 1}, pods: {}})}),
    )!
    expect(reuseMetadata(kept, {...metadata, started: 2}).started).toBe(1)
    expect(reuseMetadata(kept, {...metadata, sha: 'def', started: 2}).started).toBe(2)
  })

  it('are listed as a table, and clean --kept chooses by last use and run id', () => {
    const now = new Date('2026-01-02T00:00:00Z')
    const runs = [
      keptRun(
        claim('aa', {
          [KEPT_ANNOTATIONS.lastUsed]: '2026-01-01T23:59:00Z',
          [KEPT_ANNOTATIONS.pipeline]: '.woodpecker.yml',
          [KEPT_ANNOTATIONS.result]: 'success',
        }),
      )!,
      keptRun(claim('bb', {}))!,
    ]
    const table = formatRuns(runs, 'ns', now).split('\n')
    expect(table[0]).toMatch(/^RUN\s+AGE\s+LAST USED\s+SIZE\s+PIPELINE\s+WORKFLOW\s+LAST RESULT$/)
    expect(table[1]).toMatch(/^aa\s+24h\s+60s\s+10G\s+\.woodpecker\.yml\s+success$/)
    expect(formatRuns([], 'ns', now)).toMatch(/no kept workspaces/)
    expect(age(now, new Date('2025-12-20T00:00:00Z'))).toBe('13d')
    const objects = ['aa', 'bb'].flatMap((id) => [
      {
        kind: 'PersistentVolumeClaim' as const,
        namespace: 'ns',
        name: `wp-${id}-workspace`,
        labels: {'wpk8s.dev/kept': id},
      },
      {kind: 'Secret' as const, namespace: 'ns', name: `wp-${id}-secrets`, labels: {'wpk8s.dev/kept': id}},
    ])
    expect(keptToDelete(runs, objects, now, 0, []).map((o) => o.name)).toEqual([
      'wp-aa-workspace',
      'wp-aa-secrets',
      'wp-bb-workspace',
      'wp-bb-secrets',
    ])
    expect(keptToDelete(runs, objects, now, 3_600_000, []).map((o) => o.name)).toEqual([
      'wp-bb-workspace',
      'wp-bb-secrets',
    ])
    expect(keptToDelete(runs, objects, now, 0, ['aa']).map((o) => o.name)).toEqual(['wp-aa-workspace', 'wp-aa-secrets'])
    expect(() => keptToDelete(runs, objects, now, 0, ['zz'])).toThrow(/--run zz: no such kept workspace/)
    expect(keptMessage('aa', 'woodpecker', false)).toContain('wpk8s exec --reuse aa [--step NAME]')
  })
})

describe('incremental shipping onto a kept workspace', () => {
  it('ships what is new or changed (with the folders above it) and deletes what is gone, deepest first', () => {
    const entry = (name: string, type: 'file' | 'directory' = 'file') => ({
      name,
      type,
      mode: 0o644,
      size: 1,
      mtime: new Date(0),
    })
    const entries = [
      entry('a.txt'),
      entry('src', 'directory'),
      entry('src/lib', 'directory'),
      entry('src/lib/new.ts'),
      entry('same.txt'),
    ]
    const now = {
      'a.txt': 'f:644:1:new',
      src: 'd',
      'src/lib': 'd',
      'src/lib/new.ts': 'f:644:1:x',
      'same.txt': 'f:644:1:s',
    }
    const before = {'a.txt': 'f:644:1:old', src: 'd', 'same.txt': 'f:644:1:s', old: 'd', 'old/x.txt': 'f:644:1:y'}
    const changes = manifestChanges(entries, now, before)
    expect(changes.entries.map((e) => e.name)).toEqual(['a.txt', 'src', 'src/lib', 'src/lib/new.ts'])
    expect(changes.deleted).toEqual(['old/x.txt', 'old'])
  })

  it('lists the whole checkout with a manifest for --keep, only the changes for --reuse', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wpk8s-keep-'))
    writeFileSync(join(dir, 'a.txt'), 'one')
    mkdirSync(join(dir, 'sub'))
    writeFileSync(join(dir, 'sub', 'b.txt'), 'two')
    const first = await keptCheckout(dir)
    expect(first.entries).toBeGreaterThanOrEqual(2)
    expect(first.manifest!['a.txt']).toMatch(/^f:644:3:[0-9a-f]{16}$/)
    writeFileSync(join(dir, 'a.txt'), 'ONE')
    rmSync(join(dir, 'sub', 'b.txt'))
    const second = await keptCheckout(dir, first.manifest)
    expect(second.entries).toBe(1)
    expect(second.deleted).toEqual(['sub/b.txt'])
    const third = await keptCheckout(dir, second.manifest)
    expect(third.entries).toBe(0)
    expect(third.deleted).toEqual([])
    expect(Object.keys(manifestAnnotation(first.manifest))).toEqual([KEPT_ANNOTATIONS.manifest])
    rmSync(dir, {recursive: true, force: true})
  })
})

describe('exec --watch', () => {
  it('knows the steps with a when.path condition', () => {
    expect(hasPathCondition({path: 'src/**'})).toBe(true)
    expect(hasPathCondition([{event: 'push'}, {path: {include: ['a']}}])).toBe(true)
    expect(hasPathCondition({event: 'push'})).toBe(false)
    expect(hasPathCondition(undefined)).toBe(false)
  })

  it('gathers changes until they settle, leaves .git out, and stops when asked', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wpk8s-watch-'))
    mkdirSync(join(dir, '.git'))
    const changes = nextChanges(dir, new Promise(() => {}), 100)
    setTimeout(() => writeFileSync(join(dir, '.git', 'index'), 'x'), 20)
    setTimeout(() => writeFileSync(join(dir, 'a.txt'), 'x'), 40)
    setTimeout(() => writeFileSync(join(dir, 'b.txt'), 'x'), 80)
    expect([...(await changes)!].sort()).toEqual(['a.txt', 'b.txt'])
    expect(await nextChanges(dir, Promise.resolve())).toBeUndefined()
    rmSync(dir, {recursive: true, force: true})
  })
})
