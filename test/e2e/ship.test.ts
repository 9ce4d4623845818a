import {execFileSync} from 'node:child_process'
import {createHash, randomBytes} from 'node:crypto'
import {chmodSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, unlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {createNamespace, deleteNamespace, events, kubeConfig, leftovers, uniqueName, waitFor, wpk8s} from './kube.js'
import {requireCluster} from './setup.js'
import {KubeCluster} from '../../src/cluster/kube.js'
import {LABELS} from '../../src/compile/names.js'
import {planRun} from '../../src/compile/plan.js'
import {SHIP_PORT, TOKEN_HEADER, uploadExitCode, uploadPath} from '../../src/compile/ship.js'
import {resolveBackendConfig} from '../../src/config.js'
import {readMetadata} from '../../src/pipeline/metadata.js'
import {toWorkflow} from '../../src/pipeline/normalize.js'
import {parsePipelineText} from '../../src/pipeline/parse.js'
import {checkoutTar} from '../../src/runner/checkout.js'

requireCluster()
const ns = uniqueName('e2e-ship')
const base = ['--namespace', ns, '--no-storage-rwx']

beforeAll(() => createNamespace(ns))
afterAll(() => deleteNamespace(ns))

const LONG = `${'deep-folder-'.repeat(6)}/${'long-file-name-'.repeat(9)}.txt`

/** A step that checks, from inside the workspace, that every kind of entry arrived as it is here. */
const CHECKS = `steps:
  check:
    image: busybox:1.35
    commands:
      - test -x run.sh && test ! -x src/main.txt
      - test -L inside-link && test "$(readlink inside-link)" = src/main.txt && cat inside-link
      - test "$(readlink outside-link)" = ../outside/file
      - test -f empty.txt && test ! -s empty.txt
      - cat "with space.txt" "ünïcödé 日本.txt" "${LONG}"
      - test ! -e ignored.txt && test ! -e deleted.txt && cat untracked.txt
      - echo DONE-$(echo OK)
`

/** A git checkout with every kind of entry the archive must keep, and some it must leave out. */
function richCheckout(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wpk8s-e2e-ship-'))
  writeFileSync(join(dir, '.woodpecker.yml'), CHECKS)
  mkdirSync(join(dir, 'src'))
  writeFileSync(join(dir, 'src', 'main.txt'), 'main content\n')
  writeFileSync(join(dir, 'run.sh'), '#!/bin/sh\necho run\n')
  chmodSync(join(dir, 'run.sh'), 0o755)
  writeFileSync(join(dir, 'empty.txt'), '')
  writeFileSync(join(dir, 'with space.txt'), 'spaces arrived\n')
  writeFileSync(join(dir, 'ünïcödé 日本.txt'), 'non-ascii arrived\n')
  mkdirSync(join(dir, LONG.split('/')[0]))
  writeFileSync(join(dir, LONG), 'long name arrived\n')
  symlinkSync('src/main.txt', join(dir, 'inside-link'))
  symlinkSync('../outside/file', join(dir, 'outside-link'))
  writeFileSync(join(dir, '.gitignore'), 'ignored.txt\n')
  writeFileSync(join(dir, 'deleted.txt'), 'deleted locally\n')
  const git = (...args: string[]) => execFileSync('git', args, {cwd: dir, stdio: 'ignore'})
  git('init', '-q', '-b', 'main')
  git('add', '.')
  git('-c', 'user.name=T', '-c', 'user.email=t@example.com', 'commit', '-qm', 'init')
  unlinkSync(join(dir, 'deleted.txt'))
  writeFileSync(join(dir, 'untracked.txt'), 'untracked arrived\n')
  writeFileSync(join(dir, 'ignored.txt'), 'must not ship\n')
  return dir
}

/** A PATH with git and nothing else, plus a `tar` that fails if asked for: wpk8s must not need one. */
function pathWithout(tar: 'failing' | 'none'): string {
  const bin = mkdtempSync(join(tmpdir(), 'wpk8s-e2e-bin-'))
  symlinkSync(execFileSync('sh', ['-c', 'command -v git'], {encoding: 'utf8'}).trim(), join(bin, 'git'))
  if (tar === 'failing')
    writeFileSync(join(bin, 'tar'), '#!/bin/sh\necho "tar: --ignore-failed-read is not supported" >&2\nexit 1\n', {
      mode: 0o755,
    })
  return bin
}

const logLines = (run: {stdout: string}) =>
  events(run as never)
    .filter((e) => e.type === 'log' && !e.line.startsWith('+'))
    .map((e) => e.line as string)
const shipDetail = (run: {stdout: string}) =>
  events(run as never).find((e) => e.type === 'phase' && e.phase === 'ship' && e.status === 'done')?.detail as
    string | undefined

describe('shipping the checkout', () => {
  it('needs no tar on PATH: with one that fails (as bsdtar does on GNU flags), the checkout arrives complete through the pod proxy', async () => {
    const dir = richCheckout()
    const run = await wpk8s(['exec', '--json', ...base], {cwd: dir, env: {PATH: pathWithout('failing')}})
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(logLines(run)).toEqual([
      'main content',
      'spaces arrived',
      'non-ascii arrived',
      'long name arrived',
      'untracked arrived',
      'DONE-OK',
    ])
    expect(shipDetail(run)).toMatch(/, through the pod proxy$/)
    expect(await leftovers(ns)).toEqual([])
  })

  it('needs no tar at all, also through exec (a helper image without httpd)', async () => {
    const dir = richCheckout()
    const run = await wpk8s(['exec', '--json', ...base, '--helper-image', 'debian:bookworm-slim'], {
      cwd: dir,
      env: {PATH: pathWithout('none')},
    })
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(logLines(run).at(-1)).toBe('DONE-OK')
    expect(shipDetail(run)).toMatch(/, through exec$/)
  })

  it('ships every file of a folder that is not a git checkout, less what its .gitignore ignores', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wpk8s-e2e-plain-'))
    writeFileSync(
      join(dir, '.woodpecker.yml'),
      `steps:
  check:
    image: busybox:1.35
    commands:
      - cat kept.txt sub/deeper/also.txt
      - test -d empty-dir && test ! -e secret.env && test ! -e build
      - echo DONE-$(echo OK)
`,
    )
    writeFileSync(join(dir, 'kept.txt'), 'kept\n')
    mkdirSync(join(dir, 'sub', 'deeper'), {recursive: true})
    writeFileSync(join(dir, 'sub', 'deeper', 'also.txt'), 'also kept\n')
    mkdirSync(join(dir, 'empty-dir'))
    mkdirSync(join(dir, 'build'))
    writeFileSync(join(dir, 'build', 'out.bin'), 'ignored')
    writeFileSync(join(dir, 'secret.env'), 'ignored')
    writeFileSync(join(dir, '.gitignore'), 'build/\n*.env\n')
    const run = await wpk8s(['exec', '--json', ...base], {cwd: dir})
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(logLines(run)).toEqual(['kept', 'also kept', 'DONE-OK'])
  })

  it('streams a large checkout with progress events, intact', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wpk8s-e2e-big-'))
    writeFileSync(
      join(dir, '.woodpecker.yml'),
      'steps:\n  sum:\n    image: busybox:1.35\n    commands: [cat big/* | md5sum]\n',
    )
    mkdirSync(join(dir, 'big'))
    const hash = createHash('md5')
    for (let i = 0; i < 6; i++) {
      const content = randomBytes(4 * 1024 * 1024)
      writeFileSync(join(dir, 'big', `part${i}`), content)
      hash.update(content)
    }
    const run = await wpk8s(['exec', '--json', ...base], {cwd: dir})
    expect(run.code).toBe(0)
    expect(logLines(run)).toEqual([`${hash.digest('hex')}  -`])
    const progress = events(run).filter((e) => e.type === 'progress')
    expect(progress.length).toBeGreaterThan(0)
    const total = progress[0].total as number
    expect(total).toBeGreaterThan(24 * 1024 * 1024)
    expect(progress.at(-1)).toMatchObject({phase: 'ship', sent: total, total})
    expect(shipDetail(run)).toBe(`${(total / 1024 / 1024).toFixed(1)} MiB, through the pod proxy`)
  })

  it("unpacks an upload only with the run's token, sent in a header, and only once", async () => {
    const dir = richCheckout()
    const workflow = toWorkflow(
      '.woodpecker',
      '.woodpecker.yml',
      parsePipelineText('.woodpecker.yml', readFileSync(join(dir, '.woodpecker.yml'), 'utf8')).data as Record<
        string,
        unknown
      >,
    )
    const plan = planRun({
      workflow,
      config: resolveBackendConfig({namespace: ns, 'storage-rwx': false}, {}).config,
      metadata: readMetadata(dir, {}, new Date()),
      runId: uniqueName('up'),
      arch: process.arch === 'arm64' ? 'arm64' : 'amd64',
      shipToken: 'the-right-token',
    })
    expect(JSON.stringify(plan.helperPod)).not.toContain('the-right-token')
    const cluster = new KubeCluster(kubeConfig())
    const helper = plan.helperPod.metadata!.name!
    try {
      await cluster.createPvc(plan.pvc)
      await cluster.createPod(plan.helperPod)
      await cluster.watchPod(ns, helper, (s) => s.kind === 'running', 60_000)
      const tar = await checkoutTar(dir)
      const upload = (headers: Record<string, string>) =>
        waitFor("the helper's upload endpoint", async () => {
          const body = {length: tar.length, open: () => Readable.from([tar])}
          const answer = await cluster.requestPod(ns, helper, SHIP_PORT, uploadPath(false), {
            method: 'POST',
            body,
            headers,
            idleTimeoutMs: 30_000,
          })
          return answer.statusCode === 200 ? uploadExitCode(answer.body) : undefined
        })
      const listing = async () =>
        (
          await cluster.execWithInput(
            ns,
            helper,
            'ship',
            ['sh', '-c', 'ls /woodpecker/src 2>/dev/null | cat >&2; true'],
            Buffer.alloc(0),
          )
        ).stderr
      expect(await upload({})).toBe(403)
      expect(await upload({[TOKEN_HEADER]: 'a-wrong-token'})).toBe(403)
      expect(await listing()).toBe('')
      expect(await upload({[TOKEN_HEADER]: 'the-right-token'})).toBe(0)
      expect((await listing()).split('\n')).toContain('with space.txt')
      // A replay of the same request (say, from a log that recorded it) is refused.
      expect(await upload({[TOKEN_HEADER]: 'the-right-token'})).toBe(409)
    } finally {
      await cluster.deletePod(ns, helper, 0)
      await cluster.deletePvc(ns, plan.pvc.metadata!.name!)
      await waitFor(
        'the helper and its claim to go',
        async () => ((await cluster.listRunObjects(ns, `${LABELS.run}=${plan.runId}`)).length === 0 ? true : undefined),
        60_000,
      )
    }
  })
})
