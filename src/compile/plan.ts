import type {V1PersistentVolumeClaim, V1Pod, V1Secret} from '@kubernetes/client-node'
import {UsageError} from '../errors.js'
import type {BackendConfig} from '../config.js'
import type {RunMetadata} from '../pipeline/metadata.js'
import type {Step, Workflow} from '../pipeline/model.js'
import {isLocal, type WhenContext, type WhenRule, whenRules} from '../pipeline/when.js'
import {pipelineEnvironment} from '../pipeline/ci-variables.js'
import type {StepContext} from './env.js'
import {LABELS, MANAGER, objectName, toLabelValue} from './names.js'
import {
  agentPodSpec,
  DEFAULT_HELPER_IMAGE,
  podMetadata,
  type PodNames,
  sorted,
  stepPod,
  WORKSPACE_VOLUME,
} from './pod.js'
import {runSecret, secretRefs} from './secrets.js'
import {HELPER_COMMAND, HELPER_CONTAINER, tokenHash, UNPACK_CGI_VAR, unpackCgi} from './ship.js'

export {DEFAULT_HELPER_IMAGE} from './pod.js'

export interface PlannedStep {
  /** Unique in the plan: a second step of the same name (list form) or a service named like a step gets a suffix. */
  name: string
  /** The name steps reach a service or detached step by, when it differs from `name`. */
  host?: string
  kind: Step['kind']
  failure: Step['failure']
  /** Steps (present in the plan) that must finish first. */
  dependsOn: string[]
  /** The `when` items with their static conditions decided; `status` is decided when the step is due. */
  rules: WhenRule[]
  /** Detached steps and services keep running in the background until the run ends. */
  background: boolean
  /** Set when the step is left out whatever its conditions say (`--step` chose others). */
  skip?: string
  /** A `from_secret` the step needs that was not given: the step fails if it becomes due. */
  missingSecret?: {secret: string; message: string}
  pod: V1Pod
}

/** Everything a run creates, as plain Kubernetes objects, in the order it creates them. */
export interface RunPlan {
  runId: string
  namespace: string
  workflow: string
  arch: string
  workspaceDir: string
  /** Why the whole workflow does not run (its own `when`), if it does not. */
  skipReason?: string
  /** Whether the local checkout is shipped into the workspace (not with `skip_clone: true`). */
  shipCheckout: boolean
  pvc: V1PersistentVolumeClaim
  /** Holds the `from_secret` values the steps use; absent when none does. */
  secret?: V1Secret
  helperPod: V1Pod
  /** The token of the helper's upload endpoint; absent when it has none. */
  shipToken?: string
  services: PlannedStep[]
  steps: PlannedStep[]
  /**
   * Cache claims: one per claim the steps' and services' `volumes` name. A run creates the ones that do
   * not exist (kept after the run, see README "Cache volumes") and mounts the others as they are.
   */
  caches?: V1PersistentVolumeClaim[]
  /**
   * `exec --keep`, or a run on a kept workspace (`--reuse`): the claim (and the Secret of the run that kept
   * it) outlive the run, relabelled as kept (see runner/keep.ts); `annotations` describe the run for
   * `wpk8s runs`, `--reuse` and `wpk8s shell`.
   */
  keep?: {runId: string; annotations: Record<string, string | null>}
  /** `exec --reuse`: the claim is a kept run's (`pvc` names it): neither created nor deleted by this run. */
  reusedClaim?: boolean
}

export interface PlanInput {
  workflow: Workflow
  config: BackendConfig
  metadata: RunMetadata
  runId: string
  arch: string
  matrix?: Record<string, string>
  helperImage?: string
  /** Authorizes the upload of the checkout to the helper (see ship.ts); without it the helper takes it through exec only. */
  shipToken?: string
  extraEnv?: Record<string, string>
  /** Secret values by name (`--secret`, `--secrets-file`). */
  secrets?: Record<string, string>
  /** The workflow's 1-based number in the pipeline, for `CI_WORKFLOW_NUMBER`. */
  workflowNumber?: number
  /** A kept workspace claim (and Secret) to plan the pods with instead of the run's own (`--reuse`, `wpk8s shell`). */
  existingClaim?: {claimName: string; secretName?: string}
}

