import {externalReferences, neededCaches} from '../compile/references.js'
import {LABELS} from '../compile/names.js'
import {canCreateAhead, podAtStart} from '../compile/pod.js'
import {CACHE_LAST_USED_ANNOTATION, missingSecretHint, type PlannedStep, type RunPlan} from '../compile/plan.js'
import type {Cluster} from '../cluster/cluster.js'
import {ClusterError, errorMessage, ExitCode, WpkError} from '../errors.js'
import {decide} from '../pipeline/when.js'
import {masker} from '../compile/secrets.js'
import {AheadPods} from './ahead.js'
import {RunHeartbeat, runHeartbeat} from './heartbeat.js'
import {deleteInWorkspace, keepWorkspace, manifestAnnotation} from './keep.js'
import {shipArchive} from './ship.js'
import type {Archive} from './checkout.js'
import type {Emit, StepResult} from './events.js'
import {backgroundResult, isHostname, readPhasesBeforeCleanup, runStep, startBackground} from './step.js'
import {PortForwards} from './port-forward.js'
import {serviceDuration, serviceOptions, serviceRecord} from './services.js'
import {create, DEFAULT_LIMITS, pipelineStatus, type RunLimits, type RunState, startedPod, track} from './state.js'

export {DEFAULT_LIMITS, type RunLimits} from './state.js'

/** How often cleanup looks whether what it deleted is gone (three list calls each time). */
const CLEANUP_POLL_MS = 100
/** Seconds past a stopping pod's grace period after which cleanup deletes its object without waiting for the node. */
const STUCK_POD_SLACK_S = 5

export interface RunResult {
  exitCode: number
  steps: StepResult[]
}

/** Runs a plan: workspace, checkout, services, steps as their dependencies allow; then deletes everything, always. */
export async function runPlan(
  plan: RunPlan,
  cluster: Cluster,
  emit: Emit,
  checkout: () => Promise<Archive>,
  limits: RunLimits = DEFAULT_LIMITS,
): Promise<RunResult> {
  const started = Date.now()
  const all = [...plan.services, ...plan.steps]
  emit({
    type: 'run-start',
    runId: plan.runId,
    namespace: plan.namespace,
    workflow: plan.workflow,
    server: cluster.server,
    steps: plan.steps.map((s) => s.name),
    services: plan.services.map((s) => s.name),
    dependsOn: Object.fromEntries(plan.steps.map((s) => [s.name, s.dependsOn])),
    ignoreFailure: plan.steps.filter((s) => s.failure === 'ignore').map((s) => s.name),
  })
  const mask = masker(Object.values(plan.secret?.stringData ?? {}))
  const emitMasked: Emit = (event) => emit(event.type === 'log' ? {...event, line: mask(event.line)} : event)
  const state: RunState = {
    plan,
    cluster,
    emit: emitMasked,
    limits,
    results: new Map(),
    running: new Set(),
    hostAliases: [],
    background: [],
    stopped: false,
    backgroundEnds: new Map(),
    creating: new Set(),
    endsAt: started + limits.timeoutMs,
  }
  let failure: WpkError | undefined
  /** When the run stopped its services (the end of their duration). */
  let stoppedAt = started
  if (plan.skipReason) {
    for (const step of all) finish(state, {name: step.name, status: 'skipped', durationMs: 0, reason: plan.skipReason})
    emit({type: 'run-end', status: 'success', exitCode: ExitCode.ok, durationMs: Date.now() - started})
    return {exitCode: ExitCode.ok, steps: [...state.results.values()]}
  }
  try {
    const work = withTimeout(
      runAll(state, checkout),
      limits.timeoutMs,
      `the run did not finish within ${Math.round(limits.timeoutMs / 1000)} s (--timeout)`,
    )
    await (limits.interrupt ? Promise.race([work, limits.interrupt.asPromise()]) : work)
  } catch (error) {
    failure = error instanceof WpkError ? error : new ClusterError(errorMessage(error))
  } finally {
    state.stopped = true
    stoppedAt = Date.now()
    serviceRecord(state).forwards?.close()
    if (failure) markUnfinished(state, all, failure.message)
    await Promise.allSettled(state.creating)
    // `--keep`/`--reuse`: the workspace leaves the run before its cleanup, which then leaves it alone.
    if (plan.keep) {
      await keepWorkspace(cluster, plan, failure ? 'error' : pipelineStatus(state)).catch((error: unknown) => {
        failure ??= new ClusterError(
          `the workspace could not be kept: ${errorMessage(error)}`,
          error instanceof WpkError ? error.hint : undefined,
        )
      })
    }
    // Each pod's phases (step-phases) are read while it still exists: most were read as their step ended.
    if (!limits.interrupt?.forced) await readPhasesBeforeCleanup(state, limits.interrupt?.error ? 1000 : 3000)
    await cleanUp(plan, cluster, emit, limits)
    serviceRecord(state).cleanedUp()
    // Last: until everything is gone, `wpk8s clean` elsewhere must leave the run alone.
    await state.heartbeat?.stop()
    await Promise.allSettled(state.background)
  }
  for (const service of plan.services)
    if (!state.results.has(service.name)) finish(state, backgroundResult(state, service.name, stoppedAt))
  const results = all.map((s) => state.results.get(s.name)!).filter(Boolean)
  const exitCode = failure ? failure.exitCode : pipelineStatus(state) === 'failure' ? ExitCode.stepFailed : ExitCode.ok
  const status = failure ? 'error' : exitCode === ExitCode.ok ? 'success' : 'failure'
  emit({
    type: 'run-end',
    status,
    exitCode,
    durationMs: Date.now() - started,
    ...(failure ? {error: failure.message, ...(failure.hint ? {hint: failure.hint} : {})} : {}),
  })
  return {exitCode, steps: results}
}

