import {execFileSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {gunzipSync} from 'node:zlib'
import {extract} from 'tar-stream'
import {describe, expect, it} from 'vitest'
import {
  archiveOf,
  checkoutArchive,
  type CheckoutEntry,
  coalesce,
  listCheckout,
  packEntries,
  tarSize,
  worthGzip,
} from '../../src/runner/checkout.js'

const sourceLike = (bytes: number) =>
  Buffer.from(
    'export function add(a: number, b: number): number {\n  return a + b\n}\n'.repeat(Math.ceil(bytes / 66)),
  ).subarray(0, bytes)

interface Read {
  name: string
  type: string
  mode: number
  size: number
  linkname?: string
  content: Buffer
}

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/** The entries of a tar, read back with tar-stream's extract. */
async function readTar(tar: Buffer): Promise<Map<string, Read>> {
  const entries = new Map<string, Read>()
  const reader = extract()
  const done = (async () => {
    for await (const entry of reader) {
      const content = await bytesOf(entry as unknown as Readable)
      const h = entry.header
      entries.set(h.name, {
        name: h.name,
        type: h.type,
        mode: h.mode,
        size: h.size,
        ...(h.linkname ? {linkname: h.linkname} : {}),
        content,
      })
    }
  })()
  reader.end(tar)
  await done
  return entries
}

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], {cwd, encoding: 'utf8'})
const temp = (prefix: string) => mkdtempSync(join(tmpdir(), prefix))

/** A checkout with every case the archive must keep (or leave out). */
function richCheckout(): string {
  const root = temp('wpk8s-archive-')
  git(root, 'init', '-q')
  mkdirSync(join(root, 'src'))
  writeFileSync(join(root, 'src', 'main.ts'), sourceLike(2_000))
  writeFileSync(join(root, 'run.sh'), '#!/bin/sh\necho run\n')
  chmodSync(join(root, 'run.sh'), 0o755)
  writeFileSync(join(root, 'empty.txt'), '')
  writeFileSync(join(root, 'with space.txt'), 'spaces')
  writeFileSync(join(root, 'ünïcödé 日本.txt'), 'non-ascii')
  const long = `${'a'.repeat(60)}/${'b'.repeat(60)}/${'c'.repeat(120)}.txt`
  mkdirSync(join(root, 'a'.repeat(60), 'b'.repeat(60)), {recursive: true})
  writeFileSync(join(root, long), 'long name')
  symlinkSync('src/main.ts', join(root, 'inside-link'))
  symlinkSync('../../outside/file', join(root, 'outside-link'))
  writeFileSync(join(root, '.gitignore'), 'build/\n*.log\n')
  mkdirSync(join(root, 'build'))
  writeFileSync(join(root, 'build', 'out.js'), 'ignored')
  writeFileSync(join(root, 'debug.log'), 'ignored')
  writeFileSync(join(root, 'deleted.txt'), 'soon gone')
  git(root, 'add', '.')
  git(root, 'commit', '-qm', 'init')
  unlinkSync(join(root, 'deleted.txt'))
  writeFileSync(join(root, 'untracked.txt'), 'untracked but not ignored')
  return root
}

