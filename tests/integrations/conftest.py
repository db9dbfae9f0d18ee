"""Shared pieces for the integration checks (issue 14 §1): a real `signet server` process set up
through the real CLI, and a test OIDC issuer whose RS256 key the vault pins."""

import json
import os
import re
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

REPO = Path(__file__).resolve().parents[2]
SIGNET = os.environ.get("SIGNET_BIN", str(REPO / "target" / "debug" / "signet"))


def wait_for_port(proc, log: Path, timeout: float = 60) -> int:
    """The port a `signet server --listen 127.0.0.1:0` reports, text or JSON log lines alike."""
    ready = threading.Event()
    found = {}

    def pump():
        with open(log, "a") as out:
            for line in proc.stderr:
                out.write(line)
                out.flush()
                m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line) or re.search(
                    r'"addr(?:ess)?":"127\.0\.0\.1:(\d+)"', line
                )
                if m and not ready.is_set():
                    found["port"] = int(m.group(1))
                    ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    ready.wait(timeout)
    assert "port" in found, "server did not start: " + log.read_text()
    return found["port"]


PG_BASE = os.environ.get("SIGNET_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/test").rsplit("/", 1)[0]


class Server:
    """`signet server` in `root` on SQLite, or on a fresh PostgreSQL database with the root key
    from the environment, with an operator identity in root/operator."""

    def __init__(self, root: Path, backend: str = "sqlite"):
        self.root = root
        self.data = root / "data"
        self.op_home = root / "operator"
        self.log = root / "server.log"
        self.database = None
        self.env = {}
        store = []
        if backend == "postgres":
            self.database = f"signet_it_{uuid.uuid4().hex[:12]}"
            subprocess.run(["psql", f"{PG_BASE}/postgres", "-qc", f"CREATE DATABASE {self.database}"], check=True)
            config = root / "signet.toml"
            config.write_text('root_key_env = "SIGNET_ROOT_KEY"\n')
            self.env = {"SIGNET_ROOT_KEY": os.urandom(32).hex()}
            store = ["--config", str(config), "--database-url", f"{PG_BASE}/{self.database}"]
        self.proc = subprocess.Popen(
            [SIGNET, "server", "--data-dir", str(self.data), "--listen", "127.0.0.1:0", *store],
            env=dict(os.environ, **self.env),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.port = wait_for_port(self.proc, self.log)
        self.url = f"http://127.0.0.1:{self.port}"
        out = self.run(self.op_home, "operator", "init", "--json", "--data-dir", str(self.data), "--api-url", self.url, *store)
        self.vault = json.loads(out)["vaultId"]

    def run(self, home: Path, *args: str) -> str:
        env = dict(os.environ, SIGNET_HOME=str(home), **self.env)
        env.pop("SIGNET_IDENTITY", None)
        p = subprocess.run([SIGNET, *args], env=env, capture_output=True, text=True)
        assert p.returncode == 0, f"signet {args}: {p.stderr}"
        return p.stdout

    def op(self, *args: str) -> dict:
        return json.loads(self.run(self.op_home, "--json", *args))

    def trust(self, issuer: "Issuer", audience: str, claims: dict, project: str, secrets: list, ttl: str = "10m") -> str:
        """Trusts `issuer` with its JWKS pinned, and adds one rule; returns the issuer's id."""
        jwks = self.root / f"jwks-{uuid.uuid4().hex}.json"
        jwks.write_text(json.dumps(issuer.jwks()))
        iss = self.op(
            "issuer", "add", "--name", f"test-{uuid.uuid4().hex[:8]}", "--issuer", issuer.iss,
            "--audience", audience, "--jwks", str(jwks),
        )["id"]
        args = ["issuer", "rule", "add", iss, "--name", "workload", "--project", project, "--ttl", ttl]
        for k, v in claims.items():
            args += ["--claim", f"{k}={v}"]
        for s in secrets:
            args += ["--secret", s]
        self.op(*args)
        return iss

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        if self.database:
            subprocess.run(["psql", f"{PG_BASE}/postgres", "-qc", f"DROP DATABASE IF EXISTS {self.database}"], check=False)


class Issuer:
    """An OIDC issuer for tests: one RSA key, tokens signed RS256 with a `kid`."""

    def __init__(self, iss: str):
        self.iss = iss
        self.kid = f"test-{uuid.uuid4().hex[:8]}"
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        return {"keys": [jwk]}

    def token(self, audience: str, claims: dict, lifetime: int = 300) -> str:
        now = int(time.time())
        body = {"iss": self.iss, "aud": audience, "iat": now, "nbf": now, "exp": now + lifetime, "jti": uuid.uuid4().hex}
        body.update(claims)
        return jwt.encode(body, self.key, algorithm="RS256", headers={"kid": self.kid})


@pytest.fixture(params=["sqlite", "postgres"])
def server(request):
    """A real server on each backend (issuer trusts, used tokens and machines are stored)."""
    with tempfile.TemporaryDirectory() as tmp:
        s = Server(Path(tmp), request.param)
        try:
            yield s
        finally:
            s.stop()
