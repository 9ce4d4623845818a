import {ClusterError} from '../errors.js'

/** One readable error from anything the Kubernetes client throws (its raw messages dump headers and bodies). */
export function toClusterError(error: unknown, doing: string, server: string): ClusterError {
  if (error instanceof ClusterError) return error
  const e = error as {code?: number | string; body?: unknown; message?: string; cause?: {code?: string}}
  const network = typeof e.code === 'string' ? e.code : e.cause?.code
  if (network && /^E[A-Z]+/.test(network)) {
    return new ClusterError(
      `${doing}: cannot reach the cluster at ${server} (${network})`,
      'check your kubeconfig context (--context, --kubeconfig, KUBECONFIG)',
    )
  }
  if (typeof e.code === 'number') {
    const message = bodyMessage(e.body) ?? e.message ?? 'request failed'
    return new ApiError(`${doing}: ${message} (HTTP ${e.code})`, hintFor(e.code, message), e.code)
  }
  return new ClusterError(`${doing}: ${e.message ?? String(error)}`)
}

function hintFor(code: number, message: string): string | undefined {
  if (code === 401) return 'your credentials were refused: check the kubeconfig user'
  // The ServiceAccount admission plugin answers 403 for a missing account: not a permission problem.
  const account = /error looking up service account ([^/\s]+)\/([^:\s]+)/.exec(message)
  if (account)
    return `create the ServiceAccount ${account[2]} in namespace ${account[1]}, or fix backend_options.kubernetes.serviceAccountName`
  if (code === 403) return 'your user lacks a permission; see the README for the Role wpk8s needs'
  return undefined
}

function bodyMessage(body: unknown): string | undefined {
  if (typeof body === 'object' && body !== null && 'message' in body)
    return String((body as {message: unknown}).message)
  if (typeof body !== 'string') return undefined
  try {
    const parsed = JSON.parse(body) as {message?: string}
    return parsed.message
  } catch {
    return body.length < 200 ? body : undefined
  }
}

/** An error the API server answered with an HTTP status; the status survives the translation, so callers can still tell a 404 or a 409. */
export class ApiError extends ClusterError {
  constructor(
    message: string,
    hint: string | undefined,
    readonly status: number,
  ) {
    super(message, hint)
  }
}

/** The HTTP status of an error, raw from the client or already translated by toClusterError. */
export function httpStatus(error: unknown): number | undefined {
  if (error instanceof ApiError) return error.status
  const code = (error as {code?: unknown} | undefined)?.code
  return typeof code === 'number' ? code : undefined
}

export function isNotFound(error: unknown): boolean {
  return httpStatus(error) === 404
}

export function isConflict(error: unknown): boolean {
  return httpStatus(error) === 409
}

export function isForbidden(error: unknown): boolean {
  return httpStatus(error) === 403
}

/**
 * Creates something two workflows or two runs may create at the same moment (a namespace): losing
 * that race (409, AlreadyExists) counts as done. Resolves whether this call created it.
 */
export async function createUnlessExists(
  create: () => Promise<unknown>,
  doing: string,
  server: string,
): Promise<boolean> {
  try {
    await create()
    return true
  } catch (error) {
    if (isConflict(error)) return false
    throw toClusterError(error, doing, server)
  }
}

/** An exec whose connection ended before the command's exit status arrived: it may or may not have finished. */
export class ExecDroppedError extends ClusterError {}

/** Runs an exec again once if its connection dropped; only for commands that change nothing the second time. */
export function retryIfDropped<T>(exec: () => Promise<T>): Promise<T> {
  return exec().catch((error) => (error instanceof ExecDroppedError ? exec() : Promise.reject(error)))
}
