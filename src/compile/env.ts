import type {Step, Workflow} from '../pipeline/model.js'
import type {RunMetadata} from '../pipeline/metadata.js'

export interface StepContext {
  workflow: Workflow
  metadata: RunMetadata
  arch: string
  stepNumber: number
  workdir: string
  pipelineStatus: 'success' | 'failure'
  extraEnv: Record<string, string>
}

/** The `CI_*` variables Woodpecker injects, from the local checkout; empty values are left out. */
export function ciVariables(step: Step, ctx: StepContext): Record<string, string> {
  const {metadata: m, workflow} = ctx
  const vars: Record<string, string> = {
    CI: 'woodpecker',
    CI_WORKSPACE: `${workflow.workspace.base}/${workflow.workspace.path}`.replace(/\/+$/, ''),
    CI_REPO: `${m.repoOwner}/${m.repoName}`,
    CI_REPO_NAME: m.repoName,
    CI_REPO_OWNER: m.repoOwner,
    CI_REPO_URL: m.repoUrl,
    CI_COMMIT_SHA: m.sha,
    CI_COMMIT_REF: m.ref,
    CI_COMMIT_BRANCH: m.branch,
    CI_COMMIT_TAG: m.tag,
    CI_COMMIT_MESSAGE: m.message,
    CI_COMMIT_AUTHOR: m.author,
    CI_COMMIT_AUTHOR_EMAIL: m.authorEmail,
    CI_PIPELINE_EVENT: m.event,
    CI_PIPELINE_NUMBER: '1',
    CI_PIPELINE_STATUS: ctx.pipelineStatus,
    CI_PIPELINE_STARTED: String(m.started),
    CI_WORKFLOW_NAME: workflow.name,
    CI_WORKFLOW_NUMBER: '1',
    CI_STEP_NAME: step.name,
    CI_STEP_NUMBER: String(ctx.stepNumber),
    CI_STEP_STARTED: String(m.started),
    CI_SYSTEM_NAME: 'woodpecker',
    CI_SYSTEM_PLATFORM: `linux/${ctx.arch}`,
  }
  return Object.fromEntries(Object.entries(vars).filter(([, v]) => v !== ''))
}

/** `settings: {foo_bar: x}` → `PLUGIN_FOO_BAR=x`; lists of values are comma-joined, anything else is JSON. */
export function pluginVariables(settings: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [key, value] of Object.entries(settings ?? {})) {
    if (typeof value === 'object' && value !== null && 'from_secret' in value) continue
    out[`PLUGIN_${key.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`] = settingValue(value)
  }
  return out
}

function settingValue(value: unknown): string {
  if (value === null || value === undefined) return ''
  if (Array.isArray(value) && value.every((v) => typeof v !== 'object' || v === null)) return value.join(',')
  if (typeof value === 'object') return JSON.stringify(value)
  return String(value)
}
