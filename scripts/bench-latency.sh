#!/usr/bin/env bash
# Latency under load, open loop (BENCHMARKS.md, issue 13 goal 4): the server pinned as in
# scripts/bench.sh, the load generator on core 1. First the closed-loop maximum of this session
# (median of RUNS closed-loop runs at 32 connections); then open-loop runs at fixed rates of 25,
# 50, 75 and 90 % of it, each request due on a fixed schedule and its latency measured from
# that due time, so time spent queueing (for the server, or for a free connection) is counted.
# The percentages alternate within each round so drift spreads over all of them.
#
#   scripts/bench-latency.sh [RUNS] [SECONDS] [CONNECTIONS] [PERCENTS]
#   e.g. scripts/bench-latency.sh 3 10 64 "25 50 75 90"
#
# Prints each run's JSON line (with "percent"), then one line per percentage with the medians
# over the runs: achieved rate, p50, p90, p99, p99.9, max, and requests never sent because the
# server fell too far behind (a percentile among those is null). SIGNET_BENCH_BIN=DIR as in
# bench.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench/lib.sh
RUNS="${1:-3}"
SECS="${2:-10}"
CONNS="${3:-64}"
PERCENTS="${4:-25 50 75 90}"

bench_binaries
TMP="$(mktemp -d)"
SIGNET_PID=""
cleanup() { [ -n "$SIGNET_PID" ] && kill "$SIGNET_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
signet_start "$TMP"
signet_grant "$TMP"
read_load() { taskset -c 1 "$BIN/signet-bench" --identity "$IDENTITY" --secret "$SECRET" --duration "$SECS" "$@"; }

echo "server: pid $SIGNET_PID on core 0 (1 tokio worker + the SQLite writer thread); load: core 1; ${SECS}s per run" >&2
for _ in $(seq 1 "$RUNS"); do
  read_load --connections 32 | tee -a "$TMP/closed.jsonl"
done
MAX="$(json_spread reads_per_sec <"$TMP/closed.jsonl" | json_field median)"
echo "closed-loop maximum (median of $RUNS): $MAX reads/s" >&2

for _ in $(seq 1 "$RUNS"); do
  for pct in $PERCENTS; do
    rate="$(python3 -c "print(round($MAX * $pct / 100, 1))")"
    read_load --connections "$CONNS" --rate "$rate" |
      python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); print(json.dumps({"percent": int(sys.argv[1]), **r}))' "$pct" |
      tee -a "$TMP/open.jsonl"
  done
done
signet_verify "$TMP"

python3 - "$TMP/open.jsonl" "$MAX" <<'EOF'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
for pct in sorted({r["percent"] for r in runs}):
    rs = [r for r in runs if r["percent"] == pct]
    row = {"percent": pct, "max_closed_loop": float(sys.argv[2]), "rate": rs[0]["rate"], "runs": len(rs)}
    for k in ("achieved_per_sec", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms"):
        # null: the percentile fell among requests never sent (the server fell behind the rate).
        m = statistics.median(float("inf") if r[k] is None else r[k] for r in rs)
        row[k] = None if m == float("inf") else m
    row["missed"] = sum(r["missed"] for r in rs)
    print(json.dumps(row))
EOF
