import {watch} from 'node:fs'
import type {Cluster} from '../cluster/cluster.js'
import {ExitCode, UsageError} from '../errors.js'
import {listCheckout} from './checkout.js'
import type {Emit} from './events.js'
import type {ExecRequest} from './exec-on-cluster.js'
import {KEPT_LABEL, manifestChanges, manifestOf} from './keep.js'

/** Changes closer together than this make one round. */
export const WATCH_DEBOUNCE_MS = 150

/** Whether a step's `when` (a map or a list of them) has a `path` condition. */
export function hasPathCondition(when: unknown): boolean {
  const items = Array.isArray(when) ? when : [when]
  return items.some((item) => typeof item === 'object' && item !== null && 'path' in item)
}

/**
 * Resolves with the paths that changed under `root` once changes have settled for `debounceMs` (the
 * `.git` folder aside), or with undefined when `stop` resolves first.
 */
export function nextChanges(
  root: string,
  stop: Promise<void>,
  debounceMs = WATCH_DEBOUNCE_MS,
): Promise<Set<string> | undefined> {
  return new Promise((resolve) => {
    const seen = new Set<string>()
    let timer: NodeJS.Timeout | undefined
    const watcher = watch(root, {recursive: true}, (_event, file) => {
      const name = file?.toString().replace(/\\/g, '/')
      if (!name || name === '.git' || name.startsWith('.git/')) return
      seen.add(name)
      clearTimeout(timer)
      timer = setTimeout(() => done(seen), debounceMs)
    })
    const done = (value: Set<string> | undefined) => {
      clearTimeout(timer)
      watcher.close()
      resolve(value)
    }
    void stop.then(() => done(undefined))
  })
}

export interface WatchDeps {
  /** One round: the run (the first keeps the workspace, the others reuse it). */
  runRound(request: ExecRequest): Promise<number>
  /** The cluster, to delete the kept workspace at the end. */
  cluster: () => Cluster
  log(line: string): void
}

/**
 * `exec --watch`: a first run that keeps the workspace, then a round per settled change of the checkout
 * (what git ignores does not count): the change ships (only it) and the steps whose `when.path` matches
 * run again, or every step when none has a path condition. Ctrl-C ends it and deletes the kept
 * workspace; a round in progress is stopped as a run is.
 */
export async function watchRounds(request: ExecRequest, deps: WatchDeps): Promise<number> {
  const {run} = request
  if (run.workflows.length !== 1)
    throw new UsageError(
      `--watch runs one workflow, this pipeline has ${run.workflows.length}`,
      'name one workflow file: wpk8s exec .woodpecker/build.yaml --watch',
    )
  const root = run.metadata.root
  let runId: string | undefined
  let namespace = ''
  const first: Emit = (event) => {
    if (event.type === 'run-start' && !runId) ({runId, namespace} = event)
    request.emit(event)
  }
  let exitCode = await deps.runRound({
    ...request,
    emit: first,
    quietKeep: true,
    flags: {...request.flags, keep: true, watch: false},
  })
  if (!runId || exitCode === ExitCode.interrupted || exitCode === ExitCode.terminated) return exitCode
  const pathSteps = run.workflows[0].steps.filter((s) => hasPathCondition(s.when)).map((s) => s.name)
  let stopped = false
  let stopWaiting = () => {}
  const stop = new Promise<void>((resolve) => (stopWaiting = resolve))
  const onSignal = (signal: NodeJS.Signals) => {
    stopped = true
    exitCode = signal === 'SIGINT' ? ExitCode.interrupted : ExitCode.terminated
    stopWaiting()
  }
  try {
    let listing = await listCheckout(root)
    let manifest = await manifestOf(root, listing.entries)
    const watching = () =>
      deps.log(
        `wpk8s: watching ${root} for changes (${pathSteps.length > 0 ? `steps with when.path: ${pathSteps.join(', ')}` : 'every step'}); Ctrl-C ends it and deletes the kept workspace`,
      )
    watching()
    for (let round = 2; !stopped; round++) {
      process.once('SIGINT', onSignal)
      process.once('SIGTERM', onSignal)
      const seen = await nextChanges(root, stop)
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      if (!seen) break
      listing = await listCheckout(root)
      const now = await manifestOf(root, listing.entries)
      const changes = manifestChanges(listing.entries, now, manifest)
      manifest = now
      const files = [...changes.entries.filter((e) => e.type !== 'directory').map((e) => e.name), ...changes.deleted]
      if (files.length === 0) {
        round--
        continue
      }
      const started = Date.now()
      exitCode = await deps.runRound({
        ...request,
        changedFiles: files,
        flags: {
          ...request.flags,
          keep: false,
          watch: false,
          reuse: runId,
          step: pathSteps.length > 0 ? pathSteps : undefined,
        },
      })
      deps.log(
        `wpk8s: round ${round}: ${files.length} changed file(s) (${files.slice(0, 3).join(', ')}${files.length > 3 ? ', ...' : ''}): ${exitCode === ExitCode.ok ? 'success' : exitCode === ExitCode.stepFailed ? 'failure' : `error (exit ${exitCode})`} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      )
      if (exitCode === ExitCode.interrupted || exitCode === ExitCode.terminated) break
      watching()
    }
  } finally {
    const cluster = deps.cluster()
    const kept = await cluster.listRunObjects(namespace, `${KEPT_LABEL}=${runId}`).catch(() => [])
    await Promise.all(kept.map((o) => cluster.deleteObject(o).catch(() => {})))
    deps.log(`wpk8s: deleted the kept workspace of run ${runId}`)
  }
  return exitCode
}
