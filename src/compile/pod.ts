import type {
  V1Container,
  V1EnvVar,
  V1HostAlias,
  V1Pod,
  V1PodSecurityContext,
  V1Probe,
  V1SecurityContext,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node'
import type {BackendConfig} from '../config.js'
import type {Step} from '../pipeline/model.js'
import {ciVariables, pluginVariables, type StepContext} from './env.js'
import {LABELS, MANAGER, STEP_NAME_ANNOTATION, toDnsLabel, toLabelValue} from './names.js'
import {commandsScript, END_MARK_VAR, endMark, SCRIPT_COMMAND, shellQuote} from './script.js'
import {nativeSecretParts, secretEnvVars, secretRefs} from './secrets.js'

export const WORKSPACE_VOLUME = 'workspace'
export const STEP_CONTAINER = 'step'
/** The helper image: the checkout's helper pod, and the containers that probe a service's further ports. */
export const DEFAULT_HELPER_IMAGE = 'docker.io/library/busybox:1.35'
/** The agent's pod `fsGroup` unless the step sets one it may set. */
const DEFAULT_FS_GROUP = 1000

export interface PodNames {
  name: string
  namespace: string
  runId: string
  claimName: string
  /** The run's Secret with the `from_secret` values. */
  secretName?: string
  /** The image of the small containers that probe a service's further ports (see readiness); the helper image. */
  probeImage?: string
}

/**
 * The step's `backend_options.kubernetes` as the agent applies them: options the settings do not
 * allow from steps are left out (validate warns about each at its line).
 */
export function allowedOptions(step: Step, config: BackendConfig): Step['kubernetes'] {
  const k = {...step.kubernetes}
  if (!config.podLabelsAllowFromStep) delete k.labels
  if (!config.podAnnotationsAllowFromStep) delete k.annotations
  if (!config.podNodeSelectorAllowFromStep) delete k.nodeSelector
  if (!config.podTolerationsAllowFromStep) delete k.tolerations
  if (!config.podAffinityAllowFromStep) delete k.affinity
  if (!config.serviceAccountNameAllowFromStep) delete k.serviceAccountName
  if (!config.runtimeClassAllowFromStep) delete k.runtimeClassName
  if (!config.allowNativeSecrets) delete k.secrets
  return k
}

/**
 * Labels and annotations of a pod: the step's own (where allowed), the agent's over them, as the
 * agent merges them, then wpk8s's, which always win.
 */
export function podMetadata(step: Step, names: PodNames, config: BackendConfig, workflow: string) {
  const k = allowedOptions(step, config)
  const labels = {
    ...k.labels,
    ...config.podLabels,
    [LABELS.managedBy]: MANAGER,
    [LABELS.run]: names.runId,
    [LABELS.workflow]: toLabelValue(workflow),
    [LABELS.step]: toLabelValue(step.name),
  }
  const annotations = {...k.annotations, ...config.podAnnotations, [STEP_NAME_ANNOTATION]: step.name}
  return {name: names.name, namespace: names.namespace, labels: sorted(labels), annotations: sorted(annotations)}
}

/** Whether the pod mounts the workspace: `workspaceVolume: false` leaves it out of a service's pod, as the agent does. */
export function mountsWorkspace(step: Step): boolean {
  return !(step.kind === 'service' && step.kubernetes.workspaceVolume === false)
}

/** The step's `volumes` as pod volumes and mounts of existing claims. */
function claimVolumes(step: Step): {volumes: V1Volume[]; mounts: V1VolumeMount[]} {
  const claims = [...new Set(step.volumes.map((v) => v.claim))]
  const volumeName = (claim: string) => `claim-${toDnsLabel(claim, 57)}`
  return {
    volumes: claims.map((claim) => ({name: volumeName(claim), persistentVolumeClaim: {claimName: claim}})),
    mounts: step.volumes.map((v) => ({name: volumeName(v.claim), mountPath: v.path})),
  }
}

/** The pod that runs one step: pure function of the step, the run's names, the agent's settings and context. */
export function stepPod(step: Step, names: PodNames, config: BackendConfig, ctx: StepContext): V1Pod {
  const k = allowedOptions(step, config)
  const native = nativeSecretParts(k.secrets ?? [])
  const claims = claimVolumes(step)
  const workspace = mountsWorkspace(step)
    ? [{name: WORKSPACE_VOLUME, persistentVolumeClaim: {claimName: names.claimName}}]
    : []
  const spec: V1Pod['spec'] = {
    restartPolicy: 'Never',
    enableServiceLinks: false,
    nodeSelector: sorted({'kubernetes.io/arch': ctx.arch, ...config.podNodeSelector, ...k.nodeSelector}),
    securityContext: podSecurityContext(step, config),
    containers: [
      stepContainer(step, ctx, names, native, claims.mounts),
      ...portProbeContainers(step, names.probeImage ?? DEFAULT_HELPER_IMAGE),
    ],
    volumes: [...workspace, ...claims.volumes, ...native.volumes],
  }
  if (k.serviceAccountName) spec.serviceAccountName = k.serviceAccountName
  if (k.runtimeClassName) spec.runtimeClassName = k.runtimeClassName
  const tolerations = [...config.podTolerations, ...(k.tolerations ?? [])]
  if (tolerations.length > 0) spec.tolerations = tolerations as NonNullable<V1Pod['spec']>['tolerations']
  const affinity = k.affinity ?? config.podAffinity
  if (affinity) spec.affinity = affinity as NonNullable<V1Pod['spec']>['affinity']
  if (k.hostUsers !== undefined) spec.hostUsers = k.hostUsers
  if (step.extraHosts.length > 0) spec.hostAliases = step.extraHosts.map((h) => ({ip: h.ip, hostnames: [h.hostname]}))
  if (step.dns.length > 0 || step.dnsSearch.length > 0) {
    spec.dnsConfig = {
      ...(step.dns.length > 0 ? {nameservers: step.dns} : {}),
      ...(step.dnsSearch.length > 0 ? {searches: step.dnsSearch} : {}),
    }
  }
  const {imagePullSecrets, priorityClassName} = agentPodSpec(config)
  if (imagePullSecrets) spec.imagePullSecrets = imagePullSecrets
  if (priorityClassName) spec.priorityClassName = priorityClassName
  return {apiVersion: 'v1', kind: 'Pod', metadata: podMetadata(step, names, config, ctx.workflow.name), spec}
}

/**
 * What the agent's settings put on every pod it starts: its node selector, tolerations and affinity,
 * pull secrets and priority class. Also for pods wpk8s adds of its own, such as the helper that takes
 * the checkout, so they land where the steps do (the caller adds `kubernetes.io/arch`).
 */
export function agentPodSpec(config: BackendConfig): Partial<NonNullable<V1Pod['spec']>> {
  const spec: Partial<NonNullable<V1Pod['spec']>> = {}
  if (Object.keys(config.podNodeSelector).length > 0) spec.nodeSelector = sorted(config.podNodeSelector)
  if (config.podTolerations.length > 0)
    spec.tolerations = config.podTolerations as NonNullable<V1Pod['spec']>['tolerations']
  if (config.podAffinity) spec.affinity = config.podAffinity as NonNullable<V1Pod['spec']>['affinity']
  if (config.pullSecretNames.length > 0) spec.imagePullSecrets = config.pullSecretNames.map((name) => ({name}))
  if (config.priorityClass) spec.priorityClassName = config.priorityClass
  return spec
}

function stepContainer(
  step: Step,
  ctx: StepContext,
  names: PodNames,
  native: ReturnType<typeof nativeSecretParts>,
  claimMounts: V1VolumeMount[],
): V1Container {
  const isPlugin = step.commands.length === 0 && step.settings !== undefined
  const env: Record<string, string> = {...ciVariables(step, ctx), ...pluginVariables(step.settings), ...ctx.extraEnv}
  for (const [name, value] of Object.entries(step.environment)) if (typeof value === 'string') env[name] = value
  if (step.commands.length > 0)
    env.CI_SCRIPT = Buffer.from(commandsScript(step.commands, ctx.workdir)).toString('base64')
  if (step.commands.length > 0 && !step.entrypoint && !isPlugin) env[END_MARK_VAR] = endMark(names.runId)
  const workspace = mountsWorkspace(step) ? [{name: WORKSPACE_VOLUME, mountPath: ctx.workflow.workspace.base}] : []
  const container: V1Container = {
    name: STEP_CONTAINER,
    image: step.image,
    workingDir: ctx.workdir,
    env: [...envVars(env), ...secretEnvVars(secretRefs(step), names.secretName ?? ''), ...native.env],
    volumeMounts: [...workspace, ...claimMounts, ...native.mounts],
  }
  // As the agent: `pull: true` always pulls; otherwise Kubernetes decides (`:latest` and untagged images are pulled).
  if (step.pull) container.imagePullPolicy = 'Always'
  if (step.ports.length > 0) container.ports = step.ports.map((p) => ({containerPort: p.number, protocol: p.protocol}))
  const probed = probedPorts(step)
  if (probed.length > 0) container.readinessProbe = tcpProbe(probed[0])
  if (step.entrypoint) container.command = step.entrypoint
  else if (step.commands.length > 0 && !isPlugin) container.command = SCRIPT_COMMAND
  if (native.envFrom.length > 0) container.envFrom = native.envFrom
  if (step.kubernetes.resources) container.resources = step.kubernetes.resources
  const security = containerSecurityContext(step)
  if (security) container.securityContext = security
  return container
}

function envVars(env: Record<string, string>): V1EnvVar[] {
  return Object.keys(env)
    .sort()
    .map((name) => ({name, value: env[name]}))
}

/** Whether the step may run as UID/GID 0: only privileged steps, or pods in their own user namespace. */
function mayUseRoot(step: Step): boolean {
  return step.privileged || step.kubernetes.hostUsers === false
}

/**
 * The pod's security context as the agent builds it: `runAsNonRoot` from SECCTX_NONROOT (a step
 * cannot turn it off), IDs of 0 only where root is allowed, `fsGroup` 1000 unless the step sets one.
 */
export function podSecurityContext(step: Step, config: BackendConfig): V1PodSecurityContext {
  const sc = step.kubernetes.securityContext ?? {}
  const out: Record<string, unknown> = {fsGroup: DEFAULT_FS_GROUP}
  const nonRoot = config.secctxNonRoot ? true : sc.runAsNonRoot
  if (nonRoot !== undefined) out.runAsNonRoot = nonRoot
  for (const key of ['runAsUser', 'runAsGroup', 'fsGroup']) {
    const id = sc[key]
    if (typeof id === 'number' && (id !== 0 || mayUseRoot(step))) out[key] = id
  }
  if (sc.fsGroupChangePolicy !== undefined) out.fsGroupChangePolicy = sc.fsGroupChangePolicy
  const seccomp = profile(sc.seccompProfile)
  if (seccomp) out.seccompProfile = seccomp
  const apparmor = profile(sc.apparmorProfile)
  if (apparmor) out.appArmorProfile = apparmor
  return sorted(out) as V1PodSecurityContext
}

function profile(value: unknown): Record<string, unknown> | undefined {
  const p = value as {type?: string; localhostProfile?: string} | undefined
  if (!p?.type) return undefined
  return {type: p.type, ...(p.localhostProfile ? {localhostProfile: p.localhostProfile} : {})}
}

/**
 * The container's security context as the agent builds it: privileged only through the step's own
 * `privileged: true` (unless its securityContext says `privileged: false`), `allowPrivilegeEscalation`
 * only when false, and of `capabilities` only `drop`.
 */
export function containerSecurityContext(step: Step): V1SecurityContext | undefined {
  const sc = step.kubernetes.securityContext ?? {}
  const out: V1SecurityContext = {}
  if (step.privileged && sc.privileged !== false) out.privileged = true
  if (sc.allowPrivilegeEscalation === false) out.allowPrivilegeEscalation = false
  const drop = (sc.capabilities as {drop?: string[]} | undefined)?.drop
  if (drop && drop.length > 0) out.capabilities = {drop}
  return Object.keys(out).length > 0 ? out : undefined
}

export function sorted<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(
    Object.keys(record)
      .sort()
      .map((k) => [k, record[k]]),
  )
}

