import type {V1Pod} from '@kubernetes/client-node'
import {describe, expect, it} from 'vitest'
import {type BackendFlags, resolveBackendConfig} from '../../src/config.js'
import {planRun} from '../../src/compile/plan.js'
import {podAtStart} from '../../src/compile/pod.js'
import type {RunMetadata} from '../../src/pipeline/metadata.js'
import {toWorkflow} from '../../src/pipeline/normalize.js'
import {parsePipelineText} from '../../src/pipeline/parse.js'

// Step options applied or dropped as the Woodpecker v3.17/v3.18 agent does, one setting at a time.

const metadata = {
  root: '/src/app',
  repoOwner: 'octo',
  repoName: 'app',
  repoUrl: 'https://git.example.com/octo/app.git',
  sha: 'abc123',
  branch: 'main',
  ref: 'refs/heads/main',
  message: 'm',
  author: 'a',
  authorEmail: 'a@example.com',
  event: 'push',
  tag: '',
  changedFiles: [],
  started: 1700000000,
} as unknown as RunMetadata

function plan(text: string, env: NodeJS.ProcessEnv = {}, flags: BackendFlags = {}) {
  const {config, issues} = resolveBackendConfig(flags, env)
  expect(issues.filter((i) => i.severity === 'error')).toEqual([])
  const workflow = toWorkflow('ci', 'p.yml', parsePipelineText('p.yml', text).data as Record<string, unknown>)
  return planRun({workflow, config, metadata, runId: 'r1a2b3', arch: 'amd64'})
}

/** The pod of the first step of a one-step pipeline with these backend options (one line of YAML). */
function podWith(options: string, env: NodeJS.ProcessEnv = {}, step = ''): V1Pod {
  return plan(
    `steps:\n  build:\n    image: golang:1.22\n    commands: [go build]\n${step}    backend_options: {kubernetes: ${options}}\n`,
    env,
  ).steps[0].pod
}

const podOf = (text: string, env: NodeJS.ProcessEnv = {}) => plan(text, env).steps[0].pod
const serviceOf = (text: string, env: NodeJS.ProcessEnv = {}) => plan(text, env).services[0].pod
const container = (pod: V1Pod) => pod.spec!.containers[0]
const allow = (setting: string) => ({[`WOODPECKER_BACKEND_K8S_${setting}`]: 'true'})

