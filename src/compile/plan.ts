import type {V1PersistentVolumeClaim, V1Pod} from '@kubernetes/client-node'
import type {BackendConfig} from '../config.js'
import type {RunMetadata} from '../pipeline/metadata.js'
import type {Step, Workflow} from '../pipeline/model.js'
import {LABELS, MANAGER, objectName, toLabelValue} from './names.js'
import {podMetadata, type PodNames, sorted, stepPod, WORKSPACE_VOLUME} from './pod.js'

export const DEFAULT_HELPER_IMAGE = 'docker.io/library/busybox:1.35'

export interface PlannedStep {
  name: string
  failure: Step['failure']
  pod: V1Pod
}

/** Everything a run creates, as plain Kubernetes objects, in the order it creates them. */
export interface RunPlan {
  runId: string
  namespace: string
  workflow: string
  arch: string
  workspaceDir: string
  /** Whether the local checkout is shipped into the workspace (not with `skip_clone: true`). */
  shipCheckout: boolean
  pvc: V1PersistentVolumeClaim
  helperPod: V1Pod
  steps: PlannedStep[]
}

export interface PlanInput {
  workflow: Workflow
  config: BackendConfig
  metadata: RunMetadata
  runId: string
  arch: string
  helperImage?: string
  extraEnv?: Record<string, string>
}

export function workspaceDir(workflow: Workflow): string {
  return `${workflow.workspace.base}/${workflow.workspace.path}`.replace(/\/+$/, '')
}

/** The run plan of one workflow: pure, so `--dry-run` prints exactly what a run would create. */
export function planRun(input: PlanInput): RunPlan {
  const {workflow, config, runId} = input
  const claimName = objectName(runId, 'workspace')
  const dir = workspaceDir(workflow)
  const steps = workflow.steps.map((step, i): PlannedStep => {
    const names: PodNames = {name: objectName(runId, step.name), namespace: config.namespace, runId, claimName}
    const workdir = step.directory ? (step.directory.startsWith('/') ? step.directory : `${dir}/${step.directory}`) : dir
    const ctx = {workflow, metadata: input.metadata, arch: input.arch, stepNumber: i + 1, workdir, pipelineStatus: 'success' as const, extraEnv: input.extraEnv ?? {}}
    return {name: step.name, failure: step.failure, pod: stepPod(step, names, config, ctx)}
  })
  return {
    runId,
    namespace: config.namespace,
    workflow: workflow.name,
    arch: input.arch,
    workspaceDir: dir,
    shipCheckout: !workflow.skipClone,
    pvc: workspacePvc(claimName, runId, config, workflow.name),
    helperPod: helperPod(runId, claimName, config, workflow, input.arch, input.helperImage ?? DEFAULT_HELPER_IMAGE),
    steps,
  }
}

function runLabels(runId: string, workflow: string, role: string): Record<string, string> {
  return sorted({[LABELS.managedBy]: MANAGER, [LABELS.run]: runId, [LABELS.workflow]: toLabelValue(workflow), [LABELS.role]: role})
}

function workspacePvc(name: string, runId: string, config: BackendConfig, workflow: string): V1PersistentVolumeClaim {
  const spec: V1PersistentVolumeClaim['spec'] = {
    accessModes: [config.storageRwx ? 'ReadWriteMany' : 'ReadWriteOnce'],
    resources: {requests: {storage: config.volumeSize}},
  }
  if (config.storageClass) spec.storageClassName = config.storageClass
  return {apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: {name, namespace: config.namespace, labels: runLabels(runId, workflow, 'workspace')}, spec}
}

/** A short-lived pod that mounts the workspace so the local checkout can be streamed into it. */
function helperPod(runId: string, claimName: string, config: BackendConfig, workflow: Workflow, arch: string, image: string): V1Pod {
  const step = {name: 'ship', kubernetes: {}} as Step
  const metadata = podMetadata(step, {name: objectName(runId, 'ship'), namespace: config.namespace, runId, claimName}, config, workflow.name)
  metadata.labels = sorted({...metadata.labels, [LABELS.role]: 'ship'})
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata,
    spec: {
      restartPolicy: 'Never',
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 0,
      nodeSelector: {'kubernetes.io/arch': arch},
      securityContext: {fsGroup: 1000},
      containers: [{
        name: 'ship',
        image,
        imagePullPolicy: 'IfNotPresent',
        command: ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'],
        volumeMounts: [{name: WORKSPACE_VOLUME, mountPath: workflow.workspace.base}],
      }],
      volumes: [{name: WORKSPACE_VOLUME, persistentVolumeClaim: {claimName}}],
    },
  }
}
