import {describe, expect, it} from 'vitest'
import {resolveBackendConfig} from '../../src/config.js'

describe('resolveBackendConfig', () => {
  it('uses Woodpecker defaults', () => {
    const {config, issues} = resolveBackendConfig({}, {})
    expect(issues).toEqual([])
    expect(config).toEqual({namespace: 'woodpecker', volumeSize: '10G', storageRwx: true, podLabels: {}, podAnnotations: {}})
  })

  it('reads WOODPECKER_BACKEND_K8S_* and lets flags win', () => {
    const env = {WOODPECKER_BACKEND_K8S_VOLUME_SIZE: '1Gi', WOODPECKER_BACKEND_K8S_STORAGE_RWX: 'false', WOODPECKER_BACKEND_K8S_NAMESPACE: 'ci', WOODPECKER_BACKEND_K8S_POD_LABELS: '{team: a}', WOODPECKER_BACKEND_K8S_STORAGE_CLASS: 'fast'}
    expect(resolveBackendConfig({}, env).config).toEqual({namespace: 'ci', volumeSize: '1Gi', storageRwx: false, storageClass: 'fast', podLabels: {team: 'a'}, podAnnotations: {}})
    const flagged = resolveBackendConfig({'volume-size': '2Gi', 'storage-rwx': true, namespace: 'mine'}, env).config
    expect(flagged).toMatchObject({volumeSize: '2Gi', storageRwx: true, namespace: 'mine'})
  })

  it.each([
    [{'volume-size': '10x'}, {}, '--volume-size', /positive Kubernetes quantity/],
    [{'volume-size': '0'}, {}, '--volume-size', /positive/],
    [{}, {WOODPECKER_BACKEND_K8S_STORAGE_RWX: 'yes please'}, 'WOODPECKER_BACKEND_K8S_STORAGE_RWX', /not a boolean/],
    [{'pod-labels': '[a, b]'}, {}, '--pod-labels', /not a YAML or JSON object/],
    [{'pod-labels': '{team: "a b"}'}, {}, '--pod-labels', /invalid entry `team`/],
    [{}, {WOODPECKER_BACKEND_K8S_POD_ANNOTATIONS: '{"bad key": x}'}, 'WOODPECKER_BACKEND_K8S_POD_ANNOTATIONS', /invalid entry/],
    [{namespace: 'My_NS'}, {}, '--namespace', /lower-case/],
    [{'storage-class': 'Fast!'}, {}, '--storage-class', /lower-case/],
  ])('rejects %j %j as an issue naming %s', (flags, env, source, message) => {
    const {issues} = resolveBackendConfig(flags, env)
    expect(issues).toHaveLength(1)
    expect(issues[0]).toMatchObject({severity: 'error', file: source})
    expect(issues[0].message).toMatch(message)
  })
})
