import {type CommitInfo, remoteParts, type RunMetadata} from './metadata.js'

/**
 * The names of the variables Woodpecker defines for a pipeline. `PIPELINE_VARIABLES` are those its
 * metadata gives at configuration time (they are substituted into `${...}` and seen by `evaluate`);
 * `RUNTIME_VARIABLES` only exist inside a running step.
 */
export const PIPELINE_VARIABLES: readonly string[] = [
  'CI',
  'CI_SYSTEM_NAME',
  'CI_SYSTEM_URL',
  'CI_SYSTEM_HOST',
  'CI_SYSTEM_PLATFORM',
  'CI_SYSTEM_VERSION',
  'CI_FORGE_TYPE',
  'CI_FORGE_URL',
  'CI_REPO',
  'CI_REPO_OWNER',
  'CI_REPO_NAME',
  'CI_REPO_REMOTE_ID',
  'CI_REPO_URL',
  'CI_REPO_CLONE_URL',
  'CI_REPO_CLONE_SSH_URL',
  'CI_REPO_DEFAULT_BRANCH',
  'CI_REPO_PRIVATE',
  'CI_REPO_TRUSTED',
  'CI_REPO_TRUSTED_NETWORK',
  'CI_REPO_TRUSTED_VOLUMES',
  'CI_REPO_TRUSTED_SECURITY',
  'CI_PIPELINE_NUMBER',
  'CI_PIPELINE_PARENT',
  'CI_PIPELINE_EVENT',
  'CI_PIPELINE_EVENT_REASON',
  'CI_PIPELINE_URL',
  'CI_PIPELINE_FORGE_URL',
  'CI_PIPELINE_DEPLOY_TARGET',
  'CI_PIPELINE_DEPLOY_TASK',
  'CI_PIPELINE_CREATED',
  'CI_PIPELINE_STARTED',
  'CI_PIPELINE_AUTHOR',
  'CI_PIPELINE_AVATAR',
  'CI_PIPELINE_RERUNS',
  'CI_PIPELINE_FILES',
  'CI_PIPELINE_RELEASE_TITLE',
  'CI_PIPELINE_RELEASE_PRE',
  'CI_WORKFLOW_NAME',
  'CI_WORKFLOW_NUMBER',
  'CI_STEP_NUMBER',
  'CI_STEP_URL',
  'CI_COMMIT_SHA',
  'CI_COMMIT_REF',
  'CI_COMMIT_REFSPEC',
  'CI_COMMIT_BRANCH',
  'CI_COMMIT_MESSAGE',
  'CI_COMMIT_TIMESTAMP',
  'CI_COMMIT_AUTHOR',
  'CI_COMMIT_AUTHOR_EMAIL',
  'CI_COMMIT_AUTHOR_AVATAR',
  'CI_COMMIT_TAG',
  'CI_COMMIT_PRERELEASE',
  'CI_COMMIT_SOURCE_BRANCH',
  'CI_COMMIT_TARGET_BRANCH',
  'CI_COMMIT_PULL_REQUEST',
  'CI_COMMIT_PULL_REQUEST_LABELS',
  'CI_COMMIT_PULL_REQUEST_MILESTONE',
  'CI_COMMIT_PULL_REQUEST_DRAFT',
  'CI_PREV_PIPELINE_NUMBER',
  'CI_PREV_PIPELINE_PARENT',
  'CI_PREV_PIPELINE_CREATED',
  'CI_PREV_PIPELINE_STARTED',
  'CI_PREV_PIPELINE_FINISHED',
  'CI_PREV_PIPELINE_EVENT',
  'CI_PREV_PIPELINE_EVENT_REASON',
  'CI_PREV_PIPELINE_STATUS',
  'CI_PREV_PIPELINE_AUTHOR',
  'CI_PREV_PIPELINE_AVATAR',
  'CI_PREV_PIPELINE_DEPLOY_TARGET',
  'CI_PREV_PIPELINE_DEPLOY_TASK',
  'CI_PREV_PIPELINE_URL',
  'CI_PREV_PIPELINE_FORGE_URL',
  'CI_PREV_COMMIT_URL',
  'CI_PREV_COMMIT_SHA',
  'CI_PREV_COMMIT_REF',
  'CI_PREV_COMMIT_REFSPEC',
  'CI_PREV_COMMIT_BRANCH',
  'CI_PREV_COMMIT_MESSAGE',
  'CI_PREV_COMMIT_AUTHOR',
  'CI_PREV_COMMIT_AUTHOR_EMAIL',
  'CI_PREV_COMMIT_AUTHOR_AVATAR',
  'CI_PREV_COMMIT_TIMESTAMP',
  'CI_PREV_COMMIT_SOURCE_BRANCH',
  'CI_PREV_COMMIT_TARGET_BRANCH',
]

