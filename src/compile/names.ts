import {createHash} from 'node:crypto'

/** The label every wpk8s object carries, so leftovers are always found. */
export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  run: 'wpk8s.dev/run',
  step: 'wpk8s.dev/step',
  workflow: 'wpk8s.dev/workflow',
  role: 'wpk8s.dev/role',
} as const
export const MANAGER = 'wpk8s'
export const STEP_NAME_ANNOTATION = 'wpk8s.dev/step-name'

/** A short random run id: lower-case letters and digits, starting with a letter. */
export function newRunId(random: () => number = Math.random): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'
  let id = alphabet[Math.floor(random() * 26)]
  for (let i = 1; i < 6; i++) id += alphabet[Math.floor(random() * alphabet.length)]
  return id
}

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 6)
}

/**
 * A DNS-1123 label made from any text: lower-cased, other characters become `-`. When that changed or
 * cut the text, a hash of the original is appended, so distinct names never collide.
 */
export function toDnsLabel(text: string, max = 63): string {
  const cleaned = text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .replace(/-{2,}/g, '-')
  if (cleaned === text && cleaned.length <= max && cleaned !== '') return cleaned
  const suffix = shortHash(text)
  return `${cleaned.slice(0, max - suffix.length - 1).replace(/-+$/, '')}-${suffix}`.replace(/^-/, '')
}

/** `wp-<run>-<step>`: readable, unique within the run, a valid object name. */
export function objectName(runId: string, part: string): string {
  return `wp-${runId}-${toDnsLabel(part, 63 - runId.length - 4)}`
}

/** The run's heartbeat Lease: named after the run alone, `wp-<run>` (see runner/heartbeat.ts). */
export function heartbeatName(runId: string): string {
  return `wp-${runId}`
}

/** A label value made from any text (63 characters, alphanumeric at both ends). */
export function toLabelValue(text: string): string {
  return toDnsLabel(text)
}
