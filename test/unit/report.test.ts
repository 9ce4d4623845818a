import {describe, expect, it} from 'vitest'
import {renderJunit, xmlClean} from '../../src/render/junit.js'
import {LOG_HEAD, LOG_TAIL, logLines, recordFromJsonLines, RunRecorder, withReports} from '../../src/render/recorder.js'
import {ansiHtml, esc, renderHtmlReport} from '../../src/render/report.js'
import type {Renderer} from '../../src/render/choose.js'
import type {RunEvent} from '../../src/runner/events.js'
import {elements, parseXml, type XmlElement} from './xml.js'

const T0 = Date.UTC(2026, 10, 28, 10, 0, 0)

/** A recorded run of one workflow: a service, a success, a skipped step, an OOM kill, a failure; times in ms after T0. */
function oneWorkflow(): [number, RunEvent][] {
  return [
    [0, {type: 'pipeline-start', workflows: ['ci']}],
    [
      20,
      {
        type: 'run-start',
        runId: 'abc123',
        namespace: 'woodpecker',
        workflow: 'ci',
        server: 'https://10.0.0.5:6443',
        steps: ['hello', 'skipped', 'oom', 'broken'],
        services: ['db'],
        dependsOn: {hello: [], skipped: ['hello'], oom: ['hello'], broken: ['oom']},
      },
    ],
    [30, {type: 'phase', phase: 'workspace', status: 'start'}],
    [900, {type: 'phase', phase: 'workspace', status: 'done'}],
    [900, {type: 'phase', phase: 'ship', status: 'start'}],
    [1100, {type: 'phase', phase: 'ship', status: 'done', detail: '12 KiB gzipped, through the pod proxy'}],
    [1900, {type: 'step-start', step: 'db', pod: 'wp-abc123-db', background: true}],
    [1950, {type: 'log', step: 'db', line: 'ready to accept connections'}],
    [2800, {type: 'step-start', step: 'hello', pod: 'wp-abc123-hello'}],
    [2810, {type: 'log', step: 'hello', line: '+ echo hello'}],
    [2820, {type: 'log', step: 'hello', line: '\u001b[31mred\u001b[0m <script>alert(1)</script> & "quotes" ********'}],
    [4000, {type: 'step-end', step: 'hello', status: 'success', exitCode: 0, durationMs: 2000}],
    [
      4001,
      {type: 'step-end', step: 'skipped', status: 'skipped', durationMs: 0, reason: 'when: event is push, not tag'},
    ],
    [5000, {type: 'step-start', step: 'oom', pod: 'wp-abc123-oom'}],
    [5010, {type: 'log', step: 'oom', line: '+ head -c 200m /dev/zero | tail'}],
    [6500, {type: 'log', step: 'oom', line: 'Killed'}],
    [
      6600,
      {
        type: 'step-end',
        step: 'oom',
        status: 'failure',
        exitCode: 137,
        durationMs: 2599,
        reason: 'killed for exceeding its memory limit (32Mi)',
        containerMs: 1000,
      },
    ],
    [7400, {type: 'step-start', step: 'broken', pod: 'wp-abc123-broken'}],
    ...Array.from(
      {length: 60},
      (_, i) => [7410 + i, {type: 'log', step: 'broken', line: `line ${i + 1}`}] as [number, RunEvent],
    ),
    [7500, {type: 'log', step: 'broken', line: 'bad \u0000char\u0007 \ud800 and \u001b[1mbold\u001b[22m'}],
    [8700, {type: 'step-end', step: 'broken', status: 'failure', exitCode: 3, durationMs: 2099}],
    [8800, {type: 'cleanup', status: 'start'}],
    [8810, {type: 'step-end', step: 'db', status: 'success', durationMs: 0, reason: 'stopped at the end'}],
    [9300, {type: 'cleanup', status: 'done', deleted: 6}],
    [9310, {type: 'run-end', status: 'failure', exitCode: 1, durationMs: 9290}],
    [
      9320,
      {
        type: 'pipeline-end',
        status: 'failure',
        exitCode: 1,
        durationMs: 9320,
        workflows: [{name: 'ci', status: 'failure'}],
      },
    ],
  ]
}

