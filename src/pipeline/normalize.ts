import {quantityText, weakBool, weakInt, weakString, weakStringList} from '../validate/kube-rules.js'
import {entriesOf, type Entry} from './entries.js'
import type {EnvValue, HostAlias, KubernetesOptions, NativeSecret, Port, Step, StepVolume, Workflow} from './model.js'

type Data = Record<string, unknown>

export const DEFAULT_WORKSPACE = {base: '/woodpecker', path: 'src'}

/** The typed workflow of data that passed validation (so shapes are known to be right). */
export function toWorkflow(name: string, file: string, data: Data, matrixRow: Record<string, string> = {}): Workflow {
  const workspace = (data.workspace ?? {}) as Partial<Workflow['workspace']>
  const values = Object.entries(matrixRow)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ')
  return {
    name,
    matrixRow,
    title: values ? `${name} (${values})` : name,
    file,
    steps: entriesOf(data.steps, 'steps').map((e) => toStep(e, 'step')),
    services: entriesOf(data.services, 'services').map((e) => toStep(e, 'service')),
    when: data.when,
    dependsOn: (dependencies(data.depends_on ?? []) ?? []).map((d) => d.name),
    runsOn: data.runs_on === undefined ? ['success'] : (list(data.runs_on) as Workflow['runsOn']),
    matrix: data.matrix,
    workspace: {base: workspace.base ?? DEFAULT_WORKSPACE.base, path: workspace.path ?? DEFAULT_WORKSPACE.path},
    labels: stringRecord(data.labels),
    skipClone: data.skip_clone === true,
  }
}

function toStep(entry: Entry, kind: Step['kind']): Step {
  const raw = entry.value as Data
  const step: Step = {
    name: entry.name,
    kind,
    path: entry.path,
    image: String(raw.image),
    pull: raw.pull === true,
    commands: list(raw.commands),
    environment: environment(raw.environment),
    when: raw.when,
    detach: raw.detach === true,
    failure: raw.failure === 'ignore' ? 'ignore' : 'fail',
    privileged: raw.privileged === true,
    ports: ports(raw.ports),
    extraHosts: extraHosts(raw.extra_hosts),
    dns: list(raw.dns),
    dnsSearch: list(raw.dns_search),
    volumes: volumes(raw.volumes),
    kubernetes: kubernetesOptions((raw.backend_options as Data | undefined)?.kubernetes),
  }
  if (raw.entrypoint !== undefined) step.entrypoint = list(raw.entrypoint)
  if (raw.settings !== undefined) step.settings = raw.settings as Data
  if (raw.directory !== undefined) step.directory = String(raw.directory)
  if (raw.depends_on !== undefined) step.dependsOn = dependencies(raw.depends_on)
  return step
}

function list(value: unknown): string[] {
  if (value === undefined || value === null) return []
  return (Array.isArray(value) ? value : [value]).map(String)
}

function stringRecord(value: unknown): Record<string, string> {
  return Object.fromEntries(Object.entries((value ?? {}) as Data).map(([k, v]) => [k, v === null ? '' : String(v)]))
}

function environment(value: unknown): Record<string, EnvValue> {
  const out: Record<string, EnvValue> = {}
  for (const [k, v] of Object.entries((value ?? {}) as Data)) {
    if (v !== null && typeof v === 'object' && 'from_secret' in v)
      out[k] = {fromSecret: String((v as Data).from_secret)}
    else if (Array.isArray(v) && v.every((item) => item === null || typeof item !== 'object')) out[k] = v.join(',')
    else if (v !== null && typeof v === 'object') out[k] = JSON.stringify(v)
    else out[k] = v === null ? '' : String(v)
  }
  return out
}

function dependencies(value: unknown): Step['dependsOn'] {
  return (Array.isArray(value) ? value : [value]).map((d) =>
    typeof d === 'object' && d !== null
      ? {name: String((d as Data).name), optional: (d as Data).optional === true}
      : {name: String(d), optional: false},
  )
}

/** `8080`, `"53/udp"` or `{number: 53, protocol: udp}`. */
function ports(value: unknown): Port[] {
  return ((value ?? []) as unknown[]).map((p) => {
    const text =
      typeof p === 'object' && p !== null
        ? `${String((p as Data).number)}${(p as Data).protocol ? `/${String((p as Data).protocol)}` : ''}`
        : String(p)
    const [number, protocol = 'tcp'] = text.split('/')
    return {number: Number(number), protocol: protocol.toLowerCase() === 'udp' ? 'UDP' : 'TCP'}
  })
}

/** `extra_hosts: ["host:ip"]`, split at the first `:` as Woodpecker's compiler does (IPv6 keeps its colons). */
function extraHosts(value: unknown): HostAlias[] {
  return list(value).map((entry) => {
    const at = entry.indexOf(':')
    return {hostname: entry.slice(0, at), ip: entry.slice(at + 1)}
  })
}

