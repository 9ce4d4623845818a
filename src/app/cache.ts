import type {V1PersistentVolumeClaim} from '@kubernetes/client-node'
import {contextNamespace, KubeCluster, loadKubeConfig} from '../cluster/kube.js'
import {LABELS, MANAGER} from '../compile/names.js'
import {CACHE_LAST_USED_ANNOTATION, CACHE_ROLE} from '../compile/plan.js'
import {ENV, resolveBackendConfig} from '../config.js'
import {InvalidPipelineError, UsageError} from '../errors.js'
import {formatIssueReport, issueReport} from '../render/issues.js'

// `wpk8s cache ls` and `wpk8s cache rm`: the claims runs created for `volumes` that did not exist
// (see README "Cache volumes"). They carry the cache labels and no run label, so runs and `clean`
// (without --caches) leave them alone.

/** The label selector of cache claims. */
export const CACHE_SELECTOR = `${LABELS.managedBy}=${MANAGER},${LABELS.role}=${CACHE_ROLE}`

export interface CacheEntry {
  name: string
  /** The bound volume's capacity, else the size asked for. */
  size: string
  /** The claim's phase (`Bound`, `Pending`), or `Terminating` while it is being deleted. */
  status: string
  created?: Date
  /** When a run last mounted it (its `wpk8s.dev/last-used` annotation). */
  lastUsed?: Date
}

/** The cache claims as `cache ls` shows them, by name (pure). */
export function cacheEntries(claims: V1PersistentVolumeClaim[]): CacheEntry[] {
  return claims
    .map((c): CacheEntry => {
      const lastUsed = c.metadata?.annotations?.[CACHE_LAST_USED_ANNOTATION]
      const used = lastUsed ? new Date(lastUsed) : undefined
      return {
        name: c.metadata!.name!,
        size: c.status?.capacity?.storage ?? c.spec?.resources?.requests?.storage ?? '?',
        status: c.metadata?.deletionTimestamp ? 'Terminating' : (c.status?.phase ?? 'Pending'),
        ...(c.metadata?.creationTimestamp ? {created: new Date(c.metadata.creationTimestamp)} : {}),
        ...(used && !Number.isNaN(used.getTime()) ? {lastUsed: used} : {}),
      }
    })
    .sort((a, b) => a.name.localeCompare(b.name))
}

/** `45s`, `12m`, `5h`, `3d`, as kubectl shows ages. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  if (s < 120) return `${s}s`
  if (s < 2 * 3600) return `${Math.floor(s / 60)}m`
  if (s < 2 * 86_400) return `${Math.floor(s / 3600)}h`
  return `${Math.floor(s / 86_400)}d`
}

/** The table of `cache ls` (pure): name, size, status, age, last used. */
export function formatCacheList(entries: CacheEntry[], namespace: string, now: Date): string {
  if (entries.length === 0) return `no cache volumes in namespace ${namespace}\n`
  const rows = [
    ['NAME', 'SIZE', 'STATUS', 'AGE', 'LAST USED'],
    ...entries.map((e) => [
      e.name,
      e.size,
      e.status,
      e.created ? formatAge(now.getTime() - e.created.getTime()) : '-',
      e.lastUsed ? `${formatAge(now.getTime() - e.lastUsed.getTime())} ago` : '-',
    ]),
  ]
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)))
  return (
    rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ')).join('\n') +
    '\n'
  )
}

/** `cache ls --json`: one object per cache, times as RFC 3339. */
export function cacheListJson(entries: CacheEntry[], namespace: string): string {
  return `${JSON.stringify({namespace, caches: entries.map((e) => ({name: e.name, size: e.size, status: e.status, created: e.created?.toISOString(), lastUsed: e.lastUsed?.toISOString()}))}, null, 2)}\n`
}

/**
 * Which caches `cache rm` deletes (pure): the named ones, or all with `all`. A name that is no cache
 * (someone else's claim, or nothing) is a usage error before anything is deleted.
 */
