/**
 * expr's grammar: precedence climbing over the binary operators, unary `!`/`not`/`-`/`+`, chained
 * comparisons (`1 < x < 3`), `not in`/`not matches`/…, the pipe `x | f(y)`, `?:`/elvis, `if {} else {}`,
 * `let x = …; …`, `;` sequences, member access `.x`/`?.x`/`[i]`, slices `[a:b]`, calls, builtins with
 * predicates (`any(list, # > 1)`), array and map literals.
 */
import type {Node, Span} from './ast.js'
import {BUILTIN_NAMES} from './builtins.js'
import {CompileFailure, isValidIdentifier, NEGATABLE, type Token, type TokenKind} from './lexer.js'

interface Operator {
  precedence: number
  right?: boolean
}

const UNARY: Record<string, Operator> = {
  not: {precedence: 50},
  '!': {precedence: 50},
  '-': {precedence: 90},
  '+': {precedence: 90},
}

const BINARY: Record<string, Operator> = {
  '|': {precedence: 0},
  or: {precedence: 10},
  '||': {precedence: 10},
  and: {precedence: 15},
  '&&': {precedence: 15},
  '==': {precedence: 20},
  '!=': {precedence: 20},
  '<': {precedence: 20},
  '>': {precedence: 20},
  '>=': {precedence: 20},
  '<=': {precedence: 20},
  in: {precedence: 20},
  matches: {precedence: 20},
  contains: {precedence: 20},
  startsWith: {precedence: 20},
  endsWith: {precedence: 20},
  '..': {precedence: 25},
  '+': {precedence: 30},
  '-': {precedence: 30},
  '*': {precedence: 60},
  '/': {precedence: 60},
  '%': {precedence: 60},
  '**': {precedence: 100, right: true},
  '^': {precedence: 100, right: true},
  '??': {precedence: 500},
}

/** Only the ordering comparisons chain: `a < b < c` is `a < b && b < c`. */
const CHAINED = new Set(['<', '>', '<=', '>='])

/** Builtins whose arguments include a predicate (a closure over `#`). */
const PREDICATES: Record<string, ('expr' | 'predicate' | 'optional-predicate' | 'optional-expr')[]> = {
  all: ['expr', 'predicate'],
  none: ['expr', 'predicate'],
  any: ['expr', 'predicate'],
  one: ['expr', 'predicate'],
  filter: ['expr', 'predicate'],
  map: ['expr', 'predicate'],
  count: ['expr', 'optional-predicate'],
  sum: ['expr', 'optional-predicate'],
  find: ['expr', 'predicate'],
  findIndex: ['expr', 'predicate'],
  findLast: ['expr', 'predicate'],
  findLastIndex: ['expr', 'predicate'],
  groupBy: ['expr', 'predicate'],
  sortBy: ['expr', 'predicate', 'optional-expr'],
  reduce: ['expr', 'predicate', 'optional-expr'],
}

export const PREDICATE_BUILTINS = new Set(Object.keys(PREDICATES))

/** How a token is named in messages. */
export function describeToken(token: Token): string {
  if (token.kind === 'eof') return 'end of the expression'
  if (token.kind === 'string') return `the string ${JSON.stringify(token.value)}`
  return `\`${token.value}\``
}

export class Parser {
  private pos = 0
  private depth = 0
  private previousEnd = 0

  /** `overridden(name)`: the environment defines `name`, so `name(…)` calls the variable rather than the builtin. */
  constructor(
    private readonly tokens: Token[],
    private readonly overridden: (name: string) => boolean,
  ) {}

  parse(): Node {
    const node = this.parseSequence()
    if (this.current.kind !== 'eof') this.unexpected()
    return node
  }

  private get current(): Token {
    return this.tokens[this.pos]
  }

  private is(kind: TokenKind, ...values: string[]): boolean {
    const t = this.current
    return t.kind === kind && (values.length === 0 || values.includes(t.value))
  }

  private next(): void {
    if (this.current.kind === 'eof') throw new CompileFailure('the expression ends too early', this.current.start)
    this.previousEnd = this.current.end
    this.pos++
  }

  private expect(kind: TokenKind, value?: string): void {
    if (this.is(kind, ...(value === undefined ? [] : [value]))) this.next()
    else this.unexpected(value)
  }

  private unexpected(wanted?: string): never {
    const t = this.current
    let hint = ''
    if (t.kind === 'op' && t.value === '=') hint = ' (compare with `==`)'
    else if (t.kind === 'op' && (t.value === '&' || t.value === '|')) hint = ' (use `&&` / `||`, or `and` / `or`)'
    else if (wanted !== undefined) hint = ` (expected \`${wanted}\`)`
    if (t.kind === 'eof') throw new CompileFailure(`the expression ends too early${hint}`, t.start)
    throw new CompileFailure(`unexpected ${describeToken(t)}${hint}`, t.start)
  }