/** Set by the agent inside a running step only: `${...}` of these is empty in Woodpecker. */
export const RUNTIME_VARIABLES: readonly string[] = [
  'CI_WORKSPACE',
  'CI_PIPELINE_STATUS',
  'CI_STEP_NAME',
  'CI_STEP_TYPE',
  'CI_STEP_STARTED',
  'CI_MACHINE',
  'CI_NETRC_MACHINE',
  'CI_NETRC_USERNAME',
  'CI_NETRC_PASSWORD',
  'CI_SCRIPT',
]

/**
 * Defined whatever the event and the metadata: Woodpecker formats numbers (`"0"` when unknown), booleans
 * and the pipeline URLs, so these are never unset. Everything else is unset when empty.
 */
export const ALWAYS_SET_VARIABLES: readonly string[] = [
  'CI_PIPELINE_NUMBER',
  'CI_PIPELINE_PARENT',
  'CI_PIPELINE_CREATED',
  'CI_PIPELINE_STARTED',
  'CI_COMMIT_TIMESTAMP',
  'CI_WORKFLOW_NUMBER',
  'CI_STEP_NUMBER',
  'CI_PREV_PIPELINE_NUMBER',
  'CI_PREV_PIPELINE_PARENT',
  'CI_PREV_PIPELINE_CREATED',
  'CI_PREV_PIPELINE_STARTED',
  'CI_PREV_PIPELINE_FINISHED',
  'CI_PREV_COMMIT_TIMESTAMP',
  'CI_REPO_PRIVATE',
  'CI_REPO_TRUSTED',
  'CI_REPO_TRUSTED_NETWORK',
  'CI_REPO_TRUSTED_VOLUMES',
  'CI_REPO_TRUSTED_SECURITY',
  'CI_PIPELINE_URL',
  'CI_STEP_URL',
  'CI_PREV_PIPELINE_URL',
  'CI_PIPELINE_FILES',
]

const pipelineNames = new Set(PIPELINE_VARIABLES)

/** Whether Woodpecker can define `name` at configuration time (for some event or repository). */
export function isPipelineVariable(name: string): boolean {
  return pipelineNames.has(name)
}

/** The workflow a variable set is for: its name as Woodpecker shows it, and its 1-based number in the pipeline. */
export interface WorkflowIdentity {
  name: string
  number: number
}

const FORGE_BY_HOST: Record<string, string> = {
  'github.com': 'github',
  'gitlab.com': 'gitlab',
  'codeberg.org': 'forgejo',
  'bitbucket.org': 'bitbucket',
  'gitea.com': 'gitea',
}

/**
 * What Woodpecker's metadata gives a workflow at configuration time, from the local checkout: the map
 * `${...}` substitution and `evaluate` see. Strings are left out when empty, as Woodpecker does; numbers,
 * booleans and the pipeline URLs are always set.
 */
export function pipelineEnvironment(m: RunMetadata, workflow: WorkflowIdentity): Record<string, string> {
  const remote = remoteParts(m.repoUrl)
  const pipelineUrl = `/repos/0/pipeline/${m.pipelineNumber ?? 0}`
  const vars: Record<string, string | undefined> = {
    CI: 'woodpecker',
    CI_SYSTEM_NAME: 'woodpecker',
    CI_FORGE_TYPE: remote && FORGE_BY_HOST[remote.host],
    CI_FORGE_URL: remote && `https://${remote.host}`,
    CI_REPO: `${m.repoOwner}/${m.repoName}`,
    CI_REPO_OWNER: m.repoOwner,
    CI_REPO_NAME: m.repoName,
    CI_REPO_URL: remote && `https://${remote.host}/${remote.path}`,
    CI_REPO_CLONE_URL: remote && `https://${remote.host}/${remote.path}.git`,
    CI_REPO_CLONE_SSH_URL: remote && `git@${remote.host}:${remote.path}.git`,
    CI_REPO_DEFAULT_BRANCH: m.defaultBranch ?? 'main',
    CI_REPO_PRIVATE: 'false',
    CI_REPO_TRUSTED: 'false',
    CI_REPO_TRUSTED_NETWORK: 'false',
    CI_REPO_TRUSTED_VOLUMES: 'false',
    CI_REPO_TRUSTED_SECURITY: 'false',
    ...pipelineVariables(m, pipelineUrl, remote && `https://${remote.host}/${remote.path}`),
    CI_WORKFLOW_NAME: workflow.name.replace(/^\./, ''),
    CI_WORKFLOW_NUMBER: String(workflow.number),
    CI_STEP_NUMBER: '0',
    CI_STEP_URL: pipelineUrl,
    ...commitVariables(m),
    ...previousVariables(m.prev),
  }
  return Object.fromEntries(
    Object.entries(vars).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''),
  )
}

