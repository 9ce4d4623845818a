import {Chalk} from 'chalk'
import type {PlanFormat, PlanView, StepView, WorkflowView} from '../app/plan.js'

/* Pure renderers of `wpk8s plan`: a tree for people, JSON for tools, Mermaid and Graphviz DOT for docs. */

export interface TreeOptions {
  color: boolean
  /** The terminal's width; lines longer than this wrap (none: no wrapping, as for a pipe). */
  width?: number
}

export function renderPlan(view: PlanView, format: PlanFormat, options: TreeOptions = {color: false}): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(view, null, 2)}\n`
    case 'mermaid':
      return renderMermaid(view)
    case 'dot':
      return renderDot(view)
    default:
      return renderTree(view, options)
  }
}

/* ---------------- tree ---------------- */

type Style = 'bold' | 'dim' | 'green' | 'yellow' | 'magenta' | 'red' | 'cyan'
interface Segment {
  text: string
  style?: Style
}
interface TreeNode {
  line: Segment[]
  children: TreeNode[]
}

const MARK = {run: '●', skip: '↷', 'on-failure': '!'} as const
const MARK_STYLE: Record<StepView['verdict'], Style> = {run: 'green', skip: 'yellow', 'on-failure': 'magenta'}
/** Below this width the images are left out of the step lines. */
const IMAGE_MIN_WIDTH = 60

export function renderTree(view: PlanView, options: TreeOptions): string {
  const c = new Chalk({level: options.color ? 1 : 0})
  const paint = (s: Segment) => (s.style ? c[s.style](s.text) : s.text)
  const width = options.width && options.width > 0 ? Math.max(options.width, 20) : undefined
  const out: string[] = []
  const emit = (first: string, rest: string, segments: Segment[]) =>
    out.push(
      ...wrap(segments, first, rest, width).map((line) =>
        line.map((s) => (s.style === 'dim' && s.text.trim() === '' ? s.text : paint(s))).join(''),
      ),
    )

  const platforms = new Set(view.workflows.map(platformText))
  const shared = platforms.size === 1 ? [...platforms][0] : undefined
  for (const segments of header(view)) emit('', '  ', segments)
  if (shared) emit('', '  ', [{text: `platform ${shared}`, style: 'dim'}])
  for (const workflow of view.workflows) {
    out.push('')
    emit('', '  ', workflowLine(workflow, !shared))
    printChildren(workflowChildren(workflow, width === undefined || width >= IMAGE_MIN_WIDTH), '', emit)
  }
  out.push('')
  const t = view.totals
  const parts = [`${t.run} run`, `${t.skip} skipped`, ...(t.onFailure ? [`${t.onFailure} only after a failure`] : [])]
  emit('', '  ', [
    {
      text: `${t.workflows} workflow${t.workflows === 1 ? '' : 's'}, ${t.steps} step${t.steps === 1 ? '' : 's'} and services: ${parts.join(', ')}`,
      style: 'bold',
    },
  ])
  if (view.blocked) {
    emit('', '  ', [{text: 'exec would stop before the run: ', style: 'red'}, {text: view.blocked.message}])
    if (view.blocked.hint) emit('  ', '    ', [{text: `hint: ${view.blocked.hint}`}])
  }
  return `${out.join('\n')}\n`
}

function header(view: PlanView): Segment[][] {
  const ctx = view.context
  const what: string[] = [`event ${ctx.event}`]
  if (ctx.tag) what.push(`tag ${ctx.tag}`)
  if (ctx.pullRequest !== undefined) what.push(`pull request ${ctx.pullRequest}`)
  if (ctx.branch) what.push(`branch ${ctx.branch}`)
  if (ctx.ref) what.push(`ref ${ctx.ref}`)
  if (ctx.deployTo) what.push(`deploy to ${ctx.deployTo}`)
  const lines: Segment[][] = [[{text: 'wpk8s plan', style: 'bold'}, {text: ` for ${what.join(', ')}`}]]
  const files = ctx.changedFiles
  const shown = files.slice(0, 5).join(', ')
  lines.push([
    {
      text:
        files.length === 0
          ? 'no changed files'
          : `${files.length} changed file${files.length === 1 ? '' : 's'}: ${shown}${files.length > 5 ? `, and ${files.length - 5} more` : ''}`,
      style: 'dim',
    },
  ])
  if (ctx.selected)
    lines.push([{text: `only ${ctx.selected.join(', ')} and what they depend on (--step)`, style: 'dim'}])
  return lines
}

const PLATFORM_SOURCE = {
  flag: '--platform',
  label: 'labels.platform',
  machine: "this machine's; exec uses the cluster nodes'",
} as const

function platformText(w: WorkflowView): string {
  return `${w.platform} (${PLATFORM_SOURCE[w.platformSource]})`
}

function workflowLine(w: WorkflowView, platform: boolean): Segment[] {
  const line: Segment[] = [
    {text: `${markOf(w.verdict)} `, style: MARK_STYLE[w.verdict]},
    {text: w.title, style: 'bold'},
    {text: `  ${w.file}`, style: 'dim'},
  ]
  if (platform) line.push({text: `  ${platformText(w)}`, style: 'dim'})
  if (w.dependsOn.length) line.push({text: `  after ${w.dependsOn.join(', ')}`, style: 'cyan'})
  if (w.runsOn.includes('failure') && w.runsOn.includes('success'))
    line.push({text: '  also after a failure', style: 'magenta'})
  if (w.verdict !== 'run') line.push({text: `  ${verdictText(w.verdict, w.reason)}`, style: MARK_STYLE[w.verdict]})
  return line
}

function workflowChildren(w: WorkflowView, images: boolean): TreeNode[] {
  const dag = isDag(w)
  const byName = new Map(w.steps.map((s) => [s.name, s]))
  const groups: TreeNode[] = []
  if (w.services.length)
    groups.push({
      line: [{text: 'services', style: 'dim'}],
      children: w.services.map((s) => ({line: stepLine(s, images, false), children: []})),
    })
  // Without depends_on each step waits for the one before: one list in order says it best.
  if (!dag && w.steps.length > 1)
    groups.push({
      line: [{text: 'steps, one after the other', style: 'dim'}],
      children: w.steps.map((s) => ({line: stepLine(s, images, false), children: []})),
    })
  else {
    w.waves.forEach((names, i) => {
      groups.push({
        line: [{text: `wave ${i + 1}`, style: 'dim'}],
        children: names.map((n) => ({line: stepLine(byName.get(n)!, images, dag), children: []})),
      })
    })
  }
  if (groups.length === 0) groups.push({line: [{text: 'no steps', style: 'dim'}], children: []})
  return groups
}

function stepLine(s: StepView, images: boolean, dag: boolean): Segment[] {
  const line: Segment[] = [
    {text: `${markOf(s.verdict)} `, style: MARK_STYLE[s.verdict]},
    {text: s.name, style: 'bold'},
  ]
  if (images) line.push({text: `  ${s.image}`, style: 'dim'})
  if (dag && s.dependsOn.length) line.push({text: `  ← ${s.dependsOn.join(', ')}`, style: 'cyan'})
  const notes: string[] = []
  if (s.kind === 'step' && s.background) notes.push('detached')
  if (s.ignoreFailure) notes.push('failure ignored')
  if (s.verdict === 'run' && s.afterFailure) notes.push('also after a failure')
  if (notes.length) line.push({text: `  (${notes.join(', ')})`, style: 'dim'})
  if (s.verdict !== 'run') line.push({text: `  ${verdictText(s.verdict, s.reason)}`, style: MARK_STYLE[s.verdict]})
  if (s.missingSecret && s.verdict !== 'skip') {
    line.push({
      text: `  needs the secret ${s.missingSecret.secret}, not given: ${s.verdict === 'run' ? 'exec stops before the run' : 'fails if it becomes due'}`,
      style: 'red',
    })
  }
  return line
}

function verdictText(verdict: StepView['verdict'], reason: string | undefined): string {
  if (verdict === 'skip') return `skipped${reason ? `: ${reason}` : ''}`
  if (verdict === 'on-failure')
    return `only after a failure${reason && !/only after a failure/.test(reason) ? ` (${reason})` : ''}`
  return ''
}

function markOf(verdict: StepView['verdict']): string {
  return MARK[verdict]
}

/** Steps in a graph (`depends_on`), as opposed to each waiting for the one before. */
function isDag(w: WorkflowView): boolean {
  return w.steps.some((s, i) =>
    i === 0 ? s.dependsOn.length > 0 : s.dependsOn.length !== 1 || s.dependsOn[0] !== w.steps[i - 1].name,
  )
}

function printChildren(
  nodes: TreeNode[],
  prefix: string,
  emit: (first: string, rest: string, segments: Segment[]) => void,
): void {
  nodes.forEach((node, i) => {
    const last = i === nodes.length - 1
    const branch = `${prefix}${last ? '└─ ' : '├─ '}`
    const below = `${prefix}${last ? '   ' : '│  '}`
    emit(branch, `${below}${node.children.length ? '│    ' : '     '}`, node.line)
    printChildren(node.children, below, emit)
  })
}

/**
 * Lays segments out on lines no wider than `width` (when given): words move to the next line, which
 * starts with `rest`; a word too long for any line is cut. Styles stay with their words.
 */
function wrap(segments: Segment[], first: string, rest: string, width: number | undefined): Segment[][] {
  if (width === undefined || visible(segments) + first.length <= width)
    return [[{text: first, style: 'dim'}, ...segments]]
  // On very narrow terminals the indentation of continuation lines shrinks so that words still fit.
  const indent = rest.length > width / 2 ? rest.slice(0, Math.floor(width / 2)) : rest
  const lines: Segment[][] = []
  let line: Segment[] = [{text: first, style: 'dim'}]
  let used = first.length
  const newLine = () => {
    lines.push(line)
    line = [{text: indent, style: 'dim'}]
    used = indent.length
  }
  for (const segment of segments) {
    for (const token of segment.text.split(/(?<= )/)) {
      let word = token
      if (used + word.trimEnd().length > width && used > indent.length) {
        newLine()
        word = word.trimStart()
        if (word === '') continue
      }
      while (used + word.trimEnd().length > width) {
        const room = Math.max(1, width - used)
        line.push({text: word.slice(0, room), style: segment.style})
        word = word.slice(room)
        newLine()
      }
      line.push({text: word, style: segment.style})
      used += word.length
    }
  }
  lines.push(line)
  return lines.map((l) => trimEnd(l))
}

function trimEnd(line: Segment[]): Segment[] {
  const copy = [...line]
  while (copy.length > 1 && copy[copy.length - 1].text.trim() === '') copy.pop()
  const last = copy[copy.length - 1]
  return [...copy.slice(0, -1), {...last, text: last.text.replace(/ +$/, '')}]
}

function visible(segments: Segment[]): number {
  return segments.reduce((n, s) => n + [...s.text].length, 0)
}

/* ---------------- Mermaid ---------------- */

/** Mermaid's entity codes: its labels take no raw quotes, angle brackets or `#`. */
function mermaidText(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').replace(/[#"<>&`]/g, (ch) => `#${ch.codePointAt(0)};`)
}

