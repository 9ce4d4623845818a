import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../base-command.js'
import {ENV} from '../../config.js'

export default class CacheRm extends BaseCommand {
  static override summary = 'Delete cache volumes by name, or all of them.'
  static override description = `Deletes cache volumes (claims a run created for volumes that did not exist; see wpk8s cache ls).
A claim without the cache label is never deleted. A cache a running step still mounts is removed by
Kubernetes once that pod is gone. The next run that names it creates it again, empty.
Exit codes: 0 done, 2 usage error (such as a name that is no cache), 3 cluster error.`
  static override examples = ['<%= config.bin %> cache rm go-cache', '<%= config.bin %> cache rm --all -n ci']
  static override strict = false
  static override args = {name: Args.string({description: 'cache to delete (several may be given)', required: false})}
  static override flags = {
    all: Flags.boolean({summary: 'Delete every cache volume of the namespace.'}),
    namespace: Flags.string({
      char: 'n',
      summary: `Namespace of the caches (env ${ENV.namespace}, default woodpecker).`,
    }),
    context: Flags.string({summary: 'Kubeconfig context to use.'}),
    kubeconfig: Flags.string({summary: 'Kubeconfig file.'}),
    'use-context-namespace': Flags.boolean({
      summary: `Use the kubeconfig context's namespace when neither --namespace nor ${ENV.namespace} names one.`,
    }),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(CacheRm)
    const {cacheNamespace, runCacheRm} = await import('../../app/cache.js')
    const namespace = cacheNamespace(flags.namespace)
    const lines = await runCacheRm({
      namespace,
      names: argv as string[],
      all: flags.all,
      context: flags.context,
      kubeconfig: flags.kubeconfig,
      useContextNamespace:
        flags['use-context-namespace'] && flags.namespace === undefined && !process.env[ENV.namespace],
    })
    process.stdout.write(`${lines.join('\n')}\n`)
  }
}
