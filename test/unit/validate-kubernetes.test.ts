import {describe, expect, it} from 'vitest'
import {type BackendConfig, type CodedIssue, defaultBackendConfig, resolveBackendConfig} from '../../src/config.js'
import {parsePipelineText} from '../../src/pipeline/parse.js'
import {IssueCollector} from '../../src/validate/issue.js'
import {ipAddress, parseQuantity, weakBool, weakInt, weakString} from '../../src/validate/kube-rules.js'
import {checkStepForKubernetes} from '../../src/validate/kubernetes.js'
import {errorsOf, issuesOf, withKubernetes} from './helpers.js'

const K = 'steps.build.backend_options.kubernetes'

/** [rule, invalid options, expected path under K, message pattern, valid options] */
const cases: [string, string, string, RegExp, string][] = [
  ['unknown option key', 'nodeselector: {a: b}', 'nodeselector', /unknown key.*/, 'nodeSelector: {a: b}'],
  [
    'malformed quantity',
    'resources: {requests: {memory: 12x}}',
    'resources.requests.memory',
    /not a Kubernetes quantity/,
    'resources: {requests: {memory: 128Mi}}',
  ],
  [
    'negative quantity',
    'resources: {limits: {memory: -1Gi}}',
    'resources.limits.memory',
    /negative/,
    'resources: {limits: {memory: 1Gi}}',
  ],
  [
    'request above limit',
    'resources: {requests: {cpu: 2}, limits: {cpu: 1000m}}',
    'resources.requests.cpu',
    /above the limit/,
    'resources: {requests: {cpu: 500m}, limits: {cpu: 1000m}}',
  ],
  [
    'resource name',
    'resources: {limits: {"nvidia.com/": 1}}',
    'resources.limits."nvidia.com/"',
    /invalid resource name/,
    'resources: {limits: {nvidia.com/gpu: 1}}',
  ],
  [
    'unknown resources key',
    'resources: {request: {cpu: 1}}',
    'resources.request',
    /unknown key/,
    'resources: {requests: {cpu: 1}}',
  ],
  [
    'serviceAccountName',
    'serviceAccountName: Builder_SA',
    'serviceAccountName',
    /lower-case/,
    'serviceAccountName: builder',
  ],
  ['runtimeClassName', 'runtimeClassName: "-gvisor"', 'runtimeClassName', /lower-case/, 'runtimeClassName: gvisor'],
  [
    'nodeSelector key',
    'nodeSelector: {"bad key": x}',
    'nodeSelector."bad key"',
    /invalid key/,
    'nodeSelector: {kubernetes.io/arch: arm64}',
  ],
  [
    'nodeSelector value length',
    `nodeSelector: {a: ${'v'.repeat(64)}}`,
    'nodeSelector.a',
    /longer than 63/,
    'nodeSelector: {a: v}',
  ],
  [
    'nodeSelector value type',
    'nodeSelector: {a: {b: c}}',
    'nodeSelector.a',
    /must be a string/,
    'nodeSelector: {a: "1"}',
  ],
  [
    'label prefix',
    'labels: {"Example.com/team": x}',
    'labels."Example.com/team"',
    /prefix/,
    'labels: {example.com/team: x}',
  ],
  ['label value', 'labels: {team: "a b"}', 'labels.team', /invalid value/, 'labels: {team: a-b}'],
  [
    'annotation key',
    'annotations: {"/x": y}',
    'annotations."/x"',
    /prefix before/,
    'annotations: {example.com/note: "any text at all"}',
  ],
  [
    'toleration operator',
    'tolerations: [{key: a, operator: Equals, value: b}]',
    'tolerations[0].operator',
    /Exists, Equal/,
    'tolerations: [{key: a, operator: Equal, value: b}]',
  ],
  [
    'toleration effect',
    'tolerations: [{key: a, value: b, effect: NoSchedul}]',
    'tolerations[0].effect',
    /NoSchedule, PreferNoSchedule, NoExecute/,
    'tolerations: [{key: a, value: b, effect: NoSchedule}]',
  ],
  [
    'Exists with a value',
    'tolerations: [{key: a, operator: Exists, value: b}]',
    'tolerations[0].value',
    /must not have a value/,
    'tolerations: [{key: a, operator: Exists}]',
  ],
  [
    'Equal without key',
    'tolerations: [{operator: Equal, value: b}]',
    'tolerations[0]',
    /without a key must use operator Exists/,
    'tolerations: [{operator: Exists}]',
  ],
  ['tolerations not a list', 'tolerations: {key: a}', 'tolerations', /list/, 'tolerations: []'],
  [
    'securityContext boolean',
    'securityContext: {privileged: "yes"}',
    'securityContext.privileged',
    /true or false/,
    'securityContext: {privileged: "true"}',
  ],
  [
    'securityContext id',
    'securityContext: {runAsUser: -1}',
    'securityContext.runAsUser',
    /whole number/,
    'securityContext: {runAsUser: 1000}',
  ],
  [
    'securityContext quoted id',
    'securityContext: {runAsUser: "10o0"}',
    'securityContext.runAsUser',
    /whole number/,
    'securityContext: {runAsUser: "1000"}',
  ],
  [
    'fsGroupChangePolicy',
    'securityContext: {fsGroupChangePolicy: Sometimes}',
    'securityContext.fsGroupChangePolicy',
    /OnRootMismatch, Always/,
    'securityContext: {fsGroupChangePolicy: OnRootMismatch}',
  ],
  [
    'seccomp Localhost without profile',
    'securityContext: {seccompProfile: {type: Localhost}}',
    'securityContext.seccompProfile.localhostProfile',
    /needs `localhostProfile`/,
    'securityContext: {seccompProfile: {type: Localhost, localhostProfile: p.json}}',
  ],
  [
    'capabilities',
    'securityContext: {capabilities: {drop: {all: true}}}',
    'securityContext.capabilities.drop',
    /list of capability names/,
    'securityContext: {capabilities: {drop: ALL}}',
  ],
  [
    'unknown securityContext key',
    'securityContext: {runAsUsr: 1}',
    'securityContext.runAsUsr',
    /unknown key/,
    'securityContext: {runAsUser: 1}',
  ],
  [
    'secret without name',
    'secrets: [{key: k, target: {env: K}}]',
    'secrets[0]',
    /needs `name`/,
    'secrets: [{name: s, key: k, target: {env: K}}]',
  ],
  [
    'secret file target relative',
    'secrets: [{name: s, key: k, target: {file: creds}}]',
    'secrets[0].target.file',
    /absolute/,
    'secrets: [{name: s, key: k, target: {file: /root/creds}}]',
  ],
  [
    'secret env target without key',
    'secrets: [{name: s, target: {env: A}}]',
    'secrets[0].target',
    /needs `key`/,
    'secrets: [{name: s, key: k, target: {env: A}}]',
  ],
  [
    'secret key that is no variable name',
    'secrets: [{name: s, key: 1password}]',
    'secrets[0].key',
    /not a valid variable name/,
    'secrets: [{name: s, key: password}]',
  ],
  [
    'two files from one secret',
    'secrets: [{name: s, key: a, target: {file: /a}}, {name: s, key: b, target: {file: /b}}]',
    'secrets[1]',
    /second file from Secret `s`/,
    'secrets: [{name: s, target: {file: /s}}, {name: s, key: b, target: {env: B}}]',
  ],
  [
    'secret target with both',
    'secrets: [{name: s, key: k, target: {env: A, file: /a}}]',
    'secrets[0].target',
    /one of `env` or `file`/,
    'secrets: [{name: s, target: {file: /a}}]',
  ],
  ['hostUsers type', 'hostUsers: no', 'hostUsers', /true or false/, 'hostUsers: false'],
  [
    'affinity key',
    'affinity: {nodeAffinty: {}}',
    'affinity.nodeAffinty',
    /unknown key/,
    'affinity: {nodeAffinity: {}}',
  ],
]

