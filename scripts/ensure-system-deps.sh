#!/usr/bin/env bash
# Installs the system programs skiff's tests and examples use, when missing and running as root
# (Debian's packages); otherwise names what is missing. Usage: ensure-system-deps.sh [program…]
set -u
declare -A pkg_of=(
  [runc]=runc [skopeo]=skopeo [umoci]=umoci [busybox]=busybox-static [getfattr]=attr [setfattr]=attr
  [zstd]=zstd [flock]=util-linux [docker-registry]=docker-registry [mknod]=coreutils
  [netavark]=netavark [aardvark-dns]=aardvark-dns [pasta]=passt [ip]=iproute2 [iptables]=iptables
  [conmon]=conmon [catatonit]=catatonit [newuidmap]=uidmap [podman]=podman [buildah]=buildah [bzip2]=bzip2 [xz]=xz-utils [debootstrap]=debootstrap
)
wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(runc skopeo umoci busybox getfattr zstd flock)
missing=()
for prog in "${wanted[@]}"; do
  command -v "$prog" >/dev/null 2>&1 || [ -x "/usr/sbin/$prog" ] || [ -x "/bin/$prog" ] || [ -x "/usr/lib/podman/$prog" ] ||
    [ -x "/usr/libexec/podman/$prog" ] || missing+=("${pkg_of[$prog]:-$prog}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq "${missing[@]}"; } >/tmp/skiff-apt.log 2>&1 || {
    echo "apt-get install ${missing[*]} failed; see /tmp/skiff-apt.log" >&2; tail -5 /tmp/skiff-apt.log >&2; exit 1; }
else
  echo "missing system packages: ${missing[*]} — install them (as root: apt-get install -y ${missing[*]}); tests that need them are skipped" >&2
fi
exit 0
