import type {Path} from './source.js'

/** A step or service as it stands in the file: its name, where it is, and its raw value. */
export interface Entry {
  name: string
  path: Path
  value: unknown
  /** The name was given (map key or `name:`), not made up from the position. */
  named: boolean
}

/** Steps and services come as a map (key = name, order kept) or a list (`name:` optional for steps). */
export function entriesOf(section: unknown, key: 'steps' | 'services'): Entry[] {
  if (Array.isArray(section)) {
    return section.map((value, i) => {
      const name = isRecord(value) && typeof value.name === 'string' && value.name !== '' ? value.name : undefined
      return {
        name: name ?? `${key === 'steps' ? 'step' : 'service'}-${i}`,
        path: [key, i],
        value,
        named: name !== undefined,
      }
    })
  }
  if (isRecord(section))
    return Object.entries(section).map(([name, value]) => ({name, path: [key, name], value, named: true}))
  return []
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