describe("*_ALLOW_FROM_STEP gates, with Woodpecker's defaults", () => {
  it("drops a step's labels unless POD_LABELS_ALLOW_FROM_STEP, and the agent's labels win over the step's", () => {
    expect(podWith('{labels: {team: a}}').metadata!.labels).not.toHaveProperty('team')
    expect(podWith('{labels: {team: a}}', allow('POD_LABELS_ALLOW_FROM_STEP')).metadata!.labels).toMatchObject({
      team: 'a',
    })
    const both = podWith('{labels: {team: step, own: x}}', {
      ...allow('POD_LABELS_ALLOW_FROM_STEP'),
      WOODPECKER_BACKEND_K8S_POD_LABELS: '{team: agent}',
    })
    expect(both.metadata!.labels).toMatchObject({team: 'agent', own: 'x', 'wpk8s.dev/run': 'r1a2b3'})
  })

  it("drops a step's annotations unless POD_ANNOTATIONS_ALLOW_FROM_STEP, the agent's winning", () => {
    expect(podWith('{annotations: {note: a}}').metadata!.annotations).not.toHaveProperty('note')
    const both = podWith('{annotations: {note: step, mine: y}}', {
      ...allow('POD_ANNOTATIONS_ALLOW_FROM_STEP'),
      WOODPECKER_BACKEND_K8S_POD_ANNOTATIONS: '{note: agent}',
    })
    expect(both.metadata!.annotations).toMatchObject({note: 'agent', mine: 'y'})
  })

  it("merges the node selector: platform arch, then POD_NODE_SELECTOR, then the step's only if allowed", () => {
    const env = {WOODPECKER_BACKEND_K8S_POD_NODE_SELECTOR: '{pool: ci, kubernetes.io/arch: arm64}'}
    expect(podWith('{nodeSelector: {pool: gpu, disk: ssd}}', env).spec!.nodeSelector).toEqual({
      'kubernetes.io/arch': 'arm64',
      pool: 'ci',
    })
    expect(
      podWith('{nodeSelector: {pool: gpu, disk: ssd}}', {...env, ...allow('POD_NODE_SELECTOR_ALLOW_FROM_STEP')}).spec!
        .nodeSelector,
    ).toEqual({'kubernetes.io/arch': 'arm64', pool: 'gpu', disk: 'ssd'})
    expect(podWith('{}').spec!.nodeSelector).toEqual({'kubernetes.io/arch': 'amd64'})
  })

  it("adds a step's tolerations to POD_TOLERATIONS (allowed by default), and drops them when POD_TOLERATIONS_ALLOW_FROM_STEP=false", () => {
    const env = {WOODPECKER_BACKEND_K8S_POD_TOLERATIONS: '[{key: jobs, operator: Exists, effect: NoSchedule}]'}
    expect(podWith('{tolerations: [{key: ci, operator: Exists}]}', env).spec!.tolerations).toEqual([
      {key: 'jobs', operator: 'Exists', effect: 'NoSchedule'},
      {key: 'ci', operator: 'Exists'},
    ])
    expect(
      podWith('{tolerations: [{key: ci, operator: Exists}]}', {
        ...env,
        WOODPECKER_BACKEND_K8S_POD_TOLERATIONS_ALLOW_FROM_STEP: 'false',
      }).spec!.tolerations,
    ).toEqual([{key: 'jobs', operator: 'Exists', effect: 'NoSchedule'}])
    expect(podWith('{}').spec!.tolerations).toBeUndefined()
  })

  it("uses POD_AFFINITY; a step's affinity replaces it only if POD_AFFINITY_ALLOW_FROM_STEP", () => {
    const agent =
      '{podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [{labelSelector: {}, topologyKey: kubernetes.io/hostname}]}}'
    const step =
      '{affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: a, operator: Exists}]}]}}}}'
    expect(podWith(step, {WOODPECKER_BACKEND_K8S_POD_AFFINITY: agent}).spec!.affinity).toHaveProperty('podAntiAffinity')
    expect(
      podWith(step, {WOODPECKER_BACKEND_K8S_POD_AFFINITY: agent, ...allow('POD_AFFINITY_ALLOW_FROM_STEP')}).spec!
        .affinity,
    ).toEqual({nodeAffinity: expect.any(Object)})
    expect(podWith(step).spec!.affinity).toBeUndefined()
  })

  it('drops serviceAccountName unless SERVICE_ACCOUNT_NAME_ALLOW_FROM_STEP', () => {
    expect(podWith('{serviceAccountName: builder}').spec!.serviceAccountName).toBeUndefined()
    expect(
      podWith('{serviceAccountName: builder}', allow('SERVICE_ACCOUNT_NAME_ALLOW_FROM_STEP')).spec!.serviceAccountName,
    ).toBe('builder')
  })

  it('drops runtimeClassName unless RUNTIME_CLASS_ALLOW_FROM_STEP', () => {
    expect(podWith('{runtimeClassName: gvisor}').spec!.runtimeClassName).toBeUndefined()
    expect(podWith('{runtimeClassName: gvisor}', allow('RUNTIME_CLASS_ALLOW_FROM_STEP')).spec!.runtimeClassName).toBe(
      'gvisor',
    )
  })

  it('drops native secrets unless ALLOW_NATIVE_SECRETS', () => {
    const options =
      '{secrets: [{name: aws, key: credentials, target: {file: /root/.aws/credentials}}, {name: token, key: value}]}'
    const off = podWith(options)
    expect(off.spec!.volumes!.map((v) => v.name)).toEqual(['workspace'])
    expect(container(off).env!.some((e) => e.valueFrom)).toBe(false)
    const on = podWith(options, allow('ALLOW_NATIVE_SECRETS'))
    expect(on.spec!.volumes).toContainEqual({name: 'secret-0', secret: {secretName: 'aws'}})
    expect(container(on).env).toContainEqual({name: 'VALUE', valueFrom: {secretKeyRef: {name: 'token', key: 'value'}}})
  })

  it('opens every gate with --allow-from-step all, and closes them with none over the environment', () => {
    const options = '{serviceAccountName: builder, nodeSelector: {disk: ssd}, labels: {team: a}}'
    const text = `steps:\n  build:\n    image: x\n    backend_options: {kubernetes: ${options}}\n`
    const open = plan(text, {}, {'allow-from-step': 'all'}).steps[0].pod
    expect(open.spec!.serviceAccountName).toBe('builder')
    expect(open.spec!.nodeSelector).toMatchObject({disk: 'ssd'})
    expect(open.metadata!.labels).toMatchObject({team: 'a'})
    const some = plan(text, {}, {'allow-from-step': 'serviceAccountName'}).steps[0].pod
    expect(some.spec!.serviceAccountName).toBe('builder')
    expect(some.spec!.nodeSelector).not.toHaveProperty('disk')
    const closed = plan(text, allow('SERVICE_ACCOUNT_NAME_ALLOW_FROM_STEP'), {'allow-from-step': 'none'}).steps[0].pod
    expect(closed.spec!.serviceAccountName).toBeUndefined()
    expect(closed.spec!.tolerations).toBeUndefined()
  })
})

