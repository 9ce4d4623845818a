import {checkExpression, ExpressionError} from '../pipeline/expression.js'
import type {Path} from '../pipeline/source.js'
import type {IssueCollector} from './issue.js'
import {checkKeys, expectMap, expectStringOrList, isMap, isScalar} from './shape.js'
import {didYouMean} from './suggest.js'

export const EVENTS = ['push', 'pull_request', 'pull_request_closed', 'pull_request_metadata', 'tag', 'release', 'deployment', 'cron', 'manual']
const WHEN_KEYS = ['branch', 'event', 'ref', 'status', 'path', 'matrix', 'platform', 'evaluate', 'repo', 'instance', 'cron', 'tag']

/** `when`: a map or a list of maps, each key a string, a list, or `{include, exclude}`. */
export function checkWhen(c: IssueCollector, path: Path, value: unknown): void {
  const items = Array.isArray(value) ? value : [value]
  items.forEach((item, i) => {
    const at = Array.isArray(value) ? [...path, i] : path
    if (!expectMap(c, at, item, 'a map of conditions')) return
    checkKeys(c, at, item, WHEN_KEYS)
    for (const [key, condition] of Object.entries(item)) checkCondition(c, [...at, key], key, condition)
  })
}

function checkCondition(c: IssueCollector, path: Path, key: string, value: unknown): void {
  if (key === 'evaluate') {
    if (typeof value !== 'string') c.error(path, 'must be an expression string', {found: value})
    else {
      try {
        checkExpression(value)
      } catch (error) {
        if (!(error instanceof ExpressionError)) throw error
        c.error(path, `invalid expression: ${error.message}`, {found: value})
      }
    }
    return
  }
  if (key === 'matrix') {
    if (expectMap(c, path, value)) for (const [k, v] of Object.entries(value)) if (!isScalar(v)) c.error([...path, k], 'must be a value', {found: v})
    return
  }
  const allowedExtra = key === 'path' ? ['ignore_message', 'on_empty'] : []
  if (isMap(value)) {
    checkKeys(c, path, value, ['include', 'exclude', ...allowedExtra])
    for (const part of ['include', 'exclude']) if (part in value) checkValues(c, [...path, part], key, value[part])
    return
  }
  checkValues(c, path, key, value)
}

function checkValues(c: IssueCollector, path: Path, key: string, value: unknown): void {
  if (!expectStringOrList(c, path, value)) return
  const values = Array.isArray(value) ? value.map(String) : [String(value)]
  values.forEach((v, i) => {
    const at = Array.isArray(value) ? [...path, i] : path
    if (key === 'event' && !EVENTS.includes(v)) c.error(at, `unknown event \`${v}\``, {expected: EVENTS.join(' | '), found: v, hint: didYouMean(v, EVENTS)})
    if (key === 'status' && v !== 'success' && v !== 'failure') c.error(at, 'status is `success` or `failure`', {found: v, hint: didYouMean(v, ['success', 'failure'])})
  })
}
