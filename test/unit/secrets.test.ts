import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {masker, nativeSecretParts} from '../../src/compile/secrets.js'
import {loadSecrets, parseDotenv} from '../../src/pipeline/secrets-file.js'

describe('secrets', () => {
  it('masks every occurrence of every value, longest first, each line of multi-line values', () => {
    const mask = masker(['hunter2', 'hunter2-long', 'line one\nline two', 'ab'])
    expect(mask('pw=hunter2 and hunter2-long')).toBe('pw=******** and ********')
    expect(mask('line two is here')).toBe('******** is here')
    expect(mask('ab stays: too short to mask')).toBe('ab stays: too short to mask')
  })

  it('reads dotenv and YAML files, with --secret over them', () => {
    expect(parseDotenv('# comment\nexport A=1\nB="two words"\nC=\'x=y\'\n\nbad line\n')).toEqual({
      A: '1',
      B: 'two words',
      C: 'x=y',
    })
    const dir = mkdtempSync(join(tmpdir(), 'wpk8s-secrets-'))
    writeFileSync(join(dir, 's.yml'), 'token: abc\nport: 5432\n')
    expect(loadSecrets(join(dir, 's.yml'), ['token=override', 'other=a=b'])).toEqual({
      token: 'override',
      port: '5432',
      other: 'a=b',
    })
    expect(() => loadSecrets(undefined, ['novalue'])).toThrow(/expected name=value/)
    expect(() => loadSecrets(join(dir, 'missing.yml'), [])).toThrow(/cannot be read/)
  })
})

describe('native Kubernetes secrets (backend_options.kubernetes.secrets)', () => {
  it('takes every form the agent takes', () => {
    const parts = nativeSecretParts([
      {name: 'env-all'},
      {name: 'db', key: 'password'},
      {name: 'db', key: 'user', target: {env: 'DB_USER'}},
      {name: 'aws', key: 'credentials', target: {file: '/root/.aws/credentials'}},
      {name: 'aws', key: 'config', target: {file: '/root/.aws/config'}},
      {name: 'certs', target: {file: '/etc/certs'}},
    ])
    expect(parts.envFrom).toEqual([{secretRef: {name: 'env-all'}}])
    expect(parts.env).toEqual([
      {name: 'PASSWORD', valueFrom: {secretKeyRef: {name: 'db', key: 'password'}}},
      {name: 'DB_USER', valueFrom: {secretKeyRef: {name: 'db', key: 'user'}}},
    ])
    expect(parts.volumes).toEqual([
      {name: 'secret-0', secret: {secretName: 'aws'}},
      {name: 'secret-1', secret: {secretName: 'certs'}},
    ])
    expect(parts.mounts).toEqual([
      {name: 'secret-0', mountPath: '/root/.aws/credentials', readOnly: true, subPath: 'credentials'},
      {name: 'secret-0', mountPath: '/root/.aws/config', readOnly: true, subPath: 'config'},
      {name: 'secret-1', mountPath: '/etc/certs', readOnly: true},
    ])
  })

  it('adds nothing without references', () => {
    expect(nativeSecretParts([])).toEqual({env: [], envFrom: [], volumes: [], mounts: []})
  })
})
