import {execFileSync} from 'node:child_process'
import {chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {TLSSocket} from 'node:tls'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {toClusterError} from '../../src/cluster/errors.js'
import {authenticate, contextNamespace, loadKubeConfig, proxyFromEnvironment} from '../../src/cluster/kube.js'
import {CoreV1Api} from '../../src/cluster/k8s-client.js'
import {ClusterError} from '../../src/errors.js'

const FAKE_TOKEN = 'sk-FAKE-7c1d2e3f4a5b6c7d8e9f'
const dir = mkdtempSync(join(tmpdir(), 'wpk8s-kubeconfig-'))
let counter = 0

/** A kubeconfig file in its own folder of the temp dir; returns its path. */
function kubeconfig(text: string, name = 'config'): string {
  const folder = join(dir, `k${++counter}`)
  mkdirSync(folder)
  const file = join(folder, name)
  writeFileSync(file, text)
  return file
}

/** loadKubeConfig with nothing from this machine: no KUBECONFIG, no home kubeconfig, no pod. */
function load(target: {kubeconfig?: string; context?: string}, env: NodeJS.ProcessEnv = {}) {
  return loadKubeConfig(target, {
    env: {PATH: process.env.PATH, ...env},
    home: join(dir, 'no-home'),
    serviceAccountDir: join(dir, 'no-sa'),
  })
}

function loadError(target: {kubeconfig?: string; context?: string}, env: NodeJS.ProcessEnv = {}): ClusterError {
  try {
    load(target, env)
  } catch (error) {
    expect(error).toBeInstanceOf(ClusterError)
    return error as ClusterError
  }
  throw new Error('expected loadKubeConfig to fail')
}

const simple = (server: string, user = 'token: abc') => `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: '${server}'}}]
users: [{name: u, user: {${user}}}]
contexts: [{name: ctx, context: {cluster: c, user: u, namespace: team-a}}]
current-context: ctx
`

describe('where the kubeconfig comes from', () => {
  it('reads a KUBECONFIG list as kubectl: missing files skipped, first definition and current context win', () => {
    const first = kubeconfig(`current-context: second-ctx
clusters: [{name: shared, cluster: {server: 'https://first.example:6443'}}]
contexts: [{name: first-ctx, context: {cluster: shared}}]
`)
    const second = kubeconfig(`current-context: first-ctx
clusters: [{name: shared, cluster: {server: 'https://second.example:6443'}}, {name: own, cluster: {server: 'https://own.example'}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: second-ctx, context: {cluster: shared, user: u, namespace: from-second}}]
`)
    const kc = load({}, {KUBECONFIG: [join(dir, 'missing'), first, '', second].join(':')})
    expect(kc.getCurrentContext()).toBe('second-ctx')
    expect(kc.getCurrentCluster()?.server).toBe('https://first.example:6443')
    expect(kc.getCurrentUser()?.token).toBe('t')
    expect(contextNamespace(kc)).toBe('from-second')
    expect(load({context: 'first-ctx'}, {KUBECONFIG: `${first}:${second}`}).getCurrentUser()).toBeNull()
  })

  it('uses --kubeconfig over KUBECONFIG, and ~/.kube/config when neither is set', () => {
    const file = kubeconfig(simple('https://flag.example'))
    expect(load({kubeconfig: file}, {KUBECONFIG: join(dir, 'missing')}).getCurrentCluster()?.server).toBe(
      'https://flag.example',
    )
    const home = join(dir, 'home')
    mkdirSync(join(home, '.kube'), {recursive: true})
    writeFileSync(join(home, '.kube', 'config'), simple('https://home.example'))
    const kc = loadKubeConfig({}, {env: {}, home, serviceAccountDir: join(dir, 'no-sa')})
    expect(kc.getCurrentCluster()?.server).toBe('https://home.example')
  })

  it('says what is missing when there is no kubeconfig at all', () => {
    expect(loadError({}).message).toMatch(
      /^no kubeconfig: KUBECONFIG is not set, .*no-home\/.kube\/config does not exist, and this is not a pod/,
    )
    expect(loadError({}, {KUBECONFIG: join(dir, 'a')}).message).toBe(
      `no kubeconfig: KUBECONFIG names ${join(dir, 'a')}, which does not exist`,
    )
    expect(loadError({}, {KUBECONFIG: `${join(dir, 'a')}:${join(dir, 'b')}`}).message).toMatch(
      /none of the files KUBECONFIG names exists/,
    )
  })

  it("resolves relative file references against the kubeconfig's folder", () => {
    const file = kubeconfig(`clusters: [{name: c, cluster: {server: 'https://x', certificate-authority: ca.pem}}]
users: [{name: u, user: {client-certificate: certs/me.pem, client-key: certs/me-key.pem}}]
contexts: [{name: ctx, context: {cluster: c, user: u}}]
current-context: ctx
`)
    const folder = join(file, '..')
    mkdirSync(join(folder, 'certs'))
    for (const f of ['ca.pem', 'certs/me.pem', 'certs/me-key.pem'])
      writeFileSync(join(folder, f), '-----BEGIN CERTIFICATE-----\n')
    const kc = load({kubeconfig: file})
    expect(kc.getCurrentCluster()?.caFile).toBe(join(folder, 'ca.pem'))
    expect(kc.getCurrentUser()?.certFile).toBe(join(folder, 'certs/me.pem'))
    expect(kc.getCurrentUser()?.keyFile).toBe(join(folder, 'certs/me-key.pem'))
  })

  it('lets a plain http:// server (kubectl proxy) through, which the client alone refuses', () => {
    const kc = load({kubeconfig: kubeconfig(simple('http://127.0.0.1:8001/'))})
    expect(kc.getCurrentCluster()).toMatchObject({server: 'http://127.0.0.1:8001', skipTLSVerify: true})
    expect(() => kc.makeApiClient(CoreV1Api)).not.toThrow()
  })
})

describe('a kubeconfig that is broken: one line naming the file, never its content', () => {
  const check = (text: string, expected: RegExp) => {
    const file = kubeconfig(text)
    const error = loadError({kubeconfig: file})
    expect(error.message).toMatch(expected)
    expect(error.message).toContain(file)
    expect(error.message).not.toContain('\n')
    expect(`${error.message} ${error.hint ?? ''}`).not.toContain(FAKE_TOKEN.slice(3))
    return error
  }

  it("is not YAML (the parser's excerpt with the token is left out)", () => {
    check(
      `users:\n- name: u\n  user:\n    token: ${FAKE_TOKEN}\n   broken: [\n`,
      /is not valid YAML: .* \(line \d+, column \d+\)$/,
    )
    check(`users:\n- name: u\n  user: {token: "${FAKE_TOKEN}`, /is not valid YAML/)
    check(`users:\n- name: u\n  user:\n    token: *${FAKE_TOKEN}\n`, /is not valid YAML: unidentified alias \(line 4/)
    check(`users:\n- name: u\n  user:\n    token: !${FAKE_TOKEN} x\n`, /is not valid YAML: unknown tag/)
    check(`a: 1\na: ${FAKE_TOKEN}\n`, /duplicated mapping key/)
  })

  it('is not a kubeconfig, or has a field of the wrong type', () => {
    check(`- ${FAKE_TOKEN}\n`, /is not a kubeconfig: its top level is a list, not a mapping$/)
    check(`${FAKE_TOKEN}\n`, /is not a kubeconfig: its top level is a string/)
    check(`users: {token: ${FAKE_TOKEN}}\n`, /: users must be a list, not a mapping$/)
    check(`users: [{user: {token: ${FAKE_TOKEN}}}]\n`, /: users\[0\] has no name$/)
    check(`users: [{name: u, user: {token: [${FAKE_TOKEN}]}}]\n`, /: user `u`: token must be a string, not a list$/)
    check(
      `clusters: [{name: c, cluster: {server: https://x, insecure-skip-tls-verify: "${FAKE_TOKEN}"}}]\n`,
      /cluster `c`: insecure-skip-tls-verify must be true or false, not a string$/,
    )
    check(
      `users: [{name: u, user: {exec: {command: x, apiVersion: client.authentication.k8s.io/v1, args: [1]}}}]\n`,
      /user `u`: exec: args\[0\] must be a string, not a number$/,
    )
    check(
      `users: [{name: u, user: {exec: {command: x}}}]\n`,
      /user `u`: exec: apiVersion must be client.authentication.k8s.io\/v1 or v1beta1$/,
    )
  })

  it('cannot be read', () => {
    expect(loadError({kubeconfig: join(dir, 'nope')}).message).toBe(
      `kubeconfig ${join(dir, 'nope')} cannot be read: it does not exist`,
    )
    expect(loadError({kubeconfig: dir}).message).toBe(`kubeconfig ${dir} cannot be read: it is a folder`)
  })

  it('names a context, cluster, user or file that is not there', () => {
    const base = 'clusters: [{name: c, cluster: {server: "https://x"}}]\nusers: [{name: u, user: {token: t}}]\n'
    check(`${base}contexts: [{name: ctx, context: {cluster: c}}]\n`, /sets no current context$/)
    check(`${base}current-context: gone\n`, /the current context `gone` of kubeconfig .* is not defined there$/)
    check(
      `${base}contexts: [{name: ctx, context: {cluster: other, user: u}}]\ncurrent-context: ctx\n`,
      /context `ctx` names cluster `other`, which kubeconfig .* does not define$/,
    )
    check(
      `${base}contexts: [{name: ctx, context: {cluster: c, user: nobody}}]\ncurrent-context: ctx\n`,
      /context `ctx` names user `nobody`, which/,
    )
    check(
      `clusters: [{name: c, cluster: {}}]\ncontexts: [{name: ctx, context: {cluster: c}}]\ncurrent-context: ctx\n`,
      /cluster `c` has no server$/,
    )
    check(
      `clusters: [{name: c, cluster: {server: "ftp://x"}}]\ncontexts: [{name: ctx, context: {cluster: c}}]\ncurrent-context: ctx\n`,
      /cluster `c`: server must be an https:\/\/ \(or http:\/\/\) URL$/,
    )
    check(
      `clusters: [{name: c, cluster: {server: "https://x", certificate-authority: nope.pem}}]\ncontexts: [{name: ctx, context: {cluster: c}}]\ncurrent-context: ctx\n`,
      /cluster `c`: certificate-authority .*nope.pem cannot be read: it does not exist$/,
    )
    check(
      `clusters: [{name: c, cluster: {server: "https://x", certificate-authority-data: "${FAKE_TOKEN}"}}]\ncontexts: [{name: ctx, context: {cluster: c}}]\ncurrent-context: ctx\n`,
      /certificate-authority-data is not base64-encoded PEM data$/,
    )
    check(
      `${base.replace('token: t', 'token-file: gone.txt')}contexts: [{name: ctx, context: {cluster: c, user: u}}]\ncurrent-context: ctx\n`,
      /user `u`: token-file .*gone.txt cannot be read: it does not exist$/,
    )
    const error = loadError({
      kubeconfig: kubeconfig(
        `${base}contexts: [{name: a, context: {cluster: c}}, {name: b, context: {cluster: c}}]\ncurrent-context: a\n`,
      ),
      context: 'zzz',
    })
    expect(error.message).toMatch(/^no context `zzz` in kubeconfig /)
    expect(error.hint).toBe('contexts: a, b')
  })

  it('names a context namespace that cannot be a namespace', () => {
    const kc = load({kubeconfig: kubeconfig(simple('https://x').replace('namespace: team-a', 'namespace: Team_A'))})
    expect(() => contextNamespace(kc)).toThrow(
      /the namespace of kubeconfig context `ctx` is not a valid namespace name/,
    )
  })
})

describe('proxies as kubectl picks them from the environment', () => {
  const proxy = 'http://proxy.corp:3128'
  const pick = (server: string, env: NodeJS.ProcessEnv) => proxyFromEnvironment(server, env)

  it('uses HTTPS_PROXY for https and HTTP_PROXY for http, either case, a bare host:port as http://', () => {
    expect(pick('https://api.example:6443', {HTTPS_PROXY: proxy})).toBe(proxy)
    expect(pick('https://api.example:6443', {https_proxy: proxy})).toBe(proxy)
    expect(pick('https://api.example:6443', {HTTP_PROXY: proxy})).toBeUndefined()
    expect(pick('http://api.example:8001', {HTTP_PROXY: proxy})).toBe(proxy)
    expect(pick('https://api.example', {HTTPS_PROXY: 'proxy.corp:3128'})).toBe(proxy)
    expect(pick('https://api.example', {HTTPS_PROXY: 'socks5://127.0.0.1:1080'})).toBe('socks5://127.0.0.1:1080')
    expect(() => pick('https://api.example', {HTTPS_PROXY: 'ftp://user:secret@proxy'})).toThrow(
      /^HTTPS_PROXY: unsupported proxy scheme ftp/,
    )
  })

  it('never proxies localhost or loopback addresses', () => {
    for (const server of [
      'https://localhost:6443',
      'https://127.0.0.1:6443',
      'https://127.1.2.3',
      'https://[::1]:6443',
    ]) {
      expect(pick(server, {HTTPS_PROXY: proxy})).toBeUndefined()
    }
    expect(pick('https://10.0.0.1:6443', {HTTPS_PROXY: proxy})).toBe(proxy)
  })

  it('honours NO_PROXY as Go does: *, domains with subdomains, .subdomains only, IPs, CIDRs, ports', () => {
    const bypassed = (server: string, noProxy: string) =>
      pick(server, {HTTPS_PROXY: proxy, NO_PROXY: noProxy}) === undefined
    expect(bypassed('https://api.example', '*')).toBe(true)
    expect(bypassed('https://api.example', 'example')).toBe(true)
    expect(bypassed('https://api.example', 'api.example')).toBe(true)
    expect(bypassed('https://API.Example', 'api.example')).toBe(true)
    expect(bypassed('https://a.api.example', 'api.example')).toBe(true)
    expect(bypassed('https://a.api.example', '*.api.example')).toBe(true)
    expect(bypassed('https://api.example', '.api.example')).toBe(false)
    expect(bypassed('https://x.api.example', '.api.example')).toBe(true)
    expect(bypassed('https://notapi.example', 'api.example')).toBe(false)
    expect(bypassed('https://api.example:6443', 'api.example:6443')).toBe(true)
    expect(bypassed('https://api.example:6443', 'api.example:443')).toBe(false)
    expect(bypassed('https://api.example', 'api.example:443')).toBe(true)
    expect(bypassed('https://10.1.2.3:6443', '10.0.0.0/8')).toBe(true)
    expect(bypassed('https://11.1.2.3:6443', '10.0.0.0/8')).toBe(false)
    expect(bypassed('https://10.1.2.3:6443', ' other.example , 10.1.2.3 ')).toBe(true)
    expect(bypassed('https://10.1.2.3:6443', '10.1.2.3:6443')).toBe(true)
    expect(bypassed('https://10.1.2.3:6443', '10.1.2.3:443')).toBe(false)
    expect(bypassed('https://[fd00::5]:6443', 'fd00::/8')).toBe(true)
    expect(bypassed('https://[fd00::5]:6443', '[fd00::5]:6443')).toBe(true)
    expect(pick('https://api.example', {HTTPS_PROXY: proxy, no_proxy: 'example'})).toBeUndefined()
  })

  it("takes the kubeconfig's proxy-url over the environment, even for loopback", () => {
    const kc = load(
      {
        kubeconfig: kubeconfig(
          simple('https://127.0.0.1:6443').replace(
            "server: 'https://127.0.0.1:6443'",
            "server: 'https://127.0.0.1:6443', proxy-url: 'socks5://127.0.0.1:1080'",
          ),
        ),
      },
      {HTTPS_PROXY: proxy},
    )
    expect(kc.getCurrentCluster()?.proxyUrl).toBe('socks5://127.0.0.1:1080')
    expect(
      load(
        {kubeconfig: kubeconfig(simple('https://api.example'))},
        {HTTPS_PROXY: proxy, NO_PROXY: '.other'},
      ).getCurrentCluster()?.proxyUrl,
    ).toBe(proxy)
  })
})

describe("in a pod: the ServiceAccount's configuration", () => {
  it("is used when there is no kubeconfig, with the pod's namespace as the context's", async () => {
    const sa = join(dir, 'sa')
    mkdirSync(sa)
    writeFileSync(join(sa, 'token'), 'pod-token')
    writeFileSync(join(sa, 'namespace'), 'ci-runners\n')
    const kc = loadKubeConfig(
      {},
      {
        env: {KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443'},
        home: join(dir, 'no-home'),
        serviceAccountDir: sa,
      },
    )
    expect(kc.getCurrentCluster()?.server).toBe('https://[fd00::1]:443')
    expect(contextNamespace(kc)).toBe('ci-runners')
    const opts: https.RequestOptions = {}
    await kc.applyToHTTPSOptions(opts)
    expect((opts.headers as Record<string, string>).Authorization).toBe('Bearer pod-token')
    // Not a pod: the variables are missing.
    expect(() => loadKubeConfig({}, {env: {}, home: join(dir, 'no-home'), serviceAccountDir: sa})).toThrow(
      /no kubeconfig/,
    )
  })
})

/** A tiny API server answering every request with an empty NodeList, recording the Authorization headers. */
function fakeApi(tls?: {
  key: string
  cert: string
  ca: string
}): Promise<{port: number; auth: string[]; clientCerts: string[]; close: () => void}> {
  const auth: string[] = []
  const clientCerts: string[] = []
  const handler: http.RequestListener = (req, res) => {
    auth.push(String(req.headers.authorization ?? ''))
    const peer = (req.socket as TLSSocket).getPeerCertificate?.()
    if (peer?.subject) clientCerts.push(String(peer.subject.CN))
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({kind: 'NodeList', apiVersion: 'v1', metadata: {}, items: []}))
  }
  const server = tls
    ? https.createServer({...tls, requestCert: true, rejectUnauthorized: false}, handler)
    : http.createServer(handler)
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        auth,
        clientCerts,
        close: () => server.close(),
      }),
    ),
  )
}

