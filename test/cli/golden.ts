import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {expect} from 'vitest'
import {ROOT} from './cli.js'

/** Compares with test/golden/NAME; UPDATE_GOLDEN=1 rewrites the file instead (review the diff!). */
export function expectGolden(name: string, actual: string): void {
  const file = join(ROOT, 'test', 'golden', name)
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) {
    if (process.env.CI && !existsSync(file)) throw new Error(`golden file ${name} is missing`)
    mkdirSync(dirname(file), {recursive: true})
    writeFileSync(file, actual)
  }
  expect(actual).toBe(readFileSync(file, 'utf8'))
}
