#!/bin/bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler and kubelet from Debian bookworm's
# kubernetes source package with Debian's Go, into the cache (skipped when the cache has them).
# A first build takes about a quarter of an hour; a line every 30 s says how far it is.
set -euo pipefail
source "$(dirname "$0")/env.sh"
BIN=$(k8s_bin_dir)
COMPONENTS="kube-apiserver kube-controller-manager kube-scheduler kubelet"
all_built() { for c in $COMPONENTS; do [ -x "$BIN/$c" ] || return 1; done; }
if all_built; then say "kubernetes binaries cached in $BIN"; exit 0; fi
SRC=$CLUSTER_CACHE/src
mkdir -p "$SRC" "$BIN"
cd "$SRC"
if [ ! -d "kubernetes-1.20.5+really1.20.2" ]; then
  # From the Debian mirror of the machine's apt sources (else deb.debian.org), without touching those sources.
  fetch_source "$SRC/apt" "kubernetes=$K8S_SRC_VERSION" || exit 1
  dpkg-source --no-check -x kubernetes_*.dsc >/dev/null
fi
cd "kubernetes-1.20.5+really1.20.2"
# The vendored reflect2 1.0.1 crashes at run time with Go >= 1.18; Debian packages the fixed 1.0.2.
R2=vendor/github.com/modern-go/reflect2
if [ ! -f "$R2/go_above_118.go" ]; then
  rm -f "$R2"/*.go "$R2"/*.s
  cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.go /usr/share/gocode/src/github.com/modern-go/reflect2/*.s "$R2/"
fi
cat > "$SRC/version.env" <<EOV
KUBE_GIT_COMMIT='faecb196815e248d3ecfb03c680a4507229c2a56'
KUBE_GIT_TREE_STATE='clean'
KUBE_GIT_VERSION='v1.20.2'
KUBE_GIT_MAJOR='1'
KUBE_GIT_MINOR='20'
EOV
# Upstream's make generates the OpenAPI code the tarball lacks before building.
export KUBE_GIT_VERSION_FILE=$SRC/version.env GOCACHE=$SRC/gocache HOME=${HOME:-/root}
# Seconds each component usually takes on 2 CPUs with an empty Go cache (measured on a busy 2-core machine).
TYPICAL=(kube-apiserver=600 kube-controller-manager=120 kube-scheduler=40 kubelet=480)
CPUS=$(nproc 2>/dev/null || echo 2)
building_left() { work_left "$CPUS" "$c" "$1" "${TYPICAL[@]}"; }
n=0; total=$(wc -w <<< "$COMPONENTS")
for c in $COMPONENTS; do
  n=$((n + 1))
  [ -x "$BIN/$c" ] && continue
  say "building $c ($n of $total): $(building_left 0); log in $SRC/build-$c.log"
  with_progress "building $c ($n of $total)" "$SRC/build-$c.log" building_left make WHAT="cmd/$c" GOLDFLAGS="-s -w" || { tail -30 "$SRC/build-$c.log"; exit 1; }
  cp -f "_output/bin/$c" "$BIN/$c.tmp" && mv "$BIN/$c.tmp" "$BIN/$c"
  say "built $c"
done
# The source tree and Go build cache are large and not worth keeping once the binaries exist.
rm -rf "$SRC/gocache"
