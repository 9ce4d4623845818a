import {createHash} from 'node:crypto'
import {createReadStream} from 'node:fs'
import {isAbsolute, join, relative} from 'node:path'
import {gunzipSync, gzipSync} from 'node:zlib'
import type {V1PersistentVolumeClaim, V1Pod} from '@kubernetes/client-node'
import type {Cluster} from '../cluster/cluster.js'
import {HELPER_CONTAINER} from '../compile/ship.js'
import {type Archive, archiveOf, type CheckoutEntry, listCheckout} from './checkout.js'
import {LABELS, MANAGER} from '../compile/names.js'
import type {RunPlan} from '../compile/plan.js'
import {UsageError} from '../errors.js'
import type {RunMetadata} from '../pipeline/metadata.js'
import type {Workflow} from '../pipeline/model.js'

/**
 * A kept workspace (`exec --keep`) leaves its run: its claim and Secret lose the `wpk8s.dev/run` label
 * (so neither the run's cleanup nor `wpk8s clean` of stale runs deletes them) and get this one, with the
 * run id as value. `wpk8s runs` lists them, `exec --reuse` and `wpk8s shell` use them, `wpk8s clean --kept` deletes them.
 */
export const KEPT_LABEL = 'wpk8s.dev/kept'
export const KEPT_ANNOTATIONS = {
  /** The pipeline file, relative to the checkout. */
  pipeline: 'wpk8s.dev/pipeline',
  /** The workflow's title (its name, plus matrix values). */
  workflow: 'wpk8s.dev/workflow-title',
  /** success, failure or error: the last run on the workspace. */
  result: 'wpk8s.dev/result',
  /** When a run last used the workspace (RFC 3339). */
  lastUsed: 'wpk8s.dev/last-used',
  /** gzip + base64 JSON of KeptInfo: what `--reuse` and `wpk8s shell` need. */
  info: 'wpk8s.dev/kept-run',
  /** gzip + base64 JSON of the checkout's manifest as last shipped (path: type, size, mode and hash), for incremental shipping. */
  manifest: 'wpk8s.dev/manifest',
} as const

/** Annotations of one object may hold 256 KiB: a larger manifest is not kept, and the next reuse ships everything again. */
const MANIFEST_MAX_CHARS = 160 * 1024

/** What a kept run remembers, beyond its workspace's files. */
export interface KeptInfo {
  /** The CI_* values of the kept run: a reuse keeps them while the checkout is on the same commit. */
  metadata: RunMetadata
  /** The Secret kept with the workspace (the run's `from_secret` values), if any. */
  secretName?: string
  /** Each step's pod as planned (the workspace and the kept Secret mounted): `wpk8s shell` starts one like it. */
  pods: Record<string, V1Pod>
}

/** A kept workspace as `wpk8s runs` shows it. */
export interface KeptRun {
  runId: string
  namespace: string
  claim: string
  created?: Date
  lastUsed?: Date
  size?: string
  pipeline?: string
  workflow?: string
  result?: string
  /** Undefined when the annotation is missing or unreadable. */
  info?: KeptInfo
  /** The checkout as last shipped into the workspace; undefined when unknown (then everything ships). */
  manifest?: Record<string, string>
}

export function encodeInfo(info: KeptInfo): string {
  return encodeJson(info)
}

export function decodeInfo(text: string | undefined): KeptInfo | undefined {
  return decodeJson(text) as KeptInfo | undefined
}

function decodeJson(text: string | undefined): unknown {
  if (!text) return undefined
  try {
    return JSON.parse(gunzipSync(Buffer.from(text, 'base64')).toString('utf8'))
  } catch {
    return undefined
  }
}

/** The annotations of a workspace that `--keep` keeps (the result and time are added when the run ends). */
export function keepAnnotations(plan: RunPlan, workflow: Workflow, metadata: RunMetadata): Record<string, string> {
  const file = isAbsolute(workflow.file) ? relative(metadata.root, workflow.file) : workflow.file
  const info: KeptInfo = {
    metadata,
    ...(plan.secret ? {secretName: plan.secret.metadata!.name!} : {}),
    pods: Object.fromEntries(plan.steps.map((s) => [s.name, s.pod])),
  }
  return {
    [KEPT_ANNOTATIONS.pipeline]: file,
    [KEPT_ANNOTATIONS.workflow]: workflow.title,
    [KEPT_ANNOTATIONS.info]: encodeInfo(info),
  }
}

