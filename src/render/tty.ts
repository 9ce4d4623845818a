import {Chalk} from 'chalk'
import {DefaultRenderer, Listr, type ListrTask} from 'listr2'
import type {RunEvent, StepResult} from '../runner/events.js'
import {formatProgress, formatSummary, ignoredFailures} from './run-output.js'
import {ttyColor, type Renderer} from './choose.js'

type Colors = InstanceType<typeof Chalk>

/** What a step (or service) is doing, as the terminal view shows it. */
export type StepPhase = 'waiting' | 'starting' | 'running' | 'done'

export interface StepView {
  name: string
  service: boolean
  /** What it waits for (its `depends_on`, or the step before). */
  dependsOn: string[]
  phase: StepPhase
  /** When the current phase began (this machine's clock). */
  since: number
  /** `ready after 1.2s` once a service's readiness check passed. */
  ready?: string
  result?: StepResult
  ignored?: boolean
}

/** Icons per state; the running one is the spinner's frame. Waiting and starting never spin. */
export function stepIcon(view: StepView, c: Colors, spinner = '⠋'): string {
  if (view.phase === 'waiting') return c.dim('·')
  if (view.phase === 'starting') return c.yellow('◌')
  if (view.phase === 'running') return c.cyan(spinner)
  const r = view.result!
  if (r.status === 'success') return c.green('✔')
  if (r.status === 'skipped') return c.yellow('↷')
  return view.ignored ? c.yellow('✖') : c.red('✖')
}

