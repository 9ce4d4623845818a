// `npm run bench [cold|cluster|overhead|first-log|parallel|logs|ship]`: cold start always runs (no
// cluster needed); the cluster benchmarks run when a cluster answers.
import {spawnSync} from 'node:child_process'
import {fileURLToPath} from 'node:url'

const here = (f) => fileURLToPath(new URL(f, import.meta.url))
const args = process.argv.slice(2)
const run = (file, extra = []) => spawnSync(process.execPath, [here(file), ...extra], {stdio: 'inherit'}).status
let status = 0
if (args.length === 0 || args.includes('cold')) status ||= run('./cold-start.mjs')
const clusterArgs = args.filter((a) => a !== 'cold' && a !== 'cluster')
if (args.length === 0 || args.includes('cluster') || clusterArgs.length > 0) {
  if (
    spawnSync(process.execPath, [here('../scripts/cluster-reachable.mjs')], {
      env: {...process.env, KUBECONFIG: process.env.KUBECONFIG || '/var/tmp/wpk8s-cluster/kubeconfig'},
    }).status !== 0
  ) {
    console.error('\nno cluster answers: cluster benchmarks not run (npm run cluster:up starts one)')
    status ||= 1
  } else status ||= run('./cluster.mjs', clusterArgs)
}
process.exit(status)
