import {mkdtempSync, writeFileSync, chmodSync, mkdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {wpk8s} from './cli.js'
import {expectGolden} from './golden.js'

const INVALID = 'test/fixtures/validate/invalid-kubernetes.yml'

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'wpk8s-validate-'))
}

describe('wpk8s validate', () => {
  it('accepts the examples with exit 0', () => {
    for (const file of ['examples/go-build.yml', 'examples/hello.yml']) {
      const r = wpk8s(['validate', file])
      expect(r.stdout).toContain('valid (0 errors')
      expect(r.code).toBe(0)
    }
  })

  it('prints every problem with file, line, column, path, expected and found (golden)', () => {
    const r = wpk8s(['validate', INVALID])
    expect(r.code).toBe(1)
    expectGolden('validate-invalid.txt', r.stdout)
  })

  it('gives the same as JSON with --json (golden)', () => {
    const r = wpk8s(['validate', INVALID, '--json'])
    expect(r.code).toBe(1)
    expect(JSON.parse(r.stdout).valid).toBe(false)
    expectGolden('validate-invalid.json', r.stdout)
  })

  it('gives the same result through oclif as through the start-up fast path', () => {
    for (const args of [
      [INVALID],
      [INVALID, '--json'],
      ['examples/hello.yml', '--strict', '--no-storage-rwx'],
      ['examples/hello.yml', '--volume-size=1x'],
    ]) {
      const fast = wpk8s(['validate', ...args])
      const oclif = wpk8s(['validate', ...args], {env: {WPK8S_NO_FAST_PATH: '1'}})
      expect(oclif).toEqual(fast)
    }
  })

  it('fails on warnings only with --strict', () => {
    const dir = scratch()
    writeFileSync(join(dir, 'p.yml'), 'steps:\n  a:\n    image: x\n    network_mode: host\n')
    expect(wpk8s(['validate', join(dir, 'p.yml')]).code).toBe(0)
    expect(wpk8s(['validate', join(dir, 'p.yml'), '--strict']).code).toBe(1)
  })

  it('discovers .woodpecker/ workflows and checks workflow depends_on', () => {
    const dir = scratch()
    mkdirSync(join(dir, '.woodpecker'))
    writeFileSync(join(dir, '.woodpecker', 'build.yaml'), 'steps:\n  a: {image: x}\n')
    writeFileSync(join(dir, '.woodpecker', 'deploy.yml'), 'depends_on: [biuld]\nsteps:\n  a: {image: x}\n')
    const r = wpk8s(['validate'], {cwd: dir})
    expect(r.code).toBe(1)
    expect(r.stdout).toContain('.woodpecker/deploy.yml:1:14 depends_on[0]: depends on unknown workflow `biuld`')
  })

  it('checks the backend configuration from flags and environment', () => {
    const r = wpk8s(['validate', 'examples/hello.yml', '--volume-size', '10x'], {
      env: {WOODPECKER_BACKEND_K8S_POD_LABELS: 'not: [a, map'},
    })
    expect(r.code).toBe(1)
    expect(r.stdout).toContain('--volume-size: not a positive Kubernetes quantity')
    expect(r.stdout).toContain('WOODPECKER_BACKEND_K8S_POD_LABELS: not a YAML or JSON object')
  })

  it('exits 2 with one clear line for usage errors', () => {
    const r = wpk8s(['validate', '--no-such-flag'])
    expect(r.code).toBe(2)
    const missing = wpk8s(['validate', 'does-not-exist.yml'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toBe('wpk8s: does-not-exist.yml: no such file or folder\n')
    const none = wpk8s(['validate'], {cwd: scratch()})
    expect(none.code).toBe(2)
    expect(none.stderr).toMatch(/^wpk8s: no pipeline found/)
  })

  it.each([
    ['an empty file', '', /the file is empty/],
    ['text that is not YAML', 'steps:\n  a: [unclosed\n  b: c\n', /not valid YAML/],
    ['binary junk', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 3, 0xff]), /binary data/],
    [
      'a 10 MB file',
      `steps:\n  a:\n    image: x\n    commands:\n${'      - echo 0123456789012345678901234567890123456789\n'.repeat(230_000)}`,
      /too large for a pipeline/,
    ],
    ['deep nesting', `steps: ${'['.repeat(5000)}${']'.repeat(5000)}\n`, /nested deeper|not valid YAML/],
    ['a scalar document', '42\n', /must be a map with `steps`/],
  ])('rejects %s with one message, no stack trace, exit 1', (_what, content, message) => {
    const file = join(scratch(), 'p.yml')
    writeFileSync(file, content)
    const r = wpk8s(['validate', file])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(message)
    expect(r.stdout + r.stderr).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/)
  })

  it('reports an unreadable file with exit 2', () => {
    if (process.getuid?.() === 0) {
      // root reads everything; a folder in place of the file is the unreadable case left
      const dir = scratch()
      const r = wpk8s(['validate', join(dir, 'missing', 'p.yml')])
      expect(r.code).toBe(2)
      return
    }
    const file = join(scratch(), 'p.yml')
    writeFileSync(file, 'steps: {}')
    chmodSync(file, 0)
    expect(wpk8s(['validate', file]).code).toBe(2)
  })
})
