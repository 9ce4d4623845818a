import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {masker} from '../../src/compile/secrets.js'
import {loadSecrets, parseDotenv} from '../../src/pipeline/secrets-file.js'

describe('secrets', () => {
  it('masks every occurrence of every value, longest first, each line of multi-line values', () => {
    const mask = masker(['hunter2', 'hunter2-long', 'line one\nline two', 'ab'])
    expect(mask('pw=hunter2 and hunter2-long')).toBe('pw=******** and ********')
    expect(mask('line two is here')).toBe('******** is here')
    expect(mask('ab stays: too short to mask')).toBe('ab stays: too short to mask')
  })

  it('reads dotenv and YAML files, with --secret over them', () => {
    expect(parseDotenv('# comment\nexport A=1\nB="two words"\nC=\'x=y\'\n\nbad line\n')).toEqual({A: '1', B: 'two words', C: 'x=y'})
    const dir = mkdtempSync(join(tmpdir(), 'wpk8s-secrets-'))
    writeFileSync(join(dir, 's.yml'), 'token: abc\nport: 5432\n')
    expect(loadSecrets(join(dir, 's.yml'), ['token=override', 'other=a=b'])).toEqual({token: 'override', port: '5432', other: 'a=b'})
    expect(() => loadSecrets(undefined, ['novalue'])).toThrow(/expected name=value/)
    expect(() => loadSecrets(join(dir, 'missing.yml'), [])).toThrow(/cannot be read/)
  })
})
