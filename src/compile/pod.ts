import type {V1Container, V1EnvVar, V1Pod, V1PodSecurityContext, V1SecurityContext, V1Volume, V1VolumeMount} from '@kubernetes/client-node'
import type {BackendConfig} from '../config.js'
import type {NativeSecret, Step} from '../pipeline/model.js'
import {ciVariables, pluginVariables, type StepContext} from './env.js'
import {LABELS, MANAGER, STEP_NAME_ANNOTATION, toLabelValue} from './names.js'
import {commandsScript, SCRIPT_COMMAND} from './script.js'
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
    containers: [stepContainer(step, ctx, names.secretName)],
    volumes: [{name: WORKSPACE_VOLUME, persistentVolumeClaim: {claimName: names.claimName}}, ...secretVolumes(k.secrets)],
  }
  if (k.serviceAccountName) spec.serviceAccountName = k.serviceAccountName
  if (k.runtimeClassName) spec.runtimeClassName = k.runtimeClassName
  if (k.tolerations) spec.tolerations = k.tolerations as NonNullable<V1Pod['spec']>['tolerations']
  if (k.affinity) spec.affinity = k.affinity as NonNullable<V1Pod['spec']>['affinity']
  if (k.hostUsers !== undefined) spec.hostUsers = k.hostUsers
  return {apiVersion: 'v1', kind: 'Pod', metadata: podMetadata(step, names, config, ctx.workflow.name), spec}
}

function stepContainer(step: Step, ctx: StepContext, secretName = ''): V1Container {
  const isPlugin = step.commands.length === 0 && step.settings !== undefined
  const env: Record<string, string> = {...ciVariables(step, ctx), ...pluginVariables(step.settings), ...ctx.extraEnv}
  for (const [name, value] of Object.entries(step.environment)) if (typeof value === 'string') env[name] = value
  if (step.commands.length > 0) env.CI_SCRIPT = Buffer.from(commandsScript(step.commands, ctx.workdir)).toString('base64')
  const container: V1Container = {
    name: STEP_CONTAINER,
    image: step.image,
    imagePullPolicy: step.pull ? 'Always' : 'IfNotPresent',
    workingDir: ctx.workdir,
    env: [...envVars(env), ...secretEnvVars(secretRefs(step), secretName), ...secretEnv(step.kubernetes.secrets)],
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
