/**
 * expr's type checker, run against the environment's defined names: a defined variable is a string,
 * an undefined one is of unknown type (it is "" at run time), `$env` is unknown. What expr rejects
 * here is a compile error in Woodpecker, whatever the values at run time.
 */
import type {Node, NodeOf} from './ast.js'
import {ArgumentProblem, builtin} from './builtins.js'
import {CompileFailure} from './lexer.js'
import {
  ANY,
  arrayOf,
  ARRAY_ANY,
  assignable,
  BOOL,
  comparable,
  describeNature,
  DURATION,
  elemOf,
  FLOAT,
  INT,
  isNumber,
  isUnknown,
  kindOf,
  MAP_ANY,
  maybe,
  type Nature,
  NIL,
  STRING,
  TIME,
  UNKNOWN,
} from './natures.js'
import {compileRegex} from './regex.js'

interface Variable {
  name: string
  nature: Nature
}

const isBool = (n: Nature): boolean => n.k === 'bool'
const isString = (n: Nature): boolean => n.k === 'string'
const isInteger = (n: Nature): boolean => n.k === 'int'
const isTime = (n: Nature): boolean => n.k === 'time'
const isDuration = (n: Nature): boolean => n.k === 'duration'
const isArray = (n: Nature): boolean => n.k === 'array'
const isMap = (n: Nature): boolean => n.k === 'map'

/** Names that `let` may not take (expr's builtins and predicate builtins). */
const PREDICATE_NAMES = new Set([
  'all',
  'none',
  'any',
  'one',
  'filter',
  'map',
  'count',
  'sum',
  'find',
  'findIndex',
  'findLast',
  'findLastIndex',
  'groupBy',
  'sortBy',
  'reduce',
])

export class Checker {
  private readonly lets: Variable[] = []
  private readonly scopes: {collection: Nature; vars: Variable[]}[] = []

  constructor(
    private readonly text: string,
    private readonly defined: (name: string) => boolean,
  ) {}

  /** Type of the whole expression; throws CompileFailure. */
  check(node: Node): Nature {
    return this.visit(node)
  }

  /** The source of a node, for messages. */
  snippet(node: Node): string {
    const s = this.text.slice(node.start, node.end).replace(/\s+/g, ' ').trim()
    return s.length > 80 ? `${s.slice(0, 77)}...` : s
  }

  private fail(node: Node, message: string, at = node.at): never {
    throw new CompileFailure(`\`${this.snippet(node)}\`: ${message}`, at)
  }

  private visit(node: Node): Nature {
    switch (node.type) {
      case 'nil':
        return NIL
      case 'bool':
        return BOOL
      case 'int':
        return INT
      case 'float':
        return FLOAT
      case 'string':
        return STRING
      case 'constant':
        return ARRAY_ANY
      case 'ident':
        return this.identifier(node)
      case 'unary':
        return this.unary(node)
      case 'binary':
        return this.binary(node)
      case 'chain':
        return this.visit(node.node)
      case 'member':
        return this.member(node)
      case 'slice':
        return this.slice(node)
      case 'call':
        return this.call(node)
      case 'builtin':
        return this.builtinCall(node)
      case 'predicate': {
        const out = this.visit(node.node)
        return {k: 'predicate', out: out.k === 'nil' ? undefined : out}
      }
      case 'pointer':
        return this.pointer(node)
      case 'let':
        return this.let(node)
      case 'sequence':
        return node.nodes.map((n) => this.visit(n)).at(-1)!
      case 'conditional':
        return this.conditional(node)
      case 'array': {
        const natures = node.nodes.map((n) => this.visit(n))
        if (natures.every((n) => kindOf(n) === kindOf(natures[0]))) return arrayOf(natures.at(-1) ?? UNKNOWN)
        return ARRAY_ANY
      }
      case 'map':
        for (const pair of node.pairs) {
          this.visit(pair.key)
          this.visit(pair.value)
        }
        return MAP_ANY
    }
  }

  private lookup(name: string): Variable | undefined {
    for (let i = this.lets.length - 1; i >= 0; i--) if (this.lets[i].name === name) return this.lets[i]
    return undefined
  }

