/**
 * Splits a timestamped log stream (`<RFC3339Nano> <text>` per line) into lines, skipping lines already
 * delivered: after a resume from `sinceTime` (whole seconds), the same lines come again.
 */
export class LogCursor {
  private lastTimestamp = ''
  private sameTimestampCount = 0
  private partial = ''
  private skipRemaining = 0
  private skipTimestamp = ''

  constructor(private readonly onLine: (line: string) => void) {}

  /** Where to resume from, as the API's sinceTime; undefined before the first line. */
  get resumeFrom(): string | undefined {
    return this.lastTimestamp ? this.lastTimestamp.replace(/\.\d+Z$/, 'Z') : undefined
  }

  /** Starts a new stream: drop any partial line and skip what was already delivered. */
  restart(): void {
    this.partial = ''
    this.skipTimestamp = this.lastTimestamp
    this.skipRemaining = this.sameTimestampCount
  }

  push(chunk: string): void {
    const text = this.partial + chunk
    const lines = text.split('\n')
    this.partial = lines.pop() ?? ''
    for (const line of lines) this.deliver(line)
  }

  /** The stream ended: a last line without a newline still counts. */
  end(): void {
    if (this.partial !== '') this.deliver(this.partial)
    this.partial = ''
  }

  private deliver(raw: string): void {
    const space = raw.indexOf(' ')
    // With timestamps on, every log line starts with one; anything else is the API's own error text
    // (such as "container not found" once a pod is gone), not output of the step.
    if (space <= 0 || !TIMESTAMP.test(raw.slice(0, space))) return
    const timestamp = sortableTimestamp(raw.slice(0, space))
    const text = raw.slice(space + 1)
    if (timestamp && this.skipTimestamp) {
      if (timestamp < this.skipTimestamp) return
      if (timestamp === this.skipTimestamp && this.skipRemaining > 0) {
        this.skipRemaining--
        return
      }
      this.skipTimestamp = ''
    }
    if (timestamp === this.lastTimestamp) this.sameTimestampCount++
    else {
      this.lastTimestamp = timestamp
      this.sameTimestampCount = 1
    }
    this.onLine(text.endsWith('\r') ? text.slice(0, -1) : text)
  }
}

const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/

/** RFC3339Nano drops trailing zeros of the fraction; padded to nine digits, timestamps sort as text. */
export function sortableTimestamp(timestamp: string): string {
  const m = /^(.*?)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(timestamp)
  return m ? `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}${m[3]}` : timestamp
}
