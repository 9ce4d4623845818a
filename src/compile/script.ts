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

/** The end mark of a run's steps: printed with the exit code as the last log line of a commands step. */
export function endMark(runId: string): string {
  return `::wpk8s-end-${runId}::`
}

/**
 * The container command that decodes and runs `$CI_SCRIPT`, as Woodpecker's Kubernetes backend does,
 * then prints the end mark and the exit code: the log shows the end at once, where the pod's status
 * shows it only after the kubelet's next relist (up to a second).
 */
export const SCRIPT_COMMAND = ['/bin/sh', '-c', `echo $CI_SCRIPT | base64 -d | /bin/sh -e; rc=$?; echo "$${END_MARK_VAR}$rc"; exit $rc`]
