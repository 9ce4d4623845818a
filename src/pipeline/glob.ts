import {createRequire} from 'node:module'
import type picomatch from 'picomatch'

// Glob patterns as Woodpecker matches `when` conditions: `doublestar.Match` (bmatcuk/doublestar v4.10)
// on every pattern of `branch`, `ref`, `repo`, `instance`, `platform`, `cron`, `path` and `matrix`.
//
// The matching itself is picomatch's. doublestar differs from every JavaScript glob library in a few
// places, so each pattern is first read the way doublestar reads it and handed to picomatch in a form
// whose meaning picomatch and doublestar agree on:
// - braces are expanded here, in doublestar's order and with its rules (`{a}`, `{}`, `{a,}` are
//   alternatives; a `}` closes a brace even inside `[...]`; an alternative begins a path segment);
// - `**` is special only as a whole segment (`a**` is `a*`), and `x/**`, `x/**/` also match `x`, while a
//   run of several stars that ends the pattern only matches when the name ends before it in the forms
//   doublestar accepts (so `**/*` does not match the empty name);
// - literal characters and classes are written as explicit code points, so nothing in them means
//   anything to picomatch; `[!a]`/`[^a]` become the positive class of everything else (doublestar's
//   negated classes match `/`, picomatch's do not); there are no POSIX classes, no extglobs, no `!`;
// - picomatch never lets `*` match `.`/`..` segments (even with `dot`), doublestar does: every `.` in
//   the name and in the pattern is replaced by a stand-in that cannot occur in text (a lone surrogate).
// Names are matched by code point (`?` is one character, also outside the BMP) and case-sensitively.
//
// Known difference: doublestar backtracks only to the last `*` and the last `**/` it entered, so in a
// few contrived patterns it misses a match that exists (a `[!x]` that matches the `/` between two `*`,
// as `*[!a]*a` on `.a/.a`; a `*` between two `**/` before a `/**/` tail, as `**/*/**/` on `a/b`);
// here those names match.

/** Stands for `.` on both sides so picomatch's `.`/`..` guards never fire; a lone surrogate never occurs in real text. */
const DOT_STAND_IN = 0xdfff
const MAX_RUNE = 0x10ffff
const RUNE_ERROR = 0xfffd
// Put before a pattern that starts with `/` (and before the name it is tested on): picomatch reads a
// leading `/**/` as needing two slashes; after another character it reads it as doublestar does.
const LEAD = String.fromCharCode(0xdffe)
/** Brace expansion beyond this many patterns is refused (doublestar would try them one by one). */
export const MAX_ALTERNATIVES = 256

/** picomatch is loaded on the first match: validation, which only reads patterns, never needs it. */
let picomatchModule: typeof picomatch | undefined
function loadPicomatch(): typeof picomatch {
  picomatchModule ??= createRequire(import.meta.url)('picomatch') as typeof picomatch
  return picomatchModule
}

const PICOMATCH_OPTIONS: picomatch.PicomatchOptions = {
  dot: true,
  nobrace: true,
  noextglob: true,
  nonegate: true,
  posix: false,
  literalBrackets: false,
  strictSlashes: true,
  fastpaths: false,
  windows: false,
  flags: 'us',
}

/** One element of a pattern as doublestar's `Match` reads it. */
type Token = (
  | {kind: 'lit'; cp: number}
  | {kind: 'star'}
  | {kind: 'any'}
  | {kind: 'class'; ranges: [number, number][]; negate: boolean}
  /** `**` at the start of a segment and at the end of the pattern: the rest of the name, whatever it is. */
  | {kind: 'gsEnd'; afterSlash: boolean}
  // `**/` at the start of a segment: nothing, or anything that ends with `/`.
  | {kind: 'gsSlash'; afterSlash: boolean}
) & {
  /** Where the token starts in the alternative's text (tokens made up for picomatch have none). */
  start?: number
}

