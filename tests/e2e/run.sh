#!/usr/bin/env bash
# End-to-end test: drive a running registry with real third-party clients
# (skopeo, podman, Docker engine, containerd/ctr, oras-py, curl).
#
#   E2E_TARGET=airlock (default)  -> $AIRLOCK_BIN serve (Basic auth admin/<random pw>)
#   E2E_TARGET=distribution       -> /usr/bin/docker-registry (CNCF Distribution 2.8),
#                                    with htpasswd Basic auth when python's crypt can
#                                    make bcrypt hashes (E2E_DIST_AUTH=0 turns it off)
#   E2E_TARGET=external           -> an already running registry at E2E_REGISTRY
#                                    (127.0.0.1:PORT), credentials E2E_USER/E2E_PASS;
#                                    judged like airlock (nothing expected to fail)
# Other env: AIRLOCK_BIN, E2E_KEEP=1 (keep the temp dir), E2E_DOCKER_CLI.
#
# Every check prints "PASS <name>" or "FAIL <name>: <reason>"; checks that
# Distribution 2.8 is known not to support (referrers API) print "XFAIL" on that
# target and are not counted. Last line: "N passed, N failed"; exit 1 if any failed.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TARGET="${E2E_TARGET:-airlock}"
USER_NAME="${E2E_USER:-admin}"
PW="e2e-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
[[ "$TARGET" == external ]] && PW="${E2E_PASS:?E2E_PASS must be set for E2E_TARGET=external}"
WORK="$(mktemp -d /tmp/airlock-e2e.XXXXXX)"
LOGS="$WORK/logs"
mkdir -p "$LOGS" "$WORK/home"
T0=$(date +%s)

PASSN=0
FAILN=0
XFAILN=0
FAILED=()
REG_PID=""
DOCKERD_PID=""
CTRD_PID=""

pass() { echo "PASS $1"; PASSN=$((PASSN + 1)); }
fail() {
  local reason="${2:-}"
  reason="$(printf '%s' "$reason" | tr '\n' ' ' | cut -c1-600)"
  echo "FAIL $1: $reason"
  FAILN=$((FAILN + 1))
  FAILED+=("$1")
}
# A check that Distribution does not implement: on that target a failure is expected.
fail_or_xfail() {
  if [[ "$TARGET" == distribution ]]; then
    echo "XFAIL $1 (not supported by Distribution 2.8): $(printf '%s' "${2:-}" | tr '\n' ' ' | cut -c1-300)"
    XFAILN=$((XFAILN + 1))
  else
    fail "$1" "${2:-}"
  fi
}
# check NAME CONDITION-EXIT-STATUS REASON  (use: cond && pass X || fail X reason)
# tailf LOG [N]: a short failure reason from a log: its error lines if it has any, else its tail
tailf() {
  local errs
  errs="$(sed 's/\x1b\[[0-9;]*m//g' "$1" 2>/dev/null | grep -iE 'level=(fatal|error)|^ctr: |error|failed|denied|unauthorized|invalid' | tail -n 3 || true)"
  if [[ -n "$errs" ]]; then printf '%s' "$errs" | tr '\n' ' '
  else tail -n "${2:-5}" "$1" 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g' | tr '\n' ' ' || true; fi
}

# run NAME CMD...: run a command with a time limit, output to $LOGS/NAME.log.
# Returns the command's status; the log's tail is a good FAIL reason.
run() {
  local name="$1"; shift
  timeout "${RUN_TIMEOUT:-120}" "$@" >"$LOGS/$name.log" 2>&1
}

