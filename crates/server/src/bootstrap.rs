//! The POSIX `sh` bootstrap script, for hosts without Signet installed: it does what
//! `signet enroll --token` does, with `openssl` and `curl`.
//!
//! Only three values are interpolated, and all are validated before they get here: the token is
//! `sgb_` plus 64 lower-case hex digits, its SHA-256 is 64 hex digits, and the API URL was
//! checked at start-up to contain no quote, backslash, dollar, backtick or whitespace. They are
//! placed in single quotes.
//!
//! The script proves possession of the key it makes (`docs/protocol.md` §15) with
//! `openssl pkeyutl -sign -rawin` (OpenSSL 1.1.1 or later). The token's hash is computed here
//! rather than in `sh`, whose `openssl dgst` output differs between OpenSSL versions. Where
//! signing fails, the script enrolls without a proof, which a vault that requires one refuses.

/// The one-line command an operator pastes on the machine.
pub fn install_command(script_url: &str) -> String {
    format!("curl -fsSL '{script_url}' | sh")
}

/// The script for one token.
pub fn script(api_url: &str, token: &str) -> String {
    let token_hash = signet_proto::token_digest(token);
    SCRIPT
        .replace("@API_URL@", api_url)
        .replace("@TOKEN_HASH@", &token_hash)
        .replace("@TOKEN@", token)
}

const SCRIPT: &str = r#"#!/bin/sh
# Signet machine bootstrap. Generates an Ed25519 key on this host, registers only its public
# half with a single-use token, and writes the identity for `signet` and the SikkerKey SDKs.
# The machine stays pending until an operator approves it.
set -eu
API_URL='@API_URL@'
TOKEN='@TOKEN@'
TOKEN_HASH='@TOKEN_HASH@'

die() { echo "signet bootstrap: $*" >&2; exit 1; }
command -v openssl >/dev/null 2>&1 || die "openssl is required"
command -v curl >/dev/null 2>&1 || die "curl is required"

HOST="$(hostname 2>/dev/null || echo host)"
NAME="${SIGNET_NAME:-$HOST}"
for v in "$HOST" "$NAME"; do
  case "$v" in
    ''|*[!A-Za-z0-9._-]*) die "hostname and SIGNET_NAME may use only letters, digits and ._-";;
  esac
done

umask 077
BASE="${SIGNET_HOME:-$HOME/.signet}"
mkdir -p "$BASE/vaults"
chmod 700 "$BASE" "$BASE/vaults"
BASE="$(cd "$BASE" && pwd)"
TMP="$(mktemp -d "$BASE/.bootstrap.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT INT TERM

openssl genpkey -algorithm Ed25519 -out "$TMP/private.pem" 2>/dev/null || die "openssl could not make an Ed25519 key"
PUB="$(openssl pkey -in "$TMP/private.pem" -pubout -outform DER | tail -c 32 | base64 | tr -d '\n')"

# Proof of possession: the new key signs "signet-enroll-v1:<vault>:<sha256(token)>:<key>:<time>".
# The vault is empty on this route (the token names it).
PROOF_FIELDS=''
NOW="$(date -u +%s 2>/dev/null || true)"
case "$NOW" in
  ''|*[!0-9]*) echo "signet bootstrap: no clock in Unix seconds; enrolling without a proof" >&2;;
  *)
    printf '%s' "signet-enroll-v1::$TOKEN_HASH:$PUB:$NOW" > "$TMP/proof.msg"
    if SIG="$(openssl pkeyutl -sign -rawin -inkey "$TMP/private.pem" -in "$TMP/proof.msg" 2>/dev/null | base64 | tr -d '\n')" \
      && [ "${#SIG}" -eq 88 ]; then
      PROOF_FIELDS=",\"proof\":\"$SIG\",\"timestamp\":$NOW"
    else
      echo "signet bootstrap: this openssl cannot sign with Ed25519; enrolling without a proof" >&2
    fi;;
esac

RESP="$(curl -fsS -X POST -H 'Content-Type: application/json' \
  --data "{\"token\":\"$TOKEN\",\"publicKey\":\"$PUB\",\"hostname\":\"$HOST\",\"name\":\"$NAME\"$PROOF_FIELDS}" \
  "$API_URL/v1/enroll/bootstrap")" || die "registration was refused (token spent or expired, or a proof of possession required?)"

field() { printf '%s' "$RESP" | sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
MID="$(field machineId)"; VID="$(field vaultId)"; MNAME="$(field machineName)"; URL="$(field apiUrl)"; FP="$(field fingerprint)"
case "$VID" in vault_*) ;; *) die "unexpected response from the server";; esac
case "$MID$VID" in *[!A-Za-z0-9_-]*) die "unexpected response from the server";; esac

DIR="$BASE/vaults/$VID"
mkdir -p "$DIR"
chmod 700 "$DIR"
mv "$TMP/private.pem" "$DIR/private.pem"
chmod 600 "$DIR/private.pem"
cat > "$DIR/identity.json.tmp" <<IDENTITY_JSON
{
  "machineId": "$MID",
  "machineName": "$MNAME",
  "vaultId": "$VID",
  "apiUrl": "$URL",
  "privateKeyPath": "$DIR/private.pem"
}
IDENTITY_JSON
chmod 600 "$DIR/identity.json.tmp"
mv "$DIR/identity.json.tmp" "$DIR/identity.json"

echo "Registered machine $MID in $VID (pending approval)."
echo "Key fingerprint: $FP"
echo "An operator approves it with: signet machine approve $MID --fingerprint $FP"
"#;