export function workspaceDir(workflow: Workflow): string {
  return `${workflow.workspace.base}/${workflow.workspace.path}`.replace(/\/+$/, '')
}

/** The run plan of one workflow: pure, so `--dry-run` prints exactly what a run would create. */
export function planRun(input: PlanInput): RunPlan {
  const {workflow, config, runId} = input
  const claimName = input.existingClaim?.claimName ?? objectName(runId, 'workspace')
  const dir = workspaceDir(workflow)
  const secretValues = providedSecrets([...workflow.steps, ...workflow.services], input.secrets ?? {})
  const secretName =
    Object.keys(secretValues).length > 0 ? (input.existingClaim?.secretName ?? objectName(runId, 'secrets')) : undefined
  const uniqueName = uniqueNamer(workflow.steps)
  const plannedFor = (step: Step): PlannedStep => {
    const name = uniqueName(step)
    const names: PodNames = {
      name: objectName(runId, name),
      namespace: config.namespace,
      runId,
      claimName,
      ...(secretName ? {secretName} : {}),
      probeImage: input.helperImage ?? DEFAULT_HELPER_IMAGE,
    }
    const workdir = step.directory
      ? step.directory.startsWith('/')
        ? step.directory
        : `${dir}/${step.directory}`
      : dir
    const ctx: StepContext = {
      workflow,
      metadata: input.metadata,
      arch: input.arch,
      workflowNumber: input.workflowNumber,
      workdir,
      pipelineStatus: 'success',
      extraEnv: {...input.matrix, ...input.extraEnv},
    }
    const missing = missingSecret(step, input.secrets ?? {})
    return {
      name,
      ...(name !== step.name ? {host: step.name} : {}),
      kind: step.kind,
      failure: step.failure,
      dependsOn: [],
      rules: whenRules(step.when, whenContext(input)),
      background: step.kind === 'service' || step.detach,
      ...(missing ? {missingSecret: missing} : {}),
      // `local: false` keeps a step out of local runs (woodpecker-cli exec does the same).
      ...(isLocal(step.when) ? {} : {skip: 'when: local: false (not run locally)'}),
      pod: stepPod(step, names, config, ctx),
    }
  }
  const steps = withDependencies(workflow.steps, workflow.steps.map(plannedFor))
  const workflowRules = whenRules(workflow.when, {...whenContext(input), global: true})
  const skip =
    workflowRules.length > 0 && !workflowRules.some((r) => r.matches)
      ? `when: ${workflowRules.find((r) => !r.matches)!.reason}`
      : undefined
  return {
    runId,
    namespace: config.namespace,
    workflow: workflow.name,
    arch: input.arch,
    workspaceDir: dir,
    ...(skip ? {skipReason: skip} : {}),
    shipCheckout: !workflow.skipClone,
    pvc: workspacePvc(claimName, runId, config, workflow.name),
    ...(secretName ? {secret: runSecret(secretName, config.namespace, runId, secretValues)} : {}),
    helperPod: helperPod(
      runId,
      claimName,
      config,
      workflow,
      input.arch,
      input.helperImage ?? DEFAULT_HELPER_IMAGE,
      input.shipToken,
    ),
    ...(input.shipToken ? {shipToken: input.shipToken} : {}),
    services: workflow.services.map(plannedFor),
    steps,
    caches: [...new Set([...workflow.services, ...workflow.steps].flatMap((s) => s.volumes.map((v) => v.claim)))].map(
      (claim) => cacheClaim(claim, config),
    ),
  }
}

/** The size of a cache claim wpk8s creates (`--cache-size`). */
export const DEFAULT_CACHE_SIZE = '1Gi'

/**
 * A cache claim as a run creates it when missing: the workspace's storage class and access mode,
 * labelled as a wpk8s cache but with no run label, so that neither the run's cleanup nor `wpk8s clean`
 * (without `--caches`) deletes it.
 */
export function cacheClaim(name: string, config: BackendConfig, size = DEFAULT_CACHE_SIZE): V1PersistentVolumeClaim {
  const spec: V1PersistentVolumeClaim['spec'] = {
    accessModes: [config.storageRwx ? 'ReadWriteMany' : 'ReadWriteOnce'],
    resources: {requests: {storage: size}},
  }
  if (config.storageClass) spec.storageClassName = config.storageClass
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name,
      namespace: config.namespace,
      labels: sorted({[LABELS.managedBy]: MANAGER, [LABELS.role]: CACHE_ROLE}),
    },
    spec,
  }
}

