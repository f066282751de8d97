#!/bin/sh
':' //; # Executed directly, /bin/sh reads these lines (JavaScript sees a string and a comment): a hot command with a
':' //; # current start-up snapshot (npm run build: dist/snapshot/<node version>/copy-tool-<command>.blob, newer than the
':' //; # Node.js that built it and than the command's bundle) starts from it; anything else runs this file with node.
':' //; s=$0; [ -L "$s" ] && s=$(readlink -f -- "$s"); d=${s%/*}/..; c=$1; [ "$1" = --root ] && c=${3-}; case $1 in --root=*) c=${2-} ;; esac
':' //; case $c in [a-z]*[!a-z-]* | [!a-z]* | '') c= ;; esac
':' //; if [ -n "$c" ] && [ "${SKIFF_NO_SNAPSHOT-}" != 1 ] && [ "${SKIFF_ALL_COMMANDS_BUNDLE-}" != 1 ] && [ -f "$d/dist/snapshot/node" ] && read -r v n <"$d/dist/snapshot/node"; then
':' //;   b=$d/dist/snapshot/$v/copy-tool-$c.blob; [ -f "$b" ] && [ -x "$n" ] && [ "$b" -nt "$n" ] && [ "$b" -nt "$d/dist/hot/copy-tool-$c/main.mjs" ] && exec "$n" --snapshot-blob "$b" -- "$@"
':' //; fi
':' //; exec node "$0" "$@"
import { launch } from './launch.mjs';
await launch('copy-tool');
