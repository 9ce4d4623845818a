/**
 * Tokens of expr's language: identifiers (with `$` and Unicode letters), numbers (`1_000`, `0x1F`,
 * `0o17`, `0b101`, `.5`, `1e3`), strings (`"…"` and `'…'` with Go escapes, raw `` `…` ``), operators,
 * brackets, and `//` / `/* *\/` comments. Offsets are UTF-16 indexes into the source.
 */
import {isSpace} from './go.js'

export type TokenKind = 'ident' | 'number' | 'string' | 'op' | 'bracket' | 'eof'

export interface Token {
  kind: TokenKind
  /** Operator or name text; for strings the unescaped value; for numbers the source text. */
  value: string
  start: number
  end: number
}

/** A compile-time problem at an offset of the source. */
export class CompileFailure extends Error {
  constructor(
    message: string,
    readonly at: number,
  ) {
    super(message)
  }
}

/** Words the lexer turns into operators. */
const WORD_OPERATORS = new Set([
  'in',
  'or',
  'and',
  'matches',
  'contains',
  'startsWith',
  'endsWith',
  'let',
  'if',
  'else',
])
/** Words that may follow `not` as one negated operator. */
export const NEGATABLE = new Set(['in', 'matches', 'contains', 'startsWith', 'endsWith'])

const LETTER = /\p{L}/u
const DIGIT = /\p{Nd}/u

export function isLetter(cp: number): boolean {
  if (cp < 0x80) return (cp >= 0x61 && cp <= 0x7a) || (cp >= 0x41 && cp <= 0x5a) || cp === 0x5f || cp === 0x24
  return LETTER.test(String.fromCodePoint(cp))
}

export function isAlphaNumeric(cp: number): boolean {
  if (cp < 0x80) return isLetter(cp) || (cp >= 0x30 && cp <= 0x39)
  return isLetter(cp) || DIGIT.test(String.fromCodePoint(cp))
}

