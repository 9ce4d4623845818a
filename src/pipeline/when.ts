import {evaluateExpression} from './expression.js'
import {globMatch} from './glob.js'

/** What `when` conditions are checked against; locally it comes from git and flags. */
export interface WhenContext {
  event: string
  branch: string
  ref: string
  tag: string
  repo: string
  platform: string
  instance: string
  cron: string
  matrix: Readonly<Record<string, string>>
  /** Files changed by the pipeline's commit(s); `path` conditions match against them. */
  changedFiles: readonly string[]
  commitMessage: string
  /** Variables an `evaluate` expression can use (the step's CI_* environment). */
  vars: Readonly<Record<string, string>>
}

export type PipelineStatus = 'success' | 'failure'

/** One item of a `when` list, its static part already decided: only `status` waits for run time. */
export interface WhenRule {
  matches: boolean
  reason?: string
  statuses: PipelineStatus[]
}

type Data = Record<string, unknown>

/** Decides the static conditions of a `when` (map or list of maps); an empty list means "no when". */
export function whenRules(when: unknown, ctx: WhenContext): WhenRule[] {
  if (when === undefined || when === null) return []
  const items = (Array.isArray(when) ? when : [when]) as Data[]
  return items.map((item) => {
    const statuses = item.status === undefined ? ['success' as const] : (asList(item.status) as PipelineStatus[])
    for (const [key, condition] of Object.entries(item)) {
      if (key === 'status') continue
      const reason = failedCondition(key, condition, ctx)
      if (reason) return {matches: false, reason, statuses}
    }
    return {matches: true, statuses}
  })
}

/** Whether a step (or workflow) runs now, given its rules and the pipeline's status so far; else why not. */
export function decide(rules: readonly WhenRule[], status: PipelineStatus): {run: boolean; reason?: string} {
  if (rules.length === 0) return status === 'success' ? {run: true} : {run: false, reason: 'an earlier step failed'}
  if (rules.some((r) => r.matches && r.statuses.includes(status))) return {run: true}
  const staticMiss = rules.find((r) => !r.matches)
  if (staticMiss && rules.every((r) => !r.matches)) return {run: false, reason: `when: ${staticMiss.reason}`}
  return {run: false, reason: status === 'failure' ? 'an earlier step failed' : 'when: runs only after a failure'}
}

function asList(value: unknown): string[] {
  return (Array.isArray(value) ? value : [value]).map(String)
}

/** Why a single condition does not hold, or undefined when it does. */
function failedCondition(key: string, condition: unknown, ctx: WhenContext): string | undefined {
  switch (key) {
    case 'event': return listed('event', condition, ctx.event, (p, v) => p === v)
    case 'branch': return listed('branch', condition, ctx.branch, globMatch)
    case 'ref': return listed('ref', condition, ctx.ref, globMatch)
    case 'tag': return listed('tag', condition, ctx.tag, globMatch)
    case 'repo': return listed('repo', condition, ctx.repo, globMatch)
    case 'platform': return listed('platform', condition, ctx.platform, globMatch)
    case 'instance': return listed('instance', condition, ctx.instance, globMatch)
    case 'cron': return listed('cron', condition, ctx.cron, globMatch)
    case 'matrix': {
      const wrong = Object.entries(condition as Data).find(([k, v]) => ctx.matrix[k] !== String(v))
      return wrong ? `matrix ${wrong[0]} is ${ctx.matrix[wrong[0]] ?? 'not set'}, not ${String(wrong[1])}` : undefined
    }
    case 'evaluate': return evaluateExpression(String(condition), ctx.vars) ? undefined : `\`${String(condition)}\` is false`
    case 'path': return pathCondition(condition, ctx)
    default: return undefined
  }
}

/** A string, a list (any may match) or `{include, exclude}`; `match(pattern, value)`. */
function listed(name: string, condition: unknown, value: string, match: (pattern: string, value: string) => boolean): string | undefined {
  const {include, exclude} = includeExclude(condition)
  if (include.length > 0 && !include.some((p) => match(p, value))) return `${name} is ${value || '(empty)'}, not ${include.join(' or ')}`
  if (exclude.some((p) => match(p, value))) return `${name} ${value} is excluded`
  return undefined
}

function includeExclude(condition: unknown): {include: string[]; exclude: string[]} {
  if (typeof condition === 'object' && condition !== null && !Array.isArray(condition)) {
    const c = condition as Data
    return {include: c.include === undefined ? [] : asList(c.include), exclude: c.exclude === undefined ? [] : asList(c.exclude)}
  }
  return {include: asList(condition), exclude: []}
}

function pathCondition(condition: unknown, ctx: WhenContext): string | undefined {
  const {include, exclude} = includeExclude(condition)
  const options = (typeof condition === 'object' && condition !== null && !Array.isArray(condition) ? condition : {}) as Data
  if (typeof options.ignore_message === 'string' && options.ignore_message && ctx.commitMessage.includes(options.ignore_message)) return undefined
  if (ctx.changedFiles.length === 0) return options.on_empty === false ? 'path: no files changed' : undefined
  const files = ctx.changedFiles.filter((f) => !exclude.some((p) => globMatch(p, f)))
  if (files.length === 0) return 'path: every changed file is excluded'
  if (include.length > 0 && !files.some((f) => include.some((p) => globMatch(p, f)))) return `path: no changed file matches ${include.join(', ')}`
  return undefined
}
