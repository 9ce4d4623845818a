import {readFileSync} from 'node:fs'
import dotenv from 'dotenv'
import jsYaml from 'js-yaml'
import type {Issue} from './validate/issue.js'
import {describeFound} from './validate/issue.js'
import {
  dns1123Label,
  dns1123Subdomain,
  labelValue,
  parseQuantity,
  qualifiedName,
  type Rule,
} from './validate/kube-rules.js'
import {didYouMean} from './validate/suggest.js'

/**
 * The Kubernetes backend settings of a Woodpecker agent (v3.17/v3.18), `WOODPECKER_BACKEND_K8S_*`,
 * with Woodpecker's defaults; resolved from flags over the environment over an agent env file.
 */
export interface BackendConfig {
  namespace: string
  volumeSize: string
  storageClass?: string
  storageRwx: boolean
  podLabels: Record<string, string>
  podLabelsAllowFromStep: boolean
  podAnnotations: Record<string, string>
  podAnnotationsAllowFromStep: boolean
  podNodeSelector: Record<string, string>
  podNodeSelectorAllowFromStep: boolean
  podTolerations: Record<string, unknown>[]
  podTolerationsAllowFromStep: boolean
  podAffinity?: Record<string, unknown>
  podAffinityAllowFromStep: boolean
  serviceAccountNameAllowFromStep: boolean
  runtimeClassAllowFromStep: boolean
  allowNativeSecrets: boolean
  secctxNonRoot: boolean
  pullSecretNames: string[]
  priorityClass?: string
  /** STOP_TIMEOUT: the grace period of a pod that is stopped, in whole seconds. */
  stopTimeoutSeconds: number
}

/** The flag values as oclif hands them over; undefined means "not given". */
export interface BackendFlags {
  namespace?: string
  'volume-size'?: string
  'storage-class'?: string
  'storage-rwx'?: boolean
  'pod-labels'?: string
  'pod-annotations'?: string
  'pod-node-selector'?: string
  'pod-tolerations'?: string
  'pull-secret-names'?: string
  'priority-class'?: string
  'stop-timeout'?: string
  /** Step options the agent takes from steps, such as `nodeSelector,serviceAccountName`, or `all` / `none`. */
  'allow-from-step'?: string
  /** `NAME=VALUE` for any setting, NAME with or without the `WOODPECKER_BACKEND_K8S_` prefix. */
  'agent-setting'?: string[]
  /** An agent's env file (`KEY=VALUE` lines). */
  'agent-env'?: string
}

export const PREFIX = 'WOODPECKER_BACKEND_K8S_'

type Parsed = {value: unknown} | {problem: string; expected: string}
type Parser = (text: string) => Parsed

/** One agent setting: its variable, where wpk8s takes it from, Woodpecker's default, and what wpk8s does with it. */
export interface SettingSpec {
  /** The variable's name without the prefix, such as `POD_LABELS`. */
  name: string
  /** Where the value goes; absent for settings that are accepted and ignored. */
  key?: keyof BackendConfig
  /** wpk8s's own flag for it, if any (`--agent-setting NAME=VALUE` works for all). */
  flag?: string
  /** Woodpecker's default as the agent would read it; empty for none. */
  default: string
  parse: Parser
  /** The value when nothing sets it (Woodpecker's default, as parsed). */
  initial?: () => unknown
  /** What wpk8s does with it (the README table and `wpk8s config`). */
  effect: string
  /** Why a setting has no effect locally (set for ignored settings only). */
  ignored?: string
}

const TRUE_WORDS = ['1', 't', 'T', 'true', 'TRUE', 'True']
const FALSE_WORDS = ['0', 'f', 'F', 'false', 'FALSE', 'False']

/** A boolean as Go's strconv.ParseBool reads it, which is how the agent reads its switches. */
export function parseGoBool(text: string): boolean | undefined {
  if (TRUE_WORDS.includes(text)) return true
  if (FALSE_WORDS.includes(text)) return false
  return undefined
}

