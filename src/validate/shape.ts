import type {Path} from '../pipeline/source.js'
import type {IssueCollector} from './issue.js'
import type {Rule} from './kube-rules.js'
import {didYouMean} from './suggest.js'

export type Data = Record<string, unknown>

export function isMap(value: unknown): value is Data {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function isScalar(value: unknown): value is string | number | boolean {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
}

/** A key that used to exist: the message says so and the hint says what replaced it. */
export interface Retired {
  message: string
  hint: string
  severity?: 'error' | 'warning'
}

/** Reports keys outside `known`, with a "did you mean" for near misses and a hint for retired keys. */
/** Unknown keys are errors unless `unknown` says `warning` (Woodpecker's schema only warns, then ignores them). */
export function checkKeys(
  c: IssueCollector,
  path: Path,
  value: Data,
  known: readonly string[],
  retired: Record<string, Retired> = {},
  unknown: 'error' | 'warning' = 'error',
): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue
    const old = retired[key]
    if (old) {
      if (old.severity === 'warning') c.warn([...path, key], old.message, {hint: old.hint, atKey: true})
      else c.error([...path, key], old.message, {hint: old.hint, atKey: true})
      continue
    }
    const details = {expected: `one of ${known.join(', ')}`, hint: didYouMean(key, known), atKey: true}
    if (unknown === 'warning') c.warn([...path, key], `unknown key \`${key}\`: Woodpecker ignores it`, details)
    else c.error([...path, key], `unknown key \`${key}\``, details)
  }
}

/** Checks that a map is a map; reports and returns false otherwise. */
export function expectMap(c: IssueCollector, path: Path, value: unknown, what = 'a map'): value is Data {
  if (isMap(value)) return true
  c.error(path, `must be ${what}`, {expected: what, found: value})
  return false
}

export function expectString(c: IssueCollector, path: Path, value: unknown, rule?: Rule): value is string {
  if (typeof value !== 'string') {
    c.error(path, 'must be a string', {expected: 'a string', found: value})
    return false
  }
  const problem = rule?.(value)
  if (problem) c.error(path, `invalid value: ${problem}`, {found: value})
  return !problem
}

export function expectBool(c: IssueCollector, path: Path, value: unknown): value is boolean {
  if (typeof value === 'boolean') return true
  c.error(path, 'must be true or false', {expected: 'a boolean', found: value})
  return false
}

export function expectInteger(c: IssueCollector, path: Path, value: unknown, min = 0): value is number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= min) return true
  c.error(path, `must be a whole number${min === 0 ? ' of 0 or more' : ` of at least ${min}`}`, {
    expected: 'an integer',
    found: value,
  })
  return false
}

export function expectEnum(c: IssueCollector, path: Path, value: unknown, allowed: readonly string[]): boolean {
  if (typeof value === 'string' && allowed.includes(value)) return true
  c.error(path, `must be one of ${allowed.join(', ')}`, {
    expected: allowed.join(' | '),
    found: value,
    hint: typeof value === 'string' ? didYouMean(value, allowed) : undefined,
  })
  return false
}

/** Woodpecker's "string or list of strings" fields (`commands`, `entrypoint`, `depends_on`, ...). */
export function expectStringOrList(c: IssueCollector, path: Path, value: unknown): boolean {
  if (isScalar(value)) return true
  if (Array.isArray(value)) {
    let ok = true
    value.forEach((item, i) => {
      if (!isScalar(item)) {
        c.error([...path, i], 'must be a string', {expected: 'a string', found: item})
        ok = false
      }
    })
    return ok
  }
  c.error(path, 'must be a string or a list of strings', {expected: 'a string or a list of strings', found: value})
  return false
}

/** A map whose keys and values must both follow a rule (labels, node selectors, annotations). */
export function checkStringMap(c: IssueCollector, path: Path, value: unknown, keyRule: Rule, valueRule?: Rule): void {
  if (!expectMap(c, path, value)) return
  for (const [key, item] of Object.entries(value)) {
    const keyProblem = keyRule(key)
    if (keyProblem) c.error([...path, key], `invalid key \`${key}\`: ${keyProblem}`, {atKey: true})
    if (!isScalar(item)) {
      c.error([...path, key], 'must be a string', {expected: 'a string', found: item})
      continue
    }
    const valueProblem = valueRule?.(String(item))
    if (valueProblem) c.error([...path, key], `invalid value: ${valueProblem}`, {found: String(item)})
  }
}
