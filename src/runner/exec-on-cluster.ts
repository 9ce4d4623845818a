import {once} from 'node:events'
import type {BackendConfig} from '../config.js'
import {KubeCluster, loadKubeConfig} from '../cluster/kube.js'
import {newRunId} from '../compile/names.js'
import {planRun, selectSteps} from '../compile/plan.js'
import {resolveArch} from '../compile/platform.js'
import type {RunMetadata} from '../pipeline/metadata.js'
import type {Workflow} from '../pipeline/model.js'
import type {Emit} from './events.js'
import {Interrupt} from './interrupt.js'
import {DEFAULT_LIMITS} from './run.js'
import {runWorkflows} from './workflows.js'

export interface ExecRequest {
  workflows: Workflow[]
  config: BackendConfig
  metadata: RunMetadata
  extraEnv: Record<string, string>
  secrets: Record<string, string>
  flags: {context?: string; kubeconfig?: string; platform?: string; timeout: number; 'start-timeout': number; 'bind-timeout': number; 'helper-image'?: string; parallel?: number; step?: string[]}
  emit: Emit
  checkout: () => Promise<Buffer>
}

/** Log lines wait while stdout is backed up, so a fast log and a slow reader keep memory bounded. */
function stdoutReady(): Promise<void> | undefined {
  return process.stdout.writableNeedDrain ? once(process.stdout, 'drain').then(() => undefined) : undefined
}

/** The part of exec that talks to a cluster; imported lazily so other commands never load the client. */
export async function runOnCluster(request: ExecRequest): Promise<number> {
  const {workflows, config, flags} = request
  const cluster = new KubeCluster(loadKubeConfig({context: flags.context, kubeconfig: flags.kubeconfig}))
  const needNodes = !flags.platform && workflows.some((w) => !w.labels.platform)
  const nodes = needNodes ? await cluster.nodeArchitectures() : undefined
  const runId = newRunId()
  const runs = workflows.map((workflow, i) => {
    const arch = resolveArch({flag: flags.platform, label: workflow.labels.platform, nodes})
    const id = workflows.length === 1 ? runId : `${runId}-${i + 1}`
    const plan = planRun({workflow, config, metadata: request.metadata, runId: id, arch, matrix: workflow.matrixRow, extraEnv: request.extraEnv, secrets: request.secrets, helperImage: flags['helper-image']})
    return {workflow, plan: flags.step?.length ? selectSteps(plan, flags.step) : plan}
  })
  return Interrupt.around((interrupt) => {
    interrupt.signal.addEventListener('abort', () => process.stderr.write('\nwpk8s: stopping: running pods get a moment to end, then everything is deleted (Ctrl-C again to force)\n'))
    interrupt.onForce(() => process.stderr.write('wpk8s: forcing: deleting everything now\n'))
    return runWorkflows(runs, cluster, request.emit, request.checkout, {...DEFAULT_LIMITS, timeoutMs: flags.timeout * 1000, startTimeoutMs: flags['start-timeout'] * 1000, bindTimeoutMs: flags['bind-timeout'] * 1000, parallel: flags.parallel ?? 0, interrupt, outputReady: stdoutReady})
  })
}