const bool: Parser = (text) => {
  const value = parseGoBool(text)
  return value === undefined ? {problem: 'not a boolean', expected: 'true or false (also 1/0, t/f)'} : {value}
}

const name =
  (rule: Rule, expected: string): Parser =>
  (text) => {
    const problem = rule(text)
    return problem ? {problem: `invalid value: ${problem}`, expected} : {value: text}
  }

const anyText: Parser = (text) => ({value: text})

const positiveQuantity: Parser = (text) =>
  (parseQuantity(text) ?? 0) > 0
    ? {value: text}
    : {problem: 'not a positive Kubernetes quantity', expected: 'a size such as 1Gi, 500Mi or 10G'}

function yamlValue(text: string): unknown {
  try {
    return jsYaml.load(text, {schema: jsYaml.CORE_SCHEMA})
  } catch {
    return undefined
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** `{app: ci, team: x}` as YAML or JSON text; keys must be qualified names, values follow `valueRule`. */
const stringMap =
  (valueRule?: Rule): Parser =>
  (text) => {
    const parsed = yamlValue(text)
    if (!isObject(parsed))
      return {problem: 'not a YAML or JSON object', expected: 'a map such as {team: platform, tier: ci}'}
    const out: Record<string, string> = {}
    for (const [key, value] of Object.entries(parsed)) {
      const item = isObject(value) || Array.isArray(value) || value === null ? undefined : String(value)
      const problem = qualifiedName(key) ?? (item === undefined ? 'the value must be a string' : valueRule?.(item))
      if (problem) return {problem: `invalid entry \`${key}\`: ${problem}`, expected: 'label-style keys and values'}
      out[key] = item!
    }
    return {value: out}
  }

const TOLERATION_KEYS = ['key', 'operator', 'value', 'effect', 'tolerationSeconds']

/** A YAML/JSON list of tolerations, as the agent unmarshals WOODPECKER_BACKEND_K8S_POD_TOLERATIONS. */
const tolerations: Parser = (text) => {
  const parsed = yamlValue(text)
  const expected = 'a list such as [{key: ci, operator: Exists, effect: NoSchedule}]'
  if (!Array.isArray(parsed)) return {problem: 'not a YAML or JSON list of tolerations', expected}
  for (const [i, t] of parsed.entries()) {
    if (!isObject(t)) return {problem: `item ${i} is not a map`, expected}
    const unknown = Object.keys(t).find((k) => !TOLERATION_KEYS.includes(k))
    if (unknown)
      return {problem: `item ${i}: unknown key \`${unknown}\``, expected: `keys among ${TOLERATION_KEYS.join(', ')}`}
    if (t.operator !== undefined && t.operator !== 'Exists' && t.operator !== 'Equal')
      return {problem: `item ${i}: operator must be Exists or Equal`, expected}
    if (
      t.effect !== undefined &&
      t.effect !== '' &&
      !['NoSchedule', 'PreferNoSchedule', 'NoExecute'].includes(String(t.effect))
    ) {
      return {problem: `item ${i}: effect must be NoSchedule, PreferNoSchedule or NoExecute`, expected}
    }
    if (t.tolerationSeconds !== undefined && !Number.isInteger(t.tolerationSeconds))
      return {problem: `item ${i}: tolerationSeconds must be a whole number`, expected}
  }
  return {value: parsed}
}

const AFFINITY_KEYS = ['nodeAffinity', 'podAffinity', 'podAntiAffinity']

/** The agent ignores unknown affinity keys (a typo leaves no affinity at all); wpk8s refuses them. */
const affinity: Parser = (text) => {
  const parsed = yamlValue(text)
  const expected = `a map with ${AFFINITY_KEYS.join(', ')}`
  if (!isObject(parsed)) return {problem: 'not a YAML or JSON object', expected}
  const unknown = Object.keys(parsed).find((k) => !AFFINITY_KEYS.includes(k))
  if (unknown)
    return {
      problem: `unknown key \`${unknown}\`${didYouMean(unknown, AFFINITY_KEYS) ? ` (${didYouMean(unknown, AFFINITY_KEYS)})` : ''}: the agent would silently use no affinity`,
      expected,
    }
  return {value: parsed}
}

/** A comma-separated list, as the agent reads its string-slice settings from the environment. */
const nameList =
  (rule: Rule): Parser =>
  (text) => {
    const items = text
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
    for (const item of items) {
      const problem = rule(item)
      if (problem) return {problem: `invalid entry \`${item}\`: ${problem}`, expected: 'comma-separated Secret names'}
    }
    return {value: items}
  }

const DURATION_UNITS: Record<string, number> = {ns: 1e-9, us: 1e-6, µs: 1e-6, μs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600}

/** A Go duration (`20s`, `1m30s`, `500ms`) in seconds, as the agent parses STOP_TIMEOUT; undefined when malformed. */
export function parseGoDuration(text: string): number | undefined {
  if (text === '0') return 0
  const m = /^([+-]?)(.+)$/.exec(text)
  if (!m) return undefined
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y
  let total = 0
  let at = 0
  const body = m[2]
  while (at < body.length) {
    part.lastIndex = at
    const p = part.exec(body)
    if (!p) return undefined
    total += Number(p[1]) * DURATION_UNITS[p[2]]
    at = part.lastIndex
  }
  return m[1] === '-' ? -total : total
}

const duration: Parser = (text) => {
  const seconds = parseGoDuration(text)
  if (seconds === undefined) return {problem: 'not a duration', expected: 'a Go duration such as 20s, 1m30s or 500ms'}
  if (seconds < 0) return {problem: 'must not be negative', expected: 'a duration such as 20s'}
  return {value: Math.ceil(seconds)}
}

/** Every `WOODPECKER_BACKEND_K8S_*` setting of the v3.17/v3.18 agent, in the agent's order. */
export const SETTINGS: readonly SettingSpec[] = [
  {
    name: 'NAMESPACE',
    key: 'namespace',
    flag: 'namespace',
    default: 'woodpecker',
    initial: () => 'woodpecker',
    parse: name(dns1123Label, 'a namespace name such as woodpecker'),
    effect: "namespace of the run's objects (created if missing, left in place)",
  },
  {
    name: 'NAMESPACE_PER_ORGANIZATION',
    default: 'false',
    parse: bool,
    effect: 'ignored',
    ignored: 'a local run has no organization: the namespace is used as is',
  },
  {
    name: 'VOLUME_SIZE',
    key: 'volumeSize',
    flag: 'volume-size',
    default: '10G',
    initial: () => '10G',
    parse: positiveQuantity,
    effect: 'size of the workspace claim',
  },
  {
    name: 'STORAGE_CLASS',
    key: 'storageClass',
    flag: 'storage-class',
    default: '',
    parse: name(dns1123Subdomain, 'a StorageClass name'),
    effect: "StorageClass of the workspace claim (none: the cluster's default)",
  },
  {
    name: 'STORAGE_RWX',
    key: 'storageRwx',
    flag: 'storage-rwx',
    default: 'true',
    initial: () => true,
    parse: bool,
    effect: 'ReadWriteMany workspace claim; false: ReadWriteOnce',
  },
  {
    name: 'POD_LABELS',
    key: 'podLabels',
    flag: 'pod-labels',
    default: '',
    initial: () => ({}),
    parse: stringMap(labelValue),
    effect: "labels of every pod; they win over a step's labels",
  },
  {
    name: 'POD_LABELS_ALLOW_FROM_STEP',
    key: 'podLabelsAllowFromStep',
    default: 'false',
    initial: () => false,
    parse: bool,
    effect: "applies a step's `labels`; else drops them with a warning",
  },
  {
    name: 'POD_ANNOTATIONS',
    key: 'podAnnotations',
    flag: 'pod-annotations',
    default: '',
    initial: () => ({}),
    parse: stringMap(),
    effect: "annotations of every pod; they win over a step's annotations",
  },
  {
    name: 'POD_ANNOTATIONS_ALLOW_FROM_STEP',
    key: 'podAnnotationsAllowFromStep',
    default: 'false',
    initial: () => false,
    parse: bool,
    effect: "applies a step's `annotations`; else drops them with a warning",
  },
  {
    name: 'POD_NODE_SELECTOR',
    key: 'podNodeSelector',
    flag: 'pod-node-selector',
    default: '',
    initial: () => ({}),
    parse: stringMap(labelValue),
    effect: "node selector of every step pod, over the platform's `kubernetes.io/arch`",
  },
  {
    name: 'POD_NODE_SELECTOR_ALLOW_FROM_STEP',
    key: 'podNodeSelectorAllowFromStep',
    default: 'false',
    initial: () => false,
    parse: bool,
    effect: "applies a step's `nodeSelector` (merged last); else drops it with a warning",
  },
  {
    name: 'POD_TOLERATIONS',
    key: 'podTolerations',
    flag: 'pod-tolerations',
    default: '',
    initial: () => [],
    parse: tolerations,
    effect: 'tolerations of every step pod',
  },
  {
    name: 'POD_TOLERATIONS_ALLOW_FROM_STEP',
    key: 'podTolerationsAllowFromStep',
    default: 'true',
    initial: () => true,
    parse: bool,
    effect: "adds a step's `tolerations`; else drops them with a warning",
  },
  {name: 'POD_AFFINITY', key: 'podAffinity', default: '', parse: affinity, effect: 'affinity of every step pod'},
  {
    name: 'POD_AFFINITY_ALLOW_FROM_STEP',
    key: 'podAffinityAllowFromStep',
    default: 'false',
    initial: () => false,
    parse: bool,
    effect: "a step's `affinity` replaces the agent's; else it is dropped with a warning",
  },
  {
    name: 'SERVICE_ACCOUNT_NAME_ALLOW_FROM_STEP',
    key: 'serviceAccountNameAllowFromStep',
    default: 'false',
    initial: () => false,
    parse: bool,
    effect: "applies a step's `serviceAccountName`; else drops it with a warning",
  },
  {
    name: 'RUNTIME_CLASS_ALLOW_FROM_STEP',
    key: 'runtimeClassAllowFromStep',
    default: 'false',
    initial: () => false,
    parse: bool,
    effect: "applies a step's `runtimeClassName`; else drops it with a warning",
  },
  {
    name: 'ALLOW_NATIVE_SECRETS',
    key: 'allowNativeSecrets',
    default: 'false',
    initial: () => false,
    parse: bool,
    effect: "applies a step's native `secrets`; else drops them with a warning",
  },
  {
    name: 'SECCTX_NONROOT',
    key: 'secctxNonRoot',
    default: 'false',
    initial: () => false,
    parse: bool,
    effect: 'pod `runAsNonRoot: true`, which a step cannot turn off',
  },
  {
    name: 'PULL_SECRET_NAMES',
    key: 'pullSecretNames',
    flag: 'pull-secret-names',
    default: '',
    initial: () => [],
    parse: nameList(dns1123Subdomain),
    effect: '`imagePullSecrets` of every step pod (Secrets of the namespace)',
  },
  {
    name: 'PRIORITY_CLASS',
    key: 'priorityClass',
    flag: 'priority-class',
    default: '',
    parse: name(dns1123Subdomain, 'a PriorityClass name'),
    effect: '`priorityClassName` of every step pod',
  },
  {
    name: 'STOP_TIMEOUT',
    key: 'stopTimeoutSeconds',
    flag: 'stop-timeout',
    default: '20s',
    initial: () => 20,
    parse: duration,
    effect: 'grace period of running pods when a run is stopped (Ctrl-C, SIGTERM)',
  },
  {
    name: 'CLUSTER_DOMAIN',
    default: 'cluster.local',
    parse: anyText,
    effect: 'ignored',
    ignored: "wpk8s reaches services through host aliases, not the headless service's DNS name",
  },
  {
    name: 'PERMISSION_INIT_IMAGE',
    default: 'busybox:stable-musl',
    parse: anyText,
    effect: 'ignored',
    ignored: 'wpk8s adds no init container to prepare the working directory',
  },
]

export const SETTING_NAMES: readonly string[] = SETTINGS.map((s) => PREFIX + s.name)

/** The names of the environment variables wpk8s reads, by config key (messages and flag help). */
export const ENV = {
  namespace: `${PREFIX}NAMESPACE`,
  volumeSize: `${PREFIX}VOLUME_SIZE`,
  storageClass: `${PREFIX}STORAGE_CLASS`,
  storageRwx: `${PREFIX}STORAGE_RWX`,
  podLabels: `${PREFIX}POD_LABELS`,
  podAnnotations: `${PREFIX}POD_ANNOTATIONS`,
  podNodeSelector: `${PREFIX}POD_NODE_SELECTOR`,
  podTolerations: `${PREFIX}POD_TOLERATIONS`,
  pullSecretNames: `${PREFIX}PULL_SECRET_NAMES`,
  priorityClass: `${PREFIX}PRIORITY_CLASS`,
  stopTimeout: `${PREFIX}STOP_TIMEOUT`,
} as const

/** The step options the agent takes only when a setting allows it, with that setting. */
export const STEP_OPTION_GATES = [
  {option: 'labels', setting: 'POD_LABELS_ALLOW_FROM_STEP', key: 'podLabelsAllowFromStep'},
  {option: 'annotations', setting: 'POD_ANNOTATIONS_ALLOW_FROM_STEP', key: 'podAnnotationsAllowFromStep'},
  {option: 'nodeSelector', setting: 'POD_NODE_SELECTOR_ALLOW_FROM_STEP', key: 'podNodeSelectorAllowFromStep'},
  {option: 'tolerations', setting: 'POD_TOLERATIONS_ALLOW_FROM_STEP', key: 'podTolerationsAllowFromStep'},
  {option: 'affinity', setting: 'POD_AFFINITY_ALLOW_FROM_STEP', key: 'podAffinityAllowFromStep'},
  {
    option: 'serviceAccountName',
    setting: 'SERVICE_ACCOUNT_NAME_ALLOW_FROM_STEP',
    key: 'serviceAccountNameAllowFromStep',
  },
  {option: 'runtimeClassName', setting: 'RUNTIME_CLASS_ALLOW_FROM_STEP', key: 'runtimeClassAllowFromStep'},
  {option: 'secrets', setting: 'ALLOW_NATIVE_SECRETS', key: 'allowNativeSecrets'},
] as const satisfies readonly {option: string; setting: string; key: keyof BackendConfig}[]

export type GatedOption = (typeof STEP_OPTION_GATES)[number]['option']

/** Where a setting's value came from, for messages and `wpk8s config`. */
export interface SettingSource {
  /** `flag`, `environment`, `agent-env` or `default`. */
  kind: 'flag' | 'environment' | 'agent-env' | 'default'
  /** Human form: `--namespace`, `WOODPECKER_BACKEND_K8S_NAMESPACE`, `agent.env:3`, `default`. */
  where: string
}

/** One setting as resolved: its variable, the value as text, where it came from, and whether wpk8s uses it. */
export interface ResolvedSetting {
  name: string
  value: string
  source: SettingSource
  applied: boolean
  effect: string
}

/** An issue with a stable code, so `--json` consumers can tell kinds of warnings apart. */
export type CodedIssue = Issue & {code?: string}

export interface ResolvedConfig {
  config: BackendConfig
  /** Errors and warnings (without `onWarning`), or errors only (with it). */
  issues: CodedIssue[]
  settings: ResolvedSetting[]
}

interface RawValue {
  text: string
  source: SettingSource
}

/** Reads an agent env file: `KEY=VALUE` lines (comments, `export`, quotes as dotenv reads them), with line numbers. */
export function readAgentEnvFile(
  path: string,
): {values: Map<string, {value: string; line: number}>} | {problem: string} {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    return {problem: `cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`}
  }
  const parsed = dotenv.parse(text)
  const lines = text.split(/\r?\n/)
  const values = new Map<string, {value: string; line: number}>()
  for (const [key, value] of Object.entries(parsed)) {
    const at = lines.findIndex((l) => new RegExp(`^\\s*(export\\s+)?${key}\\s*[=:]`).test(l))
    values.set(key, {value, line: at + 1})
  }
  return {values}
}

const GATE_ALIASES = new Map<string, (typeof STEP_OPTION_GATES)[number]>(
  STEP_OPTION_GATES.map((g) => [g.option.toLowerCase(), g]),
)

/**
 * Resolves every agent setting: flag over environment over agent env file over Woodpecker's default.
 * Every bad value is an error naming its flag, variable or file line; unknown `WOODPECKER_BACKEND_K8S_*`
 * variables and settings wpk8s ignores are warnings. Nothing throws. With `onWarning`, warnings are
 * written there (one line each) instead of being returned.
 */
export function resolveBackendConfig(
  flags: BackendFlags,
  env: NodeJS.ProcessEnv,
  onWarning?: (line: string) => void,
): ResolvedConfig {
  const issues: CodedIssue[] = []
  const problem = (
    severity: Issue['severity'],
    where: string,
    message: string,
    extra: Partial<Issue> & {code: string},
  ) => issues.push({severity, file: where, line: 0, col: 0, path: where, message, ...extra})
  const fromFlags = flagValues(flags, problem)
  const file = flags['agent-env'] ? agentFileValues(flags['agent-env'], problem) : new Map<string, RawValue>()
  const known = new Set(SETTING_NAMES)
  for (const key of Object.keys(env).filter((k) => k.startsWith(PREFIX) && !known.has(k))) {
    problem('warning', key, 'unknown Woodpecker agent setting: ignored', {
      code: 'agent-setting-unknown',
      hint: didYouMean(key, SETTING_NAMES) ?? `known settings: wpk8s config`,
    })
  }
  for (const [key, raw] of file) {
    if (!known.has(key))
      problem('warning', raw.source.where, `unknown Woodpecker agent setting ${key}: ignored`, {
        code: 'agent-setting-unknown',
        hint: didYouMean(key, SETTING_NAMES) ?? 'known settings: wpk8s config',
      })
  }
  const config = {} as Record<string, unknown>
  const settings: ResolvedSetting[] = []
  for (const spec of SETTINGS) {
    const full = PREFIX + spec.name
    const envText = env[full]
    const raw: RawValue | undefined =
      fromFlags.get(spec.name) ??
      (envText ? {text: envText, source: {kind: 'environment', where: full}} : undefined) ??
      file.get(full)
    let value = spec.initial?.()
    if (raw && raw.text !== '') {
      const result = spec.parse(raw.text)
      if ('problem' in result) {
        problem('error', raw.source.where, result.problem, {
          code: 'agent-setting-invalid',
          expected: result.expected,
          found: describeFound(raw.text),
          ...(raw.source.where === full ? {} : {hint: `for ${full}`}),
        })
      } else value = result.value
      if (spec.ignored)
        problem('warning', raw.source.where, `${full} is accepted and ignored: ${spec.ignored}`, {
          code: 'agent-setting-ignored',
        })
    }
    if (spec.key && value !== undefined) config[spec.key] = value
    settings.push({
      name: full,
      value: raw?.text ?? spec.default,
      source: raw?.source ?? {kind: 'default', where: 'default'},
      applied: !spec.ignored,
      effect: spec.ignored ? `ignored: ${spec.ignored}` : spec.effect,
    })
  }
  const resolved = config as unknown as BackendConfig
  lastResolved = resolved
  if (!onWarning) return {config: resolved, issues, settings}
  for (const w of issues.filter((i) => i.severity === 'warning'))
    onWarning(`warning ${w.file}: ${w.message}${w.hint ? ` (${w.hint})` : ''}\n`)
  return {config: resolved, issues: issues.filter((i) => i.severity === 'error'), settings}
}

type Report = (
  severity: Issue['severity'],
  where: string,
  message: string,
  extra: Partial<Issue> & {code: string},
) => void

/** The settings given by flags: dedicated flags, `--allow-from-step`, then `--agent-setting` (dedicated flags win). */
function flagValues(flags: BackendFlags, report: Report): Map<string, RawValue> {
  const values = new Map<string, RawValue>()
  for (const item of flags['agent-setting'] ?? []) {
    const eq = item.indexOf('=')
    const key = (eq > 0 ? item.slice(0, eq) : item).trim().toUpperCase()
    const short = key.startsWith(PREFIX) ? key.slice(PREFIX.length) : key
    if (eq <= 0) {
      report('error', '--agent-setting', `\`${item}\` is not NAME=VALUE`, {
        code: 'agent-setting-invalid',
        expected: 'such as POD_NODE_SELECTOR_ALLOW_FROM_STEP=true',
      })
    } else if (!SETTINGS.some((s) => s.name === short)) {
      report('error', '--agent-setting', `unknown agent setting \`${key}\``, {
        code: 'agent-setting-unknown',
        hint:
          didYouMean(
            short,
            SETTINGS.map((s) => s.name),
          ) ?? 'wpk8s config lists them',
      })
    } else values.set(short, {text: item.slice(eq + 1), source: {kind: 'flag', where: '--agent-setting'}})
  }
  const allow = flags['allow-from-step']
  if (allow !== undefined) {
    const words = allow
      .split(',')
      .map((w) => w.trim())
      .filter(Boolean)
    for (const word of words) {
      const lower = word.toLowerCase()
      const gates =
        lower === 'all' || lower === 'none'
          ? STEP_OPTION_GATES
          : GATE_ALIASES.has(lower)
            ? [GATE_ALIASES.get(lower)!]
            : undefined
      if (!gates) {
        report('error', '--allow-from-step', `unknown step option \`${word}\``, {
          code: 'agent-setting-invalid',
          expected: `all, none, or some of ${STEP_OPTION_GATES.map((g) => g.option).join(', ')}`,
          hint: didYouMean(
            word,
            STEP_OPTION_GATES.map((g) => g.option),
          ),
        })
        continue
      }
      for (const gate of gates)
        values.set(gate.setting, {
          text: lower === 'none' ? 'false' : 'true',
          source: {kind: 'flag', where: '--allow-from-step'},
        })
    }
  }
  for (const spec of SETTINGS) {
    if (!spec.flag) continue
    const value = (flags as Record<string, unknown>)[spec.flag]
    if (value !== undefined)
      values.set(spec.name, {text: String(value), source: {kind: 'flag', where: `--${spec.flag}`}})
  }
  return values
}

function agentFileValues(path: string, report: Report): Map<string, RawValue> {
  const values = new Map<string, RawValue>()
  const read = readAgentEnvFile(path)
  if ('problem' in read) {
    report('error', '--agent-env', `${path} ${read.problem}`, {code: 'agent-env-unreadable'})
    return values
  }
  for (const [key, {value, line}] of read.values) {
    if (!key.startsWith(PREFIX) || value === '') continue
    values.set(key, {text: value, source: {kind: 'agent-env', where: `${path}:${line}`}})
  }
  return values
}

let lastResolved: BackendConfig | undefined

/** Woodpecker's defaults: an agent configured with nothing. */
export function defaultBackendConfig(): BackendConfig {
  const config = {} as Record<string, unknown>
  for (const spec of SETTINGS) if (spec.key && spec.initial) config[spec.key] = spec.initial()
  return config as unknown as BackendConfig
}

/**
 * The settings the step checks compare step options with: the last configuration resolved in this
 * process (validate and exec resolve theirs before reading pipelines), else Woodpecker's defaults.
 */
export function settingsForChecks(): BackendConfig {
  return lastResolved ?? defaultBackendConfig()
}

/** Forgets the last resolved configuration (tests). */
export function resetSettingsForChecks(): void {
  lastResolved = undefined
}
