import {Flags} from '@oclif/core'
import {BaseCommand} from '../base-command.js'
import {ENV, resolveBackendConfig} from '../config.js'
import {InvalidPipelineError} from '../errors.js'
import {formatIssueReport, issueReport} from '../render/issues.js'

export default class Clean extends BaseCommand {
  static override summary = 'Delete what earlier runs left behind (runs killed with SIGKILL, lost connections).'
  static override description = `Finds every pod, volume claim and Secret labelled app.kubernetes.io/managed-by=wpk8s in the
namespace and deletes them. Exit codes: 0 done, 2 usage error, 3 cluster error.`
  static override examples = ['<%= config.bin %> clean --dry-run', '<%= config.bin %> clean --older-than 2h']
  static override flags = {
    namespace: Flags.string({char: 'n', summary: `Namespace to clean (env ${ENV.namespace}, default woodpecker).`}),
    'older-than': Flags.string({summary: 'Only objects older than this, such as 30m, 2h or 1d.'}),
    'dry-run': Flags.boolean({summary: 'List what would be deleted, delete nothing.'}),
    context: Flags.string({summary: 'Kubeconfig context to use.'}),
    kubeconfig: Flags.string({summary: 'Kubeconfig file.'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Clean)
    const {runClean} = await import('../app/clean.js')
    const {config, issues: all} = resolveBackendConfig({namespace: flags.namespace}, process.env)
    const issues = all.filter((i) => i.file === '--namespace' || i.file === ENV.namespace)
    if (issues.length > 0) throw new InvalidPipelineError(formatIssueReport(issueReport([], issues, false), false))
    const namespace = config.namespace
    const lines = await runClean({namespace, olderThan: flags['older-than'], dryRun: flags['dry-run'], context: flags.context, kubeconfig: flags.kubeconfig})
    process.stdout.write(`${lines.join('\n')}\n`)
  }
}
