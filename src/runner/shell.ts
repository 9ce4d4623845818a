import type {V1Pod} from '@kubernetes/client-node'
import type {Readable, Writable} from 'node:stream'
import type {Cluster} from '../cluster/cluster.js'
import type {PodState} from '../cluster/pod-state.js'
import {LABELS, MANAGER, objectName} from '../compile/names.js'
import {sorted, STEP_CONTAINER} from '../compile/pod.js'
import {ClusterError, UsageError} from '../errors.js'
import type {KeptRun} from './keep.js'

/** The `wpk8s.dev/role` of a shell pod. */
export const SHELL_ROLE = 'shell'
/** What an interactive shell pod runs until wpk8s deletes it: the shell comes through exec. */
export const SHELL_SLEEP = ['/bin/sh', '-c', 'trap "exit 0" TERM INT; while :; do sleep 3600 & wait $!; done']

/**
 * A pod like the kept run's step: its image, environment (the kept Secret's values through their
 * references), resources, node selector, service account, working directory and the workspace, with the
 * command replaced. It is labelled with a run of its own (`<run>-sh-<id>`), so an abandoned one is
 * found by `wpk8s clean` and ends by itself at `activeDeadlineSeconds`.
 */
export function shellPod(kept: KeptRun, step: string, command: string[], id: string, deadlineSeconds: number): V1Pod {
  const template = kept.info?.pods[step]
  if (!template) {
    const steps = Object.keys(kept.info?.pods ?? {})
    throw new UsageError(
      `run ${kept.runId} has no step ${step}`,
      steps.length > 0
        ? `steps: ${steps.join(', ')}`
        : 'its workspace was kept by a wpk8s without shell support: run exec --keep again',
    )
  }
  const container = template.spec!.containers.find((c) => c.name === STEP_CONTAINER) ?? template.spec!.containers[0]
  const runId = `${kept.runId}-sh-${id}`
  const {readinessProbe: _r, livenessProbe: _l, startupProbe: _s, args: _a, ...rest} = container
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: objectName(kept.runId, `sh-${id}`),
      namespace: kept.namespace,
      labels: sorted({
        ...template.metadata?.labels,
        [LABELS.managedBy]: MANAGER,
        [LABELS.run]: runId,
        [LABELS.role]: SHELL_ROLE,
      }),
      ...(template.metadata?.annotations ? {annotations: template.metadata.annotations} : {}),
    },
    spec: {
      ...template.spec!,
      restartPolicy: 'Never',
      activeDeadlineSeconds: deadlineSeconds,
      terminationGracePeriodSeconds: 0,
      containers: [{...rest, command}],
    },
  }
}

/** The message for a container that could not start its command: most often an image without it (such as /bin/sh). */
export function startProblem(state: PodState, command: string[]): ClusterError | undefined {
  if (state.kind !== 'stuck' && state.kind !== 'lost') {
    if (
      state.kind === 'terminated' &&
      state.exitCode === 128 &&
      /exec|no such file|not found/i.test(state.message ?? '')
    )
      return new ClusterError(`the image cannot run ${command[0]}: ${state.message}`, noShellHint(command))
    return undefined
  }
  const message = `${state.reason}: ${state.message}`
  if (/executable file not found|no such file or directory|exec format|not found in \$PATH/i.test(message))
    return new ClusterError(`the step's image cannot run ${command[0]} (${state.message})`, noShellHint(command))
  return new ClusterError(`the shell pod did not start: ${message}`)
}

function noShellHint(command: string[]): string {
  return command[0] === SHELL_SLEEP[0]
    ? 'the image has no /bin/sh (a distroless or scratch image): pass a command it has, wpk8s shell RUN STEP -- /path/to/binary ARGS'
    : 'pass a command the image has, with its full path'
}

export interface ShellIo {
  /** Each log line of a non-interactive command. */
  write(line: string): void
}

/**
 * `wpk8s shell RUN STEP -- COMMAND`: runs COMMAND (exec form, no shell unless it is one) in a pod like
 * the step's, passes its output through and resolves with its exit code; the pod is deleted after,
 * whatever happens.
 */
export async function runShellCommand(
  cluster: Cluster,
  pod: V1Pod,
  io: ShellIo,
  startTimeoutMs: number,
): Promise<number> {
  const {namespace, name} = {namespace: pod.metadata!.namespace!, name: pod.metadata!.name!}
  const command = pod.spec!.containers[0].command ?? []
  try {
    await cluster.createPod(pod)
    const started = await cluster.watchPod(namespace, name, (s) => s.kind !== 'pending', startTimeoutMs)
    const problem = startProblem(started, command)
    if (problem) throw problem
    await cluster.followLog(namespace, name, pod.spec!.containers[0].name, (line) => io.write(line))
    const ended = await cluster.watchPod(
      namespace,
      name,
      (s) => s.kind === 'terminated' || s.kind === 'lost' || s.kind === 'stuck',
      60_000,
    )
    const late = startProblem(ended, command)
    if (late) throw late
    if (ended.kind !== 'terminated')
      throw new ClusterError(
        `the shell pod ended without an exit code: ${(ended as {message?: string}).message ?? ended.kind}`,
      )
    return ended.exitCode
  } finally {
    await cluster.deletePod(namespace, name, 0).catch(() => {})
  }
}

/** What an interactive shell needs of the cluster beyond a run's. */
export interface TtyCluster extends Cluster {
  execTty(
    namespace: string,
    pod: string,
    container: string,
    command: string[],
    stdin: Readable,
    stdout: Writable,
  ): Promise<number>
}

/**
 * `wpk8s shell RUN STEP`: a pod like the step's that sleeps, a shell in it through exec with a terminal
 * (raw mode; Ctrl-D ends it, the terminal's size follows), the pod deleted after.
 */
export async function runInteractiveShell(
  cluster: TtyCluster,
  pod: V1Pod,
  startTimeoutMs: number,
  stdin: NodeJS.ReadStream = process.stdin,
  stdout: NodeJS.WriteStream = process.stdout,
): Promise<number> {
  const {namespace, name} = {namespace: pod.metadata!.namespace!, name: pod.metadata!.name!}
  try {
    await cluster.createPod(pod)
    const started = await cluster.watchPod(namespace, name, (s) => s.kind !== 'pending', startTimeoutMs)
    const problem = startProblem(started, SHELL_SLEEP)
    if (problem) throw problem
    if (started.kind !== 'running')
      throw new ClusterError(
        `the shell pod ended at once (${started.kind === 'terminated' ? `exit ${started.exitCode}` : started.kind})`,
        noShellHint(SHELL_SLEEP),
      )
    stdin.setRawMode?.(true)
    stdin.resume()
    try {
      return await cluster.execTty(
        namespace,
        name,
        pod.spec!.containers[0].name,
        ['/bin/sh', '-c', 'command -v bash >/dev/null && exec bash || exec sh'],
        stdin,
        stdout,
      )
    } finally {
      stdin.setRawMode?.(false)
      stdin.pause()
    }
  } finally {
    await cluster.deletePod(namespace, name, 0).catch(() => {})
  }
}
