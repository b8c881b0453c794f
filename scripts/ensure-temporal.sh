#!/usr/bin/env bash
# Makes sure the Temporal CLI (dev server + UI) is there: `TEMPORAL_CLI`, else a copy built
# once from the Go module and cached outside the clone under ~/.cache, keyed by version.
# (No Temporal CLI on npm; later tags than v1.5.1 carry `replace` directives and cannot be
# `go install`ed.)
set -euo pipefail
version=v1.5.1
dir="${XDG_CACHE_HOME:-$HOME/.cache}/webhost/temporal-$version"
if [ -n "${TEMPORAL_CLI:-}" ]; then
  [ -x "$TEMPORAL_CLI" ] || { echo "TEMPORAL_CLI=$TEMPORAL_CLI is not executable" >&2; exit 1; }
  exit 0
fi
if [ -x "$dir/temporal" ]; then exit 0; fi
command -v go >/dev/null || { echo "Go is needed once to build the Temporal CLI (go install github.com/temporalio/cli/cmd/temporal@$version); install Go or set TEMPORAL_CLI" >&2; exit 1; }
echo "==> building the Temporal CLI $version from the Go module (once; about 5 minutes on 2 cores)" >&2
mkdir -p "$dir"
tmp="$dir.tmp-$$"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
# -v lists packages as they compile: progress on a long build.
GOBIN="$tmp" GOFLAGS="${GOFLAGS:-} -buildvcs=false" go install -v "github.com/temporalio/cli/cmd/temporal@$version" 2>&1 | awk '{ n++; if (n % 200 == 0) printf "    … %d packages compiled\n", n > "/dev/stderr" }'
mv "$tmp/temporal" "$dir/temporal"
"$dir/temporal" --version >&2
