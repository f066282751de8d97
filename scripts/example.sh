#!/usr/bin/env bash
# The embedded example, offline: make a busybox root filesystem from Debian's busybox-static, import it into a
# skiff store as an image, list it, copy it to an OCI archive and inspect that, and show that other OCI tools
# read the store as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system-deps.sh busybox
root=${SKIFF_EXAMPLE_ROOT:-$PWD/.skiff-example}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bash scripts/make-busybox-rootfs.sh "$work/rootfs"
tar --numeric-owner -C "$work/rootfs" -cf "$work/rootfs.tar" .
run() { echo "+ $*" >&2; "$@"; }
run node bin/run-tool.mjs --root "$root" import --change 'CMD ["/bin/sh"]' "$work/rootfs.tar" busybox
run node bin/run-tool.mjs --root "$root" images
run node bin/copy-tool.mjs --root "$root" copy store:busybox "oci-archive:$work/busybox.tar:latest"
run node bin/copy-tool.mjs inspect "oci-archive:$work/busybox.tar:latest"
if command -v skopeo >/dev/null 2>&1; then
  run skopeo inspect --format '{{.Digest}} {{.Os}}/{{.Architecture}}' "oci:$root/images:localhost/busybox:latest"
fi
echo "The store is at $root: an OCI image layout in $root/images." >&2
