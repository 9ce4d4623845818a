/** Every failure the user can cause or meet maps to one class here, and each class to one exit code. */
export const ExitCode = {
  ok: 0,
  stepFailed: 1,
  invalid: 1,
  usage: 2,
  infrastructure: 3,
  interrupted: 130,
  terminated: 143,
} as const

export class WpkError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly hint?: string,
  ) {
    super(message)
    this.name = new.target.name
  }
}

/** Bad flags, unreadable or malformed input files. */
export class UsageError extends WpkError {
  constructor(message: string, hint?: string) {
    super(message, ExitCode.usage, hint)
  }
}

/** The pipeline parsed but breaks a rule; carries the formatted issues. */
export class InvalidPipelineError extends WpkError {
  constructor(message: string, exitCode: number = ExitCode.usage) {
    super(message, exitCode)
  }
}

/** The cluster could not do what a run needs: unreachable, forbidden, unschedulable, image pull, ... */
export class ClusterError extends WpkError {
  constructor(message: string, hint?: string) {
    super(message, ExitCode.infrastructure, hint)
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** The text and exit code for any failure: one clear line (and a hint), never a stack trace unless DEBUG. */
export function failureReport(error: unknown): {text: string; exitCode: number} {
  if (error instanceof WpkError) {
    return {text: `wpk8s: ${error.message}\n${error.hint ? `  hint: ${error.hint}\n` : ''}`, exitCode: error.exitCode}
  }
  const stack = process.env.DEBUG && error instanceof Error ? `${error.stack}\n` : ''
  return {text: `wpk8s: unexpected error: ${errorMessage(error)}\n${stack}`, exitCode: ExitCode.infrastructure}
}
