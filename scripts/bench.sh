#!/usr/bin/env bash
# Signed-read benchmark (BENCHMARKS.md): the server is pinned to core 0, the load generator to
# core 1. Every read is a fresh signature, timestamp and nonce over keep-alive connections, and
# every read is audited durably (fail-closed) before it is answered.
#
#   scripts/bench.sh [RUNS] [CONNECTION COUNTS] [SECONDS]
#   e.g. scripts/bench.sh 5 "32 128" 10   (runs alternate between the counts on one server)
#
# The ceiling (issue 13): a second server, also on core 0 with one worker, serves the same
# machine from a copy of the data folder in the hidden `bench_ceiling` mode, where a secret read
# is the same HTTP stack, header parsing, SHA-256 and `verify_strict`, then a constant answer (no
# store, nonce, decryption or audit). Every run measures both, alternating which goes first, and
# the script ends with each count's medians and the ratio full / ceiling. SIGNET_BENCH_CEILING=0
# measures the full server alone, as before.
#
# SIGNET_BENCH_BIN=DIR runs the `signet` and `signet-bench` already in DIR instead of building
# this checkout, so that two builds (before and after a change) can be measured alternately in
# one session.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-3}"
CONNS="${2:-32 128}"
SECS="${3:-10}"

. scripts/bench/lib.sh
bench_binaries
TMP="$(mktemp -d)"
SIGNET_PID=""
CEILING_PID=""
WITH_CEILING="${SIGNET_BENCH_CEILING:-1}"
# The script's knob, not the servers': the full server must never see it.
unset SIGNET_BENCH_CEILING
cleanup() {
  for pid in $SIGNET_PID $CEILING_PID; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

signet_start "$TMP"
signet_grant "$TMP"
[ "$WITH_CEILING" = 0 ] || signet_ceiling_start "$TMP"
op() { signet_op "$TMP" "$@"; }

echo "server: pid $SIGNET_PID on core 0 (1 tokio worker + the SQLite writer thread); ceiling: pid ${CEILING_PID:-none} on core 0; load: core 1; ${SECS}s per run" >&2
# One measured run, its JSON report tagged with what was measured.
measure() {
  local mode="$1" url="$2" c="$3"
  taskset -c 1 "$BIN/signet-bench" --identity "$IDENTITY" --secret "$SECRET" --url "$url" --connections "$c" --duration "$SECS" \
    | sed "s/^{/{\"mode\":\"$mode\",/" | tee -a "$TMP/runs.jsonl"
}
for run in $(seq 1 "$RUNS"); do
  for c in $CONNS; do
    if [ -z "$CEILING_PID" ]; then
      measure full "$SIGNET_URL" "$c"
    elif [ $((run % 2)) = 1 ]; then
      measure ceiling "$CEILING_URL" "$c"
      measure full "$SIGNET_URL" "$c"
    else
      measure full "$SIGNET_URL" "$c"
      measure ceiling "$CEILING_URL" "$c"
    fi
  done
done
if [ -n "$CEILING_PID" ]; then
  # Per connection count: each side's median (min-max over runs) and median full / median
  # ceiling, with the spread of the runs' pairwise ratios.
  python3 - "$TMP/runs.jsonl" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
for c in sorted({r["connections"] for r in runs}):
    side = {m: [r["reads_per_sec"] for r in runs if r["connections"] == c and r["mode"] == m] for m in ("full", "ceiling")}
    full, ceil = statistics.median(side["full"]), statistics.median(side["ceiling"])
    pairs = [f / k for f, k in zip(side["full"], side["ceiling"])]
    print(json.dumps({
        "summary": "full/ceiling", "connections": c, "runs": len(pairs),
        "full_median": full, "full_min": min(side["full"]), "full_max": max(side["full"]),
        "ceiling_median": ceil, "ceiling_min": min(side["ceiling"]), "ceiling_max": max(side["ceiling"]),
        "ratio": round(full / ceil, 3), "ratio_min": round(min(pairs), 3), "ratio_max": round(max(pairs), 3),
    }))
PY
fi
READS="$(op audit list --action secret_read --limit 1 | python3 -c 'import json,sys; r=json.load(sys.stdin)["records"]; print(r[0]["seq"] if r else 0)')"
echo "audit head seq after the runs: $READS" >&2
signet_verify "$TMP"
