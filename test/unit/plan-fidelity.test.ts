import {describe, expect, it} from 'vitest'
import {resolveBackendConfig} from '../../src/config.js'
import {planRun, requireSecrets, selectSteps} from '../../src/compile/plan.js'
import {UsageError} from '../../src/errors.js'
import type {RunMetadata} from '../../src/pipeline/metadata.js'
import {toWorkflow} from '../../src/pipeline/normalize.js'
import {parsePipelineText} from '../../src/pipeline/parse.js'

const metadata: RunMetadata = {
  root: '/src/app',
  repoOwner: 'octo',
  repoName: 'app',
  repoUrl: 'https://github.com/octo/app.git',
  sha: 'abc123',
  branch: 'feature',
  ref: 'refs/heads/feature',
  message: 'Fix',
  author: 'Octo',
  authorEmail: 'o@x',
  event: 'push',
  tag: '',
  defaultBranch: 'trunk',
  changedFiles: ['a.go'],
  started: 1700000000,
}

function plan(text: string, m: Partial<RunMetadata> = {}, secrets: Record<string, string> = {}) {
  const workflow = toWorkflow('ci', 'p.yml', parsePipelineText('p.yml', text).data as Record<string, unknown>)
  return planRun({
    workflow,
    config: resolveBackendConfig({}, {}).config,
    metadata: {...metadata, ...m},
    runId: 'r1',
    arch: 'amd64',
    secrets,
  })
}

const envOf = (p: ReturnType<typeof plan>, step: string) =>
  Object.fromEntries(
    p.steps.find((s) => s.name === step)!.pod.spec!.containers[0].env!.map((e) => [e.name, e.value ?? e.valueFrom]),
  )

const RELEASE = `steps:
  test:
    image: busybox
    commands: [go test]
  release:
    image: plugins/gitea-release
    settings: {api_key: {from_secret: gitea_token}}
    when: {event: tag}
  notify:
    image: busybox
    commands: [echo]
    environment: {HOOK: {from_secret: hook}}
    when: {status: failure}
`

describe('secrets that were not given', () => {
  it('do not stop a run whose steps that need them will not run (tag-only, failure-only)', () => {
    const p = plan(RELEASE)
    expect(() => requireSecrets(p)).not.toThrow()
    expect(p.steps.find((s) => s.name === 'release')!.missingSecret?.message).toMatch(
      /PLUGIN_API_KEY needs the secret `gitea_token`/,
    )
    expect(p.steps.find((s) => s.name === 'notify')!.missingSecret?.message).toMatch(/HOOK needs the secret `hook`/)
    expect(p.secret).toBeUndefined()
  })

  it('stop the run before anything is created when a step that will run needs them', () => {
    const p = plan(RELEASE, {event: 'tag', tag: 'v1', ref: 'refs/tags/v1'})
    expect(() => requireSecrets(p)).toThrow(UsageError)
    expect(() => requireSecrets(p)).toThrow(
      /step release: PLUGIN_API_KEY needs the secret `gitea_token`, which was not given/,
    )
  })

  it('are not needed by a step left out with --step, or in a workflow that does not run', () => {
    expect(() =>
      requireSecrets(selectSteps(plan(RELEASE, {event: 'tag', tag: 'v1', ref: 'refs/tags/v1'}), ['test'])),
    ).not.toThrow()
    expect(() =>
      requireSecrets(plan(`when: {event: pull_request}\n${RELEASE.replace('when: {event: tag}', '')}`)),
    ).not.toThrow()
  })

  it("go into the run's Secret when given, for the steps that use them", () => {
    const p = plan(RELEASE, {}, {gitea_token: 't0ken'})
    expect(p.secret!.stringData).toEqual({gitea_token: 't0ken'})
  })
})

