import {existsSync, readdirSync, readFileSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, beforeAll, describe, expect, it, vi} from 'vitest'
import {planWorkflows, prepareRun} from '../../src/app/exec.js'
import {validateTarget} from '../../src/validate/files.js'

// Woodpecker's own verdicts on public pipelines and on its linter's test cases (../shared/woodpecker-corpus).
const CORPUS = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/woodpecker-corpus')
const REALWORLD = join(CORPUS, 'realworld')
const LINTER = join(CORPUS, 'linter-cases')

/**
 * Syntax the 3.0 migration notes call removed (`branches:`, `platform:`, `group:`) while Woodpecker's
 * implementation only warns and ignores the key: wpk8s refuses it on purpose, since ignoring `group:`
 * silently turns parallel steps sequential and `branches:` silently runs on every branch.
 */
const REFUSED_ON_PURPOSE = 'removed'

interface Verdict {
  file: string
  woodpecker: 'valid' | 'lenient' | 'invalid' | 'removed'
}

function realworldVerdicts(): Verdict[] {
  const rows = readFileSync(join(REALWORLD, 'SOURCES.md'), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('| ') && !l.startsWith('| local file'))
  return rows
    .map((l) => l.split('|').map((c) => c.trim()))
    .filter((c) => c.length > 8 && !c[1].startsWith('---'))
    .map((c) => ({file: c[1], woodpecker: c[6] as Verdict['woodpecker']}))
}

const errorsIn = (file: string) => validateTarget(file, REALWORLD, {}, {}).issues.filter((i) => i.severity === 'error')

describe.skipIf(!existsSync(CORPUS))('real pipelines (../shared/woodpecker-corpus/realworld)', () => {
  const verdicts = existsSync(CORPUS) ? realworldVerdicts() : []
  const runnable = verdicts.filter((v) => v.woodpecker === 'valid' || v.woodpecker === 'lenient')
  let stderr: ReturnType<typeof vi.spyOn>
  beforeAll(() => {
    stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
  })
  afterAll(() => stderr.mockRestore())

  it('has the 174 pipelines with a verdict each', () => expect(verdicts.length).toBe(174))

  it.each(verdicts.map((v) => [v.file, v.woodpecker] as const))(
    'validate agrees on %s (Woodpecker: %s)',
    (file, woodpecker) => {
      const errors = errorsIn(join(REALWORLD, file)).map((e) => `${e.line}:${e.col} ${e.path}: ${e.message}`)
      if (woodpecker === 'valid' || woodpecker === 'lenient') expect(errors).toEqual([])
      else
        expect(
          errors.length,
          `${woodpecker === REFUSED_ON_PURPOSE ? 'removed syntax' : 'Woodpecker refuses it'}`,
        ).toBeGreaterThan(0)
    },
  )

  it.each(runnable.map((v) => v.file))('exec --dry-run plans %s with no flag or secret', (file) => {
    const run = prepareRun(join(REALWORLD, file), {})
    const plans = planWorkflows(run, () => 'amd64')
    expect(plans.length).toBeGreaterThan(0)
    for (const {plan} of plans) expect(plan.steps.length + plan.services.length).toBeGreaterThan(0)
  })
})

describe.skipIf(!existsSync(LINTER))("Woodpecker's linter cases (../shared/woodpecker-corpus/linter-cases)", () => {
  const cases = existsSync(LINTER)
    ? readdirSync(LINTER)
        .filter((f) => f.endsWith('.yaml'))
        .sort()
    : []

  it.each(cases)('%s', (name) => {
    const file = join(LINTER, name)
    const text = readFileSync(file, 'utf8')
    const expectation = /^# expect: (valid|invalid)(?: (.*))?$/m.exec(text)!
    const errors = validateTarget(file, LINTER, {}, {}).issues.filter((i) => i.severity === 'error')
    // Trust levels and Docker-only options are outside wpk8s's scope: any answer but a crash is fine there.
    if (/^# scope:/m.test(text)) return
    if (expectation[1] === 'valid')
      expect(errors.map((e) => `${e.path}: ${e.message}`)).toEqual(
        DELIBERATE[name] ? [expect.stringMatching(DELIBERATE[name])] : [],
      )
    else
      expect(
        errors
          .map((e) => e.path)
          .some((p) => new RegExp(`^(${expectation[2]})`).test(p) || (expectation[2].includes('empty') && p === '')),
      ).toBe(true)
  })
})

/** Linter cases Woodpecker accepts and wpk8s refuses on purpose, with the error expected (none today). */
const DELIBERATE: Record<string, RegExp> = {}