  private identifier(node: NodeOf<'ident'>): Nature {
    const variable = this.lookup(node.name)
    if (variable) return variable.nature
    if (node.name === '$env') return UNKNOWN
    if (this.defined(node.name)) return STRING
    if (builtin(node.name) || PREDICATE_NAMES.has(node.name)) return {k: 'func'}
    return UNKNOWN
  }

  /** The variable a node reads directly (`NAME` or `$env.NAME`), for hints. */
  private variableName(node: Node): string | undefined {
    if (node.type === 'ident' && !this.lookup(node.name) && this.defined(node.name)) return node.name
    if (
      node.type === 'member' &&
      node.node.type === 'ident' &&
      node.node.name === '$env' &&
      node.property.type === 'string'
    )
      return node.property.value
    return undefined
  }

  private unary(node: NodeOf<'unary'>): Nature {
    const n = this.visit(node.node)
    if (node.op === '!' || node.op === 'not') {
      if (isBool(n) || isUnknown(n)) return BOOL
      const name = this.variableName(node.node)
      this.fail(
        node,
        `\`${node.op}\` needs a boolean, but this is ${describeNature(n)}${name ? ` (variables are strings: compare, e.g. ${name} == "true")` : ''}`,
      )
    }
    if (isNumber(n)) return n
    if (isUnknown(n)) return UNKNOWN
    const name = this.variableName(node.node)
    this.fail(
      node,
      `\`${node.op}\` needs a number, but this is ${describeNature(n)}${name ? ` (variables are strings: convert with int(${name}) or float(${name}))` : ''}`,
    )
  }

  private binary(node: NodeOf<'binary'>): Nature {
    const l = this.visit(node.left)
    const r = this.visit(node.right)
    switch (node.op) {
      case '==':
      case '!=':
        if (comparable(l, r)) return BOOL
        break
      case 'or':
      case '||':
      case 'and':
      case '&&':
        if ((isBool(l) && isBool(r)) || maybe(l, r, isBool)) return BOOL
        break
      case '<':
      case '>':
      case '>=':
      case '<=':
        if (
          (isNumber(l) && isNumber(r)) ||
          (isString(l) && isString(r)) ||
          (isTime(l) && isTime(r)) ||
          (isDuration(l) && isDuration(r))
        )
          return BOOL
        if (maybe(l, r, isNumber, isString, isTime, isDuration)) return BOOL
        break
      case '-':
        if (isNumber(l) && isNumber(r)) return promote(l, r)
        if (isTime(l) && isTime(r)) return DURATION
        if (isTime(l) && isDuration(r)) return TIME
        if (isDuration(l) && isDuration(r)) return DURATION
        if (maybe(l, r, isNumber, isTime, isDuration)) return UNKNOWN
        break
      case '*':
        if (isNumber(l) && isNumber(r)) return promote(l, r)
        if ((isNumber(l) || isDuration(l)) && (isNumber(r) || isDuration(r))) return DURATION
        if (maybe(l, r, isNumber, isDuration)) return UNKNOWN
        break
      case '/':
      case '**':
      case '^':
        if ((isNumber(l) && isNumber(r)) || maybe(l, r, isNumber)) return FLOAT
        break
      case '%':
        if ((isInteger(l) && isInteger(r)) || maybe(l, r, isInteger)) return INT
        break
      case '+':
        if (isNumber(l) && isNumber(r)) return promote(l, r)
        if (isString(l) && isString(r)) return STRING
        if ((isTime(l) && isDuration(r)) || (isDuration(l) && isTime(r))) return TIME
        if (isDuration(l) && isDuration(r)) return DURATION
        if (maybe(l, r, isNumber, isString, isTime, isDuration)) return UNKNOWN
        break
      case 'in':
        if (isMap(r)) {
          if (!isUnknown(l) && !assignable(l, r.k === 'map' ? r.key : UNKNOWN))
            this.fail(node, `${describeNature(l)} cannot be a key of this map`)
          return BOOL
        }
        if (isArray(r)) {
          if (!comparable(l, elemOf(r)))
            this.fail(
              node,
              `${describeNature(l)} can never be in ${describeNature(r)}${this.stringHint(node.left, elemOf(r))}`,
            )
          return BOOL
        }
        if (isUnknown(l) && (isString(r) || isArray(r) || isMap(r))) return BOOL
        if (isUnknown(r)) return BOOL
        if (isString(r))
          this.fail(
            node,
            `\`in\` looks in a list or a map, not in ${describeNature(r)}; use \`contains\` to look for text in a string`,
          )
        break
      case 'matches':
        if (node.right.type === 'string') this.checkPattern(node, node.right.value)
        if ((isString(l) && isString(r)) || maybe(l, r, isString)) return BOOL
        break
      case 'contains':
      case 'startsWith':
      case 'endsWith':
        if ((isString(l) && isString(r)) || maybe(l, r, isString)) return BOOL
        break
      case '..':
        if ((isInteger(l) && isInteger(r)) || maybe(l, r, isInteger)) return arrayOf(INT)
        break
      case '??':
        if (l.k === 'nil') return r.k === 'nil' ? NIL : r
        if (r.k === 'nil') return l
        return assignable(r, l) ? l : UNKNOWN
    }
    this.mismatch(node, l, r)
  }