function record(events: [number, RunEvent][]) {
  const recorder = new RunRecorder()
  for (const [t, e] of events) recorder.add(e, T0 + t)
  return recorder.record()
}

const testcases = (suite: XmlElement) => suite.children.filter((c) => c.name === 'testcase')

describe('the run record', () => {
  it('folds the events of one workflow: steps in order, times, statuses, reasons, phases, logs', () => {
    const r = record(oneWorkflow())
    expect(r).toMatchObject({status: 'failure', exitCode: 1, startedAt: T0, endedAt: T0 + 9320})
    expect(r.workflows).toHaveLength(1)
    const w = r.workflows[0]
    expect(w).toMatchObject({title: 'ci', runId: 'abc123', namespace: 'woodpecker', status: 'failure', exitCode: 1})
    expect(w.phases.map((p) => [p.name, p.start - T0, p.end! - T0])).toEqual([
      ['workspace', 30, 900],
      ['ship', 900, 1100],
      ['cleanup', 8800, 9300],
    ])
    expect(w.steps.map((s) => [s.name, s.kind, s.status])).toEqual([
      ['db', 'service', 'success'],
      ['hello', 'step', 'success'],
      ['skipped', 'step', 'skipped'],
      ['oom', 'step', 'failure'],
      ['broken', 'step', 'failure'],
    ])
    const hello = w.steps[1]
    expect([hello.queuedAt! - T0, hello.startedAt! - T0, hello.endedAt! - T0, hello.durationMs]).toEqual([
      2000, 2800, 4000, 2000,
    ])
    expect(w.steps[3]).toMatchObject({
      exitCode: 137,
      reason: 'killed for exceeding its memory limit (32Mi)',
      containerMs: 1000,
    })
    expect(w.steps[4].dependsOn).toEqual(['oom'])
    expect(logLines(w.steps[4].log)).toHaveLength(61)
  })

  it('keeps a long log bounded: the first and the last lines, and says how many were left out', () => {
    const recorder = new RunRecorder()
    recorder.add({type: 'pipeline-start', workflows: ['ci']}, T0)
    const total = LOG_HEAD + LOG_TAIL + 1234
    for (let i = 1; i <= total; i++) recorder.add({type: 'log', step: 'big', line: `line ${i}`}, T0 + 1)
    recorder.add({type: 'log', step: 'wide', line: 'x'.repeat(100_000)}, T0 + 2)
    const steps = recorder.record().workflows[0].steps
    const lines = logLines(steps[0].log)
    expect(lines).toHaveLength(LOG_HEAD + LOG_TAIL + 1)
    expect(lines[0]).toBe('line 1')
    expect(lines[LOG_HEAD]).toBe('… 1234 lines left out of the report …')
    expect(lines.at(-1)).toBe(`line ${total}`)
    expect(logLines(steps[1].log)[0].length).toBeLessThan(8_300)
  })

  it('names each workflow of several by its title, and marks workflows that were skipped', () => {
    const r = record([
      [0, {type: 'pipeline-start', workflows: ['build', 'test (GO=1.22)', 'deploy']}],
      // With several workflows each event's `workflow` is the workflow's title (run-start's too).
      [
        10,
        {
          type: 'run-start',
          runId: 'r-1',
          namespace: 'ns',
          workflow: 'build',
          server: 's',
          steps: ['a'],
          services: [],
          dependsOn: {a: []},
        },
      ],
      [
        20,
        {
          type: 'run-start',
          runId: 'r-2',
          namespace: 'ns',
          workflow: 'test (GO=1.22)',
          server: 's',
          steps: ['t'],
          services: [],
          dependsOn: {t: []},
        },
      ],
      [1000, {type: 'step-end', workflow: 'build', step: 'a', status: 'success', exitCode: 0, durationMs: 900}],
      [
        2000,
        {type: 'step-end', workflow: 'test (GO=1.22)', step: 't', status: 'failure', exitCode: 1, durationMs: 1900},
      ],
      [
        2100,
        {
          type: 'step-end',
          workflow: 'deploy',
          step: 'ship',
          status: 'skipped',
          durationMs: 0,
          reason: 'depends on test (GO=1.22), which failed',
        },
      ],
      [
        2200,
        {
          type: 'pipeline-end',
          status: 'failure',
          exitCode: 1,
          durationMs: 2200,
          workflows: [
            {name: 'build', status: 'success'},
            {name: 'test (GO=1.22)', status: 'failure'},
            {name: 'deploy', status: 'skipped', reason: 'depends on test (GO=1.22), which failed'},
          ],
        },
      ],
    ])
    expect(r.workflows.map((w) => [w.title, w.status, w.steps.map((s) => `${s.name}:${s.status}`).join()])).toEqual([
      ['build', 'success', 'a:success'],
      ['test (GO=1.22)', 'failure', 't:failure'],
      ['deploy', 'skipped', 'ship:skipped'],
    ])
    expect(r.workflows[2].reason).toBe('depends on test (GO=1.22), which failed')
  })

  it('keeps any other event about a step as a moment of its row (a service ready, a phase)', () => {
    const events = oneWorkflow()
    events.splice(
      7,
      0,
      [2500, {type: 'service-ready', step: 'db', durationMs: 600, probe: 'tcp 5432'} as unknown as RunEvent],
      [2600, {type: 'step-phase', step: 'hello', phase: 'pulling'} as unknown as RunEvent],
    )
    const steps = record(events).workflows[0].steps
    expect(steps[0].phases).toEqual([{name: 'service-ready', at: T0 + 2500, detail: 'tcp 5432'}])
    expect(steps[1].phases).toEqual([{name: 'pulling', at: T0 + 2600}])
    expect(renderHtmlReport(record(events))).toContain(
      '<span class="bar mark thin" style="left:26.824%;width:0%" title="db: service-ready (tcp 5432)"></span>',
    )
  })

  it('reads a recorded --json stream (each event with its time)', () => {
    const text = oneWorkflow()
      .map(([t, e]) => JSON.stringify({time: new Date(T0 + t).toISOString(), ...e}))
      .join('\n')
    expect(recordFromJsonLines(text)).toEqual(record(oneWorkflow()))
  })

  it('records an error no event told (the cluster could not be reached) with its exit code and hint', () => {
    const recorder = new RunRecorder()
    const error = Object.assign(new Error('no kubeconfig'), {exitCode: 3, hint: 'point KUBECONFIG at it'})
    recorder.fail(error, T0)
    expect(recorder.record()).toMatchObject({status: 'error', error: 'no kubeconfig', workflows: []})
  })
})

