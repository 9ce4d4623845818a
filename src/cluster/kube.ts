import type * as k8s from '@kubernetes/client-node'
import {type ChildProcess, spawn} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import {BlockList, isIP} from 'node:net'
import {homedir} from 'node:os'
import {delimiter, dirname, isAbsolute, join, resolve} from 'node:path'
import {type Duplex, PassThrough, type Readable, Writable} from 'node:stream'
import jsYaml from 'js-yaml'
import {ClusterError, errorMessage} from '../errors.js'
import {dns1123Label} from '../validate/kube-rules.js'
import type {
  CacheUse,
  Cluster,
  ClusterTarget,
  FollowOptions,
  Heartbeat,
  Payload,
  PodReadiness,
  PodRequest,
  PodTimeline,
  RunObject,
} from './cluster.js'
import {CoreV1Api, Exec, KubeConfig, Log, PortForward, Watch} from './k8s-client.js'
import {createUnlessExists, ExecDroppedError, isConflict, isForbidden, isNotFound, toClusterError} from './errors.js'
import {LogCursor} from './log-lines.js'
import {type PodState, podState} from './pod-state.js'

/** Where loadKubeConfig looks besides its target; tests pass their own environment, home and ServiceAccount folder. */
export interface KubeconfigPlaces {
  env?: NodeJS.ProcessEnv
  home?: string
  /** Where a pod's ServiceAccount is mounted: `token`, `ca.crt`, `namespace`. */
  serviceAccountDir?: string
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount'
const EXEC_AUTH = 'wpk8s-exec'
const TOKEN_FILE_AUTH = 'wpk8s-token-file'
const EXEC_API_VERSIONS = [
  'client.authentication.k8s.io/v1',
  'client.authentication.k8s.io/v1beta1',
  'client.authentication.k8s.io/v1alpha1',
]

/**
 * Loads the kubeconfig like kubectl: --kubeconfig, else every file of KUBECONFIG (a list: missing files are
 * skipped, the first file to define a name or the current context wins), else ~/.kube/config, else the
 * ServiceAccount of the pod wpk8s runs in. Only the chosen context, its cluster and its user are kept, and
 * they are checked now: a problem is one line naming the file and what is wrong, never the file's content.
 * Exec credential plugins run once and their credential is kept until it expires; HTTPS_PROXY, HTTP_PROXY and
 * NO_PROXY apply as kubectl applies them, unless the cluster has a `proxy-url`.
 */
export function loadKubeConfig(target: ClusterTarget, places: KubeconfigPlaces = {}): k8s.KubeConfig {
  const env = places.env ?? process.env
  const home = join(places.home ?? homedir(), '.kube', 'config')
  const files = kubeconfigFiles(target, env, home)
  const config =
    files.length > 0
      ? mergeKubeconfigs(files.map(readKubeconfig))
      : inClusterKubeconfig(env, places.serviceAccountDir ?? SERVICE_ACCOUNT_DIR)
  if (!config) {
    throw new ClusterError(
      `no kubeconfig: KUBECONFIG is not set, ${home} does not exist, and this is not a pod with a service account`,
      "point KUBECONFIG or --kubeconfig at your cluster's kubeconfig (npm run cluster:up starts a local one)",
    )
  }
  return chooseContext(config, target.context, env)
}

/**
 * Logs in now: runs the user's exec plugin (its credential is kept for the requests that follow) and reads
 * its token and certificate files, so a login that fails stops wpk8s in one line before a run starts.
 */
export async function authenticate(kc: k8s.KubeConfig): Promise<void> {
  try {
    await kc.applyToHTTPSOptions({})
  } catch (error) {
    if (error instanceof ClusterError) throw error
    throw new ClusterError(
      `logging in as kubeconfig user \`${kc.getCurrentUser()?.name ?? ''}\`: ${(error as Error).message}`,
    )
  }
}

/**
 * The namespace of the kubeconfig's current context (in a pod without a kubeconfig: the pod's own), for
 * `--use-context-namespace`; undefined when the context names none.
 */
export function contextNamespace(kc: k8s.KubeConfig): string | undefined {
  const context = kc.getContextObject(kc.getCurrentContext())
  if (!context?.namespace) return undefined
  const problem = dns1123Label(context.namespace)
  if (problem)
    throw new ClusterError(
      `the namespace of kubeconfig context \`${context.name}\` is not a valid namespace name: ${problem}`,
    )
  return context.namespace
}

/**
 * The proxy kubectl would use for `server` from the environment (Go's rules): HTTPS_PROXY for https, HTTP_PROXY
 * for http (either in lower case too), none for localhost and loopback addresses or for a NO_PROXY match
 * (`*`, a domain and its subdomains, `.domain` for subdomains only, an IP, a CIDR, each with an optional `:port`).
 */
export function proxyFromEnvironment(server: string, env: NodeJS.ProcessEnv): string | undefined {
  const url = new URL(server)
  const secure = url.protocol === 'https:'
  const proxy = secure ? env.HTTPS_PROXY || env.https_proxy : env.HTTP_PROXY || env.http_proxy
  if (!proxy) return undefined
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase()
  const port = url.port || (secure ? '443' : '80')
  if (host === 'localhost' || isLoopback(host)) return undefined
  if (noProxyMatches(host, port, env.NO_PROXY || env.no_proxy || '')) return undefined
  return checkProxyUrl(proxy, secure ? 'HTTPS_PROXY' : 'HTTP_PROXY')
}

function isLoopback(host: string): boolean {
  if (isIP(host) === 4) return host.startsWith('127.')
  return isIP(host) === 6 && (host === '::1' || /^(0{0,4}:){7}0{0,3}1$/.test(host) || /^::ffff:127\./.test(host))
}

function noProxyMatches(host: string, port: string, noProxy: string): boolean {
  const ip = isIP(host)
  for (const raw of noProxy.split(',')) {
    const entry = raw.trim().toLowerCase()
    if (!entry) continue
    if (entry === '*') return true
    const cidr = /^(.+)\/(\d{1,3})$/.exec(entry)
    if (cidr && isIP(cidr[1])) {
      if (ip === isIP(cidr[1])) {
        const list = new BlockList()
        list.addSubnet(cidr[1], Number(cidr[2]), ip === 4 ? 'ipv4' : 'ipv6')
        if (list.check(host, ip === 4 ? 'ipv4' : 'ipv6')) return true
      }
      continue
    }
    const hostPort =
      /^\[([^\]]+)\]:(\d+)$/.exec(entry) ?? (entry.split(':').length === 2 ? /^([^:]+):(\d+)$/.exec(entry) : null)
    let entryHost = hostPort ? hostPort[1] : entry
    const entryPort = hostPort?.[2] ?? ''
    if (isIP(entryHost)) {
      if (ip && sameAddress(entryHost, host) && (!entryPort || entryPort === port)) return true
      continue
    }
    if (entryHost.startsWith('*.')) entryHost = entryHost.slice(1)
    const matchHost = !entryHost.startsWith('.')
    if (matchHost) entryHost = `.${entryHost}`
    if ((host.endsWith(entryHost) || (matchHost && host === entryHost.slice(1))) && (!entryPort || entryPort === port))
      return true
  }
  return false
}

function sameAddress(a: string, b: string): boolean {
  if (isIP(a) !== isIP(b)) return false
  const list = new BlockList()
  list.addAddress(a, isIP(a) === 4 ? 'ipv4' : 'ipv6')
  return list.check(b, isIP(b) === 4 ? 'ipv4' : 'ipv6')
}

/** A proxy URL as Go reads it (no scheme means http://); its credentials never appear in a message. */
function checkProxyUrl(proxy: string, where: string): string {
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(proxy) ? proxy : `http://${proxy}`
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new ClusterError(`${where} is not a URL`)
  }
  if (!['http:', 'https:', 'socks5:', 'socks5h:', 'socks4:', 'socks4a:', 'socks:'].includes(url.protocol)) {
    throw new ClusterError(
      `${where}: unsupported proxy scheme ${url.protocol.slice(0, -1)} (http, https and socks5 work)`,
    )
  }
  if (!url.hostname) throw new ClusterError(`${where} names no host`)
  return text
}

interface ExecConfig {
  command: string
  args: string[]
  env: {name: string; value: string}[]
  apiVersion: string
  installHint?: string
  provideClusterInfo: boolean
  interactiveMode: string
}

