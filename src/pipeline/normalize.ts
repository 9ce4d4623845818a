import {entriesOf, type Entry} from './entries.js'
import type {EnvValue, KubernetesOptions, Step, Workflow} from './model.js'

type Data = Record<string, unknown>

export const DEFAULT_WORKSPACE = {base: '/woodpecker', path: 'src'}

/** The typed workflow of data that passed validation (so shapes are known to be right). */
export function toWorkflow(name: string, file: string, data: Data, matrixRow: Record<string, string> = {}): Workflow {
  const workspace = (data.workspace ?? {}) as Partial<Workflow['workspace']>
  const values = Object.entries(matrixRow).map(([k, v]) => `${k}=${v}`).join(', ')
  return {
    name,
    matrixRow,
    title: values ? `${name} (${values})` : name,
    file,
    steps: entriesOf(data.steps, 'steps').map((e) => toStep(e, 'step')),
    services: entriesOf(data.services, 'services').map((e) => toStep(e, 'service')),
    when: data.when,
    dependsOn: (dependencies(data.depends_on ?? []) ?? []).map((d) => d.name),
    runsOn: data.runs_on === undefined ? ['success'] : (list(data.runs_on) as Workflow['runsOn']),
    matrix: data.matrix,
    workspace: {base: workspace.base ?? DEFAULT_WORKSPACE.base, path: workspace.path ?? DEFAULT_WORKSPACE.path},
    labels: stringRecord(data.labels),
    skipClone: data.skip_clone === true,
  }
}

function toStep(entry: Entry, kind: Step['kind']): Step {
  const raw = entry.value as Data
  const step: Step = {
    name: entry.name,
    kind,
    path: entry.path,
    image: String(raw.image),
    pull: raw.pull === true,
    commands: list(raw.commands),
    environment: environment(raw.environment),
    when: raw.when,
    detach: raw.detach === true,
    failure: raw.failure === 'ignore' ? 'ignore' : 'fail',
    privileged: raw.privileged === true,
    ports: ((raw.ports ?? []) as unknown[]).map((p) => String(typeof p === 'object' && p !== null ? (p as Data).number : p)),
    kubernetes: ((raw.backend_options as Data | undefined)?.kubernetes ?? {}) as KubernetesOptions,
  }
  if (raw.entrypoint !== undefined) step.entrypoint = list(raw.entrypoint)
  if (raw.settings !== undefined) step.settings = raw.settings as Data
  if (raw.directory !== undefined) step.directory = String(raw.directory)
  if (raw.depends_on !== undefined) step.dependsOn = dependencies(raw.depends_on)
  return step
}

function list(value: unknown): string[] {
  if (value === undefined || value === null) return []
  return (Array.isArray(value) ? value : [value]).map(String)
}

function stringRecord(value: unknown): Record<string, string> {
  return Object.fromEntries(Object.entries((value ?? {}) as Data).map(([k, v]) => [k, v === null ? '' : String(v)]))
}

function environment(value: unknown): Record<string, EnvValue> {
  const out: Record<string, EnvValue> = {}
  for (const [k, v] of Object.entries((value ?? {}) as Data)) {
    if (v !== null && typeof v === 'object') out[k] = {fromSecret: String((v as Data).from_secret)}
    else out[k] = v === null ? '' : String(v)
  }
  return out
}

function dependencies(value: unknown): Step['dependsOn'] {
  return (Array.isArray(value) ? value : [value]).map((d) =>
    typeof d === 'object' && d !== null ? {name: String((d as Data).name), optional: (d as Data).optional === true} : {name: String(d), optional: false},
  )
}
