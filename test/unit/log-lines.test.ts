import {describe, expect, it} from 'vitest'
import {LogCursor, sortableTimestamp} from '../../src/cluster/log-lines.js'

const line = (ts: string, text: string) => `${ts} ${text}\n`

describe('LogCursor', () => {
  it('splits timestamped chunks into lines, joining lines cut across chunks', () => {
    const out: string[] = []
    const cursor = new LogCursor((l) => out.push(l))
    cursor.push('2026-01-01T00:00:01.1Z first\n2026-01-01T00:00:01.2Z sec')
    cursor.push('ond\n2026-01-01T00:00:01.3Z no newline at the end')
    cursor.end()
    expect(out).toEqual(['first', 'second', 'no newline at the end'])
  })

  it('resumes after a broken stream without losing or repeating lines, even with equal timestamps', () => {
    const out: string[] = []
    const cursor = new LogCursor((l) => out.push(l))
    cursor.push(
      line('2026-01-01T00:00:01.5Z', 'a') + line('2026-01-01T00:00:02.25Z', 'b') + line('2026-01-01T00:00:02.25Z', 'c'),
    )
    expect(cursor.resumeFrom).toBe('2026-01-01T00:00:02Z')
    cursor.restart()
    // The server resends from the whole second: b and c again, then new lines.
    cursor.push(
      line('2026-01-01T00:00:02.25Z', 'b') +
        line('2026-01-01T00:00:02.25Z', 'c') +
        line('2026-01-01T00:00:02.25Z', 'd') +
        line('2026-01-01T00:00:03Z', 'e'),
    )
    expect(out).toEqual(['a', 'b', 'c', 'd', 'e'])
  })

  it("drops text that is not a log line (the API server's own error messages)", () => {
    const out: string[] = []
    const cursor = new LogCursor((l) => out.push(l))
    cursor.push('error: code = NotFound desc = container not found\n')
    cursor.end()
    expect(out).toEqual([])
  })

  it('compares timestamps whose fractions Kubernetes printed with trailing zeros dropped', () => {
    expect(sortableTimestamp('2026-01-01T00:00:02.25Z') < sortableTimestamp('2026-01-01T00:00:02.251Z')).toBe(true)
    expect(sortableTimestamp('2026-01-01T00:00:02Z') < sortableTimestamp('2026-01-01T00:00:02.000000001Z')).toBe(true)
  })
})
