import {describe, expect, it} from 'vitest'
import {parseQuantity} from '../../src/validate/kube-rules.js'
import {errorsOf, issuesOf, withKubernetes} from './helpers.js'

const K = 'steps.build.backend_options.kubernetes'

/** [rule, invalid options, expected path under K, message pattern, valid options] */
const cases: [string, string, string, RegExp, string][] = [
  ['unknown option key', 'nodeselector: {a: b}', 'nodeselector', /unknown key.*/, 'nodeSelector: {a: b}'],
  ['malformed quantity', 'resources: {requests: {memory: 12x}}', 'resources.requests.memory', /not a Kubernetes quantity/, 'resources: {requests: {memory: 128Mi}}'],
  ['negative quantity', 'resources: {limits: {memory: -1Gi}}', 'resources.limits.memory', /negative/, 'resources: {limits: {memory: 1Gi}}'],
  ['request above limit', 'resources: {requests: {cpu: 2}, limits: {cpu: 1000m}}', 'resources.requests.cpu', /above the limit/, 'resources: {requests: {cpu: 500m}, limits: {cpu: 1000m}}'],
  ['resource name', 'resources: {limits: {"nvidia.com/": 1}}', 'resources.limits."nvidia.com/"', /invalid resource name/, 'resources: {limits: {nvidia.com/gpu: 1}}'],
  ['unknown resources key', 'resources: {request: {cpu: 1}}', 'resources.request', /unknown key/, 'resources: {requests: {cpu: 1}}'],
  ['serviceAccountName', 'serviceAccountName: Builder_SA', 'serviceAccountName', /lower-case/, 'serviceAccountName: builder'],
  ['runtimeClassName', 'runtimeClassName: "-gvisor"', 'runtimeClassName', /lower-case/, 'runtimeClassName: gvisor'],
  ['nodeSelector key', 'nodeSelector: {"bad key": x}', 'nodeSelector."bad key"', /invalid key/, 'nodeSelector: {kubernetes.io/arch: arm64}'],
  ['nodeSelector value length', `nodeSelector: {a: ${'v'.repeat(64)}}`, 'nodeSelector.a', /longer than 63/, 'nodeSelector: {a: v}'],
  ['nodeSelector value type', 'nodeSelector: {a: {b: c}}', 'nodeSelector.a', /must be a string/, 'nodeSelector: {a: "1"}'],
  ['label prefix', 'labels: {"Example.com/team": x}', 'labels."Example.com/team"', /prefix/, 'labels: {example.com/team: x}'],
  ['label value', 'labels: {team: "a b"}', 'labels.team', /invalid value/, 'labels: {team: a-b}'],
  ['annotation key', 'annotations: {"/x": y}', 'annotations."/x"', /prefix before/, 'annotations: {example.com/note: "any text at all"}'],
  ['toleration operator', 'tolerations: [{key: a, operator: Equals, value: b}]', 'tolerations[0].operator', /Exists, Equal/, 'tolerations: [{key: a, operator: Equal, value: b}]'],
  ['toleration effect', 'tolerations: [{key: a, value: b, effect: NoSchedul}]', 'tolerations[0].effect', /NoSchedule, PreferNoSchedule, NoExecute/, 'tolerations: [{key: a, value: b, effect: NoSchedule}]'],
  ['Exists with a value', 'tolerations: [{key: a, operator: Exists, value: b}]', 'tolerations[0].value', /must not have a value/, 'tolerations: [{key: a, operator: Exists}]'],
  ['Equal without key', 'tolerations: [{operator: Equal, value: b}]', 'tolerations[0]', /without a key must use operator Exists/, 'tolerations: [{operator: Exists}]'],
  ['tolerations not a list', 'tolerations: {key: a}', 'tolerations', /list/, 'tolerations: []'],
  ['securityContext boolean', 'securityContext: {privileged: "true"}', 'securityContext.privileged', /true or false/, 'securityContext: {privileged: true}'],
  ['securityContext id', 'securityContext: {runAsUser: -1}', 'securityContext.runAsUser', /whole number/, 'securityContext: {runAsUser: 1000}'],
  ['securityContext root with runAsNonRoot', 'securityContext: {runAsNonRoot: true, runAsUser: 0}', 'securityContext.runAsUser', /root/, 'securityContext: {runAsNonRoot: true, runAsUser: 1000}'],
  ['fsGroupChangePolicy', 'securityContext: {fsGroupChangePolicy: Sometimes}', 'securityContext.fsGroupChangePolicy', /OnRootMismatch, Always/, 'securityContext: {fsGroupChangePolicy: OnRootMismatch}'],
  ['seccomp Localhost without profile', 'securityContext: {seccompProfile: {type: Localhost}}', 'securityContext.seccompProfile.localhostProfile', /needs `localhostProfile`/, 'securityContext: {seccompProfile: {type: Localhost, localhostProfile: p.json}}'],
  ['capabilities', 'securityContext: {capabilities: {drop: ALL}}', 'securityContext.capabilities.drop', /list of capability names/, 'securityContext: {capabilities: {drop: [ALL]}}'],
  ['unknown securityContext key', 'securityContext: {runAsUsr: 1}', 'securityContext.runAsUsr', /unknown key/, 'securityContext: {runAsUser: 1}'],
  ['secret without name', 'secrets: [{key: k, target: {env: K}}]', 'secrets[0]', /needs `name`/, 'secrets: [{name: s, key: k, target: {env: K}}]'],
  ['secret file target relative', 'secrets: [{name: s, key: k, target: {file: creds}}]', 'secrets[0].target.file', /absolute/, 'secrets: [{name: s, key: k, target: {file: /root/creds}}]'],
  ['secret with key and no target', 'secrets: [{name: s, key: k}]', 'secrets[0]', /needs `target`/, 'secrets: [{name: s}]'],
  ['secret target with both', 'secrets: [{name: s, key: k, target: {env: A, file: /a}}]', 'secrets[0].target', /exactly one/, 'secrets: [{name: s, key: k, target: {env: A}}]'],
  ['hostUsers type', 'hostUsers: no', 'hostUsers', /true or false/, 'hostUsers: false'],
  ['affinity key', 'affinity: {nodeAffinty: {}}', 'affinity.nodeAffinty', /unknown key/, 'affinity: {nodeAffinity: {}}'],
]

