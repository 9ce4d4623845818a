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
  /** A workflow's own `when` (Woodpecker's `global`): `matrix` is not consulted there, only for steps and services. */
  global?: boolean
}

export type PipelineStatus = 'success' | 'failure'

/** One item of a `when` list, its static part already decided: only `status` waits for run time. */
export interface WhenRule {
  matches: boolean
  reason?: string
  statuses: PipelineStatus[]
}

type Data = Record<string, unknown>

/**
 * Decides the static conditions of a `when` (map or list of maps); an empty list means "no when".
 * As Woodpecker's `Constraint.Match`: `path` counts only for push and pull request events, `branch`
 * not for tags, `cron` only for cron events, `matrix` not in a workflow's own `when`; unknown keys
 * (and `local`, see `isLocal`) are no condition.
 */
export function whenRules(when: unknown, ctx: WhenContext): WhenRule[] {
  if (when === undefined || when === null) return []
  const items = (Array.isArray(when) ? when : [when]) as Data[]
  return items.map((item) => {
    const statuses = item.status === undefined ? ['success' as const] : (asList(item.status) as PipelineStatus[])
    // Every condition is decided (as Woodpecker does, so a broken `evaluate` is an error even when an
    // earlier key already failed); the first one that fails is the reason.
    let reason: string | undefined
    for (const [key, condition] of Object.entries(item)) {
      if (key === 'status') continue
      const failed = failedCondition(key, condition, ctx)
      reason ??= failed
    }
    return reason ? {matches: false, reason, statuses} : {matches: true, statuses}
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

/**
 * Woodpecker's `When.IsLocal`: false when any item says `local: false`. A local run
 * (`woodpecker-cli exec`, and so wpk8s) leaves such steps out; services and workflows do not look at it.
 */
export function isLocal(when: unknown): boolean {
  if (when === undefined || when === null) return true
  const items = Array.isArray(when) ? when : [when]
  return !items.some((item) => isMap(item) && yamlBool(item.local) === false)
}

function asList(value: unknown): string[] {
  return (Array.isArray(value) ? value : [value]).map(String)
}

/** Events whose changed files `path` is matched against (Woodpecker's `EventIsPull` and push). */
export const PATH_EVENTS: readonly string[] = ['push', 'pull_request', 'pull_request_closed', 'pull_request_metadata']

/** Why a single condition does not hold, or undefined when it does. */
function failedCondition(key: string, condition: unknown, ctx: WhenContext): string | undefined {
  // Woodpecker leaves out an empty `evaluate`.
  if (key === 'evaluate' && (condition === '' || condition === null)) return undefined
  switch (key) {
    case 'event': {
      const events = strict(() => stringOrSlice(condition, [], report))
      if (typeof events === 'string') return `event: ${events}`
      return events.length === 0 || events.includes(ctx.event)
        ? undefined
        : `event is ${ctx.event}, not ${events.join(' or ')}`
    }
    case 'branch':
      return ctx.event === 'tag' ? undefined : listed('branch', condition, ctx.branch)
    case 'ref':
      return listed('ref', condition, ctx.ref)
    case 'repo':
      return listed('repo', condition, ctx.repo)
    case 'platform':
      return listed('platform', condition, ctx.platform)
    case 'instance':
      return listed('instance', condition, ctx.instance)
    case 'cron':
      return ctx.event === 'cron' ? listed('cron', condition, ctx.cron) : undefined
    case 'matrix':
      return ctx.global ? undefined : matrixFailure(decodeMatrix(condition), ctx.matrix)
    case 'evaluate':
      return evaluateExpression(String(condition), ctx.vars) ? undefined : `\`${String(condition)}\` is false`
    case 'path':
      return PATH_EVENTS.includes(ctx.event) ? pathCondition(condition, ctx) : undefined
    default:
      return undefined
  }
}

function listed(name: string, condition: unknown, value: string): string | undefined {
  const list = strict(() => decodeList(condition, report))
  if (typeof list === 'string') return `${name}: ${list}`
  if (list.exclude.some((p) => globMatch(p, value))) return `${name} ${value || '(empty)'} is excluded`
  if (list.include.length > 0 && !list.include.some((p) => globMatch(p, value)))
    return `${name} is ${value || '(empty)'}, not ${list.include.join(' or ')}`
  return undefined
}

function pathCondition(condition: unknown, ctx: WhenContext): string | undefined {
  const path = strict(() => decodePath(condition, report))
  if (typeof path === 'string') return `path: ${path}`
  if (path.ignoreMessage && goLower(ctx.commitMessage).includes(goLower(path.ignoreMessage))) return undefined
  if (ctx.changedFiles.length === 0) return path.onEmpty ? undefined : 'path: no files changed'
  if (path.exclude.length > 0 && ctx.changedFiles.every((f) => path.exclude.some((p) => globMatch(p, f))))
    return 'path: every changed file is excluded'
  if (path.include.length > 0 && !ctx.changedFiles.some((f) => path.include.some((p) => globMatch(p, f))))
    return `path: no changed file matches ${path.include.join(', ')}`
  return undefined
}

function matrixFailure(c: MatrixConstraint, matrix: Readonly<Record<string, string>>): string | undefined {
  const excluded = Object.entries(c.exclude)
  if (excluded.length > 0 && excluded.every(([k, p]) => globMatch(p, matrix[k] ?? ''))) {
    return `matrix ${excluded.map(([k]) => `${k}=${matrix[k] ?? ''}`).join(', ')} is excluded`
  }
  const wrong = Object.entries(c.include).find(([k, p]) => !globMatch(p, matrix[k] ?? ''))
  return wrong ? `matrix ${wrong[0]} is ${matrix[wrong[0]] ?? 'not set'}, not ${wrong[1]}` : undefined
}

/* ---- Woodpecker's decoding of the condition types (`constraint.List`, `Path`, `Map`) ---- */

/** Where in a condition a problem is (keys and list indexes below the condition's own path). */
export type ConditionPath = (string | number)[]

/** Told about each thing Woodpecker refuses to read (its YAML decoding fails, which fails the pipeline). */
export type ConditionReport = (at: ConditionPath, message: string, details?: {found?: unknown; hint?: string}) => void

/** `constraint.List`: `branch`, `ref`, `repo`, `instance`, `platform`, `cron`. */
export interface ListConstraint {
  include: string[]
  exclude: string[]
}

/** `constraint.Path`: `on_empty` defaults to true. */
export interface PathConstraint extends ListConstraint {
  ignoreMessage: string
  onEmpty: boolean
}

/** `constraint.Map` (`matrix`): every include pair must match; an exclude rules out only when all its pairs match. */
export interface MatrixConstraint {
  include: Record<string, string>
  exclude: Record<string, string>
}

/**
 * Woodpecker's `StringOrSlice`: a single value of any scalar type is taken as its text; a list must
 * hold strings only (`[1]` fails, `['1']` does not). Null (`~` or nothing) is no value at all.
 */
export function stringOrSlice(value: unknown, at: ConditionPath, report: ConditionReport): string[] {
  if (value === undefined || value === null) return []
  if (isScalarValue(value)) return [String(value)]
  if (Array.isArray(value)) {
    const out: string[] = []
    value.forEach((item, i) => {
      if (typeof item === 'string') out.push(item)
      else
        report([...at, i], 'list items must be strings', {
          found: item,
          hint: isScalarValue(item) ? `quote it: '${String(item)}'` : undefined,
        })
    })
    return out
  }
  report(at, 'must be a string or a list of strings', {found: value})
  return []
}

/** `List.UnmarshalYAML`: a string, a list, or `{include, exclude}` (other keys are ignored by Woodpecker). */
export function decodeList(value: unknown, report: ConditionReport): ListConstraint {
  if (isMap(value))
    return {
      include: stringOrSlice(value.include, ['include'], report),
      exclude: stringOrSlice(value.exclude, ['exclude'], report),
    }
  return {include: stringOrSlice(value, [], report), exclude: []}
}

/** `Path.UnmarshalYAML`: a string, a list, or `{include, exclude, ignore_message, on_empty}`. */
export function decodePath(value: unknown, report: ConditionReport): PathConstraint {
  if (!isMap(value)) return {include: stringOrSlice(value, [], report), exclude: [], ignoreMessage: '', onEmpty: true}
  let ignoreMessage = ''
  if (isScalarValue(value.ignore_message)) ignoreMessage = String(value.ignore_message)
  else if (value.ignore_message !== undefined && value.ignore_message !== null)
    report(['ignore_message'], 'must be a string', {found: value.ignore_message})
  let onEmpty = true
  if (value.on_empty !== undefined && value.on_empty !== null) {
    const b = yamlBool(value.on_empty)
    if (b === undefined) report(['on_empty'], 'must be true or false', {found: value.on_empty})
    else onEmpty = b
  }
  return {
    include: stringOrSlice(value.include, ['include'], report),
    exclude: stringOrSlice(value.exclude, ['exclude'], report),
    ignoreMessage,
    onEmpty,
  }
}

/**
 * `Map.UnmarshalYAML`, which never fails: a map's scalar values are the include pairs; `include:` and
 * `exclude:` maps add pairs; anything else (lists, nested maps, a matrix that is not a map) is dropped.
 * `~` is the empty string.
 */
export function decodeMatrix(value: unknown): MatrixConstraint {
  const include: Record<string, string> = {}
  const exclude: Record<string, string> = {}
  const direct: Record<string, string> = {}
  if (!isMap(value)) return {include, exclude}
  for (const [key, item] of Object.entries(value)) {
    if ((key === 'include' || key === 'exclude') && isMap(item)) {
      for (const [k, v] of Object.entries(item)) {
        const text = scalarText(v)
        if (text !== undefined) (key === 'include' ? include : exclude)[k] = text
      }
      continue
    }
    const text = scalarText(item)
    if (text !== undefined) direct[key] = text
  }
  return {include: {...include, ...direct}, exclude}
}

/** A YAML bool as Woodpecker decodes it into a Go bool: true/false, or YAML 1.1's yes/no/on/off/y/n words. */
export function yamlBool(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value
  if (typeof value !== 'string') return undefined
  if (['y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON'].includes(value)) return true
  if (['n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF'].includes(value)) return false
  return undefined
}

function scalarText(value: unknown): string | undefined {
  if (value === null) return ''
  return isScalarValue(value) ? String(value) : undefined
}

function isScalarValue(value: unknown): value is string | number | boolean {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
}

function isMap(value: unknown): value is Data {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

class Refused extends Error {}

const report: ConditionReport = (at, message) => {
  throw new Refused(at.length > 0 ? `${at.join('.')} ${message}` : message)
}

/** Runs a decoder with `report` and gives its result, or the first refusal (validation has reported it already). */
function strict<T>(decode: () => T): T | string {
  try {
    return decode()
  } catch (error) {
    if (error instanceof Refused) return error.message
    throw error
  }
}

/** Go's `strings.ToLower`: each code point on its own (no final-sigma rule; `İ` becomes `i`). */
function goLower(text: string): string {
  if (/^[\x00-\x7f]*$/.test(text)) return text.toLowerCase()
  let out = ''
  for (const ch of text) out += String.fromCodePoint(ch.toLowerCase().codePointAt(0)!)
  return out
}
