/**
 * Woodpecker's `${...}` substitution, applied to the raw text of each workflow file before YAML parsing.
 *
 * Woodpecker runs github.com/drone/envsubst v1.0.3 over the file, with a mapping that returns the
 * variable's value, `%q`-quoted (Go syntax) when it contains a newline. This module reproduces that
 * library's scanner and functions rule for rule (checked against ../shared/conformance/envsubst.tsv),
 * including its surprises:
 * - only `${...}` is replaced (`$VAR` stays); `$$` stands for `$`; `\\` becomes `\` and `\/` becomes `/`
 *   anywhere in the text, not only near a `${`;
 * - `=`, `:=`, `:-` and `:?` give the word when the value is empty, `:+` gives the value when set (the word
 *   otherwise); `-`, `+` and `?` without the colon are errors;
 * - lengths and offsets count UTF-8 bytes; `#`/`##`/`%`/`%%` use the library's own glob (`*` and `?` cross
 *   `/`, `[^...]` negates, the empty prefix is never tried, suffix forms reverse string and pattern);
 * - `/`, `//`, `/#`, `/%` replace plain substrings; case changes map each character on its own.
 * Any error fails the whole file, as in Woodpecker.
 */
export interface Substitution {
  text: string
  /** Names referenced but not defined, in order of first reference: they became empty (or stayed as written). */
  undefinedNames: string[]
  /** Every reference to an undefined name whose value is used, with the offset of its `${`, in text order. */
  undefinedReferences: SubstitutionReference[]
  /** Set when Woodpecker would reject the file; `text` is then the input unchanged. */
  error?: SubstitutionError
}

export interface SubstitutionReference {
  name: string
  /** Character offset of the `${` in the input. */
  offset: number
}

export interface SubstitutionError {
  message: string
  /** Character offset of the offending `${` in the input. */
  offset: number
}

/**
 * Substitutes `text` as Woodpecker does. With `keepUndefined`, a reference whose value would be used but
 * whose name is not in `vars` stays as written (validation does not know run-time values and checks the
 * rest of the structure); without it, undefined is `""` as in Woodpecker.
 */
export function substitute(text: string, vars: Readonly<Record<string, string>>, keepUndefined = false): Substitution {
  const evaluator = new Evaluator(text, vars, keepUndefined)
  try {
    const out = evaluator.run()
    const references = evaluator.references.sort((a, b) => a.offset - b.offset)
    return {text: out, undefinedNames: [...new Set(references.map((r) => r.name))], undefinedReferences: references}
  } catch (error) {
    if (!(error instanceof Failure)) throw error
    return {text, undefinedNames: [], undefinedReferences: [], error: {message: error.message, offset: error.offset}}
  }
}

// ---------------------------------------------------------------------------------------------------------
// Scanner: the library's token rules. Positions are UTF-16 indexes into the unchanged input; characters that
// an escape drops are remembered instead of being cut out of the buffer.

const EOF = 0 // the library's end marker; a NUL character in the text ends it too
const IDENT = 1
const LBRACK = 2
const RBRACK = 4
const ESCAPE = 8

const DOLLAR = 0x24
const BACKSLASH = 0x5c
const SLASH = 0x2f
const OPEN = 0x7b
const CLOSE = 0x7d
const COLON = 0x3a
const HASH = 0x23
const PERCENT = 0x25
const EQUAL = 0x3d

type Token = 'illegal' | 'eof' | 'ident' | 'lbrack' | 'rbrack'
/** Whether the character `r` is part of the token; `i` is the token's length in bytes including `r`. */
type Accept = (r: number, i: number) => boolean

const NAME_CHAR = /^[\p{L}\p{Nd}_]$/u

const acceptRune: Accept = () => true
const acceptIdent: Accept = (r) =>
  r === 0x5f ||
  (r < 0x80
    ? (r >= 0x30 && r <= 0x39) || ((r | 0x20) >= 0x61 && (r | 0x20) <= 0x7a)
    : NAME_CHAR.test(String.fromCodePoint(r)))
