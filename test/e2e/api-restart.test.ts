import {execFileSync} from 'node:child_process'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {
  createNamespace,
  deleteNamespace,
  events,
  KUBECONFIG,
  leftovers,
  pipelineRepo,
  ROOT,
  startWpk8s,
  uniqueName,
  waitFor,
} from './kube.js'
import {requireCluster} from './setup.js'

// Restarts the test cluster's API server: every other test would see it go away too, so this file
// runs alone, after the other end-to-end files (see the test:e2e script).
requireCluster()
const ns = uniqueName('e2e-apirestart')
const base = ['--namespace', ns, '--no-storage-rwx']

beforeAll(() => createNamespace(ns))
afterAll(() => deleteNamespace(ns))

describe('the API server going away mid-step', () => {
  const restart = join(ROOT, 'test', 'cluster', 'restart.sh')
  const harness = KUBECONFIG === `${process.env.WPK8S_CLUSTER_HOME ?? '/var/tmp/wpk8s-cluster'}/kubeconfig`

  it.runIf(harness)('keeps waiting, then delivers every log line exactly once, in order', async () => {
    const {result, output} = startWpk8s(['exec', '--json', ...base], {
      cwd: pipelineRepo(`skip_clone: true
steps:
  counting:
    image: busybox:1.35
    commands: ['i=1; while [ $i -le 60 ]; do echo "line $i"; i=$((i+1)); sleep 0.2; done']
`),
    })
    await waitFor('the first lines', async () => (output().includes('"line 5"') ? true : undefined), 60_000)
    execFileSync('bash', [restart, 'kube-apiserver', '2'], {stdio: 'ignore'})
    const run = await result
    expect(run.code).toBe(0)
    const lines = events(run)
      .filter((e) => e.type === 'log' && !e.line.startsWith('+'))
      .map((e) => e.line)
    expect(lines).toEqual(Array.from({length: 60}, (_, i) => `line ${i + 1}`))
    expect(await leftovers(ns)).toEqual([])
  })
})
