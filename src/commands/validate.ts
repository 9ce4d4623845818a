import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../base-command.js'
import {runValidate} from '../app/validate.js'
import {backendFlags} from '../flags.js'

export default class Validate extends BaseCommand {
  static override summary = 'Check a pipeline, above all its backend_options.kubernetes, without touching a cluster.'
  static override description = `Reads FILE, every workflow of a folder, or the pipeline found like Woodpecker does
(.woodpecker/*.yaml, .woodpecker.yaml, .woodpecker.yml), and reports each problem with its file, line,
column and path. The backend configuration from flags and WOODPECKER_BACKEND_K8S_* is checked too.
Exit codes: 0 valid (warnings allowed), 1 invalid, 2 usage error.`
  static override examples = [
    '<%= config.bin %> validate',
    '<%= config.bin %> validate .woodpecker.yml --json',
    '<%= config.bin %> validate .woodpecker/ --strict',
  ]
  static override args = {target: Args.string({description: 'pipeline file or folder of workflows', required: false})}
  static override flags = {
    json: Flags.boolean({summary: 'Print the result as JSON.'}),
    strict: Flags.boolean({summary: 'Treat warnings as errors.'}),
    ...backendFlags,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Validate)
    const exitCode = runValidate({target: args.target, flags})
    if (exitCode !== 0) this.exit(exitCode)
  }
}