async function runAll(state: RunState, checkout: () => Promise<Archive>): Promise<void> {
  await listenForPortForwards(state)
  await prepareWorkspace(state, checkout)
  await startServices(state)
  await runSteps(state)
}

/** Records a step's result once; a late result (after an error or interrupt decided it) is dropped. */
function finish(state: RunState, result: StepResult): void {
  if (state.results.has(result.name)) return
  state.results.set(result.name, result)
  state.emit({
    type: 'step-end',
    step: result.name,
    status: result.status,
    durationMs: result.durationMs,
    ...(result.exitCode === undefined ? {} : {exitCode: result.exitCode}),
    ...(result.reason ? {reason: result.reason} : {}),
    ...(result.containerMs === undefined ? {} : {containerMs: result.containerMs}),
  })
}

async function prepareWorkspace(state: RunState, checkout: () => Promise<Archive>): Promise<void> {
  const {plan, cluster, emit, limits} = state
  await cluster.ensureNamespace(plan.namespace)
  // The heartbeat exists before anything else of the run, so `wpk8s clean` never sees a live run without one.
  const heartbeat = new RunHeartbeat(cluster, runHeartbeat(plan))
  await Promise.all([
    track(state, async () => {
      state.heartbeat = heartbeat
      await heartbeat.start()
    }),
    checkReferences(state),
  ])
  const caches = prepareCaches(state)
  caches.catch(() => {})
  if (plan.secret) await track(state, () => cluster.createSecret(plan.secret!))
  emit({type: 'phase', phase: 'workspace', status: 'start'})
  // `--reuse`: the claim is a kept run's, there and filled already.
  if (!plan.reusedClaim) await track(state, () => cluster.createPvc(plan.pvc))
  const bound = plan.reusedClaim
    ? Promise.resolve()
    : cluster.waitPvcBound(plan.namespace, plan.pvc.metadata!.name!, limits.bindTimeoutMs)
  // Awaited below; until then a refusal must not count as an unhandled rejection (which ends the process).
  bound.catch(() => {})
  if (!plan.shipCheckout) {
    await Promise.all([bound, caches])
    emit({type: 'phase', phase: 'workspace', status: 'done'})
    return
  }
  const tar = checkout()
  tar.catch(() => {})
  // A kept workspace already up to date with the checkout needs no helper at all.
  if (plan.reusedClaim) {
    const changes = await tar
    if (changes.manifest && changes.entries === 0 && !changes.deleted?.length) {
      await Promise.all([bound, caches])
      emit({type: 'phase', phase: 'workspace', status: 'done'})
      emit({type: 'phase', phase: 'ship', status: 'start'})
      emit({
        type: 'phase',
        phase: 'ship',
        status: 'done',
        detail: 'nothing changed since the kept workspace was filled',
      })
      return
    }
  }
  const pod = plan.helperPod
  const name = pod.metadata!.name!
  await create(state, pod)
  await Promise.all([bound, caches, startedPod(cluster, pod, limits)])
  emit({type: 'phase', phase: 'workspace', status: 'done'})
  emit({type: 'phase', phase: 'ship', status: 'start'})
  const archive = await tar
  const shipped = await shipArchive(cluster, plan, name, archive, limits.helperServeTimeoutMs, emit)
  // Incremental shipping onto a kept workspace: what is gone from the checkout goes from the workspace too.
  if (archive.deleted?.length)
    await deleteInWorkspace(cluster, plan.namespace, name, plan.workspaceDir, archive.deleted)
  if (plan.keep && archive.manifest) Object.assign(plan.keep.annotations, manifestAnnotation(archive.manifest))
  const detail =
    plan.reusedClaim && archive.manifest
      ? `${shipped}; ${archive.entries} changed, ${archive.deleted?.length ?? 0} deleted (kept workspace)`
      : shipped
  emit({type: 'phase', phase: 'ship', status: 'done', detail})
  void cluster.deletePod(plan.namespace, name, 0).catch(() => {})
}

