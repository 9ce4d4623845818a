import {execFileSync} from 'node:child_process'
import {chmodSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, writeFileSync} from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {
  core,
  createNamespace,
  deleteNamespace,
  events,
  KUBECONFIG,
  kubeConfig,
  leftovers,
  pipelineRepo,
  ROOT,
  type Run,
  uniqueName,
  waitFor,
  wpk8s,
} from './kube.js'
import {requireCluster} from './setup.js'

/**
 * Every way a kubeconfig logs in, as a user of examples/rbac.yaml's ServiceAccount: an exec credential plugin,
 * a bearer token, a KUBECONFIG list whose second file holds the context (and its namespace), HTTPS_PROXY, and
 * inside a pod (in-cluster configuration). The API server accepts the ServiceAccount's token (its token Secret)
 * as a bearer token. Broken kubeconfigs and plugins fail in one line.
 */
requireCluster()
const ns = uniqueName('e2e-kubeconfig')
const dir = mkdtempSync(join(tmpdir(), 'wpk8s-e2e-kubeconfig-'))
const FAKE_TOKEN = 'sk-FAKE-e2e-0123456789abcdef'
let token = ''
let arch = ''
let repo = ''

beforeAll(async () => {
  await createNamespace(ns)
  execFileSync('kubectl', ['apply', '-n', ns, '-f', join(ROOT, 'examples', 'rbac.yaml')], {
    env: {...process.env, KUBECONFIG},
    stdio: 'ignore',
  })
  // Kubernetes 1.20 gives every ServiceAccount a token Secret.
  token = await waitFor("the wpk8s service account's token Secret", async () => {
    const account = await core().readNamespacedServiceAccount({namespace: ns, name: 'wpk8s'})
    const name = account.secrets?.[0]?.name
    if (!name) return undefined
    const secret = await core().readNamespacedSecret({namespace: ns, name})
    return secret.data?.token ? Buffer.from(secret.data.token, 'base64').toString('utf8') : undefined
  })
  writeFileSync(join(dir, 'sa-token'), token)
  arch = (await core().listNode()).items[0].metadata!.labels!['kubernetes.io/arch']
  repo = pipelineRepo(
    'steps:\n  check:\n    image: busybox:1.35\n    commands: [test -f .woodpecker.yml, echo logged-in]\n',
  )
})
afterAll(() => deleteNamespace(ns))

/** The cluster block of the harness's kubeconfig, with another server name if given. */
function clusterYaml(server?: string): string {
  const cluster = kubeConfig().getCurrentCluster()!
  const ca = cluster.caData
    ? `certificate-authority-data: ${cluster.caData}`
    : `certificate-authority: ${cluster.caFile}`
  return `clusters: [{name: test, cluster: {server: '${server ?? cluster.server}', ${ca}}}]\n`
}

function write(name: string, text: string): string {
  const file = join(dir, name)
  mkdirSync(join(file, '..'), {recursive: true})
  writeFileSync(file, text)
  return file
}

const execArgs = (...extra: string[]) => ['exec', '--json', '--no-storage-rwx', '--platform', `linux/${arch}`, ...extra]

/** A run that succeeded in `namespace`, printed the step's output, and left nothing behind. */
async function expectGreen(run: Run, namespace = ns): Promise<void> {
  if (run.code !== 0) console.error(run.stderr, run.stdout.slice(-2000))
  expect(run.stderr).toBe('')
  expect(run.code).toBe(0)
  const start = events(run).find((e) => e.type === 'run-start')
  expect(start?.namespace).toBe(namespace)
  expect(events(run).some((e) => e.type === 'log' && e.line === 'logged-in')).toBe(true)
  expect(await leftovers(namespace)).toEqual([])
}

/** A CONNECT proxy on 127.0.0.1 that sends every tunnel to `host` (the API server's), keeping the port asked for. */
function connectProxy(host: string): Promise<{url: string; seen: string[]; close: () => void}> {
  const seen: string[] = []
  const sockets = new Set<net.Socket>()
  const server = http.createServer((_req, res) => res.writeHead(405).end())
  server.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    seen.push(req.url ?? '')
    const upstream = net.connect(Number((req.url ?? '').split(':').pop()), host, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      upstream.write(head)
      upstream.pipe(socket).pipe(upstream)
    })
    sockets.add(socket).add(upstream)
    upstream.on('error', () => socket.destroy())
    socket.on('error', () => upstream.destroy())
  })
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
        seen,
        close: () => {
          for (const s of sockets) s.destroy()
          server.close()
        },
      }),
    ),
  )
}

