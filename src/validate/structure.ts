import {type Entry, entriesOf} from '../pipeline/entries.js'
import type {Path} from '../pipeline/source.js'
import {findCycle} from './dag.js'
import type {IssueCollector} from './issue.js'
import {imageReference} from './kube-rules.js'
import {checkStepForKubernetes} from './kubernetes.js'
import {
  checkKeys,
  expectBool,
  expectEnum,
  expectMap,
  expectString,
  expectStringOrList,
  isMap,
  isScalar,
  type Data,
  type Retired,
} from './shape.js'
import {checkWhen} from './when.js'

const WORKFLOW_KEYS = [
  'steps',
  'services',
  'when',
  'depends_on',
  'runs_on',
  'matrix',
  'workspace',
  'clone',
  'skip_clone',
  'labels',
  'variables',
  '$schema',
  'concurrency',
]
const RETIRED_WORKFLOW_KEYS: Record<string, Retired> = {
  pipeline: {message: '`pipeline:` was removed in Woodpecker 1.0', hint: 'rename `pipeline:` to `steps:`'},
  branches: {message: '`branches:` was removed', hint: 'use `when: {branch: ...}` at the top level'},
  platform: {message: '`platform:` was removed', hint: 'use `labels: {platform: linux/amd64}`'},
  version: {message: '`version:` is no longer used', hint: 'remove it', severity: 'warning'},
}
const STEP_KEYS = [
  'name',
  'image',
  'pull',
  'commands',
  'entrypoint',
  'environment',
  'settings',
  'directory',
  'when',
  'depends_on',
  'detach',
  'failure',
  'privileged',
  'ports',
  'backend_options',
  'volumes',
  'extra_hosts',
  'dns',
  'dns_search',
]
/** Docker-backend keys: valid Woodpecker, but the Kubernetes backend does nothing with them. */
const DOCKER_ONLY_KEYS = [
  'network_mode',
  'networks',
  'tmpfs',
  'devices',
  'shm_size',
  'cap_add',
  'cap_drop',
  'mem_limit',
  'cpu_quota',
  'cpu_shares',
  'cpu_set',
  'user',
]
const RETIRED_STEP_KEYS: Record<string, Retired> = {
  secrets: {
    message: 'step-level `secrets:` was removed',
    hint: 'use `environment: {NAME: {from_secret: secret_name}}`',
  },
  group: {message: '`group:` was removed', hint: 'use `depends_on:` to run steps in parallel'},
  ...Object.fromEntries(
    DOCKER_ONLY_KEYS.map((k) => [
      k,
      {
        message: `\`${k}\` is ignored by the Kubernetes backend`,
        hint: 'remove it, or use backend_options.kubernetes',
        severity: 'warning' as const,
      },
    ]),
  ),
}

/** Checks one workflow file's structure the way Woodpecker's linter does, plus the Kubernetes options. */
export function checkWorkflow(c: IssueCollector, data: unknown): void {
  if (data === null || data === undefined) {
    c.error([], 'the file is empty', {expected: 'a map with `steps`'})
    return
  }
  if (!expectMap(c, [], data, 'a map with `steps`')) return
  checkKeys(c, [], data, WORKFLOW_KEYS, RETIRED_WORKFLOW_KEYS, 'warning')
  if (!('steps' in data)) {
    if (!('pipeline' in data)) c.error([], 'missing `steps`', {expected: 'a map or list of steps'})
  } else if (!isSection(data.steps)) {
    c.error(['steps'], 'must be a map or a list of steps', {found: data.steps})
  } else if (entriesOf(data.steps, 'steps').length === 0) {
    c.error(['steps'], 'has no steps', {expected: 'at least one step'})
  }
  if ('services' in data && !isSection(data.services))
    c.error(['services'], 'must be a map or a list of services', {found: data.services})
  const steps = entriesOf(data.steps, 'steps')
  const services = entriesOf(data.services, 'services')
  for (const entry of steps) checkStep(c, entry, 'step')
  for (const entry of services) checkStep(c, entry, 'service')
  checkNames(c, steps, services)
  checkStepDependencies(c, steps)
  checkWorkflowFields(c, data)
}

function isSection(value: unknown): boolean {
  return Array.isArray(value) || isMap(value)
}