function ids(view: PlanView) {
  return view.workflows.map((w, i) => ({
    workflow: `w${i + 1}`,
    service: (j: number) => `w${i + 1}_svc${j + 1}`,
    step: new Map(w.steps.map((s, j) => [s.name, `w${i + 1}_s${j + 1}`])),
  }))
}

function labelLines(s: StepView, workflowRuns: boolean): string[] {
  const lines = [s.kind === 'service' ? `${s.name} (service)` : s.name]
  if (s.verdict !== 'run' && (workflowRuns || s.verdict === 'skip')) lines.push(verdictText(s.verdict, s.reason))
  else if (s.verdict === 'run' && s.afterFailure) lines.push('also after a failure')
  if (s.missingSecret && s.verdict !== 'skip') lines.push(`needs the secret ${s.missingSecret.secret}`)
  return lines
}

export function renderMermaid(view: PlanView): string {
  const all = ids(view)
  const out = ['flowchart TB']
  const classes: Record<string, string[]> = {skip: [], onFailure: [], service: [], blocked: []}
  view.workflows.forEach((w, i) => {
    const id = all[i]
    const title = `${w.title}${w.verdict === 'run' ? '' : ` (${verdictText(w.verdict, w.reason)})`}`
    out.push(`  subgraph ${id.workflow}["${mermaidText(title)}"]`)
    out.push('    direction TB')
    w.services.forEach((s, j) => {
      out.push(
        `    ${id.service(j)}[("${labelLines(s, w.verdict === 'run')
          .map(mermaidText)
          .join('<br/>')}")]`,
      )
      classes.service.push(id.service(j))
      if (s.verdict === 'skip') classes.skip.push(id.service(j))
    })
    for (const s of w.steps) {
      const node = id.step.get(s.name)!
      out.push(
        `    ${node}["${labelLines(s, w.verdict === 'run')
          .map(mermaidText)
          .join('<br/>')}"]`,
      )
      if (s.verdict === 'skip') classes.skip.push(node)
      else if (s.verdict === 'on-failure') classes.onFailure.push(node)
      if (s.missingSecret && s.verdict === 'run') classes.blocked.push(node)
    }
    for (const s of w.steps) for (const d of s.dependsOn) out.push(`    ${id.step.get(d)} --> ${id.step.get(s.name)}`)
    out.push('  end')
  })
  view.workflows.forEach((w, i) => {
    for (const dep of w.dependsOn)
      view.workflows.forEach(
        (other, j) => other.name === dep && j !== i && out.push(`  ${all[j].workflow} --> ${all[i].workflow}`),
      )
  })
  out.push('  classDef skip stroke-dasharray: 5 5,color:#777777')
  out.push('  classDef onFailure stroke:#b5179e,stroke-width:2px')
  out.push('  classDef blocked stroke:#d00000,stroke-width:2px')
  out.push('  classDef service fill:#eef4ff')
  for (const [name, nodes] of Object.entries(classes)) if (nodes.length) out.push(`  class ${nodes.join(',')} ${name}`)
  return `${out.join('\n')}\n`
}

