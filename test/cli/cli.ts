import {spawnSync} from 'node:child_process'
import {fileURLToPath} from 'node:url'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs the built CLI (`npm run build` first) as a user would, without a TTY. */
export function wpk8s(
  args: string[],
  options: {cwd?: string; env?: NodeJS.ProcessEnv; input?: string} = {},
): CliResult {
  const result = spawnSync(process.execPath, [`${ROOT}bin/run.js`, ...args], {
    cwd: options.cwd ?? ROOT,
    env: {...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...options.env},
    input: options.input,
    encoding: 'utf8',
    timeout: 120_000,
  })
  return {code: result.status, stdout: result.stdout, stderr: result.stderr}
}