/** A brace-free pattern: doublestar tries them in this order, stopping at the first match or error. */
interface Alternative {
  tokens: Token[]
  text: string
  /** Where brace alternatives were put in (positions in `text`). */
  substituted: number[]
  /** Reaching the end of `tokens` is an error in doublestar (unclosed `[`, trailing `\`, unclosed `{`). */
  bad: boolean
  /** Whether doublestar's validation accepts the text; if not, a failed match is an error and ends the search. */
  valid: boolean
}

interface Matcher {
  re: RegExp
  /** Test on LEAD + name. */
  lead: boolean
}

/** What is known of a pattern: found at once for validation; the expressions are built on the first match. */
interface Analysis {
  alternatives: Alternative[]
  problem?: string
  /** Per alternative, in doublestar's order: picomatch's expressions (any may match). */
  matchers?: Matcher[][]
}

const cache = new Map<string, Analysis>()
const CACHE_LIMIT = 10_000

/** Whether `name` matches `pattern` as `doublestar.Match` decides (an error counts as no match, as in Woodpecker). */
export function globMatch(pattern: string, name: string): boolean {
  const analysis = analyze(pattern)
  analysis.matchers ??= analysis.alternatives.map(matchersOf)
  const subject = name.replaceAll('.', String.fromCharCode(DOT_STAND_IN))
  for (const [k, alt] of analysis.alternatives.entries()) {
    if (alt.bad) return false
    // The empty name is decided by doublestar's zero-length rules alone (allowedEnds gives 0 then).
    const matched =
      name === ''
        ? allowedEnds(alt).includes(0)
        : analysis.matchers[k].some((m) => m.re.test(m.lead ? LEAD + subject : subject))
    if (matched) return true
    if (!alt.valid) return false
  }
  return false
}

/** Why doublestar calls `pattern` invalid (or why it cannot be used), or undefined when it is fine. */
export function globProblem(pattern: string): string | undefined {
  return analyze(pattern).problem
}

function analyze(pattern: string): Analysis {
  const cached = cache.get(pattern)
  if (cached) return cached
  if (cache.size >= CACHE_LIMIT) cache.clear()
  let problem = validationProblem(pattern)
  const {alternatives, tooMany} = expand(pattern)
  if (tooMany) problem ??= `its braces expand to more than ${MAX_ALTERNATIVES} patterns`
  else if (!problem && alternatives.some((a) => a.bad || !a.valid)) {
    problem =
      'a `{` ends at its first `}`, even one inside `[...]`, which leaves a broken alternative (write `\\}` for a literal brace)'
  }
  const analysis: Analysis = {alternatives: tooMany ? [] : alternatives, ...(problem ? {problem} : {})}
  cache.set(pattern, analysis)
  return analysis
}

/** picomatch's expressions for one alternative: one per place the name may end and per spelling. */
function matchersOf(alt: Alternative): Matcher[] {
  if (alt.bad) return []
  const matchers: Matcher[] = []
  for (const q of allowedEnds(alt)) {
    if (q === 0) continue
    for (const sequence of variants(alt.tokens.slice(0, q))) {
      const glob = emit(sequence)
      if (glob === undefined) continue
      const lead = glob.startsWith('/')
      const re = loadPicomatch().makeRe(lead ? `[${codePoint(LEAD.charCodeAt(0))}]${glob}` : glob, PICOMATCH_OPTIONS)
      // picomatch answers what it could not build with /$^/, which never matches: nothing emitted here should get there.
      matchers.push({re, lead})
    }
  }
  return matchers
}

/**
 * doublestar's `ValidatePattern`, with the reason: a `\` must escape something, `[` needs a closing `]`
 * and at least one character, `{` and `}` must pair up.
 */
