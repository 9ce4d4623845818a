#!/bin/bash
# Prints the state of each component; exits 0 only when the cluster is up and the node Ready.
source "$(dirname "$0")/env.sh"
ok=0
for c in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet provisioner; do
  pid=$(cat "$PID_DIR/$c.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo "$c: running (pid $pid)"; else echo "$c: stopped"; ok=1; fi
done
if [ $ok = 0 ]; then
  ready=$(KUBECONFIG=$KUBECONFIG_PATH kubectl get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)
  echo "node $NODE_NAME Ready: ${ready:-unknown}"
  [ "$ready" = True ] || ok=1
fi
echo "kubeconfig: $KUBECONFIG_PATH"
exit $ok
