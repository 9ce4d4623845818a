import {Args, Flags} from '@oclif/core'
import {outputFor, prepareRun, printPlans} from '../app/exec.js'
import {BaseCommand} from '../base-command.js'
import {backendFlags} from '../flags.js'
import {withReports} from '../render/recorder.js'
import {checkoutArchive} from '../runner/checkout.js'
import {DEFAULT_LIMITS} from '../runner/run.js'
import {DEFAULT_CACHE_SIZE} from '../compile/plan.js'
import {DEFAULT_SERVICE_TIMEOUT_MS} from '../runner/services.js'

export default class Exec extends BaseCommand {
  static override summary = 'Run a pipeline on the cluster of your kubeconfig context, step by step as pods.'
  static override description = `Validates the pipeline, creates a workspace volume, ships your local checkout into it,
runs each step as a pod with live logs, then deletes everything it created.
Exit codes: 0 success, 1 a step failed, 2 invalid pipeline or usage, 3 cluster or infrastructure error.`
  static override examples = [
    '<%= config.bin %> exec',
    '<%= config.bin %> exec .woodpecker.yml --no-storage-rwx',
    '<%= config.bin %> exec --dry-run --output json',
  ]
  static override args = {
    target: Args.string({description: 'pipeline file (default: discovered like Woodpecker)', required: false}),
  }
  static override flags = {
    ...backendFlags,
    context: Flags.string({summary: 'Kubeconfig context to use (default: the current one).'}),
    kubeconfig: Flags.string({summary: 'Kubeconfig file (default: KUBECONFIG, else ~/.kube/config).'}),
    'use-context-namespace': Flags.boolean({
      summary:
        "Run in the kubeconfig context's namespace when neither --namespace nor WOODPECKER_BACKEND_K8S_NAMESPACE names one (default: woodpecker).",
    }),
    platform: Flags.string({
      summary: "Platform of the nodes to run on, such as linux/arm64 (default: labels.platform, else the nodes').",
    }),
    timeout: Flags.integer({
      summary: 'Give up on the run after this many seconds.',
      default: DEFAULT_LIMITS.timeoutMs / 1000,
      min: 1,
    }),
    'start-timeout': Flags.integer({
      summary: 'Give up on a pod that has not started after this many seconds (image pull included).',
      default: DEFAULT_LIMITS.startTimeoutMs / 1000,
      min: 1,
    }),
    'bind-timeout': Flags.integer({
      summary: 'Give up on a workspace volume that is not bound after this many seconds.',
      default: DEFAULT_LIMITS.bindTimeoutMs / 1000,
      min: 1,
    }),
    'dry-run': Flags.boolean({summary: 'Print the objects a run would create, without touching the cluster.'}),
    output: Flags.string({summary: 'Format of --dry-run output.', options: ['yaml', 'json'], default: 'yaml'}),
    json: Flags.boolean({summary: 'Print one JSON event per line instead of human output.'}),
    report: Flags.string({
      summary: "Also write the run as one self-contained HTML file: summary, timeline, each step's log.",
      relationships: [{type: 'none', flags: ['dry-run']}],
    }),
    junit: Flags.string({
      summary: 'Also write the run as JUnit XML: a test suite per workflow, a test case per step.',
      relationships: [{type: 'none', flags: ['dry-run']}],
    }),
    env: Flags.string({summary: 'Extra variable for every step, KEY=VALUE (repeatable).', multiple: true}),
    event: Flags.string({summary: 'Pipeline event (default push).'}),
    branch: Flags.string({summary: "Branch name (default: the checkout's)."}),
    'helper-image': Flags.string({
      summary:
        'Image with sh, head, tar and gzip used to copy the checkout; with busybox httpd the copy is an upload through the pod proxy, else it goes through exec (default busybox:1.35).',
    }),
    secret: Flags.string({summary: 'A secret for `from_secret`, name=value (repeatable).', multiple: true}),
    'secrets-file': Flags.string({summary: 'Secrets for `from_secret` from a YAML map or a dotenv file.'}),
    step: Flags.string({
      summary: 'Run only this step and the steps it depends on (repeatable); with --reuse, only this step.',
      multiple: true,
    }),
    keep: Flags.boolean({
      summary:
        "Keep the workspace volume (and the run's Secret) after the run, for --reuse and wpk8s shell; wpk8s runs lists kept workspaces, wpk8s clean --kept deletes them.",
      relationships: [{type: 'none', flags: ['dry-run']}],
    }),
    watch: Flags.boolean({
      summary:
        'Run, keep the workspace, then on every change of the checkout ship the change and re-run the steps whose when.path matches (every step when none has one); Ctrl-C ends it and deletes the workspace.',
      relationships: [{type: 'none', flags: ['dry-run', 'keep', 'reuse']}],
    }),
    reuse: Flags.string({
      summary:
        "Run on the kept workspace of this run (a run id, or last): --step runs just the named steps, their dependencies' outputs being there already.",
      relationships: [{type: 'none', flags: ['dry-run', 'keep']}],
    }),
    parallel: Flags.integer({
      summary: 'Run at most this many steps at once (default: as many as the dependencies allow).',
      min: 1,
    }),
    tag: Flags.string({summary: 'Run as a tag event for this tag (sets CI_COMMIT_TAG, ref refs/tags/TAG, event tag).'}),
    'default-branch': Flags.string({
      summary:
        "The repository's default branch, CI_REPO_DEFAULT_BRANCH (default: origin's HEAD, else init.defaultBranch, else main).",
    }),
    'pull-request': Flags.integer({
      summary:
        'Pull request number for --event pull_request (default 1): ref refs/pull/N/head, CI_COMMIT_PULL_REQUEST.',
      min: 1,
    }),
    'deploy-to': Flags.string({summary: 'Deployment target for --event deployment (CI_PIPELINE_DEPLOY_TARGET).'}),
    'pipeline-number': Flags.integer({summary: 'CI_PIPELINE_NUMBER (default 0, as woodpecker-cli exec).', min: 0}),
    'service-timeout': Flags.integer({
      summary:
        'Fail the run when a service (or detached step) with ports is not ready this many seconds after its container started.',
      default: DEFAULT_SERVICE_TIMEOUT_MS / 1000,
      min: 1,
    }),
    'service-probe': Flags.string({
      summary:
        'How to tell a service is ready instead of its TCP ports, NAME=tcp:PORT, NAME=http:PORT/PATH, NAME=exec:COMMAND or NAME=none (repeatable).',
      multiple: true,
    }),
    'port-forward': Flags.string({
      summary:
        'Forward a port of a service to this machine for the run, SERVICE:PORT[:LOCAL] (LOCAL 0: any free port; repeatable).',
      multiple: true,
    }),
    'cache-size': Flags.string({
      summary: `Size of a cache volume a run creates for a claim named in volumes that does not exist (default ${DEFAULT_CACHE_SIZE}).`,
    }),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Exec)
    const run = prepareRun(args.target, flags)
    if (flags['dry-run']) {
      const planned = flags['use-context-namespace']
        ? (await import('../runner/exec-on-cluster.js')).withContextNamespace(run, flags)
        : run
      return printPlans(planned, flags.platform, flags.output, flags.timeout, flags)
    }
    const {runOnCluster} = await import('../runner/exec-on-cluster.js')
    const renderer = await withReports({html: flags.report, junit: flags.junit}, () =>
      outputFor(flags.json, run.workflows.length),
    )
    const exitCode = await runOnCluster({
      run,
      flags,
      emit: renderer.emit,
      checkout: () => checkoutArchive(run.metadata.root),
    }).catch(async (error: unknown) => {
      // The report and JUnit files are written for a run that errors too; the error still decides the exit code.
      await renderer.fail(error)
      throw error
    })
    await renderer.close()
    this.exit(exitCode)
  }
}
