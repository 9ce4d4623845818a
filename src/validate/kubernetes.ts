import {type BackendConfig, PREFIX, settingsForChecks, STEP_OPTION_GATES} from '../config.js'
import type {Path} from '../pipeline/source.js'
import type {IssueCollector, IssueDetails} from './issue.js'
import {
  dns1123Subdomain,
  envName,
  ipAddress,
  labelValue,
  parseQuantity,
  qualifiedName,
  quantityText,
  type Rule,
  secretKey,
  weakBool,
  weakInt,
  weakString,
  weakStringList,
} from './kube-rules.js'
import {checkKeys, expectEnum, expectMap, isMap, type Data} from './shape.js'

export const KUBERNETES_OPTION_KEYS = [
  'resources',
  'serviceAccountName',
  'nodeSelector',
  'tolerations',
  'securityContext',
  'runtimeClassName',
  'labels',
  'annotations',
  'affinity',
  'secrets',
  'hostUsers',
  'workspaceVolume',
] as const

/** The step the options belong to, as far as the agent's rules depend on it. */
export interface OptionContext {
  kind: 'step' | 'service'
  /** The step's own `privileged: true`. */
  privileged: boolean
}

/** Stable codes of the warnings about options the agent drops or ignores (`validate --json`). */
export const ISSUE_CODES = {
  dropped: 'step-option-dropped',
  ignored: 'step-option-ignored',
  decoded: 'step-option-decoded',
  fails: 'step-fails-on-kubernetes',
} as const

function warnCoded(c: IssueCollector, path: Path, message: string, code: string, details: IssueDetails = {}): void {
  c.warn(path, message, {...details, code})
}

/**
 * Checks what the Kubernetes backend takes from a step or service: `backend_options.kubernetes`,
 * `extra_hosts`, `dns`, `dns_search` and `volumes`. Errors where the agent would fail or silently
 * lose the option at run time; warnings, with a code, where it drops or ignores it by its settings
 * or rules.
 */
export function checkStepForKubernetes(
  c: IssueCollector,
  path: Path,
  step: Data,
  kind: OptionContext['kind'],
  settings: BackendConfig = settingsForChecks(),
): void {
  const context: OptionContext = {kind, privileged: step.privileged === true}
  const at = (key: string): Path => [...path, key]
  if ('extra_hosts' in step) checkExtraHosts(c, at('extra_hosts'), step.extra_hosts)
  if ('dns' in step) checkStringList(c, at('dns'), step.dns, ipAddress, 'an IP address such as 10.0.0.10', 3)
  if ('dns_search' in step)
    checkStringList(c, at('dns_search'), step.dns_search, dns1123Subdomain, 'a domain such as svc.example.com', 32)
  if ('volumes' in step) checkVolumes(c, at('volumes'), step.volumes)
  const options = isMap(step.backend_options) ? step.backend_options.kubernetes : undefined
  if (options !== undefined)
    checkKubernetesOptions(c, [...path, 'backend_options', 'kubernetes'], options, context, settings)
}

/**
 * Checks `backend_options.kubernetes` of a step or service, which the agent would only log and drop
 * when wrong. Without `context` (which step it belongs to), the rules that depend on the step's own
 * `privileged` or kind are not checked.
 */
