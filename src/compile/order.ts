import type {Step, Workflow} from '../pipeline/model.js'

/**
 * Steps in an order that respects `depends_on` (file order otherwise). Optional dependencies on absent
 * steps are dropped. Validation has already rejected cycles and unknown names.
 */
export function sequentialOrder(steps: readonly Step[]): Step[] {
  const names = new Set(steps.map((s) => s.name))
  const done = new Set<string>()
  const ordered: Step[] = []
  while (ordered.length < steps.length) {
    const next = steps.find((s) => !done.has(s.name) && (s.dependsOn ?? []).every((d) => done.has(d.name) || !names.has(d.name)))
    if (!next) throw new Error('dependency cycle')
    done.add(next.name)
    ordered.push(next)
  }
  return ordered
}

/** Woodpecker features `exec` does not run yet: refusing them beats running the pipeline wrongly. */
export function unsupportedFeatures(workflow: Workflow): string[] {
  const found: string[] = []
  if (workflow.services.length > 0) found.push('services')
  if (workflow.steps.some((s) => s.detach)) found.push('detach: true')
  if (workflow.matrix !== undefined) found.push('matrix')
  if (workflow.when !== undefined) found.push('workflow-level when')
  if (workflow.steps.some((s) => s.when !== undefined)) found.push('step `when` conditions')
  if (workflow.steps.some((s) => Object.values(s.environment).some((v) => typeof v !== 'string'))) found.push('from_secret')
  return found
}