stop_pid() { # stop_pid PID SECONDS: TERM, wait, then KILL. Only for PIDs this script started.
  local pid="$1" secs="${2:-10}" i
  [[ -n "$pid" ]] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < secs * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  set +e
  if [[ -n "$DOCKERD_PID" ]]; then
    # dockerd stops the containerd it started itself; if dockerd had to be killed,
    # stop that child by the pid file dockerd wrote for it.
    local child=""
    [[ -f "$WORK/docker/exec/containerd/containerd.pid" ]] && child="$(cat "$WORK/docker/exec/containerd/containerd.pid" 2>/dev/null)"
    stop_pid "$DOCKERD_PID" 20
    if [[ -n "$child" ]] && kill -0 "$child" 2>/dev/null && grep -q containerd "/proc/$child/cmdline" 2>/dev/null; then
      kill -TERM "$child" 2>/dev/null; sleep 1; kill -KILL "$child" 2>/dev/null
    fi
  fi
  stop_pid "$CTRD_PID" 10
  stop_pid "$REG_PID" 10
  if [[ "${E2E_KEEP:-0}" == 1 ]]; then
    echo "kept work dir: $WORK" >&2
  else
    rm -rf --one-file-system "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

finish() {
  local dt=$(( $(date +%s) - T0 ))
  echo "---- target=$TARGET, ${dt}s; xfail (expected on this target): $XFAILN"
  if ((${#FAILED[@]})); then echo "---- failed: ${FAILED[*]}"; fi
  echo "$PASSN passed, $FAILN failed"
  if ((FAILN > 0)); then exit 1; fi
  exit 0
}

# ---------------------------------------------------------------- prerequisites
DOCKER_CLI="${E2E_DOCKER_CLI:-}"
if [[ -z "$DOCKER_CLI" ]]; then
  # Prefer Debian's docker.io CLI, which matches its dockerd.
  if [[ -x /usr/bin/docker ]]; then DOCKER_CLI=/usr/bin/docker; else DOCKER_CLI="$(command -v docker || true)"; fi
fi

have() { command -v "$1" >/dev/null 2>&1; }
MISSING=()
for t in curl python3 skopeo podman dockerd containerd ctr sha256sum timeout; do
  have "$t" || MISSING+=("$t")
done
[[ -n "$DOCKER_CLI" && -x "$DOCKER_CLI" ]] || MISSING+=("docker(cli)")
python3 -c 'import oras.provider' 2>/dev/null || MISSING+=("python:oras")
if ((${#MISSING[@]})); then
  fail tools-present "missing: ${MISSING[*]} (install skopeo podman docker.io containerd umoci and 'pip install oras')"
else
  pass tools-present
fi
tool_ok() { # tool_ok TOOL...: all present?
  local t; for t in "$@"; do
    for m in "${MISSING[@]+"${MISSING[@]}"}"; do [[ "$m" == "$t" ]] && return 1; done
  done; return 0
}

# ---------------------------------------------------------------- images
if python3 "$HERE/gen_images.py" "$WORK/img" >"$LOGS/gen.log" 2>&1; then
  pass generate-images
else
  fail generate-images "$(tailf "$LOGS/gen.log")"
  finish
fi
exp() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print(" ".join(v) if isinstance(v,list) else v)' "$WORK/img/expected.json" "$1"; }
EXP_V1="$(exp v1_manifest)"; EXP_V1_CFG="$(exp v1_config)"; EXP_V1_LAYERS="$(exp v1_layers)"
EXP_IDX="$(exp index)"; EXP_AMD64="$(exp index_amd64)"; EXP_ARM64="$(exp index_arm64)"
EXP_AMD64_CFG="$(exp index_amd64_config)"
EXP_DOCKER_ID="$(exp docker_image_id)"; EXP_CTR="$(exp ctr_manifest)"

# ---------------------------------------------------------------- registry
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
[[ "$TARGET" == external ]] && PORT="${E2E_REGISTRY:?E2E_REGISTRY=127.0.0.1:PORT must be set}" && PORT="${PORT##*:}"
REG="127.0.0.1:$PORT"
URL="http://$REG"
AUTH_ENABLED=1
case "$TARGET" in
  airlock)
    BIN="${AIRLOCK_BIN:-}"
    if [[ -z "$BIN" ]]; then
      # the newer of the release and debug builds
      for c in "$HERE/../../target/release/airlock" "$HERE/../../target/debug/airlock"; do
        [[ -x "$c" ]] && { [[ -z "$BIN" || "$c" -nt "$BIN" ]] && BIN="$c"; }
      done
    fi
    if [[ -z "$BIN" || ! -x "$BIN" ]]; then
      fail registry-start "AIRLOCK_BIN not set or not executable (${BIN:-unset}); build it or use E2E_TARGET=distribution"
      finish
    fi
    mkdir -p "$WORK/airlock-data"
    # SBOM referrers are opt-in per repository pattern: only e2e/optin gets them.
    printf 'sbom_referrers = ["e2e/optin"]\n' >"$WORK/airlock.toml"
    AIRLOCK_ADMIN_PASSWORD="$PW" "$BIN" serve --config "$WORK/airlock.toml" --listen "$REG" --data-dir "$WORK/airlock-data" \
      >"$LOGS/registry.log" 2>&1 &
    REG_PID=$!
    ;;
  distribution)
    have docker-registry || { fail registry-start "docker-registry (package docker-registry) not installed"; finish; }
    mkdir -p "$WORK/dist-data"
    AUTH_YAML=""
    if [[ "${E2E_DIST_AUTH:-1}" == 1 ]] && HASH="$(python3 -W ignore -c 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))' "$PW" 2>/dev/null)" && [[ "$HASH" == '$2'* ]]; then
      echo "$USER_NAME:$HASH" >"$WORK/htpasswd"
      AUTH_YAML="auth:
  htpasswd:
    realm: airlock
    path: $WORK/htpasswd"
    else
      AUTH_ENABLED=0
    fi
    cat >"$WORK/dist.yml" <<EOF
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $WORK/dist-data
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: $REG
$AUTH_YAML
EOF
    docker-registry serve "$WORK/dist.yml" >"$LOGS/registry.log" 2>&1 &
    REG_PID=$!
    ;;
  external)
    # not started by us: REG_PID stays empty, nothing to stop
    ;;
  *)
    fail registry-start "unknown E2E_TARGET=$TARGET (airlock|distribution|external)"; finish ;;
esac

ready=0
for _ in $(seq 1 150); do
  code="$(curl -s -o /dev/null -w '%{http_code}' "$URL/v2/" || true)"
  if [[ "$code" == 200 || "$code" == 401 ]]; then ready=1; break; fi
  [[ -z "$REG_PID" ]] || kill -0 "$REG_PID" 2>/dev/null || break
  sleep 0.2
done
if ((ready)); then
  pass registry-start
else
  why="not ready on $URL after 30s (last HTTP code ${code:-none})"
  if [[ -n "$REG_PID" ]] && ! kill -0 "$REG_PID" 2>/dev/null; then
    st=0; wait "$REG_PID" 2>/dev/null || st=$?
    why="registry process exited with status $st before answering on $URL"
    REG_PID=""
  fi
  fail registry-start "$why; log: $(tailf "$LOGS/registry.log" 10)"
  finish
fi
echo "# target=$TARGET registry=$URL auth=$AUTH_ENABLED work=$WORK"

CURL=(curl -s --max-time 30)
CREDS=(-u "$USER_NAME:$PW")
# http_get OUTFILE URL [curl args]: prints status code; headers in OUTFILE.h
http() {
  local out="$1" code; shift
  : >"$out.h"; : >"$out"
  code="$("${CURL[@]}" -D "$out.h" -o "$out" -w '%{http_code}' "$@" 2>/dev/null || true)"
  echo "${code:-000}"
}
hdr() { # hdr FILE.h NAME -> value of the last such header
  { grep -i "^$2:" "$1" 2>/dev/null || true; } | tail -n1 | cut -d: -f2- | sed 's/^ *//' | tr -d '\r'
}
MANIFEST_ACCEPT="application/vnd.oci.image.manifest.v1+json,application/vnd.oci.image.index.v1+json,application/vnd.docker.distribution.manifest.v2+json,application/vnd.docker.distribution.manifest.list.v2+json"
# manifest_digest REPO REF -> "CODE DIGEST" via HEAD
head_manifest() {
  local f="$WORK/curl-head"
  local code
  : >"$f.h"
  code="$("${CURL[@]}" -I -D "$f.h" -o /dev/null -w '%{http_code}' "${CREDS[@]}" -H "Accept: $MANIFEST_ACCEPT" "$URL/v2/$1/manifests/$2" 2>/dev/null || true)"
  echo "${code:-000} $(hdr "$f.h" Docker-Content-Digest)"
}
# raw_manifest_sha REPO REF -> sha256 of GET body
raw_manifest_sha() {
  echo "sha256:$({ "${CURL[@]}" "${CREDS[@]}" -H "Accept: $MANIFEST_ACCEPT" "$URL/v2/$1/manifests/$2" 2>/dev/null || true; } | sha256sum | cut -d' ' -f1)"
}

# ---------------------------------------------------------------- curl: auth basics
C="$WORK/c"
code="$(http "$C" "$URL/v2/")"
wa="$(hdr "$C.h" WWW-Authenticate)"
if ((AUTH_ENABLED)); then
  # Airlock challenges for the Docker token flow; Distribution (htpasswd) for Basic.
  if [[ "$code" == 401 && ( "$wa" == 'Bearer realm="'*'/token",service="airlock"'* || "$wa" == 'Basic realm="airlock"'* ) ]]; then pass curl-v2-unauth-401
  else fail curl-v2-unauth-401 "GET /v2/ without credentials: HTTP $code, WWW-Authenticate: '$wa'"; fi
  code="$(http "$C" -u "$USER_NAME:wrong-$PW" "$URL/v2/")"
  [[ "$code" == 401 ]] && pass curl-v2-bad-password-401 || fail curl-v2-bad-password-401 "GET /v2/ with wrong password: HTTP $code"
  code="$(http "$C" "$URL/v2/e2e/app/tags/list")"
  [[ "$code" == 401 ]] && pass curl-api-unauth-401 || fail curl-api-unauth-401 "GET /v2/e2e/app/tags/list without credentials: HTTP $code"
else
  fail_or_xfail curl-v2-unauth-401 "auth not enabled on $TARGET (python crypt/bcrypt unavailable or E2E_DIST_AUTH=0)"
fi
code="$(http "$C" "${CREDS[@]}" "$URL/v2/")"
api="$(hdr "$C.h" Docker-Distribution-API-Version)"
if [[ "$code" == 200 && "$api" == "registry/2.0" ]]; then pass curl-v2-auth-200
else fail curl-v2-auth-200 "GET /v2/ with credentials: HTTP $code, Docker-Distribution-API-Version: '$api', body: $(head -c 200 "$C")"; fi
code="$(http "$C" "${CREDS[@]}" -H "Accept: $MANIFEST_ACCEPT" "$URL/v2/e2e/nothing/manifests/v1")"
if [[ "$code" == 404 ]] && python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["errors"]; assert e[0]["code"] in ("MANIFEST_UNKNOWN","NAME_UNKNOWN")' "$C" 2>/dev/null; then
  pass curl-manifest-unknown-404
else fail curl-manifest-unknown-404 "GET unknown manifest: HTTP $code body: $(head -c 300 "$C")"; fi
code="$(http "$C" "${CREDS[@]}" "$URL/v2/e2e/nothing/blobs/sha256:$(printf x | sha256sum | cut -d' ' -f1)")"
if [[ "$code" == 404 ]] && python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["errors"]; assert e[0]["code"] in ("BLOB_UNKNOWN","NAME_UNKNOWN")' "$C" 2>/dev/null; then
  pass curl-blob-unknown-404
else fail curl-blob-unknown-404 "GET unknown blob: HTTP $code body: $(head -c 300 "$C")"; fi

# ---------------------------------------------------------------- skopeo
SKO=(skopeo --insecure-policy)
export REGISTRY_AUTH_FILE="$WORK/skopeo-auth.json"
echo '{}' >"$REGISTRY_AUTH_FILE"
DST=(--dest-tls-verify=false --dest-creds "$USER_NAME:$PW")
SRC=(--src-tls-verify=false --src-creds "$USER_NAME:$PW")
RD=(--tls-verify=false --creds "$USER_NAME:$PW")
OCI="$WORK/img/oci"
# index.json digest of a ref name in an OCI layout
layout_digest() {
  python3 - "$1" "$2" 2>/dev/null <<'EOF' || echo none
import json, sys
idx = json.load(open(sys.argv[1] + "/index.json"))
m = [d for d in idx["manifests"] if (d.get("annotations") or {}).get("org.opencontainers.image.ref.name") == sys.argv[2]]
print(m[0]["digest"] if m else "none")
EOF
}
SKOPEO_V1_OK=0
if tool_ok skopeo; then
  if run skopeo-copy-v1 "${SKO[@]}" copy --preserve-digests "${DST[@]}" "oci:$OCI:v1" "docker://$REG/e2e/app:v1"; then
    read -r c d < <(head_manifest e2e/app v1)
    raw="$(raw_manifest_sha e2e/app v1)"
    if [[ "$c" == 200 && "$d" == "$EXP_V1" && "$raw" == "$EXP_V1" ]]; then pass skopeo-copy-image-to-registry; SKOPEO_V1_OK=1
    else fail skopeo-copy-image-to-registry "after push HEAD e2e/app:v1 -> HTTP $c digest '$d', GET body sha $raw, expected $EXP_V1"; fi
  else
    fail skopeo-copy-image-to-registry "$(tailf "$LOGS/skopeo-copy-v1.log")"
  fi

  if run skopeo-copy-v2 "${SKO[@]}" copy --preserve-digests "${DST[@]}" "oci:$OCI:v1" "docker://$REG/e2e/app:v2"; then
    pass skopeo-copy-second-tag
  else fail skopeo-copy-second-tag "$(tailf "$LOGS/skopeo-copy-v2.log")"; fi

  if run skopeo-copy-multi "${SKO[@]}" copy --all --preserve-digests "${DST[@]}" "oci:$OCI:multi" "docker://$REG/e2e/app:multi"; then
    raw="$(raw_manifest_sha e2e/app multi)"
    read -r c1 d1 < <(head_manifest e2e/app "$EXP_AMD64")
    read -r c2 d2 < <(head_manifest e2e/app "$EXP_ARM64")
    if [[ "$raw" == "$EXP_IDX" && "$c1" == 200 && "$c2" == 200 ]]; then pass skopeo-copy-index-to-registry
    else fail skopeo-copy-index-to-registry "index sha $raw (want $EXP_IDX), amd64 child HTTP $c1, arm64 child HTTP $c2"; fi
  else
    fail skopeo-copy-index-to-registry "$(tailf "$LOGS/skopeo-copy-multi.log")"
  fi

  # inspect --raw must be byte-identical to what we generated
  if run skopeo-inspect-raw "${SKO[@]}" inspect --raw "${RD[@]}" "docker://$REG/e2e/app:v1"; then
    got="sha256:$(sha256sum <"$LOGS/skopeo-inspect-raw.log" | cut -d' ' -f1)"
    [[ "$got" == "$EXP_V1" ]] && pass skopeo-inspect-raw-digest || fail skopeo-inspect-raw-digest "sha256 of 'skopeo inspect --raw' = $got, want $EXP_V1"
  else fail skopeo-inspect-raw-digest "$(tailf "$LOGS/skopeo-inspect-raw.log")"; fi

  if run skopeo-inspect-config "${SKO[@]}" inspect --config --raw "${RD[@]}" "docker://$REG/e2e/app:v1"; then
    got="sha256:$(sha256sum <"$LOGS/skopeo-inspect-config.log" | cut -d' ' -f1)"
    [[ "$got" == "$EXP_V1_CFG" ]] && pass skopeo-inspect-config-digest || fail skopeo-inspect-config-digest "config blob sha $got, want $EXP_V1_CFG"
  else fail skopeo-inspect-config-digest "$(tailf "$LOGS/skopeo-inspect-config.log")"; fi

  if run skopeo-inspect "${SKO[@]}" inspect "${RD[@]}" "docker://$REG/e2e/app:v1"; then
    if msg="$(python3 - "$LOGS/skopeo-inspect.log" "$EXP_V1" "$EXP_V1_LAYERS" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
errs = []
if j.get("Digest") != sys.argv[2]: errs.append(f"Digest {j.get('Digest')} != {sys.argv[2]}")
if j.get("Layers") != sys.argv[3].split(): errs.append(f"Layers {j.get('Layers')}")
if j.get("Architecture") != "amd64" or j.get("Os") != "linux": errs.append(f"platform {j.get('Os')}/{j.get('Architecture')}")
if (j.get("Labels") or {}).get("org.airlock.e2e") != "app-v1": errs.append(f"Labels {j.get('Labels')}")
if not set(["v1", "v2", "multi"]) <= set(j.get("RepoTags") or []): errs.append(f"RepoTags {j.get('RepoTags')}")
print("; ".join(errs)); sys.exit(1 if errs else 0)
EOF
)"; then pass skopeo-inspect; else fail skopeo-inspect "$msg"; fi
  else fail skopeo-inspect "$(tailf "$LOGS/skopeo-inspect.log")"; fi

  # inspect an arch-specific image via the index (skopeo resolves the index to the platform)
  # (skopeo reports the index digest as Digest, so check what it resolved to by content)
  if run skopeo-inspect-arm "${SKO[@]}" --override-arch arm64 --override-variant v8 inspect "${RD[@]}" "docker://$REG/e2e/app:multi"; then
    got="$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["Digest"], j["Architecture"], (j.get("Labels") or {}).get("org.airlock.e2e"))' "$LOGS/skopeo-inspect-arm.log" 2>/dev/null || true)"
    [[ "$got" == "$EXP_IDX arm64 multi-arm64" ]] && pass skopeo-inspect-index-platform || fail skopeo-inspect-index-platform "got '$got', want '$EXP_IDX arm64 multi-arm64'"
  else fail skopeo-inspect-index-platform "$(tailf "$LOGS/skopeo-inspect-arm.log")"; fi

  if run skopeo-list-tags "${SKO[@]}" list-tags "${RD[@]}" "docker://$REG/e2e/app"; then
    tags="$(python3 -c 'import json,sys; print(" ".join(sorted(json.load(open(sys.argv[1]))["Tags"])))' "$LOGS/skopeo-list-tags.log" 2>/dev/null || true)"
    want_tags="multi v1 v2"
    # an external registry may hold tags from earlier runs: only require ours there
    [[ "$TARGET" == external ]] && [[ " $tags " == *" multi "* && " $tags " == *" v1 "* && " $tags " == *" v2 "* ]] && tags="$want_tags"
    [[ "$tags" == "$want_tags" ]] && pass skopeo-list-tags || fail skopeo-list-tags "tags '$tags', want '$want_tags'"
  else fail skopeo-list-tags "$(tailf "$LOGS/skopeo-list-tags.log")"; fi

  # round trip back into fresh OCI layouts
  BACK="$WORK/back"
  if run skopeo-back-v1 "${SKO[@]}" copy --preserve-digests "${SRC[@]}" "docker://$REG/e2e/app:v1" "oci:$BACK:v1"; then
    got="$(layout_digest "$BACK" v1)"
    if [[ "$got" == "$EXP_V1" ]] && cmp -s "$BACK/blobs/sha256/${EXP_V1#sha256:}" "$OCI/blobs/sha256/${EXP_V1#sha256:}"; then
      ok=1; for l in $EXP_V1_LAYERS $EXP_V1_CFG; do cmp -s "$BACK/blobs/sha256/${l#sha256:}" "$OCI/blobs/sha256/${l#sha256:}" || ok=0; done
      ((ok)) && pass skopeo-roundtrip-image || fail skopeo-roundtrip-image "blobs differ after round trip"
    else fail skopeo-roundtrip-image "round-tripped manifest digest $got, want $EXP_V1"; fi
  else fail skopeo-roundtrip-image "$(tailf "$LOGS/skopeo-back-v1.log")"; fi
  if run skopeo-back-multi "${SKO[@]}" copy --all --preserve-digests "${SRC[@]}" "docker://$REG/e2e/app:multi" "oci:$BACK:multi"; then
    got="$(layout_digest "$BACK" multi)"
    if [[ "$got" == "$EXP_IDX" && -f "$BACK/blobs/sha256/${EXP_AMD64#sha256:}" && -f "$BACK/blobs/sha256/${EXP_ARM64#sha256:}" ]] \
       && cmp -s "$BACK/blobs/sha256/${EXP_IDX#sha256:}" "$OCI/blobs/sha256/${EXP_IDX#sha256:}"; then
      pass skopeo-roundtrip-index
    else fail skopeo-roundtrip-index "round-tripped index digest $got (want $EXP_IDX) or child manifests missing"; fi
  else fail skopeo-roundtrip-index "$(tailf "$LOGS/skopeo-back-multi.log")"; fi

  # delete: in a separate repository (delete removes the manifest and all its tags)
  if run skopeo-copy-del "${SKO[@]}" copy --preserve-digests "${DST[@]}" "oci:$OCI:v1" "docker://$REG/e2e/del:gone"; then
    read -r c0 _ < <(head_manifest e2e/del gone)
    if [[ "$c0" == 200 ]] && run skopeo-delete "${SKO[@]}" delete "${RD[@]}" "docker://$REG/e2e/del:gone"; then
      code1="$(http "$C" "${CREDS[@]}" -H "Accept: $MANIFEST_ACCEPT" "$URL/v2/e2e/del/manifests/$EXP_V1")"
      code2="$(http "$C" "${CREDS[@]}" -H "Accept: $MANIFEST_ACCEPT" "$URL/v2/e2e/del/manifests/gone")"
      read -r c3 _ < <(head_manifest e2e/app v1)
      if [[ "$code1" == 404 && "$code2" == 404 && "$c3" == 200 ]]; then pass skopeo-delete
      else fail skopeo-delete "after delete: GET by digest HTTP $code1, by tag HTTP $code2 (want 404/404); e2e/app:v1 still HTTP $c3 (want 200)"; fi
    else fail skopeo-delete "pre-check HTTP $c0 / $(tailf "$LOGS/skopeo-delete.log")"; fi
  else fail skopeo-delete "copy to e2e/del failed: $(tailf "$LOGS/skopeo-copy-del.log")"; fi
else
  fail skopeo "skopeo not installed"
fi

# ---------------------------------------------------------------- service tokens (skopeo, token flow)
if [[ "$TARGET" == airlock ]] && tool_ok skopeo; then
  tokcli() { AIRLOCK_SERVER="$URL" AIRLOCK_PASSWORD="$PW" "$BIN" token "$@"; }
  tokpw() { sed -n 's/^password (shown once): //p; s/^new password for .* (shown once): //p'; }
  CI_PW="$(tokcli create e2e-ci --scope 'repository:ci/*:pull,push' --expires 1d 2>"$LOGS/tok.err" | tokpw)"
  RO_PW="$(tokcli create e2e-puller --scope 'repository:ci/app:pull' 2>>"$LOGS/tok.err" | tokpw)"
  if [[ -n "$CI_PW" && -n "$RO_PW" ]]; then pass token-create-cli; else fail token-create-cli "$(tailf "$LOGS/tok.err")"; fi
  if run tok-ci-push "${SKO[@]}" copy --dest-tls-verify=false --dest-creds "e2e-ci:$CI_PW" "oci:$OCI:v1" "docker://$REG/ci/app:v1"; then
    pass token-ci-push-own-repo
  else fail token-ci-push-own-repo "$(tailf "$LOGS/tok-ci-push.log")"; fi
  if run tok-ci-prod "${SKO[@]}" copy --dest-tls-verify=false --dest-creds "e2e-ci:$CI_PW" "oci:$OCI:v1" "docker://$REG/prod/app:v1"; then
    fail token-ci-cannot-push-prod "push to prod/app with a ci/* token succeeded"
  else pass token-ci-cannot-push-prod; fi
  if run tok-ro-inspect "${SKO[@]}" inspect --raw --tls-verify=false --creds "e2e-puller:$RO_PW" "docker://$REG/ci/app:v1"; then
    pass token-pull-only-pulls
  else fail token-pull-only-pulls "$(tailf "$LOGS/tok-ro-inspect.log")"; fi
  if run tok-ro-push "${SKO[@]}" copy --dest-tls-verify=false --dest-creds "e2e-puller:$RO_PW" "oci:$OCI:v1" "docker://$REG/ci/app:v2"; then
    fail token-pull-only-cannot-push "push with a pull-only token succeeded"
  else pass token-pull-only-cannot-push; fi
  if tool_ok python:oras; then
    orasas() { E2E_USER="$1" E2E_PASS="$2" HOME="$WORK/home" timeout 60 python3 "$HERE/oras_artifact.py" "$3" "$REG" "$4" "$WORK/oras-$5"; }
    if orasas e2e-ci "$CI_PW" push ci/oras:v1 ci >"$LOGS/oras-ci.log" 2>&1; then pass token-oras-push-own-repo
    else fail token-oras-push-own-repo "$(tailf "$LOGS/oras-ci.log")"; fi
    if orasas e2e-ci "$CI_PW" push prod/oras:v1 prod >"$LOGS/oras-prod.log" 2>&1; then
      fail token-oras-cannot-push-prod "oras pushed to prod/oras with a ci/* token"
    else pass token-oras-cannot-push-prod; fi
  fi
  # A user who logs in with a second factor gives registry clients a personal access
  # token: here a pull-only one, created by the user through the admin API.
  admincli() { AIRLOCK_SERVER="$URL" AIRLOCK_PASSWORD="$PW" "$BIN" "$@"; }
  if printf 'dev-password-e2e-1\n' | admincli user create e2e-dev --password-stdin >>"$LOGS/tok.err" 2>&1 \
     && admincli role bind user:e2e-dev 'ci/**' contributor >>"$LOGS/tok.err" 2>&1; then
    PAT="$(AIRLOCK_SERVER="$URL" AIRLOCK_USER=e2e-dev AIRLOCK_PASSWORD=dev-password-e2e-1 "$BIN" pat create laptop --scope 'repository:ci/*:pull' 2>>"$LOGS/tok.err" | sed -n 's/^token (shown once[^:]*: //p')"
  fi
  if [[ -n "${PAT:-}" ]] && run pat-pull "${SKO[@]}" inspect --raw --tls-verify=false --creds "e2e-dev:$PAT" "docker://$REG/ci/app:v1"; then
    pass pat-skopeo-pull
  else fail pat-skopeo-pull "$(tailf "$LOGS/tok.err") $(tailf "$LOGS/pat-pull.log" 2>/dev/null)"; fi
  if [[ -n "${PAT:-}" ]] && run pat-push "${SKO[@]}" copy --dest-tls-verify=false --dest-creds "e2e-dev:$PAT" "oci:$OCI:v1" "docker://$REG/ci/app:v3"; then
    fail pat-pull-only-cannot-push "a pull-only personal access token pushed"
  else pass pat-pull-only-cannot-push; fi
  CI_PW2="$(tokcli rotate e2e-ci --slot 2 2>>"$LOGS/tok.err" | tokpw)"
  tokcli disable e2e-ci >>"$LOGS/tok.err" 2>&1 || true
  tokcli delete e2e-puller >>"$LOGS/tok.err" 2>&1 || true
  sleep 1.2
  if run tok-dis "${SKO[@]}" inspect --raw --tls-verify=false --creds "e2e-ci:$CI_PW2" "docker://$REG/ci/app:v1"; then
    fail token-disabled-rotated-password-fails "a disabled token's second password still works"
  else pass token-disabled-rotated-password-fails; fi
  if run tok-del "${SKO[@]}" inspect --raw --tls-verify=false --creds "e2e-puller:$RO_PW" "docker://$REG/ci/app:v1"; then
    fail token-deleted-fails "a deleted token still works"
  else pass token-deleted-fails; fi
fi

# ---------------------------------------------------------------- podman, skopeo login
if [[ "$TARGET" == airlock ]] && tool_ok podman skopeo; then
  POD=(podman --root "$WORK/podman/root" --runroot "$WORK/podman/run" --storage-driver vfs)
  PAUTH=(--tls-verify=false --authfile "$WORK/podman-auth.json")
  if printf '%s' "wrong-$PW" | run podman-login-bad "${POD[@]}" login "${PAUTH[@]}" -u "$USER_NAME" --password-stdin "$REG"; then
    fail podman-login-bad-password "podman login with a wrong password succeeded"
  else pass podman-login-bad-password; fi
  if printf '%s' "$PW" | run podman-login "${POD[@]}" login "${PAUTH[@]}" -u "$USER_NAME" --password-stdin "$REG"; then
    pass podman-login
  else fail podman-login "$(tailf "$LOGS/podman-login.log")"; fi
  if run podman-pull "${POD[@]}" pull "${PAUTH[@]}" "$REG/e2e/app:v1"; then pass podman-pull
  else fail podman-pull "$(tailf "$LOGS/podman-pull.log")"; fi
  if run podman-push "${POD[@]}" push "${PAUTH[@]}" "$REG/e2e/app:v1" "docker://$REG/e2e/podman:v1" \
     && [[ "$(http "$WORK/podman-m" "${CREDS[@]}" -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' "$URL/v2/e2e/podman/manifests/v1")" == 200 ]]; then
    pass podman-push
  else fail podman-push "$(tailf "$LOGS/podman-push.log")"; fi
  if run skopeo-login "${SKO[@]}" login --tls-verify=false --authfile "$WORK/sko-login.json" -u "$USER_NAME" -p "$PW" "$REG" \
     && ! run skopeo-login-bad "${SKO[@]}" login --tls-verify=false --authfile "$WORK/sko-login-bad.json" -u "$USER_NAME" -p "wrong-$PW" "$REG"; then
    pass skopeo-login
  else fail skopeo-login "$(tailf "$LOGS/skopeo-login.log") $(tailf "$LOGS/skopeo-login-bad.log")"; fi
fi

# ---------------------------------------------------------------- oras + referrers
if tool_ok python:oras; then
  if [[ "$SKOPEO_V1_OK" != 1 ]]; then
    echo "# note: e2e/app:v1 was not pushed correctly by skopeo; oras checks will likely fail"
  fi
  HOME="$WORK/home" E2E_USER="$USER_NAME" E2E_PASS="$PW" timeout 120 \
    python3 "$HERE/oras_push.py" "$REG" e2e/app v1 "$WORK/oras" "$WORK/oras.json" \
    >"$LOGS/oras.out" 2>"$LOGS/oras.err" || true
  while IFS= read -r line; do
    case "$line" in
      "PASS "*) pass "${line#PASS }" ;;
      "FAIL "*) n="${line#FAIL }"; fail "${n%%:*}" "${n#*: }" ;;
    esac
  done <"$LOGS/oras.out"
  if ! grep -q . "$LOGS/oras.out"; then fail oras-helper "no output; stderr: $(tailf "$LOGS/oras.err" 8)"; fi
  SUBJ="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["subject"]["digest"])' "$WORK/oras.json" 2>/dev/null || echo none)"
  SIG="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sig"]["digest"])' "$WORK/oras.json" 2>/dev/null || echo none)"
  SBOM="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sbom"]["digest"])' "$WORK/oras.json" 2>/dev/null || echo none)"
  SBOM_SUBJ_HDR="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sbom"].get("oci_subject_header") or "")' "$WORK/oras.json" 2>/dev/null || true)"
  [[ "$SBOM_SUBJ_HDR" == "$SUBJ" ]] && pass oras-oci-subject-header \
    || fail_or_xfail oras-oci-subject-header "manifest PUT with subject: OCI-Subject response header '$SBOM_SUBJ_HDR', want '$SUBJ'"

  # referrers listing (curl)
  R="$WORK/ref"
  code="$(http "$R" "${CREDS[@]}" "$URL/v2/e2e/app/referrers/$SUBJ")"
  ctype="$(hdr "$R.h" Content-Type)"
  if [[ "$code" == 200 ]] && msg="$(python3 - "$R" "$SIG" "$SBOM" "$TARGET" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
