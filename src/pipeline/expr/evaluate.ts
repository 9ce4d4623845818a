/**
 * Runs a checked and folded expression the way expr's VM does: undefined variables are "" (the zero
 * value of Woodpecker's map[string]string), `&&`/`||` short-circuit and need a boolean on the left,
 * strings index and slice by bytes, and any Go panic (a wrong dynamic type, an index out of range) is a
 * run-time error.
 */
import type {Node, NodeOf} from './ast.js'
import {builtin, toInt} from './builtins.js'
import {goPow} from './fold.js'
import {byteAt, byteLength, sliceBytes, wrapInt} from './go.js'
import {PREDICATE_BUILTINS} from './parser.js'
import {compileRegex} from './regex.js'
import {
  describe,
  equal,
  format,
  GoDuration,
  GoFunc,
  GoMap,
  GoTime,
  isNumber,
  less,
  RuntimeFailure,
  type Value,
} from './values.js'

/** A run-time failure with the part of the expression where it happened. */
export class EvaluationFailure extends Error {}

/** Thrown by `?.` on nil, caught by the enclosing chain. */
class NilChain {}

const MEMORY_BUDGET = 1_000_000

interface Scope {
  element: Value
  index: number
  acc: Value
}

export class Evaluator {
  private readonly lets: {name: string; value: Value}[] = []
  private readonly scopes: Scope[] = []
  private readonly envMap: GoMap

  constructor(
    private readonly env: Readonly<Record<string, string>>,
    private readonly snippet: (node: Node) => string,
  ) {
    this.envMap = new GoMap('env', new Map(Object.entries(env)))
  }

  private fail(node: Node, message: string): never {
    throw new EvaluationFailure(`\`${this.snippet(node)}\`: ${message}${this.unsetHint(node)}`)
  }

  /** Names the undefined variables the failing node reads directly, the usual cause. */
  private unsetHint(node: Node): string {
    if (node.type === 'call') return ''
    const unset = new Set<string>()
    for (const n of [node, ...directChildren(node)]) {
      if (
        n.type === 'ident' &&
        n.name !== '$env' &&
        !Object.hasOwn(this.env, n.name) &&
        !this.lets.some((l) => l.name === n.name)
      )
        unset.add(n.name)
    }
    if (unset.size === 0) return ''
    const names = [...unset]
    const dashed = node.type === 'binary' && node.op === '-' && !/\s/.test(this.snippet(node))
    const hint = dashed ? `; a name with \`-\` is written $env["${this.snippet(node)}"]` : ''
    return ` (${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} not set, so ${names.length === 1 ? 'it is' : 'they are'} ""${hint})`
  }

  evaluate(node: Node): Value {
    switch (node.type) {
      case 'nil':
        return null
      case 'bool':
      case 'int':
      case 'float':
      case 'string':
        return node.value
      case 'constant':
        return Array.isArray(node.value) ? [...node.value] : node.value
      case 'ident':
        return this.identifier(node.name)
      case 'unary':
        return this.unary(node)
      case 'binary':
        return this.binary(node)
      case 'chain':
        try {
          return this.evaluate(node.node)
        } catch (error) {
          if (error instanceof NilChain) return null
          throw error
        }
      case 'member':
        return this.member(node)
      case 'slice':
        return this.slice(node)
      case 'call': {
        for (const arg of node.args) this.evaluate(arg)
        const callee = this.evaluate(node.callee)
        return this.fail(
          node,
          `${describe(callee)} cannot be called like a function${callee === '' && node.callee.type === 'ident' ? ` (there is no function ${node.callee.name})` : ''}`,
        )
      }
      case 'builtin':
        return PREDICATE_BUILTINS.has(node.name) ? this.predicate(node) : this.builtin(node)
      case 'predicate':
        return this.evaluate(node.node)
      case 'pointer': {
        const scope = this.scopes.at(-1)
        if (!scope) return this.fail(node, '`#` is only available inside a predicate')
        if (node.name === '') return scope.element
        if (node.name === 'index') return BigInt(scope.index)
        return scope.acc
      }
      case 'let': {
        this.lets.push({name: node.name, value: this.evaluate(node.value)})
        try {
          return this.evaluate(node.expr)
        } finally {
          this.lets.pop()
        }
      }
      case 'sequence': {
        let last: Value = null
        for (const n of node.nodes) last = this.evaluate(n)
        return last
      }
      case 'conditional': {
        const c = this.evaluate(node.cond)
        if (typeof c !== 'boolean') return this.fail(node.cond, `a condition must be true or false, not ${describe(c)}`)
        return this.evaluate(c ? node.exp1 : node.exp2)
      }
      case 'array':
        return node.nodes.map((n) => this.evaluate(n))
      case 'map': {
        const entries = new Map<Value, Value>()
        for (const pair of node.pairs) {
          const key = this.evaluate(pair.key)
          const value = this.evaluate(pair.value)
          if (typeof key !== 'string') this.fail(pair.key, `a map key must be a string, not ${describe(key)}`)
          entries.set(key, value)
        }
        return new GoMap('object', entries)
      }
    }
  }

