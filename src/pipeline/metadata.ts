import {execFileSync} from 'node:child_process'
import {basename} from 'node:path'

/** What Woodpecker's forge would tell about a pipeline; locally it comes from git and flags. */
export interface RunMetadata {
  root: string
  repoOwner: string
  repoName: string
  repoUrl: string
  sha: string
  branch: string
  ref: string
  message: string
  author: string
  authorEmail: string
  event: string
  tag: string
  /** Uncommitted changes (staged, unstaged, untracked) if any, else the files the last commit changed. */
  changedFiles: string[]
  started: number
}

export interface MetadataOverrides {
  event?: string
  branch?: string
  tag?: string
}

function git(cwd: string, args: string[]): string | undefined {
  try {
    return execFileSync('git', args, {cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']}).trimEnd()
  } catch {
    return undefined
  }
}

/** Reads the checkout around `cwd` (any folder works: outside git the values are empty). */
export function readMetadata(cwd: string, overrides: MetadataOverrides, now: Date): RunMetadata {
  const root = git(cwd, ['rev-parse', '--show-toplevel']) ?? cwd
  const [sha = '', author = '', authorEmail = '', ...message] = (git(root, ['log', '-1', '--format=%H%x00%an%x00%ae%x00%B']) ?? '').split('\0')
  const branch = overrides.branch ?? git(root, ['symbolic-ref', '--short', '-q', 'HEAD']) ?? ''
  const repoUrl = git(root, ['config', '--get', 'remote.origin.url']) ?? ''
  const [repoOwner, repoName] = repoFromUrl(repoUrl, root)
  const tag = overrides.tag ?? ''
  return {
    root, repoOwner, repoName, repoUrl, sha, branch, ref: tag ? `refs/tags/${tag}` : branch ? `refs/heads/${branch}` : '',
    message: message.join('\0').trim(), author, authorEmail, event: overrides.event ?? (tag ? 'tag' : 'push'), tag,
    changedFiles: changedFiles(root), started: Math.floor(now.getTime() / 1000),
  }
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

/** `git@host:owner/name.git` or `https://host/owner/name` → [owner, name]; else the folder's name. */
export function repoFromUrl(url: string, root: string): [string, string] {
  const m = /[:/]([^/:]+)\/([^/]+?)(\.git)?\/?$/.exec(url)
  return m ? [m[1], m[2]] : ['local', basename(root)]
}
