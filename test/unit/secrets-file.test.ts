import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {loadSecrets} from '../../src/pipeline/secrets-file.js'

const dir = mkdtempSync(join(tmpdir(), 'wpk8s-secrets-'))
const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text)
  return join(dir, name)
}

describe('--secrets-file', () => {
  it('reads dotenv as dotenv defines it: comments, export, quotes, multi-line quoted values', () => {
    const path = file(
      's.env',
      '# comment\nexport A=1\nB="two words"\nC=\'x=y\'\nKEY="-----BEGIN-----\nabc\n-----END-----"\nD=plain # trailing comment\n',
    )
    expect(loadSecrets(path, [])).toEqual({
      A: '1',
      B: 'two words',
      C: 'x=y',
      KEY: '-----BEGIN-----\nabc\n-----END-----',
      D: 'plain',
    })
  })

  it('keeps YAML values as the text written, not as numbers or booleans', () => {
    const path = file('s.yml', 'pin: 0123\nbig: 1e3\nflag: yes\nempty:\nquoted: "a: b"\nblock: |\n  line1\n  line2\n')
    expect(loadSecrets(path, [])).toEqual({
      pin: '0123',
      big: '1e3',
      flag: 'yes',
      empty: '',
      quoted: 'a: b',
      block: 'line1\nline2\n',
    })
  })

  it('refuses a list or map value, naming the file, the line and the secret', () => {
    const path = file('bad.yml', 'token: abc\nhosts:\n  - a\n  - b\n')
    expect(() => loadSecrets(path, [])).toThrow(/bad\.yml:3: the secret `hosts` must be a single value/)
  })

  it('lets --secret override the file', () => {
    expect(loadSecrets(file('o.yml', 'token: a\n'), ['token=b', 'x=c=d'])).toEqual({token: 'b', x: 'c=d'})
  })
})