function validationProblem(s: string): string | undefined {
  const open: number[] = []
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]
    if (ch === '\\') {
      if (++i >= s.length) return `it ends with a lone \`\\\` (write \`\\\\\` for a backslash)`
    } else if (ch === '[') {
      const start = i
      if (++i < s.length && (s[i] === '^' || s[i] === '!')) i++
      if (i >= s.length)
        return `the \`[\` at character ${start + 1} is never closed (write \`\\[\` for a literal bracket)`
      if (s[i] === ']')
        return `the character class at character ${start + 1} is empty (\`[]\` is not allowed; write \`[\\]]\` for a \`]\`)`
      let closed = false
      for (; i < s.length; i++) {
        if (s[i] === '\\') i++
        else if (s[i] === ']') {
          closed = true
          break
        }
      }
      if (!closed) return `the \`[\` at character ${start + 1} is never closed (write \`\\[\` for a literal bracket)`
    } else if (ch === '{') open.push(i)
    else if (ch === '}') {
      if (open.length === 0)
        return `the \`}\` at character ${i + 1} closes no \`{\` (write \`\\}\` for a literal brace)`
      open.pop()
    }
  }
  if (open.length > 0)
    return `the \`{\` at character ${open[open.length - 1] + 1} is never closed (write \`\\{\` for a literal brace)`
  return undefined
}

function isValid(s: string): boolean {
  return validationProblem(s) === undefined
}

/** Index of the `}` that closes a `{` just before `s` (nested braces counted, escapes skipped, classes not). */
function indexMatchedClosingAlt(s: string, from: number): number {
  let depth = 1
  for (let i = from; i < s.length; i++) {
    if (s[i] === '\\') i++
    else if (s[i] === '{') depth++
    else if (s[i] === '}' && --depth === 0) return i
  }
  return -1
}

/** Index of the next top-level `,` in `s[from, to)`, or -1. */
function indexNextAlt(s: string, from: number, to: number): number {
  let depth = 1
  for (let i = from; i < to; i++) {
    if (s[i] === '\\') i++
    else if (s[i] === '{') depth++
    else if (s[i] === '}') depth--
    else if (s[i] === ',' && depth === 1) return i
  }
  return -1
}

/** The brace-free alternatives of a pattern, in the order doublestar tries them. */
function expand(pattern: string): {alternatives: Alternative[]; tooMany: boolean} {
  const alternatives: Alternative[] = []
  let tooMany = false
  const add = (alternative: Alternative) => {
    if (alternatives.length >= MAX_ALTERNATIVES) tooMany = true
    else alternatives.push(alternative)
  }
  // doublestar puts each alternative in place of the braces and goes on matching from there, as at
  // the start of a segment; what came before the brace stays as it was read.
  const walk = (text: string, state: ScanState): void => {
    if (tooMany) return
    const scan = tokenize(text, state)
    if (scan.brace === undefined)
      return add({tokens: scan.tokens, text, substituted: state.substituted, bad: scan.bad, valid: isValid(text)})
    const open = scan.brace
    const close = indexMatchedClosingAlt(text, open + 1)
    if (close < 0) return add({tokens: scan.tokens, text, substituted: state.substituted, bad: true, valid: false})
    const before = text.slice(0, open)
    const after = text.slice(close + 1)
    let start = open + 1
    for (;;) {
      const comma = indexNextAlt(text, start, close)
      const end = comma < 0 ? close : comma
      const next: ScanState = {
        at: open,
        tokens: [...scan.tokens],
        segmentStart: true,
        afterSlash: scan.afterSlash,
        substituted: [...state.substituted, open],
      }
      walk(before + text.slice(start, end) + after, next)
      if (comma < 0 || tooMany) return
      start = comma + 1
    }
  }
  walk(pattern, {at: 0, tokens: [], segmentStart: true, afterSlash: true, substituted: []})
  return {alternatives, tooMany}
}

interface ScanState {
  at: number
  tokens: Token[]
  /** doublestar's `startOfSegment`: true at the start, after a `/`, and where a brace alternative begins. */
  segmentStart: boolean
  /** Whether the text so far ends at a real segment boundary (start, or a `/`). */
  afterSlash: boolean
  substituted: number[]
}

