# Sourced (never run) by the first lines of bin/<tool>.mjs executed directly, with t=<tool> and s=<that script's
# path, symlinks resolved>; $0 and "$@" are the bin's. /bin/sh reads this, not Node.js; one implementation for the
# three tools. A hot command (the first argument, or the one after `--root DIR` / `--root=DIR`: a plain lower-case
# word, so it never names a path) whose V8 start-up snapshot is current (npm run build:
# dist/snapshot/<node version>/<tool>-<command>.blob, newer than the Node.js that built it and than the command's
# bundle) starts from it; anything else (SKIFF_NO_SNAPSHOT=1, SKIFF_ALL_COMMANDS_BUNDLE=1, no blob, a stale one)
# runs the bin with the `node` on PATH, as before.
d=${s%/*}/..; c=${1-}; [ "$c" = --root ] && c=${3-}; case $c in --root=*) c=${2-} ;; esac
case $c in [a-z]*[!a-z-]* | [!a-z]* | '') c= ;; esac
# copy-tool's copy and sync hold fewer malloc arenas and keep glibc's mmap threshold fixed at its 128 KiB default
# (lower peak RSS on a large copy: glibc otherwise raises the threshold once a large buffer is freed, so later
# ones stay in the heap; it reads both only at start), each unless the user chose a value.
if [ "$t" = copy-tool ]; then case $c in copy | sync)
  [ -n "${MALLOC_ARENA_MAX+set}" ] || export MALLOC_ARENA_MAX=1
  [ -n "${MALLOC_MMAP_THRESHOLD_+set}" ] || export MALLOC_MMAP_THRESHOLD_=131072 ;;
esac; fi
if [ -n "$c" ] && [ "${SKIFF_NO_SNAPSHOT-}" != 1 ] && [ "${SKIFF_ALL_COMMANDS_BUNDLE-}" != 1 ] && [ -f "$d/dist/snapshot/node" ] && read -r v n <"$d/dist/snapshot/node"; then
  b=$d/dist/snapshot/$v/$t-$c.blob; [ -f "$b" ] && [ -x "$n" ] && [ "$b" -nt "$n" ] && [ "$b" -nt "$d/dist/hot/$t-$c/main.mjs" ] && exec "$n" --snapshot-blob "$b" -- "$@"
fi
exec node "$0" "$@"
