import type {Workflow} from '../pipeline/model.js'

/** Woodpecker features `exec` does not run yet: refusing them beats running the pipeline wrongly. */
export function unsupportedFeatures(workflow: Workflow): string[] {
  const found: string[] = []
  if (workflow.matrix !== undefined) found.push('matrix')
  if (workflow.steps.some((s) => Object.values(s.environment).some((v) => typeof v !== 'string'))) found.push('from_secret')
  return found
}
