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
  v.length > 63
    ? 'longer than 63 characters'
    : DNS1123_LABEL.test(v)
      ? undefined
      : 'must be lower-case letters, digits and `-`, starting and ending with a letter or digit'

export const dns1123Subdomain: Rule = (v) =>
  v.length > 253
    ? 'longer than 253 characters'
    : DNS1123_SUBDOMAIN.test(v)
      ? undefined
      : 'must be lower-case letters, digits, `-` and `.`, starting and ending with a letter or digit'

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
  return QUALIFIED_NAME.test(name)
    ? undefined
    : 'the name part must be letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit'
}

export const labelValue: Rule = (v) =>
  v.length > 63
    ? 'longer than 63 characters'
    : LABEL_VALUE.test(v)
      ? undefined
      : 'must be empty or letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit'

export const envName: Rule = (v) =>
  ENV_NAME.test(v) ? undefined : 'must be letters, digits, `_`, `-` and `.`, not starting with a digit'

export const secretKey: Rule = (v) =>
  v.length <= 253 && SECRET_KEY.test(v) ? undefined : 'must be letters, digits, `-`, `_` and `.`'

const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/
const SUFFIX_FACTOR: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
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

// Container image references as the kubelet parses them: [domain[:port]/]path[:tag][@algorithm:hex].
const IMAGE_DOMAIN =
  /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?$/
const IMAGE_PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/
const IMAGE_TAG = /^[\w][\w.-]{0,127}$/
const IMAGE_DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/
const DIGEST_HEX_LENGTH: Record<string, number> = {sha256: 64, sha384: 96, sha512: 128}

/** An image reference such as `golang:1.22`, `ghcr.io/org/tool:v1` or `busybox@sha256:…`. */
export const imageReference: Rule = (v) => {
  const at = v.indexOf('@')
  const [nameAndTag, digest] = at >= 0 ? [v.slice(0, at), v.slice(at + 1)] : [v, undefined]
  if (digest !== undefined) {
    if (!IMAGE_DIGEST.test(digest)) return `the digest \`${digest}\` is not \`algorithm:hex\``
    const [algorithm, hex] = digest.split(':')
    if (DIGEST_HEX_LENGTH[algorithm] && hex.length !== DIGEST_HEX_LENGTH[algorithm])
      return `a ${algorithm} digest has ${DIGEST_HEX_LENGTH[algorithm]} hex digits, not ${hex.length}`
  }
  const slash = nameAndTag.lastIndexOf('/')
  const colon = nameAndTag.lastIndexOf(':')
  const [name, tag] =
    colon > slash ? [nameAndTag.slice(0, colon), nameAndTag.slice(colon + 1)] : [nameAndTag, undefined]
  if (tag !== undefined && !IMAGE_TAG.test(tag))
    return tag === ''
      ? 'the tag after `:` is empty'
      : `the tag \`${tag}\` must be letters, digits, \`_\`, \`.\` and \`-\` (at most 128, not starting with \`.\` or \`-\`)`
  if (name.length > 255) return 'the image name is longer than 255 characters'
  const parts = name.split('/')
  // Like the kubelet: a first component with `.`, `:` or upper case, or `localhost`, is a registry.
  const hasDomain = parts.length > 1 && /[.:A-Z]|^localhost$/.test(parts[0])
  if (hasDomain && !IMAGE_DOMAIN.test(parts[0])) return `the registry \`${parts[0]}\` is not a valid host[:port]`
  for (const part of hasDomain ? parts.slice(1) : parts) {
    if (part === '') return 'the image name has an empty path component'
    if (!IMAGE_PATH_COMPONENT.test(part)) {
      return part.toLowerCase() !== part
        ? `\`${part}\`: repository names must be lower-case`
        : `\`${part}\` must be lower-case letters and digits, separated by \`.\`, \`_\`, \`__\` or \`-\``
    }
  }
  return undefined
}

// Woodpecker's agent decodes backend_options.kubernetes with mapstructure's weakly typed input: a
// quoted number is taken where a number is due, a number where text is due, and so on. These give
// the value the agent ends up with, or undefined where its decoding fails (and the option is lost).

/** Text as the agent decodes it: numbers in base 10, booleans as "1" / "0". */
export function weakString(value: unknown): string | undefined {
  if (typeof value === 'string') return value
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  if (typeof value === 'boolean') return value ? '1' : '0'
  return undefined
}

const GO_INT = /^[+-]?(0[xX](_?[0-9a-fA-F])+|0[oO](_?[0-7])+|0[bB](_?[01])+|0(_?[0-7])*|[1-9](_?[0-9])*)$/

/** A whole number as the agent decodes it: numbers (fractions cut), text as Go reads `0x10`, `0o17`, `1_000`, booleans as 1 / 0. */
export function weakInt(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return Math.trunc(value)
  if (typeof value === 'boolean') return value ? 1 : 0
  if (typeof value !== 'string') return undefined
  const text = value === '' ? '0' : value
  if (!GO_INT.test(text)) return undefined
  const sign = text.startsWith('-') ? -1 : 1
  const digits = text.replace(/^[+-]/, '').replace(/_/g, '')
  const parsed = /^0[xX]/.test(digits)
    ? parseInt(digits.slice(2), 16)
    : /^0[oO]/.test(digits)
      ? parseInt(digits.slice(2), 8)
      : /^0[bB]/.test(digits)
        ? parseInt(digits.slice(2), 2)
        : /^0[0-7]/.test(digits)
          ? parseInt(digits.slice(1), 8)
          : parseInt(digits, 10)
  return sign * parsed
}

/** A boolean as the agent decodes it: booleans, numbers (non-zero is true), Go's boolean words, "" as false. */
export function weakBool(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value
  if (typeof value === 'number' && Number.isFinite(value)) return value !== 0
  if (typeof value !== 'string') return undefined
  if (value === '' || ['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(value)) return false
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value)) return true
  return undefined
}

/** A list of text as the agent decodes it: a single value counts as a list of one. */
export function weakStringList(value: unknown): string[] | undefined {
  const items = Array.isArray(value) ? value : [value]
  const out = items.map(weakString)
  return out.every((s) => s !== undefined) ? (out as string[]) : undefined
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/

/** An IPv4 or IPv6 address, as Kubernetes requires for host aliases and DNS nameservers. */
export const ipAddress: Rule = (v) => {
  if (IPV4.test(v)) return undefined
  if (/^[0-9a-fA-F:.]+$/.test(v) && v.includes(':') && isIPv6(v)) return undefined
  return 'not an IP address'
}

function isIPv6(v: string): boolean {
  const halves = v.split('::')
  if (halves.length > 2) return false
  const groups = (part: string) => (part === '' ? [] : part.split(':'))
  const parts = [...groups(halves[0]), ...(halves.length === 2 ? groups(halves[1]) : [])]
  const last = parts.at(-1)
  const v4tail = last !== undefined && IPV4.test(last)
  const hex = v4tail ? parts.slice(0, -1) : parts
  if (!hex.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false
  const count = hex.length + (v4tail ? 2 : 0)
  return halves.length === 2 ? count < 8 : count === 8
}
