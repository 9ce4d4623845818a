/**
 * expr's builtin functions (other than the predicate ones such as `any`/`filter`, which the evaluator
 * runs): for each, the compile-time check of its arguments and the run-time implementation.
 */
import * as go from './go.js'
import {
  ANY,
  ARRAY_ANY,
  assignable,
  BOOL,
  describeNature,
  DURATION,
  elemOf,
  FLOAT,
  INT,
  isNumber as isNumberNature,
  isUnknown,
  type Nature,
  sliceOf,
  STRING,
  TIME,
} from './natures.js'
import {
  describe,
  equal as equalValues,
  format,
  fromJSON,
  GoDuration,
  GoMap,
  GoTime,
  isNumber,
  less,
  RuntimeFailure,
  toJSON,
  typeName,
  type Value,
} from './values.js'

/** A problem with a builtin's arguments found while checking. */
export class ArgumentProblem extends Error {}

interface Builtin {
  check(args: Nature[]): Nature
  run(args: Value[]): Value
}

type Signature = [params: Nature[], out: Nature]

const LOCATION: Nature = {k: 'location'}
const S = STRING
const LIST_STRING = sliceOf('string')

/** Overloads as expr declares them with Go function types; the first that fits wins. */
function overloads(name: string, ...signatures: Signature[]): (args: Nature[]) => Nature {
  return (args) => {
    const problems: string[] = []
    for (const [params, out] of signatures) {
      const problem = argumentProblem(name, params, args)
      if (problem === '') return out
      if (params.length === args.length) problems.push(problem)
    }
    if (problems.length > 0) throw new ArgumentProblem(problems.at(-1)!)
    const counts = [...new Set(signatures.map(([params]) => params.length))].sort()
    throw new ArgumentProblem(
      `${name} takes ${counts.join(' or ')} argument${counts.at(-1) === 1 ? '' : 's'}, not ${args.length}`,
    )
  }
}

function argumentProblem(name: string, params: Nature[], args: Nature[]): string {
  if (args.length !== params.length)
    return `${name} takes ${params.length} argument${params.length === 1 ? '' : 's'}, not ${args.length}`
  for (let i = 0; i < args.length; i++) {
    const [arg, param] = [args[i], params[i]]
    if (param.k === 'float' && arg.k === 'int') continue
    if (arg.k === 'nil') {
      if (param.k === 'any') continue
      return `${name} cannot take nil as ${ordinal(i, args.length)}argument (it needs ${describeNature(param)})`
    }
    if (!assignable(arg, param) && !isUnknown(arg))
      return `${name} needs ${describeNature(param)} as ${ordinal(i, args.length)}argument, not ${describeNature(arg)}`
  }
  return ''
}

const ordinal = (i: number, count: number): string =>
  count === 1 ? '' : `${['first', 'second', 'third', 'fourth'][i] ?? `argument ${i + 1}`} `

function count(name: string, args: unknown[], expected: number): void {
  if (args.length !== expected)
    throw new ArgumentProblem(`${name} takes ${expected} argument${expected === 1 ? '' : 's'}, not ${args.length}`)
}

// ---- run-time argument helpers (Go would panic on a wrong dynamic type)

function str(name: string, v: Value): string {
  if (typeof v !== 'string') throw new RuntimeFailure(`${name} needs a string, not ${describe(v)}`)
  return v
}

function int(name: string, v: Value): bigint {
  if (typeof v !== 'bigint') throw new RuntimeFailure(`${name} needs an integer, not ${describe(v)}`)
  return v
}

function list(name: string, v: Value): Value[] {
  if (!Array.isArray(v)) throw new RuntimeFailure(`${name} needs a list, not ${describe(v)}`)
  return v
}

function map(name: string, v: Value): GoMap {
  if (!(v instanceof GoMap)) throw new RuntimeFailure(`${name} needs a map, not ${describe(v)}`)
  return v
}

const MEMORY_BUDGET = 1_000_000

