// Benchmarks (`npm run bench`): cold start of the CLI against a bare Node start, in one run.
// Each command runs as a fresh process, repeated; medians and ratios are printed.
// Run `npm run build` first. BENCH_RUNS sets the repetitions (default 15).
import {spawnSync} from 'node:child_process'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {cpus, tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const RUNS = Number(process.env.BENCH_RUNS ?? 15)

/** With `gated`, each step also sets a nodeSelector, which a default agent drops: 300 warnings to report. */
function pipelineWithSteps(n, gated = false) {
  const steps = Array.from(
    {length: n},
    (_, i) => `  step-${i}:
    image: golang:1.22
    commands:
      - go test ./pkg/${i}/...
    environment: {GOFLAGS: -mod=readonly, STEP: "${i}"}
    backend_options:
      kubernetes:
        resources: {requests: {memory: 128Mi, cpu: 250m}, limits: {memory: 512Mi, cpu: "1"}}
${gated ? '        nodeSelector: {kubernetes.io/os: linux}\n' : ''}        tolerations: [{key: ci, operator: Exists, effect: NoSchedule}]`,
  ).join('\n')
  return `steps:\n${steps}\n`
}

function timeMs(args) {
  const start = process.hrtime.bigint()
  const r = spawnSync(process.execPath, args, {cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe']})
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  return ms
}

function median(values) {
  const s = [...values].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

/** Runs the commands interleaved (so drift hits all alike) and returns each one's median. */
function measure(commands) {
  const samples = Object.fromEntries(Object.keys(commands).map((k) => [k, []]))
  for (const args of Object.values(commands)) timeMs(args) // warm the file cache
  for (let i = 0; i < RUNS; i++) for (const [name, args] of Object.entries(commands)) samples[name].push(timeMs(args))
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]))
}

const dir = mkdtempSync(join(tmpdir(), 'wpk8s-bench-'))
const big = join(dir, 'steps-300.yml')
writeFileSync(big, pipelineWithSteps(300))
const warned = join(dir, 'steps-300-warnings.yml')
writeFileSync(warned, pipelineWithSteps(300, true))
const bin = join(ROOT, 'bin', 'run.js')
console.log(`machine: ${cpus().length} x ${cpus()[0].model}, node ${process.version}; ${RUNS} runs each, medians`)
const m = measure({
  'node -e 0': ['-e', '0'],
  'wpk8s --help': [bin, '--help'],
  'wpk8s validate (300 steps)': [bin, 'validate', big],
  'wpk8s validate (300 warnings)': [bin, 'validate', warned],
})
const baseline = m['node -e 0']
console.log('\ncold start')
for (const [name, ms] of Object.entries(m))
  console.log(`  ${name.padEnd(30)} ${ms.toFixed(0).padStart(6)} ms   ${(ms / baseline).toFixed(2)}x node`)
const ratio = m['wpk8s validate (300 steps)'] / baseline
console.log(`\nvalidate target: under 3x the bare Node start: ${ratio < 3 ? 'met' : 'NOT met'} (${ratio.toFixed(2)}x)`)
