import * as k8s from '@kubernetes/client-node'
import {PassThrough} from 'node:stream'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {core, createNamespace, deleteNamespace, kubeConfig, uniqueName, waitFor} from './kube.js'
import {requireCluster} from './setup.js'

requireCluster()
const ns = uniqueName('e2e-harness')

beforeAll(() => createNamespace(ns))
afterAll(() => deleteNamespace(ns))

function pod(name: string, script: string, extra: Partial<k8s.V1PodSpec> = {}, image = 'busybox:1.35'): k8s.V1Pod {
  return {
    metadata: {name, namespace: ns},
    spec: {
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 0,
      containers: [{name: 'main', image, command: ['sh', '-c', script]}],
      ...extra,
    },
  }
}

async function phaseOf(name: string): Promise<k8s.V1Pod> {
  return core().readNamespacedPod({namespace: ns, name})
}

async function finished(name: string): Promise<k8s.V1Pod> {
  return waitFor(
    `pod ${name} to finish`,
    async () => {
      const p = await phaseOf(name)
      return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed' ? p : undefined
    },
    60_000,
  )
}

describe('the local test cluster', () => {
  it('labels its node like a real one', async () => {
    const nodes = await core().listNode()
    const labels = nodes.items[0].metadata!.labels!
    expect(labels['kubernetes.io/arch']).toMatch(/^(amd64|arm64)$/)
    expect(labels['kubernetes.io/os']).toBe('linux')
    expect(labels['kubernetes.io/hostname']).toBeTruthy()
  })

  it('runs busybox:1.35, streams its log live through the API server and reports its exit code', async () => {
    await core().createNamespacedPod({
      namespace: ns,
      body: pod('live', 'sleep 3; for i in 1 2 3 4 5; do echo tick $i; sleep 1; done; exit 7'),
    })
    await waitFor(
      'live to run',
      async () => ((await phaseOf('live')).status?.phase === 'Running' ? true : undefined),
      60_000,
    )
    const arrivals: {line: string; at: number}[] = []
    const sink = new PassThrough()
    sink.on('data', (chunk: Buffer) =>
      chunk
        .toString()
        .split('\n')
        .filter(Boolean)
        .forEach((line) => arrivals.push({line, at: Date.now()})),
    )
    const ended = new Promise((r) => sink.on('end', r))
    await new k8s.Log(kubeConfig()).log(ns, 'live', 'main', sink, {follow: true})
    await ended
    expect(arrivals.map((a) => a.line)).toEqual(['tick 1', 'tick 2', 'tick 3', 'tick 4', 'tick 5'])
    // Live: the lines arrived as they were printed, a second apart, not all at the end. The 3 s
    // before the first tick let a slow follow request (a loaded CI node) still attach in time.
    expect(arrivals[4].at - arrivals[0].at).toBeGreaterThan(2000)
    const done = await finished('live')
    expect(done.status!.containerStatuses![0].state!.terminated!.exitCode).toBe(7)
  })

  it('runs the Debian image', async () => {
    await core().createNamespacedPod({
      namespace: ns,
      body: pod('debian', '. /etc/os-release && echo $VERSION_CODENAME', {}, 'debian:bookworm-slim'),
    })
    await finished('debian')
    expect(await core().readNamespacedPodLog({namespace: ns, name: 'debian'})).toBe('bookworm\n')
  })

  it('binds a claim of the default class and shares its files between pods', async () => {
    await core().createNamespacedPersistentVolumeClaim({
      namespace: ns,
      body: {metadata: {name: 'data'}, spec: {accessModes: ['ReadWriteOnce'], resources: {requests: {storage: '1Gi'}}}},
    })
    const bound = await waitFor('claim to bind', async () => {
      const pvc = await core().readNamespacedPersistentVolumeClaim({namespace: ns, name: 'data'})
      return pvc.status?.phase === 'Bound' ? pvc : undefined
    })
    expect(bound.spec!.storageClassName).toBe('local-path')
    const volume = {volumes: [{name: 'd', persistentVolumeClaim: {claimName: 'data'}}]}
    const mount = (p: k8s.V1Pod) => {
      p.spec!.containers[0].volumeMounts = [{name: 'd', mountPath: '/data'}]
      return p
    }
    await core().createNamespacedPod({
      namespace: ns,
      body: mount(pod('writer', 'echo shared-content > /data/file', volume)),
    })
    await finished('writer')
    await core().createNamespacedPod({namespace: ns, body: mount(pod('reader', 'cat /data/file', volume))})
    await finished('reader')
    expect(await core().readNamespacedPodLog({namespace: ns, name: 'reader'})).toBe('shared-content\n')
  })

  it('refuses ReadWriteMany on the default class with a ProvisioningFailed event, and binds it on shared-rwx', async () => {
    const claim = (name: string, storageClassName?: string) => ({
      metadata: {name},
      spec: {
        accessModes: ['ReadWriteMany'],
        resources: {requests: {storage: '1Gi'}},
        ...(storageClassName ? {storageClassName} : {}),
      },
    })
    await core().createNamespacedPersistentVolumeClaim({namespace: ns, body: claim('rwx-default')})
    await core().createNamespacedPersistentVolumeClaim({namespace: ns, body: claim('rwx-shared', 'shared-rwx')})
    const event = await waitFor('ProvisioningFailed', async () => {
      const list = await core().listNamespacedEvent({namespace: ns, fieldSelector: 'involvedObject.name=rwx-default'})
      return list.items.find((e) => e.reason === 'ProvisioningFailed')
    })
    expect(event.message).toMatch(/ReadWriteMany/)
    await waitFor('rwx-shared to bind', async () =>
      (await core().readNamespacedPersistentVolumeClaim({namespace: ns, name: 'rwx-shared'})).status?.phase === 'Bound'
        ? true
        : undefined,
    )
    expect((await core().readNamespacedPersistentVolumeClaim({namespace: ns, name: 'rwx-default'})).status?.phase).toBe(
      'Pending',
    )
  })

  it('reports ErrImagePull for an image it does not have', async () => {
    await core().createNamespacedPod({
      namespace: ns,
      body: pod('noimage', 'true', {}, 'registry.invalid/none/such:1.0'),
    })
    const reason = await waitFor(
      'ErrImagePull',
      async () => {
        const waiting = (await phaseOf('noimage')).status?.containerStatuses?.[0]?.state?.waiting?.reason
        return waiting === 'ErrImagePull' || waiting === 'ImagePullBackOff' ? waiting : undefined
      },
      60_000,
    )
    expect(reason).toMatch(/ErrImagePull|ImagePullBackOff/)
  })
})
