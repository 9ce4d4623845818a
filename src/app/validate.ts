import {ExitCode} from '../errors.js'
import {formatIssueReport, issueReport} from '../render/issues.js'
import type {BackendFlags} from '../config.js'
import {validateTarget} from '../validate/files.js'

export interface ValidateInput {
  target?: string
  flags: BackendFlags & {json?: boolean; strict?: boolean}
}

/** `wpk8s validate`: prints the report and returns the exit code. Shared by the oclif command and the fast path. */
export function runValidate({target, flags}: ValidateInput): number {
  const {files, issues} = validateTarget(target, process.cwd(), flags, process.env)
  const report = issueReport(files, issues, Boolean(flags.strict))
  const out = flags.json
    ? JSON.stringify(report, null, 2)
    : formatIssueReport(report, Boolean(process.stdout.isTTY) && !process.env.NO_COLOR)
  process.stdout.write(`${out}\n`)
  return report.valid ? ExitCode.ok : ExitCode.invalid
}