describe('the HTML report', () => {
  const html = renderHtmlReport(record(oneWorkflow()))

  it('is one self-contained page: nothing is fetched, inline style and script only', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true)
    expect(html).toContain(
      `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">`,
    )
    expect(html).not.toMatch(/<(?:link|img|iframe|object|embed)\b/i)
    expect(html).not.toMatch(/\b(?:src|href)="(?!#)/i)
    expect(html).not.toMatch(/url\(|@import|https?:\/\/(?!10\.0\.0\.5)/)
    expect(html.match(/<script>/g)).toHaveLength(1)
  })

  it('shows the summary, every step with its status, exit code, duration and reason', () => {
    expect(html).toContain('<h1>wpk8s run <span class="badge status-failure">failure</span></h1>')
    expect(html).toContain('exit code <b>1</b>')
    expect(html).toContain('4 (1 success, 2 failed, 1 skipped), 1 service')
    for (const [step, duration] of [
      ['hello', '2.0s'],
      ['oom', '2.6s'],
      ['broken', '2.1s'],
      ['db', '6.9s'],
    ]) {
      const row = new RegExp(
        `<tr class="status-\\w+" data-step="${step}" data-duration-ms="\\d+">[\\s\\S]*?</tr>`,
      ).exec(html)?.[0]
      expect(row, step).toBeDefined()
      expect(row).toContain(`<td class="num">${duration}</td>`)
    }
    expect(html).toContain('<span class="tag reason">OOM killed</span>')
    expect(html).toContain('when: event is push, not tag')
    expect(html).toContain('killed for exceeding its memory limit (32Mi)')
  })

  it('draws a timeline row per phase, service and step, placed by time', () => {
    const timeline = /<section class="timeline">[\s\S]*?<\/section>/.exec(html)![0]
    for (const label of ['workspace', 'checkout', 'db (service)', 'hello', 'skipped', 'oom', 'broken', 'cleanup'])
      expect(timeline).toContain(`>${label}<`)
    // hello: its turn at 2.0 s, running from 2.8 s to 4.0 s of a 9.32 s run.
    expect(timeline).toContain('<span class="bar starting" style="left:21.459%;width:8.584%"')
    expect(timeline).toContain('<span class="bar running status-success" style="left:30.043%;width:12.876%"')
    expect(timeline).toMatch(
      /class="bar skipped thin" style="left:42\.929%;width:0%" title="skipped: skipped: when: event is push, not tag"/,
    )
  })

  it('puts each log in a collapsed <details>, escaped, colours as spans, forbidden characters out', () => {
    expect(html.match(/<details id="log-w1-s\d"/g)).toHaveLength(5)
    expect(html).not.toMatch(/<details[^>]* open/)
    expect(html).not.toContain('<script>alert(1)')
    expect(html).toContain(
      '<span class="fg-red">red</span> &#60;script&#62;alert(1)&#60;/script&#62; &#38; &#34;quotes&#34; ********',
    )
    expect(html).toContain('bad char \uFFFD and <span class="b">bold</span>')
    expect(html).not.toMatch(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/)
  })

  it('says why a run errored, and works without any workflow', () => {
    const recorder = new RunRecorder()
    recorder.fail(Object.assign(new Error('the cluster at https://x does not answer'), {hint: 'is it up?'}), T0)
    const page = renderHtmlReport(recorder.record())
    expect(page).toContain('<p class="error"><b>error:</b> the cluster at https://x does not answer</p>')
    expect(page).toContain('<p class="hint"><b>hint:</b> is it up?</p>')
  })

  it('turns terminal colours into spans and drops other escape sequences', () => {
    expect(ansiHtml('\u001b[1;32mok\u001b[0m done')).toBe('<span class="b fg-green">ok</span> done')
    expect(ansiHtml('\u001b[38;5;196mx\u001b[39m')).toBe('<span style="color:#ff0000">x</span>')
    expect(ansiHtml('\u001b[38;2;1;2;3mx')).toBe('<span style="color:#010203">x</span>')
    expect(ansiHtml('\u001b]0;title\u0007\u001b[2Kprogress 10%\rprogress 100%')).toBe('progress 100%')
    expect(esc('<a href="x">\'&\'</a>')).toBe('&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;')
  })
})