  private identifier(name: string): Value {
    for (let i = this.lets.length - 1; i >= 0; i--) if (this.lets[i].name === name) return this.lets[i].value
    if (name === '$env') return this.envMap
    if (Object.hasOwn(this.env, name)) return this.env[name]
    if (builtin(name) || PREDICATE_BUILTINS.has(name)) return new GoFunc(name)
    return ''
  }

  private unary(node: NodeOf<'unary'>): Value {
    const v = this.evaluate(node.node)
    if (node.op === '!' || node.op === 'not') {
      if (typeof v !== 'boolean') return this.fail(node, `\`${node.op}\` needs a boolean, not ${describe(v)}`)
      return !v
    }
    if (typeof v === 'bigint') return node.op === '-' ? wrapInt(-v) : v
    if (typeof v === 'number') return node.op === '-' ? -v : v
    return this.fail(node, `\`${node.op}\` needs a number, not ${describe(v)}`)
  }

  private binary(node: NodeOf<'binary'>): Value {
    const op = node.op
    if (op === '&&' || op === 'and' || op === '||' || op === 'or') {
      const l = this.evaluate(node.left)
      if (typeof l !== 'boolean')
        return this.fail(node, `\`${op}\` needs true or false on its left, not ${describe(l)}`)
      const and = op === '&&' || op === 'and'
      if (and ? !l : l) return l
      return this.evaluate(node.right)
    }
    if (op === '??') {
      const l = this.evaluate(node.left)
      return l !== null ? l : this.evaluate(node.right)
    }
    const l = this.evaluate(node.left)
    const r = this.evaluate(node.right)
    switch (op) {
      case '==':
        return equal(l, r)
      case '!=':
        return !equal(l, r)
      case '<':
      case '>':
      case '<=':
      case '>=':
        return this.compare(node, l, r)
      case '+':
      case '-':
      case '*':
      case '/':
      case '%':
      case '**':
      case '^':
        return this.arithmetic(node, l, r)
      case 'in':
        return this.contains(node, r, l)
      case 'matches': {
        if (typeof l !== 'string' || typeof r !== 'string')
          return this.fail(node, `\`matches\` needs strings on both sides, not ${describe(l)} and ${describe(r)}`)
        const re = compileRegex(r)
        if (typeof re === 'string')
          return this.fail(node, `${JSON.stringify(r)} is not a valid regular expression: ${re}`)
        return re.test(l)
      }
      case 'contains':
      case 'startsWith':
      case 'endsWith':
        if (typeof l !== 'string' || typeof r !== 'string')
          return this.fail(node, `\`${op}\` needs strings on both sides, not ${describe(l)} and ${describe(r)}`)
        return op === 'contains' ? l.includes(r) : op === 'startsWith' ? l.startsWith(r) : l.endsWith(r)
      case '..': {
        const [from, to] = [this.toInt(node, l), this.toInt(node, r)]
        if (to - from + 1n > BigInt(MEMORY_BUDGET)) return this.fail(node, 'the range is too large')
        const out: Value[] = []
        for (let i = from; i <= to; i++) out.push(i)
        return out
      }
      default:
        return this.fail(node, `unknown operator \`${op}\``)
    }
  }

  private toInt(node: Node, v: Value): bigint {
    if (typeof v === 'bigint') return v
    if (typeof v === 'number') return toInt(v)
    return this.fail(node, `an integer is needed, not ${describe(v)}`)
  }

  private compare(node: NodeOf<'binary'>, l: Value, r: Value): boolean {
    const op = node.op
    const [a, b] = op === '<' || op === '>=' ? [l, r] : [r, l]
    const lt = less(a, b)
    if (lt === undefined) return this.fail(node, `cannot compare ${describe(l)} with ${describe(r)} using \`${op}\``)
    if (op === '<' || op === '>') return lt
    // <= and >=: not greater; NaN compares false either way.
    if (typeof a === 'number' || typeof b === 'number')
      return op === '<=' ? Number(l) <= Number(r) : Number(l) >= Number(r)
    return !lt
  }