errs = []
if j.get("mediaType") != "application/vnd.oci.image.index.v1+json": errs.append(f"mediaType {j.get('mediaType')}")
# (the registry's own scan attaches SBOMs too, marked with its generator annotation)
ours = lambda m: (m.get("annotations") or {}).get("dev.airlock.sbom.generator") == "airlock"
by = {m["digest"]: m for m in j.get("manifests", []) if not ours(m)}
want = {sys.argv[2]: "application/vnd.airlock.test.signature", sys.argv[3]: "application/vnd.airlock.test.sbom"}
for d, at in want.items():
    m = by.get(d)
    if not m: errs.append(f"{d} not listed"); continue
    if m.get("artifactType") != at: errs.append(f"{d[:19]} artifactType {m.get('artifactType')!r} != {at!r}")
    if m.get("mediaType") != "application/vnd.oci.image.manifest.v1+json": errs.append(f"{d[:19]} mediaType {m.get('mediaType')}")
    if not m.get("size"): errs.append(f"{d[:19]} no size")
if sys.argv[3] in by and (by[sys.argv[3]].get("annotations") or {}).get("org.airlock.e2e.kind") != "sbom":
    errs.append(f"sbom annotations not carried over: {by[sys.argv[3]].get('annotations')}")
if len(by) != 2: errs.append(f"{len(by)} referrers listed, want 2")
if j["manifests"] and any(ours(m) for m in j["manifests"]) and sys.argv[4] == "airlock":
    errs.append("registry-generated SBOMs listed in a repository that did not opt in")
