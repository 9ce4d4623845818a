import {describe, expect, it} from 'vitest'
import {checkWorkflowText} from '../../src/validate/index.js'
import {wpk8s} from './cli.js'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

const SEED = `steps:
  build:
    image: golang:1.22
    commands: [go build, go test]
    environment: {A: "1"}
    depends_on: []
    when: {event: push, branch: main}
    backend_options:
      kubernetes:
        resources: {requests: {memory: 128Mi}, limits: {memory: 1Gi}}
        nodeSelector: {kubernetes.io/os: linux}
        tolerations: [{key: a, operator: Exists}]
services:
  db: {image: postgres, ports: [5432]}
`

/** A small deterministic generator, so a failure names a reproducible case. */
function random(seed: number): () => number {
  let x = seed
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31
    return x / 2 ** 31
  }
}

const WEIRD = [
  '',
  '~',
  'null',
  '[]',
  '{}',
  '-1',
  '1e999',
  '"\\u0000"',
  'ünïcödé ✓ 🚀',
  '"$(rm -rf /)"',
  "'; drop table;'",
  'a'.repeat(5000),
  '[[[[[[',
  '&a [*a]',
  '!!binary AAAA',
  '? complex',
  '"\\ud800"',
  'Build Container!!',
  '.',
  '0x7fffffffffffffff',
]

/** Mutations of the seed: truncation, swapped values, odd keys, deep nesting. */
function mutants(count: number): string[] {
  const next = random(42)
  const lines = SEED.split('\n')
  const out: string[] = []
  for (let i = 0; i < count; i++) {
    const kind = Math.floor(next() * 5)
    const copy = [...lines]
    const at = Math.floor(next() * copy.length)
    const weird = WEIRD[Math.floor(next() * WEIRD.length)]
    if (kind === 0) out.push(SEED.slice(0, Math.floor(next() * SEED.length)))
    else if (kind === 1) out.push(copy.map((l, j) => (j === at ? l.replace(/:\s.*$/, `: ${weird}`) : l)).join('\n'))
    else if (kind === 2)
      out.push(
        copy.map((l, j) => (j === at ? l.replace(/^(\s*)[\w.-]+/, `$1${weird.replace(/[:#]/g, '')}`) : l)).join('\n'),
      )
    else if (kind === 3) out.push(`${SEED}\nx: ${'{a: '.repeat(100)}1${'}'.repeat(100)}\n`)
    else
      out.push(
        copy
          .filter((_, j) => j !== at)
          .join('\n')
          .replace(/ {2}/g, next() < 0.5 ? ' ' : '   '),
      )
  }
  return out
}

describe('malformed pipelines (fuzz)', () => {
  const cases = mutants(400)

  it('validate never throws, and every problem has a position and a message', () => {
    for (const text of cases) {
      let result
      try {
        result = checkWorkflowText({name: 'f', file: 'f.yml', text}, {})
      } catch (error) {
        throw new Error(`validate threw on:\n${text}\n${(error as Error).stack}`)
      }
      for (const issue of result.issues) {
        expect(issue.line).toBeGreaterThanOrEqual(0)
        expect(issue.message.length).toBeGreaterThan(0)
      }
    }
  })

  it('exec --dry-run gives one clear message or valid manifests, never a stack trace', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wpk8s-fuzz-'))
    for (const [i, text] of cases.slice(0, 25).entries()) {
      const file = join(dir, `p${i}.yml`)
      writeFileSync(file, text)
      const r = wpk8s(['exec', file, '--dry-run', '--platform', 'linux/amd64'])
      expect(r.stderr + r.stdout, text).not.toMatch(/\n\s+at .*:\d+:\d+\)?\n/)
      expect([0, 2], `exit ${r.code} for:\n${text}\n${r.stderr}`).toContain(r.code)
      if (r.code === 0)
        for (const name of r.stdout.matchAll(/^ {2}name: (.*)$/gm))
          expect(name[1]).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
      else expect(r.stderr).toMatch(/^wpk8s: |^error|warning/)
    }
  })
})
