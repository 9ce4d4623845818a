import ora from 'ora'

/**
 * One spinner on stderr while a single wait goes on (only on an interactive terminal, not in CI), then
 * cleared: for commands whose only wait is one call (`clean`), where a task list would be too much.
 */
export async function withSpinner<T>(text: string, work: () => Promise<T>): Promise<T> {
  // Without a terminal ora would still print the text once; there is nothing to show then.
  if (!process.stderr.isTTY || process.env.CI) return work()
  const spinner = ora({text, stream: process.stderr, discardStdin: false}).start()
  try {
    return await work()
  } finally {
    spinner.stop()
  }
}
