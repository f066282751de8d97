#!/usr/bin/env bash
# Installs the Debian packages that provide the system programs a purpose needs, from the one list
# (shared/process/system-programs.json), and writes nothing else. Usage: ensure-system-deps.sh example|run|test
# As root with apt-get: installs what is missing; a failed install fails with one line. Otherwise names what is
# missing and fails when CI is set (a CI run never skips a test for want of a program).
set -u
cd "$(dirname "$0")/.."
purpose=${1:-test}
list=$(node -e '
  const t = require("./shared/process/system-programs.json").programs;
  for (const [prog, p] of Object.entries(t)) if (p.needs.includes(process.argv[1])) console.log([prog, p.package, ...(p.dirs ?? [])].join(" "));
' "$purpose") || { echo "ensure-system-deps: cannot read shared/process/system-programs.json" >&2; exit 1; }
missing=()
# On Debian the package itself is asked for: a program of the same name elsewhere on PATH (a hand-installed
# docker in /usr/local/bin, a pyenv python3 without the kubernetes module) does not stand in for it
have_dpkg=; command -v dpkg-query >/dev/null 2>&1 && have_dpkg=1
while read -r prog pkg dirs; do
  found=
  if [ -n "$have_dpkg" ]; then
    [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" = "install ok installed" ] && found=1
  else
    command -v "$prog" >/dev/null 2>&1 && found=1
    for d in $dirs /usr/sbin /sbin; do [ -n "$found" ] || [ ! -x "$d/$prog" ] || found=1; done
  fi
  [ -n "$found" ] || missing+=("$pkg")
done <<<"$list"
[ ${#missing[@]} -eq 0 ] && exit 0
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  log=$(mktemp /tmp/skiff-apt.XXXXXX.log)
  # docker.io is installed for its CLI only (the tests' client of run-tool's API): a policy-rc.d that refuses
  # every service start keeps its postinst from starting dockerd (invoke-rc.d and deb-systemd-invoke both obey
  # it, with or without systemd as PID 1); an existing policy is left as it is
  policy=
  if printf '%s\n' "${missing[@]}" | grep -qx docker.io && [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && policy=1
  fi
  { apt-get update -qq && apt-get install -y -qq "${missing[@]}"; } >"$log" 2>&1
  rc=$?
  [ -z "$policy" ] || rm -f /usr/sbin/policy-rc.d
  [ $rc -eq 0 ] || {
    echo "apt-get install ${missing[*]} failed: $(tail -1 "$log") (full log: $log)" >&2; exit 1; }
  rm -f "$log"
  exit 0
fi
echo "missing system packages for the $purpose: ${missing[*]} — install them (as root: apt-get install -y ${missing[*]})" >&2
[ -n "${CI:-}" ] && exit 1
exit 0
