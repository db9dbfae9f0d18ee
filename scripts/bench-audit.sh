#!/usr/bin/env bash
# Audit record size and archive (BENCHMARKS.md): bytes per audit record in the SQLite file and
# per nonce, and bytes per record in an archived segment. Starts a SQLite server, reads one
# secret with `signet-bench` for SECONDS, stops the server (so the WAL is checkpointed into the
# file), and measures the growth two ways: the file's size over the records added, and
# SQLite's own page accounting (`dbstat`) of the `audit` and `nonces` tables and their indexes.
# Then archives every full segment of SEGMENT records and reports the segment files' bytes per
# record, and ends with `signet audit verify --archive DIR --signatures`. Prints one JSON line.
#
#   scripts/bench-audit.sh [SECONDS] [SEGMENT]       (default 5 s, 10000 records per segment)
#
# Uses target/debug/{signet,signet-bench} unless SIGNET_BENCH_BIN=DIR names others. Needs
# python3 (its sqlite3 module reads the file while the server is stopped).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-5}"
segment="${2:-10000}"
dir="${SIGNET_BENCH_BIN:-$PWD/target/debug}"
bin="$dir/signet"
work="$(mktemp -d)"
cleanup() {
    [ -n "${server:-}" ] && kill "$server" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
cat >"$work/signet.toml" <<EOF
audit_archive_dir = "$work/archive"
audit_archive_segment_records = $segment
audit_archive_interval_secs = 86400
EOF

start() {
    "$bin" server --config "$work/signet.toml" --data-dir "$work/data" \
        --listen "127.0.0.1:${port:-0}" 2>>"$work/server.log" &
    server=$!
    for _ in $(seq 200); do
        got="$(sed -n 's/^signet: listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/server.log" | tail -1)"
        if [ -n "$got" ] && { [ -z "${port:-}" ] || [ "$got" = "$port" ]; } &&
            curl -fs "http://localhost:$got/readyz" >/dev/null 2>&1; then
            port="$got"
            return
        fi
        sleep 0.1
    done
    echo "the server did not start" >&2
    exit 1
}
stop() {
    kill "$server"
    wait "$server" 2>/dev/null || true
    server=
}
# Records, evidence-bearing records, file bytes, and dbstat bytes of each table with its indexes.
measure() {
    python3 - "$work/data/signet.db" <<'PY'
import json, os, sqlite3, sys
path = sys.argv[1]
db = sqlite3.connect(path)
def one(sql):
    return db.execute(sql).fetchone()[0] or 0
tables = {}
for table in ("audit", "nonces"):
    names = [table] + [r[0] for r in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (table,))]
    tables[table] = sum(one(f"SELECT sum(pgsize) FROM dbstat WHERE name = '{n}'") for n in names)
print(json.dumps({
    "records": one("SELECT count(*) FROM audit"),
    "withEvidence": one("SELECT count(*) FROM audit WHERE evidence IS NOT NULL"),
    "evidenceBytes": one("SELECT sum(length(evidence)) FROM audit"),
    "nonces": one("SELECT count(*) FROM nonces"),
    "fileBytes": os.path.getsize(path),
    "auditBytes": tables["audit"],
    "nonceBytes": tables["nonces"],
}))
PY
}

start
url="http://localhost:$port"
op() { SIGNET_HOME="$work/op" "$bin" --json "$@"; }
op operator init --data-dir "$work/data" --api-url "$url" >/dev/null
project="$(op project create bench | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
secret="$(op secret create --project "$project" --name DB --value v | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
token="$(op token bootstrap | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"
SIGNET_HOME="$work/m" "$bin" enroll --server "$url" --token "$token" --name bench >/dev/null
machine="$(python3 -c 'import json,sys,glob; print(json.load(open(glob.glob(sys.argv[1]+"/vaults/*/identity.json")[0]))["machineId"])' "$work/m")"
op machine approve "$machine" >/dev/null
op machine attach "$machine" --project "$project" >/dev/null
op machine grant "$machine" --secret "$secret" >/dev/null
identity="$(ls "$work"/m/vaults/*/identity.json)"
stop
before="$(measure)"

start
"$dir/signet-bench" --identity "$identity" --secret "$secret" --connections 8 \
    --duration "$secs" --warmup 0 >"$work/bench.json"
stop
after="$(measure)"

start
op audit archive >"$work/archived.json"
verify="$(SIGNET_HOME="$work/op" "$bin" audit verify --archive "$work/archive" --signatures 2>&1)" ||
    { echo "audit verify failed: $verify" >&2; exit 1; }
stop
archived="$(measure)"

python3 - "$before" "$after" "$archived" "$work/archived.json" "$work/archive" "$segment" "$(git rev-parse --short HEAD)" <<'PY'
import json, os, sys
before, after, archived = (json.loads(a) for a in sys.argv[1:4])
folder, segment, commit = sys.argv[5], int(sys.argv[6]), sys.argv[7]
added = after["records"] - before["records"]
nonces = after["nonces"] - before["nonces"]
# The server's own archiver also runs once at start, so count every segment in the folder.
files = os.listdir(folder)
seg_bytes = sum(os.path.getsize(os.path.join(folder, f)) for f in files if f.endswith(".jsonl"))
checkpoints = [json.load(open(os.path.join(folder, f))) for f in files
               if f.endswith(".checkpoint.json")]
seg_records = sum(c["records"] for c in checkpoints)
def per(n, d):
    return round(n / d, 1) if d else None
print(json.dumps({
    "commit": commit,
    "recordsAdded": added,
    "withEvidence": after["withEvidence"] - before["withEvidence"],
    "fileBytesPerRecord": per(after["fileBytes"] - before["fileBytes"], added),
    "auditTableBytesPerRecord": per(after["auditBytes"] - before["auditBytes"], added),
    "evidenceBytesPerRecord": per(after["evidenceBytes"] - before["evidenceBytes"], added),
    "noncesAdded": nonces,
    "nonceTableBytesPerNonce": per(after["nonceBytes"] - before["nonceBytes"], nonces),
    "segments": len(checkpoints),
    "segmentBytesPerRecord": per(seg_bytes, seg_records),
    "liveRecordsAfterArchive": archived["records"],
    "fileBytesAfterArchive": archived["fileBytes"],
}))
PY