export function checkKubernetesOptions(
  c: IssueCollector,
  path: Path,
  value: unknown,
  context?: OptionContext,
  settings: BackendConfig = settingsForChecks(),
): void {
  if (!expectMap(c, path, value)) return
  checkKeys(c, path, value, KUBERNETES_OPTION_KEYS)
  const at = (key: string): Path => [...path, key]
  if ('resources' in value) checkResources(c, at('resources'), value.resources)
  if ('serviceAccountName' in value)
    checkWeakText(c, at('serviceAccountName'), value.serviceAccountName, dns1123Subdomain)
  if ('runtimeClassName' in value) checkWeakText(c, at('runtimeClassName'), value.runtimeClassName, dns1123Subdomain)
  if ('nodeSelector' in value) checkWeakMap(c, at('nodeSelector'), value.nodeSelector, qualifiedName, labelValue)
  if ('labels' in value) checkWeakMap(c, at('labels'), value.labels, qualifiedName, labelValue)
  if ('annotations' in value) checkWeakMap(c, at('annotations'), value.annotations, qualifiedName)
  if ('tolerations' in value) checkTolerations(c, at('tolerations'), value.tolerations)
  if ('securityContext' in value)
    checkSecurityContext(c, at('securityContext'), value.securityContext, context, value, settings)
  if ('affinity' in value && expectMap(c, at('affinity'), value.affinity))
    checkKeys(c, at('affinity'), value.affinity, ['nodeAffinity', 'podAffinity', 'podAntiAffinity'])
  if ('secrets' in value) checkNativeSecrets(c, at('secrets'), value.secrets)
  if ('hostUsers' in value) checkWeakBool(c, at('hostUsers'), value.hostUsers)
  if (
    'workspaceVolume' in value &&
    checkWeakBool(c, at('workspaceVolume'), value.workspaceVolume) &&
    context &&
    context.kind !== 'service'
  ) {
    warnCoded(
      c,
      at('workspaceVolume'),
      '`workspaceVolume` is ignored: the agent applies it to services only',
      ISSUE_CODES.ignored,
      {atKey: true, hint: 'a step always mounts the workspace'},
    )
  }
  for (const gate of STEP_OPTION_GATES) {
    if (!(gate.option in value) || settings[gate.key]) continue
    warnCoded(
      c,
      at(gate.option),
      `\`${gate.option}\` is dropped: the agent takes it from steps only with ${PREFIX}${gate.setting}=true`,
      ISSUE_CODES.dropped,
      {
        atKey: true,
        hint: `set ${PREFIX}${gate.setting}=true on your agent (for one run: --allow-from-step ${gate.option})`,
      },
    )
  }
}

/** Text the agent decodes from a scalar (numbers and booleans too), then checked by `rule`. */
function checkWeakText(c: IssueCollector, path: Path, value: unknown, rule?: Rule): string | undefined {
  const text = weakString(value)
  if (text === undefined) {
    c.error(path, 'must be a string', {expected: 'a string', found: value})
    return undefined
  }
  if (typeof value === 'boolean')
    warnCoded(c, path, `the agent reads a boolean here as "${text}"`, ISSUE_CODES.decoded, {
      found: value,
      hint: `quote it if you mean "${String(value)}"`,
    })
  const problem = rule?.(text)
  if (problem) c.error(path, `invalid value: ${problem}`, {found: text})
  return problem ? undefined : text
}

function checkWeakBool(c: IssueCollector, path: Path, value: unknown): boolean {
  if (weakBool(value) !== undefined) return true
  c.error(path, 'must be true or false', {
    expected: 'a boolean (the agent also takes "true", "false", 1, 0)',
    found: value,
  })
  return false
}

/** A whole number the agent decodes (quoted numbers too); `min` as Kubernetes requires. */
function checkWeakInt(c: IssueCollector, path: Path, value: unknown, min = 0): number | undefined {
  const n = weakInt(value)
  if (n === undefined || n < min) {
    c.error(path, `must be a whole number${min === 0 ? ' of 0 or more' : ` of at least ${min}`}`, {
      expected: 'an integer',
      found: value,
    })
    return undefined
  }
  if (typeof value === 'number' && !Number.isInteger(value))
    warnCoded(c, path, `the agent cuts ${value} to ${n}`, ISSUE_CODES.decoded, {found: value})
  return n
}

/** A map of text (labels, node selectors, annotations): keys and decoded values follow their rules. */
function checkWeakMap(c: IssueCollector, path: Path, value: unknown, keyRule: Rule, valueRule?: Rule): void {
  if (!expectMap(c, path, value)) return
  for (const [key, item] of Object.entries(value)) {
    const keyProblem = keyRule(key)
    if (keyProblem) c.error([...path, key], `invalid key \`${key}\`: ${keyProblem}`, {atKey: true})
    if (item === null) continue
    checkWeakText(c, [...path, key], item, valueRule)
  }
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
  const key = 'key' in t ? checkWeakText(c, at('key'), t.key) : ''
  if (key) {
    const bad = qualifiedName(key)
    if (bad) c.error(at('key'), `invalid taint key: ${bad}`, {found: key})
  }
  const operatorText = 'operator' in t ? weakString(t.operator) : undefined
  if ('operator' in t) expectEnum(c, at('operator'), operatorText ?? t.operator, ['Exists', 'Equal'])
  const operator = operatorText ?? 'Equal'
  const valueText = 'value' in t ? checkWeakText(c, at('value'), t.value) : undefined
  if (valueText !== undefined) {
    if (operator === 'Exists' && valueText !== '')
      c.error(at('value'), 'a toleration with operator Exists must not have a value', {
        found: valueText,
        hint: 'remove `value`, or use operator: Equal',
      })
    const bad = labelValue(valueText)
    if (bad && operator !== 'Exists') c.error(at('value'), `invalid taint value: ${bad}`, {found: valueText})
  }
  if (!key && operator !== 'Exists') {
    c.error(path, 'a toleration without a key must use operator Exists', {
      hint: 'set `key`, or `operator: Exists` to tolerate every taint',
    })
  }
  const effect = 'effect' in t ? weakString(t.effect) : undefined
  if ('effect' in t && effect !== '')
    expectEnum(c, at('effect'), effect ?? t.effect, ['NoSchedule', 'PreferNoSchedule', 'NoExecute'])
  if (
    'tolerationSeconds' in t &&
    checkWeakInt(c, at('tolerationSeconds'), t.tolerationSeconds, Number.MIN_SAFE_INTEGER) !== undefined &&
    effect !== 'NoExecute'
  ) {
    // Valid Woodpecker (its schema takes it), so only a warning: Kubernetes refuses such a pod.
    warnCoded(
      c,
      at('tolerationSeconds'),
      `tolerationSeconds only applies to effect NoExecute, not ${effect || 'an empty effect'}: Kubernetes refuses the pod`,
      ISSUE_CODES.fails,
      {hint: 'use effect: NoExecute, or remove tolerationSeconds'},
    )
  }
}

