import type {V1PersistentVolumeClaim} from '@kubernetes/client-node'
import {contextNamespace, KubeCluster, loadKubeConfig} from '../cluster/kube.js'
import type {RunObject} from '../cluster/cluster.js'
import {LABELS, MANAGER} from '../compile/names.js'
import {CACHE_LAST_USED_ANNOTATION, CACHE_ROLE} from '../compile/plan.js'
import {HEARTBEAT_SECONDS} from '../runner/heartbeat.js'
import {UsageError} from '../errors.js'
import {KEPT_LABEL, KEPT_SELECTOR, listKept} from '../runner/keep.js'

export interface CleanInput {
  namespace: string
  olderThan?: string
  /** A heartbeat older than this is stale (default: the Lease's own duration, 60 s). */
  staleAfter?: string
  /** Delete runs that are alive too. */
  all?: boolean
  /** Delete cache volumes too (with `olderThan`: those no run mounted for that long). */
  caches?: boolean
  /** Delete kept workspaces (`exec --keep`) too: with `olderThan`, those no run used for that long; with `runs`, only those. */
  kept?: boolean
  /** With `kept`: only the kept workspaces of these runs. */
  runs?: string[]
  dryRun: boolean
  context?: string
  kubeconfig?: string
  /** --use-context-namespace without --namespace or its variable: the kubeconfig context's namespace replaces `namespace` (the default). */
  useContextNamespace?: boolean
  now?: Date
}

/** `30s`, `15m`, `2h`, `1d` in milliseconds. */
export function parseAge(text: string, flag = '--older-than'): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(text)
  if (!m) throw new UsageError(`${flag} ${text}: expected a number and a unit, such as 30m, 2h or 1d`)
  return Number(m[1]) * {s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000}[m[2] as 's' | 'm' | 'h' | 'd']
}

/**
 * A run without a heartbeat Lease (from a wpk8s before heartbeats, or run by a user whose Role lacks
 * Leases) may still be running until its first object is this old; only then is it left behind.
 */
export const NO_HEARTBEAT_AGE_MS = 60 * 60_000

export interface CleanPolicy {
  now: Date
  /** Only objects at least this old (--older-than). */
  olderThanMs: number
  /** A heartbeat renewed longer ago than this is stale (--stale-after); default: the Lease's own duration. */
  staleAfterMs?: number
  /** Runs that are alive too (--all). */
  all: boolean
}

/**
 * What `clean` deletes: the objects of runs that are over, by run (their `wpk8s.dev/run` label). A run
 * whose heartbeat Lease was renewed within its duration (or `staleAfterMs`) is alive and left alone,
 * as is one without a heartbeat that is younger than NO_HEARTBEAT_AGE_MS; `all` takes them too. A
 * run's Lease goes only with all its other objects, and after them (see runClean).
 */
export function chooseLeftovers(
  objects: RunObject[],
  policy: CleanPolicy,
): {chosen: RunObject[]; kept: {run: string; why: string}[]} {
  const now = policy.now.getTime()
  const byRun = new Map<string, RunObject[]>()
  for (const o of objects) {
    const run = o.labels?.[LABELS.run] ?? ''
    byRun.set(run, [...(byRun.get(run) ?? []), o])
  }
  const chosen: RunObject[] = []
  const kept: {run: string; why: string}[] = []
  for (const [run, group] of byRun) {
    const why = policy.all ? undefined : aliveBecause(group, policy)
    if (why) {
      kept.push({run, why})
      continue
    }
    const others = group.filter((o) => o.kind !== 'Lease')
    const old = others.filter((o) => !o.created || now - o.created.getTime() >= policy.olderThanMs)
    chosen.push(...old, ...(old.length === others.length ? group.filter((o) => o.kind === 'Lease') : []))
  }
  return {chosen, kept}
}

/** Why a run may still be running, if it may. */
function aliveBecause(group: RunObject[], policy: CleanPolicy): string | undefined {
  const now = policy.now.getTime()
  const leases = group.filter((o) => o.kind === 'Lease')
  if (leases.length > 0) {
    const beats = leases.map((l) => ({lease: l, at: (l.renewed ?? l.created)?.getTime() ?? 0}))
    const last = beats.reduce((a, b) => (b.at > a.at ? b : a))
    const staleAfter = policy.staleAfterMs ?? (last.lease.durationSeconds ?? HEARTBEAT_SECONDS) * 1000
    if (now - last.at >= staleAfter) return undefined
    return `alive: heartbeat ${ago(now - last.at)} ago${last.lease.holder ? ` from ${last.lease.holder}` : ''}`
  }
  const first = Math.min(...group.map((o) => o.created?.getTime() ?? 0))
  if (now - first >= NO_HEARTBEAT_AGE_MS) return undefined
  return `no heartbeat and started ${ago(now - first)} ago, so it may still be running (--all deletes it)`
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  return s < 120 ? `${s} s` : `${Math.round(s / 60)} min`
}

