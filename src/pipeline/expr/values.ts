/**
 * Run-time values of the expression language, shaped after the Go values expr works with:
 * `string`, `boolean`, `bigint` (Go `int`, 64-bit, wrapping), `number` (Go `float64`), `null` (nil),
 * arrays (Go slices), `GoMap` (Go maps, which remember their Go type), times and durations.
 */
import {compareStrings, formatDuration, formatFloat} from './go.js'

/** Which Go map type a map value has; it decides what a missing key gives and which maps are equal. */
export type MapKind =
  | 'env' // map[string]string: `$env`, a missing key gives ""
  | 'object' // map[string]any: map literals, JSON objects
  | 'group' // map[any][]any: groupBy
  | 'pairs' // map[any]any: fromPairs

export class GoMap {
  constructor(
    readonly kind: MapKind,
    readonly entries: Map<Value, Value>,
  ) {}

  /** Value for a key that is absent. */
  get zero(): Value {
    return this.kind === 'env' ? '' : null
  }

  /** The key Go looks up for `key` (nil means the key type's zero value), or undefined when Go would panic. */
  keyFor(key: Value): Value | undefined {
    const stringKeys = this.kind === 'env' || this.kind === 'object'
    if (key === null) return stringKeys ? '' : null
    return !stringKeys || typeof key === 'string' ? key : undefined
  }
}

export class GoTime {
  constructor(readonly ms: number) {}
}

export class GoDuration {
  constructor(readonly ns: bigint) {}
}

/** A builtin named without calling it (`len == nil`). */
export class GoFunc {
  constructor(readonly name: string) {}
}

export type Value = string | boolean | bigint | number | null | Value[] | GoMap | GoTime | GoDuration | GoFunc

export const isNumber = (v: Value): v is bigint | number => typeof v === 'bigint' || typeof v === 'number'

/** A run-time failure with a plain message; the evaluator adds where it happened. */
export class RuntimeFailure extends Error {}

/** Short description of a value's type for messages. */
export function describe(v: Value): string {
  if (v === null) return 'nil'
  if (typeof v === 'string') return 'a string'
  if (typeof v === 'boolean') return 'a boolean'
  if (typeof v === 'bigint') return 'an integer'
  if (typeof v === 'number') return 'a number'
  if (Array.isArray(v)) return 'a list'
  if (v instanceof GoMap) return 'a map'
  if (v instanceof GoTime) return 'a time'
  if (v instanceof GoDuration) return 'a duration'
  return 'a function'
}

/** expr's `==`: numbers compare by value across int and float, lists element by element, maps by Go's DeepEqual. */
export function equal(a: Value, b: Value): boolean {
  if (isNumber(a) && isNumber(b)) return typeof a === typeof b ? a === b : Number(a) === Number(b)
  if (typeof a === 'string' || typeof a === 'boolean') return a === b
  if (a === null || b === null) return a === b
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => equal(x, b[i]))
  if (a instanceof GoTime) return b instanceof GoTime && a.ms === b.ms
  if (a instanceof GoDuration) return b instanceof GoDuration && a.ns === b.ns
  if (a instanceof GoMap) return b instanceof GoMap && a.kind === b.kind && deepEqual(a, b)
  return a === b
}

/** Go's `reflect.DeepEqual` on values of the same static type: types must match exactly. */
function deepEqual(a: Value, b: Value): boolean {
  if (typeof a !== typeof b) return false
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return a === b
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]))
  if (a instanceof GoMap) {
    if (!(b instanceof GoMap) || a.kind !== b.kind || a.entries.size !== b.entries.size) return false
    for (const [k, v] of a.entries) if (!b.entries.has(k) || !deepEqual(v, b.entries.get(k)!)) return false
    return true
  }
  return equal(a, b)
}

/** expr's `<`: numbers, strings (bytewise), times and durations; anything else cannot be ordered. */
export function less(a: Value, b: Value): boolean | undefined {
  if (isNumber(a) && isNumber(b)) return typeof a === typeof b ? a < b : Number(a) < Number(b)
  if (typeof a === 'string' && typeof b === 'string') return compareStrings(a, b) < 0
  if (a instanceof GoTime && b instanceof GoTime) return a.ms < b.ms
  if (a instanceof GoDuration && b instanceof GoDuration) return a.ns < b.ns
  return undefined
}

