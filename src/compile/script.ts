/** Quotes text for a POSIX shell: single quotes, with embedded ones closed and escaped. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`
}

/**
 * The script a commands step runs: enter the working directory, then echo each command as
 * `+ command` and run it. The pod runs it with `sh -e`, so the first failing command stops the step.
 */
export function commandsScript(commands: readonly string[], workdir: string): string {
  const lines = [`mkdir -p ${shellQuote(workdir)}`, `cd ${shellQuote(workdir)}`]
  for (const command of commands) {
    lines.push(`echo ${shellQuote(`+ ${command}`)}`, command)
  }
  return `${lines.join('\n')}\n`
}

/** The variable holding the run's end mark (see SCRIPT_COMMAND). */
export const END_MARK_VAR = 'WPK8S_END'

/** The end mark of a run's steps: with the step's nonce and exit code, the last log line of a commands step. */
export function endMark(runId: string): string {
  return `::wpk8s-end-${runId}::`
}

/**
 * The wrapper's shell variable holding the step's nonce: never exported (unset first, in case the
 * image's environment has it), so the step's commands, which run in a child shell, cannot see it.
 */
const NONCE_VAR = 'wpk8s_nonce'

/**
 * The container command that decodes and runs `$CI_SCRIPT`, as Woodpecker's Kubernetes backend does,
 * then prints the end mark and the exit code: the log shows the end at once, where the pod's status
 * shows it only after the kubelet's next relist (up to a second).
 *
 * So that the step cannot fake its end (it knows `$WPK8S_END`), the wrapper first reads a random nonce
 * into a variable it does not export (from /proc/sys/kernel/random/uuid, with the `read` builtin: no
 * process is started) and prints the mark with it on stdout and on stderr, before the step's commands
 * run. Only an end mark with the nonce of the first such line counts (see endMarkReader): lines
 * are ordered within each stream, so the first one in the log is the wrapper's on either, and the
 * step's commands never see the nonce.
 */
export const SCRIPT_COMMAND = [
  '/bin/sh',
  '-c',
  `unset ${NONCE_VAR}; { read -r ${NONCE_VAR} </proc/sys/kernel/random/uuid; } 2>/dev/null; echo "$${END_MARK_VAR}$${NONCE_VAR}"; echo "$${END_MARK_VAR}$${NONCE_VAR}" >&2; ` +
    `echo $CI_SCRIPT | base64 -d | /bin/sh -e; rc=$?; echo "$${END_MARK_VAR}$${NONCE_VAR}:$rc"; exit $rc`,
]

/** Whether a container runs the wrapper above, so that its end mark can be trusted (a plugin's or an entrypoint's output never is). */
export function printsEndMark(command: readonly string[] | undefined): boolean {
  return command !== undefined && command.join('\0') === SCRIPT_COMMAND.join('\0')
}
