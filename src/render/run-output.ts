import {Chalk} from 'chalk'
import {formatBytes} from '../runner/checkout.js'
import type {Emit, RunEvent, StepResult} from '../runner/events.js'
import type {Renderer} from './choose.js'

export type Writer = (text: string) => void

/** One JSON object per line, with a timestamp: for tools and tests. */
export function jsonRenderer(write: Writer, now: () => Date = () => new Date()): Renderer {
  return {emit: (event) => write(`${JSON.stringify({time: now().toISOString(), ...event})}\n`), close: async () => {}}
}

/** Plain lines for logs and CI: every log line prefixed by its step, no spinners, colour only if asked. */
export function plainRenderer(write: Writer, color: boolean, now: () => number = Date.now): Renderer {
  return {emit: plainEmitter(write, color, now), close: async () => {}}
}

/** Plain output shows the shipping progress at most this often (a log, not a live view). */
export const PLAIN_PROGRESS_EVERY_MS = 3000

/** `120.0 MiB of 300.0 MiB (40%), 85.2 MiB/s, 3 s left` */
export function formatProgress(progress: {sent: number; total: number; bytesPerSecond: number}): string {
  const {sent, total, bytesPerSecond} = progress
  const percent = total > 0 ? Math.floor((sent * 100) / total) : 100
  const left = bytesPerSecond > 0 && sent < total ? `, ${Math.ceil((total - sent) / bytesPerSecond)} s left` : ''
  return `${formatBytes(sent)} of ${formatBytes(total)} (${percent}%), ${formatBytes(bytesPerSecond)}/s${left}`
}

function plainEmitter(write: Writer, color: boolean, now: () => number): Emit {
  const c = new Chalk({level: color ? 1 : 0})
  const results = new Map<string, StepResult[]>()
  /** When each workflow's shipping last printed a line (its start counts as one). */
  const shipLines = new Map<string, number>()
  let several = false
  const tag = (event: {workflow?: string}, step: string) =>
    c.cyan(several && event.workflow ? `[${event.workflow}/${step}]` : `[${step}]`)
  return (event: RunEvent) => {
    switch (event.type) {
      case 'pipeline-start':
        several = event.workflows.length > 1
        if (several)
          write(`${c.bold('wpk8s')} pipeline of ${event.workflows.length} workflows: ${event.workflows.join(', ')}\n`)
        break
      case 'run-start': {
        const services = event.services.length ? `, ${event.services.length} service(s)` : ''
        write(
          `${c.bold('wpk8s')} run ${event.runId}: workflow ${event.workflow}, ${event.steps.length} step(s)${services}, namespace ${event.namespace} on ${event.server}\n`,
        )
        break
      }
      case 'phase':
        if (event.phase === 'ship' && event.status === 'start') shipLines.set(event.workflow ?? '', now())
        if (event.status === 'done')
          write(
            c.dim(
              `${several ? `[${event.workflow}] ` : ''}${event.phase === 'workspace' ? 'workspace volume bound' : `checkout shipped (${event.detail})`}\n`,
            ),
          )
        break
      case 'progress': {
        const at = now()
        if (at - (shipLines.get(event.workflow ?? '') ?? 0) < PLAIN_PROGRESS_EVERY_MS || event.sent >= event.total)
          break
        shipLines.set(event.workflow ?? '', at)
        write(c.dim(`${several ? `[${event.workflow}] ` : ''}shipping the checkout: ${formatProgress(event)}\n`))
        break
      }
      case 'step-starting':
        write(c.dim(`${tag(event, event.step)} starting: pod created, scheduling, pulling the image\n`))
        break
      case 'step-start':
        write(
          `${tag(event, event.step)} started (pod ${event.pod})${event.background ? ', running in the background' : ''}\n`,
        )
        break
      case 'log':
        write(`${tag(event, event.step)} ${event.line}\n`)
        break
      case 'service-ready':
        write(`${tag(event, event.step)} ready after ${seconds(event.durationMs)} (${event.probe})\n`)
        break
      case 'port-forward':
        write(
          event.error
            ? c.red(`${tag(event, event.step)} port-forward ${event.address} → ${event.port}: ${event.error}\n`)
            : `${tag(event, event.step)} port ${event.port} forwarded to ${event.url}\n`,
        )
        break
      case 'cache':
        write(
          c.dim(
            `${several ? `[${event.workflow}] ` : ''}cache volume ${event.claim} ${event.status === 'created' ? `created (${event.size ?? 'default size'}), kept after the run (wpk8s cache ls); a Woodpecker agent creates no claims: on the server it must exist` : 'found: mounted as it is (made by an earlier run, or one running now)'}\n`,
          ),
        )
        break
      case 'step-end': {
        const result: StepResult = {
          name: event.step,
          status: event.status,
          exitCode: event.exitCode,
          durationMs: event.durationMs,
          reason: event.reason,
        }
        results.set(event.workflow ?? '', [...(results.get(event.workflow ?? '') ?? []), result])
        write(
          `${stepMark(event.status, c)} ${several && event.workflow ? `${event.workflow}/` : ''}${event.step} ${describeStep(result)}\n`,
        )
        break
      }
      case 'cleanup':
        if (event.status === 'done' && event.left?.length)
          write(c.red(`cleanup left behind: ${event.left.join(', ')}\n`))
        break
      case 'run-end': {
        const ran = results.get(event.workflow ?? '') ?? []
        const summary = formatSummary(ran, event, c, ignoredFailures(ran, event))
        write(several ? `${c.bold(event.workflow ?? '')}: ${summary.trimStart()}` : summary)
        break
      }
      case 'pipeline-end':
        if (several)
          write(
            `\n${c.bold('Pipeline')}\n${event.workflows.map((w) => `  ${w.status === 'success' ? c.green('✔') : w.status === 'skipped' ? c.yellow('↷') : c.red('✖')} ${w.name}: ${w.status}${w.reason ? ` (${w.reason})` : ''}`).join('\n')}\n${event.status} (exit ${event.exitCode})\n`,
          )
        break
    }
  }
}

