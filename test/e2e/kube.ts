import * as k8s from '@kubernetes/client-node'
import {type ChildProcess, execFileSync, spawn} from 'node:child_process'
import {existsSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const HARNESS_KUBECONFIG = `${process.env.WPK8S_CLUSTER_HOME ?? '/var/tmp/wpk8s-cluster'}/kubeconfig`

/** The cluster the e2e tests use: KUBECONFIG when set (kind, k3d, ...), else the harness's. */
export const KUBECONFIG = process.env.KUBECONFIG || (existsSync(HARNESS_KUBECONFIG) ? HARNESS_KUBECONFIG : '')

export function kubeConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig()
  kc.loadFromFile(KUBECONFIG)
  return kc
}

export const core = (): k8s.CoreV1Api => kubeConfig().makeApiClient(k8s.CoreV1Api)

/** Whether the cluster answers; a reason when it does not. */
export async function clusterProblem(): Promise<string | undefined> {
  if (!KUBECONFIG) return `no kubeconfig: set KUBECONFIG or run \`npm run cluster:up\` (expected ${HARNESS_KUBECONFIG})`
  try {
    const nodes = await core().listNode()
    return nodes.items.length > 0 ? undefined : 'the cluster has no nodes'
  } catch (error) {
    return `the cluster at ${KUBECONFIG} does not answer: ${(error as Error).message.split('\n')[0]}`
  }
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`
}

export async function createNamespace(name: string): Promise<void> {
  await core().createNamespace({body: {metadata: {name}}})
  // Pods are refused until the namespace's default service account exists.
  for (let i = 0; i < 100; i++) {
    try {
      await core().readNamespacedServiceAccount({namespace: name, name: 'default'})
      return
    } catch {
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}

export async function deleteNamespace(name: string): Promise<void> {
  await core()
    .deleteNamespace({name})
    .catch(() => {})
}

/** Everything in a namespace that a run could leave behind. */
export async function leftovers(namespace: string): Promise<string[]> {
  const api = core()
  const [pods, pvcs, secrets, services] = await Promise.all([
    api.listNamespacedPod({namespace}),
    api.listNamespacedPersistentVolumeClaim({namespace}),
    api.listNamespacedSecret({namespace}),
    api.listNamespacedService({namespace}),
  ])
  const userSecrets = secrets.items.filter((s) => s.type !== 'kubernetes.io/service-account-token')
  return [
    ...pods.items.map((p) => `pod/${p.metadata!.name}`),
    ...pvcs.items.map((p) => `pvc/${p.metadata!.name}`),
    ...userSecrets.map((s) => `secret/${s.metadata!.name}`),
    ...services.items.map((s) => `service/${s.metadata!.name}`),
  ]
}

export interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs the built CLI against the test cluster, as a user would (no TTY). */
export function wpk8s(args: string[], options: {cwd?: string; env?: NodeJS.ProcessEnv} = {}): Promise<Run> {
  return startWpk8s(args, options).result
}

/** Starts the CLI and hands back the process, for tests that signal or kill it mid-run. */
export function startWpk8s(
  args: string[],
  options: {cwd?: string; env?: NodeJS.ProcessEnv} = {},
): {child: ChildProcess; result: Promise<Run>; output: () => string} {
  const child = spawn(process.execPath, [`${ROOT}bin/run.js`, ...args], {
    cwd: options.cwd ?? ROOT,
    env: {...process.env, KUBECONFIG, NO_COLOR: '1', ...options.env},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (b) => (stdout += b))
  child.stderr!.on('data', (b) => (stderr += b))
  const result = new Promise<Run>((resolve) =>
    child.on('close', (code, signal) => resolve({code: code ?? (signal ? -1 : null), stdout, stderr})),
  )
  return {child, result, output: () => stdout}
}

/** The JSON events of a `--json` run. */
export function events(run: Run): Record<string, any>[] {
  return run.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe().catch(() => undefined)
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

/** A git repository (branch main, one commit) holding the pipeline; `files` are added after the commit, as local changes. */
export function pipelineRepo(pipeline: string, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'wpk8s-e2e-repo-'))
  writeFileSync(join(dir, '.woodpecker.yml'), pipeline)
  const git = (...args: string[]) => execFileSync('git', args, {cwd: dir, stdio: 'ignore'})
  git('init', '-q', '-b', 'main')
  git('add', '.')
  git('-c', 'user.name=T', '-c', 'user.email=t@example.com', 'commit', '-qm', 'init')
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content)
  return dir
}
