/** One matrix combination: axis name → value, all as strings (they are substituted into text). */
export type MatrixRow = Record<string, string>

/** The combinations a `matrix:` section describes: `include` rows as given, else the cartesian product. */
export function matrixRows(matrix: unknown): MatrixRow[] {
  if (typeof matrix !== 'object' || matrix === null || Array.isArray(matrix)) return []
  const spec = matrix as Record<string, unknown>
  if (Array.isArray(spec.include)) return spec.include.filter(isRecord).map((row) => stringify(row))
  let rows: MatrixRow[] = [{}]
  for (const [axis, values] of Object.entries(spec)) {
    if (!Array.isArray(values) || values.length === 0) continue
    rows = rows.flatMap((row) => values.map((v) => ({...row, [axis]: String(v)})))
  }
  return rows.length === 1 && Object.keys(rows[0]).length === 0 ? [] : rows
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function stringify(row: Record<string, unknown>): MatrixRow {
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, String(v)]))
}
