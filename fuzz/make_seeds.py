#!/usr/bin/env python3
"""Writes the committed seed corpus under fuzz/corpus/<target>/ from testdata/vectors and
hand-made inputs. Deterministic: re-running it rewrites the same files."""
import hashlib, json, os, random, pathlib

ROOT = pathlib.Path(__file__).resolve().parent
VECTORS = ROOT.parent / "testdata" / "vectors"

def write(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = ROOT / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)

def request(method, target, headers, body=b""):
    head = f"{method} {target}\n" + "".join(f"{n}: {v}\n" for n, v in headers)
    return head.encode() + b"\n" + body

# signed_request and canonical_path: every signing vector.
for p in sorted((VECTORS / "signing").glob("*.json")):
    v = json.loads(p.read_text())
    r = v["request"]
    body = r.get("body_utf8", "").encode() if "body_utf8" in r else bytes.fromhex(r.get("body_hex", ""))
    write("signed_request", request(r["method"], r["target"], [(h["name"], h["value"]) for h in r["headers"]], body))
    write("canonical_path", r["target"])
for xff in ["203.0.113.7", "203.0.113.7, 127.0.0.3:443", "10.0.0.1, unknown", "[::1]:80", "fe80::1%eth0",
            "010.0.0.1", "203.0.113.7,", "::ffff:127.0.0.1", "[2001:db8::1]:65535"]:
    write("signed_request", request("GET", "/v1/secrets/list", [("X-Forwarded-For", xff)]))
for t in ["/", "/v1/secrets/sec_a1b2c3d4e5", "/v1/a%20b", "/v1/%E2%82%AC", "/v1/%C0%AF", "//", "/a/./b",
          "/a/../b", "/a%2Fb", "/a%2fb", "/a?b", "a", "/a/", "/~user", "/a:b@c", "/%", "/%4", "/%ZZ"]:
    write("canonical_path", t)

# identity_files: identity.json NUL private.pem NUL public key or fingerprint.
for p in sorted((VECTORS / "identity").glob("*.json")):
    v = json.loads(p.read_text())
    local = json.loads(v["identity_json"])
    local["privateKeyPath"] = "private.pem"
    write("identity_files", v["identity_json"] + "\0" + v["private_pem"] + "\0" + v["public_key"])
    write("identity_files", json.dumps(local, indent=2) + "\0" + v["private_pem"] + "\0" + v["fingerprint"])
    op = {"operatorId": "op_a1b2c3d4e5f6g7h8", "name": "ada", "vaultId": local["vaultId"],
          "apiUrl": "http://127.0.0.1:8420", "privateKeyPath": ""}
    write("identity_files", json.dumps(op) + "\0" + v["private_pem"] + "\0")
for p in sorted((VECTORS / "keys").glob("*.json")):
    v = json.loads(p.read_text())
    write("identity_files", "\0\0" + v.get("public_key", ""))

# envelope_open: structured input (arbitrary), so random bytes of a few sizes.
rng = random.Random(9)
for n in [0, 1, 16, 29, 45, 64, 77, 128, 256, 512]:
    write("envelope_open", bytes(rng.randrange(256) for _ in range(n)))

