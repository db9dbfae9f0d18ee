#!/usr/bin/env python3
"""Checks Signet's conformance vectors with a second, independent implementation.

    python3 -m venv /tmp/vecvenv && /tmp/vecvenv/bin/pip install cryptography
    /tmp/vecvenv/bin/python scripts/vectors/check_vectors.py [testdata/vectors]

Nothing here comes from the Rust code: the rules are re-implemented from docs/protocol.md, using
only the standard library and the `cryptography` package. Ed25519 signing and the final
verification go through `cryptography` (OpenSSL). OpenSSL's verify is not strict enough on its
own (it accepts small-order public keys and small-order R), and `cryptography` has no way to ask
whether a key lies in the prime-order subgroup, so those checks are made here explicitly, with a
little pure-Python curve arithmetic that also shows the strictness vectors really would pass a
lax verifier.

Prints one line per failing file and ends with `vectors: N passed, M failed`; exits 1 on any
failure (or when no vector was found).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import json
import re
import sys
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

WINDOW_SECS = 300

# ---------------------------------------------------------------------------------------------
# Edwards25519 arithmetic (RFC 8032 §5.1), only what the strictness checks need.
#
# The curve is -x^2 + y^2 = 1 + d x^2 y^2 over GF(p). Its points form a group of order 8L: a
# subgroup of prime order L (where every honest key [a]B lives) times the eight "torsion" points
# of order 1, 2, 4 or 8. Points are kept as affine (x, y) pairs; that is slow (two inversions per
# addition) but short, and fast enough for a few hundred points.

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = (-121665 * pow(121666, P - 2, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
IDENTITY = (0, 1)
BASE_Y = 4 * pow(5, P - 2, P) % P


def _sqrt_ratio(y: int) -> int | None:
    """An x with x^2 = (y^2 - 1) / (d y^2 + 1), or None when there is none."""
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    if x2 == 0:
        return 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    return x


def decode_point(raw: bytes, *, lax: bool) -> tuple[int, int] | None:
    """Decodes a 32-byte encoding. Strict follows RFC 8032 (y < p, no "negative zero"); lax
    follows what curve25519-dalek decompression accepts (y reduced mod p, sign of 0 ignored)."""
    v = int.from_bytes(raw, "little")
    y, sign = v & ((1 << 255) - 1), v >> 255
    if y >= P:
        if not lax:
            return None
        y -= P
    x = _sqrt_ratio(y)
    if x is None:
        return None
    if x == 0 and sign and not lax:
        return None
    if (x & 1) != sign:
        x = (P - x) % P
    return (x, y)


def point_add(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    """The Edwards addition law. Because d is not a square mod p, the denominators 1 +- t are
    never zero, so this one formula is complete: it also doubles, and adds the identity and the
    torsion points, with no special cases."""
    (x1, y1), (x2, y2) = a, b
    t = D * x1 * x2 * y1 * y2 % P
    x3 = (x1 * y2 + x2 * y1) * pow(1 + t, P - 2, P) % P
    y3 = (y1 * y2 + x1 * x2) * pow(1 - t, P - 2, P) % P
    return (x3, y3)


def scalar_mult(k: int, point: tuple[int, int]) -> tuple[int, int]:
    """[k]point by double-and-add, least significant bit first (not constant time: public data
    only)."""
    acc = IDENTITY
    while k:
        if k & 1:
            acc = point_add(acc, point)
        point = point_add(point, point)
        k >>= 1
    return acc


BASE = decode_point(BASE_Y.to_bytes(32, "little"), lax=False)


def in_prime_order_subgroup(point: tuple[int, int]) -> bool:
    """Whether [L]point is the identity. L kills exactly the prime-order subgroup: a point
    A = P + T with T a torsion point of order 2, 4 or 8 has [L]A = [L]T = [L mod 8]T, and L is odd,
    so that is T's multiple by a unit mod its order, never the identity."""
    return scalar_mult(L, point) == IDENTITY


assert BASE is not None and in_prime_order_subgroup(BASE), "the base point has order L"

