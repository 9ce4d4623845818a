import type {BackendConfig} from '../config.js'
import {KubeCluster, loadKubeConfig} from '../cluster/kube.js'
import {newRunId} from '../compile/names.js'
import {planRun} from '../compile/plan.js'
import {resolveArch} from '../compile/platform.js'
import type {RunMetadata} from '../pipeline/metadata.js'
import type {Workflow} from '../pipeline/model.js'
import type {Emit} from './events.js'
import {DEFAULT_LIMITS, runPlan} from './run.js'

export interface ExecRequest {
  workflow: Workflow
  config: BackendConfig
  metadata: RunMetadata
  extraEnv: Record<string, string>
  secrets: Record<string, string>
  flags: {context?: string; kubeconfig?: string; platform?: string; timeout: number; 'helper-image'?: string; parallel?: number}
  emit: Emit
  checkout: () => Promise<Buffer>
}

/** The part of exec that talks to a cluster; imported lazily so other commands never load the client. */
export async function runOnCluster(request: ExecRequest): Promise<number> {
  const {workflow, config, flags} = request
  const cluster = new KubeCluster(loadKubeConfig({context: flags.context, kubeconfig: flags.kubeconfig}))
  const needNodes = !flags.platform && !workflow.labels.platform
  const arch = resolveArch({flag: flags.platform, label: workflow.labels.platform, nodes: needNodes ? await cluster.nodeArchitectures() : undefined})
  const plan = planRun({workflow, config, metadata: request.metadata, runId: newRunId(), arch, extraEnv: request.extraEnv, secrets: request.secrets, helperImage: flags['helper-image']})
  const result = await runPlan(plan, cluster, request.emit, request.checkout, {...DEFAULT_LIMITS, timeoutMs: flags.timeout * 1000, parallel: flags.parallel ?? 0})
  return result.exitCode
}
