import {once} from 'node:events'
import type {PreparedRun} from '../app/exec.js'
import {planWorkflows} from '../app/exec.js'
import {authenticate, contextNamespace, KubeCluster, loadKubeConfig} from '../cluster/kube.js'
import {onExistingClaim, requireSecrets, selectSteps} from '../compile/plan.js'
import {resolveArch} from '../compile/platform.js'
import type {Emit} from './events.js'
import {Interrupt} from './interrupt.js'
import {findKept, keepAnnotations, keptCheckout, keptMessage, type KeptRun, reuseMetadata} from './keep.js'
import {DEFAULT_LIMITS} from './run.js'
import {applyServiceFlags, parseServiceFlags, type ServiceFlags, type ServiceOptions} from './services.js'
import {runWorkflows} from './workflows.js'
import type {Archive} from './checkout.js'
import {type BackendFlags, ENV, resolveBackendConfig} from '../config.js'
import type * as k8s from '@kubernetes/client-node'
import {UsageError} from '../errors.js'

export interface ExecRequest {
  run: PreparedRun
  flags: BackendFlags &
    ServiceFlags & {
      context?: string
      kubeconfig?: string
      'use-context-namespace'?: boolean
      platform?: string
      timeout: number
      'start-timeout': number
      'bind-timeout': number
      parallel?: number
      step?: string[]
      keep?: boolean
      reuse?: string
      watch?: boolean
    }
  emit: Emit
  checkout: () => Promise<Archive>
  /** `--watch` rounds: the files that changed, for `when.path` (instead of the checkout's). */
  changedFiles?: string[]
  /** `--watch`: its kept workspace is deleted at the end, so the run does not say how to reuse it. */
  quietKeep?: boolean
}

/** Log lines wait while stdout is backed up, so a fast log and a slow reader keep memory bounded. */
function stdoutReady(): Promise<void> | undefined {
  return process.stdout.writableNeedDrain ? once(process.stdout, 'drain').then(() => undefined) : undefined
}