# The eight points of small order, canonically encoded (orders 1, 2, 4, 4, 8, 8, 8, 8)...
SMALL_ORDER_CANONICAL = {
    bytes.fromhex(h)
    for h in (
        "0100000000000000000000000000000000000000000000000000000000000000",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0000000000000000000000000000000000000000000000000000000000000080",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    )
}
# ...and their non-canonical spellings (y = p and p + 1 with either sign, and x = 0 with the
# sign bit set), which a lax decoder maps onto them. R is decoded laxly, so it needs these too.
SMALL_ORDER_ANY = SMALL_ORDER_CANONICAL | {
    bytes.fromhex(h)
    for h in (
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "0100000000000000000000000000000000000000000000000000000000000080",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    )
}


def lax_verify(public: bytes, message: bytes, sig: bytes) -> bool:
    """The cofactorless equation [S]B = R + [k]A with no strictness at all: no S < L check,
    small-order A and R allowed. Used only to show a strictness vector is a real one."""
    a, r = decode_point(public, lax=True), decode_point(sig[:32], lax=True)
    if a is None or r is None:
        return False
    s = int.from_bytes(sig[32:], "little")
    k = int.from_bytes(hashlib.sha512(sig[:32] + public + message).digest(), "little") % L
    return scalar_mult(s, BASE) == point_add(r, scalar_mult(k, a))


# ---------------------------------------------------------------------------------------------
# The protocol's rules, from docs/protocol.md.

UNRESERVED = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
PATH_BYTES = UNRESERVED | set(b"!$&'()*+,;=:@")
HEX_UPPER = set(b"0123456789ABCDEF")
HEX_ANY = HEX_UPPER | set(b"abcdef")
NONCE_RE = re.compile(r"[A-Za-z0-9+/=_-]{16,64}")
TIMESTAMP_RE = re.compile(r"0|[1-9][0-9]{0,11}")
METHOD_RE = re.compile(r"[A-Z]{1,16}")
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
VAULT_RE = re.compile(r"vault_[A-Za-z0-9]{16}")
AUTH_HEADERS = ("X-Timestamp", "X-Nonce", "X-Signature")


def path_problem(target: str) -> str | None:
    """Why a request target is not a canonical origin-form path, or None."""
    if "?" in target:
        return "query_string"
    if not target.startswith("/"):
        return "not_origin_form"
    if target == "/":
        return None
    segments = target[1:].split("/")
    for i, segment in enumerate(segments):
        if segment == "":
            return "trailing_slash" if i == len(segments) - 1 else "double_slash"
        if segment in (".", ".."):
            return "dot_segment"
        raw = segment.encode("utf-8")
        decoded = bytearray()
        j = 0
        while j < len(raw):
            if raw[j] == ord("%"):
                digits = raw[j + 1 : j + 3]
                if len(digits) < 2 or not set(digits) <= HEX_ANY:
                    return "bad_percent"
                if not set(digits) <= HEX_UPPER:
                    return "lowercase_percent"
                value = int(digits, 16)
                if value == ord("/"):
                    return "encoded_slash"
                if value == ord("%"):
                    return "encoded_percent"
                if value in UNRESERVED:
                    return "encoded_unreserved"
                if value < 0x20 or value == 0x7F:
                    return "encoded_control"
                decoded.append(value)
                j += 3
                continue
            if raw[j] not in PATH_BYTES:
                return "disallowed_byte"
            decoded.append(raw[j])
            j += 1
        # Encoded octets >= 0x80 must form UTF-8 (Python's strict decoder also refuses overlong
        # forms and surrogates, as UTF-8 itself does).
        try:
            bytes(decoded).decode("utf-8", errors="strict")
        except UnicodeDecodeError:
            return "invalid_utf8"
    return None


def strict_b64(text: str, length: int) -> bytes | None:
    """Standard padded base64 of exactly `length` bytes, in its one spelling: anything that does
    not re-encode to the same text (no padding, other alphabet, whitespace, non-zero padding
    bits) is refused."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None
    if len(raw) != length or base64.b64encode(raw).decode("ascii") != text:
        return None
    return raw


def key_problem(text: str) -> str | None:
    """Why a registration-form public key is refused, or None."""
    raw = strict_b64(text, 32)
    if raw is None:
        return "encoding"
    v = int.from_bytes(raw, "little")
    y, sign = v & ((1 << 255) - 1), v >> 255
    if y >= P:
        return "non_canonical"
    x = _sqrt_ratio(y)
    if x is None:
        return "not_on_curve"
    if x == 0 and sign:
        return "non_canonical"
    listed = raw in SMALL_ORDER_CANONICAL
    point = decode_point(raw, lax=False)
    computed = scalar_mult(8, point) == IDENTITY
    if listed != computed:
        raise AssertionError(f"small-order list and arithmetic disagree on {raw.hex()}")
    if listed:
        return "small_order"
    # A key made from a seed is [a]B, in the prime-order subgroup. Anything with a torsion
    # component ("mixed order") is refused; OpenSSL would take it.
    if not in_prime_order_subgroup(point):
        return "mixed_order"
    return None


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def fingerprint(raw: bytes) -> str:
    h = hashlib.sha256(raw).hexdigest()[:20]
    return "-".join(h[i : i + 4] for i in range(0, 20, 4))


def public_of(seed_hex: str) -> bytes:
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex))
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def sign(seed_hex: str, message: str) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex)).sign(message.encode("utf-8"))


class Mismatch(Exception):
    """The vector does not hold."""


def ensure(ok: bool, why: str) -> None:
    if not ok:
        raise Mismatch(why)


# ---------------------------------------------------------------------------------------------
# Signing vectors.


def body_of(request: dict) -> bytes:
    if "body_hex" in request:
        return bytes.fromhex(request["body_hex"])
    return request.get("body_utf8", "").encode("utf-8")


def header_values(headers: list[dict], name: str) -> list[str]:
    return [h["value"] for h in headers if h["name"].lower() == name.lower()]


def defined_signing_string(case: dict, body: bytes) -> str | None:
    """The string the request's parts define, or None when a part is missing, repeated or not
    canonical."""
    req = case["request"]
    ts, nonce = header_values(req["headers"], "X-Timestamp"), header_values(req["headers"], "X-Nonce")
    if not METHOD_RE.fullmatch(req["method"]) or path_problem(req["target"]) is not None:
        return None
    if len(ts) != 1 or len(nonce) != 1:
        return None
    if not TIMESTAMP_RE.fullmatch(ts[0]) or not NONCE_RE.fullmatch(nonce[0]):
        return None
    return f"{req['method']}:{req['target']}:{ts[0]}:{nonce[0]}:{hashlib.sha256(body).hexdigest()}"


def split_fields(s: str) -> list[str]:
    """The five fields of a signing string; only the path may contain ':'."""
    head, ts, nonce, digest = s.rsplit(":", 3)
    method, path = head.split(":", 1)
    return [method, path, ts, nonce, digest]


def diagnose(case: dict, client: str, verifier: str, sig: bytes) -> str:
    """Names what makes an honest client's signature fail, from the case itself."""
    if client != verifier:
        c, v = split_fields(client), split_fields(verifier)
        if not re.fullmatch(r"[0-9a-f]{64}", c[4]) or c[0] != c[0].upper():
            return "signing_string_format"
        names = ["method", "path", "timestamp", "nonce", "body"]
        return next(f"{names[i]}_mismatch" for i in range(5) if c[i] != v[i])
    if b64(public_of(case["seed"])) != case["public_key"]:
        return "wrong_key"
    if sign(case["seed"], client) != sig:
        return "corrupted_signature"
    return "signature_mismatch"


def verify_request(case: dict, body: bytes) -> tuple[str, str | None]:
    """The verifier of docs/protocol.md, step by step, as (expect, reason)."""
    req = case["request"]
    if not METHOD_RE.fullmatch(req["method"]):
        return ("unauthenticated", "method_format")
    problem = path_problem(req["target"])
    if problem:
        return ("malformed_request", problem)
    values = {}
    for name in (case["principal_header"], *AUTH_HEADERS):
        found = header_values(req["headers"], name)
        if len(found) != 1:
            return ("unauthenticated", "missing_header" if not found else "duplicate_header")
        values[name] = found[0]
    principal = values[case["principal_header"]]
    if not UUID_RE.fullmatch(principal):
        return ("unauthenticated", "principal_format")
    ts_text, nonce, sig_text = values["X-Timestamp"], values["X-Nonce"], values["X-Signature"]
    if not TIMESTAMP_RE.fullmatch(ts_text):
        return ("unauthenticated", "timestamp_format")
    ts = int(ts_text)
    if case["now"] - ts > WINDOW_SECS:
        return ("unauthenticated", "window_past")
    if ts - case["now"] > WINDOW_SECS:
        return ("unauthenticated", "window_future")
    if not NONCE_RE.fullmatch(nonce):
        return ("unauthenticated", "nonce_format")
    sig = strict_b64(sig_text, 64)
    if sig is None:
        return ("unauthenticated", "signature_encoding")
    message = f"{req['method']}:{req['target']}:{ts_text}:{nonce}:{hashlib.sha256(body).hexdigest()}"

    # verify_strict: a key of small order, S >= L, or R of small order fail whatever the
    # equation says; OpenSSL checks S < L itself but not the other two.
    key_reason = key_problem(case["public_key"])
    if key_reason == "small_order":
        return ("bad_signature", "small_order_key")
    ensure(key_reason is None, f"the registered public_key is refused ({key_reason})")
    public = base64.b64decode(case["public_key"])
    if int.from_bytes(sig[32:], "little") >= L:
        return ("bad_signature", "non_canonical_signature")
    if sig[:32] in SMALL_ORDER_ANY:
        return ("bad_signature", "small_order_r")
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(sig, message.encode("utf-8"))
    except InvalidSignature:
        if "seed" not in case:
            return ("bad_signature", "signature_mismatch")
        client = case.get("client_signing_string", message)
        return ("bad_signature", diagnose(case, client, message, sig))

    # The nonce is recorded only after the signature verified, per (principal, nonce).
    if any(s["principal"] == principal and s["nonce"] == nonce for s in case.get("seen_nonces", [])):
        return ("unauthenticated", "replay")
    return ("valid", None)


STRICTNESS = {"small_order_key", "small_order_r", "non_canonical_signature"}


def check_signing(case: dict) -> None:
    req = case["request"]
    body = body_of(req)
    ensure(hashlib.sha256(body).hexdigest() == case["body_sha256"], "body_sha256 is not the body's")
    defined = defined_signing_string(case, body)
    ensure(defined == case["signing_string"], f"signing_string is {defined!r} here")

    want = (case["expect"], case.get("reason"))
    got = verify_request(case, body)
    ensure(got == want, f"expected {want}, got {got}")

    client = case.get("client_signing_string", case["signing_string"])
    sig_values = header_values(req["headers"], "X-Signature")
    sig = strict_b64(sig_values[0], 64) if len(sig_values) == 1 else None
    reason = case.get("reason")

    if case["expect"] == "valid":
        ensure(b64(public_of(case["seed"])) == case["public_key"], "seed and public_key differ")
        # Ed25519 is deterministic: a conforming client produces exactly this header.
        ensure(sign(case["seed"], client) == sig, "signing the signing_string does not give X-Signature")
    elif reason in STRICTNESS:
        ensure(sig is not None and client is not None, "a strictness case needs a signature")
        public = base64.b64decode(case["public_key"])
        ensure(lax_verify(public, client.encode("utf-8"), sig),
               "a lax verifier refuses it too, so the case tests nothing strict")
        if reason == "non_canonical_signature":
            honest = sign(case["seed"], client)
            s, honest_s = int.from_bytes(sig[32:], "little"), int.from_bytes(honest[32:], "little")
            ensure(sig[:32] == honest[:32] and s - L == honest_s,
                   "the signature is not the honest one with S + L")
    elif case["expect"] != "bad_signature" and "seed" in case and sig is not None and client is not None:
        # One defect per case: the client's own signature over what it signed is sound.
        ensure(sign(case["seed"], client) == sig, "the client's signature is not the honest one")


# ---------------------------------------------------------------------------------------------
# Key and identity vectors.


def check_key(case: dict) -> None:
    problem = key_problem(case["public_key"])
    if case["expect"] == "accept":
        ensure(problem is None, f"refused as {problem}")
        raw = base64.b64decode(case["public_key"])
        ensure(fingerprint(raw) == case["fingerprint"], f"fingerprint is {fingerprint(raw)}")
        # OpenSSL must take it as a key too (it does not refuse any point).
        Ed25519PublicKey.from_public_bytes(raw)
        if "seed" in case:
            ensure(public_of(case["seed"]) == raw, "the seed gives another key")
    else:
        ensure(case["expect"] == "reject", f"unknown expect {case['expect']!r}")
        ensure(problem == case.get("reason"), f"refused as {problem}, vector says {case.get('reason')}")
    if "raw_hex" in case:
        ensure(b64(bytes.fromhex(case["raw_hex"])) == case["public_key"], "public_key is not base64(raw_hex)")
    if "order" in case:
        point = decode_point(bytes.fromhex(case["raw_hex"]), lax=False)
        order = next((n for n in (1, 2, 4, 8) if scalar_mult(n, point) == IDENTITY), None)
        ensure(order == case["order"], f"order is {order}")


# scheme "://" host [":" port], and nothing else: no path (not even "/"), query, fragment or
# user info. A host is a name of letters, digits, "-", "." and "_", or a bracketed IPv6 address.
API_URL_RE = re.compile(
    r"(?P<scheme>https?)://(?:(?P<name>[A-Za-z0-9._-]+)|\[(?P<v6>[0-9A-Fa-f:.]+)\])"
    r"(?::(?P<port>[1-9][0-9]{0,4}))?"
)


def api_url_problem(url: str) -> str | None:
    """Why readers refuse an apiUrl (docs/protocol.md §13): "insecure" (not https://, nor
    http:// to localhost, 127.0.0.0/8 or [::1]), "malformed" (not exactly an origin; the SDKs
    append the request path to it, so a trailing "/" would make "//v1/..."), or None."""
    if not url.startswith(("https://", "http://")):
        return "insecure"
    m = API_URL_RE.fullmatch(url)
    if m is None or (m["port"] is not None and int(m["port"]) > 65535):
        return "malformed"
    if m["v6"] is not None:
        try:
            v6 = ipaddress.IPv6Address(m["v6"])
        except ValueError:
            return "malformed"
        loopback = v6 == ipaddress.IPv6Address("::1")
    else:
        try:
            loopback = m["name"] == "localhost" or ipaddress.IPv4Address(m["name"]).is_loopback
        except ValueError:
            loopback = False
    return None if m["scheme"] == "https" or loopback else "insecure"


PKCS8_V1_PREFIX = bytes.fromhex("302e020100300506032b657004220420")
IDENTITY_FIELDS = ["machineId", "machineName", "vaultId", "apiUrl", "privateKeyPath"]


def check_identity(case: dict) -> None:
    seed = bytes.fromhex(case["seed"])
    key = Ed25519PrivateKey.from_private_bytes(seed)
    raw = public_of(case["seed"])
    ensure(b64(raw) == case["public_key"], "public_key")
    ensure(fingerprint(raw) == case["fingerprint"], f"fingerprint is {fingerprint(raw)}")

    pem = case["private_pem"]
    lines = pem.split("\n")
    ensure(lines[0] == "-----BEGIN PRIVATE KEY-----" and lines[-2:] == ["-----END PRIVATE KEY-----", ""],
           "not a PRIVATE KEY PEM block ending in a newline")
    der = base64.b64decode("".join(lines[1:-2]), validate=True)
    ensure(der == PKCS8_V1_PREFIX + seed, "the DER is not PKCS#8 v1 of this seed (without public key)")
    openssl_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    ensure(openssl_pem == pem, "OpenSSL writes a different PEM for this seed")
    loaded = serialization.load_pem_private_key(pem.encode(), password=None)
    ensure(loaded.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption()) == seed, "the PEM loads to another seed")

    text = case["identity_json"]
    identity = json.loads(text)
    ensure(list(identity) == IDENTITY_FIELDS, f"identity.json fields are {list(identity)}")
    ensure(json.dumps(identity, indent=2, ensure_ascii=False) + "\n" == text,
           "identity.json is not two-space pretty JSON with a final newline")
    ensure(UUID_RE.fullmatch(identity["machineId"]) is not None, "machineId")
    ensure(VAULT_RE.fullmatch(identity["vaultId"]) is not None, "vaultId")
    problem = api_url_problem(identity["apiUrl"])
    ensure(problem is None, f"apiUrl is refused ({problem})")
    expected_tail = f"/vaults/{identity['vaultId']}/private.pem"
    ensure(identity["privateKeyPath"].endswith(expected_tail), "privateKeyPath")