/** Reads `text` from `state.at` as doublestar's `Match` does, up to the first `{` (whose position is returned) or the end. */
function tokenize(
  text: string,
  state: ScanState,
): {tokens: Token[]; bad: boolean; brace?: number; afterSlash: boolean} {
  const tokens = state.tokens
  let {segmentStart, afterSlash} = state
  let i = state.at
  while (i < text.length) {
    const ch = text[i]
    if (ch === '*') {
      if (text[i + 1] === '*' && segmentStart) {
        if (i + 2 === text.length) {
          tokens.push({kind: 'gsEnd', afterSlash, start: i})
          return {tokens, bad: false, afterSlash}
        }
        if (text[i + 2] === '/') {
          tokens.push({kind: 'gsSlash', afterSlash, start: i})
          i += 3
          afterSlash = true
          continue
        }
      }
      tokens.push({kind: 'star', start: i})
      i += text[i + 1] === '*' ? 2 : 1
      segmentStart = afterSlash = false
    } else if (ch === '?') {
      tokens.push({kind: 'any', start: i})
      i++
      segmentStart = afterSlash = false
    } else if (ch === '[') {
      const cls = readClass(text, i)
      if (!cls) return {tokens, bad: true, afterSlash}
      tokens.push({...cls.token, start: i})
      i = cls.next
      segmentStart = afterSlash = false
    } else if (ch === '{') {
      return {tokens, bad: false, brace: i, afterSlash}
    } else {
      const start = i
      if (ch === '\\' && ++i >= text.length) return {tokens, bad: true, afterSlash}
      const cp = text.codePointAt(i)!
      tokens.push({kind: 'lit', cp, start})
      i += cp > 0xffff ? 2 : 1
      segmentStart = afterSlash = cp === 0x2f
    }
  }
  return {tokens, bad: false, afterSlash}
}

/** A `[...]` class at `start` as `Match` reads it (ranges, escapes, `!`/`^`), or undefined when it is bad. */
function readClass(text: string, start: number): {token: Token; next: number} | undefined {
  let j = start + 1
  if (j >= text.length) return undefined
  const negate = text[j] === '!' || text[j] === '^'
  if (negate) j++
  if (j >= text.length || text[j] === ']') return undefined
  const ranges: [number, number][] = []
  const runeAt = (k: number): [number, number] => {
    if (k >= text.length) return [RUNE_ERROR, 0]
    const cp = text.codePointAt(k)!
    return [cp, cp > 0xffff ? 2 : 1]
  }
  let last = MAX_RUNE
  while (j < text.length && text[j] !== ']') {
    let [cp, size] = runeAt(j)
    j += size
    if (last < MAX_RUNE && cp === 0x2d && j < text.length && text[j] !== ']') {
      if (text[j] === '\\') j++
      ;[cp, size] = runeAt(j)
      j += size
      if (last <= cp) ranges.push([last, cp])
      last = MAX_RUNE
      continue
    }
    if (cp === 0x5c) {
      ;[cp, size] = runeAt(j)
      j += size
    }
    ranges.push([cp, cp])
    last = cp
  }
  if (j >= text.length) return undefined
  return {token: {kind: 'class', ranges, negate}, next: j + 1}
}

const ZERO_LENGTH_TAILS = new Set(['', '*', '**', '/**', '**/', '/**/'])

// Where the name may end. doublestar matches the name left to right; when the name runs out, the rest
// of the pattern text must be one of ``, `*`, `**`, `/**`, `**/`, `/**/` (its `isZeroLengthPattern`;
// it expands a brace there only when the rest starts with it). So a match ends after token q-1, which
// matched at least one character, with the text from token q on one of those forms.
function allowedEnds(alt: Alternative): number[] {
  const n = alt.tokens.length
  const ends: number[] = []
  for (let q = n; q >= Math.max(0, n - 2); q--) {
    const at = q < n ? alt.tokens[q].start! : alt.text.length
    if (!ZERO_LENGTH_TAILS.has(alt.text.slice(at)) || alt.substituted.some((s) => s > at)) continue
    // doublestar only ever lengthens the last `*` it entered (a `**/` drops even that): a star right
    // before another star or a `**/` cannot be what ran out the name.
    if (
      q > 0 &&
      q < n &&
      alt.tokens[q - 1].kind === 'star' &&
      (alt.tokens[q].kind === 'star' || alt.tokens[q].kind === 'gsSlash')
    )
      continue
    ends.push(q)
  }
  return ends
}

