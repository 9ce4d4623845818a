#!/bin/bash
# The plain-kubectl way to run N trivial steps, as the benchmark compares wpk8s with it: create a
# claim, then for each step create the pod, wait for it, follow its log, read its exit code, delete it;
# then delete the claim.   Usage: kubectl-steps.sh NAMESPACE STEPS [SECONDS-EACH-STEP-SLEEPS]
set -euo pipefail
NS=$1; N=$2; SLEEP=${3:-0}; ID=k$RANDOM
kubectl -n "$NS" apply -f - >/dev/null <<EOY
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: $ID-ws}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
EOY
for i in $(seq "$N"); do
  kubectl -n "$NS" apply -f - >/dev/null <<EOY
apiVersion: v1
kind: Pod
metadata: {name: $ID-s$i}
spec:
  restartPolicy: Never
  containers: [{name: step, image: busybox:1.35, imagePullPolicy: IfNotPresent, command: [sh, -c, "sleep $SLEEP; echo step $i"], volumeMounts: [{name: ws, mountPath: /woodpecker}]}]
  volumes: [{name: ws, persistentVolumeClaim: {claimName: $ID-ws}}]
EOY
  # Logs can be followed once the container has started (a trivial one may already have finished).
  until phase=$(kubectl -n "$NS" get pod "$ID-s$i" -o jsonpath='{.status.phase}') && [ -n "$phase" ] && [ "$phase" != Pending ]; do sleep 0.1; done
  kubectl -n "$NS" logs -f "$ID-s$i" >/dev/null
  until code=$(kubectl -n "$NS" get pod "$ID-s$i" -o jsonpath='{.status.containerStatuses[0].state.terminated.exitCode}') && [ -n "$code" ]; do sleep 0.1; done
  kubectl -n "$NS" delete pod "$ID-s$i" --grace-period=0 --wait=false >/dev/null 2>&1
done
kubectl -n "$NS" delete pvc "$ID-ws" --wait=false >/dev/null