describe('the pod phases the cluster recorded (step-phases)', () => {
  const iso = (t: number) => new Date(T0 + t).toISOString()
  /** hello as the cluster saw it; oom created ahead (at 1.0 s) and released at 4.5 s; db still running at the end. */
  const events = (): [number, RunEvent][] => {
    const base = oneWorkflow()
    const at = base.findIndex(([, e]) => e.type === 'cleanup')
    return [
      ...base.slice(0, at),
      [
        4100,
        {
          type: 'step-phases',
          step: 'hello',
          pod: 'wp-abc123-hello',
          node: 'worker-1',
          createdAt: iso(2000),
          scheduledAt: iso(2000),
          pullingAt: iso(2100),
          pulledAt: iso(2500),
          startedAt: iso(3000),
          finishedAt: iso(4000),
          resources: {requests: {cpu: '100m', memory: '64Mi'}, limits: {memory: '128Mi'}},
        },
      ],
      [
        6700,
        {
          type: 'step-phases',
          step: 'oom',
          pod: 'wp-abc123-oom',
          node: 'worker-2',
          createdAt: iso(1000),
          releasedAt: iso(4500),
          scheduledAt: iso(2000),
          startedAt: iso(3000),
          finishedAt: iso(6000),
        },
      ],
      [
        8750,
        {
          type: 'step-phases',
          step: 'db',
          pod: 'wp-abc123-db',
          node: 'worker-1',
          createdAt: iso(1000),
          scheduledAt: iso(1000),
          startedAt: iso(1000),
        },
      ],
      ...base.slice(at),
    ]
  }

  it('is kept on the step (times in ms), and ignored by the record when missing', () => {
    const hello = record(events()).workflows[0].steps.find((s) => s.name === 'hello')!
    expect(hello.cluster).toEqual({
      node: 'worker-1',
      createdAt: T0 + 2000,
      scheduledAt: T0 + 2000,
      pullingAt: T0 + 2100,
      pulledAt: T0 + 2500,
      startedAt: T0 + 3000,
      finishedAt: T0 + 4000,
      resources: {requests: {cpu: '100m', memory: '64Mi'}, limits: {memory: '128Mi'}},
    })
    expect(hello.phases).toEqual([])
    expect(record(oneWorkflow()).workflows[0].steps.every((s) => s.cluster === undefined)).toBe(true)
  })

  it('draws scheduling, image pull, container start and run as segments, the gate wait in its own colour, node and resources in the table', () => {
    const html = renderHtmlReport(record(events()))
    const timeline = /<section class="timeline">[\s\S]*?<\/section>/.exec(html)![0]
    const row = (label: string) =>
      timeline.split('<div class="row ').find((r) => r.includes(`<div class="label" title="${label}">`)) ?? ''
    const bars = (name: string) =>
      [...row(name).matchAll(/<span class="bar ([^"]+)"/g)].map((m) => m[1].replace(/ thin$/, ''))
    // hello: scheduled at once (no segment), pulled 2.0-2.5 s, container created until 3.0 s, run to 4.0 s (of 9.32 s).
    expect(bars('hello')).toEqual(['pod-pulling', 'pod-creating', 'running status-success'])
    expect(row('hello')).toContain(
      '<span class="bar running status-success" style="left:32.189%;width:10.73%" title="hello: started on worker-1, finished after 1.0s',
    )
    expect(row('hello')).toContain('image pulled in 0.4s')
    // oom: created ahead at 1.0 s, scheduled 2.0 s, started 3.0 s, at the gate until 4.5 s, then its run to 6.0 s.
    expect(bars('oom')).toEqual(['pod-scheduling', 'pod-pulling', 'pod-gate', 'running status-failure'])
    expect(row('oom')).toContain(
      '<span class="bar pod-gate" style="left:32.189%;width:16.094%" title="oom: created ahead, waited at the gate 3.5s until released"',
    )
    // db: a service still running, drawn from its container's start to the end of the steps.
    expect(bars('db (service)')).toEqual(['background status-success'])
    const table = /<table class="steps">[\s\S]*?<\/table>/.exec(html)![0]
    expect(table).toMatch(
      /<tr class="status-success" data-step="hello" data-duration-ms="\d+" data-node="worker-1">[\s\S]*?node <code>worker-1<\/code><\/span> <span class="muted resources">requests cpu 100m, memory 64Mi · limits memory 128Mi<\/span>/,
    )
    expect(table).toContain('data-node="worker-2"')
    expect(html).toContain('<span class="key pod-gate"></span>')
  })
})

