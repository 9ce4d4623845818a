import {describe, expect, it} from 'vitest'
import {ParseProblem, parsePipelineText} from '../../src/pipeline/parse.js'
import {substitute} from '../../src/pipeline/substitute.js'

describe('parsePipelineText', () => {
  it('records the line and column of values and keys', () => {
    const {map, data} = parsePipelineText(
      'p.yml',
      'steps:\n  build:\n    image: golang\n    commands:\n      - go build\n',
    )
    expect(data).toEqual({steps: {build: {image: 'golang', commands: ['go build']}}})
    expect(map.valueAt(['steps', 'build', 'image'])).toEqual({line: 3, col: 12})
    expect(map.keyAt(['steps', 'build', 'image'])).toEqual({line: 3, col: 5})
    expect(map.valueAt(['steps', 'build', 'commands', 0])).toEqual({line: 5, col: 9})
  })

  it('falls back to the nearest ancestor for paths it does not know', () => {
    const {map} = parsePipelineText('p.yml', 'steps:\n  build:\n    image: golang\n')
    expect(map.valueAt(['steps', 'build', 'missing', 'deeper'])).toEqual({line: 3, col: 5})
  })

  it('resolves anchors, << merges with local keys winning, and the sequence merge', () => {
    const text = [
      'variables:',
      '  base: &base {image: golang, commands: &cmds [go version, whoami]}',
      'steps:',
      '  a:',
      '    <<: *base',
      '    image: golang:latest',
      '  b:',
      '    <<: *base',
      '    commands:',
      '      - <<: *cmds',
      '      - hostname',
    ].join('\n')
    const data = parsePipelineText('p.yml', text).data as any
    expect(data.steps.a).toEqual({image: 'golang:latest', commands: ['go version', 'whoami']})
    expect(data.steps.b.commands).toEqual(['go version', 'whoami', 'hostname'])
  })

  it('rejects invalid YAML with its position', () => {
    expect(() => parsePipelineText('p.yml', 'steps:\n  a: [unclosed\n')).toThrow(ParseProblem)
    try {
      parsePipelineText('p.yml', 'steps:\n  a: b\n  a: c\n')
    } catch (e) {
      expect((e as ParseProblem).pos.line).toBe(3)
      expect((e as ParseProblem).message).toMatch(/appears twice/)
    }
  })

  it('refuses deep nesting and alias bombs instead of exhausting memory', () => {
    const deep = 'a: ' + '['.repeat(200) + ']'.repeat(200)
    expect(() => parsePipelineText('p.yml', deep)).toThrow(/nested deeper/)
    let bomb = 'a: &a [x, x, x, x, x, x, x, x, x, x]\n'
    for (let i = 0; i < 8; i++)
      bomb += `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}]\n`
    expect(() => parsePipelineText('p.yml', bomb)).toThrow(/too large/)
  })
})

describe('substitute', () => {
  it('replaces ${VAR}, keeps $$ as a literal dollar and reports undefined names', () => {
    const r = substitute('a: ${A} $${B} ${MISSING} $HOME', {A: 'x'})
    expect(r.text).toBe('a: x ${B}  $HOME')
    expect(r.undefinedNames).toEqual(['MISSING'])
  })

  it('supports defaults, case, prefix/suffix removal, substrings and replacement', () => {
    const vars = {V: 'Hello-World', E: ''}
    expect(substitute('${N=dflt} ${E:-empty} ${V:+alt} ${E:+alt}', vars).text).toBe('dflt empty Hello-World alt')
    expect(substitute('${E-kept}', vars).error).toBeDefined() // only the forms with a colon exist
    expect(substitute('${V^^} ${V,,} ${V#Hello-} ${V%-World} ${V:0:5} ${V/o/0} ${V//o/0}', vars).text).toBe(
      'HELLO-WORLD hello-world World Hello Hello Hell0-World Hell0-W0rld',
    )
  })

  it('can keep undefined references as written', () => {
    expect(substitute('${A} ${B}', {A: '1'}, true).text).toBe('1 ${B}')
  })
})