describe('agent-wide pod settings', () => {
  it('PULL_SECRET_NAMES → imagePullSecrets on every pod', () => {
    const p = plan('services:\n  db: {image: postgres}\nsteps:\n  a: {image: x}\n', {
      WOODPECKER_BACKEND_K8S_PULL_SECRET_NAMES: 'regcred, other ',
    })
    for (const pod of [p.services[0].pod, p.steps[0].pod])
      expect(pod.spec!.imagePullSecrets).toEqual([{name: 'regcred'}, {name: 'other'}])
    expect(podOf('steps:\n  a: {image: x}\n').spec!.imagePullSecrets).toBeUndefined()
  })

  it('PRIORITY_CLASS → priorityClassName', () => {
    expect(
      podOf('steps:\n  a: {image: x}\n', {WOODPECKER_BACKEND_K8S_PRIORITY_CLASS: 'ci-low'}).spec!.priorityClassName,
    ).toBe('ci-low')
    expect(podOf('steps:\n  a: {image: x}\n').spec!.priorityClassName).toBeUndefined()
  })

  it('SECCTX_NONROOT → runAsNonRoot: true, which a step cannot turn off', () => {
    expect(
      podWith('{securityContext: {runAsNonRoot: false}}', {WOODPECKER_BACKEND_K8S_SECCTX_NONROOT: 'true'}).spec!
        .securityContext,
    ).toEqual({fsGroup: 1000, runAsNonRoot: true})
    expect(podWith('{securityContext: {runAsNonRoot: true}}').spec!.securityContext).toEqual({
      fsGroup: 1000,
      runAsNonRoot: true,
    })
    expect(podWith('{}').spec!.securityContext).toEqual({fsGroup: 1000})
  })
})

