import {existsSync, readFileSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

/** `../shared/conformance/` beside the project: tables of inputs and what Woodpecker's own libraries answered. */
export const CONFORMANCE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/conformance')

export const haveConformance = existsSync(CONFORMANCE_DIR)

/** Undoes the table's four escapes (`\\`, `\t`, `\n`, `\r`), left to right. */
export function unescapeField(field: string): string {
  return field.replace(/\\([\\tnr])/g, (_, c: string) => ({'\\': '\\', t: '\t', n: '\n', r: '\r'})[c]!)
}

/** One TSV table as rows keyed by the header's column names, with the row's line number. */
export function readTable(name: string): (Record<string, string> & {line: string})[] {
  const lines = readFileSync(join(CONFORMANCE_DIR, name), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
  const header = lines[0].split('\t')
  return lines.slice(1).map((line, i) => {
    const fields = line.split('\t').map(unescapeField)
    return {...Object.fromEntries(header.map((h, j) => [h, fields[j] ?? ''])), line: String(i + 2)}
  })
}