function unsupported(name: string): never {
  throw new RuntimeFailure(`${name}() is not supported by wpk8s`)
}

/** Go's `int(x)` of expr: numbers truncate, strings must be decimal integers. */
export function toInt(v: Value, name = 'int'): bigint {
  if (typeof v === 'bigint') return v
  if (typeof v === 'number') return Number.isFinite(v) ? go.wrapInt(BigInt(Math.trunc(v))) : go.MIN_INT
  if (typeof v === 'string') {
    const n = go.parseGoInt(v)
    if (n === undefined) throw new RuntimeFailure(`${JSON.stringify(v)} is not a whole number`)
    return n
  }
  if (v instanceof GoDuration) return v.ns
  throw new RuntimeFailure(`${name}() cannot convert ${describe(v)} to an integer`)
}

function toFloat(v: Value): number {
  if (typeof v === 'number') return v
  if (typeof v === 'bigint') return Number(v)
  if (typeof v === 'string') {
    const f = go.parseGoFloat(v)
    if (f === undefined) throw new RuntimeFailure(`${JSON.stringify(v)} is not a number`)
    return f
  }
  if (v instanceof GoDuration) return Number(v.ns)
  throw new RuntimeFailure(`float() cannot convert ${describe(v)} to a number`)
}

function numeric(name: string, v: Value): bigint | number {
  if (!isNumber(v)) throw new RuntimeFailure(`${name} needs a number, not ${describe(v)}`)
  return v
}

const goRound = (f: number): number => (f < 0 ? -Math.round(-f) : Math.round(f))

function validateRound(name: string): (args: Nature[]) => Nature {
  return (args) => {
    count(name, args, 1)
    if (!isNumberNature(args[0]) && !isUnknown(args[0]))
      throw new ArgumentProblem(`${name} needs a number, not ${describeNature(args[0])}`)
    return FLOAT
  }
}

function validateAggregate(name: string): (args: Nature[]) => Nature {
  return (args) => {
    if (args.length === 0) throw new ArgumentProblem(`${name} needs at least one argument`)
    for (const arg of args) {
      if (isUnknown(arg) || arg.k === 'array') return ANY
      if (!isNumberNature(arg))
        throw new ArgumentProblem(`${name} needs numbers or lists of numbers, not ${describeNature(arg)}`)
    }
    return args[0]
  }
}

/** Numbers of the arguments, lists flattened (max/min/mean/median). */
function numbers(name: string, args: Value[], depth = 0): (bigint | number)[] {
  if (depth > 10000) throw new RuntimeFailure(`${name}: lists are nested too deeply`)
  const out: (bigint | number)[] = []
  for (const arg of args) {
    if (Array.isArray(arg)) out.push(...numbers(name, arg, depth + 1))
    else if (isNumber(arg)) out.push(arg)
    else throw new RuntimeFailure(`${name} needs numbers, not ${describe(arg)}`)
  }
  return out
}

function validateOneCollection(
  name: string,
  result: (arg: Nature) => Nature,
  accepts: (arg: Nature) => boolean,
): (args: Nature[]) => Nature {
  return (args) => {
    count(name, args, 1)
    if (!isUnknown(args[0]) && !accepts(args[0]))
      throw new ArgumentProblem(`${name} cannot take ${describeNature(args[0])}`)
    return isUnknown(args[0]) ? resultForUnknown(result, args[0]) : result(args[0])
  }
}

const resultForUnknown = (result: (arg: Nature) => Nature, arg: Nature): Nature => {
  const r = result(arg)
  return r.k === 'unknown' ? ANY : r
}

const isList = (n: Nature): boolean => n.k === 'array'
const isMap = (n: Nature): boolean => n.k === 'map'

/** Elements of a Go slice type (`first(split(…))` is a string, `first([…])` any). */
const sliceElem = (n: Nature): Nature => (n.k === 'array' ? (n.go === 'any' ? ANY : elemOf(n)) : ANY)