describe('the JUnit XML', () => {
  it('has a suite per workflow and a case per step: failures with the log tail, skipped with the reason', () => {
    const xml = renderJunit(record(oneWorkflow()))
    const root = parseXml(xml)
    expect(root.name).toBe('testsuites')
    expect(root.attributes).toMatchObject({
      tests: '5',
      failures: '2',
      errors: '0',
      skipped: '1',
      time: '9.320',
      timestamp: '2026-11-28T10:00:00',
    })
    const [suite] = elements(root, 'testsuite')
    expect(suite.attributes).toMatchObject({name: 'ci', tests: '5', failures: '2', errors: '0', skipped: '1'})
    expect(elements(suite, 'property').map((p) => `${p.attributes.name}=${p.attributes.value}`)).toEqual([
      'run-id=abc123',
      'namespace=woodpecker',
      'cluster=https://10.0.0.5:6443',
      'status=failure',
      'exit-code=1',
    ])
    const cases = testcases(suite)
    expect(cases.map((c) => [c.attributes.name, c.attributes.classname, c.attributes.time])).toEqual([
      ['db (service)', 'ci', '6.910'],
      ['hello', 'ci', '2.000'],
      ['skipped', 'ci', '0.000'],
      ['oom', 'ci', '2.599'],
      ['broken', 'ci', '2.099'],
    ])
    expect(cases[2].children.map((c) => [c.name, c.attributes.message])).toEqual([
      ['skipped', 'when: event is push, not tag'],
    ])
    const oom = cases[3].children[0]
    expect([oom.name, oom.attributes.type, oom.attributes.message]).toEqual([
      'failure',
      'OOM killed',
      'exit code 137: killed for exceeding its memory limit (32Mi)',
    ])
    expect(oom.text).toBe('+ head -c 200m /dev/zero | tail\nKilled')
    const broken = cases[4].children[0]
    expect(broken.attributes.message).toBe('exit code 3')
    const tail = broken.text.split('\n')
    expect(tail).toHaveLength(50)
    expect(tail[0]).toBe('line 12')
    expect(tail.at(-1)).toBe('bad char  and bold')
  })

  it('marks steps an error stopped as errors, and an error before any workflow as a case of its own', () => {
    const errored = record([
      [0, {type: 'pipeline-start', workflows: ['ci']}],
      [
        10,
        {
          type: 'run-start',
          runId: 'r',
          namespace: 'ns',
          workflow: 'ci',
          server: 's',
          steps: ['a', 'b'],
          services: [],
          dependsOn: {a: [], b: ['a']},
        },
      ],
      [
        500,
        {
          type: 'step-end',
          step: 'a',
          status: 'failure',
          durationMs: 0,
          reason: 'pod wp-r-a cannot start: ErrImagePull: "nope:1" not found',
        },
      ],
      [500, {type: 'step-end', step: 'b', status: 'skipped', durationMs: 0, reason: 'not run: the run stopped'}],
      [
        600,
        {
          type: 'run-end',
          status: 'error',
          exitCode: 3,
          durationMs: 590,
          error: 'pod wp-r-a cannot start: ErrImagePull: "nope:1" not found',
          hint: 'check the image name',
        },
      ],
      [
        610,
        {
          type: 'pipeline-end',
          status: 'error',
          exitCode: 3,
          durationMs: 610,
          workflows: [{name: 'ci', status: 'error'}],
        },
      ],
    ])
    const suite = elements(parseXml(renderJunit(errored)), 'testsuite')[0]
    expect(suite.attributes).toMatchObject({errors: '1', failures: '0', skipped: '1'})
    expect(testcases(suite)[0].children[0]).toMatchObject({
      name: 'error',
      attributes: {type: 'image', message: 'pod wp-r-a cannot start: ErrImagePull: "nope:1" not found'},
    })

    const recorder = new RunRecorder()
    recorder.fail(Object.assign(new Error('no kubeconfig & no cluster <here>'), {hint: 'set KUBECONFIG'}), T0)
    const root = parseXml(renderJunit(recorder.record()))
    expect(root.attributes).toMatchObject({tests: '1', errors: '1'})
    expect(elements(root, 'error')[0]).toMatchObject({
      attributes: {message: 'no kubeconfig & no cluster <here>'},
      text: 'hint: set KUBECONFIG',
    })
  })

  it('stays valid XML whatever the names and logs hold', () => {
    const nasty = 'a"b\'c<d>&e]]>\u0001\u001b[31mf\ud800\uffff\ttab\nline'
    const events: [number, RunEvent][] = [
      [0, {type: 'pipeline-start', workflows: [nasty]}],
      [1, {type: 'log', step: nasty, line: nasty}],
      [2, {type: 'step-end', step: nasty, status: 'failure', exitCode: 1, durationMs: 1, reason: nasty}],
      [
        3,
        {
          type: 'pipeline-end',
          status: 'failure',
          exitCode: 1,
          durationMs: 3,
          workflows: [{name: nasty, status: 'failure'}],
        },
      ],
    ]
    const root = parseXml(renderJunit(record(events)))
    const [testcase] = elements(root, 'testcase')
    expect(testcase.attributes.name).toBe('a"b\'c<d>&e]]>f\ttab\nline')
    expect(testcase.children[0].text).toBe('a"b\'c<d>&e]]>f\ttab\nline')
    expect(xmlClean('ok\u0000\ufffe')).toBe('ok')
  })
})

