import {Flags} from '@oclif/core'
import {ENV, PREFIX} from './config.js'

/**
 * The agent's Kubernetes backend settings, shared by `exec`, `validate` and `config`. A flag beats
 * the environment, which beats `--agent-env`; `--agent-setting` sets any of them for one run.
 */
export const backendFlags = {
  namespace: Flags.string({
    char: 'n',
    summary: `Namespace for the run's objects (env ${ENV.namespace}, default woodpecker).`,
  }),
  'volume-size': Flags.string({summary: `Size of the workspace volume (env ${ENV.volumeSize}, default 10G).`}),
  'storage-class': Flags.string({
    summary: `StorageClass of the workspace volume (env ${ENV.storageClass}, default: the cluster's).`,
  }),
  'storage-rwx': Flags.boolean({
    allowNo: true,
    summary: `ReadWriteMany workspace volume; --no-storage-rwx for ReadWriteOnce (env ${ENV.storageRwx}, default true).`,
  }),
  'pod-labels': Flags.string({summary: `Labels for every pod, as a YAML/JSON object (env ${ENV.podLabels}).`}),
  'pod-annotations': Flags.string({
    summary: `Annotations for every pod, as a YAML/JSON object (env ${ENV.podAnnotations}).`,
  }),
  'pod-node-selector': Flags.string({
    summary: `Node selector for every step pod, as a YAML/JSON object (env ${ENV.podNodeSelector}).`,
  }),
  'pod-tolerations': Flags.string({
    summary: `Tolerations for every step pod, as a YAML/JSON list (env ${ENV.podTolerations}).`,
  }),
  'pull-secret-names': Flags.string({
    summary: `Image pull Secrets for every step pod, comma-separated (env ${ENV.pullSecretNames}).`,
  }),
  'priority-class': Flags.string({summary: `PriorityClass of every step pod (env ${ENV.priorityClass}).`}),
  'stop-timeout': Flags.string({
    summary: `Grace period of running pods when a run is stopped, a Go duration (env ${ENV.stopTimeout}, default 20s).`,
  }),
  'allow-from-step': Flags.string({
    summary:
      "Step options the agent takes from steps: all, none, or some of labels,annotations,nodeSelector,tolerations,affinity,serviceAccountName,runtimeClassName,secrets (default: the *_ALLOW_FROM_STEP settings, Woodpecker's: tolerations only).",
  }),
  'agent-setting': Flags.string({
    summary: `Any agent setting for this run, NAME=VALUE, NAME with or without ${PREFIX} (repeatable).`,
    multiple: true,
  }),
  'agent-env': Flags.string({
    summary:
      "An agent's env file (KEY=VALUE lines) to take its WOODPECKER_BACKEND_K8S_* settings from; the environment and flags win over it.",
  }),
}