function stepMark(status: StepResult['status'], c: InstanceType<typeof Chalk>): string {
  return status === 'success' ? c.green('✔') : status === 'failure' ? c.red('✖') : c.yellow('↷')
}

export function describeStep(r: StepResult): string {
  const parts: string[] = [r.status]
  if (r.exitCode !== undefined) parts.push(`exit ${r.exitCode}`)
  if (r.status !== 'skipped') parts.push(seconds(r.durationMs))
  return `(${parts.join(', ')})${r.reason ? `: ${r.reason}` : ''}`
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`
}

/**
 * The failed steps that did not fail the run: `failure: ignore` ones. The events name them when the run says so
 * (`declared`); else a failure under a successful run can only have been ignored.
 */
export function ignoredFailures(
  results: StepResult[],
  end: {status: string},
  declared?: readonly string[],
): Set<string> {
  const failed = results.filter((r) => r.status === 'failure').map((r) => r.name)
  if (declared) return new Set(failed.filter((name) => declared.includes(name)))
  return new Set(end.status === 'success' ? failed : [])
}

/**
 * The summary table: per step its mark, name, status, exit code and duration. Narrower than `columns`, an ignored
 * failure says just `ignored` and long names are shortened.
 */
export function formatSummary(
  results: StepResult[],
  end: Extract<RunEvent, {type: 'run-end'}>,
  c: InstanceType<typeof Chalk>,
  ignored: ReadonlySet<string> = new Set(),
  columns = Infinity,
): string {
  const fixed = (statusWidth: number) => 2 + 2 + 2 + statusWidth + 2 + 4 + 2 + 7
  const longest = Math.max(4, ...results.map((r) => r.name.length))
  const narrow = ignored.size > 0 && fixed(17) + longest > columns
  const status = (r: StepResult) => (ignored.has(r.name) ? (narrow ? 'ignored' : 'failure (ignored)') : r.status)
  const statusWidth = Math.max(7, ...results.map((r) => status(r).length))
  const width = Math.max(4, Math.min(longest, columns - fixed(statusWidth)))
  const name = (n: string) => (n.length > width ? `${n.slice(0, width - 1)}…` : n.padEnd(width))
  const mark = (r: StepResult) => (ignored.has(r.name) ? c.yellow('✖') : stepMark(r.status, c))
  const lines = [
    '',
    c.bold('Summary'),
    ...results.map(
      (r) =>
        `  ${mark(r)} ${name(r.name)}  ${status(r).padEnd(statusWidth)}  ${r.exitCode === undefined ? '   -' : String(r.exitCode).padStart(4)}  ${(r.status === 'skipped' ? '-' : seconds(r.durationMs)).padStart(7)}`,
    ),
  ]
  const verdict =
    end.status === 'success' ? c.green('success') : end.status === 'failure' ? c.red('failure') : c.red('error')
  lines.push(`${verdict} in ${seconds(end.durationMs)} (exit ${end.exitCode})`)
  if (end.error) lines.push(c.red(`error: ${end.error}`))
  if (end.hint) lines.push(`hint: ${end.hint}`)
  return `${lines.join('\n')}\n`
}
