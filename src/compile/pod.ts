import type {V1Container, V1EnvVar, V1Pod, V1PodSecurityContext, V1SecurityContext, V1Volume, V1VolumeMount} from '@kubernetes/client-node'
import type {BackendConfig} from '../config.js'
import type {NativeSecret, Step} from '../pipeline/model.js'
import {ciVariables, pluginVariables, type StepContext} from './env.js'
import {LABELS, MANAGER, STEP_NAME_ANNOTATION, toLabelValue} from './names.js'
import {commandsScript, END_MARK_VAR, endMark, SCRIPT_COMMAND, shellQuote} from './script.js'
import {secretEnvVars, secretRefs} from './secrets.js'

export const WORKSPACE_VOLUME = 'workspace'
export const STEP_CONTAINER = 'step'
const DEFAULT_FS_GROUP = 1000
const POD_SECURITY_KEYS = ['runAsNonRoot', 'runAsUser', 'runAsGroup', 'fsGroup', 'fsGroupChangePolicy', 'seccompProfile']

export interface PodNames {
  name: string
  namespace: string
  runId: string
  claimName: string
  /** The run's Secret with the `from_secret` values. */
  secretName?: string
}

/** Labels and annotations every pod of a run carries: configuration first, the step's own over them. */
export function podMetadata(step: Step, names: PodNames, config: BackendConfig, workflow: string) {
  const labels = {
    ...config.podLabels,
    ...step.kubernetes.labels,
    [LABELS.managedBy]: MANAGER,
    [LABELS.run]: names.runId,
    [LABELS.workflow]: toLabelValue(workflow),
    [LABELS.step]: toLabelValue(step.name),
  }
  const annotations = {...config.podAnnotations, ...step.kubernetes.annotations, [STEP_NAME_ANNOTATION]: step.name}
  return {name: names.name, namespace: names.namespace, labels: sorted(labels), annotations: sorted(annotations)}
}

/** The pod that runs one step: pure function of the step, the run's names, configuration and context. */
export function stepPod(step: Step, names: PodNames, config: BackendConfig, ctx: StepContext): V1Pod {
  const k = step.kubernetes
  const spec: V1Pod['spec'] = {
    restartPolicy: 'Never',
    enableServiceLinks: false,
    nodeSelector: sorted({'kubernetes.io/arch': ctx.arch, ...k.nodeSelector}),
    securityContext: podSecurityContext(k.securityContext),
    containers: [stepContainer(step, ctx, names)],
    volumes: [{name: WORKSPACE_VOLUME, persistentVolumeClaim: {claimName: names.claimName}}, ...secretVolumes(k.secrets)],
  }
  if (k.serviceAccountName) spec.serviceAccountName = k.serviceAccountName
  if (k.runtimeClassName) spec.runtimeClassName = k.runtimeClassName
  if (k.tolerations) spec.tolerations = k.tolerations as NonNullable<V1Pod['spec']>['tolerations']
  if (k.affinity) spec.affinity = k.affinity as NonNullable<V1Pod['spec']>['affinity']
  if (k.hostUsers !== undefined) spec.hostUsers = k.hostUsers
  return {apiVersion: 'v1', kind: 'Pod', metadata: podMetadata(step, names, config, ctx.workflow.name), spec}
}