describe('--report and --junit around the chosen output', () => {
  function inner(): Renderer & {seen: RunEvent[]; closed: boolean} {
    const r = {
      seen: [] as RunEvent[],
      closed: false,
      emit: (e: RunEvent) => r.seen.push(e),
      close: async () => {
        r.closed = true
      },
    }
    return r
  }

  it('passes every event on, then writes both files at close and says where on stderr', async () => {
    const out = inner()
    const written = new Map<string, string>()
    const said: string[] = []
    let t = T0
    const renderer = await withReports({html: '/tmp/r.html', junit: '/tmp/r.xml'}, () => out, {
      now: () => (t += 10),
      write: (p, text) => written.set(p, text),
      say: (l) => said.push(l),
    })
    for (const [, e] of oneWorkflow()) renderer.emit(e)
    expect(out.seen).toHaveLength(oneWorkflow().length)
    expect(written.size).toBe(0)
    await renderer.close()
    expect(out.closed).toBe(true)
    expect(written.get('/tmp/r.html')).toContain('data-step="broken"')
    expect(parseXml(written.get('/tmp/r.xml')!).name).toBe('testsuites')
    expect(said).toEqual(['wpk8s: report written to /tmp/r.html\n', 'wpk8s: JUnit XML written to /tmp/r.xml\n'])
  })

  it('writes the files when the run fails with an error no event carried, and once only', async () => {
    const written = new Map<string, string>()
    const renderer = await withReports({junit: '/tmp/r.xml'}, () => inner(), {
      now: () => T0,
      write: (p, text) => written.set(p, text),
      say: () => {},
    })
    await renderer.fail(new Error('the cluster does not answer'))
    await renderer.close()
    expect([...written.keys()]).toEqual(['/tmp/r.xml'])
    expect(written.get('/tmp/r.xml')).toContain('message="the cluster does not answer"')
  })

  it('refuses a file in a folder that does not exist before the run starts, and costs nothing without files', async () => {
    let created = false
    await expect(
      withReports({html: '/no/such/folder/r.html'}, () => {
        created = true
        return inner()
      }),
    ).rejects.toThrow('/no/such/folder/r.html: the folder /no/such/folder does not exist')
    expect(created).toBe(false)
    const plain = inner()
    const renderer = await withReports({}, () => plain)
    renderer.emit({type: 'pipeline-start', workflows: ['x']})
    await renderer.close()
    expect(plain.seen).toHaveLength(1)
    expect(plain.closed).toBe(true)
  })

  it('says so on stderr when a file cannot be written, and does not throw', async () => {
    const said: string[] = []
    const renderer = await withReports({html: '/tmp/r.html'}, () => inner(), {
      now: () => T0,
      write: () => {
        throw new Error('EACCES: permission denied')
      },
      say: (l) => said.push(l),
    })
    await renderer.close()
    expect(said).toEqual(['wpk8s: could not write the report to /tmp/r.html: EACCES: permission denied\n'])
  })
})
