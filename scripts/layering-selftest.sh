#!/usr/bin/env bash
# Proves the dependency rules catch a violation, not only that today's tree passes them: copies
# the checkout's sources (no target/) to a temporary folder, breaks a rule there, and requires
# scripts/layering.sh and `cargo deny check bans` to fail with a message naming the crate and the
# banned dependency. Compiles nothing (cargo metadata and cargo tree only); takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
copy="$work/signet"
mkdir -p "$copy"
# Tracked and new (not ignored) files, without the bulky data nothing here reads.
git ls-files -z --cached --others --exclude-standard |
    grep -zv -e '^deny/advisory-db/' -e '^fuzz/corpus/' -e '^docs/screenshots/' |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf - | tar -xf - -C "$copy"

# The copy's lock is re-resolved from the local cache after each edit (no network, no build).
export LAYERING_CARGO_FLAGS="--offline"
core="$copy/crates/core/Cargo.toml"
cp "$core" "$work/core.toml"

failed=0
# expect_failure NAME PATTERNS COMMAND...: COMMAND must fail, and its output must match each of
# PATTERNS (EREs separated by ` && `).
expect_failure() {
    local name="$1" patterns="$2"
    shift 2
    local out status=0 pattern
    out="$("$@" 2>&1)" || status=$?
    if [ "$status" -eq 0 ]; then
        echo "self-test FAILED ($name): the check passed" >&2
        printf '%s\n' "$out" | tail -20 >&2
        failed=1
        return
    fi
    while IFS= read -r pattern; do
        if ! grep -Eq "$pattern" <<<"$out"; then
            echo "self-test FAILED ($name): the check failed without a message matching /$pattern/:" >&2
            printf '%s\n' "$out" | tail -20 >&2
            failed=1
            return
        fi
    done < <(sed 's/ && /\n/g' <<<"$patterns")
    echo "ok: $name is caught: $(grep -Em1 "${patterns%% && *}" <<<"$out")"
}
# with_dependency LINE: core's manifest as committed, plus LINE under [dependencies].
with_dependency() {
    sed "s/^\[dependencies\]$/[dependencies]\n$1/" "$work/core.toml" >"$core"
}

# The unbroken copy passes, so a failure below is the planted violation and nothing else.
if ! out="$(scripts/layering.sh "$copy" 2>&1)"; then
    printf 'self-test FAILED: the unmodified copy does not pass the layering check:\n%s\n' "$out" >&2
    exit 1
fi

with_dependency 'rusqlite.workspace = true'
expect_failure "a driver in core (layering.sh)" 'signet-core depends on rusqlite' \
    scripts/layering.sh "$copy"

with_dependency 'reqwest.workspace = true'
expect_failure "an HTTP client in core, through another crate (layering.sh)" \
    'signet-core depends on (reqwest|hyper)' scripts/layering.sh "$copy"

# tokio is allowed in core, its sockets are not: `net` asked for directly in core's manifest.
sed 's/^tokio\.workspace = true$/tokio = { workspace = true, features = ["net"] }/' \
    "$work/core.toml" >"$core"
expect_failure "tokio's net feature in core (layering.sh)" \
    'signet-core depends on tokio with its `net` feature' scripts/layering.sh "$copy"

# The same feature, inherited from [workspace.dependencies] rather than asked for by core.
cp "$work/core.toml" "$core"
cp "$copy/Cargo.toml" "$work/root.toml"
sed -E 's/^(tokio = \{ version = "[^"]*", features = \[)/\1"net", /' "$work/root.toml" >"$copy/Cargo.toml"
expect_failure "tokio's net feature from the workspace's tokio (layering.sh)" \
    'signet-core depends on tokio with its `net` feature' scripts/layering.sh "$copy"
cp "$work/root.toml" "$copy/Cargo.toml"

# The same rusqlite line, seen by cargo-deny's per-crate wrappers (deny.toml [bans]).
if cargo deny --version >/dev/null 2>&1; then
    with_dependency 'rusqlite.workspace = true'
    # The inclusion graph under the error names the crate that is not a wrapper.
    expect_failure "a driver in core (cargo deny wrappers)" \
        "crate 'rusqlite = [^']*' is explicitly banned && signet-core" \
        cargo deny --offline --log-level error --manifest-path "$copy/Cargo.toml" \
        --config "$copy/deny.toml" check bans
    # ring is refused outright, whoever asks for it (in the lock already, so no download).
    with_dependency 'ring = "0.17"'
    expect_failure "ring anywhere (cargo deny bans)" "crate 'ring = [^']*' is explicitly banned" \
        cargo deny --offline --log-level error --manifest-path "$copy/Cargo.toml" \
        --config "$copy/deny.toml" check bans --hide-inclusion-graph
else
    echo "skipped: cargo deny is not installed (scripts/setup.sh installs it)" >&2
fi

cp "$work/core.toml" "$core"
[ "$failed" -eq 0 ] || exit 1
echo "layering self-test: every planted violation was caught"
