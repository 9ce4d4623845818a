import {Command, Errors} from '@oclif/core'
import {ExitCode, failureReport, WpkError} from './errors.js'

/** Turns every failure into one clear line on stderr and its exit code; never a stack trace (unless DEBUG). */
export abstract class BaseCommand extends Command {
  protected override async catch(error: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    if (error instanceof Errors.ExitError) throw error
    if (!(error instanceof WpkError) && error.oclif?.exit !== undefined) {
      // oclif's own flag and argument errors: usage errors.
      process.stderr.write(`wpk8s: ${usageMessage(error.message)}\n  see: wpk8s ${this.id ?? ''} --help\n`)
      return this.exit(ExitCode.usage)
    }
    const {text, exitCode} = failureReport(error)
    process.stderr.write(text)
    return this.exit(exitCode)
  }
}

/** oclif's flag errors may start with a header line ("The following error occurred:"): keep what says what is wrong. */
export function usageMessage(message: string): string {
  const lines = message
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^The following errors? occurred:?$/i.test(l) && !/^See more help with/i.test(l))
  return lines.slice(0, 3).join('; ') || message.trim()
}