describe('backend_options.kubernetes rules', () => {
  for (const [rule, bad, path, message, good] of cases) {
    it(`${rule}: rejects the bad form and accepts the good one`, () => {
      const errors = errorsOf(withKubernetes(bad))
      expect(errors.map((e) => `${e.path}: ${e.message}`)).toContainEqual(
        expect.stringMatching(new RegExp(`^${`${K}.${path}`.replace(/[.[\]$/]/g, '\\$&')}: .*${message.source}`)),
      )
      expect(errorsOf(withKubernetes(good))).toEqual([])
    })
  }

  it('reports expected and found for a bad quantity, at the value', () => {
    const [issue] = errorsOf(withKubernetes('resources:\n  requests:\n    memory: 12x'))
    expect(issue).toMatchObject({line: 9, col: 21, found: '"12x"', expected: expect.stringContaining('128Mi')})
  })

  it('warns, not fails, on tolerationSeconds with a non-NoExecute effect: Woodpecker takes the file, Kubernetes refuses the pod', () => {
    const issues = issuesOf(
      withKubernetes('tolerations: [{key: a, value: b, effect: NoSchedule, tolerationSeconds: 10}]'),
    ) as CodedIssue[]
    expect(issues.map((i) => `${i.severity} ${i.code}`)).toEqual(['warning step-fails-on-kubernetes'])
    expect(
      issuesOf(withKubernetes('tolerations: [{key: a, value: b, effect: NoExecute, tolerationSeconds: "10"}]')),
    ).toEqual([])
  })

  it('ignores other backends options', () => {
    expect(
      issuesOf('steps:\n  a:\n    image: x\n    backend_options: {docker: {user: "1:1"}, custom: {x: [1]}}\n'),
    ).toEqual([])
  })
})