/** What is only known when a step starts: the pipeline's status so far, the time, the services' addresses. */
export interface StartContext {
  pipelineStatus: 'success' | 'failure'
  startedAt: number
  hostAliases: {hostnames: string[]; ip: string}[]
}

/** The planned pod with its start-time values filled in (pure). */
export function podAtStart(pod: V1Pod, start: StartContext): V1Pod {
  const container = pod.spec!.containers[0]
  const env = (container.env ?? []).map((e) => {
    if (e.name === 'CI_PIPELINE_STATUS') return {...e, value: start.pipelineStatus}
    if (e.name === 'CI_STEP_STARTED') return {...e, value: String(start.startedAt)}
    return e
  })
  // Any further containers (the probes of a service's other ports) stay as they are.
  const spec = {...pod.spec!, containers: [{...container, env}, ...pod.spec!.containers.slice(1)]}
  // The step's own `extra_hosts` first: in /etc/hosts the first entry of a name wins.
  const hostAliases: V1HostAlias[] = [...(pod.spec!.hostAliases ?? []), ...start.hostAliases]
  if (hostAliases.length > 0) spec.hostAliases = hostAliases
  return {...pod, spec}
}

const GATE_DIR = '/wpk8s-gate'
const GATE_VOLUME = 'wpk8s-gate'

