import type {V1Pod, V1Probe} from '@kubernetes/client-node'
import type {PodState} from '../cluster/pod-state.js'
import type {PlannedStep, RunPlan} from '../compile/plan.js'
import {describeReadiness, hasReadinessProbe, PORT_PROBE_PREFIX, PROBE_PERIOD_SECONDS} from '../compile/pod.js'
import {ClusterError, UsageError} from '../errors.js'
import {parseQuantity} from '../validate/kube-rules.js'
import {assignPortForwards, parsePortForward, type PortForwardRequest, type PortForwards} from './port-forward.js'
import type {RunLimits, RunState} from './state.js'

// Services and detached steps that are ready before the steps use them (see README "Services").

/** `--service-timeout`: how long a service may take from its container's start to being ready. */
export const DEFAULT_SERVICE_TIMEOUT_MS = 120_000
/** How many of a service's last log lines an error shows. */
export const LOG_TAIL_LINES = 10

/** What exec adds to a run's limits for services. */
export interface ServiceOptions {
  serviceTimeoutMs?: number
  portForwards?: PortForwardRequest[]
}

/** What a run keeps about its services and detached steps, beside its RunState. */
interface ServiceRecord {
  /** When each one's pod was created, how long it took to be ready, and when it ended on its own. */
  started: Map<string, {at: number; readyMs?: number; endedAt?: number}>
  forwards?: PortForwards
  /** Resolves once cleanup deleted the pods: their logs have nothing more that matters (see cleanedUp). */
  over: Promise<void>
  cleanedUp: () => void
}

const records = new WeakMap<RunState, ServiceRecord>()

export function serviceRecord(state: RunState): ServiceRecord {
  let record = records.get(state)
  if (!record) {
    let cleanedUp!: () => void
    const over = new Promise<void>((resolve) => (cleanedUp = resolve))
    records.set(state, (record = {started: new Map(), over, cleanedUp}))
  }
  return record
}

export function serviceOptions(limits: RunLimits): ServiceOptions {
  return limits as RunLimits & ServiceOptions
}

/** `--service-probe NAME=SPEC`: the readiness check of one service or detached step instead of its ports. */
export interface ServiceProbe {
  service: string
  /** Undefined for `none`: the service is not waited for. */
  probe?: V1Probe
}

/** `tcp:5432`, `http:8080/healthz`, `exec:pg_isready -U postgres` (run with `sh -c` in the service's container), `none`. */
export function parseServiceProbe(text: string): ServiceProbe {
  const eq = text.indexOf('=')
  const service = eq > 0 ? text.slice(0, eq) : ''
  const spec = text.slice(eq + 1)
  const usage = () =>
    new UsageError(
      `--service-probe ${text}: expected NAME=tcp:PORT, NAME=http:PORT/PATH, NAME=exec:COMMAND or NAME=none`,
      'such as --service-probe db=exec:"pg_isready -U postgres" or --service-probe web=http:8080/healthz',
    )
  if (!service) throw usage()
  const timing = {periodSeconds: PROBE_PERIOD_SECONDS, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3}
  if (spec === 'none') return {service}
  const tcp = /^tcp:(\d{1,5})$/.exec(spec)
  if (tcp && validPort(tcp[1])) return {service, probe: {tcpSocket: {port: Number(tcp[1])}, ...timing}}
  const http = /^http:(\d{1,5})(\/\S*)?$/.exec(spec)
  if (http && validPort(http[1]))
    return {service, probe: {httpGet: {port: Number(http[1]), path: http[2] ?? '/'}, ...timing}}
  // An exec probe gets more time: it starts a process in the container each time.
  if (spec.startsWith('exec:') && spec.slice(5).trim())
    return {service, probe: {exec: {command: ['/bin/sh', '-c', spec.slice(5)]}, ...timing, timeoutSeconds: 5}}
  throw usage()
}

function validPort(text: string): boolean {
  const port = Number(text)
  return port >= 1 && port <= 65535
}

/**
 * The plan with the readiness checks of `--service-probe` in place of the ports' (pure): the named
 * pod's step container gets the probe (none for `none`) and loses the containers that probe further
 * ports. A name that is no service or detached step of any plan is a usage error.
 */
