import {describe, expect, it} from 'vitest'
import {globMatch, globProblem, MAX_ALTERNATIVES} from '../../src/pipeline/glob.js'
import {ParseProblem, parsePipelineText} from '../../src/pipeline/parse.js'
import {
  type ConditionReport,
  decodeList,
  decodeMatrix,
  decodePath,
  type WhenContext,
  whenRules,
} from '../../src/pipeline/when.js'
import {IssueCollector} from '../../src/validate/issue.js'
import {checkWhen} from '../../src/validate/when.js'
import {haveConformance, readTable} from './conformance.js'

/**
 * Rows of ../shared/conformance where wpk8s answers differently on purpose (`table:line` → why). Each
 * is asserted to still differ, so a fix elsewhere shows up here.
 */
const DELIBERATE_DIFFERENCES: Record<string, string> = {}

const ctx: WhenContext = {
  event: 'push',
  branch: 'main',
  ref: 'refs/heads/main',
  tag: '',
  repo: 'octo/app',
  platform: 'linux/amd64',
  instance: 'localhost',
  cron: '',
  matrix: {},
  changedFiles: [],
  commitMessage: '',
  vars: {},
}

/** `conf` as the value of `when.<key>` of a step, parsed and validated as wpk8s does with a pipeline. */
function asPipeline(
  key: string,
  conf: string,
): {when?: Record<string, unknown>; whenAsRun?: Record<string, unknown>; refused: boolean; errors: string[]} {
  const text = `steps:\n  s:\n    when:\n      ${key}:\n        ${conf}\n`
  let source
  try {
    source = parsePipelineText('conf.yml', text)
  } catch (error) {
    if (error instanceof ParseProblem) return {refused: true, errors: [error.message]}
    throw error
  }
  const when = ((source.data as Record<string, Record<string, Record<string, unknown>>>).steps.s.when ?? {}) as Record<
    string,
    unknown
  >
  const c = new IssueCollector(source)
  checkWhen(c, ['steps', 's', 'when'], when)
  const errors = c.issues.filter((i) => i.severity === 'error').map((i) => `${i.path}: ${i.message}`)
  // A run reads conditions with numbers as the text written, as Go decodes them into strings (`1.20`).
  const asRun = parsePipelineText('conf.yml', text, {numbersAsText: true}).data as Record<
    string,
    Record<string, Record<string, unknown>>
  >
  return {when, whenAsRun: (asRun.steps.s.when ?? {}) as Record<string, unknown>, refused: errors.length > 0, errors}
}

const collect = (): {report: ConditionReport; problems: string[]} => {
  const problems: string[] = []
  return {report: (at, message) => problems.push(`${at.join('.')} ${message}`), problems}
}

/** Errors a row Woodpecker reads fine may still get in wpk8s: a bad glob (never matches) or a key Woodpecker's schema refuses. */
const toleratedError = /bad glob pattern|unknown key/

function expectRow(id: string, actual: unknown, expected: unknown): void {
  if (id in DELIBERATE_DIFFERENCES) expect(actual, DELIBERATE_DIFFERENCES[id]).not.toEqual(expected)
  else expect(actual).toEqual(expected)
}

describe.skipIf(!haveConformance)('doublestar.Match (conformance/doublestar.tsv)', () => {
  const rows = haveConformance ? readTable('doublestar.tsv') : []
  it.each(rows)('line $line: $pattern ~ $name → $match', (row) => {
    const id = `doublestar.tsv:${row.line}`
    expectRow(id, globMatch(row.pattern, row.name), row.match === 'true')
    // doublestar reported the pattern as bad: validate refuses it.
    if (row.match === 'bad-pattern') expect(globProblem(row.pattern)).toBeDefined()
  })
})

describe.skipIf(!haveConformance)('constraint.List (conformance/list-constraint.tsv)', () => {
  const rows = haveConformance ? readTable('list-constraint.tsv') : []
  const keys = ['branch', 'ref', 'repo', 'instance', 'platform', 'cron'] as const
  const keyed = rows.map(
    (row, i) =>
      ({...row, key: keys[i % keys.length]}) as Record<string, string> & {line: string; key: (typeof keys)[number]},
  )
  it.each(keyed)('line $line: $key $conf ~ $value → $match', (row) => {
    const id = `list-constraint.tsv:${row.line}`
    const parsed = asPipeline(row.key, row.conf)
    if (row.match === 'parse-error') {
      expect(parsed.refused, 'wpk8s refuses what Woodpecker cannot read').toBe(true)
      return
    }
    for (const error of parsed.errors) expect(error).toMatch(toleratedError)
    const {report, problems} = collect()
    const decoded = decodeList(parsed.when![row.key], report)
    expect(problems).toEqual([])
    const c: WhenContext = {...ctx, event: row.key === 'cron' ? 'cron' : 'push', [row.key]: row.value}
    expectRow(
      id,
      {include: decoded.include, exclude: decoded.exclude, match: whenRules(parsed.when, c)[0].matches},
      {include: JSON.parse(row.include), exclude: JSON.parse(row.exclude), match: row.match === 'true'},
    )
  })
})

