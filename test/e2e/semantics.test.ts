import {execFileSync} from 'node:child_process'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {createNamespace, deleteNamespace, events, leftovers, pipelineRepo, type Run, uniqueName, wpk8s} from './kube.js'
import {requireCluster} from './setup.js'

requireCluster()
const ns = uniqueName('e2e-semantics')

beforeAll(() => createNamespace(ns))
afterAll(() => deleteNamespace(ns))

async function exec(pipeline: string, args: string[] = [], files: Record<string, string> = {}): Promise<Run> {
  return wpk8s(['exec', '--json', '--namespace', ns, '--no-storage-rwx', ...args], {cwd: pipelineRepo(pipeline, files)})
}

function outcome(run: Run): Record<string, string> {
  return Object.fromEntries(
    events(run)
      .filter((e) => e.type === 'step-end')
      .map((e) => [e.step, e.exitCode === undefined ? e.status : `${e.status} ${e.exitCode}`]),
  )
}

function logsOf(run: Run, step: string): string[] {
  return events(run)
    .filter((e) => e.type === 'log' && e.step === step)
    .map((e) => e.line)
}

const step = (commands: string, extra = '') =>
  `    image: busybox:1.35\n    commands: [${JSON.stringify(commands)}]\n${extra}`

describe('Woodpecker semantics on the cluster', () => {
  it('runs independent steps in parallel as soon as their dependencies are done (true DAG)', async () => {
    const run = await exec(`skip_clone: true
steps:
  slow:
${step('sleep 10', '    depends_on: []\n')}
  quick:
${step('sleep 1', '    depends_on: []\n')}
  after-quick:
${step('sleep 1', '    depends_on: [quick]\n')}
  last:
${step('echo last', '    depends_on: [slow, after-quick]\n')}
`)
    expect(run.code).toBe(0)
    const at = (type: string, name: string) =>
      Date.parse(events(run).find((e) => e.type === type && e.step === name)!.time)
    // after-quick starts before slow ends: it waited for quick only, not for the whole "level".
    expect(at('step-start', 'after-quick')).toBeLessThan(at('step-end', 'slow'))
    expect(at('step-start', 'last')).toBeGreaterThanOrEqual(at('step-end', 'slow'))
    expect(outcome(run)).toEqual({slow: 'success 0', quick: 'success 0', 'after-quick': 'success 0', last: 'success 0'})
  })

  it('limits concurrency with --parallel', async () => {
    const run = await exec(
      `skip_clone: true\nsteps:\n  a:\n${step('sleep 2', '    depends_on: []\n')}  b:\n${step('sleep 2', '    depends_on: []\n')}`,
      ['--parallel', '1'],
    )
    const at = (type: string, name: string) =>
      Date.parse(events(run).find((e) => e.type === type && e.step === name)!.time)
    expect(at('step-start', 'b')).toBeGreaterThanOrEqual(at('step-end', 'a'))
  })

  it('runs status: failure and [success, failure] steps after a failure, skips the rest (Woodpecker scenarios 04, 08)', async () => {
    const run = await exec(`skip_clone: true
steps:
  build:
${step('exit 2')}
  always-cleanup:
${step('echo cleaning up with $CI_PIPELINE_STATUS', '    when:\n      - status: [success, failure]\n')}
  deploy:
${step('echo deploying')}
  notify:
${step('echo notifying', '    when:\n      status: failure\n')}
`)
    expect(run.code).toBe(1)
    expect(outcome(run)).toEqual({
      build: 'failure 2',
      'always-cleanup': 'success 0',
      deploy: 'skipped',
      notify: 'success 0',
    })
    expect(logsOf(run, 'always-cleanup')).toContain('cleaning up with failure')
    expect(events(run).find((e) => e.type === 'step-end' && e.step === 'deploy')!.reason).toBe('an earlier step failed')
  })

  it('shows steps excluded by when as skipped with the reason, and --event/--branch change the outcome', async () => {
    const pipeline = `skip_clone: true
steps:
  always:
${step('echo always')}
  tags:
${step('echo tag $CI_COMMIT_TAG', '    when:\n      event: tag\n')}
  main-only:
${step('echo main', '    when:\n      branch: main\n')}
`
    const push = await exec(pipeline)
    expect(outcome(push)).toEqual({always: 'success 0', tags: 'skipped', 'main-only': 'success 0'})
    expect(events(push).find((e) => e.step === 'tags' && e.type === 'step-end')!.reason).toBe(
      'when: event is push, not tag',
    )
    const tag = await exec(pipeline, ['--tag', 'v1.0.0', '--branch', 'dev'])
    // Woodpecker does not check `branch` on tag events.
    expect(outcome(tag)).toEqual({always: 'success 0', tags: 'success 0', 'main-only': 'success 0'})
    expect(outcome(await exec(pipeline, ['--branch', 'dev']))['main-only']).toBe('skipped')
    expect(logsOf(tag, 'tags')).toContain('tag v1.0.0')
  })

  it('runs one step and what it depends on with --step', async () => {
    const run = await exec(
      `skip_clone: true\nsteps:\n  a:\n${step('echo a')}  b:\n${step('echo b')}  c:\n${step('echo c')}`,
      ['--step', 'b'],
    )
    expect(outcome(run)).toEqual({a: 'success 0', b: 'success 0', c: 'skipped'})
    expect(events(run).find((e) => e.type === 'step-end' && e.step === 'c')!.reason).toBe('not selected (--step)')
  })

  it('matches path conditions against the files changed in the checkout', async () => {
    const pipeline = `skip_clone: true\nsteps:\n  go:\n${step('echo go', '    when:\n      path: "**/*.go"\n')}  web:\n${step('echo web', '    when:\n      path: "web/**"\n')}`
    const run = await exec(pipeline, [], {'main.go': 'package main\n'})
    expect(outcome(run)).toEqual({go: 'success 0', web: 'skipped'})
  })

  it('drops an optional dependency on a step that does not run (scenario 15), and skips a workflow whose when does not match', async () => {
    const run = await exec(`skip_clone: true
steps:
  build:
${step('echo building')}
  lint:
${step('echo linting', '    when:\n      event: tag\n')}
  deploy:
${step('echo deploying', '    depends_on: [build, {name: lint, optional: true}]\n')}
`)
    expect(outcome(run)).toEqual({build: 'success 0', lint: 'skipped', deploy: 'success 0'})
    const skipped = await exec(`skip_clone: true\nwhen:\n  event: tag\nsteps:\n  a:\n${step('echo a')}`)
    expect(skipped.code).toBe(0)
    expect(events(skipped).find((e) => e.type === 'step-end')).toMatchObject({
      step: 'a',
      status: 'skipped',
      reason: 'when: event is tag, not tag'.replace('event is tag', 'event is push'),
    })
  })

  it('starts services first and makes them reachable by name; detached steps keep running; all stopped at the end', async () => {
    const run = await exec(`skip_clone: true
services:
  cache:
${step('nc -ll -p 6379 -e echo PONG', '    ports: [6379]\n')}
steps:
  server:
${step('nc -ll -p 8080 -e echo detached-ok', '    detach: true\n')}
  client:
${step('for i in 1 2 3 4 5 6 7 8 9 10; do nc -z cache 6379 && break; sleep 0.5; done; echo PING | nc cache 6379; sleep 1; echo x | nc server 8080')}
`)
    expect(run.code).toBe(0)
    expect(logsOf(run, 'client')).toEqual(expect.arrayContaining(['PONG', 'detached-ok']))
    expect(outcome(run)).toEqual({cache: 'success', server: 'success', client: 'success 0'})
    expect(await leftovers(ns)).toEqual([])
  })
})