/** The `wpk8s.dev/role` of cache claims. */
export const CACHE_ROLE = 'cache'
/** When a run last mounted a cache claim (RFC 3339), for `wpk8s cache ls`. */
export const CACHE_LAST_USED_ANNOTATION = 'wpk8s.dev/last-used'

/** The values given for the secrets the steps reference; those not given are reported per step. */
function providedSecrets(steps: Step[], provided: Record<string, string>): Record<string, string> {
  const values: Record<string, string> = {}
  for (const ref of steps.flatMap(secretRefs))
    if (provided[ref.secret] !== undefined) values[ref.secret] = provided[ref.secret]
  return values
}

function missingSecret(step: Step, provided: Record<string, string>): PlannedStep['missingSecret'] {
  const ref = secretRefs(step).find((r) => provided[r.secret] === undefined)
  return (
    ref && {
      secret: ref.secret,
      message: `${step.kind} ${step.name}: ${ref.variable} needs the secret \`${ref.secret}\`, which was not given`,
    }
  )
}

export function missingSecretHint(secret: string): string {
  return `pass --secret ${secret}=VALUE or put it in a --secrets-file`
}

/**
 * Stops a run before anything is created when a step or service that will run (as far as `when` is
 * known before the run) lacks a secret; the others fail only if they become due.
 */
export function requireSecrets(plan: RunPlan): void {
  if (plan.skipReason) return
  const willRun = (s: PlannedStep) =>
    !s.skip && (s.rules.length === 0 || s.rules.some((r) => r.matches && r.statuses.includes('success')))
  const blocking = [...plan.services, ...plan.steps].find((s) => s.missingSecret && willRun(s))
  if (blocking) throw new UsageError(blocking.missingSecret!.message, missingSecretHint(blocking.missingSecret!.secret))
}

/**
 * Woodpecker allows a service named like a step, and repeated names among list-form steps without
 * `depends_on`; the run needs one name per pod. Call it for the steps first, then the services.
 */
function uniqueNamer(steps: readonly Step[]): (step: Step) => string {
  const stepNames = new Set(steps.map((s) => s.name))
  const taken = new Set<string>()
  return (step) => {
    let name = step.kind === 'service' && stepNames.has(step.name) ? `${step.name} (service)` : step.name
    for (let i = 2; taken.has(name); i++) name = `${step.name} (${i})`
    taken.add(name)
    return name
  }
}

/**
 * Woodpecker's two modes: when any step has `depends_on`, a step waits for exactly what it names
 * (optional names that are absent are dropped); otherwise each step waits for the one before it.
 */
function withDependencies(steps: readonly Step[], planned: PlannedStep[]): PlannedStep[] {
  const dag = steps.some((s) => s.dependsOn !== undefined)
  const names = new Set(steps.map((s) => s.name))
  return planned.map((p, i) => ({
    ...p,
    dependsOn: dag
      ? (steps[i].dependsOn ?? []).map((d) => d.name).filter((n) => names.has(n))
      : i > 0
        ? [planned[i - 1].name]
        : [],
  }))
}

/** What `when` is decided against; `evaluate` sees the global variables and matrix, with the pipeline's metadata over them. */
function whenContext(input: PlanInput): WhenContext {
  const m = input.metadata
  const pipelineVars = pipelineEnvironment(m, {name: input.workflow.name, number: input.workflowNumber ?? 1})
  return {
    event: m.event,
    branch: pipelineVars.CI_COMMIT_BRANCH ?? '',
    ref: m.ref,
    tag: m.tag,
    repo: `${m.repoOwner}/${m.repoName}`,
    platform: `linux/${input.arch}`,
    instance: 'localhost',
    cron: '',
    matrix: input.matrix ?? {},
    changedFiles: m.changedFiles,
    commitMessage: m.message,
    vars: {...input.extraEnv, ...input.matrix, ...pipelineVars},
  }
}

function runLabels(runId: string, workflow: string, role: string): Record<string, string> {
  return sorted({
    [LABELS.managedBy]: MANAGER,
    [LABELS.run]: runId,
    [LABELS.workflow]: toLabelValue(workflow),
    [LABELS.role]: role,
  })
}

