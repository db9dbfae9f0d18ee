#!/usr/bin/env bash
# Installs or starts everything scripts/test.sh needs, so that on a fresh Debian machine with
# Rust the README's test command passes by itself: Debian packages (Chromium, Node.js and npm,
# PostgreSQL, Python's venv, a C compiler, curl, openssl and systemd-analyze), rustfmt and
# clippy, cargo-deny, a running PostgreSQL at 127.0.0.1:5432 with a `test` database, the Python
# venv, the browser tests' Node packages and the test OpenID provider's. scripts/test.sh runs it
# first.
#
# Idempotent: each part checks before it acts, so a second run installs nothing and takes about
# a second. Packages come from apt-get, run directly as root or through sudo; with neither, it
# stops and lists what to install.
#
# A PostgreSQL elsewhere: set SIGNET_TEST_PG_URL (a user that may create databases) and this
# script only checks that it answers.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }
die() {
    printf 'setup: %s\n' "$@" >&2
    exit 1
}

# as_root CMD...: CMD as root, directly or through sudo. Fails (status 125) when neither is possible.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        return 125
    fi
}
can_be_root() { [ "$(id -u)" -eq 0 ] || command -v sudo >/dev/null 2>&1; }

# --- Rust: the toolchain itself is the README's one prerequisite; the components are added. ---
command -v cargo >/dev/null 2>&1 ||
    die "cargo not found: install Rust (https://rustup.rs), then run this again."
for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
        command -v rustup >/dev/null 2>&1 ||
            die "cargo ${component/rustfmt/fmt} is missing and rustup is not here to add it: install the $component component."
        say "adding the $component component"
        rustup component add "$component"
    fi
done

# --- Debian packages -------------------------------------------------------------------------
missing=()
# Native code in the dependency tree (SQLite, aws-lc, libFuzzer) is compiled with the system cc.
command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
# scripts/deny.sh makes a git checkout of the advisory snapshot.
command -v git >/dev/null 2>&1 || missing+=(git)
# The bootstrap-script test runs the script a machine would run: it needs sh, curl and openssl.
for tool in curl openssl; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
# The second-language checks (protocol vectors, the official SDK) run in a venv. Python's venv
# module comes with the machine's CPython; Debian's python3-venv covers the system one.
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    missing+=(python3-venv)
fi
# The dashboard's browser tests drive Debian's Chromium with playwright-core from npm;
# Playwright's own browser download is never used.
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || missing+=(chromium chromium-driver)
# playwright-core needs Node.js 20 or later. Debian 13's nodejs is; Debian 12's is 18, so there
# Node comes from nodejs.org instead (below), and the distribution's is not installed.
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
apt_node_major() {
    apt-cache policy nodejs 2>/dev/null | sed -n 's/^ *Candidate: \([0-9]*\).*/\1/p' | grep . || echo 0
}
if [ "$(node_major)" -lt 20 ] && command -v apt-cache >/dev/null 2>&1 && [ "$(apt_node_major)" -ge 20 ]; then
    command -v node >/dev/null 2>&1 || missing+=(nodejs)
    command -v npm >/dev/null 2>&1 || missing+=(npm)
fi
# The PostgreSQL backend's tests use a real server (127.0.0.1:5432, user postgres) and, for the
# outage test, a private cluster made with Debian's pg_createcluster.
fresh_postgres=false
if ! command -v pg_createcluster >/dev/null 2>&1; then
    missing+=(postgresql postgresql-common)
    fresh_postgres=true
fi
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
# The GitHub Action's script (tests/integrations) downloads with curl and is held shellcheck-clean.
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
# `signet completions` is checked by the shells that load it (crates/cli/tests/completions.rs).
command -v zsh >/dev/null 2>&1 || missing+=(zsh)
command -v fish >/dev/null 2>&1 || missing+=(fish)
# The systemd unit (deploy/systemd) is checked with systemd-analyze verify (tests/deploy).
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
# PKCS#11 unseal tests run against a real SoftHSM2 token (crates/server/tests/unseal_pkcs11.rs,
# crates/cli/tests/e2e/unseal.rs); they find the module at /usr/lib/softhsm/libsofthsm2.so.
[ -e /usr/lib/softhsm/libsofthsm2.so ] && command -v softhsm2-util >/dev/null 2>&1 || missing+=(softhsm2)

