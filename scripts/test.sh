#!/usr/bin/env bash
# The whole test suite, with its own set-up: system packages (as root), a fresh bundle, a typecheck, then vitest.
# Run through `npm test` so the pinned Node 24 from node_modules/.bin comes first on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system-deps.sh test
# foreign-platform builds: qemu-user-static's formats in binfmt_misc (root only: machine-wide) and an arm64 busybox;
# a failure (said in one line by the script) stops a CI run, elsewhere the multi-platform tests skip themselves
if [ "$(id -u)" = 0 ]; then bash scripts/register-binfmt.sh || [ -z "${CI:-}" ]; fi
bash scripts/ensure-foreign-busybox.sh arm64 || [ -z "${CI:-}" ]
node scripts/build.mjs
tsc --noEmit -p .
exec vitest run "$@"