interface ClusterEntry {
  name: string
  file: string
  server?: string
  caData?: string
  caFile?: string
  skipTLSVerify: boolean
  tlsServerName?: string
  proxyUrl?: string
}

interface UserEntry {
  name: string
  file: string
  token?: string
  tokenFile?: string
  certData?: string
  certFile?: string
  keyData?: string
  keyFile?: string
  exec?: ExecConfig
  authProvider?: Record<string, unknown>
  username?: string
  password?: string
  impersonate?: string
}

interface ContextEntry {
  name: string
  file: string
  cluster?: string
  user?: string
  namespace?: string
}

interface Kubeconfig {
  files: string[]
  clusters: Map<string, ClusterEntry>
  users: Map<string, UserEntry>
  contexts: Map<string, ContextEntry>
  currentContext?: string
}

/** --kubeconfig, else the KUBECONFIG files that exist, else ~/.kube/config if it exists, else none (in-cluster). */
function kubeconfigFiles(target: ClusterTarget, env: NodeJS.ProcessEnv, home: string): string[] {
  if (target.kubeconfig) return [target.kubeconfig]
  if (env.KUBECONFIG) {
    const listed = [...new Set(env.KUBECONFIG.split(delimiter).filter(Boolean))]
    const present = listed.filter((f) => existsSync(f))
    if (present.length === 0)
      throw new ClusterError(
        `no kubeconfig: ${listed.length === 1 ? `KUBECONFIG names ${listed[0]}, which does not exist` : `none of the files KUBECONFIG names exists (${listed.join(', ')})`}`,
        "point KUBECONFIG or --kubeconfig at your cluster's kubeconfig",
      )
    return present
  }
  return existsSync(home) ? [home] : []
}

function fileProblem(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'ENOENT') return 'it does not exist'
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied'
  if (code === 'EISDIR') return 'it is a folder'
  return code ?? 'read error'
}

/** A YAML error without the excerpt of the file that YAML libraries add (it may hold a token). */
function yamlProblem(error: unknown): string {
  const e = error as {reason?: string; mark?: {line: number; column: number}}
  // Quoted names in a reason (an alias, a tag) come from the file: leave them out.
  const reason = (e.reason ?? 'cannot be parsed').replace(/\s*(?:"[^"]*"|'[^']*'|!<[^>]*>|!\S+)/g, '').trim()
  return e.mark ? `${reason} (line ${e.mark.line + 1}, column ${e.mark.column + 1})` : reason
}

function typeName(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'a mapping'
  if (typeof value === 'boolean') return 'true or false'
  return `a ${typeof value}`
}

const isMapping = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** Typed fields of one mapping of a kubeconfig; a wrong type names the field and the type found, never the value. */
class Fields {
  constructor(
    private readonly values: Record<string, unknown>,
    readonly where: string,
  ) {}

  private wrong(key: string, expected: string): ClusterError {
    return new ClusterError(`${this.where}: ${key} must be ${expected}, not ${typeName(this.values[key])}`)
  }

  string(key: string): string | undefined {
    const value = this.values[key]
    if (value === undefined || value === null) return undefined
    if (typeof value !== 'string') throw this.wrong(key, 'a string')
    return value
  }

  boolean(key: string): boolean | undefined {
    const value = this.values[key]
    if (value === undefined || value === null) return undefined
    if (typeof value !== 'boolean') throw this.wrong(key, 'true or false')
    return value
  }

  mapping(key: string): Record<string, unknown> | undefined {
    const value = this.values[key]
    if (value === undefined || value === null) return undefined
    if (!isMapping(value)) throw this.wrong(key, 'a mapping')
    return value
  }

  list(key: string): unknown[] {
    const value = this.values[key]
    if (value === undefined || value === null) return []
    if (!Array.isArray(value)) throw this.wrong(key, 'a list')
    return value
  }
}

function readKubeconfig(file: string): Kubeconfig {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new ClusterError(`kubeconfig ${file} cannot be read: ${fileProblem(error)}`)
  }
  let doc: unknown
  try {
    doc = jsYaml.load(text)
  } catch (error) {
    throw new ClusterError(`kubeconfig ${file} is not valid YAML: ${yamlProblem(error)}`)
  }
  const config: Kubeconfig = {files: [file], clusters: new Map(), users: new Map(), contexts: new Map()}
  if (doc === undefined || doc === null) return config
  if (!isMapping(doc))
    throw new ClusterError(`kubeconfig ${file} is not a kubeconfig: its top level is ${typeName(doc)}, not a mapping`)
  const top = new Fields(doc, `kubeconfig ${file}`)
  const dir = dirname(resolve(file))
  const path = (p: string | undefined) => (p ? resolve(dir, p) : undefined)
  const named = (key: 'clusters' | 'users' | 'contexts', inner: string) =>
    top.list(key).map((item, i) => {
      const where = `kubeconfig ${file}: ${key}[${i}]`
      if (!isMapping(item)) throw new ClusterError(`${where} must be a mapping, not ${typeName(item)}`)
      const name = new Fields(item, where).string('name')
      if (!name) throw new ClusterError(`${where} has no name`)
      const body = new Fields(item, where).mapping(inner) ?? {}
      return {
        name,
        fields: new Fields(body, `kubeconfig ${file}: ${inner} \`${name}\``),
        where: `kubeconfig ${file}: ${inner} \`${name}\``,
      }
    })
  const firstWins = <T>(map: Map<string, T>, name: string, value: T) => map.has(name) || map.set(name, value)
  for (const {name, fields} of named('clusters', 'cluster')) {
    firstWins(config.clusters, name, {
      name,
      file,
      server: fields.string('server'),
      caData: fields.string('certificate-authority-data'),
      caFile: path(fields.string('certificate-authority')),
      skipTLSVerify: fields.boolean('insecure-skip-tls-verify') ?? false,
      tlsServerName: fields.string('tls-server-name'),
      proxyUrl: fields.string('proxy-url'),
    })
  }
  for (const {name, fields, where} of named('users', 'user')) {
    const exec = fields.mapping('exec')
    firstWins(config.users, name, {
      name,
      file,
      token: fields.string('token'),
      tokenFile: path(fields.string('token-file')),
      certData: fields.string('client-certificate-data'),
      certFile: path(fields.string('client-certificate')),
      keyData: fields.string('client-key-data'),
      keyFile: path(fields.string('client-key')),
      exec: exec ? execConfig(new Fields(exec, `${where}: exec`), dir) : undefined,
      authProvider: fields.mapping('auth-provider'),
      username: fields.string('username'),
      password: fields.string('password'),
      impersonate: fields.string('as'),
    })
  }
  for (const {name, fields} of named('contexts', 'context')) {
    firstWins(config.contexts, name, {
      name,
      file,
      cluster: fields.string('cluster'),
      user: fields.string('user'),
      namespace: fields.string('namespace'),
    })
  }
  config.currentContext = top.string('current-context') || undefined
  return config
}

function execConfig(fields: Fields, dir: string): ExecConfig {
  const command = fields.string('command')
  if (!command) throw new ClusterError(`${fields.where}: command is missing`)
  const args = fields.list('args').map((a, i) => {
    if (typeof a !== 'string')
      throw new ClusterError(`${fields.where}: args[${i}] must be a string, not ${typeName(a)}`)
    return a
  })
  const env = fields.list('env').map((e, i) => {
    const item = isMapping(e) ? new Fields(e, `${fields.where}: env[${i}]`) : undefined
    const name = item?.string('name')
    if (!item || !name) throw new ClusterError(`${fields.where}: env[${i}] must be a mapping with a name and a value`)
    return {name, value: item.string('value') ?? ''}
  })
  const apiVersion = fields.string('apiVersion') ?? ''
  if (!EXEC_API_VERSIONS.includes(apiVersion))
    throw new ClusterError(`${fields.where}: apiVersion must be client.authentication.k8s.io/v1 or v1beta1`)
  const interactiveMode = fields.string('interactiveMode') ?? 'IfAvailable'
  if (!['Never', 'IfAvailable', 'Always'].includes(interactiveMode))
    throw new ClusterError(`${fields.where}: interactiveMode must be Never, IfAvailable or Always`)
  // kubectl resolves a command with a path separator against the kubeconfig's folder, and looks up a bare name in PATH.
  const resolved = /[/\\]/.test(command) && !isAbsolute(command) ? resolve(dir, command) : command
  return {
    command: resolved,
    args,
    env,
    apiVersion,
    installHint: fields.string('installHint'),
    provideClusterInfo: fields.boolean('provideClusterInfo') ?? false,
    interactiveMode,
  }
}

