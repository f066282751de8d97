#!/usr/bin/env bash
# Registers Debian's qemu-user-static interpreters in binfmt_misc so that RUN steps of foreign-platform builds
# (build-tool build --platform linux/arm64 …) run under emulation. Idempotent; run as root after boot (nothing
# registers them when systemd is not PID 1). Usage: register-binfmt.sh [ARCH…]  (qemu names, default: every
# qemu-*.conf Debian ships, e.g. aarch64 arm s390x ppc64le riscv64).
# - mounts binfmt_misc on /proc/sys/fs/binfmt_misc when it is not mounted;
# - registers each format from /usr/lib/binfmt.d/qemu-ARCH.conf that is not registered yet, with the F
#   (fix-binary) flag added when the file lacks it: the kernel then opens the interpreter once, now, so it works
#   inside containers and user namespaces that cannot see /usr/libexec/qemu-binfmt;
# - leaves formats already registered (by anyone) as they are.
# Prints what it registered; one line and exit 1 when it cannot (not root, qemu-user-static missing).
set -u
dir=/proc/sys/fs/binfmt_misc
confdir=/usr/lib/binfmt.d
[ "$(id -u)" = 0 ] || { echo "register-binfmt: must run as root (binfmt_misc registration is machine-wide)" >&2; exit 1; }
ls "$confdir"/qemu-*.conf >/dev/null 2>&1 || {
  echo "register-binfmt: no qemu formats in $confdir: install qemu-user-static (apt-get install -y qemu-user-static)" >&2; exit 1; }
if [ ! -e "$dir/register" ]; then
  mount -t binfmt_misc binfmt_misc "$dir" || { echo "register-binfmt: cannot mount binfmt_misc on $dir" >&2; exit 1; }
fi
if [ $# -gt 0 ]; then confs=(); for a in "$@"; do confs+=("$confdir/qemu-$a.conf"); done
else confs=("$confdir"/qemu-*.conf); fi
done_any=
for conf in "${confs[@]}"; do
  [ -f "$conf" ] || { echo "register-binfmt: $conf not found (is qemu-user-static installed?)" >&2; exit 1; }
  line=$(grep -v '^[#;]' "$conf" | grep -m1 '^:') || continue
  name=$(printf '%s' "$line" | cut -d: -f2)
  [ -e "$dir/$name" ] && continue
  flags=${line##*:}
  case "$flags" in *F*) ;; *) line="${line}F" ;; esac
  printf '%s' "$line" >"$dir/register" || { echo "register-binfmt: the kernel refused $name from $conf" >&2; exit 1; }
  done_any="$done_any $name"
done
[ -z "$done_any" ] || echo "registered in binfmt_misc:$done_any" >&2
exit 0
