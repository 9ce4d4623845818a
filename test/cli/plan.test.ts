import {execFileSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {wpk8s} from './cli.js'
import {expectGolden} from './golden.js'

/** Git without the machine's own configuration, so branch names and the default branch are the same everywhere. */
const GIT_ENV = {GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1'}

/**
 * Several workflows: a DAG with a service, path, event/branch and status conditions, a secret; a
 * matrix with a `matrix` and an `evaluate` condition; a workflow with its own `when`; one that runs
 * only after a failure; a list-form sequential one with a `local: false` step and a detached step.
 */
const PIPELINE: Record<string, string> = {
  '.woodpecker/build.yaml': `labels:
  platform: linux/amd64
services:
  cache:
    image: redis:7
steps:
  lint:
    image: golang:1.22
    commands: [go vet ./...]
    depends_on: []
  unit:
    image: golang:1.22
    commands: [go test ./...]
    depends_on: []
    when:
      path: '**/*.go'
  docs:
    image: alpine:3.20
    commands: [echo docs]
    depends_on: []
    when:
      path:
        include: ['docs/**']
  build:
    image: golang:1.22
    commands: [go build ./...]
    depends_on: [lint, unit]
  release:
    image: woodpeckerci/plugin-docker-buildx
    settings:
      password: {from_secret: registry_password}
    depends_on: [build]
    when:
      - event: tag
      - event: push
        branch: release/*
  notify:
    image: alpine:3.20
    commands: [echo "build failed"]
    depends_on: [build]
    when:
      status: failure
  report:
    image: alpine:3.20
    commands: [echo done]
    depends_on: [build]
    failure: ignore
    when:
      status: [success, failure]
`,
  '.woodpecker/test.yaml': `depends_on: [build]
labels:
  platform: linux/amd64
matrix:
  GO: ['1.21', '1.22']
services:
  db:
    image: postgres:16
steps:
  test:
    image: golang:\${GO}
    commands: [go test ./...]
  race:
    image: golang:\${GO}
    commands: [go test -race ./...]
    when:
      matrix: {GO: '1.22'}
  bench:
    image: golang:\${GO}
    commands: [go test -bench .]
    when:
      evaluate: 'CI_COMMIT_BRANCH == "main"'
`,
  '.woodpecker/deploy.yaml': `depends_on: [test]
labels:
  platform: linux/amd64
when:
  event: [tag, deployment]
steps:
  ship:
    image: alpine:3.20
    commands: [echo ship]
`,
  '.woodpecker/diagnose.yaml': `depends_on: [build, test]
runs_on: [failure]
labels:
  platform: linux/amd64
steps:
  collect:
    image: alpine:3.20
    commands: [echo collect]
`,
  '.woodpecker/site.yaml': `labels:
  platform: linux/arm64
steps:
  - name: prepare
    image: alpine:3.20
    commands: [echo prepare]
  - name: publish
    image: alpine:3.20
    commands: [echo publish]
    when:
      local: false
  - name: preview
    image: nginx:1.27
    detach: true
`,
  'cmd/main.go': 'package main\n',
  'README.md': 'hello\n',
}

/** A checkout on `main` with these files as its last commit (so they are the changed files). */
function checkout(files: Record<string, string> = PIPELINE): string {
  const dir = mkdtempSync(join(tmpdir(), 'wpk8s-plan-cli-'))
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), {recursive: true})
    writeFileSync(join(dir, path), text)
  }
  const git = (...args: string[]) =>
    execFileSync('git', args, {cwd: dir, stdio: 'ignore', env: {...process.env, ...GIT_ENV}})
  git('init', '-q', '-b', 'main')
  git('add', '.')
  git('-c', 'user.name=Plan Tester', '-c', 'user.email=plan@example.com', 'commit', '-qm', 'first')
  return dir
}

const plan = (args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) =>
  wpk8s(['plan', ...args], {cwd, env: {...GIT_ENV, ...env}})

