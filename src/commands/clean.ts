import {Flags} from '@oclif/core'
import {BaseCommand} from '../base-command.js'
import {ENV, resolveBackendConfig} from '../config.js'
import {InvalidPipelineError} from '../errors.js'
import {formatIssueReport, issueReport} from '../render/issues.js'

export default class Clean extends BaseCommand {
  static override summary = 'Delete what earlier runs left behind (runs killed with SIGKILL, lost connections).'
  static override description = `Finds every pod, volume claim, Secret and heartbeat Lease labelled app.kubernetes.io/managed-by=wpk8s
in the namespace and deletes those of runs that are over. A run in progress renews its heartbeat every
5 s and is left alone (unless --all); a run without a heartbeat is left alone until it is an hour old.
Cache volumes (wpk8s cache ls) belong to no run and are left alone unless --caches; kept workspaces
(exec --keep, wpk8s runs) unless --kept.
Exit codes: 0 done, 2 usage error, 3 cluster error.`
  static override examples = [
    '<%= config.bin %> clean --dry-run',
    '<%= config.bin %> clean --older-than 2h',
    '<%= config.bin %> clean --all',
  ]
  static override flags = {
    namespace: Flags.string({char: 'n', summary: `Namespace to clean (env ${ENV.namespace}, default woodpecker).`}),
    'agent-env': Flags.string({
      summary:
        "An agent's env file (KEY=VALUE lines) to take the namespace from; the environment and --namespace win over it.",
    }),
    'older-than': Flags.string({summary: 'Only objects older than this, such as 30m, 2h or 1d.'}),
    'stale-after': Flags.string({
      summary:
        "A run whose heartbeat is older than this is over, such as 30s or 5m (default: the heartbeat's own 60 s).",
    }),
    all: Flags.boolean({summary: 'Delete runs in progress too (their heartbeat is ignored).'}),
    caches: Flags.boolean({
      summary: 'Delete cache volumes too (see wpk8s cache ls); with --older-than, those no run mounted for that long.',
    }),
    kept: Flags.boolean({
      summary:
        'Delete kept workspaces too (exec --keep, see wpk8s runs); with --older-than, those no run used for that long.',
    }),
    run: Flags.string({
      summary: 'With --kept: only the kept workspace of this run (repeatable).',
      multiple: true,
      dependsOn: ['kept'],
    }),
    'dry-run': Flags.boolean({summary: 'List what would be deleted, delete nothing.'}),
    context: Flags.string({summary: 'Kubeconfig context to use.'}),
    kubeconfig: Flags.string({summary: 'Kubeconfig file.'}),
    'use-context-namespace': Flags.boolean({
      summary: `Clean the kubeconfig context's namespace when neither --namespace nor ${ENV.namespace} names one.`,
    }),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Clean)
    const {runClean} = await import('../app/clean.js')
    const {config, issues: all} = resolveBackendConfig(
      {namespace: flags.namespace, 'agent-env': flags['agent-env']},
      process.env,
    )
    const issues = all.filter(
      (i) =>
        i.severity === 'error' &&
        (i.file === '--namespace' ||
          i.file === ENV.namespace ||
          (flags['agent-env'] !== undefined && i.file.startsWith(flags['agent-env']))),
    )
    if (issues.length > 0) throw new InvalidPipelineError(formatIssueReport(issueReport([], issues, false), false))
    const namespace = config.namespace
    const {withSpinner} = await import('../render/spinner.js')
    const lines = await withSpinner(`looking for what earlier runs left in namespace ${namespace}`, () =>
      runClean({
        namespace,
        olderThan: flags['older-than'],
        dryRun: flags['dry-run'],
        staleAfter: flags['stale-after'],
        all: flags.all,
        caches: flags.caches,
        kept: flags.kept,
        runs: flags.run,
        context: flags.context,
        kubeconfig: flags.kubeconfig,
        useContextNamespace:
          flags['use-context-namespace'] && flags.namespace === undefined && !process.env[ENV.namespace],
      }),
    )
    process.stdout.write(`${lines.join('\n')}\n`)
  }
}
