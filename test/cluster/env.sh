# Shared settings for the local test cluster harness; sourced by every script here.
# WPK8S_CLUSTER_HOME holds the running cluster's state (kubeconfig at $WPK8S_CLUSTER_HOME/kubeconfig);
# WPK8S_CLUSTER_CACHE holds built Kubernetes binaries and images, reused across runs and checkouts.
HARNESS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HARNESS_DIR/lib.sh"
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

# The cache keys name the recipes, not the scripts' text, so that a change to what the scripts print or
# where they download from keeps the cache. Give K8S_RECIPE a new value when build.sh builds different
# binaries, IMAGES_RECIPE when images.sh or pause.c make different images; test/unit/harness.test.ts fails
# after every change to those files until it records their new hashes, so each change gets that thought.
# (The values are those files' hashes from when the keys were the scripts' text: existing caches stay valid.)
K8S_RECIPE=7a8a3c87d23a
IMAGES_RECIPE=cf7bac852d23

# Cache key of the Kubernetes binaries: source version, Go version, and the build recipe.
k8s_bin_dir() {
  local go_version
  go_version=$(go version 2>/dev/null | awk '{print $3}')
  echo "$CLUSTER_CACHE/k8s-${K8S_SRC_VERSION//[^A-Za-z0-9.]/_}-${go_version:-nogo}-$K8S_RECIPE/bin"
}
IMAGES_DIR=$CLUSTER_CACHE/images-$IMAGES_RECIPE
