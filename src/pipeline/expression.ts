/**
 * The subset of Woodpecker's `evaluate` expression language that pipelines use: variables (the step's
 * CI_* environment), "strings" and 'strings', numbers, true/false, lists `[a, b]`, parentheses,
 * `!`/`not`, `&&`/`and`, `||`/`or`, comparisons `== != < > <= >=`, `in`/`not in`, and the infix
 * string operators `contains`, `startsWith`, `endsWith`, `matches` (a regular expression).
 */
type Value = string | number | boolean | Value[] | undefined

export class ExpressionError extends Error {}

const TOKEN = /\s*(?:(\d+(?:\.\d+)?)|("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(&&|\|\||==|!=|<=|>=|[<>!()[\],])|([A-Za-z_][A-Za-z0-9_.]*))/y

function tokenize(text: string): string[] {
  const tokens: string[] = []
  TOKEN.lastIndex = 0
  while (TOKEN.lastIndex < text.length) {
    if (/^\s*$/.test(text.slice(TOKEN.lastIndex))) break
    const at = TOKEN.lastIndex
    const m = TOKEN.exec(text)
    if (!m) throw new ExpressionError(`unexpected \`${text.slice(at).trim()[0]}\` at position ${at + 1}`)
    tokens.push(m[1] ?? m[2] ?? m[3] ?? m[4])
  }
  return tokens
}

export function evaluateExpression(text: string, vars: Readonly<Record<string, string>>): boolean {
  const parser = new Parser(tokenize(text), vars)
  const value = parser.parse()
  return truthy(value)
}

/** Throws an ExpressionError describing the first syntax problem, for validation. */
export function checkExpression(text: string): void {
  new Parser(tokenize(text), {}).parse()
}

function truthy(v: Value): boolean {
  return Array.isArray(v) ? v.length > 0 : Boolean(v)
}

class Parser {
  private i = 0
  constructor(private readonly tokens: string[], private readonly vars: Readonly<Record<string, string>>) {}

  parse(): Value {
    if (this.tokens.length === 0) throw new ExpressionError('the expression is empty')
    const value = this.or()
    if (this.i < this.tokens.length) throw new ExpressionError(`unexpected \`${this.tokens[this.i]}\``)
    return value
  }

  private peek(): string | undefined {
    return this.tokens[this.i]
  }

  private take(expected?: string): string {
    const token = this.tokens[this.i++]
    if (token === undefined) throw new ExpressionError(expected ? `missing \`${expected}\`` : 'the expression ends too early')
    if (expected && token !== expected) throw new ExpressionError(`expected \`${expected}\`, found \`${token}\``)
    return token
  }

  private or(): Value {
    let left = this.and()
    while (this.peek() === '||' || this.peek() === 'or') {
      this.take()
      const right = this.and()
      left = truthy(left) || truthy(right)
    }
    return left
  }

  private and(): Value {
    let left = this.not()
    while (this.peek() === '&&' || this.peek() === 'and') {
      this.take()
      const right = this.not()
      left = truthy(left) && truthy(right)
    }
    return left
  }

  private not(): Value {
    if (this.peek() === '!' || this.peek() === 'not') {
      this.take()
      return !truthy(this.not())
    }
    return this.comparison()
  }

  private comparison(): Value {
    const left = this.primary()
    const op = this.peek()
    if (op === 'not' && this.tokens[this.i + 1] === 'in') {
      this.i += 2
      return !includes(this.primary(), left)
    }
    if (op === undefined || !['==', '!=', '<', '>', '<=', '>=', 'in', 'contains', 'startsWith', 'endsWith', 'matches'].includes(op)) return left
    this.take()
    const right = this.primary()
    return compare(op, left, right)
  }

  private primary(): Value {
    const token = this.take()
    if (token === '(') {
      const value = this.or()
      this.take(')')
      return value
    }
    if (token === '[') {
      const items: Value[] = []
      while (this.peek() !== ']') {
        items.push(this.or())
        if (this.peek() === ',') this.take()
        else if (this.peek() !== ']') throw new ExpressionError(`expected \`,\` or \`]\`, found \`${this.peek() ?? 'the end'}\``)
      }
      this.take(']')
      return items
    }
    if (/^["']/.test(token)) return token.slice(1, -1).replace(/\\(.)/g, '$1')
    if (/^\d/.test(token)) return Number(token)
    if (token === 'true' || token === 'false') return token === 'true'
    if (/^[A-Za-z_]/.test(token)) return this.vars[token] ?? ''
    throw new ExpressionError(`unexpected \`${token}\``)
  }
}

function includes(list: Value, item: Value): boolean {
  return Array.isArray(list) ? list.some((v) => v === item) : typeof list === 'string' && typeof item === 'string' && list.includes(item)
}

function compare(op: string, a: Value, b: Value): boolean {
  const sa = String(a ?? '')
  const sb = String(b ?? '')
  switch (op) {
    case '==': return a === b || (typeof a !== typeof b && sa === sb)
    case '!=': return !(a === b || (typeof a !== typeof b && sa === sb))
    case '<': return typeof a === 'number' && typeof b === 'number' ? a < b : sa < sb
    case '>': return typeof a === 'number' && typeof b === 'number' ? a > b : sa > sb
    case '<=': return typeof a === 'number' && typeof b === 'number' ? a <= b : sa <= sb
    case '>=': return typeof a === 'number' && typeof b === 'number' ? a >= b : sa >= sb
    case 'in': return includes(b, a)
    case 'contains': return sa.includes(sb)
    case 'startsWith': return sa.startsWith(sb)
    case 'endsWith': return sa.endsWith(sb)
    default: {
      try {
        return new RegExp(sb).test(sa)
      } catch {
        throw new ExpressionError(`\`${sb}\` is not a valid regular expression`)
      }
    }
  }
}