/**
 * Whether a step's pod can be created ahead of its turn: a commands step (wpk8s controls its script)
 * without resource requests or limits, so that a waiting pod never holds room a due step needs.
 */
export function canCreateAhead(pod: V1Pod): boolean {
  const container = pod.spec!.containers[0]
  const resources = container.resources ?? {}
  const reserves = Object.keys(resources.requests ?? {}).length + Object.keys(resources.limits ?? {}).length > 0
  return !reserves && container.command !== undefined && container.command.join('\0') === SCRIPT_COMMAND.join('\0')
}

/**
 * A step pod created ahead of its turn, so the node starts it while earlier steps run: its script
 * waits for `go` in a small in-memory volume, reads the start-time values from `env` (written by the
 * command of gateRelease), then runs as usual. Shell builtins and `sleep` only.
 */
export function gatedPod(pod: V1Pod): V1Pod {
  const container = pod.spec!.containers[0]
  const wait = `until [ -e ${GATE_DIR}/go ]; do sleep 0.05 2>/dev/null || sleep 1; done; . ${GATE_DIR}/env; `
  const gated: V1Container = {
    ...container,
    command: [SCRIPT_COMMAND[0], SCRIPT_COMMAND[1], wait + SCRIPT_COMMAND[2]],
    volumeMounts: [...(container.volumeMounts ?? []), {name: GATE_VOLUME, mountPath: GATE_DIR}],
  }
  const volumes = [...(pod.spec!.volumes ?? []), {name: GATE_VOLUME, emptyDir: {medium: 'Memory', sizeLimit: '1Mi'}}]
  return {...pod, spec: {...pod.spec!, containers: [gated, ...pod.spec!.containers.slice(1)], volumes}}
}