function mergeKubeconfigs(configs: Kubeconfig[]): Kubeconfig {
  const merged: Kubeconfig = {files: [], clusters: new Map(), users: new Map(), contexts: new Map()}
  for (const config of configs) {
    merged.files.push(...config.files)
    for (const key of ['clusters', 'users', 'contexts'] as const) {
      for (const [name, value] of config[key])
        if (!merged[key].has(name)) (merged[key] as Map<string, unknown>).set(name, value)
    }
    merged.currentContext ??= config.currentContext
  }
  return merged
}

/** The pod's ServiceAccount, as client-go's in-cluster configuration: KUBERNETES_SERVICE_HOST/PORT and a token file. */
function inClusterKubeconfig(env: NodeJS.ProcessEnv, dir: string): Kubeconfig | undefined {
  const host = env.KUBERNETES_SERVICE_HOST
  const port = env.KUBERNETES_SERVICE_PORT
  const tokenFile = join(dir, 'token')
  if (!host || !port || !existsSync(tokenFile)) return undefined
  const where = `the pod's service account (${dir})`
  const caFile = join(dir, 'ca.crt')
  let namespace: string | undefined
  try {
    namespace = readFileSync(join(dir, 'namespace'), 'utf8').trim() || undefined
  } catch {
    namespace = undefined
  }
  const name = 'in-cluster'
  return {
    files: [where],
    clusters: new Map([
      [
        name,
        {
          name,
          file: where,
          server: `https://${isIP(host) === 6 ? `[${host}]` : host}:${port}`,
          caFile: existsSync(caFile) ? caFile : undefined,
          skipTLSVerify: false,
        },
      ],
    ]),
    users: new Map([[name, {name, file: where, tokenFile}]]),
    contexts: new Map([[name, {name, file: where, cluster: name, user: name, namespace}]]),
    currentContext: name,
  }
}

function describeFiles(files: string[]): string {
  return files.length === 1
    ? files[0].startsWith('the pod')
      ? files[0]
      : `kubeconfig ${files[0]}`
    : `the kubeconfig files ${files.join(', ')}`
}

/** Data read now, so a missing file or a broken certificate is a clear message instead of a TLS error later. */
function checkPem(where: string, key: string, file: string | undefined, data: string | undefined): void {
  let text: string
  if (file) {
    try {
      text = readFileSync(file, 'latin1')
    } catch (error) {
      throw new ClusterError(`${where}: ${key} ${file} cannot be read: ${fileProblem(error)}`)
    }
    if (!text.includes('-----BEGIN ')) throw new ClusterError(`${where}: ${key} ${file} holds no PEM data`)
  } else if (data !== undefined) {
    if (!Buffer.from(data, 'base64').toString('latin1').includes('-----BEGIN '))
      throw new ClusterError(`${where}: ${key}-data is not base64-encoded PEM data`)
  }
}

function chooseContext(config: Kubeconfig, wanted: string | undefined, env: NodeJS.ProcessEnv): k8s.KubeConfig {
  const from = describeFiles(config.files)
  const names = [...config.contexts.keys()]
  const contextName = wanted ?? config.currentContext
  if (!contextName)
    throw new ClusterError(
      `${from} sets no current context`,
      names.length > 0
        ? `pass --context (contexts: ${names.join(', ')})`
        : "it defines no context either: point KUBECONFIG or --kubeconfig at your cluster's kubeconfig",
    )
  const context = config.contexts.get(contextName)
  if (!context) {
    if (wanted) throw new ClusterError(`no context \`${wanted}\` in ${from}`, `contexts: ${names.join(', ') || 'none'}`)
    throw new ClusterError(
      `the current context \`${contextName}\` of ${from} is not defined there`,
      `pass --context (contexts: ${names.join(', ') || 'none'})`,
    )
  }
  const contextWhere = `kubeconfig ${context.file}: context \`${context.name}\``
  if (!context.cluster) throw new ClusterError(`${contextWhere} names no cluster`)
  const cluster = config.clusters.get(context.cluster)
  if (!cluster)
    throw new ClusterError(`${contextWhere} names cluster \`${context.cluster}\`, which ${from} does not define`)
  const user = context.user ? config.users.get(context.user) : undefined
  if (context.user && !user)
    throw new ClusterError(`${contextWhere} names user \`${context.user}\`, which ${from} does not define`)
  const clusterWhere = `${cluster.file.startsWith('the pod') ? cluster.file : `kubeconfig ${cluster.file}`}: cluster \`${cluster.name}\``
  if (!cluster.server) throw new ClusterError(`${clusterWhere} has no server`)
  let server: URL
  try {
    server = new URL(cluster.server)
  } catch {
    throw new ClusterError(`${clusterWhere}: server is not a URL`)
  }
  if (server.protocol !== 'https:' && server.protocol !== 'http:')
    throw new ClusterError(`${clusterWhere}: server must be an https:// (or http://) URL`)
  checkPem(clusterWhere, 'certificate-authority', cluster.caFile, cluster.caData)
  const proxyUrl = cluster.proxyUrl
    ? checkProxyUrl(cluster.proxyUrl, `${clusterWhere}: proxy-url`)
    : proxyFromEnvironment(cluster.server, env)
  const kc = new KubeConfig()
  const clientCluster: k8s.Cluster = {
    name: cluster.name,
    server: cluster.server.replace(/\/$/, ''),
    caData: cluster.caData,
    caFile: cluster.caFile,
    tlsServerName: cluster.tlsServerName,
    proxyUrl,
    // The client refuses a plain http:// server (such as `kubectl proxy`) unless TLS checks are off; there is no TLS to check.
    skipTLSVerify: cluster.skipTLSVerify || server.protocol === 'http:',
  }
  const clientUser = user ? prepareUser(kc, user, cluster, proxyUrl, env) : undefined
  kc.loadFromOptions({
    clusters: [clientCluster],
    users: clientUser ? [clientUser] : [],
    contexts: [{name: context.name, cluster: cluster.name, user: clientUser?.name ?? '', namespace: context.namespace}],
    currentContext: context.name,
  })
  return kc
}

/** The client's user, with wpk8s's own handling of exec plugins and token files registered on `kc`. */
function prepareUser(
  kc: k8s.KubeConfig,
  user: UserEntry,
  cluster: ClusterEntry,
  proxyUrl: string | undefined,
  env: NodeJS.ProcessEnv,
): k8s.User {
  const where = `${user.file.startsWith('the pod') ? user.file : `kubeconfig ${user.file}`}: user \`${user.name}\``
  checkPem(where, 'client-certificate', user.certFile, user.certData)
  checkPem(where, 'client-key', user.keyFile, user.keyData)
  let authProvider: unknown = user.authProvider
  if (user.exec) {
    authProvider = {name: EXEC_AUTH}
    kc.addAuthenticator(new ExecPlugin(user.exec, where, {...cluster, proxyUrl}, env))
  } else if (user.tokenFile && !user.token) {
    authProvider = {name: TOKEN_FILE_AUTH}
    kc.addAuthenticator(new TokenFile(user.tokenFile, where))
  }
  return {
    name: user.name,
    token: user.token,
    certData: user.certData,
    certFile: user.certFile,
    keyData: user.keyData,
    keyFile: user.keyFile,
    authProvider,
    username: user.username,
    password: user.password,
    impersonateUser: user.impersonate,
  }
}

type AuthOptions = {headers?: unknown; cert?: unknown; key?: unknown}

function setBearer(opts: AuthOptions, token: string): void {
  opts.headers = {...(opts.headers as Record<string, string> | undefined), Authorization: `Bearer ${token}`}
}

/** A `token-file`, or a pod's ServiceAccount token: read now (so a missing file is reported at once) and again each minute, as client-go does. */
class TokenFile {
  private token = ''
  private readAt = 0

  constructor(
    private readonly path: string,
    private readonly where: string,
  ) {
    this.read()
  }

  private read(): void {
    let text: string
    try {
      text = readFileSync(this.path, 'utf8').trim()
    } catch (error) {
      throw new ClusterError(`${this.where}: token-file ${this.path} cannot be read: ${fileProblem(error)}`)
    }
    if (!text) throw new ClusterError(`${this.where}: token-file ${this.path} is empty`)
    this.token = text
    this.readAt = Date.now()
  }