# ---------------------------------------------------------------------------------------------
# Enrollment proofs (docs/protocol.md §15).

PROOF_DOMAIN = "signet-enroll-v1"
ENROLL_REASONS = {"wrong_key", "wrong_token", "wrong_vault", "corrupted_signature"}


def proof_message(vault: str | None, token: str | None, public_key: str, ts: int) -> str:
    """signet-enroll-v1:<vaultId>:<sha256hex(token)>:<publicKey>:<timestamp>, empty fields for
    no vault (the bootstrap route) and no token (a tokenless request)."""
    digest = hashlib.sha256(token.encode("utf-8")).hexdigest() if token is not None else ""
    return f"{PROOF_DOMAIN}:{vault or ''}:{digest}:{public_key}:{ts}"


def verify_proof(case: dict) -> tuple[str, str | None]:
    """The server's check, as (expect, reason); a failed signature is reported as
    "bad_signature", which every signature reason maps to."""
    sig = strict_b64(case["proof"], 64)
    if sig is None:
        return ("invalid", "signature_encoding")
    ts = case["timestamp"]
    ensure(isinstance(ts, int) and 0 <= ts < 10**12, "timestamp is not decimal Unix seconds")
    if case["now"] - ts > WINDOW_SECS:
        return ("invalid", "window_past")
    if ts - case["now"] > WINDOW_SECS:
        return ("invalid", "window_future")
    ensure(key_problem(case["public_key"]) is None, "the registered public_key is refused")
    public = base64.b64decode(case["public_key"])
    # verify_strict: S < L and R not of small order, then the equation (OpenSSL checks S < L
    # itself; it is checked here first so the reason is known).
    if int.from_bytes(sig[32:], "little") >= L:
        return ("invalid", "non_canonical_signature")
    if sig[:32] in SMALL_ORDER_ANY:
        return ("invalid", "small_order_r")
    message = proof_message(case["vault_id"], case["token"], case["public_key"], ts)
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(sig, message.encode("utf-8"))
    except InvalidSignature:
        return ("invalid", "bad_signature")
    return ("valid", None)


