import {ALWAYS_SET_VARIABLES} from '../pipeline/ci-variables.js'
import {checkExpression, ExpressionError} from '../pipeline/expression.js'
import {globProblem} from '../pipeline/glob.js'
import type {Path} from '../pipeline/source.js'
import {type ConditionReport, decodeList, decodePath, stringOrSlice, yamlBool} from '../pipeline/when.js'
import type {IssueCollector} from './issue.js'
import {checkKeys, expectMap, isMap, isScalar, type Retired} from './shape.js'
import {didYouMean} from './suggest.js'

export const EVENTS = [
  'push',
  'pull_request',
  'pull_request_closed',
  'pull_request_metadata',
  'tag',
  'release',
  'deployment',
  'cron',
  'manual',
]
const WHEN_KEYS = [
  'branch',
  'event',
  'ref',
  'status',
  'path',
  'matrix',
  'platform',
  'evaluate',
  'repo',
  'instance',
  'cron',
  'local',
]
/** Conditions matched with `constraint.List` (globs on one value). */
const LIST_KEYS = ['branch', 'ref', 'repo', 'instance', 'platform', 'cron']

/** Variables every pipeline has, so `evaluate` is type-checked with them as strings (the others may be unset). */
const DEFINED_WHEN_VALIDATING: ReadonlySet<string> = new Set([
  ...ALWAYS_SET_VARIABLES,
  'CI',
  'CI_SYSTEM_NAME',
  'CI_REPO',
  'CI_REPO_OWNER',
  'CI_REPO_NAME',
  'CI_REPO_DEFAULT_BRANCH',
  'CI_PIPELINE_EVENT',
  'CI_WORKFLOW_NAME',
])

const RETIRED_WHEN_KEYS: Record<string, Retired> = {
  tag: {
    message: 'Woodpecker has no `when.tag` condition (it would ignore it and run the step for every ref)',
    hint: 'match the tag with `ref: refs/tags/<pattern>` (with `event: tag`)',
  },
  environment: {
    message: 'Woodpecker 2 removed `when.environment`',
    hint: 'use `evaluate: \'CI_PIPELINE_DEPLOY_TARGET == "production"\'`',
  },
}

/** `when`: a map or a list of maps, each key a string, a list, or `{include, exclude}`. */
export function checkWhen(c: IssueCollector, path: Path, value: unknown): void {
  const items = Array.isArray(value) ? value : [value]
  const workflowLevel = path.length === 1
  items.forEach((item, i) => {
    const at = Array.isArray(value) ? [...path, i] : path
    if (!expectMap(c, at, item, 'a map of conditions')) return
    checkKeys(c, at, item, WHEN_KEYS, RETIRED_WHEN_KEYS, 'warning')
    for (const [key, condition] of Object.entries(item)) {
      if (!WHEN_KEYS.includes(key)) continue
      if (workflowLevel && (key === 'matrix' || key === 'local')) {
        c.warn([...at, key], `Woodpecker ignores \`${key}\` in a workflow's \`when\``, {
          hint: 'put it in the `when` of the steps it is meant for',
          atKey: true,
        })
      }
      checkCondition(c, [...at, key], key, condition)
    }
  })
}

function checkCondition(c: IssueCollector, path: Path, key: string, value: unknown): void {
  if (key === 'evaluate') {
    if (typeof value !== 'string') c.error(path, 'must be an expression string', {found: value})
    else if (value !== '') {
      // Woodpecker skips an empty expression. A compile error fails the pipeline there: it is one here.
      try {
        checkExpression(value, DEFINED_WHEN_VALIDATING)
      } catch (error) {
        if (!(error instanceof ExpressionError)) throw error
        c.error(path, `invalid expression: ${error.message}`, {found: value})
      }
    }
    return
  }
  const report: ConditionReport = (at, message, details = {}) => c.error([...path, ...at], message, {...details})
  if (key === 'matrix') return checkMatrix(c, path, value)
  if (key === 'local') {
    if (value !== null && yamlBool(value) === undefined)
      c.error(path, 'must be true or false', {expected: 'a boolean', found: value})
    return
  }
  if (key === 'event') return checkEvent(c, path, value, report)
  if (key === 'status') return checkStatus(c, path, value)
  if (key === 'path') {
    if (isMap(value)) checkKeys(c, path, value, ['include', 'exclude', 'ignore_message', 'on_empty'])
    const decoded = decodePath(value, report)
    checkPatterns(c, path, value, decoded)
    return
  }
  if (LIST_KEYS.includes(key)) {
    if (isMap(value)) checkKeys(c, path, value, ['include', 'exclude'])
    const decoded = decodeList(value, report)
    checkPatterns(c, path, value, decoded)
  }
}

