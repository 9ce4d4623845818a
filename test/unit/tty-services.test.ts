import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest'
import {CollapsedLog, ttyRenderer} from '../../src/render/tty.js'
import type {RunEvent} from '../../src/runner/events.js'

const runStart: RunEvent = {
  type: 'run-start',
  runId: 'r1',
  namespace: 'ns',
  workflow: 'build',
  server: 'https://k8s',
  steps: ['build', 'worker'],
  services: ['db'],
  dependsOn: {},
}
const log = (step: string, line: string): RunEvent => ({type: 'log', step, line})

/** A renderer at 40 columns without colour, keeping 5 lines per service; what it writes outside the live list. */
function setup() {
  let out = ''
  const renderer = ttyRenderer((text) => (out += text), {env: {NO_COLOR: '1'}, columns: () => 40, serviceLines: 5})
  renderer.emit(runStart)
  renderer.emit({type: 'step-start', step: 'db', pod: 'wp-r1-db'})
  return {renderer, out: () => out}
}

describe('service logs collapsed under their task', () => {
  // Off a terminal, listr2 falls back to its plain renderer on stdout: kept out of the test's output.
  beforeEach(() => void vi.spyOn(process.stdout, 'write').mockImplementation(() => true))
  afterEach(() => vi.restoreAllMocks())

  it('keeps the last lines as the subtitle, counting the earlier ones, within the width', () => {
    const collapsedLog = new CollapsedLog(5)
    expect(collapsedLog.subtitle()).toBe('')
    for (let i = 1; i <= 2; i++) collapsedLog.push(`line ${i}`)
    expect(collapsedLog.subtitle()).toBe('line 1\nline 2')
    for (let i = 3; i <= 45; i++) collapsedLog.push(`line ${i}`)
    expect(collapsedLog.subtitle()).toBe('+ 42 earlier lines\nline 43\nline 44\nline 45')
    expect(collapsedLog.expanded()).toEqual({
      earlier: 40,
      lines: ['line 41', 'line 42', 'line 43', 'line 44', 'line 45'],
    })
    collapsedLog.push('x'.repeat(80))
    for (const line of collapsedLog.subtitle(3, 32).split('\n')) expect([...line].length).toBeLessThanOrEqual(32)
  })

  it('a running service’s lines do not appear above the list; a step’s do', async () => {
    const {renderer, out} = setup()
    renderer.emit(log('db', 'database system is ready'))
    renderer.emit({type: 'step-start', step: 'build', pod: 'wp-r1-build'})
    renderer.emit(log('build', '+ go build ./...'))
    renderer.emit({type: 'step-end', step: 'build', status: 'success', exitCode: 0, durationMs: 1000})
    renderer.emit({type: 'step-end', step: 'db', status: 'success', durationMs: 2000, reason: 'stopped at the end'})
    renderer.emit({type: 'step-end', step: 'worker', status: 'skipped', durationMs: 0})
    renderer.emit({type: 'run-end', status: 'success', exitCode: 0, durationMs: 3000})
    await renderer.close()
    expect(out()).toContain('[build] + go build ./...')
    expect(out()).not.toContain('database system is ready')
  })

  it('a failed service’s kept lines appear above, after the count of the earlier ones', async () => {
    const {renderer, out} = setup()
    for (let i = 1; i <= 8; i++) renderer.emit(log('db', `db line ${i}`))
    expect(out()).not.toContain('db line')
    renderer.emit({
      type: 'step-end',
      step: 'db',
      status: 'failure',
      exitCode: 1,
      durationMs: 2000,
      reason: 'exited before ready: db line 8',
    })
    const lines = out().split('\n')
    const first = lines.findIndex((l) => l.includes('[db]'))
    expect(lines.slice(first, first + 6)).toEqual([
      '[db] + 3 earlier lines (not kept)',
      '[db] db line 4',
      '[db] db line 5',
      '[db] db line 6',
      '[db] db line 7',
      '[db] db line 8',
    ])
    renderer.emit({type: 'step-end', step: 'build', status: 'skipped', durationMs: 0})
    renderer.emit({type: 'step-end', step: 'worker', status: 'skipped', durationMs: 0})
    renderer.emit({type: 'run-end', status: 'error', exitCode: 3, durationMs: 3000, error: 'service db failed'})
    await renderer.close()
    // Printed once, not again at the run's end.
    expect(
      out()
        .split('\n')
        .filter((l) => l === '[db] db line 8'),
    ).toHaveLength(1)
  })

  it('a detached step is collapsed too; a run ending in error prints every collapsed log', async () => {
    const {renderer, out} = setup()
    renderer.emit(log('db', 'listening on 5432'))
    renderer.emit({type: 'step-start', step: 'worker', pod: 'wp-r1-worker', background: true})
    renderer.emit(log('worker', 'worker polling'))
    expect(out()).not.toContain('listening on 5432')
    expect(out()).not.toContain('worker polling')
    renderer.emit({type: 'step-end', step: 'db', status: 'success', durationMs: 2000, reason: 'stopped at the end'})
    renderer.emit({type: 'run-end', status: 'error', exitCode: 3, durationMs: 3000, error: 'cluster unreachable'})
    await renderer.close()
    expect(out()).toContain('[db] listening on 5432')
    expect(out()).toContain('[worker] worker polling')
  })

  it('a run that ends without an error lets the collapsed lines go', async () => {
    const {renderer, out} = setup()
    renderer.emit(log('db', 'checkpoint complete'))
    renderer.emit({type: 'run-end', status: 'failure', exitCode: 1, durationMs: 3000})
    await renderer.close()
    expect(out()).not.toContain('checkpoint complete')
  })
})