def check_enrollment(case: dict) -> None:
    token = case["token"]
    digest = hashlib.sha256(token.encode("utf-8")).hexdigest() if token is not None else None
    ensure(digest == case["token_sha256"], "token_sha256 is not the token's")
    if case["vault_id"] is not None:
        ensure(VAULT_RE.fullmatch(case["vault_id"]) is not None, "vault_id")
    built = proof_message(case["vault_id"], token, case["public_key"], case["timestamp"])
    ensure(built == case["message"], f"message is {built!r} here")

    want = (case["expect"], case.get("reason"))
    got = verify_proof(case)
    if got == ("invalid", "bad_signature"):
        ensure(want[0] == "invalid" and want[1] in ENROLL_REASONS, f"expected {want}, got {got}")
    else:
        ensure(got == want, f"expected {want}, got {got}")

    client = case.get("client_message", case["message"])
    ensure(client.startswith(PROOF_DOMAIN + ":") and client.count(":") == 4, "client_message shape")
    honest = sign(case["seed"], client)
    reason = case.get("reason")
    if reason in (None, "wrong_key", "wrong_token", "wrong_vault", "window_past", "window_future"):
        # One defect per case: the proof is the signer's honest signature over what it signed.
        ensure(b64(honest) == case["proof"], "the proof is not the honest signature over client_message")
    if reason == "wrong_key":
        ensure(b64(public_of(case["seed"])) != case["public_key"], "the signer owns the key")
    if reason in ("wrong_token", "wrong_vault"):
        # The field that differs is the one the reason names.
        c, v = client.split(":"), case["message"].split(":")
        differs = [i for i in range(5) if c[i] != v[i]]
        ensure(differs == [2 if reason == "wrong_token" else 1], f"fields {differs} differ")
    if reason == "non_canonical_signature":
        sig = base64.b64decode(case["proof"])
        ensure(lax_verify(base64.b64decode(case["public_key"]), client.encode("utf-8"), sig),
               "a lax verifier refuses it too, so the case tests nothing strict")
        s, honest_s = int.from_bytes(sig[32:], "little"), int.from_bytes(honest[32:], "little")
        ensure(sig[:32] == honest[:32] and s - L == honest_s, "not the honest signature with S + L")


