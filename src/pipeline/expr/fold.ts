/**
 * expr's constant folding, which runs after type checking: literal arithmetic, `!true`, string
 * concatenation, `true && x` → `x`, `x || true` → `true`, literal `==`, and lists of literals. It is
 * observable: `1 % 0` fails at compile time, `UNDEF || true` never evaluates UNDEF, and a pattern built
 * from literals (`"[" + ""`) is checked at compile time.
 */
import type {Node} from './ast.js'
import {children} from './ast.js'
import {wrapInt} from './go.js'
import {CompileFailure} from './lexer.js'

export function fold(root: Node, describe: (node: Node) => string): Node {
  for (let round = 0; round < 1000; round++) {
    let applied = false
    const visit = (node: Node): Node => {
      const rebuilt = rebuild(node, visit)
      const folded = foldNode(rebuilt, describe)
      if (folded !== rebuilt) applied = true
      return folded
    }
    root = visit(root)
    if (!applied) break
  }
  return root
}

/** The node with each child replaced by `f(child)` (the same object when nothing changed). */
function rebuild(node: Node, f: (n: Node) => Node): Node {
  const kids = children(node)
  if (kids.length === 0) return node
  const next = kids.map(f)
  if (next.every((k, i) => k === kids[i])) return node
  let i = 0
  const take = (): Node => next[i++]
  switch (node.type) {
    case 'unary':
    case 'chain':
    case 'predicate':
      return {...node, node: take()}
    case 'binary':
      return {...node, left: take(), right: take()}
    case 'member':
      return {...node, node: take(), property: take()}
    case 'slice':
      return {...node, node: take(), from: node.from ? take() : undefined, to: node.to ? take() : undefined}
    case 'call':
      return {...node, callee: take(), args: node.args.map(take)}
    case 'builtin':
      return {...node, args: node.args.map(take)}
    case 'let':
      return {...node, value: take(), expr: take()}
    case 'sequence':
    case 'array':
      return {...node, nodes: node.nodes.map(take)}
    case 'conditional':
      return {...node, cond: take(), exp1: take(), exp2: take()}
    case 'map':
      return {...node, pairs: node.pairs.map(() => ({key: take(), value: take()}))}
    default:
      return node
  }
}

type Num = {kind: 'int'; value: bigint} | {kind: 'float'; value: number}

function num(node: Node): Num | undefined {
  if (node.type === 'int') return {kind: 'int', value: node.value}
  if (node.type === 'float') return {kind: 'float', value: node.value}
  return undefined
}

const boolOf = (node: Node): boolean | undefined => (node.type === 'bool' ? node.value : undefined)

function goPow(a: number, b: number): number {
  if (a === 1 || b === 0) return 1
  if (Math.abs(a) === 1 && !Number.isFinite(b)) return 1
  return a ** b
}

function foldNode(node: Node, describe: (node: Node) => string): Node {
  const at = {start: node.start, end: node.end, at: node.at}
  if (node.type === 'unary') {
    const n = num(node.node)
    if (n && node.op === '-')
      return n.kind === 'int' ? {type: 'int', value: wrapInt(-n.value), ...at} : {type: 'float', value: -n.value, ...at}
    if (n && node.op === '+')
      return n.kind === 'int' ? {type: 'int', value: n.value, ...at} : {type: 'float', value: n.value, ...at}
    const b = boolOf(node.node)
    if (b !== undefined && (node.op === '!' || node.op === 'not')) return {type: 'bool', value: !b, ...at}
    return node
  }
  if (node.type === 'array') {
    if (
      node.nodes.length > 0 &&
      node.nodes.every((n) => n.type === 'int' || n.type === 'float' || n.type === 'string' || n.type === 'bool')
    ) {
      return {
        type: 'constant',
        value: node.nodes.map((n) => (n as {value: bigint | number | string | boolean}).value),
        ...at,
      }
    }
    return node
  }
  if (node.type !== 'binary') return node
  const {op, left, right} = node
  const a = num(left)
  const b = num(right)
  const arithmetic = (ints: (x: bigint, y: bigint) => bigint, floats: (x: number, y: number) => number): Node => {
    if (!a || !b) return node
    if (a.kind === 'int' && b.kind === 'int') return {type: 'int', value: wrapInt(ints(a.value, b.value)), ...at}
    return {type: 'float', value: floats(Number(a.value), Number(b.value)), ...at}
  }
  switch (op) {
    case '+':
      if (left.type === 'string' && right.type === 'string')
        return {type: 'string', value: left.value + right.value, ...at}
      return arithmetic(
        (x, y) => x + y,
        (x, y) => x + y,
      )
    case '-':
      return arithmetic(
        (x, y) => x - y,
        (x, y) => x - y,
      )
    case '*':
      return arithmetic(
        (x, y) => x * y,
        (x, y) => x * y,
      )
    case '/':
      return a && b ? {type: 'float', value: Number(a.value) / Number(b.value), ...at} : node
    case '%':
      if (a?.kind === 'int' && b?.kind === 'int') {
        if (b.value === 0n) throw new CompileFailure(`\`${describe(node)}\`: division by zero`, node.at)
        return {type: 'int', value: a.value % b.value, ...at}
      }
      return node
    case '**':
    case '^':
      return a && b ? {type: 'float', value: goPow(Number(a.value), Number(b.value)), ...at} : node
    case 'and':
    case '&&': {
      const x = boolOf(left)
      const y = boolOf(right)
      if (x === true) return right
      if (y === true) return left
      if (x === false || y === false) return {type: 'bool', value: false, ...at}
      return node
    }
    case 'or':
    case '||': {
      const x = boolOf(left)
      const y = boolOf(right)
      if (x === false) return right
      if (y === false) return left
      if (x === true || y === true) return {type: 'bool', value: true, ...at}
      return node
    }
    case '==':
      if (a?.kind === 'int' && b?.kind === 'int') return {type: 'bool', value: a.value === b.value, ...at}
      if (left.type === 'string' && right.type === 'string')
        return {type: 'bool', value: left.value === right.value, ...at}
      if (left.type === 'bool' && right.type === 'bool') return {type: 'bool', value: left.value === right.value, ...at}
      return node
    default:
      return node
  }
}

export {goPow}
