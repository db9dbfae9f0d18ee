#!/usr/bin/env bash
# Refreshes deny/advisory-db/, the dated subset of the RustSec advisory database that
# `cargo deny check advisories` reads (CI and developer machines cannot fetch it; see deny.toml):
# every advisory for a crate named in Cargo.lock or fuzz/Cargo.lock, from a local git checkout
# of github.com/rustsec/advisory-db.
#
#   scripts/deny-snapshot.sh PATH_TO_ADVISORY_DB_CHECKOUT
set -euo pipefail
cd "$(dirname "$0")/.."
src="${1:?usage: scripts/deny-snapshot.sh PATH_TO_ADVISORY_DB_CHECKOUT}"
out=deny/advisory-db

commit="$(git -C "$src" rev-parse HEAD)"
date="$(git -C "$src" show -s --format=%cI HEAD)"
rm -rf "$out/crates"
mkdir -p "$out/crates"
names="$(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.lock fuzz/Cargo.lock | sort -u)"
count=0
for name in $names; do
    files="$(git -C "$src" ls-tree --name-only HEAD "crates/$name/" 2>/dev/null || true)"
    for f in $files; do
        mkdir -p "$out/crates/$name"
        git -C "$src" show "HEAD:$f" >"$out/$f"
        count=$((count + 1))
    done
done
cat >"$out/SNAPSHOT" <<INFO
commit=$commit
date=$date
INFO
echo "deny/advisory-db: $count advisories for $(wc -w <<<"$names") crate names, upstream $commit ($date)"