# json_bodies: one plausible body per type, and near misses.
for b in [
    {"currentPassword": "old pass 1", "newPassword": "correct horse battery"},
    {"tokenlessEnrollment": True, "cliKeyTtlMs": 3600000},
    {"name": "prod"},
    {"projectId": "proj_a1b2c3d4e5", "name": "DB_URL", "value": "postgres://x"},
    {"fields": {"user": "a", "pass": "b"}, "keepFields": ["user"], "removeFields": [], "baseVersion": 3},
    {"projectId": "proj_a1b2c3d4e5"},
    {"version": 2},
    {"name": "ci", "projectIds": ["proj_a1b2c3d4e5"], "maxUses": 1, "ttlSecs": 600, "sourceCidr": "10.0.0.0/8", "hostnamePattern": "web-*"},
    {"fingerprint": "21fe-31df-a154-a261-626b", "cidrs": ["192.0.2.0/24"]},
    {"cidr": "2001:db8::/32", "label": "office"},
    {"limit": 50, "beforeSeq": 100, "actorId": "usr_x", "action": "secret.read", "result": "ok", "sinceMs": 0, "untilMs": 1},
    {"username": "ada", "email": "ada@example.org", "password": "pw", "role": "admin", "projects": None},
    {"login": "ada", "password": "pw", "totp": "123456", "publicKey": "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="},
    {"code": "abc", "username": "ada", "email": "a@b.c", "password": "pw"},
    {"login": "ada", "password": "pw", "recoveryCode": "abcd-efgh"},
    {"totp": "123456"},
    {"token": "tok_x", "publicKey": "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", "hostname": "web-1", "name": None},
    {"projectId": None, "applicationId": "app"},
    {"watch": ["sec_a1b2c3d4e5:3"]},
    {"challengeId": "c", "credential": {"id": "x", "response": {"clientDataJSON": ""}}},
    {"email": "a@b.c", "role": "viewer", "projects": ["proj_a1b2c3d4e5"]},
    {"role": "editor"},
    {"version": -1}, {"version": 4294967296}, {"name": "x", "extra": 1}, {"watch": "x"},
    {"password": "Secret123456"}, {},
]:
    write("json_bodies", json.dumps(b))
for raw in ["", " ", "{", "[]", "null", "{\"name\":\"\\ud800\"}", "{\"name\":\"a\",\"name\":\"b\"}", "\xef\xbb\xbf{}", "{}garbage", "1e999"]:
    write("json_bodies", raw)

# cookie_csrf: requests with cookies and cross-site headers.
secret = "A" * 43
import base64
csrf = base64.urlsafe_b64encode(hashlib.sha256(b"signet csrf v1\0" + secret.encode()).digest()).decode().rstrip("=")
for method, headers in [
    ("GET", [("Cookie", f"__Host-signet_session={secret}")]),
    ("POST", [("Cookie", f"__Host-signet_session={secret}"), ("Origin", "https://signet.example"), ("X-CSRF-Token", "x")]),
    ("POST", [("Cookie", f"__Host-signet_session={secret}"), ("Origin", "https://signet.example"), ("X-CSRF-Token", csrf)]),
    ("PATCH", [("Cookie", f"signet_session={secret}"), ("Origin", "http://signet.lan"), ("Sec-Fetch-Site", "same-origin"), ("X-CSRF-Token", csrf)]),
    ("POST", [("Cookie", f"signet_session={secret}"), ("Origin", "http://signet.lan"), ("Sec-Fetch-Site", "same-origin")]),
    ("POST", [("Cookie", f"a=b; __Host-signet_session={secret}; c=d"), ("Origin", "https://evil.example")]),
    ("DELETE", [("Cookie", f"__Host-signet_session={secret}"), ("Cookie", f"__Host-signet_session={secret}")]),
    ("POST", [("Sec-Fetch-Site", "cross-site"), ("Origin", "null")]),
    ("POST", [("Origin", "http://127.0.0.1:8420"), ("Host", "127.0.0.1:8420")]),
    ("PUT", [("Origin", "https://a.example"), ("Host", "a.example")]),
    ("POST", [("Origin", "\x80")]),
    ("GET", [("Sec-Fetch-Site", "same-origin"), ("Sec-Fetch-Site", "same-origin")]),
    ("POST", [("Cookie", f"__Host-signet_session={secret[:-1]}")]),
    ("POST", [("Cookie", f"__Host-signet_session={secret}="), ("X-CSRF-Token", "")]),
]:
    write("cookie_csrf", request(method, "/v1/admin/whoami", headers))
for url in ["https://signet.example/", "http://localhost:8420", "HTTP://[::1]:1", "signet.example", "https://a:b/c"]:
    write("cookie_csrf", request("GET", url, []))