export function withServiceProbes(plans: RunPlan[], probes: ServiceProbe[]): RunPlan[] {
  for (const {service} of probes) {
    if (plans.some((plan) => background(plan).some((s) => s.name === service || s.host === service))) continue
    const names = [...new Set(plans.flatMap((p) => background(p).map((s) => s.host ?? s.name)))]
    throw new UsageError(
      `--service-probe ${service}: no service or detached step is called ${service}`,
      names.length > 0
        ? `services and detached steps: ${names.join(', ')}`
        : 'the pipeline has no service or detached step',
    )
  }
  const probeOf = (step: PlannedStep) => probes.find((p) => p.service === step.name || p.service === step.host)
  const apply = (step: PlannedStep): PlannedStep => {
    const chosen = probeOf(step)
    if (!step.background || !chosen) return step
    const [container, ...others] = step.pod.spec!.containers
    const {readinessProbe: _, ...rest} = container
    const containers = [
      {...rest, ...(chosen.probe ? {readinessProbe: chosen.probe} : {})},
      ...others.filter((c) => !c.name.startsWith(PORT_PROBE_PREFIX)),
    ]
    return {...step, pod: {...step.pod, spec: {...step.pod.spec!, containers}}}
  }
  return plans.map((plan) => ({...plan, services: plan.services.map(apply), steps: plan.steps.map(apply)}))
}

function background(plan: RunPlan): PlannedStep[] {
  return [...plan.services, ...plan.steps.filter((s) => s.background)]
}

/** Keeps a service's last log lines, for the error when it does not get ready. */
export function logTail(size = LOG_TAIL_LINES): {push: (line: string) => void; lines: () => string[]} {
  const kept: string[] = []
  return {
    push: (line) => {
      kept.push(line)
      if (kept.length > size) kept.shift()
    },
    lines: () => [...kept],
  }
}

/**
 * Waits until a started service (or detached step) with a readiness check is ready: at most
 * `--service-timeout` from its container's start, and not past the run's own end. Emits `service-ready`
 * with the time since its pod was created. A service that ends, cannot start or is not ready in time
 * fails the run, with the kubelet's words for why and the service's last log lines.
 */
export async function waitUntilReady(
  state: RunState,
  step: PlannedStep,
  pod: V1Pod,
  log: {lines: () => string[]; done: Promise<void>},
): Promise<void> {
  if (!hasReadinessProbe(pod)) return
  const {plan, cluster, emit} = state
  const name = pod.metadata!.name!
  const record = serviceRecord(state).started.get(step.name)
  const createdAt = record?.at ?? Date.now()
  const timeoutMs = serviceOptions(state.limits).serviceTimeoutMs ?? DEFAULT_SERVICE_TIMEOUT_MS
  const probe = describeReadiness(pod)
  const outcome = await cluster.waitPodReady(
    plan.namespace,
    name,
    state.endsAt ? Math.max(1, Math.min(timeoutMs, state.endsAt - Date.now())) : timeoutMs,
  )
  if (outcome.kind === 'ready') {
    const readyMs = Date.now() - createdAt
    if (record) record.readyMs = readyMs
    emit({type: 'service-ready', step: step.name, durationMs: readyMs, probe})
    return
  }
  let why: string
  let problems: string[] = []
  if (outcome.kind === 'ended') {
    why = endedBeforeReady(outcome.state)
    // Its last lines may still be on their way.
    await Promise.race([log.done, new Promise((r) => setTimeout(r, 2000).unref())])
  } else {
    why = `was not ready within ${Math.round(timeoutMs / 1000)} s (--service-timeout)`
    problems = await cluster.podProblems(plan.namespace, name).catch(() => [])
  }
  throw new ClusterError(
    serviceFailure(step.host ?? step.name, why, probe, problems, log.lines()),
    outcome.kind === 'ended'
      ? undefined
      : 'the service must accept connections on every TCP port it declares; a slow start needs a longer --service-timeout, another check --service-probe',
  )
}

