import {ClusterError, UsageError} from '../errors.js'

/** `linux/arm64` → `arm64`. */
export function archOf(platform: string): string {
  const arch = platform.split('/')[1]
  if (!arch) throw new UsageError(`--platform ${platform}: expected os/arch, such as linux/amd64`)
  return arch
}

/** The architecture to schedule on: --platform, else labels.platform, else the nodes' (or `fallback` without a cluster). */
export function resolveArch(input: {flag?: string; label?: string; nodes?: string[]; fallback?: string}): string {
  if (input.flag) return archOf(input.flag)
  if (input.label) return archOf(input.label)
  if (input.nodes) {
    if (input.nodes.length === 1) return input.nodes[0]
    if (input.nodes.length === 0)
      throw new ClusterError('the cluster has no schedulable node with a kubernetes.io/arch label')
    throw new UsageError(
      `the cluster's nodes have several architectures (${input.nodes.join(', ')})`,
      'choose one with --platform, such as --platform linux/amd64',
    )
  }
  return input.fallback ?? 'amd64'
}