describe('parseQuantity', () => {
  it.each([
    ['128Mi', 128 * 2 ** 20],
    ['1000m', 1],
    ['1.5', 1.5],
    ['2e3', 2000],
    ['1k', 1000],
    ['1Gi', 2 ** 30],
    ['.5', 0.5],
    ['10G', 1e10],
    ['+1', 1],
    ['-1Gi', -(2 ** 30)],
  ])('%s = %d', (text, value) => expect(parseQuantity(text)).toBeCloseTo(value))

  it.each(['12x', '', 'Mi', '1 Gi', '1.2.3', 'one', '1MiB', ' 1'])('rejects %j', (text) =>
    expect(parseQuantity(text)).toBeUndefined(),
  )
})

/** The issues of the first step (or service) of a pipeline, checked as the agent with `settings` would take it. */
function stepIssues(
  text: string,
  settings: BackendConfig = defaultBackendConfig(),
  kind: 'step' | 'service' = 'step',
): CodedIssue[] {
  const source = parsePipelineText('p.yml', text)
  const section = kind === 'step' ? 'steps' : 'services'
  const [name, step] = Object.entries(
    (source.data as Record<string, Record<string, Record<string, unknown>>>)[section],
  )[0]
  const c = new IssueCollector(source)
  checkStepForKubernetes(c, [section, name], step, kind, settings)
  return c.issues
}

const step = (lines: string) =>
  `steps:\n  build:\n    image: golang\n${lines
    .trim()
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n')}\n`
const summary = (issues: CodedIssue[]) =>
  issues.map((i) => `${i.severity} ${i.line}:${i.col} ${i.path} [${i.code ?? ''}] ${i.message}`)

