"""The official `sikkerkey` Python SDK reads a leased secret (issue 12 §1): its fields are the
minted role's credentials, which log in to PostgreSQL and run the granted query."""

import os
import secrets
import subprocess

from sikkerkey import SikkerKey

from test_sikkerkey_sdk import setup_machine

PG_ADMIN = os.environ.get("SIGNET_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/test")


def psql(url: str, sql: str) -> subprocess.CompletedProcess:
    return subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql], capture_output=True, text=True)


def test_sdk_reads_a_leased_secret(server, monkeypatch):
    name = "signet_sdk_" + secrets.token_hex(6)
    assert psql(PG_ADMIN, f"CREATE DATABASE {name}").returncode == 0
    base = PG_ADMIN.rsplit("/", 1)[0]
    try:
        assert psql(f"{base}/{name}", "CREATE TABLE t (x int); INSERT INTO t VALUES (7)").returncode == 0
        project, _std, _fields, ident_path = setup_machine(server)
        env = dict(os.environ, SIGNET_HOME=str(server.op_home), PGADMIN_PW="unused-with-trust")
        out = subprocess.run(
            [
                server_bin(),
                "--json",
                "connection",
                "create",
                "--project",
                project,
                "--name",
                "main",
                "--host",
                "127.0.0.1",
                "--database",
                name,
                "--admin-user",
                "postgres",
                "--admin-password-env",
                "PGADMIN_PW",
                "--tls-mode",
                "disable",
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0, out.stderr
        conn = __import__("json").loads(out.stdout)["id"]
        leased = server.op(
            "lease", "create", "--project", project, "--name", "APP_DB", "--connection", conn,
            "--ttl", "60s", "--grant", "GRANT SELECT ON t TO {{name}}",
        )["secretId"]
        machine = __import__("json").loads(ident_path.read_text())["machineId"]
        server.op("machine", "grant", machine, "--secret", leased)

        monkeypatch.setenv("SIKKERKEY_IDENTITY", str(ident_path))
        sk = SikkerKey()
        creds = sk.get_fields(leased)
        assert set(creds) == {"username", "password", "host", "port", "database", "expiresAt"}
        assert creds["username"].startswith("signet_")
        assert sk.get_field(leased, "username") == creds["username"], "the active lease again"
        url = f"postgres://{creds['username']}:{creds['password']}@{creds['host']}:{creds['port']}/{creds['database']}"
        used = psql(url, "SELECT x FROM t")
        assert used.returncode == 0 and used.stdout.strip() == "7", used.stderr
        lease = server.op("lease", "list", "--secret", leased)["leases"][0]
        server.op("lease", "revoke", lease["id"])
        assert psql(url, "SELECT x FROM t").returncode != 0, "revoked"
        sk.close()
    finally:
        psql(PG_ADMIN, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def server_bin() -> str:
    from conftest import SIGNET

    return SIGNET
