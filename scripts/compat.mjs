// Runs Woodpecker's own end-to-end scenarios (../shared/woodpecker-corpus/e2e-scenarios, or the folder
// given) with `wpk8s exec` on the cluster of your kubeconfig, and compares each outcome with the
// scenario's expectations. Woodpecker's fake `dummy` image is emulated with busybox: STEP_EXIT_CODE
// (exit with it), SLEEP (sleep first), STEP_OOM_KILLED (exceed a small memory limit).
// Usage: npm run build && node scripts/compat.mjs [scenarios-dir] [-- extra exec flags]
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {basename, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import jsYaml from 'js-yaml'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const dashdash = process.argv.indexOf('--')
const extra = dashdash >= 0 ? process.argv.slice(dashdash + 1) : ['--no-storage-rwx']
const dir =
  (dashdash === 2 ? undefined : process.argv[2]) ?? join(ROOT, '..', 'shared', 'woodpecker-corpus', 'e2e-scenarios')
if (!existsSync(dir)) {
  console.error(`no scenarios at ${dir}`)
  process.exit(2)
}

/** Go durations as Woodpecker's dummy takes them (`100ms`, `2s`, `1m`) in seconds for busybox sleep. */
function seconds(duration) {
  const m = /^([\d.]+)(ms|s|m)?$/.exec(duration)
  if (!m) return duration
  return String(Number(m[1]) * {ms: 0.001, s: 1, m: 60}[m[2] ?? 's'])
}

function emulateDummy(step) {
  if (step.image !== 'dummy') return step
  const env = step.environment ?? {}
  const commands = [].concat(step.commands ?? [])
  if (env.SLEEP) commands.unshift(`sleep ${seconds(String(env.SLEEP))}`)
  if (String(env.STEP_OOM_KILLED) === 'true') commands.push('head -c 200m /dev/zero | tail')
  else if (env.STEP_EXIT_CODE) commands.push(`exit ${env.STEP_EXIT_CODE}`)
  const out = {...step, image: 'busybox:1.35', commands}
  if (String(env.STEP_OOM_KILLED) === 'true')
    out.backend_options = {kubernetes: {resources: {limits: {memory: '16Mi'}}}}
  return out
}

function convert(text) {
  const data = jsYaml.load(text)
  for (const key of ['steps', 'services']) {
    if (Array.isArray(data[key])) data[key] = data[key].map(emulateDummy)
    else if (data[key]) data[key] = Object.fromEntries(Object.entries(data[key]).map(([k, v]) => [k, emulateDummy(v)]))
  }
  return jsYaml.dump(data)
}

function prepare(scenario) {
  const work = mkdtempSync(join(tmpdir(), 'wpk8s-compat-'))
  const path = join(dir, scenario)
  if (statSync(path).isDirectory()) {
    const target = join(work, '.woodpecker')
    spawnSync('mkdir', ['-p', target])
    for (const f of readdirSync(path).filter((f) => /\.ya?ml$/.test(f)))
      writeFileSync(join(target, f), convert(readFileSync(join(path, f), 'utf8')))
    return {work, expected: JSON.parse(readFileSync(join(path, 'scenario.json'), 'utf8'))}
  }
  writeFileSync(join(work, '.woodpecker.yml'), convert(readFileSync(path, 'utf8')))
  return {work, expected: JSON.parse(readFileSync(path.replace(/\.yaml$/, '.json'), 'utf8'))}
}

const scenarios = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml') || statSync(join(dir, f)).isDirectory())
  .sort()
let agree = 0
for (const scenario of scenarios) {
  const {work, expected} = prepare(scenario)
  spawnSync('git', ['init', '-q'], {cwd: work})
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'run.js'), 'exec', '--json', ...extra], {
    cwd: work,
    encoding: 'utf8',
    env: {...process.env, NO_COLOR: '1'},
  })
  const events = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l))
  const status = r.status === 0 ? 'success' : r.status === 1 ? 'failure' : 'error'
  const steps = Object.fromEntries(
    events.filter((e) => e.type === 'step-end').map((e) => [e.step, {status: e.status, exit_code: e.exitCode ?? 0}]),
  )
  const problems = []
  if (status !== expected.expected_status)
    problems.push(
      `status ${status}, expected ${expected.expected_status}${r.status > 1 ? ` (${(r.stderr || '').trim().split('\n')[0]})` : ''}`,
    )
  for (const want of expected.expected_steps ?? []) {
    if (want.name === 'clone') continue
    const got = steps[want.name]
    if (!got) problems.push(`step ${want.name}: not reported`)
    else if (got.status !== want.status || got.exit_code !== want.exit_code)
      problems.push(`step ${want.name}: ${got.status} ${got.exit_code}, expected ${want.status} ${want.exit_code}`)
  }
  if (problems.length === 0) agree++
  console.log(
    `${problems.length === 0 ? 'agree' : 'DIFFER'}  ${basename(scenario)}${problems.length ? `\n        ${problems.join('\n        ')}` : ''}`,
  )
}
console.log(`\n${agree} of ${scenarios.length} scenarios agree with Woodpecker's expectations`)