describe.skipIf(!haveConformance)('constraint.Path (conformance/path-constraint.tsv)', () => {
  const rows = haveConformance ? readTable('path-constraint.tsv') : []
  it.each(rows)('line $line: path $conf ~ $changed_files $message → $run', (row) => {
    const id = `path-constraint.tsv:${row.line}`
    const parsed = asPipeline('path', row.conf)
    if (row.run === 'parse-error') {
      expect(parsed.refused, 'wpk8s refuses what Woodpecker cannot read').toBe(true)
      return
    }
    for (const error of parsed.errors) expect(error).toMatch(toleratedError)
    const {report, problems} = collect()
    const decoded = decodePath(parsed.when!.path, report)
    expect(problems).toEqual([])
    const c: WhenContext = {...ctx, changedFiles: JSON.parse(row.changed_files) as string[], commitMessage: row.message}
    expectRow(
      id,
      {...decoded, run: whenRules(parsed.when, c)[0].matches},
      {
        include: JSON.parse(row.include),
        exclude: JSON.parse(row.exclude),
        ignoreMessage: row.ignore_message,
        onEmpty: row.on_empty !== 'false',
        run: row.run === 'true',
      },
    )
  })

  it('is consulted only for push and pull request events', () => {
    const when = {path: 'docs/**'}
    for (const event of ['push', 'pull_request', 'pull_request_closed', 'pull_request_metadata']) {
      expect(whenRules(when, {...ctx, event, changedFiles: ['src/a.go']})[0].matches, event).toBe(false)
    }
    for (const event of ['tag', 'release', 'deployment', 'cron', 'manual']) {
      expect(whenRules(when, {...ctx, event, changedFiles: ['src/a.go']})[0].matches, event).toBe(true)
    }
  })
})

describe.skipIf(!haveConformance)('constraint.Map: when.matrix (conformance/matrix-constraint.tsv)', () => {
  const rows = haveConformance ? readTable('matrix-constraint.tsv') : []
  it.each(rows)('line $line: matrix $conf ~ $matrix → $match', (row) => {
    const id = `matrix-constraint.tsv:${row.line}`
    const parsed = asPipeline('matrix', row.conf)
    for (const error of parsed.errors) expect(error).toMatch(/bad glob pattern|must be a value|must be a map/)
    const decoded = decodeMatrix(parsed.whenAsRun!.matrix)
    const c: WhenContext = {...ctx, matrix: JSON.parse(row.matrix) as Record<string, string>}
    expectRow(
      id,
      {...decoded, match: whenRules(parsed.whenAsRun, c)[0].matches},
      {include: JSON.parse(row.include), exclude: JSON.parse(row.exclude), match: row.match === 'true'},
    )
  })
})

describe('globMatch beyond the tables', () => {
  it.each([
    // doublestar keeps one backtrack point per kind of star and so misses these matches; wpk8s finds them.
    ['*[!a]*a', '.a/.a', true],
    ['**/*/**/', 'a/b', true],
    // a brace alternative starts a segment: `**` right after one is a globstar even after other text.
    ['x{**/,}a', 'xa', true],
    ['x{**/,}a', 'xb/c/a', true],
    ['x**/a', 'xb/c/a', false],
    // where the name may end: `x/**` and `x/**/` match `x`, `**/*` not the empty name, `a***` not `a`.
    ['x/**', 'x', true],
    ['x/**/', 'x', true],
    ['x/**/', 'x/y', false],
    ['**/*', '', false],
    ['a***', 'a', false],
    ['a/{,}**', 'a/', true],
    ['*', '', true],
    ['{,}', '', true],
    ['/**{,}', '', false],
    // dots are ordinary characters; names with `.` and `..` segments; code points, not UTF-16 units.
    ['*/*', './..', true],
    ['a/*/b', 'a/../b', true],
    ['?', '\u{1F600}', true],
    ['[^a]', '\u{1F600}', true],
    ['[\u{1F600}-\u{1F64F}]', '\u{1F610}', true],
  ])('%j ~ %j = %s', (pattern, name, expected) => expect(globMatch(pattern, name)).toBe(expected))

  it('says why a pattern is bad', () => {
    expect(globProblem('release/[0-9')).toMatch(/`\[` at character 9 is never closed/)
    expect(globProblem('x[]')).toMatch(/character class at character 2 is empty/)
    expect(globProblem('{a,b')).toMatch(/`\{` at character 1 is never closed/)
    expect(globProblem('a}')).toMatch(/`\}` at character 2 closes no `\{`/)
    expect(globProblem('a\\')).toMatch(/lone `\\`/)
    expect(globProblem('{a,[b}]}')).toMatch(/first `\}`, even one inside/)
    expect(globProblem('{a,b}'.repeat(9))).toMatch(new RegExp(`more than ${MAX_ALTERNATIVES} patterns`))
    expect(globMatch('{a,b}'.repeat(9), 'a'.repeat(9))).toBe(false)
    for (const fine of ['main', 'release/**', '**/*.{js,ts}', '[!a-z]?', '\\{literal\\}', ''])
      expect(globProblem(fine), fine).toBeUndefined()
  })

  it('validates a 300-step pipeline worth of patterns quickly', () => {
    const started = performance.now()
    for (let i = 0; i < 900; i++) globProblem(`src/${i}/**/*.{go,mod}`)
    expect(performance.now() - started).toBeLessThan(2000)
  })
})
