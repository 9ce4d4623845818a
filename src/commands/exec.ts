import {Args, Flags} from '@oclif/core'
import {stringify} from 'yaml'
import {BaseCommand} from '../base-command.js'
import {type BackendConfig, resolveBackendConfig} from '../config.js'
import {InvalidPipelineError, UsageError} from '../errors.js'
import {backendFlags} from '../flags.js'
import {newRunId} from '../compile/names.js'
import {planRun, type RunPlan} from '../compile/plan.js'
import {readMetadata, type RunMetadata} from '../pipeline/metadata.js'
import type {Workflow} from '../pipeline/model.js'
import {loadSecrets} from '../pipeline/secrets-file.js'
import {loadWorkflows} from '../pipeline/workflow.js'
import {formatIssueReport, issueReport} from '../render/issues.js'
import {chooseOutput, type Renderer} from '../render/choose.js'
import {jsonRenderer, plainRenderer} from '../render/run-output.js'
import {checkoutTar} from '../runner/checkout.js'
import {DEFAULT_LIMITS} from '../runner/run.js'
import {resolveArch} from '../compile/platform.js'

export default class Exec extends BaseCommand {
  static override summary = 'Run a pipeline on the cluster of your kubeconfig context, step by step as pods.'
  static override description = `Validates the pipeline, creates a workspace volume, ships your local checkout into it,
runs each step as a pod with live logs, then deletes everything it created.
Exit codes: 0 success, 1 a step failed, 2 invalid pipeline or usage, 3 cluster or infrastructure error.`
  static override examples = ['<%= config.bin %> exec', '<%= config.bin %> exec .woodpecker.yml --no-storage-rwx', '<%= config.bin %> exec --dry-run --output json']
  static override args = {target: Args.string({description: 'pipeline file (default: discovered like Woodpecker)', required: false})}
  static override flags = {
    ...backendFlags,
    context: Flags.string({summary: 'Kubeconfig context to use (default: the current one).'}),
    kubeconfig: Flags.string({summary: 'Kubeconfig file (default: KUBECONFIG, else ~/.kube/config).'}),
    platform: Flags.string({summary: 'Platform of the nodes to run on, such as linux/arm64 (default: labels.platform, else the nodes\').'}),
    timeout: Flags.integer({summary: 'Give up on the run after this many seconds.', default: DEFAULT_LIMITS.timeoutMs / 1000, min: 1}),
    'start-timeout': Flags.integer({summary: 'Give up on a pod that has not started after this many seconds (image pull included).', default: DEFAULT_LIMITS.startTimeoutMs / 1000, min: 1}),
    'bind-timeout': Flags.integer({summary: 'Give up on a workspace volume that is not bound after this many seconds.', default: DEFAULT_LIMITS.bindTimeoutMs / 1000, min: 1}),
    'dry-run': Flags.boolean({summary: 'Print the objects a run would create, without touching the cluster.'}),
    output: Flags.string({summary: 'Format of --dry-run output.', options: ['yaml', 'json'], default: 'yaml'}),
    json: Flags.boolean({summary: 'Print one JSON event per line instead of human output.'}),
    env: Flags.string({summary: 'Extra variable for every step, KEY=VALUE (repeatable).', multiple: true}),
    event: Flags.string({summary: 'Pipeline event (default push).'}),
    branch: Flags.string({summary: 'Branch name (default: the checkout\'s).'}),
    'helper-image': Flags.string({summary: 'Image with sh, head and tar used to copy the checkout (default busybox:1.35).'}),
    secret: Flags.string({summary: 'A secret for `from_secret`, name=value (repeatable).', multiple: true}),
    'secrets-file': Flags.string({summary: 'Secrets for `from_secret` from a YAML map or a dotenv file.'}),
    step: Flags.string({summary: 'Run only this step and the steps it depends on (repeatable).', multiple: true}),
    parallel: Flags.integer({summary: 'Run at most this many steps at once (default: as many as the dependencies allow).', min: 1}),
    tag: Flags.string({summary: 'Run as a tag event for this tag (sets CI_COMMIT_TAG, ref refs/tags/TAG, event tag).'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Exec)
    const {config, issues} = resolveBackendConfig(flags, process.env)
    if (issues.length > 0) throw new InvalidPipelineError(formatIssueReport(issueReport([], issues, false), false))
    const extraEnv = parseEnvFlags(flags.env ?? [])
    const metadata = readMetadata(process.cwd(), {event: flags.event, branch: flags.branch, tag: flags.tag}, new Date())
    const workflows = this.load(args.target, metadata, extraEnv)
    const secrets = loadSecrets(flags['secrets-file'], flags.secret ?? [])
    if (flags['dry-run']) return this.printPlans(workflows, config, metadata, extraEnv, secrets, flags)
    const {runOnCluster} = await import('../runner/exec-on-cluster.js')
    const renderer = await outputFor(flags.json, workflows.length)
    const exitCode = await runOnCluster({workflows, config, metadata, extraEnv, secrets, flags, emit: renderer.emit, checkout: () => checkoutTar(metadata.root)})
    await renderer.close()
    this.exit(exitCode)
  }

  private load(target: string | undefined, metadata: RunMetadata, extraEnv: Record<string, string>): Workflow[] {
    const {workflows, warnings} = loadWorkflows(target, process.cwd(), {...substitutionVars(metadata), ...extraEnv})
    for (const w of warnings) process.stderr.write(`warning ${w.file}:${w.line}:${w.col} ${w.path ? `${w.path}: ` : ''}${w.message}\n`)
    return workflows
  }

  private printPlans(workflows: Workflow[], config: BackendConfig, metadata: RunMetadata, extraEnv: Record<string, string>, secrets: Record<string, string>, flags: {platform?: string; output: string; 'helper-image'?: string}): void {
    const runId = newRunId()
    const objects = workflows.flatMap((workflow, i) => {
      const arch = resolveArch({flag: flags.platform, label: workflow.labels.platform, fallback: hostArch()})
      const id = workflows.length === 1 ? runId : `${runId}-${i + 1}`
      const plan: RunPlan = planRun({workflow, config, metadata, runId: id, arch, matrix: workflow.matrixRow, extraEnv, secrets, helperImage: flags['helper-image']})
      const secret = plan.secret && {...plan.secret, stringData: Object.fromEntries(Object.keys(plan.secret.stringData ?? {}).map((k) => [k, 'REDACTED']))}
      return [plan.pvc, ...(secret ? [secret] : []), ...plan.services.map((s) => s.pod), ...plan.steps.map((s) => s.pod)]
    })
    if (flags.output === 'json') process.stdout.write(`${JSON.stringify({apiVersion: 'v1', kind: 'List', items: objects}, null, 2)}\n`)
    else process.stdout.write(objects.map((o) => stringify(o, {lineWidth: 0})).join('---\n'))
  }
}

async function outputFor(json: boolean, workflows: number): Promise<Renderer> {
  const write = (text: string) => process.stdout.write(text)
  const kind = chooseOutput({json, isTTY: Boolean(process.stdout.isTTY), columns: process.stdout.columns ?? 0, env: process.env, workflows})
  if (kind === 'json') return jsonRenderer(write)
  if (kind === 'plain') return plainRenderer(write, Boolean(process.env.FORCE_COLOR) && process.env.FORCE_COLOR !== '0')
  return (await import('../render/tty.js')).ttyRenderer(write)
}

function hostArch(): string {
  return ({x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x'} as Record<string, string>)[process.arch] ?? process.arch
}

function parseEnvFlags(values: string[]): Record<string, string> {
  const env: Record<string, string> = {}
  for (const value of values) {
    const eq = value.indexOf('=')
    if (eq <= 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(value.slice(0, eq))) throw new UsageError(`--env ${value}: expected KEY=VALUE`)
    env[value.slice(0, eq)] = value.slice(eq + 1)
  }
  return env
}

/** Woodpecker substitutes its CI_* variables into the pipeline text; the same values from the local checkout. */
function substitutionVars(m: RunMetadata): Record<string, string> {
  return {
    CI_COMMIT_SHA: m.sha, CI_COMMIT_BRANCH: m.branch, CI_COMMIT_REF: m.ref, CI_COMMIT_MESSAGE: m.message,
    CI_COMMIT_AUTHOR: m.author, CI_REPO: `${m.repoOwner}/${m.repoName}`, CI_REPO_NAME: m.repoName, CI_REPO_OWNER: m.repoOwner, CI_PIPELINE_EVENT: m.event,
  }
}