/** A CONNECT proxy that sends every tunnel to 127.0.0.1 (so names that do not resolve work through it only). */
function connectProxy(): Promise<{url: string; seen: string[]; close: () => void}> {
  const seen: string[] = []
  const sockets = new Set<net.Socket>()
  const server = http.createServer((_req, res) => res.writeHead(405).end())
  server.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    seen.push(req.url ?? '')
    const upstream = net.connect(Number((req.url ?? '').split(':').pop()), '127.0.0.1', () => {
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

describe('logging in, against a local fake API server', () => {
  let api: Awaited<ReturnType<typeof fakeApi>>
  beforeAll(async () => {
    api = await fakeApi()
  })
  afterAll(() => api.close())
  const server = () => `http://127.0.0.1:${api.port}`
  const lastAuth = () => api.auth[api.auth.length - 1]
  const listNodes = (kc: ReturnType<typeof load>) => kc.makeApiClient(CoreV1Api).listNode()
  const failure = async (kc: ReturnType<typeof load>): Promise<ClusterError> => {
    try {
      await listNodes(kc)
    } catch (error) {
      return toClusterError(error, 'listing nodes', server())
    }
    throw new Error('expected the request to fail')
  }

  /** An exec plugin script; it counts its runs in `<script>.count` and keeps KUBERNETES_EXEC_INFO in `<script>.info`. */
  function plugin(body: string): string {
    const script = join(dir, `plugin-${++counter}.sh`)
    writeFileSync(
      script,
      `#!/bin/sh\necho run >> "$0.count"\nprintf '%s' "$KUBERNETES_EXEC_INFO" > "$0.info"\n${body}\n`,
    )
    chmodSync(script, 0o755)
    return script
  }
  const runs = (script: string) => readFileSync(`${script}.count`, 'utf8').split('\n').filter(Boolean).length
  const execUser = (command: string, extra = '') =>
    `exec: {apiVersion: client.authentication.k8s.io/v1, command: '${command}', interactiveMode: Never${extra}}`
  const credential = (status: string) =>
    `echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":${status}}'`

  it("sends a bearer token, and a token-file's token without its newline", async () => {
    await listNodes(load({kubeconfig: kubeconfig(simple(server(), 'token: plain-token'))}))
    expect(lastAuth()).toBe('Bearer plain-token')
    const file = kubeconfig(simple(server(), 'token-file: token.txt'))
    writeFileSync(join(file, '..', 'token.txt'), 'file-token\n')
    await listNodes(load({kubeconfig: file}))
    expect(lastAuth()).toBe('Bearer file-token')
  })

  it('runs an exec plugin once for many requests, with its env and KUBERNETES_EXEC_INFO', async () => {
    const script = plugin(`test "$TEAM" = blue || exit 9\n${credential('{"token":"plugin-token"}')}`)
    const kc = load({
      kubeconfig: kubeconfig(
        simple(server(), execUser(script, ', env: [{name: TEAM, value: blue}], provideClusterInfo: true')),
      ),
    })
    await authenticate(kc)
    await Promise.all([listNodes(kc), listNodes(kc), listNodes(kc)])
    await listNodes(kc)
    expect(api.auth.slice(-4)).toEqual(Array(4).fill('Bearer plugin-token'))
    expect(runs(script)).toBe(1)
    expect(JSON.parse(readFileSync(`${script}.info`, 'utf8'))).toEqual({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      spec: {interactive: false, cluster: {server: server()}},
    })
  })

  it('runs the plugin again once its credential has expired', async () => {
    const script = plugin(credential('{"token":"short-lived","expirationTimestamp":"2000-01-01T00:00:00Z"}'))
    const kc = load({kubeconfig: kubeconfig(simple(server(), execUser(script)))})
    await listNodes(kc)
    await listNodes(kc)
    expect(runs(script)).toBe(2)
  })

  it("resolves a plugin command with a path separator against the kubeconfig's folder", async () => {
    const file = kubeconfig(simple(server(), execUser('./bin/login')))
    mkdirSync(join(file, '..', 'bin'))
    writeFileSync(join(file, '..', 'bin', 'login'), `#!/bin/sh\n${credential('{"token":"relative"}')}\n`)
    chmodSync(join(file, '..', 'bin', 'login'), 0o755)
    await listNodes(load({kubeconfig: file}))
    expect(lastAuth()).toBe('Bearer relative')
  })

  it('reports a plugin that is missing, fails or prints something else in one line, without its output', async () => {
    const missing = await failure(
      load({
        kubeconfig: kubeconfig(
          simple(
            server(),
            execUser('wpk8s-no-such-plugin', ', installHint: "install it with: brew install thing\\nmore"'),
          ),
        ),
      }),
    )
    expect(missing.message).toMatch(/^kubeconfig .*: user `u`: exec plugin `wpk8s-no-such-plugin` was not found$/)
    expect(missing.hint).toBe('install it with: brew install thing')
    // authenticate() logs in before anything else, so a run never starts with a login that fails.
    await expect(
      authenticate(load({kubeconfig: kubeconfig(simple(server(), execUser('wpk8s-no-such-plugin')))})),
    ).rejects.toThrow(/exec plugin `wpk8s-no-such-plugin` was not found$/)
    const failing = await failure(
      load({
        kubeconfig: kubeconfig(
          simple(
            server(),
            execUser(plugin('echo; echo "  Unable to locate credentials  " >&2; echo second line >&2; exit 3')),
          ),
        ),
      }),
    )
    expect(failing.message).toMatch(
      /: user `u`: exec plugin `.*plugin-\d+\.sh` failed \(exit code 3\): Unable to locate credentials$/,
    )
    const silent = await failure(load({kubeconfig: kubeconfig(simple(server(), execUser(plugin('exit 1'))))}))
    expect(silent.message).toMatch(/failed \(exit code 1\), printing nothing on stderr$/)
    const garbage = await failure(
      load({kubeconfig: kubeconfig(simple(server(), execUser(plugin(`echo "token ${FAKE_TOKEN}"`))))}),
    )
    expect(garbage.message).toMatch(/printed no ExecCredential: its output is not JSON$/)
    expect(garbage.message).not.toContain(FAKE_TOKEN)
    const empty = await failure(load({kubeconfig: kubeconfig(simple(server(), execUser(plugin(credential('{}')))))}))
    expect(empty.message).toMatch(/printed an ExecCredential without a token or client certificate$/)
    const version = await failure(
      load({
        kubeconfig: kubeconfig(
          simple(server(), execUser(plugin(credential('{"token":"x"}').replace('/v1"', '/v1beta1"')))),
        ),
      }),
    )
    expect(version.message).toMatch(
      /answered with client.authentication.k8s.io\/v1beta1, but its kubeconfig asks for client.authentication.k8s.io\/v1$/,
    )
    const always = await failure(
      load({
        kubeconfig: kubeconfig(
          simple(server(), execUser(plugin(credential('{"token":"x"}'))).replace('Never', 'Always')),
        ),
      }),
    )
    expect(always.message).toMatch(/needs a terminal \(interactiveMode: Always\), and standard input is not one$/)
  })

  it('goes through HTTP_PROXY, to a name only the proxy knows', async () => {
    const proxy = await connectProxy()
    try {
      const kc = load(
        {kubeconfig: kubeconfig(simple(`http://api.wpk8s.invalid:${api.port}`, 'token: via-proxy'))},
        {HTTP_PROXY: proxy.url},
      )
      await listNodes(kc)
      expect(lastAuth()).toBe('Bearer via-proxy')
      expect(proxy.seen).toContain(`api.wpk8s.invalid:${api.port}`)
    } finally {
      proxy.close()
    }
  })
})

describe('client certificates, against a local TLS server', () => {
  const pki = join(dir, 'pki')
  const openssl = (...args: string[]) => execFileSync('openssl', args, {cwd: pki, stdio: 'ignore'})
  let api: Awaited<ReturnType<typeof fakeApi>>
  const pem = (f: string) => readFileSync(join(pki, f), 'utf8')
  const b64 = (f: string) => Buffer.from(pem(f)).toString('base64')

  beforeAll(async () => {
    mkdirSync(pki)
    openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-subj',
      '/CN=test-ca',
      '-days',
      '2',
    )
    writeFileSync(join(pki, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n')
    for (const [name, extra] of [
      ['server', ['-extfile', 'san.ext']],
      ['alice', []],
    ] as const) {
      openssl(
        'req',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.csr`,
        '-subj',
        `/CN=${name}`,
      )
      openssl(
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        `${name}.crt`,
        '-days',
        '2',
        ...extra,
      )
    }
    api = await fakeApi({key: pem('server.key'), cert: pem('server.crt'), ca: pem('ca.crt')})
  }, 60_000)
  afterAll(() => api?.close())

  const config = (
    user: string,
    ca = `certificate-authority: ${join(pki, 'ca.crt')}`,
  ) => `clusters: [{name: c, cluster: {server: 'https://127.0.0.1:${api.port}', ${ca}}}]
users: [{name: u, user: {${user}}}]
contexts: [{name: ctx, context: {cluster: c, user: u}}]
current-context: ctx
`

  it('presents client-certificate and client-key files, or their -data', async () => {
    await load({
      kubeconfig: kubeconfig(
        config(`client-certificate: ${join(pki, 'alice.crt')}, client-key: ${join(pki, 'alice.key')}`),
      ),
    })
      .makeApiClient(CoreV1Api)
      .listNode()
    await load({
      kubeconfig: kubeconfig(
        config(
          `client-certificate-data: ${b64('alice.crt')}, client-key-data: ${b64('alice.key')}`,
          `certificate-authority-data: ${b64('ca.crt')}`,
        ),
      ),
    })
      .makeApiClient(CoreV1Api)
      .listNode()
    expect(api.clientCerts).toEqual(['alice', 'alice'])
  })

  it('presents a client certificate an exec plugin prints', async () => {
    const status = JSON.stringify({clientCertificateData: pem('alice.crt'), clientKeyData: pem('alice.key')})
    const script = join(pki, 'cert-plugin.sh')
    writeFileSync(
      script,
      `#!/bin/sh\ncat <<'EOF'\n${JSON.stringify({apiVersion: 'client.authentication.k8s.io/v1beta1', kind: 'ExecCredential', status: JSON.parse(status)})}\nEOF\n`,
    )
    chmodSync(script, 0o755)
    await load({
      kubeconfig: kubeconfig(config(`exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: '${script}'}`)),
    })
      .makeApiClient(CoreV1Api)
      .listNode()
    expect(api.clientCerts.at(-1)).toBe('alice')
    expect(api.auth.at(-1)).toBe('')
  })
})