describe('step options the agent drops by its settings', () => {
  const options = `backend_options:
  kubernetes:
    labels: {team: a}
    annotations: {note: b}
    nodeSelector: {disk: ssd}
    tolerations: [{key: ci, operator: Exists}]
    affinity: {nodeAffinity: {}}
    serviceAccountName: builder
    runtimeClassName: gvisor
    secrets: [{name: token}]`

  it("warns at each option's line what is dropped and which setting would allow it (Woodpecker's defaults)", () => {
    const issues = stepIssues(step(options))
    expect(summary(issues)).toEqual([
      'warning 6:9 steps.build.backend_options.kubernetes.labels [step-option-dropped] `labels` is dropped: the agent takes it from steps only with WOODPECKER_BACKEND_K8S_POD_LABELS_ALLOW_FROM_STEP=true',
      'warning 7:9 steps.build.backend_options.kubernetes.annotations [step-option-dropped] `annotations` is dropped: the agent takes it from steps only with WOODPECKER_BACKEND_K8S_POD_ANNOTATIONS_ALLOW_FROM_STEP=true',
      'warning 8:9 steps.build.backend_options.kubernetes.nodeSelector [step-option-dropped] `nodeSelector` is dropped: the agent takes it from steps only with WOODPECKER_BACKEND_K8S_POD_NODE_SELECTOR_ALLOW_FROM_STEP=true',
      'warning 10:9 steps.build.backend_options.kubernetes.affinity [step-option-dropped] `affinity` is dropped: the agent takes it from steps only with WOODPECKER_BACKEND_K8S_POD_AFFINITY_ALLOW_FROM_STEP=true',
      'warning 11:9 steps.build.backend_options.kubernetes.serviceAccountName [step-option-dropped] `serviceAccountName` is dropped: the agent takes it from steps only with WOODPECKER_BACKEND_K8S_SERVICE_ACCOUNT_NAME_ALLOW_FROM_STEP=true',
      'warning 12:9 steps.build.backend_options.kubernetes.runtimeClassName [step-option-dropped] `runtimeClassName` is dropped: the agent takes it from steps only with WOODPECKER_BACKEND_K8S_RUNTIME_CLASS_ALLOW_FROM_STEP=true',
      'warning 13:9 steps.build.backend_options.kubernetes.secrets [step-option-dropped] `secrets` is dropped: the agent takes it from steps only with WOODPECKER_BACKEND_K8S_ALLOW_NATIVE_SECRETS=true',
    ])
    expect(issues[0].hint).toBe(
      'set WOODPECKER_BACKEND_K8S_POD_LABELS_ALLOW_FROM_STEP=true on your agent (for one run: --allow-from-step labels)',
    )
  })

  it('warns about nothing the settings allow, and about tolerations once they are not allowed', () => {
    expect(stepIssues(step(options), resolveBackendConfig({'allow-from-step': 'all'}, {}).config)).toEqual([])
    const closed = resolveBackendConfig(
      {},
      {
        WOODPECKER_BACKEND_K8S_POD_TOLERATIONS_ALLOW_FROM_STEP: 'false',
        WOODPECKER_BACKEND_K8S_POD_LABELS_ALLOW_FROM_STEP: 'true',
      },
    ).config
    expect(stepIssues(step(options), closed).map((i) => i.path.split('.').at(-1))).toEqual([
      'annotations',
      'nodeSelector',
      'tolerations',
      'affinity',
      'serviceAccountName',
      'runtimeClassName',
      'secrets',
    ])
  })

  it('uses the settings resolved last in the process when none are given (validate and exec resolve theirs first)', () => {
    resolveBackendConfig({'allow-from-step': 'serviceAccountName'}, {})
    expect(issuesOf(withKubernetes('serviceAccountName: builder'))).toEqual([])
    resolveBackendConfig({}, {})
    expect(issuesOf(withKubernetes('serviceAccountName: builder')).map((i) => (i as CodedIssue).code)).toEqual([
      'step-option-dropped',
    ])
  })
})

