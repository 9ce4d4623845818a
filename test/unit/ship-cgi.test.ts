import {execFileSync, spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {TOKEN_HEADER, tokenHash, unpackCgi, uploadExitCode, uploadPath} from '../../src/compile/ship.js'

/**
 * The helper's upload CGI, run by the local sh as busybox httpd runs it: the request's headers as
 * HTTP_* variables, the query in QUERY_STRING, the body on stdin.
 */
describe('the upload CGI', () => {
  const work = mkdtempSync(join(tmpdir(), 'wpk8s-cgi-'))
  const src = join(work, 'src')
  const used = join(work, 'used')
  const script = join(work, 'unpack')
  writeFileSync(script, unpackCgi(tokenHash('right'), src, used), {mode: 0o755})
  const folder = mkdtempSync(join(tmpdir(), 'wpk8s-cgi-files-'))
  writeFileSync(join(folder, 'a.txt'), 'uploaded')
  const tar = execFileSync('tar', ['-c', '-f', '-', '-C', folder, 'a.txt'])

  const post = (token: string | undefined) => {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      CONTENT_LENGTH: String(tar.length),
      QUERY_STRING: uploadPath(false).split('?')[1],
      REQUEST_METHOD: 'POST',
    }
    if (token !== undefined) env[`HTTP_${TOKEN_HEADER.toUpperCase().replaceAll('-', '_')}`] = token
    const answer = spawnSync('sh', [script], {input: tar, env}).stdout.toString()
    return answer.replace(/^Content-Type: text\/plain\r\n\r\n/, '')
  }

  it('refuses a request without the token or with another one, and unpacks nothing', () => {
    expect(uploadExitCode(post(undefined))).toBe(403)
    expect(uploadExitCode(post('wrong'))).toBe(403)
    expect(() => readFileSync(join(src, 'a.txt'))).toThrow()
  })

  it('unpacks the first upload with the token from the header, and refuses the same token again', () => {
    expect(post('right')).toBe('exit 0\n')
    expect(readFileSync(join(src, 'a.txt'), 'utf8')).toBe('uploaded')
    expect(post('right')).toBe('exit 409\nthis upload token was used already\n')
  })

  it('takes the token from nowhere else: the URL carries only the gzip flag', () => {
    expect(uploadPath(true)).toBe('/cgi-bin/unpack?z=1')
    expect(unpackCgi(tokenHash('right'), '/w')).not.toContain('QUERY_STRING#t=')
  })
})
