import {describe, expect, it} from 'vitest'
import {checkExpression, evaluateExpression, ExpressionError} from '../../src/pipeline/expression.js'
import {globMatch} from '../../src/pipeline/glob.js'
import {decide, isLocal, type WhenContext, whenRules} from '../../src/pipeline/when.js'
import {errorsOf, issuesOf} from './helpers.js'

const ctx: WhenContext = {
  event: 'push',
  branch: 'feature/login',
  ref: 'refs/heads/feature/login',
  tag: '',
  repo: 'octo/app',
  platform: 'linux/amd64',
  instance: 'localhost',
  cron: '',
  matrix: {GO: '1.22'},
  changedFiles: ['src/login.go', 'docs/readme.md'],
  commitMessage: 'Add login',
  vars: {CI_COMMIT_BRANCH: 'feature/login', CI_PIPELINE_EVENT: 'push', CI_REPO: 'octo/app'},
}

const runs = (when: unknown, status: 'success' | 'failure' = 'success', c = ctx) => decide(whenRules(when, c), status)

describe('globMatch', () => {
  it.each([
    ['main', 'main', true],
    ['feature/*', 'feature/login', true],
    ['feature/*', 'feature/a/b', false],
    ['feature/**', 'feature/a/b', true],
    ['**/*.go', 'src/login.go', true],
    ['**/*.go', 'login.go', true],
    ['*.md', 'docs/readme.md', false],
    ['{main,dev}', 'dev', true],
    ['release-?', 'release-1', true],
    ['v[0-9]*', 'v1.2', true],
    ['refs/tags/v**', 'refs/tags/v1.2.3', true],
    ['refs/tags/v**', 'refs/tags/v1/2', false],
    ['docs/**', 'docs', true],
    ['*', '.env', true],
    ['{a}', 'a', true],
    ['[!a]', '/', true],
    ['[[:alpha:]]', 'a', false],
    ['+(a|b)', 'a', false],
    ['Main', 'main', false],
    ['a[', 'a[', false],
    ['\\*', '*', true],
  ])('%s ~ %s = %s', (pattern, value, expected) => expect(globMatch(pattern, value)).toBe(expected))
})

describe('evaluate expressions', () => {
  it.each([
    ['CI_PIPELINE_EVENT == "push"', true],
    ['CI_PIPELINE_EVENT == "push" && CI_REPO == "octo/app"', true],
    ['CI_PIPELINE_EVENT != "push" || CI_REPO == "x"', false],
    ['!(CI_PIPELINE_EVENT == "tag")', true],
    ['CI_COMMIT_BRANCH startsWith "feature/"', true],
    ['CI_COMMIT_BRANCH endsWith "x"', false],
    ['CI_COMMIT_BRANCH contains "log"', true],
    ['CI_PIPELINE_EVENT in ["push", "tag"]', true],
    ['CI_PIPELINE_EVENT not in ["push"]', false],
    ['CI_COMMIT_BRANCH matches "^feat"', true],
    ['UNSET == ""', true],
    ['1 < 2 and not false', true],
    // Woodpecker's env is a map of strings: an unset variable is "" (never nil) and absent from $env.
    ['UNSET != nil', true],
    ['"UNSET" in $env', false],
    ['"CI_REPO" in $env', true],
    ['(UNSET ?? "x") == ""', true],
  ])('%s → %s', (expression, expected) => expect(evaluateExpression(expression, ctx.vars)).toBe(expected))

  it.each(['CI_X ==', '(a == "b"', 'a == "b")', '', 'a # b', '[1, 2', 'a = "b"', '"push"'])(
    'rejects %j',
    (expression) => {
      expect(() => checkExpression(expression)).toThrow(expect.objectContaining({kind: 'compile'}))
    },
  )

  it('rejects type errors of defined variables (strings) when compiling, of unset ones when running', () => {
    expect(() => evaluateExpression('CI_REPO == true', ctx.vars)).toThrow(expect.objectContaining({kind: 'compile'}))
    expect(() => evaluateExpression('UNSET > 1', ctx.vars)).toThrow(expect.objectContaining({kind: 'runtime'}))
    expect(() => evaluateExpression('int(UNSET) > 1', ctx.vars)).toThrow(expect.objectContaining({kind: 'runtime'}))
    expect(() => evaluateExpression('UNSET', ctx.vars)).toThrow(ExpressionError)
  })

  it('is checked by validate', () => {
    expect(errorsOf('steps:\n  a:\n    image: x\n    when: {evaluate: "CI_X == (1"}\n')[0].message).toMatch(
      /invalid expression/,
    )
  })
})