describe('securityContext as the agent applies it', () => {
  it("makes a container privileged only through the step's own privileged: true", () => {
    expect(container(podWith('{securityContext: {privileged: true}}')).securityContext).toBeUndefined()
    expect(container(podWith('{}', {}, '    privileged: true\n')).securityContext).toEqual({privileged: true})
    expect(
      container(podWith('{securityContext: {privileged: false}}', {}, '    privileged: true\n')).securityContext,
    ).toBeUndefined()
  })

  it('applies allowPrivilegeEscalation only when false, and of capabilities only drop', () => {
    expect(
      container(podWith('{securityContext: {allowPrivilegeEscalation: true, capabilities: {add: [NET_ADMIN]}}}'))
        .securityContext,
    ).toBeUndefined()
    expect(
      container(
        podWith('{securityContext: {allowPrivilegeEscalation: false, capabilities: {add: [NET_ADMIN], drop: [ALL]}}}'),
      ).securityContext,
    ).toEqual({allowPrivilegeEscalation: false, capabilities: {drop: ['ALL']}})
  })

  it('takes UID/GID 0 only for privileged steps or hostUsers: false; fsGroup stays 1000 otherwise', () => {
    const root = '{securityContext: {runAsUser: 0, runAsGroup: 0, fsGroup: 0}}'
    expect(podWith(root).spec!.securityContext).toEqual({fsGroup: 1000})
    expect(podWith(root, {}, '    privileged: true\n').spec!.securityContext).toEqual({
      fsGroup: 0,
      runAsGroup: 0,
      runAsUser: 0,
    })
    const userns = podWith('{hostUsers: false, securityContext: {runAsUser: 0}}')
    expect(userns.spec!.securityContext).toEqual({fsGroup: 1000, runAsUser: 0})
    expect(userns.spec!.hostUsers).toBe(false)
    expect(
      podWith('{securityContext: {runAsUser: 1000, runAsGroup: 1000, fsGroup: 2000}}').spec!.securityContext,
    ).toEqual({fsGroup: 2000, runAsGroup: 1000, runAsUser: 1000})
  })

  it("takes quoted numbers and booleans as the agent's loose decoding does", () => {
    const pod = podWith(
      '{securityContext: {runAsUser: "1000", runAsGroup: "0x3e8", allowPrivilegeEscalation: "false"}, labels: {n: 1, b: true}}',
      allow('POD_LABELS_ALLOW_FROM_STEP'),
    )
    expect(pod.spec!.securityContext).toEqual({fsGroup: 1000, runAsGroup: 1000, runAsUser: 1000})
    expect(container(pod).securityContext).toEqual({allowPrivilegeEscalation: false})
    expect(pod.metadata!.labels).toMatchObject({n: '1', b: '1'})
  })

  it('puts seccomp and AppArmor profiles and fsGroupChangePolicy on the pod', () => {
    const pod = podWith(
      '{securityContext: {seccompProfile: {type: RuntimeDefault}, apparmorProfile: {type: Localhost, localhostProfile: p}, fsGroupChangePolicy: OnRootMismatch}}',
    )
    expect(pod.spec!.securityContext).toEqual({
      appArmorProfile: {type: 'Localhost', localhostProfile: 'p'},
      fsGroup: 1000,
      fsGroupChangePolicy: 'OnRootMismatch',
      seccompProfile: {type: 'RuntimeDefault'},
    })
  })
})