// The token sequences picomatch gets for a pattern prefix: the last token must match at least one
// character, and a `**` that doublestar takes as a globstar only because a brace alternative starts
// there (`x{**/,}y`) is spelled out with a `/` before it.
function variants(prefix: Token[]): Token[][] {
  let out: Token[][] = [[]]
  const slash: Token = {kind: 'lit', cp: 0x2f}
  prefix.forEach((t, k) => {
    const lastToken = k === prefix.length - 1
    let options: Token[][]
    if (t.kind === 'star') options = lastToken ? [[{kind: 'any'}, t]] : [[t]]
    else if (t.kind === 'gsEnd') {
      // Last by construction; with nothing after it, it must match one character or more here.
      options = [
        [{kind: 'any'}, {kind: 'star'}],
        [{kind: 'star'}, slash, {kind: 'gsEnd', afterSlash: true}],
      ]
    } else if (t.kind === 'gsSlash') {
      const some: Token[] = [{kind: 'star'}, slash, {kind: 'gsSlash', afterSlash: true}]
      options = lastToken ? [some] : t.afterSlash ? [[t]] : [[], some]
    } else options = [[t]]
    out = out.flatMap((seq) => options.map((o) => [...seq, ...o]))
  })
  return out
}

/** The picomatch pattern for a token sequence, or undefined when it can match nothing. */
function emit(tokens: Token[]): string | undefined {
  let glob = ''
  let previous: Token | undefined
  for (const t of tokens) {
    switch (t.kind) {
      case 'lit':
        glob += t.cp === 0x2f ? '/' : literal(t.cp)
        break
      case 'star':
        if (previous?.kind !== 'star') glob += '*'
        break
      case 'any':
        glob += '?'
        break
      case 'gsEnd':
        glob += '**'
        break
      case 'gsSlash':
        glob += '**/'
        break
      case 'class': {
        const cls = classText(t)
        if (cls === undefined) return undefined
        glob += cls
        break
      }
    }
    previous = t
  }
  return glob
}

function literal(cp: number): string {
  if ((cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a) || cp === 0x5f)
    return String.fromCodePoint(cp)
  return `[${codePoint(cp === 0x2e ? DOT_STAND_IN : cp)}]`
}

const codePoint = (cp: number) => `\\u{${cp.toString(16)}}`

/** A class as a positive set of code points (`.` as its stand-in), or undefined when the set is empty. */
function classText(t: Extract<Token, {kind: 'class'}>): string | undefined {
  let ranges = mergeRanges(t.ranges.flatMap(([lo, hi]) => splitOut([lo, hi], DOT_STAND_IN)))
  if (ranges.some(([lo, hi]) => lo <= 0x2e && 0x2e <= hi))
    ranges = mergeRanges([...ranges, [DOT_STAND_IN, DOT_STAND_IN]])
  if (t.negate) ranges = complement(ranges)
  if (ranges.length === 0) return undefined
  return `[${ranges.map(([lo, hi]) => (lo === hi ? codePoint(lo) : `${codePoint(lo)}-${codePoint(hi)}`)).join('')}]`
}

function splitOut([lo, hi]: [number, number], cp: number): [number, number][] {
  if (cp < lo || cp > hi) return [[lo, hi]]
  const parts: [number, number][] = []
  if (lo < cp) parts.push([lo, cp - 1])
  if (cp < hi) parts.push([cp + 1, hi])
  return parts
}

function mergeRanges(ranges: [number, number][]): [number, number][] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0])
  const out: [number, number][] = []
  for (const [lo, hi] of sorted) {
    const top = out[out.length - 1]
    if (top && lo <= top[1] + 1) top[1] = Math.max(top[1], hi)
    else out.push([lo, hi])
  }
  return out
}

function complement(ranges: [number, number][]): [number, number][] {
  const out: [number, number][] = []
  let next = 0
  for (const [lo, hi] of ranges) {
    if (lo > next) out.push([next, lo - 1])
    next = hi + 1
  }
  if (next <= MAX_RUNE) out.push([next, MAX_RUNE])
  return out
}
