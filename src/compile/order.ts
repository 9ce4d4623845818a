import type {Workflow} from '../pipeline/model.js'

/** Woodpecker features `exec` does not run yet: refusing them beats running the pipeline wrongly. */
export function unsupportedFeatures(workflow: Workflow): string[] {
  const found: string[] = []
  if (workflow.matrix !== undefined) found.push('matrix')
  return found
}
