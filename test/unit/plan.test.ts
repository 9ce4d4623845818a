import {execFileSync, spawnSync} from 'node:child_process'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {stringify} from 'yaml'
import {describe, expect, it} from 'vitest'
import {resolveBackendConfig} from '../../src/config.js'
import {objectName, toDnsLabel} from '../../src/compile/names.js'
import {planRun} from '../../src/compile/plan.js'
import {externalReferences} from '../../src/compile/references.js'
import {canCreateAhead, gatedPod, gateRelease} from '../../src/compile/pod.js'
import {commandsScript, SCRIPT_COMMAND, shellQuote} from '../../src/compile/script.js'
import type {RunMetadata} from '../../src/pipeline/metadata.js'
import {toWorkflow} from '../../src/pipeline/normalize.js'
import {parsePipelineText} from '../../src/pipeline/parse.js'
import {expectGolden} from '../cli/golden.js'

const metadata: RunMetadata = {
  root: '/src/app',
  repoOwner: 'octo',
  repoName: 'app',
  repoUrl: 'https://git.example.com/octo/app.git',
  sha: 'abc123',
  branch: 'main',
  ref: 'refs/heads/main',
  message: 'Fix the build',
  author: 'Octo Cat',
  authorEmail: 'octo@example.com',
  event: 'push',
  tag: '',
  changedFiles: ['src/a.go'],
  started: 1700000000,
}

function plan(text: string, env: NodeJS.ProcessEnv = {}, secrets: Record<string, string> = {}) {
  const data = parsePipelineText('p.yml', text).data as Record<string, unknown>
  const workflow = toWorkflow('ci', 'p.yml', data)
  return planRun({
    workflow,
    config: resolveBackendConfig({}, env).config,
    metadata,
    runId: 'r1a2b3',
    arch: 'amd64',
    extraEnv: {EXTRA: 'x'},
    secrets,
    shipToken: 'test-token',
  })
}

const SEED = `steps:
  build:
    image: golang:1.22
    directory: cmd/app
    commands:
      - go version
      - echo "it's done"
    environment: {GOFLAGS: -mod=readonly}
    backend_options:
      kubernetes:
        serviceAccountName: builder
        resources: {requests: {memory: 256Mi, cpu: 500m}, limits: {memory: 1Gi, cpu: 2}}
        nodeSelector: {kubernetes.io/os: linux, kubernetes.io/arch: arm64}
        tolerations: [{key: ci, operator: Exists, effect: NoSchedule}]
        securityContext: {runAsUser: 1000, privileged: false, capabilities: {drop: [ALL]}}
        labels: {team: platform}
        annotations: {note: seed}
        secrets: [{name: aws, key: credentials, target: {file: /root/.aws/credentials}}, {name: token, key: value, target: {env: TOKEN}}]
  publish:
    image: plugins/docker
    settings: {repo: octo/app, tags: [latest, "1.0"], build_args: {A: 1}}
`

