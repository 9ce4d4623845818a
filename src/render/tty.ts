import {Chalk} from 'chalk'
import {DefaultRenderer, Listr, type ListrTask} from 'listr2'
import type {RunEvent, StepResult} from '../runner/events.js'
import {describeStep, formatProgress, formatSummary} from './run-output.js'
import type {Renderer} from './choose.js'

/** Access to the default renderer's internals, to print lines above its live task list. */
interface RendererInternals {
  updater?: {clear(): void}
  logger: {process: {toStdout(text: string): void}}
}

/**
 * listr2's default renderer, plus log lines printed above the task list as they arrive: every line
 * stays in the terminal's scrollback, none is dropped or cut to the list's output bar.
 */
class LiveLogRenderer extends DefaultRenderer {
  static current: LiveLogRenderer | undefined
  private pending: string[] = []

  constructor(...args: ConstructorParameters<typeof DefaultRenderer>) {
    super(...args)
    LiveLogRenderer.current = this
  }

  override async render(): Promise<void> {
    await super.render()
    this.printAbove([])
  }

  printAbove(lines: string[]): void {
    const self = this as unknown as RendererInternals
    this.pending.push(...lines)
    if (!self.updater) return
    self.updater.clear()
    for (const line of this.pending) self.logger.process.toStdout(line)
    this.pending = []
    this.update()
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

/** The terminal view: one listr2 task per step with its state and duration, live logs above, a summary below. */
export function ttyRenderer(write: (text: string) => void): Renderer {
  const c = new Chalk({level: 1})
  const steps = new Map<string, Deferred<StepResult>>()
  const workspace = deferred<string | undefined>()
  /** The checkout's shipping: its detail when done, or the run's error. */
  const ship = deferred<{detail?: string; problem?: string}>()
  let shipping = false
  let shipTask: {title: string} | undefined
  let lastProgress: string | undefined
  const results: StepResult[] = []
  let list: Promise<unknown> | undefined
  let end: Extract<RunEvent, {type: 'run-end'}> | undefined

  const start = (event: Extract<RunEvent, {type: 'run-start'}>) => {
    write(`${c.bold('wpk8s')} run ${event.runId}: workflow ${event.workflow}, namespace ${event.namespace} on ${event.server}\n`)
    for (const name of [...event.services, ...event.steps]) steps.set(name, deferred())
    const stepTask = (name: string, label: string): ListrTask => ({title: label, task: async (_, task) => {
      const result = await steps.get(name)!.promise
      task.title = `${label} ${c.dim(describeStep(result))}`
      if (result.status === 'skipped') task.skip(task.title)
      if (result.status === 'failure') throw new Error(task.title)
    }})
    const waitsFor = (name: string) => (event.dependsOn[name]?.length ? c.dim(` ← ${event.dependsOn[name].join(', ')}`) : '')
    const tasks: ListrTask[] = [
      {title: 'workspace', task: async (_, task) => {
        const problem = await workspace.promise
        if (problem) throw new Error(problem)
        task.title = 'workspace ready'
      }},
      // Shown once the checkout ships (not with skip_clone): bytes sent, total and rate while it goes.
      {title: 'shipping the checkout', enabled: () => shipping, task: async (_, task) => {
        shipTask = task
        if (lastProgress) task.title = lastProgress
        const outcome = await ship.promise
        shipTask = undefined
        if (outcome.problem) throw new Error(outcome.problem)
        task.title = `checkout shipped ${c.dim(`(${outcome.detail})`)}`
      }},
      {title: 'steps', task: (_, task) => task.newListr([
        ...event.services.map((name) => stepTask(name, `${name} ${c.dim('(service)')}`)),
        ...event.steps.map((name) => stepTask(name, `${name}${waitsFor(name)}`)),
      ], {concurrent: true, exitOnError: false})},
    ]
    list = new Listr(tasks, {concurrent: false, exitOnError: false, registerSignalListeners: false, renderer: LiveLogRenderer, rendererOptions: {collapseErrors: false, collapseSubtasks: false, showErrorMessage: true}}).run().catch(() => {})
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
      case 'log':
        LiveLogRenderer.current?.printAbove([`${c.cyan(`[${event.step}]`)} ${event.line}`])
        return
      case 'step-end': {
        const result: StepResult = {name: event.step, status: event.status, exitCode: event.exitCode, durationMs: event.durationMs, reason: event.reason}
        results.push(result)
        steps.get(event.step)?.resolve(result)
        return
      }
      case 'run-end':
        end = event
        workspace.resolve(event.error)
        ship.resolve({problem: event.error ?? 'the run ended before the checkout was shipped'})
        return
    }
  }

  return {
    emit,
    close: async () => {
      await list
      LiveLogRenderer.current = undefined
      if (end) write(formatSummary(results, end, c))
    },
  }
}
