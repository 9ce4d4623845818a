/** Kubernetes' own naming and quantity rules, as its API server applies them. */

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/

/** Undefined when valid, else what is wrong. */
export type Rule = (value: string) => string | undefined

export const dns1123Label: Rule = (v) =>
  v.length > 63 ? 'longer than 63 characters' : DNS1123_LABEL.test(v) ? undefined : 'must be lower-case letters, digits and `-`, starting and ending with a letter or digit'

export const dns1123Subdomain: Rule = (v) =>
  v.length > 253 ? 'longer than 253 characters' : DNS1123_SUBDOMAIN.test(v) ? undefined : 'must be lower-case letters, digits, `-` and `.`, starting and ending with a letter or digit'

/** Label and annotation keys: an optional DNS subdomain prefix and `/`, then a name of at most 63 characters. */
export const qualifiedName: Rule = (v) => {
  const slash = v.lastIndexOf('/')
  const [prefix, name] = slash >= 0 ? [v.slice(0, slash), v.slice(slash + 1)] : [undefined, v]
  if (prefix !== undefined) {
    if (prefix === '') return 'the prefix before `/` is empty'
    const bad = dns1123Subdomain(prefix)
    if (bad) return `the prefix \`${prefix}\` ${bad}`
  }
  if (name === '') return 'the name part is empty'
  if (name.length > 63) return 'the name part is longer than 63 characters'
  return QUALIFIED_NAME.test(name) ? undefined : 'the name part must be letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit'
}

export const labelValue: Rule = (v) =>
  v.length > 63 ? 'longer than 63 characters' : LABEL_VALUE.test(v) ? undefined : 'must be empty or letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit'

export const envName: Rule = (v) => (ENV_NAME.test(v) ? undefined : 'must be letters, digits, `_`, `-` and `.`, not starting with a digit')

export const secretKey: Rule = (v) => (v.length <= 253 && SECRET_KEY.test(v) ? undefined : 'must be letters, digits, `-`, `_` and `.`')

const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/
const SUFFIX_FACTOR: Record<string, number> = {
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
  n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
}

/** A Kubernetes resource quantity (`128Mi`, `500m`, `1.5`, `2e3`) as a number, or undefined when malformed. */
export function parseQuantity(text: string): number | undefined {
  const m = QUANTITY.exec(text.trim() === text ? text : '')
  if (!m) return undefined
  const [, sign, digits, suffix = ''] = m
  const factor = /^[eE]/.test(suffix) ? 10 ** Number(suffix.slice(1)) : SUFFIX_FACTOR[suffix]
  const value = Number(digits) * factor
  return sign === '-' ? -value : value
}

/** The YAML value of a quantity field as text: numbers count too (`cpu: 2`). */
export function quantityText(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  return typeof value === 'string' ? value : undefined
}