describe('planRun', () => {
  it('compiles the seed example into a claim and pods (golden)', () => {
    const p = plan(SEED, {
      WOODPECKER_BACKEND_K8S_POD_LABELS: '{tier: ci}',
      WOODPECKER_BACKEND_K8S_STORAGE_RWX: 'false',
      WOODPECKER_BACKEND_K8S_VOLUME_SIZE: '5Gi',
    })
    const yaml = [p.pvc, p.helperPod, ...p.steps.map((s) => s.pod)]
      .map((o) => stringify(o, {lineWidth: 0}))
      .join('---\n')
    expectGolden('plan-seed.yaml', yaml)
  })

  it('lets the step override the platform architecture, as Woodpecker merges node selectors', () => {
    expect(
      plan(SEED, {WOODPECKER_BACKEND_K8S_POD_NODE_SELECTOR_ALLOW_FROM_STEP: 'true'}).steps[0].pod.spec!.nodeSelector,
    ).toEqual({'kubernetes.io/arch': 'arm64', 'kubernetes.io/os': 'linux'})
    expect(plan(SEED).steps[0].pod.spec!.nodeSelector).toEqual({'kubernetes.io/arch': 'amd64'})
    expect(plan('steps:\n  a: {image: x}\n').steps[0].pod.spec!.nodeSelector).toEqual({'kubernetes.io/arch': 'amd64'})
  })

  it('sets fsGroup 1000 unless the step sets one', () => {
    expect(plan('steps:\n  a: {image: x}\n').steps[0].pod.spec!.securityContext).toEqual({fsGroup: 1000})
    expect(
      plan('steps:\n  a: {image: x, backend_options: {kubernetes: {securityContext: {fsGroup: 2000}}}}\n').steps[0].pod
        .spec!.securityContext,
    ).toEqual({fsGroup: 2000})
  })

  it('uses Woodpecker defaults for the claim: ReadWriteMany, 10G, no class', () => {
    expect(plan('steps:\n  a: {image: x}\n').pvc.spec).toEqual({
      accessModes: ['ReadWriteMany'],
      resources: {requests: {storage: '10G'}},
    })
  })

  it('runs plugins as their image, without a command', () => {
    const pod = plan(SEED).steps[1].pod
    expect(pod.spec!.containers[0].command).toBeUndefined()
    const env = Object.fromEntries(pod.spec!.containers[0].env!.map((e) => [e.name, e.value]))
    expect(env).toMatchObject({PLUGIN_REPO: 'octo/app', PLUGIN_TAGS: 'latest,1.0', PLUGIN_BUILD_ARGS: '{"A":1}'})
    expect(env.CI_SCRIPT).toBeUndefined()
  })
})

describe('names', () => {
  it('makes readable, valid, collision-free object names', () => {
    expect(objectName('r1a2b3', 'build')).toBe('wp-r1a2b3-build')
    const odd = objectName('r1a2b3', 'Build Container!')
    expect(odd).toMatch(/^wp-r1a2b3-build-container-[0-9a-f]{6}$/)
    expect(objectName('r1a2b3', 'Build  Container')).not.toBe(odd)
    const long = objectName('r1a2b3', 'x'.repeat(100))
    expect(long.length).toBeLessThanOrEqual(63)
    expect(long).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
    expect(toDnsLabel('$(rm -rf /)')).toMatch(/^rm-rf-[0-9a-f]{6}$/)
  })
})

describe('commandsScript', () => {
  it('echoes each command quoted, then runs it, in the working directory', () => {
    expect(commandsScript(['echo "hi"', "it's"], '/woodpecker/src')).toBe(
      "mkdir -p '/woodpecker/src'\ncd '/woodpecker/src'\necho '+ echo \"hi\"'\necho \"hi\"\necho '+ it'\\''s'\nit's\n",
    )
    expect(shellQuote("a'b")).toBe("'a'\\''b'")
  })
})

describe('externalReferences', () => {
  it("lists the ServiceAccounts and Secrets the pods need, by the steps that may run, without the run's own Secret", () => {
    const refs = externalReferences(
      plan(
        `services:
  db:
    image: mysql
    backend_options: {kubernetes: {serviceAccountName: db-sa}}
steps:
  a:
    image: x
    environment: {TOKEN: {from_secret: token}}
    backend_options:
      kubernetes:
        serviceAccountName: builder
        secrets: [{name: aws, key: k, target: {file: /root/k}}, {name: token, key: v, target: {env: T}}]
  b:
    image: x
    backend_options: {kubernetes: {serviceAccountName: builder, secrets: [{name: aws, key: k, target: {env: K}}]}}
  deploy:
    image: x
    when: {branch: release}
    backend_options: {kubernetes: {serviceAccountName: deployer}}
  notify:
    image: x
    when: {status: failure}
    backend_options: {kubernetes: {serviceAccountName: notifier}}
`,
        {
          WOODPECKER_BACKEND_K8S_SERVICE_ACCOUNT_NAME_ALLOW_FROM_STEP: 'true',
          WOODPECKER_BACKEND_K8S_ALLOW_NATIVE_SECRETS: 'true',
        },
        {token: 'secret-value'},
      ),
    )
    expect(refs).toEqual([
      {kind: 'ServiceAccount', name: 'db-sa', steps: ['db']},
      {kind: 'ServiceAccount', name: 'builder', steps: ['a', 'b']},
      {kind: 'Secret', name: 'token', steps: ['a']},
      {kind: 'Secret', name: 'aws', steps: ['a', 'b']},
      {kind: 'ServiceAccount', name: 'notifier', steps: ['notify']},
    ])
  })
})

