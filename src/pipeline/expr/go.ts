/**
 * Small pieces of Go's standard library as expr uses them: strings measured in UTF-8 bytes and runes,
 * per-rune case mapping, `strings.TrimSpace`, number parsing and `%v` formatting, JSON, base64 and
 * `time.Duration`. Only what the expression language needs.
 */

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const ASCII = /^[\x00-\x7f]*$/

/** Length of `s` in UTF-8 bytes (Go's `len` of a string). */
export function byteLength(s: string): number {
  return ASCII.test(s) ? s.length : encoder.encode(s).length
}

/** Number of runes (Go's `utf8.RuneCountInString`). */
export function runeCount(s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) i++
    }
    n++
  }
  return n
}

/** `s[from:to]` with byte offsets; a cut through a character leaves U+FFFD where Go would keep the raw byte. */
export function sliceBytes(s: string, from: number, to: number): string {
  if (ASCII.test(s)) return s.slice(from, to)
  return decoder.decode(encoder.encode(s).subarray(from, to))
}

/** The byte at `index` (Go's `s[i]`). */
export function byteAt(s: string, index: number): number {
  return ASCII.test(s) ? s.charCodeAt(index) : encoder.encode(s)[index]
}

/** Byte offset of the UTF-16 offset `index`. */
function byteOffset(s: string, index: number): number {
  return index < 0 ? index : byteLength(s.slice(0, index))
}

export const indexOf = (s: string, sub: string): number => byteOffset(s, s.indexOf(sub))
export const lastIndexOf = (s: string, sub: string): number => byteOffset(s, s.lastIndexOf(sub))

/** Go's string ordering (bytewise UTF-8, which is code-point order). */
export function compareStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x !== y) return codeUnitRank(x) < codeUnitRank(y) ? -1 : 1
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1
}

function codeUnitRank(u: number): number {
  if (u >= 0xe000) return u - 0x800
  if (u >= 0xd800) return u + 0x2000
  return u
}

// Go maps case one rune at a time with Unicode's simple mappings. JavaScript applies the full
// mappings (ß → SS, ﬁ → FI, İ → i̇) and context rules (final sigma); use JavaScript's result only when
// it is a single character, with the few simple mappings that differ from the full ones.
const UPPER_SPECIAL: Record<number, number> = {0x1fb3: 0x1fbc, 0x1fc3: 0x1fcc, 0x1ff3: 0x1ffc}
const LOWER_SPECIAL: Record<number, number> = {0x130: 0x69}

function mapRune(cp: number, upper: boolean): number {
  const special = upper ? UPPER_SPECIAL[cp] : LOWER_SPECIAL[cp]
  if (special !== undefined) return special
  if (upper && ((cp >= 0x1f80 && cp <= 0x1f87) || (cp >= 0x1f90 && cp <= 0x1f97) || (cp >= 0x1fa0 && cp <= 0x1fa7)))
    return cp + 8
  const ch = String.fromCodePoint(cp)
  const mapped = upper ? ch.toUpperCase() : ch.toLowerCase()
  const first = mapped.codePointAt(0)!
  return mapped.length === (first > 0xffff ? 2 : 1) ? first : cp
}

function mapCase(s: string, upper: boolean): string {
  if (ASCII.test(s)) return upper ? s.toUpperCase() : s.toLowerCase()
  let out = ''
  for (const ch of s) out += String.fromCodePoint(mapRune(ch.codePointAt(0)!, upper))
  return out
}

export const toUpper = (s: string): string => mapCase(s, true)
export const toLower = (s: string): string => mapCase(s, false)

/** Go's `unicode.IsSpace`. */
export function isSpace(cp: number): boolean {
  if (cp <= 0xff) return cp === 0x20 || (cp >= 0x09 && cp <= 0x0d) || cp === 0x85 || cp === 0xa0
  return (
    cp === 0x1680 ||
    (cp >= 0x2000 && cp <= 0x200a) ||
    cp === 0x2028 ||
    cp === 0x2029 ||
    cp === 0x202f ||
    cp === 0x205f ||
    cp === 0x3000
  )
}

function trimWith(s: string, drop: (cp: number) => boolean, left: boolean, right: boolean): string {
  const chars = [...s]
  let a = 0
  let b = chars.length
  if (left) while (a < b && drop(chars[a].codePointAt(0)!)) a++
  if (right) while (b > a && drop(chars[b - 1].codePointAt(0)!)) b--
  return chars.slice(a, b).join('')
}

export const trimSpace = (s: string): string => trimWith(s, isSpace, true, true)

export function trimCutset(s: string, cutset: string): string {
  const set = new Set([...cutset].map((c) => c.codePointAt(0)!))
  return trimWith(s, (cp) => set.has(cp), true, true)
}

/** Go's `strings.SplitN` / `SplitAfterN` (n < 0: all). */
export function split(s: string, sep: string, n: number, after: boolean): string[] {
  if (n === 0) return []
  if (sep === '') {
    const chars = [...s]
    if (n < 0 || n > chars.length) n = chars.length
    const out = chars.slice(0, n - 1)
    out.push(chars.slice(n - 1).join(''))
    return chars.length === 0 ? [] : out
  }
  const out: string[] = []
  let start = 0
  while (n < 0 || out.length < n - 1) {
    const i = s.indexOf(sep, start)
    if (i < 0) break
    out.push(s.slice(start, after ? i + sep.length : i))
    start = i + sep.length
  }
  out.push(s.slice(start))
  return out
}

