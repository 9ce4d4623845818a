import {Flags} from '@oclif/core'
import {BaseCommand} from '../base-command.js'
import {ENV, resolveBackendConfig} from '../config.js'

export default class Runs extends BaseCommand {
  static override summary = 'List kept workspaces (exec --keep): run id, age, size, pipeline, last result.'
  static override description = `Every workspace volume kept by \`wpk8s exec --keep\` in the namespace, the most recently used first.
Re-run on one with \`wpk8s exec --reuse RUN\`, open a shell with \`wpk8s shell RUN STEP\`, delete with \`wpk8s clean --kept\`.
Exit codes: 0 done, 2 usage error, 3 cluster error.`
  static override examples = ['<%= config.bin %> runs', '<%= config.bin %> runs --json']
  static override flags = {
    namespace: Flags.string({char: 'n', summary: `Namespace (env ${ENV.namespace}, default woodpecker).`}),
    json: Flags.boolean({summary: 'As JSON.'}),
    context: Flags.string({summary: 'Kubeconfig context to use.'}),
    kubeconfig: Flags.string({summary: 'Kubeconfig file.'}),
    'use-context-namespace': Flags.boolean({
      summary: `The kubeconfig context's namespace when neither --namespace nor ${ENV.namespace} names one.`,
    }),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Runs)
    const {runRuns} = await import('../app/runs.js')
    const {config} = resolveBackendConfig({namespace: flags.namespace}, process.env)
    process.stdout.write(
      await runRuns({
        namespace: config.namespace,
        json: flags.json,
        context: flags.context,
        kubeconfig: flags.kubeconfig,
        useContextNamespace:
          flags['use-context-namespace'] && flags.namespace === undefined && !process.env[ENV.namespace],
      }),
    )
  }
}