  private span(start: number, at = start): Span {
    return {start, end: this.previousEnd, at}
  }

  private parseSequence(): Node {
    const start = this.current.start
    const nodes = [this.parseExpression(0)]
    while (this.is('op', ';')) {
      this.next()
      if (this.current.kind === 'eof') break
      nodes.push(this.parseExpression(0))
    }
    return nodes.length === 1 ? nodes[0] : {type: 'sequence', nodes, ...this.span(start)}
  }

  private parseExpression(precedence: number): Node {
    if (precedence === 0 && this.is('op', 'let')) return this.parseLet()
    if (precedence === 0 && this.is('op', 'if')) return this.parseIf()

    const start = this.current.start
    let left = this.parsePrimary()
    let previousOperator = ''
    let opToken = this.current
    while (opToken.kind === 'op') {
      const negate = opToken.value === 'not'
      let notToken: Token | undefined
      if (negate) {
        const saved = this.pos
        const savedEnd = this.previousEnd
        this.next()
        if (!NEGATABLE.has(this.current.value)) this.unexpected()
        if (BINARY[this.current.value].precedence < precedence) {
          this.pos = saved
          this.previousEnd = savedEnd
          break
        }
        notToken = opToken
        opToken = this.current
      }
      const op = BINARY[opToken.value]
      if (op === undefined || op.precedence < precedence) break
      this.next()

      if (opToken.value === '|') {
        const name = this.current
        this.expect('ident')
        left = this.parseCall(name, [left], true, start)
      } else {
        if (previousOperator === '??' && opToken.value !== '??') {
          throw new CompileFailure(
            `\`??\` cannot be mixed with \`${opToken.value}\` without parentheses: write \`(a ?? b) ${opToken.value} c\``,
            opToken.start,
          )
        }
        if (CHAINED.has(opToken.value)) left = this.parseComparison(left, opToken, op.precedence, start)
        else {
          const right = this.parseExpression(op.right ? op.precedence : op.precedence + 1)
          left = {type: 'binary', op: opToken.value, left, right, ...this.span(start, opToken.start)}
          if (notToken) left = {type: 'unary', op: 'not', node: left, ...this.span(start, notToken.start)}
        }
      }
      previousOperator = opToken.value
      opToken = this.current
    }
    if (precedence === 0) left = this.parseConditional(left, start)
    return left
  }

  private parseComparison(left: Node, token: Token, precedence: number, start: number): Node {
    let root: Node | undefined
    for (;;) {
      const comparator = this.parseExpression(precedence + 1)
      const node: Node = {
        type: 'binary',
        op: token.value,
        left,
        right: comparator,
        ...this.span(left.start, token.start),
      }
      root = root ? {type: 'binary', op: '&&', left: root, right: node, ...this.span(start, token.start)} : node
      left = comparator
      token = this.current
      if (!(token.kind === 'op' && CHAINED.has(token.value))) break
      this.next()
    }
    return root
  }

  private parseLet(): Node {
    const start = this.current.start
    this.expect('op', 'let')
    const name = this.current
    this.expect('ident')
    this.expect('op', '=')
    const value = this.parseExpression(0)
    this.expect('op', ';')
    const expr = this.parseSequence()
    return {type: 'let', name: name.value, value, expr, ...this.span(start, name.start)}
  }

  private parseIf(): Node {
    const start = this.current.start
    this.next()
    const cond = this.parseExpression(0)
    this.expect('bracket', '{')
    const exp1 = this.parseSequence()
    this.expect('bracket', '}')
    this.expect('op', 'else')
    let exp2: Node
    if (this.is('op', 'if')) exp2 = this.parseIf()
    else {
      this.expect('bracket', '{')
      exp2 = this.parseSequence()
      this.expect('bracket', '}')
    }
    return {type: 'conditional', cond, exp1, exp2, ...this.span(start)}
  }

  private parseConditional(node: Node, start: number): Node {
    while (this.is('op', '?')) {
      const at = this.current.start
      this.next()
      let exp1: Node
      let exp2: Node
      if (!this.is('op', ':')) {
        exp1 = this.parseExpression(0)
        this.expect('op', ':')
        exp2 = this.parseExpression(0)
      } else {
        this.next()
        exp1 = node
        exp2 = this.parseExpression(0)
      }
      node = {type: 'conditional', cond: node, exp1, exp2, ...this.span(start, at)}
    }
    return node
  }