describe('listCheckout and packEntries', () => {
  it('packs what git tracks plus untracked files it does not ignore, with modes, links, spaces, non-ASCII and long names', async () => {
    const root = richCheckout()
    const listing = await listCheckout(root)
    expect(listing.git).toBe(true)
    const tar = await bytesOf(packEntries(root, listing.entries))
    expect(tar.length).toBe(tarSize(listing.entries))
    const files = await readTar(tar)
    const long = `${'a'.repeat(60)}/${'b'.repeat(60)}/${'c'.repeat(120)}.txt`
    expect([...files.keys()].sort()).toEqual(
      [
        '.gitignore',
        'empty.txt',
        'inside-link',
        'outside-link',
        'run.sh',
        'src/main.ts',
        'untracked.txt',
        'with space.txt',
        'ünïcödé 日本.txt',
        long,
      ].sort(),
    )
    expect(files.get('run.sh')!.mode & 0o777).toBe(0o755)
    expect(files.get('src/main.ts')!.mode & 0o111).toBe(0)
    expect(files.get('src/main.ts')!.content).toEqual(sourceLike(2_000))
    expect(files.get('empty.txt')).toMatchObject({type: 'file', size: 0})
    expect(files.get('inside-link')).toMatchObject({type: 'symlink', linkname: 'src/main.ts'})
    expect(files.get('outside-link')).toMatchObject({type: 'symlink', linkname: '../../outside/file'})
    expect(files.get('ünïcödé 日本.txt')!.content.toString()).toBe('non-ascii')
    expect(files.get(long)!.content.toString()).toBe('long name')
    // POSIX paths only, whatever the OS.
    for (const name of files.keys()) expect(name).not.toContain('\\')
  })

  it('unpacks with the system tar to the same files', async () => {
    const root = richCheckout()
    const out = temp('wpk8s-unpacked-')
    execFileSync('tar', ['-x', '-f', '-', '-C', out], {
      input: await bytesOf(packEntries(root, (await listCheckout(root)).entries)),
    })
    expect(readFileSync(join(out, 'ünïcödé 日本.txt'), 'utf8')).toBe('non-ascii')
    expect(readFileSync(join(out, 'inside-link'))).toEqual(sourceLike(2_000))
    expect(() => readFileSync(join(out, 'build', 'out.js'))).toThrow()
  })

  it('ships every file and folder of a folder outside git, less what its root .gitignore ignores', async () => {
    const root = temp('wpk8s-plain-')
    mkdirSync(join(root, 'src', 'deep'), {recursive: true})
    mkdirSync(join(root, 'empty-dir'))
    mkdirSync(join(root, 'node_modules', 'x'), {recursive: true})
    writeFileSync(join(root, 'node_modules', 'x', 'index.js'), 'ignored')
    writeFileSync(join(root, 'src', 'deep', 'a.txt'), 'a')
    writeFileSync(join(root, 'src', 'b.tmp'), 'ignored')
    writeFileSync(join(root, 'src', 'keep.tmp'), 'kept by a negation')
    writeFileSync(join(root, '.gitignore'), 'node_modules/\n*.tmp\n!keep.tmp\n')
    const listing = await listCheckout(root)
    expect(listing.git).toBe(false)
    const files = await readTar(await bytesOf(packEntries(root, listing.entries)))
    expect([...files.keys()].sort()).toEqual([
      '.gitignore',
      'empty-dir',
      'src',
      'src/deep',
      'src/deep/a.txt',
      'src/keep.tmp',
    ])
    expect(files.get('empty-dir')!.type).toBe('directory')
  })

  it('ships every file of a folder without a .gitignore', async () => {
    const root = temp('wpk8s-plain-')
    writeFileSync(join(root, 'a.log'), 'a')
    expect((await listCheckout(root)).entries.map((e) => e.name)).toEqual(['a.log'])
  })

  it("takes executable bits and links from git's index on Windows, which has neither", async () => {
    const root = temp('wpk8s-win-')
    git(root, 'init', '-q')
    writeFileSync(join(root, 'tool.sh'), 'echo hi\n')
    writeFileSync(join(root, 'plain.txt'), 'plain\n')
    // A link checked out without symlink support: a plain file holding the target.
    writeFileSync(join(root, 'link'), 'plain.txt')
    git(root, 'add', 'tool.sh', 'plain.txt')
    git(root, 'update-index', '--chmod=+x', 'tool.sh')
    const blob = git(root, 'hash-object', '-w', 'link').trim()
    git(root, 'update-index', '--add', '--cacheinfo', `120000,${blob},link`)
    const byName = (entries: CheckoutEntry[]) => new Map(entries.map((e) => [e.name, e]))
    const windows = byName((await listCheckout(root, 'win32')).entries)
    expect(windows.get('tool.sh')!.mode).toBe(0o755)
    expect(windows.get('plain.txt')!.mode).toBe(0o644)
    expect(windows.get('link')).toMatchObject({type: 'symlink', linkname: 'plain.txt'})
    const linux = byName((await listCheckout(root, 'linux')).entries)
    expect(linux.get('tool.sh')!.mode & 0o111).toBe(0)
    expect(linux.get('link')!.type).toBe('file')
  })

  it('keeps the announced length when a file shrinks or grows after listing', async () => {
    const root = temp('wpk8s-change-')
    writeFileSync(join(root, 'shrinks'), 'x'.repeat(5000))
    writeFileSync(join(root, 'grows'), 'y'.repeat(700))
    writeFileSync(join(root, 'vanishes'), 'z'.repeat(100))
    const {entries} = await listCheckout(root)
    truncateSync(join(root, 'shrinks'), 10)
    writeFileSync(join(root, 'grows'), 'y'.repeat(70_000))
    unlinkSync(join(root, 'vanishes'))
    const tar = await bytesOf(packEntries(root, entries))
    expect(tar.length).toBe(tarSize(entries))
    const files = await readTar(tar)
    expect(files.get('shrinks')!.content).toEqual(Buffer.concat([Buffer.from('x'.repeat(10)), Buffer.alloc(4990)]))
    expect(files.get('grows')!.content.toString()).toBe('y'.repeat(700))
    expect(files.get('vanishes')!.content).toEqual(Buffer.alloc(100))
  })
})

