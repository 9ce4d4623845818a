/**
 * Woodpecker's `${VAR}` substitution, applied to the raw file text before YAML parsing.
 * `$$` stands for a literal dollar. Supported operators: `${V=d}`, `${V:-d}` (defaults),
 * `${V^^}`, `${V,,}`, `${V^}`, `${V,}` (case), `${V#p}`, `${V##p}`, `${V%s}`, `${V%%s}` (literal prefix
 * and suffix removal), `${V:offset}` / `${V:offset:length}`, `${V/old/new}` and `${V//old/new}`.
 */
export interface Substitution {
  text: string
  /** Names referenced but not defined: they became empty, which is rarely what the author meant. */
  undefinedNames: string[]
}

const EXPRESSION = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}/g

/** With `keepUndefined`, references to undefined names stay as written (validation checks the structure). */
export function substitute(text: string, vars: Readonly<Record<string, string>>, keepUndefined = false): Substitution {
  const undefinedNames = new Set<string>()
  const out = text.replace(EXPRESSION, (match, name: string | undefined, op: string) => {
    if (match === '$$') return '$'
    const value = vars[name!]
    if (value === undefined && !/^:?[-=]/.test(op)) {
      undefinedNames.add(name!)
      if (keepUndefined) return match
    }
    return applyOperator(value, op)
  })
  return {text: out, undefinedNames: [...undefinedNames]}
}

function applyOperator(value: string | undefined, op: string): string {
  const v = value ?? ''
  if (op === '') return v
  let m: RegExpMatchArray | null
  if ((m = op.match(/^(:?)[-=](.*)$/))) return value === undefined || (m[1] === ':' && v === '') ? m[2] : v
  if (op === '^^') return v.toUpperCase()
  if (op === ',,') return v.toLowerCase()
  if (op === '^') return v.charAt(0).toUpperCase() + v.slice(1)
  if (op === ',') return v.charAt(0).toLowerCase() + v.slice(1)
  if ((m = op.match(/^##?(.*)$/))) return v.startsWith(m[1]) ? v.slice(m[1].length) : v
  if ((m = op.match(/^%%?(.*)$/))) return m[1] && v.endsWith(m[1]) ? v.slice(0, -m[1].length) : v
  if ((m = op.match(/^:(\d+)(?::(\d+))?$/))) return v.substr(Number(m[1]), m[2] === undefined ? undefined : Number(m[2]))
  if ((m = op.match(/^(\/\/?)([^/]*)\/(.*)$/))) return m[1] === '//' ? v.split(m[2]).join(m[3]) : v.replace(m[2], m[3])
  return v
}
