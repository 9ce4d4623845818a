import {type BackendFlags, type CodedIssue, resolveBackendConfig, STEP_OPTION_GATES} from '../config.js'
import {ExitCode} from '../errors.js'

export interface ConfigInput {
  flags: BackendFlags & {json?: boolean}
  env: NodeJS.ProcessEnv
  write: (text: string) => void
}

/** The effective agent settings as JSON: each with its value, where it came from, and what wpk8s does with it. */
export interface ConfigReport {
  valid: boolean
  settings: {name: string; value: string; source: string; from: string; applied: boolean; effect: string}[]
  /** Step options the effective settings take from steps, and those they drop. */
  stepOptions: {allowed: string[]; dropped: string[]}
  issues: CodedIssue[]
}

export function configReport(flags: BackendFlags, env: NodeJS.ProcessEnv): ConfigReport {
  const {config, issues, settings} = resolveBackendConfig(flags, env)
  const allowed = STEP_OPTION_GATES.filter((g) => config[g.key]).map((g) => g.option)
  return {
    valid: !issues.some((i) => i.severity === 'error'),
    settings: settings.map((s) => ({
      name: s.name,
      value: s.value,
      source: s.source.kind,
      from: s.source.where,
      applied: s.applied,
      effect: s.effect,
    })),
    stepOptions: {allowed, dropped: STEP_OPTION_GATES.map((g) => g.option).filter((o) => !allowed.includes(o))},
    issues,
  }
}

/** `wpk8s config`: prints the effective settings and returns the exit code (1 when a value is invalid, 2 when the agent env file cannot be read). */
export function runConfig({flags, env, write}: ConfigInput): number {
  const report = configReport(flags, env)
  write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatConfig(report))
  if (report.issues.some((i) => i.code === 'agent-env-unreadable')) return ExitCode.usage
  return report.valid ? ExitCode.ok : ExitCode.invalid
}

function sourceText(s: ConfigReport['settings'][number]): string {
  return s.source === 'default'
    ? 'default'
    : s.source === 'environment'
      ? 'environment'
      : s.source === 'flag'
        ? `flag ${s.from}`
        : `agent env ${s.from}`
}

/** One line per setting: variable, value, source; then what steps may set, then the problems. */
export function formatConfig(report: ConfigReport): string {
  const rows = report.settings.map((s) => [
    s.name,
    s.value === '' ? '(none)' : s.value,
    sourceText(s) + (s.applied ? '' : ' (ignored by wpk8s)'),
  ])
  const width = (i: number) => Math.max(...rows.map((r) => r[i].length), i === 0 ? 7 : 5)
  const line = (r: string[]) =>
    `${r[0].padEnd(width(0))}  ${oneLine(r[1]).padEnd(Math.min(width(1), 40))}  ${r[2]}`.trimEnd()
  const out = [line(['SETTING', 'VALUE', 'SOURCE']), ...rows.map(line), '']
  out.push(`step options taken from steps: ${report.stepOptions.allowed.join(', ') || 'none'}`)
  out.push(`step options dropped (warned at their line): ${report.stepOptions.dropped.join(', ') || 'none'}`)
  for (const issue of report.issues)
    out.push(`${issue.severity} ${issue.file}: ${issue.message}${issue.hint ? ` (${issue.hint})` : ''}`)
  return `${out.join('\n')}\n`
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ')
}
