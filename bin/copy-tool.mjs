#!/bin/sh
':' //; # Executed directly, /bin/sh reads these lines (JavaScript sees a string and a comment) and sources
':' //; # bin/snapshot-start.sh: a hot command with a current start-up snapshot starts from it, anything else runs node.
':' //; t=copy-tool; s=$0; [ -L "$s" ] && s=$(readlink -f -- "$s"); case $s in */*) ;; *) s=./$s ;; esac; . "${s%/*}/snapshot-start.sh"
import { launch } from './launch.mjs';
await launch('copy-tool');
