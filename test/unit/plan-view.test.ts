import {execFileSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {buildPlanView, colorWanted, type PlanView, type StepView} from '../../src/app/plan.js'
import type {PreparedRun} from '../../src/app/exec.js'
import {resolveBackendConfig} from '../../src/config.js'
import {pipelineEnvironment} from '../../src/pipeline/ci-variables.js'
import {type MetadataOverrides, readMetadata} from '../../src/pipeline/metadata.js'
import {loadWorkflows} from '../../src/pipeline/workflow.js'
import {renderDot, renderMermaid, renderTree} from '../../src/render/plan.js'

/** A git checkout with these files committed (so they are the changed files), prepared as exec prepares a run. */
function prepared(
  files: Record<string, string>,
  overrides: MetadataOverrides = {},
  secrets: Record<string, string> = {},
): {run: PreparedRun; dir: string} {
  const dir = mkdtempSync(join(tmpdir(), 'wpk8s-plan-'))
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), {recursive: true})
    writeFileSync(join(dir, path), text)
  }
  const git = (...args: string[]) =>
    execFileSync('git', args, {
      cwd: dir,
      stdio: 'ignore',
      env: {...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1'},
    })
  git('init', '-q', '-b', 'main')
  git('add', '.')
  git('-c', 'user.name=T', '-c', 'user.email=t@example.com', 'commit', '-qm', 'first')
  const {config} = resolveBackendConfig({}, {})
  const metadata = readMetadata(dir, {defaultBranch: 'main', ...overrides}, new Date(0))
  const target = join(
    dir,
    Object.keys(files).some((f) => f.startsWith('.woodpecker/')) ? '.woodpecker' : '.woodpecker.yml',
  )
  const {workflows} = loadWorkflows(target, dir, (w) => pipelineEnvironment(metadata, w))
  return {run: {config, metadata, workflows, extraEnv: {}, secrets}, dir}
}

function plan(
  files: Record<string, string>,
  overrides: MetadataOverrides = {},
  options: {secrets?: Record<string, string>; platform?: string; steps?: string[]; hostArch?: string} = {},
): PlanView {
  const {run, dir} = prepared(files, overrides, options.secrets)
  return buildPlanView(run, {
    platform: options.platform,
    steps: options.steps,
    hostArch: options.hostArch ?? 'amd64',
    cwd: dir,
  })
}

const fate = (s: StepView) =>
  `${s.name}: ${s.verdict}${s.reason ? ` (${s.reason})` : ''}${s.afterFailure && s.verdict === 'run' ? ' +failure' : ''}`

const DAG = `services:
  db:
    image: postgres:16
steps:
  lint:
    image: golang:1.22
    commands: [go vet]
    depends_on: []
  unit:
    image: golang:1.22
    commands: [go test]
    depends_on: []
    when:
      path: '**/*.go'
  build:
    image: golang:1.22
    commands: [go build]
    depends_on: [lint, unit]
  release:
    image: plugins/docker
    settings:
      password: {from_secret: registry}
    depends_on: [build]
    when:
      - event: tag
      - event: push
        branch: release/*
  notify:
    image: alpine
    commands: [echo failed]
    depends_on: [build]
    when: {status: failure}
  report:
    image: alpine
    commands: [echo done]
    depends_on: [build]
    failure: ignore
    when: {status: [success, failure]}
`