# ---------------------------------------------------------------------------------------------
# Webhook deliveries (docs/protocol.md, "Webhook signatures"): RFC 9421 with Ed25519 over an
# RFC 9530 Content-Digest. Rebuilt here from the RFCs' rules, not from the Rust code.

WEBHOOK_COVERED = ["@method", "@target-uri", "content-digest", "content-type", "signet-delivery-id"]


def jwk_thumbprint(x: str) -> str:
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_webhook(case: dict) -> tuple[str, str | None]:
    req = case["request"]
    headers = {h["name"].lower(): h["value"].strip() for h in req["headers"]}
    body = req["body_utf8"].encode("utf-8")
    sig_input = headers["signature-input"]
    ensure(sig_input.startswith("signet=("), "Signature-Input label")
    params_raw = sig_input[len("signet="):]
    inner, _, params = params_raw[1:].partition(")")
    covered = [c.strip('"') for c in inner.split(" ") if c]
    values = dict(p.split("=", 1) for p in params.lstrip(";").split(";"))
    ensure(all(c in covered for c in WEBHOOK_COVERED), "coverage")
    ensure(values.get("alg") == '"ed25519"' and values.get("tag") == '"signet-webhook"', "profile")
    created = int(values["created"])
    keyid = values["keyid"].strip('"')
    keys = {k.get("kid") or jwk_thumbprint(k["x"]): k["x"] for k in case["jwks"]["keys"]}
    for k in case["jwks"]["keys"]:
        ensure(k["kid"] == jwk_thumbprint(k["x"]), "the kid is the RFC 7638 thumbprint")
    if keyid not in keys:
        return "invalid", "unknown_key"
    digest = "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
    ensure(digest == case["body_content_digest"], "body digest")
    if digest != headers["content-digest"]:
        return "invalid", "digest_mismatch"
    lines = []
    for c in covered:
        value = {"@method": req["method"], "@target-uri": req["url"]}.get(c, headers.get(c))
        lines.append(f'"{c}": {value}')
    lines.append(f'"@signature-params": {params_raw}')
    base = "\n".join(lines)
    sig = headers["signature"]
    ensure(sig.startswith("signet=:") and sig.endswith(":"), "Signature header")
    raw_sig = base64.b64decode(sig[len("signet=:"):-1], validate=True)
    public = b64url_decode(keys[keyid])
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(raw_sig, base.encode())
    except InvalidSignature:
        return "invalid", "bad_signature"
    if case["now"] - created > case["max_age"]:
        return "invalid", "too_old"
    return "valid", None