  private arithmetic(node: NodeOf<'binary'>, l: Value, r: Value): Value {
    const op = node.op
    if (isNumber(l) && isNumber(r)) {
      const ints = typeof l === 'bigint' && typeof r === 'bigint'
      switch (op) {
        case '+':
          return ints ? wrapInt(l + r) : Number(l) + Number(r)
        case '-':
          return ints ? wrapInt(l - r) : Number(l) - Number(r)
        case '*':
          return ints ? wrapInt(l * r) : Number(l) * Number(r)
        case '/':
          return Number(l) / Number(r)
        case '%':
          if (!ints) break
          if (r === 0n) return this.fail(node, 'division by zero')
          return l % r
        default:
          return goPow(Number(l), Number(r))
      }
    }
    if (op === '+' && typeof l === 'string' && typeof r === 'string') return l + r
    if (l instanceof GoDuration && r instanceof GoDuration && (op === '+' || op === '-'))
      return new GoDuration(op === '+' ? l.ns + r.ns : l.ns - r.ns)
    if (op === '+' && l instanceof GoTime && r instanceof GoDuration) return new GoTime(l.ms + Number(r.ns) / 1e6)
    if (op === '+' && l instanceof GoDuration && r instanceof GoTime) return new GoTime(r.ms + Number(l.ns) / 1e6)
    if (op === '-' && l instanceof GoTime && r instanceof GoDuration) return new GoTime(l.ms - Number(r.ns) / 1e6)
    if (op === '-' && l instanceof GoTime && r instanceof GoTime)
      return new GoDuration(BigInt(Math.round((l.ms - r.ms) * 1e6)))
    if (op === '*' && l instanceof GoDuration && typeof r === 'bigint') return new GoDuration(wrapInt(l.ns * r))
    if (op === '*' && typeof l === 'bigint' && r instanceof GoDuration) return new GoDuration(wrapInt(l * r.ns))
    return this.fail(node, `cannot use \`${op}\` on ${describe(l)} and ${describe(r)}`)
  }

  /** expr's `in`: an element of a list, a key of a map. */
  private contains(node: NodeOf<'binary'>, collection: Value, item: Value): boolean {
    if (collection === null) return false
    if (Array.isArray(collection)) return collection.some((x) => equal(x, item))
    if (collection instanceof GoMap) {
      const key = collection.keyFor(item)
      if (key === undefined) return this.fail(node, `${describe(item)} cannot be a key of this map`)
      return collection.entries.has(key)
    }
    return this.fail(node, `\`in\` needs a list or a map on its right, not ${describe(collection)}`)
  }

  private member(node: NodeOf<'member'>): Value {
    const base = this.evaluate(node.node)
    const key = this.evaluate(node.property)
    if (base === null) {
      if (node.optional) throw new NilChain()
      return this.fail(node, `cannot read ${format(key)} of nil`)
    }
    if (base instanceof GoMap) {
      const k = base.keyFor(key)
      if (k === undefined) return this.fail(node, `${describe(key)} cannot be a key of this map`)
      return base.entries.has(k) ? base.entries.get(k)! : base.zero
    }
    if (Array.isArray(base) || typeof base === 'string') {
      if (typeof key !== 'bigint' && typeof key !== 'number')
        return this.fail(node, `an index must be an integer, not ${describe(key)}`)
      const length = typeof base === 'string' ? byteLength(base) : base.length
      let i = Number(typeof key === 'number' ? Math.trunc(key) : key)
      if (i < 0) i += length
      if (i < 0 || i >= length) return this.fail(node, `index ${format(key)} is out of range (length ${length})`)
      return typeof base === 'string' ? BigInt(byteAt(base, i)) : base[i]
    }
    if (base instanceof GoTime || base instanceof GoDuration)
      return this.fail(node, 'methods and fields of times and durations are not supported by wpk8s')
    return this.fail(node, `cannot read ${format(key)} of ${describe(base)}`)
  }

  private slice(node: NodeOf<'slice'>): Value {
    const base = this.evaluate(node.node)
    if (!Array.isArray(base) && typeof base !== 'string') return this.fail(node, `${describe(base)} cannot be sliced`)
    const length = typeof base === 'string' ? byteLength(base) : base.length
    const bound = (n: Node | undefined, fallback: number): number => {
      if (n === undefined) return fallback
      let i = Number(this.toInt(n, this.evaluate(n)))
      if (i < 0) i += length
      return Math.min(Math.max(i, 0), length)
    }
    const from = bound(node.from, 0)
    const to = bound(node.to, length)
    const [a, b] = [Math.min(from, to), to]
    return typeof base === 'string' ? sliceBytes(base, a, b) : base.slice(a, b)
  }

