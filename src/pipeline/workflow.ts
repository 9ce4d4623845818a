import {InvalidPipelineError, UsageError} from '../errors.js'
import {formatIssueReport, issueReport} from '../render/issues.js'
import {hasErrors, type Issue, sortIssues} from '../validate/issue.js'
import {checkWorkflowDependencies} from '../validate/files.js'
import {type CheckedWorkflow, checkWorkflowText} from '../validate/index.js'
import {entriesOf} from './entries.js'
import {discoverWorkflowFiles, readWorkflowFile, UnusableContent, type WorkflowText} from './load.js'
import {matrixRows} from './matrix.js'
import type {WorkflowIdentity} from './ci-variables.js'
import type {Workflow} from './model.js'
import {toWorkflow} from './normalize.js'
import {parsePipelineText} from './parse.js'

export interface LoadedWorkflows {
  workflows: Workflow[]
  warnings: Issue[]
}

/**
 * Loads the workflows of a target for running: one instance per matrix combination, each with its
 * values substituted (the workflow's variables, then the combination's over them) and validated. Any error stops here with every
 * issue listed, before anything touches a cluster.
 */
export function loadWorkflows(
  target: string | undefined,
  cwd: string,
  varsFor: (workflow: WorkflowIdentity) => Record<string, string>,
): LoadedWorkflows {
  const workflows: Workflow[] = []
  const issues: Issue[] = []
  const files = discoverWorkflowFiles(target, cwd)
  const firsts: CheckedWorkflow[] = []
  const names: string[] = []
  for (const file of files) {
    const text = readForRun(file)
    names.push(text.name)
    matrixOf(text).forEach((row, i) => {
      const checked = checkWorkflowText(
        text,
        {...varsFor({name: text.name, number: workflows.length + 1}), ...row},
        true,
      )
      if (i === 0) firsts.push(checked)
      issues.push(...checked.issues.filter((issue) => !issues.some((seen) => sameIssue(seen, issue))))
      if (checked.source && !hasErrors(checked.issues))
        workflows.push(
          withTextualConditions(
            toWorkflow(text.name, file, checked.source.data as Record<string, unknown>, row),
            checked.text,
          ),
        )
    })
  }
  if (files.length > 1) issues.push(...checkWorkflowDependencies(firsts, names))
  if (hasErrors(issues))
    throw new InvalidPipelineError(formatIssueReport(issueReport(files, sortIssues(issues), false), false))
  return {workflows, warnings: issues}
}

function readForRun(file: string): WorkflowText {
  try {
    return readWorkflowFile(file)
  } catch (error) {
    if (error instanceof UnusableContent) throw new UsageError(`${file}: ${error.message}`)
    throw error
  }
}

/** The matrix combinations of a workflow text (one empty combination without a matrix). */
function matrixOf(text: WorkflowText): Record<string, string>[] {
  if (!/^matrix\s*:/m.test(text.text)) return [{}]
  let data: unknown
  try {
    // Axis values are strings in Woodpecker: `GO: [1.20]` stays `1.20`.
    data = parsePipelineText(text.file, text.text, {numbersAsText: true}).data
  } catch {
    return [{}]
  }
  const rows = matrixRows((data as Record<string, unknown> | null)?.matrix)
  return rows.length > 0 ? rows : [{}]
}

/**
 * Woodpecker decodes `when` values into strings, so a number keeps the text written (`branch: 1.20`,
 * `matrix: {GO: 1.20}`); the checked data has them as numbers. The conditions are taken from the
 * same (substituted) text read that way; steps and services are in the same order in both.
 */
function withTextualConditions(workflow: Workflow, text: string | undefined): Workflow {
  if (text === undefined || !/\bwhen\s*:/.test(text)) return workflow
  const data = parsePipelineText(workflow.file, text, {numbersAsText: true}).data as Record<string, unknown>
  const whens = (section: unknown) =>
    entriesOf(section, 'steps').map((e) =>
      typeof e.value === 'object' && e.value !== null ? (e.value as Record<string, unknown>).when : undefined,
    )
  const steps = whens(data.steps)
  const services = whens(data.services)
  return {
    ...workflow,
    when: data.when,
    steps: workflow.steps.map((s, i) => ({...s, when: steps[i]})),
    services: workflow.services.map((s, i) => ({...s, when: services[i]})),
  }
}

function sameIssue(a: Issue, b: Issue): boolean {
  return a.file === b.file && a.line === b.line && a.col === b.col && a.message === b.message
}
