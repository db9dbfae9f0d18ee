#!/usr/bin/env python3
"""Verifies a saved Signet webhook delivery with an independent RFC 9421 implementation, the
`http-message-signatures` package, and the vault's public key fetched from its well-known URL.

    python verify.py KEY_URL DELIVERY_FILE [HMAC_SECRET]

DELIVERY_FILE is the saved format (`{"method", "url", "headers", "body"}`). Checks the signature
(created within 5 minutes, tag `signet-webhook`, covering the method, target URI, content
digest, content type and delivery id) and the body against Content-Digest; with HMAC_SECRET,
also SikkerKey's `X-SikkerKey-Signature`. Prints `valid` and exits 0, or prints why and exits 1.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import sys
import urllib.request
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from http_message_signatures import HTTPMessageVerifier, HTTPSignatureKeyResolver, algorithms

REQUIRED = ("@method", "@target-uri", "content-digest", "content-type", "signet-delivery-id")


class Headers(dict):
    """Case-insensitive lookups over the saved header map, keeping each field line."""

    def __init__(self, raw: dict[str, str]) -> None:
        super().__init__({k.lower(): v for k, v in raw.items()})

    def items(self):  # the package reads field lines as (name, value) pairs
        return list(super().items())

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())

    def get(self, name: str, default=None):
        return super().get(name.lower(), default)


@dataclass
class Request:
    method: str
    url: str
    headers: Headers


class Keys(HTTPSignatureKeyResolver):
    def __init__(self, jwks: dict) -> None:
        self.keys = {}
        for k in jwks["keys"]:
            if k.get("kty") == "OKP" and k.get("crv") == "Ed25519":
                raw = base64.urlsafe_b64decode(k["x"] + "=" * (-len(k["x"]) % 4))
                self.keys[k["kid"]] = Ed25519PublicKey.from_public_bytes(raw)

    def resolve_public_key(self, key_id: str):
        return self.keys[key_id]


def main() -> int:
    key_url, path = sys.argv[1], sys.argv[2]
    hmac_secret = sys.argv[3] if len(sys.argv) > 3 else None
    with urllib.request.urlopen(key_url, timeout=10) as resp:  # noqa: S310 (a test's own server)
        jwks = json.load(resp)
    saved = json.loads(open(path, encoding="utf-8").read())
    body = saved["body"].encode("utf-8")
    message = Request(saved["method"], saved["url"], Headers(saved["headers"]))
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=Keys(jwks))
    try:
        verifier.verify(
            message,
            max_age=datetime.timedelta(minutes=5),
            expect_tag="signet-webhook",
            require_components=REQUIRED,
            body=body,
        )
    except Exception as e:  # noqa: BLE001 (any refusal is the answer)
        print(f"invalid: {type(e).__name__}: {e}")
        return 1
    if hmac_secret is not None:
        expected = hmac.new(hmac_secret.encode(), body, hashlib.sha256).hexdigest()
        got = message.headers.get("X-SikkerKey-Signature", "")
        if not hmac.compare_digest(expected, got):
            print("invalid: X-SikkerKey-Signature does not match")
            return 1
    print("valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
