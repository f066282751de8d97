#!/usr/bin/env bash
# Gets Debian's busybox-static for foreign architectures, so tests can make base images for other platforms with
# no registry: .cache/foreign/ARCH/busybox (the static binary, Debian architecture names: arm64, armhf, s390x…).
# Idempotent. As root with apt-get: adds each architecture to dpkg (dpkg --add-architecture, once; it only lets
# apt see that architecture's package lists) and runs apt-get update when the package is not known yet, then
# `apt-get download busybox-static:ARCH` and unpacks it with dpkg-deb -x (nothing is installed).
# Otherwise names what is missing and fails when CI is set. Usage: ensure-foreign-busybox.sh [ARCH…] (default arm64)
set -u
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- arm64
for arch in "$@"; do
  out=.cache/foreign/$arch
  [ -x "$out/busybox" ] && continue
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "missing $out/busybox — run as root: bash scripts/ensure-foreign-busybox.sh $arch" >&2
    [ -n "${CI:-}" ] && exit 1
    continue
  fi
  dpkg --print-foreign-architectures | grep -qx "$arch" || dpkg --add-architecture "$arch" || {
    echo "ensure-foreign-busybox: dpkg --add-architecture $arch failed" >&2; exit 1; }
  tmp=$(mktemp -d /tmp/skiff-foreign.XXXXXX)
  chmod 755 "$tmp"
  log=$tmp/apt.log
  ( cd "$tmp" && { apt-get download -qq "busybox-static:$arch" >"$log" 2>&1 ||
      { apt-get update -qq >>"$log" 2>&1 && apt-get download -qq "busybox-static:$arch" >>"$log" 2>&1; }; } ) || {
    echo "ensure-foreign-busybox: apt-get download busybox-static:$arch failed: $(tail -1 "$log")" >&2; exit 1; }
  dpkg-deb -x "$tmp"/busybox-static_*_"$arch".deb "$tmp/x" || { echo "ensure-foreign-busybox: cannot unpack busybox-static:$arch" >&2; exit 1; }
  mkdir -p "$out"
  install -m 0755 "$tmp/x/bin/busybox" "$out/busybox.tmp" && mv "$out/busybox.tmp" "$out/busybox"
  rm -rf "$tmp"
done
exit 0