const acceptColon: Accept = (r) => r === COLON
const acceptOneHash: Accept = (r, i) => r === HASH && i === 1
const acceptNotClosing: Accept = (r) => r !== CLOSE
const acceptHashFunc: Accept = (r, i) => r === HASH && i < 3
const acceptPercentFunc: Accept = (r, i) => r === PERCENT && i < 3
const acceptDefaultFunc: Accept = (r, i) =>
  (i === 1 && r === COLON) || (i === 2 && (r === EQUAL || r === 0x2d || r === 0x3f || r === 0x2b))
const acceptReplaceFunc: Accept = (r, i) =>
  (i === 1 && r === SLASH) || (i === 2 && (r === SLASH || r === HASH || r === PERCENT))
const acceptOneEqual: Accept = (r, i) => i === 1 && r === EQUAL
const acceptOneColon: Accept = (r, i) => i === 1 && r === COLON
const rejectColonClose: Accept = (r) => r !== COLON && r !== CLOSE
const acceptSlash: Accept = (r) => r === SLASH
const acceptNotSlash: Accept = (r) => r !== SLASH
const acceptCasingFunc: Accept = (r, i) => (r === 0x2c || r === 0x5e) && i < 3

class Scanner {
  pos = 0
  start = 0
  width = 0
  mode = 0
  accept: Accept = acceptRune
  /** The last token scanned. */
  last: Token = 'eof'
  /** Indexes (in this token) of escape characters that are not part of its text. */
  private skipped: number[] = []

  constructor(readonly buf: string) {}

  read(): number {
    if (this.pos >= this.buf.length) {
      this.width = 0
      return EOF
    }
    const r = this.buf.codePointAt(this.pos)!
    this.width = r > 0xffff ? 2 : 1
    this.pos += this.width
    return r
  }

  unread(): void {
    this.pos -= this.width
  }

  peek(): number {
    const r = this.read()
    this.unread()
    return r
  }

  /** Drops the escape character just read; the escaped one after it becomes part of the token as it is. */
  private skip(): void {
    this.skipped.push(this.pos - 1)
    this.pos += 1
  }

  /** The text of the last token, without dropped escape characters. */
  string(): string {
    if (this.skipped.length === 0) return this.buf.slice(this.start, this.pos)
    let out = ''
    let from = this.start
    for (const at of this.skipped) {
      out += this.buf.slice(from, at)
      from = at + 1
    }
    return out + this.buf.slice(from, this.pos)
  }

  scan(): Token {
    this.last = this.next()
    return this.last
  }

  private next(): Token {
    this.start = this.pos
    this.skipped = []
    const r = this.read()
    if (r === EOF) return 'eof'
    if (this.scanLbrack(r)) return 'lbrack'
    if (this.scanRbrack(r)) return 'rbrack'
    if (this.scanIdent(r)) return 'ident'
    return 'illegal'
  }

  private length(): number {
    return this.pos - this.start - this.skipped.length
  }

  private scanIdent(first: number): boolean {
    if ((this.mode & IDENT) === 0) return false
    if (this.scanEscaped(first)) this.skip()
    else if (!this.accept(first, this.length())) return false
    for (;;) {
      const r = this.read()
      if (r === EOF) {
        this.unread()
        break
      }
      if (this.scanLbrack(r)) {
        this.unread()
        this.unread()
        break
      }
      if (this.scanEscaped(r)) {
        this.skip()
        continue
      }
      if (!this.accept(r, this.length())) {
        this.unread()
        break
      }
    }
    return true
  }

  private scanLbrack(r: number): boolean {
    if ((this.mode & LBRACK) === 0 || r !== DOLLAR) return false
    if (this.read() === OPEN) return true
    this.unread()
    return false
  }

  private scanRbrack(r: number): boolean {
    return (this.mode & RBRACK) !== 0 && r === CLOSE
  }

  private scanEscaped(r: number): boolean {
    if ((this.mode & ESCAPE) === 0) return false
    if (r === DOLLAR && this.peek() === DOLLAR) return true
    if (r !== BACKSLASH) return false
    const next = this.peek()
    return next === SLASH || next === BACKSLASH
  }
}

// ---------------------------------------------------------------------------------------------------------
// Parser and evaluation in one pass (the library parses everything first, but evaluation has no effects, and
// a failure anywhere discards the output either way).

type FailureKind = 'name' | 'close' | 'bad' | 'argument' | 'length' | 'depth'

class Failure extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message)
  }
}

