#!/usr/bin/env bash
# Makes a minimal busybox root filesystem in DIR from Debian's busybox-static (no network needed):
# the static binary, one symlink per applet, /etc/passwd and /etc/group, and the usual empty directories.
# BINARY (optional) is another architecture's busybox (scripts/ensure-foreign-busybox.sh): it is copied instead,
# and the applet list still comes from the host's busybox (same Debian version; the foreign one need not run here).
set -euo pipefail
dir=${1:?usage: make-busybox-rootfs.sh DIR [BINARY]}
bb=$(command -v busybox || true)
[ -n "$bb" ] || { echo "busybox not found: install busybox-static" >&2; exit 1; }
src=${2:-$bb}
[ -f "$src" ] || { echo "$src not found" >&2; exit 1; }
mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,var,proc,sys,dev,home}
chmod 1777 "$dir/tmp"
chmod 0700 "$dir/root"
cp "$src" "$dir/bin/busybox"
chmod 0755 "$dir/bin/busybox"
for applet in $("$bb" --list-full); do
  [ "$applet" = bin/busybox ] && continue
  mkdir -p "$dir/$(dirname "$applet")"
  ln -sf /bin/busybox "$dir/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$dir/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$dir/etc/group"
