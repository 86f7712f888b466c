#!/usr/bin/env bash
# Continuous-rescan benchmark: store 10,000 image inventories, import the whole
# advisory database, and time re-matching every inventory against it — what a running
# registry does after `airlock vulndb import`. Target: under 5 s.
#
#   bench/rematch.sh                 # N=10000, VULNDB=../shared/vulndb
#   N=2000 bench/rematch.sh          # smaller run
#
# Builds the release binary and the `rematch_bench` example (crates/server/examples).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
N=${N:-10000}
VULNDB=${VULNDB:-$REPO/../shared/vulndb}
[ -d "$VULNDB" ] || { echo "no advisory database at $VULNDB (set VULNDB=DIR)" >&2; exit 2; }

cd "$REPO"
cargo build --release --locked -p airlock -p airlock-server --bin airlock --example rematch_bench >&2
TMP=$(mktemp -d "${BENCH_TMP:-/tmp}/airlock-rematch.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

echo "== seeding $N inventories"
target/release/examples/rematch_bench seed "$TMP/data" "$VULNDB" "$N"
echo "== importing $VULNDB"
target/release/airlock vulndb import "$VULNDB" --data-dir "$TMP/data"
echo "== re-matching"
target/release/examples/rematch_bench run "$TMP/data"
