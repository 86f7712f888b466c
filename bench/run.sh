#!/usr/bin/env bash
# Airlock vs CNCF Distribution benchmark.  See bench/README.md.
#
#   bench/run.sh                      # AIRLOCK_BIN defaults to target/release/airlock
#   BENCH_STANDIN=1 bench/run.sh      # no Airlock binary yet: distribution in both columns
#   BENCH_QUICK=1 bench/run.sh        # 256 MiB blob, 1 rep, 500 small blobs, 5 s wrk (smoke test)
#   bench/run.sh --reps 5             # extra args go to bench/bench.py (see --help)
#
# Environment: AIRLOCK_BIN, DISTRIBUTION_BIN, BENCH_TMP (scratch parent, default /tmp),
# BENCH_DATA_ROOT (server data dirs: auto = /dev/shm if >= 12 GiB free there, else disk;
# "disk" = inside the scratch dir; or a directory), BENCH_WARM_GIB (RAM pre-touch,
# default 16, 0 = off),
# BENCH_KEEP=1 (keep scratch dir), BENCH_STANDIN=1, BENCH_QUICK=1.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
export AIRLOCK_BIN=${AIRLOCK_BIN:-$REPO/target/release/airlock}
export DISTRIBUTION_BIN=${DISTRIBUTION_BIN:-/usr/bin/docker-registry}

# ---- dependencies (idempotent; only installs what is missing)
missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
[ -x "$DISTRIBUTION_BIN" ] || missing+=(docker-registry)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing: ${missing[*]} — install them (apt-get install ${missing[*]}) and re-run" >&2
    exit 2
  fi
  echo "[run.sh] installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >&2
fi

# ---- the push floor instrument (a native sink; see crates/storage/examples/push_floor.rs)
export FLOOR_BIN=${FLOOR_BIN:-$REPO/target/release/examples/push_floor}
if command -v cargo >/dev/null 2>&1; then
  (cd "$REPO" && cargo build --release --locked -q -p airlock-storage --example push_floor) >&2 \
    || echo "[run.sh] could not build the push_floor example; the floor is skipped" >&2
fi

# ---- scratch dir and cleanup
TMP_PARENT=${BENCH_TMP:-/tmp}
avail_gib=$(df -P -BG "$TMP_PARENT" | awk 'NR==2 {sub("G","",$4); print $4}')
if [ "${avail_gib:-0}" -lt 14 ]; then
  echo "need ~14 GiB free under $TMP_PARENT (have ${avail_gib}G); set BENCH_TMP" >&2
  exit 2
fi
WORK=$(mktemp -d "$TMP_PARENT/airlock-bench.XXXXXX")
# Server data dirs: default tmpfs (/dev/shm) when it has room, so the numbers
# measure the servers rather than this machine's disk; BENCH_DATA_ROOT=disk puts
# them in the scratch dir (BENCH_TMP, a real filesystem); any other value is a path.
want=${BENCH_DATA_ROOT:-auto}
if [ "$want" = auto ]; then
  shm_gib=$(df -P -BG /dev/shm 2>/dev/null | awk 'NR==2 {sub("G","",$4); print $4}')
  if [ "${shm_gib:-0}" -ge 12 ]; then want=/dev/shm; else want=disk; fi
fi
if [ "$want" = disk ]; then
  DATA_ROOT=$WORK
else
  DATA_ROOT=$(mktemp -d "$want/airlock-bench-data.XXXXXX")
fi

cleanup() {
  local rc=$?
  # Stop only the server processes the driver started (PIDs it recorded).
  if [ -f "$WORK/server.pids" ]; then
    while read -r pid; do
      [ -n "$pid" ] || continue
      if kill -0 "$pid" 2>/dev/null; then
        exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
        case "$exe" in
          "$(readlink -f "$AIRLOCK_BIN" 2>/dev/null || echo "$AIRLOCK_BIN")"|"$(readlink -f "$DISTRIBUTION_BIN")")
            kill "$pid" 2>/dev/null || true ;;
        esac
      fi
    done < "$WORK/server.pids"
  fi
  if [ -n "${BENCH_KEEP:-}" ]; then
    echo "[run.sh] kept scratch dir $WORK (data: $DATA_ROOT)" >&2
  else
    rm -rf "$WORK"
    [ "$DATA_ROOT" = "$WORK" ] || rm -rf "$DATA_ROOT"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

args=()
[ -n "${BENCH_STANDIN:-}" ] && args+=(--standin)
[ -n "${BENCH_KEEP:-}" ] && args+=(--keep)
if [ -n "${BENCH_QUICK:-}" ]; then
  args+=(--blob-mib 256 --reps 1 --small-count 500 --wrk-seconds 5 --warm-gib 0)
fi

mkdir -p "$HERE/results"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
start=$(date +%s)
set +e
python3 "$HERE/bench.py" --workdir "$WORK" --data-root "$DATA_ROOT" \
  --json "$HERE/results/bench-$stamp.json" --report "$HERE/results/bench-$stamp.txt" \
  "${args[@]}" "$@"
rc=$?
set -e
echo "[run.sh] finished in $(( $(date +%s) - start )) s, exit $rc; results in $HERE/results/bench-$stamp.{txt,json}" >&2
exit $rc