function bit(name: string, f: (x: bigint, y: bigint) => bigint): Builtin {
  return {
    check: overloads(name, [[INT, INT], INT]),
    run: ([x, y]) => go.wrapInt(f(int(name, x), int(name, y))),
  }
}

function shift(name: string, f: (x: bigint, y: bigint) => bigint): Builtin {
  return bit(name, (x, y) => {
    if (y < 0n) throw new RuntimeFailure(`${name}: negative shift count ${y}`)
    return f(x, y > 64n ? 64n : y)
  })
}

function sortValues(values: Value[], desc: boolean): Value[] {
  const order = (a: Value, b: Value): number => {
    const lt = less(a, b)
    if (lt === undefined) throw new RuntimeFailure(`cannot sort ${describe(a)} and ${describe(b)}`)
    return lt ? -1 : less(b, a) ? 1 : 0
  }
  const sorted = [...values].sort(order)
  return desc ? sorted.reverse() : sorted
}

function flatten(values: Value[], out: Value[] = []): Value[] {
  for (const v of values) {
    if (Array.isArray(v)) flatten(v, out)
    else out.push(v)
  }
  return out
}

/** `runtime.Fetch` as `get`/`first`/`last` use it: anything that does not exist is nil. */
export function fetchOrNil(from: Value, key: Value): Value {
  if (from instanceof GoMap) {
    const k = from.keyFor(key)
    return k !== undefined && from.entries.has(k) ? from.entries.get(k)! : null
  }
  if (Array.isArray(from) || typeof from === 'string') {
    if (typeof key !== 'bigint' && typeof key !== 'number') return null
    const length = typeof from === 'string' ? go.byteLength(from) : from.length
    let i = Number(typeof key === 'number' ? Math.trunc(key) : key)
    if (i < 0) i += length
    if (i < 0 || i >= length) return null
    return typeof from === 'string' ? BigInt(go.byteAt(from, i)) : from[i]
  }
  return null
}