/** `3s`, `1m05s`, `1h02m`: whole seconds while it runs. */
export function elapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`
}

/** Code points, which is what a terminal shows for the names and words used here. */
function width(text: string): number {
  return [...text].length
}

function cut(text: string, max: number): string {
  if (max <= 0) return ''
  const chars = [...text]
  return chars.length <= max ? text : `${chars.slice(0, Math.max(0, max - 1)).join('')}…`
}

/**
 * The title of a step's line, `columns` wide at most (without its icon): the name, padded to `pad` so that states
 * line up, then its state: what it is doing and for how long (or how it ended), then a detail (what it waits for, its
 * reason). When that does not fit, the detail is cut first, then the name is shortened (to 8 columns at least); the
 * state's essential part stays.
 */
export function stepTitle(
  view: StepView,
  now: number,
  c: Colors,
  columns = Infinity,
  finished: ReadonlySet<string> = new Set(),
  pad = 0,
): string {
  const name = displayName(view)
  let state: string
  let detail = ''
  let paint: (text: string) => string = (t) => t
  switch (view.phase) {
    case 'waiting': {
      const open = view.dependsOn.filter((d) => !finished.has(d))
      state = 'waiting'
      if (open.length) detail = ` for ${open.join(', ')}`
      paint = c.dim
      break
    }
    case 'starting':
      state = `starting ${elapsed(now - view.since)}`
      detail = ': scheduling, pulling'
      paint = c.yellow
      break
    case 'running':
      state = `running ${elapsed(now - view.since)}`
      if (view.ready) detail = `, ${view.ready}`
      paint = c.cyan
      break
    case 'done': {
      const r = view.result!
      if (r.status === 'skipped') {
        state = 'skipped'
        paint = c.yellow
      } else {
        state = [
          view.ignored ? 'failure ignored' : r.status,
          ...(r.exitCode === undefined ? [] : [`exit ${r.exitCode}`]),
          seconds(r.durationMs),
        ].join(', ')
        // Too narrow for it all: `ignored`, and no `exit 0` after a success.
        if (width(state) > columns - 2 - Math.min(width(name), 8)) {
          state = [
            view.ignored ? 'ignored' : r.status,
            ...(r.exitCode === undefined || r.exitCode === 0 ? [] : [`exit ${r.exitCode}`]),
            seconds(r.durationMs),
          ].join(', ')
        }
        paint = r.status === 'success' ? c.green : view.ignored ? c.yellow : c.red
      }
      if (r.reason) detail = `: ${r.reason}`
      break
    }
  }
  const gap = 2
  const nameRoom = Math.min(width(name), Math.max(8, columns - gap - width(state)))
  const shown = cut(name, nameRoom)
  // Padding first (the states in one column), as far as the state still fits; the detail gets what is left.
  const padded = shown + ' '.repeat(Math.max(0, Math.min(pad, columns - gap - width(state)) - width(shown)))
  const room = columns - width(padded) - gap
  const text =
    width(state) + width(detail) <= room
      ? state + detail
      : width(state) < room - 1
        ? cut(state + detail, room)
        : cut(state, room)
  return `${padded}${' '.repeat(gap)}${paint(text)}`
}

export function displayName(view: {name: string; service: boolean}): string {
  return view.service ? `${view.name} (service)` : view.name
}

/** Cuts a line with colour codes to `max` visible columns (the last one an ellipsis), keeping its escape codes. */
export function fitLine(line: string, max: number): string {
  // eslint-disable-next-line no-control-regex
  const parts = line.split(/(\u001B\[[0-9;]*m)/)
  const isCode = (part: string) => part.startsWith('\u001B[')
  if (width(parts.filter((p) => !isCode(p)).join('')) <= max) return line
  let room = Math.max(0, max - 1)
  let out = ''
  for (const part of parts) {
    if (isCode(part)) out += part
    else {
      const chars = [...part].slice(0, room)
      room -= chars.length
      out += chars.join('')
    }
  }
  return `${out}${max > 0 ? '…' : ''}${parts.some(isCode) ? '\u001B[0m' : ''}`
}

/** How many of a service's last log lines its task shows under its line while it runs. */
export const SERVICE_LINES_SHOWN = 3
/** How many of a service's last log lines are kept, to print if it fails: memory stays bounded. */
export const SERVICE_LINES_KEPT = 200

function earlier(count: number): string {
  return `+ ${count} earlier line${count === 1 ? '' : 's'}`
}

/**
 * The log of a service (or detached step) on the terminal: collapsed under its task while it runs, the last
 * `limit` lines kept (and how many came in all), to be printed above the list if it fails.
 */
export class CollapsedLog {
  private kept: string[] = []
  total = 0
  constructor(readonly limit = SERVICE_LINES_KEPT) {}

  push(line: string): void {
    this.total++
    this.kept.push(line)
    if (this.kept.length > this.limit) this.kept.splice(0, this.kept.length - this.limit)
  }

  /** What its task shows under its line: how many came before, then the last `shown` lines, each cut to `max` columns. */
  subtitle(shown = SERVICE_LINES_SHOWN, max = Infinity): string {
    const last = this.kept.slice(-shown)
    const before = this.total - last.length
    return [...(before > 0 ? [earlier(before)] : []), ...last].map((line) => cut(line, max)).join('\n')
  }

  /** Every line kept, after how many came before them (no longer kept). */
  expanded(): {earlier: number; lines: string[]} {
    return {earlier: this.total - this.kept.length, lines: [...this.kept]}
  }
}

/** Access to the default renderer's internals, to print lines above its live task list. */
interface RendererInternals {
  updater?: {clear(): void}
  logger: {process: {toStdout(text: string, eol?: boolean): void}}
  spinner: {fetch(): string}
}

/** Per task: the icon of its current state (tasks without one keep listr2's). */
const icons = new WeakMap<object, () => string>()

/** Log lines arriving close together are printed in one write, this long after the first. */
const LOG_BATCH_MS = 40

/**
 * listr2's default renderer, plus log lines printed above the task list as they arrive: every line stays in the
 * terminal's scrollback, none is dropped or cut to the list's output bar. Lines arriving together are printed with
 * the list's erasing and redrawing in a single write, so the list does not flicker.
 */
class LiveLogRenderer extends DefaultRenderer {
  static current: LiveLogRenderer | undefined
  private pending: string[] = []
  private timer: NodeJS.Timeout | undefined

  constructor(...args: ConstructorParameters<typeof DefaultRenderer>) {
    super(...args)
    LiveLogRenderer.current = this
  }

  override async render(): Promise<void> {
    await super.render()
    this.flush()
  }

  override style(task: Parameters<DefaultRenderer['style']>[0], output = false): string {
    const icon = output ? undefined : icons.get(task)
    return icon ? icon() : super.style(task, output)
  }

  spinnerFrame(): string {
    return (this as unknown as RendererInternals).spinner.fetch()
  }

  printAbove(lines: string[]): void {
    this.pending.push(...lines)
    this.timer ??= setTimeout(() => this.flush(), LOG_BATCH_MS)
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    const self = this as unknown as RendererInternals
    if (!self.updater || this.pending.length === 0) return
    const stdout = process.stdout
    stdout.cork()
    self.updater.clear()
    self.logger.process.toStdout(this.pending.join('\n'))
    this.pending = []
    this.update()
    process.nextTick(() => stdout.uncork())
  }

  override end(): void {
    this.flush()
    super.end()
  }
}

interface Deferred<T> {
  promise: Promise<T>
  resolve: (value: T) => void
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return {promise, resolve}
}

/** How often the elapsed times refresh. */
const TICK_MS = 1000

/** The terminal view: one listr2 task per step showing its state and time, live logs above, a summary below. */
export function ttyRenderer(
  write: (text: string) => void,
  options: {env?: NodeJS.ProcessEnv; columns?: () => number; now?: () => number; serviceLines?: number} = {},
): Renderer {
  const env = options.env ?? process.env
  const columns = options.columns ?? (() => process.stdout.columns || 80)
  const now = options.now ?? Date.now
  const c = new Chalk({level: ttyColor(env) ? 1 : 0})
  const fit = (text: string) =>
    text
      .split('\n')
      .map((line) => fitLine(line, columns()))
      .join('\n')
  const views = new Map<string, StepView>()
  const titles = new Map<string, {title: string; output: string}>()
  const serviceLines = options.serviceLines ?? SERVICE_LINES_KEPT
  /** The logs of the services and detached steps, collapsed under their tasks (until printed). */
  const collapsed = new Map<string, CollapsedLog>()
  const done = new Map<string, Deferred<void>>()
  const finished = new Set<string>()
  const workspace = deferred<string | undefined>()
  /** The checkout's shipping: its detail when done, or the run's error. */
  const ship = deferred<{detail?: string; problem?: string}>()
  let shipping = false
  let shipTask: {title: string} | undefined
  let lastProgress: string | undefined
  const results: StepResult[] = []
  let list: Promise<unknown> | undefined
  let end: Extract<RunEvent, {type: 'run-end'}> | undefined
  let ticker: NodeJS.Timeout | undefined
  let ignoreDeclared: string[] | undefined

  /** Sets the titles whose text changed (a title set redraws the list). */
  const refresh = () => {
    // Step lines sit at level 1: two columns of indentation, the icon and a space.
    const room = Math.max(10, columns() - 6)
    // As far as a done step's `success, exit 0, 12.3s` still fits beside it.
    const pad = Math.min(
      24,
      Math.max(8, room - 2 - 22),
      Math.max(0, ...[...views.values()].map((v) => width(displayName(v)))),
    )
    for (const [name, task] of titles) {
      const title = stepTitle(views.get(name)!, now(), c, room, finished, pad)
      if (task.title !== title) task.title = title
    }
  }
  const move = (name: string, phase: StepPhase) => {
    const view = views.get(name)
    if (!view || view.phase === 'done' || view.phase === phase) return
    view.phase = phase
    view.since = now()
    refresh()
  }

  const start = (event: Extract<RunEvent, {type: 'run-start'}>) => {
    ignoreDeclared = event.ignoreFailure
    write(
      fit(
        `${c.bold('wpk8s')} run ${event.runId}: workflow ${event.workflow}, namespace ${event.namespace} on ${event.server}`,
      ) + '\n',
    )
    for (const name of event.services) collapsed.set(name, new CollapsedLog(serviceLines))
    for (const name of event.services)
      views.set(name, {name, service: true, dependsOn: [], phase: 'waiting', since: now()})
    for (const name of event.steps)
      views.set(name, {name, service: false, dependsOn: event.dependsOn[name] ?? [], phase: 'waiting', since: now()})
    for (const name of views.keys()) done.set(name, deferred())
    const stepTask = (name: string): ListrTask => ({
      title: name,
      task: async (_, task) => {
        titles.set(name, task)
        showCollapsed(name)
        const view = views.get(name)!
        icons.set(task.task, () => stepIcon(view, c, LiveLogRenderer.current?.spinnerFrame()))
        refresh()
        await done.get(name)!.promise
        refresh()
      },
    })
    const tasks: ListrTask[] = [
      {
        title: 'workspace',
        task: async (_, task) => {
          const problem = await workspace.promise
          if (problem) throw new Error(problem)
          task.title = 'workspace ready'
        },
      },
      // Shown once the checkout ships (not with skip_clone): bytes sent, total and rate while it goes.
      {
        title: 'shipping the checkout',
        enabled: () => shipping,
        task: async (_, task) => {
          shipTask = task
          if (lastProgress) task.title = lastProgress
          const outcome = await ship.promise
          shipTask = undefined
          if (outcome.problem) throw new Error(outcome.problem)
          task.title = `checkout shipped ${c.dim(`(${outcome.detail})`)}`
        },
      },
      {
        title: 'steps',
        task: (_, task) => task.newListr([...views.keys()].map(stepTask), {concurrent: true, exitOnError: false}),
      },
    ]
    ticker = setInterval(refresh, TICK_MS)
    ticker.unref()
    list = new Listr(tasks, {
      concurrent: false,
      exitOnError: false,
      registerSignalListeners: false,
      renderer: LiveLogRenderer,
      rendererOptions: {
        collapseErrors: false,
        collapseSubtasks: false,
        showErrorMessage: false,
        formatOutput: 'truncate',
      },
    })
      .run()
      .catch(() => {})
  }

  /** A line above the task list (or plain, before the list is drawn). */
  const above = (line: string) => {
    if (LiveLogRenderer.current) LiveLogRenderer.current.printAbove([line])
    else write(`${line}\n`)
  }

  /** A service's last lines under its task. Its output lines sit at level 2: four columns, the pointer and a space, two more after the first. */
  const showCollapsed = (name: string) => {
    const log = collapsed.get(name)
    const task = titles.get(name)
    if (!log || !task || log.total === 0) return
    const text = log.subtitle(SERVICE_LINES_SHOWN, Math.max(10, columns() - 8))
    if (task.output !== text) task.output = text
  }
  /** A collapsed log printed above the list, whole as far as it was kept; then its lines go above like a step's. */
  const expand = (name: string) => {
    const log = collapsed.get(name)
    if (!log) return
    collapsed.delete(name)
    const {earlier: before, lines} = log.expanded()
    const tag = c.cyan(`[${name}]`)
    const out = [
      ...(before > 0 ? [`${tag} ${c.dim(`${earlier(before)} (not kept)`)}`] : []),
      ...lines.map((line) => `${tag} ${line}`),
    ]
    if (!out.length) return
    if (LiveLogRenderer.current) LiveLogRenderer.current.printAbove(out)
    else write(out.map((line) => `${line}\n`).join(''))
  }

  const emit = (event: RunEvent) => {
    switch (event.type) {
      case 'run-start':
        return start(event)
      case 'phase':
        if (event.phase === 'workspace' && event.status === 'done') workspace.resolve(undefined)
        if (event.phase === 'ship' && event.status === 'start') shipping = true
        if (event.phase === 'ship' && event.status === 'done') ship.resolve({detail: event.detail})
        return
      case 'progress':
        lastProgress = `shipping the checkout: ${formatProgress(event)}`
        if (shipTask) shipTask.title = lastProgress
        return
      case 'step-starting':
        return move(event.step, 'starting')
      case 'step-start':
        if (event.background && !collapsed.has(event.step)) collapsed.set(event.step, new CollapsedLog(serviceLines))
        return move(event.step, 'running')
      case 'service-ready': {
        const view = views.get(event.step)
        if (view) view.ready = `ready after ${seconds(event.durationMs)}`
        return refresh()
      }
      case 'log': {
        const log = collapsed.get(event.step)
        if (!log) return above(`${c.cyan(`[${event.step}]`)} ${event.line}`)
        log.push(event.line)
        return showCollapsed(event.step)
      }
      case 'port-forward':
        return above(
          event.error
            ? c.red(`[${event.step}] port-forward ${event.address} → ${event.port}: ${event.error}`)
            : `[${event.step}] port ${event.port} forwarded to ${c.bold(event.url ?? '')}`,
        )
      case 'cache':
        return above(
          c.dim(
            `cache volume ${event.claim} ${event.status === 'created' ? `created (${event.size ?? 'default size'}), kept after the run (wpk8s cache ls); on a Woodpecker server it must exist` : 'found: mounted as it is'}`,
          ),
        )
      case 'step-end': {
        const result: StepResult = {
          name: event.step,
          status: event.status,
          exitCode: event.exitCode,
          durationMs: event.durationMs,
          reason: event.reason,
        }
        results.push(result)
        finished.add(event.step)
        const view = views.get(event.step)
        if (view) {
          view.phase = 'done'
          view.since = now()
          view.result = result
          // Known for sure only at the run's end (or from the run's declaration); marked then.
          view.ignored = Boolean(ignoreDeclared?.includes(event.step) && event.status === 'failure')
        }
        // A failed service's lines, whole (its reason holds only the last ones); a finished one's are kept for the run's end.
        if (event.status === 'failure') expand(event.step)
        refresh()
        done.get(event.step)?.resolve()
        return
      }
      case 'run-end': {
        end = event
        const ignored = ignoredFailures(results, event, ignoreDeclared)
        for (const view of views.values()) view.ignored = ignored.has(view.name)
        // The run broke: every service's lines, so nothing is lost; otherwise they are let go.
        if (event.status === 'error' || event.error) for (const name of [...collapsed.keys()]) expand(name)
        collapsed.clear()
        refresh()
        workspace.resolve(event.error)
        ship.resolve({problem: event.error ?? 'the run ended before the checkout was shipped'})
        // Steps that never ended (the run stopped) end with the list.
        for (const d of done.values()) d.resolve()
        return
      }
    }
  }

  return {
    emit,
    close: async () => {
      await list
      if (ticker) clearInterval(ticker)
      LiveLogRenderer.current = undefined
      if (end) write(fit(formatSummary(results, end, c, ignoredFailures(results, end, ignoreDeclared), columns())))
    },
  }
}
