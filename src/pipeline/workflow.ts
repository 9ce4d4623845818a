import {InvalidPipelineError, UsageError} from '../errors.js'
import {formatIssueReport, issueReport} from '../render/issues.js'
import {hasErrors, type Issue, sortIssues} from '../validate/issue.js'
import {checkWorkflowText} from '../validate/index.js'
import {discoverWorkflowFiles, readWorkflowFile, UnusableContent} from './load.js'
import type {Workflow} from './model.js'
import {toWorkflow} from './normalize.js'

export interface LoadedWorkflows {
  workflows: Workflow[]
  warnings: Issue[]
}

/**
 * Loads, substitutes (`vars`) and validates the workflows of a target for running. Any error stops
 * here with every issue listed, before anything touches a cluster.
 */
export function loadWorkflows(target: string | undefined, cwd: string, vars: Record<string, string>): LoadedWorkflows {
  const workflows: Workflow[] = []
  const issues: Issue[] = []
  const files = discoverWorkflowFiles(target, cwd)
  for (const file of files) {
    let text
    try {
      text = readWorkflowFile(file)
    } catch (error) {
      if (error instanceof UnusableContent) throw new UsageError(`${file}: ${error.message}`)
      throw error
    }
    const checked = checkWorkflowText(text, vars, true)
    issues.push(...checked.issues)
    if (checked.source && !hasErrors(checked.issues)) workflows.push(toWorkflow(text.name, file, checked.source.data as Record<string, unknown>))
  }
  if (hasErrors(issues)) throw new InvalidPipelineError(formatIssueReport(issueReport(files, sortIssues(issues), false), false))
  return {workflows, warnings: issues}
}
