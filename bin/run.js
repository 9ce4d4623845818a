#!/usr/bin/env node
import {runFast} from '../dist/fast-path.js'

// Hot commands start without loading oclif when their arguments are plain (see src/fast-path.ts).
if (!(await runFast(process.argv.slice(2), new URL('../oclif.manifest.json', import.meta.url)))) {
  const {execute} = await import('@oclif/core')
  await execute({dir: import.meta.url})
}
