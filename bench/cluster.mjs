// Cluster benchmarks: wpk8s side by side with the plain-kubectl way, in one run, repeated, medians.
// Needs a cluster (KUBECONFIG, else the test harness's) and `npm run build`.
import {execFileSync, spawn, spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const RUNS = Number(process.env.BENCH_CLUSTER_RUNS ?? 3)
const NS = 'wpk8s-bench'
const env = {
  ...process.env,
  KUBECONFIG: process.env.KUBECONFIG || `${process.env.WPK8S_CLUSTER_HOME ?? '/var/tmp/wpk8s-cluster'}/kubeconfig`,
  NO_COLOR: '1',
}
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)]
const ms = (n) => `${n.toFixed(0)} ms`

/** Pseudo-random source-like text (seeded: every run ships the same bytes); gzip makes it about 4x smaller. */
function sourceText(bytes, seed) {
  const words =
    'const let function return if else for while import export from class new this await async true false null string number value result error index data item list map set get push length request response config'.split(
      ' ',
    )
  let state = seed
  // mulberry32: 32-bit integer arithmetic, so the sequence does not collapse in floating point.
  const next = (n) => {
    state = (state + 0x6d2b79f5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n)
  }
  let text = ''
  while (text.length < bytes)
    text += `${'  '.repeat(next(4))}${Array.from({length: 2 + next(7)}, () => `${words[next(words.length)]}${next(3) === 0 ? next(1000) : ''}`).join(next(2) ? ' ' : '.')}\n`
  return text.slice(0, bytes)
}

/** A git repository with the pipeline and `files` files of `fileBytes` each, of `content` 'text' or 'random'. */
function repo(pipeline, files = 0, fileBytes = 0, content = 'text') {
  const dir = mkdtempSync(join(tmpdir(), 'wpk8s-bench-'))
  writeFileSync(join(dir, '.woodpecker.yml'), pipeline)
  for (let i = 0; i < files; i++) {
    mkdirSync(join(dir, `d${i % 50}`), {recursive: true})
    writeFileSync(
      join(dir, `d${i % 50}`, `f${i}.txt`),
      content === 'text' ? sourceText(fileBytes, i + 1) : randomBytes(fileBytes),
    )
  }
  execFileSync('git', ['init', '-q'], {cwd: dir})
  execFileSync('git', ['add', '.'], {cwd: dir})
  execFileSync('git', ['-c', 'user.name=b', '-c', 'user.email=b@b', 'commit', '-qm', 'bench'], {cwd: dir})
  return dir
}

/** The wpk8s to measure: this checkout's build, or another one (BENCH_WPK8S_BIN=/path/to/bin/run.js, to compare with an earlier build). */
const WPK8S_BIN = process.env.BENCH_WPK8S_BIN || join(ROOT, 'bin', 'run.js')

