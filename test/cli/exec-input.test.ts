import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {wpk8s} from './cli.js'

/** Bad input to exec and clean is refused before any cluster is contacted (none is configured here). */
describe('exec and clean input', () => {
  const noCluster = {KUBECONFIG: '/nonexistent/kubeconfig'}

  it('refuses a malformed --env with exit 2', () => {
    const r = wpk8s(['exec', 'examples/hello.yml', '--dry-run', '--env', 'NOEQUALS'], {env: noCluster})
    expect(r.code).toBe(2)
    expect(r.stderr).toBe('wpk8s: --env NOEQUALS: expected KEY=VALUE\n')
  })

  it('refuses a missing from_secret value with exit 2 and the flag to pass, before reaching a cluster; --dry-run needs none', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'wpk8s-secret-')), 'p.yml')
    writeFileSync(file, 'steps:\n  a:\n    image: x\n    environment: {TOKEN: {from_secret: api_token}}\n')
    const r = wpk8s(['exec', file, '--platform', 'linux/amd64'], {env: noCluster})
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/TOKEN needs the secret `api_token`.*\n  hint: pass --secret api_token=VALUE/)
    expect(wpk8s(['exec', file, '--dry-run'], {env: noCluster}).code).toBe(0)
  })

  it('shows in --dry-run the deadline every pod gets from --timeout, as a run creates it', () => {
    const r = wpk8s(['exec', 'examples/hello.yml', '--dry-run', '--output', 'json', '--timeout', '600'], {
      env: noCluster,
    })
    expect(r.code).toBe(0)
    const pods = (
      JSON.parse(r.stdout) as {items: {kind: string; spec: {activeDeadlineSeconds?: number}}[]}
    ).items.filter((o) => o.kind === 'Pod')
    expect(pods.length).toBeGreaterThan(0)
    for (const pod of pods) expect(pod.spec.activeDeadlineSeconds).toBe(610)
  })

  it('refuses an invalid namespace for clean, naming the flag or variable', () => {
    const flag = wpk8s(['clean', '-n', 'Bad_NS'], {env: noCluster})
    expect(flag.code).toBe(2)
    expect(flag.stderr).toMatch(/--namespace: invalid value/)
    const env = wpk8s(['clean'], {
      env: {...noCluster, WOODPECKER_BACKEND_K8S_NAMESPACE: 'Bad_NS', WOODPECKER_BACKEND_K8S_VOLUME_SIZE: '1x'},
    })
    expect(env.code).toBe(2)
    expect(env.stderr).toMatch(/WOODPECKER_BACKEND_K8S_NAMESPACE: invalid value/)
    expect(env.stderr).not.toMatch(/VOLUME_SIZE/)
    const file = join(mkdtempSync(join(tmpdir(), 'wpk8s-agent-')), 'agent.env')
    writeFileSync(file, 'WOODPECKER_BACKEND_K8S_NAMESPACE=Bad_NS\n')
    const agent = wpk8s(['clean', '--agent-env', file], {env: noCluster})
    expect(agent.code).toBe(2)
    expect(agent.stderr).toContain(`${file}:1`)
  })

  it('refuses --older-than without a unit', () => {
    const r = wpk8s(['clean', '--older-than', '5'], {env: noCluster})
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/--older-than 5: expected a number and a unit/)
  })
})
