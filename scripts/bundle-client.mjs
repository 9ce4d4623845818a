// Replaces dist/cluster/k8s-client.js (a re-export of @kubernetes/client-node) with one bundled file
// holding only what it re-exports, so a run loads one module instead of thousands (see the source).
import {build} from 'esbuild'
import {statSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const file = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cluster', 'k8s-client.js')
await build({
  entryPoints: [file],
  outfile: file,
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
  // Some bundled packages are CommonJS and call require(); give the ES module one.
  banner: {
    js: "import {createRequire as __wpk8sRequire} from 'node:module'; const require = __wpk8sRequire(import.meta.url);",
  },
})
console.log(`dist/cluster/k8s-client.js: ${(statSync(file).size / 1e6).toFixed(1)} MB bundle`)
