import type {Path} from './source.js'

/** An environment value as written: plain text, or a reference to a secret by name. */
export type EnvValue = string | {fromSecret: string}

export interface Workspace {
  base: string
  path: string
}

/** A native Kubernetes Secret reference of `backend_options.kubernetes.secrets`. */
export interface NativeSecret {
  name: string
  key?: string
  target?: {env?: string; file?: string}
}

/** `backend_options.kubernetes`, validated; values stay as Kubernetes expects them. */
export interface KubernetesOptions {
  resources?: {requests?: Record<string, string>; limits?: Record<string, string>}
  serviceAccountName?: string
  runtimeClassName?: string
  nodeSelector?: Record<string, string>
  labels?: Record<string, string>
  annotations?: Record<string, string>
  tolerations?: Record<string, unknown>[]
  securityContext?: Record<string, unknown>
  affinity?: Record<string, unknown>
  secrets?: NativeSecret[]
  hostUsers?: boolean
}

export interface Step {
  name: string
  kind: 'step' | 'service'
  /** Where it stands in the file, for messages. */
  path: Path
  image: string
  pull: boolean
  commands: string[]
  entrypoint?: string[]
  environment: Record<string, EnvValue>
  settings?: Record<string, unknown>
  directory?: string
  when: unknown
  dependsOn?: {name: string; optional: boolean}[]
  detach: boolean
  failure: 'fail' | 'ignore'
  privileged: boolean
  ports: string[]
  kubernetes: KubernetesOptions
}

export interface Workflow {
  name: string
  /** The matrix combination this instance runs with (empty without a matrix). */
  matrixRow: Record<string, string>
  /** The name shown to users: the workflow's name, plus the matrix values. */
  title: string
  file: string
  steps: Step[]
  services: Step[]
  when: unknown
  dependsOn: string[]
  runsOn: ('success' | 'failure')[]
  matrix: unknown
  workspace: Workspace
  labels: Record<string, string>
  skipClone: boolean
}