function pipelineVariables(m: RunMetadata, url: string, web: string | undefined): Record<string, string | undefined> {
  const files = m.changedFiles.length <= 500 ? JSON.stringify(m.changedFiles) : undefined
  const release = m.event === 'release'
  return {
    CI_PIPELINE_NUMBER: String(m.pipelineNumber ?? 0),
    CI_PIPELINE_PARENT: '0',
    CI_PIPELINE_EVENT: m.event,
    CI_PIPELINE_URL: url,
    CI_PIPELINE_FORGE_URL:
      web &&
      (m.pullRequest !== undefined ? `${web}/pull/${m.pullRequest}` : m.sha ? `${web}/commit/${m.sha}` : undefined),
    CI_PIPELINE_DEPLOY_TARGET: m.deployTo,
    CI_PIPELINE_CREATED: String(m.started),
    CI_PIPELINE_STARTED: '0',
    CI_PIPELINE_AUTHOR: m.author,
    CI_PIPELINE_FILES: files,
    ...(release ? {CI_PIPELINE_RELEASE_PRE: 'false', CI_COMMIT_PRERELEASE: 'false'} : {}),
  }
}

function commitVariables(m: RunMetadata): Record<string, string | undefined> {
  const pull = m.pullRequest !== undefined
  const target = m.defaultBranch ?? 'main'
  return {
    CI_COMMIT_SHA: m.sha,
    CI_COMMIT_REF: m.ref,
    CI_COMMIT_BRANCH: pull ? target : m.branch,
    CI_COMMIT_MESSAGE: m.message,
    CI_COMMIT_TIMESTAMP: String(m.timestamp ?? 0),
    CI_COMMIT_AUTHOR: m.author,
    CI_COMMIT_AUTHOR_EMAIL: m.authorEmail,
    CI_COMMIT_TAG: m.ref.startsWith('refs/tags/') ? m.ref.slice('refs/tags/'.length) : undefined,
    ...(pull
      ? {
          CI_COMMIT_REFSPEC: `${m.branch}:${target}`,
          CI_COMMIT_SOURCE_BRANCH: m.branch || undefined,
          CI_COMMIT_TARGET_BRANCH: target,
          CI_COMMIT_PULL_REQUEST: String(m.pullRequest),
          CI_COMMIT_PULL_REQUEST_DRAFT: 'false',
        }
      : {}),
  }
}

/** Without a previous pipeline Woodpecker still sets its numbers (`0`) and URL. */
function previousVariables(prev: CommitInfo | undefined): Record<string, string | undefined> {
  return {
    CI_PREV_PIPELINE_NUMBER: '0',
    CI_PREV_PIPELINE_PARENT: '0',
    CI_PREV_PIPELINE_CREATED: '0',
    CI_PREV_PIPELINE_STARTED: '0',
    CI_PREV_PIPELINE_FINISHED: '0',
    CI_PREV_PIPELINE_URL: '/repos/0/pipeline/0',
    CI_PREV_COMMIT_TIMESTAMP: String(prev?.timestamp ?? 0),
    ...(prev
      ? {
          CI_PREV_PIPELINE_EVENT: 'push',
          CI_PREV_COMMIT_SHA: prev.sha,
          CI_PREV_COMMIT_REF: prev.ref,
          CI_PREV_COMMIT_BRANCH: prev.branch,
          CI_PREV_COMMIT_MESSAGE: prev.message,
          CI_PREV_COMMIT_AUTHOR: prev.author,
          CI_PREV_COMMIT_AUTHOR_EMAIL: prev.authorEmail,
        }
      : {}),
  }
}

/** The variables only a running step has (CI_PIPELINE_STATUS and the start times are filled in when it starts). */
export function runtimeVariables(
  step: {name: string; type: string},
  workspace: string,
  platform: string,
  started: number,
): Record<string, string> {
  return {
    CI_WORKSPACE: workspace,
    CI_STEP_NAME: step.name,
    CI_STEP_TYPE: step.type,
    CI_SYSTEM_PLATFORM: platform,
    CI_PIPELINE_STARTED: String(started),
    CI_STEP_STARTED: String(started),
  }
}