const PROFILE_TYPES = ['RuntimeDefault', 'Localhost', 'Unconfined']

/**
 * Field types and enums as the agent decodes them, contradictions Kubernetes refuses, and a warning
 * for each field the agent leaves out by its rules: `privileged` only through the step's own
 * `privileged: true`, `allowPrivilegeEscalation` only when false, of `capabilities` only `drop`,
 * UID/GID 0 only for privileged steps or `hostUsers: false`, `runAsNonRoot` fixed by SECCTX_NONROOT.
 */
function checkSecurityContext(
  c: IssueCollector,
  path: Path,
  value: unknown,
  context: OptionContext | undefined,
  options: Data,
  settings: BackendConfig,
): void {
  if (!expectMap(c, path, value)) return
  const booleans = ['privileged', 'runAsNonRoot', 'allowPrivilegeEscalation']
  const ids = ['runAsUser', 'runAsGroup', 'fsGroup']
  checkKeys(c, path, value, [
    ...booleans,
    ...ids,
    'fsGroupChangePolicy',
    'seccompProfile',
    'apparmorProfile',
    'capabilities',
  ])
  const at = (key: string): Path => [...path, key]
  const bools: Record<string, boolean | undefined> = {}
  for (const key of booleans)
    if (key in value && checkWeakBool(c, at(key), value[key])) bools[key] = weakBool(value[key])
  const numbers: Record<string, number | undefined> = {}
  for (const key of ids) if (key in value) numbers[key] = checkWeakInt(c, at(key), value[key])
  if ('fsGroupChangePolicy' in value)
    expectEnum(c, at('fsGroupChangePolicy'), weakString(value.fsGroupChangePolicy) ?? value.fsGroupChangePolicy, [
      'OnRootMismatch',
      'Always',
    ])
  for (const key of ['seccompProfile', 'apparmorProfile']) if (key in value) checkProfile(c, at(key), value[key])
  if ('capabilities' in value && expectMap(c, at('capabilities'), value.capabilities)) {
    checkKeys(c, at('capabilities'), value.capabilities, ['add', 'drop'])
    for (const key of ['add', 'drop']) {
      const list = value.capabilities[key]
      if (list !== undefined && weakStringList(list) === undefined)
        c.error([...path, 'capabilities', key], 'must be a list of capability names', {
          expected: 'a list such as [ALL] or [NET_RAW]',
          found: list,
        })
    }
    if (value.capabilities.add !== undefined) {
      warnCoded(
        c,
        [...path, 'capabilities', 'add'],
        '`capabilities.add` is ignored: the agent only drops capabilities',
        ISSUE_CODES.ignored,
        {atKey: true, hint: "use the step's `privileged: true` if the step needs more"},
      )
    }
  }
  const nonRoot = settings.secctxNonRoot ? true : bools.runAsNonRoot
  if (settings.secctxNonRoot && bools.runAsNonRoot === false) {
    warnCoded(
      c,
      at('runAsNonRoot'),
      `\`runAsNonRoot: false\` is ignored: the agent sets runAsNonRoot: true (${PREFIX}SECCTX_NONROOT)`,
      ISSUE_CODES.ignored,
      {atKey: true},
    )
  }
  if (!context) return
  const rootAllowed = context.privileged || weakBool(options.hostUsers) === false
  const privileged = context.privileged && bools.privileged !== false
  if (bools.privileged === true && !context.privileged) {
    warnCoded(
      c,
      at('privileged'),
      "`privileged: true` here does not make the container privileged: only the step's own `privileged: true` does",
      ISSUE_CODES.ignored,
      {atKey: true, hint: 'set `privileged: true` on the step (the repository must be trusted)'},
    )
  }
  if (bools.allowPrivilegeEscalation === true) {
    warnCoded(
      c,
      at('allowPrivilegeEscalation'),
      '`allowPrivilegeEscalation: true` is ignored: the agent only applies `false`',
      ISSUE_CODES.ignored,
      {atKey: true},
    )
  }
  if (privileged && bools.allowPrivilegeEscalation === false) {
    c.error(
      at('allowPrivilegeEscalation'),
      'a privileged container always allows privilege escalation: Kubernetes refuses the pod',
      {hint: 'drop one of the two settings'},
    )
  }
  for (const key of ids) {
    if (numbers[key] !== 0 || rootAllowed) continue
    warnCoded(
      c,
      at(key),
      `\`${key}: 0\` is dropped: the agent allows root IDs only for privileged steps or with \`hostUsers: false\``,
      ISSUE_CODES.ignored,
      {atKey: true, hint: key === 'fsGroup' ? 'the pod keeps fsGroup 1000' : "the image's user runs instead"},
    )
  }
  if (nonRoot === true && numbers.runAsUser === 0 && rootAllowed) {
    c.error(at('runAsUser'), 'runAsUser 0 is root, which runAsNonRoot: true forbids: the container cannot start', {
      found: 0,
    })
  }
}

