import * as k8s from '@kubernetes/client-node'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {
  core,
  createNamespace,
  deleteNamespace,
  events,
  kubeConfig,
  leftovers,
  pipelineRepo,
  type Run,
  uniqueName,
  waitFor,
  wpk8s,
} from './kube.js'
import {requireCluster} from './setup.js'

// The agent's settings and step options that reach the cluster: pull secrets, priority class, host
// aliases, DNS configuration, claims mounted through `volumes`. Markers in logs are built at run time
// (`$(echo OK)`), since the log also echoes each command.

requireCluster()
const ns = uniqueName('e2e-agent')
const priorityClass = uniqueName('wpk8s-e2e')
const scheduling = () => kubeConfig().makeApiClient(k8s.SchedulingV1Api)

beforeAll(async () => {
  await createNamespace(ns)
  await scheduling().createPriorityClass({
    body: {metadata: {name: priorityClass}, value: 4242, description: 'wpk8s e2e test, deleted after it'},
  })
})

afterAll(async () => {
  await scheduling()
    .deletePriorityClass({name: priorityClass})
    .catch(() => {})
  await deleteNamespace(ns)
})

function exec(pipeline: string, env: NodeJS.ProcessEnv = {}, args: string[] = []): Promise<Run> {
  return wpk8s(['exec', '--json', '--namespace', ns, '--no-storage-rwx', ...args], {cwd: pipelineRepo(pipeline), env})
}

function logsOf(run: Run, step: string): string[] {
  return events(run)
    .filter((e) => e.type === 'log' && e.step === step)
    .map((e) => e.line)
}

const stepPod = (step: string) =>
  waitFor(
    `the ${step} pod`,
    async () => (await core().listNamespacedPod({namespace: ns, labelSelector: `wpk8s.dev/step=${step}`})).items[0],
  )

describe('agent settings on the cluster', () => {
  it("sets PULL_SECRET_NAMES as imagePullSecrets and PRIORITY_CLASS as the pod's priority class", async () => {
    await core().createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: {name: 'regcred'},
        type: 'kubernetes.io/dockerconfigjson',
        stringData: {'.dockerconfigjson': '{"auths":{}}'},
      },
    })
    const run = exec(
      'skip_clone: true\nsteps:\n  pulled:\n    image: busybox:1.35\n    commands: [sleep 2, echo DONE-$(echo OK)]\n',
      {
        WOODPECKER_BACKEND_K8S_PULL_SECRET_NAMES: 'regcred',
        WOODPECKER_BACKEND_K8S_PRIORITY_CLASS: priorityClass,
      },
    )
    const pod = await stepPod('pulled')
    expect(pod.spec!.imagePullSecrets).toEqual([{name: 'regcred'}])
    expect(pod.spec!.priorityClassName).toBe(priorityClass)
    // The admission controller resolved the class: the cluster took it, not only the spec.
    expect(pod.spec!.priority).toBe(4242)
    const result = await run
    expect(result.code).toBe(0)
    expect(logsOf(result, 'pulled')).toContain('DONE-OK')
    await core().deleteNamespacedSecret({namespace: ns, name: 'regcred'})
    expect(await leftovers(ns)).toEqual([])
  })

  it("puts extra_hosts into the step's /etc/hosts, next to the services' names", async () => {
    const run = await exec(`skip_clone: true
services:
  cache:
    image: busybox:1.35
    commands: [sleep 120]
steps:
  hosts:
    image: busybox:1.35
    extra_hosts: ["git.internal:10.11.12.13"]
    commands:
      - awk '$2 == "git.internal" {print "ALIAS-" $1}' /etc/hosts
      - awk '$2 == "cache" {print "SERVICE-" $2}' /etc/hosts
`)
    expect(run.code).toBe(0)
    expect(logsOf(run, 'hosts')).toEqual(expect.arrayContaining(['ALIAS-10.11.12.13', 'SERVICE-cache']))
    expect(await leftovers(ns)).toEqual([])
  })

  it("sets dns and dns_search as the pod's DNS configuration", async () => {
    const run = exec(`skip_clone: true
steps:
  resolver:
    image: busybox:1.35
    dns: [10.53.53.53]
    dns_search: [corp.example.com]
    commands:
      - sleep 2
      - grep -q '^nameserver 10.53.53.53' /etc/resolv.conf && echo NAMESERVER-$(echo OK)
      - grep -q '^search.* corp.example.com' /etc/resolv.conf && echo SEARCH-$(echo OK)
`)
    const pod = await stepPod('resolver')
    expect(pod.spec!.dnsConfig).toEqual({nameservers: ['10.53.53.53'], searches: ['corp.example.com']})
    const result = await run
    expect(result.code).toBe(0)
    expect(logsOf(result, 'resolver')).toEqual(expect.arrayContaining(['NAMESERVER-OK', 'SEARCH-OK']))
    expect(await leftovers(ns)).toEqual([])
  })

  it('mounts an existing claim named in volumes, whose files outlive the run', async () => {
    await core().createNamespacedPersistentVolumeClaim({
      namespace: ns,
      body: {
        metadata: {name: 'e2e-cache'},
        spec: {accessModes: ['ReadWriteOnce'], resources: {requests: {storage: '16Mi'}}},
      },
    })
    const write = await exec(
      'skip_clone: true\nsteps:\n  fill:\n    image: busybox:1.35\n    volumes: ["e2e-cache:/cache"]\n    commands: [\'echo CACHED-$(echo OK) > /cache/marker\']\n',
    )
    expect(write.code).toBe(0)
    const read = await exec(
      'skip_clone: true\nsteps:\n  use:\n    image: busybox:1.35\n    volumes: ["e2e-cache:/cache"]\n    commands: [cat /cache/marker]\n',
    )
    expect(read.code).toBe(0)
    expect(logsOf(read, 'use')).toEqual(['+ cat /cache/marker', 'CACHED-OK'])
    // The run deleted what it created and nothing else: the user's claim is still there.
    expect(await leftovers(ns)).toEqual(['pvc/e2e-cache'])
    await core().deleteNamespacedPersistentVolumeClaim({namespace: ns, name: 'e2e-cache'})
    await waitFor('the claim to go', async () => ((await leftovers(ns)).length === 0 ? true : undefined))
  })

  it('creates a claim named in volumes that does not exist as a cache, kept after the run', async () => {
    const run = await exec(
      'skip_clone: true\nsteps:\n  second:\n    image: busybox:1.35\n    volumes: ["no-such-claim:/cache"]\n    commands: [true]\n',
    )
    expect(run.code).toBe(0)
    expect(events(run).find((e) => e.type === 'cache')).toMatchObject({claim: 'no-such-claim', status: 'created'})
    expect(await leftovers(ns)).toEqual(['pvc/no-such-claim'])
    await core().deleteNamespacedPersistentVolumeClaim({namespace: ns, name: 'no-such-claim'})
    await waitFor('the claim to go', async () => ((await leftovers(ns)).length === 0 ? true : undefined))
  })
})