  checkPattern(node: Node, pattern: string): void {
    const compiled = compileRegex(pattern)
    if (typeof compiled === 'string')
      this.fail(node, `${JSON.stringify(pattern)} is not a valid regular expression: ${compiled}`)
  }

  private stringHint(side: Node, other: Nature): string {
    const name = this.variableName(side)
    if (!name) return ''
    if (isNumber(other)) return ` (variables are strings: convert with int(${name}), or quote the number)`
    if (isBool(other)) return ' (variables are strings: compare with "true" or "false" in quotes)'
    return ''
  }

  private mismatch(node: NodeOf<'binary'>, l: Nature, r: Nature): never {
    const op = node.op
    const [dl, dr] = [describeNature(l), describeNature(r)]
    // A variable (always a string) against a number or a boolean: the usual mistake, explained.
    for (const [side, other] of [
      [node.left, r],
      [node.right, l],
    ] as const) {
      const name = this.variableName(side)
      if (!name || !(isNumber(other) || isBool(other))) continue
      const what = describeNature(other)
      if (op === '==' || op === '!=') {
        const value = this.snippet(side === node.left ? node.right : node.left)
        const fix = isBool(other)
          ? `${name} ${op} "${value}"`
          : `${name} ${op} "${value}" or int(${name}) ${op} ${value}`
        this.fail(node, `${name} is a string (every variable is) and cannot be compared with ${what}; write ${fix}`)
      }
      if (isNumber(other))
        this.fail(
          node,
          `${name} is a string (every variable is) and cannot be used with ${what} in \`${op}\`; convert it first: int(${name}) or float(${name})`,
        )
    }
    if (op === '==' || op === '!=') this.fail(node, `${dl} cannot be compared with ${dr}`)
    if (['<', '>', '<=', '>='].includes(op)) this.fail(node, `cannot compare ${dl} with ${dr} using \`${op}\``)
    if (['&&', '||', 'and', 'or'].includes(op)) {
      const wrong = isBool(l) || isUnknown(l) ? `the right side is ${dr}` : `the left side is ${dl}`
      this.fail(node, `\`${op}\` needs booleans on both sides, but ${wrong}`)
    }
    if (op === 'in') this.fail(node, `\`in\` needs a list or a map on its right, not ${dr}`)
    if (['matches', 'contains', 'startsWith', 'endsWith'].includes(op))
      this.fail(node, `\`${op}\` needs strings on both sides, not ${dl} and ${dr}`)
    if (op === '..') this.fail(node, `a range needs integers, not ${dl} and ${dr}`)
    this.fail(node, `cannot use \`${op}\` on ${dl} and ${dr}`)
  }