function stepContainer(step: Step, ctx: StepContext, names: PodNames): V1Container {
  const isPlugin = step.commands.length === 0 && step.settings !== undefined
  const env: Record<string, string> = {...ciVariables(step, ctx), ...pluginVariables(step.settings), ...ctx.extraEnv}
  for (const [name, value] of Object.entries(step.environment)) if (typeof value === 'string') env[name] = value
  if (step.commands.length > 0) env.CI_SCRIPT = Buffer.from(commandsScript(step.commands, ctx.workdir)).toString('base64')
  if (step.commands.length > 0 && !step.entrypoint && !isPlugin) env[END_MARK_VAR] = endMark(names.runId)
  const container: V1Container = {
    name: STEP_CONTAINER,
    image: step.image,
    imagePullPolicy: step.pull ? 'Always' : 'IfNotPresent',
    workingDir: ctx.workdir,
    env: [...envVars(env), ...secretEnvVars(secretRefs(step), names.secretName ?? ''), ...secretEnv(step.kubernetes.secrets)],
    volumeMounts: [{name: WORKSPACE_VOLUME, mountPath: ctx.workflow.workspace.base}, ...secretMounts(step.kubernetes.secrets)],
  }
  if (step.entrypoint) container.command = step.entrypoint
  else if (step.commands.length > 0 && !isPlugin) container.command = SCRIPT_COMMAND
  const envFrom = (step.kubernetes.secrets ?? []).filter((s) => !s.key).map((s) => ({secretRef: {name: s.name}}))
  if (envFrom.length > 0) container.envFrom = envFrom
  if (step.kubernetes.resources) container.resources = step.kubernetes.resources
  const security = containerSecurityContext(step)
  if (security) container.securityContext = security
  return container
}

function envVars(env: Record<string, string>): V1EnvVar[] {
  return Object.keys(env).sort().map((name) => ({name, value: env[name]}))
}

function podSecurityContext(sc: Record<string, unknown> | undefined): V1PodSecurityContext {
  const out: Record<string, unknown> = {fsGroup: DEFAULT_FS_GROUP}
  for (const key of POD_SECURITY_KEYS) if (sc?.[key] !== undefined) out[key] = sc[key]
  return out as V1PodSecurityContext
}

function containerSecurityContext(step: Step): V1SecurityContext | undefined {
  const sc = step.kubernetes.securityContext ?? {}
  const out: Record<string, unknown> = {}
  if (step.privileged || sc.privileged !== undefined) out.privileged = step.privileged || sc.privileged === true
  if (sc.allowPrivilegeEscalation !== undefined) out.allowPrivilegeEscalation = sc.allowPrivilegeEscalation
  if (sc.capabilities !== undefined) out.capabilities = sc.capabilities
  if (sc.apparmorProfile !== undefined) out.appArmorProfile = sc.apparmorProfile
  return Object.keys(out).length > 0 ? (out as V1SecurityContext) : undefined
}

function secretEnv(secrets: NativeSecret[] | undefined): V1EnvVar[] {
  return (secrets ?? []).filter((s) => s.key && s.target?.env).map((s) => ({name: s.target!.env!, valueFrom: {secretKeyRef: {name: s.name, key: s.key!}}}))
}

function fileSecrets(secrets: NativeSecret[] | undefined): NativeSecret[] {
  return (secrets ?? []).filter((s) => s.key && s.target?.file)
}

function secretVolumes(secrets: NativeSecret[] | undefined): V1Volume[] {
  return fileSecrets(secrets).map((s, i) => ({name: `secret-${i}`, secret: {secretName: s.name, items: [{key: s.key!, path: 'value'}]}}))
}

function secretMounts(secrets: NativeSecret[] | undefined): V1VolumeMount[] {
  return fileSecrets(secrets).map((s, i) => ({name: `secret-${i}`, mountPath: s.target!.file!, subPath: 'value', readOnly: true}))
}

export function sorted<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.keys(record).sort().map((k) => [k, record[k]]))
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
  const spec = {...pod.spec!, containers: [{...container, env}]}
  if (start.hostAliases.length > 0) spec.hostAliases = start.hostAliases
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
  return {...pod, spec: {...pod.spec!, containers: [gated], volumes}}
}

/**
 * The command, run in a gated pod's container, that releases it with the values known only now. Run
 * twice, the second time changes nothing (the step may already be reading `env`).
 */
export function gateRelease(start: StartContext): string[] {
  const env = `export CI_PIPELINE_STATUS=${shellQuote(start.pipelineStatus)} CI_STEP_STARTED=${shellQuote(String(start.startedAt))}\n`
  return ['/bin/sh', '-c', `[ -e ${GATE_DIR}/go ] || { printf '%s' "$1" > ${GATE_DIR}/env && : > ${GATE_DIR}/go; }`, 'release', env]
}
