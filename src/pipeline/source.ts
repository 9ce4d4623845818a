/** A position in a pipeline file, 1-based as editors show it. */
export interface Pos {
  line: number
  col: number
}

export type PathPart = string | number
export type Path = readonly PathPart[]

/** `steps.build.commands[0]`: the dotted form used in every message. */
export function formatPath(path: Path): string {
  let out = ''
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`
    else if (/^[A-Za-z0-9_$-]+$/.test(part)) out += out ? `.${part}` : part
    else out += `${out ? '.' : ''}${JSON.stringify(part)}`
  }
  return out
}

/** Where each value and each map key of a parsed file stands in the source. */
export class SourceMap {
  private readonly values = new Map<string, Pos>()
  private readonly keys = new Map<string, Pos>()

  setValue(path: Path, pos: Pos): void {
    const key = formatPath(path)
    if (!this.values.has(key)) this.values.set(key, pos)
  }

  setKey(path: Path, pos: Pos): void {
    const key = formatPath(path)
    if (!this.keys.has(key)) this.keys.set(key, pos)
  }

  /** The value's position, else the nearest ancestor's: a message always has a line. */
  valueAt(path: Path): Pos {
    return this.lookup(path, this.values) ?? {line: 1, col: 1}
  }

  /** The key's position for map entries, else the value's. */
  keyAt(path: Path): Pos {
    return this.keys.get(formatPath(path)) ?? this.valueAt(path)
  }

  private lookup(path: Path, table: Map<string, Pos>): Pos | undefined {
    for (let n = path.length; n >= 0; n--) {
      const pos =
        table.get(formatPath(path.slice(0, n))) ??
        (n < path.length ? this.keys.get(formatPath(path.slice(0, n))) : undefined)
      if (pos) return pos
    }
    return undefined
  }
}

/** One parsed file: plain data plus where each part came from. */
export interface SourceFile {
  file: string
  data: unknown
  map: SourceMap
}

/** A source map built only when a position is first asked for: valid files never need one. */
export class DeferredSourceMap extends SourceMap {
  private built?: SourceMap

  constructor(private readonly build: () => SourceMap) {
    super()
  }

  override valueAt(path: Path): Pos {
    return this.real().valueAt(path)
  }

  override keyAt(path: Path): Pos {
    return this.real().keyAt(path)
  }

  private real(): SourceMap {
    this.built ??= this.build()
    return this.built
  }
}
