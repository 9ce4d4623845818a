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

/** The container command that decodes and runs `$CI_SCRIPT`, as Woodpecker's Kubernetes backend does. */
export const SCRIPT_COMMAND = ['/bin/sh', '-c', 'echo $CI_SCRIPT | base64 -d | /bin/sh -e']
