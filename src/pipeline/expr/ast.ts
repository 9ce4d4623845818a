import type {Value} from './values.js'

/** Source span of a node (`start`/`end`) and the offset expr reports for it (`at`, e.g. a binary node's operator). */
export interface Span {
  start: number
  end: number
  at: number
}

export type Node =
  | (Span & {type: 'nil'})
  | (Span & {type: 'bool'; value: boolean})
  | (Span & {type: 'int'; value: bigint})
  | (Span & {type: 'float'; value: number})
  | (Span & {type: 'string'; value: string})
  | (Span & {type: 'constant'; value: Value})
  | (Span & {type: 'ident'; name: string})
  | (Span & {type: 'unary'; op: string; node: Node})
  | (Span & {type: 'binary'; op: string; left: Node; right: Node})
  | (Span & {type: 'member'; node: Node; property: Node; optional: boolean; method: boolean})
  | (Span & {type: 'chain'; node: Node})
  | (Span & {type: 'slice'; node: Node; from?: Node; to?: Node})
  | (Span & {type: 'call'; callee: Node; args: Node[]})
  | (Span & {type: 'builtin'; name: string; args: Node[]})
  | (Span & {type: 'predicate'; node: Node})
  | (Span & {type: 'pointer'; name: string})
  | (Span & {type: 'let'; name: string; value: Node; expr: Node})
  | (Span & {type: 'sequence'; nodes: Node[]})
  | (Span & {type: 'conditional'; cond: Node; exp1: Node; exp2: Node})
  | (Span & {type: 'array'; nodes: Node[]})
  | (Span & {type: 'map'; pairs: {key: Node; value: Node}[]})

export type NodeOf<T extends Node['type']> = Extract<Node, {type: T}>

/** The children of a node, in evaluation order. */
export function children(node: Node): Node[] {
  switch (node.type) {
    case 'unary':
    case 'chain':
    case 'predicate':
      return [node.node]
    case 'binary':
      return [node.left, node.right]
    case 'member':
      return [node.node, node.property]
    case 'slice':
      return [node.node, ...(node.from ? [node.from] : []), ...(node.to ? [node.to] : [])]
    case 'call':
      return [node.callee, ...node.args]
    case 'builtin':
      return node.args
    case 'let':
      return [node.value, node.expr]
    case 'sequence':
    case 'array':
      return node.nodes
    case 'conditional':
      return [node.cond, node.exp1, node.exp2]
    case 'map':
      return node.pairs.flatMap((p) => [p.key, p.value])
    default:
      return []
  }
}
