import {once} from 'node:events'
import type {PreparedRun} from '../app/exec.js'
import {planWorkflows} from '../app/exec.js'
import {KubeCluster, loadKubeConfig} from '../cluster/kube.js'
import {requireSecrets, selectSteps} from '../compile/plan.js'
import {resolveArch} from '../compile/platform.js'
import type {Emit} from './events.js'
import {Interrupt} from './interrupt.js'
import {DEFAULT_LIMITS} from './run.js'
import {runWorkflows} from './workflows.js'
import type {Archive} from './checkout.js'

export interface ExecRequest {
  run: PreparedRun
  flags: {context?: string; kubeconfig?: string; platform?: string; timeout: number; 'start-timeout': number; 'bind-timeout': number; parallel?: number; step?: string[]}
  emit: Emit
  checkout: () => Promise<Archive>
}

/** Log lines wait while stdout is backed up, so a fast log and a slow reader keep memory bounded. */
function stdoutReady(): Promise<void> | undefined {
  return process.stdout.writableNeedDrain ? once(process.stdout, 'drain').then(() => undefined) : undefined
}

/** The part of exec that talks to a cluster; imported lazily so other commands never load the client. */
export async function runOnCluster(request: ExecRequest): Promise<number> {
  const {run, flags} = request
  const plansOn = (nodes?: string[]) => {
    const runs = planWorkflows(run, (w) => resolveArch({flag: flags.platform, label: w.labels.platform, nodes}))
      .map(({workflow, plan}) => ({workflow, plan: flags.step?.length ? selectSteps(plan, flags.step) : plan}))
    runs.forEach(({plan}) => requireSecrets(plan))
    return runs
  }
  // A missing secret is found before the cluster is reached when the platform is known without its nodes.
  const needNodes = !flags.platform && run.workflows.some((w) => !w.labels.platform)
  const planned = needNodes ? undefined : plansOn()
  const cluster = new KubeCluster(loadKubeConfig({context: flags.context, kubeconfig: flags.kubeconfig}))
  const runs = planned ?? plansOn(await cluster.nodeArchitectures())
  return Interrupt.around((interrupt) => {
    interrupt.signal.addEventListener('abort', () => process.stderr.write('\nwpk8s: stopping: running pods get a moment to end, then everything is deleted (Ctrl-C again to force)\n'))
    interrupt.onForce(() => process.stderr.write('wpk8s: forcing: deleting everything now\n'))
    const limits = {
      ...DEFAULT_LIMITS, timeoutMs: flags.timeout * 1000, startTimeoutMs: flags['start-timeout'] * 1000, bindTimeoutMs: flags['bind-timeout'] * 1000,
      parallel: flags.parallel ?? 0, interrupt, outputReady: stdoutReady, stopGraceSeconds: run.config.stopTimeoutSeconds,
    }
    return runWorkflows(runs, cluster, request.emit, request.checkout, limits)
  })
}
