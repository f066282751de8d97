#!/usr/bin/env bash
# Makes a minimal busybox root filesystem in DIR from Debian's busybox-static (no network needed):
# the static binary, one symlink per applet, /etc/passwd and /etc/group, and the usual empty directories.
set -euo pipefail
dir=${1:?usage: make-busybox-rootfs.sh DIR}
bb=$(command -v busybox || true)
[ -n "$bb" ] || { echo "busybox not found: install busybox-static" >&2; exit 1; }
mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,var,proc,sys,dev,home}
chmod 1777 "$dir/tmp"
chmod 0700 "$dir/root"
cp "$bb" "$dir/bin/busybox"
chmod 0755 "$dir/bin/busybox"
for applet in $("$bb" --list-full); do
  [ "$applet" = bin/busybox ] && continue
  mkdir -p "$dir/$(dirname "$applet")"
  ln -sf /bin/busybox "$dir/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$dir/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$dir/etc/group"
