import {createRequire} from 'node:module'
import type {Alias, Document, LineCounter, Node} from 'yaml'
import {type Path, type Pos, SourceMap, type SourceFile} from './source.js'

// Loaded on first use: valid pipelines take the quick path (fast-parse.ts) and never need it.
let yamlModule: typeof import('yaml') | undefined
function yaml(): typeof import('yaml') {
  yamlModule ??= createRequire(import.meta.url)('yaml') as typeof import('yaml')
  return yamlModule
}
const isAlias = (n: unknown): n is Alias => yaml().isAlias(n)
const isMap = (n: unknown) => yaml().isMap(n)
const isScalar = (n: unknown) => yaml().isScalar(n)
const isSeq = (n: unknown) => yaml().isSeq(n)

/** A problem that stops parsing: bad YAML, or structures too large or deep to be a pipeline. */
export class ParseProblem extends Error {
  constructor(
    message: string,
    readonly pos: Pos,
  ) {
    super(message)
  }
}

const MAX_DEPTH = 64
const MAX_NODES = 50_000

/**
 * Parses pipeline YAML into plain data with the position of every value and key. Resolves aliases,
 * `<<` map merges, and Woodpecker's sequence merge (`- <<: *list` splices the list in place).
 */
export function parsePipelineText(file: string, text: string, options: {numbersAsText?: boolean} = {}): SourceFile {
  const lineCounter = new (yaml().LineCounter)()
  const doc = yaml().parseDocument(text, {lineCounter, prettyErrors: false, uniqueKeys: true, strict: true})
  const first = doc.errors[0]
  if (first) {
    const at = lineCounter.linePos(first.pos[0])
    throw new ParseProblem(`not valid YAML: ${OWN_WORDS[first.code] ?? firstLine(first.message)}`, {
      line: at.line,
      col: at.col,
    })
  }
  const builder = new Builder(doc, lineCounter, options.numbersAsText === true)
  const data = doc.contents ? builder.build(doc.contents as Node, [], 0) : null
  return {file, data, map: builder.map}
}

/** The parser's messages for the mistakes people make, in this tool's words (the others are plain enough). */
const OWN_WORDS: Record<string, string> = {
  MULTIPLE_DOCS:
    'a second document starts here (`---`); a workflow file holds one document (use one file per workflow in .woodpecker/)',
  DUPLICATE_KEY: 'this key appears twice in the same map',
  TAB_AS_INDENT: 'a tab is used for indentation; YAML indents with spaces',
  BAD_INDENT: 'the indentation does not line up with the lines above',
  BAD_ALIAS: 'an alias (`*name`) here is not valid',
  MULTILINE_IMPLICIT_KEY: 'a key cannot span several lines (a missing `:` or quote above?)',
  UNEXPECTED_TOKEN: 'unexpected text here (an unmatched bracket, brace or quote?)',
}

function firstLine(message: string): string {
  return message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')
}

class Builder {
  readonly map = new SourceMap()
  private nodes = 0
  private readonly anchors = new Map<Alias, Node>()

  /** With `numbersAsText`, a number keeps the text written (`1.20`, `0x10`), as Go does when it decodes it into a string. */
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
    private readonly numbersAsText = false,
  ) {}

  build(node: Node, path: Path, depth: number): unknown {
    if (++this.nodes > MAX_NODES)
      throw new ParseProblem(`too large: more than ${MAX_NODES} values (after expanding aliases)`, this.pos(node))
    if (depth > MAX_DEPTH) throw new ParseProblem(`nested deeper than ${MAX_DEPTH} levels`, this.pos(node))
    this.map.setValue(path, this.pos(node))
    if (isAlias(node)) return this.build(this.resolve(node), path, depth + 1)
    if (isScalar(node))
      return this.numbersAsText && typeof node.value === 'number' && node.source !== undefined
        ? node.source
        : node.value
    if (isMap(node)) return this.buildMap(node.items, path, depth)
    if (isSeq(node)) return this.buildSeq(node.items as Node[], path, depth)
    return null
  }

  private buildMap(pairs: {key: unknown; value: unknown}[], path: Path, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {}
    const merged: Record<string, unknown>[] = []
    for (const pair of pairs) {
      const keyNode = pair.key as Node | null
      if (!isScalar(keyNode))
        throw new ParseProblem('map keys must be plain values', keyNode ? this.pos(keyNode) : this.pos(null))
      const key = String(keyNode.value)
      const valueNode = pair.value as Node | null
      if (key === '<<' && valueNode) {
        merged.push(...this.mergeSources(valueNode, path, depth))
        continue
      }
      this.map.setKey([...path, key], this.pos(keyNode))
      out[key] = valueNode ? this.build(valueNode, [...path, key], depth + 1) : null
      if (!valueNode) this.map.setValue([...path, key], this.pos(keyNode))
    }
    for (const source of merged) for (const [k, v] of Object.entries(source)) if (!(k in out)) out[k] = v
    return out
  }

  private mergeSources(node: Node, path: Path, depth: number): Record<string, unknown>[] {
    const target = isAlias(node) ? this.resolve(node) : node
    const items = isSeq(target) ? (target.items as Node[]).map((n) => (isAlias(n) ? this.resolve(n) : n)) : [target]
    return items.map((item) => {
      if (!isMap(item)) throw new ParseProblem('`<<` merges a map (or a list of maps) into a map', this.pos(node))
      return this.build(item, path, depth + 1) as Record<string, unknown>
    })
  }

  private buildSeq(items: Node[], path: Path, depth: number): unknown[] {
    const out: unknown[] = []
    for (const item of items) {
      const spliced = this.sequenceMerge(item)
      if (spliced) {
        for (const inner of spliced) out.push(this.build(inner, [...path, out.length], depth + 1))
      } else {
        out.push(this.build(item, [...path, out.length], depth + 1))
      }
    }
    return out
  }

  /** `- <<: *list` inside a sequence: the aliased list's items, else undefined. */
  private sequenceMerge(item: Node): Node[] | undefined {
    if (!isMap(item) || item.items.length !== 1) return undefined
    const pair = item.items[0]
    if (!isScalar(pair.key) || pair.key.value !== '<<') return undefined
    const value = pair.value as Node | null
    const target = value && isAlias(value) ? this.resolve(value) : value
    return isSeq(target) ? (target.items as Node[]) : undefined
  }

  private resolve(alias: Alias): Node {
    const cached = this.anchors.get(alias)
    if (cached) return cached
    const target = alias.resolve(this.doc)
    if (!target) throw new ParseProblem(`unknown alias *${alias.source}`, this.pos(alias))
    this.anchors.set(alias, target as Node)
    return target as Node
  }

  private pos(node: Node | null): Pos {
    const offset = node?.range?.[0] ?? 0
    const at = this.lines.linePos(offset)
    return {line: at.line, col: at.col}
  }
}