describe('plugins and extra variables', () => {
  it('runs a plugin image as it is, with settings as PLUGIN_* (lists comma-joined, maps as JSON), and --env for every step', async () => {
    const run = await exec(
      `skip_clone: true
steps:
  publish:
    image: localhost/wpk8s/plugin-env:1.0
    settings:
      repo: octo/app
      tags: [latest, "1.0"]
      build_args: {GO: "1.22"}
  show:
    image: busybox:1.35
    commands: ['echo "extra=$EXTRA"']
`,
      ['--env', 'EXTRA=from-flag'],
    )
    expect(run.code).toBe(0)
    expect(logsOf(run, 'publish')).toEqual([
      'PLUGIN_BUILD_ARGS={"GO":"1.22"}',
      'PLUGIN_REPO=octo/app',
      'PLUGIN_TAGS=latest,1.0',
    ])
    expect(logsOf(run, 'show')).toContain('extra=from-flag')
  })
})

describe('secrets', () => {
  it('delivers from_secret through a Kubernetes Secret, never inline, and masks the values in logs', async () => {
    const pipeline = `skip_clone: true
steps:
  use:
    image: busybox:1.35
    environment:
      TOKEN: {from_secret: api_token}
      PLAIN: visible
    commands:
      - echo "token is $TOKEN"
      - test "$TOKEN" = s3cr3t-value
`
    const dry = await wpk8s(['exec', '--dry-run', '--namespace', ns, '--secret', 'api_token=s3cr3t-value'], {
      cwd: pipelineRepo(pipeline),
    })
    expect(dry.code).toBe(0)
    expect(dry.stdout).not.toContain('s3cr3t-value')
    expect(dry.stdout).toContain('secretKeyRef')
    const run = await exec(pipeline, ['--secret', 'api_token=s3cr3t-value'])
    expect(run.code).toBe(0)
    expect(run.stdout).not.toContain('s3cr3t-value')
    expect(logsOf(run, 'use')).toContain('token is ********')
    expect(await leftovers(ns)).toEqual([])
    const missing = await exec(pipeline)
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/needs the secret `api_token`/)
    expect(await leftovers(ns)).toEqual([])
  })

  it('maps native backend_options.kubernetes.secrets to env and files', async () => {
    const {core} = await import('./kube.js')
    await core().createNamespacedSecret({
      namespace: ns,
      body: {metadata: {name: 'native'}, stringData: {user: 'alice', config: 'key=value'}},
    })
    const run = await exec(
      `skip_clone: true
steps:
  read:
    image: busybox:1.35
    commands: ['echo "user=$USER_NAME"', cat /etc/app/config]
    backend_options:
      kubernetes:
        secrets:
          - {name: native, key: user, target: {env: USER_NAME}}
          - {name: native, key: config, target: {file: /etc/app/config}}
`,
      ['--allow-from-step', 'secrets'],
    )
    expect(run.code).toBe(0)
    expect(logsOf(run, 'read')).toEqual([
      '+ echo "user=$USER_NAME"',
      'user=alice',
      '+ cat /etc/app/config',
      'key=value',
    ])
    await core().deleteNamespacedSecret({namespace: ns, name: 'native'})
  })
})

