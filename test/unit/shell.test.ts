import type {V1Pod} from '@kubernetes/client-node'
import {describe, expect, it} from 'vitest'
import type {Cluster} from '../../src/cluster/cluster.js'
import type {PodState} from '../../src/cluster/pod-state.js'
import {resolveBackendConfig} from '../../src/config.js'
import {planRun} from '../../src/compile/plan.js'
import type {RunMetadata} from '../../src/pipeline/metadata.js'
import {toWorkflow} from '../../src/pipeline/normalize.js'
import {parsePipelineText} from '../../src/pipeline/parse.js'
import {keptRun, encodeInfo} from '../../src/runner/keep.js'
import {runInteractiveShell, runShellCommand, SHELL_SLEEP, shellPod, startProblem} from '../../src/runner/shell.js'

const metadata: RunMetadata = {
  root: '/src/app',
  repoOwner: 'o',
  repoName: 'a',
  repoUrl: '',
  sha: 'abc',
  branch: 'main',
  ref: 'refs/heads/main',
  message: 'm',
  author: 'a',
  authorEmail: 'a@b',
  event: 'push',
  tag: '',
  changedFiles: [],
  started: 1700000000,
}
const text =
  'steps:\n  build:\n    image: golang:1.22\n    directory: sub\n    commands: [go build]\n    environment:\n      TOKEN: {from_secret: token}\n    backend_options:\n      kubernetes:\n        resources: {limits: {memory: 1Gi}}\n'
const workflow = toWorkflow('ci', 'ci.yml', parsePipelineText('ci.yml', text).data as Record<string, unknown>)
const plan = planRun({
  workflow,
  config: resolveBackendConfig({}, {}).config,
  metadata,
  runId: 'k0',
  arch: 'amd64',
  extraEnv: {},
  secrets: {token: 'x'},
})
const kept = keptRun({
  metadata: {
    name: 'wp-k0-workspace',
    namespace: 'ns',
    labels: {'wpk8s.dev/kept': 'k0'},
    annotations: {
      'wpk8s.dev/kept-run': encodeInfo({metadata, secretName: 'wp-k0-secrets', pods: {build: plan.steps[0].pod}}),
    },
  },
})!

describe('a shell pod', () => {
  it("is the step's pod with the command replaced: image, env with the Secret refs, resources, working dir, workspace; a run label of its own", () => {
    const pod = shellPod(kept, 'build', ['ls', '-la'], 'abc123', 600)
    const container = pod.spec!.containers[0]
    expect(pod.metadata!.name).toBe('wp-k0-sh-abc123')
    expect(pod.metadata!.labels).toMatchObject({
      'wpk8s.dev/run': 'k0-sh-abc123',
      'wpk8s.dev/role': 'shell',
      'app.kubernetes.io/managed-by': 'wpk8s',
    })
    expect(pod.spec!.containers).toHaveLength(1)
    expect(container.image).toBe('golang:1.22')
    expect(container.command).toEqual(['ls', '-la'])
    expect(container.args).toBeUndefined()
    expect(container.workingDir).toBe(plan.steps[0].pod.spec!.containers[0].workingDir)
    expect(container.resources?.limits?.memory).toBe('1Gi')
    expect(container.env!.find((e) => e.name === 'TOKEN')!.valueFrom!.secretKeyRef!.name).toBe('wp-k0-secrets')
    expect(pod.spec!.volumes!.find((v) => v.name === 'workspace')!.persistentVolumeClaim!.claimName).toBe(
      'wp-k0-workspace',
    )
    expect(pod.spec!.activeDeadlineSeconds).toBe(600)
    expect(pod.spec!.restartPolicy).toBe('Never')
  })

  it('refuses an unknown step, naming the steps there are', () => {
    expect(() => shellPod(kept, 'nope', ['sh'], 'x', 60)).toThrow(/run k0 has no step nope/)
  })

  it('says clearly when the image has no /bin/sh', () => {
    const state: PodState = {
      kind: 'stuck',
      reason: 'RunContainerError',
      message: 'exec: "/bin/sh": stat /bin/sh: no such file or directory: unknown',
    }
    const error = startProblem(state, SHELL_SLEEP)!
    expect(error.message).toMatch(/cannot run \/bin\/sh/)
    expect(error.hint).toMatch(/has no \/bin\/sh/)
    expect(startProblem({kind: 'running'}, SHELL_SLEEP)).toBeUndefined()
    expect(startProblem({kind: 'stuck', reason: 'ErrImagePull', message: 'not found'}, ['x'])!.message).toMatch(
      /did not start: ErrImagePull/,
    )
  })
})

/** A cluster whose shell pod prints lines and exits with a code; deletes are recorded. */
function fakeCluster(lines: string[], exitCode: number, first: PodState = {kind: 'running'}) {
  const deleted: string[] = []
  const created: V1Pod[] = []
  const cluster = {
    createPod: async (pod: V1Pod) => void created.push(pod),
    watchPod: async (_ns: string, _n: string, until: (s: PodState) => boolean) =>
      until(first) ? first : {kind: 'terminated', exitCode},
    followLog: async (_ns: string, _p: string, _c: string, onLine: (l: string) => void) => lines.forEach(onLine),
    deletePod: async (_ns: string, name: string) => void deleted.push(name),
    execTty: async () => 5,
  }
  return {cluster: cluster as unknown as Cluster & {execTty: () => Promise<number>}, deleted, created}
}

describe('wpk8s shell', () => {
  it('passes the output and exit code of a command through, and deletes the pod', async () => {
    const {cluster, deleted} = fakeCluster(['one', 'two'], 7)
    const out: string[] = []
    const code = await runShellCommand(
      cluster,
      shellPod(kept, 'build', ['sh', '-c', 'exit 7'], 'a', 60),
      {write: (l) => out.push(l)},
      1000,
    )
    expect(code).toBe(7)
    expect(out).toEqual(['one', 'two'])
    expect(deleted).toEqual(['wp-k0-sh-a'])
  })

  it('deletes the pod when it cannot start, with the reason', async () => {
    const {cluster, deleted} = fakeCluster([], 0, {
      kind: 'stuck',
      reason: 'RunContainerError',
      message: 'exec: "nope": executable file not found in $PATH',
    })
    await expect(
      runShellCommand(cluster, shellPod(kept, 'build', ['nope'], 'b', 60), {write: () => {}}, 1000),
    ).rejects.toThrow(/cannot run nope/)
    expect(deleted).toEqual(['wp-k0-sh-b'])
  })

  it('interactive: a sleeping pod, a shell through exec with a terminal, the pod deleted after', async () => {
    const {cluster, deleted, created} = fakeCluster([], 0)
    const stdin = {setRawMode: () => {}, resume: () => {}, pause: () => {}} as unknown as NodeJS.ReadStream
    const code = await runInteractiveShell(
      cluster,
      shellPod(kept, 'build', SHELL_SLEEP, 'c', 60),
      1000,
      stdin,
      {} as NodeJS.WriteStream,
    )
    expect(code).toBe(5)
    expect(created[0].spec!.containers[0].command).toEqual(SHELL_SLEEP)
    expect(deleted).toEqual(['wp-k0-sh-c'])
  })
})
