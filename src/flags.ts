import {Flags} from '@oclif/core'
import {ENV} from './config.js'

/** The Kubernetes backend settings, shared by `exec` and `validate` (validate checks them too). */
export const backendFlags = {
  namespace: Flags.string({char: 'n', summary: `Namespace for the run's objects (env ${ENV.namespace}, default woodpecker).`}),
  'volume-size': Flags.string({summary: `Size of the workspace volume (env ${ENV.volumeSize}, default 10G).`}),
  'storage-class': Flags.string({summary: `StorageClass of the workspace volume (env ${ENV.storageClass}, default: the cluster's).`}),
  'storage-rwx': Flags.boolean({allowNo: true, summary: `ReadWriteMany workspace volume; --no-storage-rwx for ReadWriteOnce (env ${ENV.storageRwx}, default true).`}),
  'pod-labels': Flags.string({summary: `Labels for every pod, as a YAML/JSON object (env ${ENV.podLabels}).`}),
  'pod-annotations': Flags.string({summary: `Annotations for every pod, as a YAML/JSON object (env ${ENV.podAnnotations}).`}),
}
