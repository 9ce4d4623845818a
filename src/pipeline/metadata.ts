import {execFileSync} from 'node:child_process'
import {existsSync, readdirSync, readFileSync} from 'node:fs'
import {userInfo} from 'node:os'
import {basename, join} from 'node:path'
import {createRequire} from 'node:module'
import type {Ignore} from 'ignore'

/** A commit as the forge would describe it; locally it comes from git. */
export interface CommitInfo {
  sha: string
  branch: string
  ref: string
  message: string
  author: string
  authorEmail: string
  /** Unix seconds of the commit (`%ct`). */
  timestamp?: number
}

/** What Woodpecker's forge would tell about a pipeline; locally it comes from git and flags. */
export interface RunMetadata extends CommitInfo {
  root: string
  /** `none` for a folder that is not a git checkout: every file ships, and commit values say so. */
  vcs?: 'git' | 'none'
  repoOwner: string
  repoName: string
  /** The `origin` remote as configured (SSH or HTTPS); empty without one. */
  repoUrl: string
  /** The forge's default branch: origin's HEAD, else `init.defaultBranch`, else `main` (or `--default-branch`). */
  defaultBranch?: string
  event: string
  tag: string
  /** Pull-request number for `pull_request*` events. */
  pullRequest?: number
  /** `--deploy-to`, for deployment events. */
  deployTo?: string
  pipelineNumber?: number
  /** The commit the forge last saw on this branch (the upstream's), standing in for the previous pipeline. */
  prev?: CommitInfo
  /** Uncommitted changes (staged, unstaged, untracked) if any, else the files the last commit changed. */
  changedFiles: string[]
  started: number
}

export interface MetadataOverrides {
  event?: string
  branch?: string
  tag?: string
  defaultBranch?: string
  pullRequest?: number
  deployTo?: string
  pipelineNumber?: number
}

function git(cwd: string, args: string[]): string | undefined {
  try {
    return execFileSync('git', args, {cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']}).trimEnd()
  } catch {
    return undefined
  }
}

export const PULL_REQUEST_EVENTS = ['pull_request', 'pull_request_closed', 'pull_request_metadata']

/** Reads the checkout around `cwd` (any folder works: outside git the values are empty). */
export function readMetadata(cwd: string, overrides: MetadataOverrides, now: Date): RunMetadata {
  const top = git(cwd, ['rev-parse', '--show-toplevel'])
  const root = top ?? cwd
  const head = top ? readCommit(root, 'HEAD') : folderCommit(root)
  const branch = overrides.branch ?? git(root, ['symbolic-ref', '--short', '-q', 'HEAD']) ?? ''
  const repoUrl = git(root, ['config', '--get', 'remote.origin.url']) ?? ''
  const [repoOwner, repoName] = repoFromUrl(repoUrl, root)
  const tag = overrides.tag ?? ''
  const event = overrides.event ?? (tag ? 'tag' : 'push')
  const defaultBranch = overrides.defaultBranch ?? readDefaultBranch(root)
  const pullRequest = PULL_REQUEST_EVENTS.includes(event) ? (overrides.pullRequest ?? 1) : undefined
  const ref = tag
    ? `refs/tags/${tag}`
    : pullRequest !== undefined
      ? `refs/pull/${pullRequest}/head`
      : branch
        ? `refs/heads/${branch}`
        : ''
  return {
    ...head,
    root,
    repoOwner,
    repoName,
    repoUrl,
    defaultBranch,
    branch,
    ref,
    event,
    tag,
    ...(pullRequest !== undefined ? {pullRequest} : {}),
    ...(overrides.deployTo ? {deployTo: overrides.deployTo} : {}),
    ...(overrides.pipelineNumber !== undefined ? {pipelineNumber: overrides.pipelineNumber} : {}),
    ...(branch && !overrides.branch ? optionalPrev(root) : {}),
    vcs: top ? 'git' : 'none',
    changedFiles: top ? changedFiles(root) : folderFiles(root),
    started: Math.floor(now.getTime() / 1000),
  }
}

/** A folder outside git has no commit: the message says so, the author is the user running wpk8s. */
function folderCommit(root: string): CommitInfo {
  let author = ''
  try {
    author = userInfo().username
  } catch {
    // No user entry (a container with an arbitrary UID): the author stays unset, as an empty value is.
  }
  return {
    sha: '',
    branch: '',
    ref: '',
    message: `local folder ${basename(root)} (not a git checkout)`,
    author,
    authorEmail: '',
  }
}

const MAX_FOLDER_FILES = 100_000

/** Every file of a folder that is not a git checkout (as it ships: `.git` and what its root `.gitignore` ignores left out), as changed files. */
function folderFiles(root: string): string[] {
  const gitignore = join(root, '.gitignore')
  // Loaded only here (outside git): every run and validation pays its import otherwise.
  const ignored = (createRequire(import.meta.url)('ignore') as () => Ignore)()
  if (existsSync(gitignore)) ignored.add(readFileSync(gitignore, 'utf8'))
  const files: string[] = []
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(root, dir), {withFileTypes: true})) {
      const path = dir ? `${dir}/${entry.name}` : entry.name
      if (
        entry.name === '.git' ||
        files.length >= MAX_FOLDER_FILES ||
        ignored.ignores(entry.isDirectory() ? `${path}/` : path)
      )
        continue
      if (entry.isDirectory()) walk(path)
      else files.push(path)
    }
  }
  try {
    walk('')
  } catch {
    // An unreadable folder: `when.path` then sees what was read so far; shipping reports the problem.
  }
  return files.sort()
}

