import {contextNamespace, KubeCluster, loadKubeConfig} from '../cluster/kube.js'
import {type KeptRun, listKept} from '../runner/keep.js'

export interface RunsInput {
  namespace: string
  context?: string
  kubeconfig?: string
  useContextNamespace?: boolean
  json?: boolean
  now?: Date
}

/** `wpk8s runs`: the kept workspaces of the namespace, most recently used first. Returns the text to print. */
export async function runRuns(input: RunsInput): Promise<string> {
  const kc = loadKubeConfig({context: input.context, kubeconfig: input.kubeconfig})
  const namespace = input.useContextNamespace ? (contextNamespace(kc) ?? input.namespace) : input.namespace
  const runs = await listKept(new KubeCluster(kc), namespace)
  if (input.json)
    return `${JSON.stringify(
      runs.map(({info, ...run}) => ({...run, steps: Object.keys(info?.pods ?? {})})),
      null,
      2,
    )}\n`
  return formatRuns(runs, namespace, input.now ?? new Date())
}

export function formatRuns(runs: KeptRun[], namespace: string, now: Date): string {
  if (runs.length === 0) return `no kept workspaces in namespace ${namespace} (wpk8s exec --keep keeps one)\n`
  const rows = [
    ['RUN', 'AGE', 'LAST USED', 'SIZE', 'PIPELINE', 'WORKFLOW', 'LAST RESULT'],
    ...runs.map((r) => [
      r.runId,
      age(now, r.created),
      age(now, r.lastUsed),
      r.size ?? '',
      r.pipeline ?? '',
      r.workflow ?? '',
      r.result ?? '',
    ]),
  ]
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)))
  return `${rows
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`
}

/** `45s`, `12m`, `3h`, `2d`: how long ago. */
export function age(now: Date, then: Date | undefined): string {
  if (!then) return '-'
  const s = Math.max(0, Math.round((now.getTime() - then.getTime()) / 1000))
  if (s < 120) return `${s}s`
  if (s < 7200) return `${Math.round(s / 60)}m`
  if (s < 172_800) return `${Math.round(s / 3600)}h`
  return `${Math.round(s / 86_400)}d`
}
