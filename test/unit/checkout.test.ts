import {execFileSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdtempSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {gunzipSync} from 'node:zlib'
import {describe, expect, it} from 'vitest'
import {checkoutArchive, forShipping} from '../../src/runner/checkout.js'

const sourceLike = (bytes: number) => Buffer.from('export function add(a: number, b: number): number {\n  return a + b\n}\n'.repeat(Math.ceil(bytes / 66))).subarray(0, bytes)

describe('forShipping', () => {
  const gzipped = async (tar: Buffer) => (await forShipping(tar)).gzipped

  it('compresses text, large or small, into what gunzips back to the tar', async () => {
    expect(await gzipped(sourceLike(5_000_000))).toBe(true)
    const small = await forShipping(sourceLike(10_000))
    expect(small.gzipped).toBe(true)
    expect(gunzipSync(small.bytes)).toEqual(sourceLike(10_000))
  })

  it('leaves incompressible content (binaries, archives) and empty input as they are', async () => {
    const binary = randomBytes(5_000_000)
    expect(await forShipping(binary)).toEqual({bytes: binary, gzipped: false})
    expect(await gzipped(randomBytes(10_000))).toBe(false)
    expect(await gzipped(Buffer.alloc(0))).toBe(false)
  })

  it('judges a large tar by samples from start, middle and end', async () => {
    const mostlyRandom = Buffer.concat([sourceLike(300_000), randomBytes(5_000_000)])
    expect(await gzipped(mostlyRandom)).toBe(false)
  })
})

describe('checkoutArchive', () => {
  it('gzips a source checkout into a tar that unpacks to the same files, git-ignored ones left out', async () => {
    const root = mkdtempSync(join(tmpdir(), 'wpk8s-archive-'))
    execFileSync('git', ['init', '-q'], {cwd: root})
    mkdirSync(join(root, 'src'))
    writeFileSync(join(root, 'src', 'main.ts'), sourceLike(200_000))
    writeFileSync(join(root, '.gitignore'), 'build/\n')
    mkdirSync(join(root, 'build'))
    writeFileSync(join(root, 'build', 'out.js'), 'ignored')
    const archive = await checkoutArchive(root)
    expect(archive.gzipped).toBe(true)
    const out = mkdtempSync(join(tmpdir(), 'wpk8s-unpacked-'))
    execFileSync('tar', ['-x', '-f', '-', '-C', out], {input: gunzipSync(archive.bytes)})
    expect(readFileSync(join(out, 'src', 'main.ts'))).toEqual(sourceLike(200_000))
    expect(() => readFileSync(join(out, 'build', 'out.js'))).toThrow()
  })
})
