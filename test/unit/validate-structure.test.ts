import {describe, expect, it} from 'vitest'
import {errorsOf, issuesOf} from './helpers.js'

const ok = 'steps:\n  build:\n    image: golang\n    commands: [go build]\n'

/** [rule, invalid pipeline, expected path, message pattern, valid counterpart] */
const cases: [string, string, string, RegExp, string][] = [
  ['missing steps', 'services:\n  db: {image: mysql}\n', '', /missing `steps`/, ok],
  ['empty steps', 'steps: {}\n', 'steps', /has no steps/, ok],
  ['removed pipeline key', 'pipeline:\n  a: {image: x}\n', 'pipeline', /removed in Woodpecker 1.0/, ok],
  ['step without image', 'steps:\n  a:\n    commands: [ls]\n', 'steps.a', /has no `image`/, ok],
  ['empty image', 'steps:\n  a:\n    image: ""\n', 'steps.a.image', /must not be empty/, ok],
  [
    'image with upper case',
    'steps:\n  a:\n    image: Golang:1.22\n',
    'steps.a.image',
    /repository names must be lower-case/,
    'steps:\n  a:\n    image: MyRegistry/golang:1.22\n',
  ],
  [
    'image with an empty tag',
    'steps:\n  a:\n    image: "golang:"\n',
    'steps.a.image',
    /tag after `:` is empty/,
    'steps:\n  a:\n    image: localhost:5000/golang\n',
  ],
  [
    'image tag',
    'steps:\n  a:\n    image: golang:-rc\n',
    'steps.a.image',
    /the tag `-rc`/,
    'steps:\n  a:\n    image: golang:1.22_rc-1.x\n',
  ],
  [
    'image digest',
    'steps:\n  a:\n    image: golang@sha256:abc123\n',
    'steps.a.image',
    /digest/,
    `steps:\n  a:\n    image: golang:1.22@sha256:${'0a'.repeat(32)}\n`,
  ],
  [
    'image digest length',
    `steps:\n  a:\n    image: golang@sha256:${'a'.repeat(40)}\n`,
    'steps.a.image',
    /64 hex digits, not 40/,
    'steps:\n  a:\n    image: golang:${TAG}\n',
  ],
  [
    'image with a space',
    'steps:\n  a:\n    image: golang 1.22\n',
    'steps.a.image',
    /lower-case letters and digits/,
    'steps:\n  a:\n    image: ghcr.io/org__x/tool-a.b:v1\n',
  ],
  [
    'settings with commands',
    'steps:\n  a:\n    image: x\n    settings: {repo: r}\n    commands: [ls]\n',
    'steps.a.commands',
    /plugin step/,
    'steps:\n  a:\n    image: x\n    settings: {repo: r}\n',
  ],
  [
    'settings with entrypoint',
    'steps:\n  a:\n    image: x\n    settings: {repo: r}\n    entrypoint: [sh]\n',
    'steps.a.entrypoint',
    /plugin step/,
    ok,
  ],
  [
    'service without name in list form',
    'steps:\n  - image: x\nservices:\n  - image: mysql\n',
    'services[0]',
    /needs a `name`/,
    'steps:\n  - image: x\nservices:\n  - name: db\n    image: mysql\n',
  ],
  [
    'duplicate step names in a graph',
    'steps:\n  - name: a\n    image: x\n  - name: a\n    image: y\n    depends_on: []\n',
    'steps[1]',
    /duplicate name `a`/,
    'steps:\n  - name: a\n    image: x\n  - name: a\n    image: y\n',
  ],
  [
    'duplicate service names',
    'steps:\n  db: {image: x}\nservices:\n  - {name: db, image: mysql}\n  - {name: db, image: pg}\n',
    'services[1]',
    /duplicate name `db`/,
    'steps:\n  db: {image: x}\nservices:\n  db: {image: mysql}\n',
  ],
  [
    'settings with environment is only a warning',
    'steps:\n  a: {image: x, settings: {a: 1}, commands: [ls]}\n',
    'steps.a.commands',
    /plugin step/,
    'steps:\n  a: {image: x, settings: {a: 1}, environment: {B: {from_secret: b}}}\n',
  ],
  [
    'depends_on unknown step',
    'steps:\n  a: {image: x, depends_on: [b]}\n',
    'steps.a.depends_on[0]',
    /unknown step `b`/,
    'steps:\n  a: {image: x, depends_on: [{name: b, optional: true}]}\n',
  ],
  [
    'depends_on cycle',
    'steps:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: a}\n',
    'steps.a.depends_on',
    /cycle: a → b → a/,
    'steps:\n  a: {image: x, depends_on: []}\n  b: {image: x, depends_on: a}\n',
  ],
  ['depends_on itself', 'steps:\n  a: {image: x, depends_on: a}\n', 'steps.a.depends_on', /depends on itself/, ok],
  [
    'failure value',
    'steps:\n  a: {image: x, failure: ignored}\n',
    'steps.a.failure',
    /must be one of fail, ignore/,
    'steps:\n  a: {image: x, failure: ignore}\n',
  ],
  [
    'detach type',
    'steps:\n  a: {image: x, detach: "yes"}\n',
    'steps.a.detach',
    /true or false/,
    'steps:\n  a: {image: x, detach: true}\n',
  ],
  ['commands type', 'steps:\n  a: {image: x, commands: {a: b}}\n', 'steps.a.commands', /string or a list/, ok],
  [
    'environment list form',
    'steps:\n  a: {image: x, environment: [A=1]}\n',
    'steps.a.environment',
    /map of NAME: value/,
    'steps:\n  a: {image: x, environment: {A: 1, B: {from_secret: b}}}\n',
  ],
  [
    'environment secret reference',
    'steps:\n  a: {image: x, environment: {A: {from_secret: b, x: 1}}}\n',
    'steps.a.environment.A',
    /from_secret/,
    ok,
  ],
  [
    'when unknown event',
    'steps:\n  a: {image: x, when: {event: pushh}}\n',
    'steps.a.when.event',
    /unknown event `pushh`/,
    'steps:\n  a: {image: x, when: [{event: [push, tag]}, {status: failure}]}\n',
  ],
  [
    'when tag (not a Woodpecker condition)',
    'steps:\n  a: {image: x, when: {tag: v*}}\n',
    'steps.a.when.tag',
    /no `when.tag`/,
    'steps:\n  a: {image: x, when: {branch: {include: main, exclude: dev}}}\n',
  ],
  [
    'evaluate with a type error on a variable every pipeline has',
    'steps:\n  a: {image: x, when: {evaluate: "CI_PIPELINE_NUMBER > 40"}}\n',
    'steps.a.when.evaluate',
    /invalid expression/,
    'steps:\n  a: {image: x, when: [{evaluate: ""}, {evaluate: "int(CI_PIPELINE_NUMBER) > 40 && \\"X\\" in $env"}]}\n',
  ],
  [
    'when status value',
    'steps:\n  a: {image: x, when: {status: failed}}\n',
    'steps.a.when.status',
    /success` or `failure/,
    ok,
  ],
  [
    'ports',
    'services:\n  db: {image: x, ports: [99999]}\nsteps:\n  a: {image: x}\n',
    'services.db.ports[0]',
    /not a port/,
    'services:\n  db: {image: x, ports: [3306, "53/udp"]}\nsteps:\n  a: {image: x}\n',
  ],
  [
    'workspace base relative',
    'workspace: {base: woodpecker}\nsteps:\n  a: {image: x}\n',
    'workspace.base',
    /absolute/,
    'workspace: {base: /go, path: src/app}\nsteps:\n  a: {image: x}\n',
  ],
  [
    'matrix axis not a list',
    'matrix: {GO: 1.22}\nsteps:\n  a: {image: x}\n',
    'matrix.GO',
    /non-empty list/,
    'matrix: {GO: [1.21, 1.22]}\nsteps:\n  a: {image: x}\n',
  ],
  [
    'labels platform',
    'labels: {platform: arm64}\nsteps:\n  a: {image: x}\n',
    'labels.platform',
    /os\/arch/,
    'labels: {platform: linux/arm64}\nsteps:\n  a: {image: x}\n',
  ],
  [
    'runs_on',
    'runs_on: [sucess]\nsteps:\n  a: {image: x}\n',
    'runs_on[0]',
    /one of success, failure/,
    'runs_on: [success, failure]\nsteps:\n  a: {image: x}\n',
  ],
  ['removed step secrets', 'steps:\n  a: {image: x, secrets: [token]}\n', 'steps.a.secrets', /was removed/, ok],
  ['empty file', '', '', /empty/, ok],
  ['not a map', '- a\n- b\n', '', /must be a map/, ok],
]

