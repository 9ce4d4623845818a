import {checkWorkflowText} from '../../src/validate/index.js'
import type {Issue} from '../../src/validate/issue.js'

export function issuesOf(text: string, vars: Record<string, string> = {}): Issue[] {
  return checkWorkflowText({name: 'test', file: 'test.yml', text}, vars).issues
}

export function errorsOf(text: string): Issue[] {
  return issuesOf(text).filter((i) => i.severity === 'error')
}

/** A pipeline with one step whose backend_options.kubernetes is `options` (YAML, indented by the caller). */
export function withKubernetes(options: string): string {
  const indented = options
    .trim()
    .split('\n')
    .map((l) => `        ${l}`)
    .join('\n')
  return `steps:\n  build:\n    image: golang:1.22\n    commands: [go build]\n    backend_options:\n      kubernetes:\n${indented}\n`
}
