import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {
  core,
  createNamespace,
  deleteNamespace,
  events,
  KUBECONFIG,
  kubeConfig,
  leftovers,
  ROOT,
  type Run,
  uniqueName,
  waitFor,
  wpk8s,
} from './kube.js'
import {requireCluster} from './setup.js'

requireCluster()
const ns = uniqueName('e2e-rbac')
let limitedKubeconfig = ''

/** A kubeconfig for the `wpk8s` service account of examples/rbac.yaml: nothing but that Role. */
async function serviceAccountKubeconfig(): Promise<string> {
  const token = await waitFor('a token for the wpk8s service account', async () => {
    const request = await core().createNamespacedServiceAccountToken({
      namespace: ns,
      name: 'wpk8s',
      body: {spec: {audiences: [], expirationSeconds: 3600}},
    })
    return request.status?.token
  })
  const cluster = kubeConfig().getCurrentCluster()!
  const file = join(mkdtempSync(join(tmpdir(), 'wpk8s-rbac-')), 'kubeconfig')
  const ca = cluster.caData
    ? `certificate-authority-data: ${cluster.caData}`
    : `certificate-authority: ${cluster.caFile}`
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: ${cluster.server}, ${ca}}}]
users: [{name: wpk8s, user: {token: ${token}}}]
contexts: [{name: limited, context: {cluster: c, user: wpk8s, namespace: ${ns}}}]
current-context: limited
`,
  )
  return file
}

beforeAll(async () => {
  await createNamespace(ns)
  execFileSync('kubectl', ['apply', '-n', ns, '-f', join(ROOT, 'examples', 'rbac.yaml')], {
    env: {...process.env, KUBECONFIG},
    stdio: 'ignore',
  })
  limitedKubeconfig = await serviceAccountKubeconfig()
})
afterAll(() => deleteNamespace(ns))

const shipDetail = (run: Run): string | undefined =>
  events(run).find((e) => e.type === 'phase' && e.phase === 'ship' && e.status === 'done')?.detail

describe("least privilege: a user bound only to the README's Role", () => {
  it('runs a pipeline with a shipped checkout, a secret and a service, and cleans up', async () => {
    const arch = (await core().listNode()).items[0].metadata!.labels!['kubernetes.io/arch']
    const dir = mkdtempSync(join(tmpdir(), 'wpk8s-rbac-repo-'))
    writeFileSync(
      join(dir, '.woodpecker.yml'),
      `services:
  svc:
    image: busybox:1.35
    commands: [sleep 60]
steps:
  check:
    image: busybox:1.35
    environment: {TOKEN: {from_secret: token}}
    commands: [cat .woodpecker.yml > /dev/null, test "$TOKEN" = abc123]
`,
    )
    execFileSync('git', ['init', '-q'], {cwd: dir})
    const args = [
      'exec',
      '--kubeconfig',
      limitedKubeconfig,
      '--namespace',
      ns,
      '--no-storage-rwx',
      '--secret',
      'token=abc123',
    ]
    const noNodes = await wpk8s(args, {cwd: dir})
    expect(noNodes.code).toBe(3)
    expect(noNodes.stderr).toMatch(/may not list nodes.*\n.*--platform/)
    const run = await wpk8s([...args, '--platform', `linux/${arch}`, '--json'], {cwd: dir})
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(shipDetail(run)).toMatch(/through the pod proxy$/)
    expect(await leftovers(ns)).toEqual([])
    // Without pods/proxy in the Role, the checkout goes through exec.
    const role = readFileSync(join(ROOT, 'examples', 'rbac.yaml'), 'utf8').replace(
      /\n {2}# Ships the checkout[^\n]*\n(?: {2}- apiGroups[^\n]*\n) {4}resources: \[pods\/proxy\]\n[^\n]*\n/,
      '\n',
    )
    expect(role).not.toContain('pods/proxy')
    execFileSync('kubectl', ['apply', '-n', ns, '-f', '-'], {
      env: {...process.env, KUBECONFIG},
      input: role,
      stdio: ['pipe', 'ignore', 'ignore'],
    })
    const viaExec = await waitFor(
      'the Role without pods/proxy to apply',
      async () => {
        const r = await wpk8s([...args, '--platform', `linux/${arch}`, '--json'], {cwd: dir})
        return r.code === 0 && /through exec$/.test(shipDetail(r) ?? '') ? r : undefined
      },
      60_000,
    )
    expect(viaExec.stderr).toBe('')
    expect(await leftovers(ns)).toEqual([])
    const clean = await wpk8s(['clean', '--kubeconfig', limitedKubeconfig, '--namespace', ns])
    expect(clean.code).toBe(0)
    expect(clean.stdout).toMatch(/nothing left behind/)
  })
})
