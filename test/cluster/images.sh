#!/bin/bash
# Builds the images the cluster preloads (no registry is reachable), as docker-archive tarballs in the cache:
#   docker.io/library/busybox:1.35          from Debian's busybox-static
#   docker.io/library/debian:bookworm-slim  debootstrap --variant=minbase
#   localhost/wpk8s/pause:1.0               the pod sandbox (pause.c)
#   localhost/wpk8s/plugin-env:1.0          a "plugin" that prints its PLUGIN_* settings (for plugin tests)
set -euo pipefail
source "$(dirname "$0")/env.sh"
OUT=$IMAGES_DIR
if [ -f "$OUT/done" ]; then say "images cached in $OUT"; exit 0; fi
WORK=$CLUSTER_CACHE/image-work
rm -rf "$WORK" "$OUT"; mkdir -p "$WORK" "$OUT"
ARCH=$(dpkg --print-architecture)

# archive ROOTFS REF CMD_JSON: a single-layer docker-archive that `ctr images import` accepts.
archive() {
  local rootfs=$1 ref=$2 cmd=$3 dir
  dir=$(mktemp -d "$WORK/archive.XXXX")
  tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 -C "$rootfs" -cf "$dir/layer.tar" .
  local diff_id config_id
  diff_id=sha256:$(sha256sum "$dir/layer.tar" | cut -d' ' -f1)
  printf '{"architecture":"%s","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":%s},"rootfs":{"type":"layers","diff_ids":["%s"]}}' \
    "$ARCH" "$cmd" "$diff_id" > "$dir/config.json"
  config_id=$(sha256sum "$dir/config.json" | cut -d' ' -f1)
  mv "$dir/config.json" "$dir/$config_id.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["layer.tar"]}]' "$config_id" "$ref" > "$dir/manifest.json"
  local name=${ref##*/}; name=${name//:/-}
  tar -C "$dir" -cf "$OUT/$name.tar" manifest.json "$config_id.json" layer.tar
  rm -rf "$dir"
  say "image $ref ($(du -h "$OUT/$name.tar" | cut -f1))"
}

BB=$WORK/busybox
mkdir -p "$BB"/{bin,tmp,etc,proc,sys,dev,root,usr,var}
chmod 1777 "$BB/tmp"
cp /bin/busybox "$BB/bin/busybox"
for applet in $("$BB/bin/busybox" --list); do [ "$applet" = busybox ] || ln -sf busybox "$BB/bin/$applet"; done
ln -s ../bin "$BB/usr/bin"; ln -s bin "$BB/sbin"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' > "$BB/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' > "$BB/etc/group"
archive "$BB" docker.io/library/busybox:1.35 '["sh"]'
archive "$BB" localhost/wpk8s/plugin-env:1.0 '["sh","-c","env | grep ^PLUGIN_ | sort"]'

PAUSE=$WORK/pause
mkdir -p "$PAUSE"
gcc -static -O2 -o "$PAUSE/pause" "$HARNESS_DIR/pause.c"
archive "$PAUSE" localhost/wpk8s/pause:1.0 '["/pause"]'

DEB=$WORK/debian
# From the Debian mirror of the machine's apt sources (else deb.debian.org), through apt's proxy if it has one.
debootstrap_bookworm "$DEB" "$WORK/debootstrap.log" || { tail -20 "$WORK/debootstrap.log"; exit 1; }
rm -rf "$DEB"/var/cache/apt/archives/*.deb "$DEB"/var/lib/apt/lists/* "$DEB"/usr/share/doc/* "$DEB"/usr/share/man/*
archive "$DEB" docker.io/library/debian:bookworm-slim '["bash"]'
rm -rf "$WORK"
touch "$OUT/done"