/* ---------------- Graphviz DOT ---------------- */

/** A DOT double-quoted string: backslashes and quotes escaped, line breaks as `\n`. */
function dotString(text: string): string {
  return `"${text
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/\r\n|\r|\n/g, '\\n')}"`
}

export function renderDot(view: PlanView): string {
  const all = ids(view)
  const out = [
    'digraph plan {',
    '  compound=true;',
    '  rankdir=TB;',
    '  node [shape=box, style="rounded", fontname="Helvetica"];',
    '  edge [fontname="Helvetica"];',
  ]
  view.workflows.forEach((w, i) => {
    const id = all[i]
    const title = `${w.title}${w.verdict === 'run' ? '' : `\n${verdictText(w.verdict, w.reason)}`}`
    out.push(`  subgraph cluster_${id.workflow} {`)
    out.push(`    label=${dotString(title)};`)
    out.push(`    style=${w.verdict === 'run' ? '"rounded"' : '"rounded,dashed"'};`)
    // An invisible anchor, so workflows can be joined by an edge between their clusters.
    out.push(`    ${id.workflow} [shape=point, style=invis, width=0, height=0, label=""];`)
    w.services.forEach((s, j) =>
      out.push(`    ${id.service(j)} [${dotAttributes(s, w.verdict === 'run', 'cylinder')}];`),
    )
    for (const s of w.steps) out.push(`    ${id.step.get(s.name)} [${dotAttributes(s, w.verdict === 'run')}];`)
    for (const s of w.steps) for (const d of s.dependsOn) out.push(`    ${id.step.get(d)} -> ${id.step.get(s.name)};`)
    out.push('  }')
  })
  view.workflows.forEach((w, i) => {
    for (const dep of w.dependsOn) {
      view.workflows.forEach((other, j) => {
        if (other.name === dep && j !== i)
          out.push(
            `  ${all[j].workflow} -> ${all[i].workflow} [ltail=cluster_${all[j].workflow}, lhead=cluster_${all[i].workflow}];`,
          )
      })
    }
  })
  out.push('}')
  return `${out.join('\n')}\n`
}

function dotAttributes(s: StepView, workflowRuns: boolean, shape?: string): string {
  const attrs = [`label=${dotString(labelLines(s, workflowRuns).join('\n'))}`]
  if (shape) attrs.push(`shape=${shape}`)
  if (s.verdict === 'skip') attrs.push('style="rounded,dashed"', 'fontcolor="gray40"', 'color="gray50"')
  else if (s.verdict === 'on-failure') attrs.push('color="magenta3"', 'penwidth=2')
  if (s.missingSecret && s.verdict === 'run') attrs.push('color="red3"', 'penwidth=2')
  return attrs.join(', ')
}
