import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {configReport, formatConfig} from '../../src/app/config.js'
import {
  defaultBackendConfig,
  parseGoDuration,
  resolveBackendConfig,
  SETTING_NAMES,
  settingsForChecks,
} from '../../src/config.js'

const K = 'WOODPECKER_BACKEND_K8S_'

function agentFile(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'wpk8s-agent-')), 'agent.env')
  writeFileSync(path, text)
  return path
}

describe('resolveBackendConfig', () => {
  it("uses the v3.17/v3.18 agent's defaults", () => {
    const {config, issues} = resolveBackendConfig({}, {})
    expect(issues).toEqual([])
    expect(config).toEqual({
      namespace: 'woodpecker',
      volumeSize: '10G',
      storageRwx: true,
      podLabels: {},
      podLabelsAllowFromStep: false,
      podAnnotations: {},
      podAnnotationsAllowFromStep: false,
      podNodeSelector: {},
      podNodeSelectorAllowFromStep: false,
      podTolerations: [],
      podTolerationsAllowFromStep: true,
      podAffinityAllowFromStep: false,
      serviceAccountNameAllowFromStep: false,
      runtimeClassAllowFromStep: false,
      allowNativeSecrets: false,
      secctxNonRoot: false,
      pullSecretNames: [],
      stopTimeoutSeconds: 20,
    })
    expect(defaultBackendConfig()).toEqual(config)
  })

  it('knows all 24 settings of the agent', () => {
    expect(SETTING_NAMES).toHaveLength(24)
    expect(new Set(SETTING_NAMES).size).toBe(24)
  })

  it('reads WOODPECKER_BACKEND_K8S_* and lets flags win', () => {
    const env = {
      [`${K}VOLUME_SIZE`]: '1Gi',
      [`${K}STORAGE_RWX`]: 'false',
      [`${K}NAMESPACE`]: 'ci',
      [`${K}POD_LABELS`]: '{team: a}',
      [`${K}STORAGE_CLASS`]: 'fast',
    }
    expect(resolveBackendConfig({}, env).config).toMatchObject({
      namespace: 'ci',
      volumeSize: '1Gi',
      storageRwx: false,
      storageClass: 'fast',
      podLabels: {team: 'a'},
      podAnnotations: {},
    })
    const flagged = resolveBackendConfig({'volume-size': '2Gi', 'storage-rwx': true, namespace: 'mine'}, env).config
    expect(flagged).toMatchObject({volumeSize: '2Gi', storageRwx: true, namespace: 'mine'})
  })

  it("reads every kind of value with the agent's syntax", () => {
    const env = {
      [`${K}POD_NODE_SELECTOR`]: '{"topology.kubernetes.io/region": "eu-central-1"}',
      [`${K}POD_TOLERATIONS`]: '[{"effect":"NoSchedule","key":"jobs","operator":"Exists"}]',
      [`${K}POD_AFFINITY`]: 'podAffinity:\n  requiredDuringSchedulingIgnoredDuringExecution: []\n',
      [`${K}PULL_SECRET_NAMES`]: 'a,b , c',
      [`${K}PRIORITY_CLASS`]: 'ci-low',
      [`${K}SECCTX_NONROOT`]: 't',
      [`${K}POD_TOLERATIONS_ALLOW_FROM_STEP`]: 'FALSE',
      [`${K}ALLOW_NATIVE_SECRETS`]: '1',
      [`${K}STOP_TIMEOUT`]: '2m',
    }
    expect(resolveBackendConfig({}, env).config).toMatchObject({
      podNodeSelector: {'topology.kubernetes.io/region': 'eu-central-1'},
      podTolerations: [{effect: 'NoSchedule', key: 'jobs', operator: 'Exists'}],
      podAffinity: {podAffinity: {requiredDuringSchedulingIgnoredDuringExecution: []}},
      pullSecretNames: ['a', 'b', 'c'],
      priorityClass: 'ci-low',
      secctxNonRoot: true,
      podTolerationsAllowFromStep: false,
      allowNativeSecrets: true,
      stopTimeoutSeconds: 120,
    })
  })

  it('takes an agent env file, which the environment and flags beat, and says where each value came from', () => {
    const file = agentFile(
      `# the agent's env file\nWOODPECKER_SERVER=ci:9000\nexport ${K}NAMESPACE=from-file\n${K}PRIORITY_CLASS="file-class"\n${K}POD_LABELS_ALLOW_FROM_STEP=true\n${K}VOLUME_SIZE=3Gi\n`,
    )
    const {config, issues, settings} = resolveBackendConfig(
      {'agent-env': file, 'volume-size': '4Gi'},
      {[`${K}PRIORITY_CLASS`]: 'env-class'},
    )
    expect(issues).toEqual([])
    expect(config).toMatchObject({
      namespace: 'from-file',
      priorityClass: 'env-class',
      podLabelsAllowFromStep: true,
      volumeSize: '4Gi',
    })
    const source = (name: string) => settings.find((s) => s.name === K + name)!.source
    expect(source('NAMESPACE')).toEqual({kind: 'agent-env', where: `${file}:3`})
    expect(source('PRIORITY_CLASS')).toEqual({kind: 'environment', where: `${K}PRIORITY_CLASS`})
    expect(source('VOLUME_SIZE')).toEqual({kind: 'flag', where: '--volume-size'})
    expect(source('STORAGE_RWX')).toEqual({kind: 'default', where: 'default'})
  })

  it('sets any setting per run with --agent-setting, with or without the prefix; dedicated flags win', () => {
    const {config, issues} = resolveBackendConfig(
      {
        'agent-setting': ['POD_AFFINITY_ALLOW_FROM_STEP=true', `${K}PRIORITY_CLASS=a`, 'stop_timeout=5s'],
        'priority-class': 'b',
      },
      {},
    )
    expect(issues).toEqual([])
    expect(config).toMatchObject({podAffinityAllowFromStep: true, priorityClass: 'b', stopTimeoutSeconds: 5})
  })

  it('warns about unknown WOODPECKER_BACKEND_K8S_* variables with a "did you mean"', () => {
    const {issues, config} = resolveBackendConfig(
      {},
      {[`${K}POD_NODE_SELECTOR_ALLOW_FROM_STEPS`]: 'true', [`${K}NAMESPACE`]: 'x'},
    )
    expect(issues).toEqual([
      expect.objectContaining({
        severity: 'warning',
        code: 'agent-setting-unknown',
        file: `${K}POD_NODE_SELECTOR_ALLOW_FROM_STEPS`,
        hint: `did you mean \`${K}POD_NODE_SELECTOR_ALLOW_FROM_STEP\`?`,
      }),
    ])
    expect(config.podNodeSelectorAllowFromStep).toBe(false)
    const file = agentFile(`${K}PULL_SECRETS=regcred\n`)
    expect(resolveBackendConfig({'agent-env': file}, {}).issues).toEqual([
      expect.objectContaining({
        severity: 'warning',
        file: `${file}:1`,
        hint: `did you mean \`${K}PULL_SECRET_NAMES\`?`,
      }),
    ])
  })

  it('accepts the settings that make no sense locally, and names them as ignored', () => {
    const {issues, settings} = resolveBackendConfig(
      {},
      {
        [`${K}NAMESPACE_PER_ORGANIZATION`]: 'true',
        [`${K}CLUSTER_DOMAIN`]: 'k8s.example.io',
        [`${K}PERMISSION_INIT_IMAGE`]: 'busybox:1',
      },
    )
    expect(issues.map((i) => [i.severity, i.code, i.file])).toEqual([
      ['warning', 'agent-setting-ignored', `${K}NAMESPACE_PER_ORGANIZATION`],
      ['warning', 'agent-setting-ignored', `${K}CLUSTER_DOMAIN`],
      ['warning', 'agent-setting-ignored', `${K}PERMISSION_INIT_IMAGE`],
    ])
    expect(settings.filter((s) => !s.applied).map((s) => s.name)).toEqual([
      `${K}NAMESPACE_PER_ORGANIZATION`,
      `${K}CLUSTER_DOMAIN`,
      `${K}PERMISSION_INIT_IMAGE`,
    ])
  })

  it('hands warnings to onWarning and returns only errors', () => {
    const lines: string[] = []
    const {issues} = resolveBackendConfig({'volume-size': 'x'}, {[`${K}NAMSPACE`]: 'a'}, (line) => lines.push(line))
    expect(issues.map((i) => i.severity)).toEqual(['error'])
    expect(lines).toEqual([
      `warning ${K}NAMSPACE: unknown Woodpecker agent setting: ignored (did you mean \`${K}NAMESPACE\`?)\n`,
    ])
  })

  it.each([
    [{'volume-size': '10x'}, {}, '--volume-size', /positive Kubernetes quantity/],
    [{'volume-size': '0'}, {}, '--volume-size', /positive/],
    [{}, {[`${K}STORAGE_RWX`]: 'yes please'}, `${K}STORAGE_RWX`, /not a boolean/],
    [{}, {[`${K}POD_LABELS_ALLOW_FROM_STEP`]: 'yes'}, `${K}POD_LABELS_ALLOW_FROM_STEP`, /not a boolean/],
    [{'pod-labels': '[a, b]'}, {}, '--pod-labels', /not a YAML or JSON object/],
    [{'pod-labels': '{team: "a b"}'}, {}, '--pod-labels', /invalid entry `team`/],
    [{}, {[`${K}POD_ANNOTATIONS`]: '{"bad key": x}'}, `${K}POD_ANNOTATIONS`, /invalid entry/],
    [{'pod-node-selector': '{a: {b: c}}'}, {}, '--pod-node-selector', /must be a string/],
    [{'pod-tolerations': '{key: a}'}, {}, '--pod-tolerations', /list of tolerations/],
    [
      {},
      {[`${K}POD_TOLERATIONS`]: '[{key: a, operator: Equals}]'},
      `${K}POD_TOLERATIONS`,
      /operator must be Exists or Equal/,
    ],
    [
      {},
      {[`${K}POD_AFFINITY`]: '{nodeAfinity: {}}'},
      `${K}POD_AFFINITY`,
      /unknown key `nodeAfinity`.*nodeAffinity.*no affinity/,
    ],
    [{'pull-secret-names': 'good,Bad_Name'}, {}, '--pull-secret-names', /invalid entry `Bad_Name`/],
    [{'priority-class': 'Low!'}, {}, '--priority-class', /lower-case/],
    [{'stop-timeout': '20'}, {}, '--stop-timeout', /not a duration/],
    [{}, {[`${K}STOP_TIMEOUT`]: '-5s'}, `${K}STOP_TIMEOUT`, /negative/],
    [{namespace: 'My_NS'}, {}, '--namespace', /lower-case/],
    [{'storage-class': 'Fast!'}, {}, '--storage-class', /lower-case/],
    [{'allow-from-step': 'nodeselektor'}, {}, '--allow-from-step', /unknown step option/],
    [{'agent-setting': ['NO_SUCH=1']}, {}, '--agent-setting', /unknown agent setting/],
    [{'agent-setting': ['PRIORITY_CLASS']}, {}, '--agent-setting', /not NAME=VALUE/],
    [{'agent-env': '/no/such/agent.env'}, {}, '--agent-env', /cannot be read/],
  ])('rejects %j %j as an error naming %s', (flags, env, source, message) => {
    const {issues} = resolveBackendConfig(flags, env)
    expect(issues).toHaveLength(1)
    expect(issues[0]).toMatchObject({severity: 'error', file: source})
    expect(issues[0].message).toMatch(message)
  })

  it('names the file and line of a bad value in the agent env file', () => {
    const file = agentFile(`\n${K}STORAGE_RWX=maybe\n`)
    expect(resolveBackendConfig({'agent-env': file}, {}).issues).toEqual([
      expect.objectContaining({
        severity: 'error',
        file: `${file}:2`,
        message: 'not a boolean',
        hint: `for ${K}STORAGE_RWX`,
      }),
    ])
  })

  it('treats an empty variable as not set', () => {
    expect(resolveBackendConfig({}, {[`${K}NAMESPACE`]: ''}).config.namespace).toBe('woodpecker')
  })

  it('keeps the last resolved settings for the step checks', () => {
    resolveBackendConfig({'allow-from-step': 'all'}, {})
    expect(settingsForChecks().serviceAccountNameAllowFromStep).toBe(true)
    resolveBackendConfig({}, {})
    expect(settingsForChecks().serviceAccountNameAllowFromStep).toBe(false)
  })
})