  isAuthProvider(user: k8s.User): boolean {
    return (user.authProvider as {name?: string} | undefined)?.name === TOKEN_FILE_AUTH
  }

  async applyAuthentication(_user: k8s.User, opts: AuthOptions): Promise<void> {
    if (Date.now() - this.readAt > 60_000) {
      try {
        this.read()
      } catch {
        // A file being rotated: the last token stays until the next read.
      }
    }
    setBearer(opts, this.token)
  }
}

interface ExecCredentialStatus {
  token?: string
  clientCertificateData?: string
  clientKeyData?: string
  expirationTimestamp?: string
}

/**
 * An exec credential plugin (aws eks get-token, gke-gcloud-auth-plugin, kubelogin, ...), run as kubectl runs it:
 * KUBERNETES_EXEC_INFO and the configured env set, stdin and stderr of the terminal only when it may be interactive.
 * Its credential is kept until its expirationTimestamp (for the whole run without one), and concurrent requests share
 * one run of the plugin. A plugin that is missing or fails is one line: its command and its stderr's first line.
 */
class ExecPlugin {
  private cached?: {status: ExecCredentialStatus; until: number}
  private pending?: Promise<ExecCredentialStatus>

  constructor(
    private readonly exec: ExecConfig,
    private readonly where: string,
    private readonly cluster: ClusterEntry,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  isAuthProvider(user: k8s.User): boolean {
    return (user.authProvider as {name?: string} | undefined)?.name === EXEC_AUTH
  }

  async applyAuthentication(_user: k8s.User, opts: AuthOptions): Promise<void> {
    const status = await this.credential()
    if (status.clientCertificateData && status.clientKeyData) {
      opts.cert = status.clientCertificateData
      opts.key = status.clientKeyData
    }
    if (status.token) setBearer(opts, status.token)
  }

  private credential(): Promise<ExecCredentialStatus> {
    if (this.cached && Date.now() < this.cached.until) return Promise.resolve(this.cached.status)
    this.pending ??= this.run()
      .then((status) => {
        const expires = status.expirationTimestamp ? Date.parse(status.expirationTimestamp) : Number.POSITIVE_INFINITY
        this.cached = {status, until: Number.isNaN(expires) ? 0 : expires}
        return status
      })
      .finally(() => {
        this.pending = undefined
      })
    return this.pending
  }

  private run(): Promise<ExecCredentialStatus> {
    const {command, args, apiVersion, interactiveMode} = this.exec
    const name = `${this.where}: exec plugin \`${command}\``
    const terminal = Boolean(process.stdin.isTTY)
    if (interactiveMode === 'Always' && !terminal) {
      return Promise.reject(
        new ClusterError(`${name} needs a terminal (interactiveMode: Always), and standard input is not one`),
      )
    }
    const interactive = interactiveMode !== 'Never' && terminal
    const spec: Record<string, unknown> = {interactive}
    if (this.exec.provideClusterInfo) {
      spec.cluster = {
        server: this.cluster.server,
        'tls-server-name': this.cluster.tlsServerName,
        'insecure-skip-tls-verify': this.cluster.skipTLSVerify || undefined,
        'certificate-authority-data':
          this.cluster.caData ??
          (this.cluster.caFile ? readFileSync(this.cluster.caFile).toString('base64') : undefined),
        'proxy-url': this.cluster.proxyUrl,
      }
    }
    const env = {
      ...this.env,
      ...Object.fromEntries(this.exec.env.map((e) => [e.name, e.value])),
      KUBERNETES_EXEC_INFO: JSON.stringify({apiVersion, kind: 'ExecCredential', spec}),
    }
    return new Promise((resolveCredential, reject) => {
      const fail = (message: string, hint?: string) => reject(new ClusterError(`${name} ${message}`, hint))
      let child: ChildProcess
      try {
        child = spawn(command, args, {
          env,
          stdio: [interactive ? 'inherit' : 'ignore', 'pipe', 'pipe'],
          windowsHide: true,
        })
      } catch (error) {
        fail(`cannot be started: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
        return
      }
      let stdout = ''
      let stderr = ''
      let startError: NodeJS.ErrnoException | undefined
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk
        // A login that asks the user something (a device code, a browser) must be seen.
        if (interactive) process.stderr.write(chunk)
      })
      child.on('error', (error) => (startError = error))
      child.on('close', (code, signal) => {
        if (startError) {
          const missing = startError.code === 'ENOENT'
          const hint = this.exec.installHint?.trim().split('\n')[0]
          return fail(
            missing ? 'was not found' : `cannot be started: ${startError.code ?? startError.message}`,
            hint || (missing ? "install it, or fix the command of the user's exec section" : undefined),
          )
        }
        const first = stderr
          .split('\n')
          .map((l) => l.trim())
          .find(Boolean)
          ?.slice(0, 300)
        if (code !== 0)
          return fail(
            `failed (${signal ? `killed by ${signal}` : `exit code ${code}`})${first ? `: ${first}` : ', printing nothing on stderr'}`,
          )
        let credential: {apiVersion?: string; kind?: string; status?: ExecCredentialStatus}
        try {
          credential = JSON.parse(stdout) as typeof credential
        } catch {
          return fail('printed no ExecCredential: its output is not JSON')
        }
        if (!isMapping(credential) || (credential.kind !== undefined && credential.kind !== 'ExecCredential'))
          return fail('printed no ExecCredential')
        if (credential.apiVersion && credential.apiVersion !== apiVersion)
          return fail(`answered with ${credential.apiVersion}, but its kubeconfig asks for ${apiVersion}`)
        const status = credential.status
        if (
          !isMapping(status) ||
          (typeof status.token !== 'string' && !(status.clientCertificateData && status.clientKeyData))
        ) {
          return fail('printed an ExecCredential without a token or client certificate')
        }
        resolveCredential(status)
      })
    })
  }
}

/** Pod warnings that never explain a pod that is not ready. */
const IGNORED_POD_WARNINGS = new Set(['MissingClusterDNS', 'DNSConfigForming'])

/** Waiting reasons of a container that will not start by waiting (as pod-state.ts reads them for the first container). */
const CANNOT_START =
  /^(?:ErrImagePull|ImagePullBackOff|InvalidImageName|ErrImageNeverPull|CreateContainerConfigError|CreateContainerError|RunContainerError)$/

const EXEC_CHUNK = 1024 * 1024
/** Bytes an exec's websocket may hold unsent before reading more input (the client library itself never waits). */
const EXEC_BUFFERED_MAX = 4 * EXEC_CHUNK
const LOG_END_GRACE_MS = 2000

export class KubeCluster implements Cluster {
  readonly server: string
  private readonly core: k8s.CoreV1Api

  constructor(private readonly kc: k8s.KubeConfig) {
    this.server = kc.getCurrentCluster()?.server ?? 'unknown'
    this.core = kc.makeApiClient(CoreV1Api)
  }

  private async call<T>(doing: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request()
    } catch (error) {
      throw toClusterError(error, doing, this.server)
    }
  }

  async ensureNamespace(name: string): Promise<void> {
    try {
      await this.core.readNamespace({name})
      return
    } catch (error) {
      // A user with only a Role in the namespace may not read namespaces: the namespace exists for them.
      if (isForbidden(error)) return
      if (!isNotFound(error)) throw toClusterError(error, `reading namespace ${name}`, this.server)
    }
    // The workflows of a matrix or a folder (or two runs) may all find it missing at once: losing the race to create it is fine.
    await createUnlessExists(
      () => this.core.createNamespace({body: {metadata: {name}}}),
      `creating namespace ${name}`,
      this.server,
    )
    await this.waitForDefaultAccount(name)
  }

  /** A new namespace refuses pods until its controller has added the `default` ServiceAccount, a moment later. */
  private async waitForDefaultAccount(namespace: string): Promise<void> {
    const deadline = Date.now() + 15_000
    for (;;) {
      try {
        await this.core.readNamespacedServiceAccount({namespace, name: 'default'})
        return
      } catch (error) {
        // Not allowed to look, or another problem: creating the pods reports any that matters.
        if (!isNotFound(error) || Date.now() > deadline) return
      }
      await new Promise((r) => setTimeout(r, 100))
    }
  }

  async nodeArchitectures(): Promise<string[]> {
    let nodes: k8s.V1NodeList
    try {
      nodes = await this.core.listNode()
    } catch (error) {
      if (isForbidden(error))
        throw new ClusterError(
          'your user may not list nodes, so their architecture is unknown',
          'pass --platform, such as --platform linux/amd64, or set labels.platform in the pipeline',
        )
      throw toClusterError(error, 'listing nodes', this.server)
    }
    const schedulable = nodes.items.filter((n) => !n.spec?.unschedulable)
    return [
      ...new Set(
        schedulable.map((n) => n.metadata?.labels?.['kubernetes.io/arch']).filter((a): a is string => Boolean(a)),
      ),
    ].sort()
  }

  async createPvc(pvc: k8s.V1PersistentVolumeClaim): Promise<void> {
    await this.call(`creating volume claim ${pvc.metadata?.name}`, () =>
      this.core.createNamespacedPersistentVolumeClaim({namespace: pvc.metadata!.namespace!, body: pvc}),
    )
  }

  async waitPvcBound(namespace: string, name: string, timeoutMs: number): Promise<void> {
    const failed = this.watchEvents(namespace, 'PersistentVolumeClaim', name, ['ProvisioningFailed'])
    try {
      await Promise.race([
        this.watchUntil<k8s.V1PersistentVolumeClaim>(
          `/api/v1/namespaces/${namespace}/persistentvolumeclaims`,
          name,
          (pvc) => pvc.status?.phase === 'Bound',
          timeoutMs,
          `volume claim ${name} to bind`,
        ),
        failed.promise.then((event) => {
          throw new ClusterError(
            `the workspace volume ${name} cannot be provisioned: ${event.message}`,
            'use --no-storage-rwx (ReadWriteOnce) or a --storage-class that supports ReadWriteMany',
          )
        }),
      ])
    } finally {
      failed.stop()
    }
  }

  async createPod(pod: k8s.V1Pod): Promise<void> {
    await this.call(`creating pod ${pod.metadata?.name}`, () =>
      this.core.createNamespacedPod({namespace: pod.metadata!.namespace!, body: pod}),
    )
  }

  async createSecret(secret: k8s.V1Secret): Promise<void> {
    await this.call(`creating secret ${secret.metadata?.name}`, () =>
      this.core.createNamespacedSecret({namespace: secret.metadata!.namespace!, body: secret}),
    )
  }

  async watchPod(
    namespace: string,
    name: string,
    until: (state: PodState) => boolean,
    timeoutMs: number,
  ): Promise<PodState> {
    let last: PodState = {kind: 'pending'}
    await this.watchUntil<k8s.V1Pod>(
      `/api/v1/namespaces/${namespace}/pods`,
      name,
      (pod) => until((last = podState(pod))),
      timeoutMs,
      `pod ${name}`,
      () => {
        last = {kind: 'lost', reason: 'Deleted', message: `pod ${name} was deleted by someone else`}
        return until(last)
      },
    )
    return last
  }

  /**
   * Watches one object until `done` accepts it. The watch starts with the object's current state, is
   * re-established when the server closes it, and ends with a ClusterError after `timeoutMs`.
   */
  private watchUntil<T>(
    path: string,
    name: string,
    done: (obj: T) => boolean,
    timeoutMs: number,
    what: string,
    onDeleted?: () => boolean,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      let controller: AbortController | undefined
      let finished = false
      const finish = (error?: Error) => {
        if (finished) return
        finished = true
        clearTimeout(timer)
        controller?.abort()
        if (error) reject(error)
        else resolve()
      }
      const timer = setTimeout(
        () => finish(new ClusterError(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`)),
        timeoutMs,
      )
      const start = () => {
        if (finished) return
        new Watch(this.kc)
          .watch(
            path,
            {fieldSelector: `metadata.name=${name}`},
            (type, obj) => {
              try {
                if (type === 'DELETED' ? onDeleted?.() : type !== 'ERROR' && done(obj as T)) finish()
              } catch (error) {
                finish(error as Error)
              }
            },
            () => setTimeout(start, 200),
          )
          .then((c) => {
            controller = c
            if (finished) c.abort()
          })
          .catch((error) =>
            isRetryable(error)
              ? setTimeout(start, 500)
              : finish(toClusterError(error, `watching ${what}`, this.server)),
          )
      }
      start()
    })
  }