/** Each glob of a list or path condition, at its own place: a pattern doublestar calls bad never matches. */
function checkPatterns(
  c: IssueCollector,
  path: Path,
  value: unknown,
  decoded: {include: string[]; exclude: string[]},
): void {
  const placed = (part: 'include' | 'exclude'): [Path, string][] => {
    const raw = isMap(value) ? value[part] : part === 'include' ? value : undefined
    const base = isMap(value) ? [...path, part] : path
    if (Array.isArray(raw))
      return raw.flatMap((item, i) => (typeof item === 'string' ? [[[...base, i], item] as [Path, string]] : []))
    return decoded[part].map((pattern) => [base, pattern] as [Path, string])
  }
  for (const [at, pattern] of [...placed('include'), ...placed('exclude')]) {
    const problem = globProblem(pattern)
    if (problem)
      c.error(at, `bad glob pattern: ${problem}`, {found: pattern, hint: 'Woodpecker never matches a bad pattern'})
  }
}

function checkEvent(c: IssueCollector, path: Path, value: unknown, report: ConditionReport): void {
  if (isMap(value)) {
    // Woodpecker 3 reads `event` as a string or a list only: an include/exclude map fails the pipeline.
    const excluded = stringOrSlice(value.exclude, [], () => undefined)
    const included = stringOrSlice(value.include, [], () => undefined)
    const events =
      included.length > 0 ? included.filter((e) => !excluded.includes(e)) : EVENTS.filter((e) => !excluded.includes(e))
    c.error(path, 'Woodpecker 3 no longer takes `include`/`exclude` for `event`', {
      found: value,
      hint: `list the events: \`event: [${events.join(', ')}]\``,
    })
    return
  }
  const events = stringOrSlice(value, [], report)
  const items = Array.isArray(value) ? value : [value]
  events.forEach((v) => {
    if (EVENTS.includes(v)) return
    const i = items.indexOf(v)
    const at = Array.isArray(value) ? [...path, i < 0 ? 0 : i] : path
    c.error(at, `unknown event \`${v}\``, {expected: EVENTS.join(' | '), found: v, hint: didYouMean(v, EVENTS)})
  })
}

function checkStatus(c: IssueCollector, path: Path, value: unknown): void {
  const values = Array.isArray(value) ? value : [value]
  values.forEach((v, i) => {
    const at = Array.isArray(value) ? [...path, i] : path
    if (!isScalar(v)) {
      c.error(at, Array.isArray(value) ? 'must be a string' : 'must be a string or a list of strings', {found: v})
      return
    }
    const s = String(v)
    if (s !== 'success' && s !== 'failure')
      c.error(at, 'status is `success` or `failure`', {found: s, hint: didYouMean(s, ['success', 'failure'])})
  })
}

/**
 * `matrix`: pairs of a matrix variable and a glob for its value, and `include:`/`exclude:` maps of such
 * pairs (an exclude rules out only when all its pairs match). Woodpecker silently drops anything else.
 */
function checkMatrix(c: IssueCollector, path: Path, value: unknown): void {
  if (value === null || !expectMap(c, path, value)) return
  const checkPair = (at: Path, v: unknown) => {
    if (v !== null && !isScalar(v)) {
      c.error(at, 'must be a value', {found: v})
      return
    }
    const problem = v === null ? undefined : globProblem(String(v))
    if (problem)
      c.error(at, `bad glob pattern: ${problem}`, {found: String(v), hint: 'Woodpecker never matches a bad pattern'})
  }
  for (const [k, v] of Object.entries(value)) {
    if ((k === 'include' || k === 'exclude') && isMap(v))
      for (const [k2, v2] of Object.entries(v)) checkPair([...path, k, k2], v2)
    else checkPair([...path, k], v)
  }
}