/**
 * Fails before anything is created when a pod would refer to a ServiceAccount or Secret that is not
 * there (the API server or kubelet would only say so when that step is due). Skipped where the user may not look.
 */
async function checkReferences(state: RunState): Promise<void> {
  const {plan, cluster} = state
  const refs = externalReferences(plan)
  const found = await Promise.all(refs.map((r) => cluster.exists(plan.namespace, r.kind, r.name)))
  const missing = refs.filter((_, i) => found[i] === false)
  if (missing.length === 0) return
  const list = missing.map((r) => `${r.kind} ${r.name} (used by ${r.steps.join(', ')})`).join('; ')
  throw new ClusterError(
    `namespace ${plan.namespace} has no ${list}`,
    'create it there first, or fix serviceAccountName / secrets in backend_options.kubernetes',
  )
}

/**
 * The claims named in `volumes` that do not exist are created as caches: labelled as such but not with
 * the run, so they outlive it, and the next run mounts them again. A cache of an earlier run is marked
 * as used now; someone else's claim is mounted as it is. Resolves once the new ones are bound (or wait
 * for their first pod); one that cannot be provisioned is deleted again and fails the run.
 */
async function prepareCaches(state: RunState): Promise<void> {
  const {plan, cluster, emit, limits} = state
  const used = {[CACHE_LAST_USED_ANNOTATION]: new Date().toISOString()}
  await Promise.all(
    neededCaches(plan).map(async (claim) => {
      const name = claim.metadata!.name!
      const use = await cluster.useCacheClaim(claim, used)
      if (use === 'foreign') return
      emit({
        type: 'cache',
        claim: name,
        status: use,
        ...(use === 'created' ? {size: claim.spec?.resources?.requests?.storage} : {}),
      })
      if (use !== 'created') return
      try {
        await cluster.waitCacheClaim(plan.namespace, name, limits.bindTimeoutMs)
      } catch (error) {
        await cluster.deletePvc(plan.namespace, name).catch(() => {})
        throw error
      }
    }),
  )
}

/** `--port-forward`: the run's local ports are bound before anything is created, so one in use stops it at once. */
async function listenForPortForwards(state: RunState): Promise<void> {
  const requests = serviceOptions(state.limits).portForwards ?? []
  if (requests.length === 0) return
  const forwards = new PortForwards(state.cluster, state.plan.namespace, state.emit)
  serviceRecord(state).forwards = forwards
  await forwards.listen(state.plan, requests)
}

/** Services start before the steps; steps reach them by name through host aliases (no cluster DNS needed). */
async function startServices(state: RunState): Promise<void> {
  const due = state.plan.services.filter((service) => {
    const decision = decide(service.rules, 'success')
    if (!decision.run) finish(state, {name: service.name, status: 'skipped', durationMs: 0, reason: decision.reason})
    return decision.run
  })
  const started = await Promise.all(due.map((service) => startBackground(state, service, 'success')))
  state.hostAliases = started.filter((s) => s.ip && isHostname(s.name)).map((s) => ({hostnames: [s.name], ip: s.ip!}))
}

/** Runs steps as soon as their dependencies are done (up to `parallel` at once), deciding `when` at that moment. */
async function runSteps(state: RunState): Promise<void> {
  const {plan, limits} = state
  const inFlight = new Map<string, Promise<void>>()
  const ahead = new AheadPods(state.cluster, plan.namespace, `${LABELS.run}=${plan.runId}`)
  let error: unknown
  for (;;) {
    let progressed = false
    for (const step of plan.steps) {
      if (state.results.has(step.name) || inFlight.has(step.name)) continue
      if (!step.dependsOn.every((d) => state.results.has(d))) continue
      if (limits.parallel > 0 && inFlight.size >= limits.parallel) break
      const decision = step.skip ? {run: false, reason: step.skip} : decide(step.rules, pipelineStatus(state))
      progressed = true
      if (!decision.run) {
        void ahead.discard(step.name).catch(() => {})
        finish(state, {name: step.name, status: 'skipped', durationMs: 0, reason: decision.reason})
        continue
      }
      if (step.missingSecret) {
        finish(state, {
          name: step.name,
          status: 'failure',
          durationMs: 0,
          reason: `${step.missingSecret.message} (${missingSecretHint(step.missingSecret.secret)})`,
        })
        continue
      }
      const onRunning = () =>
        setTimeout(() => inFlight.has(step.name) && createAhead(state, inFlight, ahead), AHEAD_AFTER_MS).unref()
      const work = runStep(state, step, ahead, onRunning)
        .then(
          (result) => finish(state, result),
          (e) => {
            error ??= e
          },
        )
        .finally(() => inFlight.delete(step.name))
      inFlight.set(step.name, work)
    }
    if (error) throw error
    if (inFlight.size === 0) {
      if (progressed) continue
      break
    }
    await Promise.race(inFlight.values())
    if (error) {
      await Promise.allSettled(inFlight.values())
      throw error
    }
  }
}

