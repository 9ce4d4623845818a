/**
 * Glob patterns as Woodpecker's conditions use them: `*` matches within a path segment, `**` across
 * segments, `?` one character, `[abc]` a class, `{a,b}` alternatives.
 */
export function globToRegExp(pattern: string): RegExp {
  let out = ''
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]
    if (ch === '*') {
      if (pattern[i + 1] === '*') {
        const slash = pattern[i + 2] === '/'
        out += slash ? '(?:.*/)?' : '.*'
        i += slash ? 2 : 1
      } else out += '[^/]*'
    } else if (ch === '?') out += '[^/]'
    else if (ch === '[') {
      const end = pattern.indexOf(']', i + 1)
      if (end < 0) out += '\\['
      else {
        out += `[${pattern.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`
        i = end
      }
    } else if (ch === '{') {
      const end = pattern.indexOf('}', i + 1)
      if (end < 0) out += '\\{'
      else {
        out += `(?:${pattern.slice(i + 1, end).split(',').map(escape).join('|')})`
        i = end
      }
    } else out += escape(ch)
  }
  return new RegExp(`^${out}$`)
}

function escape(text: string): string {
  return text.replace(/[.+^$()|\\/]/g, '\\$&')
}

export function globMatch(pattern: string, value: string): boolean {
  return globToRegExp(pattern).test(value)
}
