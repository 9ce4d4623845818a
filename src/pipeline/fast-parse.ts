import jsYaml from 'js-yaml'

const MAX_DEPTH = 64
const MAX_NODES = 50_000

/**
 * The quick way to pipeline data: js-yaml (several times faster than the position-keeping parser)
 * plus Woodpecker's `<<` map merge and `- <<: *list` sequence merge. Returns undefined for anything
 * unusual (a YAML error, deep or huge data): the caller then takes the careful path, which also
 * explains the problem.
 */
export function parseDataQuickly(text: string): {data: unknown} | undefined {
  let raw: unknown
  try {
    raw = jsYaml.load(text, {schema: jsYaml.CORE_SCHEMA})
  } catch {
    return undefined
  }
  const budget = {nodes: 0}
  try {
    return {data: expand(raw, 0, budget)}
  } catch {
    return undefined
  }
}

function expand(value: unknown, depth: number, budget: {nodes: number}): unknown {
  if (++budget.nodes > MAX_NODES || depth > MAX_DEPTH) throw new Error('too large')
  if (Array.isArray(value)) return expandList(value, depth, budget)
  if (typeof value === 'object' && value !== null) return expandMap(value as Record<string, unknown>, depth, budget)
  return value
}

function expandList(items: unknown[], depth: number, budget: {nodes: number}): unknown[] {
  const out: unknown[] = []
  for (const item of items) {
    const spliced =
      isRecord(item) && Object.keys(item).length === 1 && Array.isArray(item['<<']) ? item['<<'] : undefined
    if (spliced) for (const inner of spliced) out.push(expand(inner, depth + 1, budget))
    else out.push(expand(item, depth + 1, budget))
  }
  return out
}

function expandMap(map: Record<string, unknown>, depth: number, budget: {nodes: number}): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, v] of Object.entries(map)) if (key !== '<<') out[key] = expand(v, depth + 1, budget)
  if (!('<<' in map)) return out
  const sources = Array.isArray(map['<<']) ? map['<<'] : [map['<<']]
  for (const source of sources) {
    if (!isRecord(source)) throw new Error('merge of a non-map')
    const merged = expandMap(source, depth + 1, budget)
    for (const [k, v] of Object.entries(merged)) if (!(k in out)) out[k] = v
  }
  return out
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
