#!/usr/bin/env node
import {runFast} from '../dist/fast-path.js'

// A last resort: a bug must not end in a stack trace, and the user needs to know what may be left.
process.on('unhandledRejection', (error) => {
  process.stderr.write(
    `wpk8s: unexpected error: ${error instanceof Error ? error.message : String(error)}\n  hint: \`wpk8s clean\` deletes anything a run left behind\n`,
  )
  if (process.env.DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`)
  process.exit(3)
})

// Output that goes away (a closed pipe: `| head`, a terminal or tee that died) must not end the process
// before it has cleaned up on the cluster: lost output is dropped, the run goes on.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code !== 'EPIPE') throw error
  })
}

// Hot commands start without loading oclif when their arguments are plain (see src/fast-path.ts).
if (!(await runFast(process.argv.slice(2), new URL('../oclif.manifest.json', import.meta.url)))) {
  const {execute} = await import('@oclif/core')
  await execute({dir: import.meta.url})
}
