import {readFileSync} from 'node:fs'
import jsYaml from 'js-yaml'
import {UsageError} from '../errors.js'

/**
 * Secret values for `from_secret`: a YAML map (`name: value`) or a dotenv file (`name=value`,
 * `#` comments, optional quotes), then `--secret name=value` flags over it.
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
  const looksLikeDotenv = text.split('\n').some((l) => /^\s*(export\s+)?[A-Za-z_][A-Za-z0-9_.-]*=/.test(l))
  return looksLikeDotenv ? parseDotenv(text) : parseYamlSecrets(file, text)
}

export function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (!line || line.startsWith('#')) continue
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)=(.*)$/.exec(line)
    if (!m) continue
    const value = m[2].trim()
    out[m[1]] = /^(['"]).*\1$/.test(value) ? value.slice(1, -1).replace(/\\n/g, '\n') : value
  }
  return out
}

function parseYamlSecrets(file: string, text: string): Record<string, string> {
  let data: unknown
  try {
    data = jsYaml.load(text, {schema: jsYaml.CORE_SCHEMA})
  } catch (error) {
    throw new UsageError(`--secrets-file ${file}: not valid YAML or dotenv (${(error as Error).message.split('\n')[0]})`)
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new UsageError(`--secrets-file ${file}: expected a map of secret names to values`)
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v ?? '')]))
}
