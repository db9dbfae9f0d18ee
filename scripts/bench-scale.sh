#!/usr/bin/env bash
# Flat cost as data grows (BENCHMARKS.md, "Scale"). For each scale point, a fresh installation is
# made (`signet operator init`), filled by `signet-seed` (secrets through core's secret service,
# machines with real keys, grants, chained audit records through the journal, nonces through the
# nonce set), and served pinned as scripts/bench.sh does (server on core 0 with one tokio worker,
# load on core 1). One enrolled machine then reads one granted secret under the same closed loop.
#
#   scripts/bench-scale.sh [SECONDS] [CONNECTIONS]
#
# Points (secrets / machines / audit records / nonces):
#   base     1k    / 0    / 0    / 0
#   s100k    100k  / 0    / 0    / 0
#   s1m      1M    / 0    / 0    / 0
#   m10k     1k    / 10k  / 0    / 0
#   a10m     1k    / 0    / 10M  / 0
#   mem      100k  / 10k  / 0    / 0    (VmRSS and VmHWM after the run)
#   start    1k    / 0    / 10M  / 3.6M (a full window at 12k reads/s; time from spawn to
#                                        /readyz 200 and to the first read answered)
# Each point prints one JSON line; a summary gives reads/s and p99 as ratios to `base`.
# SCALE_SMALL=1 divides every count by 1000 (a CI smoke of a few seconds), SCALE_DIV=N by N;
# SCALE_POINTS="base a10m" runs a subset; SIGNET_BENCH_BIN=DIR uses the binaries in DIR.
# Every point ends with `signet audit verify`.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-10}"
CONNS="${2:-32}"
DIV="${SCALE_DIV:-1}"
[ -n "${SCALE_SMALL:-}" ] && DIV=1000
POINTS="${SCALE_POINTS:-base s100k s1m m10k a10m mem start}"

if [ -n "${SIGNET_BENCH_BIN:-}" ]; then
  BIN="$SIGNET_BENCH_BIN"
else
  cargo build --release --locked --bin signet --bin signet-bench --bin signet-seed >&2
  BIN="${CARGO_TARGET_DIR:-$PWD/target}/release"
fi
TMP="$(mktemp -d)"
SERVER=""
stop_server() {
  if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  SERVER=""
}
cleanup() { stop_server; rm -rf "$TMP"; }
trap cleanup EXIT
RESULTS="$TMP/results.jsonl"
: >"$RESULTS"