/** The functions that give the word instead of an empty value: an undefined name there is intended. */
const DEFAULT_FUNCTIONS = new Set(['=', ':=', ':-', ':?', ':+'])
const MAX_DEPTH = 200
const SPECIAL = /[$\\\0]/g
const hasOwn = Object.prototype.hasOwnProperty
const NO_ARGS: string[] = []
const QUICK = /\$\{([A-Za-z0-9_]+)(?:\}|(:[-=?+]|=)([^}$\0]*)\}|:([0-9]+)(?::([0-9]+))?\})/y

class Evaluator {
  readonly references: SubstitutionReference[] = []
  private readonly s: Scanner
  private depth = 0

  constructor(
    private readonly text: string,
    private readonly vars: Readonly<Record<string, string>>,
    private readonly keepUndefined: boolean,
  ) {
    this.s = new Scanner(text)
  }

  /** Plain text: `$$` → `$`, `\\` → `\`, `\/` → `/`, `${` starts a substitution, NUL ends the input. */
  run(): string {
    const text = this.text
    let out = ''
    let p = 0
    for (;;) {
      SPECIAL.lastIndex = p
      const m = SPECIAL.exec(text)
      if (!m) return out + text.slice(p)
      const k = m.index
      out += text.slice(p, k)
      const c = text.charCodeAt(k)
      if (c === EOF) return out
      const next = text.charCodeAt(k + 1)
      if (c === DOLLAR) {
        if (next === OPEN) {
          const quick = this.quick(k)
          if (quick === undefined) {
            this.s.pos = k + 2
            out += this.parseFunc(k)
            p = this.s.pos
          } else {
            out += quick
            p = this.s.pos
          }
        } else if (next === DOLLAR) {
          out += '$'
          p = k + 2
        } else {
          out += '$'
          p = k + 1
        }
      } else if (next === BACKSLASH || next === SLASH) {
        out += text[k + 1]
        p = k + 2
      } else {
        out += '\\'
        p = k + 1
      }
    }
  }

  /**
   * The common forms `${NAME}`, `${NAME:-word}` (and the other defaults, with a word without `$`) and
   * `${NAME:1:2}` with an ASCII name, without the general scanner (which gives the same for them): start-up
   * time matters. Undefined when the expression at `open` is not one of them.
   */
  private quick(open: number): string | undefined {
    QUICK.lastIndex = open
    const m = QUICK.exec(this.text)
    if (!m) return undefined
    this.s.pos = QUICK.lastIndex
    if (m[2] !== undefined) return this.apply(m[1], m[2], m[3] === '' ? NO_ARGS : [m[3]], open)
    if (m[4] !== undefined) return this.apply(m[1], ':', m[5] === undefined ? [m[4]] : [m[4], m[5]], open)
    return this.apply(m[1], '', NO_ARGS, open)
  }

  /** After `${` (at `open`). */
  private parseFunc(open: number): string {
    if (++this.depth > MAX_DEPTH) this.fail('depth', open)
    try {
      return this.parseFuncBody(open)
    } finally {
      this.depth--
    }
  }

  private parseFuncBody(open: number): string {
    const s = this.s
    if (s.peek() === HASH) return this.parseLength(open)
    s.accept = acceptIdent
    s.mode = IDENT
    if (s.scan() !== 'ident') this.fail('name', open)
    const name = s.string()
    switch (s.peek()) {
      case COLON:
        return this.parseDefaultOrSubstring(name, open)
      case EQUAL:
        return this.parseDefault(name, open)
      case 0x2c:
      case 0x5e:
        return this.parseCasing(name, open)
      case SLASH:
        return this.parseReplace(name, open)
      case HASH:
        return this.parseRemove(name, acceptHashFunc, open)
      case PERCENT:
        return this.parseRemove(name, acceptPercentFunc, open)
    }
    s.accept = acceptIdent
    s.mode = RBRACK
    if (s.scan() !== 'rbrack') this.fail('close', open)
    return this.apply(name, '', [], open)
  }

  /** One argument: a nested `${...}` or text up to what `accept` refuses. */
  private param(accept: Accept, mode: number, open: number): string {
    const s = this.s
    s.accept = accept
    s.mode = mode | LBRACK
    const token = s.scan()
    if (token === 'lbrack') return this.parseFunc(s.start)
    if (token === 'ident' || token === 'rbrack') return s.string()
    return this.fail('argument', open)
  }

