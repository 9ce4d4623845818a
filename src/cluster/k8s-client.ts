// The parts of the Kubernetes client that wpk8s uses. The build bundles this module with everything it
// imports into one file (scripts/bundle-client.mjs): loading the client's ~2,500 separate modules cost
// about 0.7 s of every run's start, the bundle about 0.15 s.
export {CoreV1Api, Exec, KubeConfig, Log, PortForward, Watch} from '@kubernetes/client-node'