/** `volumes: ["claim:/path"]`: on the Kubernetes backend the part before `:` names a claim; a mode after the path is not used. */
function volumes(value: unknown): StepVolume[] {
  return list(value).map((entry) => {
    const [claim, path] = entry.split(':')
    return {claim, path: path ?? claim}
  })
}

const stringRecordWeak = (value: unknown): Record<string, string> =>
  Object.fromEntries(Object.entries((value ?? {}) as Data).map(([k, v]) => [k, weakString(v) ?? '']))

/**
 * `backend_options.kubernetes` with the values the agent's weakly typed decoding gives (validation
 * has refused what it cannot decode): `runAsUser: "1000"` is 1000, `labels: {a: 1}` is "1".
 */
function kubernetesOptions(value: unknown): KubernetesOptions {
  const raw = (value ?? {}) as Data
  const out: KubernetesOptions = {}
  if (isMap(raw.resources)) {
    const quantities = (v: unknown) =>
      Object.fromEntries(Object.entries((v ?? {}) as Data).map(([k, q]) => [k, quantityText(q) ?? String(q)]))
    out.resources = {}
    if (raw.resources.requests !== undefined) out.resources.requests = quantities(raw.resources.requests)
    if (raw.resources.limits !== undefined) out.resources.limits = quantities(raw.resources.limits)
  }
  if (raw.serviceAccountName !== undefined) out.serviceAccountName = weakString(raw.serviceAccountName)
  if (raw.runtimeClassName !== undefined) out.runtimeClassName = weakString(raw.runtimeClassName)
  if (raw.nodeSelector !== undefined) out.nodeSelector = stringRecordWeak(raw.nodeSelector)
  if (raw.labels !== undefined) out.labels = stringRecordWeak(raw.labels)
  if (raw.annotations !== undefined) out.annotations = stringRecordWeak(raw.annotations)
  if (Array.isArray(raw.tolerations)) out.tolerations = raw.tolerations.map(toleration)
  if (isMap(raw.securityContext)) out.securityContext = securityContext(raw.securityContext)
  if (isMap(raw.affinity)) out.affinity = raw.affinity
  if (Array.isArray(raw.secrets)) out.secrets = raw.secrets.map(nativeSecret)
  if (raw.hostUsers !== undefined) out.hostUsers = weakBool(raw.hostUsers)
  if (raw.workspaceVolume !== undefined) out.workspaceVolume = weakBool(raw.workspaceVolume)
  return out
}

function isMap(value: unknown): value is Data {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function toleration(value: unknown): Record<string, unknown> {
  const t = (value ?? {}) as Data
  const out: Record<string, unknown> = {}
  for (const key of ['key', 'operator', 'value', 'effect']) if (t[key] !== undefined) out[key] = weakString(t[key])
  if (t.tolerationSeconds !== undefined) out.tolerationSeconds = weakInt(t.tolerationSeconds)
  return out
}

function securityContext(sc: Data): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const key of ['privileged', 'runAsNonRoot', 'allowPrivilegeEscalation'])
    if (sc[key] !== undefined) out[key] = weakBool(sc[key])
  for (const key of ['runAsUser', 'runAsGroup', 'fsGroup']) if (sc[key] !== undefined) out[key] = weakInt(sc[key])
  if (sc.fsGroupChangePolicy !== undefined) out.fsGroupChangePolicy = weakString(sc.fsGroupChangePolicy)
  for (const key of ['seccompProfile', 'apparmorProfile']) {
    if (!isMap(sc[key])) continue
    const profile = sc[key] as Data
    out[key] = {
      type: weakString(profile.type),
      ...(profile.localhostProfile !== undefined ? {localhostProfile: weakString(profile.localhostProfile)} : {}),
    }
  }
  if (isMap(sc.capabilities)) {
    const caps = sc.capabilities
    out.capabilities = {
      ...(caps.add !== undefined ? {add: weakStringList(caps.add)} : {}),
      ...(caps.drop !== undefined ? {drop: weakStringList(caps.drop)} : {}),
    }
  }
  return out
}

function nativeSecret(value: unknown): NativeSecret {
  const s = (value ?? {}) as Data
  const target = isMap(s.target) ? s.target : {}
  const secret: NativeSecret = {name: weakString(s.name) ?? ''}
  if (s.key !== undefined && s.key !== '') secret.key = weakString(s.key)
  const env = target.env === undefined ? undefined : weakString(target.env)
  const file = target.file === undefined ? undefined : weakString(target.file)
  if (env || file) secret.target = {...(env ? {env} : {}), ...(file ? {file} : {})}
  return secret
}
