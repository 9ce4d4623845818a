import {readFileSync} from 'node:fs'
import {parseArgs, type ParseArgsConfig} from 'node:util'
import {failureReport} from './errors.js'

/**
 * Start-up fast path. Loading oclif costs more than validating a large pipeline, so for the commands
 * listed here bin/run.js first tries to parse the arguments itself, from the flag definitions in
 * oclif.manifest.json (the single source of truth). Anything unusual (help, an unknown flag, a bad
 * value) returns false and oclif takes over, with its usual messages.
 */
const FAST_COMMANDS: Record<string, (input: {target?: string; flags: Record<string, unknown>}) => Promise<number>> = {
  validate: async (input) => (await import('./app/validate.js')).runValidate(input),
}

interface ManifestFlag {
  name: string
  type: 'boolean' | 'option'
  char?: string
  allowNo?: boolean
  multiple?: boolean
  options?: string[]
  default?: unknown
}

export async function runFast(argv: string[], manifestPath: URL): Promise<boolean> {
  const [id, ...rest] = argv
  const command = FAST_COMMANDS[id ?? '']
  if (!command || process.env.WPK8S_NO_FAST_PATH || rest.some((a) => a === '--help' || a === '-h')) return false
  const parsed = parseWithManifest(id, rest, manifestPath)
  if (!parsed) return false
  try {
    process.exitCode = await command(parsed)
  } catch (error) {
    const {text, exitCode} = failureReport(error)
    process.stderr.write(text)
    process.exitCode = exitCode
  }
  return true
}

function parseWithManifest(
  id: string,
  argv: string[],
  manifestPath: URL,
): {target?: string; flags: Record<string, unknown>} | undefined {
  try {
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
      commands: Record<string, {flags: Record<string, ManifestFlag>; args: Record<string, unknown>}>
    }
    const definition = manifest.commands[id]
    const options: NonNullable<ParseArgsConfig['options']> = {}
    for (const flag of Object.values(definition.flags)) {
      options[flag.name] = {
        type: flag.type === 'boolean' ? 'boolean' : 'string',
        ...(flag.char ? {short: flag.char} : {}),
        ...(flag.multiple ? {multiple: true} : {}),
      }
      if (flag.allowNo) options[`no-${flag.name}`] = {type: 'boolean'}
    }
    const {values, positionals} = parseArgs({args: argv, options, allowPositionals: true, strict: true})
    if (positionals.length > Object.keys(definition.args).length) return undefined
    const flags: Record<string, unknown> = {}
    for (const flag of Object.values(definition.flags)) {
      const value = values[`no-${flag.name}`] === true ? false : (values[flag.name] ?? flag.default)
      if (flag.options && value !== undefined && !flag.options.includes(String(value))) return undefined
      if (value !== undefined) flags[flag.name] = value
    }
    return {target: positionals[0], flags}
  } catch {
    return undefined
  }
}