/**
 * The command, run in a gated pod's container, that releases it with the values known only now. Run
 * twice, the second time changes nothing (the step may already be reading `env`).
 */
export function gateRelease(start: StartContext): string[] {
  const env = `export CI_PIPELINE_STATUS=${shellQuote(start.pipelineStatus)} CI_STEP_STARTED=${shellQuote(String(start.startedAt))}\n`
  return [
    '/bin/sh',
    '-c',
    `[ -e ${GATE_DIR}/go ] || { printf '%s' "$1" > ${GATE_DIR}/env && : > ${GATE_DIR}/go; }`,
    'release',
    env,
  ]
}

// Readiness of services and detached steps (see README "Services"): Woodpecker starts the steps as
// soon as a service's pod is created; wpk8s waits until every TCP port the service declares accepts
// connections, checked by the kubelet on the node (the pod IP, no DNS or Service needed).

/** How often the kubelet tries a port: a service is seen ready at most about a second after it listens. */
export const PROBE_PERIOD_SECONDS = 1
/** Containers that only probe one more port of a service: `wpk8s-port-<port>` (sorted after `step`). */
export const PORT_PROBE_PREFIX = 'wpk8s-port-'

/** The TCP ports a background step's readiness waits for: its declared TCP ports, once each, in order. */
export function probedPorts(step: Step): number[] {
  if (step.kind !== 'service' && !step.detach) return []
  return [...new Set(step.ports.filter((p) => p.protocol !== 'UDP').map((p) => p.number))]
}