const BUILTINS: Record<string, Builtin> = {
  len: {
    check: (args) => {
      count('len', args, 1)
      const a = args[0]
      if (isUnknown(a) || a.k === 'array' || a.k === 'map' || a.k === 'string') return INT
      throw new ArgumentProblem(`len needs a string, a list or a map, not ${describeNature(a)}`)
    },
    run: ([v]) => {
      if (typeof v === 'string') return BigInt(go.runeCount(v))
      if (Array.isArray(v)) return BigInt(v.length)
      if (v instanceof GoMap) return BigInt(v.entries.size)
      throw new RuntimeFailure(`len needs a string, a list or a map, not ${describe(v)}`)
    },
  },
  type: {check: overloads('type', [[ANY], S]), run: ([v]) => typeName(v)},
  abs: {
    check: (args) => {
      count('abs', args, 1)
      if (isNumberNature(args[0])) return args[0]
      if (isUnknown(args[0])) return ANY
      throw new ArgumentProblem(`abs needs a number, not ${describeNature(args[0])}`)
    },
    run: ([v]) => {
      const n = numeric('abs', v)
      return typeof n === 'bigint' ? go.wrapInt(n < 0n ? -n : n) : Math.abs(n)
    },
  },
  ceil: {check: validateRound('ceil'), run: ([v]) => Math.ceil(Number(numeric('ceil', v)))},
  floor: {check: validateRound('floor'), run: ([v]) => Math.floor(Number(numeric('floor', v)))},
  round: {check: validateRound('round'), run: ([v]) => goRound(Number(numeric('round', v)))},
  int: {
    check: (args) => {
      count('int', args, 1)
      const a = args[0]
      if (isUnknown(a) || isNumberNature(a) || a.k === 'string' || a.k === 'duration') return INT
      throw new ArgumentProblem(`int cannot convert ${describeNature(a)} to an integer`)
    },
    run: ([v]) => toInt(v),
  },
  float: {
    check: (args) => {
      count('float', args, 1)
      const a = args[0]
      if (isUnknown(a) || isNumberNature(a) || a.k === 'string' || a.k === 'duration') return FLOAT
      throw new ArgumentProblem(`float cannot convert ${describeNature(a)} to a number`)
    },
    run: ([v]) => toFloat(v),
  },
  string: {check: overloads('string', [[ANY], S]), run: ([v]) => format(v)},
  trim: {
    check: overloads('trim', [[S], S], [[S, S], S]),
    run: (args) =>
      args.length === 1
        ? go.trimSpace(str('trim', args[0]))
        : go.trimCutset(str('trim', args[0]), str('trim', args[1])),
  },
  trimPrefix: {
    check: overloads('trimPrefix', [[S, S], S], [[S], S]),
    run: ([s, p = ' ']) => {
      const [a, b] = [str('trimPrefix', s), str('trimPrefix', p)]
      return a.startsWith(b) ? a.slice(b.length) : a
    },
  },
  trimSuffix: {
    check: overloads('trimSuffix', [[S, S], S], [[S], S]),
    run: ([s, p = ' ']) => {
      const [a, b] = [str('trimSuffix', s), str('trimSuffix', p)]
      return b !== '' && a.endsWith(b) ? a.slice(0, a.length - b.length) : a
    },
  },
  upper: {check: overloads('upper', [[S], S]), run: ([s]) => go.toUpper(str('upper', s))},
  lower: {check: overloads('lower', [[S], S]), run: ([s]) => go.toLower(str('lower', s))},
  split: {
    check: overloads('split', [[S, S], LIST_STRING], [[S, S, INT], LIST_STRING]),
    run: ([s, sep, n]) =>
      go.split(str('split', s), str('split', sep), n === undefined ? -1 : Number(int('split', n)), false),
  },
  splitAfter: {
    check: overloads('splitAfter', [[S, S], LIST_STRING], [[S, S, INT], LIST_STRING]),
    run: ([s, sep, n]) =>
      go.split(str('splitAfter', s), str('splitAfter', sep), n === undefined ? -1 : Number(int('splitAfter', n)), true),
  },
  replace: {
    check: overloads('replace', [[S, S, S, INT], S], [[S, S, S], S]),
    run: ([s, old, rep, n]) =>
      go.replace(
        str('replace', s),
        str('replace', old),
        str('replace', rep),
        n === undefined ? -1 : Number(int('replace', n)),
      ),
  },
  repeat: {
    check: overloads('repeat', [[S, INT], S]),
    run: ([s, n]) => {
      const times = int('repeat', n)
      if (times < 0n) throw new RuntimeFailure(`repeat needs a count of 0 or more, not ${times}`)
      const text = str('repeat', s)
      if (times > BigInt(MEMORY_BUDGET) || text.length * Number(times) > MEMORY_BUDGET * 10)
        throw new RuntimeFailure('repeat: the result would be too large')
      return text.repeat(Number(times))
    },
  },
  join: {
    check: overloads('join', [[LIST_STRING, S], S], [[ARRAY_ANY, S], S], [[ARRAY_ANY], S], [[LIST_STRING], S]),
    run: ([values, glue = '']) =>
      list('join', values)
        .map((v) => str('join', v))
        .join(str('join', glue)),
  },
  indexOf: {
    check: overloads('indexOf', [[S, S], INT]),
    run: ([s, sub]) => BigInt(go.indexOf(str('indexOf', s), str('indexOf', sub))),
  },
  lastIndexOf: {
    check: overloads('lastIndexOf', [[S, S], INT]),
    run: ([s, sub]) => BigInt(go.lastIndexOf(str('lastIndexOf', s), str('lastIndexOf', sub))),
  },
  hasPrefix: {
    check: overloads('hasPrefix', [[S, S], BOOL]),
    run: ([s, p]) => str('hasPrefix', s).startsWith(str('hasPrefix', p)),
  },
  hasSuffix: {
    check: overloads('hasSuffix', [[S, S], BOOL]),
    run: ([s, p]) => str('hasSuffix', s).endsWith(str('hasSuffix', p)),
  },
  max: {
    check: validateAggregate('max'),
    run: (args) => numbers('max', args).reduce<Value>((best, v) => (best === null || less(best, v) ? v : best), null),
  },
  min: {
    check: validateAggregate('min'),
    run: (args) => numbers('min', args).reduce<Value>((best, v) => (best === null || less(v, best) ? v : best), null),
  },
  mean: {
    check: validateAggregate('mean'),
    run: (args) => {
      const values = numbers('mean', args).map(Number)
      return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length
    },
  },
  median: {
    check: validateAggregate('median'),
    run: (args) => {
      const values = numbers('median', args)
        .map(Number)
        .sort((a, b) => a - b)
      const n = values.length
      if (n === 0) return 0
      return n % 2 === 1 ? values[(n - 1) / 2] : (values[n / 2 - 1] + values[n / 2]) / 2
    },
  },
  toJSON: {check: overloads('toJSON', [[ANY], S]), run: ([v]) => toJSON(v)},
  fromJSON: {check: overloads('fromJSON', [[S], ANY]), run: ([s]) => fromJSON(str('fromJSON', s))},
  toBase64: {check: overloads('toBase64', [[S], S]), run: ([s]) => go.toBase64(str('toBase64', s))},
  fromBase64: {
    check: overloads('fromBase64', [[S], S]),
    run: ([s]) => {
      const decoded = go.fromBase64(str('fromBase64', s))
      if (decoded === undefined) throw new RuntimeFailure(`${JSON.stringify(s)} is not valid base64`)
      return decoded
    },
  },
  now: {
    check: (args) => {
      if (args.length === 0 || (args.length === 1 && (args[0].k === 'location' || isUnknown(args[0])))) return TIME
      throw new ArgumentProblem(`now takes no arguments, not ${args.length}`)
    },
    run: (args) => (args.length === 0 ? new GoTime(Date.now()) : unsupported('now(timezone)')),
  },
  duration: {
    check: overloads('duration', [[S], DURATION]),
    run: ([s]) => {
      const ns = go.parseDuration(str('duration', s))
      if (ns === undefined) throw new RuntimeFailure(`${JSON.stringify(s)} is not a duration such as "1h30m"`)
      return new GoDuration(ns)
    },
  },
  date: {
    check: (args) => {
      const rest = args.length > 0 && args[0].k === 'location' ? args.slice(1) : args
      if (args.length === 0) throw new ArgumentProblem('date needs at least one argument')
      if (rest.length > 3) throw new ArgumentProblem(`date takes at most 3 arguments, not ${rest.length}`)
      return TIME
    },
    run: () => unsupported('date'),
  },
  timezone: {check: overloads('timezone', [[S], LOCATION]), run: () => unsupported('timezone')},
  first: {
    check: validateOneCollection('first', sliceElem, isList),
    run: ([v]) => fetchOrNil(v, 0n),
  },
  last: {
    check: validateOneCollection('last', sliceElem, isList),
    run: ([v]) => fetchOrNil(v, -1n),
  },
  get: {check: () => ANY, run: ([from, key]) => fetchOrNil(from, key)},
  take: {
    check: (args) => {
      count('take', args, 2)
      if (!isUnknown(args[0]) && args[0].k !== 'array')
        throw new ArgumentProblem(`take cannot take from ${describeNature(args[0])}`)
      if (!isUnknown(args[1]) && args[1].k !== 'int')
        throw new ArgumentProblem(`take needs an integer count, not ${describeNature(args[1])}`)
      return isUnknown(args[0]) ? ANY : args[0]
    },
    run: ([v, n]) => {
      const values = list('take', v)
      const k = toInt(n, 'take')
      return k > BigInt(values.length) ? values : values.slice(0, Number(k < 0n ? 0n : k))
    },
  },
  keys: {
    check: validateOneCollection('keys', () => ARRAY_ANY, isMap),
    run: ([m]) => [...map('keys', m).entries.keys()],
  },
  values: {
    check: validateOneCollection('values', () => ARRAY_ANY, isMap),
    run: ([m]) => [...map('values', m).entries.values()],
  },
  toPairs: {
    check: validateOneCollection('toPairs', () => ARRAY_ANY, isMap),
    run: ([m]) => [...map('toPairs', m).entries].map(([k, v]) => [k, v]),
  },
  fromPairs: {
    check: validateOneCollection('fromPairs', () => ({k: 'map', key: ANY, elem: ANY, go: 'map[any]any'}), isList),
    run: ([pairs]) => {
      const out = new Map<Value, Value>()
      for (const pair of list('fromPairs', pairs)) {
        if (!Array.isArray(pair) || pair.length !== 2)
          throw new RuntimeFailure(`fromPairs needs pairs [key, value], not ${format(pair)}`)
        out.set(pair[0], pair[1])
      }
      return new GoMap('pairs', out)
    },
  },
  reverse: {
    check: validateOneCollection('reverse', () => ARRAY_ANY, isList),
    run: ([v]) => [...list('reverse', v)].reverse(),
  },
  uniq: {
    check: validateOneCollection('uniq', () => ARRAY_ANY, isList),
    run: ([v]) => {
      const out: Value[] = []
      for (const x of list('uniq', v)) if (!out.some((y) => equalValues(x, y))) out.push(x)
      return out
    },
  },
  concat: {
    check: (args) => {
      if (args.length === 0) throw new ArgumentProblem('concat needs at least one argument')
      for (const a of args)
        if (!isUnknown(a) && a.k !== 'array') throw new ArgumentProblem(`concat needs lists, not ${describeNature(a)}`)
      return ARRAY_ANY
    },
    run: (args) => args.flatMap((a) => list('concat', a)),
  },
  flatten: {
    check: validateOneCollection('flatten', () => ARRAY_ANY, isList),
    run: ([v]) => flatten(list('flatten', v)),
  },
  sort: {
    check: overloads(
      'sort',
      [[ARRAY_ANY, S], ARRAY_ANY],
      [[sliceOf('int'), S], ARRAY_ANY],
      [[sliceOf('float'), S], ARRAY_ANY],
      [[LIST_STRING, S], ARRAY_ANY],
      [[ARRAY_ANY], ARRAY_ANY],
      [[sliceOf('float')], ARRAY_ANY],
      [[LIST_STRING], ARRAY_ANY],
      [[sliceOf('int')], ARRAY_ANY],
    ),
    run: ([v, order = 'asc']) => {
      const o = str('sort', order)
      if (o !== 'asc' && o !== 'desc')
        throw new RuntimeFailure(`sort order must be "asc" or "desc", not ${JSON.stringify(o)}`)
      return sortValues(list('sort', v), o === 'desc')
    },
  },
  bitand: bit('bitand', (x, y) => x & y),
  bitor: bit('bitor', (x, y) => x | y),
  bitxor: bit('bitxor', (x, y) => x ^ y),
  bitnand: bit('bitnand', (x, y) => x & ~y),
  bitshl: shift('bitshl', (x, y) => x << y),
  bitshr: shift('bitshr', (x, y) => x >> y),
  bitushr: shift('bitushr', (x, y) => BigInt.asUintN(64, x) >> y),
  bitnot: {check: overloads('bitnot', [[INT], INT]), run: ([x]) => ~int('bitnot', x)},
}

export const BUILTIN_NAMES: ReadonlySet<string> = new Set(Object.keys(BUILTINS))

export function builtin(name: string): Builtin | undefined {
  return Object.hasOwn(BUILTINS, name) ? BUILTINS[name] : undefined
}