if [ "${#missing[@]}" -gt 0 ]; then
    if ! command -v apt-get >/dev/null 2>&1 || ! can_be_root; then
        die "missing: ${missing[*]} (Debian package names)." \
            "Install them (as root: apt-get install ${missing[*]}), then run this again."
    fi
    say "installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        "${missing[@]}"
fi

# Node.js 20 from nodejs.org into /usr/local (ahead of /usr/bin on PATH), checked against the
# release's published SHA-256 sums, when the distribution has nothing recent enough.
if [ "$(node_major)" -lt 20 ] || ! command -v npm >/dev/null 2>&1; then
    case "$(uname -m)" in
        x86_64) node_arch=x64 ;;
        aarch64) node_arch=arm64 ;;
        *) die "Node.js 20 or later is needed; install it for $(uname -m), then run this again." ;;
    esac
    can_be_root || die "Node.js 20 or later is needed (found: $(node --version 2>/dev/null || echo none))." \
        "Install it (https://nodejs.org), then run this again."
    base=https://nodejs.org/dist/latest-v20.x
    node_dl="$(mktemp -d)"
    curl -fsSL "$base/SHASUMS256.txt" -o "$node_dl/SHASUMS256.txt"
    tarball="$(grep -o "node-v20[.0-9]*-linux-$node_arch\.tar\.gz" "$node_dl/SHASUMS256.txt" | head -1)"
    [ -n "$tarball" ] || die "no Linux $node_arch tarball listed in $base/SHASUMS256.txt"
    say "installing Node.js from $base/$tarball into /usr/local"
    curl -fsSL "$base/$tarball" -o "$node_dl/$tarball"
    (cd "$node_dl" && grep " $tarball\$" SHASUMS256.txt | sha256sum -c --quiet -) ||
        die "$tarball does not match its published SHA-256 sum"
    as_root tar -xzf "$node_dl/$tarball" -C /usr/local --strip-components=1 \
        --exclude CHANGELOG.md --exclude LICENSE --exclude README.md
    rm -rf "$node_dl"
    hash -r
    [ "$(node_major)" -ge 20 ] || die "Node.js in /usr/local/bin is not first on PATH ($(command -v node) is $(node --version))."
fi

# --- cargo-deny (scripts/deny.sh): 0.20.2 is the version deny.toml is written for, and it builds
# with the workspace's rust-version (about 5 minutes, once).
deny_version=0.20.2
if ! cargo deny --version 2>/dev/null | grep -qx "cargo-deny $deny_version"; then
    say "installing cargo-deny $deny_version (about 5 minutes, once)"
    cargo install --locked "cargo-deny@$deny_version"
fi

# --- PostgreSQL ------------------------------------------------------------------------------
# psql_ok URL: the server at URL answers a query without asking for a password.
psql_ok() { psql "$1" -w -qtAc 'SELECT 1' >/dev/null 2>&1; }

if [ -n "${SIGNET_TEST_PG_URL:-}" ]; then
    psql_ok "$SIGNET_TEST_PG_URL" ||
        die "SIGNET_TEST_PG_URL ($SIGNET_TEST_PG_URL) does not answer; start that server or unset the variable."
