import {logLines, type RunRecord, type StepRecord, type WorkflowRecord} from './recorder.js'
import {duration, reasonKind} from './report.js'

/*
 * `wpk8s exec --junit FILE.xml`: JUnit XML as CI systems and IDEs read it (the Ant/Surefire form):
 * <testsuites> with a <testsuite> per workflow and a <testcase> per step and service; skipped steps
 * get <skipped>, failed ones <failure> (exit code, reason, the log's last lines), steps the run's
 * error stopped <error>. Pure: the same record gives the same file.
 */

/** Lines of the log put into a failure. */
export const JUNIT_LOG_TAIL = 50

export function renderJunit(record: RunRecord): string {
  const suites = record.workflows.map((w) => suite(w, record))
  // An error before any workflow started (the cluster could not be reached): one case carries it.
  if (suites.length === 0 && record.error) {
    suites.push({
      tests: 1,
      failures: 0,
      errors: 1,
      skipped: 0,
      time: (record.endedAt - record.startedAt) / 1000,
      xml: `  <testsuite name="wpk8s" tests="1" failures="0" errors="1" skipped="0" time="${secs(record.endedAt - record.startedAt)}" timestamp="${stamp(record.startedAt)}">\n    <testcase name="run" classname="wpk8s" time="0.000">\n      <error message="${attr(record.error)}" type="error">${text(record.hint ? `hint: ${record.hint}` : '')}</error>\n    </testcase>\n  </testsuite>`,
    })
  }
  const sum = (k: 'tests' | 'failures' | 'errors' | 'skipped') => suites.reduce((n, s) => n + s[k], 0)
  return `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="wpk8s" tests="${sum('tests')}" failures="${sum('failures')}" errors="${sum('errors')}" skipped="${sum('skipped')}" time="${secs(record.endedAt - record.startedAt)}" timestamp="${stamp(record.startedAt)}">
${suites.map((s) => s.xml).join('\n')}
</testsuites>
`
}

interface Suite {
  tests: number
  failures: number
  errors: number
  skipped: number
  time: number
  xml: string
}

function suite(w: WorkflowRecord, record: RunRecord): Suite {
  const end = w.phases.find((p) => p.name === 'cleanup')?.start ?? w.endedAt ?? record.endedAt
  const cases = w.steps.map((s) => testcase(s, w, end))
  // A run error no step carries (the workspace could not be provisioned, ...): a case of its own.
  if (w.status === 'error' && w.error && !cases.some((c) => c.outcome === 'error')) {
    cases.push({
      outcome: 'error',
      xml: `    <testcase name="(run)" classname="${attr(classname(w))}" time="0.000">\n      <error message="${attr(w.error)}" type="error">${text(w.hint ? `hint: ${w.hint}` : '')}</error>\n    </testcase>`,
    })
  }
  const count = (o: Outcome) => cases.filter((c) => c.outcome === o).length
  const started = w.startedAt ?? record.startedAt
  const time = (w.endedAt ?? record.endedAt) - started
  const properties = [
    ['run-id', w.runId],
    ['namespace', w.namespace],
    ['cluster', w.server],
    ['status', w.status],
    ['exit-code', w.exitCode?.toString()],
    ['reason', w.reason],
  ].filter((p): p is [string, string] => typeof p[1] === 'string' && p[1] !== '')
  const props = properties.length
    ? `    <properties>\n${properties.map(([k, v]) => `      <property name="${attr(k)}" value="${attr(v)}"/>`).join('\n')}\n    </properties>\n`
    : ''
  const xml = `  <testsuite name="${attr(w.title)}" tests="${cases.length}" failures="${count('failure')}" errors="${count('error')}" skipped="${count('skipped')}" time="${secs(time)}" timestamp="${stamp(started)}">
${props}${cases.map((c) => c.xml).join('\n')}
  </testsuite>`
  return {tests: cases.length, failures: count('failure'), errors: count('error'), skipped: count('skipped'), time, xml}
}

type Outcome = 'success' | 'failure' | 'error' | 'skipped'

function testcase(s: StepRecord, w: WorkflowRecord, workflowEnd: number): {outcome: Outcome; xml: string} {
  const name = s.kind === 'service' ? `${s.name} (service)` : s.name
  const time = s.status === 'skipped' ? 0 : duration(s, workflowEnd)
  const open = `    <testcase name="${attr(name)}" classname="${attr(classname(w))}" time="${secs(time)}">`
  const close = '    </testcase>'
  const tail = logLines(s.log).slice(-JUNIT_LOG_TAIL).join('\n')
  if (s.status === 'skipped')
    return {outcome: 'skipped', xml: `${open}\n      <skipped message="${attr(s.reason ?? 'skipped')}"/>\n${close}`}
  if (s.status === 'pending') {
    return {
      outcome: 'error',
      xml: `${open}\n      <error message="${attr(`did not end${w.error ? `: ${w.error}` : ''}`)}" type="not-ended">${text(tail)}</error>\n${close}`,
    }
  }
  if (s.status === 'failure') {
    // Without an exit code the step did not end by itself: the run's error (or a missing secret) stopped it.
    const error = s.exitCode === undefined
    const message =
      [s.exitCode === undefined ? '' : `exit code ${s.exitCode}`, s.reason ?? ''].filter(Boolean).join(': ') || 'failed'
    const type = reasonKind(s) ?? (error ? 'error' : 'exit-code')
    const tag = error ? 'error' : 'failure'
    return {
      outcome: error ? 'error' : 'failure',
      xml: `${open}\n      <${tag} message="${attr(message)}" type="${attr(type)}">${text(tail)}</${tag}>\n${close}`,
    }
  }
  return {
    outcome: 'success',
    xml: `${open}${s.reason ? `\n      <system-out>${text(s.reason)}</system-out>\n${close}` : `</testcase>`}`,
  }
}

function classname(w: WorkflowRecord): string {
  return w.title
}

function secs(ms: number): string {
  return (Math.max(0, ms) / 1000).toFixed(3)
}

/** ISO 8601 without zone, as the JUnit schema has it (UTC). */
function stamp(ms: number): string {
  return new Date(ms || 0).toISOString().replace(/\.\d+Z$/, '')
}

/** Characters XML 1.0 forbids (controls, lone surrogates, U+FFFE/FFFF) go, escape sequences of colours too. */
export function xmlClean(value: string): string {
  return value
    .replace(/\x1b\[[0-9;?]*[A-Za-z@`~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g, '')
    .replace(/[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
}

/** Element content. */
function text(value: string): string {
  return xmlClean(value).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** Attribute value (double-quoted); line breaks and tabs kept as character references. */
function attr(value: string): string {
  return text(value)
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;')
    .replace(/\t/g, '&#9;')
}