function checkWorkflowFields(c: IssueCollector, data: Data): void {
  if ('when' in data) checkWhen(c, ['when'], data.when)
  if ('depends_on' in data) dependencyList(c, ['depends_on'], data.depends_on)
  if ('runs_on' in data && expectStringOrList(c, ['runs_on'], data.runs_on)) {
    const values = Array.isArray(data.runs_on) ? data.runs_on : [data.runs_on]
    values.forEach((v, i) =>
      expectEnum(c, Array.isArray(data.runs_on) ? ['runs_on', i] : ['runs_on'], v, ['success', 'failure']),
    )
  }
  if ('skip_clone' in data) expectBool(c, ['skip_clone'], data.skip_clone)
  if ('clone' in data)
    c.warn(['clone'], 'wpk8s ships your local checkout instead of cloning: `clone` is not run', {atKey: true})
  if ('labels' in data && expectMap(c, ['labels'], data.labels)) {
    for (const [k, v] of Object.entries(data.labels))
      if (!isScalar(v)) c.error(['labels', k], 'must be a string', {found: v})
    const platform = data.labels.platform
    if (platform !== undefined && !/^[a-z0-9]+\/[a-z0-9_]+$/.test(String(platform))) {
      c.error(['labels', 'platform'], 'a platform is `os/arch`', {
        expected: 'such as linux/amd64 or linux/arm64',
        found: platform,
      })
    }
  }
  if ('workspace' in data) checkWorkspace(c, data.workspace)
  if ('matrix' in data) checkMatrix(c, data.matrix)
  if ('concurrency' in data) checkConcurrency(c, data.concurrency)
}

function checkWorkspace(c: IssueCollector, value: unknown): void {
  if (!expectMap(c, ['workspace'], value)) return
  checkKeys(c, ['workspace'], value, ['base', 'path'])
  if ('base' in value && expectString(c, ['workspace', 'base'], value.base) && !value.base.startsWith('/')) {
    c.error(['workspace', 'base'], 'must be an absolute path', {found: value.base})
  }
  if ('path' in value && expectString(c, ['workspace', 'path'], value.path) && value.path.split('/').includes('..')) {
    c.error(['workspace', 'path'], 'must stay inside the workspace base (no `..`)', {found: value.path})
  }
}

function checkMatrix(c: IssueCollector, value: unknown): void {
  if (!expectMap(c, ['matrix'], value)) return
  if ('include' in value) {
    if (!Array.isArray(value.include)) c.error(['matrix', 'include'], 'must be a list of maps', {found: value.include})
    else value.include.forEach((row, i) => expectMap(c, ['matrix', 'include', i], row))
    return
  }
  for (const [axis, values] of Object.entries(value)) {
    if (!Array.isArray(values) || values.length === 0)
      c.error(['matrix', axis], 'a matrix axis is a non-empty list of values', {found: values})
    else values.forEach((v, i) => isScalar(v) || c.error(['matrix', axis, i], 'must be a value', {found: v}))
  }
}

function checkConcurrency(c: IssueCollector, value: unknown): void {
  if (typeof value === 'number') return
  if (!expectMap(c, ['concurrency'], value, 'a number or a map with `limit`')) return
  checkKeys(c, ['concurrency'], value, ['limit', 'group'])
  if (!('limit' in value)) c.error(['concurrency'], 'a concurrency group needs `limit`', {expected: '`limit: N`'})
}

/** Checked here, not left to the kubelet, whose InvalidImageName only shows once the pod exists. */
function checkImage(c: IssueCollector, path: Path, image: string): void {
  if (image.trim() === '') return c.error(path, 'must not be empty', {found: image})
  // A `${VAR}` left in the text is filled in when the pipeline runs; the result is checked then.
  if (image.includes('$')) return
  const problem = imageReference(image)
  if (problem)
    c.error(path, `not a valid image reference: ${problem}`, {
      found: image,
      expected: 'an image such as golang:1.22 or ghcr.io/org/tool:v1',
    })
}

function checkStep(c: IssueCollector, entry: Entry, kind: 'step' | 'service'): void {
  const {path, value} = entry
  if (!expectMap(c, path, value, `a map describing the ${kind}`)) return
  if (kind === 'service' && !entry.named)
    c.error(path, 'a service in list form needs a `name`', {expected: '`name: ...` (steps reach the service by it)'})
  checkKeys(c, path, value, STEP_KEYS, RETIRED_STEP_KEYS, 'warning')
  const at = (key: string): Path => [...path, key]
  if (!('image' in value))
    c.error(path, `the ${kind} \`${entry.name}\` has no \`image\``, {expected: 'an image such as golang:1.22'})
  else if (expectString(c, at('image'), value.image)) checkImage(c, at('image'), value.image)
  if ('name' in value) expectString(c, at('name'), value.name)
  for (const key of ['commands', 'entrypoint']) if (key in value) expectStringOrList(c, at(key), value[key])
  if ('environment' in value) checkEnvironment(c, at('environment'), value.environment)
  if ('settings' in value) checkPluginSettings(c, path, value)
  if ('directory' in value) expectString(c, at('directory'), value.directory)
  for (const key of ['detach', 'privileged', 'pull']) if (key in value) expectBool(c, at(key), value[key])
  if ('failure' in value) expectEnum(c, at('failure'), value.failure, ['fail', 'ignore'])
  if ('when' in value) checkWhen(c, at('when'), value.when)
  if ('ports' in value) checkPorts(c, at('ports'), value.ports)
  if ('backend_options' in value) expectMap(c, at('backend_options'), value.backend_options)
  checkStepForKubernetes(c, path, value, kind)
}

