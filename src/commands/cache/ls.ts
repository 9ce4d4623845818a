import {Flags} from '@oclif/core'
import {BaseCommand} from '../../base-command.js'
import {ENV} from '../../config.js'

export default class CacheLs extends BaseCommand {
  static override summary = 'List the cache volumes runs created for volumes that did not exist.'
  static override description = `A step's volumes: [name:/path] names a volume claim; when it does not exist, a run creates it as a
cache (labelled wpk8s.dev/role=cache, no run label) and keeps it, and the next run mounts it again.
Shows each cache's name, size, status, age and when a run last mounted it.
Exit codes: 0 done, 2 usage error, 3 cluster error.`
  static override examples = ['<%= config.bin %> cache ls', '<%= config.bin %> cache ls -n ci --json']
  static override flags = {
    namespace: Flags.string({
      char: 'n',
      summary: `Namespace of the caches (env ${ENV.namespace}, default woodpecker).`,
    }),
    json: Flags.boolean({summary: 'Print the caches as JSON.'}),
    context: Flags.string({summary: 'Kubeconfig context to use.'}),
    kubeconfig: Flags.string({summary: 'Kubeconfig file.'}),
    'use-context-namespace': Flags.boolean({
      summary: `List the kubeconfig context's namespace when neither --namespace nor ${ENV.namespace} names one.`,
    }),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(CacheLs)
    const {cacheNamespace, runCacheLs} = await import('../../app/cache.js')
    const namespace = cacheNamespace(flags.namespace)
    process.stdout.write(
      await runCacheLs({
        namespace,
        json: flags.json,
        context: flags.context,
        kubeconfig: flags.kubeconfig,
        useContextNamespace:
          flags['use-context-namespace'] && flags.namespace === undefined && !process.env[ENV.namespace],
      }),
    )
  }
}