now_ns() { date +%s%N; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start_server DATA: spawns the server on $PORT; sets SERVER, SPAWN_NS and READY_MS (spawn to
# the first /readyz 200, polled every 5 ms).
start_server() {
  local data="$1"
  SPAWN_NS="$(now_ns)"
  TOKIO_WORKER_THREADS=1 taskset -c 0 "$BIN/signet" server --data-dir "$data" --listen "127.0.0.1:$PORT" 2>>"$TMP/server.log" &
  SERVER=$!
  local ok=""
  for _ in $(seq 1 6000); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz")" = 200 ]; then ok=1; break; fi
    kill -0 "$SERVER" 2>/dev/null || break
    sleep 0.005
  done
  [ -n "$ok" ] || { cat "$TMP/server.log" >&2; exit 1; }
  READY_MS="$(( ($(now_ns) - SPAWN_NS) / 1000000 ))"
}

# point NAME SECRETS MACHINES RECORDS NONCES
point() {
  local name="$1" secrets="$(( $2 / DIV ))" machines="$(( $3 / DIV ))" records="$(( $4 / DIV ))" nonces="$(( $5 / DIV ))"
  [ "$secrets" -ge 1 ] || secrets=1
  local dir="$TMP/$name"
  rm -rf "$dir"; mkdir -p "$dir"
  local op_home="$dir/op" data="$dir/data"
  PORT="$(free_port)"
  URL="http://localhost:$PORT"
  SIGNET_HOME="$op_home" "$BIN/signet" operator init --data-dir "$data" --api-url "$URL" >/dev/null
  local t0 seed_json
  t0="$(now_ns)"
  seed_json="$(taskset -c 0 "$BIN/signet-seed" --data-dir "$data" --secrets "$secrets" --machines "$machines" \
    --audit-records "$records" --nonces "$nonces")"
  local seed_s
  seed_s="$(python3 -c "print(round(($(now_ns) - $t0) / 1e9, 1))")"
  echo "seeded $name in ${seed_s}s: $seed_json" >&2

  start_server "$data"
  op() { SIGNET_HOME="$op_home" "$BIN/signet" --json "$@"; }
  # The first signed read: the moment the server actually serves.
  local project secret token identity machine first_ms
  project="$(op project create bench | field id)"
  secret="$(op secret create --project "$project" --name BENCH_SECRET --value "$(head -c 48 /dev/urandom | base64)" | field id)"
  token="$(op token bootstrap | field token)"
  SIGNET_HOME="$dir/machine" "$BIN/signet" enroll --server "$URL" --token "$token" --name bench >/dev/null
  identity="$(ls -d "$dir"/machine/vaults/*/)identity.json"
  machine="$(field machineId <"$identity")"
  op machine approve "$machine" >/dev/null
  op machine attach "$machine" --project "$project" >/dev/null
  op machine grant "$machine" --secret "$secret" >/dev/null
  first_ms=""
  if [ "$name" = start ]; then
    # Start-up is measured on a restart, so the machine exists and its first read is timed.
    stop_server
    start_server "$data"
    SIGNET_HOME="$dir/machine" "$BIN/signet" get "$secret" >/dev/null
    first_ms="$(( ($(now_ns) - SPAWN_NS) / 1000000 ))"
  fi
  local run
  run="$(taskset -c 1 "$BIN/signet-bench" --identity "$identity" --secret "$secret" \
    --connections "$CONNS" --duration "$SECS")"
  local status rss hwm
  status="$(cat "/proc/$SERVER/status")"
  rss="$(awk '/^VmRSS:/ {print $2}' <<<"$status")"
  hwm="$(awk '/^VmHWM:/ {print $2}' <<<"$status")"
  local db_bytes nonce_rows audit_rows
  SIGNET_HOME="$op_home" "$BIN/signet" audit verify >&2
  stop_server
  db_bytes="$(stat -c %s "$data/signet.db")"
  read -r nonce_rows audit_rows < <(python3 - "$data/signet.db" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
print(c.execute("SELECT count(*) FROM nonces").fetchone()[0], c.execute("SELECT count(*) FROM audit").fetchone()[0])
EOF
)
  python3 - "$name" "$run" "$seed_json" "$seed_s" "$READY_MS" "${first_ms:-null}" "$rss" "$hwm" "$db_bytes" "$nonce_rows" "$audit_rows" <<'EOF' | tee -a "$RESULTS"
import json, sys
name, run, seed, seed_s, ready, first, rss, hwm, db, nonces, audit = sys.argv[1:]
run, seed = json.loads(run), json.loads(seed)
print(json.dumps({
    "point": name, "secrets": seed["secrets"], "machines": seed["machines"],
    "audit_records": audit and int(audit), "nonces_seeded": seed["nonces"],
    "seed_s": float(seed_s), "seed_timings": seed["timings"],
    "reads_per_sec": run["reads_per_sec"], "p50_ms": run["p50_ms"], "p99_ms": run["p99_ms"],
    "ready_ms": int(ready), "first_read_ms": json.loads(first),
    "vm_rss_kb": int(rss), "vm_hwm_kb": int(hwm), "db_bytes": int(db),
    "nonce_rows_after": int(nonces),
}))
EOF
}

for p in $POINTS; do
  case "$p" in
    base) point base 1000 0 0 0 ;;
    s100k) point s100k 100000 0 0 0 ;;
    s1m) point s1m 1000000 0 0 0 ;;
    m10k) point m10k 1000 10000 0 0 ;;
    a10m) point a10m 1000 0 10000000 0 ;;
    mem) point mem 100000 10000 0 0 ;;
    start) point start 1000 0 10000000 3600000 ;;
    *) echo "unknown point $p" >&2; exit 2 ;;
  esac
done

python3 - "$RESULTS" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
base = next((r for r in rows if r["point"] == "base"), None)
print("\npoint    secrets  machines  audit      reads/s   p50 ms  p99 ms  ratio r/s  ratio p99  ready ms  RSS MB  HWM MB")
for r in rows:
    rr = f'{r["reads_per_sec"] / base["reads_per_sec"]:.3f}' if base else "-"
    rp = f'{r["p99_ms"] / base["p99_ms"]:.3f}' if base and base["p99_ms"] else "-"
    print(f'{r["point"]:8} {r["secrets"]:>8} {r["machines"]:>9} {r["audit_records"]:>9} {r["reads_per_sec"]:>9} '
          f'{r["p50_ms"]:>7} {r["p99_ms"]:>7} {rr:>10} {rp:>10} {r["ready_ms"]:>9} '
          f'{r["vm_rss_kb"] / 1024:>7.1f} {r["vm_hwm_kb"] / 1024:>7.1f}')
for r in rows:
    if r["point"] == "start":
        print(f'\nstart-up with {r["audit_records"]} audit records and {r["nonces_seeded"]} nonces: '
              f'/readyz 200 after {r["ready_ms"]} ms, first read answered after {r["first_read_ms"]} ms')
    if r["point"] in ("a10m", "start"):
        print(f'{r["point"]}: database {r["db_bytes"]} bytes for {r["audit_records"]} audit records and '
              f'{r["nonce_rows_after"]} nonce rows')
EOF
