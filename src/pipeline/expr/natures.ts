/**
 * Compile-time types ("natures", as expr calls them). `unknown` is a value whose type the checker
 * cannot know (an undefined variable, `$env`); `any` is Go's `interface{}` (what `fromJSON` returns,
 * the elements of a mixed list). Both are accepted everywhere; they differ only in assignability.
 */
export type Nature =
  | {k: 'unknown'}
  | {k: 'any'}
  | {k: 'nil'}
  | {k: 'bool'}
  | {k: 'int'}
  | {k: 'float'}
  | {k: 'string'}
  /** `go`: the element type of the Go slice (`[]any` for literals, `[]string` for `split`); `elem`: what is known of the elements. */
  | {k: 'array'; elem: Nature; go: GoElem}
  | {k: 'map'; key: Nature; elem: Nature; go: 'map[string]any' | 'map[any][]any' | 'map[any]any'}
  | {k: 'time'}
  | {k: 'duration'}
  | {k: 'location'}
  | {k: 'func'}
  | {k: 'predicate'; out: Nature | undefined}

export type GoElem = 'any' | 'string' | 'int' | 'float'

export const UNKNOWN: Nature = {k: 'unknown'}
export const ANY: Nature = {k: 'any'}
export const NIL: Nature = {k: 'nil'}
export const BOOL: Nature = {k: 'bool'}
export const INT: Nature = {k: 'int'}
export const FLOAT: Nature = {k: 'float'}
export const STRING: Nature = {k: 'string'}
export const TIME: Nature = {k: 'time'}
export const DURATION: Nature = {k: 'duration'}

/** An array built by expr (a Go `[]any`) whose elements are known to be `elem`. */
export const arrayOf = (elem: Nature): Nature => ({k: 'array', elem, go: 'any'})
/** A Go slice type such as `[]string`. */
export const sliceOf = (go: GoElem): Nature => ({k: 'array', elem: go === 'any' ? ANY : {k: go}, go}) as Nature
export const ARRAY_ANY = sliceOf('any')
export const MAP_ANY: Nature = {k: 'map', key: STRING, elem: ANY, go: 'map[string]any'}

export const isUnknown = (n: Nature): boolean => n.k === 'unknown' || n.k === 'any'
export const isNumber = (n: Nature): boolean => n.k === 'int' || n.k === 'float'

export function elemOf(n: Nature): Nature {
  if (n.k === 'array') return n.elem
  if (n.k === 'map') return n.elem
  return UNKNOWN
}

/** Go's reflect kind of the nature's type; natures of the same kind make a typed array literal. */
export function kindOf(n: Nature): string {
  switch (n.k) {
    case 'unknown':
    case 'nil':
      return 'invalid'
    case 'any':
      return 'interface'
    case 'array':
      return 'slice'
    case 'time':
      return 'struct'
    case 'duration':
      return 'int64'
    case 'location':
      return 'ptr'
    case 'predicate':
      return 'func'
    default:
      return n.k
  }
}

/** Go type name, for comparing Go types. */
function goType(n: Nature): string {
  switch (n.k) {
    case 'array':
      return `[]${n.go}`
    case 'map':
      return n.go
    default:
      return n.k
  }
}

/** Go's `AssignableTo` between the natures' types. */
export function assignable(from: Nature, to: Nature): boolean {
  if (from.k === 'nil') return to.k === 'any'
  if (from.k === 'unknown' || to.k === 'unknown') return false
  if (to.k === 'any') return true
  if (from.k === 'any' || from.k === 'predicate' || to.k === 'predicate') return false
  return goType(from) === goType(to)
}

/** Whether `==` between the two may be compiled. */
export function comparable(a: Nature, b: Nature): boolean {
  return (
    isUnknown(a) ||
    isUnknown(b) ||
    a.k === 'nil' ||
    b.k === 'nil' ||
    (isNumber(a) && isNumber(b)) ||
    (a.k === 'array' && b.k === 'array') ||
    assignable(a, b)
  )
}

/** Either side unknown and the other unknown or of one of the accepted kinds (expr's MaybeCompatible). */
export function maybe(a: Nature, b: Nature, ...accepted: ((n: Nature) => boolean)[]): boolean {
  const ua = isUnknown(a)
  const ub = isUnknown(b)
  return (ua && ub) || (ua && accepted.some((f) => f(b))) || (ub && accepted.some((f) => f(a)))
}

/** Plain-words description for messages. */
export function describeNature(n: Nature): string {
  switch (n.k) {
    case 'unknown':
    case 'any':
      return 'a value of unknown type'
    case 'nil':
      return 'nil'
    case 'bool':
      return 'a boolean'
    case 'int':
      return 'an integer'
    case 'float':
      return 'a number'
    case 'string':
      return 'a string'
    case 'array':
      return n.go === 'any' ? 'a list' : `a list of ${describeNature({k: n.go} as Nature).replace(/^an? /, '')}s`
    case 'map':
      return 'a map'
    case 'time':
      return 'a time'
    case 'duration':
      return 'a duration'
    case 'location':
      return 'a time zone'
    default:
      return 'a function'
  }
}
