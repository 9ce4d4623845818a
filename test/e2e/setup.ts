import {beforeAll} from 'vitest'
import {clusterProblem} from './kube.js'

/**
 * Every e2e file starts here. Without a cluster the tests fail, loudly, with the reason: they never
 * pass by skipping. (Locally, `npm run cluster:up` starts one.)
 */
export function requireCluster(): void {
  beforeAll(async () => {
    const problem = await clusterProblem()
    if (problem) {
      console.error(`\n*** e2e tests need a Kubernetes cluster: ${problem}\n`)
      throw new Error(`no cluster for the e2e tests: ${problem}`)
    }
  })
}
