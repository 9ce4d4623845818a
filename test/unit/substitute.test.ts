import {describe, expect, it} from 'vitest'
import {substitute} from '../../src/pipeline/substitute.js'
import {checkWorkflowText} from '../../src/validate/index.js'
import {haveConformance, readTable} from './conformance.js'
import {issuesOf} from './helpers.js'

/** Rows of envsubst.tsv (by line) where wpk8s deliberately differs from Woodpecker, with the reason. */
const DELIBERATE_DIFFERENCES: Record<string, string> = {}

describe.skipIf(!haveConformance)('substitute: envsubst.tsv (what Woodpecker gave)', () => {
  const rows = haveConformance ? readTable('envsubst.tsv') : []

  it('has the table', () => {
    expect(rows.length).toBeGreaterThanOrEqual(523)
  })

  it.each(
    rows.map(({line, template, env, result, error}) => ({
      name: `line ${line}: ${JSON.stringify(template).slice(0, 60)}`,
      line,
      template,
      env,
      result,
      error,
    })),
  )('$name', (row) => {
    const result = substitute(row.template, JSON.parse(row.env) as Record<string, string>)
    // The error text is informative only (and a panic there is any error): compare that one happened.
    const got = result.error ? {error: true} : {error: false, text: result.text}
    const want = row.error ? {error: true} : {error: false, text: row.result}
    if (row.line in DELIBERATE_DIFFERENCES) expect(got, DELIBERATE_DIFFERENCES[row.line]).not.toEqual(want)
    else expect(got).toEqual(want)
  })
})

