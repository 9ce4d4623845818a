import type {Step, Workflow} from '../pipeline/model.js'
import {pipelineEnvironment, runtimeVariables} from '../pipeline/ci-variables.js'
import type {RunMetadata} from '../pipeline/metadata.js'

export interface StepContext {
  workflow: Workflow
  metadata: RunMetadata
  arch: string
  /** The workflow's 1-based number in the pipeline (files in order, times matrix rows). */
  workflowNumber?: number
  workdir: string
  pipelineStatus: 'success' | 'failure'
  extraEnv: Record<string, string>
}

/** Woodpecker's step types, as `CI_STEP_TYPE` names them. */
export function stepType(step: Step): string {
  if (step.kind === 'service') return 'service'
  return step.commands.length === 0 && !step.entrypoint ? 'plugin' : 'commands'
}

/** The `CI_*` variables a step sees: the pipeline's metadata (empty strings left out) and the running step's own. */
export function ciVariables(step: Step, ctx: StepContext): Record<string, string> {
  const {metadata: m, workflow} = ctx
  const workspace = `${workflow.workspace.base}/${workflow.workspace.path}`.replace(/\/+$/, '')
  return {
    ...pipelineEnvironment(m, {name: workflow.name, number: ctx.workflowNumber ?? 1}),
    ...runtimeVariables({name: step.name, type: stepType(step)}, workspace, `linux/${ctx.arch}`, m.started),
    CI_PIPELINE_STATUS: ctx.pipelineStatus,
  }
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