function workspacePvc(name: string, runId: string, config: BackendConfig, workflow: string): V1PersistentVolumeClaim {
  const spec: V1PersistentVolumeClaim['spec'] = {
    accessModes: [config.storageRwx ? 'ReadWriteMany' : 'ReadWriteOnce'],
    resources: {requests: {storage: config.volumeSize}},
  }
  if (config.storageClass) spec.storageClassName = config.storageClass
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {name, namespace: config.namespace, labels: runLabels(runId, workflow, 'workspace')},
    spec,
  }
}

/** A short-lived pod that mounts the workspace so the local checkout can be streamed into it. */
function helperPod(
  runId: string,
  claimName: string,
  config: BackendConfig,
  workflow: Workflow,
  arch: string,
  image: string,
  shipToken: string | undefined,
): V1Pod {
  const step = {name: 'ship', kubernetes: {}} as Step
  const metadata = podMetadata(
    step,
    {name: objectName(runId, 'ship'), namespace: config.namespace, runId, claimName},
    config,
    workflow.name,
  )
  metadata.labels = sorted({...metadata.labels, [LABELS.role]: 'ship'})
  const agentSpec = agentPodSpec(config)
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata,
    spec: {
      // Placed, pulled and prioritised like the steps, so it lands where they can mount the workspace.
      ...agentSpec,
      restartPolicy: 'Never',
      enableServiceLinks: false,
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 0,
      nodeSelector: sorted({'kubernetes.io/arch': arch, ...agentSpec.nodeSelector}),
      securityContext: {fsGroup: 1000},
      containers: [
        {
          name: HELPER_CONTAINER,
          image,
          imagePullPolicy: 'IfNotPresent',
          command: HELPER_COMMAND,
          ...(shipToken
            ? {env: [{name: UNPACK_CGI_VAR, value: unpackCgi(tokenHash(shipToken), workspaceDir(workflow))}]}
            : {}),
          volumeMounts: [{name: WORKSPACE_VOLUME, mountPath: workflow.workspace.base}],
        },
      ],
      volumes: [{name: WORKSPACE_VOLUME, persistentVolumeClaim: {claimName}}],
    },
  }
}

/**
 * Keeps the named steps and everything they depend on (`--step`); the others are shown as skipped.
 * With `dependencies: false` (`--step` on a kept workspace) only the named steps run: what they depend
 * on already left its outputs in the workspace.
 */
export function selectSteps(plan: RunPlan, names: string[], options: {dependencies?: boolean} = {}): RunPlan {
  const known = new Set(plan.steps.map((s) => s.name))
  const unknown = names.filter((n) => !known.has(n))
  if (unknown.length > 0)
    throw new UsageError(
      `--step ${unknown.join(', ')}: no such step in ${plan.workflow}`,
      `steps: ${[...known].join(', ')}`,
    )
  const keep = new Set<string>()
  const visit = (name: string) => {
    if (keep.has(name)) return
    keep.add(name)
    if (options.dependencies === false) return
    plan.steps.find((s) => s.name === name)?.dependsOn.forEach(visit)
  }
  names.forEach(visit)
  return {...plan, steps: plan.steps.map((s) => (keep.has(s.name) ? s : {...s, skip: 'not selected (--step)'}))}
}

/**
 * The plan on a kept run's workspace claim (`exec --reuse`): every pod and the helper mount `claim`
 * instead of the run's own, which is neither created nor deleted.
 */
export function onExistingClaim(plan: RunPlan, claim: string): RunPlan {
  const own = plan.pvc.metadata!.name!
  const remount = (pod: V1Pod): V1Pod => ({
    ...pod,
    spec: {
      ...pod.spec!,
      volumes: pod.spec!.volumes?.map((v) =>
        v.persistentVolumeClaim?.claimName === own
          ? {...v, persistentVolumeClaim: {...v.persistentVolumeClaim, claimName: claim}}
          : v,
      ),
    },
  })
  const restep = (s: PlannedStep): PlannedStep => ({...s, pod: remount(s.pod)})
  return {
    ...plan,
    reusedClaim: true,
    pvc: {...plan.pvc, metadata: {...plan.pvc.metadata, name: claim}},
    helperPod: remount(plan.helperPod),
    services: plan.services.map(restep),
    steps: plan.steps.map(restep),
  }
}