describe('pods created ahead of their turn', () => {
  const seed = plan(
    'steps:\n  build:\n    image: golang\n    commands: [go build]\n  publish:\n    image: plugins/docker\n    settings: {repo: r}\n  heavy:\n    image: golang\n    commands: [go test]\n    backend_options: {kubernetes: {resources: {limits: {memory: 1Gi}}}}\n',
  )
  const [build, publish, heavy] = seed.steps

  it('only for commands steps, whose script wpk8s controls, that reserve no resources', () => {
    expect(canCreateAhead(build.pod)).toBe(true)
    expect(canCreateAhead(publish.pod)).toBe(false)
    expect(canCreateAhead(heavy.pod)).toBe(false)
  })

  it("waits at a gate in a small in-memory volume, then runs the same script, which ends with the run's end mark", () => {
    const gated = gatedPod(build.pod)
    const container = gated.spec!.containers[0]
    expect(container.command).toEqual([
      '/bin/sh',
      '-c',
      `until [ -e /wpk8s-gate/go ]; do sleep 0.05 2>/dev/null || sleep 1; done; . /wpk8s-gate/env; ${SCRIPT_COMMAND[2]}`,
    ])
    expect(SCRIPT_COMMAND[2]).toBe(
      'unset wpk8s_nonce; { read -r wpk8s_nonce </proc/sys/kernel/random/uuid; } 2>/dev/null; echo "$WPK8S_END$wpk8s_nonce"; echo "$WPK8S_END$wpk8s_nonce" >&2; echo $CI_SCRIPT | base64 -d | /bin/sh -e; rc=$?; echo "$WPK8S_END$wpk8s_nonce:$rc"; exit $rc',
    )
    expect(container.env).toContainEqual({name: 'WPK8S_END', value: '::wpk8s-end-r1a2b3::'})
    expect(container.volumeMounts!.at(-1)).toEqual({name: 'wpk8s-gate', mountPath: '/wpk8s-gate'})
    expect(gated.spec!.volumes!.at(-1)).toEqual({name: 'wpk8s-gate', emptyDir: {medium: 'Memory', sizeLimit: '1Mi'}})
    expect(build.pod.spec!.containers[0].command).toEqual(SCRIPT_COMMAND)
  })

  it('is released by a command that writes the values, then the gate; the script then prints the mark and keeps the exit code', () => {
    const release = gateRelease({pipelineStatus: 'failure', startedAt: 1700000123, hostAliases: []})
    expect(release.at(-1)).toBe("export CI_PIPELINE_STATUS='failure' CI_STEP_STARTED='1700000123'\n")
    const dir = mkdtempSync(join(tmpdir(), 'gate-'))
    execFileSync('/bin/sh', ['-c', release[2].replaceAll('/wpk8s-gate', dir), ...release.slice(3)])
    // Sent again (after a dropped connection), the release leaves the values as they were.
    const again = gateRelease({pipelineStatus: 'success', startedAt: 1700000999, hostAliases: []})
    execFileSync('/bin/sh', ['-c', again[2].replaceAll('/wpk8s-gate', dir), ...again.slice(3)])
    const gated = gatedPod(build.pod).spec!.containers[0].command![2].replaceAll('/wpk8s-gate', dir)
    const script = Buffer.from('echo "$CI_PIPELINE_STATUS $CI_STEP_STARTED"\nexit 3\n').toString('base64')
    const run = spawnSync('/bin/sh', ['-c', gated], {
      env: {PATH: process.env.PATH, CI_SCRIPT: script, WPK8S_END: '::end::'},
      encoding: 'utf8',
    })
    expect(run.stdout).toMatch(/^::end::([0-9a-f-]{36})\nfailure 1700000123\n::end::\1:3\n$/)
    expect(run.status).toBe(3)
  })
})
