#!/usr/bin/env bash
# The whole test suite, with its own set-up: system packages (as root), a fresh bundle, a typecheck, then vitest.
# Run through `npm test` so the pinned Node 24 from node_modules/.bin comes first on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system-deps.sh test
node scripts/build.mjs
tsc --noEmit -p .
exec vitest run "$@"
