import {type BackendFlags, resolveBackendConfig} from '../config.js'
import {discoverWorkflowFiles, readWorkflowFile, UnusableContent, type WorkflowText} from '../pipeline/load.js'
import {matrixRows} from '../pipeline/matrix.js'
import {parseDataQuickly} from '../pipeline/fast-parse.js'
import {parsePipelineText} from '../pipeline/parse.js'
import {formatPath} from '../pipeline/source.js'
import {type CheckedWorkflow, checkWorkflowText} from './index.js'
import {type Issue, sortIssues} from './issue.js'

export interface ValidationResult {
  files: string[]
  issues: Issue[]
}

/** Validates every workflow of a target (file, folder, or discovered) plus the backend configuration. */
export function validateTarget(
  target: string | undefined,
  cwd: string,
  flags: BackendFlags,
  env: NodeJS.ProcessEnv,
): ValidationResult {
  const files = discoverWorkflowFiles(target, cwd)
  const issues: Issue[] = [...resolveBackendConfig(flags, env).issues]
  const names: string[] = []
  const checked: CheckedWorkflow[] = []
  for (const file of files) {
    let workflow: WorkflowText
    try {
      workflow = readWorkflowFile(file)
    } catch (error) {
      if (!(error instanceof UnusableContent)) throw error
      issues.push({severity: 'error', file, line: 0, col: 0, path: '', message: error.message})
      continue
    }
    names.push(workflow.name)
    const result = checkWorkflowText(workflow, matrixVars(workflow))
    checked.push(result)
    issues.push(...result.issues)
  }
  if (files.length > 1) issues.push(...checkWorkflowDependencies(checked, names))
  return {files, issues: sortIssues(issues)}
}

/** Values of the first matrix combination, so `${GO_VERSION}`-style references are checked as filled. */
function matrixVars(workflow: WorkflowText): Record<string, string> {
  if (!/^matrix\s*:/m.test(workflow.text)) return {}
  try {
    const data = (parseDataQuickly(workflow.text)?.data ??
      parsePipelineText(workflow.file, workflow.text).data) as Record<string, unknown> | null
    return matrixRows(data?.matrix)[0] ?? {}
  } catch {
    return {}
  }
}

/** Workflow `depends_on` names must exist among the workflows of the folder (unless optional). */
export function checkWorkflowDependencies(checked: CheckedWorkflow[], names: string[]): Issue[] {
  const issues: Issue[] = []
  for (const {source} of checked) {
    const data = source?.data as Record<string, unknown> | null | undefined
    if (!source || !data || !('depends_on' in data)) continue
    const deps = Array.isArray(data.depends_on) ? data.depends_on : [data.depends_on]
    deps.forEach((dep, i) => {
      const optional = typeof dep === 'object' && dep !== null && (dep as {optional?: unknown}).optional === true
      if (typeof dep === 'object' && dep !== null) dep = (dep as {name?: unknown}).name
      if (typeof dep !== 'string' || names.includes(dep) || optional) return
      const path = Array.isArray(data.depends_on) ? ['depends_on', i] : ['depends_on']
      const pos = source.map.valueAt(path)
      issues.push({
        severity: 'error',
        file: source.file,
        line: pos.line,
        col: pos.col,
        path: formatPath(path),
        message: `depends on unknown workflow \`${dep}\``,
        expected: names.join(', '),
        found: JSON.stringify(dep),
      })
    })
  }
  return issues
}