/** Runs wpk8s exec --json; returns wall time, events, peak RSS (KiB) and output size. */
function wpk8s(dir, extra = [], json = true) {
  const args = [
    '-f',
    '%M',
    process.execPath,
    WPK8S_BIN,
    'exec',
    ...(json ? ['--json'] : []),
    '-n',
    NS,
    '--no-storage-rwx',
    ...extra,
  ]
  return new Promise((resolve) => {
    const started = Date.now()
    const child = spawn('/usr/bin/time', args, {cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe']})
    let out = ''
    let bytes = 0
    let lines = 0
    let firstLog
    let err = ''
    child.stdout.on('data', (b) => {
      bytes += b.length
      for (const byte of b) if (byte === 10) lines++
      if (json && out.length < 1_000_000) out += b
      if (firstLog === undefined && (json ? /"type":"log"/.test(b) : /\] (?!started)/.test(b)))
        firstLog = Date.now() - started
    })
    child.stderr.on('data', (b) => (err += b))
    child.on('close', (code) => {
      const rssKiB = Number(err.trim().split('\n').at(-1))
      const events = json
        ? out
            .split('\n')
            .filter((l) => l.startsWith('{'))
            .map((l) => JSON.parse(l))
        : []
      resolve({code, wall: Date.now() - started, events, rssKiB, bytes, lines, firstLog, stderr: err})
    })
  })
}

function timed(command, args, options = {}) {
  const started = Date.now()
  const r = spawnSync(command, args, {env, encoding: 'utf8', maxBuffer: 1 << 30, ...options})
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${r.stderr}`)
  return {wall: Date.now() - started, stdout: r.stdout}
}

/** 6 steps, trivial and of 2 s each: wpk8s against the kubectl script doing the same. */
async function stepOverhead() {
  return [...(await stepsOf(0)), ...(await stepsOf(2)), ...(await marginalStep(2))]
}

/**
 * What one more step costs, start-up and cleanup aside: 12 steps against 6 (wpk8s only), the
 * difference per added step minus its own run time.
 */
async function marginalStep(seconds) {
  const pipeline = (n) =>
    repo(
      `skip_clone: true\nsteps:\n${Array.from({length: n}, (_, i) => `  s${i + 1}:\n    image: busybox:1.35\n    commands: [sleep ${seconds}]\n`).join('')}`,
    )
  const six = pipeline(6)
  const twelve = pipeline(12)
  const a = []
  const b = []
  for (let i = 0; i < RUNS; i++) {
    a.push((await wpk8s(six)).wall)
    b.push((await wpk8s(twelve)).wall)
  }
  return [
    [`6 vs 12 steps of ${seconds} s: wpk8s exec`, `${ms(median(a))} vs ${ms(median(b))}`],
    ['  overhead of one more step (difference / 6 - own time)', ms((median(b) - median(a)) / 6 - seconds * 1000)],
  ]
}

async function stepsOf(seconds) {
  const what = seconds ? `6 steps of ${seconds} s` : '6 trivial steps'
  const steps = Array.from(
    {length: 6},
    (_, i) => `  s${i + 1}:\n    image: busybox:1.35\n    commands: [sleep ${seconds}, echo step ${i + 1}]\n`,
  ).join('')
  const dir = repo(`skip_clone: true\nsteps:\n${steps}`)
  const w = []
  const k = []
  for (let i = 0; i < RUNS; i++) {
    const run = await wpk8s(dir)
    if (run.code !== 0) throw new Error(`wpk8s failed: ${run.stderr}`)
    w.push(run.wall)
    k.push(timed('bash', [join(ROOT, 'bench', 'kubectl-steps.sh'), NS, '6', String(seconds)]).wall)
  }
  // The steps' own run time is known by construction (the sleep; echo takes no measurable time).
  return [
    [`${what}: wpk8s exec`, ms(median(w))],
    [`${what}: kubectl script`, ms(median(k))],
    ['  ratio wpk8s / kubectl', (median(w) / median(k)).toFixed(2)],
    ['  wpk8s overhead per step (wall - 6 x own time) / 6', ms((median(w) - 6000 * seconds) / 6)],
    ['  kubectl overhead per step', ms((median(k) - 6000 * seconds) / 6)],
  ]
}

async function firstLogLine() {
  const dir = repo('skip_clone: true\nsteps:\n  hello:\n    image: busybox:1.35\n    commands: [echo hello]\n')
  const times = []
  for (let i = 0; i < RUNS; i++) times.push((await wpk8s(dir)).firstLog)
  return [['time to first log line (cold process, skip_clone)', ms(median(times))]]
}

async function parallelism() {
  const one = repo('skip_clone: true\nsteps:\n  a:\n    image: busybox:1.35\n    commands: [sleep 3]\n')
  const four = repo(
    `skip_clone: true\nsteps:\n${['a', 'b', 'c', 'd'].map((n) => `  ${n}:\n    image: busybox:1.35\n    depends_on: []\n    commands: [sleep 3]\n`).join('')}`,
  )
  const a = []
  const b = []
  for (let i = 0; i < RUNS; i++) {
    a.push((await wpk8s(one)).wall)
    b.push((await wpk8s(four)).wall)
  }
  return [
    ['1 step of 3 s', ms(median(a))],
    ['4 independent steps of 3 s', ms(median(b))],
    ['  ratio (target well under 2)', (median(b) / median(a)).toFixed(2)],
  ]
}

async function logThroughput() {
  const bytes = 50_000_000
  const line = '0123456789'.repeat(9) + 'abcdefghi'
  const expectedLines = Math.floor(bytes / (line.length + 1))
  const script = `yes ${line} | head -n ${expectedLines}`
  const dir = repo(`skip_clone: true\nsteps:\n  spam:\n    image: busybox:1.35\n    commands: ["${script}"]\n`)
  const plain = await wpk8s(dir, [], false)
  const json = await wpk8s(dir, [], true)
  // kubectl: the same container, its log followed to the end.
  const pod = `logs-${Date.now()}`
  timed('kubectl', [
    '-n',
    NS,
    'run',
    pod,
    '--image=busybox:1.35',
    '--restart=Never',
    '--image-pull-policy=IfNotPresent',
    '--command',
    '--',
    'sh',
    '-c',
    `sleep 2; ${script}`,
  ])
  timed('bash', [
    '-c',
    `until [ "$(kubectl -n ${NS} get pod ${pod} -o jsonpath='{.status.phase}')" = Running ]; do sleep 0.1; done`,
  ])
  const k = timed('bash', ['-c', `kubectl -n ${NS} logs -f ${pod} | wc -l`])
  timed('kubectl', ['-n', NS, 'delete', 'pod', pod, '--grace-period=0', '--wait=false'])
  const logLines = (r) => r.lines
  return [
    [
      `50 MB log (${expectedLines} lines): wpk8s plain`,
      `${ms(plain.wall)}, ${logLines(plain)} lines out, peak RSS ${(plain.rssKiB / 1024).toFixed(0)} MiB`,
    ],
    [
      '50 MB log: wpk8s --json',
      `${ms(json.wall)}, ${logLines(json)} lines out, peak RSS ${(json.rssKiB / 1024).toFixed(0)} MiB`,
    ],
    ['50 MB log: kubectl logs -f (from Running)', `${ms(k.wall)}, ${k.stdout.trim()} lines`],
  ]
}

/**
 * Ships 5,000 files / 50 MB of source-like text, then of random bytes (which wpk8s sends uncompressed),
 * then big checkouts of random bytes: 300 MB and 1 GiB, where the process's peak RSS must not grow
 * with the checkout (it streams from disk).
 */
async function shipping() {
  const rows = []
  for (const content of ['text', 'random']) rows.push(...(await shippingOf(content)))
  rows.push(...(await bigShipping('300 MB', 30, 10_000_000)))
  // The same through exec (a helper image without httpd): the websocket's own buffer is bounded too.
  rows.push(...(await bigShipping('300 MB', 30, 10_000_000, ['--helper-image', 'debian:bookworm-slim'])))
  rows.push(...(await bigShipping('1 GiB', 64, 16 * 1024 * 1024)))
  return rows
}

/** Runs of each big shipping row (BENCH_BIG_RUNS, default 1: a GiB through a 2-core cluster takes a while). */
const BIG_RUNS = Number(process.env.BENCH_BIG_RUNS ?? 1)

/** `files` untracked files of `bytes` random bytes each next to a committed pipeline: wpk8s's ship time and peak RSS. */
async function bigShipping(label, files, bytes, extra = []) {
  const dir = repo('steps:\n  check:\n    image: busybox:1.35\n    commands: [ls big | wc -l, cat big/* | wc -c]\n')
  mkdirSync(join(dir, 'big'))
  for (let i = 0; i < files; i++) writeFileSync(join(dir, 'big', `p${i}`), randomBytes(bytes))
  const times = []
  const rss = []
  let sent = ''
  for (let i = 0; i < BIG_RUNS; i++) {
    const run = await wpk8s(dir, extra)
    const counted = run.events
      .filter((e) => e.type === 'log' && !e.line.startsWith('+'))
      .map((e) => e.line.trim())
      .join(' ')
    if (counted !== `${files} ${files * bytes}`)
      throw new Error(`wpk8s did not ship all of ${label} (${counted}): ${run.stderr}`)
    const at = (status) =>
      Date.parse(run.events.find((e) => e.type === 'phase' && e.phase === 'ship' && e.status === status).time)
    sent = run.events.find((e) => e.type === 'phase' && e.phase === 'ship' && e.status === 'done').detail
    times.push(at('done') - at('start'))
    rss.push(run.rssKiB / 1024)
  }
  rmSync(dir, {recursive: true, force: true})
  const peak = Math.max(...rss)
  return [
    [
      `ship ${label} of random bytes (${files} files): wpk8s (${sent})`,
      `${ms(median(times))}, peak RSS ${peak.toFixed(0)} MiB (target < 200 MiB: ${peak < 200 ? 'met' : 'NOT met'})`,
    ],
  ]
}

async function shippingOf(content) {
  const dir = repo(
    'steps:\n  check:\n    image: busybox:1.35\n    commands: [find . -type f | wc -l]\n',
    5000,
    10_000,
    content,
  )
  // kubectl: a helper pod on a claim, then git ls-files | tar | kubectl exec -i ... tar x. Runs alternate
  // with wpk8s's, so both meet the same background work (such as a finished run's volume being deleted).
  const id = `ship-${Date.now()}`
  const manifest = `apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: ${id}}\nspec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: ${id}}\nspec:\n  containers: [{name: h, image: busybox:1.35, imagePullPolicy: IfNotPresent, command: [sleep, '600'], volumeMounts: [{name: w, mountPath: /woodpecker}]}]\n  volumes: [{name: w, persistentVolumeClaim: {claimName: ${id}}}]\n`
  timed('kubectl', ['-n', NS, 'apply', '-f', '-'], {input: manifest})
  timed('kubectl', ['-n', NS, 'wait', '--for=condition=Ready', `pod/${id}`, '--timeout=120s'])
  const w = []
  const k = []
  const rss = []
  let sent = ''
  for (let i = 0; i < RUNS; i++) {
    const run = await wpk8s(dir)
    rss.push(run.rssKiB / 1024)
    // The step counts the files it finds: the 5,000 plus the pipeline file.
    if (!run.events.some((e) => e.type === 'log' && e.line.trim() === '5001'))
      throw new Error(`wpk8s did not ship every file: ${run.stderr}`)
    const at = (status) =>
      Date.parse(run.events.find((e) => e.type === 'phase' && e.phase === 'ship' && e.status === status).time)
    sent = run.events.find((e) => e.type === 'phase' && e.phase === 'ship' && e.status === 'done').detail
    w.push(at('done') - at('start'))
    k.push(
      timed(
        'bash',
        [
          '-c',
          `git ls-files -z | tar -c --null -T - -f - | kubectl -n ${NS} exec -i ${id} -- sh -c 'mkdir -p /woodpecker/src${i} && tar -x -o -f - -C /woodpecker/src${i}'`,
        ],
        {cwd: dir},
      ).wall,
    )
    const files = timed('kubectl', [
      '-n',
      NS,
      'exec',
      id,
      '--',
      'sh',
      '-c',
      `find /woodpecker/src${i} -type f | wc -l`,
    ]).stdout.trim()
    if (files !== '5001') throw new Error(`kubectl shipped ${files} files, not 5001`)
  }
  timed('kubectl', ['-n', NS, 'delete', 'pod,pvc', id, '--grace-period=0', '--wait=false'])
  rmSync(dir, {recursive: true, force: true})
  return [
    [
      `ship 5,000 files / 50 MB of ${content}: wpk8s (${sent})`,
      `${ms(median(w))}, peak RSS ${Math.max(...rss).toFixed(0)} MiB`,
    ],
    ['  tar | kubectl exec -i (helper already running)', ms(median(k))],
    ['  ratio wpk8s / kubectl', (median(w) / median(k)).toFixed(2)],
  ]
}

const sections = {
  overhead: stepOverhead,
  'first-log': firstLogLine,
  parallel: parallelism,
  logs: logThroughput,
  ship: shipping,
}
const chosen = process.argv.slice(2).filter((a) => a in sections)
spawnSync('kubectl', ['create', 'namespace', NS], {env, stdio: 'ignore'})
console.log(`\ncluster benchmarks (${RUNS} runs each where repeated, medians), namespace ${NS}`)
for (const name of chosen.length ? chosen : Object.keys(sections)) {
  for (const [label, value] of await sections[name]()) console.log(`  ${label.padEnd(58)} ${value}`)
}