describe('tarSize', () => {
  it('is the length tar-stream writes, for ustar, split and pax names and link targets', async () => {
    const root = temp('wpk8s-size-')
    const names = [
      'a',
      'x'.repeat(100),
      'x'.repeat(101),
      `${'d'.repeat(150)}/${'f'.repeat(100)}`,
      `${'d'.repeat(156)}/f`,
      'é',
      `${'é'.repeat(400)}`,
      '日本/語',
      'dir with space/file',
    ]
    const entries: CheckoutEntry[] = []
    for (const [i, name] of names.entries()) {
      entries.push({name, type: 'file', mode: 0o644, size: i * 333, mtime: new Date(0)})
      entries.push({
        name: `${name}-link`,
        type: 'symlink',
        mode: 0o777,
        size: 0,
        mtime: new Date(0),
        linkname: i % 2 ? 'x'.repeat(150) : name,
      })
      entries.push({name: `${name}-dir`, type: 'directory', mode: 0o755, size: 0, mtime: new Date(0)})
    }
    // The files do not exist: they are packed as zeros of their listed size.
    const tar = await bytesOf(packEntries(root, entries))
    expect(tar.length).toBe(tarSize(entries))
    const read = await readTar(tar)
    expect([...read.keys()]).toEqual(entries.map((e) => e.name))
    expect(tarSize([])).toBe(1024)
  })
})

describe('the gzip decision', () => {
  /** A folder with these files (name → content). */
  function folder(files: Record<string, Buffer>): string {
    const root = temp('wpk8s-gzip-')
    for (const [name, content] of Object.entries(files)) writeFileSync(join(root, name), content)
    return root
  }
  const decide = async (files: Record<string, Buffer>) => {
    const root = folder(files)
    return worthGzip(root, (await listCheckout(root)).entries)
  }

  it('compresses text, large or small, into what gunzips back to the tar', async () => {
    expect(await decide({'big.ts': sourceLike(5_000_000)})).toBe(true)
    const root = folder({'small.ts': sourceLike(10_000)})
    const archive = await checkoutArchive(root)
    expect(archive.gzipped).toBe(true)
    const gz = await bytesOf(archive.open())
    expect(gz.length).toBe(archive.size)
    expect(gunzipSync(gz)).toEqual(await bytesOf(packEntries(root, (await listCheckout(root)).entries)))
    archive.dispose?.()
  })

  it('leaves incompressible content (binaries, archives) and an empty folder as they are', async () => {
    expect(await decide({'a.bin': randomBytes(5_000_000)})).toBe(false)
    expect(await decide({'a.bin': randomBytes(10_000)})).toBe(false)
    expect(await decide({})).toBe(false)
    const root = folder({'a.bin': randomBytes(3_000_000)})
    const archive = await checkoutArchive(root)
    expect(archive).toMatchObject({gzipped: false, size: tarSize((await listCheckout(root)).entries), entries: 1})
  })

  it('judges a large checkout by samples from start, middle and end, also inside one big file', async () => {
    expect(await decide({'0-text.ts': sourceLike(300_000), '1-random.bin': randomBytes(5_000_000)})).toBe(false)
    expect(await decide({'0-random.bin': randomBytes(300_000), '1-text.ts': sourceLike(5_000_000)})).toBe(true)
    // One file, text first and random after: the middle and end samples come from inside it.
    expect(await decide({'one.bin': Buffer.concat([sourceLike(400_000), randomBytes(5_000_000)])})).toBe(false)
  })

  it('counts tar headers: many tiny files compress even when their content does not', async () => {
    const files: Record<string, Buffer> = {}
    for (let i = 0; i < 3000; i++) files[`f${i}`] = randomBytes(20)
    expect(await decide(files)).toBe(true)
  })
})

describe('archive streams', () => {
  it('opens a new stream from the start each time (a retry sends it again), gzipped or not', async () => {
    for (const text of [true, false]) {
      const root = folder2(text)
      const archive = await archiveOf(root, (await listCheckout(root)).entries)
      expect(archive.gzipped).toBe(text)
      const first = await bytesOf(archive.open())
      expect(await bytesOf(archive.open())).toEqual(first)
      expect(await bytesOf(archive.open())).toEqual(first)
      expect(first.length).toBe(archive.size)
      archive.dispose?.()
    }
  })

  it('coalesces small chunks and cuts large ones', async () => {
    const parts = [...Array.from({length: 10}, () => Buffer.alloc(512, 1)), Buffer.alloc(3000, 2), Buffer.alloc(100, 3)]
    const chunkSizes = (stream: Readable) =>
      new Promise<number[]>((resolve) => {
        const sizes: number[] = []
        stream.on('data', (chunk: Buffer) => sizes.push(chunk.length)).on('end', () => resolve(sizes))
      })
    const sizes = await chunkSizes(coalesce(Readable.from(parts), 2048, 4096))
    expect(sizes).toEqual([2048, 2048, 1024 + 3000, 100])
    expect(await chunkSizes(coalesce(Readable.from([Buffer.alloc(10_000)]), 2048, 4096))).toEqual([4096, 4096, 1808])
  })
})

function folder2(text: boolean): string {
  const root = temp('wpk8s-twice-')
  writeFileSync(join(root, 'a.ts'), text ? sourceLike(3_000_000) : randomBytes(3_000_000))
  writeFileSync(join(root, 'b.bin'), randomBytes(50_000))
  return root
}
