#!/bin/sh
# Installs skiff's systemd pieces: the restart-at-boot unit (skiff-restart.service) and the Quadlet-style
# generator (a two-line wrapper running `run-tool systemd-generator`). Both run run-tool through an absolute
# Node (the pinned one in node_modules when present), so they work under systemd's default PATH.
#
#   scripts/install-systemd.sh [--user] [--store DIR] [--unit-dir DIR] [--generator-dir DIR]
#
# Defaults: system flavour → /etc/systemd/system and /etc/systemd/system-generators; --user →
# ~/.config/systemd/user and /etc/systemd/user-generators (systemd reads user generators only from system
# directories). --store names a non-default store on every run-tool line.
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
node="$repo/node_modules/node/bin/node"
[ -x "$node" ] || node=$(command -v node)
flavour=system store= unit_dir= gen_dir=
while [ $# -gt 0 ]; do
  case "$1" in
    --user) flavour=user ;;
    --store) store=$2; shift ;;
    --unit-dir) unit_dir=$2; shift ;;
    --generator-dir) gen_dir=$2; shift ;;
    *) echo "install-systemd.sh: unknown argument $1 (want --user, --store DIR, --unit-dir DIR, --generator-dir DIR)" >&2; exit 2 ;;
  esac
  shift
done
if [ "$flavour" = user ]; then
  unit_dir=${unit_dir:-$HOME/.config/systemd/user}; gen_dir=${gen_dir:-/etc/systemd/user-generators}; gen_name=skiff-user-generator; gen_flag=' --user'
else
  unit_dir=${unit_dir:-/etc/systemd/system}; gen_dir=${gen_dir:-/etc/systemd/system-generators}; gen_name=skiff-system-generator; gen_flag=
fi
run_tool="$node $repo/bin/run-tool.mjs${store:+ --root $store}"
mkdir -p "$unit_dir" "$gen_dir"
# temp file and rename: a reader never sees half a unit
sed "s|@RUN_TOOL@|$run_tool|g" "$repo/run-tool/systemd/units/skiff-restart.$flavour.service.in" > "$unit_dir/.skiff-restart.service.tmp"
mv "$unit_dir/.skiff-restart.service.tmp" "$unit_dir/skiff-restart.service"
printf '#!/bin/sh\nexec %s systemd-generator%s "$@"\n' "$run_tool" "$gen_flag" > "$gen_dir/.$gen_name.tmp"
chmod 755 "$gen_dir/.$gen_name.tmp"
mv "$gen_dir/.$gen_name.tmp" "$gen_dir/$gen_name"
echo "$unit_dir/skiff-restart.service"
echo "$gen_dir/$gen_name"
