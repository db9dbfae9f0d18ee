"""docs/openapi.json checked by tools that did not write it: openapi-spec-validator accepts the
document, and real answers from a running `signet server` match the schemas it declares for
them (jsonschema, draft 2020-12, the dialect of OpenAPI 3.1)."""

import base64
import hashlib
import importlib.util
import json
import secrets
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import jsonschema
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from openapi_spec_validator import validate

REPO = Path(__file__).resolve().parents[2]
DOC_PATH = REPO / "docs" / "openapi.json"

# The SDK tests' real-server harness, loaded under its own name (both folders have a conftest).
_spec = importlib.util.spec_from_file_location("signet_sdk_harness", REPO / "tests" / "sdk" / "conftest.py")
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)


@pytest.fixture(scope="module")
def doc():
    return json.loads(DOC_PATH.read_text())


@pytest.fixture(scope="module")
def server():
    with tempfile.TemporaryDirectory() as tmp:
        s = harness.Server(Path(tmp))
        try:
            yield s
        finally:
            s.stop()


def test_the_document_is_valid_openapi_3_1(doc):
    assert doc["openapi"].startswith("3.1")
    validate(doc)


def test_the_server_serves_the_committed_document(server, doc):
    status, ctype, raw = request(server.url + "/v1/openapi.json")
    assert (status, ctype) == (200, "application/json")
    assert json.loads(raw) == doc, "the served document is not docs/openapi.json"


def check(doc, path, method, status, body, content_type="application/json"):
    """Validates `body` against the schema `doc` declares for this path, method and status."""
    op = doc["paths"][path][method.lower()]
    assert str(status) in op["responses"], f"{method} {path} answered {status}, which is not documented"
    content = op["responses"][str(status)]["content"]
    assert content_type in content, f"{method} {path} {status}: {content_type} not documented"
    schema = content[content_type]["schema"]
    # The response schema as the root of a document that also holds the components, so that
    # its `#/components/schemas/...` references resolve.
    root = {"$schema": "https://json-schema.org/draft/2020-12/schema", "components": doc["components"], **schema}
    jsonschema.Draft202012Validator(root).validate(body)


