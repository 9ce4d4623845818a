#!/bin/bash
# Creates the cluster's CA, serving and client certificates and kubeconfigs (once; reused afterwards).
set -euo pipefail
source "$(dirname "$0")/env.sh"
mkdir -p "$PKI_DIR" && cd "$PKI_DIR"
[ -f done ] && exit 0
rm -f ./*
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj "/CN=wpk8s-test-ca" 2>/dev/null
issue() { # name, subject, extendedKeyUsage, subjectAltName (optional)
  local name=$1 subject=$2 usage=$3 san=${4:-}
  openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "$subject" 2>/dev/null
  { echo "basicConstraints=CA:FALSE"; echo "keyUsage=critical,digitalSignature,keyEncipherment"; echo "extendedKeyUsage=$usage"
    [ -z "$san" ] || echo "subjectAltName=$san"; } > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -sha256 -extfile "$name.ext" -out "$name.crt" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}
issue apiserver "/CN=kube-apiserver" serverAuth "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:127.0.0.1,IP:10.0.0.1"
issue apiserver-kubelet-client "/CN=kube-apiserver-kubelet-client/O=system:masters" clientAuth
issue admin "/CN=wpk8s-admin/O=system:masters" clientAuth
issue controller-manager "/CN=system:kube-controller-manager" clientAuth
issue scheduler "/CN=system:kube-scheduler" clientAuth
issue kubelet-client "/CN=system:node:$NODE_NAME/O=system:nodes" clientAuth
issue kubelet-server "/CN=$NODE_NAME" serverAuth "DNS:$NODE_NAME,DNS:localhost,IP:127.0.0.1"
openssl genrsa -out sa.key 2048 2>/dev/null
openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
kubeconfig() { # name, user
  local f=$1.kubeconfig
  cat > "$f" <<EOK
apiVersion: v1
kind: Config
clusters:
- name: wpk8s-test
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: $(base64 -w0 ca.crt)
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 "$1.crt")
    client-key-data: $(base64 -w0 "$1.key")
contexts:
- name: wpk8s-test
  context: {cluster: wpk8s-test, user: $2}
current-context: wpk8s-test
EOK
}
kubeconfig admin wpk8s-admin
kubeconfig controller-manager system:kube-controller-manager
kubeconfig scheduler system:kube-scheduler
kubeconfig kubelet-client "system:node:$NODE_NAME"
touch done
