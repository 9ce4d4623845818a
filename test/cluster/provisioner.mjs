#!/usr/bin/env node
// Dynamic volume provisioning for the test cluster, like kind's local-path: each new claim of a class
// whose provisioner is wpk8s.local/hostpath gets a hostPath PV bound to it. A class without
// `parameters.accessModes: any` refuses ReadWriteMany with a ProvisioningFailed event, as local-path does.
// Released volumes are deleted with their directories.
import * as k8s from '@kubernetes/client-node'
import {mkdirSync, rmSync} from 'node:fs'
import {join} from 'node:path'

const PROVISIONER = 'wpk8s.local/hostpath'
const volumesDir = process.argv[2]
const kc = new k8s.KubeConfig()
kc.loadFromDefault()
const core = kc.makeApiClient(k8s.CoreV1Api)
const storage = kc.makeApiClient(k8s.StorageV1Api)
const refused = new Set()
const log = (...args) => console.log(new Date().toISOString(), ...args)

async function ourClass(name) {
  if (!name) return undefined
  try {
    const sc = await storage.readStorageClass({name})
    return sc.provisioner === PROVISIONER ? sc : undefined
  } catch {
    return undefined
  }
}

async function provision(pvc) {
  const {namespace, name, uid} = pvc.metadata
  if (pvc.status?.phase !== 'Pending' || pvc.spec.volumeName) return
  const sc = await ourClass(pvc.spec.storageClassName)
  if (!sc) return
  const modes = pvc.spec.accessModes ?? ['ReadWriteOnce']
  if (modes.includes('ReadWriteMany') && sc.parameters?.accessModes !== 'any') {
    if (refused.has(uid)) return
    refused.add(uid)
    await refuse(
      pvc,
      `NodePath only supports ReadWriteOnce and ReadWriteOncePod access modes; class ${sc.metadata.name} cannot provide ReadWriteMany`,
    )
    return
  }
  const pvName = `pvc-${uid}`
  const dir = join(volumesDir, pvName)
  mkdirSync(dir, {recursive: true, mode: 0o777})
  const body = {
    metadata: {name: pvName, annotations: {'pv.kubernetes.io/provisioned-by': PROVISIONER}},
    spec: {
      capacity: {storage: pvc.spec.resources.requests.storage},
      accessModes: modes,
      storageClassName: sc.metadata.name,
      persistentVolumeReclaimPolicy: 'Delete',
      claimRef: {apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace, name, uid},
      hostPath: {path: dir, type: 'DirectoryOrCreate'},
    },
  }
  try {
    await core.createPersistentVolume({body})
    log(`provisioned ${pvName} for ${namespace}/${name}`)
  } catch (e) {
    if (e.code !== 409) log(`create ${pvName} failed: ${e.message}`)
  }
}

async function refuse(pvc, message) {
  const {namespace, name, uid} = pvc.metadata
  const now = new Date()
  await core
    .createNamespacedEvent({
      namespace,
      body: {
        metadata: {name: `${name}.${Date.now().toString(16)}`, namespace},
        involvedObject: {apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace, name, uid},
        reason: 'ProvisioningFailed',
        message,
        type: 'Warning',
        count: 1,
        source: {component: PROVISIONER},
        firstTimestamp: now,
        lastTimestamp: now,
      },
    })
    .catch((e) => log(`event for ${namespace}/${name} failed: ${e.message}`))
  log(`refused ${namespace}/${name}: ${message}`)
}

async function reclaim(pv) {
  if (pv.metadata.annotations?.['pv.kubernetes.io/provisioned-by'] !== PROVISIONER) return
  if (pv.status?.phase !== 'Released' && pv.status?.phase !== 'Failed') return
  await core.deletePersistentVolume({name: pv.metadata.name}).catch(() => {})
  rmSync(join(volumesDir, pv.metadata.name), {recursive: true, force: true})
  log(`deleted ${pv.metadata.name}`)
}

function watch(path, handle) {
  const start = () =>
    new k8s.Watch(kc)
      .watch(
        path,
        {},
        (type, obj) => {
          if (type === 'ADDED' || type === 'MODIFIED') handle(obj).catch((e) => log(e.message))
        },
        () => setTimeout(start, 500),
      )
      .catch(() => setTimeout(start, 1000))
  start()
}

watch('/api/v1/persistentvolumeclaims', provision)
watch('/api/v1/persistentvolumes', reclaim)
// Pending claims are retried: a class created after the claim, or a missed event, still gets served.
setInterval(async () => {
  const list = await core.listPersistentVolumeClaimForAllNamespaces().catch(() => ({items: []}))
  for (const pvc of list.items) await provision(pvc).catch(() => {})
}, 5000)
log('provisioner started')
