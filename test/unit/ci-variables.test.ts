import {execFileSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {
  ALWAYS_SET_VARIABLES,
  isPipelineVariable,
  pipelineEnvironment,
  PIPELINE_VARIABLES,
  RUNTIME_VARIABLES,
} from '../../src/pipeline/ci-variables.js'
import {readMetadata, remoteParts, repoFromUrl, type RunMetadata} from '../../src/pipeline/metadata.js'
import {CONFORMANCE_DIR, haveConformance} from './conformance.js'

const push: RunMetadata = {
  root: '/src/app',
  repoOwner: 'octo',
  repoName: 'app',
  repoUrl: 'git@github.com:octo/app.git',
  sha: 'abc123',
  branch: 'feature',
  ref: 'refs/heads/feature',
  message: 'Fix it',
  author: 'Octo Cat',
  authorEmail: 'octo@example.com',
  timestamp: 1700000000,
  defaultBranch: 'trunk',
  event: 'push',
  tag: '',
  changedFiles: ['a.go'],
  started: 1700000100,
}

describe('pipelineEnvironment', () => {
  it('gives a push what Woodpecker gives it, from the checkout', () => {
    const env = pipelineEnvironment(push, {name: '.woodpecker', number: 1})
    expect(env).toMatchObject({
      CI: 'woodpecker',
      CI_REPO: 'octo/app',
      CI_REPO_DEFAULT_BRANCH: 'trunk',
      CI_REPO_URL: 'https://github.com/octo/app',
      CI_REPO_CLONE_URL: 'https://github.com/octo/app.git',
      CI_REPO_CLONE_SSH_URL: 'git@github.com:octo/app.git',
      CI_FORGE_TYPE: 'github',
      CI_COMMIT_BRANCH: 'feature',
      CI_COMMIT_REF: 'refs/heads/feature',
      CI_COMMIT_AUTHOR_EMAIL: 'octo@example.com',
      CI_COMMIT_TIMESTAMP: '1700000000',
      CI_PIPELINE_EVENT: 'push',
      CI_PIPELINE_NUMBER: '0',
      CI_PIPELINE_STARTED: '0',
      CI_PIPELINE_CREATED: '1700000100',
      CI_PIPELINE_FILES: '["a.go"]',
      CI_WORKFLOW_NAME: 'woodpecker',
      CI_WORKFLOW_NUMBER: '1',
      CI_PREV_PIPELINE_URL: '/repos/0/pipeline/0',
    })
    for (const unset of [
      'CI_COMMIT_TAG',
      'CI_COMMIT_PULL_REQUEST',
      'CI_COMMIT_SOURCE_BRANCH',
      'CI_PREV_COMMIT_SHA',
      'CI_PIPELINE_RELEASE_PRE',
      'CI_WORKSPACE',
      'CI_STEP_NAME',
    ]) {
      expect(env).not.toHaveProperty(unset)
    }
  })

  it('sets numbers, booleans and URLs whatever is known, and leaves out empty strings', () => {
    const empty: RunMetadata = {
      ...push,
      repoUrl: '',
      sha: '',
      branch: '',
      ref: '',
      message: '',
      author: '',
      authorEmail: '',
      timestamp: undefined,
      defaultBranch: undefined,
      changedFiles: [],
    }
    const env = pipelineEnvironment(empty, {name: 'ci', number: 3})
    for (const name of ALWAYS_SET_VARIABLES) expect(env[name], name).toBeDefined()
    expect(env).not.toHaveProperty('CI_COMMIT_SHA')
    expect(env).not.toHaveProperty('CI_REPO_URL')
    expect(env.CI_PIPELINE_FILES).toBe('[]')
    expect(env.CI_REPO_DEFAULT_BRANCH).toBe('main')
    expect(Object.values(env)).not.toContain('')
  })

  it('describes a pull request as Woodpecker does: the target branch, the refspec, the number', () => {
    const env = pipelineEnvironment(
      {...push, event: 'pull_request', pullRequest: 7, ref: 'refs/pull/7/head'},
      {name: 'ci', number: 1},
    )
    expect(env).toMatchObject({
      CI_COMMIT_BRANCH: 'trunk',
      CI_COMMIT_SOURCE_BRANCH: 'feature',
      CI_COMMIT_TARGET_BRANCH: 'trunk',
      CI_COMMIT_REFSPEC: 'feature:trunk',
      CI_COMMIT_PULL_REQUEST: '7',
      CI_COMMIT_PULL_REQUEST_DRAFT: 'false',
      CI_PIPELINE_FORGE_URL: 'https://github.com/octo/app/pull/7',
    })
  })

  it('sets the tag for any event whose ref is a tag, and the release flags only for releases', () => {
    const tag = pipelineEnvironment({...push, event: 'tag', tag: 'v1', ref: 'refs/tags/v1'}, {name: 'ci', number: 1})
    expect(tag.CI_COMMIT_TAG).toBe('v1')
    expect(tag).not.toHaveProperty('CI_PIPELINE_RELEASE_PRE')
    expect(
      pipelineEnvironment({...push, event: 'release', tag: 'v1', ref: 'refs/tags/v1'}, {name: 'ci', number: 1}),
    ).toMatchObject({CI_COMMIT_TAG: 'v1', CI_PIPELINE_RELEASE_PRE: 'false'})
  })

  it('leaves CI_PIPELINE_FILES unset above 500 changed files', () => {
    const many = Array.from({length: 501}, (_, i) => `f${i}`)
    expect(pipelineEnvironment({...push, changedFiles: many}, {name: 'ci', number: 1})).not.toHaveProperty(
      'CI_PIPELINE_FILES',
    )
  })

  it('describes the previous commit when the branch has an upstream', () => {
    const prev = {
      sha: 'def',
      branch: 'feature',
      ref: 'refs/heads/feature',
      message: 'Before',
      author: 'A',
      authorEmail: 'a@x',
      timestamp: 5,
    }
    expect(pipelineEnvironment({...push, prev}, {name: 'ci', number: 1})).toMatchObject({
      CI_PREV_COMMIT_SHA: 'def',
      CI_PREV_COMMIT_BRANCH: 'feature',
      CI_PREV_COMMIT_TIMESTAMP: '5',
      CI_PREV_PIPELINE_NUMBER: '0',
    })
  })
})

describe.skipIf(!haveConformance)('the variable names', () => {
  it("cover every variable of Woodpecker's list (ci-variables.md)", () => {
    const text = readFileSync(join(CONFORMANCE_DIR, 'ci-variables.md'), 'utf8')
    const listed = new Set([...text.matchAll(/`(CI(?:_[A-Z]+)*)`/g)].map((m) => m[1]))
    const known = new Set([...PIPELINE_VARIABLES, ...RUNTIME_VARIABLES])
    // CI_ENV is woodpecker-cli's own option, CI_PIPELINE_FINISHED is named as not set; the others are prefixes in prose.
    const missing = [...listed].filter(
      (n) => !known.has(n) && !/^CI_(NETRC|PREV_COMMIT|COMMIT|ENV|PIPELINE_FINISHED)$/.test(n),
    )
    expect(missing).toEqual([])
    expect(isPipelineVariable('CI')).toBe(true)
    expect(isPipelineVariable('CI_WORKSPACE')).toBe(false)
  })
})

describe('remotes', () => {
  it.each([
    ['git@github.com:octo/app.git', 'github.com', 'octo/app'],
    ['https://gitlab.com/group/sub/app.git', 'gitlab.com', 'group/sub/app'],
    ['ssh://git@codeberg.org:2222/octo/app', 'codeberg.org', 'octo/app'],
    ['https://user:pw@git.example.com/octo/app/', 'git.example.com', 'octo/app'],
  ])('%s', (url, host, path) => expect(remoteParts(url)).toEqual({host, path}))

  it('splits the owner at the last slash (GitLab subgroups) and falls back to the folder name', () => {
    expect(repoFromUrl('https://gitlab.com/group/sub/app.git', '/x')).toEqual(['group/sub', 'app'])
    expect(repoFromUrl('', '/home/me/tool')).toEqual(['local', 'tool'])
  })
})

describe('readMetadata from a real checkout', () => {
  const git = (cwd: string, ...args: string[]) =>
    execFileSync('git', args, {
      cwd,
      stdio: 'pipe',
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 'T',
        GIT_AUTHOR_EMAIL: 't@x',
        GIT_COMMITTER_NAME: 'T',
        GIT_COMMITTER_EMAIL: 't@x',
      },
    }).toString()

  it("takes the default branch from the remote's HEAD, else init.defaultBranch, else main, and the previous commit from the upstream", () => {
    const origin = mkdtempSync(join(tmpdir(), 'wpk8s-origin-'))
    git(origin, 'init', '-q', '-b', 'trunk')
    writeFileSync(join(origin, 'a.txt'), 'a')
    git(origin, 'add', '.')
    git(origin, 'commit', '-qm', 'first')
    const clone = mkdtempSync(join(tmpdir(), 'wpk8s-clone-'))
    git(clone, 'clone', '-q', origin, '.')
    writeFileSync(join(clone, 'b.txt'), 'b')
    git(clone, 'add', '.')
    git(clone, 'commit', '-qm', 'second')
    const m = readMetadata(clone, {}, new Date())
    expect(m).toMatchObject({defaultBranch: 'trunk', branch: 'trunk', message: 'second', authorEmail: 't@x'})
    expect(m.prev).toMatchObject({message: 'first', branch: 'trunk'})
    expect(readMetadata(clone, {defaultBranch: 'dev'}, new Date()).defaultBranch).toBe('dev')
    git(origin, 'config', 'init.defaultBranch', 'develop')
    expect(readMetadata(origin, {}, new Date()).defaultBranch).toBe('develop')
    expect(readMetadata(clone, {event: 'pull_request', pullRequest: 4}, new Date()).ref).toBe('refs/pull/4/head')
    expect(existsSync(clone)).toBe(true)
  })
})

describe('readMetadata outside git', () => {
  it("says the folder is not a git checkout and takes its files (less .git and .gitignore'd ones) as changed", async () => {
    const {mkdirSync} = await import('node:fs')
    const dir = mkdtempSync(join(tmpdir(), 'wpk8s-nogit-'))
    mkdirSync(join(dir, 'src'))
    mkdirSync(join(dir, 'build'))
    mkdirSync(join(dir, '.git-not'))
    writeFileSync(join(dir, 'src', 'a.go'), 'x')
    writeFileSync(join(dir, 'build', 'out'), 'y')
    writeFileSync(join(dir, '.gitignore'), 'build/\n')
    writeFileSync(join(dir, '.git-not', 'f'), 'z')
    const m = readMetadata(dir, {}, new Date())
    expect(m).toMatchObject({vcs: 'none', sha: '', branch: '', message: expect.stringMatching(/not a git checkout/)})
    expect(m.changedFiles).toEqual(['.git-not/f', '.gitignore', 'src/a.go'])
    const env = pipelineEnvironment(m, {name: 'ci', number: 1})
    expect(env).not.toHaveProperty('CI_COMMIT_SHA')
    expect(env.CI_COMMIT_MESSAGE).toMatch(/not a git checkout/)
  })
})
