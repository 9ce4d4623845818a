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

/** `backend_options.kubernetes`, validated and decoded as Woodpecker's agent decodes it (quoted numbers taken). */
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
  /** Services only: `false` leaves the workspace out of the service's pod. */
  workspaceVolume?: boolean
}

/** An `extra_hosts` entry, `hostname:ip`. */
export interface HostAlias {
  hostname: string
  ip: string
}

/** A `volumes` entry on the Kubernetes backend: an existing claim mounted at a path (`claim:/path`). */
export interface StepVolume {
  claim: string
  path: string
}

/** A `ports` entry: the number and protocol (TCP unless `/udp`). */
export interface Port {
  number: number
  protocol: 'TCP' | 'UDP'
}

export interface Step {
  name: string
  kind: 'step' | 'service'
  /** Where it stands in the file, for messages. */
  path: Path
  image: string
  /** `pull: true` → imagePullPolicy Always; otherwise left to Kubernetes, as the agent does. */
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
  ports: Port[]
  /** `extra_hosts`: host aliases of the pod, as the agent sets them. */
  extraHosts: HostAlias[]
  /** `dns`: nameservers of the pod's dnsConfig. */
  dns: string[]
  /** `dns_search`: search domains of the pod's dnsConfig. */
  dnsSearch: string[]
  /** `volumes`: existing claims mounted into the step. */
  volumes: StepVolume[]
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
