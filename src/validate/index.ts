import {ParseProblem, parsePipelineText} from '../pipeline/parse.js'
import {parseDataQuickly} from '../pipeline/fast-parse.js'
import {DeferredSourceMap, type SourceFile} from '../pipeline/source.js'
import {substitute} from '../pipeline/substitute.js'
import type {WorkflowText} from '../pipeline/load.js'
import {type Issue, IssueCollector} from './issue.js'
import {checkWorkflow} from './structure.js'

export interface CheckedWorkflow {
  source?: SourceFile
  issues: Issue[]
}

/**
 * Substitutes, parses and checks one workflow text. Parse failures become a single issue; an
 * undefined `${VAR}` is a warning: for a run it becomes empty as in Woodpecker; when only validating it is
 * kept as written (and `CI_*` names, filled in at run time, are not reported).
 */
export function checkWorkflowText(workflow: WorkflowText, vars: Readonly<Record<string, string>>, forRun = false): CheckedWorkflow {
  const {text, undefinedNames} = substitute(workflow.text, vars, !forRun)
  let source: SourceFile
  try {
    const quick = parseDataQuickly(text)
    source = quick
      ? {file: workflow.file, data: quick.data, map: new DeferredSourceMap(() => parsePipelineText(workflow.file, text).map)}
      : parsePipelineText(workflow.file, text)
  } catch (error) {
    if (!(error instanceof ParseProblem)) throw error
    const issue: Issue = {severity: 'error', file: workflow.file, line: error.pos.line, col: error.pos.col, path: '', message: error.message}
    return {issues: [issue]}
  }
  const c = new IssueCollector(source)
  try {
    checkWorkflow(c, source.data)
  } catch (error) {
    // The quick parser accepted what the careful one (asked for positions) rejects: report that.
    if (!(error instanceof ParseProblem)) throw error
    return {issues: [{severity: 'error', file: workflow.file, line: error.pos.line, col: error.pos.col, path: '', message: error.message}]}
  }
  for (const name of undefinedNames.filter((n) => forRun || !n.startsWith('CI_'))) {
    const line = workflow.text.split('\n').findIndex((l) => l.includes('${' + name))
    c.issues.push({severity: 'warning', file: workflow.file, line: line + 1, col: 1, path: '', message: `\`\${${name}}\` is not defined: it becomes empty when the pipeline runs`, hint: 'define it with --env or the matrix, or write $${' + name + '} for a literal'})
  }
  return {source, issues: c.issues}
}
