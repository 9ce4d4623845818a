import {Flags} from '@oclif/core'
import {runConfig} from '../app/config.js'
import {BaseCommand} from '../base-command.js'
import {backendFlags} from '../flags.js'

export default class Config extends BaseCommand {
  static override summary = 'Print the effective Kubernetes agent settings, each with where it came from.'
  static override description = `Resolves every WOODPECKER_BACKEND_K8S_* setting of the Woodpecker agent (v3.17/v3.18) as exec and
validate use it: a flag beats the environment, which beats --agent-env FILE, which beats Woodpecker's
default. Shows which step options the settings take from steps and which they drop.
Exit codes: 0 valid, 1 an invalid value, 2 usage error.`
  static override examples = [
    '<%= config.bin %> config',
    '<%= config.bin %> config --agent-env /etc/woodpecker/agent.env',
    '<%= config.bin %> config --allow-from-step all --json',
  ]
  static override flags = {
    json: Flags.boolean({summary: 'Print the settings as JSON.'}),
    ...backendFlags,
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Config)
    const exitCode = runConfig({flags, env: process.env, write: (text) => process.stdout.write(text)})
    if (exitCode !== 0) this.exit(exitCode)
  }
}
