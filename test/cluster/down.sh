#!/bin/bash
# Stops the test cluster by PID and removes everything it made: containers, mounts, network namespaces,
# the bridge, cgroups; restores the host settings. Exits non-zero when anything is left behind.
source "$(dirname "$0")/env.sh"
stop() { # name: TERM, wait up to 10 s, then KILL
  local file=$PID_DIR/$1.pid pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$file"
}
CTR=(ctr --address "$RUN_DIR/containerd/containerd.sock" -n k8s.io)
stop provisioner
stop kubelet
if [ -S "$RUN_DIR/containerd/containerd.sock" ]; then
  for task in $("${CTR[@]}" tasks ls -q 2>/dev/null); do "${CTR[@]}" tasks kill -s SIGKILL "$task" >/dev/null 2>&1; done
  sleep 1
  for task in $("${CTR[@]}" tasks ls -q 2>/dev/null); do "${CTR[@]}" tasks delete -f "$task" >/dev/null 2>&1; done
  for c in $("${CTR[@]}" containers ls -q 2>/dev/null); do "${CTR[@]}" containers delete "$c" >/dev/null 2>&1; done
fi
stop containerd
# Shims of our containerd re-parent to init when containerd stops; they are found by their socket path.
for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $RUN_DIR/containerd/containerd.sock" || true); do kill -9 "$pid" 2>/dev/null; done
for c in kube-scheduler kube-controller-manager kube-apiserver etcd; do stop "$c"; done
grep -o " $CLUSTER_HOME[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
for ns in /run/netns/cni-*; do [ -e "$ns" ] && { umount "$ns" 2>/dev/null; rm -f "$ns"; }; done
ip link show "$BRIDGE" >/dev/null 2>&1 && ip link del "$BRIDGE"
for root in /sys/fs/cgroup/*/; do
  for d in kubepods k8s.io; do [ -d "$root$d" ] && find "$root$d" -depth -type d -exec rmdir {} \; 2>/dev/null; done
done
[ -f "$RUN_DIR/sysctl.saved" ] && sysctl -q -p "$RUN_DIR/sysctl.saved"
if [ -f "$RUN_DIR/created-dirs" ]; then
  while read -r d; do mountpoint -q "$d" && umount "$d"; rm -rf "$d"; done < "$RUN_DIR/created-dirs"
fi
rm -rf "$RUN_DIR"

# Check: nothing of the cluster may remain.
left=()
procs=$(pgrep -f "$CLUSTER_HOME|containerd-shim-runc-v2" | grep -vw "$$" | tr '\n' ' ')
[ -z "${procs// }" ] || left+=("processes: $procs")
mounts=$(grep -c " $CLUSTER_HOME" /proc/mounts)
[ "$mounts" = 0 ] || left+=("$mounts mounts under $CLUSTER_HOME")
ip link show "$BRIDGE" >/dev/null 2>&1 && left+=("network device $BRIDGE")
ls /run/netns/cni-* >/dev/null 2>&1 && left+=("network namespaces $(ls /run/netns/)")
for root in /sys/fs/cgroup/*/; do [ -d "${root}kubepods" ] && left+=("cgroup ${root}kubepods"); done
if [ ${#left[@]} -gt 0 ]; then printf 'left behind: %s\n' "${left[@]}" >&2; exit 1; fi
say "cluster down; nothing left behind"
