#!/bin/bash
# Installs what the tests need besides the cluster (idempotent): headless Chromium, which loads the
# HTML run report in the report test, and tmux, the pseudo-terminal the live view is read through.
# Debian's packages; needs root (as the test cluster does).
set -euo pipefail
PACKAGES="chromium fonts-dejavu-core tmux"
missing=()
for p in $PACKAGES; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -eq 0 ]; then echo "test tools present"; exit 0; fi
echo "installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "test tools installed"
