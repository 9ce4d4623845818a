import {spawnSync} from 'node:child_process'
import {existsSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import {commandsScript, endMark, printsEndMark, SCRIPT_COMMAND} from '../../src/compile/script.js'
import {endMarkReader} from '../../src/runner/step.js'

const mark = endMark('r1')
const nonce = '0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9'

function read(lines: string[]): Promise<{out: string[]; success: boolean}> {
  const out: string[] = []
  const reader = endMarkReader(mark, (l) => out.push(l))
  let success = false
  void reader.success.then(() => (success = true))
  for (const line of lines) reader.onLine(line)
  return new Promise((resolve) => setTimeout(() => resolve({out, success}), 0))
}

describe('endMarkReader', () => {
  it("hides the wrapper's lines and tells a successful end", async () => {
    expect(await read([`${mark}${nonce}`, `${mark}${nonce}`, '+ make', 'built', `${mark}${nonce}:0`])).toEqual({
      out: ['+ make', 'built'],
      success: true,
    })
  })

  it('keeps output that had no newline before the mark', async () => {
    expect(await read([`${mark}${nonce}`, `no newline${mark}${nonce}:0`])).toEqual({out: ['no newline'], success: true})
  })

  it('leaves a failure to the pod status', async () => {
    expect(await read([`${mark}${nonce}`, `${mark}${nonce}:137`])).toEqual({out: [], success: false})
  })

  it('is not fooled by a step that prints the mark itself and then fails', async () => {
    // The mark as a step can print it ($WPK8S_END is in its environment), with and without a nonce it made up.
    const fakes = [
      `${mark}0`,
      `${mark}:0`,
      `${mark}00000000-0000-4000-8000-000000000000:0`,
      `${mark}00000000-0000-4000-8000-000000000000`,
      `${mark}${'f'.repeat(8)}:0`,
    ]
    expect(await read([`${mark}${nonce}`, '+ echo "$WPK8S_END"0', ...fakes, '+ exit 3', `${mark}${nonce}:3`])).toEqual({
      out: ['+ echo "$WPK8S_END"0', ...fakes, '+ exit 3'],
      success: false,
    })
  })

  it('takes the nonce only from the first such line: the wrapper prints it before any command runs', async () => {
    const other = '11111111-2222-4333-8444-555555555555'
    expect(await read([`${mark}${nonce}`, `${mark}${other}`, `${mark}${other}:0`])).toEqual({
      out: [`${mark}${other}`, `${mark}${other}:0`],
      success: false,
    })
  })

  it('trusts no mark where the wrapper had no nonce (no /proc), but still hides its lines', async () => {
    expect(await read([mark, mark, 'out', `${mark}:0`])).toEqual({out: ['out'], success: false})
  })

  it('passes on lines that only look like a mark, and everything of a container that printed none', async () => {
    expect(await read([`${mark}x`, '::wpk8s-end-other::0', `${mark}0`])).toEqual({
      out: [`${mark}x`, '::wpk8s-end-other::0', `${mark}0`],
      success: false,
    })
  })
})

describe('the commands wrapper', () => {
  const hasUuid = existsSync('/proc/sys/kernel/random/uuid')
  const shells = ['/bin/sh', '/bin/dash', '/bin/busybox', '/usr/bin/busybox'].filter(existsSync)

  /** Runs the wrapper as the pod would (stdout and stderr in one log), through the reader. */
  async function wrapped(shell: string, commands: string[], env: Record<string, string> = {}) {
    const argv = shell.endsWith('busybox') ? ['sh', '-c', SCRIPT_COMMAND[2]] : ['-c', SCRIPT_COMMAND[2]]
    const script = Buffer.from(commandsScript(commands, '/tmp')).toString('base64')
    const run = spawnSync(shell, argv, {
      env: {PATH: process.env.PATH, CI_SCRIPT: script, WPK8S_END: mark, ...env},
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const lines = `${run.stdout}${run.stderr}`.split('\n').filter(Boolean)
    return {status: run.status, ...(await read(lines))}
  }

  it('is what a commands pod runs, and only it prints a mark that counts', () => {
    expect(printsEndMark(SCRIPT_COMMAND)).toBe(true)
    expect(printsEndMark(['/bin/sh', '-c', 'echo hi'])).toBe(false)
    expect(printsEndMark(undefined)).toBe(false)
  })

  it.runIf(shells.length > 0)(
    'reports a step that printed the end mark early and then failed as failed, with its exit code',
    async () => {
      for (const shell of shells) {
        // The step tries what it can: the variable, an exported one of the wrapper's name, and printing the mark.
        const result = await wrapped(
          shell,
          ['echo "nonce=[$wpk8s_nonce]"', 'echo "$WPK8S_END"0', 'echo "$WPK8S_END$wpk8s_nonce:0"', 'exit 3'],
          {wpk8s_nonce: 'inherited'},
        )
        expect(result.status, shell).toBe(3)
        expect(result.success, shell).toBe(false)
        expect(result.out, shell).toContain('nonce=[]')
        expect(result.out, shell).toContain(`${mark}0`)
      }
    },
  )

  it.runIf(shells.length > 0 && hasUuid)('tells a successful end from its own mark at once', async () => {
    for (const shell of shells) {
      const result = await wrapped(shell, ['echo done'])
      expect(result, shell).toEqual({status: 0, out: ['+ echo done', 'done'], success: true})
    }
  })
})
