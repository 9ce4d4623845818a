import {formatPath, type Path, type SourceFile} from '../pipeline/source.js'

export type Severity = 'error' | 'warning'

/** One problem found in a pipeline or in the configuration, with where it is and what was expected. */
export interface Issue {
  severity: Severity
  file: string
  line: number
  col: number
  path: string
  message: string
  expected?: string
  found?: string
  hint?: string
  /** A stable name for the kind of warning, for tools reading `validate --json`. */
  code?: string
}

export interface IssueDetails {
  expected?: string
  found?: unknown
  hint?: string
  /** Point at the key rather than its value (unknown keys, missing fields). */
  atKey?: boolean
  code?: string
}

/** Collects issues for one source file; checks call `error`/`warn` with a path into the data. */
export class IssueCollector {
  readonly issues: Issue[] = []

  constructor(private readonly source: Pick<SourceFile, 'file' | 'map'>) {}

  error(path: Path, message: string, details: IssueDetails = {}): void {
    this.add('error', path, message, details)
  }

  warn(path: Path, message: string, details: IssueDetails = {}): void {
    this.add('warning', path, message, details)
  }

  private add(severity: Severity, path: Path, message: string, details: IssueDetails): void {
    const pos = details.atKey ? this.source.map.keyAt(path) : this.source.map.valueAt(path)
    const issue: Issue = {
      severity,
      file: this.source.file,
      line: pos.line,
      col: pos.col,
      path: formatPath(path),
      message,
    }
    if (details.expected !== undefined) issue.expected = details.expected
    if ('found' in details) issue.found = describeFound(details.found)
    if (details.hint !== undefined) issue.hint = details.hint
    if (details.code !== undefined) issue.code = details.code
    this.issues.push(issue)
  }
}

/** How a found value is shown: strings quoted, structures by kind, long text cut. */
export function describeFound(value: unknown): string {
  if (value === null || value === undefined) return 'nothing (null)'
  if (Array.isArray(value)) return `a list of ${value.length}`
  if (typeof value === 'object') return 'a map'
  const text = typeof value === 'string' ? JSON.stringify(value) : `${typeof value} ${String(value)}`
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}

export function hasErrors(issues: readonly Issue[]): boolean {
  return issues.some((i) => i.severity === 'error')
}

export function sortIssues(issues: Issue[]): Issue[] {
  return issues.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col)
}
