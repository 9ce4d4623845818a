/**
 * `matches` uses Go's regular expressions (RE2: no look-around or back-references, linear time).
 * re2js is a port of Go's regexp package; it is loaded on the first pattern, so commands that never
 * compile one (most `validate` runs) do not pay for it.
 */
import {createRequire} from 'node:module'
import type {RE2JS} from 're2js'

let engine: typeof RE2JS | undefined
const cache = new Map<string, RE2JS | string>()

function load(): typeof RE2JS {
  engine ??= (createRequire(import.meta.url)('re2js') as {RE2JS: typeof RE2JS}).RE2JS
  return engine
}

/** The compiled pattern, or a description of why it is not a valid Go regular expression. */
export function compileRegex(pattern: string): RE2JS | string {
  let compiled = cache.get(pattern)
  if (compiled === undefined) {
    const re2 = load()
    try {
      compiled = re2.compile(pattern)
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      compiled = message.replace(/^error parsing regexp: /, '')
    }
    if (cache.size > 500) cache.clear()
    cache.set(pattern, compiled)
  }
  return compiled
}
