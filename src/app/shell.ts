import {randomBytes} from 'node:crypto'
import {authenticate, contextNamespace, KubeCluster, loadKubeConfig} from '../cluster/kube.js'
import {UsageError} from '../errors.js'
import {findKept} from '../runner/keep.js'
import {runInteractiveShell, runShellCommand, shellPod, SHELL_SLEEP} from '../runner/shell.js'

export interface ShellInput {
  namespace: string
  run: string
  step: string
  /** Empty: an interactive shell (needs a terminal). */
  command: string[]
  context?: string
  kubeconfig?: string
  useContextNamespace?: boolean
  startTimeoutSeconds: number
  /** The shell pod ends by itself after this long (if wpk8s could not delete it). */
  timeoutSeconds: number
}

/** `wpk8s shell RUN STEP [-- COMMAND]`: resolves with the exit code to exit with. */
export async function runShell(input: ShellInput): Promise<number> {
  const kc = loadKubeConfig({context: input.context, kubeconfig: input.kubeconfig})
  const namespace = input.useContextNamespace ? (contextNamespace(kc) ?? input.namespace) : input.namespace
  if (input.command.length === 0 && !(process.stdin.isTTY && process.stdout.isTTY)) {
    throw new UsageError(
      'wpk8s shell without a command needs a terminal',
      "pass a command after --, such as: wpk8s shell RUN STEP -- sh -c 'ls -la'",
    )
  }
  await authenticate(kc)
  const cluster = new KubeCluster(kc)
  const kept = await findKept(cluster, namespace, input.run)
  const id = randomBytes(3).toString('hex')
  const interactive = input.command.length === 0
  const pod = shellPod(kept, input.step, interactive ? SHELL_SLEEP : input.command, id, input.timeoutSeconds)
  const startTimeoutMs = input.startTimeoutSeconds * 1000
  // Ctrl-C (non-interactive: the terminal sends it to wpk8s) deletes the pod before exiting.
  const stop = (signal: NodeJS.Signals) =>
    void cluster
      .deletePod(namespace, pod.metadata!.name!, 0)
      .catch(() => {})
      .finally(() => process.exit(signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 129))
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  // A closed terminal (or tmux session) too.
  process.once('SIGHUP', stop)
  try {
    if (interactive) return await runInteractiveShell(cluster, pod, startTimeoutMs)
    return await runShellCommand(cluster, pod, {write: (line) => process.stdout.write(`${line}\n`)}, startTimeoutMs)
  } finally {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
    process.off('SIGHUP', stop)
  }
}
