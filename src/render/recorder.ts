import {existsSync, statSync, writeFileSync} from 'node:fs'
import {dirname, resolve} from 'node:path'
import {UsageError, errorMessage, failureReport} from '../errors.js'
import type {RunEvent, StepStatus, WorkflowStatus} from '../runner/events.js'
import type {Renderer} from './choose.js'

/*
 * The run's record for `--report` and `--junit`: the same events every renderer gets (the `--json`
 * stream), each with the time it arrived, folded into one model that both files are rendered from.
 */

/** Log lines kept per step: the first HEAD and the last TAIL; the ones between are counted. */
export const LOG_HEAD = 2_000
export const LOG_TAIL = 8_000
/** Longer log lines are cut (a minified file printed as one line). */
export const LOG_LINE_MAX = 8_192

export interface StepLog {
  head: string[]
  tail: string[]
  omitted: number
}

export interface StepRecord {
  name: string
  kind: 'step' | 'service'
  /** Services and detached steps keep running in the background. */
  background: boolean
  dependsOn: string[]
  pod?: string
  /** `pending` when the run ended without a result for it. */
  status: StepStatus | 'pending'
  exitCode?: number
  reason?: string
  /** As the runner measured it: from its turn (pod creation) to its end. */
  durationMs?: number
  /** The container's own run time, from its status. */
  containerMs?: number
  /** Its turn came (its end minus its duration): pod creation and start. */
  queuedAt?: number
  /** Its container started (step-start). */
  startedAt?: number
  endedAt?: number
  /** Its pod's phases as the cluster recorded them (`step-phases`), times in ms. */
  cluster?: PodPhases
  /** Any further phases the events carry for it, in order. */
  phases: {name: string; at: number; detail?: string}[]
  log: StepLog
}

/** A pod's life as the cluster recorded it (see the `step-phases` event); times in ms, this machine's clock. */
export interface PodPhases {
  node?: string
  createdAt?: number
  /** A pod created ahead: when the runner released it (its gate wait ran from its creation to this). */
  releasedAt?: number
  scheduledAt?: number
  pullingAt?: number
  pulledAt?: number
  startedAt?: number
  finishedAt?: number
  resources?: {requests?: Record<string, string>; limits?: Record<string, string>}
}

const PHASE_TIMES = [
  'createdAt',
  'releasedAt',
  'scheduledAt',
  'pullingAt',
  'pulledAt',
  'startedAt',
  'finishedAt',
] as const

export interface PhaseRecord {
  name: 'workspace' | 'ship' | 'cleanup'
  start: number
  end?: number
  detail?: string
}

export interface WorkflowRecord {
  title: string
  runId?: string
  namespace?: string
  server?: string
  startedAt?: number
  endedAt?: number
  status?: WorkflowStatus
  exitCode?: number
  reason?: string
  error?: string
  hint?: string
  phases: PhaseRecord[]
  steps: StepRecord[]
  /** Objects cleanup could not delete. */
  left?: string[]
}

export interface RunRecord {
  startedAt: number
  endedAt: number
  /** `running` when the record ends without the pipeline's end (the process stopped with an error). */
  status: 'success' | 'failure' | 'error' | 'running'
  exitCode?: number
  error?: string
  hint?: string
  workflows: WorkflowRecord[]
}

/** Folds events into a RunRecord as they come; bounded memory (logs are capped per step). */
export class RunRecorder {
  private readonly workflows = new Map<string, WorkflowRecord>()
  private first?: number
  private last = 0
  private single = false
  private end?: {status: RunRecord['status']; exitCode?: number; error?: string; hint?: string}