print("; ".join(errs)); sys.exit(1 if errs else 0)
EOF
)"; then
    [[ "$ctype" == application/vnd.oci.image.index.v1+json* ]] && pass referrers-list \
      || fail_or_xfail referrers-list "Content-Type '$ctype'"
  else
    fail_or_xfail referrers-list "GET /v2/e2e/app/referrers/$SUBJ: HTTP $code ${msg:-} body: $(head -c 300 "$R")"
  fi
  msg=""
  code="$(http "$R" "${CREDS[@]}" "$URL/v2/e2e/app/referrers/$SUBJ?artifactType=application/vnd.airlock.test.sbom")"
  filt="$(hdr "$R.h" OCI-Filters-Applied)"
  if [[ "$code" == 200 && "$filt" == "artifactType" ]] && msg="$(python3 - "$R" "$SBOM" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
ds = [(m["digest"], m.get("artifactType")) for m in j.get("manifests", [])]
ok = ds == [(sys.argv[2], "application/vnd.airlock.test.sbom")]
print("" if ok else f"listed {ds}"); sys.exit(0 if ok else 1)
EOF
)"; then pass referrers-filter-artifactType
  else fail_or_xfail referrers-filter-artifactType "HTTP $code, OCI-Filters-Applied '$filt' ${msg:-} body: $(head -c 300 "$R")"; fi
  # a digest nobody refers to: 200 with an empty index
  nobody="sha256:$(printf nobody | sha256sum | cut -d' ' -f1)"
  code="$(http "$R" "${CREDS[@]}" "$URL/v2/e2e/app/referrers/$nobody")"
  if [[ "$code" == 200 ]] && python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["manifests"] == []' "$R" 2>/dev/null; then
    pass referrers-empty
  else fail_or_xfail referrers-empty "HTTP $code body: $(head -c 300 "$R")"; fi
  # deleting a referrer removes it from the listing
  code="$(http "$R" "${CREDS[@]}" -X DELETE "$URL/v2/e2e/app/manifests/$SBOM")"
  if [[ "$code" == 202 ]]; then
    code2="$(http "$R" "${CREDS[@]}" "$URL/v2/e2e/app/referrers/$SUBJ")"
    if [[ "$code2" == 200 ]] && python3 -c 'import json,sys; d=[m["digest"] for m in json.load(open(sys.argv[1]))["manifests"] if (m.get("annotations") or {}).get("dev.airlock.sbom.generator") != "airlock"]; assert d == [sys.argv[2]], d' "$R" "$SIG" 2>/dev/null; then
      pass referrers-after-delete
    else fail_or_xfail referrers-after-delete "after DELETE of the sbom: HTTP $code2 body: $(head -c 300 "$R")"; fi
  else fail referrers-after-delete "DELETE /v2/e2e/app/manifests/$SBOM: HTTP $code body: $(head -c 300 "$R")"; fi