/** How many step pods may wait ahead of their turn at once (without a --parallel limit). */
const MAX_AHEAD = 2
/**
 * Pods are created ahead only once a step has run this long: a step that ends at once leaves no time
 * to gain, and on a small node the extra pod start only competes with the next step's.
 */
const AHEAD_AFTER_MS = 500

/**
 * Creates the pods of steps that will be due once the running ones (or those created ahead) finish,
 * so their start overlaps with the running steps. Only commands steps (wpk8s controls their script)
 * that would run if nothing changes; --parallel counts them.
 */
function createAhead(state: RunState, inFlight: Map<string, unknown>, ahead: AheadPods): void {
  const {plan, limits} = state
  const room = limits.parallel > 0 ? limits.parallel - inFlight.size : MAX_AHEAD
  for (const step of plan.steps) {
    if (state.stopped || ahead.size >= room) return
    if (state.results.has(step.name) || inFlight.has(step.name) || ahead.has(step.name)) continue
    if (step.background || step.skip || step.missingSecret || !canCreateAhead(step.pod)) continue
    if (!step.dependsOn.every((d) => state.results.has(d) || inFlight.has(d) || ahead.has(d))) continue
    if (!decide(step.rules, pipelineStatus(state)).run) continue
    const pod = podAtStart(step.pod, {
      pipelineStatus: 'success',
      startedAt: Math.floor(Date.now() / 1000),
      hostAliases: state.hostAliases,
    })
    ahead.create(step.name, pod, (p) => create(state, p))
  }
}

/** After an error: steps that were running failed with it; the ones not started did not run. */
function markUnfinished(state: RunState, steps: PlannedStep[], reason: string): void {
  for (const step of steps) {
    if (state.results.has(step.name)) continue
    const failed = state.running.has(step.name)
    // A service that was up is stopped with the run: its result comes from backgroundResult.
    if (!failed && state.plan.services.includes(step) && serviceRecord(state).started.has(step.name)) continue
    finish(state, {
      name: step.name,
      status: failed ? 'failure' : 'skipped',
      durationMs: serviceDuration(state, step.name, Date.now()).durationMs,
      reason: failed ? reason : 'not run: the run stopped',
    })
  }
}

/**
 * Deletes every object labelled with the run id and waits until they are gone (or the limit passes).
 * After an interrupt, running pods get `stopGraceSeconds` to end, unless a second signal forces it.
 */
async function cleanUp(plan: RunPlan, cluster: Cluster, emit: Emit, limits: RunLimits): Promise<void> {
  emit({type: 'cleanup', status: 'start'})
  const selector = `${LABELS.run}=${plan.runId}`
  const started = Date.now()
  const deadline = started + limits.cleanupTimeoutMs + limits.stopGraceSeconds * 1000
  // A pod still there well after its grace period is stuck on the node: delete its object at once, as
  // `kubectl delete --force` would, so the claim is released and nothing is left in the namespace.
  const stuckAfter = started + (limits.stopGraceSeconds + STUCK_POD_SLACK_S) * 1000
  const interrupted = () => limits.interrupt?.signal.aborted && !limits.interrupt.forced
  const grace = () => (interrupted() && Date.now() < stuckAfter ? limits.stopGraceSeconds : 0)
  let deleted = 0
  let left: string[] = []
  for (;;) {
    // An API server that is away for a moment (restarting, a dropped connection) is asked again until
    // the deadline: giving up at the first error would leave the run's objects behind.
    try {
      const objects = await cluster.listRunObjects(plan.namespace, selector)
      left = objects.map((o) => `${o.kind}/${o.name}`)
      if (objects.length === 0) break
      const seconds = grace()
      await Promise.all(
        objects.map((o) =>
          o.kind === 'Pod' ? cluster.deletePod(o.namespace, o.name, seconds) : cluster.deleteObject(o),
        ),
      )
      deleted = Math.max(deleted, objects.length)
    } catch (error) {
      left = [`(cleanup failed: ${errorMessage(error)})`]
    }
    if (Date.now() > deadline) break
    await new Promise((r) => setTimeout(r, CLEANUP_POLL_MS))
  }
  emit({type: 'cleanup', status: 'done', deleted, ...(left.length > 0 ? {left} : {})})
}

function withTimeout<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ClusterError(message)), ms)
  })
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer))
}
