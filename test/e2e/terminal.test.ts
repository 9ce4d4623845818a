import {execFileSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {createNamespace, deleteNamespace, KUBECONFIG, leftovers, pipelineRepo, ROOT, uniqueName} from './kube.js'
import {requireCluster} from './setup.js'

// The live view as a person sees it: `wpk8s exec` in a real pseudo-terminal (tmux), its screen read
// while it runs and at the end. UPDATE_SCREENSHOTS=1 keeps a capture as docs/terminal.txt.

requireCluster()
const ns = uniqueName('e2e-terminal')

beforeAll(() => createNamespace(ns))
afterAll(() => deleteNamespace(ns))

/** A tmux server of its own: the user's sessions (and their environment) stay out of it. */
const SOCKET = `wpk8s-e2e-${process.pid}`
const tmux = (...args: string[]) => execFileSync('tmux', ['-L', SOCKET, ...args], {encoding: 'utf8'})
const shellQuote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`

interface Screen {
  at: number
  lines: string[]
  /** The lines with their colour codes (SGR escapes). */
  raw: string[]
}

// eslint-disable-next-line no-control-regex
const SGR = /\u001B\[[0-9;]*m/g

/**
 * Runs wpk8s exec in a `columns`×`rows` terminal; captures the screen every 250 ms (wrapped lines joined, so a line
 * wider than the terminal shows as such) until the exit line appears.
 */
async function inTerminal(pipeline: string, columns: number, rows: number): Promise<Screen[]> {
  const command = [
    'env',
    '-u',
    'CI',
    `KUBECONFIG=${KUBECONFIG}`,
    'NO_COLOR=1',
    'TERM=xterm-256color',
    process.execPath,
    join(ROOT, 'bin/run.js'),
    'exec',
    '--namespace',
    ns,
    '--no-storage-rwx',
  ]
    .map(shellQuote)
    .join(' ')
  return screensOf(`cd ${shellQuote(pipelineRepo(pipeline))} && ${command}`, columns, rows)
}

async function screensOf(command: string, columns: number, rows: number): Promise<Screen[]> {
  const session = uniqueName('term')
  tmux(
    'new-session',
    '-d',
    '-s',
    session,
    '-x',
    String(columns),
    '-y',
    String(rows),
    `${command}; echo WPK8S-EXIT=$?; sleep 600`,
  )
  const screens: Screen[] = []
  try {
    const deadline = Date.now() + 100_000
    for (;;) {
      const text = tmux('capture-pane', '-p', '-e', '-J', '-t', session)
      const raw = text
        .replace(/\n+$/, '')
        .split('\n')
        .map((l) => l.trimEnd())
      const lines = raw.map((l) => l.replace(SGR, '').trimEnd())
      screens.push({at: Date.now(), lines, raw})
      if (lines.some((l) => l.startsWith('WPK8S-EXIT='))) return screens
      if (Date.now() > deadline) throw new Error(`no exit within 100 s; last screen:\n${lines.join('\n')}`)
      await new Promise((r) => setTimeout(r, 250))
    }
  } finally {
    try {
      tmux('kill-session', '-t', session)
    } catch {}
  }
}

const PIPELINE = `skip_clone: true
services:
  db:
    image: busybox:1.35
    commands:
      - sleep 600
steps:
  lint:
    image: busybox:1.35
    depends_on: []
    commands:
      - for i in 1 2 3; do echo lint line $i, a long line that runs well past the edge of a forty column terminal; sleep 1; done
  unit:
    image: busybox:1.35
    depends_on: []
    commands:
      - sleep 6
  build:
    image: busybox:1.35
    depends_on: [lint, unit]
    commands:
      - echo building
  flaky:
    image: busybox:1.35
    depends_on: [build]
    failure: ignore
    commands:
      - exit 3
  deploy:
    image: busybox:1.35
    depends_on: [flaky]
    when:
      event: tag
    commands:
      - echo deploy
`

/** The task line of a step on a screen (the list's lines are indented by two; log lines start with `[`). */
/** The screen as a test artifact (test/artifacts, kept by CI). */
function keep(file: string, screen: Screen): void {
  const artifacts = join(ROOT, 'test', 'artifacts')
  mkdirSync(artifacts, {recursive: true})
  writeFileSync(join(artifacts, file), `${screen.lines.join('\n')}\n`)
}

function lastIndex(lines: string[], test: (line: string) => boolean): number {
  for (let i = lines.length - 1; i >= 0; i--) if (test(lines[i])) return i
  return -1
}

const taskLine = (screen: Screen, name: string) => screen.lines.find((l) => new RegExp(`^  \\S ${name}\\s`).test(l))

describe('the live terminal view', () => {
  it('shows waiting, starting, running (with a ticking time) and done differently, and ends with the summary', async () => {
    const screens = await inTerminal(PIPELINE, 110, 32)
    const last = screens.at(-1)!
    expect(last.lines, last.lines.join('\n')).toContain('WPK8S-EXIT=0')

    // While build waits for lint and unit, some step runs: another icon, and a time.
    const both = screens.find(
      (s) => /waiting for .*unit/.test(taskLine(s, 'build') ?? '') && /running \d+s/.test(taskLine(s, 'unit') ?? ''),
    )
    expect(both, 'a screen with build waiting while unit runs').toBeDefined()
    const waiting = taskLine(both!, 'build')!
    const running = taskLine(both!, 'unit')!
    expect(waiting.trimStart()[0]).toBe('·')
    expect(running.trimStart()[0]).not.toBe('·')
    expect(running.trimStart()[0]).not.toBe('◌')

    // The elapsed time of a running step changes while it runs.
    const times = new Set(screens.map((s) => /running (\d+)s/.exec(taskLine(s, 'unit') ?? '')?.[1]).filter(Boolean))
    expect(times.size).toBeGreaterThanOrEqual(3)

    // At the end: every step's outcome in the list, then the summary with the ignored failure marked.
    const text = last.lines.join('\n')
    expect(taskLine(last, 'flaky')).toMatch(/✖ flaky\s+failure ignored, exit 3/)
    expect(taskLine(last, 'deploy')).toMatch(/↷ deploy\s+skipped: when/)
    expect(taskLine(last, 'build')).toMatch(/✔ build\s+success, exit 0, \d+\.\ds/)
    const summary = last.lines.slice(last.lines.indexOf('Summary'))
    expect(summary.find((l) => /\bflaky\b/.test(l))).toMatch(/✖ flaky\s+failure \(ignored\)\s+3/)
    // The service ran for the whole run: its duration is not zero.
    const db = summary.find((l) => /\bdb\b/.test(l))!
    expect(Number(/([\d.]+)s$/.exec(db)![1])).toBeGreaterThan(5)
    expect(text).toMatch(/^success in [\d.]+s \(exit 0\)$/m)
    // Log lines stay whole above the list, once each (not torn by redraws).
    expect(
      last.lines.filter(
        (l) => l === '[lint] lint line 2, a long line that runs well past the edge of a forty column terminal',
      ),
    ).toHaveLength(1)
    expect(await leftovers(ns)).toEqual([])
    keep('terminal-110.txt', last)

    if (process.env.UPDATE_SCREENSHOTS === '1') {
      const frame = (s: Screen) => s.lines.join('\n').replace(/\n+$/, '')
      writeFileSync(
        join(ROOT, 'docs/terminal.txt'),
        `${frame(both!)}\n\n${frame({...last, lines: last.lines.filter((l) => !l.startsWith('WPK8S-EXIT='))})}\n`,
      )
    }
  })

  it('at 40 columns no line of the view is wider than the terminal', async () => {
    const pipeline = PIPELINE.replace(/\bbuild\b/g, 'build-the-release-artifacts-for-every-platform')
    const screens = await inTerminal(pipeline, 40, 32)
    const last = screens.at(-1)!
    expect(last.lines, last.lines.join('\n')).toContain('WPK8S-EXIT=0')
    for (const screen of screens) {
      // Log lines are kept whole (the terminal wraps them); the header and the view below the logs fit.
      const view = screen.lines.slice(lastIndex(screen.lines, (l) => /^\S workspace/.test(l)))
      const header = screen.lines.filter((l) => l.startsWith('wpk8s run'))
      for (const line of [...header, ...view]) expect([...line].length, line).toBeLessThanOrEqual(40)
    }
    expect(lastIndex(last.lines, (l) => /^\S workspace/.test(l))).toBeGreaterThan(0)
    // The list's narrow form: the outcome and duration stay, the words get shorter.
    expect(last.lines.some((l) => /^  ✖ flaky\s+ignored, exit 3, [\d.]+s$/.test(l))).toBe(true)
    expect(last.lines.some((l) => /^  ✔ build-the-…\s+success, exit 0, [\d.]+s$/.test(l))).toBe(true)
    // The summary's narrow form: the ignored failure says just that.
    expect(last.lines.some((l) => /✖ flaky\s+ignored\s+3/.test(l))).toBe(true)
    keep('terminal-40.txt', last)
    expect(await leftovers(ns)).toEqual([])
  })

  it('stays whole with 20 parallel steps and a burst of long log lines (events replayed, no cluster)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wpk8s-tty-'))
    const script = join(dir, 'replay.mjs')
    writeFileSync(
      script,
      `import {ttyRenderer} from ${JSON.stringify(pathToFileURL(join(ROOT, 'dist/render/tty.js')).href)}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const r = ttyRenderer((t) => process.stdout.write(t))
const steps = Array.from({length: 20}, (_, i) => 'step-' + String(i + 1).padStart(2, '0'))
r.emit({type: 'run-start', runId: 'replay', namespace: 'ns', workflow: 'w', server: 'https://cluster', steps, services: [], dependsOn: Object.fromEntries(steps.map((s) => [s, []]))})
r.emit({type: 'phase', phase: 'workspace', status: 'done'})
for (const step of steps) r.emit({type: 'step-starting', step, pod: 'wp-replay-' + step})
await sleep(300)
for (const step of steps) r.emit({type: 'step-start', step, pod: 'wp-replay-' + step})
for (let i = 0; i < 40; i++) {
  for (const step of steps.slice(0, 5)) r.emit({type: 'log', step, line: 'line ' + i + ' ' + 'x'.repeat(150) + ' end'})
  await sleep(25)
}
for (const step of steps) {
  r.emit({type: 'step-end', step, status: 'success', exitCode: 0, durationMs: 2000})
  await sleep(30)
}
r.emit({type: 'run-end', status: 'success', exitCode: 0, durationMs: 5000})
await r.close()
`,
    )
    const replay = (env: string) =>
      screensOf(
        `env -u CI -u NO_COLOR -u FORCE_COLOR ${env} TERM=xterm-256color ${shellQuote(process.execPath)} ${shellQuote(script)}`,
        110,
        32,
      )
    const screens = await replay('NO_COLOR=1')
    // NO_COLOR: not one colour code on any screen; FORCE_COLOR (or none of them, on a terminal): colours.
    expect(screens.flatMap((s) => s.raw).filter((l) => /\u001B\[(3\d|9\d|2|1)(;\d+)*m/.test(l))).toEqual([])
    const coloured = await replay('FORCE_COLOR=1')
    expect(coloured.at(-1)!.raw.some((l) => /\u001B\[3[12]m/.test(l))).toBe(true)
    expect(screens.at(-1)!.lines, screens.at(-1)!.lines.join('\n')).toContain('WPK8S-EXIT=0')
    for (const screen of screens) {
      // One list at a time, each step once in it; a log line never shares a row with the list.
      expect(screen.lines.filter((l) => /^\S steps$/.test(l)).length).toBeLessThanOrEqual(1)
      const list = screen.lines.includes('Summary')
        ? screen.lines.slice(0, screen.lines.indexOf('Summary'))
        : screen.lines
      for (const step of ['step-01', 'step-20'])
        expect(list.filter((l) => new RegExp(`^  \\S ${step}\\s`).test(l)).length).toBeLessThanOrEqual(1)
      for (const line of screen.lines.filter((l) => l.startsWith('[step-')))
        expect(line).toMatch(/^\[step-0[1-5]\] line \d+ x{150} end$/)
    }
    const during = screens.find((s) => s.lines.filter((l) => /^  \S step-\d\d\s+running/.test(l)).length === 20)
    expect(during, 'a screen with all 20 steps running').toBeDefined()
    const end = screens.at(-1)!.lines
    expect(
      end.slice(end.indexOf('Summary')).filter((l) => /^  ✔ step-\d\d\s+success\s+0\s+2\.0s$/.test(l)),
    ).toHaveLength(20)
  })
})