function checkPluginSettings(c: IssueCollector, path: Path, step: Data): void {
  if (!expectMap(c, [...path, 'settings'], step.settings)) return
  for (const key of ['commands', 'entrypoint']) {
    if (key in step)
      c.error([...path, key], `a plugin step (with \`settings\`) cannot have \`${key}\``, {
        atKey: true,
        hint: 'use `settings` for a plugin image, or `commands` for a script; not both',
      })
  }
  // Woodpecker only warns here: the step runs, but is no longer treated as a plugin.
  if ('environment' in step)
    c.warn([...path, 'environment'], 'a plugin step (with `settings`) should not also set `environment`', {
      atKey: true,
      hint: 'Woodpecker runs it, but no longer treats the image as a plugin; pass values through `settings`',
    })
}

function checkEnvironment(c: IssueCollector, path: Path, value: unknown): void {
  if (Array.isArray(value)) {
    c.error(path, 'must be a map of NAME: value', {
      expected: 'a map',
      found: value,
      hint: 'the list form `- NAME=value` was removed; write `NAME: value`',
    })
    return
  }
  if (!expectMap(c, path, value)) return
  for (const [name, v] of Object.entries(value)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      c.error([...path, name], `\`${name}\` is not a valid environment variable name`, {atKey: true})
    if (isScalar(v) || v === null) continue
    if (isMap(v) && 'from_secret' in v) {
      if (Object.keys(v).length !== 1 || typeof v.from_secret !== 'string')
        c.error([...path, name], 'a secret reference is `{from_secret: name}`', {found: v})
      continue
    }
    // Woodpecker joins a list with commas and writes anything else as JSON.
    if (Array.isArray(v) && v.every((item) => isScalar(item) || item === null)) continue
    c.warn([...path, name], 'a structured value becomes its JSON text', {found: v})
  }
}

function checkPorts(c: IssueCollector, path: Path, value: unknown): void {
  if (!Array.isArray(value)) {
    c.error(path, 'must be a list of ports', {found: value})
    return
  }
  value.forEach((port, i) => {
    const text = isMap(port) ? String(port.number ?? '') : String(port)
    const m = /^(\d+)(\/(tcp|udp))?$/.exec(text)
    if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535)
      c.error([...path, i], 'not a port', {expected: 'a number from 1 to 65535, optionally /tcp or /udp', found: port})
  })
}

/**
 * Woodpecker needs service names unique among services, and step names unique once steps form a graph
 * (`depends_on`); a step may share its name with a service, and list-form steps may repeat a name.
 */
function checkNames(c: IssueCollector, steps: Entry[], services: Entry[]): void {
  const graph = steps.some((s) => isMap(s.value) && 'depends_on' in s.value)
  for (const group of graph ? [steps, services] : [services]) {
    const seen = new Map<string, Entry>()
    for (const entry of group) {
      const earlier = seen.get(entry.name)
      if (earlier)
        c.error(entry.path, `duplicate name \`${entry.name}\``, {
          hint: `also used at ${earlier.path.join('.')}`,
          atKey: true,
        })
      else seen.set(entry.name, entry)
    }
  }
}

function checkStepDependencies(c: IssueCollector, steps: Entry[]): void {
  const names = new Set(steps.map((s) => s.name))
  const edges = new Map<string, string[]>()
  for (const step of steps) {
    if (!isMap(step.value) || !('depends_on' in step.value)) continue
    const deps = dependencyList(c, [...step.path, 'depends_on'], step.value.depends_on)
    edges.set(
      step.name,
      deps.map((d) => d.name),
    )
    deps.forEach((dep) => {
      if (dep.name === step.name) c.error(dep.path, `\`${step.name}\` depends on itself`, {found: dep.name})
      else if (!names.has(dep.name) && !dep.optional)
        c.error(dep.path, `depends on unknown step \`${dep.name}\``, {
          expected: [...names].join(', '),
          found: dep.name,
          hint: 'mark it `{name: ..., optional: true}` if it may be absent',
        })
    })
  }
  const cycle = findCycle(new Map([...edges].map(([k, v]) => [k, v.filter((d) => d !== k)])))
  if (cycle) {
    const first = steps.find((s) => s.name === cycle[0])!
    c.error([...first.path, 'depends_on'], `dependency cycle: ${cycle.join(' → ')}`, {
      hint: 'a step cannot wait, directly or not, for itself',
    })
  }
}

interface WrittenDependency {
  name: string
  optional: boolean
  path: Path
}

function dependencyList(c: IssueCollector, path: Path, value: unknown): WrittenDependency[] {
  const items = Array.isArray(value) ? value : [value]
  const deps: WrittenDependency[] = []
  items.forEach((item, i) => {
    const at = Array.isArray(value) ? [...path, i] : path
    if (isScalar(item)) deps.push({name: String(item), optional: false, path: at})
    else if (isMap(item) && typeof item.name === 'string' && item.name !== '') {
      checkKeys(c, at, item, ['name', 'optional'])
      if ('optional' in item) expectBool(c, [...at, 'optional'], item.optional)
      deps.push({name: item.name, optional: item.optional === true, path: at})
    } else c.error(at, 'must be a name or `{name, optional}`', {found: item})
  })
  return deps
}