  private builtin(node: NodeOf<'builtin'>): Value {
    const args = node.args.map((a) => this.evaluate(a))
    try {
      return builtin(node.name)!.run(args)
    } catch (error) {
      if (error instanceof RuntimeFailure) return this.fail(node, error.message)
      throw error
    }
  }

  private items(node: NodeOf<'builtin'>): Value[] {
    const v = this.evaluate(node.args[0])
    if (Array.isArray(v)) return v
    if (typeof v === 'string') return Array.from({length: byteLength(v)}, (_, i) => BigInt(byteAt(v, i)))
    if (v instanceof GoMap && v.entries.size === 0) return []
    return this.fail(node.args[0], `${node.name} needs a list, not ${describe(v)}`)
  }

  private predicate(node: NodeOf<'builtin'>): Value {
    const name = node.name
    const items = this.items(node)
    const body = node.args[1]
    const run = (element: Value, index: number, acc: Value = null): Value => {
      this.scopes.push({element, index, acc})
      try {
        return body ? this.evaluate(body) : element
      } finally {
        this.scopes.pop()
      }
    }
    const test = (element: Value, index: number): boolean => {
      const v = run(element, index)
      if (typeof v !== 'boolean')
        return this.fail(body ?? node, `the predicate of ${name} must give true or false, not ${describe(v)}`)
      return v
    }
    switch (name) {
      case 'all':
        return items.every((x, i) => test(x, i))
      case 'any':
        return items.some((x, i) => test(x, i))
      case 'none':
        return !items.some((x, i) => test(x, i))
      case 'one':
        return items.filter((x, i) => test(x, i)).length === 1
      case 'filter':
        return items.filter((x, i) => test(x, i))
      case 'map':
        return items.map((x, i) => run(x, i))
      case 'count':
        return BigInt(items.filter((x, i) => test(x, i)).length)
      case 'find': {
        const i = items.findIndex((x, j) => test(x, j))
        return i < 0 ? null : items[i]
      }
      case 'findIndex':
        return BigInt(items.findIndex((x, j) => test(x, j)))
      case 'findLast':
      case 'findLastIndex': {
        for (let i = items.length - 1; i >= 0; i--)
          if (test(items[i], i)) return name === 'findLast' ? items[i] : BigInt(i)
        return name === 'findLast' ? null : -1n
      }
      case 'sum': {
        let total: Value = 0n
        items.forEach((x, i) => {
          const v = run(x, i)
          if (!isNumber(v) || !isNumber(total)) this.fail(node, `sum needs numbers, not ${describe(v)}`)
          total = typeof total === 'bigint' && typeof v === 'bigint' ? wrapInt(total + v) : Number(total) + Number(v)
        })
        return total
      }
      case 'groupBy': {
        const groups = new Map<Value, Value[]>()
        items.forEach((x, i) => {
          const key = run(x, i)
          if (Array.isArray(key) || key instanceof GoMap) this.fail(node, `${describe(key)} cannot be a group key`)
          const group = groups.get(key)
          if (group) group.push(x)
          else groups.set(key, [x])
        })
        return new GoMap('group', groups as Map<Value, Value>)
      }
      case 'sortBy': {
        const order = node.args[2] ? this.evaluate(node.args[2]) : 'asc'
        if (order !== 'asc' && order !== 'desc')
          return this.fail(node, `the order must be "asc" or "desc", not ${format(order)}`)
        const keyed = items.map((x, i) => ({x, key: run(x, i)}))
        const order_ = (p: {key: Value}, q: {key: Value}): number => {
          const lt = less(p.key, q.key)
          if (lt === undefined) return this.fail(node, `cannot sort by ${describe(p.key)} and ${describe(q.key)}`)
          return lt ? -1 : less(q.key, p.key) ? 1 : 0
        }
        keyed.sort(order_)
        if (order === 'desc') keyed.reverse()
        return keyed.map((k) => k.x)
      }
      case 'reduce': {
        let acc: Value
        let start = 0
        if (node.args[2]) acc = this.evaluate(node.args[2])
        else {
          if (items.length === 0) return this.fail(node, 'reduce of an empty list needs an initial value')
          acc = items[0]
          start = 1
        }
        for (let i = start; i < items.length; i++) acc = run(items[i], i, acc)
        return acc
      }
      default:
        return this.fail(node, `unknown builtin ${name}`)
    }
  }
}

function directChildren(node: Node): Node[] {
  switch (node.type) {
    case 'unary':
    case 'chain':
      return [node.node]
    case 'binary':
      return [node.left, node.right]
    case 'member':
      return [node.node]
    case 'builtin':
    case 'call':
      return node.type === 'call' ? [node.callee, ...node.args] : node.args
    case 'conditional':
      return [node.cond]
    default:
      return []
  }
}
