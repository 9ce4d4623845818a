import {spawn} from 'node:child_process'
import {
  accessSync,
  closeSync,
  constants as fsConstants,
  createReadStream,
  createWriteStream,
  lstatSync,
  openSync,
  promises as fs,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  rmSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {createGzip, gzipSync} from 'node:zlib'
import ignore from 'ignore'
import {pack as tarPack, type Pack} from 'tar-stream'
import {UsageError} from '../errors.js'

/**
 * The checkout as it travels to the workspace: a tar (gzipped when that makes it clearly smaller) of
 * known length, read from disk each time it is opened, so that memory does not grow with the checkout.
 */
export interface Archive {
  /** The bytes that travel: the tar's, or its gzip's. */
  size: number
  gzipped: boolean
  /** Files, folders and symbolic links in it. */
  entries: number
  /** A new stream of the archive from its start: each attempt (a retry after a dropped connection) opens its own. */
  open(): Readable
  /** Removes what the archive keeps on disk (a gzipped one's temporary file; else nothing); the process's exit does it anyway. */
  dispose?(): void
  /**
   * Incremental shipping onto a kept workspace (see runner/keep.ts): the paths to delete there (gone
   * from the checkout since the workspace was filled), and the manifest of the checkout as shipped now.
   */
  deleted?: string[]
  manifest?: Record<string, string>
}

/** An archive already in memory (tests, small payloads). */
export function bufferArchive(bytes: Buffer, gzipped: boolean, entries = 0): Archive {
  return {size: bytes.length, gzipped, entries, open: () => Readable.from([bytes])}
}

/** One entry of the archive: its POSIX path inside the checkout and what the tar header says. */
export interface CheckoutEntry {
  name: string
  type: 'file' | 'directory' | 'symlink'
  /** Permission bits (0o644, 0o755, ...). */
  mode: number
  /** Bytes of a file's content (0 for folders and links). */
  size: number
  mtime: Date
  /** A symlink's target, exactly as stored in the link. */
  linkname?: string
}

export interface CheckoutListing {
  /** Whether git chose the files (else: every file of the folder, less what its root .gitignore ignores). */
  git: boolean
  entries: CheckoutEntry[]
}

const SAMPLE_BYTES = 256 * 1024
/** Below this compression ratio on samples, gzip costs more time than it saves on the wire. */
const WORTH_GZIP_RATIO = 1.5
/** Bytes read from a file at once (and the most a stream chunk of the archive holds). */
const READ_CHUNK = 512 * 1024
const BLOCK = 512

/** The checkout at `root`, listed (see listCheckout), judged for gzip on samples, ready to stream. */
export async function checkoutArchive(root: string): Promise<Archive> {
  const {entries} = await listCheckout(root)
  return archiveOf(root, entries)
}

/** The archive of these entries: the tar as it is, or gzipped at the fastest level when samples say it pays. */
export async function archiveOf(root: string, entries: CheckoutEntry[]): Promise<Archive> {
  const tarBytes = tarSize(entries)
  const tar: Archive = {size: tarBytes, gzipped: false, entries: entries.length, open: () => packEntries(root, entries)}
  if (!(await worthGzip(root, entries, tarBytes))) return tar
  return spoolGzip(tar)
}

/**
 * Whether gzip pays off: source code compresses 3-5x, binaries, images and archives do not, and gzip
 * would only cost time. A small tar is compressed whole; a large one is judged on three samples of the
 * tar stream (at its start, middle and end), each read from the files it covers there.
 */
export async function worthGzip(root: string, entries: CheckoutEntry[], tarBytes = tarSize(entries)): Promise<boolean> {
  if (entries.length === 0) return false
  if (tarBytes < 4 * SAMPLE_BYTES) {
    const whole = await readStream(packEntries(root, entries), tarBytes)
    return pays(gzipSync(whole, {level: 1}).length, whole.length)
  }
  const samples = await Promise.all(
    [0, Math.floor(tarBytes / 2), tarBytes - SAMPLE_BYTES].map((at) => tarSample(root, entries, at, SAMPLE_BYTES)),
  )
  const original = samples.reduce((sum, s) => sum + s.length, 0)
  const compressed = samples.reduce((sum, s) => sum + gzipSync(s, {level: 1}).length, 0)
  return pays(compressed, original)
}

function pays(compressed: number, original: number): boolean {
  return original > 0 && compressed * WORTH_GZIP_RATIO <= original
}

/**
 * The gzip of the tar has no length until it is made, and both ways into the helper need the length
 * first (busybox httpd takes no chunked upload; exec stdin cannot end before Kubernetes 1.30). So it is
 * made once into a temporary file (a third of the checkout for source code), streamed from there by
 * every attempt, and removed when the process exits.
 */
async function spoolGzip(tar: Archive): Promise<Archive> {
  const dir = await fs.mkdtemp(join(tmpdir(), 'wpk8s-checkout-'))
  const dispose = () => {
    process.off('exit', dispose)
    rmSync(dir, {recursive: true, force: true})
  }
  process.on('exit', dispose)
  const file = join(dir, 'checkout.tar.gz')
  try {
    // Whole chunks for zlib: each write is a job for the thread pool, and a tar has a 512-byte header per file.
    await pipeline(coalesce(tar.open()), createGzip({level: 1, chunkSize: 256 * 1024}), createWriteStream(file))
  } catch (error) {
    dispose()
    throw error
  }
  const {size} = await fs.stat(file)
  return {
    size,
    gzipped: true,
    entries: tar.entries,
    open: () => createReadStream(file, {highWaterMark: READ_CHUNK}),
    dispose,
  }
}

/**
 * What ships from `root`. In a git checkout: the files git tracks plus untracked ones it does not
 * ignore (`git ls-files --cached --others --exclude-standard`), each once; files listed but deleted
 * locally, and files that cannot be read, are left out. Elsewhere (or without git): every file and
 * folder under `root` except `.git` folders and what a `.gitignore` at the root ignores.
 *
 * Symbolic links are kept as links with their target exactly as written, as git stores them and a
 * clone would have them; one pointing outside the checkout dangles in the workspace (nothing outside
 * the checkout is read). On Windows, executable bits and links come from git's index, the file system
 * having none.
 */
export async function listCheckout(
  root: string,
  platform: NodeJS.Platform = process.platform,
): Promise<CheckoutListing> {
  const listed = await gitList(root)
  if (!listed) return {git: false, entries: await walk(root, platform)}
  const modes = platform === 'win32' ? await gitIndexModes(root) : new Map<string, string>()
  const entries: CheckoutEntry[] = []
  for (const [i, name] of listed.entries()) {
    const entry = entryAt(root, name, platform, modes.get(name))
    if (entry) entries.push(entry)
    if (i % YIELD_EVERY === YIELD_EVERY - 1) await breathe()
  }
  return {git: true, entries}
}

/** The paths git would put in a commit of the worktree (POSIX, relative to root), or undefined outside git. */
async function gitList(root: string): Promise<string[] | undefined> {
  const inGit = await run('git', ['rev-parse', '--is-inside-work-tree'], root).then(
    (out) => out.toString().trim() === 'true',
    () => false,
  )
  if (!inGit) return undefined
  const out = await run(
    'git',
    ['-c', 'core.quotePath=false', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    root,
  )
  // --deduplicate (git 2.31+) done here: a conflicted file is listed once per stage.
  return [...new Set(out.toString('utf8').split('\0').filter(Boolean))]
}

/** The modes git's index records (`100755`, `120000`, ...), by path. */
async function gitIndexModes(root: string): Promise<Map<string, string>> {
  const out = await run('git', ['ls-files', '-z', '--stage'], root).catch(() => Buffer.alloc(0))
  const modes = new Map<string, string>()
  for (const line of out.toString('utf8').split('\0')) {
    const match = /^(\d{6}) [0-9a-f]+ \d\t(.*)$/s.exec(line)
    if (match) modes.set(match[2], match[1])
  }
  return modes
}

/**
 * The entry for a path: undefined when it is gone or cannot be read, or is neither file, folder nor
 * link. Synchronous calls: on a busy machine, each asynchronous one waits for a thread of the pool,
 * which made listing 5,000 files ten times slower.
 */
function entryAt(root: string, name: string, platform: NodeJS.Platform, indexMode?: string): CheckoutEntry | undefined {
  const path = join(root, ...name.split('/'))
  try {
    const stat = lstatSync(path)
    const mtime = stat.mtime
    // Windows writes a link's target with backslashes; the archive has POSIX paths only.
    if (stat.isSymbolicLink())
      return {
        name,
        type: 'symlink',
        mode: 0o777,
        size: 0,
        mtime,
        linkname: platform === 'win32' ? readlinkSync(path).replaceAll('\\', '/') : readlinkSync(path),
      }
    if (stat.isDirectory())
      return {name, type: 'directory', mode: platform === 'win32' ? 0o755 : stat.mode & 0o7777, size: 0, mtime}
    if (!stat.isFile()) return undefined
    accessSync(path, fsConstants.R_OK)
    // A link checked out as a plain file (Windows without symlink support): the file holds the target.
    if (indexMode === '120000')
      return {name, type: 'symlink', mode: 0o777, size: 0, mtime, linkname: readFileSync(path, 'utf8').trim()}
    const mode = platform === 'win32' ? (indexMode === '100755' ? 0o755 : 0o644) : stat.mode & 0o7777
    return {name, type: 'file', mode, size: stat.size, mtime}
  } catch {
    return undefined
  }
}

/** Lets the event loop run (timers, sockets) every so many entries of a long synchronous listing. */
const YIELD_EVERY = 1000
const breathe = () => new Promise<void>((resolve) => setImmediate(resolve))

/** Every file, folder and link under root, folders first, names sorted; `.git` and what the root .gitignore ignores left out. */
async function walk(root: string, platform: NodeJS.Platform): Promise<CheckoutEntry[]> {
  const rules = await fs.readFile(join(root, '.gitignore'), 'utf8').catch(() => '')
  const ignored = ignore().add(rules)
  const entries: CheckoutEntry[] = []
  const visit = async (relative: string) => {
    let names: string[]
    try {
      names = readdirSync(relative ? join(root, ...relative.split('/')) : root).sort()
    } catch {
      return
    }
    for (const base of names) {
      const name = relative ? `${relative}/${base}` : base
      if (base === '.git') continue
      const entry = entryAt(root, name, platform)
      if (!entry || ignored.ignores(entry.type === 'directory' ? `${name}/` : name)) continue
      entries.push(entry)
      if (entries.length % YIELD_EVERY === 0) await breathe()
      if (entry.type === 'directory') await visit(name)
    }
  }
  await visit('')
  return entries
}

/** The tar's length, header for header as tar-stream writes them (ustar, or pax for long and non-ASCII names). */
export function tarSize(entries: CheckoutEntry[]): number {
  let total = 2 * BLOCK
  for (const entry of entries)
    total += headerBytes(entry.name, entry.linkname) + padded(entry.type === 'file' ? entry.size : 0)
  return total
}

function padded(bytes: number): number {
  return Math.ceil(bytes / BLOCK) * BLOCK
}

/** Mirrors tar-stream's headers.encode (null: needs pax) and encodePax. */
function headerBytes(name: string, linkname?: string): number {
  if (fitsUstar(name, linkname)) return BLOCK
  const pax = paxRecord(`path=${name}`) + (linkname ? paxRecord(`linkpath=${linkname}`) : '')
  return BLOCK + padded(Buffer.byteLength(pax)) + BLOCK
}

function fitsUstar(name: string, linkname?: string): boolean {
  if (Buffer.byteLength(name) !== name.length) return false
  let rest = name
  let prefix = ''
  while (Buffer.byteLength(rest) > 100) {
    const slash = rest.indexOf('/')
    if (slash === -1) return false
    prefix += prefix ? `/${rest.slice(0, slash)}` : rest.slice(0, slash)
    rest = rest.slice(slash + 1)
  }
  if (Buffer.byteLength(rest) > 100 || Buffer.byteLength(prefix) > 155) return false
  return !(linkname && Buffer.byteLength(linkname) > 100)
}

function paxRecord(keyValue: string): string {
  const text = ` ${keyValue}\n`
  const length = Buffer.byteLength(text)
  let digits = Math.floor(Math.log10(length)) + 1
  if (length + digits >= 10 ** digits) digits++
  return `${length + digits}${text}`
}

/**
 * The tar of `entries`, read from disk as it is consumed. Each file contributes exactly the size it
 * had when listed: one that grew is cut there, one that shrank or vanished is padded with zeros (as GNU
 * tar does), so the stream always has the length tarSize announced.
 */
export function packEntries(root: string, entries: CheckoutEntry[]): Readable {
  const pack = tarPack()
  const write = async () => {
    for (const entry of entries) {
      if (pack.destroying) return
      await addEntry(pack, root, entry)
    }
    pack.finalize()
  }
  write().catch((error: Error) => pack.destroy(error))
  return nodeReadable(pack)
}

/** tar-stream's (streamx) stream as a Node stream, with backpressure both ways; destroying it stops the packing. */
function nodeReadable(pack: Pack): Readable {
  const out = new Readable({
    highWaterMark: READ_CHUNK,
    read: () => void pack.resume(),
    destroy: (error, callback) => {
      pack.destroy()
      callback(error)
    },
  })
  pack.on('data', (chunk: unknown) => {
    if (!out.push(chunk)) pack.pause()
  })
  pack.on('end', () => out.push(null))
  pack.on('error', (error: unknown) => out.destroy(error as Error))
  return out
}

async function addEntry(pack: Pack, root: string, entry: CheckoutEntry): Promise<void> {
  const header = {
    name: entry.name,
    type: entry.type,
    mode: entry.mode,
    mtime: entry.mtime,
    uid: 0,
    gid: 0,
    size: entry.type === 'file' ? entry.size : 0,
    ...(entry.linkname === undefined ? {} : {linkname: entry.linkname}),
  }
  let sink!: ReturnType<Pack['entry']>
  const done = new Promise<void>(
    (resolve, reject) => (sink = pack.entry(header, (error) => (error ? reject(error) : resolve()))),
  )
  // Awaited below; if reading throws first, that error is the one that counts.
  done.catch(() => {})
  if (entry.type !== 'file') return done
  const path = join(root, ...entry.name.split('/'))
  if (entry.size <= READ_CHUNK) {
    // Most files of a checkout: read at once, synchronously (see entryAt).
    sink.end(entry.size > 0 ? readSmall(path, entry.size) : undefined)
    return done
  }
  const file = await fs.open(path, 'r').catch(() => undefined)
  try {
    let at = 0
    let eof = !file
    while (at < entry.size) {
      const want = Math.min(READ_CHUNK, entry.size - at)
      let chunk = Buffer.alloc(0)
      if (!eof) {
        const buffer = Buffer.allocUnsafe(want)
        const {bytesRead} = await file!.read(buffer, 0, want, at)
        if (bytesRead === 0) eof = true
        chunk = buffer.subarray(0, bytesRead)
      }
      if (eof) chunk = Buffer.alloc(want)
      at += chunk.length
      if (pack.destroying || (!sink.write(chunk) && !(await drained(sink)))) break
    }
    sink.end(undefined)
  } finally {
    await file?.close()
  }
  return done
}

/** `size` bytes of a file: cut if it grew, padded with zeros if it shrank or is gone. */
function readSmall(path: string, size: number): Buffer {
  const buffer = Buffer.alloc(size)
  let fd: number | undefined
  try {
    fd = openSync(path, 'r')
    for (let at = 0; at < size;) {
      const read = readSync(fd, buffer, at, size - at, at)
      if (read === 0) break
      at += read
    }
  } catch {
    // Gone or unreadable since it was listed: zeros keep the archive's length.
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
  return buffer
}

/** Resolves true once the entry takes more, false once it is gone (the archive's reader went away). */
function drained(sink: ReturnType<Pack['entry']>): Promise<boolean> {
  if (sink.destroying) return Promise.resolve(false)
  return new Promise((resolve) => {
    const go = (more: boolean) => () => {
      sink.off('drain', onDrain)
      sink.off('close', onClose)
      resolve(more)
    }
    const onDrain = go(true)
    const onClose = go(false)
    sink.on('drain', onDrain)
    sink.on('close', onClose)
  })
}

/** `length` bytes of the tar from about `at`: from the entry that holds that offset on (mid-file when it falls in one). */
async function tarSample(root: string, entries: CheckoutEntry[], at: number, length: number): Promise<Buffer> {
  let offset = 0
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]
    const header = headerBytes(entry.name, entry.linkname)
    const content = entry.type === 'file' ? entry.size : 0
    const next = offset + header + padded(content)
    if (at < next || i === entries.length - 1) {
      const within = at - offset - header
      if (within <= 0 || within >= content) return readStream(packEntries(root, entries.slice(i)), length)
      const head = await readFileRange(join(root, ...entry.name.split('/')), within, Math.min(length, content - within))
      const rest =
        head.length < length
          ? await readStream(packEntries(root, entries.slice(i + 1)), length - head.length)
          : Buffer.alloc(0)
      return Buffer.concat([head, rest])
    }
    offset = next
  }
  return Buffer.alloc(0)
}

async function readFileRange(path: string, position: number, length: number): Promise<Buffer> {
  const file = await fs.open(path, 'r').catch(() => undefined)
  if (!file) return Buffer.alloc(0)
  try {
    const buffer = Buffer.alloc(length)
    const {bytesRead} = await file.read(buffer, 0, length, position)
    return buffer.subarray(0, bytesRead)
  } finally {
    await file.close()
  }
}

/** Up to `limit` bytes of a stream, which is then closed. */
async function readStream(stream: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let total = 0
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer)
    total += (chunk as Buffer).length
    if (total >= limit) break
  }
  stream.destroy()
  return Buffer.concat(chunks).subarray(0, limit)
}