describe('names Woodpecker allows twice', () => {
  it('gives a service named like a step its own pod, reachable by its name', () => {
    const p = plan(
      'steps:\n  postgres:\n    image: busybox\n    commands: [psql -h postgres]\nservices:\n  postgres:\n    image: postgres\n',
    )
    expect(p.steps[0].name).toBe('postgres')
    expect(p.services[0]).toMatchObject({name: 'postgres (service)', host: 'postgres'})
    expect(p.services[0].pod.metadata!.name).not.toBe(p.steps[0].pod.metadata!.name)
  })

  it('runs repeated list-form step names one after the other', () => {
    const p = plan(
      'steps:\n  - name: build\n    image: busybox\n    commands: [a]\n  - name: build\n    image: busybox\n    commands: [b]\n',
    )
    expect(p.steps.map((s) => [s.name, s.dependsOn])).toEqual([
      ['build', []],
      ['build (2)', ['build']],
    ])
    expect(new Set(p.steps.map((s) => s.pod.metadata!.name)).size).toBe(2)
  })
})

describe('step environment and conditions', () => {
  it('joins a list value with commas, as Woodpecker does', () => {
    expect(
      envOf(
        plan(
          'steps:\n  a:\n    image: busybox\n    commands: [env]\n    environment: {PLATFORMS: [linux/amd64, linux/arm64]}\n',
        ),
        'a',
      ).PLATFORMS,
    ).toBe('linux/amd64,linux/arm64')
  })

  it('gives steps the pipeline variables and their own', () => {
    const env = envOf(plan('steps:\n  a:\n    image: busybox\n    commands: [env]\n  p:\n    image: plugins/x\n'), 'a')
    expect(env).toMatchObject({
      CI_REPO_DEFAULT_BRANCH: 'trunk',
      CI_STEP_NAME: 'a',
      CI_STEP_TYPE: 'commands',
      CI_STEP_NUMBER: '0',
      CI_WORKSPACE: '/woodpecker/src',
      CI_SYSTEM_PLATFORM: 'linux/amd64',
    })
    expect(envOf(plan('steps:\n  p:\n    image: plugins/x\n'), 'p').CI_STEP_TYPE).toBe('plugin')
  })

  it('decides `branch: ${CI_REPO_DEFAULT_BRANCH}`-style conditions against the default branch', () => {
    const text =
      "steps:\n  deploy:\n    image: busybox\n    commands: [deploy]\n    when: {evaluate: 'CI_COMMIT_BRANCH == CI_REPO_DEFAULT_BRANCH'}\n"
    expect(plan(text).steps[0].rules[0].matches).toBe(false)
    expect(plan(text, {branch: 'trunk', ref: 'refs/heads/trunk'}).steps[0].rules[0].matches).toBe(true)
  })

  it('matches `branch` of a pull request against its target branch', () => {
    const text = 'steps:\n  a:\n    image: busybox\n    commands: [x]\n    when: {branch: trunk}\n'
    expect(plan(text).steps[0].rules[0].matches).toBe(false)
    expect(plan(text, {event: 'pull_request', pullRequest: 3, ref: 'refs/pull/3/head'}).steps[0].rules[0].matches).toBe(
      true,
    )
  })
})

describe('numbers written in a pipeline', () => {
  it('keep their text in matrix values and conditions, as Go decodes them into strings', async () => {
    const {mkdtempSync, writeFileSync} = await import('node:fs')
    const {tmpdir} = await import('node:os')
    const {join} = await import('node:path')
    const {loadWorkflows} = await import('../../src/pipeline/workflow.js')
    const file = join(mkdtempSync(join(tmpdir(), 'wpk8s-matrix-')), 'ci.yml')
    writeFileSync(
      file,
      'matrix:\n  GO: [1.20, 1.21]\nsteps:\n  build:\n    image: golang:${GO}\n    commands: [go test]\n    when:\n      matrix: {GO: 1.20}\n',
    )
    const {workflows} = loadWorkflows(file, '/', () => ({}))
    expect(workflows.map((w) => w.steps[0].image)).toEqual(['golang:1.20', 'golang:1.21'])
    const plans = workflows.map((workflow) =>
      planRun({
        workflow,
        config: resolveBackendConfig({}, {}).config,
        metadata,
        runId: 'r1',
        arch: 'amd64',
        matrix: workflow.matrixRow,
      }),
    )
    expect(plans.map((p) => p.steps[0].rules[0].matches)).toEqual([true, false])
  })
})