describe('when', () => {
  it('runs without conditions only while the pipeline succeeds', () => {
    expect(runs(undefined)).toEqual({run: true})
    expect(runs(undefined, 'failure')).toEqual({run: false, reason: 'an earlier step failed'})
  })

  it('decides status: failure, [success, failure]', () => {
    expect(runs({status: 'failure'}).run).toBe(false)
    expect(runs({status: 'failure'}, 'failure').run).toBe(true)
    expect(runs({status: ['success', 'failure']}, 'failure').run).toBe(true)
  })

  it('matches event, branch, ref, repo, platform, matrix and evaluate, with a reason when not', () => {
    expect(runs({event: 'push', branch: 'feature/*'}).run).toBe(true)
    expect(runs({event: ['tag', 'release']})).toEqual({run: false, reason: 'when: event is push, not tag or release'})
    expect(runs({branch: {include: 'feature/**', exclude: 'feature/login'}})).toEqual({
      run: false,
      reason: 'when: branch feature/login is excluded',
    })
    expect(runs({ref: 'refs/heads/feature/*'}).run).toBe(true)
    expect(runs({repo: 'octo/*', platform: 'linux/*'}).run).toBe(true)
    expect(runs({matrix: {GO: '1.21'}})).toEqual({run: false, reason: 'when: matrix GO is 1.22, not 1.21'})
    expect(runs({evaluate: 'CI_COMMIT_BRANCH == "main"'}).run).toBe(false)
  })

  it('ORs the items of a list and ANDs the keys of an item', () => {
    expect(runs([{event: 'tag'}, {branch: 'feature/login'}]).run).toBe(true)
    expect(runs([{event: 'push', branch: 'main'}]).run).toBe(false)
  })

  it('matches path against the changed files, with exclude, ignore_message and on_empty', () => {
    expect(runs({path: '**/*.go'}).run).toBe(true)
    expect(runs({path: 'web/**'}).run).toBe(false)
    expect(runs({path: {include: '**', exclude: ['**/*.go', 'docs/**']}}).run).toBe(false)
    expect(runs({path: {include: 'web/**', ignore_message: 'login'}}).run).toBe(true)
    expect(runs({path: {include: 'x', on_empty: false}}, 'success', {...ctx, changedFiles: []}).run).toBe(false)
    expect(runs({path: 'x'}, 'success', {...ctx, changedFiles: []}).run).toBe(true)
  })

  it('skips a path exclude only when every changed file is excluded; ignore_message is a case-insensitive substring', () => {
    expect(runs({path: {exclude: '**/*.md'}}).run).toBe(true)
    expect(runs({path: {exclude: ['**/*.md', 'src/**']}})).toEqual({
      run: false,
      reason: 'when: path: every changed file is excluded',
    })
    expect(runs({path: {include: 'web/**', ignore_message: 'ADD LOGIN'}}).run).toBe(true)
    expect(runs({path: {include: 'web/**', ignore_message: 'İ'}}, 'success', {...ctx, commitMessage: 'i'}).run).toBe(
      true,
    )
    expect(runs({path: ['']}).run).toBe(false)
  })

  it('consults path only for push and pull requests, branch not for tags, cron only for cron events', () => {
    const tag = {...ctx, event: 'tag', branch: '', ref: 'refs/tags/v1'}
    expect(runs({path: 'web/**'}, 'success', tag).run).toBe(true)
    expect(runs({path: 'web/**'}, 'success', {...ctx, event: 'pull_request_metadata'}).run).toBe(false)
    expect(runs({branch: 'main'}, 'success', tag).run).toBe(true)
    expect(runs({branch: 'main'}, 'success', {...ctx, event: 'release'}).run).toBe(false)
    expect(runs({cron: 'nightly'}).run).toBe(true)
    expect(runs({cron: 'nightly'}, 'success', {...ctx, event: 'cron', cron: 'weekly'})).toEqual({
      run: false,
      reason: 'when: cron is weekly, not nightly',
    })
    expect(runs({cron: 'night*'}, 'success', {...ctx, event: 'cron', cron: 'nightly'}).run).toBe(true)
    expect(runs({instance: 'ci.example.com'}).run).toBe(false)
    expect(runs({repo: {exclude: 'octo/*'}})).toEqual({run: false, reason: 'when: repo octo/app is excluded'})
  })

  it('matches matrix values as globs, a missing variable as "", with include/exclude maps', () => {
    expect(runs({matrix: {GO: '1.*'}}).run).toBe(true)
    expect(runs({matrix: {DB: '*'}}).run).toBe(true)
    expect(runs({matrix: {DB: ''}}).run).toBe(true)
    expect(runs({matrix: {exclude: {GO: '1.22', DB: 'mysql'}}}).run).toBe(true)
    expect(runs({matrix: {exclude: {GO: '1.2*'}}})).toEqual({run: false, reason: 'when: matrix GO=1.22 is excluded'})
    expect(runs({matrix: {include: {GO: '1.22'}, exclude: {DB: 'x'}}}).run).toBe(true)
    expect(runs({matrix: {GO: '1.21'}}, 'success', {...ctx, global: true}).run).toBe(true)
  })

  it('ignores `local` and unknown keys (Woodpecker does), and an empty evaluate', () => {
    expect(runs({local: false}).run).toBe(true)
    expect(runs({tag: 'v*'}).run).toBe(true)
    expect(runs({evaluate: ''}).run).toBe(true)
  })

  it('says whether a step runs locally: not when any item has local: false', () => {
    expect(isLocal(undefined)).toBe(true)
    expect(isLocal({local: true, branch: 'x'})).toBe(true)
    expect(isLocal([{event: 'push'}, {local: false}])).toBe(false)
    expect(isLocal({local: 'no'})).toBe(false)
  })
})