export function chooseCaches(
  entries: CacheEntry[],
  names: string[],
  all: boolean,
  otherClaims: string[],
): CacheEntry[] {
  if (all && names.length > 0) throw new UsageError('cache rm: give names or --all, not both')
  if (all) return entries
  if (names.length === 0)
    throw new UsageError('cache rm: which cache? give its name (wpk8s cache ls lists them) or --all')
  return names.map((name) => {
    const entry = entries.find((e) => e.name === name)
    if (entry) return entry
    if (otherClaims.includes(name))
      throw new UsageError(
        `cache rm ${name}: this claim is not a wpk8s cache (it lacks the ${LABELS.role}=${CACHE_ROLE} label), so it is left alone`,
        'delete it with kubectl if you mean to',
      )
    throw new UsageError(
      `cache rm ${name}: no cache volume of that name`,
      entries.length > 0 ? `caches: ${entries.map((e) => e.name).join(', ')}` : 'there are none in this namespace',
    )
  })
}

export interface CacheTarget {
  namespace: string
  context?: string
  kubeconfig?: string
  /** The kubeconfig context's namespace replaces `namespace` (the default). */
  useContextNamespace?: boolean
}

function connect(target: CacheTarget): {cluster: KubeCluster; namespace: string} {
  const kc = loadKubeConfig({context: target.context, kubeconfig: target.kubeconfig})
  const namespace = target.useContextNamespace ? (contextNamespace(kc) ?? target.namespace) : target.namespace
  return {cluster: new KubeCluster(kc), namespace}
}

/** `wpk8s cache ls`: the table, or JSON. */
export async function runCacheLs(target: CacheTarget & {json?: boolean; now?: Date}): Promise<string> {
  const {cluster, namespace} = connect(target)
  const entries = cacheEntries(await cluster.listClaims(namespace, CACHE_SELECTOR))
  return target.json ? cacheListJson(entries, namespace) : formatCacheList(entries, namespace, target.now ?? new Date())
}

/** How long `cache rm` waits for a deleted claim to go before saying a pod still uses it. */
const GONE_WAIT_MS = 3000

/** `wpk8s cache rm NAME...|--all`: deletes the caches and says which are still mounted by a pod (they go when it does). */
export async function runCacheRm(target: CacheTarget & {names: string[]; all?: boolean}): Promise<string[]> {
  const {cluster, namespace} = connect(target)
  const entries = cacheEntries(await cluster.listClaims(namespace, CACHE_SELECTOR))
  const others = target.all ? [] : (await cluster.listClaims(namespace, '')).map((c) => c.metadata!.name!)
  const chosen = chooseCaches(entries, target.names, target.all ?? false, others)
  if (chosen.length === 0) return [`no cache volumes in namespace ${namespace}`]
  await Promise.all(chosen.map((e) => cluster.deletePvc(namespace, e.name)))
  // A claim a pod still mounts stays (Terminating) until that pod is gone: Kubernetes' own protection.
  const deadline = Date.now() + GONE_WAIT_MS
  let left = chosen.map((e) => e.name)
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200))
    const present = new Set((await cluster.listClaims(namespace, CACHE_SELECTOR)).map((c) => c.metadata!.name!))
    left = left.filter((name) => present.has(name))
  }
  return chosen.map((e) =>
    left.includes(e.name)
      ? `deleting cache ${e.name}: a pod still mounts it, Kubernetes removes it once that pod is gone`
      : `deleted cache ${e.name}`,
  )
}

/** The namespace as exec resolves it (--namespace, WOODPECKER_BACKEND_K8S_NAMESPACE, default `woodpecker`), checked. */
export function cacheNamespace(flag: string | undefined): string {
  const {config, issues: all} = resolveBackendConfig({namespace: flag}, process.env)
  const issues = all.filter((i) => i.file === '--namespace' || i.file === ENV.namespace)
  if (issues.length > 0) throw new InvalidPipelineError(formatIssueReport(issueReport([], issues, false), false))
  return config.namespace
}