/** A TCP connect to the pod's port, tried every second; one success makes it ready. */
export function tcpProbe(port: number): V1Probe {
  return {
    tcpSocket: {port},
    periodSeconds: PROBE_PERIOD_SECONDS,
    timeoutSeconds: 1,
    successThreshold: 1,
    failureThreshold: 3,
  }
}

/**
 * A pod has one readiness probe per container: the step's container probes the first port, and each
 * further port gets a container of its own that only waits (`sh` and `sleep` of the helper image, as
 * nobody, no privileges, a few MiB) and carries that port's probe. The pod is Ready when all are.
 */
export function portProbeContainers(step: Step, image: string): V1Container[] {
  return probedPorts(step)
    .slice(1)
    .map((port) => ({
      name: `${PORT_PROBE_PREFIX}${port}`,
      image,
      imagePullPolicy: 'IfNotPresent',
      // Ends at once when the pod is deleted (as PID 1, sleep alone would ignore SIGTERM).
      command: ['sh', '-c', 'trap "exit 0" TERM; sleep 2147483647 & wait'],
      readinessProbe: tcpProbe(port),
      resources: {requests: {cpu: '1m', memory: '4Mi'}, limits: {cpu: '50m', memory: '16Mi'}},
      securityContext: {
        runAsUser: 65534,
        runAsGroup: 65534,
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        capabilities: {drop: ['ALL']},
      },
    }))
}

/** Whether the pod's readiness is to be waited for: one of its containers has a readiness probe. */
export function hasReadinessProbe(pod: V1Pod): boolean {
  return pod.spec!.containers.some((c) => c.readinessProbe !== undefined)
}

/** The pod's readiness checks in words: `tcp 5432, tcp 8080`, `http 8080 /healthz`, `exec pg_isready`. */
export function describeReadiness(pod: V1Pod): string {
  return pod.spec!.containers.flatMap((c) => (c.readinessProbe ? [describeProbe(c.readinessProbe)] : [])).join(', ')
}

export function describeProbe(probe: V1Probe): string {
  if (probe.tcpSocket) return `tcp ${probe.tcpSocket.port}`
  if (probe.httpGet) return `http ${probe.httpGet.port} ${probe.httpGet.path ?? '/'}`
  if (probe.exec) return `exec ${(probe.exec.command ?? []).slice(2).join(' ') || (probe.exec.command ?? []).join(' ')}`
  return 'probe'
}