  private parseDefaultOrSubstring(name: string, open: number): string {
    const s = this.s
    s.read()
    const r = s.peek()
    // The library steps back by the byte width of the character after the colon, so any non-ASCII
    // character there lands it before the colon, and the substring parse then fails.
    if (r >= 0x80) this.fail('bad', open)
    s.unread()
    return r === EQUAL || r === 0x2d || r === 0x3f || r === 0x2b
      ? this.parseDefault(name, open)
      : this.parseSubstring(name, open)
  }

  private parseSubstring(name: string, open: number): string {
    const s = this.s
    s.accept = acceptOneColon
    s.mode = IDENT
    if (s.scan() !== 'ident') this.fail('bad', open)
    const args = [this.param(rejectColonClose, IDENT, open)]
    s.accept = acceptColon
    s.mode = IDENT | RBRACK
    const token = s.scan()
    if (token === 'rbrack') return this.apply(name, ':', args, open)
    if (token !== 'ident') this.fail('bad', open)
    args.push(this.param(acceptNotClosing, IDENT, open))
    this.consumeRbrack(open)
    return this.apply(name, ':', args, open)
  }

  private parseRemove(name: string, accept: Accept, open: number): string {
    const s = this.s
    s.accept = accept
    s.mode = IDENT
    if (s.scan() !== 'ident') this.fail('bad', open)
    const fn = s.string()
    const args = [this.param(acceptNotClosing, IDENT, open)]
    this.consumeRbrack(open)
    return this.apply(name, fn, args, open)
  }

  private parseReplace(name: string, open: number): string {
    const s = this.s
    s.accept = acceptReplaceFunc
    s.mode = IDENT
    if (s.scan() !== 'ident') this.fail('bad', open)
    const fn = s.string()
    const args = [this.param(acceptNotSlash, IDENT | ESCAPE, open)]
    s.accept = acceptSlash
    s.mode = IDENT
    if (s.scan() !== 'ident') this.fail('bad', open)
    if (s.peek() !== CLOSE) args.push(this.param(acceptNotClosing, IDENT | ESCAPE, open))
    this.consumeRbrack(open)
    return this.apply(name, fn, args, open)
  }

  private parseDefault(name: string, open: number): string {
    const s = this.s
    s.accept = s.peek() === EQUAL ? acceptOneEqual : acceptDefaultFunc
    s.mode = IDENT
    if (s.scan() !== 'ident') this.fail('bad', open)
    const fn = s.string()
    const args: string[] = []
    while (s.peek() !== CLOSE) args.push(this.param(acceptNotClosing, IDENT, open))
    this.consumeRbrack(open)
    return this.apply(name, fn, args, open)
  }

  private parseCasing(name: string, open: number): string {
    const s = this.s
    s.accept = acceptCasingFunc
    s.mode = IDENT
    if (s.scan() !== 'ident') this.fail('bad', open)
    const fn = s.string()
    this.consumeRbrack(open)
    return this.apply(name, fn, [], open)
  }

  private parseLength(open: number): string {
    const s = this.s
    s.accept = acceptOneHash
    s.mode = IDENT
    if (s.scan() !== 'ident') this.fail('bad', open)
    s.accept = acceptIdent
    s.mode = IDENT
    if (s.scan() !== 'ident') this.fail('bad', open)
    const name = s.string()
    this.consumeRbrack(open)
    return this.apply(name, '#', [], open)
  }

  private consumeRbrack(open: number): void {
    this.s.mode = RBRACK
    if (this.s.scan() !== 'rbrack') this.fail('bad', open)
  }

  private apply(name: string, fn: string, args: string[], open: number): string {
    const defined = hasOwn.call(this.vars, name)
    if (!defined && !DEFAULT_FUNCTIONS.has(fn)) {
      this.references.push({name, offset: open})
      if (this.keepUndefined) return this.text.slice(open, this.s.pos)
    }
    let value = defined ? this.vars[name] : ''
    if (value.includes('\n')) value = goQuote(value)
    const result = evaluate(fn, value, args)
    if (result === undefined) this.fail('length', open)
    return result
  }