export function isValidIdentifier(s: string): boolean {
  const chars = [...s]
  return chars.length > 0 && isLetter(chars[0].codePointAt(0)!) && chars.every((c) => isAlphaNumeric(c.codePointAt(0)!))
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9'

export function tokenize(text: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  const cpAt = (at: number): number => (at < text.length ? text.codePointAt(at)! : -1)
  const width = (cp: number): number => (cp > 0xffff ? 2 : 1)
  const push = (kind: TokenKind, start: number, value = text.slice(start, i)): void => {
    tokens.push({kind, value, start, end: i})
  }

  while (i < text.length) {
    const start = i
    const cp = cpAt(i)
    const c = text[i]
    if (isSpace(cp)) {
      i += width(cp)
      continue
    }
    if (c === '"' || c === "'") {
      const [value, end] = readQuoted(text, start)
      i = end
      push('string', start, value)
      continue
    }
    if (c === '`') {
      const close = text.indexOf('`', i + 1)
      if (close < 0) throw new CompileFailure('this `…` string is not closed', start)
      i = close + 1
      push('string', start, text.slice(start + 1, close))
      continue
    }
    if (isDigit(c) || (c === '.' && isDigit(text[i + 1]))) {
      i = scanNumber(text, i)
      push('number', start)
      continue
    }
    if (c === '/' && (text[i + 1] === '/' || text[i + 1] === '*')) {
      if (text[i + 1] === '/') {
        const nl = text.indexOf('\n', i)
        i = nl < 0 ? text.length : nl + 1
      } else {
        const close = text.indexOf('*/', i + 2)
        if (close < 0) throw new CompileFailure('this /* comment is not closed', start)
        i = close + 2
      }
      continue
    }
    if (c === '?') {
      i++
      if (text[i] === '.' || text[i] === '?') i++
      push('op', start)
      continue
    }
    if (c === '#') {
      i++
      push('op', start)
      const nameStart = i
      while (i < text.length && isAlphaNumeric(cpAt(i))) i += width(cpAt(i))
      if (i > nameStart) push('ident', nameStart)
      continue
    }
    if (c === '|' || c === ':') {
      i++
      if (text[i] === c) i++
      push('op', start)
      continue
    }
    if ('([{)]}'.includes(c)) {
      i++
      push('bracket', start)
      continue
    }
    if (',;%+-^/'.includes(c)) {
      i++
      push('op', start)
      continue
    }
    if ('&!=*<>'.includes(c)) {
      i++
      if (text[i] === '&' || text[i] === '=' || text[i] === '*') i++
      push('op', start)
      continue
    }
    if (c === '.') {
      i++
      if (text[i] === '.') i++
      push('op', start)
      continue
    }
    if (isAlphaNumeric(cp)) {
      while (i < text.length && isAlphaNumeric(cpAt(i))) i += width(cpAt(i))
      const word = text.slice(start, i)
      if (word === 'not') {
        push('op', start)
        // `not in`, `not matches`, …: the next word is an operator too.
        let j = i
        while (j < text.length && isSpace(cpAt(j))) j += width(cpAt(j))
        let k = j
        while (k < text.length && isAlphaNumeric(cpAt(k))) k += width(cpAt(k))
        if (NEGATABLE.has(text.slice(j, k))) {
          i = k
          push('op', j)
        }
      } else push(WORD_OPERATORS.has(word) ? 'op' : 'ident', start)
      continue
    }
    throw new CompileFailure(`unexpected character \`${String.fromCodePoint(cp)}\``, start)
  }
  tokens.push({kind: 'eof', value: '', start: text.length, end: text.length})
  return tokens
}

/** Reads a `"…"` or `'…'` string at `start`: Go's escapes, only the string's own quote may be escaped. Returns the value and the end offset. */
function readQuoted(text: string, start: number): [string, number] {
  const quote = text[start]
  let out = ''
  let i = start + 1
  for (;;) {
    if (i >= text.length || text[i] === '\n')
      throw new CompileFailure(`this ${quote}…${quote} string is not closed`, start)
    const c = text[i]
    if (c === quote) break
    if (c !== '\\') {
      const cp = text.codePointAt(i)!
      out += String.fromCodePoint(cp)
      i += cp > 0xffff ? 2 : 1
      continue
    }
    const e = text[i + 1]
    const simple: Record<string, string> = {
      a: '\x07',
      b: '\b',
      f: '\f',
      n: '\n',
      r: '\r',
      t: '\t',
      v: '\v',
      '\\': '\\',
      [quote]: quote,
    }
    if (e !== undefined && simple[e] !== undefined) {
      out += simple[e]
      i += 2
      continue
    }
    const hexLength = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0
    let code: number | undefined
    let length = 0
    if (hexLength > 0) {
      const digits = text.slice(i + 2, i + 2 + hexLength)
      if (digits.length === hexLength && /^[0-9a-fA-F]+$/.test(digits)) code = parseInt(digits, 16)
      length = 2 + hexLength
    } else if (e !== undefined && e >= '0' && e <= '3') {
      const digits = text.slice(i + 1, i + 4)
      if (/^[0-3][0-7][0-7]$/.test(digits)) code = parseInt(digits, 8)
      length = 4
    }
    if (code === undefined || code > 0x10ffff) {
      const shown = text.slice(i, i + Math.max(2, length))
      throw new CompileFailure(
        `\`${shown}\` is not a valid escape in a quoted string (write \`\\\\\` for a backslash, or use a \`…\` string)`,
        i,
      )
    }
    out += code >= 0xd800 && code <= 0xdfff ? '\ufffd' : String.fromCodePoint(code)
    i += length
  }
  return [out, i + 1]
}

/** Scans a number the way expr's lexer does; a letter or digit right after it is an error. */
function scanNumber(text: string, start: number): number {
  let i = start
  let digits = '0123456789_'
  if (text[i] === '0') {
    i++
    const p = text[i]
    if (p === 'x' || p === 'X') digits = '0123456789abcdefABCDEF_'
    else if (p === 'o' || p === 'O') digits = '01234567_'
    else if (p === 'b' || p === 'B') digits = '01_'
    if (digits !== '0123456789_') i++
  }
  while (i < text.length && digits.includes(text[i])) i++
  if (text[i] === '.') {
    if (text[i + 1] === '.') return i // `1..3`
    i++
    while (i < text.length && digits.includes(text[i])) i++
  }
  if (text[i] === 'e' || text[i] === 'E') {
    i++
    if (text[i] === '+' || text[i] === '-') i++
    while (i < text.length && digits.includes(text[i])) i++
  }
  if (i < text.length && isAlphaNumeric(text.codePointAt(i)!)) {
    let end = i
    while (end < text.length && isAlphaNumeric(text.codePointAt(end)!)) end++
    throw new CompileFailure(`\`${text.slice(start, end)}\` is not a valid number`, start)
  }
  return i
}