  private parsePrimary(): Node {
    const token = this.current
    const unary = token.kind === 'op' ? UNARY[token.value] : undefined
    if (unary) {
      this.next()
      const node = this.parseExpression(unary.precedence)
      return this.parsePostfix({type: 'unary', op: token.value, node, ...this.span(token.start)})
    }
    if (this.is('bracket', '(')) {
      this.next()
      const node = this.parseSequence()
      this.expect('bracket', ')')
      return this.parsePostfix(node)
    }
    if (this.depth > 0 && token.kind === 'op' && (token.value === '#' || token.value === '.')) {
      let name = ''
      if (token.value === '#') {
        this.next()
        if (this.is('ident')) {
          name = this.current.value
          this.next()
        }
      }
      return this.parsePostfix({
        type: 'pointer',
        name,
        start: token.start,
        end: token.value === '#' ? this.previousEnd : token.start,
        at: token.start,
      })
    }
    if (this.is('op', '::')) {
      this.next()
      const name = this.current
      this.expect('ident')
      return this.parsePostfix(this.parseCall(name, [], false, token.start))
    }
    return this.parseSecondary()
  }

  private parseSecondary(): Node {
    const token = this.current
    let node: Node
    switch (token.kind) {
      case 'ident':
        this.next()
        if (token.value === 'true' || token.value === 'false')
          return {type: 'bool', value: token.value === 'true', ...this.span(token.start)}
        if (token.value === 'nil') return {type: 'nil', ...this.span(token.start)}
        node = this.is('bracket', '(')
          ? this.parseCall(token, [], true, token.start)
          : {type: 'ident', name: token.value, ...this.span(token.start)}
        break
      case 'number':
        this.next()
        return parseNumber(token, this.span(token.start))
      case 'string':
        this.next()
        node = {type: 'string', value: token.value, ...this.span(token.start)}
        break
      default:
        if (this.is('bracket', '[')) node = this.parseArray()
        else if (this.is('bracket', '{')) node = this.parseMap()
        else this.unexpected()
    }
    return this.parsePostfix(node)
  }

  private parseCall(token: Token, args: Node[], checkOverrides: boolean, start: number): Node {
    const name = token.value
    const overridden = checkOverrides && this.overridden(name)
    const spec = PREDICATES[name]
    if (spec && !overridden) {
      this.expect('bracket', '(')
      const rest = spec.slice(args.length)
      for (let i = 0; i < rest.length; i++) {
        const kind = rest[i]
        if (kind.startsWith('optional')) {
          if (this.is('bracket', ')')) break
        } else if (this.is('bracket', ')')) {
          throw new CompileFailure(
            `${name} needs at least ${rest.length} argument${rest.length === 1 ? '' : 's'} here`,
            this.current.start,
          )
        }
        if (i > 0) this.expect('op', ',')
        args.push(kind.endsWith('predicate') ? this.parsePredicate() : this.parseExpression(0))
      }
      if (this.is('op', ',')) this.next()
      this.expect('bracket', ')')
      return {type: 'builtin', name, args, ...this.span(start, token.start)}
    }
    if (BUILTIN_NAMES.has(name) && !overridden) {
      this.parseArguments(args)
      return {type: 'builtin', name, args, ...this.span(start, token.start)}
    }
    const callee: Node = {type: 'ident', name, start: token.start, end: token.end, at: token.start}
    this.parseArguments(args)
    return {type: 'call', callee, args, ...this.span(start, token.start)}
  }

  private parseArguments(args: Node[]): void {
    const offset = args.length
    this.expect('bracket', '(')
    while (!this.is('bracket', ')')) {
      if (args.length > offset) this.expect('op', ',')
      if (this.is('bracket', ')')) break
      args.push(this.parseExpression(0))
    }
    this.expect('bracket', ')')
  }

  private parsePredicate(): Node {
    const start = this.current.start
    const braces = this.is('bracket', '{')
    if (braces) this.next()
    this.depth++
    let node: Node
    if (braces) node = this.parseSequence()
    else {
      node = this.parseExpression(0)
      if (this.is('op', ';'))
        throw new CompileFailure('wrap a predicate with several expressions in { and }', this.current.start)
    }
    this.depth--
    if (braces) this.expect('bracket', '}')
    return {type: 'predicate', node, ...this.span(start)}
  }

  private parseArray(): Node {
    const start = this.current.start
    const nodes: Node[] = []
    this.expect('bracket', '[')
    while (!this.is('bracket', ']')) {
      if (nodes.length > 0) {
        this.expect('op', ',')
        if (this.is('bracket', ']')) break
      }
      nodes.push(this.parseExpression(0))
    }
    this.expect('bracket', ']')
    return {type: 'array', nodes, ...this.span(start)}
  }