/**
 * Called as the run ends, before its cleanup: the workspace claim (and the run's Secret, unless the run
 * reused a kept workspace and so has its own) leave the run, labelled as kept, with the result and time.
 */
export async function keepWorkspace(cluster: Cluster, plan: RunPlan, result: string, now = new Date()): Promise<void> {
  if (!plan.keep) return
  const {runId, annotations} = plan.keep
  const labels = {[LABELS.run]: null, [KEPT_LABEL]: runId}
  await cluster.patchMetadata('PersistentVolumeClaim', plan.namespace, plan.pvc.metadata!.name!, {
    labels,
    annotations: {...annotations, [KEPT_ANNOTATIONS.result]: result, [KEPT_ANNOTATIONS.lastUsed]: now.toISOString()},
  })
  if (plan.secret && !plan.reusedClaim)
    await cluster.patchMetadata('Secret', plan.namespace, plan.secret.metadata!.name!, {labels})
}

/** A claim with the kept label, read. */
export function keptRun(pvc: V1PersistentVolumeClaim): KeptRun | undefined {
  const labels = pvc.metadata?.labels ?? {}
  const annotations = pvc.metadata?.annotations ?? {}
  const runId = labels[KEPT_LABEL]
  if (!runId) return undefined
  const date = (text: string | Date | undefined) => (text ? new Date(text) : undefined)
  const info = decodeInfo(annotations[KEPT_ANNOTATIONS.info])
  return {
    runId,
    namespace: pvc.metadata!.namespace!,
    claim: pvc.metadata!.name!,
    created: date(pvc.metadata?.creationTimestamp),
    lastUsed: date(annotations[KEPT_ANNOTATIONS.lastUsed]),
    size: pvc.status?.capacity?.storage ?? pvc.spec?.resources?.requests?.storage,
    pipeline: annotations[KEPT_ANNOTATIONS.pipeline],
    workflow: annotations[KEPT_ANNOTATIONS.workflow],
    result: annotations[KEPT_ANNOTATIONS.result],
    ...(info ? {info} : {}),
    ...(annotations[KEPT_ANNOTATIONS.manifest]
      ? {manifest: decodeJson(annotations[KEPT_ANNOTATIONS.manifest]) as Record<string, string> | undefined}
      : {}),
  }
}

/** The selector of every kept wpk8s workspace and Secret. */
export const KEPT_SELECTOR = `${LABELS.managedBy}=${MANAGER},${KEPT_LABEL}`

export interface ClaimLister {
  listClaims(namespace: string, labelSelector: string): Promise<V1PersistentVolumeClaim[]>
}

/** The kept workspaces of a namespace, the most recently used first. */
export async function listKept(cluster: ClaimLister, namespace: string): Promise<KeptRun[]> {
  const runs = (await cluster.listClaims(namespace, KEPT_SELECTOR)).flatMap((c) => keptRun(c) ?? [])
  const used = (r: KeptRun) => (r.lastUsed ?? r.created)?.getTime() ?? 0
  return runs.sort((a, b) => used(b) - used(a))
}

/** `RUN` of `--reuse RUN` and `wpk8s shell RUN`: a kept run id, or `last` (the most recently used). */
export async function findKept(cluster: ClaimLister, namespace: string, which: string): Promise<KeptRun> {
  const runs = await listKept(cluster, namespace)
  const found = which === 'last' ? runs[0] : runs.find((r) => r.runId === which)
  if (found) return found
  const hint =
    runs.length > 0
      ? `kept in ${namespace}: ${runs.map((r) => r.runId).join(', ')}`
      : 'run `wpk8s exec --keep` first; `wpk8s runs` lists kept workspaces'
  throw new UsageError(
    which === 'last'
      ? `no kept workspace in namespace ${namespace}`
      : `no kept workspace ${which} in namespace ${namespace}`,
    hint,
  )
}

/**
 * The metadata a run on a kept workspace uses: the kept run's CI_* values while the checkout is on the
 * same commit (a re-run is the same pipeline), the checkout's own once it moved on.
 */
export function reuseMetadata(kept: KeptRun, current: RunMetadata): RunMetadata {
  const stored = kept.info?.metadata
  return stored && stored.sha === current.sha ? {...stored, root: current.root} : current
}

