import {describe, expect, it} from 'vitest'
import {checkExpression, evaluateExpression, ExpressionError} from '../../src/pipeline/expression.js'
import {globMatch} from '../../src/pipeline/glob.js'
import {decide, type WhenContext, whenRules} from '../../src/pipeline/when.js'
import {errorsOf} from './helpers.js'

const ctx: WhenContext = {
  event: 'push', branch: 'feature/login', ref: 'refs/heads/feature/login', tag: '', repo: 'octo/app', platform: 'linux/amd64',
  instance: 'localhost', cron: '', matrix: {GO: '1.22'}, changedFiles: ['src/login.go', 'docs/readme.md'], commitMessage: 'Add login',
  vars: {CI_COMMIT_BRANCH: 'feature/login', CI_PIPELINE_EVENT: 'push', CI_REPO: 'octo/app'},
}

const runs = (when: unknown, status: 'success' | 'failure' = 'success', c = ctx) => decide(whenRules(when, c), status)

describe('globMatch', () => {
  it.each([
    ['main', 'main', true], ['feature/*', 'feature/login', true], ['feature/*', 'feature/a/b', false], ['feature/**', 'feature/a/b', true],
    ['**/*.go', 'src/login.go', true], ['**/*.go', 'login.go', true], ['*.md', 'docs/readme.md', false], ['{main,dev}', 'dev', true],
    ['release-?', 'release-1', true], ['v[0-9]*', 'v1.2', true], ['refs/tags/v**', 'refs/tags/v1.2.3', true],
  ])('%s ~ %s = %s', (pattern, value, expected) => expect(globMatch(pattern, value)).toBe(expected))
})

describe('evaluate expressions', () => {
  it.each([
    ['CI_PIPELINE_EVENT == "push"', true], ['CI_PIPELINE_EVENT == "push" && CI_REPO == "octo/app"', true],
    ['CI_PIPELINE_EVENT != "push" || CI_REPO == "x"', false], ['!(CI_PIPELINE_EVENT == "tag")', true],
    ['CI_COMMIT_BRANCH startsWith "feature/"', true], ['CI_COMMIT_BRANCH endsWith "x"', false], ['CI_COMMIT_BRANCH contains "log"', true],
    ['CI_PIPELINE_EVENT in ["push", "tag"]', true], ['CI_PIPELINE_EVENT not in ["push"]', false], ['CI_COMMIT_BRANCH matches "^feat"', true],
    ['UNSET == ""', true], ['1 < 2 and not false', true],
  ])('%s → %s', (expression, expected) => expect(evaluateExpression(expression, ctx.vars)).toBe(expected))

  it.each(['CI_X ==', '(a == "b"', 'a == "b")', '', 'a # b', '[1, 2'])('rejects %j', (expression) => expect(() => checkExpression(expression)).toThrow(ExpressionError))

  it('is checked by validate', () => {
    expect(errorsOf('steps:\n  a:\n    image: x\n    when: {evaluate: "CI_X == (1"}\n')[0].message).toMatch(/invalid expression/)
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
    expect(runs({event: [ 'tag', 'release']})).toEqual({run: false, reason: 'when: event is push, not tag or release'})
    expect(runs({branch: {include: 'feature/**', exclude: 'feature/login'}})).toEqual({run: false, reason: 'when: branch feature/login is excluded'})
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
})
