#!/usr/bin/env bash
# The embedded example, offline: make a busybox base image from Debian's busybox-static, build examples/Containerfile
# on it with build-tool, run the result with run-tool, then copy it to an OCI archive and inspect that with
# copy-tool. The store is ./.skiff-example (or $SKIFF_EXAMPLE_ROOT); skopeo and umoci read it as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system-deps.sh example
root=${SKIFF_EXAMPLE_ROOT:-$PWD/.skiff-example}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run() { echo "+ $*" >&2; "$@"; }
bash scripts/make-busybox-rootfs.sh "$work/rootfs"
tar --numeric-owner -C "$work/rootfs" -cf "$work/rootfs.tar" .
run node bin/run-tool.mjs --root "$root" import -q --change 'CMD ["/bin/sh"]' "$work/rootfs.tar" busybox
run node bin/build-tool.mjs --root "$root" build -t hello -f examples/Containerfile examples
run node bin/run-tool.mjs --root "$root" images
if [ "$(id -u)" = 0 ]; then
  run node bin/run-tool.mjs --root "$root" run --rm --network none hello
else
  echo "(running containers rootless needs uidmap and subuid entries: see 'run-tool info'; skipping the run)" >&2
fi
run node bin/copy-tool.mjs --root "$root" copy -q store:hello "oci-archive:$work/hello.tar:latest"
run node bin/copy-tool.mjs inspect --format '{{.Digest}} {{.Os}}/{{.Architecture}} {{len .Layers}} layers' "oci-archive:$work/hello.tar:latest"
echo "The store is at $root: an OCI image layout in $root/images." >&2
