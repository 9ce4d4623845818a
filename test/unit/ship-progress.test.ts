import {Readable} from 'node:stream'
import {describe, expect, it} from 'vitest'
import {formatProgress, jsonRenderer, PLAIN_PROGRESS_EVERY_MS, plainRenderer} from '../../src/render/run-output.js'
import {formatBytes} from '../../src/runner/checkout.js'
import type {RunEvent} from '../../src/runner/events.js'
import {PROGRESS_MIN_BYTES, ShipProgress} from '../../src/runner/ship.js'

const MiB = 1024 * 1024

describe('formatBytes and formatProgress', () => {
  it('says sizes as people read them', () => {
    expect(formatBytes(0)).toBe('0 B')
    expect(formatBytes(1023)).toBe('1023 B')
    expect(formatBytes(350 * 1024)).toBe('350 KiB')
    expect(formatBytes(18.24 * MiB)).toBe('18.2 MiB')
    expect(formatBytes(1024 * MiB)).toBe('1.0 GiB')
  })

  it('gives bytes sent, the total, the share, the rate and the time left', () => {
    expect(formatProgress({sent: 120 * MiB, total: 300 * MiB, bytesPerSecond: 60 * MiB})).toBe(
      '120.0 MiB of 300.0 MiB (40%), 60.0 MiB/s, 3 s left',
    )
    expect(formatProgress({sent: 300 * MiB, total: 300 * MiB, bytesPerSecond: 60 * MiB})).toBe(
      '300.0 MiB of 300.0 MiB (100%), 60.0 MiB/s',
    )
    expect(formatProgress({sent: 0, total: 5 * MiB, bytesPerSecond: 0})).toBe('0 B of 5.0 MiB (0%), 0 B/s')
  })
})

describe('ShipProgress', () => {
  async function drain(stream: Readable): Promise<number> {
    let bytes = 0
    for await (const chunk of stream) bytes += (chunk as Buffer).length
    return bytes
  }

  it('emits at most every 250 ms, with the rate of the last seconds, and ends at the total', async () => {
    let clock = 0
    const events: RunEvent[] = []
    const total = 40 * MiB
    const progress = new ShipProgress(
      total,
      (e) => events.push(e),
      () => clock,
    )
    const chunks = Array.from({length: 40}, () => Buffer.alloc(MiB))
    // 1 MiB every 100 ms: 10 MiB/s.
    const stream = progress.track(
      Readable.from(
        (async function* () {
          for (const chunk of chunks) {
            clock += 100
            yield chunk
          }
        })(),
        {objectMode: false},
      ),
    )
    expect(await drain(stream)).toBe(total)
    progress.finish()
    const sent = events.map((e) => (e.type === 'progress' ? e : undefined)!)
    expect(sent.length).toBeGreaterThanOrEqual(10)
    expect(sent.length).toBeLessThanOrEqual(17)
    expect(sent.at(-1)).toMatchObject({type: 'progress', phase: 'ship', sent: total, total})
    // The rate settles at 10 MiB/s once the window is full.
    expect(sent.at(-2)!.bytesPerSecond).toBeCloseTo(10 * MiB, -5)
  })

  it('starts again from zero when an attempt opens the archive anew', async () => {
    let clock = 0
    const events: RunEvent[] = []
    const progress = new ShipProgress(
      8 * MiB,
      (e) => events.push(e),
      () => (clock += 300),
    )
    await drain(progress.track(Readable.from([Buffer.alloc(4 * MiB), Buffer.alloc(4 * MiB)], {objectMode: false})))
    await drain(progress.track(Readable.from([Buffer.alloc(4 * MiB)], {objectMode: false})))
    const sent = events.map((e) => (e.type === 'progress' ? e.sent : -1))
    // Chunks of at most 1 MiB go out: 1..8 MiB, then from 1 MiB again.
    expect(sent).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4].map((n) => n * MiB))
  })

  it('stays silent for archives under a few MB', async () => {
    const events: RunEvent[] = []
    const progress = new ShipProgress(PROGRESS_MIN_BYTES - 1, (e) => events.push(e))
    await drain(progress.track(Readable.from([Buffer.alloc(PROGRESS_MIN_BYTES - 1)], {objectMode: false})))
    progress.finish()
    expect(events).toEqual([])
  })
})

describe('progress in the plain and JSON output', () => {
  const progress = (sent: number, workflow?: string): RunEvent => ({
    type: 'progress',
    phase: 'ship',
    sent,
    total: 300 * MiB,
    bytesPerSecond: 50 * MiB,
    ...(workflow ? {workflow} : {}),
  })

  it('prints at most one line every few seconds, none at the end (the shipped line says it)', () => {
    let clock = 0
    const out: string[] = []
    const renderer = plainRenderer(
      (t) => out.push(t),
      false,
      () => clock,
    )
    renderer.emit({type: 'phase', phase: 'ship', status: 'start'})
    for (let ms = 250; ms <= 7_000; ms += 250) {
      clock = ms
      renderer.emit(progress(Math.round((ms / 7000) * 250 * MiB)))
    }
    clock = 7_100
    renderer.emit(progress(300 * MiB))
    renderer.emit({type: 'phase', phase: 'ship', status: 'done', detail: '300.0 MiB, through the pod proxy'})
    expect(out).toHaveLength(3)
    expect(out[0]).toMatch(/^shipping the checkout: 107\.1 MiB of 300\.0 MiB \(35%\), 50\.0 MiB\/s, \d+ s left\n$/)
    expect(PLAIN_PROGRESS_EVERY_MS).toBe(3000)
    expect(out[2]).toBe('checkout shipped (300.0 MiB, through the pod proxy)\n')
  })

  it('names the workflow when there are several, and gives --json every event', () => {
    let clock = 0
    const out: string[] = []
    const renderer = plainRenderer(
      (t) => out.push(t),
      false,
      () => clock,
    )
    renderer.emit({type: 'pipeline-start', workflows: ['a', 'b']})
    renderer.emit({type: 'phase', phase: 'ship', status: 'start', workflow: 'a'})
    clock = 5000
    renderer.emit(progress(10 * MiB, 'a'))
    expect(out.at(-1)).toMatch(/^\[a\] shipping the checkout: 10\.0 MiB of 300\.0 MiB/)
    const json: string[] = []
    jsonRenderer(
      (t) => json.push(t),
      () => new Date(0),
    ).emit(progress(10 * MiB))
    expect(JSON.parse(json[0])).toEqual({
      time: '1970-01-01T00:00:00.000Z',
      type: 'progress',
      phase: 'ship',
      sent: 10 * MiB,
      total: 300 * MiB,
      bytesPerSecond: 50 * MiB,
    })
  })
})
