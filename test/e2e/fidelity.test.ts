import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {createNamespace, deleteNamespace, events, leftovers, pipelineRepo, ROOT, uniqueName, wpk8s} from './kube.js'
import {requireCluster} from './setup.js'

requireCluster()
const ns = uniqueName('e2e-fidelity')
const PIPELINE = readFileSync(join(ROOT, 'test/fixtures/pipelines/woodpecker3.yml'), 'utf8')

beforeAll(() => createNamespace(ns))
afterAll(() => deleteNamespace(ns))

describe('a pipeline written for Woodpecker 3', () => {
  it('runs with no flag and no secret: default-branch filter, list values, a service named like a step, steps that will not run', async () => {
    const run = await wpk8s(['exec', '--json', '--namespace', ns, '--no-storage-rwx'], {cwd: pipelineRepo(PIPELINE)})
    expect(run.code, run.stderr).toBe(0)
    const ends = Object.fromEntries(
      events(run)
        .filter((e) => e.type === 'step-end')
        .map((e) => [e.step, e.status]),
    )
    expect(ends).toEqual({
      info: 'success',
      postgres: 'success',
      'rebuild-image': 'skipped',
      release: 'skipped',
      notify: 'skipped',
      'postgres (service)': 'success',
    })
    const info = events(run)
      .filter((e) => e.type === 'log' && e.step === 'info')
      .map((e) => e.line)
    expect(info).toContain('on main of main for linux/amd64,linux/arm64 as commands')
    expect(
      events(run)
        .filter((e) => e.type === 'log' && e.step === 'postgres')
        .map((e) => e.line),
    ).toContain('ready')
    expect(await leftovers(ns)).toEqual([])
  })

  it('stops before creating anything when a step that will run lacks its secret, naming step and secret', async () => {
    const run = await wpk8s(['exec', '--json', '--namespace', ns, '--no-storage-rwx', '--tag', 'v1'], {
      cwd: pipelineRepo(PIPELINE),
    })
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/step release: TOKEN needs the secret `release_token`, which was not given/)
    expect(events(run).filter((e) => e.type === 'run-start')).toEqual([])
    expect(await leftovers(ns)).toEqual([])
  })

  it('fails only the step that becomes due without its secret (a failure-only notify), once the others are given', async () => {
    const failing = PIPELINE.replace('echo "on $CI_COMMIT_BRANCH', 'false; echo "on $CI_COMMIT_BRANCH')
    const run = await wpk8s(
      ['exec', '--json', '--namespace', ns, '--no-storage-rwx', '--tag', 'v1', '--secret', 'release_token=t0ken'],
      {cwd: pipelineRepo(failing)},
    )
    expect(run.code).toBe(1)
    const ends = Object.fromEntries(
      events(run)
        .filter((e) => e.type === 'step-end')
        .map((e) => [e.step, [e.status, e.reason]]),
    )
    expect(ends.info[0]).toBe('failure')
    expect(ends.release[0]).toBe('skipped')
    expect(ends.notify).toEqual(['failure', expect.stringMatching(/HOOK needs the secret `chat_webhook`/)])
    expect(await leftovers(ns)).toEqual([])
  })
})