  /** Watches events of one object for the given reasons; `promise` resolves with the first such event. */
  private watchEvents(
    namespace: string,
    kind: string,
    name: string,
    reasons: string[],
  ): {promise: Promise<k8s.CoreV1Event>; stop: () => void} {
    let controller: AbortController | undefined
    let stopped = false
    const promise = new Promise<k8s.CoreV1Event>((resolve) => {
      const start = () => {
        if (stopped) return
        new Watch(this.kc)
          .watch(
            `/api/v1/namespaces/${namespace}/events`,
            {fieldSelector: `involvedObject.kind=${kind},involvedObject.name=${name}`},
            (type, event: k8s.CoreV1Event) => {
              if (type !== 'DELETED' && event.reason && reasons.includes(event.reason)) resolve(event)
            },
            () => setTimeout(start, 200),
          )
          .then((c) => {
            controller = c
            if (stopped) c.abort()
          })
          .catch(() => setTimeout(start, 500))
      }
      start()
    })
    return {
      promise,
      stop: () => {
        stopped = true
        controller?.abort()
      },
    }
  }

  async followLog(
    namespace: string,
    pod: string,
    container: string,
    onLine: (line: string) => void,
    options: FollowOptions = {},
  ): Promise<void> {
    const cursor = new LogCursor(onLine)
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.streamLog(namespace, pod, container, cursor, true, options)
      if (outcome === 'complete') return
      const state = await this.readPodState(namespace, pod)
      if (state.kind !== 'running' && state.kind !== 'pending') {
        if (outcome === 'dropped') {
          cursor.restart()
          await this.streamLog(namespace, pod, container, cursor, false, {ready: options.ready})
        }
        return
      }
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(2000, 100 * attempt)))
      cursor.restart()
    }
  }

  private async readPodState(namespace: string, name: string): Promise<PodState> {
    try {
      return podState(await this.core.readNamespacedPod({namespace, name}))
    } catch (error) {
      if (isNotFound(error)) return {kind: 'lost', reason: 'Deleted', message: `pod ${name} was deleted`}
      return {kind: 'running'}
    }
  }

  /** One log request: `ended` when the server ended the stream, `dropped` when it broke or stalled, `complete` on `options.complete`. */
  private async streamLog(
    namespace: string,
    pod: string,
    container: string,
    cursor: LogCursor,
    follow: boolean,
    options: FollowOptions,
  ): Promise<'ended' | 'dropped' | 'complete'> {
    const {ready, containerEnded, complete} = options
    const sink = new PassThrough()
    sink.setEncoding('utf8')
    sink.on('data', (chunk: string) => {
      cursor.push(chunk)
      // Backpressure: while the output is backed up, stop reading (and so the API server stops sending).
      const wait = ready?.()
      if (wait) {
        sink.pause()
        void wait.then(() => sink.resume())
      }
    })
    const ended = new Promise<'ended' | 'dropped'>((resolve) => {
      sink.on('end', () => resolve('ended'))
      sink.on('error', () => resolve('dropped'))
    })
    let controller: AbortController
    try {
      const sinceTime = cursor.resumeFrom
      controller = await new Log(this.kc).log(namespace, pod, container, sink, {
        follow,
        timestamps: true,
        ...(sinceTime ? {sinceTime} : {}),
      })
    } catch {
      return 'dropped'
    }
    // A broken connection may never end the stream: after the container ended, give it a moment, then drop it.
    const stalled = containerEnded?.then(
      () => new Promise<'dropped'>((resolve) => setTimeout(() => resolve('dropped'), LOG_END_GRACE_MS)),
    )
    const outcome = await Promise.race([
      ended,
      ...(stalled ? [stalled] : []),
      ...(complete ? [complete.then(() => 'complete' as const)] : []),
    ])
    if (outcome !== 'ended') {
      controller.abort()
      sink.removeAllListeners('data')
      return outcome
    }
    cursor.end()
    return outcome
  }

  async readLog(namespace: string, pod: string, container: string): Promise<string> {
    try {
      return await this.core.readNamespacedPodLog({namespace, name: pod, container})
    } catch (error) {
      throw toClusterError(error, `reading the log of pod ${pod}`, this.server)
    }
  }

  async execWithInput(
    namespace: string,
    pod: string,
    container: string,
    command: string[],
    input: Payload,
  ): Promise<{exitCode: number; stderr: string}> {
    const stdin = new PassThrough()
    let stderr = ''
    const errors = new Writable({
      write: (chunk, _enc, cb) => {
        stderr += chunk.toString()
        cb()
      },
    })
    return new Promise((resolve, reject) => {
      let settled = false
      let source: Readable | undefined
      const settle = (exitCode: number) => {
        if (settled) return
        settled = true
        source?.destroy()
        // Ending stdin only now: on the v4 exec protocol, ending it early closes the socket and loses the status.
        stdin.end()
        resolve({exitCode, stderr})
      }
      const fail = (error: Error) => {
        if (settled) return
        settled = true
        source?.destroy()
        reject(error)
      }
      new Exec(this.kc)
        .exec(namespace, pod, container, command, null, errors, stdin, false, (status) => {
          const code = status.details?.causes?.find((c) => c.reason === 'ExitCode')?.message
          settle(status.status === 'Success' ? 0 : Number(code ?? 1))
        })
        .then((socket) => {
          socket.on('close', () =>
            fail(
              new ExecDroppedError(`running ${command[0]} in pod ${pod}: the connection closed without an exit status`),
            ),
          )
          if (Buffer.isBuffer(input)) {
            // One websocket message per MiB: a single huge message is dropped by the API server.
            for (let offset = 0; offset < input.length; offset += EXEC_CHUNK)
              stdin.write(input.subarray(offset, offset + EXEC_CHUNK))
            return
          }
          const opened = input.open()
          source = opened
          feedExec(opened, stdin, socket, () => settled).catch((error: Error) =>
            fail(new ClusterError(`sending input to ${command[0]} in pod ${pod}: ${error.message}`)),
          )
        })
        .catch((error) => fail(toClusterError(error, `running ${command[0]} in pod ${pod}`, this.server)))
    })
  }

  async requestPod(
    namespace: string,
    pod: string,
    port: number,
    path: string,
    options: PodRequest,
  ): Promise<{statusCode: number; body: string}> {
    const server = new URL(this.server)
    const {body} = options
    const request: https.RequestOptions = {
      method: options.method,
      hostname: server.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: server.port || undefined,
      path: `${server.pathname.replace(/\/$/, '')}/api/v1/namespaces/${namespace}/pods/${pod}:${port}/proxy${path}`,
      headers: {
        ...options.headers,
        ...(body ? {'content-type': 'application/octet-stream', 'content-length': body.length} : {}),
      },
    }
    await this.kc.applyToHTTPSOptions(request)
    return new Promise((resolve, reject) => {
      let source: Readable | undefined
      const req = (server.protocol === 'http:' ? http : https).request(request, (res) => {
        let answer = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (answer += chunk))
        res.on('end', () => {
          // The pod answered (perhaps before reading everything, as when it refuses): stop sending.
          source?.destroy()
          resolve({statusCode: res.statusCode ?? 0, body: answer})
        })
        res.on('error', reject)
      })
      req.setTimeout(options.idleTimeoutMs, () =>
        req.destroy(new Error(`no answer from pod ${pod} for ${options.idleTimeoutMs} ms`)),
      )
      req.on('error', (error) => {
        source?.destroy()
        reject(error)
      })
      if (!body || Buffer.isBuffer(body)) {
        req.end(body)
        return
      }
      // Streamed with the socket's backpressure: memory holds a few chunks, not the body.
      source = body.open()
      source.on('error', (error) => req.destroy(error))
      source.pipe(req)
    })
  }

  async deletePod(namespace: string, name: string, graceSeconds?: number): Promise<void> {
    try {
      await this.core.deleteNamespacedPod({
        namespace,
        name,
        ...(graceSeconds === undefined ? {} : {gracePeriodSeconds: graceSeconds}),
      })
    } catch (error) {
      if (!isNotFound(error)) throw toClusterError(error, `deleting pod ${name}`, this.server)
    }
  }

  async deletePvc(namespace: string, name: string): Promise<void> {
    try {
      await this.core.deleteNamespacedPersistentVolumeClaim({namespace, name})
    } catch (error) {
      if (!isNotFound(error)) throw toClusterError(error, `deleting volume claim ${name}`, this.server)
    }
  }

  async deleteSecret(namespace: string, name: string): Promise<void> {
    try {
      await this.core.deleteNamespacedSecret({namespace, name})
    } catch (error) {
      if (!isNotFound(error)) throw toClusterError(error, `deleting secret ${name}`, this.server)
    }
  }

  async exists(
    namespace: string,
    kind: 'ServiceAccount' | 'Secret' | 'PersistentVolumeClaim',
    name: string,
  ): Promise<boolean | undefined> {
    try {
      if (kind === 'Secret') await this.core.readNamespacedSecret({namespace, name})
      else if (kind === 'PersistentVolumeClaim') await this.core.readNamespacedPersistentVolumeClaim({namespace, name})
      else await this.core.readNamespacedServiceAccount({namespace, name})
      return true
    } catch (error) {
      if (isNotFound(error)) return false
      if (isForbidden(error)) return undefined
      throw toClusterError(error, `looking up ${kind} ${name}`, this.server)
    }
  }

  async waitPodReady(namespace: string, name: string, timeoutMs: number): Promise<PodReadiness> {
    let outcome: PodReadiness = {kind: 'not-ready'}
    const ended = (state: PodState) => {
      outcome = {kind: 'ended', state}
      return true
    }
    try {
      await this.watchUntil<k8s.V1Pod>(
        `/api/v1/namespaces/${namespace}/pods`,
        name,
        (pod) => {
          const state = podState(pod)
          if (state.kind === 'terminated' || state.kind === 'lost' || state.kind === 'stuck') return ended(state)
          // A probing container that cannot start or ended would keep the pod from ever being Ready.
          for (const c of (pod.status?.containerStatuses ?? []).slice(1)) {
            const waiting = c.state?.waiting
            if (waiting?.reason && CANNOT_START.test(waiting.reason))
              return ended({
                kind: 'stuck',
                reason: waiting.reason,
                message: `container ${c.name}: ${waiting.message ?? waiting.reason}`,
              })
            if (c.state?.terminated)
              return ended({
                kind: 'stuck',
                reason: 'ContainerEnded',
                message: `container ${c.name} ended (exit code ${c.state.terminated.exitCode})`,
              })
          }
          if (!pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) return false
          outcome = {kind: 'ready'}
          return true
        },
        timeoutMs,
        `pod ${name} to be ready`,
        () => ended({kind: 'lost', reason: 'Deleted', message: `pod ${name} was deleted by someone else`}),
      )
    } catch (error) {
      if (error instanceof ClusterError && /^timed out after/.test(error.message)) return {kind: 'not-ready'}
      throw error
    }
    return outcome
  }

  async podProblems(namespace: string, name: string): Promise<string[]> {
    const problems: string[] = []
    try {
      const list = await this.core.listNamespacedEvent({
        namespace,
        fieldSelector: `involvedObject.kind=Pod,involvedObject.name=${name}`,
      })
      const when = (e: k8s.CoreV1Event) => new Date(e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? 0).getTime()
      // Probe failures first, then other warnings about the pod (not the kubelet's notes on its DNS setup), latest first.
      const warnings = list.items
        .filter((e) => e.type === 'Warning' && !IGNORED_POD_WARNINGS.has(e.reason ?? ''))
        .sort((a, b) => Number(b.reason === 'Unhealthy') - Number(a.reason === 'Unhealthy') || when(b) - when(a))
      for (const e of warnings) {
        // An exec probe that failed without output leaves `Readiness probe failed: `.
        const text = `${e.reason}: ${(e.message ?? '').trim().replace(/:$/, '')}`
        if (!problems.includes(text)) problems.push(text)
        if (problems.length === 3) break
      }
    } catch {
      // Not allowed to list events, or they are gone: the pod's conditions below still say something.
    }
    try {
      const pod = await this.core.readNamespacedPod({namespace, name})
      const ready = pod.status?.conditions?.find((c) => c.type === 'Ready' && c.status !== 'True')
      if (ready && problems.length === 0)
        problems.push(`pod not Ready: ${[ready.reason, ready.message].filter(Boolean).join(': ') || 'no reason given'}`)
    } catch {
      // Gone, or not allowed to read: the events said what there was to say.
    }
    return problems
  }

  async podTimeline(namespace: string, name: string): Promise<PodTimeline | undefined> {
    const [pod, events] = await Promise.all([
      this.core.readNamespacedPod({namespace, name}).catch(() => undefined),
      // Not allowed to list events (RBAC), or they are gone: the pod's own status still tells most.
      this.core
        .listNamespacedEvent({namespace, fieldSelector: `involvedObject.kind=Pod,involvedObject.name=${name}`})
        .then(
          (list) => list.items,
          () => [] as k8s.CoreV1Event[],
        ),
    ])
    if (!pod) return undefined
    const local = (time: Date | string | undefined) =>
      time ? new Date(new Date(time).getTime() - this.clockOffsetMs) : undefined
    const container = pod.spec?.containers?.[0]
    const status =
      pod.status?.containerStatuses?.find((c) => c.name === container?.name) ?? pod.status?.containerStatuses?.[0]
    const state = status?.state
    const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'True')
    // The step container's pull (an init container's has its own fieldPath); the last one of each kind.
    const pulls = events.filter(
      (e) =>
        !e.involvedObject.fieldPath ||
        !container ||
        e.involvedObject.fieldPath === `spec.containers{${container.name}}`,
    )
    const eventTime = (reason: string) => {
      const e = pulls.filter((x) => x.reason === reason).at(-1)
      return e ? local(e.eventTime ?? e.lastTimestamp ?? e.firstTimestamp) : undefined
    }
    const strings = (values: Record<string, unknown> | undefined) =>
      values && Object.keys(values).length
        ? Object.fromEntries(Object.entries(values).map(([k, v]) => [k, String(v)]))
        : undefined
    const requests = strings(container?.resources?.requests)
    const limits = strings(container?.resources?.limits)
    const timeline: PodTimeline = {
      node: pod.spec?.nodeName,
      createdAt: local(pod.metadata?.creationTimestamp),
      scheduledAt: local(scheduled?.lastTransitionTime),
      pullingAt: eventTime('Pulling'),
      pulledAt: eventTime('Pulled'),
      startedAt: local(state?.running?.startedAt ?? state?.terminated?.startedAt),
      finishedAt: local(state?.terminated?.finishedAt),
      resources: requests || limits ? {...(requests ? {requests} : {}), ...(limits ? {limits} : {})} : undefined,
    }
    return Object.fromEntries(Object.entries(timeline).filter(([, v]) => v !== undefined)) as PodTimeline
  }

  async useCacheClaim(claim: k8s.V1PersistentVolumeClaim, annotations: Record<string, string>): Promise<CacheUse> {
    const namespace = claim.metadata!.namespace!
    const name = claim.metadata!.name!
    const read = async () => {
      try {
        return await this.core.readNamespacedPersistentVolumeClaim({namespace, name})
      } catch (error) {
        // Not there, or not allowed to look (then creating it tells).
        if (isNotFound(error) || isForbidden(error)) return undefined
        throw toClusterError(error, `reading volume claim ${name}`, this.server)
      }
    }
    let existing = await read()
    if (!existing) {
      const body = {
        ...claim,
        metadata: {...claim.metadata, annotations: {...claim.metadata!.annotations, ...annotations}},
      }
      // Another run may create the same cache at the same moment: then it is found, as if it had been there.
      if (
        await createUnlessExists(
          () => this.core.createNamespacedPersistentVolumeClaim({namespace, body}),
          `creating cache volume claim ${name}`,
          this.server,
        )
      )
        return 'created'
      existing = await read()
    }
    const labels = existing?.metadata?.labels ?? {}
    const ours =
      existing !== undefined && Object.entries(claim.metadata!.labels ?? {}).every(([k, v]) => labels[k] === v)
    if (!ours) return existing ? 'foreign' : 'found'
    try {
      await this.apiJson(
        'PATCH',
        `/api/v1/namespaces/${encodeURIComponent(namespace)}/persistentvolumeclaims/${encodeURIComponent(name)}`,
        {metadata: {annotations}},
        'application/merge-patch+json',
      )
    } catch (error) {
      // Only `cache ls` reads the time: a Role without `patch` on claims, or a claim deleted meanwhile, changes nothing for the run.
      if (!isForbidden(error) && !isNotFound(error))
        throw toClusterError(error, `marking cache volume claim ${name} as used`, this.server)
    }
    return 'found'
  }

  async waitCacheClaim(namespace: string, name: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const pvc = await this.call(`reading volume claim ${name}`, () =>
        this.core.readNamespacedPersistentVolumeClaim({namespace, name}),
      )
      if (pvc.status?.phase === 'Bound') return
      let reasons: k8s.CoreV1Event[] = []
      try {
        reasons = (
          await this.core.listNamespacedEvent({
            namespace,
            fieldSelector: `involvedObject.kind=PersistentVolumeClaim,involvedObject.name=${name}`,
          })
        ).items
      } catch {
        // Not allowed to list events: only binding (or the timeout) ends the wait.
      }
      const failed = reasons.find((e) => e.reason === 'ProvisioningFailed')
      if (failed)
        throw new ClusterError(
          `the cache volume ${name} cannot be provisioned: ${failed.message}`,
          'use --no-storage-rwx (ReadWriteOnce) or a --storage-class that supports ReadWriteMany',
        )
      // A class that binds only once a pod uses the claim: the step's pod will.
      if (reasons.some((e) => e.reason === 'WaitForFirstConsumer')) return
      if (Date.now() > deadline)
        throw new ClusterError(
          `timed out after ${Math.round(timeoutMs / 1000)} s waiting for cache volume claim ${name} to bind`,
        )
      await new Promise((r) => setTimeout(r, 250))
    }
  }

  /** The claims with these labels (`wpk8s cache ls`), oldest first. */
  async listClaims(namespace: string, labelSelector: string): Promise<k8s.V1PersistentVolumeClaim[]> {
    const list = await this.call('listing volume claims', () =>
      this.core.listNamespacedPersistentVolumeClaim({namespace, labelSelector}),
    )
    return list.items
  }

  async forwardPort(namespace: string, pod: string, port: number, socket: Duplex): Promise<void> {
    let refused = ''
    const errors = new Writable({
      write: (chunk, _enc, cb) => {
        refused += chunk.toString()
        cb()
      },
    })
    let ws: {close(): void; on(event: 'close', listener: () => void): unknown}
    try {
      const opened = await new PortForward(this.kc).portForward(namespace, pod, [port], socket, errors, socket)
      if (typeof opened === 'function') throw new Error('no connection')
      ws = opened
    } catch (error) {
      socket.destroy()
      const message = errorMessage(error)
      if (/\b403\b/.test(message))
        throw new ClusterError(
          `forwarding port ${port} of pod ${pod}: forbidden (HTTP 403)`,
          'your Role needs create and get on pods/portforward (see examples/rbac.yaml)',
        )
      throw toClusterError(error, `forwarding port ${port} of pod ${pod}`, this.server)
    }
    await new Promise<void>((resolve) => {
      ws.on('close', resolve)
      socket.on('close', () => ws.close())
      socket.on('error', () => ws.close())
    })
    socket.end()
    if (refused.trim()) throw new ClusterError(`forwarding port ${port} of pod ${pod}: ${refused.trim()}`)
  }

  async patchMetadata(
    kind: 'PersistentVolumeClaim' | 'Secret',
    namespace: string,
    name: string,
    metadata: {labels?: Record<string, string | null>; annotations?: Record<string, string | null>},
  ): Promise<void> {
    const resource = kind === 'Secret' ? 'secrets' : 'persistentvolumeclaims'
    try {
      await this.apiJson(
        'PATCH',
        `/api/v1/namespaces/${encodeURIComponent(namespace)}/${resource}/${encodeURIComponent(name)}`,
        {metadata},
        'application/merge-patch+json',
      )
    } catch (error) {
      if (isForbidden(error))
        throw new ClusterError(
          `patching ${kind} ${name}: forbidden`,
          `keeping a workspace needs patch on ${resource} (see examples/rbac.yaml)`,
        )
      throw toClusterError(error, `patching ${kind} ${name}`, this.server)
    }
  }

  /**
   * `wpk8s shell`: runs `command` in a container with a terminal: this process's stdin (raw) and stdout,
   * resize events forwarded (the client reads the size of a TTY stdout); resolves with its exit code.
   */
  async execTty(
    namespace: string,
    pod: string,
    container: string,
    command: string[],
    stdin: Readable,
    stdout: Writable,
  ): Promise<number> {
    return new Promise((resolve, reject) => {
      let settled = false
      new Exec(this.kc)
        .exec(namespace, pod, container, command, stdout, null, stdin, true, (status) => {
          if (settled) return
          settled = true
          const code = status.details?.causes?.find((c) => c.reason === 'ExitCode')?.message
          resolve(status.status === 'Success' ? 0 : Number(code ?? 1))
        })
        .then((socket) =>
          socket.on('close', () => {
            if (settled) return
            settled = true
            resolve(0)
          }),
        )
        .catch((error) => reject(toClusterError(error, `running ${command[0]} in pod ${pod}`, this.server)))
    })
  }

  async deleteObject(object: RunObject): Promise<void> {
    if (object.kind === 'Pod') return this.deletePod(object.namespace, object.name, 0)
    if (object.kind === 'Secret') return this.deleteSecret(object.namespace, object.name)
    if (object.kind === 'PersistentVolumeClaim') return this.deletePvc(object.namespace, object.name)
    try {
      await this.apiJson('DELETE', `${leasesPath(object.namespace)}/${object.name}`)
    } catch (error) {
      if (!isNotFound(error)) throw toClusterError(error, `deleting lease ${object.name}`, this.server)
    }
  }

  async listRunObjects(
    namespace: string,
    labelSelector: string,
    options: {heartbeats?: boolean} = {},
  ): Promise<RunObject[]> {
    const [pods, pvcs, secrets, leases] = await Promise.all([
      this.call('listing pods', () => this.core.listNamespacedPod({namespace, labelSelector})),
      this.call('listing volume claims', () =>
        this.core.listNamespacedPersistentVolumeClaim({namespace, labelSelector}),
      ),
      this.call('listing secrets', () => this.core.listNamespacedSecret({namespace, labelSelector})),
      options.heartbeats ? this.listLeases(namespace, labelSelector) : [],
    ])
    // Times the API server set, in this machine's clock: a colleague's or a laptop's clock may be off by minutes.
    const local = (time: Date | string | undefined) =>
      time ? new Date(new Date(time).getTime() - this.clockOffsetMs) : undefined
    const toObject =
      (kind: RunObject['kind']) =>
      (o: {metadata?: k8s.V1ObjectMeta}): RunObject => ({
        kind,
        namespace,
        name: o.metadata!.name!,
        created: local(o.metadata?.creationTimestamp),
        ...(o.metadata?.labels ? {labels: o.metadata.labels} : {}),
      })
    const heartbeats = leases.map((lease): RunObject => ({
      ...toObject('Lease')(lease),
      renewed: local(lease.spec?.renewTime ?? lease.spec?.acquireTime),
      ...(lease.spec?.leaseDurationSeconds ? {durationSeconds: lease.spec.leaseDurationSeconds} : {}),
      ...(lease.spec?.holderIdentity ? {holder: lease.spec.holderIdentity} : {}),
    }))
    return [
      ...pods.items.map(toObject('Pod')),
      ...pvcs.items.map(toObject('PersistentVolumeClaim')),
      ...secrets.items.map(toObject('Secret')),
      ...heartbeats,
    ]
  }

  /** Leases with these labels; none when the user may not list them (a Role from before heartbeats) or the API lacks them. */
  private async listLeases(namespace: string, labelSelector: string): Promise<k8s.V1Lease[]> {
    try {
      const list = (await this.apiJson(
        'GET',
        `${leasesPath(namespace)}?labelSelector=${encodeURIComponent(labelSelector)}`,
      )) as {items?: k8s.V1Lease[]}
      return list.items ?? []
    } catch (error) {
      if (isForbidden(error) || isNotFound(error)) return []
      throw toClusterError(error, 'listing leases', this.server)
    }
  }

  /** The difference between the API server's clock and this machine's, learned from the Date of raw answers. */
  private clockOffsetMs = 0
  /** Heartbeat Leases this process created (and so renews rather than creates). */
  private readonly heartbeats = new Set<string>()

  async beat(heartbeat: Heartbeat): Promise<boolean> {
    const {namespace, name} = heartbeat
    const key = `${namespace}/${name}`
    const renew = () =>
      this.apiJson(
        'PATCH',
        `${leasesPath(namespace)}/${name}`,
        {spec: {renewTime: microTime(Date.now() + this.clockOffsetMs)}},
        'application/merge-patch+json',
      )
    try {
      if (this.heartbeats.has(key)) {
        try {
          await renew()
          return true
        } catch (error) {
          // Deleted by someone (`wpk8s clean --all`): the run is still alive, so it beats again.
          if (!isNotFound(error)) throw error
          this.heartbeats.delete(key)
        }
      }
      const offset = this.clockOffsetMs
      const now = microTime(Date.now() + offset)
      const lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: {name, namespace, labels: heartbeat.labels},
        spec: {
          holderIdentity: heartbeat.holder,
          leaseDurationSeconds: heartbeat.durationSeconds,
          acquireTime: now,
          renewTime: now,
        },
      }
      const created = await this.apiJson('POST', leasesPath(namespace), lease).then(
        () => true,
        (error) => (isConflict(error) ? false : Promise.reject(error)),
      )
      this.heartbeats.add(key)
      // Written before the server's clock was known, or there already: renewed now with the server's time.
      if (!created || Math.abs(this.clockOffsetMs - offset) > 2000) await renew()
      return true
    } catch (error) {
      if (isForbidden(error)) return false
      throw toClusterError(error, `renewing the heartbeat lease ${name}`, this.server)
    }
  }

  /**
   * A JSON request with the kubeconfig's credentials, for the API group the bundled client leaves out
   * (Leases). A failure carries the HTTP status as the client's do; every answer's Date sets the clock offset.
   */
  private async apiJson(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<unknown> {
    const server = new URL(this.server)
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    const request: https.RequestOptions = {
      method,
      hostname: server.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: server.port || undefined,
      path: `${server.pathname.replace(/\/$/, '')}${path}`,
      headers: {
        accept: 'application/json',
        ...(payload ? {'content-type': contentType, 'content-length': payload.length} : {}),
      },
    }
    await this.kc.applyToHTTPSOptions(request)
    const sent = Date.now()
    return new Promise((resolve, reject) => {
      const req = (server.protocol === 'http:' ? http : https).request(request, (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (text += chunk))
        res.on('end', () => {
          // The Date header has whole seconds: the server's time was in [date, date + 1 s) somewhere between sending and now.
          const date = Date.parse(res.headers.date ?? '')
          if (!Number.isNaN(date)) this.clockOffsetMs = date + 500 - (sent + Date.now()) / 2
          let parsed: unknown = text
          try {
            parsed = JSON.parse(text)
          } catch {
            // Not JSON: kept as text.
          }
          const status = res.statusCode ?? 0
          if (status >= 200 && status < 300) resolve(parsed)
          else reject(Object.assign(new Error(`HTTP ${status}`), {code: status, body: parsed}))
        })
        res.on('error', reject)
      })
      req.setTimeout(30_000, () => req.destroy(new Error('no answer from the API server for 30 s')))
      req.on('error', reject)
      req.end(payload)
    })
  }
}