describe('matrix and several workflows', () => {
  function folder(workflows: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'wpk8s-wf-'))
    execFileSync('mkdir', ['-p', join(dir, '.woodpecker')])
    for (const [name, text] of Object.entries(workflows)) writeFileSync(join(dir, '.woodpecker', `${name}.yaml`), text)
    execFileSync('git', ['init', '-q'], {cwd: dir})
    return dir
  }

  it('runs every matrix combination with its values substituted and set as env', async () => {
    const run = await exec(`skip_clone: true
matrix:
  FLAVOR: [vanilla, chocolate]
  SIZE: [s]
steps:
  show:
    image: busybox:\${BUSYBOX:-1.35}
    commands: ['echo "\${FLAVOR}-$SIZE"']
`)
    expect(run.code).toBe(0)
    const logs = events(run)
      .filter((e) => e.type === 'log' && !e.line.startsWith('+'))
      .map((e) => `${e.workflow}: ${e.line}`)
      .sort()
    expect(logs).toEqual([
      '.woodpecker (FLAVOR=chocolate, SIZE=s): chocolate-s',
      '.woodpecker (FLAVOR=vanilla, SIZE=s): vanilla-s',
    ])
    expect(await leftovers(ns)).toEqual([])
  })

  it('orders workflows by depends_on, runs independent ones in parallel, skips dependents of a failure (scenarios 12, 13)', async () => {
    const dir = folder({
      build: 'skip_clone: true\nsteps:\n  compile:\n    image: busybox:1.35\n    commands: [sleep 2]\n',
      lint: 'skip_clone: true\nsteps:\n  lint:\n    image: busybox:1.35\n    commands: [sleep 2]\n',
      deploy:
        'skip_clone: true\ndepends_on: [build]\nsteps:\n  deploy:\n    image: busybox:1.35\n    commands: [echo deploy]\n',
      broken: 'skip_clone: true\nsteps:\n  fail:\n    image: busybox:1.35\n    commands: [exit 3]\n',
      after:
        'skip_clone: true\ndepends_on: [broken]\nsteps:\n  never:\n    image: busybox:1.35\n    commands: [echo never]\n',
      rescue:
        'skip_clone: true\ndepends_on: [broken]\nruns_on: [failure]\nsteps:\n  rescue:\n    image: busybox:1.35\n    commands: [echo rescued]\n',
    })
    const run = await wpk8s(['exec', '--json', '--namespace', ns, '--no-storage-rwx'], {cwd: dir})
    expect(run.code).toBe(1)
    const end = events(run).find((e) => e.type === 'pipeline-end')!
    expect(Object.fromEntries(end.workflows.map((w: {name: string; status: string}) => [w.name, w.status]))).toEqual({
      after: 'skipped',
      broken: 'failure',
      build: 'success',
      deploy: 'success',
      lint: 'success',
      rescue: 'success',
    })
    const at = (type: string, workflow: string) =>
      Date.parse(events(run).find((e) => e.type === type && e.workflow === workflow)!.time)
    expect(at('run-start', 'lint')).toBeLessThan(at('run-end', 'build'))
    expect(at('run-start', 'deploy')).toBeGreaterThanOrEqual(at('run-end', 'build'))
    expect(events(run).find((e) => e.workflow === 'after' && e.type === 'step-end')).toMatchObject({
      step: 'never',
      status: 'skipped',
      reason: 'depends on broken, which failed',
    })
    expect(await leftovers(ns)).toEqual([])
  })
})
