import type {Path} from '../pipeline/source.js'
import type {IssueCollector} from './issue.js'
import {dns1123Subdomain, envName, labelValue, parseQuantity, qualifiedName, quantityText, secretKey} from './kube-rules.js'
import {checkKeys, checkStringMap, expectBool, expectEnum, expectInteger, expectMap, expectString, type Data} from './shape.js'

export const KUBERNETES_OPTION_KEYS = [
  'resources', 'serviceAccountName', 'nodeSelector', 'tolerations', 'securityContext', 'runtimeClassName',
  'labels', 'annotations', 'affinity', 'secrets', 'hostUsers', 'workspaceVolume',
] as const

/** Checks `backend_options.kubernetes` of a step or service, which Woodpecker would only log and ignore. */
export function checkKubernetesOptions(c: IssueCollector, path: Path, value: unknown): void {
  if (!expectMap(c, path, value)) return
  checkKeys(c, path, value, KUBERNETES_OPTION_KEYS)
  const at = (key: string): Path => [...path, key]
  if ('resources' in value) checkResources(c, at('resources'), value.resources)
  if ('serviceAccountName' in value) expectString(c, at('serviceAccountName'), value.serviceAccountName, dns1123Subdomain)
  if ('runtimeClassName' in value) expectString(c, at('runtimeClassName'), value.runtimeClassName, dns1123Subdomain)
  if ('nodeSelector' in value) checkStringMap(c, at('nodeSelector'), value.nodeSelector, qualifiedName, labelValue)
  if ('labels' in value) checkStringMap(c, at('labels'), value.labels, qualifiedName, labelValue)
  if ('annotations' in value) checkStringMap(c, at('annotations'), value.annotations, qualifiedName)
  if ('tolerations' in value) checkTolerations(c, at('tolerations'), value.tolerations)
  if ('securityContext' in value) checkSecurityContext(c, at('securityContext'), value.securityContext)
  if ('affinity' in value && expectMap(c, at('affinity'), value.affinity)) checkKeys(c, at('affinity'), value.affinity, ['nodeAffinity', 'podAffinity', 'podAntiAffinity'])
  if ('secrets' in value) checkNativeSecrets(c, at('secrets'), value.secrets)
  if ('hostUsers' in value) expectBool(c, at('hostUsers'), value.hostUsers)
  if ('workspaceVolume' in value) expectBool(c, at('workspaceVolume'), value.workspaceVolume)
}

function checkResources(c: IssueCollector, path: Path, value: unknown): void {
  if (!expectMap(c, path, value)) return
  checkKeys(c, path, value, ['requests', 'limits'])
  const requests = quantities(c, [...path, 'requests'], value.requests)
  const limits = quantities(c, [...path, 'limits'], value.limits)
  for (const [name, request] of requests) {
    const limit = limits.get(name)
    if (limit !== undefined && request > limit) {
      c.error([...path, 'requests', name], `request is above the limit of ${String((value.limits as Data)[name])}`, {
        expected: `at most the limit (resources.limits.${name})`,
        found: (value.requests as Data)[name],
      })
    }
  }
}

/** Parses a requests/limits map, reporting bad names and quantities; returns the valid ones. */
function quantities(c: IssueCollector, path: Path, value: unknown): Map<string, number> {
  const parsed = new Map<string, number>()
  if (value === undefined || !expectMap(c, path, value)) return parsed
  for (const [name, raw] of Object.entries(value)) {
    const nameProblem = qualifiedName(name)
    if (nameProblem) c.error([...path, name], `invalid resource name \`${name}\`: ${nameProblem}`, {atKey: true})
    const text = quantityText(raw)
    const amount = text === undefined ? undefined : parseQuantity(text)
    if (amount === undefined || amount < 0) {
      c.error([...path, name], amount === undefined ? 'not a Kubernetes quantity' : 'a quantity must not be negative', {
        expected: 'a quantity such as 128Mi, 1Gi, 500m, 2 or 1.5',
        found: raw,
      })
      continue
    }
    parsed.set(name, amount)
  }
  return parsed
}

function checkTolerations(c: IssueCollector, path: Path, value: unknown): void {
  if (!Array.isArray(value)) {
    c.error(path, 'must be a list of tolerations', {expected: 'a list', found: value})
    return
  }
  value.forEach((item, i) => checkToleration(c, [...path, i], item))
}

function checkToleration(c: IssueCollector, path: Path, t: unknown): void {
  if (!expectMap(c, path, t)) return
  checkKeys(c, path, t, ['key', 'operator', 'value', 'effect', 'tolerationSeconds'])
  const at = (key: string): Path => [...path, key]
  if ('key' in t && expectString(c, at('key'), t.key) && t.key !== '') {
    const bad = qualifiedName(t.key)
    if (bad) c.error(at('key'), `invalid taint key: ${bad}`, {found: t.key})
  }
  const operator = t.operator ?? 'Equal'
  if ('operator' in t) expectEnum(c, at('operator'), t.operator, ['Exists', 'Equal'])
  if ('value' in t && expectString(c, at('value'), t.value)) {
    if (operator === 'Exists' && t.value !== '') c.error(at('value'), 'a toleration with operator Exists must not have a value', {found: t.value, hint: 'remove `value`, or use operator: Equal'})
    const bad = labelValue(t.value)
    if (bad && operator !== 'Exists') c.error(at('value'), `invalid taint value: ${bad}`, {found: t.value})
  }
  if ((t.key === undefined || t.key === '') && operator !== 'Exists') {
    c.error(path, 'a toleration without a key must use operator Exists', {hint: 'set `key`, or `operator: Exists` to tolerate every taint'})
  }
  if ('effect' in t && t.effect !== '') expectEnum(c, at('effect'), t.effect, ['NoSchedule', 'PreferNoSchedule', 'NoExecute'])
  if ('tolerationSeconds' in t && expectInteger(c, at('tolerationSeconds'), t.tolerationSeconds) && t.effect !== 'NoExecute') {
    c.warn(at('tolerationSeconds'), `tolerationSeconds only applies to effect NoExecute, not ${t.effect ?? 'an empty effect'}: Kubernetes rejects this toleration`, {hint: 'use effect: NoExecute, or remove tolerationSeconds'})
  }
}

