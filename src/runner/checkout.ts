import {spawn} from 'node:child_process'
import {UsageError} from '../errors.js'

/**
 * A tar of the checkout at `root`: the files git tracks plus untracked ones it does not ignore (in a
 * folder outside git: every file). Files listed but deleted locally are skipped.
 */
export async function checkoutTar(root: string): Promise<Buffer> {
  const inGit = await run('git', ['rev-parse', '--is-inside-work-tree'], root).then(() => true, () => false)
  const list = inGit ? await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '--deduplicate'], root) : undefined
  const args = ['-c', '-f', '-', '--ignore-failed-read', '--no-recursion', '--warning=no-failed-read']
  return list ? run('tar', [...args, '--null', '-T', '-'], root, list) : run('tar', ['-c', '-f', '-', '--exclude=./.git', '.'], root)
}

function run(command: string, args: string[], cwd: string, input?: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {cwd, stdio: ['pipe', 'pipe', 'pipe']})
    const out: Buffer[] = []
    let err = ''
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => (err += b.toString()))
    child.on('error', (e) => reject(new UsageError(`cannot run ${command} to pack the checkout: ${e.message}`)))
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new UsageError(`${command} failed while packing the checkout: ${err.trim()}`))))
    child.stdin.end(input)
  })
}
