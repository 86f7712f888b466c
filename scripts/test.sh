#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what the tests need
# (idempotently: only what is missing), then runs formatting and lint checks, the
# unit, property and integration tests, and the end-to-end tests with real clients
# (skopeo, podman, Docker engine, containerd/ctr, oras, curl).
#
#   scripts/test.sh            everything
#   SKIP_E2E=1 scripts/test.sh without the real-client end-to-end tests
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==== %s\n' "$*"; }

# ---------------------------------------------------------------- prerequisites
APT_PACKAGES=(skopeo podman docker.io containerd umoci docker-registry wrk curl rpm)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  step "installing ${missing[*]}"
  SUDO=""; [[ "$(id -u)" == 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if ! python3 -c 'import oras.provider' 2>/dev/null; then
  step "installing the oras Python package"
  python3 -m pip install -q oras
fi

# ---------------------------------------------------------------- Rust checks and tests
step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
step "cargo test"
cargo test --workspace --locked

# ---------------------------------------------------------------- real clients
if [[ "${SKIP_E2E:-0}" != 1 ]]; then
  step "end-to-end tests with real clients"
  # `cargo test` built the binary already (for the integration tests).
  [[ -x target/debug/airlock ]] || cargo build --locked -p airlock
  AIRLOCK_BIN="$PWD/target/debug/airlock" bash tests/e2e/run.sh
fi
step "all tests passed"
