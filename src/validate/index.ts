import {ParseProblem, parsePipelineText} from '../pipeline/parse.js'
import {parseDataQuickly} from '../pipeline/fast-parse.js'
import {DeferredSourceMap, type SourceFile} from '../pipeline/source.js'
import {substitute, type SubstitutionReference} from '../pipeline/substitute.js'
import {isPipelineVariable, PIPELINE_VARIABLES, RUNTIME_VARIABLES} from '../pipeline/ci-variables.js'
import type {WorkflowText} from '../pipeline/load.js'
import {type Issue, IssueCollector} from './issue.js'
import {checkWorkflow} from './structure.js'
import {didYouMean} from './suggest.js'

export interface CheckedWorkflow {
  source?: SourceFile
  issues: Issue[]
  /** The text after substitution, as it was parsed. */
  text?: string
}

/**
 * Substitutes, parses and checks one workflow text. A substitution error (which fails the whole workflow in
 * Woodpecker) or a parse failure becomes a single issue. An undefined `${VAR}` is a warning at the
 * reference: for a run it becomes empty as in Woodpecker; when only validating it is kept as written. Names
 * Woodpecker defines are not reported, except those it only sets inside a running step (empty here).
 */
export function checkWorkflowText(
  workflow: WorkflowText,
  vars: Readonly<Record<string, string>>,
  forRun = false,
): CheckedWorkflow {
  const {text, undefinedReferences, error: substitutionError} = substitute(workflow.text, vars, !forRun)
  if (substitutionError) {
    const {line, col} = positionAt(workflow.text, substitutionError.offset)
    return {
      issues: [
        {
          severity: 'error',
          file: workflow.file,
          line,
          col,
          path: '',
          message: substitutionError.message,
          hint: 'Woodpecker fails the whole workflow on it; write `$${` for a literal `${`',
        },
      ],
    }
  }
  let source: SourceFile
  try {
    const quick = parseDataQuickly(text)
    source = quick
      ? {
          file: workflow.file,
          data: quick.data,
          map: new DeferredSourceMap(() => parsePipelineText(workflow.file, text).map),
        }
      : parsePipelineText(workflow.file, text)
  } catch (error) {
    if (!(error instanceof ParseProblem)) throw error
    return {issues: [parseIssue(workflow, error)]}
  }
  const c = new IssueCollector(source)
  try {
    checkWorkflow(c, source.data)
  } catch (error) {
    // The quick parser accepted what the careful one (asked for positions) rejects: report that.
    if (!(error instanceof ParseProblem)) throw error
    return {issues: [parseIssue(workflow, error)]}
  }
  c.issues.push(...undefinedWarnings(workflow, undefinedReferences, vars))
  return {source, issues: c.issues, text}
}

/**
 * A YAML error of the substituted text. Substitution also turns `\\` into `\` and `\/` into `/` anywhere
 * in the file, which breaks double-quoted escapes such as `"^v\\d+$"`: say so when the file has them.
 */
function parseIssue(workflow: WorkflowText, error: ParseProblem): Issue {
  const issue: Issue = {
    severity: 'error',
    file: workflow.file,
    line: error.pos.line,
    col: error.pos.col,
    path: '',
    message: error.message,
  }
  if (/\\[\\/]/.test(workflow.text))
    issue.hint =
      "before parsing, Woodpecker's substitution turns `\\\\` into `\\` and `\\/` into `/` everywhere in the file: in double quotes write `\\\\\\\\` for one backslash, or use single quotes"
  return issue
}

const runtimeNames = new Set(RUNTIME_VARIABLES)

/** One warning per undefined name, at its first reference. */
function undefinedWarnings(
  workflow: WorkflowText,
  references: readonly SubstitutionReference[],
  vars: Readonly<Record<string, string>>,
): Issue[] {
  const issues: Issue[] = []
  const seen = new Set<string>()
  for (const {name, offset} of references) {
    if (seen.has(name) || isPipelineVariable(name)) continue
    seen.add(name)
    const {line, col} = positionAt(workflow.text, offset)
    const at = {severity: 'warning' as const, file: workflow.file, line, col, path: ''}
    if (runtimeNames.has(name)) {
      issues.push({
        ...at,
        message: `\`\${${name}}\` is empty here: Woodpecker sets ${name} only inside a running step, after \`\${...}\` is substituted`,
        hint: `write $\${${name}} to leave it to the step's shell`,
      })
      continue
    }
    const suggestion = didYouMean(name, [...PIPELINE_VARIABLES, ...Object.keys(vars)])
    issues.push({
      ...at,
      message: `\`\${${name}}\` is not defined: it becomes empty when the pipeline runs`,
      hint: suggestion ?? `define it with --env or the matrix, or write $\${${name}} for a literal`,
    })
  }
  return issues
}

/** 1-based line and column of a character offset. */
function positionAt(text: string, offset: number): {line: number; col: number} {
  const before = text.slice(0, offset)
  const lineStart = before.lastIndexOf('\n') + 1
  let line = 1
  for (let i = before.indexOf('\n'); i >= 0; i = before.indexOf('\n', i + 1)) line++
  return {line, col: offset - lineStart + 1}
}
