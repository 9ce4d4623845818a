import type {V1PersistentVolumeClaim} from '@kubernetes/client-node'
import {describe, expect, it} from 'vitest'
import {cacheEntries, chooseCaches, formatAge, formatCacheList} from '../../src/app/cache.js'
import {staleCaches} from '../../src/app/clean.js'
import {resolveBackendConfig} from '../../src/config.js'
import {cacheClaim, planRun, selectSteps} from '../../src/compile/plan.js'
import {externalReferences, neededCaches} from '../../src/compile/references.js'
import {UsageError} from '../../src/errors.js'
import type {RunMetadata} from '../../src/pipeline/metadata.js'
import {toWorkflow} from '../../src/pipeline/normalize.js'
import {parsePipelineText} from '../../src/pipeline/parse.js'

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

function plan(text: string, env: NodeJS.ProcessEnv = {}) {
  const workflow = toWorkflow('ci', 'p.yml', parsePipelineText('p.yml', text).data as Record<string, unknown>)
  return planRun({
    workflow,
    config: resolveBackendConfig({}, env).config,
    metadata,
    runId: 'r1',
    arch: 'amd64',
    extraEnv: {},
  })
}

const PIPELINE = `services:
  db:
    image: postgres
    volumes: ["pgdata:/var/lib/postgresql/data"]
steps:
  build:
    image: golang
    volumes: ["gocache:/root/.cache/go-build", "gomod:/go/pkg/mod"]
    commands: [go build]
    depends_on: []
  test:
    image: golang
    volumes: ["gocache:/root/.cache/go-build"]
    commands: [go test]
    depends_on: []
  release:
    image: golang
    volumes: ["dist:/dist"]
    when: {event: tag}
    commands: [make dist]
`

describe('cache claims', () => {
  it("are labelled as wpk8s caches, without a run label, with the workspace's class and access mode", () => {
    const config = resolveBackendConfig(
      {},
      {WOODPECKER_BACKEND_K8S_STORAGE_CLASS: 'fast', WOODPECKER_BACKEND_K8S_NAMESPACE: 'ci'},
    ).config
    expect(cacheClaim('gocache', config)).toEqual({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {
        name: 'gocache',
        namespace: 'ci',
        labels: {'app.kubernetes.io/managed-by': 'wpk8s', 'wpk8s.dev/role': 'cache'},
      },
      spec: {accessModes: ['ReadWriteMany'], resources: {requests: {storage: '1Gi'}}, storageClassName: 'fast'},
    })
    const rwo = resolveBackendConfig({}, {WOODPECKER_BACKEND_K8S_STORAGE_RWX: 'false'}).config
    expect(cacheClaim('gocache', rwo, '5Gi').spec).toEqual({
      accessModes: ['ReadWriteOnce'],
      resources: {requests: {storage: '5Gi'}},
    })
  })

  it('are planned once per claim named by any step or service, and the pods mount them by name', () => {
    const p = plan(PIPELINE, {WOODPECKER_BACKEND_K8S_STORAGE_RWX: 'false'})
    expect(p.caches!.map((c) => c.metadata!.name)).toEqual(['pgdata', 'gocache', 'gomod', 'dist'])
    expect(
      p.caches!.every(
        (c) => c.spec!.accessModes![0] === 'ReadWriteOnce' && c.metadata!.labels!['wpk8s.dev/run'] === undefined,
      ),
    ).toBe(true)
    expect(
      p.steps[0].pod
        .spec!.volumes!.filter((v) => v.persistentVolumeClaim)
        .map((v) => v.persistentVolumeClaim!.claimName),
    ).toEqual(['wp-r1-workspace', 'gocache', 'gomod'])
  })

  it('are created only for the steps that may run, and are no missing references', () => {
    const p = plan(PIPELINE)
    // `release` runs only on tags: its cache is not made on a push.
    expect(neededCaches(p).map((c) => c.metadata!.name)).toEqual(['pgdata', 'gocache', 'gomod'])
    // --step test: the steps not selected make no cache either.
    expect(neededCaches(selectSteps(p, ['test'])).map((c) => c.metadata!.name)).toEqual(['pgdata', 'gocache'])
    expect(externalReferences(p)).toEqual([])
    // A plan without caches (an older one) still checks the claims it mounts.
    expect(externalReferences({...p, caches: undefined}).map((r) => `${r.kind}/${r.name}`)).toEqual([
      'PersistentVolumeClaim/pgdata',
      'PersistentVolumeClaim/gocache',
      'PersistentVolumeClaim/gomod',
    ])
  })
})