function leasesPath(namespace: string): string {
  return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`
}

/** A Kubernetes MicroTime: RFC 3339 with exactly six fractional digits. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z')
}

function isRetryable(error: unknown): boolean {
  const code = (error as {code?: number | string}).code
  return code === undefined || typeof code === 'string' || code >= 500
}

/**
 * Copies a stream into an exec's stdin in messages of at most EXEC_CHUNK (a single huge websocket
 * message is dropped by the API server), waiting while the websocket holds more than EXEC_BUFFERED_MAX
 * unsent: the client library sends whatever stdin gives it at once, so without this wait a fast disk
 * would fill memory with the checkout. Stops when `stopped()` (the command ended) or the socket closed.
 */
async function feedExec(
  source: Readable,
  stdin: PassThrough,
  socket: {bufferedAmount: number; readyState: number},
  stopped: () => boolean,
): Promise<void> {
  const OPEN = 1
  for await (const chunk of source) {
    const bytes = chunk as Buffer
    for (let offset = 0; offset < bytes.length; offset += EXEC_CHUNK) {
      while (socket.bufferedAmount > EXEC_BUFFERED_MAX && socket.readyState === OPEN && !stopped())
        await new Promise((r) => setTimeout(r, 5))
      if (stopped() || socket.readyState !== OPEN) return
      stdin.write(bytes.subarray(offset, offset + EXEC_CHUNK))
    }
  }
}
