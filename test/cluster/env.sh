# Shared settings for the local test cluster harness; sourced by every script here.
# WPK8S_CLUSTER_HOME holds the running cluster's state (kubeconfig at $WPK8S_CLUSTER_HOME/kubeconfig);
# WPK8S_CLUSTER_CACHE holds built Kubernetes binaries and images, reused across runs and checkouts.
HARNESS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CLUSTER_HOME=${WPK8S_CLUSTER_HOME:-/var/tmp/wpk8s-cluster}
CLUSTER_CACHE=${WPK8S_CLUSTER_CACHE:-/var/tmp/wpk8s-cache}
RUN_DIR=$CLUSTER_HOME/run
PKI_DIR=$CLUSTER_HOME/pki
LOG_DIR=$CLUSTER_HOME/log
PID_DIR=$CLUSTER_HOME/pids
KUBECONFIG_PATH=$CLUSTER_HOME/kubeconfig
NODE_NAME=${WPK8S_NODE_NAME:-localhost}
BRIDGE=wpk8s0
POD_SUBNET=10.244.0.0/24
# Debian bookworm's kubernetes source: the last Debian release that ships the server components.
K8S_SRC_VERSION=1.20.5+really1.20.2-1.1+deb12u1
export KUBECACHEDIR=$RUN_DIR/kubecache
export DEBIAN_FRONTEND=noninteractive

phase_start=$(date +%s)
say() { echo "[cluster $(( $(date +%s) - phase_start ))s] $*"; }

# Cache key of the Kubernetes binaries: source version, Go version, and this harness's build script.
k8s_bin_dir() {
  local go_version build_hash
  go_version=$(go version 2>/dev/null | awk '{print $3}')
  build_hash=$(sha256sum "$HARNESS_DIR/build.sh" | cut -c1-12)
  echo "$CLUSTER_CACHE/k8s-${K8S_SRC_VERSION//[^A-Za-z0-9.]/_}-${go_version:-nogo}-$build_hash/bin"
}
