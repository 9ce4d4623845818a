import {Args, Flags} from '@oclif/core'
import {colorWanted, PLAN_FORMATS, runPlanCommand} from '../app/plan.js'
import {BaseCommand} from '../base-command.js'
import {backendFlags} from '../flags.js'

export default class Plan extends BaseCommand {
  static override summary =
    'Show what exec would run, without a cluster: workflows, steps in the order they can run, and why a step will not run.'
  static override description = `Every workflow and matrix instance, its services and its steps in waves (a wave's steps can run
together), and for each step whether it runs for the given event, branch and tag and the checkout's
changed files, or why not (the \`when\` item and value that decided it). Decided by exec's own planning.
Formats: a tree (plain text when not on a terminal; NO_COLOR and FORCE_COLOR are followed), json,
mermaid, dot.
Exit codes: 0 valid, 1 invalid pipeline, 2 usage error.`
  static override examples = [
    '<%= config.bin %> plan',
    '<%= config.bin %> plan .woodpecker/ --event tag --tag v1.2.0',
    '<%= config.bin %> plan --event pull_request --format mermaid',
    '<%= config.bin %> plan --format dot | dot -Tsvg > plan.svg',
  ]

  static override args = {
    target: Args.string({
      description: 'pipeline file or folder of workflows (default: discovered like Woodpecker)',
      required: false,
    }),
  }
  static override flags = {
    format: Flags.string({char: 'f', summary: 'Output format.', options: [...PLAN_FORMATS], default: 'tree'}),
    event: Flags.string({summary: 'Pipeline event (default push, or tag with --tag).'}),
    branch: Flags.string({summary: "Branch name (default: the checkout's)."}),
    tag: Flags.string({summary: 'Plan a tag event for this tag (ref refs/tags/TAG).'}),
    'default-branch': Flags.string({
      summary:
        "The repository's default branch, CI_REPO_DEFAULT_BRANCH (default: origin's HEAD, else init.defaultBranch, else main).",
    }),
    'pull-request': Flags.integer({summary: 'Pull request number for --event pull_request (default 1).', min: 1}),
    'deploy-to': Flags.string({summary: 'Deployment target for --event deployment (CI_PIPELINE_DEPLOY_TARGET).'}),
    'pipeline-number': Flags.integer({summary: 'CI_PIPELINE_NUMBER (default 0).', min: 0}),
    env: Flags.string({
      summary: 'Extra variable for every step, KEY=VALUE (repeatable), as exec takes it.',
      multiple: true,
    }),
    platform: Flags.string({
      summary: "Platform to plan for, such as linux/arm64 (default: labels.platform, else this machine's).",
    }),
    step: Flags.string({
      summary: 'Only this step and the steps it depends on, as exec --step (repeatable).',
      multiple: true,
    }),
    secret: Flags.string({
      summary: 'A secret for `from_secret`, name=value (repeatable); without it, steps that need it are marked.',
      multiple: true,
    }),
    'secrets-file': Flags.string({summary: 'Secrets for `from_secret` from a YAML map or a dotenv file.'}),
    ...backendFlags,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Plan)
    const tty = Boolean(process.stdout.isTTY)
    const exitCode = await runPlanCommand(args.target, flags, {
      stdout: (text) => process.stdout.write(text),
      stderr: (text) => process.stderr.write(text),
      terminal: {
        color: colorWanted(tty, process.env),
        ...(tty && process.stdout.columns ? {width: process.stdout.columns} : {}),
      },
    })
    if (exitCode !== 0) this.exit(exitCode)
  }
}
