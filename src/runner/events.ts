/** What a run reports as it goes; renderers turn these into terminal output or JSON lines. */
export type StepStatus = 'success' | 'failure' | 'skipped'

/** Every event of a workflow carries its title when the pipeline has several workflows. */
export type RunEvent = WorkflowEvent | PipelineEvent

export type PipelineEvent =
  | {type: 'pipeline-start'; workflows: string[]}
  | {type: 'pipeline-end'; status: 'success' | 'failure' | 'error'; exitCode: number; durationMs: number; workflows: {name: string; status: WorkflowStatus; reason?: string}[]}

export type WorkflowStatus = 'success' | 'failure' | 'error' | 'skipped'

export type WorkflowEvent = {workflow?: string} & (
  | {type: 'run-start'; runId: string; namespace: string; workflow: string; server: string; steps: string[]; services: string[]; dependsOn: Record<string, string[]>}
  | {type: 'phase'; phase: 'workspace' | 'ship'; status: 'start' | 'done'; detail?: string}
  | {type: 'step-start'; step: string; pod: string; background?: boolean}
  | {type: 'log'; step: string; line: string}
  | {type: 'step-end'; step: string; status: StepStatus; exitCode?: number; durationMs: number; reason?: string; containerMs?: number}
  | {type: 'cleanup'; status: 'start' | 'done'; deleted?: number; left?: string[]}
  | {type: 'run-end'; status: 'success' | 'failure' | 'error'; exitCode: number; durationMs: number; error?: string; hint?: string}
)

export type Emit = (event: RunEvent) => void

export interface StepResult {
  name: string
  status: StepStatus
  exitCode?: number
  durationMs: number
  reason?: string
  /** The container's own run time from its status timestamps (whole seconds as Kubernetes keeps them). */
  containerMs?: number
}