function checkProfile(c: IssueCollector, path: Path, value: unknown): void {
  if (!expectMap(c, path, value)) return
  checkKeys(c, path, value, ['type', 'localhostProfile'])
  const type = weakString(value.type)
  if (!expectEnum(c, [...path, 'type'], type ?? value.type, PROFILE_TYPES)) return
  if (type === 'Localhost' && !weakString(value.localhostProfile)) {
    c.error([...path, 'localhostProfile'], 'type Localhost needs `localhostProfile`', {
      expected: 'a profile path',
      found: value.localhostProfile,
    })
  }
  if (type !== 'Localhost' && 'localhostProfile' in value)
    c.error([...path, 'localhostProfile'], 'only type Localhost takes `localhostProfile`', {atKey: true})
}

/**
 * Native Kubernetes Secret references in the agent's forms: `{name}` (every key as a variable),
 * `{name, key}` (one variable named after the key, upper-cased), `{name, key, target: {env}}`,
 * `{name, key, target: {file}}` (one key as a file) and `{name, target: {file}}` (the Secret as a folder).
 */
function checkNativeSecrets(c: IssueCollector, path: Path, value: unknown): void {
  if (!Array.isArray(value)) {
    c.error(path, 'must be a list of secret references', {expected: 'a list of {name, key, target}', found: value})
    return
  }
  const fileTargets = new Map<string, number>()
  value.forEach((item, i) => {
    const at = [...path, i]
    if (!expectMap(c, at, item)) return
    const name = weakString(item.name)
    if (name && isMap(item.target) && item.target.file) {
      const first = fileTargets.get(name)
      if (first === undefined) fileTargets.set(name, i)
      else
        c.error(
          at,
          `a second file from Secret \`${name}\`: the agent names both volumes after the Secret and Kubernetes refuses the pod`,
          {
            hint: `mount the whole Secret once as a folder ({name: ${name}, target: {file: /dir}}), or deliver one key as a variable`,
          },
        )
    }
    checkKeys(c, at, item, ['name', 'key', 'target'])
    if (!('name' in item)) c.error(at, 'a secret reference needs `name`', {expected: 'the name of a Kubernetes Secret'})
    else checkWeakText(c, [...at, 'name'], item.name, dns1123Subdomain)
    const key = 'key' in item ? checkWeakText(c, [...at, 'key'], item.key, secretKey) : undefined
    if (key && !('target' in item) && envName(key.toUpperCase())) {
      c.error([...at, 'key'], `the variable named after the key, ${key.toUpperCase()}, is not a valid variable name`, {
        hint: 'add `target: {env: NAME}`',
      })
    }
    if ('target' in item) checkSecretTarget(c, [...at, 'target'], item.target, key)
  })
}