const PROFILE_TYPES = ['RuntimeDefault', 'Localhost', 'Unconfined']

function checkSecurityContext(c: IssueCollector, path: Path, value: unknown): void {
  if (!expectMap(c, path, value)) return
  const booleans = ['privileged', 'runAsNonRoot', 'allowPrivilegeEscalation']
  const ids = ['runAsUser', 'runAsGroup', 'fsGroup']
  checkKeys(c, path, value, [...booleans, ...ids, 'fsGroupChangePolicy', 'seccompProfile', 'apparmorProfile', 'capabilities'])
  const at = (key: string): Path => [...path, key]
  for (const key of booleans) if (key in value) expectBool(c, at(key), value[key])
  for (const key of ids) if (key in value) expectInteger(c, at(key), value[key])
  if ('fsGroupChangePolicy' in value) expectEnum(c, at('fsGroupChangePolicy'), value.fsGroupChangePolicy, ['OnRootMismatch', 'Always'])
  for (const key of ['seccompProfile', 'apparmorProfile']) if (key in value) checkProfile(c, at(key), value[key])
  if (value.runAsNonRoot === true && value.runAsUser === 0) c.error(at('runAsUser'), 'runAsUser 0 is root, which runAsNonRoot: true forbids', {found: 0})
  if (value.privileged === true && value.allowPrivilegeEscalation === false) {
    c.error(at('allowPrivilegeEscalation'), 'a privileged container always allows privilege escalation', {hint: 'drop one of the two settings'})
  }
  if ('capabilities' in value && expectMap(c, at('capabilities'), value.capabilities)) {
    checkKeys(c, at('capabilities'), value.capabilities, ['add', 'drop'])
    for (const key of ['add', 'drop']) {
      const list = value.capabilities[key]
      if (list === undefined) continue
      if (!Array.isArray(list)) c.error([...path, 'capabilities', key], 'must be a list of capability names', {expected: 'a list such as [ALL] or [NET_RAW]', found: list})
      else list.forEach((cap, i) => expectString(c, [...path, 'capabilities', key, i], cap))
    }
  }
}

function checkProfile(c: IssueCollector, path: Path, value: unknown): void {
  if (!expectMap(c, path, value)) return
  checkKeys(c, path, value, ['type', 'localhostProfile'])
  if (!expectEnum(c, [...path, 'type'], value.type, PROFILE_TYPES)) return
  if (value.type === 'Localhost' && typeof value.localhostProfile !== 'string') {
    c.error([...path, 'localhostProfile'], 'type Localhost needs `localhostProfile`', {expected: 'a profile path', found: value.localhostProfile})
  }
  if (value.type !== 'Localhost' && 'localhostProfile' in value) c.error([...path, 'localhostProfile'], 'only type Localhost takes `localhostProfile`', {atKey: true})
}

/** Native Kubernetes Secret references: `{name, key, target: {env | file}}`. */
function checkNativeSecrets(c: IssueCollector, path: Path, value: unknown): void {
  if (!Array.isArray(value)) {
    c.error(path, 'must be a list of secret references', {expected: 'a list of {name, key, target}', found: value})
    return
  }
  value.forEach((item, i) => {
    const at = [...path, i]
    if (!expectMap(c, at, item)) return
    checkKeys(c, at, item, ['name', 'key', 'target'])
    if (!('name' in item)) c.error(at, 'a secret reference needs `name`', {expected: 'the name of a Kubernetes Secret'})
    else expectString(c, [...at, 'name'], item.name, dns1123Subdomain)
    if ('key' in item) expectString(c, [...at, 'key'], item.key, secretKey)
    if (!('target' in item)) {
      if ('key' in item) c.error(at, 'a secret reference with `key` needs `target` (env or file)', {hint: 'add `target: {env: NAME}` or `target: {file: /path}`; without `key` every key becomes an env variable'})
      return
    }
    if (!('key' in item)) c.error([...at, 'target'], '`target` needs `key`: which key of the Secret to deliver', {atKey: true})
    checkSecretTarget(c, [...at, 'target'], item.target)
  })
}

function checkSecretTarget(c: IssueCollector, path: Path, target: unknown): void {
  if (!expectMap(c, path, target)) return
  checkKeys(c, path, target, ['env', 'file'])
  const kinds = ['env', 'file'].filter((k) => k in target)
  if (kinds.length !== 1) c.error(path, 'a target is exactly one of `env` or `file`', {found: target})
  if ('env' in target) expectString(c, [...path, 'env'], target.env, envName)
  if ('file' in target && expectString(c, [...path, 'file'], target.file) && !target.file.startsWith('/')) {
    c.error([...path, 'file'], 'must be an absolute path', {found: target.file})
  }
}
