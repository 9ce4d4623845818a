import {execFileSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {
  core,
  createNamespace,
  deleteNamespace,
  events,
  KUBECONFIG,
  leftovers,
  pipelineRepo,
  ROOT,
  startWpk8s,
  uniqueName,
  waitFor,
  wpk8s,
} from './kube.js'
import {requireCluster} from './setup.js'

requireCluster()
const ns = uniqueName('e2e-inner')
const base = ['--namespace', ns, '--no-storage-rwx']

beforeAll(() => createNamespace(ns))
afterAll(() => deleteNamespace(ns))

const pipeline = `steps:
  first:
    image: busybox:1.35
    environment:
      TOKEN: {from_secret: token}
    commands:
      - echo "written by first at $CI_PIPELINE_CREATED" > handoff.txt
  second:
    image: busybox:1.35
    commands:
      - cat handoff.txt
      - cat edited.txt
      - echo "created=$CI_PIPELINE_CREATED"
      - test ! -e gone.txt && echo GONE-$(echo YES)
      - echo DONE-$(echo OK)
`

function logOf(run: {stdout: string}, step: string): string[] {
  return events(run as never)
    .filter((e) => e.type === 'log' && e.step === step)
    .map((e) => e.line as string)
}

describe('the inner loop: keep, reuse, shell', () => {
  it('keeps the workspace, re-runs one step on it with only the changes shipped, opens a shell in a step, and cleans it up', async () => {
    const dir = pipelineRepo(pipeline, {'edited.txt': 'version 1\n', 'gone.txt': 'deleted later\n'})

    // 1. A kept run: the claim and the Secret stay, labelled as kept; pods and the heartbeat go.
    const first = await wpk8s(['exec', ...base, '--keep', '--secret', 'token=s3cr3t-value', '--json'], {cwd: dir})
    expect(first.code, first.stderr).toBe(0)
    const runId = events(first).find((e) => e.type === 'run-start')!.runId as string
    expect(first.stderr).toContain(`wpk8s exec --reuse ${runId}`)
    const kept = await core().listNamespacedPersistentVolumeClaim({
      namespace: ns,
      labelSelector: `wpk8s.dev/kept=${runId}`,
    })
    expect(kept.items.map((c) => c.metadata!.name)).toEqual([`wp-${runId}-workspace`])
    expect(kept.items[0].metadata!.labels!['wpk8s.dev/run']).toBeUndefined()
    expect(kept.items[0].metadata!.annotations!['wpk8s.dev/result']).toBe('success')
    expect(
      (await core().listNamespacedSecret({namespace: ns, labelSelector: `wpk8s.dev/kept=${runId}`})).items,
    ).toHaveLength(1)
    await waitFor("the run's pods to go", async () =>
      (await core().listNamespacedPod({namespace: ns})).items.length === 0 ? true : undefined,
    )

    // 2. `runs` lists it; `clean` without --kept leaves it alone.
    const runs = await wpk8s(['runs', '-n', ns])
    expect(runs.code, runs.stderr).toBe(0)
    expect(runs.stdout).toMatch(
      new RegExp(`^${runId}\\s+\\S+\\s+\\S+\\s+10G\\s+\\.woodpecker\\.yml\\s+\\.woodpecker\\s+success$`, 'm'),
    )
    const clean = await wpk8s(['clean', '-n', ns, '--all'])
    expect(clean.code, clean.stderr).toBe(0)
    expect(clean.stdout).not.toContain(`wp-${runId}-workspace`)

    // 3. Reuse with --step: only that step runs, it reads what the first run wrote; an edit ships, a deleted file is gone.
    writeFileSync(join(dir, 'edited.txt'), 'version 2\n')
    unlinkSync(join(dir, 'gone.txt'))
    const again = await wpk8s(['exec', ...base, '--reuse', 'last', '--step', 'second', '--json'], {cwd: dir})
    expect(again.code, again.stderr).toBe(0)
    expect(
      events(again)
        .filter((e) => e.type === 'step-end')
        .map((e) => `${e.step}:${e.status}`),
    ).toEqual(['first:skipped', 'second:success'])
    const log = logOf(again, 'second')
    // The CI_* values stay the kept run's (same commit): the time the first run wrote is the reused run's too.
    const written = log.find((l) => l.startsWith('written by first at '))!
    expect(written).toMatch(/^written by first at \d+$/)
    expect(log).toContain(`created=${written.slice('written by first at '.length)}`)
    expect(log).toContain('version 2')
    expect(log).toContain('GONE-YES')
    expect(log).toContain('DONE-OK')
    expect(events(again).find((e) => e.type === 'phase' && e.phase === 'ship' && e.status === 'done')!.detail).toMatch(
      /1 changed, 1 deleted/,
    )
    // Unchanged since: nothing ships, no helper.
    const third = await wpk8s(['exec', ...base, '--reuse', runId, '--step', 'second', '--json'], {cwd: dir})
    expect(third.code, third.stderr).toBe(0)
    expect(events(third).find((e) => e.type === 'phase' && e.phase === 'ship' && e.status === 'done')!.detail).toMatch(
      /nothing changed/,
    )

    // 4. A command in a pod like the step's: output and exit code pass through, the secret and the workspace are there.
    const shell = await wpk8s([
      'shell',
      runId,
      'first',
      '-n',
      ns,
      '--',
      'sh',
      '-c',
      'echo "token=$TOKEN dir=$(pwd)"; cat handoff.txt; echo SHELL-$(echo RAN); exit 7',
    ])
    expect(shell.code, shell.stderr).toBe(7)
    expect(shell.stdout).toContain(`token=s3cr3t-value dir=/woodpecker/src`)
    expect(shell.stdout).toMatch(/written by first at \d+/)
    expect(shell.stdout).toContain('SHELL-RAN')
    const missing = await wpk8s(['shell', runId, 'first', '-n', ns, '--', '/no/such/binary'])
    expect(missing.code).toBe(3)
    expect(missing.stderr).toMatch(/cannot run \/no\/such\/binary/)
    const unknown = await wpk8s(['shell', runId, 'nope', '-n', ns, '--', 'true'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/has no step nope/)

    // 5. An interactive shell through a pseudo-terminal (tmux): typed commands run, the size follows, the exit code passes through.
    if (hasTmux()) await interactiveShell(runId)

    // 6. clean --kept deletes it; nothing is left behind.
    const gone = await wpk8s(['clean', '-n', ns, '--kept', '--run', runId])
    expect(gone.code, gone.stderr).toBe(0)
    expect(gone.stdout).toContain(`PersistentVolumeClaim/wp-${runId}-workspace`)
    expect(gone.stdout).toContain(`Secret/wp-${runId}-secrets`)
    expect((await wpk8s(['runs', '-n', ns])).stdout).toMatch(/no kept workspaces/)
    await waitFor('nothing left behind', async () => ((await leftovers(ns)).length === 0 ? true : undefined), 60_000)
    rmSync(dir, {recursive: true, force: true})
  }, 240_000)
})

describe('exec --watch', () => {
  it('re-runs the step whose when.path matches an edit, not the other, ignores what git ignores, and deletes everything on Ctrl-C', async () => {
    const dir = pipelineRepo(`steps:
  docs:
    image: busybox:1.35
    commands: [echo "DOCS-$(echo RAN) $(cat docs/readme.md)"]
    when: {path: 'docs/**'}
  code:
    image: busybox:1.35
    commands: [echo "CODE-$(echo RAN) $(cat src/main.txt)"]
    when: [{path: 'src/**'}]
`)
    execFileSync(
      'sh',
      [
        '-c',
        'mkdir docs src && echo d1 > docs/readme.md && echo c1 > src/main.txt && echo ignored.txt > .gitignore && git add -A && git -c user.name=T -c user.email=t@e commit -qm files',
      ],
      {cwd: dir},
    )
    const watch = startWpk8s(['exec', ...base, '--watch'], {cwd: dir})
    let stderr = ''
    watch.child.stderr!.on('data', (b) => (stderr += b))
    const rounds = () => (stderr.match(/wpk8s: watching /g) ?? []).length
    await waitFor('the first run', async () => (rounds() >= 1 ? true : undefined), 120_000)
    expect(watch.output()).toContain('DOCS-RAN d1')
    expect(watch.output()).toContain('CODE-RAN c1')
    const before = watch.output().length
    writeFileSync(join(dir, 'src', 'main.txt'), 'c2\n')
    await waitFor('round 2', async () => (rounds() >= 2 ? true : undefined), 120_000)
    const round2 = watch.output().slice(before)
    expect(round2).toContain('CODE-RAN c2')
    expect(round2).not.toContain('DOCS-RAN')
    expect(stderr).toMatch(/round 2: 1 changed file\(s\) \(src\/main\.txt\): success/)
    // A file git ignores starts no round.
    writeFileSync(join(dir, 'ignored.txt'), 'x\n')
    await new Promise((r) => setTimeout(r, 1500))
    expect(rounds()).toBe(2)
    watch.child.kill('SIGINT')
    const result = await watch.result
    expect(result.code).toBe(130)
    expect(stderr).toMatch(/deleted the kept workspace of run/)
    await waitFor('nothing left behind', async () => ((await leftovers(ns)).length === 0 ? true : undefined), 60_000)
    rmSync(dir, {recursive: true, force: true})
  }, 300_000)
})

function hasTmux(): boolean {
  try {
    execFileSync('tmux', ['-V'], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
}

async function interactiveShell(runId: string): Promise<void> {
  const session = uniqueName('wpk8s-sh')
  const out = join(mkdtempSync(join(tmpdir(), 'wpk8s-tty-')), 'exit')
  const tmux = (...args: string[]) => execFileSync('tmux', args, {encoding: 'utf8'})
  const command = `KUBECONFIG=${KUBECONFIG} NO_COLOR=1 node ${ROOT}bin/run.js shell ${runId} first -n ${ns}; echo $? > ${out}; sleep 60`
  tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '30', command)
  try {
    const screen = () => tmux('capture-pane', '-p', '-t', session)
    await waitFor('the shell prompt', async () => (/\/woodpecker\/src #/.test(screen()) ? true : undefined), 90_000)
    tmux('send-keys', '-t', session, 'echo "IN-$(echo SHELL) $(cat handoff.txt | wc -l) $TOKEN"', 'Enter')
    await waitFor("the command's output", async () => (/IN-SHELL 1 s3cr3t-value/.test(screen()) ? true : undefined))
    tmux('resize-window', '-t', session, '-x', '100', '-y', '25')
    await new Promise((r) => setTimeout(r, 500))
    tmux('send-keys', '-t', session, 'echo "SIZE-$(stty size | tr " " x)"', 'Enter')
    await waitFor('the new terminal size', async () => (/SIZE-25x100/.test(screen()) ? true : undefined))
    tmux('send-keys', '-t', session, '(exit 3)', 'Enter')
    tmux('send-keys', '-t', session, 'C-d')
    await waitFor('the shell to end with Ctrl-D', async () =>
      existsSync(out) ? readFileSync(out, 'utf8').trim() : undefined,
    )
    // Ctrl-D ends the shell with the status of its last command.
    expect(readFileSync(out, 'utf8').trim()).toBe('3')
    await waitFor('the shell pod to go', async () =>
      (await core().listNamespacedPod({namespace: ns, labelSelector: 'wpk8s.dev/role=shell'})).items.length === 0
        ? true
        : undefined,
    )
  } finally {
    try {
      tmux('kill-session', '-t', session)
    } catch {
      // Already gone.
    }
  }
}
