import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {parseDataQuickly} from '../../src/pipeline/fast-parse.js'
import {parsePipelineText} from '../../src/pipeline/parse.js'

const ROOT = join(import.meta.dirname, '..', '..')
const files = [
  // Pipelines only: examples/rbac.yaml is a multi-document Kubernetes manifest, not a pipeline.
  ...readdirSync(join(ROOT, 'examples'))
    .filter((f) => f !== 'rbac.yaml')
    .map((f) => join(ROOT, 'examples', f)),
  ...readdirSync(join(ROOT, 'test', 'fixtures', 'validate')).map((f) => join(ROOT, 'test', 'fixtures', 'validate', f)),
]

const inline = [
  'variables:\n  b: &b {image: x, commands: &c [a, b]}\nsteps:\n  s:\n    <<: *b\n    commands:\n      - <<: *c\n      - c\n',
  'x: &m {a: 1}\ny: &n {b: 2, a: 3}\nz:\n  <<: [*m, *n]\n  c: 4\n',
  'steps:\n  a: {image: "x:1", env: {N: 010, H: 0x1F, F: 1.5e3, B: true, E: ~, D: 2024-01-01, Y: yes}}\n',
  'labels: {hostname: ""}\nsteps: []\n',
]

describe('the quick parser gives the same data as the position-keeping one', () => {
  it.each(files)('%s', (file) => {
    const text = readFileSync(file, 'utf8')
    expect(parseDataQuickly(text)?.data).toEqual(parsePipelineText(file, text).data)
  })

  it.each(inline)('%j', (text) => {
    expect(parseDataQuickly(text)?.data).toEqual(parsePipelineText('inline.yml', text).data)
  })

  it('declines what it cannot do well, so the careful parser explains it', () => {
    expect(parseDataQuickly('a: [unclosed')).toBeUndefined()
    expect(parseDataQuickly('a: 1\na: 2\n')).toBeUndefined()
    expect(parseDataQuickly(`a: ${'['.repeat(100)}${']'.repeat(100)}`)).toBeUndefined()
  })
})