/** The whole tar of the checkout in memory (for tests and small checkouts). */
export async function checkoutTar(root: string): Promise<Buffer> {
  const {entries} = await listCheckout(root)
  return readStream(packEntries(root, entries), Number.MAX_SAFE_INTEGER)
}

/**
 * Chunks of at least `min` bytes (the last may be shorter) and at most `max`: fewer, fuller writes to
 * sockets and websocket messages (a tar has a 512-byte header before every file). `onChunk` hears of
 * each chunk as it is handed on.
 */
export function coalesce(
  source: Readable,
  min = 256 * 1024,
  max = 1024 * 1024,
  onChunk?: (bytes: number) => void,
): Readable {
  async function* chunks(): AsyncGenerator<Buffer> {
    let pending: Buffer[] = []
    let bytes = 0
    const take = function* () {
      const all = pending.length === 1 ? pending[0] : Buffer.concat(pending, bytes)
      pending = []
      bytes = 0
      for (let at = 0; at < all.length; at += max) {
        const chunk = all.subarray(at, at + max)
        onChunk?.(chunk.length)
        yield chunk
      }
    }
    for await (const chunk of source) {
      pending.push(chunk as Buffer)
      bytes += (chunk as Buffer).length
      if (bytes >= min) yield* take()
    }
    if (bytes > 0) yield* take()
  }
  return Readable.from(chunks(), {objectMode: false, highWaterMark: max})
}

function run(command: string, args: string[], cwd: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {cwd, stdio: ['ignore', 'pipe', 'pipe']})
    const out: Buffer[] = []
    let err = ''
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => (err += b.toString()))
    child.on('error', (e) => reject(new UsageError(`cannot run ${command} to list the checkout: ${e.message}`)))
    child.on('close', (code) =>
      code === 0
        ? resolve(Buffer.concat(out))
        : reject(new UsageError(`${command} ${args.join(' ')} failed: ${err.trim()}`)),
    )
  })
}

/** A byte count as people read it: `512 B`, `350 KiB`, `18.2 MiB`, `1.0 GiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 ** 2) return `${Math.round(bytes / 1024)} KiB`
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`
}
