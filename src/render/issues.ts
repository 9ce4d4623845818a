import {Chalk} from 'chalk'
import type {Issue} from '../validate/issue.js'

export interface IssueReport {
  valid: boolean
  files: string[]
  errors: number
  warnings: number
  issues: Issue[]
}

export function issueReport(files: string[], issues: Issue[], strict: boolean): IssueReport {
  const errors = issues.filter((i) => i.severity === 'error').length
  const warnings = issues.length - errors
  return {valid: errors === 0 && (!strict || warnings === 0), files, errors, warnings, issues}
}

/** Human output: one block per issue (`file:line:col path: message`, then expected/found/hint), then a total. */
export function formatIssueReport(report: IssueReport, color: boolean): string {
  const c = new Chalk({level: color ? 1 : 0})
  const lines: string[] = []
  for (const issue of report.issues) {
    const mark = issue.severity === 'error' ? c.red('error  ') : c.yellow('warning')
    const where = issue.line > 0 ? `${issue.file}:${issue.line}:${issue.col}` : `${issue.file}:`
    const path = issue.path && issue.path !== issue.file ? `${c.bold(issue.path)}: ` : ''
    lines.push(`${mark} ${c.cyan(where)} ${path}${issue.message}`)
    if (issue.expected !== undefined) lines.push(`          expected: ${issue.expected}`)
    if (issue.found !== undefined) lines.push(`          found:    ${issue.found}`)
    if (issue.hint !== undefined) lines.push(`          ${c.dim('hint:')} ${issue.hint}`)
  }
  lines.push(summaryLine(report, c))
  return lines.join('\n')
}

function summaryLine(report: IssueReport, c: InstanceType<typeof Chalk>): string {
  const files = report.files.length === 1 ? report.files[0] : `${report.files.length} files`
  const counts = `${plural(report.errors, 'error')}, ${plural(report.warnings, 'warning')}`
  return report.valid ? c.green(`✔ ${files}: valid (${counts})`) : c.red(`✖ ${files}: invalid (${counts})`)
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}