describe('validate when', () => {
  const step = (when: string) =>
    `steps:\n  a:\n    image: x\n    commands: [x]\n    when:\n${when.replace(/^/gm, '      ')}\n`
  const whenIssues = (when: string) => issuesOf(step(when)).filter((i) => i.path.includes('when'))

  it('refuses event as an include/exclude map (Woodpecker 3), with the list to write instead', () => {
    const [issue] = whenIssues('event:\n  exclude: [cron, manual]')
    expect(issue).toMatchObject({
      severity: 'error',
      line: 7,
      path: 'steps.a.when.event',
      message: expect.stringMatching(/no longer takes `include`\/`exclude`/),
    })
    expect(issue.hint).toBe(
      'list the events: `event: [push, pull_request, pull_request_closed, pull_request_metadata, tag, release, deployment]`',
    )
    expect(whenIssues('event: {include: [push, tag], exclude: tag}')[0].hint).toBe('list the events: `event: [push]`')
  })

  it('accepts local, and wants a boolean there', () => {
    expect(whenIssues('local: false')).toEqual([])
    expect(whenIssues('local: maybe')[0]).toMatchObject({
      severity: 'error',
      path: 'steps.a.when.local',
      message: 'must be true or false',
    })
  })

  it('reports a bad glob at its line and field path', () => {
    const issues = whenIssues(
      'branch: [main, "release/[0-9"]\npath:\n  include: docs/**\n  exclude: ["{a,b"]\nmatrix: {GO: "1.[2"}\nref: {include: \'refs/tags/v\\\'}',
    )
    expect(issues.map((i) => [i.path, i.line, i.severity])).toEqual([
      ['steps.a.when.branch[1]', 6, 'error'],
      ['steps.a.when.path.exclude[0]', 9, 'error'],
      ['steps.a.when.matrix.GO', 10, 'error'],
      ['steps.a.when.ref.include', 11, 'error'],
    ])
    expect(issues[0].message).toBe(
      'bad glob pattern: the `[` at character 9 is never closed (write `\\[` for a literal bracket)',
    )
  })

  it('refuses what Woodpecker cannot read: numbers in a list, a map as ignore_message, a word as on_empty', () => {
    expect(whenIssues('branch: [main, 1]')[0]).toMatchObject({
      path: 'steps.a.when.branch[1]',
      message: 'list items must be strings',
      hint: "quote it: '1'",
    })
    expect(whenIssues('path: {ignore_message: [x]}')[0]).toMatchObject({
      path: 'steps.a.when.path.ignore_message',
      message: 'must be a string',
    })
    expect(whenIssues('path: {on_empty: maybe}')[0]).toMatchObject({
      path: 'steps.a.when.path.on_empty',
      message: 'must be true or false',
    })
    expect(whenIssues('branch: 123\npath: {on_empty: no, include: "*.md"}')).toEqual([])
  })

  it('refuses when.tag and when.environment with what to use instead', () => {
    expect(whenIssues('tag: v*')[0]).toMatchObject({
      severity: 'error',
      path: 'steps.a.when.tag',
      hint: expect.stringMatching(/ref: refs\/tags\//),
    })
    expect(whenIssues('environment: production')[0].hint).toMatch(/CI_PIPELINE_DEPLOY_TARGET/)
  })

  it("warns that Woodpecker ignores matrix and local in a workflow's when", () => {
    const issues = issuesOf(
      'when: {matrix: {GO: "1.*"}, local: false}\nsteps:\n  a:\n    image: x\n    commands: [x]\n',
    ).filter((i) => i.path.startsWith('when'))
    expect(issues.map((i) => [i.severity, i.path])).toEqual([
      ['warning', 'when.matrix'],
      ['warning', 'when.local'],
    ])
  })
})