describe('wpk8s plan', () => {
  const dir = checkout()

  it('prints the plan as a tree (golden): workflows, services, waves, and why a step does not run', () => {
    const r = plan(['--default-branch', 'main'], dir)
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expectGolden('plan-push.txt', r.stdout)
  })

  it('decides for a tag event with a secret given (golden)', () => {
    const r = plan(['--tag', 'v1.2.0', '--default-branch', 'main', '--secret', 'registry_password=x'], dir)
    expect(r.code).toBe(0)
    expectGolden('plan-tag.txt', r.stdout)
  })

  it('says in the tree that exec would stop for a missing secret, and still exits 0', () => {
    const r = plan(['--tag', 'v1.2.0'], dir)
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(
      'release  woodpeckerci/plugin-docker-buildx  ← build  needs the secret registry_password, not given: exec stops before the run',
    )
    expect(r.stdout).toContain(
      'exec would stop before the run: step release: PLUGIN_PASSWORD needs the secret `registry_password`, which was not given\n  hint: pass --secret registry_password=VALUE or put it in a --secrets-file\n',
    )
  })

  it('gives the plan as JSON (golden)', () => {
    const r = plan(['--format', 'json', '--default-branch', 'main'], dir)
    expect(r.code).toBe(0)
    const view = JSON.parse(r.stdout)
    expect(view.workflows.map((w: {title: string}) => w.title)).toEqual([
      'build',
      'deploy',
      'diagnose',
      'site',
      'test (GO=1.21)',
      'test (GO=1.22)',
    ])
    expectGolden('plan-push.json', r.stdout)
  })

  it('gives the plan as a Mermaid flowchart (golden)', () => {
    const r = plan(['--format', 'mermaid', '--default-branch', 'main'], dir)
    expect(r.code).toBe(0)
    expect(r.stdout.startsWith('flowchart TB\n')).toBe(true)
    expectGolden('plan-push.mmd', r.stdout)
  })

  it('gives the plan as a Graphviz graph (golden), for a pull request', () => {
    const r = plan(['-f', 'dot', '--event', 'pull_request', '--default-branch', 'main'], dir)
    expect(r.code).toBe(0)
    expect(r.stdout.startsWith('digraph plan {\n')).toBe(true)
    expectGolden('plan-pull-request.dot', r.stdout)
  })

  it('plans a single file and --step as exec would', () => {
    const r = plan(['.woodpecker/build.yaml', '--step', 'build', '--format', 'json'], dir)
    expect(r.code).toBe(0)
    const [w] = JSON.parse(r.stdout).workflows
    expect(w.steps.map((s: {name: string; verdict: string}) => `${s.name}:${s.verdict}`)).toEqual([
      'lint:run',
      'unit:run',
      'docs:skip',
      'build:run',
      'release:skip',
      'notify:skip',
      'report:skip',
    ])
  })

  it('colours the tree only when asked (FORCE_COLOR), never JSON', () => {
    expect(plan(['.woodpecker/site.yaml'], dir).stdout).not.toMatch(/\u001b\[/)
    expect(plan(['.woodpecker/site.yaml'], dir, {FORCE_COLOR: '1', NO_COLOR: ''}).stdout).toMatch(/\u001b\[/)
    expect(plan(['.woodpecker/site.yaml', '--format', 'json'], dir, {FORCE_COLOR: '1'}).stdout).not.toMatch(/\u001b\[/)
  })

  it("says which platform: --platform, else labels.platform, else this machine's", () => {
    const bare = checkout({'.woodpecker.yml': 'steps:\n  a: {image: x, commands: [y]}\n'})
    expect(plan([], bare).stdout).toMatch(/^platform linux\/\w+ \(this machine's; exec uses the cluster nodes'\)$/m)
    expect(plan(['--platform', 'linux/s390x'], bare).stdout).toContain('platform linux/s390x (--platform)\n')
    expect(plan(['.woodpecker/site.yaml'], dir).stdout).toContain('platform linux/arm64 (labels.platform)\n')
  })
})

describe('wpk8s plan exit codes (as validate)', () => {
  it('exits 1 for an invalid pipeline, with the issues on stderr and nothing on stdout', () => {
    const dir = checkout({'.woodpecker.yml': 'steps:\n  build:\n    commands: [make]\n'})
    const r = plan([], dir)
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr).toContain('.woodpecker.yml:3:5 steps.build: the step `build` has no `image`')
    expect(plan(['--format', 'json'], dir).code).toBe(1)
  })

  it('exits 1 for what only a matrix row shows, and for a bad agent setting', () => {
    const dir = checkout({
      '.woodpecker.yml': 'matrix:\n  IMG: [alpine, "Bad Image"]\nsteps:\n  a:\n    image: ${IMG}\n    commands: [y]\n',
    })
    const r = plan([], dir)
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/image/i)
    const ok = checkout({'.woodpecker.yml': 'steps:\n  a: {image: x, commands: [y]}\n'})
    expect(plan(['--volume-size', '12x'], ok).code).toBe(1)
  })

  it('exits 1 for a file that cannot be a pipeline, as validate does', () => {
    const dir = checkout({'.woodpecker.yml': ''})
    expect(wpk8s(['validate'], {cwd: dir}).code).toBe(1)
    expect(plan([], dir).code).toBe(1)
  })

  it('exits 2 for usage errors: a missing file, no pipeline, an unknown format or flag, a bad event or --step', () => {
    const dir = checkout({'.woodpecker.yml': 'steps:\n  a: {image: x, commands: [y]}\n'})
    const empty = mkdtempSync(join(tmpdir(), 'wpk8s-plan-none-'))
    for (const [args, cwd, message] of [
      [['nope.yml'], dir, 'nope.yml: no such file or folder'],
      [[], empty, 'no pipeline found'],
      [['--format', 'svg'], dir, 'svg'],
      [['--frobnicate'], dir, 'frobnicate'],
      [['--event', 'pushed'], dir, '--event pushed: not a Woodpecker event'],
      [['--step', 'zzz'], dir, '--step zzz: no such step'],
      [['--platform', 'amd64'], dir, 'expected os/arch'],
    ] as [string[], string, string][]) {
      const r = plan(args, cwd)
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr).toContain(message)
    }
  })
})
