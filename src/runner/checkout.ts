import {spawn} from 'node:child_process'
import {promisify} from 'node:util'
import {gzip, gzipSync} from 'node:zlib'
import {UsageError} from '../errors.js'

/** The checkout as it travels to the workspace: a tar, gzipped when that makes it clearly smaller. */
export interface Archive {
  bytes: Buffer
  gzipped: boolean
}

const SAMPLE_BYTES = 256 * 1024
/** Below this compression ratio on samples, gzip costs more time than it saves on the wire. */
const WORTH_GZIP_RATIO = 1.5

/** The checkout at `root`, packed (see checkoutTar) and gzipped at the fastest level if it compresses well. */
export async function checkoutArchive(root: string): Promise<Archive> {
  return forShipping(await checkoutTar(root))
}

/**
 * The tar as it is best sent: gzipped when that pays off. Source code compresses 3-5x; binaries,
 * images or archives do not, and gzip would only cost time. A small tar is simply compressed and
 * compared; a large one is judged on three samples (start, middle, end) first.
 */
export async function forShipping(tar: Buffer): Promise<Archive> {
  if (tar.length < 4 * SAMPLE_BYTES) {
    const small = gzipSync(tar, {level: 1})
    return tar.length > 0 && pays(small.length, tar.length) ? {bytes: small, gzipped: true} : {bytes: tar, gzipped: false}
  }
  const offsets = [0, Math.floor(tar.length / 2), tar.length - SAMPLE_BYTES]
  const sampled = offsets.reduce((sum, at) => sum + gzipSync(tar.subarray(at, at + SAMPLE_BYTES), {level: 1}).length, 0)
  if (!pays(sampled, offsets.length * SAMPLE_BYTES)) return {bytes: tar, gzipped: false}
  return {bytes: await promisify(gzip)(tar, {level: 1}), gzipped: true}
}

function pays(compressed: number, original: number): boolean {
  return compressed * WORTH_GZIP_RATIO <= original
}

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
