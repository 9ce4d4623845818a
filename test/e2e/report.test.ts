import {execFileSync, spawnSync} from 'node:child_process'
import {copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {createNamespace, deleteNamespace, events, leftovers, ROOT, uniqueName, wpk8s} from './kube.js'
import {requireCluster} from './setup.js'
import {elements, parseXml} from '../unit/xml.js'

requireCluster()
const ns = uniqueName('e2e-report')

beforeAll(() => createNamespace(ns))
afterAll(() => deleteNamespace(ns))

/**
 * A service, a success, two steps in parallel (one OOM-killed, its failure ignored), a failure, a
 * step skipped by its `when`, and one that runs because something failed.
 */
const PIPELINE = `services:
  cache:
    image: busybox:1.35
    commands:
      - echo cache ready
      - sleep 3600
steps:
  prepare:
    image: busybox:1.35
    commands:
      - echo preparing
      - sleep 1
    depends_on: []
  unit:
    image: busybox:1.35
    commands:
      - 'for i in 1 2 3; do echo "test $i ok"; done'
      - printf '\\033[32mall tests passed\\033[0m\\n'
    depends_on: [prepare]
  memory-hog:
    image: busybox:1.35
    commands:
      - head -c 200m /dev/zero | tail
    failure: ignore
    depends_on: [prepare]
    backend_options:
      kubernetes:
        resources:
          limits:
            memory: 32Mi
  integration:
    image: busybox:1.35
    commands:
      - echo "connecting to cache"
      - 'echo "<expected 200, got 500 & a secret: $TOKEN>"'
      - exit 3
    environment:
      TOKEN:
        from_secret: token
    depends_on: [unit]
  release:
    image: busybox:1.35
    commands: [echo never]
    depends_on: [integration]
    when:
      event: tag
  notify:
    image: busybox:1.35
    commands:
      - echo "integration failed, telling the team"
    depends_on: [integration]
    when:
      status: failure
`

function checkout(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wpk8s-e2e-report-'))
  writeFileSync(join(dir, '.woodpecker.yml'), PIPELINE)
  const git = (...args: string[]) => execFileSync('git', args, {cwd: dir, stdio: 'ignore'})
  git('init', '-q', '-b', 'main')
  git('add', '.')
  git('-c', 'user.name=E2E Tester', '-c', 'user.email=e2e@example.com', 'commit', '-qm', 'report test')
  return dir
}

/** Debian's `chromium` package; the test does not install it. */
function chromium(): string {
  const found = spawnSync('sh', ['-c', 'command -v chromium'], {encoding: 'utf8'}).stdout.trim()
  if (!found)
    throw new Error(
      "chromium is not installed: the report test loads the HTML report in headless Chromium. Install Debian's package: apt-get install -y chromium",
    )
  return found
}

function runChromium(args: string[], profile: string): {stdout: string; stderr: string; status: number | null} {
  const r = spawnSync(
    chromium(),
    ['--headless', '--disable-gpu', '--no-sandbox', `--user-data-dir=${profile}`, '--no-first-run', ...args],
    {encoding: 'utf8', timeout: 90_000, maxBuffer: 64 * 1024 * 1024},
  )
  return {stdout: r.stdout, stderr: r.stderr, status: r.status}
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`

describe('wpk8s exec --report --junit', () => {
  it('writes a self-contained HTML report and JUnit XML of a real run (success, skip, OOM kill, failure), checked in Chromium', async () => {
    const dir = checkout()
    const out = mkdtempSync(join(tmpdir(), 'wpk8s-e2e-report-out-'))
    const html = join(out, 'report.html')
    const junit = join(out, 'junit.xml')

    // What plan says before the run, to hold exec to it.
    const planned = await wpk8s(['plan', '--format', 'json'], {cwd: dir})
    expect(planned.code).toBe(0)
    const plan = JSON.parse(planned.stdout).workflows[0]

    const run = await wpk8s(
      [
        'exec',
        '--json',
        '--namespace',
        ns,
        '--no-storage-rwx',
        '--secret',
        'token=s3cr3t-value',
        '--report',
        html,
        '--junit',
        junit,
      ],
      {cwd: dir},
    )
    expect(run.code, run.stderr).toBe(1)
    expect(run.stderr).toContain(`wpk8s: report written to ${html}\n`)
    expect(run.stderr).toContain(`wpk8s: JUnit XML written to ${junit}\n`)
    const ends = events(run).filter((e) => e.type === 'step-end')
    const end = (step: string) => ends.find((e) => e.step === step)!
    expect(ends.map((e) => `${e.step}:${e.status}`).sort()).toEqual([
      'cache:success',
      'integration:failure',
      'memory-hog:failure',
      'notify:success',
      'prepare:success',
      'release:skipped',
      'unit:success',
    ])
    expect(end('memory-hog')).toMatchObject({exitCode: 137, reason: 'killed for exceeding its memory limit (32Mi)'})
    expect(end('integration').exitCode).toBe(3)

    // plan and exec agree: what plan skips, exec skips with the same reason; what it runs (or runs after a failure), exec ran.
    for (const step of plan.steps) {
      if (step.verdict === 'skip')
        expect(end(step.name), step.name).toMatchObject({status: 'skipped', reason: step.reason})
      else expect(end(step.name).status, step.name).not.toBe('skipped')
    }
    expect(plan.steps.find((s: {name: string}) => s.name === 'notify').verdict).toBe('on-failure')

    // JUnit: well-formed, a suite for the workflow, a case per step and service, the right outcomes.
    const root = parseXml(readFileSync(junit, 'utf8'))
    expect(root.name).toBe('testsuites')
    expect(root.attributes).toMatchObject({tests: '7', failures: '2', errors: '0', skipped: '1'})
    const [suite] = elements(root, 'testsuite')
    expect(suite.attributes).toMatchObject({name: '.woodpecker', tests: '7', failures: '2', skipped: '1'})
    const cases = new Map(elements(suite, 'testcase').map((c) => [c.attributes.name, c]))
    expect([...cases.keys()].sort()).toEqual([
      'cache (service)',
      'integration',
      'memory-hog',
      'notify',
      'prepare',
      'release',
      'unit',
    ])
    for (const ok of ['prepare', 'unit', 'notify']) {
      expect(
        cases.get(ok)!.children.filter((c) => ['failure', 'error', 'skipped'].includes(c.name)),
        ok,
      ).toEqual([])
      expect(cases.get(ok)!.attributes.time).toBe((end(ok).durationMs / 1000).toFixed(3))
    }
    expect(cases.get('release')!.children[0]).toMatchObject({
      name: 'skipped',
      attributes: {message: 'when: event is push, not tag'},
    })
    const oom = cases.get('memory-hog')!.children[0]
    expect(oom.attributes).toMatchObject({
      type: 'OOM killed',
      message: 'exit code 137: killed for exceeding its memory limit (32Mi)',
    })
    const failed = cases.get('integration')!.children[0]
    expect(failed).toMatchObject({name: 'failure', attributes: {type: 'exit-code', message: 'exit code 3'}})
    expect(failed.text).toContain('<expected 200, got 500 & a secret: ********>')
    expect(failed.text).not.toContain('s3cr3t-value')

    // The HTML: nothing fetched, secrets masked, then in Chromium: it runs without a console message, shows every step with its duration.
    const page = readFileSync(html, 'utf8')
    expect(page).not.toContain('s3cr3t-value')
    expect(page).not.toMatch(/<(?:link|img|iframe)\b|\bsrc=|url\(/i)
    const profile = mkdtempSync(join(tmpdir(), 'wpk8s-chromium-'))
    const dom = runChromium(
      ['--enable-logging=stderr', '--v=0', '--virtual-time-budget=2000', '--dump-dom', `file://${html}`],
      profile,
    )
    expect(dom.status, dom.stderr).toBe(0)
    const consoleLines = dom.stderr.split('\n').filter((l) => /:CONSOLE|Uncaught/.test(l))
    expect(consoleLines, 'console messages of the report page').toEqual([])
    expect(dom.stdout).toMatch(/<html[^>]* data-report-ready="ok"/)
    expect(dom.stdout).not.toMatch(/<html[^>]* data-report-error=/)
    for (const e of ends) {
      const row = new RegExp(`<tr class="status-\\w+" data-step="${e.step}"[^>]*>[\\s\\S]*?</tr>`).exec(dom.stdout)?.[0]
      expect(row, `the step table's row of ${e.step}`).toBeDefined()
      if (e.status === 'skipped') expect(row).toContain('when: event is push, not tag')
      else if (e.step !== 'cache') expect(row).toContain(`<td class="num">${seconds(e.durationMs)}</td>`)
      // Its row in the timeline, and its log.
      expect(dom.stdout).toMatch(
        new RegExp(`data-log="log-w1-s\\d+">${e.step}${e.step === 'cache' ? ' \\(service\\)' : ''}</a>`),
      )
    }
    expect(dom.stdout).toContain('<span class="tag reason">OOM killed</span>')
    expect(dom.stdout).toContain('<span class="fg-green">all tests passed</span>')

    // The phases the cluster recorded (step-phases): every pod that ran is read once, with its node, its
    // scheduling and its container's start (and end for a step); the report draws them and names the node.
    const phases = events(run).filter((e) => e.type === 'step-phases')
    const ran = ends.filter((e) => e.status !== 'skipped').map((e) => e.step)
    expect(phases.map((e) => e.step).sort()).toEqual([...ran].sort())
    for (const p of phases) {
      expect(p.node, p.step).toMatch(/\S/)
      expect(Date.parse(p.scheduledAt), p.step).toBeLessThanOrEqual(Date.parse(p.startedAt))
      // A step that ended by its end mark just before cleanup may not show its end in its status yet.
      if (p.finishedAt) expect(Date.parse(p.finishedAt), p.step).toBeGreaterThanOrEqual(Date.parse(p.startedAt))
    }
    const hog = phases.find((e) => e.step === 'memory-hog')
    expect(Date.parse(hog?.finishedAt)).toBeGreaterThanOrEqual(Date.parse(hog?.startedAt))
    expect(hog?.resources?.limits?.memory).toBe('32Mi')
    const node = phases[0].node as string
    expect(dom.stdout).toContain(`data-node="${node}"`)
    expect(dom.stdout).toContain(`node <code>${node}</code>`)
    expect(dom.stdout).toMatch(
      new RegExp(`title="unit: started on ${node.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, finished after \\d+\\.\\ds`),
    )
    expect(dom.stdout).toMatch(
      /title="unit: started on [^"]+\(created, then scheduled after \d+\.\ds, started after \d+\.\ds(?:, released after \d+\.\ds)?\)"/,
    )

    const artifacts = join(ROOT, 'test', 'artifacts')
    mkdirSync(artifacts, {recursive: true})
    const screenshot = join(artifacts, 'report.png')
    const shot = runChromium(
      [
        '--screenshot=' + screenshot,
        '--window-size=1280,2000',
        '--virtual-time-budget=2000',
        '--hide-scrollbars',
        `file://${html}`,
      ],
      profile,
    )
    expect(shot.status, shot.stderr).toBe(0)
    expect(existsSync(screenshot) && statSync(screenshot).size).toBeGreaterThan(20_000)
    copyFileSync(html, join(artifacts, 'report.html'))
    copyFileSync(junit, join(artifacts, 'junit.xml'))
    if (process.env.UPDATE_SCREENSHOTS === '1') {
      mkdirSync(join(ROOT, 'docs'), {recursive: true})
      copyFileSync(screenshot, join(ROOT, 'docs', 'report.png'))
    }
    expect(await leftovers(ns)).toEqual([])
  }, 300_000)

  it('writes both files when the run errors before it starts (no cluster), and keeps the exit code', async () => {
    const dir = checkout()
    const out = mkdtempSync(join(tmpdir(), 'wpk8s-e2e-report-err-'))
    const kubeconfig = join(out, 'kubeconfig')
    writeFileSync(
      kubeconfig,
      'apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: "https://127.0.0.1:1"}\nusers:\n- name: u\n  user: {token: t}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n',
    )
    const run = await wpk8s(
      [
        'exec',
        '--namespace',
        ns,
        '--secret',
        'token=x',
        '--report',
        join(out, 'r.html'),
        '--junit',
        join(out, 'r.xml'),
      ],
      {cwd: dir, env: {KUBECONFIG: kubeconfig}},
    )
    expect(run.code).toBe(3)
    expect(run.stderr).toContain('wpk8s: report written to')
    const root = parseXml(readFileSync(join(out, 'r.xml'), 'utf8'))
    expect(root.attributes.errors).not.toBe('0')
    expect(readFileSync(join(out, 'r.html'), 'utf8')).toContain('<p class="error"><b>error:</b>')
  }, 120_000)

  it('refuses a report in a folder that does not exist, before anything runs', async () => {
    const dir = checkout()
    const run = await wpk8s(['exec', '--namespace', ns, '--report', '/no/such/folder/r.html'], {cwd: dir})
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('the folder /no/such/folder does not exist')
    const dry = await wpk8s(['exec', '--dry-run', '--junit', 'x.xml'], {cwd: dir})
    expect(dry.code).toBe(2)
  })
})