  private member(node: NodeOf<'member'>): Nature {
    if (node.node.type === 'ident' && node.node.name === '$env') {
      if (node.property.type === 'string') return this.defined(node.property.value) ? STRING : UNKNOWN
      return UNKNOWN
    }
    const base = this.visit(node.node)
    const property = this.visit(node.property)
    if (isUnknown(base)) return UNKNOWN
    const name = node.property.type === 'string' ? node.property.value : undefined
    if (name !== undefined && base.k === 'nil') this.fail(node, `nil has no field ${name}`)
    // Methods of times and durations exist in Go; wpk8s does not run them (a run-time error).
    if (base.k === 'time' || base.k === 'duration' || base.k === 'location') return UNKNOWN
    if (base.k === 'map') {
      if (!assignable(property, base.key) && !isUnknown(property))
        this.fail(node.property, `${describeNature(property)} cannot be a key of ${describeNature(base)}`)
      return base.elem
    }
    if (base.k === 'array') {
      if (!isInteger(property) && !isUnknown(property))
        this.fail(node.property, `list elements are selected with an integer, not ${describeNature(property)}`)
      return base.elem
    }
    const what = describeNature(base)
    if (name !== undefined) this.fail(node, `${what} has no ${node.method ? 'method' : 'field'} ${name}`)
    if (isString(base))
      this.fail(node, `a string cannot be indexed; take a slice such as ${this.snippet(node.node)}[0:1] (in bytes)`)
    this.fail(node, `${what} cannot be indexed`)
  }

  private slice(node: NodeOf<'slice'>): Nature {
    const base = this.visit(node.node)
    if (isUnknown(base)) return UNKNOWN
    if (!isString(base) && !isArray(base)) this.fail(node, `${describeNature(base)} cannot be sliced`)
    for (const bound of [node.from, node.to]) {
      if (bound === undefined) continue
      const n = this.visit(bound)
      if (!isInteger(n) && !isUnknown(n)) this.fail(bound, `a slice bound must be an integer, not ${describeNature(n)}`)
    }
    return base
  }

  private call(node: NodeOf<'call'>): Nature {
    const callee = this.visit(node.callee)
    if (isUnknown(callee)) return UNKNOWN
    const name =
      node.callee.type === 'ident'
        ? node.callee.name
        : node.callee.type === 'member' && node.callee.property.type === 'string'
          ? node.callee.property.value
          : 'this'
    if (callee.k === 'nil') this.fail(node, `${name} is nil and cannot be called`)
    if (callee.k === 'func') return UNKNOWN
    this.fail(node, `${name} is ${describeNature(callee)}, not a function`)
  }

  private builtinCall(node: NodeOf<'builtin'>): Nature {
    const name = node.name
    if (PREDICATE_NAMES.has(name)) return this.predicateBuiltin(node)
    if (name === 'get') return this.get(node)
    const args = node.args.map((a) => this.visit(a))
    try {
      return builtin(name)!.check(args)
    } catch (error) {
      if (error instanceof ArgumentProblem) this.fail(node, error.message)
      throw error
    }
  }

  private get(node: NodeOf<'builtin'>): Nature {
    if (node.args.length !== 2) this.fail(node, `get takes 2 arguments, not ${node.args.length}`)
    const base = this.visit(node.args[0])
    const property = this.visit(node.args[1])
    const [from, key] = node.args
    if (from.type === 'ident' && from.name === '$env')
      return key.type === 'string' && this.defined(key.value) ? STRING : UNKNOWN
    if (isUnknown(base)) return UNKNOWN
    if (isArray(base)) {
      if (!isInteger(property) && !isUnknown(property))
        this.fail(key, `list elements are selected with an integer, not ${describeNature(property)}`)
      return elemOf(base)
    }
    if (isMap(base)) {
      if (base.k === 'map' && !assignable(property, base.key) && !isUnknown(property))
        this.fail(key, `${describeNature(property)} cannot be a key of ${describeNature(base)}`)
      return elemOf(base)
    }
    this.fail(from, `get cannot look into ${describeNature(base)}`)
  }