describe('securityContext as the agent applies it', () => {
  const sc = (fields: string, extra = '') =>
    step(`${extra}backend_options: {kubernetes: {securityContext: {${fields}}}}`)
  const open = resolveBackendConfig({'allow-from-step': 'all'}, {}).config

  it('warns that privileged in backend options alone does nothing, unless the step is privileged', () => {
    expect(summary(stepIssues(sc('privileged: true'), open))).toEqual([
      "warning 4:54 steps.build.backend_options.kubernetes.securityContext.privileged [step-option-ignored] `privileged: true` here does not make the container privileged: only the step's own `privileged: true` does",
    ])
    expect(stepIssues(sc('privileged: true', 'privileged: true\n'), open)).toEqual([])
  })

  it('warns that allowPrivilegeEscalation: true and capabilities.add are ignored', () => {
    expect(
      stepIssues(sc('allowPrivilegeEscalation: true, capabilities: {add: [NET_ADMIN], drop: [ALL]}'), open).map(
        (i) => `${i.code} ${i.path}`,
      ),
    ).toEqual([
      'step-option-ignored steps.build.backend_options.kubernetes.securityContext.capabilities.add',
      'step-option-ignored steps.build.backend_options.kubernetes.securityContext.allowPrivilegeEscalation',
    ])
    expect(stepIssues(sc('allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}'), open)).toEqual([])
  })

  it('refuses a privileged step that forbids privilege escalation (Kubernetes refuses the pod)', () => {
    expect(
      stepIssues(sc('allowPrivilegeEscalation: false', 'privileged: true\n'), open).map(
        (i) => `${i.severity} ${i.message}`,
      ),
    ).toEqual(['error a privileged container always allows privilege escalation: Kubernetes refuses the pod'])
  })

  it('warns that UID/GID 0 are dropped, except for privileged steps or hostUsers: false', () => {
    expect(
      stepIssues(sc('runAsUser: 0, runAsGroup: "0", fsGroup: 0'), open).map(
        (i) => `${i.severity} ${i.path.split('.').at(-1)} ${i.code}`,
      ),
    ).toEqual([
      'warning runAsUser step-option-ignored',
      'warning runAsGroup step-option-ignored',
      'warning fsGroup step-option-ignored',
    ])
    expect(stepIssues(sc('runAsUser: 0', 'privileged: true\n'), open)).toEqual([])
    expect(
      stepIssues(step('backend_options: {kubernetes: {hostUsers: "false", securityContext: {runAsUser: 0}}}'), open),
    ).toEqual([])
    expect(stepIssues(sc('runAsNonRoot: true, runAsUser: 0'), open).map((i) => i.severity)).toEqual(['warning'])
  })

  it('refuses root with runAsNonRoot: true where root IDs apply (the container cannot start)', () => {
    expect(
      stepIssues(
        step('backend_options: {kubernetes: {hostUsers: false, securityContext: {runAsNonRoot: true, runAsUser: 0}}}'),
        open,
      ).map((i) => `${i.severity} ${i.message}`),
    ).toEqual(['error runAsUser 0 is root, which runAsNonRoot: true forbids: the container cannot start'])
    expect(
      stepIssues(
        sc('runAsUser: 0', 'privileged: true\n'),
        resolveBackendConfig({}, {WOODPECKER_BACKEND_K8S_SECCTX_NONROOT: 'true'}).config,
      ).map((i) => i.severity),
    ).toEqual(['error'])
  })

  it('applies the rules that depend on the step when validating a whole pipeline', () => {
    const messages = issuesOf(withKubernetes('securityContext: {privileged: true, runAsUser: 0}'))
      .filter((i) => i.path.includes('securityContext'))
      .map((i) => i.message)
    expect(messages).toEqual([
      expect.stringMatching(/only the step's own `privileged: true` does/),
      expect.stringMatching(/`runAsUser: 0` is dropped/),
    ])
  })

  it('warns that runAsNonRoot: false gives way to SECCTX_NONROOT', () => {
    const nonroot = resolveBackendConfig({}, {WOODPECKER_BACKEND_K8S_SECCTX_NONROOT: 'true'}).config
    expect(stepIssues(sc('runAsNonRoot: false'), nonroot).map((i) => i.message)).toEqual([
      '`runAsNonRoot: false` is ignored: the agent sets runAsNonRoot: true (WOODPECKER_BACKEND_K8S_SECCTX_NONROOT)',
    ])
    expect(stepIssues(sc('runAsNonRoot: false'), open)).toEqual([])
  })
})

describe("values as the agent's loose decoding takes them", () => {
  it('accepts quoted numbers and booleans where Woodpecker takes them, and nothing it cannot decode', () => {
    const loose =
      'backend_options: {kubernetes: {hostUsers: "true", resources: {limits: {nvidia.com/gpu: 1, memory: "1Gi"}}, tolerations: [{key: a, operator: Exists, effect: NoExecute, tolerationSeconds: "30"}], securityContext: {runAsUser: "1000", runAsGroup: 1000, fsGroup: "0x7d0", runAsNonRoot: "true"}, nodeSelector: {zone: 1}, serviceAccountName: 42}}'
    expect(stepIssues(step(loose), resolveBackendConfig({'allow-from-step': 'all'}, {}).config)).toEqual([])
  })

  it('warns where the decoding changes what was meant', () => {
    const issues = stepIssues(
      step('backend_options: {kubernetes: {labels: {enabled: true}, securityContext: {runAsUser: 1000.5}}}'),
      resolveBackendConfig({'allow-from-step': 'all'}, {}).config,
    )
    expect(issues.map((i) => `${i.code} ${i.message}`)).toEqual([
      'step-option-decoded the agent reads a boolean here as "1"',
      'step-option-decoded the agent cuts 1000.5 to 1000',
    ])
  })

  it.each([
    ['"1000"', 1000],
    [' 7', undefined],
    ['"0x10"', 16],
    ['"0o17"', 15],
    ['"017"', 15],
    ['"1_000"', 1000],
    ['"-5"', -5],
    ['""', 0],
    ['true', 1],
    ['"1e3"', undefined],
    ['"08"', undefined],
    ['[1]', undefined],
  ])('weakInt(%s) = %s', (yaml, value) =>
    expect(
      weakInt(
        JSON.parse(
          yaml.trim().startsWith('"') || yaml.trim().startsWith('[') || yaml === 'true' ? yaml : JSON.stringify(yaml),
        ),
      ),
    ).toBe(value),
  )

  it('decodes booleans and text as Go does', () => {
    expect([true, 'T', 'true', 1, 'False', '0', '', 0].map(weakBool)).toEqual([
      true,
      true,
      true,
      true,
      false,
      false,
      false,
      false,
    ])
    expect(['yes', 'on', null, {}].map(weakBool)).toEqual([undefined, undefined, undefined, undefined])
    expect([1.5, true, false, 'x', null].map(weakString)).toEqual(['1.5', '1', '0', 'x', undefined])
  })
})

describe('workspaceVolume', () => {
  it('applies to services only; on a step it is ignored with a warning', () => {
    const text =
      'services:\n  db:\n    image: postgres\n    backend_options: {kubernetes: {workspaceVolume: false}}\nsteps:\n  a: {image: x}\n'
    expect(stepIssues(text, defaultBackendConfig(), 'service')).toEqual([])
    expect(
      stepIssues(step('backend_options: {kubernetes: {workspaceVolume: false}}')).map((i) => `${i.code} ${i.message}`),
    ).toEqual(['step-option-ignored `workspaceVolume` is ignored: the agent applies it to services only'])
  })
})

describe('extra_hosts, dns, dns_search and volumes', () => {
  it.each([
    ['extra_hosts: ["git.local:10.0.0.5", "v6:fd00::1"]', []],
    ['extra_hosts: "git.local:10.0.0.5"', ['error steps.build.extra_hosts must be a list of `host:ip` entries']],
    ['extra_hosts: [git.local]', ['error steps.build.extra_hosts[0] not a `host:ip` entry']],
    ['extra_hosts: ["git.local:10.0.0.256"]', ['error steps.build.extra_hosts[0] invalid address: not an IP address']],
    [
      'extra_hosts: ["Git_Host:10.0.0.5"]',
      [expect.stringMatching(/^error steps.build.extra_hosts\[0\] invalid host name/)],
    ],
    ['dns: 10.0.0.10', []],
    ['dns: [10.0.0.10, "::1"]', []],
    ['dns: [dns.google]', ['error steps.build.dns[0] not an IP address']],
    ['dns: [1.1.1.1, 1.0.0.1, 8.8.8.8, 8.8.4.4]', ['error steps.build.dns Kubernetes takes at most 3 entries here']],
    ['dns_search: [svc.example.com, example.com]', []],
    ['dns_search: "Bad Domain"', [expect.stringMatching(/^error steps.build.dns_search must be lower-case/)]],
    ['volumes: ["cache:/cache", "m2-repo:/root/.m2"]', []],
    [
      'volumes: ["/var/run/docker.sock:/var/run/docker.sock"]',
      [
        'warning steps.build.volumes[0] a host path cannot be mounted on the Kubernetes backend: the agent fails this step (a volume names an existing PersistentVolumeClaim)',
      ],
    ],
    ['volumes: [cache]', ['error steps.build.volumes[0] needs an absolute mount path after the claim']],
    ['volumes: ["Cache:/cache"]', [expect.stringMatching(/^error steps.build.volumes\[0\] invalid claim name/)]],
    [
      'volumes: ["cache:/cache:ro"]',
      ['warning steps.build.volumes[0] `:ro` is ignored: the agent mounts the claim read-write'],
    ],
    [
      'volumes: ["cache:/a", "cache:/b"]',
      [
        'error steps.build.volumes[1] claim `cache` is mounted twice: the agent gives both volumes its name and Kubernetes refuses the pod',
      ],
    ],
  ])('%s', (lines, expected) => {
    expect(stepIssues(step(lines)).map((i) => `${i.severity} ${i.path} ${i.message}`)).toEqual(expected)
  })

  it("points at the entry's line", () => {
    const [issue] = stepIssues(step('volumes:\n  - cache:/cache\n  - /tmp:/tmp'))
    expect(issue).toMatchObject({line: 6, col: 9, path: 'steps.build.volumes[1]', code: 'step-fails-on-kubernetes'})
  })
})

describe('ipAddress', () => {
  it.each(['10.0.0.1', '::1', 'fd00::1', '2001:db8::8a2e:370:7334', '::ffff:10.0.0.1', '1:2:3:4:5:6:7:8'])(
    'takes %s',
    (ip) => expect(ipAddress(ip)).toBeUndefined(),
  )
  it.each(['10.0.0', '256.1.1.1', 'host', '1::2::3', '1:2:3:4:5:6:7:8:9', ':::'])('refuses %s', (ip) =>
    expect(ipAddress(ip)).toBe('not an IP address'),
  )
})
