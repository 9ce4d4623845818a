import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../base-command.js'
import {ENV, resolveBackendConfig} from '../config.js'

export default class Shell extends BaseCommand {
  static override summary = 'Run a command, or open a shell, in a pod like a step of a kept run, on its workspace.'
  static override description = `Starts a pod like STEP's of the kept run RUN (wpk8s exec --keep; a run id or last): the same image,
environment (secrets through the kept Secret), resources, node selector, service account and working
directory, the workspace mounted. With a command after --, runs it (exec form: use sh -c for shell
syntax), prints its output and exits with its exit code; without, opens an interactive shell (/bin/sh)
on your terminal (Ctrl-D ends it). The pod is deleted after.
Exit codes: the command's; 2 usage error, 3 cluster error.`
  static override examples = [
    '<%= config.bin %> shell last build',
    "<%= config.bin %> shell k3x9qa test -- sh -c 'ls -la && go test ./pkg/...'",
  ]
  static override strict = false
  static override args = {
    run: Args.string({description: 'kept run id (wpk8s runs), or last', required: true}),
    step: Args.string({description: 'step whose pod to copy', required: true}),
  }
  static override flags = {
    namespace: Flags.string({char: 'n', summary: `Namespace (env ${ENV.namespace}, default woodpecker).`}),
    context: Flags.string({summary: 'Kubeconfig context to use.'}),
    kubeconfig: Flags.string({summary: 'Kubeconfig file.'}),
    'use-context-namespace': Flags.boolean({
      summary: `The kubeconfig context's namespace when neither --namespace nor ${ENV.namespace} names one.`,
    }),
    'start-timeout': Flags.integer({
      summary: 'Give up on a pod that has not started after this many seconds.',
      default: 300,
      min: 1,
    }),
    timeout: Flags.integer({summary: 'The pod ends by itself after this many seconds.', default: 3600, min: 1}),
  }

  async run(): Promise<void> {
    const {args, argv, flags} = await this.parse(Shell)
    const {runShell} = await import('../app/shell.js')
    const {config} = resolveBackendConfig({namespace: flags.namespace}, process.env)
    const command = (argv as string[]).slice(2)
    const exitCode = await runShell({
      namespace: config.namespace,
      run: args.run,
      step: args.step,
      command,
      context: flags.context,
      kubeconfig: flags.kubeconfig,
      useContextNamespace:
        flags['use-context-namespace'] && flags.namespace === undefined && !process.env[ENV.namespace],
      startTimeoutSeconds: flags['start-timeout'],
      timeoutSeconds: flags.timeout,
    })
    this.exit(exitCode)
  }
}