/** The lines `exec --keep` prints once the run is over. */
export function keptMessage(runId: string, namespace: string, reused: boolean): string {
  const ns = namespace === 'woodpecker' ? '' : ` -n ${namespace}`
  return [
    `wpk8s: workspace ${reused ? 'of' : 'kept for'} run ${runId}${reused ? ' kept' : ''} (namespace ${namespace})`,
    `  re-run:  wpk8s exec --reuse ${runId}${ns} [--step NAME]`,
    `  shell:   wpk8s shell ${runId} STEP${ns} [-- COMMAND]`,
    `  delete:  wpk8s clean --kept --run ${runId}${ns}`,
  ].join('\n')
}

/** What the manifest says of an entry: a folder, a link and its target, or a file's mode, size and content hash. */
async function manifestValue(root: string, entry: CheckoutEntry): Promise<string> {
  if (entry.type === 'directory') return 'd'
  if (entry.type === 'symlink') return `l:${entry.linkname ?? ''}`
  const hash = createHash('sha1')
  for await (const chunk of createReadStream(join(root, entry.name))) hash.update(chunk as Buffer)
  return `f:${entry.mode.toString(8)}:${entry.size}:${hash.digest('hex').slice(0, 16)}`
}

export async function manifestOf(root: string, entries: CheckoutEntry[]): Promise<Record<string, string>> {
  const values = await Promise.all(entries.map((e) => manifestValue(root, e)))
  return Object.fromEntries(entries.map((e, i) => [e.name, values[i]]))
}

/**
 * What ships onto a workspace that holds `before`: the entries whose content, mode or kind changed or
 * that are new (with the folders above them), and the paths that are gone (deepest first).
 */
export function manifestChanges(
  entries: CheckoutEntry[],
  now: Record<string, string>,
  before: Record<string, string>,
): {entries: CheckoutEntry[]; deleted: string[]} {
  const changed = new Set(entries.filter((e) => before[e.name] !== now[e.name]).map((e) => e.name))
  for (const name of [...changed]) {
    for (let i = name.lastIndexOf('/'); i > 0; i = name.lastIndexOf('/', i - 1)) changed.add(name.slice(0, i))
  }
  const deleted = Object.keys(before)
    .filter((name) => !(name in now))
    .sort((a, b) => b.length - a.length || a.localeCompare(b))
  return {entries: entries.filter((e) => changed.has(e.name)), deleted}
}

/**
 * The checkout archive of a kept run: everything (with its manifest, kept with the claim) for `--keep`,
 * only the changes for `--reuse` when the claim has a manifest (else everything, over what is there).
 */
export async function keptCheckout(root: string, before?: Record<string, string>): Promise<Archive> {
  const {entries} = await listCheckout(root)
  const manifest = await manifestOf(root, entries)
  if (!before) return {...(await archiveOf(root, entries)), manifest}
  const changes = manifestChanges(entries, manifest, before)
  return {...(await archiveOf(root, changes.entries)), manifest, deleted: changes.deleted}
}

/** The annotation of the manifest as shipped; empty when too large to keep (the next reuse ships everything). */
export function manifestAnnotation(manifest: Record<string, string> | undefined): Record<string, string | null> {
  if (!manifest) return {}
  const text = encodeJson(manifest)
  return {[KEPT_ANNOTATIONS.manifest]: text.length <= MANIFEST_MAX_CHARS ? text : null}
}

function encodeJson(value: unknown): string {
  return gzipSync(JSON.stringify(value)).toString('base64')
}

/** Deletes, in the workspace through the helper, what is gone from the checkout (NUL-separated paths on stdin, read to their exact length). */
export async function deleteInWorkspace(
  cluster: Cluster,
  namespace: string,
  helper: string,
  dir: string,
  paths: string[],
): Promise<void> {
  if (paths.length === 0) return
  const list = Buffer.from(paths.map((p) => `${p}\0`).join(''))
  const script = 'cd "$1" && head -c "$2" | xargs -0 rm -rf --'
  const {exitCode, stderr} = await cluster.execWithInput(
    namespace,
    helper,
    HELPER_CONTAINER,
    ['sh', '-c', script, 'sh', dir, String(list.length)],
    list,
  )
  if (exitCode !== 0)
    throw new Error(
      `deleting ${paths.length} file(s) gone from the checkout failed (exit ${exitCode}): ${stderr.trim()}`,
    )
}