  private predicateBuiltin(node: NodeOf<'builtin'>): Nature {
    const name = node.name
    const collection = this.visit(node.args[0])
    if (!isArray(collection) && !isUnknown(collection))
      this.fail(node.args[0], `${name} needs a list, not ${describeNature(collection)}`)
    const vars: Variable[] =
      name === 'map'
        ? [{name: 'index', nature: INT}]
        : name === 'reduce'
          ? [
              {name: 'index', nature: INT},
              {name: 'acc', nature: UNKNOWN},
            ]
          : []
    this.scopes.push({collection, vars})
    const predicate = node.args[1] ? this.visit(node.args[1]) : undefined
    this.scopes.pop()
    for (const extra of node.args.slice(2)) this.visit(extra)

    if (predicate === undefined) {
      // count(list) and sum(list) without a predicate.
      if (name === 'count') return INT
      return isUnknown(collection) ? UNKNOWN : elemOf(collection)
    }
    const out = predicate.k === 'predicate' ? predicate.out : undefined
    if (out === undefined) this.fail(node.args[1], 'the predicate must give a value')
    const outType = out.k === 'unknown' ? ANY : out
    switch (name) {
      case 'all':
      case 'none':
      case 'any':
      case 'one':
      case 'filter':
      case 'count':
      case 'find':
      case 'findLast':
      case 'findIndex':
      case 'findLastIndex':
        if (!isBool(outType) && !isUnknown(outType))
          this.fail(node.args[1], `the predicate must give true or false, not ${describeNature(outType)}`)
        break
    }
    switch (name) {
      case 'filter':
        return isUnknown(collection) ? ARRAY_ANY : arrayOf(elemOf(collection))
      case 'map':
        return arrayOf(out)
      case 'count':
      case 'findIndex':
      case 'findLastIndex':
        return INT
      case 'sum':
        return outType.k === 'array' ? {...outType, elem: ANY} : outType
      case 'find':
      case 'findLast':
        return isUnknown(collection) ? UNKNOWN : elemOf(collection)
      case 'groupBy':
        return {k: 'map', key: ANY, elem: arrayOf(elemOf(collection)), go: 'map[any][]any'}
      case 'sortBy':
        return collection
      case 'reduce':
        return out
      default:
        return BOOL
    }
  }

  private pointer(node: NodeOf<'pointer'>): Nature {
    const scope = this.scopes.at(-1)
    if (!scope) this.fail(node, '`#` can only be used inside a predicate such as any(list, # == "x")')
    if (node.name === '') {
      if (isUnknown(scope.collection)) return UNKNOWN
      if (isArray(scope.collection)) return elemOf(scope.collection)
      this.fail(node, `${describeNature(scope.collection)} is not a list`)
    }
    const variable = scope.vars.find((v) => v.name === node.name)
    if (!variable) this.fail(node, `#${node.name} is not available here`)
    return variable.nature
  }

  private let(node: NodeOf<'let'>): Nature {
    const name = node.name
    if (this.defined(name)) this.fail(node, `cannot declare ${name}: it is already a variable of the environment`)
    if (builtin(name) || PREDICATE_NAMES.has(name)) this.fail(node, `cannot declare ${name}: it is a builtin function`)
    if (this.lookup(name)) this.fail(node, `cannot declare ${name} twice`)
    const nature = this.visit(node.value)
    this.lets.push({name, nature})
    const result = this.visit(node.expr)
    this.lets.pop()
    return result
  }

  private conditional(node: NodeOf<'conditional'>): Nature {
    const c = this.visit(node.cond)
    if (!isBool(c) && !isUnknown(c)) {
      const name = this.variableName(node.cond)
      this.fail(
        node.cond,
        `a condition must be true or false, not ${describeNature(c)}${name ? ` (variables are strings: compare, e.g. ${name} != "")` : ''}`,
        node.cond.at,
      )
    }
    const t1 = this.visit(node.exp1)
    const t2 = this.visit(node.exp2)
    if (t1.k === 'nil') return t2.k === 'nil' ? NIL : t2
    if (t2.k === 'nil') return t1
    return assignable(t1, t2) ? t1 : UNKNOWN
  }
}

function promote(l: Nature, r: Nature): Nature {
  return l.k === 'float' || r.k === 'float' ? FLOAT : INT
}