describe('every kubeconfig a user has', () => {
  it('logs in through an exec credential plugin, which runs once for the whole run', async () => {
    const plugin = write(
      'bin/login.sh',
      `#!/bin/sh
echo run >> "$0.count"
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}' "$(cat "$TOKEN_FILE")"
`,
    )
    chmodSync(plugin, 0o755)
    // A relative command with a slash is resolved against the kubeconfig's folder, as kubectl does.
    const kubeconfig = write(
      'exec/config',
      `${clusterYaml()}users: [{name: sa, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: ../bin/login.sh, interactiveMode: Never, env: [{name: TOKEN_FILE, value: ${join(dir, 'sa-token')}}]}}}]
contexts: [{name: plugin, context: {cluster: test, user: sa}}]
current-context: plugin
`,
    )
    await expectGreen(await wpk8s(execArgs('--kubeconfig', kubeconfig, '--namespace', ns), {cwd: repo}))
    expect(readFileSync(`${plugin}.count`, 'utf8')).toBe('run\n')
  })

  it('logs in with a bearer token in the kubeconfig', async () => {
    const kubeconfig = write(
      'token/config',
      `${clusterYaml()}users: [{name: sa, user: {token: ${token}}}]
contexts: [{name: token, context: {cluster: test, user: sa}}]
current-context: token
`,
    )
    await expectGreen(
      await wpk8s(execArgs(), {cwd: repo, env: {KUBECONFIG: kubeconfig, WOODPECKER_BACKEND_K8S_NAMESPACE: ns}}),
    )
  })

  it('takes a KUBECONFIG list whose second file holds the context, and its namespace with --use-context-namespace', async () => {
    const first = write(
      'list/clusters-and-users',
      `${clusterYaml()}users: [{name: sa, user: {token-file: ${join(dir, 'sa-token')}}}]\n`,
    )
    const second = write(
      'list/contexts',
      `contexts: [{name: team, context: {cluster: test, user: sa, namespace: ${ns}}}]\ncurrent-context: team\n`,
    )
    const env = {KUBECONFIG: [join(dir, 'list', 'missing'), first, second].join(':')}
    await expectGreen(await wpk8s(execArgs('--use-context-namespace'), {cwd: repo, env}))
    const clean = await wpk8s(['clean', '--use-context-namespace'], {env})
    expect(clean.stderr).toBe('')
    expect(clean.stdout).toMatch(new RegExp(`nothing left behind in namespace ${ns}`))
    // Without the flag, the namespace stays Woodpecker's default (which this account may not use).
    const dry = await wpk8s(['clean', '--dry-run'], {env})
    expect(dry.code).toBe(3)
    expect(dry.stderr).toMatch(/in the namespace "woodpecker"/)
  })

  it('goes through HTTPS_PROXY: every request reaches the API server through the proxy', async () => {
    const server = new URL(kubeConfig().getCurrentCluster()!.server)
    const proxy = await connectProxy(server.hostname.replace(/^\[(.*)\]$/, '$1'))
    const port = server.port || '443'
    try {
      // `kubernetes.default` is in the API server's certificate and resolves nowhere but in the proxy.
      const kubeconfig = write(
        'proxy/config',
        `${clusterYaml(`https://kubernetes.default:${port}`)}users: [{name: sa, user: {token: ${token}}}]
contexts: [{name: proxied, context: {cluster: test, user: sa, namespace: ${ns}}}]
current-context: proxied
`,
      )
      const env = {HTTPS_PROXY: proxy.url, NO_PROXY: '', no_proxy: ''}
      await expectGreen(await wpk8s(execArgs('--kubeconfig', kubeconfig, '--use-context-namespace'), {cwd: repo, env}))
      // A helper image without httpd ships through exec: the websocket goes through the proxy too.
      await expectGreen(
        await wpk8s(
          execArgs('--kubeconfig', kubeconfig, '--use-context-namespace', '--helper-image', 'debian:bookworm-slim'),
          {cwd: repo, env},
        ),
      )
      expect(proxy.seen.length).toBeGreaterThan(0)
      expect(new Set(proxy.seen)).toEqual(new Set([`kubernetes.default:${port}`]))
    } finally {
      proxy.close()
    }
  })

  it('reports a malformed kubeconfig in one line naming the file, exit 3, never its token', async () => {
    const kubeconfig = write(
      'bad/config',
      `${clusterYaml()}users:\n- name: sa\n  user:\n    token: ${FAKE_TOKEN}\n   oops: [\n`,
    )
    for (const run of [
      await wpk8s(execArgs('--kubeconfig', kubeconfig, '--namespace', ns), {cwd: repo}),
      await wpk8s(['clean', '-n', ns], {env: {KUBECONFIG: kubeconfig}}),
    ]) {
      expect(run.code).toBe(3)
      expect(run.stderr).toMatch(
        new RegExp(`^wpk8s: kubeconfig ${kubeconfig} is not valid YAML: [^\\n]+ \\(line 6, column \\d+\\)\\n$`),
      )
      expect(run.stdout + run.stderr).not.toContain(FAKE_TOKEN)
    }
    expect(await leftovers(ns)).toEqual([])
  })

  it('reports an exec plugin that is missing or fails in one line, with its command and its stderr', async () => {
    const failing = write(
      'bin/fail.sh',
      '#!/bin/sh\necho "error: SSO session expired, run aws sso login" >&2\necho more >&2\nexit 255\n',
    )
    chmodSync(failing, 0o755)
    const config = (command: string) =>
      write(
        `plugins/${command.replace(/\W/g, '')}`,
        `${clusterYaml()}users: [{name: sa, user: {exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: '${command}', installHint: 'install wpk8s-missing-plugin first'}}}]
contexts: [{name: c, context: {cluster: test, user: sa}}]
current-context: c
`,
      )
    const missing = await wpk8s(execArgs('--kubeconfig', config('wpk8s-missing-plugin'), '--namespace', ns), {
      cwd: repo,
    })
    expect(missing.code).toBe(3)
    expect(missing.stderr).toMatch(
      /^wpk8s: kubeconfig \S+: user `sa`: exec plugin `wpk8s-missing-plugin` was not found\n {2}hint: install wpk8s-missing-plugin first\n$/,
    )
    const failed = await wpk8s(execArgs('--kubeconfig', config(failing), '--namespace', ns), {cwd: repo})
    expect(failed.code).toBe(3)
    expect(failed.stderr).toMatch(
      /^wpk8s: kubeconfig \S+: user `sa`: exec plugin `\S+fail.sh` failed \(exit code 255\): error: SSO session expired, run aws sso login\n$/,
    )
    expect(await leftovers(ns)).toEqual([])
  })

  const harness = KUBECONFIG === `${process.env.WPK8S_CLUSTER_HOME ?? '/var/tmp/wpk8s-cluster'}/kubeconfig`

  // The local test cluster only: its node is this machine, whose node and checkout the pod runs.
  it.runIf(harness)(
    "runs inside a pod with the pod's ServiceAccount and namespace (in-cluster configuration)",
    async () => {
      // This machine's node and wpk8s, run by the host's dynamic loader in a busybox pod on the host's network
      // (the API server listens on 127.0.0.1 only; KUBERNETES_SERVICE_HOST points there instead of the service IP).
      const node = realpathSync(process.execPath)
      const libraries = [...execFileSync('ldd', [node], {encoding: 'utf8'}).matchAll(/(\/\S+) \(0x/g)].map((m) =>
        realpathSync(m[1]),
      )
      const loader = libraries.find((l) => /\/ld-linux[^/]*$/.test(l))!
      const folders = [
        ...new Set([
          dirname(node),
          ...libraries.map((l) => dirname(l)),
          ROOT.replace(/\/$/, ''),
          realpathSync(join(ROOT, 'node_modules')),
        ]),
      ]
      const name = 'in-cluster'
      await core().createNamespacedPod({
        namespace: ns,
        body: {
          metadata: {name},
          spec: {
            serviceAccountName: 'wpk8s',
            hostNetwork: true,
            restartPolicy: 'Never',
            terminationGracePeriodSeconds: 0,
            volumes: folders.map((path, i) => ({name: `host${i}`, hostPath: {path}})),
            containers: [
              {
                name: 'wpk8s',
                image: 'busybox:1.35',
                imagePullPolicy: 'IfNotPresent',
                command: [
                  `/host${loader}`,
                  '--library-path',
                  [...new Set(libraries.map((l) => `/host${dirname(l)}`))].join(':'),
                  `/host${node}`,
                  `/host${ROOT}bin/run.js`,
                  'clean',
                  '--use-context-namespace',
                  '--dry-run',
                ],
                env: [
                  {name: 'KUBERNETES_SERVICE_HOST', value: '127.0.0.1'},
                  {name: 'KUBERNETES_SERVICE_PORT', value: '6443'},
                  {name: 'NO_COLOR', value: '1'},
                ],
                volumeMounts: folders.map((path, i) => ({name: `host${i}`, mountPath: `/host${path}`, readOnly: true})),
              },
            ],
          },
        },
      })
      const phase = await waitFor(
        'the in-cluster pod to finish',
        async () => {
          const p = await core().readNamespacedPod({namespace: ns, name})
          return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed' ? p.status.phase : undefined
        },
        90_000,
      )
      const log = await core().readNamespacedPodLog({namespace: ns, name})
      await core().deleteNamespacedPod({namespace: ns, name, gracePeriodSeconds: 0})
      expect(log).toBe(`nothing left behind in namespace ${ns}\n`)
      expect(phase).toBe('Succeeded')
      await waitFor('the in-cluster pod to go', async () => ((await leftovers(ns)).length === 0 ? true : undefined))
    },
  )
})