  add(event: RunEvent, at: number): void {
    this.first ??= at
    this.last = Math.max(this.last, at)
    // With one workflow its events carry no workflow's title (run-start's `workflow` is its name).
    const key = this.single ? '' : ((event as {workflow?: string}).workflow ?? '')
    switch (event.type) {
      case 'pipeline-start':
        this.single = event.workflows.length === 1
        if (this.single) this.workflow('', at).title = event.workflows[0]
        else for (const title of event.workflows) this.workflow(title, at)
        return
      case 'pipeline-end': {
        this.end = {status: event.status, exitCode: event.exitCode}
        for (const w of event.workflows) {
          const record = this.workflow(this.single ? '' : w.name, at)
          record.status = w.status
          if (w.reason) record.reason = w.reason
        }
        return
      }
      case 'run-start': {
        const w = this.workflow(key, at)
        if (key === '' && !w.title) w.title = event.workflow
        Object.assign(w, {runId: event.runId, namespace: event.namespace, server: event.server, startedAt: at})
        for (const name of event.services) Object.assign(this.step(w, name), {kind: 'service', background: true})
        for (const name of event.steps) this.step(w, name).dependsOn = event.dependsOn[name] ?? []
        return
      }
      case 'phase': {
        const w = this.workflow(key, at)
        if (event.status === 'start') w.phases.push({name: event.phase, start: at})
        else {
          const open = [...w.phases].reverse().find((p) => p.name === event.phase && p.end === undefined)
          if (open) Object.assign(open, {end: at, ...(event.detail ? {detail: event.detail} : {})})
          else w.phases.push({name: event.phase, start: at, end: at, ...(event.detail ? {detail: event.detail} : {})})
        }
        return
      }
      case 'cleanup': {
        const w = this.workflow(key, at)
        if (event.status === 'start') w.phases.push({name: 'cleanup', start: at})
        else {
          const open = w.phases.find((p) => p.name === 'cleanup' && p.end === undefined)
          if (open) open.end = at
          if (event.left?.length) w.left = event.left
        }
        return
      }
      case 'step-start': {
        const s = this.step(this.workflow(key, at), event.step)
        Object.assign(s, {pod: event.pod, startedAt: at, ...(event.background ? {background: true} : {})})
        return
      }
      case 'step-phases': {
        const s = this.step(this.workflow(key, at), event.step)
        const phases: PodPhases = {
          ...(event.node ? {node: event.node} : {}),
          ...(event.resources ? {resources: event.resources} : {}),
        }
        for (const k of PHASE_TIMES) {
          const t = event[k] === undefined ? NaN : Date.parse(event[k])
          if (!Number.isNaN(t)) phases[k] = t
        }
        Object.assign(s, {pod: s.pod ?? event.pod, cluster: phases})
        return
      }
      case 'log': {
        const log = this.step(this.workflow(key, at), event.step).log
        const line =
          event.line.length > LOG_LINE_MAX
            ? `${event.line.slice(0, LOG_LINE_MAX)}… (${event.line.length - LOG_LINE_MAX} more characters)`
            : event.line
        if (log.head.length < LOG_HEAD) log.head.push(line)
        else {
          log.tail.push(line)
          // Trimmed in batches (a shift per line would cost the length of the tail each time); record() trims the rest.
          if (log.tail.length >= 2 * LOG_TAIL) log.omitted += log.tail.splice(0, log.tail.length - LOG_TAIL).length
        }
        return
      }
      case 'step-end': {
        const s = this.step(this.workflow(key, at), event.step)
        Object.assign(
          s,
          {status: event.status, durationMs: event.durationMs, endedAt: at},
          event.exitCode === undefined ? {} : {exitCode: event.exitCode},
          event.reason ? {reason: event.reason} : {},
          event.containerMs === undefined ? {} : {containerMs: event.containerMs},
        )
        // The runner's duration runs from the step's turn (pod creation) to its end.
        if (event.status !== 'skipped' && !(s.background && s.kind === 'service'))
          s.queuedAt = Math.min(at - event.durationMs, s.startedAt ?? Infinity)
        return
      }
      case 'run-end': {
        const w = this.workflow(key, at)
        Object.assign(
          w,
          {endedAt: at, status: event.status, exitCode: event.exitCode},
          event.error ? {error: event.error} : {},
          event.hint ? {hint: event.hint} : {},
        )
        return
      }
      default: {
        // Any other event about a step (a service ready, a port forwarded, a phase such as pulling) is a
        // moment on its timeline row, named by its `phase` or its type.
        const loose = event as {type: string; step?: unknown; phase?: unknown} & Record<string, unknown>
        if (typeof loose.step !== 'string') return
        const detail = ['detail', 'probe', 'url', 'error']
          .map((k) => loose[k])
          .filter((v): v is string => typeof v === 'string')
          .join(', ')
        this.step(this.workflow(key, at), loose.step).phases.push({
          name: typeof loose.phase === 'string' ? loose.phase : loose.type,
          at,
          ...(detail ? {detail} : {}),
        })
      }
    }
  }

  /** The run ended with an error that no event told (the cluster could not be reached, ...). */
  fail(error: unknown, at: number): void {
    this.first ??= at
    this.last = Math.max(this.last, at)
    const {exitCode} = failureReport(error)
    this.end = {status: 'error', exitCode, error: errorMessage(error), ...(error instanceof Error ? hintOf(error) : {})}
  }

  record(): RunRecord {
    const startedAt = this.first ?? 0
    const workflows = [...this.workflows.values()].map((w) => ({
      ...w,
      title: w.title || 'pipeline',
      steps: w.steps.map((s) => ({...s, log: trimmed(s.log)})),
    }))
    const end = this.end ?? {status: 'running' as const}
    // Without a pipeline end, the run's status is the worst of its workflows'.
    const status = this.end
      ? end.status
      : workflows.some((w) => w.status === 'error')
        ? 'error'
        : workflows.some((w) => w.status === 'failure')
          ? 'failure'
          : 'running'
    // The pipeline's error is its own (fail) or, with one workflow, that workflow's.
    const failed = end.error ? end : workflows.length === 1 && workflows[0].error ? workflows[0] : undefined
    return {
      startedAt,
      endedAt: this.last || startedAt,
      status,
      ...(end.exitCode === undefined ? {} : {exitCode: end.exitCode}),
      ...(failed?.error ? {error: failed.error} : {}),
      ...(failed?.hint ? {hint: failed.hint} : {}),
      workflows,
    }
  }

