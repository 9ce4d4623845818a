// Prints line coverage of src/ per layer, unit and end-to-end together.
// Two sources: vitest's own v8 coverage of the modules the unit tests import (coverage/unit), and the V8
// coverage every wpk8s process wrote while the CLI and end-to-end tests ran it (NODE_V8_COVERAGE=coverage/raw),
// mapped from dist/ back to src/ through the build's source maps by c8. A line counts as covered when
// either source ran it.
import {execFileSync} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import {join, relative} from 'node:path'

const root = join(import.meta.dirname, '..')
const dir = (...parts) => join(root, 'coverage', ...parts)

function processCoverage() {
  if (!existsSync(dir('raw'))) return {}
  execFileSync(
    join(root, 'node_modules', '.bin', 'c8'),
    ['report', '--temp-directory', dir('raw'), '--reports-dir', dir('process'), '--reporter', 'json']
      .concat(['--include', 'dist/**', '--exclude', 'dist/cluster/k8s-client.js', '--exclude-node-modules']),
    {cwd: root, stdio: ['ignore', 'ignore', 'inherit']},
  )
  return readJson(dir('process', 'coverage-final.json'))
}

function readJson(file) {
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {}
}

/** For each src file: the lines holding a statement, and those a test ran. */
function linesOf(coverages) {
  const files = new Map()
  for (const coverage of coverages) {
    for (const [path, data] of Object.entries(coverage)) {
      const file = relative(root, path)
      if (!file.startsWith('src/')) continue
      const entry = files.get(file) ?? {all: new Set(), covered: new Set()}
      for (const [id, location] of Object.entries(data.statementMap)) {
        entry.all.add(location.start.line)
        if (data.s[id] > 0) entry.covered.add(location.start.line)
      }
      files.set(file, entry)
    }
  }
  return files
}

function layerOf(file) {
  const parts = file.split('/')
  return parts.length > 2 ? parts[1] : '(top level)'
}

function byLayer(files) {
  const layers = new Map()
  for (const [file, {all, covered}] of files) {
    const layer = layers.get(layerOf(file)) ?? {lines: 0, covered: 0}
    layer.lines += all.size
    layer.covered += [...covered].filter((line) => all.has(line)).length
    layers.set(layerOf(file), layer)
  }
  return layers
}

const percent = ({lines, covered}) => (lines === 0 ? 0 : (100 * covered) / lines)
const layers = byLayer(linesOf([readJson(dir('unit', 'coverage-final.json')), processCoverage()]))
const total = [...layers.values()].reduce((sum, l) => ({lines: sum.lines + l.lines, covered: sum.covered + l.covered}), {
  lines: 0,
  covered: 0,
})
console.log('Line coverage of src/ (unit + CLI + end-to-end):')
for (const [layer, counts] of [...layers].sort(([a], [b]) => a.localeCompare(b))) {
  console.log(`  ${layer.padEnd(12)} ${percent(counts).toFixed(1).padStart(5)}%  (${counts.covered}/${counts.lines} lines)`)
}
console.log(`  ${'all'.padEnd(12)} ${percent(total).toFixed(1).padStart(5)}%  (${total.covered}/${total.lines} lines)`)
