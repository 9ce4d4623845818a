import {execFileSync, spawn, spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'

/** The shell functions of the test cluster harness (test/cluster/lib.sh), run by bash on sample files. */
const HARNESS = fileURLToPath(new URL('../cluster/', import.meta.url))
const LIB = join(HARNESS, 'lib.sh')
const dir = mkdtempSync(join(tmpdir(), 'wpk8s-harness-'))
let counter = 0

/** Runs `script` in bash after sourcing lib.sh; stdout, or throws with stderr. (Standard input is not a socket,
 * or Debian's bash believes sshd started it and reads ~/.bashrc.) */
function bash(script: string, env: NodeJS.ProcessEnv = {}): string {
  return execFileSync('bash', ['-c', `set -euo pipefail; source ${LIB}; ${script}`], {
    encoding: 'utf8',
    env: {PATH: process.env.PATH, ...env},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

/** A folder standing for `/`, holding the given files under etc/apt. */
function aptRoot(files: Record<string, string>): string {
  const root = join(dir, `root${++counter}`)
  mkdirSync(join(root, 'etc', 'apt', 'sources.list.d'), {recursive: true})
  for (const [name, text] of Object.entries(files)) writeFileSync(join(root, 'etc', 'apt', name), text)
  return root
}

const mirror = (files: Record<string, string>, env: NodeJS.ProcessEnv = {}) =>
  bash(`debian_mirror ${aptRoot(files)}`, env).trim()

describe("the Debian mirror from the machine's apt sources", () => {
  it('lists the entries of sources.list, *.list and deb822 *.sources', () => {
    const root = aptRoot({
      'sources.list':
        '# a comment\ndeb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] http://mirror.corp/debian/ bookworm main contrib # trailing\n#deb http://commented.example/debian bookworm main\n\ndeb-src http://mirror.corp/debian bookworm main\n',
      'sources.list.d/extra.list': 'deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n',
      'sources.list.d/ignored.list.disabled': 'deb http://disabled.example/debian bookworm main\n',
      'sources.list.d/debian.sources': `Types: deb deb-src
# a comment inside
URIs: http://a.example/debian
 http://b.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 -----END PGP PUBLIC KEY BLOCK-----

Types: deb
URIs: http://off.example/debian
Suites: bookworm
Components: main
Enabled: no
`,
    })
    expect(bash(`apt_source_entries ${root}`).trim().split('\n')).toEqual([
      'deb http://mirror.corp/debian/ bookworm main contrib',
      'deb-src http://mirror.corp/debian bookworm main',
      'deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main',
      'deb http://a.example/debian bookworm main',
      'deb http://a.example/debian bookworm-updates main',
      'deb http://b.example/debian bookworm main',
      'deb http://b.example/debian bookworm-updates main',
      'deb-src http://a.example/debian bookworm main',
      'deb-src http://a.example/debian bookworm-updates main',
      'deb-src http://b.example/debian bookworm main',
      'deb-src http://b.example/debian bookworm-updates main',
    ])
  })

  it('takes a company mirror or caching proxy from a deb822 file, as Debian 12 writes it', () => {
    expect(
      mirror({
        'sources.list.d/debian.sources': `Types: deb
URIs: https://nexus.corp.example/repository/debian-proxy/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: https://nexus.corp.example/repository/debian-security/
Suites: bookworm-security
Components: main
`,
      }),
    ).toBe('https://nexus.corp.example/repository/debian-proxy')
    expect(mirror({'sources.list': 'deb http://apt-cacher.lan:3142/deb.debian.org/debian trixie main\n'})).toBe(
      'http://apt-cacher.lan:3142/deb.debian.org/debian',
    )
  })

  it('skips security archives, other distributions and third-party repositories, and prefers a path ending in /debian', () => {
    expect(
      mirror({
        'sources.list':
          'deb http://security.debian.org/debian-security bookworm-security main\ndeb https://deb.nodesource.com/node_20.x nodistro main\ndeb http://archive.ubuntu.com/ubuntu jammy main\n',
        'sources.list.d/a.list':
          'deb http://repo.example/custom bookworm main\ndeb http://ftp.de.debian.org/debian bookworm main\n',
      }),
    ).toBe('http://ftp.de.debian.org/debian')
    expect(mirror({'sources.list': 'deb http://repo.example/custom bookworm main\n'})).toBe(
      'http://repo.example/custom',
    )
    expect(mirror({'sources.list': 'deb http://ftp.example/debian bookworm contrib non-free\n'})).toBe(
      'http://deb.debian.org/debian',
    )
    expect(mirror({'sources.list': 'deb cdrom:[Debian 12]/ bookworm main\ndeb file:/srv/debian bookworm main\n'})).toBe(
      'http://deb.debian.org/debian',
    )
  })

  it('falls back to deb.debian.org, and WPK8S_DEBIAN_MIRROR overrides everything', () => {
    expect(mirror({})).toBe('http://deb.debian.org/debian')
    expect(mirror({'sources.list': 'deb http://archive.ubuntu.com/ubuntu jammy main\n'})).toBe(
      'http://deb.debian.org/debian',
    )
    expect(
      mirror(
        {'sources.list': 'deb http://ftp.example/debian bookworm main\n'},
        {WPK8S_DEBIAN_MIRROR: 'http://override.example/debian/'},
      ),
    ).toBe('http://override.example/debian')
  })

  it("tries the machine's mirror, then deb.debian.org", () => {
    expect(bash(`debian_mirrors ${aptRoot({'sources.list': 'deb http://ftp.example/debian bookworm main\n'})}`)).toBe(
      'http://ftp.example/debian\nhttp://deb.debian.org/debian\n',
    )
    expect(bash(`debian_mirrors ${aptRoot({})}`)).toBe('http://deb.debian.org/debian\n')
  })

  /** A folder with fake commands: each logs its arguments and fails for a mirror named `bad` (for all with FAIL_ALL). */
  function fakeTools(): {path: string; calls: () => string[]} {
    const bin = join(dir, `bin${++counter}`)
    mkdirSync(bin)
    const log = join(bin, 'calls')
    const fake = (name: string, body: string) => {
      writeFileSync(join(bin, name), `#!/bin/bash\necho "${name} $*" >> ${log}\n${body}\n`)
      chmodSync(join(bin, name), 0o755)
    }
    fake(
      'apt-get',
      'if [[ " $* " == *" update "* ]]; then [ -z "${FAIL_ALL:-}" ] && ! grep -q bad "${2#Dir::Etc::sourcelist=}"; fi',
    )
    fake(
      'debootstrap',
      'if [ -n "${FAIL_ALL:-}" ] || [[ $4 == *bad* ]]; then echo "E: Failed getting release file" >&2; exit 1; fi; mkdir -p "$3/bin"',
    )
    fake('apt-config', 'echo \'Acquire::http::Proxy "http://aptproxy.lan:3128";\'')
    return {path: `${bin}:${process.env.PATH}`, calls: () => readFileSync(log, 'utf8').trim().split('\n')}
  }

  it('downloads the source from the next mirror when one fails', () => {
    const tools = fakeTools()
    const work = join(dir, `fetch${++counter}`)
    mkdirSync(work)
    const out = bash(`cd ${work} && fetch_source ${work}/apt kubernetes=1.2.3 && cat ${work}/apt/sources.list`, {
      PATH: tools.path,
      WPK8S_DEBIAN_MIRROR: 'http://bad.example/debian',
    })
    expect(out).toMatch(
      /downloading the source of kubernetes=1.2.3 from http:\/\/bad.example\/debian\n.*no source of kubernetes=1.2.3 from http:\/\/bad.example\/debian\n.*downloading the source of kubernetes=1.2.3 from http:\/\/deb.debian.org\/debian\n/,
    )
    expect(out).toMatch(/deb-src http:\/\/deb.debian.org\/debian bookworm main\n$/)
    expect(tools.calls().filter((c) => c.includes('source --download-only kubernetes=1.2.3'))).toHaveLength(1)
    const failed = spawnSync(
      'bash',
      ['-c', `set -euo pipefail; source ${LIB}; cd ${work}; fetch_source ${work}/apt kubernetes=1.2.3`],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {PATH: tools.path, WPK8S_DEBIAN_MIRROR: 'http://bad.example/debian', FAIL_ALL: '1'},
      },
    )
    expect(failed.status).toBe(1)
    expect(failed.stderr).toBe(
      'cannot download the source of kubernetes=1.2.3: set WPK8S_DEBIAN_MIRROR to a Debian mirror that has it\n',
    )
    const good = bash(`cd ${work} && fetch_source ${work}/apt kubernetes=1.2.3 && echo fetched`, {
      PATH: tools.path,
      WPK8S_DEBIAN_MIRROR: 'http://good.example/debian',
    })
    expect(good).toMatch(/\] downloading the source of kubernetes=1.2.3 from http:\/\/good.example\/debian\nfetched\n$/)
  })

  it("debootstraps from the machine's mirror through apt's proxy, then from deb.debian.org", () => {
    const tools = fakeTools()
    const target = join(dir, `deb${++counter}`)
    const out = bash(`debootstrap_bookworm ${target} ${target}.log && echo "proxy=$(apt_http_proxy)" && ls ${target}`, {
      PATH: tools.path,
      WPK8S_DEBIAN_MIRROR: 'http://good.example/debian',
    })
    expect(out).toMatch(
      /debootstrap bookworm from http:\/\/good.example\/debian\nproxy=http:\/\/aptproxy.lan:3128\nbin\n$/,
    )
    expect(tools.calls()).toContain(`debootstrap --variant=minbase bookworm ${target} http://good.example/debian`)
    const failed = spawnSync('bash', ['-c', `source ${LIB}; debootstrap_bookworm ${target} ${target}.log`], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {PATH: tools.path, WPK8S_DEBIAN_MIRROR: 'http://bad.example/debian', FAIL_ALL: '1'},
    })
    expect(failed.status).toBe(1)
    expect(failed.stdout).toMatch(
      /debootstrap from http:\/\/bad.example\/debian failed: E: Failed getting release file\n.*debootstrap bookworm from http:\/\/deb.debian.org\/debian\n.*failed/,
    )
  })
})

describe('progress while a long build runs', () => {
  it('formats durations and what is left of the components', () => {
    expect(bash('duration 42; duration 75; duration 754')).toBe('42s\n1m15s\n12m34s\n')
    const typical = 'kube-apiserver=600 kube-controller-manager=120 kube-scheduler=40 kubelet=480'
    expect(bash(`work_left 2 kube-apiserver 0 ${typical}`)).toBe(
      'about 21 min left (then kube-controller-manager, kube-scheduler, kubelet)\n',
    )
    expect(bash(`work_left 2 kube-apiserver 300 ${typical}`)).toBe(
      'about 16 min left (then kube-controller-manager, kube-scheduler, kubelet)\n',
    )
    // Longer than usual: a minute is counted for it, never a negative time.
    expect(bash(`work_left 2 kube-apiserver 900 ${typical}`)).toBe(
      'about 12 min left (then kube-controller-manager, kube-scheduler, kubelet)\n',
    )
    expect(bash(`work_left 4 kubelet 60 ${typical}`)).toBe('about 3 min left\n')
  })

  /** Runs with_progress over `command` with a line every second; the ticker's lines, the status and how long it took. */
  function withProgress(command: string): {lines: string[]; status: number | null; ms: number; log: string} {
    const log = join(dir, `build${++counter}.log`)
    const started = Date.now()
    const r = spawnSync(
      'bash',
      [
        '-c',
        `set -euo pipefail; source ${LIB}; left() { echo "left after $1 s"; }; with_progress "building thing (1 of 2)" ${log} left ${command}`,
      ],
      {
        encoding: 'utf8',
        env: {PATH: process.env.PATH, WPK8S_PROGRESS_SECONDS: '1'},
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    return {
      lines: r.stdout.trim().split('\n').filter(Boolean),
      status: r.status,
      ms: Date.now() - started,
      log: readFileSync(log, 'utf8'),
    }
  }

  it('prints the component, the time so far and what is left every interval, and ends with the build', () => {
    const run = withProgress('sh -c "echo compiling; sleep 2.6; echo linked"')
    expect(run.status).toBe(0)
    expect(run.log).toBe('compiling\nlinked\n')
    expect(run.lines.length).toBeGreaterThanOrEqual(2)
    for (const line of run.lines)
      expect(line).toMatch(/^\[cluster \d+s\] building thing \(1 of 2\): \ds so far, left after \d s$/)
    // The output (a pipe here) closes when the build ends: no ticker or sleep keeps it open.
    expect(run.ms).toBeLessThan(2600 + 2500)
  })

  it("returns the build's failure at once, and prints nothing for a build shorter than the interval", () => {
    const run = withProgress('sh -c "echo broken >&2; exit 3"')
    expect(run.status).toBe(3)
    expect(run.lines).toEqual([])
    expect(run.log).toBe('broken\n')
    expect(run.ms).toBeLessThan(1000)
  })

  it('stops the whole build and the ticker when the script is interrupted', async () => {
    const marker = `${60 + Math.random()}`.slice(0, 8)
    const child = spawn(
      'bash',
      [
        '-c',
        `source ${LIB}; left() { echo x; }; with_progress "building" ${join(dir, 'interrupted.log')} left sh -c "sleep ${marker}; echo never"`,
      ],
      {
        env: {PATH: process.env.PATH, WPK8S_PROGRESS_SECONDS: '1'},
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let output = ''
    child.stdout.on('data', (b) => (output += b))
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
    await new Promise((r) => setTimeout(r, 1500))
    const running = () => spawnSync('pgrep', ['-f', `sleep ${marker}`], {encoding: 'utf8'}).stdout.trim()
    expect(running()).not.toBe('')
    child.kill('SIGTERM')
    expect(await closed).toBe(130)
    await new Promise((r) => setTimeout(r, 300))
    expect(running()).toBe('')
    const lines = output.trim().split('\n').length
    await new Promise((r) => setTimeout(r, 1200))
    expect(output.trim().split('\n').length).toBe(lines)
  })
})

describe('the harness scripts', () => {
  const scripts = readdirSync(HARNESS).filter((f) => f.endsWith('.sh'))

  it('all parse (bash -n)', () => {
    expect(scripts).toEqual(expect.arrayContaining(['build.sh', 'images.sh', 'lib.sh', 'env.sh', 'up.sh']))
    for (const script of scripts)
      expect(
        spawnSync('bash', ['-n', join(HARNESS, script)], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']}).stderr,
        script,
      ).toBe('')
  })

  it('keep their caches until a recipe changes: every change to build.sh, images.sh or pause.c is looked at', () => {
    const sha = (...files: string[]) =>
      createHash('sha256')
        .update(Buffer.concat(files.map((f) => readFileSync(join(HARNESS, f)))))
        .digest('hex')
        .slice(0, 12)
    const env = readFileSync(join(HARNESS, 'env.sh'), 'utf8')
    expect(env).toMatch(/^K8S_RECIPE=[0-9a-f]{12}$/m)
    expect(env).toMatch(/^IMAGES_RECIPE=[0-9a-f]{12}$/m)
    // When one of these fails: if the change alters what is built, give K8S_RECIPE or IMAGES_RECIPE in env.sh a
    // new value (a rebuild on every machine); either way, record the new hash here.
    expect(sha('build.sh'), 'build.sh changed: does K8S_RECIPE need a new value?').toBe(RECORDED.build)
    expect(sha('images.sh', 'pause.c'), 'images.sh or pause.c changed: does IMAGES_RECIPE need a new value?').toBe(
      RECORDED.images,
    )
  })
})

const RECORDED = {build: '6a624743eae5', images: '31774afbdcfa'}
