import {describe, expect, it} from 'vitest'
import {chooseOutput} from '../../src/render/choose.js'

describe('chooseOutput', () => {
  const tty = {json: false, isTTY: true, columns: 120, env: {}}
  it.each([
    [tty, 'tty'],
    [{...tty, json: true}, 'json'],
    [{...tty, isTTY: false}, 'plain'],
    [{...tty, columns: 0}, 'plain'],
    [{...tty, env: {CI: 'true'}}, 'plain'],
    [{...tty, env: {TERM: 'dumb'}}, 'plain'],
    [{...tty, isTTY: false, json: true}, 'json'],
  ])('%j → %s', (options, kind) => expect(chooseOutput(options)).toBe(kind))
})