/** Go's `strings.Replace` (n < 0: all). */
export function replace(s: string, old: string, replacement: string, n: number): string {
  if (n === 0) return s
  if (old === '') {
    const chars = [...s]
    let out = ''
    let done = 0
    for (let i = 0; i <= chars.length; i++) {
      if (n < 0 || done < n) {
        out += replacement
        done++
      }
      if (i < chars.length) out += chars[i]
    }
    return out
  }
  let out = ''
  let start = 0
  let done = 0
  while (n < 0 || done < n) {
    const i = s.indexOf(old, start)
    if (i < 0) break
    out += s.slice(start, i) + replacement
    start = i + old.length
    done++
  }
  return out + s.slice(start)
}

// ---- numbers

export const MAX_INT = (1n << 63n) - 1n
export const MIN_INT = -(1n << 63n)
export const wrapInt = (n: bigint): bigint => BigInt.asIntN(64, n)

/** Go's `strconv.Atoi` (base 10, optional sign, no spaces or underscores). */
export function parseGoInt(s: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined
  const n = BigInt(s)
  return n > MAX_INT || n < MIN_INT ? undefined : n
}

/** Go's `strconv.ParseFloat(s, 64)` for decimal forms, infinities and NaN. */
export function parseGoFloat(s: string): number | undefined {
  if (/^[+-]?(inf|infinity)$/i.test(s)) return s.startsWith('-') ? -Infinity : Infinity
  if (/^nan$/i.test(s)) return NaN
  if (
    /^[+-]?(?:[0-9](?:_?[0-9])*(?:\.(?:[0-9](?:_?[0-9])*)?)?|\.[0-9](?:_?[0-9])*)(?:[eE][+-]?[0-9](?:_?[0-9])*)?$/.test(
      s,
    )
  ) {
    if (s.includes('_')) return undefined // underscores are only allowed with a base prefix
    const f = Number(s)
    return Number.isFinite(f) ? f : undefined
  }
  return undefined
}

/** Go's `%v` of a float64 (`%g` with the shortest digits: exponent form when the exponent is < -4 or >= 6). */
export function formatFloat(f: number): string {
  if (Number.isNaN(f)) return 'NaN'
  if (f === Infinity) return '+Inf'
  if (f === -Infinity) return '-Inf'
  if (f === 0) return Object.is(f, -0) ? '-0' : '0'
  const [mantissa, expText] = f.toExponential().split('e')
  const exp = Number(expText)
  if (exp < -4 || exp >= 6) return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`
  return String(f)
}

// ---- base64

export function toBase64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64')
}

export function fromBase64(s: string): string | undefined {
  const clean = s.replace(/[\r\n]/g, '')
  if (clean.length % 4 !== 0 || !/^[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(clean))
    return undefined
  return Buffer.from(clean, 'base64').toString('utf8')
}

// ---- time.Duration

const UNITS: Record<string, number> = {ns: 1, us: 1e3, µs: 1e3, μs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9}

/** Go's `time.ParseDuration`, in nanoseconds. */
export function parseDuration(s: string): bigint | undefined {
  let rest = s
  let negative = false
  if (rest.startsWith('-') || rest.startsWith('+')) {
    negative = rest.startsWith('-')
    rest = rest.slice(1)
  }
  if (rest === '0') return 0n
  if (rest === '') return undefined
  let total = 0
  while (rest !== '') {
    const m = /^([0-9]*)(?:\.([0-9]*))?([^0-9.]*)/.exec(rest)!
    if (m[1] === '' && !m[2]) return undefined
    const unit = UNITS[m[3]]
    if (unit === undefined) return undefined
    total += Number(`${m[1] || '0'}.${m[2] ?? ''}0`) * unit
    rest = rest.slice(m[0].length)
  }
  if (total > 9223372036854775807) return undefined
  return BigInt(Math.round(negative ? -total : total))
}

/** Go's `Duration.String()`: `1h2m3.5s`, `1.5ms`, `0s`. */
export function formatDuration(ns: bigint): string {
  if (ns === 0n) return '0s'
  const negative = ns < 0n
  let u = negative ? -ns : ns
  let out: string
  if (u < 1000000000n) {
    const [unit, scale] = u < 1000n ? ['ns', 1n] : u < 1000000n ? ['µs', 1000n] : ['ms', 1000000n]
    out = fraction(u, scale) + unit
  } else {
    const h = u / 3600000000000n
    u -= h * 3600000000000n
    const m = u / 60000000000n
    u -= m * 60000000000n
    out = `${fraction(u, 1000000000n)}s`
    if (h > 0n) out = `${h}h${m}m${out}`
    else if (m > 0n) out = `${m}m${out}`
  }
  return negative ? `-${out}` : out
}

function fraction(value: bigint, scale: bigint): string {
  const whole = value / scale
  const rest = value % scale
  if (rest === 0n) return String(whole)
  const digits = String(rest)
    .padStart(String(scale).length - 1, '0')
    .replace(/0+$/, '')
  return `${whole}.${digits}`
}
