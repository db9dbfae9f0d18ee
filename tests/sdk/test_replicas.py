"""The official `sikkerkey` Python SDK against two Signet replicas on one PostgreSQL (issue 4).

Each test gets a fresh, real database on the PostgreSQL at $SIGNET_TEST_PG_URL (default
postgres://postgres@127.0.0.1:5432/test), dropped afterwards unless the test failed.
"""

import json
import os
import secrets
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest
from sikkerkey import SikkerKey
from sikkerkey.exceptions import AccessDeniedError

from conftest import Server
from test_sikkerkey_sdk import setup_machine

ADMIN_URL = os.environ.get("SIGNET_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/test")


def psql(sql: str) -> None:
    subprocess.run(["psql", ADMIN_URL, "-qc", sql], check=True, capture_output=True)


@pytest.fixture
def replicas(request):
    name = "signet_t_sdk_" + secrets.token_hex(6)
    psql(f"CREATE DATABASE {name}")
    base = ADMIN_URL.rsplit("/", 1)[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        key = tmp / "root.key"
        key.write_text(secrets.token_hex(32))
        key.chmod(0o600)
        config = tmp / "signet.toml"
        config.write_text(f'database_url = "{base}/{name}"\nroot_key_file = "{key}"\n')
        for d in ("a", "b"):
            (tmp / d).mkdir()
        # Both start at once: they race for the migration lock.
        started = {}
        threads = [
            threading.Thread(target=lambda d=d: started.__setitem__(d, Server(tmp / d, config, init_operator=(d == "a"))))
            for d in ("a", "b")
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        a, b = started["a"], started["b"]
        try:
            yield a, b
        finally:
            a.stop()
            b.stop()
            failed = getattr(request.node, "rep_call", None)
            if failed is not None and failed.failed:
                print(f"kept database {name} for inspection")
            else:
                psql(f"DROP DATABASE {name} WITH (FORCE)")


def identity_at(ident_path: Path, url: str, where: Path) -> Path:
    """The same machine identity, aimed at another replica (a signature does not cover the host)."""
    ident = json.loads(ident_path.read_text())
    ident["apiUrl"] = url
    out = where / "identity.json"
    out.write_text(json.dumps(ident))
    out.chmod(0o600)
    return out


def test_written_through_a_read_through_b(replicas, monkeypatch, tmp_path):
    a, b = replicas
    project, std, fields, ident_path = setup_machine(a)
    monkeypatch.setenv("SIKKERKEY_IDENTITY", str(identity_at(ident_path, b.url, tmp_path)))
    on_b = SikkerKey()

    assert on_b.get_secret(std) == "postgres://app:pw@db/pay"
    assert on_b.get_fields(fields) == {"user": "app", "pass": 'p w"x'}
    assert {s.id for s in on_b.list_secrets()} == {std, fields}

    a.op("secret", "update", std, "--value", "rotated-through-a")
    assert on_b.get_secret(std) == "rotated-through-a"

    machine = json.loads(ident_path.read_text())["machineId"]
    a.op("machine", "ungrant", machine, "--secret", std)
    with pytest.raises(AccessDeniedError):
        on_b.get_secret(std)
    assert on_b.get_field(fields, "user") == "app"
