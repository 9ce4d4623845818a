#!/bin/bash
# One command from a fresh clone to a pipeline run: install, build, use the cluster of your kubeconfig
# when it answers, else start the local test cluster (Linux, root), then run examples/hello.yml.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules/@oclif/core ] || npm ci --no-audit --no-fund
npm run --silent build
if ! node scripts/cluster-reachable.mjs; then
  echo "No cluster answers through your kubeconfig: starting the local test cluster (first time: ~15 minutes)."
  npm run --silent cluster:up
  export KUBECONFIG=${WPK8S_CLUSTER_HOME:-/var/tmp/wpk8s-cluster}/kubeconfig
  echo "Stop it later with: npm run cluster:down"
fi
# The local cluster's default StorageClass, like kind's, cannot provide ReadWriteMany volumes.
exec ./bin/run.js exec examples/hello.yml --no-storage-rwx "$@"