def request(url, method="GET", body=b"", headers=None):
    req = urllib.request.Request(url, data=body if method != "GET" else None, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, r.headers.get("content-type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("content-type", ""), e.read()


class Machine:
    """A machine key held here, signing as docs/protocol.md says (not through any SDK)."""

    def __init__(self, key, machine_id, url):
        self.key, self.id, self.url = key, machine_id, url

    def call(self, method, path, body=b""):
        ts = str(int(time.time()))
        nonce = base64.b64encode(secrets.token_bytes(16)).decode()
        signed = f"{method}:{path}:{ts}:{nonce}:{hashlib.sha256(body).hexdigest()}"
        sig = base64.b64encode(self.key.sign(signed.encode())).decode()
        headers = {"X-Machine-Id": self.id, "X-Timestamp": ts, "X-Nonce": nonce, "X-Signature": sig}
        if body:
            headers["Content-Type"] = "application/json"
        status, ctype, raw = request(self.url + path, method, body, headers)
        return status, ctype, json.loads(raw) if raw else None


def public_key_b64(key):
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def post_json(url, body):
    status, ctype, raw = request(url, "POST", json.dumps(body).encode(), {"Content-Type": "application/json"})
    return status, ctype, json.loads(raw)


def test_real_answers_match_their_schemas(server, doc):
    url = server.url

    # Probes and the document itself.
    status, ctype, raw = request(url + "/healthz")
    assert status == 200 and ctype.startswith("text/plain")
    check(doc, "/healthz", "GET", status, raw.decode(), "text/plain; charset=utf-8")
    status, ctype, raw = request(url + "/readyz")
    check(doc, "/readyz", "GET", status, raw.decode(), "text/plain; charset=utf-8")
    status, ctype, raw = request(url + "/v1/openapi.json")
    assert status == 200 and ctype == "application/json"
    check(doc, "/v1/openapi.json", "GET", status, json.loads(raw))

    # Enrollment with a bootstrap token, from a key made here.
    project = server.op("project", "create", "openapi")["id"]
    std = server.op("secret", "create", "--project", project, "--name", "DB_URL", "--value", "postgres://x")["id"]
    fields = server.op("secret", "create", "--project", project, "--name", "creds", "--field", "user=u")["id"]
    key = Ed25519PrivateKey.generate()
    token = server.op("token", "bootstrap")["token"]
    status, _, pending = post_json(
        url + "/v1/enroll/bootstrap", {"token": token, "publicKey": public_key_b64(key), "hostname": "h1"}
    )
    assert status == 200, pending
    check(doc, "/v1/enroll/bootstrap", "POST", status, pending)
    machine = pending["machineId"]
    server.op("machine", "approve", machine)
    server.op("machine", "attach", machine, "--project", project)
    server.op("machine", "grant", machine, "--secret", std, "--secret", fields)

    # Enrollment with an enrollment token: an approved ephemeral machine.
    etoken = server.op("token", "enrollment", "create", "--project", project, "--uses", "1")["token"]
    status, _, registered = post_json(
        url + f"/v1/{server.vault}/enroll/register",
        {"token": etoken, "publicKey": public_key_b64(Ed25519PrivateKey.generate()), "hostname": "h2"},
    )
    assert status == 200, registered
    check(doc, "/v1/{vault}/enroll/register", "POST", status, registered)

    # Signed machine reads, each answer against its schema.
    m = Machine(key, machine, url)
    calls = [
        ("GET", "/v1/whoami", "/v1/whoami", b""),
        ("GET", f"/v1/secret/{std}", "/v1/secret/{id}", b""),
        ("GET", "/v1/secrets", "/v1/secrets", b""),
        ("POST", "/v1/secrets/list", "/v1/secrets/list", json.dumps({"projectId": project}).encode()),
        ("POST", "/v1/secrets/export", "/v1/secrets/export", b""),
        ("POST", "/v1/secrets/poll", "/v1/secrets/poll", json.dumps({"watch": [std, "sk_nope"]}).encode()),
        ("GET", "/v1/cli/projects", "/v1/cli/projects", b""),
        ("GET", "/v1/cli/secrets", "/v1/cli/secrets", b""),
    ]
    answers = {}
    for method, path, template, body in calls:
        status, ctype, answer = m.call(method, path, body)
        assert status == 200, (path, answer)
        assert ctype == "application/json", (path, ctype)
        check(doc, template, method, status, answer)
        answers[template] = answer
    assert answers["/v1/whoami"]["machineId"] == machine
    assert answers["/v1/secret/{id}"]["value"] == "postgres://x"
    assert answers["/v1/secrets/poll"]["changes"]["sk_nope"] == {"status": "access_denied"}

    # Error answers: a secret the machine may not read, an unsigned call, a malformed body.
    status, _, err = m.call("GET", "/v1/secret/sk_ZZZZZZZZZZ")
    assert (status, err["code"]) == (403, "access_denied")
    check(doc, "/v1/secret/{id}", "GET", status, err)
    status, _, raw = request(url + "/v1/whoami")
    assert status == 401
    check(doc, "/v1/whoami", "GET", status, json.loads(raw))
    status, _, err = post_json(url + f"/v1/{server.vault}/enroll/request", {"token": "t", "publicKey": "k", "hostname": "h"})
    assert (status, err["code"]) == (400, "malformed_request")
    check(doc, "/v1/{vault}/enroll/request", "POST", status, err)


def totp_now(secret_b32, step=30, digits=6):
    """RFC 6238 (SHA-1) for the current step, without a TOTP library."""
    import hmac
    import struct

    key = base64.b32decode(secret_b32.upper() + "=" * (-len(secret_b32) % 8))
    counter = struct.pack(">Q", int(time.time()) // step)
    mac = hmac.new(key, counter, hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    code = (struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF) % 10**digits
    return str(code).zfill(digits)


def test_sign_in_and_account_answers_match_their_schemas(server, doc):
    """The `auth` routes and the session-driven `admin` ones: an invitation accepted, a browser
    sign-in, the session, the account page, a refused step-up, the invitations list, logout."""
    url = server.url
    browser = {"Content-Type": "application/json", "Origin": url}

    status, _, raw = request(url + "/v1/auth/setup")
    check(doc, "/v1/auth/setup", "GET", status, json.loads(raw))
    assert json.loads(raw) == {"open": True}

    invited = server.op("user", "invite", "--email", "ann@example.test", "--role", "admin")
    code = invited["inviteUrl"].split("/#/invite/")[1]
    password = "correct horse battery staple"
    status, _, raw = request(
        url + "/v1/auth/invite/accept", "POST", json.dumps({"code": "nope", "username": "ann", "password": password}).encode(), browser
    )
    assert status == 403, raw
    check(doc, "/v1/auth/invite/accept", "POST", status, json.loads(raw))
    status, _, raw = request(
        url + "/v1/auth/invite/accept", "POST", json.dumps({"code": code, "username": "ann", "password": password}).encode(), browser
    )
    assert status == 200, raw
    account = json.loads(raw)
    check(doc, "/v1/auth/invite/accept", "POST", status, account)
    secret = account["totpSecret"]

    # Sign in as a browser: the session answer, and its cookie.
    body = json.dumps({"login": "ann", "password": password, "totp": totp_now(secret)}).encode()
    req = urllib.request.Request(url + "/v1/auth/session", data=body, method="POST", headers=browser)
    with urllib.request.urlopen(req, timeout=15) as r:
        status, cookie, session = r.status, r.headers.get("set-cookie", ""), json.loads(r.read())
    check(doc, "/v1/auth/session", "POST", status, session)
    cookie = cookie.split(";")[0]
    assert "signet_session=" in cookie, cookie
    with_session = {"Cookie": cookie, "Origin": url}
    csrf = dict(with_session, **{"X-CSRF-Token": session["csrfToken"], "Content-Type": "application/json"})

    for path in ["/v1/auth/session", "/v1/admin/account", "/v1/admin/users/invites"]:
        status, _, raw = request(url + path, headers=with_session)
        assert status == 200, (path, raw)
        check(doc, path, "GET", status, json.loads(raw))

    # Safe updates (issue 11): a project renamed, a name taken (409 `conflict`), and a stale
    # check-and-set write (409 `version_conflict`, the only error with `currentVersion`).
    def post(path, body):
        status, _, raw = request(url + path, "POST", json.dumps(body).encode(), csrf)
        return status, json.loads(raw)

    status, project = post("/v1/admin/projects", {"name": "safe"})
    assert status == 200, project
    post("/v1/admin/projects", {"name": "taken"})
    rename = "/v1/admin/projects/{id}/rename"
    status, answer = post(f"/v1/admin/projects/{project['id']}/rename", {"name": "safer"})
    assert (status, answer["name"]) == (200, "safer"), answer
    check(doc, rename, "POST", status, answer)
    status, err = post(f"/v1/admin/projects/{project['id']}/rename", {"name": "taken"})
    assert (status, err["code"]) == (409, "conflict") and "currentVersion" not in err, err
    check(doc, rename, "POST", status, err)
    status, created = post("/v1/admin/secrets", {"projectId": project["id"], "name": "S", "fields": {"a": "1"}})
    assert status == 200, created
    update = "/v1/admin/secrets/{id}/update"
    status, answer = post(f"/v1/admin/secrets/{created['id']}/update", {"set": {"b": "2"}, "expectedVersion": 1})
    assert (status, answer["version"], answer["fieldNames"]) == (200, 2, ["a", "b"]), answer
    check(doc, update, "POST", status, answer)
    status, err = post(f"/v1/admin/secrets/{created['id']}/update", {"unset": ["a"], "expectedVersion": 1})
    assert (status, err["code"], err["currentVersion"]) == (409, "version_conflict", 2), err
    check(doc, update, "POST", status, err)
    status, err = post(f"/v1/admin/secrets/{created['id']}/rollback", {"version": 1, "expectedVersion": 1})
    assert (status, err["code"], err["currentVersion"]) == (409, "version_conflict", 2), err
    check(doc, "/v1/admin/secrets/{id}/rollback", "POST", status, err)

    # A wrong code inside a live session is 400 `wrong_factor` (not the session's 401), and the
    # session stays.
    status, _, raw = request(url + "/v1/auth/step-up", "POST", json.dumps({"totp": "000000"}).encode(), csrf)
    assert (status, json.loads(raw)["code"]) == (400, "wrong_factor"), raw
    check(doc, "/v1/auth/step-up", "POST", status, json.loads(raw))

    status, _, raw = request(url + "/v1/auth/session/logout", "POST", b"{}", csrf)
    assert status == 200, raw
    check(doc, "/v1/auth/session/logout", "POST", status, json.loads(raw))
    status, _, raw = request(url + "/v1/auth/session", headers=with_session)
    assert status == 401
    check(doc, "/v1/auth/session", "GET", status, json.loads(raw))
