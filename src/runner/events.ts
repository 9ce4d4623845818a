/** What a run reports as it goes; renderers turn these into terminal output or JSON lines. */
export type StepStatus = 'success' | 'failure' | 'skipped'

/** Every event of a workflow carries its title when the pipeline has several workflows. */
export type RunEvent = WorkflowEvent | PipelineEvent

export type PipelineEvent =
  | {type: 'pipeline-start'; workflows: string[]}
  | {
      type: 'pipeline-end'
      status: 'success' | 'failure' | 'error'
      exitCode: number
      durationMs: number
      workflows: {name: string; status: WorkflowStatus; reason?: string}[]
    }

export type WorkflowStatus = 'success' | 'failure' | 'error' | 'skipped'

export type WorkflowEvent = {workflow?: string} & (
  | {
      type: 'run-start'
      runId: string
      namespace: string
      workflow: string
      server: string
      steps: string[]
      services: string[]
      dependsOn: Record<string, string[]>
      /** Its `failure: ignore` steps (a failure of theirs does not fail the run). */ ignoreFailure?: string[]
    }
  | {type: 'phase'; phase: 'workspace' | 'ship'; status: 'start' | 'done'; detail?: string}
  /** While a large checkout ships (a few times a second): bytes sent so far of the total, and the recent rate. */
  | {type: 'progress'; phase: 'ship'; sent: number; total: number; bytesPerSecond: number}
  /** A step's turn came: its pod is being created (or, created ahead, released) and then scheduled, its image pulled; `step-start` follows once its container runs. */
  | {type: 'step-starting'; step: string; pod: string}
  | {type: 'step-start'; step: string; pod: string; background?: boolean}
  /** A service or detached step with a readiness check (its TCP ports, or --service-probe) is ready: `durationMs` after its pod was created. */
  | {type: 'service-ready'; step: string; durationMs: number; probe: string}
  /** `--port-forward`: a port of a service reachable on this machine until the run ends; with `error`, a connection through it that failed. */
  | {type: 'port-forward'; step: string; port: number; address: string; url: string; error?: string}
  /** A claim named in `volumes` that wpk8s keeps as a cache: created by this run (kept after it), or found from an earlier one. */
  | {type: 'cache'; claim: string; status: 'created' | 'found'; size?: string}
  | {type: 'log'; step: string; line: string}
  | {
      type: 'step-end'
      step: string
      status: StepStatus
      exitCode?: number
      durationMs: number
      reason?: string
      containerMs?: number
    }
  /**
   * After a step or service ended (or the run stopped it), its pod's phases as the cluster recorded them, in
   * this machine's clock (ISO times, whole seconds but for events): created (`createdAt`), released by
   * the runner (`releasedAt`, a pod created ahead), scheduled, image pulling/pulled (from its events,
   * when they may be read), container started and finished; the node and the step container's resources.
   */
  | {
      type: 'step-phases'
      step: string
      pod: string
      node?: string
      createdAt?: string
      releasedAt?: string
      scheduledAt?: string
      pullingAt?: string
      pulledAt?: string
      startedAt?: string
      finishedAt?: string
      resources?: {requests?: Record<string, string>; limits?: Record<string, string>}
    }
  | {type: 'cleanup'; status: 'start' | 'done'; deleted?: number; left?: string[]}
  | {
      type: 'run-end'
      status: 'success' | 'failure' | 'error'
      exitCode: number
      durationMs: number
      error?: string
      hint?: string
    }
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