/** The part of exec that talks to a cluster; imported lazily so other commands never load the client. */
export async function runOnCluster(request: ExecRequest): Promise<number> {
  const {flags} = request
  if (flags.watch) {
    const {watchRounds} = await import('./watch.js')
    return watchRounds(request, {
      runRound: runOnCluster,
      log: (line) => process.stderr.write(`${line}\n`),
      cluster: () => new KubeCluster(loadKubeConfig({context: flags.context, kubeconfig: flags.kubeconfig})),
    })
  }
  let kc: k8s.KubeConfig | undefined
  const kubeconfig = () => (kc ??= loadKubeConfig({context: flags.context, kubeconfig: flags.kubeconfig}))
  // Their values are checked before the cluster is reached; their names once the plans are there.
  parseServiceFlags(flags)
  let run = withContextNamespace(request.run, flags, kubeconfig)
  // --reuse: the kept workspace is looked up first; its workflow alone runs, with its CI_* values while the commit is the same.
  let kept: KeptRun | undefined
  if (flags.reuse) {
    await authenticate(kubeconfig())
    kept = await findKept(new KubeCluster(kubeconfig()), run.config.namespace, flags.reuse)
    run = reuseRun(run, kept)
  }
  if (request.changedFiles) run = {...run, metadata: {...run.metadata, changedFiles: request.changedFiles}}
  let services: ServiceOptions = {}
  const plansOn = (nodes?: string[]) => {
    const planned = planWorkflows(run, (w) => resolveArch({flag: flags.platform, label: w.labels.platform, nodes}))
      .map(({workflow, plan}) => ({
        workflow,
        plan: flags.step?.length ? selectSteps(plan, flags.step, {dependencies: !kept}) : plan,
      }))
      .map(({workflow, plan}) => ({
        workflow,
        plan: kept
          ? {...onExistingClaim(plan, kept.claim), keep: {runId: kept.runId, annotations: {}}}
          : flags.keep
            ? {...plan, keep: {runId: plan.runId, annotations: keepAnnotations(plan, workflow, run.metadata)}}
            : plan,
      }))
    // --service-probe, --cache-size and --port-forward: checked here, before anything is created.
    const {runs, options} = applyServiceFlags(planned, flags)
    services = options
    runs.forEach(({plan}) => requireSecrets(plan))
    return runs
  }
  // A missing secret is found before the cluster is reached when the platform is known without its nodes.
  const needNodes = !flags.platform && run.workflows.some((w) => !w.labels.platform)
  const planned = needNodes ? undefined : plansOn()
  await authenticate(kubeconfig())
  const cluster = new KubeCluster(kubeconfig())
  const runs = planned ?? plansOn(await cluster.nodeArchitectures())
  return Interrupt.around((interrupt) => {
    interrupt.signal.addEventListener('abort', () =>
      process.stderr.write(
        '\nwpk8s: stopping: running pods get a moment to end, then everything is deleted (Ctrl-C again to force)\n',
      ),
    )
    interrupt.onForce(() => process.stderr.write('wpk8s: forcing: deleting everything now\n'))
    const limits = {
      ...DEFAULT_LIMITS,
      timeoutMs: flags.timeout * 1000,
      startTimeoutMs: flags['start-timeout'] * 1000,
      bindTimeoutMs: flags['bind-timeout'] * 1000,
      parallel: flags.parallel ?? 0,
      interrupt,
      outputReady: stdoutReady,
      stopGraceSeconds: run.config.stopTimeoutSeconds,
      ...services,
    }
    // A kept workspace remembers what was shipped (a manifest), so that a reuse ships only the changes.
    const checkout = kept
      ? () => keptCheckout(run.metadata.root, kept.manifest)
      : flags.keep
        ? () => keptCheckout(run.metadata.root)
        : request.checkout
    return runWorkflows(runs, cluster, request.emit, checkout, limits)
  }).finally(() => {
    // Rounds of --watch say their own.
    if (!request.changedFiles && !request.quietKeep)
      for (const {plan} of runs)
        if (plan.keep) process.stderr.write(`${keptMessage(plan.keep.runId, plan.namespace, Boolean(kept))}\n`)
  })
}

/** The run on a kept workspace: only its workflow (by title), with the kept CI_* values unless the checkout moved on. */
function reuseRun(run: PreparedRun, kept: KeptRun): PreparedRun {
  const workflows = run.workflows.filter((w) => w.title === kept.workflow)
  if (workflows.length === 0) {
    throw new UsageError(
      `the workspace of run ${kept.runId} was kept for workflow ${kept.workflow ?? '(unknown)'} (${kept.pipeline ?? 'no pipeline file recorded'}), which this pipeline does not have`,
      `run from the same checkout, with the same pipeline file: wpk8s exec ${kept.pipeline ?? ''} --reuse ${kept.runId}`,
    )
  }
  return {...run, workflows, metadata: reuseMetadata(kept, run.metadata)}
}

/**
 * --use-context-namespace: the kubeconfig context's namespace (in a pod without a kubeconfig, the pod's own)
 * when nothing names one (--namespace, WOODPECKER_BACKEND_K8S_NAMESPACE, --agent-setting, --agent-env); else,
 * and when the context has none, the run keeps its namespace (Woodpecker's default `woodpecker`).
 */
export function withContextNamespace(
  run: PreparedRun,
  flags: ExecRequest['flags'],
  kubeconfig = () => loadKubeConfig({context: flags.context, kubeconfig: flags.kubeconfig}),
): PreparedRun {
  if (!flags['use-context-namespace'] || namespaceGiven(flags)) return run
  const namespace = contextNamespace(kubeconfig())
  return namespace ? {...run, config: {...run.config, namespace}} : run
}

function namespaceGiven(flags: BackendFlags): boolean {
  if (flags.namespace !== undefined || process.env[ENV.namespace]) return true
  return resolveBackendConfig(flags, process.env).settings.some(
    (s) => s.name === ENV.namespace && s.source.kind !== 'default',
  )
}
