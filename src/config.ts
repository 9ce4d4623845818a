import jsYaml from 'js-yaml'
import type {Issue} from './validate/issue.js'
import {describeFound} from './validate/issue.js'
import {dns1123Label, dns1123Subdomain, labelValue, parseQuantity, qualifiedName, type Rule} from './validate/kube-rules.js'

/** The Kubernetes backend settings Woodpecker reads from `WOODPECKER_BACKEND_K8S_*`, after flags. */
export interface BackendConfig {
  namespace: string
  volumeSize: string
  storageClass?: string
  storageRwx: boolean
  podLabels: Record<string, string>
  podAnnotations: Record<string, string>
}

/** The flag values as oclif hands them over; undefined means "not given". */
export interface BackendFlags {
  namespace?: string
  'volume-size'?: string
  'storage-class'?: string
  'storage-rwx'?: boolean
  'pod-labels'?: string
  'pod-annotations'?: string
}

export const ENV = {
  namespace: 'WOODPECKER_BACKEND_K8S_NAMESPACE',
  volumeSize: 'WOODPECKER_BACKEND_K8S_VOLUME_SIZE',
  storageClass: 'WOODPECKER_BACKEND_K8S_STORAGE_CLASS',
  storageRwx: 'WOODPECKER_BACKEND_K8S_STORAGE_RWX',
  podLabels: 'WOODPECKER_BACKEND_K8S_POD_LABELS',
  podAnnotations: 'WOODPECKER_BACKEND_K8S_POD_ANNOTATIONS',
} as const

const DEFAULTS = {namespace: 'woodpecker', volumeSize: '10G'}
const TRUE_WORDS = ['1', 't', 'T', 'true', 'TRUE', 'True']
const FALSE_WORDS = ['0', 'f', 'F', 'false', 'FALSE', 'False']

/** A value with where it came from, so a bad one is reported against its flag or variable. */
interface Sourced {
  value: string
  source: string
}

function pick(flagName: string, flagValue: string | undefined, envName: string, env: NodeJS.ProcessEnv): Sourced | undefined {
  if (flagValue !== undefined) return {value: flagValue, source: `--${flagName}`}
  const fromEnv = env[envName]
  return fromEnv === undefined || fromEnv === '' ? undefined : {value: fromEnv, source: envName}
}

/** Resolves flags over environment over defaults; every bad value becomes an issue, none throws. */
export function resolveBackendConfig(flags: BackendFlags, env: NodeJS.ProcessEnv): {config: BackendConfig; issues: Issue[]} {
  const issues: Issue[] = []
  const report = (s: Sourced, message: string, expected: string) =>
    issues.push({severity: 'error', file: s.source, line: 0, col: 0, path: s.source, message, expected, found: describeFound(s.value)})
  const checked = (s: Sourced | undefined, rule: Rule, expected: string): string | undefined => {
    if (!s) return undefined
    const problem = rule(s.value)
    if (problem) report(s, `invalid value: ${problem}`, expected)
    return s.value
  }
  const namespace = checked(pick('namespace', flags.namespace, ENV.namespace, env), dns1123Label, 'a namespace name such as woodpecker') ?? DEFAULTS.namespace
  const storageClass = checked(pick('storage-class', flags['storage-class'], ENV.storageClass, env), dns1123Subdomain, 'a StorageClass name')
  const volume = pick('volume-size', flags['volume-size'], ENV.volumeSize, env)
  const volumeSize = volume?.value ?? DEFAULTS.volumeSize
  if (volume && !((parseQuantity(volume.value) ?? 0) > 0)) report(volume, 'not a positive Kubernetes quantity', 'a size such as 1Gi, 500Mi or 10G')
  let storageRwx = true
  if (flags['storage-rwx'] !== undefined) storageRwx = flags['storage-rwx']
  else {
    const rwx = pick('storage-rwx', undefined, ENV.storageRwx, env)
    if (rwx && TRUE_WORDS.includes(rwx.value)) storageRwx = true
    else if (rwx && FALSE_WORDS.includes(rwx.value)) storageRwx = false
    else if (rwx) report(rwx, 'not a boolean', 'true or false')
  }
  const podLabels = stringMap(pick('pod-labels', flags['pod-labels'], ENV.podLabels, env), labelValue, report)
  const podAnnotations = stringMap(pick('pod-annotations', flags['pod-annotations'], ENV.podAnnotations, env), undefined, report)
  const config: BackendConfig = {namespace, volumeSize, storageRwx, podLabels, podAnnotations}
  if (storageClass) config.storageClass = storageClass
  return {config, issues}
}

/** `{app: ci, team: x}` as YAML or JSON text; keys must be qualified names, values follow `valueRule`. */
function stringMap(s: Sourced | undefined, valueRule: Rule | undefined, report: (s: Sourced, m: string, e: string) => void): Record<string, string> {
  if (!s) return {}
  let parsed: unknown
  try {
    parsed = jsYaml.load(s.value, {schema: jsYaml.CORE_SCHEMA})
  } catch {
    parsed = undefined
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    report(s, 'not a YAML or JSON object', 'a map such as {team: platform, tier: ci}')
    return {}
  }
  const out: Record<string, string> = {}
  for (const [key, value] of Object.entries(parsed)) {
    const text = typeof value === 'object' || value === null ? undefined : String(value)
    const problem = qualifiedName(key) ?? (text === undefined ? 'the value must be a string' : valueRule?.(text))
    if (problem) report(s, `invalid entry \`${key}\`: ${problem}`, 'label-style keys and values')
    else out[key] = text!
  }
  return out
}