describe('parseGoDuration', () => {
  it.each([
    ['20s', 20],
    ['1m30s', 90],
    ['1h', 3600],
    ['500ms', 0.5],
    ['1.5s', 1.5],
    ['0', 0],
    ['-2s', -2],
  ])('%s = %d s', (text, seconds) => expect(parseGoDuration(text)).toBeCloseTo(seconds))
  it.each(['20', '', 's', '1 s', '1d', '1m30'])('rejects %j', (text) => expect(parseGoDuration(text)).toBeUndefined())
})

describe('wpk8s config', () => {
  it('reports every setting with its value and source, and the step options taken or dropped', () => {
    const report = configReport({'allow-from-step': 'nodeSelector'}, {[`${K}PRIORITY_CLASS`]: 'low'})
    expect(report.valid).toBe(true)
    expect(report.settings).toHaveLength(24)
    expect(report.settings.find((s) => s.name === `${K}PRIORITY_CLASS`)).toMatchObject({
      value: 'low',
      source: 'environment',
      applied: true,
    })
    expect(report.settings.find((s) => s.name === `${K}POD_NODE_SELECTOR_ALLOW_FROM_STEP`)).toMatchObject({
      value: 'true',
      source: 'flag',
      from: '--allow-from-step',
    })
    expect(report.settings.find((s) => s.name === `${K}CLUSTER_DOMAIN`)).toMatchObject({
      value: 'cluster.local',
      source: 'default',
      applied: false,
    })
    expect(report.stepOptions).toEqual({
      allowed: ['nodeSelector', 'tolerations'],
      dropped: ['labels', 'annotations', 'affinity', 'serviceAccountName', 'runtimeClassName', 'secrets'],
    })
    const text = formatConfig(report)
    expect(text).toMatch(new RegExp(`^${K}PRIORITY_CLASS +low +environment$`, 'm'))
    expect(text).toMatch(new RegExp(`^${K}STOP_TIMEOUT +20s +default$`, 'm'))
    expect(text).toMatch(new RegExp(`^${K}CLUSTER_DOMAIN +cluster.local +default \\(ignored by wpk8s\\)$`, 'm'))
    expect(text).toContain('step options taken from steps: nodeSelector, tolerations')
  })

  it('is invalid when a value is', () => {
    const report = configReport({}, {[`${K}STOP_TIMEOUT`]: 'soon'})
    expect(report.valid).toBe(false)
    expect(formatConfig(report)).toContain(`error ${K}STOP_TIMEOUT: not a duration`)
  })
})
