import {describe, expect, it} from 'vitest'
import {checkExpression, evaluateExpression, ExpressionError} from '../../src/pipeline/expression.js'
import {haveConformance, readTable} from './conformance.js'

type Outcome = 'true' | 'false' | 'compile-error' | 'runtime-error'

/** What wpk8s makes of one expression and environment, in the table's terms. */
function outcome(expression: string, env: Record<string, string>): Outcome {
  try {
    return evaluateExpression(expression, env) ? 'true' : 'false'
  } catch (error) {
    if (error instanceof ExpressionError) return error.kind === 'compile' ? 'compile-error' : 'runtime-error'
    throw error
  }
}

/**
 * Rows of evaluate.tsv where wpk8s knowingly answers differently from expr (line → reason). Each is
 * asserted to still differ, so the list stays honest.
 */
const DELIBERATE_DIFFERENCES: Record<string, string> = {}

describe.skipIf(!haveConformance)('evaluate.tsv: when.evaluate as Woodpecker (expr v1.17.8) decides it', () => {
  const rows = haveConformance ? readTable('evaluate.tsv') : []

  it('has the rows the table promises', () => {
    expect(rows.length).toBe(966)
  })

  it.each(rows.map((row) => [row.line, row.expression, row] as const))('line %s: %s', (line, expression, row) => {
    const env = JSON.parse(row.env) as Record<string, string>
    const got = outcome(expression, env)
    if (line in DELIBERATE_DIFFERENCES) expect(got).not.toBe(row.result)
    else expect(got, `${row.result}${row.error ? ` (${row.error})` : ''}`).toBe(row.result)
  })
})

describe('checkExpression', () => {
  it('treats the defined names as strings and other names as unknown', () => {
    expect(() => checkExpression('CI_PIPELINE_NUMBER > 40')).not.toThrow()
    expect(() => checkExpression('CI_PIPELINE_NUMBER > 40', new Set(['CI_PIPELINE_NUMBER']))).toThrow(ExpressionError)
    expect(() => checkExpression('int(CI_PIPELINE_NUMBER) > 40', new Set(['CI_PIPELINE_NUMBER']))).not.toThrow()
    expect(() => checkExpression('CI_REPO_PRIVATE == false', new Set(['CI_REPO_PRIVATE']))).toThrow(/string/)
  })

  it('explains a string compared with a number, with the position', () => {
    let error: unknown
    try {
      checkExpression('CI_PIPELINE_NUMBER > 40', new Set(['CI_PIPELINE_NUMBER']))
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ExpressionError)
    const e = error as ExpressionError
    expect(e.kind).toBe('compile')
    expect(e.message).toMatch(/^`CI_PIPELINE_NUMBER > 40`: CI_PIPELINE_NUMBER is a string/)
    expect(e.message).toMatch(/int\(CI_PIPELINE_NUMBER\)/)
    expect([e.line, e.column]).toEqual([1, 20])
  })

  it('reports syntax errors with line and column', () => {
    const error = catchError(() => checkExpression('A == "x" &&\n  (B == "y"'))
    expect(error.kind).toBe('compile')
    expect([error.line, error.column]).toEqual([2, 12])
    expect(catchError(() => checkExpression('A = "x"')).message).toMatch(
      /unexpected `=` \(compare with `==`\) \(column 3\)/,
    )
    expect(catchError(() => checkExpression('A == "\\d"')).message).toMatch(/not a valid escape/)
  })

  it('rejects an empty expression', () => {
    expect(catchError(() => checkExpression('')).message).toBe('the expression is empty')
    expect(catchError(() => checkExpression('  ')).kind).toBe('compile')
  })

  it('rejects invalid constant patterns when compiling, with RE2 rules', () => {
    expect(catchError(() => checkExpression('A matches "a(?=b)"')).message).toMatch(/not a valid regular expression/)
    expect(() => checkExpression('A matches "(?i)^v\\\\d+"')).not.toThrow()
    expect(() => checkExpression('A matches B')).not.toThrow()
  })

  it('rejects results that are not booleans only when the type is known', () => {
    expect(() => checkExpression('"true"')).toThrow(/must give true or false, but it gives a string/)
    expect(() => checkExpression('UNDEF')).not.toThrow()
  })
})

describe('evaluateExpression', () => {
  const env = {CI_PIPELINE_EVENT: 'push', CI_COMMIT_BRANCH: 'main', CI_PIPELINE_NUMBER: '42'}

  it('decides typical conditions', () => {
    expect(evaluateExpression('CI_PIPELINE_EVENT == "push" && CI_COMMIT_BRANCH in ["main", "dev"]', env)).toBe(true)
    expect(evaluateExpression('int(CI_PIPELINE_NUMBER) % 2 == 0', env)).toBe(true)
    expect(evaluateExpression('CI_COMMIT_TAG == "" and not (CI_COMMIT_BRANCH matches "^rel")', env)).toBe(true)
  })

  it('gives run-time errors with the failing part and unset variables named', () => {
    const error = catchError(() => evaluateExpression('int(CI_PIPELINE_NUMBER) > 1', {}))
    expect(error.kind).toBe('runtime')
    expect(error.message).toMatch(
      /^`int\(CI_PIPELINE_NUMBER\)`: "" is not a whole number \(CI_PIPELINE_NUMBER is not set/,
    )
    expect(catchError(() => evaluateExpression('True', {})).message).toMatch(/True is not set.*write true/)
  })

  it('is linear on patterns that make backtracking engines explode', () => {
    const started = Date.now()
    expect(evaluateExpression('A matches "^(a+)+$"', {A: `${'a'.repeat(5000)}b`})).toBe(false)
    expect(Date.now() - started).toBeLessThan(2000)
  })

  it('maps case rune by rune as Go does', () => {
    expect(evaluateExpression('upper("ß") == "ß" && lower("ΣΑΣ") == "σασ" && lower("İ") == "i"', {})).toBe(true)
  })
})

function catchError(f: () => void): ExpressionError {
  try {
    f()
  } catch (error) {
    if (error instanceof ExpressionError) return error
    throw error
  }
  throw new Error('expected an ExpressionError')
}
