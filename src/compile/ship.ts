import {createHash} from 'node:crypto'
import {shellQuote} from './script.js'

/**
 * How the checkout gets into the workspace. The helper pod mounts the workspace and, when its image
 * has busybox's `httpd`, serves an upload endpoint that the API server's pod proxy can reach: a plain
 * HTTP stream, about twice as fast as `kubectl exec`'s path on the test cluster, where the container
 * runtime's websocket exec handling costs ~0.8 s of CPU per 50 MB. Without `httpd`, or where the proxy
 * is refused or cannot reach the pod, the archive goes through exec instead.
 *
 * Only a request carrying the run's token may unpack, and only once: the pod holds just the token's
 * SHA-256, so neither the pod spec nor another pod on the network can write into the workspace. The
 * token travels in a request header (TOKEN_HEADER), never in the URL, which API servers write into
 * their audit logs; the first accepted upload claims the endpoint, so a replayed request is refused.
 */
export const SHIP_PORT = 8777
export const HELPER_CONTAINER = 'ship'
const HOME = '/tmp/wpk8s-ship'
/** Outside the served folder: tar's complaints name files of the checkout. */
const ERRORS = '/tmp/wpk8s-ship.err'

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

/** The request header that carries the upload token (busybox httpd hands it to CGI as HTTP_X_WPK8S_TOKEN). */
export const TOKEN_HEADER = 'X-Wpk8s-Token'
/** Created by the first accepted upload (mkdir is atomic: of two at once, one wins); outside the served folder. */
const USED = '/tmp/wpk8s-ship.used'

/**
 * The CGI script that unpacks the request body; its answer is `exit N`, then tar's error output:
 * `exit 403` for a wrong token, `exit 409` for a token already used.
 */
export function unpackCgi(hash: string, dir: string, used = USED): string {
  return [
    '#!/bin/sh',
    String.raw`printf 'Content-Type: text/plain\r\n\r\n'`,
    `[ "$(printf %s "$HTTP_${TOKEN_HEADER.toUpperCase().replaceAll('-', '_')}" | sha256sum | cut -c1-64)" = ${hash} ] || { echo 'exit 403'; exit 0; }`,
    `mkdir ${used} 2>/dev/null || { echo 'exit 409'; echo 'this upload token was used already'; exit 0; }`,
    `d=${shellQuote(dir)}`,
    `mkdir -p "$d" 2>${ERRORS} || { echo 'exit 1'; cat ${ERRORS}; exit 0; }`,
    'case "$QUERY_STRING" in',
    `  *z=1*) ${unpackPipeline(true, '"$CONTENT_LENGTH"', '"$d"')} 2>${ERRORS} ;;`,
    `  *) ${unpackPipeline(false, '"$CONTENT_LENGTH"', '"$d"')} 2>${ERRORS} ;;`,
    'esac',
    'echo "exit $?"',
    `cat ${ERRORS}`,
    '',
  ].join('\n')
}

/** The environment variable that carries the CGI script into the helper. */
export const UNPACK_CGI_VAR = 'WPK8S_UNPACK_CGI'

/** What the helper logs once its upload endpoint listens (busybox httpd binds before it returns). */
export const HELPER_SERVING = 'wpk8s helper: serving uploads'
/** What the helper logs when it cannot serve one (no httpd in its image, no CGI script). */
export const HELPER_NO_ENDPOINT = 'wpk8s helper: no upload endpoint'

/** The helper's command: serve the upload endpoint if it can, say which, then wait to be deleted. */
export const HELPER_COMMAND = [
  'sh',
  '-c',
  [
    'trap "exit 0" TERM',
    `if [ -n "$${UNPACK_CGI_VAR}" ] && command -v httpd >/dev/null && mkdir -p ${HOME}/cgi-bin && printf '%s' "$${UNPACK_CGI_VAR}" > ${HOME}/cgi-bin/unpack && chmod 700 ${HOME}/cgi-bin/unpack && echo ok > ${HOME}/ok && httpd -p ${SHIP_PORT} -h ${HOME}; then echo '${HELPER_SERVING}'; else echo '${HELPER_NO_ENDPOINT}'; fi`,
    'sleep 3600 & wait',
  ].join('\n'),
]

/** The path the archive is posted to (the token goes in TOKEN_HEADER); the helper answers `ok` on PING_PATH once it serves. */
export function uploadPath(gzipped: boolean): string {
  return `/cgi-bin/unpack?z=${gzipped ? 1 : 0}`
}

export const PING_PATH = '/ok'

/** The exit code in the upload endpoint's answer, or undefined when the answer is not one. */
export function uploadExitCode(body: string): number | undefined {
  const match = /^exit (\d+)/.exec(body)
  return match ? Number(match[1]) : undefined
}

/** The command that unpacks the archive from stdin through exec, into "$1", of "$2" bytes. */
export function unpackScript(gzipped: boolean): string {
  const unpack = `mkdir -p "$1" && ${unpackPipeline(gzipped, '"$2"', '"$1"')}`
  if (!gzipped) return unpack
  return `command -v gzip >/dev/null || { echo "the helper image has no gzip (--helper-image)" >&2; exit 127; }; ${unpack}`
}

/**
 * Reads exactly `bytes` from stdin (exec on Kubernetes < 1.30 cannot end stdin, see kube.ts; an HTTP
 * body is followed by nothing) and unpacks them into `dir`, keeping no owners from the archive.
 */
function unpackPipeline(gzipped: boolean, bytes: string, dir: string): string {
  return `head -c ${bytes} | ${gzipped ? 'gzip -dc | ' : ''}tar -x -o -f - -C ${dir}`
}