function checkSecretTarget(c: IssueCollector, path: Path, target: unknown, key: string | undefined): void {
  if (!expectMap(c, path, target)) return
  checkKeys(c, path, target, ['env', 'file'])
  const env = 'env' in target ? checkWeakText(c, [...path, 'env'], target.env, envName) : undefined
  const file = 'file' in target ? checkWeakText(c, [...path, 'file'], target.file) : undefined
  if (env && file)
    c.error(path, 'a target is one of `env` or `file`: with both, the agent mounts the file and drops the variable', {
      found: target,
    })
  if (file !== undefined && !file.startsWith('/')) c.error([...path, 'file'], 'must be an absolute path', {found: file})
  if (env && !file && !key)
    c.error(path, '`target.env` needs `key`: which key of the Secret to deliver', {
      hint: 'add `key`, or remove `target` to get every key as a variable',
    })
}

/** `extra_hosts: ["host:ip"]`: the agent's host aliases; Kubernetes wants a host name and an IP address. */
function checkExtraHosts(c: IssueCollector, path: Path, value: unknown): void {
  if (!Array.isArray(value)) {
    c.error(path, 'must be a list of `host:ip` entries', {
      expected: 'a list such as ["git.local:10.0.0.5"]',
      found: value,
    })
    return
  }
  value.forEach((entry, i) => {
    const text = weakString(entry)
    const at = text === undefined ? -1 : text.indexOf(':')
    if (text === undefined || at <= 0) {
      c.error([...path, i], 'not a `host:ip` entry', {expected: 'such as git.local:10.0.0.5', found: entry})
      return
    }
    const host = dns1123Subdomain(text.slice(0, at))
    if (host) c.error([...path, i], `invalid host name: ${host}`, {found: text})
    const ip = ipAddress(text.slice(at + 1))
    if (ip) c.error([...path, i], `invalid address: ${ip}`, {expected: 'an IPv4 or IPv6 address', found: text})
  })
}

/** A string or a list of strings (`dns`, `dns_search`), each checked by `rule`, at most `max`. */
function checkStringList(
  c: IssueCollector,
  path: Path,
  value: unknown,
  rule: Rule,
  expected: string,
  max: number,
): void {
  const items = Array.isArray(value) ? value : [value]
  if (items.length > max) c.error(path, `Kubernetes takes at most ${max} entries here`, {found: value})
  items.forEach((item, i) => {
    const at = Array.isArray(value) ? [...path, i] : path
    if (typeof item !== 'string') {
      c.error(at, 'must be a string', {expected, found: item})
      return
    }
    const problem = rule(item)
    if (problem) c.error(at, problem, {expected, found: item})
  })
}

/** `volumes: ["claim:/path"]`: on the Kubernetes backend each names an existing PersistentVolumeClaim. */
function checkVolumes(c: IssueCollector, path: Path, value: unknown): void {
  if (!Array.isArray(value)) {
    c.error(path, 'must be a list of `claim:/path` entries', {
      expected: 'a list such as ["cache:/cache"]',
      found: value,
    })
    return
  }
  const claims = new Set<string>()
  value.forEach((entry, i) => {
    const at = [...path, i]
    if (typeof entry !== 'string') {
      c.error(at, 'must be `claim:/path`', {expected: 'such as cache:/cache', found: entry})
      return
    }
    const [claim, mountPath, mode, ...more] = entry.split(':')
    if (claims.has(claim))
      c.error(
        at,
        `claim \`${claim}\` is mounted twice: the agent gives both volumes its name and Kubernetes refuses the pod`,
        {found: entry, hint: 'mount the claim once, at a common parent folder'},
      )
    claims.add(claim)
    if (claim.startsWith('/') || claim.startsWith('.')) {
      // Valid Woodpecker (a Docker agent mounts it), so only a warning; a Kubernetes agent fails the step.
      warnCoded(
        c,
        at,
        'a host path cannot be mounted on the Kubernetes backend: the agent fails this step (a volume names an existing PersistentVolumeClaim)',
        ISSUE_CODES.fails,
        {expected: 'claim:/path, such as cache:/cache', found: entry},
      )
      return
    }
    const bad = dns1123Subdomain(claim)
    if (bad) c.error(at, `invalid claim name: ${bad}`, {found: entry})
    if (mountPath === undefined || !mountPath.startsWith('/'))
      c.error(at, 'needs an absolute mount path after the claim', {
        expected: 'claim:/path, such as cache:/cache',
        found: entry,
      })
    if (mode !== undefined || more.length > 0)
      warnCoded(
        c,
        at,
        `\`:${[mode, ...more].join(':')}\` is ignored: the agent mounts the claim read-write`,
        ISSUE_CODES.ignored,
        {found: entry},
      )
  })
}
