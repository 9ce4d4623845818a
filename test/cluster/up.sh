#!/bin/bash
# Starts the single-node test cluster (idempotent: a healthy running cluster is reused).
# Installs packages, builds or reuses the cached binaries and images, then starts etcd, the control
# plane, containerd, the kubelet and the volume provisioner, all on 127.0.0.1.
set -euo pipefail
source "$(dirname "$0")/env.sh"
if "$HARNESS_DIR/status.sh" >/dev/null 2>&1; then say "cluster already up; KUBECONFIG=$KUBECONFIG_PATH"; exit 0; fi
if ls "$PID_DIR"/*.pid >/dev/null 2>&1; then say "a partial cluster is running; stopping it first"; "$HARNESS_DIR/down.sh"; fi
[ "$(uname -s)" = Linux ] && [ "$(id -u)" = 0 ] || { echo "the test cluster needs Linux and root" >&2; exit 1; }

bash "$HARNESS_DIR/install-deps.sh"
bash "$HARNESS_DIR/build.sh"
bash "$HARNESS_DIR/images.sh"
BIN=$(k8s_bin_dir)
IMAGES=$IMAGES_DIR
bash "$HARNESS_DIR/pki.sh"

# The previous cluster's logs are kept one start longer, to look into a failed run after the fact.
rm -rf "$RUN_DIR" "$LOG_DIR.previous"
[ -d "$LOG_DIR" ] && mv "$LOG_DIR" "$LOG_DIR.previous"
mkdir -p "$RUN_DIR/conf" "$RUN_DIR/cni/net.d" "$RUN_DIR/kubelet" "$RUN_DIR/volumes" "$LOG_DIR" "$PID_DIR"
for f in "$HARNESS_DIR"/conf/*; do
  sed -e "s#@RUN@#$RUN_DIR#g" -e "s#@PKI@#$PKI_DIR#g" -e "s#@BRIDGE@#$BRIDGE#g" -e "s#@SUBNET@#$POD_SUBNET#g" "$f" > "$RUN_DIR/conf/$(basename "$f")"
done
cp "$RUN_DIR/conf/cni.conflist" "$RUN_DIR/cni/net.d/10-wpk8s.conflist"
cp "$PKI_DIR/admin.kubeconfig" "$KUBECONFIG_PATH"
export KUBECONFIG=$KUBECONFIG_PATH

start() { # name command...: runs in the background with its own log and PID file (and its command, for restart.sh)
  local name=$1; shift
  printf '%s\0' "$@" > "$RUN_DIR/$name.cmd"
  setsid "$@" > "$LOG_DIR/$name.log" 2>&1 < /dev/null &
  echo $! > "$PID_DIR/$name.pid"
}
wait_for() { # description, seconds, command
  local what=$1 seconds=$2; shift 2
  for _ in $(seq $((seconds * 5))); do if "$@" >/dev/null 2>&1; then say "$what"; return 0; fi; sleep 0.2; done
  echo "timed out after ${seconds}s waiting for: $what (logs in $LOG_DIR)" >&2; return 1
}
node_ready() { [ "$(kubectl get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
node_untainted() { [ -z "$(kubectl get node "$NODE_NAME" -o jsonpath='{.spec.taints}')" ]; }

# Kubelet and CNI change these host settings; they are put back by down.sh.
sysctl vm.overcommit_memory kernel.panic kernel.panic_on_oops > "$RUN_DIR/sysctl.saved"
: > "$RUN_DIR/created-dirs"
for d in /var/log/pods /var/log/containers /run/containerd /run/netns; do [ -e "$d" ] || echo "$d" >> "$RUN_DIR/created-dirs"; done

start etcd etcd --name wpk8s --data-dir "$RUN_DIR/etcd" \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster wpk8s=http://127.0.0.1:2380 --listen-metrics-urls ''
start kube-apiserver "$BIN/kube-apiserver" --bind-address=127.0.0.1 --secure-port=6443 --insecure-port=0 \
  --etcd-servers=http://127.0.0.1:2379 --service-cluster-ip-range=10.0.0.0/24 \
  --client-ca-file="$PKI_DIR/ca.crt" --tls-cert-file="$PKI_DIR/apiserver.crt" --tls-private-key-file="$PKI_DIR/apiserver.key" \
  --kubelet-client-certificate="$PKI_DIR/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI_DIR/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority="$PKI_DIR/ca.crt" --kubelet-preferred-address-types=Hostname,InternalIP \
  --service-account-key-file="$PKI_DIR/sa.pub" --service-account-signing-key-file="$PKI_DIR/sa.key" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
  --allow-privileged=true --profiling=false --endpoint-reconciler-type=none
wait_for "api server ready" 90 kubectl get --raw /readyz
start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig="$PKI_DIR/controller-manager.kubeconfig" \
  --authentication-kubeconfig="$PKI_DIR/controller-manager.kubeconfig" --authorization-kubeconfig="$PKI_DIR/controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port=10257 --port=0 --leader-elect=false \
  --service-account-private-key-file="$PKI_DIR/sa.key" --root-ca-file="$PKI_DIR/ca.crt" --use-service-account-credentials=true \
  --cluster-signing-cert-file="$PKI_DIR/ca.crt" --cluster-signing-key-file="$PKI_DIR/ca.key" \
  --controllers='*,-nodeipam,-cloud-node-lifecycle,-route,-service' --profiling=false --pvclaimbinder-sync-period=2s
start kube-scheduler "$BIN/kube-scheduler" --kubeconfig="$PKI_DIR/scheduler.kubeconfig" \
  --authentication-kubeconfig="$PKI_DIR/scheduler.kubeconfig" --authorization-kubeconfig="$PKI_DIR/scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port=10259 --port=0 --leader-elect=false --profiling=false
start containerd containerd --config "$RUN_DIR/conf/containerd.toml"
CTR=(ctr --address "$RUN_DIR/containerd/containerd.sock" -n k8s.io)
wait_for "containerd up" 30 "${CTR[@]}" version
for image in "$IMAGES"/*.tar; do "${CTR[@]}" images import --all-platforms "$image" >/dev/null; done
say "images: $("${CTR[@]}" images ls -q | grep -v '^sha256:' | tr '\n' ' ')"
start kubelet "$BIN/kubelet" --config="$RUN_DIR/conf/kubelet.yaml" --kubeconfig="$PKI_DIR/kubelet-client.kubeconfig" \
  --hostname-override="$NODE_NAME" --root-dir="$RUN_DIR/kubelet" --cert-dir="$RUN_DIR/kubelet/pki" \
  --container-runtime=remote --container-runtime-endpoint="unix://$RUN_DIR/containerd/containerd.sock" \
  --runtime-request-timeout=2m --v=1
start provisioner node "$HARNESS_DIR/provisioner.mjs" "$RUN_DIR/volumes"
wait_for "default service account" 60 kubectl -n default get serviceaccount default
kubectl apply -f "$RUN_DIR/conf/storage.yaml" >/dev/null
wait_for "node $NODE_NAME Ready" 120 node_ready
# The node lifecycle controller lifts the not-ready taint a moment later; pods created before wait Pending.
wait_for "node $NODE_NAME untainted" 60 node_untainted
say "cluster up: export KUBECONFIG=$KUBECONFIG_PATH"