else
  fail oras "python package oras not installed"
fi

# ---------------------------------------------------------------- Docker engine
DOCKER_OK=0
if [[ "$(id -u)" != 0 ]]; then
  fail dockerd-start "dockerd must run as root (uid $(id -u))"
elif tool_ok dockerd "docker(cli)"; then
  DR="$WORK/docker"
  mkdir -p "$DR/root" "$DR/exec" "$DR/config"
  DSOCK="$DR/docker.sock"
  # Own data-root/exec-root/socket/pidfile; vfs works on any filesystem; no
  # iptables/bridge so nothing touches the host network. dockerd starts its own
  # containerd (from $PATH) under exec-root.
  dockerd --data-root "$DR/root" --exec-root "$DR/exec" -H "unix://$DSOCK" \
    --pidfile "$DR/docker.pid" --storage-driver vfs --iptables=false --ip6tables=false \
    --bridge=none --insecure-registry "$REG" --log-level warn \
    >"$LOGS/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  export DOCKER_HOST="unix://$DSOCK" DOCKER_CONFIG="$DR/config"
  for _ in $(seq 1 120); do
    "$DOCKER_CLI" version >/dev/null 2>&1 && { DOCKER_OK=1; break; }
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
    sleep 0.25
  done
  if ((DOCKER_OK)); then pass dockerd-start
  else fail dockerd-start "dockerd did not come up: $(tailf "$LOGS/dockerd.log" 8)"; fi