describe('substitute', () => {
  it('reports undefined names, in order, once, with the offset of every reference', () => {
    const r = substitute('a: ${X}\nb: ${Y^^} ${X} ${Z:-d} ${W:+w} ${#V}\n', {})
    expect(r.text).toBe('a: \nb:   d w 0\n')
    expect(r.undefinedNames).toEqual(['X', 'Y', 'V'])
    expect(r.undefinedReferences).toEqual([
      {name: 'X', offset: 3},
      {name: 'Y', offset: 11},
      {name: 'X', offset: 18},
      {name: 'V', offset: 39},
    ])
  })

  it('treats a defined empty value as defined, and never looks at inherited object properties', () => {
    expect(substitute('${E}|${constructor}|${toString:-d}', {E: ''})).toMatchObject({
      text: '||d',
      undefinedNames: ['constructor'],
    })
  })

  it('reports a name used inside a default, whose value the default would give', () => {
    expect(substitute('${A:-${B}}', {A: 'a'}).undefinedNames).toEqual(['B'])
  })

  it('keeps undefined references as written with keepUndefined, operators included', () => {
    const vars = {A: 'abc'}
    expect(substitute('${A} ${B} ${B^^} ${B:0:8} ${B:-dflt} $${C}', vars, true).text).toBe(
      'abc ${B} ${B^^} ${B:0:8} dflt ${C}',
    )
    expect(substitute('${B:-${C}}', vars, true).text).toBe('${C}')
    expect(substitute('${A/b/${C}}', vars, true).text).toBe('a${C}c')
    expect(substitute('${B}', vars, false).text).toBe('')
  })

  it('gives the offset of the offending ${ on error, and leaves the text unchanged', () => {
    const text = 'steps:\n  a:\n    image: ${A-B}\n'
    const r = substitute(text, {A: 'x'})
    expect(r.error?.offset).toBe(text.indexOf('${A-B}'))
    expect(r.error?.message).toMatch(/\$\{A:-/)
    expect(r.text).toBe(text)
    expect(r.undefinedNames).toEqual([])
  })

  it('points at the innermost ${ that fails, and at the outer one when only it is left open', () => {
    expect(substitute('x ${A:-${B', {}).error?.offset).toBe(7)
    expect(substitute('x ${A:-${B}', {}).error).toMatchObject({
      offset: 2,
      message: expect.stringMatching(/never closed/),
    })
    expect(substitute('${A} ${B', {}).error?.offset).toBe(5)
  })

  it('fails on a negative substring length, where the library crashes', () => {
    expect(substitute('${A:1:-1}', {A: 'abc'}).error?.message).toMatch(/negative/)
  })

  it('fails instead of overflowing the stack on absurd nesting', () => {
    const r = substitute('${A:-'.repeat(5000) + '}'.repeat(5000), {})
    expect(r.error?.message).toMatch(/nested/)
  })

  it('stops at a NUL character, as the library does', () => {
    expect(substitute('a${A}\0${B}', {A: '1'}).text).toBe('a1')
  })

  it('is linear on a large file', () => {
    const text =
      'steps:\n' +
      Array.from(
        {length: 3000},
        (_, i) =>
          `  s${i}:\n    image: golang:\${GO:-1.22}\n    commands: [echo $\${HOME} \${CI_COMMIT_SHA:0:8} "a\\\\b"]\n`,
      ).join('')
    const started = performance.now()
    const r = substitute(text, {CI_COMMIT_SHA: '0123456789'})
    expect(performance.now() - started).toBeLessThan(500)
    expect(r.text).toContain('    image: golang:1.22\n    commands: [echo ${HOME} 01234567 "a\\b"]\n')
  })
})

describe('validate: substitution', () => {
  it('reports a substitution error as one error at the line and column of its ${', () => {
    const issues = issuesOf('steps:\n  a:\n    image: x\n    commands: echo ${A-B}\n')
    expect(issues).toHaveLength(1)
    expect(issues[0]).toMatchObject({
      severity: 'error',
      file: 'test.yml',
      line: 4,
      col: 20,
      message: expect.stringMatching(/\$\{A-B\}/),
    })
  })

  it('warns about an undefined name at the reference itself', () => {
    const text =
      'steps:\n  a:\n    image: x\n    # TAG is set by the matrix\n    commands:\n      - echo $${TAG}\n      - echo "${TAG}"\n'
    const issues = issuesOf(text)
    expect(issues).toHaveLength(1)
    expect(issues[0]).toMatchObject({
      severity: 'warning',
      line: 7,
      col: 15,
      message: expect.stringMatching(/\$\{TAG\}.*not defined/),
    })
  })

  it('warns once per name, at the first reference', () => {
    const issues = issuesOf('steps:\n  a:\n    image: x:${TAG}\n    commands: echo ${TAG}\n')
    expect(issues.map((i) => [i.line, i.col])).toEqual([[3, 14]])
  })

  it('never warns for variables Woodpecker defines, CI included', () => {
    expect(
      issuesOf(
        'steps:\n  a:\n    image: x:${CI_COMMIT_SHA:0:8}\n    commands: echo ${CI} ${CI_PIPELINE_NUMBER} ${CI_REPO,,}\n',
      ),
    ).toEqual([])
  })

  it('warns about a misspelt CI_ name, with a suggestion', () => {
    const issues = issuesOf('steps:\n  a:\n    image: x\n    commands: echo ${CI_COMIT_SHA}\n')
    expect(issues).toHaveLength(1)
    expect(issues[0]).toMatchObject({severity: 'warning', line: 4, hint: expect.stringMatching(/CI_COMMIT_SHA/)})
  })

  it('warns that run-time variables are empty at substitution, and that $$ defers them to the shell', () => {
    const issues = issuesOf(
      'steps:\n  a:\n    image: x\n    commands: cd ${CI_WORKSPACE} && echo ${CI_STEP_NAME} $${CI_WORKSPACE}\n',
    )
    expect(issues.map((i) => [i.severity, i.line, i.col])).toEqual([
      ['warning', 4, 18],
      ['warning', 4, 42],
    ])
    expect(issues[0].message).toMatch(/only inside a running step/)
    expect(issues[0].hint).toMatch(/\$\$\{CI_WORKSPACE\}/)
  })

  it('does not warn about a run-time variable defined by the caller', () => {
    expect(issuesOf('steps:\n  a:\n    image: x\n    commands: cd ${CI_WORKSPACE}\n', {CI_WORKSPACE: '/w'})).toEqual([])
  })

  it('explains a YAML error caused by the backslash rewriting of the whole file', () => {
    const [issue] = issuesOf('steps:\n  a:\n    image: x\n    commands: ["echo \'^v\\\\d+$\'"]\n')
    expect(issue).toMatchObject({severity: 'error', line: 4, hint: expect.stringMatching(/single quotes/)})
    expect(issuesOf('steps:\n  a:\n    image: x\n    commands: ["echo \'^v\\\\\\\\d+$\'"]\n')).toEqual([])
  })

  it('warns for a run as well, where the undefined value becomes empty', () => {
    const {issues} = checkWorkflowText(
      {
        name: 'test',
        file: 'test.yml',
        text: 'steps:\n  a:\n    image: x\n    commands: echo ${TAG} ${CI_COMMIT_TAG}\n',
      },
      {},
      true,
    )
    expect(issues).toEqual([expect.objectContaining({severity: 'warning', line: 4, col: 20})])
  })
})