else
    admin_url="postgres://postgres@127.0.0.1:5432/postgres"
    version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)"
    if [ -z "$version" ]; then
        # Packages installed without their default cluster: make one, as the package would.
        version="$(ls /usr/lib/postgresql | sort -V | tail -1)"
        say "creating PostgreSQL $version cluster main on port 5432"
        as_root pg_createcluster "$version" main -p 5432 -- --auth-host=trust --auth-local=trust ||
            die "could not create a PostgreSQL cluster (needs root or sudo)."
    fi
    # The shared cluster may be stopped (containers start no services); start it.
    if ! pg_isready -q -h 127.0.0.1 -p 5432; then
        say "starting PostgreSQL $version main"
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
            die "PostgreSQL $version main is stopped and could not be started (needs root or sudo):" \
                "  pg_ctlcluster --skip-systemctl-redirect $version main start"
    fi
    if ! psql_ok "$admin_url"; then
        hba="/etc/postgresql/$version/main/pg_hba.conf"
        if [ "$fresh_postgres" = true ]; then
            # A cluster this run installed: Debian's default asks for passwords over TCP; the
            # tests connect as postgres without one, so loopback connections are trusted.
            say "trusting loopback connections in $hba (a cluster installed just now, for tests)"
            as_root sed -i -E 's/^(host[[:space:]]+all[[:space:]]+all[[:space:]]+(127\.0\.0\.1\/32|::1\/128)[[:space:]]+).*/\1trust/' "$hba"
            as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
        fi
        psql_ok "$admin_url" ||
            die "PostgreSQL at 127.0.0.1:5432 does not let user postgres in without a password." \
                "The tests need a user that may create databases: allow it in $hba" \
                "(host all postgres 127.0.0.1/32 trust) and reload, or set SIGNET_TEST_PG_URL."
    fi
    if [ "$(psql "$admin_url" -w -qtAc "SELECT 1 FROM pg_database WHERE datname = 'test'")" != 1 ]; then
        say "creating the test database"
        psql "$admin_url" -w -qc 'CREATE DATABASE test'
    fi
    # The managed-password tests need PostgreSQL to check a password: members of the role
    # signet_pw_checked log in over loopback with one (SCRAM); every other role stays trusted.
    if [ "$(psql "$admin_url" -w -qtAc "SELECT 1 FROM pg_roles WHERE rolname = 'signet_pw_checked'")" != 1 ]; then
        psql "$admin_url" -w -qc 'CREATE ROLE signet_pw_checked NOLOGIN'
    fi
    hba="/etc/postgresql/$version/main/pg_hba.conf"
    if ! as_root grep -q '+signet_pw_checked' "$hba"; then
        say "checking the passwords of signet_pw_checked's members in $hba"
        as_root sed -i '1i host all +signet_pw_checked 127.0.0.1/32 scram-sha-256' "$hba"
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
    fi
fi

# --- Python venv for the second-language checks, reinstalled when tests/requirements.txt changes.
if [ ! -x .venv/bin/python ]; then
    say "creating .venv"
    python3 -m venv .venv
fi
requirements="$(sha256sum tests/requirements.txt | cut -d' ' -f1)"
if [ "$(cat .venv/.requirements.sha256 2>/dev/null)" != "$requirements" ]; then
    say "installing tests/requirements.txt into .venv"
    .venv/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
    echo "$requirements" >.venv/.requirements.sha256
fi

# --- The official SikkerKey CLI (its sync agent, for the managed-password test), reinstalled
# when tests/agent/package-lock.json (which pins its integrity) changes.
agent_lock="$(sha256sum tests/agent/package-lock.json | cut -d' ' -f1)"
if [ "$(cat tests/agent/node_modules/.signet-lock.sha256 2>/dev/null)" != "$agent_lock" ]; then
    say "installing the official SikkerKey CLI (npm ci in tests/agent)"
    (cd tests/agent && npm ci --no-audit --no-fund --loglevel=error)
    echo "$agent_lock" >tests/agent/node_modules/.signet-lock.sha256
fi

# --- The browser tests' Node packages, reinstalled when package-lock.json changes.
lock="$(sha256sum tests/browser/package-lock.json | cut -d' ' -f1)"
if [ "$(cat tests/browser/node_modules/.signet-lock.sha256 2>/dev/null)" != "$lock" ]; then
    say "installing the browser tests' Node packages (npm ci)"
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
    echo "$lock" >tests/browser/node_modules/.signet-lock.sha256
fi

# --- The test OpenID provider (oidc-provider, for the SSO tests), reinstalled when
# tests/oidc/package-lock.json changes.
oidc_lock="$(sha256sum tests/oidc/package-lock.json | cut -d' ' -f1)"
if [ "$(cat tests/oidc/node_modules/.signet-lock.sha256 2>/dev/null)" != "$oidc_lock" ]; then
    say "installing the test OpenID provider's Node packages (npm ci in tests/oidc)"
    (cd tests/oidc && npm ci --no-audit --no-fund --loglevel=error)
    echo "$oidc_lock" >tests/oidc/node_modules/.signet-lock.sha256
fi

say "ready"
