import {KubeCluster, loadKubeConfig} from '../cluster/kube.js'
import type {RunObject} from '../cluster/cluster.js'
import {LABELS, MANAGER} from '../compile/names.js'
import {UsageError} from '../errors.js'

export interface CleanInput {
  namespace: string
  olderThan?: string
  dryRun: boolean
  context?: string
  kubeconfig?: string
  now?: Date
}

/** `30s`, `15m`, `2h`, `1d` in milliseconds. */
export function parseAge(text: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(text)
  if (!m) throw new UsageError(`--older-than ${text}: expected a number and a unit, such as 30m, 2h or 1d`)
  return Number(m[1]) * {s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000}[m[2] as 's' | 'm' | 'h' | 'd']
}

/** The objects earlier runs left behind (by label), older than the given age. */
export function selectLeftovers(objects: RunObject[], olderThanMs: number, now: Date): RunObject[] {
  return objects.filter((o) => !o.created || now.getTime() - o.created.getTime() >= olderThanMs)
}

/** `wpk8s clean`: lists, and unless dry-run deletes, what earlier runs left behind. Returns the lines to print. */
export async function runClean(input: CleanInput): Promise<string[]> {
  const age = input.olderThan ? parseAge(input.olderThan) : 0
  const cluster = new KubeCluster(loadKubeConfig({context: input.context, kubeconfig: input.kubeconfig}))
  const objects = await cluster.listRunObjects(input.namespace, `${LABELS.managedBy}=${MANAGER}`)
  const chosen = selectLeftovers(objects, age, input.now ?? new Date())
  if (chosen.length === 0) return [`nothing left behind in namespace ${input.namespace}`]
  const lines = chosen.map((o) => `${input.dryRun ? 'would delete' : 'deleted'} ${o.kind}/${o.name}${o.created ? ` (created ${o.created.toISOString()})` : ''}`)
  if (!input.dryRun) await Promise.all(chosen.map((o) => cluster.deleteObject(o)))
  return [...lines, `${chosen.length} object(s) ${input.dryRun ? 'would be deleted' : 'deleted'} in namespace ${input.namespace}`]
}
