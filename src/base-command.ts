import {Command, Errors} from '@oclif/core'
import {ExitCode, failureReport, WpkError} from './errors.js'

/** Turns every failure into one clear line on stderr and its exit code; never a stack trace (unless DEBUG). */
export abstract class BaseCommand extends Command {
  protected override async catch(error: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    if (error instanceof Errors.ExitError) throw error
    if (!(error instanceof WpkError) && error.oclif?.exit !== undefined) {
      // oclif's own flag and argument errors: usage errors.
      process.stderr.write(`wpk8s: ${error.message.split('\n')[0]}\n  see: wpk8s ${this.id ?? ''} --help\n`)
      return this.exit(ExitCode.usage)
    }
    const {text, exitCode} = failureReport(error)
    process.stderr.write(text)
    return this.exit(exitCode)
  }
}
