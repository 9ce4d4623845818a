import type {V1EnvFromSource, V1EnvVar, V1Secret, V1Volume, V1VolumeMount} from '@kubernetes/client-node'
import type {NativeSecret, Step} from '../pipeline/model.js'
import {LABELS, MANAGER, toDnsLabel} from './names.js'
import {sorted} from './pod.js'

/** A `from_secret` reference of a step: which variable gets which secret. */
export interface SecretRef {
  variable: string
  secret: string
}

function isFromSecret(value: unknown): value is {from_secret: string} {
  return (
    typeof value === 'object' && value !== null && typeof (value as {from_secret?: unknown}).from_secret === 'string'
  )
}

/** Every `from_secret` of a step: in `environment`, and in plugin `settings` (as PLUGIN_*). */
export function secretRefs(step: Step): SecretRef[] {
  const refs: SecretRef[] = []
  for (const [variable, value] of Object.entries(step.environment))
    if (typeof value !== 'string') refs.push({variable, secret: value.fromSecret})
  for (const [key, value] of Object.entries(step.settings ?? {})) {
    if (isFromSecret(value))
      refs.push({variable: `PLUGIN_${key.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`, secret: value.from_secret})
  }
  return refs
}

/** Secret names are free text in Woodpecker; keys of a Kubernetes Secret are not. */
export function secretKey(name: string): string {
  return /^[-._a-zA-Z0-9]+$/.test(name) ? name : toDnsLabel(name)
}

export function secretEnvVars(refs: SecretRef[], secretName: string): V1EnvVar[] {
  return refs.map((r) => ({name: r.variable, valueFrom: {secretKeyRef: {name: secretName, key: secretKey(r.secret)}}}))
}

/** The run's Secret holding the values the steps reference (so they never appear in a pod spec). */
export function runSecret(name: string, namespace: string, runId: string, values: Record<string, string>): V1Secret {
  const stringData = sorted(Object.fromEntries(Object.entries(values).map(([k, v]) => [secretKey(k), v])))
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name,
      namespace,
      labels: sorted({[LABELS.managedBy]: MANAGER, [LABELS.run]: runId, [LABELS.role]: 'secrets'}),
    },
    stringData,
  }
}

/** Replaces every secret value in a log line; values shorter than 3 characters are left (they would mask everything). */
export function masker(values: string[]): (line: string) => string {
  const secrets = [...new Set(values.flatMap((v) => v.split('\n')).filter((v) => v.length >= 3))].sort(
    (a, b) => b.length - a.length,
  )
  if (secrets.length === 0) return (line) => line
  return (line) => secrets.reduce((out, secret) => out.split(secret).join('********'), line)
}

/** What native `backend_options.kubernetes.secrets` add to a pod. */
export interface NativeSecretParts {
  env: V1EnvVar[]
  envFrom: V1EnvFromSource[]
  volumes: V1Volume[]
  mounts: V1VolumeMount[]
}

/**
 * Native Secret references in the agent's three forms: `target.file` mounts the Secret there (its
 * `key` only, when given; else the whole Secret as a folder); `key` or `target.env` sets one variable
 * (named `target.env`, else the key upper-cased); a bare `name` sets every key as a variable.
 */
export function nativeSecretParts(secrets: readonly NativeSecret[]): NativeSecretParts {
  const parts: NativeSecretParts = {env: [], envFrom: [], volumes: [], mounts: []}
  const volumeOf = new Map<string, string>()
  for (const secret of secrets) {
    const file = secret.target?.file
    if (file) {
      let volume = volumeOf.get(secret.name)
      if (!volume) {
        volume = `secret-${volumeOf.size}`
        volumeOf.set(secret.name, volume)
        parts.volumes.push({name: volume, secret: {secretName: secret.name}})
      }
      parts.mounts.push({name: volume, mountPath: file, readOnly: true, ...(secret.key ? {subPath: secret.key} : {})})
    } else if (secret.key || secret.target?.env) {
      parts.env.push({
        name: secret.target?.env || secret.key!.toUpperCase(),
        valueFrom: {secretKeyRef: {name: secret.name, key: secret.key ?? ''}},
      })
    } else {
      parts.envFrom.push({secretRef: {name: secret.name}})
    }
  }
  return parts
}