function readCommit(root: string, rev: string): CommitInfo {
  const [sha = '', author = '', authorEmail = '', time = '', ...message] = (
    git(root, ['log', '-1', '--format=%H%x00%an%x00%ae%x00%ct%x00%B', rev, '--']) ?? ''
  ).split('\0')
  return {
    sha,
    branch: '',
    ref: '',
    message: message.join('\0').trim(),
    author,
    authorEmail,
    ...(time ? {timestamp: Number(time)} : {}),
  }
}

/** The branch's upstream commit, when there is one and it is not HEAD itself. */
function optionalPrev(root: string): {prev?: CommitInfo} {
  const upstream = git(root, ['rev-parse', '--abbrev-ref', '--symbolic-full-name', '@{upstream}'])
  if (!upstream) return {}
  const commit = readCommit(root, '@{upstream}')
  const branch = upstream.replace(/^[^/]+\//, '')
  return commit.sha ? {prev: {...commit, branch, ref: `refs/heads/${branch}`}} : {}
}

function readDefaultBranch(root: string): string {
  const remoteHead = git(root, ['symbolic-ref', '--short', '-q', 'refs/remotes/origin/HEAD'])
  if (remoteHead) return remoteHead.replace(/^origin\//, '')
  return git(root, ['config', '--get', 'init.defaultBranch']) || 'main'
}

function changedFiles(root: string): string[] {
  const entries = (git(root, ['status', '--porcelain', '-z', '--untracked-files=all']) ?? '').split('\0')
  const local: string[] = []
  for (let i = 0; i < entries.length; i++) {
    if (entries[i].length < 4) continue
    local.push(entries[i].slice(3))
    if (/^[RC]/.test(entries[i])) i++ // a rename or copy: the next entry is the old path
  }
  if (local.length > 0) return [...new Set(local)].sort()
  const committed = git(root, ['diff-tree', '--no-commit-id', '--name-only', '-r', '--root', 'HEAD'])
  return (committed ?? '').split('\n').filter(Boolean)
}

/** `git@host:owner/name.git` or `https://host/group/sub/name` → [owner, name] (owner may hold `/`); else the folder's name. */
export function repoFromUrl(url: string, root: string): [string, string] {
  const path = repoPath(url)
  const parts = path?.split('/') ?? []
  return parts.length >= 2 ? [parts.slice(0, -1).join('/'), parts[parts.length - 1]] : ['local', basename(root)]
}

/** The host and the repository path of a remote URL: `git@h:o/n.git`, `ssh://git@h:22/o/n`, `https://u@h/o/n.git`. */
export function remoteParts(url: string): {host: string; path: string} | undefined {
  const scp = /^(?:[^@/]+@)?([^:/]+):(?!\/\/)(.+)$/.exec(url)
  const full = /^[a-z+]+:\/\/(?:[^@/]+@)?([^/:]+)(?::\d+)?\/(.+)$/.exec(url)
  const m = full ?? scp
  if (!m) return undefined
  return {host: m[1], path: m[2].replace(/\.git\/?$/, '').replace(/\/+$/, '')}
}

function repoPath(url: string): string | undefined {
  return remoteParts(url)?.path
}
