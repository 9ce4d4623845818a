import {readFileSync} from 'node:fs'
import {parse as parseDotenvText} from 'dotenv'
import {isMap, isScalar, LineCounter, parseDocument} from 'yaml'
import {UsageError} from '../errors.js'

/**
 * Secret values for `from_secret`: a YAML map (`name: value`) or a dotenv file (`name=value`, as the
 * dotenv package reads it: comments, quotes, multi-line quoted values), then `--secret name=value` flags over it.
 */
export function loadSecrets(file: string | undefined, flags: string[]): Record<string, string> {
  const secrets: Record<string, string> = file ? readSecretsFile(file) : {}
  for (const flag of flags) {
    const eq = flag.indexOf('=')
    if (eq <= 0) throw new UsageError(`--secret ${flag.replace(/=.*/, '=...')}: expected name=value`)
    secrets[flag.slice(0, eq)] = flag.slice(eq + 1)
  }
  return secrets
}

function readSecretsFile(file: string): Record<string, string> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new UsageError(`--secrets-file ${file}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
  }
  const looksLikeDotenv = text.split('\n').some((l) => /^\s*(export\s+)?[A-Za-z_][A-Za-z0-9_.-]*\s*=/.test(l))
  return looksLikeDotenv ? parseDotenv(text) : parseYamlSecrets(file, text)
}

export function parseDotenv(text: string): Record<string, string> {
  return {...parseDotenvText(text)}
}

/** Values stay the text written (`0123`, `1e3`, `yes`): a secret is a string, never a YAML number or boolean. */
export function parseYamlSecrets(file: string, text: string): Record<string, string> {
  const lines = new LineCounter()
  const doc = parseDocument(text, {schema: 'failsafe', lineCounter: lines, uniqueKeys: true})
  const where = (offset: number | undefined) => `${file}:${lines.linePos(offset ?? 0).line}`
  if (doc.errors.length > 0)
    throw new UsageError(
      `--secrets-file ${where(doc.errors[0].pos[0])}: neither a YAML map nor a dotenv file`,
      'write `name: value` lines (YAML) or `NAME=value` lines (dotenv)',
    )
  if (doc.contents === null) return {}
  if (!isMap(doc.contents))
    throw new UsageError(`--secrets-file ${where(doc.contents.range?.[0])}: expected a map of secret names to values`)
  const out: Record<string, string> = {}
  for (const pair of doc.contents.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : ''
    if (!isScalar(pair.value) && pair.value !== null)
      throw new UsageError(
        `--secrets-file ${where((pair.value as {range?: readonly number[]}).range?.[0])}: the secret \`${key}\` must be a single value, not a list or map`,
      )
    out[key] = pair.value === null ? '' : String(pair.value.value)
  }
  return out
}
