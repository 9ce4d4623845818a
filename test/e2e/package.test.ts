import {execFileSync, spawnSync} from 'node:child_process'
import {mkdtempSync, readdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {pipelineRepo, ROOT} from './kube.js'

// The package as users get it: packed, installed into an empty prefix with its runtime dependencies only.
const work = mkdtempSync(join(tmpdir(), 'wpk8s-package-'))
const prefix = join(work, 'prefix')
let tarball = ''

const npm = (args: string[], cwd = work) =>
  execFileSync('npm', args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {...process.env, npm_config_audit: 'false', npm_config_fund: 'false'},
  })
const installed = (args: string[], cwd = work) =>
  spawnSync(join(prefix, 'bin', 'wpk8s'), args, {
    cwd,
    encoding: 'utf8',
    env: {...process.env, KUBECONFIG: join(work, 'none')},
  })

beforeAll(() => {
  npm(['pack', '--ignore-scripts', '--pack-destination', work], ROOT)
  tarball = join(
    work,
    readdirSync(work).find((f) => f.endsWith('.tgz'))!,
  )
  npm(['install', '--global', '--prefix', prefix, tarball])
}, 180_000)

describe('installed from the packed tarball', () => {
  it('prints its version as oclif does', () => {
    const r = installed(['--version'])
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/^wpk8s\/\d+\.\d+\.\d+ \S+ node-v\d+/)
  })

  it("validates and plans a pipeline without the project's own node_modules", () => {
    const repo = pipelineRepo('steps:\n  hello:\n    image: busybox:1.35\n    commands: [echo hi]\n')
    const valid = installed(['validate'], repo)
    expect(valid.status, valid.stderr).toBe(0)
    const plan = installed(['exec', '--dry-run', '--output', 'json'], repo)
    expect(plan.status, plan.stderr).toBe(0)
    expect((JSON.parse(plan.stdout) as {items: {kind: string}[]}).items.map((o) => o.kind)).toEqual([
      'PersistentVolumeClaim',
      'Pod',
    ])
  })

  it('offers shell completion', () => {
    const r = installed(['autocomplete', 'bash'])
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/wpk8s/i)
  })

  it('runs through npx from the tarball', () => {
    const r = spawnSync('npm', ['exec', '--yes', `--package=${tarball}`, '--', 'wpk8s', '--version'], {
      cwd: work,
      encoding: 'utf8',
    })
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^wpk8s\//)
  }, 120_000)
})