  private fail(kind: FailureKind, open: number): never {
    const atEnd = this.s.last === 'eof'
    throw new Failure(describeFailure(kind, this.text, open, atEnd), open)
  }
}

// ---------------------------------------------------------------------------------------------------------
// Messages in plain words (the library's own are terse: "bad substitution", "missing closing brace", ...).

/** `atEnd`: the parse ran into the end of the text (or a NUL character, where the library stops). */
function describeFailure(kind: FailureKind, text: string, open: number, atEnd: boolean): string {
  // What is shown: the expression up to its `}`, or up to the end of its line when it has none.
  let end = open + 2
  while (end < text.length && text[end] !== '}' && text[end] !== '\n' && text[end] !== '\0') end++
  const closed = text[end] === '}'
  if (closed) end++
  const cut = end - open > 60
  const shown = `\`${text.slice(open, cut ? open + 57 : end)}${cut ? '…' : ''}\``
  const expression = /^\$\{(#?)([\p{L}\p{Nd}_]*)(.?)(.?)/su.exec(text.slice(open, open + 300))!
  const [, hash, name, operator, second] = expression
  const v = name || 'NAME'
  const notClosed = `${shown}: \`\${\` is not closed by \`}\` on its line`
  if (atEnd && operator !== '/' && kind !== 'name') return `${shown}: this \`\${\` is never closed by \`}\``
  switch (kind) {
    case 'name':
      return `${shown}: expected a variable name (letters, digits and \`_\`) right after \`\${\` (\`$$\` writes a literal \`$\`)`
    case 'close':
      if (operator === '-') return `${shown}: not a valid substitution (use \`\${${v}:-…}\` for a default)`
      if (operator === '+')
        return `${shown}: not a valid substitution (Woodpecker only has \`\${${v}:+…}\`, which gives the value when it is set and the word when it is empty)`
      if (operator === '?')
        return `${shown}: not a valid substitution (Woodpecker only has \`\${${v}:?…}\`, which gives the word when the value is empty and never fails)`
      if (!closed) return notClosed
      return `${shown}: not a valid substitution (a variable name is made of letters, digits and \`_\`)`
    case 'argument':
    case 'bad':
      if (hash)
        return closed
          ? `${shown}: not a valid substitution (\`\${#${v}}\` gives the length of ${v} and takes no operator)`
          : notClosed
      if (operator === '/')
        return `${shown}: not a valid replacement (write \`\${${v}/pattern/replacement}\`; \`\${${v}/pattern/}\` deletes)`
      if (!closed) return notClosed
      if (operator === '^' || operator === ',')
        return `${shown}: not a valid substitution (the case operators are \`^\`, \`^^\`, \`,\` and \`,,\`)`
      if (operator === '#' || operator === '%') {
        const op = second === operator ? operator + second : operator
        return `${shown}: \`${op}\` needs a pattern to remove (\`\${${v}${op}pattern}\`)`
      }
      if (operator === ':' && !'=-?+'.includes(second || 'x'))
        return `${shown}: not a valid substring (write \`\${${v}:offset}\` or \`\${${v}:offset:length}\`)`
      return `${shown}: not a valid substitution`
    case 'length':
      return `${shown}: a negative substring length is not allowed (Woodpecker's substitution fails on it)`
    case 'depth':
      return `${shown}: substitutions nested more than ${MAX_DEPTH} deep`
  }
}

// ---------------------------------------------------------------------------------------------------------
// The library's functions. Values are JavaScript strings; byte semantics go through UTF-8 buffers.

/** The result of function `fn`, or undefined where the library crashes (negative substring length). */
function evaluate(fn: string, value: string, args: string[]): string | undefined {
  switch (fn) {
    case ',':
      return mapFirst(value, lowerRune)
    case ',,':
      return mapAll(value, lowerRune)
    case '^':
      return mapFirst(value, upperRune)
    case '^^':
      return mapAll(value, upperRune)
    case '#':
      return args.length === 0 ? String(Buffer.byteLength(value, 'utf8')) : trimPrefix(value, args[0], false)
    case '##':
      return trimPrefix(value, args[0], true)
    case '%':
      return trimSuffix(value, args[0], false)
    case '%%':
      return trimSuffix(value, args[0], true)
    case ':':
      return substring(value, args)
    case '/#':
      return args.length === 2 && value.startsWith(args[0]) ? args[1] + value.slice(args[0].length) : value
    case '/%':
      return args.length === 2 && value.endsWith(args[0])
        ? value.slice(0, value.length - args[0].length) + args[1]
        : value
    case '/':
      return replace(value, args[0], args[1] ?? '', false)
    case '//':
      return replace(value, args[0], args[1] ?? '', true)
    default:
      return value === '' && args.length > 0 ? args.join('') : value
  }
}

/** Go's strings.Replace (once or all); an empty pattern matches before every character and at the end. */
function replace(s: string, old: string, by: string, all: boolean): string {
  if (old === '') {
    if (!all || s === '') return by + s
    return by + Array.from(s).join(by) + by
  }
  if (all) return s.split(old).join(by)
  const at = s.indexOf(old)
  return at < 0 ? s : s.slice(0, at) + by + s.slice(at + old.length)
}

const INT = /^[+-]?[0-9]+$/
const INT64_MAX = 2 ** 63

/** Go's strconv.Atoi on 64 bits: undefined when it fails (huge values are only approximately exact here). */
function atoi(text: string): number | undefined {
  if (!INT.test(text)) return undefined
  if (text.length > 15) {
    const n = BigInt(text)
    if (n < -(2n ** 63n) || n >= 2n ** 63n) return undefined
  }
  return Number(text)
}

/** `${V:pos}` / `${V:pos:len}` on bytes; unparsable numbers give the value unchanged. */
function substring(value: string, args: string[]): string | undefined {
  let pos = atoi(args[0])
  if (pos === undefined) return value
  const bytes = isAscii(value) ? undefined : Buffer.from(value, 'utf8')
  const size = bytes ? bytes.length : value.length
  const cut = (from: number, to?: number): string =>
    bytes ? bytes.subarray(from, to).toString('utf8') : value.slice(from, to)
  if (pos < 0) pos = Math.max(0, size + pos)
  if (args.length === 1) return pos < size ? cut(pos) : ''
  const length = atoi(args[1])
  if (length === undefined) return value
  let end = pos + length
  if (end >= INT64_MAX) end -= 2 * INT64_MAX // Go's int wraps around
  if (end >= size) return pos < size ? cut(pos) : ''
  if (end < pos) return undefined
  return cut(pos, end)
}

function isAscii(s: string): boolean {
  return /^[\x00-\x7f]*$/.test(s)
}

function trimPrefix(value: string, pattern: string, longest: boolean): string {
  const s = Buffer.from(value, 'utf8')
  return trim(s, Buffer.from(pattern, 'utf8'), longest).toString('utf8')
}

/** The suffix forms reverse the value and the pattern (by characters), trim the prefix, and reverse back. */
function trimSuffix(value: string, pattern: string, longest: boolean): string {
  const s = reverseRunes(Buffer.from(value, 'utf8'))
  return reverseRunes(trim(s, reverseRunes(Buffer.from(pattern, 'utf8')), longest)).toString('utf8')
}

/** Removes the shortest (or longest) non-empty prefix that the pattern matches; a bad pattern changes nothing. */
function trim(s: Buffer, pattern: Uint8Array, longest: boolean): Buffer {
  let found = 0
  for (let n = s.length; n > 0; n--) {
    const m = match(pattern, s.subarray(0, n))
    if (m === 'error') return s
    if (m) {
      found = n
      if (longest) break
    }
  }
  return found > 0 ? s.subarray(found) : s
}

const RUNE_ERROR = 0xfffd

/** Go's utf8.DecodeRune: [rune, size], with (U+FFFD, 1) for an invalid or cut sequence. */
function decodeRune(s: Uint8Array, i: number): [number, number] {
  const b0 = s[i]
  if (b0 < 0x80) return [b0, 1]
  const cont = (j: number, lo = 0x80, hi = 0xbf): boolean => j < s.length && s[j] >= lo && s[j] <= hi
  if (b0 >= 0xc2 && b0 < 0xe0) {
    if (cont(i + 1)) return [((b0 & 0x1f) << 6) | (s[i + 1] & 0x3f), 2]
  } else if (b0 >= 0xe0 && b0 < 0xf0) {
    const [lo, hi] = b0 === 0xe0 ? [0xa0, 0xbf] : b0 === 0xed ? [0x80, 0x9f] : [0x80, 0xbf]
    if (cont(i + 1, lo, hi) && cont(i + 2))
      return [((b0 & 0x0f) << 12) | ((s[i + 1] & 0x3f) << 6) | (s[i + 2] & 0x3f), 3]
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    const [lo, hi] = b0 === 0xf0 ? [0x90, 0xbf] : b0 === 0xf4 ? [0x80, 0x8f] : [0x80, 0xbf]
    if (cont(i + 1, lo, hi) && cont(i + 2) && cont(i + 3))
      return [((b0 & 0x07) << 18) | ((s[i + 1] & 0x3f) << 12) | ((s[i + 2] & 0x3f) << 6) | (s[i + 3] & 0x3f), 4]
  }
  return [RUNE_ERROR, 1]
}

/** Go's reverse by `[]rune`: invalid bytes become U+FFFD. */
function reverseRunes(s: Uint8Array): Buffer {
  if (s.every((b) => b < 0x80)) return Buffer.from(s).reverse()
  const runes: number[] = []
  for (let i = 0; i < s.length;) {
    const [r, n] = decodeRune(s, i)
    runes.push(r)
    i += n
  }
  return Buffer.from(String.fromCodePoint(...runes.reverse()), 'utf8')
}

type MatchResult = boolean | 'error'

/**
 * envsubst's copy of Go's path.Match, on bytes: `*` and `?` match any character (`/` included),
 * `[...]` classes with `^` for negation, `\` escapes. 'error' for a malformed pattern (found on the way).
 */
function match(pattern: Uint8Array, name: Uint8Array): MatchResult {
  pattern: while (pattern.length > 0) {
    let star = false
    while (pattern.length > 0 && pattern[0] === 0x2a) {
      pattern = pattern.subarray(1)
      star = true
    }
    const end = chunkEnd(pattern)
    const chunk = pattern.subarray(0, end)
    pattern = pattern.subarray(end)
    if (star && chunk.length === 0) return true
    const first = matchChunk(chunk, name)
    if (first !== 'error' && first !== false && (first.length === 0 || pattern.length > 0)) {
      name = first
      continue
    }
    if (first === 'error') return 'error'
    if (star) {
      for (let i = 0; i < name.length; i++) {
        const rest = matchChunk(chunk, name.subarray(i + 1))
        if (rest === 'error') return 'error'
        if (rest !== false) {
          if (pattern.length === 0 && rest.length > 0) continue
          name = rest
          continue pattern
        }
      }
    }
    return false
  }
  return name.length === 0
}

/** Where the chunk (up to the next `*` outside a class) ends. */
function chunkEnd(pattern: Uint8Array): number {
  let inRange = false
  let i = 0
  for (; i < pattern.length; i++) {
    const c = pattern[i]
    if (c === BACKSLASH) {
      if (i + 1 < pattern.length) i++
    } else if (c === 0x5b) inRange = true
    else if (c === 0x5d) inRange = false
    else if (c === 0x2a && !inRange) break
  }
  return i
}

/** The rest of `s` after `chunk` matched its beginning, false when it does not, 'error' for a bad pattern. */
function matchChunk(chunk: Uint8Array, s: Uint8Array): Uint8Array | false | 'error' {
  while (chunk.length > 0) {
    if (s.length === 0) return false
    const c = chunk[0]
    if (c === 0x5b) {
      const [r, n] = decodeRune(s, 0)
      s = s.subarray(n)
      chunk = chunk.subarray(1)
      let negated = false
      if (chunk.length > 0 && chunk[0] === 0x5e) {
        negated = true
        chunk = chunk.subarray(1)
      }
      let matched = false
      let ranges = 0
      for (;;) {
        if (chunk.length > 0 && chunk[0] === 0x5d && ranges > 0) {
          chunk = chunk.subarray(1)
          break
        }
        const lo = classChar(chunk)
        if (lo === 'error') return 'error'
        chunk = lo[1]
        let hi = lo[0]
        if (chunk[0] === 0x2d) {
          const h = classChar(chunk.subarray(1))
          if (h === 'error') return 'error'
          hi = h[0]
          chunk = h[1]
        }
        if (lo[0] <= r && r <= hi) matched = true
        ranges++
      }
      if (matched === negated) return false
    } else if (c === 0x3f) {
      s = s.subarray(decodeRune(s, 0)[1])
      chunk = chunk.subarray(1)
    } else {
      if (c === BACKSLASH) {
        chunk = chunk.subarray(1)
        if (chunk.length === 0) return 'error'
      }
      if (chunk[0] !== s[0]) return false
      s = s.subarray(1)
      chunk = chunk.subarray(1)
    }
  }
  return s
}

/** A possibly escaped character of a class, and the rest of the chunk (which must not be empty). */
function classChar(chunk: Uint8Array): [number, Uint8Array] | 'error' {
  if (chunk.length === 0 || chunk[0] === 0x2d || chunk[0] === 0x5d) return 'error'
  if (chunk[0] === BACKSLASH) {
    chunk = chunk.subarray(1)
    if (chunk.length === 0) return 'error'
  }
  const [r, n] = decodeRune(chunk, 0)
  if (r === RUNE_ERROR && n === 1) return 'error'
  const rest = chunk.subarray(n)
  if (rest.length === 0) return 'error'
  return [r, rest]
}

// Case: Go maps each character on its own with its simple (one-to-one) mapping, where JavaScript uses the
// full mappings (ß → SS, ﬁ → FI, İ → i̇). A character whose JavaScript mapping is longer than one keeps
// Go's simple mapping: itself, except for these.
const SIMPLE_UPPER: Record<number, number> = {0x1fb3: 0x1fbc, 0x1fc3: 0x1fcc, 0x1ff3: 0x1ffc}
const SIMPLE_LOWER: Record<number, number> = {0x130: 0x69}

function upperRune(c: number): string {
  const ch = String.fromCodePoint(c)
  const u = ch.toUpperCase()
  if (u.length === 1 || (u.length === 2 && u.codePointAt(0)! > 0xffff)) return u
  if ((c >= 0x1f80 && c <= 0x1f87) || (c >= 0x1f90 && c <= 0x1f97) || (c >= 0x1fa0 && c <= 0x1fa7))
    return String.fromCodePoint(c + 8)
  return c in SIMPLE_UPPER ? String.fromCodePoint(SIMPLE_UPPER[c]) : ch
}

function lowerRune(c: number): string {
  const ch = String.fromCodePoint(c)
  const l = ch.toLowerCase()
  if (l.length === 1 || (l.length === 2 && l.codePointAt(0)! > 0xffff)) return l
  return c in SIMPLE_LOWER ? String.fromCodePoint(SIMPLE_LOWER[c]) : ch
}

function mapAll(s: string, f: (c: number) => string): string {
  if (isAscii(s)) return f === upperRune ? s.toUpperCase() : s.toLowerCase()
  let out = ''
  for (const ch of s) out += f(ch.codePointAt(0)!)
  return out
}

function mapFirst(s: string, f: (c: number) => string): string {
  if (s === '') return s
  const c = s.codePointAt(0)!
  return f(c) + s.slice(c > 0xffff ? 2 : 1)
}

// Go's %q (strconv.Quote): printable characters stay, the rest is escaped.
const UNPRINTABLE = /[^\p{L}\p{M}\p{N}\p{P}\p{S} ]|["\\]/gu
const NAMED_ESCAPES: Record<number, string> = {
  0x07: '\\a',
  0x08: '\\b',
  0x0c: '\\f',
  0x0a: '\\n',
  0x0d: '\\r',
  0x09: '\\t',
  0x0b: '\\v',
  0x22: '\\"',
  0x5c: '\\\\',
}

function goQuote(s: string): string {
  return `"${s.replace(UNPRINTABLE, (ch) => {
    let c = ch.codePointAt(0)!
    if (c in NAMED_ESCAPES) return NAMED_ESCAPES[c]
    if (c < 0x20 || c === 0x7f) return `\\x${c.toString(16).padStart(2, '0')}`
    if (c >= 0xd800 && c <= 0xdfff) c = RUNE_ERROR
    return c < 0x10000 ? `\\u${c.toString(16).padStart(4, '0')}` : `\\U${c.toString(16).padStart(8, '0')}`
  })}"`
}