describe('backend_options.kubernetes rules', () => {
  for (const [rule, bad, path, message, good] of cases) {
    it(`${rule}: rejects the bad form and accepts the good one`, () => {
      const errors = errorsOf(withKubernetes(bad))
      expect(errors.map((e) => `${e.path}: ${e.message}`)).toContainEqual(expect.stringMatching(new RegExp(`^${`${K}.${path}`.replace(/[.[\]$/]/g, '\\$&')}: .*${message.source}`)))
      expect(errorsOf(withKubernetes(good))).toEqual([])
    })
  }

  it('reports expected and found for a bad quantity, at the value', () => {
    const [issue] = errorsOf(withKubernetes('resources:\n  requests:\n    memory: 12x'))
    expect(issue).toMatchObject({line: 9, col: 21, found: '"12x"', expected: expect.stringContaining('128Mi')})
  })

  it('warns, not fails, on tolerationSeconds with a non-NoExecute effect (Woodpecker accepts it)', () => {
    const issues = issuesOf(withKubernetes('tolerations: [{key: a, value: b, effect: NoSchedule, tolerationSeconds: 10}]'))
    expect(issues.map((i) => i.severity)).toEqual(['warning'])
  })

  it('ignores other backends options', () => {
    expect(issuesOf('steps:\n  a:\n    image: x\n    backend_options: {docker: {user: "1:1"}, custom: {x: [1]}}\n')).toEqual([])
  })
})

describe('parseQuantity', () => {
  it.each([
    ['128Mi', 128 * 2 ** 20], ['1000m', 1], ['1.5', 1.5], ['2e3', 2000], ['1k', 1000], ['1Gi', 2 ** 30], ['.5', 0.5], ['10G', 1e10], ['+1', 1], ['-1Gi', -(2 ** 30)],
  ])('%s = %d', (text, value) => expect(parseQuantity(text)).toBeCloseTo(value))

  it.each(['12x', '', 'Mi', '1 Gi', '1.2.3', 'one', '1MiB', ' 1'])('rejects %j', (text) => expect(parseQuantity(text)).toBeUndefined())
})
