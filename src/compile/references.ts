import type {V1PersistentVolumeClaim, V1Pod} from '@kubernetes/client-node'
import type {PlannedStep, RunPlan} from './plan.js'

/** An object a step's pod needs that the run does not create itself. */
export interface Reference {
  kind: 'ServiceAccount' | 'Secret' | 'PersistentVolumeClaim'
  name: string
  /** The steps and services that refer to it. */
  steps: string[]
}

/**
 * ServiceAccounts and Secrets the plan's pods refer to but the run does not create, for the steps
 * that may run (those left out whatever happens, such as by `when: branch`, cannot fail on them).
 * Claims named in `volumes` are not among them: a run creates the missing ones as caches.
 */
export function externalReferences(plan: RunPlan): Reference[] {
  const found = new Map<string, Reference>()
  const own = plan.secret?.metadata?.name
  const workspace = plan.pvc.metadata?.name
  const caches = new Set((plan.caches ?? []).map((c) => c.metadata!.name!))
  for (const step of [...plan.services, ...plan.steps].filter(mayRun)) {
    for (const ref of podReferences(step.pod)) {
      if (ref.kind === 'Secret' && ref.name === own) continue
      if (ref.kind === 'PersistentVolumeClaim' && (ref.name === workspace || caches.has(ref.name))) continue
      const key = `${ref.kind}/${ref.name}`
      const entry = found.get(key) ?? {...ref, steps: []}
      if (!entry.steps.includes(step.name)) entry.steps.push(step.name)
      found.set(key, entry)
    }
  }
  return [...found.values()]
}

/** The cache claims that the steps and services that may run mount: the ones a run makes sure exist. */
export function neededCaches(plan: RunPlan): V1PersistentVolumeClaim[] {
  const mounted = new Set(
    [...plan.services, ...plan.steps]
      .filter(mayRun)
      .flatMap((s) => (s.pod.spec!.volumes ?? []).map((v) => v.persistentVolumeClaim?.claimName)),
  )
  return (plan.caches ?? []).filter((c) => mounted.has(c.metadata!.name!))
}

function mayRun(step: PlannedStep): boolean {
  return !step.skip && (step.rules.length === 0 || step.rules.some((r) => r.matches))
}

function podReferences(pod: V1Pod): {kind: Reference['kind']; name: string}[] {
  const spec = pod.spec!
  const refs: {kind: Reference['kind']; name: string}[] = []
  if (spec.serviceAccountName && spec.serviceAccountName !== 'default')
    refs.push({kind: 'ServiceAccount', name: spec.serviceAccountName})
  for (const container of spec.containers) {
    for (const env of container.env ?? [])
      if (env.valueFrom?.secretKeyRef?.name && !env.valueFrom.secretKeyRef.optional)
        refs.push({kind: 'Secret', name: env.valueFrom.secretKeyRef.name})
    for (const from of container.envFrom ?? [])
      if (from.secretRef?.name && !from.secretRef.optional) refs.push({kind: 'Secret', name: from.secretRef.name})
  }
  for (const volume of spec.volumes ?? []) {
    if (volume.secret?.secretName && !volume.secret.optional)
      refs.push({kind: 'Secret', name: volume.secret.secretName})
    // `volumes: [claim:/path]`: a claim that is not there would leave the pod Pending when its step is due (unless the run creates it as a cache).
    if (volume.persistentVolumeClaim?.claimName)
      refs.push({kind: 'PersistentVolumeClaim', name: volume.persistentVolumeClaim.claimName})
  }
  return refs
}