function endedBeforeReady(state: PodState): string {
  if (state.kind === 'terminated')
    return `ended before it was ready (exit code ${state.exitCode}${state.reason && state.reason !== 'Completed' && state.reason !== 'Error' ? `, ${state.reason}` : ''})`
  if (state.kind === 'stuck') return `cannot start: ${state.reason}: ${state.message}`
  if (state.kind === 'lost') return `was lost before it was ready: ${state.message}`
  return 'is not ready'
}

/** The error of a service that is not ready (pure): what happened, the check, the kubelet's words, the last log lines. */
export function serviceFailure(name: string, why: string, probe: string, problems: string[], lines: string[]): string {
  const head = `service ${name} ${why} (checked: ${probe})${problems.length > 0 ? `: ${problems.join('; ')}` : ''}`
  if (lines.length === 0) return `${head}\n  (no log lines from ${name})`
  return `${head}\n  last log lines of ${name}:\n${lines.map((l) => `  | ${l}`).join('\n')}`
}

/** A service's summary line: how long it ran (from its pod's creation until it ended or the run stopped it), and when it was ready. */
export function serviceDuration(state: RunState, name: string, endedAt: number): {durationMs: number; ready?: string} {
  const started = serviceRecord(state).started.get(name)
  if (!started) return {durationMs: 0}
  return {
    durationMs: Math.max(0, endedAt - started.at),
    ...(started.readyMs === undefined ? {} : {ready: `ready after ${(started.readyMs / 1000).toFixed(1)}s`}),
  }
}

/** Exec's flags for services and caches. */
export interface ServiceFlags {
  'service-timeout'?: number
  'service-probe'?: string[]
  'port-forward'?: string[]
  'cache-size'?: string
}

/**
 * Applies `--service-probe` and `--cache-size` to the plans and assigns each `--port-forward` to its
 * workflow; any bad value is a usage error, before anything is created.
 */
export function applyServiceFlags<T extends {plan: RunPlan}>(
  runs: T[],
  flags: ServiceFlags,
): {runs: T[]; options: ServiceOptions} {
  const {probes, size, forwards} = parseServiceFlags(flags)
  const plans = withServiceProbes(
    runs.map((r) => r.plan),
    probes,
  ).map((plan) => (size === undefined ? plan : withCacheSize(plan, size)))
  const portForwards = assignPortForwards(forwards, plans)
  return {
    runs: runs.map((r, i) => ({...r, plan: plans[i]})),
    options: {
      ...(flags['service-timeout'] === undefined ? {} : {serviceTimeoutMs: flags['service-timeout'] * 1000}),
      portForwards,
    },
  }
}

/** The values of exec's service flags, checked on their own (before any cluster or plan is there). */
export function parseServiceFlags(flags: ServiceFlags): {
  probes: ServiceProbe[]
  size?: string
  forwards: PortForwardRequest[]
} {
  const probes = (flags['service-probe'] ?? []).map(parseServiceProbe)
  const twice = probes.find((p, i) => probes.findIndex((q) => q.service === p.service) !== i)
  if (twice) throw new UsageError(`--service-probe ${twice.service}: given twice`)
  const size = flags['cache-size']
  if (size !== undefined && !((parseQuantity(size) ?? 0) > 0))
    throw new UsageError(`--cache-size ${size}: not a Kubernetes quantity`, 'such as 512Mi, 1Gi or 5G')
  const forwards = (flags['port-forward'] ?? []).map(parsePortForward)
  const taken = forwards.filter((f) => f.local !== 0).map((f) => f.local)
  const clash = taken.find((port, i) => taken.indexOf(port) !== i)
  if (clash !== undefined) throw new UsageError(`--port-forward: local port ${clash} is given twice`)
  return {probes, ...(size === undefined ? {} : {size}), forwards}
}

function withCacheSize(plan: RunPlan, size: string): RunPlan {
  return {
    ...plan,
    caches: plan.caches?.map((c) => ({
      ...c,
      spec: {...c.spec, resources: {...c.spec?.resources, requests: {...c.spec?.resources?.requests, storage: size}}},
    })),
  }
}