else
  fail dockerd-start "dockerd or docker CLI not installed"
fi
if ((DOCKER_OK)); then
  D="$DOCKER_CLI"
  if ((AUTH_ENABLED)); then
    if printf '%s' "wrong-$PW" | run docker-login-bad "$D" login "$REG" -u "$USER_NAME" --password-stdin; then
      fail docker-login-bad-password "docker login with a wrong password succeeded"
    else pass docker-login-bad-password; fi
  fi
  if printf '%s' "$PW" | run docker-login "$D" login "$REG" -u "$USER_NAME" --password-stdin \
     && grep -q "Login Succeeded" "$LOGS/docker-login.log"; then pass docker-login
  else fail docker-login "$(tailf "$LOGS/docker-login.log")"; fi

  if run docker-load "$D" load -i "$WORK/img/docker-image.tar" \
     && [[ "$("$D" image inspect -f '{{.Id}}' e2e/docker-src:v1 2>/dev/null)" == "$EXP_DOCKER_ID" ]]; then
    pass docker-load
  else fail docker-load "$(tailf "$LOGS/docker-load.log") id=$("$D" image inspect -f '{{.Id}}' e2e/docker-src:v1 2>&1 | head -c 200)"; fi

  DREF="$REG/e2e/docker:v1"
  PUSHED=""
  if run docker-tag "$D" tag e2e/docker-src:v1 "$DREF" && run docker-push "$D" push "$DREF"; then
    PUSHED="$(grep -o 'digest: sha256:[0-9a-f]*' "$LOGS/docker-push.log" | head -n1 | cut -d' ' -f2 || true)"
    read -r c d < <(head_manifest e2e/docker v1)
    if [[ -n "$PUSHED" && "$c" == 200 && "$d" == "$PUSHED" ]] && msg="$(python3 - "$EXP_DOCKER_ID" <<EOF
import json, sys, urllib.request, base64
req = urllib.request.Request("$URL/v2/e2e/docker/manifests/v1", headers={
    "Accept": "application/vnd.docker.distribution.manifest.v2+json",
    "Authorization": "Basic " + base64.b64encode(b"$USER_NAME:$PW").decode()})
r = urllib.request.urlopen(req, timeout=30)
m = json.loads(r.read())
errs = []
if r.headers.get("Content-Type") != "application/vnd.docker.distribution.manifest.v2+json": errs.append("Content-Type " + str(r.headers.get("Content-Type")))
if m.get("mediaType") != "application/vnd.docker.distribution.manifest.v2+json": errs.append("mediaType " + str(m.get("mediaType")))
if m["config"]["digest"] != sys.argv[1]: errs.append("config " + m["config"]["digest"])
if len(m["layers"]) != 3 or any(l["mediaType"] != "application/vnd.docker.image.rootfs.diff.tar.gzip" for l in m["layers"]): errs.append("layers " + str(m["layers"]))
print("; ".join(errs)); sys.exit(1 if errs else 0)
EOF
)"; then pass docker-push
    else fail docker-push "push output digest '$PUSHED'; registry HEAD HTTP $c digest '$d'; ${msg:-}"; fi
  else fail docker-push "$(tailf "$LOGS/docker-push.log" 6)"; fi

  run docker-rmi "$D" rmi "$DREF" e2e/docker-src:v1 || true
  if "$D" image inspect "$EXP_DOCKER_ID" >/dev/null 2>&1; then
    fail docker-rmi "image $EXP_DOCKER_ID still present after rmi: $(tailf "$LOGS/docker-rmi.log")"
  else pass docker-rmi; fi

  if run docker-pull "$D" pull "$DREF"; then
    id="$("$D" image inspect -f '{{.Id}}' "$DREF" 2>/dev/null || true)"
    rd="$("$D" image inspect -f '{{join .RepoDigests " "}}' "$DREF" 2>/dev/null || true)"
    if [[ "$id" == "$EXP_DOCKER_ID" && -n "$PUSHED" && " $rd " == *" $REG/e2e/docker@$PUSHED "* ]]; then pass docker-pull
    else fail docker-pull "pulled id '$id' (want $EXP_DOCKER_ID), RepoDigests '$rd' (want $REG/e2e/docker@$PUSHED)"; fi
  else fail docker-pull "$(tailf "$LOGS/docker-pull.log" 6)"; fi

  if [[ -n "$PUSHED" ]] && run docker-pull-digest "$D" pull "$REG/e2e/docker@$PUSHED"; then pass docker-pull-by-digest
  else fail docker-pull-by-digest "$(tailf "$LOGS/docker-pull-digest.log" 4)"; fi

  # Docker pulling the OCI index that skopeo pushed: must resolve linux/amd64
  if run docker-pull-multi "$D" pull --platform linux/amd64 "$REG/e2e/app:multi"; then
    id="$("$D" image inspect -f '{{.Id}}' "$REG/e2e/app:multi" 2>/dev/null || true)"
    [[ "$id" == "$EXP_AMD64_CFG" ]] && pass docker-pull-oci-index || fail docker-pull-oci-index "image id '$id', want amd64 config $EXP_AMD64_CFG"
  else fail docker-pull-oci-index "$(tailf "$LOGS/docker-pull-multi.log" 4)"; fi

  run docker-logout "$D" logout "$REG" || true
  unset DOCKER_HOST DOCKER_CONFIG
  stop_pid "$DOCKERD_PID" 20
  DOCKERD_PID=""
fi

# ---------------------------------------------------------------- containerd / ctr
CTR_OK=0
if [[ "$(id -u)" != 0 ]]; then
  fail containerd-start "containerd must run as root (uid $(id -u))"
elif tool_ok containerd ctr; then
  CD="$WORK/containerd"
  mkdir -p "$CD/root" "$CD/state"
  CSOCK="$CD/containerd.sock"
  cat >"$CD/config.toml" <<EOF
version = 2
root = "$CD/root"
state = "$CD/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CSOCK"
[ttrpc]
  address = "$CSOCK.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
EOF
  containerd --config "$CD/config.toml" --log-level warn >"$LOGS/containerd.log" 2>&1 &
  CTRD_PID=$!
  for _ in $(seq 1 80); do
    ctr -a "$CSOCK" version >/dev/null 2>&1 && { CTR_OK=1; break; }
    kill -0 "$CTRD_PID" 2>/dev/null || break
    sleep 0.25
  done
  if ((CTR_OK)); then pass containerd-start
  else fail containerd-start "containerd did not come up: $(tailf "$LOGS/containerd.log" 8)"; fi
else
  fail containerd-start "containerd or ctr not installed"
