import {readdirSync, readFileSync, statSync} from 'node:fs'
import {basename, extname, join, relative} from 'node:path'
import {UsageError} from '../errors.js'

/** Pipelines larger than this are refused before parsing: real ones are a few kilobytes. */
export const MAX_PIPELINE_BYTES = 2 * 1024 * 1024

/** One workflow file: its name (file name without extension), path as shown to the user, and text. */
export interface WorkflowText {
  name: string
  file: string
  text: string
}

/** Finds the workflow files the way Woodpecker does: `.woodpecker/*.y(a)ml`, then `.woodpecker.yaml`, then `.yml`. */
export function discoverWorkflowFiles(target: string | undefined, cwd: string): string[] {
  if (target !== undefined) {
    const stat = statOrFail(target)
    return stat.isDirectory() ? yamlFilesIn(target) : [target]
  }
  for (const candidate of ['.woodpecker', '.woodpecker.yaml', '.woodpecker.yml']) {
    const path = join(cwd, candidate)
    const stat = statSync(path, {throwIfNoEntry: false})
    if (stat?.isDirectory()) return yamlFilesIn(path).map((f) => relative(cwd, f))
    if (stat?.isFile()) return [candidate]
  }
  throw new UsageError(
    `no pipeline found in ${cwd}`,
    'expected .woodpecker/*.yaml, .woodpecker.yaml or .woodpecker.yml, or pass a file',
  )
}

function yamlFilesIn(dir: string): string[] {
  const files = readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(dir, f))
  if (files.length === 0) throw new UsageError(`${dir}: no .yaml or .yml workflow files in this folder`)
  return files
}

function statOrFail(path: string) {
  const stat = statSync(path, {throwIfNoEntry: false})
  if (!stat) throw new UsageError(`${path}: no such file or folder`)
  return stat
}

/** The file exists but its content cannot be a pipeline (binary, too large, not UTF-8). */
export class UnusableContent extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(reason)
  }
}

/** Reads a pipeline file as text, refusing what cannot be a pipeline with one clear message. */
export function readWorkflowFile(file: string): WorkflowText {
  const stat = statOrFail(file)
  if (!stat.isFile()) throw new UsageError(`${file}: not a regular file`)
  if (stat.size > MAX_PIPELINE_BYTES) {
    throw new UnusableContent(
      file,
      `${(stat.size / 1024 / 1024).toFixed(1)} MB is too large for a pipeline (limit ${MAX_PIPELINE_BYTES / 1024 / 1024} MB)`,
    )
  }
  let bytes: Buffer
  try {
    bytes = readFileSync(file)
  } catch (error) {
    throw new UsageError(`${file}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'unknown error'})`)
  }
  if (bytes.includes(0)) throw new UnusableContent(file, 'binary data, not a YAML pipeline')
  const text = bytes.toString('utf8')
  if (text.includes('\uFFFD')) throw new UnusableContent(file, 'not UTF-8 text')
  return {name: basename(file, extname(file)), file, text}
}
