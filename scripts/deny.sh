#!/usr/bin/env bash
# `cargo deny check` (advisories, licenses, bans, sources) over the main workspace and fuzz/,
# offline: advisories come from the committed snapshot in deny/advisory-db/ (see deny.toml).
# Installs nothing: scripts/setup.sh (run first by scripts/test.sh) installs cargo-deny.
set -euo pipefail
cd "$(dirname "$0")/.."

snapshot=deny/advisory-db
# cargo-deny keeps each database under db-path in a folder named for its URL:
# `<last path segment>-<xxhash64 of the URL>` (cargo-deny's url_to_db_path).
db="target/deny/advisory-dbs/advisory-db-3157b0e258782691"

# cargo-deny reads a git checkout (it asks git for the commit date); make one from the snapshot,
# committed at the snapshot's own date.
snap_date="$(sed -n 's/^date=//p' "$snapshot/SNAPSHOT")"
rm -rf "$db"
mkdir -p "$db"
cp -R "$snapshot/crates" "$db/crates"
(
    cd "$db"
    git init -q
    git add -A
    GIT_AUTHOR_DATE="$snap_date" GIT_COMMITTER_DATE="$snap_date" \
        git -c user.name=signet -c user.email=ci@signet.invalid commit -qm "snapshot"
)

# The snapshot cannot be refreshed from here; say when it is old rather than fail the build.
age_days=$((($(date +%s) - $(date -d "$snap_date" +%s)) / 86400))
echo "advisory snapshot: $(sed -n 's/^commit=//p' "$snapshot/SNAPSHOT") of $snap_date (${age_days} days old)"
if [ "$age_days" -gt 120 ]; then
    echo "warning: the advisory snapshot is over 120 days old; refresh it with scripts/deny-snapshot.sh" >&2
fi

# `--offline` below keeps cargo-deny from fetching its database; the crate sources it reads
# through `cargo metadata` (every platform's, Windows-only ones included) must then be on disk.
cargo fetch --locked --quiet
cargo fetch --locked --quiet --manifest-path fuzz/Cargo.toml

# Duplicate versions are warnings (deny.toml): shown for the main workspace, whose lock ships;
# fuzz/ repeats the same ones, so only its errors are shown.
cargo deny --offline --log-level warn --config deny.toml check --hide-inclusion-graph
cargo deny --offline --log-level error --config deny.toml --manifest-path fuzz/Cargo.toml \
    check --hide-inclusion-graph
echo "cargo deny: main workspace and fuzz/ clean"
