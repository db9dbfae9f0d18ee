#!/usr/bin/env bash
# The layering rule, checked rather than kept by discipline: the pure crates (the protocol, the
# crypto, the wire contract, the business rules and the storage traits) never depend on a
# database driver, an HTTP stack or tokio's sockets. Fails naming each crate, the banned
# dependency and the path that brings it in.
#
#   scripts/layering.sh [WORKSPACE_DIR]     (default: this checkout)
#
# Only normal and build dependencies count (what ships in the crate's build); dev-dependencies
# are free, so core's tests may still run on a real SQLite or PostgreSQL store. Features are
# resolved per crate, as `cargo build -p CRATE --all-features` would, so a feature another crate
# turns on in a workspace build (tokio's `net` for the server) does not hide or fake a violation,
# and an optional feature of a pure crate is held to the rule too.
# Reads the lock only (`cargo tree --locked`): compiles nothing, takes a few seconds.
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
# `--locked` by default: the check reads the committed lock. The self-test (layering-selftest.sh)
# edits a manifest in a copy and passes `--offline` instead, letting cargo re-resolve from the
# local cache.
read -r -a cargo_flags <<<"${LAYERING_CARGO_FLAGS:---locked}"

# Crates that must stay free of I/O stacks. One missing from the workspace is reported and skipped
# (a rename must be carried here).
pure_crates=(signet-proto signet-crypto signet-api signet-core signet-store)
# Database drivers and HTTP stacks, banned whatever their features.
banned=(sqlx rusqlite axum hyper reqwest)
# tokio itself is allowed (core runs on it), but not with these features: `net` is sockets.
banned_tokio_features=(net)

members="$(cargo metadata --format-version 1 --no-deps "${cargo_flags[@]}" |
    python3 -c 'import json, sys; print("\n".join(p["name"] for p in json.load(sys.stdin)["packages"]))')"

# `--target all`: a dependency pulled in only on another platform still ships in someone's build.
# The first run may download crate manifests for other platforms; later runs need no network.
tree() {
    cargo tree "${cargo_flags[@]}" --target all "$@"
}

failures=0
checked=()
for crate in "${pure_crates[@]}"; do
    if ! grep -qx "$crate" <<<"$members"; then
        echo "layering: warning: $crate is not in the workspace; not checked" >&2
        continue
    fi
    checked+=("$crate")
    # One line per package in the crate's normal + build graph: `name vX.Y.Z|feature,feature`.
    graph="$(tree -p "$crate" -e no-dev --all-features --prefix none --format '{p}|{f}' | sort -u)"
    for dep in "${banned[@]}"; do
        if grep -q "^$dep v" <<<"$graph"; then
            echo "layering: $crate depends on $dep (banned for ${pure_crates[*]}); it comes in through:" >&2
            tree -p "$crate" -e no-dev --all-features -i "$dep" >&2 || true
            failures=$((failures + 1))
        fi
    done
    tokio_features="$(sed -n 's/^tokio v[^|]*|//p' <<<"$graph" | tr ',' '\n')"
    for feature in "${banned_tokio_features[@]}"; do
        if grep -qx "$feature" <<<"$tokio_features"; then
            echo "layering: $crate depends on tokio with its \`$feature\` feature (banned for ${pure_crates[*]}); it comes from:" >&2
            # The first `tokio feature "net"` node of the inverted tree and its subtree.
            tree -p "$crate" -e no-dev,features --all-features -i tokio |
                awk -v f="tokio feature \"$feature\"" '
                    { col = match($0, /[a-z]/) }
                    on && col <= start { exit }
                    !on && index($0, f) { on = 1; start = col }
                    on' >&2 || true
            failures=$((failures + 1))
        fi
    done
done

if [ "${#checked[@]}" -eq 0 ]; then
    echo "layering: none of ${pure_crates[*]} found in $(pwd)" >&2
    exit 1
fi
if [ "$failures" -gt 0 ]; then
    echo "layering: $failures violation(s); see docs/architecture.md (the dependency direction)" >&2
    exit 1
fi
echo "layering: ${checked[*]} free of ${banned[*]} and tokio's ${banned_tokio_features[*]}"