fi
if ((CTR_OK)); then
  # native snapshotter: no overlay mounts needed
  CTR=(ctr -a "$CSOCK" -n e2e)
  export CONTAINERD_SNAPSHOTTER=native
  ctr_digest() { { "${CTR[@]}" images ls 2>/dev/null || true; } | awk -v r="$1" '$1 == r {print $3}'; }
  CREF="$REG/e2e/ctr:v1"
  if run ctr-import "${CTR[@]}" images import "$WORK/img/oci-image.tar" && [[ "$(ctr_digest docker.io/e2e/ctr-src:v1)" == "$EXP_CTR" ]]; then
    pass ctr-import
  else fail ctr-import "$(tailf "$LOGS/ctr-import.log") digest '$(ctr_digest docker.io/e2e/ctr-src:v1)'"; fi
  if run ctr-tag "${CTR[@]}" images tag docker.io/e2e/ctr-src:v1 "$CREF" \
     && run ctr-push "${CTR[@]}" images push --plain-http --user "$USER_NAME:$PW" "$CREF"; then
    read -r c d < <(head_manifest e2e/ctr v1)
    raw="$(raw_manifest_sha e2e/ctr v1)"
    if [[ "$c" == 200 && "$d" == "$EXP_CTR" && "$raw" == "$EXP_CTR" ]]; then pass ctr-push
    else fail ctr-push "registry HEAD e2e/ctr:v1 HTTP $c digest '$d', body sha $raw, want $EXP_CTR"; fi
  else fail ctr-push "$(tailf "$LOGS/ctr-push.log" 6)"; fi

  # remove locally, garbage-collect content, then pull back from the registry
  run ctr-rm "${CTR[@]}" images rm --sync docker.io/e2e/ctr-src:v1 "$CREF" || true
  # (list content into a variable first: `ctr ... | grep -q` can SIGPIPE ctr and trip pipefail)
  ctr_has() { local all; all="$("${CTR[@]}" content ls -q 2>/dev/null || true)"; [[ $'\n'"$all"$'\n' == *$'\n'"$1"$'\n'* ]]; }
  if ctr_has "$EXP_CTR"; then
    fail ctr-rm "manifest content still in the local store after image rm --sync"
  else pass ctr-rm; fi
  if run ctr-pull "${CTR[@]}" images pull --plain-http --user "$USER_NAME:$PW" "$CREF"; then
    got="$(ctr_digest "$CREF")"
    have_all=1
    for l in $EXP_V1_LAYERS $EXP_V1_CFG; do ctr_has "$l" || have_all=0; done
    if [[ "$got" == "$EXP_CTR" && "$have_all" == 1 ]]; then pass ctr-pull
    else fail ctr-pull "pulled digest '$got' (want $EXP_CTR), all blobs present: $have_all"; fi
  else fail ctr-pull "$(tailf "$LOGS/ctr-pull.log" 6)"; fi

  # ctr pulling the multi-platform index skopeo pushed
  if run ctr-pull-multi "${CTR[@]}" images pull --all-platforms --plain-http --user "$USER_NAME:$PW" "$REG/e2e/app:multi"; then
    got="$(ctr_digest "$REG/e2e/app:multi")"
    if [[ "$got" == "$EXP_IDX" ]] && ctr_has "$EXP_ARM64" && ctr_has "$EXP_AMD64"; then
      pass ctr-pull-index-all-platforms
    else fail ctr-pull-index-all-platforms "index digest '$got' (want $EXP_IDX) or a platform manifest missing"; fi
  else fail ctr-pull-index-all-platforms "$(tailf "$LOGS/ctr-pull-multi.log" 6)"; fi
  stop_pid "$CTRD_PID" 10
  CTRD_PID=""
fi

