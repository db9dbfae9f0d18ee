"""The official `sikkerkey` Python SDK from PyPI, pointed at Signet (issue 2, acceptance 2)."""

import json

import pytest
from sikkerkey import SikkerKey
from sikkerkey.exceptions import AccessDeniedError


def setup_machine(server):
    project = server.op("project", "create", "payments")["id"]
    std = server.op("secret", "create", "--project", project, "--name", "DATABASE_URL", "--value", "postgres://app:pw@db/pay")["id"]
    fields = server.op(
        "secret", "create", "--project", project, "--name", "db creds", "--field", "user=app", "--field", "pass=p w\"x",
    )["id"]
    token = server.op("token", "bootstrap")["token"]
    server.run(server.machine_home, "enroll", "--server", server.url, "--token", token, "--name", "sdk-test")
    ident_path = next((server.machine_home / "vaults").iterdir()) / "identity.json"
    machine = json.loads(ident_path.read_text())["machineId"]
    server.op("machine", "approve", machine)
    server.op("machine", "attach", machine, "--project", project)
    server.op("machine", "grant", machine, "--secret", std, "--secret", fields)
    return project, std, fields, ident_path


def test_sdk_reads_with_the_identity_signet_enroll_wrote(server, monkeypatch):
    project, std, fields, ident_path = setup_machine(server)
    monkeypatch.setenv("SIKKERKEY_IDENTITY", str(ident_path))
    sk = SikkerKey()

    assert sk.get_secret(std) == "postgres://app:pw@db/pay"
    assert sk.get_fields(fields) == {"user": "app", "pass": 'p w"x'}
    assert sk.get_field(fields, "user") == "app"

    listed = {s.id: s for s in sk.list_secrets()}
    assert set(listed) == {std, fields}
    assert listed[fields].name == "db creds"
    assert listed[fields].field_names == "pass,user"
    assert listed[fields].project_id == project
    assert listed[std].field_names is None
    assert {s.id for s in sk.list_secrets_by_project(project)} == {std, fields}

    exported = sk.export()
    assert exported["DATABASE_URL"] == "postgres://app:pw@db/pay"
    assert exported["DB_CREDS_USER"] == "app"
    assert exported["DB_CREDS_PASS"] == 'p w"x'
    assert sk.export(project) == exported

    with pytest.raises(AccessDeniedError):
        sk.get_secret("sk_ZZZZZZZZZZ")


def test_sdk_in_memory_bootstrap_with_an_enrollment_token(server, monkeypatch):
    project = server.op("project", "create", "serverless")["id"]
    secret = server.op("secret", "create", "--project", project, "--name", "API_KEY", "--value", "k-42")["id"]
    token = server.op("token", "enrollment", "create", "--project", project, "--secret", secret, "--uses", "2")["token"]
    monkeypatch.setenv("SIKKERKEY_API_URL", server.url)

    sk = SikkerKey.bootstrap_in_memory(server.vault, token, hostname="lambda-1", name="fn")
    assert sk.get_secret(secret) == "k-42"
    assert [s.id for s in sk.list_secrets()] == [secret]

    # Nothing was written to disk for it, and the machine is an approved ephemeral one.
    machines = server.op("machine", "list")["machines"]
    m = next(m for m in machines if m["name"] == "fn")
    assert m["kind"] == "ephemeral" and m["status"] == "approved" and m["expiresAt"]


def test_sdk_reports_a_frozen_project_cleanly(server, monkeypatch):
    """Issue 11 §5: after a canary read, the SDK gets 423 and raises its base ApiError with
    http_status 423 and the server's message; it does not retry it or serve a cached value."""
    from sikkerkey.exceptions import ApiError

    project, std, fields, ident_path = setup_machine(server)
    canary = server.op("project", "canary", project, "AWS_ROOT_KEY")["id"]
    machine = json.loads(ident_path.read_text())["machineId"]
    server.op("machine", "grant", machine, "--secret", canary)
    monkeypatch.setenv("SIKKERKEY_IDENTITY", str(ident_path))
    sk = SikkerKey()

    assert sk.get_secret(std) == "postgres://app:pw@db/pay"
    assert len(sk.get_secret(canary)) == 32
    for call in (lambda: sk.get_secret(std), sk.list_secrets, sk.export):
        with pytest.raises(ApiError) as e:
            call()
        assert e.value.http_status == 423
        assert "frozen" in str(e.value)
    server.op("project", "unfreeze", project)
    assert sk.get_secret(std) == "postgres://app:pw@db/pay"
