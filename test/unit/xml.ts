/**
 * A strict, small XML 1.0 reader for tests (no XML package in the project): elements, attributes,
 * text, comments and CDATA; it throws on anything not well-formed (mismatched tags, a bad reference,
 * `<` in an attribute, a character XML forbids, a second root).
 */
export interface XmlElement {
  name: string
  attributes: Record<string, string>
  children: XmlElement[]
  /** The element's own text (children's not included), references resolved. */
  text: string
}

const NAME = /^[A-Za-z_:][-A-Za-z0-9_:.]*/
const FORBIDDEN = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u

export function parseXml(source: string): XmlElement {
  const bad = FORBIDDEN.exec(source)
  if (bad)
    throw new Error(
      `character U+${bad[0].codePointAt(0)!.toString(16).padStart(4, '0')} is not allowed in XML at ${bad.index}`,
    )
  let i = 0
  const fail = (message: string): never => {
    throw new Error(`${message} at offset ${i}: ${JSON.stringify(source.slice(i, i + 40))}`)
  }
  if (source.startsWith('<?xml')) {
    const end = source.indexOf('?>')
    if (end < 0) fail('unterminated XML declaration')
    i = end + 2
  }
  const stack: XmlElement[] = []
  let root: XmlElement | undefined
  while (i < source.length) {
    const lt = source.indexOf('<', i)
    const text = source.slice(i, lt < 0 ? source.length : lt)
    if (stack.length === 0 && text.trim() !== '') fail('text outside the root element')
    if (text.includes(']]>')) fail('`]]>` in text')
    if (stack.length) stack[stack.length - 1].text += decode(text, fail)
    if (lt < 0) break
    i = lt
    if (source.startsWith('<!--', i)) {
      const end = source.indexOf('-->', i + 4)
      if (end < 0) fail('unterminated comment')
      i = end + 3
    } else if (source.startsWith('<![CDATA[', i)) {
      if (!stack.length) fail('CDATA outside the root element')
      const end = source.indexOf(']]>', i)
      if (end < 0) fail('unterminated CDATA')
      stack[stack.length - 1].text += source.slice(i + 9, end)
      i = end + 3
    } else if (source.startsWith('</', i)) {
      i += 2
      const name = NAME.exec(source.slice(i))?.[0] ?? fail('bad end tag')
      i += name.length
      while (/\s/.test(source[i] ?? '')) i++
      if (source[i] !== '>') fail('bad end tag')
      i++
      const open = stack.pop()
      if (!open || open.name !== name) fail(`</${name}> does not close <${open?.name ?? 'nothing'}>`)
    } else {
      i++
      const name = NAME.exec(source.slice(i))?.[0] ?? fail('bad start tag')
      i += name.length
      const element: XmlElement = {name, attributes: {}, children: [], text: ''}
      for (;;) {
        const space = /^\s*/.exec(source.slice(i))![0].length
        i += space
        if (source.startsWith('/>', i) || source[i] === '>') break
        if (space === 0) fail('attributes must be separated by white space')
        const attr = NAME.exec(source.slice(i))?.[0] ?? fail('bad attribute name')
        i += attr.length
        if (source[i] !== '=') fail('attribute without value')
        const quote = source[i + 1]
        if (quote !== '"' && quote !== "'") fail('attribute value without quotes')
        const end = source.indexOf(quote, i + 2)
        if (end < 0) fail('unterminated attribute value')
        const raw = source.slice(i + 2, end)
        if (raw.includes('<')) fail('`<` in an attribute value')
        if (attr in element.attributes) fail(`attribute ${attr} twice`)
        // Character references keep their characters (normalisation replaces only literal white space).
        element.attributes[attr] = decode(raw.replace(/[\t\n\r]/g, ' '), fail)
        i = end + 1
      }
      if (stack.length) stack[stack.length - 1].children.push(element)
      else if (root) fail('a second root element')
      else root = element
      if (source.startsWith('/>', i)) i += 2
      else {
        i++
        stack.push(element)
      }
    }
  }
  if (stack.length) throw new Error(`<${stack[stack.length - 1].name}> is not closed`)
  if (!root) throw new Error('no root element')
  return root
}

function decode(text: string, fail: (message: string) => never): string {
  return text.replace(/&([^;&]*);?/g, (all, ref: string) => {
    if (!all.endsWith(';')) fail(`bare & in ${JSON.stringify(all)}`)
    const named: Record<string, string> = {amp: '&', lt: '<', gt: '>', quot: '"', apos: "'"}
    if (ref in named) return named[ref]
    const m = /^#(?:x([0-9a-fA-F]+)|([0-9]+))$/.exec(ref)
    if (!m) fail(`unknown reference &${ref};`)
    const code = m![1] !== undefined ? parseInt(m![1], 16) : Number(m![2])
    const ch = String.fromCodePoint(code)
    if (FORBIDDEN.test(ch)) fail(`reference to a character XML forbids: &${ref};`)
    return ch
  })
}

/** Every descendant element with this name, in document order. */
export function elements(root: XmlElement, name: string): XmlElement[] {
  const out: XmlElement[] = []
  const visit = (e: XmlElement) => {
    if (e.name === name) out.push(e)
    e.children.forEach(visit)
  }
  visit(root)
  return out
}