def check_webhook(case: dict) -> None:
    expect, reason = verify_webhook(case)
    ensure((expect, reason) == (case["expect"], case.get("reason")), f"got {expect} {reason}")
    if case["expect"] != "invalid" or case.get("reason") not in ("digest_mismatch", "unknown_key"):
        # The recorded base is what the verifier rebuilds from the request as received.
        req = case["request"]
        headers = {h["name"].lower(): h["value"] for h in req["headers"]}
        ensure(case["signature_base"].split("\n")[0] == f'"@method": {req["method"]}', "base")
        ensure(case["signature_base"].endswith(headers["signature-input"][len("signet="):]), "base params")


# ---------------------------------------------------------------------------------------------

CHECKS = {
    "signing": check_signing,
    "keys": check_key,
    "identity": check_identity,
    "enrollment": check_enrollment,
    "webhook": check_webhook,
}


def main(argv: list[str]) -> int:
    default = Path(__file__).resolve().parents[2] / "testdata" / "vectors"
    root = Path(argv[1]) if len(argv) > 1 else default
    passed = failed = 0
    for directory, check in CHECKS.items():
        for path in sorted((root / directory).glob("*.json")):
            try:
                check(json.loads(path.read_text(encoding="utf-8")))
                passed += 1
            except (Mismatch, AssertionError, KeyError, ValueError, TypeError, StopIteration) as e:
                failed += 1
                print(f"FAIL {directory}/{path.name}: {type(e).__name__}: {e}")
    print(f"vectors: {passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