# ---------------------------------------------------------------- airlock scan on images real tools wrote
if [[ "$TARGET" == airlock ]] && tool_ok skopeo; then
  VDB="$HERE/../../crates/scanner/tests/fixtures/vulndb"
  scanjson() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert isinstance(j["packages"], list) and isinstance(j["findings"], list)' "$1"; }
  for kind in oci-archive docker-archive; do
    rm -f "$WORK/scan-$kind.tar"
    if run "scan-export-$kind" "${SKO[@]}" copy "${SRC[@]}" "docker://$REG/e2e/app:v1" "$kind:$WORK/scan-$kind.tar" \
       && "$BIN" scan "$kind:$WORK/scan-$kind.tar" --vulndb "$VDB" --format json --fail-on high >"$WORK/scan-$kind.json" 2>"$LOGS/scan-$kind.err" \
       && scanjson "$WORK/scan-$kind.json"; then
      pass "scan-$kind"
    else fail "scan-$kind" "$(tailf "$LOGS/scan-export-$kind.log") $(tailf "$LOGS/scan-$kind.err")"; fi
  done
  # scan-on-push: the registry scanned what skopeo pushed
  state=none
  for _ in $(seq 50); do
    code="$(http "$WORK/scanrep" "${CREDS[@]}" "$URL/api/v1/scans?repository=e2e/app&digest=${EXP_V1:-none}")"
    state="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("state"))' "$WORK/scanrep" 2>/dev/null || echo none)"
    [[ "$code" == 200 && ( "$state" == done || "$state" == failed ) ]] && break
    sleep 0.2
  done
  [[ "$state" == done ]] && pass scan-on-push-report || fail scan-on-push-report "HTTP $code state $state: $(head -c 300 "$WORK/scanrep")"
  if "$BIN" scan "oci:$OCI:v1" --vulndb "$VDB" --format sarif >"$WORK/scan-oci.sarif" 2>"$LOGS/scan-oci.err" \
     && grep -q '"version": "2.1.0"' "$WORK/scan-oci.sarif"; then pass scan-umoci-layout
  else fail scan-umoci-layout "$(tailf "$LOGS/scan-oci.err")"; fi
  # airlock scan straight from the registry (token flow), the image skopeo pushed
  if "$BIN" scan "docker://$REG/e2e/app:v1" --plain-http --creds "$USER_NAME:$PW" --vulndb "$VDB" --format json >"$WORK/scan-docker.json" 2>"$LOGS/scan-docker.err" \
     && scanjson "$WORK/scan-docker.json" \
     && python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["manifest"] == sys.argv[2]' "$WORK/scan-docker.json" "${EXP_V1:-none}"; then
    pass scan-docker-target
  else fail scan-docker-target "$(tailf "$LOGS/scan-docker.err") $(head -c 200 "$WORK/scan-docker.json")"; fi
  # ... and the multi-platform index: every platform scanned, packages and findings marked with it
  if "$BIN" scan "docker://$REG/e2e/app:multi" --plain-http --creds "$USER_NAME:$PW" --vulndb "$VDB" --format json >"$WORK/scan-multi.json" 2>"$LOGS/scan-multi.err" \
     && python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert len(j["platforms"]) == 2 and {p.get("platform") for p in j["platforms"]} == {"linux/amd64", "linux/arm64/v8"} and isinstance(j["findings"], list) and all(p["platform"] for p in j["packages"]), j.keys()' "$WORK/scan-multi.json"; then
    pass scan-docker-index
  else fail scan-docker-index "$(tailf "$LOGS/scan-multi.err") $(head -c 300 "$WORK/scan-multi.json")"; fi
  # an advisory snapshot pushed as an OCI artifact: oras pulls it, another install imports it
  rm -rf "$WORK/vdb1" "$WORK/vdb2" "$WORK/oras-osv"
  if run vulndb-import "$BIN" vulndb import "$VDB" --data-dir "$WORK/vdb1" \
     && run vulndb-push "$BIN" vulndb push "docker://$REG/e2e/osv:latest" --plain-http --creds "$USER_NAME:$PW" --data-dir "$WORK/vdb1" \
     && E2E_USER="$USER_NAME" E2E_PASS="$PW" HOME="$WORK/home" timeout 60 python3 "$HERE/oras_artifact.py" pull "$REG" e2e/osv:latest "$WORK/oras-osv" 2>"$LOGS/oras-osv.err" \
     && python3 -c 'import zipfile,sys; n=[x for x in zipfile.ZipFile(sys.argv[1]).namelist() if x.endswith(".json")]; assert len(n) >= 6, n' "$WORK/oras-osv/pulled/osv-advisories.zip" \
     && run vulndb-pull "$BIN" vulndb pull "docker://$REG/e2e/osv:latest" --plain-http --creds "$USER_NAME:$PW" --data-dir "$WORK/vdb2" \
     && grep -q " added" "$LOGS/vulndb-pull.log"; then
    pass vulndb-snapshot-artifact
  else fail vulndb-snapshot-artifact "$(tailf "$LOGS/vulndb-push.log" 3) $(tailf "$LOGS/oras-osv.err" 3) $(ls -R "$WORK/oras-osv" 2>&1 | head -5) $(tailf "$LOGS/vulndb-pull.log" 3)"; fi
  # SBOMs of every scanned image from the scan API, without touching the repository
  code="$(http "$WORK/sbom-cdx" "${CREDS[@]}" "$URL/api/v1/scans/sbom?repository=e2e/app&digest=${EXP_V1:-none}&format=cyclonedx")"
  code2="$(http "$WORK/sbom-spdx" "${CREDS[@]}" "$URL/api/v1/scans/sbom?repository=e2e/app&digest=${EXP_V1:-none}&format=spdx")"
  if [[ "$code" == 200 && "$code2" == 200 ]] \
     && python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); s=json.load(open(sys.argv[2])); assert c["bomFormat"] == "CycloneDX" and isinstance(c["components"], list) and c["metadata"]["component"]["name"] == sys.argv[3] and s["spdxVersion"] == "SPDX-2.3" and s["packages"], (c.keys(), s.keys())' "$WORK/sbom-cdx" "$WORK/sbom-spdx" "e2e/app@${EXP_V1:-none}" 2>"$LOGS/sbom-api.err"; then
    pass scan-sbom-api
  else fail scan-sbom-api "HTTP $code/$code2: $(head -c 200 "$WORK/sbom-cdx") $(tailf "$LOGS/sbom-api.err" 2)"; fi
  # a repository that opted in (the configuration's sbom_referrers) gets CycloneDX and
  # SPDX SBOMs as referrers; skopeo reads one back
  sbom=""
  if run skopeo-copy-optin "${SKO[@]}" copy --preserve-digests "${SRC[@]}" "${DST[@]}" "docker://$REG/e2e/app:v1" "docker://$REG/e2e/optin:v1"; then
    for _ in $(seq 50); do
      code="$(http "$WORK/referrers" "${CREDS[@]}" "$URL/v2/e2e/optin/referrers/${EXP_V1:-none}?artifactType=application/vnd.cyclonedx%2Bjson")"
      sbom="$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["manifests"]; print(m[0]["digest"] if len(m)==1 and m[0]["artifactType"]=="application/vnd.cyclonedx+json" else "")' "$WORK/referrers" 2>/dev/null || true)"
      [[ -n "$sbom" ]] && break
      sleep 0.2
    done
  fi
  if [[ "$code" == 200 && -n "$sbom" ]] \
     && run scan-sbom-inspect "${SKO[@]}" inspect --raw --tls-verify=false --creds "$USER_NAME:$PW" "docker://$REG/e2e/optin@$sbom" \
     && grep -q "${EXP_V1:-none}" "$LOGS/scan-sbom-inspect.log"; then pass scan-sbom-referrer
  else fail scan-sbom-referrer "HTTP $code: $(head -c 300 "$WORK/referrers") $(tailf "$LOGS/skopeo-copy-optin.log" 2) $(tailf "$LOGS/scan-sbom-inspect.log" 3)"; fi
  # a root image fails the misconfiguration gate, and says why
  if "$BIN" scan "oci:$OCI:v1" --vulndb "$VDB" --fail-on-misconfig high >"$WORK/scan-misconfig.txt" 2>&1; then
    fail scan-fail-on-misconfig "exit 0 for an image that runs as root: $(tail -c 300 "$WORK/scan-misconfig.txt")"
  elif grep -q "AL-CFG-001" "$WORK/scan-misconfig.txt"; then pass scan-fail-on-misconfig
  else fail scan-fail-on-misconfig "$(tail -c 300 "$WORK/scan-misconfig.txt")"; fi
  # Go build info of a real Go binary (skopeo itself)
  rm -rf "$WORK/gofs" && mkdir -p "$WORK/gofs/usr/bin" && cp "$(command -v skopeo)" "$WORK/gofs/usr/bin/"
  if "$BIN" scan "dir:$WORK/gofs" --vulndb "$VDB" --format json >"$WORK/scan-go.json" 2>"$LOGS/scan-go.err" \
     && python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["packages"]; assert any(x["name"]=="stdlib" and x["ecosystem"]=="Go" and x["version"][0].isdigit() for x in p), p' "$WORK/scan-go.json"; then
    pass scan-go-binary
  else fail scan-go-binary "$(tailf "$LOGS/scan-go.err") $(head -c 300 "$WORK/scan-go.json")"; fi
  # an RPM database written by rpm itself (sqlite backend)
  if tool_ok rpmbuild; then
    R="$WORK/rpm" && rm -rf "$R" && mkdir -p "$R/SPECS" "$R/db" "$R/fs/etc" "$R/fs/var/lib/rpm"
    printf 'Name: airlock-e2e\nVersion: 1.2.3\nRelease: 4.el9\nEpoch: 2\nSummary: e2e\nLicense: MIT\nBuildArch: noarch\n%%description\ne2e\n%%files\n' >"$R/SPECS/e2e.spec"
    printf 'ID="rocky"\nVERSION_ID="9.3"\nPRETTY_NAME="Rocky Linux 9.3"\n' >"$R/fs/etc/os-release"
    if run rpm-build rpmbuild --define "_topdir $R" -bb "$R/SPECS/e2e.spec" \
       && run rpm-initdb rpm --define '_db_backend sqlite' --dbpath "$R/db" --initdb \
       && run rpm-install rpm --define '_db_backend sqlite' --dbpath "$R/db" -i --justdb --nodeps --ignorearch --ignoreos "$R"/RPMS/noarch/*.rpm \
       && cp "$R/db/rpmdb.sqlite" "$R/fs/var/lib/rpm/" \
       && "$BIN" scan "dir:$R/fs" --vulndb "$VDB" --format json >"$WORK/scan-rpm.json" 2>"$LOGS/scan-rpm.err" \
       && python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["packages"]; assert [(x["name"],x["version"],x["ecosystem"]) for x in p]==[("airlock-e2e","2:1.2.3-4.el9","Rocky Linux:9")], p' "$WORK/scan-rpm.json"; then
      pass scan-rpmdb-sqlite
    else fail scan-rpmdb-sqlite "$(tailf "$LOGS/rpm-install.log" 3) $(tailf "$LOGS/scan-rpm.err") $(head -c 300 "$WORK/scan-rpm.json")"; fi
  fi
fi

# ---------------------------------------------------------------- registry still healthy?
if [[ -z "$REG_PID" ]]; then
  code="$(http "$C" "${CREDS[@]}" "$URL/v2/")"
  [[ "$code" == 200 ]] && pass registry-alive-at-end || fail registry-alive-at-end "GET /v2/ -> HTTP $code"
elif kill -0 "$REG_PID" 2>/dev/null; then pass registry-alive-at-end
else fail registry-alive-at-end "registry process exited: $(tailf "$LOGS/registry.log" 8)"; fi
# the server's log, written to a file: no terminal colour codes, and one access-log
# line per request (method, path, status, identity, request id; no credentials)
if [[ "$TARGET" == airlock ]]; then
  if ! grep -q $'\x1b\[' "$LOGS/registry.log" \
     && grep -qE 'airlock::access: request method=(GET|HEAD) path=/v2/e2e/app/manifests/[^ ]+ status=200 .*identity=[^ -][^ ]* request_id=[0-9a-f-]+' "$LOGS/registry.log" \
     && ! grep -q "$PW" "$LOGS/registry.log"; then
    pass server-log-plain-with-access-lines
  else fail server-log-plain-with-access-lines "$(grep -c $'\x1b\[' "$LOGS/registry.log") lines with escape codes; access lines: $(grep -c 'airlock::access' "$LOGS/registry.log"); $(grep 'airlock::access' "$LOGS/registry.log" | head -n 2)"; fi
fi
if ((FAILN > 0)); then
  if [[ -s "$LOGS/registry.log" ]]; then echo "---- registry log tail:"; tail -n 15 "$LOGS/registry.log" | cut -c1-400 || true; fi
fi
finish
