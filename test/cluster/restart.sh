#!/bin/bash
# Stops one component of the running test cluster by PID and starts it again with the same command,
# for fault-injection tests (the API server going away mid-run).   Usage: restart.sh kube-apiserver [down-seconds]
set -euo pipefail
source "$(dirname "$0")/env.sh"
NAME=$1; DOWN=${2:-0}
PID=$(cat "$PID_DIR/$NAME.pid")
[ -f "$RUN_DIR/$NAME.cmd" ] || { echo "no recorded command for $NAME" >&2; exit 1; }
kill "$PID"
for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
kill -9 "$PID" 2>/dev/null || true
sleep "$DOWN"
mapfile -d '' COMMAND < "$RUN_DIR/$NAME.cmd"
setsid "${COMMAND[@]}" >> "$LOG_DIR/$NAME.log" 2>&1 < /dev/null &
echo $! > "$PID_DIR/$NAME.pid"
if [ "$NAME" = kube-apiserver ]; then
  for _ in $(seq 300); do KUBECONFIG=$KUBECONFIG_PATH kubectl get --raw /readyz >/dev/null 2>&1 && break; sleep 0.2; done
fi
say "$NAME restarted (pid $(cat "$PID_DIR/$NAME.pid"))"
