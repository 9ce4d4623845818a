#!/bin/bash
# Installs the Debian packages the local cluster needs (idempotent: skips when all are present).
set -euo pipefail
source "$(dirname "$0")/env.sh"
PACKAGES="etcd-server containerd runc containernetworking-plugins busybox-static golang-go
  golang-github-modern-go-reflect2-dev dpkg-dev make rsync jq openssl curl iptables iproute2 debootstrap
  kubernetes-client"
missing=()
for p in $PACKAGES; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
# A kubectl from elsewhere is fine; only install Debian's when none is on PATH.
if command -v kubectl >/dev/null; then missing=("${missing[@]/kubernetes-client}"); fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if [ ${#missing[@]} -eq 0 ]; then say "packages present"; exit 0; fi
say "installing ${missing[*]}"
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
say "packages installed"
