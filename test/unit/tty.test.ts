import {Chalk} from 'chalk'
import {describe, expect, it} from 'vitest'
import {chooseOutput, ttyColor} from '../../src/render/choose.js'
import {formatSummary, ignoredFailures} from '../../src/render/run-output.js'
import {elapsed, fitLine, stepIcon, stepTitle, type StepView} from '../../src/render/tty.js'
import type {StepResult} from '../../src/runner/events.js'

const plain = new Chalk({level: 0})
const colour = new Chalk({level: 1})
const at = 100_000
const view = (v: Partial<StepView>): StepView => ({
  name: 'build',
  service: false,
  dependsOn: [],
  phase: 'waiting',
  since: at,
  ...v,
})
// eslint-disable-next-line no-control-regex
const visible = (s: string) => [...s.replace(/\u001B\[[0-9;]*m/g, '')].length

describe('step titles per state', () => {
  it('waiting names what it still waits for', () => {
    const v = view({dependsOn: ['lint', 'unit']})
    expect(stepTitle(v, at, plain)).toBe('build  waiting for lint, unit')
    expect(stepTitle(v, at, plain, Infinity, new Set(['lint']))).toBe('build  waiting for unit')
    expect(stepTitle(view({}), at, plain)).toBe('build  waiting')
  })
  it('starting and running show the time in that state', () => {
    expect(stepTitle(view({phase: 'starting'}), at + 2400, plain)).toBe('build  starting 2s: scheduling, pulling')
    expect(stepTitle(view({phase: 'running'}), at + 12_900, plain)).toBe('build  running 12s')
    expect(stepTitle(view({phase: 'running'}), at + 65_000, plain)).toBe('build  running 1m05s')
    expect(
      stepTitle(view({name: 'db', service: true, phase: 'running', ready: 'ready after 1.2s'}), at + 3000, plain),
    ).toBe('db (service)  running 3s, ready after 1.2s')
  })
  it('done: status, exit code, duration; skipped with its reason; an ignored failure says so', () => {
    expect(
      stepTitle(
        view({phase: 'done', result: {name: 'build', status: 'success', exitCode: 0, durationMs: 3210}}),
        at,
        plain,
      ),
    ).toBe('build  success, exit 0, 3.2s')
    expect(
      stepTitle(
        view({phase: 'done', result: {name: 'build', status: 'skipped', durationMs: 0, reason: 'when: event is push'}}),
        at,
        plain,
      ),
    ).toBe('build  skipped: when: event is push')
    const failed: StepResult = {name: 'build', status: 'failure', exitCode: 1, durationMs: 2000}
    expect(stepTitle(view({phase: 'done', result: failed}), at, plain)).toBe('build  failure, exit 1, 2.0s')
    expect(stepTitle(view({phase: 'done', result: failed, ignored: true}), at, plain)).toBe(
      'build  failure ignored, exit 1, 2.0s',
    )
  })
  it('every state has its own icon; only running spins', () => {
    const icons = [
      stepIcon(view({phase: 'waiting'}), plain, '⠙'),
      stepIcon(view({phase: 'starting'}), plain, '⠙'),
      stepIcon(view({phase: 'running'}), plain, '⠙'),
      stepIcon(view({phase: 'done', result: {name: 'b', status: 'success', durationMs: 1}}), plain),
      stepIcon(view({phase: 'done', result: {name: 'b', status: 'failure', durationMs: 1}}), plain),
      stepIcon(view({phase: 'done', result: {name: 'b', status: 'skipped', durationMs: 1}}), plain),
    ]
    expect(icons).toEqual(['·', '◌', '⠙', '✔', '✖', '↷'])
    const failed = {name: 'b', status: 'failure', durationMs: 1} as const
    expect(stepIcon(view({phase: 'done', result: failed, ignored: true}), colour)).not.toBe(
      stepIcon(view({phase: 'done', result: failed}), colour),
    )
  })
  it('colours only with a coloured chalk', () => {
    expect(stepTitle(view({phase: 'running'}), at, colour)).toContain('\u001B[')
    expect(stepTitle(view({phase: 'running'}), at, plain)).not.toContain('\u001B[')
  })
})

describe('narrow terminals', () => {
  it('shortens the name first, keeps the state, then cuts the detail', () => {
    const long = view({name: 'integration-tests-against-postgres', phase: 'running'})
    const title = stepTitle(long, at + 5000, plain, 34)
    expect(visible(title)).toBeLessThanOrEqual(34)
    expect(title).toContain('running 5s')
    expect(title).toBe('integration-tests-aga…  running 5s')
    const waiting = stepTitle(view({dependsOn: ['lint', 'unit', 'integration', 'e2e', 'docs']}), at, colour, 34)
    expect(visible(waiting)).toBeLessThanOrEqual(34)
    expect(waiting).toContain('build')
  })
  it('fitLine cuts at 40 columns with an ellipsis and keeps colour codes balanced', () => {
    const line = colour.green('✔') + ' ' + 'x'.repeat(60)
    const cut = fitLine(line, 40)
    expect(visible(cut)).toBe(40)
    expect(cut.endsWith('…\u001B[0m')).toBe(true)
    expect(fitLine('short', 40)).toBe('short')
    expect(fitLine('y'.repeat(41), 40)).toBe(`${'y'.repeat(39)}…`)
  })
  it('elapsed times stay short', () => {
    expect([elapsed(0), elapsed(59_999), elapsed(60_000), elapsed(3_725_000)]).toEqual(['0s', '59s', '1m00s', '1h02m'])
  })
})

describe('summary', () => {
  const results: StepResult[] = [
    {name: 'db', status: 'success', durationMs: 14_000, reason: 'stopped at the end'},
    {name: 'lint', status: 'success', exitCode: 0, durationMs: 2100},
    {name: 'flaky', status: 'failure', exitCode: 3, durationMs: 1500},
    {name: 'deploy', status: 'skipped', durationMs: 0, reason: 'when'},
  ]
  const end = {type: 'run-end', status: 'success', exitCode: 0, durationMs: 20_000} as const
  it('marks an ignored failure', () => {
    const ignored = ignoredFailures(results, end)
    expect([...ignored]).toEqual(['flaky'])
    const text = formatSummary(results, end, plain, ignored)
    expect(text).toContain('  ✖ flaky   failure (ignored)     3     1.5s')
    expect(text).toContain('  ✔ db      success               -    14.0s')
    expect(text).toContain('success in 20.0s (exit 0)')
  })
  it('a failed run ignores only the declared ones', () => {
    const failed = {...end, status: 'failure', exitCode: 1} as const
    expect([...ignoredFailures(results, failed)]).toEqual([])
    expect([...ignoredFailures(results, failed, ['flaky'])]).toEqual(['flaky'])
    expect([...ignoredFailures(results, end, [])]).toEqual([])
  })
  it('without ignored failures the table keeps its columns', () => {
    expect(formatSummary(results.slice(0, 2), end, plain)).toContain('  ✔ lint  success     0     2.1s')
  })
})

describe('colour and renderer choice', () => {
  it.each([
    [{}, true],
    [{NO_COLOR: '1'}, false],
    [{NO_COLOR: ''}, true],
    [{FORCE_COLOR: '0'}, false],
    [{FORCE_COLOR: '1', NO_COLOR: '1'}, true],
  ])('%j → colour %s', (env, expected) => expect(ttyColor(env)).toBe(expected))
  it('the live view only on a terminal, outside CI, for one workflow', () => {
    const base = {json: false, isTTY: true, columns: 40, env: {}}
    expect(chooseOutput(base)).toBe('tty')
    expect(chooseOutput({...base, env: {NO_COLOR: '1'}})).toBe('tty')
    expect(chooseOutput({...base, columns: 0})).toBe('plain')
    expect(chooseOutput({...base, env: {CI: 'true'}})).toBe('plain')
    expect(chooseOutput({...base, workflows: 2})).toBe('plain')
  })
})

describe('alignment', () => {
  it('pads names to a common width, as far as the line allows', () => {
    expect(stepTitle(view({name: 'db', service: true, phase: 'running'}), at, plain, Infinity, new Set(), 14)).toBe(
      'db (service)    running 0s',
    )
    expect(stepTitle(view({name: 'lint', phase: 'running'}), at, plain, Infinity, new Set(), 14)).toBe(
      'lint            running 0s',
    )
    expect(
      visible(stepTitle(view({name: 'lint', phase: 'running'}), at, plain, 16, new Set(), 14)),
    ).toBeLessThanOrEqual(16)
  })
})

describe('summary at 40 columns', () => {
  it('shortens names and says just "ignored", every row within 40 columns', () => {
    const results: StepResult[] = [
      {name: 'build-the-release-artifacts-for-every-platform', status: 'success', exitCode: 0, durationMs: 3000},
      {name: 'flaky', status: 'failure', exitCode: 3, durationMs: 1300},
      {name: 'deploy', status: 'skipped', durationMs: 0},
    ]
    const end = {type: 'run-end', status: 'success', exitCode: 0, durationMs: 9000} as const
    const lines = formatSummary(results, end, plain, new Set(['flaky']), 40).split('\n')
    for (const line of lines) expect(visible(line), line).toBeLessThanOrEqual(40)
    expect(lines).toContain('  ✖ flaky         ignored     3     1.3s')
    expect(lines).toContain('  ↷ deploy        skipped     -        -')
    expect(lines.some((l) => l.startsWith('  ✔ build-the-r…'))).toBe(true)
  })
})

describe('done steps at 40 columns (34 for the title)', () => {
  const done = (name: string, result: Omit<StepResult, 'name'>, ignored = false) =>
    stepTitle(view({name, phase: 'done', result: {name, ...result}, ignored}), at, plain, 34, new Set(), 12)
  it('keeps the outcome and the duration, shortening the name and the words', () => {
    expect(
      done('build-the-release-artifacts-for-every-platform', {status: 'success', exitCode: 0, durationMs: 3900}),
    ).toBe('build-the-…  success, exit 0, 3.9s')
    expect(done('flaky', {status: 'failure', exitCode: 3, durationMs: 3300}, true)).toBe(
      'flaky        ignored, exit 3, 3.3s',
    )
    expect(done('lint', {status: 'success', exitCode: 0, durationMs: 6600})).toBe('lint         success, exit 0, 6.6s')
    expect(done('db (service)', {status: 'success', durationMs: 16_800, reason: 'stopped at the end'})).toBe(
      'db (service)  success, 16.8s: sto…',
    )
  })
})

describe('lines above the task list', () => {
  it('tells the URL of a forwarded port and a created cache, even before the list is drawn', async () => {
    const {ttyRenderer} = await import('../../src/render/tty.js')
    let out = ''
    const renderer = ttyRenderer((text) => (out += text), {env: {NO_COLOR: '1'}, columns: () => 100})
    renderer.emit({
      type: 'port-forward',
      step: 'db',
      port: 5432,
      address: '127.0.0.1:5432',
      url: 'http://127.0.0.1:5432',
    })
    renderer.emit({type: 'cache', claim: 'gocache', status: 'created', size: '1Gi'} as never)
    expect(out).toContain('[db] port 5432 forwarded to http://127.0.0.1:5432')
    expect(out).toMatch(/cache volume gocache created \(1Gi\)/)
  })
})