describe('the plan view', () => {
  it('puts the steps of a DAG in waves, services first, and decides each with the `when` item and value', () => {
    const view = plan({'.woodpecker.yml': DAG, 'main.go': 'package main\n'})
    const [w] = view.workflows
    expect(w.services.map(fate)).toEqual(['db: run'])
    expect(w.services[0].wave).toBe(0)
    expect(w.waves).toEqual([['lint', 'unit'], ['build'], ['release', 'notify', 'report']])
    expect(w.steps.map(fate)).toEqual([
      'lint: run',
      'unit: run',
      'build: run',
      'release: skip (when: no item matches: [1] event is push, not tag; [2] branch is main, not release/*)',
      'notify: on-failure (when: runs only after a failure)',
      'report: run +failure',
    ])
    expect(w.steps.find((s) => s.name === 'report')!.ignoreFailure).toBe(true)
    expect(w.steps.find((s) => s.name === 'release')!.when).toEqual([
      {matches: false, reason: 'event is push, not tag', status: ['success']},
      {matches: false, reason: 'branch is main, not release/*', status: ['success']},
    ])
    expect(view.totals).toEqual({workflows: 1, steps: 7, run: 5, skip: 1, onFailure: 1})
    // The release step needs a secret that was not given, but it does not run: exec would not stop.
    expect(view.blocked).toBeUndefined()
  })

  it('decides path conditions with the changed files and events with the flags', () => {
    const noGo = plan({'.woodpecker.yml': DAG, 'README.md': 'x\n'})
    expect(noGo.workflows[0].steps.map(fate)[1]).toBe('unit: skip (when: path: no changed file matches **/*.go)')
    const tag = plan({'.woodpecker.yml': DAG, 'README.md': 'x\n'}, {tag: 'v1.0.0'}, {secrets: {registry: 'pw'}})
    expect(tag.context).toMatchObject({event: 'tag', tag: 'v1.0.0', ref: 'refs/tags/v1.0.0'})
    // On a tag, path is not consulted and the release step runs.
    expect(tag.workflows[0].steps.map(fate).slice(1, 4)).toEqual(['unit: run', 'build: run', 'release: run'])
    const release = plan({'.woodpecker.yml': DAG}, {branch: 'release/1.x'}, {secrets: {registry: 'pw'}})
    expect(release.context.branch).toBe('release/1.x')
    expect(release.workflows[0].steps.find((s) => s.name === 'release')!.verdict).toBe('run')
  })

  it("says that exec would stop when a step that runs lacks a secret, in exec's words", () => {
    const view = plan({'.woodpecker.yml': DAG}, {tag: 'v1'})
    expect(view.blocked).toEqual({
      message: 'step release: PLUGIN_PASSWORD needs the secret `registry`, which was not given',
      hint: 'pass --secret registry=VALUE or put it in a --secrets-file',
    })
    expect(view.workflows[0].steps.find((s) => s.name === 'release')!.missingSecret).toEqual({
      secret: 'registry',
      message: view.blocked!.message,
    })
    const onFailure = plan({
      '.woodpecker.yml':
        'steps:\n  a: {image: x, commands: [y]}\n  b:\n    image: x\n    environment: {T: {from_secret: t}}\n    commands: [y]\n    when: {status: failure}\n',
    })
    expect(onFailure.blocked).toBeUndefined()
    expect(onFailure.workflows[0].steps[1]).toMatchObject({verdict: 'on-failure', missingSecret: {secret: 't'}})
  })

  it('plans every matrix instance with its values and decides `matrix` conditions per instance', () => {
    const view = plan({
      '.woodpecker.yml':
        'matrix:\n  GO: ["1.21", "1.22"]\nsteps:\n  test:\n    image: golang:${GO}\n    commands: [go test]\n  race:\n    image: golang:${GO}\n    commands: [go test -race]\n    when:\n      matrix: {GO: "1.22"}\n',
    })
    expect(
      view.workflows.map((w) => [w.title, w.number, w.matrix, w.steps.map((s) => `${s.image} ${fate(s)}`)]),
    ).toEqual([
      [
        '.woodpecker (GO=1.21)',
        1,
        {GO: '1.21'},
        ['golang:1.21 test: run', 'golang:1.21 race: skip (when: matrix GO is 1.21, not 1.22)'],
      ],
      ['.woodpecker (GO=1.22)', 2, {GO: '1.22'}, ['golang:1.22 test: run', 'golang:1.22 race: run']],
    ])
    // Without depends_on, each step waits for the one before.
    expect(view.workflows[0].waves).toEqual([['test'], ['race']])
  })

  it("decides several workflows: depends_on, runs_on, a workflow's own `when` (its steps are skipped with its reason)", () => {
    const view = plan({
      '.woodpecker/build.yaml': 'steps:\n  a: {image: x, commands: [y]}\n',
      '.woodpecker/deploy.yaml':
        'depends_on: [build]\nwhen:\n  event: tag\nsteps:\n  ship: {image: x, commands: [y]}\n',
      '.woodpecker/cleanup.yaml':
        'depends_on: [build]\nruns_on: [failure]\nsteps:\n  collect: {image: x, commands: [y]}\n',
      '.woodpecker/always.yaml':
        'depends_on: [build]\nruns_on: [success, failure]\nsteps:\n  tell: {image: x, commands: [y]}\n',
    })
    expect(view.workflows.map((w) => [w.name, w.file, w.dependsOn, w.verdict, w.reason, w.steps.map(fate)])).toEqual([
      ['always', '.woodpecker/always.yaml', ['build'], 'run', undefined, ['tell: run']],
      ['build', '.woodpecker/build.yaml', [], 'run', undefined, ['a: run']],
      [
        'cleanup',
        '.woodpecker/cleanup.yaml',
        ['build'],
        'on-failure',
        'runs_on: only after a failure',
        ['collect: on-failure (runs_on: only after a failure)'],
      ],
      [
        'deploy',
        '.woodpecker/deploy.yaml',
        ['build'],
        'skip',
        'when: event is push, not tag',
        ['ship: skip (when: event is push, not tag)'],
      ],
    ])
  })

  it('shows what --step leaves out, and `local: false` steps as exec skips them', () => {
    const files = {
      '.woodpecker.yml':
        'steps:\n  a: {image: x, commands: [y]}\n  b: {image: x, commands: [y]}\n  c:\n    image: x\n    commands: [y]\n    when: {local: false}\n',
    }
    expect(plan(files, {}, {steps: ['a']}).workflows[0].steps.map(fate)).toEqual([
      'a: run',
      'b: skip (not selected (--step))',
      'c: skip (not selected (--step))',
    ])
    expect(plan(files).workflows[0].steps.map(fate)[2]).toBe('c: skip (when: local: false (not run locally))')
    expect(() => plan(files, {}, {steps: ['nope']})).toThrow('--step nope: no such step in .woodpecker')
  })

  it('takes the platform from --platform, else labels.platform, else this machine, and says which', () => {
    const files = {
      '.woodpecker/a.yaml':
        'labels:\n  platform: linux/arm64\nsteps:\n  s:\n    image: x\n    commands: [y]\n    when: {platform: linux/arm64}\n',
      '.woodpecker/b.yaml': 'steps:\n  s:\n    image: x\n    commands: [y]\n    when: {platform: linux/arm64}\n',
    }
    const mine = plan(files, {}, {hostArch: 'amd64'})
    expect(mine.workflows.map((w) => [w.platform, w.platformSource, fate(w.steps[0])])).toEqual([
      ['linux/arm64', 'label', 's: run'],
      ['linux/amd64', 'machine', 's: skip (when: platform is linux/amd64, not linux/arm64)'],
    ])
    expect(
      plan(files, {}, {platform: 'linux/arm64'}).workflows.map(
        (w) => `${w.platform} ${w.platformSource} ${w.steps[0].verdict}`,
      ),
    ).toEqual(['linux/arm64 flag run', 'linux/arm64 flag run'])
  })

  it('is plain data: JSON gives it back unchanged', () => {
    const view = plan({'.woodpecker.yml': DAG, 'main.go': 'package main\n'})
    expect(JSON.parse(JSON.stringify(view))).toEqual(view)
  })
})

