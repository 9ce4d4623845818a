// Exits 0 when the kubeconfig's current cluster answers within 5 seconds (for scripts/demo.sh).
import * as k8s from '@kubernetes/client-node'
import {existsSync} from 'node:fs'
import {homedir} from 'node:os'

if (!process.env.KUBECONFIG && !existsSync(`${homedir()}/.kube/config`)) process.exit(1)
const timer = setTimeout(() => process.exit(1), 5000)
try {
  const kc = new k8s.KubeConfig()
  kc.loadFromDefault()
  await kc.makeApiClient(k8s.CoreV1Api).listNode()
  clearTimeout(timer)
  process.exit(0)
} catch {
  process.exit(1)
}
