/**
 * Woodpecker's `when: {evaluate: "…"}`: the expression language of github.com/expr-lang/expr (v1.17),
 * compiled and run as Woodpecker does it —
 * `expr.Compile(text, expr.Env(env), expr.AllowUndefinedVariables(), expr.AsBool())`, then `expr.Run`
 * with `env` a map[string]string. So every defined variable is a string (`CI_PIPELINE_NUMBER > 40` does
 * not compile when it is defined), an undefined one is "" at run time and of unknown type when
 * compiling, type errors found when compiling fail whatever the values, and the result must be a boolean.
 *
 * The pieces live in ./expr/: lexer, parser, checker (expr's type rules), fold (expr's constant
 * folding, which is observable), evaluate (the VM's semantics), builtins, and Go's string, number and
 * regular-expression behaviour (RE2 through re2js, loaded only when a pattern is compiled).
 */
import type {Node} from './expr/ast.js'
import {children} from './expr/ast.js'
import {Checker} from './expr/checker.js'
import {EvaluationFailure, Evaluator} from './expr/evaluate.js'
import {fold} from './expr/fold.js'
import {CompileFailure, tokenize} from './expr/lexer.js'
import {describeNature, isUnknown} from './expr/natures.js'
import {Parser} from './expr/parser.js'
import {describe, format} from './expr/values.js'

export class ExpressionError extends Error {
  /** `compile`: the expression is rejected whatever the variables; `runtime`: it failed with these values. */
  readonly kind: 'compile' | 'runtime'
  /** 1-based position within the expression, for compile errors where known. */
  readonly line?: number
  readonly column?: number

  constructor(kind: 'compile' | 'runtime', message: string, position?: {line: number; column: number}) {
    super(message)
    this.name = 'ExpressionError'
    this.kind = kind
    this.line = position?.line
    this.column = position?.column
  }
}

interface Program {
  node: Node
  snippet: (node: Node) => string
}

/** 1-based line and column (in characters) of a UTF-16 offset. */
function position(text: string, offset: number): {line: number; column: number} {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)))
  const lines = before.split('\n')
  return {line: lines.length, column: [...lines.at(-1)!].length + 1}
}

function compileError(text: string, failure: CompileFailure): ExpressionError {
  const at = position(text, failure.at)
  const where = text.includes('\n') ? `line ${at.line}, column ${at.column}` : `column ${at.column}`
  return new ExpressionError('compile', `${failure.message} (${where})`, at)
}

/** Compiled programs (or their compile errors) by text and defined names: pipelines repeat conditions. */
const cache = new Map<string, Program | ExpressionError>()

function cachedCompile(text: string, names: Iterable<string>, defined: (name: string) => boolean): Program {
  const key = `${text}\u0000${[...names].sort().join('\u0000')}`
  let program = cache.get(key)
  if (program === undefined) {
    try {
      program = compile(text, defined)
    } catch (error) {
      if (!(error instanceof ExpressionError)) throw error
      program = error
    }
    if (cache.size >= 500) cache.clear()
    cache.set(key, program)
  }
  if (program instanceof ExpressionError) throw program
  return program
}

/** Parses and type-checks `text` as expr does with AsBool, and folds constants; throws ExpressionError('compile'). */
function compile(text: string, defined: (name: string) => boolean): Program {
  if (text.trim() === '') throw new ExpressionError('compile', 'the expression is empty', {line: 1, column: 1})
  try {
    const node = new Parser(tokenize(text), defined).parse()
    const checker = new Checker(text, defined)
    const nature = checker.check(node)
    if (!isUnknown(nature) && nature.k !== 'bool') {
      const hint =
        node.type === 'ident' && defined(node.name)
          ? ` (variables are strings: compare, e.g. ${node.name} == "true")`
          : ''
      throw new ExpressionError(
        'compile',
        `the expression must give true or false, but it gives ${describeNature(nature)}${hint}`,
      )
    }
    const folded = fold(node, (n) => checker.snippet(n))
    // expr compiles a constant pattern when it compiles the program, also one that folding produced.
    const checkPatterns = (n: Node): void => {
      if (n.type === 'binary' && n.op === 'matches' && n.right.type === 'string') checker.checkPattern(n, n.right.value)
      for (const child of children(n)) checkPatterns(child)
    }
    checkPatterns(folded)
    return {node: folded, snippet: (n) => checker.snippet(n)}
  } catch (error) {
    if (error instanceof CompileFailure) throw compileError(text, error)
    if (error instanceof RangeError) throw new ExpressionError('compile', 'the expression is nested too deeply')
    throw error
  }
}

/**
 * Compiles and runs `text` with `env` (each variable a string; a missing one is undefined) as Woodpecker
 * does; throws ExpressionError for a compile error, a run-time error, or a result that is not a boolean.
 */
export function evaluateExpression(text: string, env: Readonly<Record<string, string>>): boolean {
  const program = cachedCompile(text, Object.keys(env), (name) => Object.hasOwn(env, name))
  let value
  try {
    value = new Evaluator(env, program.snippet).evaluate(program.node)
  } catch (error) {
    if (error instanceof EvaluationFailure) throw new ExpressionError('runtime', error.message)
    if (error instanceof RangeError) throw new ExpressionError('runtime', 'the expression is nested too deeply')
    throw error
  }
  if (typeof value !== 'boolean') {
    const node = program.node
    const candidates =
      node.type === 'binary' ? [node.left, node.right] : node.type === 'conditional' ? [node.exp1, node.exp2] : [node]
    const names = candidates.flatMap((n) =>
      n.type === 'ident' && n.name !== '$env' && !Object.hasOwn(env, n.name) ? [n.name] : [],
    )
    const boolean = names.find((name) => /^(true|false)$/i.test(name))
    const unset =
      names.length === 0
        ? ''
        : ` (${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} not set, so ${names.length === 1 ? 'it is' : 'they are'} ""${boolean ? `; for a boolean write ${boolean.toLowerCase()}` : ''})`
    const shown = typeof value === 'string' ? JSON.stringify(value) : format(value)
    throw new ExpressionError(
      'runtime',
      `the expression must give true or false, but it gives ${describe(value)} (${shown})${unset}`,
    )
  }
  return value
}

/**
 * Compiles `text` without running it (for `wpk8s validate`), with `definedNames` as the variables that
 * will be defined (strings); other names are undefined. Throws ExpressionError('compile').
 */
export function checkExpression(text: string, definedNames: ReadonlySet<string> = new Set()): void {
  cachedCompile(text, definedNames, (name) => definedNames.has(name))
}