describe('the plan renderers', () => {
  const view = plan({'.woodpecker.yml': DAG, 'main.go': 'package main\n'})
  const ANSI = /\u001b\[/

  it('draws a tree without colour unless asked, and fits narrow terminals', () => {
    const plain = renderTree(view, {color: false})
    expect(plain).not.toMatch(ANSI)
    expect(plain).toContain('├─ wave 1\n│  ├─ ● lint  golang:1.22\n│  └─ ● unit  golang:1.22')
    expect(renderTree(view, {color: true})).toMatch(ANSI)
    for (const width of [40, 60, 80]) {
      const lines = renderTree(view, {color: false, width}).trimEnd().split('\n')
      for (const line of lines) expect([...line].length, line).toBeLessThanOrEqual(width)
      // Every word is still there, only wrapped.
      expect(
        lines
          .join(' ')
          .replace(/[│├└─]/g, ' ')
          .replace(/\s+/g, ' '),
      ).toContain('event is push, not tag;')
    }
    // Below 60 columns the images are left out.
    expect(renderTree(view, {color: false, width: 40})).not.toContain('golang:1.22')
    // Colours do not count towards the width.
    for (const line of renderTree(view, {color: true, width: 40}).split('\n'))
      expect([...line.replace(/\u001b\[[0-9;]*m/g, '')].length).toBeLessThanOrEqual(40)
  })

  it('escapes names in Mermaid and DOT labels', () => {
    const odd = plan({
      '.woodpecker.yml': 'steps:\n  \'say "hi" <b>#1\\\':\n    image: x\n    commands: [y]\n    when: {event: tag}\n',
    })
    expect(odd.workflows[0].steps[0].name).toBe('say "hi" <b>#1\\')
    expect(renderMermaid(odd)).toContain(
      'w1_s1["say #34;hi#34; #60;b#62;#35;1\\<br/>skipped: when: event is push, not tag"]',
    )
    expect(renderDot(odd)).toContain(
      'w1_s1 [label="say \\"hi\\" <b>#1\\\\\\nskipped: when: event is push, not tag", style="rounded,dashed"',
    )
  })

  it('follows NO_COLOR and FORCE_COLOR', () => {
    expect(colorWanted(true, {})).toBe(true)
    expect(colorWanted(false, {})).toBe(false)
    expect(colorWanted(true, {NO_COLOR: '1'})).toBe(false)
    expect(colorWanted(true, {TERM: 'dumb'})).toBe(false)
    expect(colorWanted(false, {FORCE_COLOR: '1'})).toBe(true)
    expect(colorWanted(true, {FORCE_COLOR: '0'})).toBe(false)
    expect(colorWanted(false, {FORCE_COLOR: '1', NO_COLOR: '1'})).toBe(true)
  })
})