describe('structure rules', () => {
  for (const [rule, bad, path, message, good] of cases) {
    it(`${rule}: rejects the bad form and accepts the good one`, () => {
      const errors = errorsOf(bad)
      expect(errors.map((e) => `${e.path}: ${e.message}`)).toContainEqual(
        expect.stringMatching(new RegExp(`^${path.replace(/[.[\]$]/g, '\\$&')}: .*${message.source}`)),
      )
      expect(errorsOf(good)).toEqual([])
    })
  }

  it('warns about unknown keys, as Woodpecker\'s schema does, with a "did you mean" hint', () => {
    for (const [text, path, hint] of [
      ['matri: {A: [1]}\nsteps:\n  a: {image: x}\n', 'matri', 'did you mean `matrix`?'],
      ['steps:\n  a: {image: x, enviroment: {}}\n', 'steps.a.enviroment', 'did you mean `environment`?'],
      ['kind: pipeline\nsteps:\n  a: {image: x}\n', 'kind', undefined],
      ['steps:\n  a: {image: x, when: {branches: main}}\n', 'steps.a.when.branches', 'did you mean `branch`?'],
    ] as const) {
      expect(errorsOf(text)).toEqual([])
      expect(issuesOf(text)).toContainEqual(
        expect.objectContaining({
          severity: 'warning',
          path,
          ...(hint ? {hint} : {}),
          message: expect.stringMatching(/unknown key .*Woodpecker ignores it/),
        }),
      )
    }
  })

  it('warns that a structured environment value becomes JSON', () => {
    expect(issuesOf('steps:\n  a: {image: x, environment: {A: {from: b}}}\n')).toContainEqual(
      expect.objectContaining({severity: 'warning', path: 'steps.a.environment.A'}),
    )
  })

  it('points at the line and column of the offending field', () => {
    const [issue] = errorsOf('steps:\n  build:\n    image: x\n    failure: sometimes\n')
    expect(issue).toMatchObject({file: 'test.yml', line: 4, col: 14, found: '"sometimes"'})
  })

  it('warns about Docker-only keys and clone instead of failing', () => {
    const issues = issuesOf('clone:\n  git: {image: git}\nsteps:\n  a: {image: x, network_mode: host}\n')
    expect(issues.map((i) => i.severity)).toEqual(['warning', 'warning'])
  })

  it('warns when a ${VAR} is not defined, but not for CI_ variables', () => {
    const issues = issuesOf('steps:\n  a:\n    image: x:${TAG}\n    commands: echo ${CI_COMMIT_SHA}\n')
    expect(issues).toHaveLength(1)
    expect(issues[0]).toMatchObject({severity: 'warning', line: 3})
    expect(issuesOf('steps:\n  a:\n    image: x:${TAG}\n', {TAG: '1'})).toEqual([])
  })
})