/** Go's `fmt.Sprintf("%v", v)`. */
export function format(v: Value): string {
  if (v === null) return '<nil>'
  if (typeof v === 'string') return v
  if (typeof v === 'boolean' || typeof v === 'bigint') return String(v)
  if (typeof v === 'number') return formatFloat(v)
  if (Array.isArray(v)) return `[${v.map(format).join(' ')}]`
  if (v instanceof GoMap)
    return `map[${sortedEntries(v)
      .map(([k, x]) => `${format(k)}:${format(x)}`)
      .join(' ')}]`
  if (v instanceof GoTime) return new Date(v.ms).toISOString()
  if (v instanceof GoDuration) return formatDuration(v.ns)
  return v.name
}

function sortedEntries(m: GoMap): [Value, Value][] {
  return [...m.entries].sort(([a], [b]) =>
    typeof a === 'string' && typeof b === 'string' ? compareStrings(a, b) : less(a, b) ? -1 : less(b, a) ? 1 : 0,
  )
}

/** Go's `type()` builtin of expr. */
export function typeName(v: Value): string {
  if (v === null) return 'nil'
  if (typeof v === 'string') return 'string'
  if (typeof v === 'boolean') return 'bool'
  if (typeof v === 'bigint') return 'int'
  if (typeof v === 'number') return 'float'
  if (Array.isArray(v)) return 'array'
  if (v instanceof GoMap) return 'map'
  if (v instanceof GoTime) return 'time.Time'
  if (v instanceof GoDuration) return 'time.Duration'
  return 'func'
}

/** Go's `json.MarshalIndent(v, "", "  ")`. */
export function toJSON(v: Value, indent = ''): string {
  if (v === null) return 'null'
  if (typeof v === 'string') return jsonString(v)
  if (typeof v === 'boolean' || typeof v === 'bigint') return String(v)
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new RuntimeFailure(`${formatFloat(v)} cannot be written as JSON`)
    return Object.is(v, -0) ? '-0' : JSON.stringify(v)
  }
  const inner = `${indent}  `
  if (Array.isArray(v))
    return v.length === 0 ? '[]' : `[\n${v.map((x) => inner + toJSON(x, inner)).join(',\n')}\n${indent}]`
  if (v instanceof GoMap) {
    if (v.entries.size === 0) return '{}'
    const entries = [...v.entries]
      .map(([k, x]): [string, Value] => {
        if (typeof k === 'string') return [k, x]
        if (typeof k === 'bigint') return [String(k), x]
        throw new RuntimeFailure(`a map with ${describe(k)} as key cannot be written as JSON`)
      })
      .sort(([a], [b]) => compareStrings(a, b))
    return `{\n${entries.map(([k, x]) => `${inner}${jsonString(k)}: ${toJSON(x, inner)}`).join(',\n')}\n${indent}}`
  }
  if (v instanceof GoTime) return jsonString(new Date(v.ms).toISOString())
  if (v instanceof GoDuration) return String(v.ns)
  throw new RuntimeFailure('a function cannot be written as JSON')
}

function jsonString(s: string): string {
  let out = '"'
  for (const ch of s) {
    const c = ch.codePointAt(0)!
    if (ch === '"') out += '\\"'
    else if (ch === '\\') out += '\\\\'
    else if (ch === '\n') out += '\\n'
    else if (ch === '\r') out += '\\r'
    else if (ch === '\t') out += '\\t'
    else if (ch === '\b') out += '\\b'
    else if (ch === '\f') out += '\\f'
    else if (c < 0x20 || ch === '<' || ch === '>' || ch === '&' || c === 0x2028 || c === 0x2029)
      out += `\\u${c.toString(16).padStart(4, '0')}`
    else if (c >= 0xd800 && c <= 0xdfff) out += '\\ufffd'
    else out += ch
  }
  return `${out}"`
}

/** Go's `json.Unmarshal` into `any`: numbers become float64, objects map[string]any. */
export function fromJSON(text: string): Value {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw new RuntimeFailure(`not valid JSON (${(error as Error).message})`)
  }
  const convert = (x: unknown): Value => {
    if (x === null || typeof x === 'string' || typeof x === 'boolean') return x
    if (typeof x === 'number') {
      if (!Number.isFinite(x)) throw new RuntimeFailure('not valid JSON (a number is out of range)')
      return x
    }
    if (Array.isArray(x)) return x.map(convert)
    return new GoMap('object', new Map(Object.entries(x as Record<string, unknown>).map(([k, v]) => [k, convert(v)])))
  }
  return convert(parsed)
}