function claim(
  name: string,
  extra: {created?: string; lastUsed?: string; phase?: string; capacity?: string; deleting?: boolean} = {},
): V1PersistentVolumeClaim {
  return {
    metadata: {
      name,
      namespace: 'ci',
      labels: {'app.kubernetes.io/managed-by': 'wpk8s', 'wpk8s.dev/role': 'cache'},
      ...(extra.created ? {creationTimestamp: new Date(extra.created)} : {}),
      ...(extra.lastUsed ? {annotations: {'wpk8s.dev/last-used': extra.lastUsed}} : {}),
      ...(extra.deleting ? {deletionTimestamp: new Date(extra.created ?? 0)} : {}),
    },
    spec: {resources: {requests: {storage: '1Gi'}}},
    status: {
      ...(extra.phase ? {phase: extra.phase} : {}),
      ...(extra.capacity ? {capacity: {storage: extra.capacity}} : {}),
    },
  }
}

describe('wpk8s cache ls', () => {
  const now = new Date('2026-12-01T12:00:00Z')
  const claims = [
    claim('gomod', {
      created: '2026-11-28T12:00:00Z',
      lastUsed: '2026-12-01T11:58:30Z',
      phase: 'Bound',
      capacity: '2Gi',
    }),
    claim('gocache', {created: '2026-12-01T11:59:15Z', phase: 'Pending'}),
    claim('old', {created: '2026-11-01T00:00:00Z', lastUsed: 'not a time', phase: 'Bound', deleting: true}),
  ]

  it("shows name, size (the volume's when bound), status, age and last use, by name", () => {
    expect(formatCacheList(cacheEntries(claims), 'ci', now)).toBe(
      [
        'NAME     SIZE  STATUS       AGE  LAST USED',
        'gocache  1Gi   Pending      45s  -',
        'gomod    2Gi   Bound        3d   90s ago',
        'old      1Gi   Terminating  30d  -',
        '',
      ].join('\n'),
    )
    expect(formatCacheList([], 'ci', now)).toBe('no cache volumes in namespace ci\n')
  })

  it('writes ages as kubectl does', () => {
    expect([0, 59_000, 119_000, 120_000, 7_199_000, 7_200_000, 172_799_000, 172_800_000].map(formatAge)).toEqual([
      '0s',
      '59s',
      '119s',
      '2m',
      '119m',
      '2h',
      '47h',
      '2d',
    ])
  })
})

describe('wpk8s cache rm', () => {
  const entries = cacheEntries([claim('a'), claim('b')])

  it('takes the named caches, or all of them', () => {
    expect(chooseCaches(entries, ['b'], false, []).map((e) => e.name)).toEqual(['b'])
    expect(chooseCaches(entries, [], true, []).map((e) => e.name)).toEqual(['a', 'b'])
  })

  it("never deletes someone else's claim, and refuses unknown names before deleting anything", () => {
    expect(() => chooseCaches(entries, ['a', 'data'], false, ['data'])).toThrow(
      /cache rm data: this claim is not a wpk8s cache/,
    )
    expect(() => chooseCaches(entries, ['a', 'nope'], false, [])).toThrow(/cache rm nope: no cache volume of that name/)
    expect(() => chooseCaches(entries, [], false, [])).toThrow(UsageError)
    expect(() => chooseCaches(entries, ['a'], true, [])).toThrow(/names or --all, not both/)
  })
})

describe('wpk8s clean --caches', () => {
  const now = new Date('2026-12-01T12:00:00Z')
  const claims = [
    claim('recent', {created: '2026-11-01T00:00:00Z', lastUsed: '2026-12-01T11:00:00Z'}),
    claim('stale', {created: '2026-11-01T00:00:00Z', lastUsed: '2026-11-20T00:00:00Z'}),
    claim('never-used', {created: '2026-11-30T00:00:00Z'}),
  ]

  it('takes every cache, or with --older-than those no run mounted for that long (else since their creation)', () => {
    expect(staleCaches(claims, now, 0).map((o) => o.name)).toEqual(['recent', 'stale', 'never-used'])
    expect(staleCaches(claims, now, 2 * 3_600_000).map((o) => o.name)).toEqual(['stale', 'never-used'])
    expect(staleCaches(claims, now, 7 * 86_400_000).map((o) => `${o.kind}/${o.name}`)).toEqual([
      'PersistentVolumeClaim/stale',
    ])
  })
})
