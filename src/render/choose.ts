import type {Emit} from '../runner/events.js'

/** Where run events go; `close` waits for the output to finish (the live view ends, the summary prints). */
export interface Renderer {
  emit: Emit
  close(): Promise<void>
}

export type OutputKind = 'json' | 'tty' | 'plain'

/**
 * The live terminal view for one workflow, only on a real terminal with columns and outside CI (listr2 looks at isTTY
 * alone, and ora-style spinners misbehave on zero-column terminals); JSON when asked.
 */
export function chooseOutput(options: {
  json: boolean
  isTTY: boolean
  columns: number
  env: NodeJS.ProcessEnv
  workflows?: number
}): OutputKind {
  if (options.json) return 'json'
  // Several workflows interleave: plain lines, each prefixed by workflow and step, stay readable.
  if ((options.workflows ?? 1) > 1) return 'plain'
  if (!options.isTTY || options.columns <= 0 || options.env.CI || options.env.TERM === 'dumb') return 'plain'
  return 'tty'
}

/**
 * Whether the terminal view is coloured: `NO_COLOR` (any non-empty value) turns colour off, `FORCE_COLOR=0` too;
 * otherwise a terminal gets colour (https://no-color.org, https://force-color.org).
 */
export function ttyColor(env: NodeJS.ProcessEnv): boolean {
  if (env.FORCE_COLOR === '0' || env.FORCE_COLOR === 'false') return false
  if (env.FORCE_COLOR !== undefined) return true
  return !env.NO_COLOR
}