/** `wpk8s clean`: lists, and unless dry-run deletes, what earlier runs left behind. Returns the lines to print. */
export async function runClean(input: CleanInput): Promise<string[]> {
  const age = input.olderThan ? parseAge(input.olderThan) : 0
  const staleAfterMs = input.staleAfter ? parseAge(input.staleAfter, '--stale-after') : undefined
  const kc = loadKubeConfig({context: input.context, kubeconfig: input.kubeconfig})
  if (input.useContextNamespace) input = {...input, namespace: contextNamespace(kc) ?? input.namespace}
  const cluster = new KubeCluster(kc)
  // Cache volumes belong to no run, kept workspaces left theirs: they are left alone unless --caches or --kept asks for them (below).
  const objects = (
    await cluster.listRunObjects(input.namespace, `${LABELS.managedBy}=${MANAGER}`, {heartbeats: true})
  ).filter((o) => o.labels?.[LABELS.role] !== CACHE_ROLE && o.labels?.[KEPT_LABEL] === undefined)
  const leftovers = chooseLeftovers(objects, {
    now: input.now ?? new Date(),
    olderThanMs: age,
    staleAfterMs,
    all: input.all ?? false,
  })
  const kept = leftovers.kept
  const keptObjects = input.kept
    ? keptToDelete(
        await listKept(cluster, input.namespace),
        await cluster.listRunObjects(input.namespace, KEPT_SELECTOR),
        input.now ?? new Date(),
        age,
        input.runs ?? [],
      )
    : []
  const chosen = [
    ...leftovers.chosen,
    ...keptObjects,
    ...(input.caches
      ? staleCaches(
          await cluster.listClaims(input.namespace, `${LABELS.managedBy}=${MANAGER},${LABELS.role}=${CACHE_ROLE}`),
          input.now ?? new Date(),
          age,
        )
      : []),
  ]
  const alive = kept.map((k) => `left alone: run ${k.run || '(no run label)'}, ${k.why}`)
  if (chosen.length === 0)
    return [
      ...alive,
      `nothing left behind in namespace ${input.namespace}${kept.length > 0 ? ` (${kept.length} run(s) in progress left alone)` : ''}`,
    ]
  const lines = chosen.map(
    (o) =>
      `${input.dryRun ? 'would delete' : 'deleted'} ${o.kind}/${o.name}${o.created ? ` (created ${o.created.toISOString()})` : ''}`,
  )
  if (!input.dryRun) {
    // Heartbeats last: if a deletion fails, the run keeps its stale heartbeat and the next clean finds it again.
    await Promise.all(chosen.filter((o) => o.kind !== 'Lease').map((o) => cluster.deleteObject(o)))
    await Promise.all(chosen.filter((o) => o.kind === 'Lease').map((o) => cluster.deleteObject(o)))
  }
  return [
    ...alive,
    ...lines,
    `${chosen.length} object(s) ${input.dryRun ? 'would be deleted' : 'deleted'} in namespace ${input.namespace}`,
  ]
}

/**
 * `clean --kept`: the claims and Secrets of the kept workspaces no run used for `olderThanMs` (their
 * last use, else their creation); with `runs`, only those runs' (an unknown run id is an error).
 */
export function keptToDelete(
  runs: {runId: string; lastUsed?: Date; created?: Date}[],
  objects: RunObject[],
  now: Date,
  olderThanMs: number,
  only: string[],
): RunObject[] {
  const unknown = only.filter((id) => !runs.some((r) => r.runId === id))
  if (unknown.length > 0)
    throw new UsageError(
      `--run ${unknown.join(', ')}: no such kept workspace`,
      runs.length > 0 ? `kept: ${runs.map((r) => r.runId).join(', ')}` : 'wpk8s runs lists kept workspaces',
    )
  const ids = new Set(
    runs
      .filter(
        (r) =>
          (only.length === 0 || only.includes(r.runId)) &&
          now.getTime() - ((r.lastUsed ?? r.created)?.getTime() ?? 0) >= olderThanMs,
      )
      .map((r) => r.runId),
  )
  return objects.filter((o) => ids.has(o.labels?.[KEPT_LABEL] ?? ''))
}

/**
 * `clean --caches`: the cache volumes no run mounted for `olderThanMs` (their last-used annotation, else
 * their creation), as objects to delete. A cache a running step mounts goes once that pod is gone.
 */
export function staleCaches(claims: V1PersistentVolumeClaim[], now: Date, olderThanMs: number): RunObject[] {
  return claims.flatMap((c) => {
    const created = c.metadata?.creationTimestamp ? new Date(c.metadata.creationTimestamp) : undefined
    const used = Date.parse(c.metadata?.annotations?.[CACHE_LAST_USED_ANNOTATION] ?? '') || (created?.getTime() ?? 0)
    if (now.getTime() - used < olderThanMs) return []
    return [
      {
        kind: 'PersistentVolumeClaim' as const,
        namespace: c.metadata!.namespace!,
        name: c.metadata!.name!,
        ...(created ? {created} : {}),
        labels: c.metadata?.labels ?? {},
      },
    ]
  })
}