describe('step options of the Kubernetes backend', () => {
  it('pull: absent or false leaves imagePullPolicy to Kubernetes, true → Always', () => {
    expect(container(podOf('steps:\n  a: {image: x}\n')).imagePullPolicy).toBeUndefined()
    expect(container(podOf('steps:\n  a: {image: x, pull: false}\n')).imagePullPolicy).toBeUndefined()
    expect(container(podOf('steps:\n  a: {image: x, pull: true}\n')).imagePullPolicy).toBe('Always')
  })

  it("extra_hosts → hostAliases, before the services' aliases at start", () => {
    const pod = podOf('steps:\n  a: {image: x, extra_hosts: ["git.local:10.0.0.5", "v6.local:fd00::1"]}\n')
    expect(pod.spec!.hostAliases).toEqual([
      {ip: '10.0.0.5', hostnames: ['git.local']},
      {ip: 'fd00::1', hostnames: ['v6.local']},
    ])
    const started = podAtStart(pod, {
      pipelineStatus: 'success',
      startedAt: 1,
      hostAliases: [{hostnames: ['db'], ip: '10.1.1.1'}],
    })
    expect(started.spec!.hostAliases).toEqual([
      {ip: '10.0.0.5', hostnames: ['git.local']},
      {ip: 'fd00::1', hostnames: ['v6.local']},
      {hostnames: ['db'], ip: '10.1.1.1'},
    ])
    expect(
      podAtStart(podOf('steps:\n  a: {image: x}\n'), {pipelineStatus: 'success', startedAt: 1, hostAliases: []}).spec!
        .hostAliases,
    ).toBeUndefined()
  })

  it('dns and dns_search → dnsConfig', () => {
    expect(podOf('steps:\n  a: {image: x, dns: 10.0.0.10, dns_search: [ci.example.com]}\n').spec!.dnsConfig).toEqual({
      nameservers: ['10.0.0.10'],
      searches: ['ci.example.com'],
    })
    expect(podOf('steps:\n  a: {image: x, dns_search: svc.example.com}\n').spec!.dnsConfig).toEqual({
      searches: ['svc.example.com'],
    })
    expect(podOf('steps:\n  a: {image: x}\n').spec!.dnsConfig).toBeUndefined()
  })

  it('volumes: [claim:/path] mounts that existing claim', () => {
    const pod = podOf('steps:\n  a: {image: x, volumes: ["cache:/cache", "cache:/again", "maven-repo:/root/.m2:ro"]}\n')
    expect(pod.spec!.volumes).toEqual([
      {name: 'workspace', persistentVolumeClaim: {claimName: 'wp-r1a2b3-workspace'}},
      {name: 'claim-cache', persistentVolumeClaim: {claimName: 'cache'}},
      {name: 'claim-maven-repo', persistentVolumeClaim: {claimName: 'maven-repo'}},
    ])
    expect(container(pod).volumeMounts!.slice(1)).toEqual([
      {name: 'claim-cache', mountPath: '/cache'},
      {name: 'claim-cache', mountPath: '/again'},
      {name: 'claim-maven-repo', mountPath: '/root/.m2'},
    ])
  })

  it('ports → containerPorts with their protocol', () => {
    const pod = serviceOf(
      'services:\n  dns: {image: coredns, ports: [53/udp, 8080, "9153/tcp"]}\nsteps:\n  a: {image: x}\n',
    )
    expect(container(pod).ports).toEqual([
      {containerPort: 53, protocol: 'UDP'},
      {containerPort: 8080, protocol: 'TCP'},
      {containerPort: 9153, protocol: 'TCP'},
    ])
  })

  it("workspaceVolume: false leaves the workspace out of a service's pod, not a step's", () => {
    const text =
      'services:\n  db: {image: postgres, backend_options: {kubernetes: {workspaceVolume: false}}}\nsteps:\n  a: {image: x, backend_options: {kubernetes: {workspaceVolume: false}}}\n'
    const service = serviceOf(text)
    expect(service.spec!.volumes).toEqual([])
    expect(container(service).volumeMounts).toEqual([])
    expect(podOf(text).spec!.volumes!.map((v) => v.name)).toEqual(['workspace'])
  })
})

describe('STOP_TIMEOUT', () => {
  it('is a Go duration, 20s by default, rounded up to whole seconds', () => {
    expect(resolveBackendConfig({}, {}).config.stopTimeoutSeconds).toBe(20)
    expect(resolveBackendConfig({}, {WOODPECKER_BACKEND_K8S_STOP_TIMEOUT: '1m30s'}).config.stopTimeoutSeconds).toBe(90)
    expect(resolveBackendConfig({'stop-timeout': '1500ms'}, {}).config.stopTimeoutSeconds).toBe(2)
    expect(resolveBackendConfig({'stop-timeout': '0'}, {}).config.stopTimeoutSeconds).toBe(0)
  })
})

describe('agentPodSpec (for pods wpk8s adds, such as the checkout helper)', () => {
  it("carries the agent's placement, pull secrets and priority class, and nothing when unset", async () => {
    const {agentPodSpec} = await import('../../src/compile/pod.js')
    const {config} = resolveBackendConfig(
      {},
      {
        WOODPECKER_BACKEND_K8S_POD_NODE_SELECTOR: '{pool: ci}',
        WOODPECKER_BACKEND_K8S_POD_TOLERATIONS: '[{key: ci, operator: Exists}]',
        WOODPECKER_BACKEND_K8S_POD_AFFINITY: '{nodeAffinity: {}}',
        WOODPECKER_BACKEND_K8S_PULL_SECRET_NAMES: 'regcred',
        WOODPECKER_BACKEND_K8S_PRIORITY_CLASS: 'low',
      },
    )
    expect(agentPodSpec(config)).toEqual({
      nodeSelector: {pool: 'ci'},
      tolerations: [{key: 'ci', operator: 'Exists'}],
      affinity: {nodeAffinity: {}},
      imagePullSecrets: [{name: 'regcred'}],
      priorityClassName: 'low',
    })
    expect(agentPodSpec(resolveBackendConfig({}, {}).config)).toEqual({})
  })
})