  private workflow(key: string, at: number): WorkflowRecord {
    let w = this.workflows.get(key)
    if (!w) {
      w = {title: key, phases: [], steps: [], startedAt: at}
      this.workflows.set(key, w)
    }
    return w
  }

  private step(w: WorkflowRecord, name: string): StepRecord {
    let s = w.steps.find((x) => x.name === name)
    if (!s) {
      s = {
        name,
        kind: 'step',
        background: false,
        dependsOn: [],
        status: 'pending',
        phases: [],
        log: {head: [], tail: [], omitted: 0},
      }
      w.steps.push(s)
    }
    return s
  }
}

function trimmed(log: StepLog): StepLog {
  const extra = Math.max(0, log.tail.length - LOG_TAIL)
  return {head: [...log.head], tail: log.tail.slice(extra), omitted: log.omitted + extra}
}

function hintOf(error: Error): {hint?: string} {
  const hint = (error as {hint?: unknown}).hint
  return typeof hint === 'string' && hint ? {hint} : {}
}

/** Every kept line of a step's log, with a marker where lines were left out. */
export function logLines(log: StepLog): string[] {
  return log.omitted
    ? [...log.head, `… ${log.omitted} lines left out of the report …`, ...log.tail]
    : [...log.head, ...log.tail]
}

/** A recorded `--json` stream (one event per line, with its `time`), for tests and tools. */
export function recordFromJsonLines(text: string): RunRecord {
  const recorder = new RunRecorder()
  for (const line of text.split('\n')) {
    if (!line.trim()) continue
    const {time, ...event} = JSON.parse(line) as {time?: string} & RunEvent
    recorder.add(event as RunEvent, time ? Date.parse(time) : 0)
  }
  return recorder.record()
}

export interface ReportFiles {
  /** `--report FILE.html`. */
  html?: string
  /** `--junit FILE.xml`. */
  junit?: string
}

export interface ReportingRenderer extends Renderer {
  /** The run stopped with an error that no event carried: the files are written with it. */
  fail(error: unknown): Promise<void>
}

interface ReportIo {
  now: () => number
  write: (path: string, text: string) => void
  say: (line: string) => void
}

const defaultIo: ReportIo = {
  now: Date.now,
  write: (path, text) => writeFileSync(path, text),
  say: (line) => process.stderr.write(line),
}

/**
 * Wraps the chosen renderer: every event goes on to it and into the record; at the end (close, or
 * fail) the files are written and stderr says where. Without files it only passes events on.
 */
export async function withReports(
  files: ReportFiles,
  output: () => Promise<Renderer> | Renderer,
  io: ReportIo = defaultIo,
): Promise<ReportingRenderer> {
  // Checked before the output starts, so a typo in a path does not cost a whole run.
  for (const file of [files.html, files.junit]) if (file) checkWritable(file)
  const inner = await output()
  if (!files.html && !files.junit) return {emit: inner.emit, close: () => inner.close(), fail: async () => {}}
  const recorder = new RunRecorder()
  let written = false
  const writeFiles = async () => {
    if (written) return
    written = true
    const record = recorder.record()
    if (files.html) {
      const {renderHtmlReport} = await import('./report.js')
      writeOrSay(io, files.html, () => renderHtmlReport(record), 'report')
    }
    if (files.junit) {
      const {renderJunit} = await import('./junit.js')
      writeOrSay(io, files.junit, () => renderJunit(record), 'JUnit XML')
    }
  }
  return {
    emit: (event) => {
      recorder.add(event, io.now())
      inner.emit(event)
    },
    close: async () => {
      try {
        await inner.close()
      } finally {
        await writeFiles()
      }
    },
    fail: async (error) => {
      recorder.fail(error, io.now())
      await writeFiles()
    },
  }
}

function writeOrSay(io: ReportIo, path: string, render: () => string, what: string): void {
  try {
    io.write(path, render())
    io.say(`wpk8s: ${what} written to ${path}\n`)
  } catch (error) {
    // The run's own result (and exit code) stands; the file is what failed.
    io.say(`wpk8s: could not write the ${what} to ${path}: ${errorMessage(error)}\n`)
  }
}

/** The file's folder must exist, and the file must not be a folder. */
function checkWritable(file: string): void {
  const dir = dirname(resolve(file))
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new UsageError(`${file}: the folder ${dir} does not exist`)
  if (existsSync(file) && statSync(file).isDirectory()) throw new UsageError(`${file}: is a folder`)
}