  private parseMap(): Node {
    const start = this.current.start
    this.expect('bracket', '{')
    const pairs: {key: Node; value: Node}[] = []
    while (!this.is('bracket', '}')) {
      if (pairs.length > 0) {
        this.expect('op', ',')
        if (this.is('bracket', '}')) break
        if (this.is('op', ',')) this.unexpected()
      }
      let key: Node
      const t = this.current
      if (t.kind === 'number' || t.kind === 'string' || t.kind === 'ident') {
        this.next()
        key = {type: 'string', value: t.value, ...this.span(t.start)}
      } else if (this.is('bracket', '(')) key = this.parseExpression(0)
      else
        throw new CompileFailure(
          `a map key must be a name, a quoted string, a number or an expression in parentheses, found ${describeToken(t)}`,
          t.start,
        )
      this.expect('op', ':')
      pairs.push({key, value: this.parseExpression(0)})
    }
    this.expect('bracket', '}')
    return {type: 'map', pairs, ...this.span(start)}
  }

  private parsePostfix(node: Node): Node {
    const start = node.start
    for (;;) {
      const token = this.current
      if (token.kind !== 'op' && token.kind !== 'bracket') return node
      const optional = token.value === '?.'
      let bracket = token.value === '['
      if (token.value === '.' || optional) {
        this.next()
        const property = this.current
        if (optional && this.is('bracket', '[')) bracket = true
        else {
          this.next()
          if (property.kind !== 'ident' && !(property.kind === 'op' && isValidIdentifier(property.value))) {
            throw new CompileFailure(
              `expected a name after \`${token.value}\`, found ${describeToken(property)}`,
              property.start,
            )
          }
          const isChain = node.type === 'chain'
          const base = node.type === 'chain' ? node.node : node
          const propertyNode: Node = {
            type: 'string',
            value: property.value,
            start: property.start,
            end: property.end,
            at: property.start,
          }
          const member: Node & {type: 'member'} = {
            type: 'member',
            node: base,
            property: propertyNode,
            optional,
            method: false,
            ...this.span(start, property.start),
          }
          if (this.is('bracket', '(')) {
            member.method = true
            const args: Node[] = []
            this.parseArguments(args)
            node = {type: 'call', callee: member, args, ...this.span(start, property.start)}
          } else node = member
          if (isChain || optional) node = {type: 'chain', node, ...this.span(start, property.start)}
          continue
        }
      }
      if (!bracket) return node
      const at = this.current.start
      this.next() // `[`
      if (this.is('op', ':')) {
        this.next()
        const to = this.is('bracket', ']') ? undefined : this.parseExpression(0)
        this.expect('bracket', ']')
        node = {type: 'slice', node, to, ...this.span(start, at)}
        continue
      }
      const from = this.parseExpression(0)
      if (this.is('op', ':')) {
        this.next()
        const to = this.is('bracket', ']') ? undefined : this.parseExpression(0)
        this.expect('bracket', ']')
        node = {type: 'slice', node, from, to, ...this.span(start, at)}
        continue
      }
      this.expect('bracket', ']')
      node = {type: 'member', node, property: from, optional, method: false, ...this.span(start, at)}
      if (optional) node = {type: 'chain', node, ...this.span(start, at)}
    }
  }
}

/** Number literals as expr reads them: `_` ignored; `0x`/`0o`/`0b` prefixes; a `.` or `e` makes a float; leading zeros are decimal. */
function parseNumber(token: Token, span: Span): Node {
  const text = token.value.replaceAll('_', '')
  const lower = text.toLowerCase()
  const bad = (what: string): never => {
    throw new CompileFailure(`\`${token.value}\` is not a valid ${what}`, token.start)
  }
  const prefixed = (re: RegExp, what: string): Node => {
    if (!re.test(lower)) bad(what)
    return integer(BigInt(lower), what)
  }
  const integer = (value: bigint, what: string): Node => {
    if (value > 9223372036854775807n) bad(`${what} (it is too large)`)
    return {type: 'int', value, ...span}
  }
  if (lower.startsWith('0x')) return prefixed(/^0x[0-9a-f]+$/, 'hexadecimal number')
  if (/[.e]/.test(lower)) {
    if (!/^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:e[+-]?[0-9]+)?$/.test(lower)) bad('number')
    const value = Number(lower)
    if (!Number.isFinite(value)) bad('number (it is too large)')
    return {type: 'float', value, ...span}
  }
  if (lower.startsWith('0b')) return prefixed(/^0b[01]+$/, 'binary number')
  if (lower.startsWith('0o')) return prefixed(/^0o[0-7]+$/, 'octal number')
  if (!/^[0-9]+$/.test(lower)) bad('number')
  return integer(BigInt(lower), 'number')
}
