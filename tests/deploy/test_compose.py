"""deploy/compose: both files validated against the Compose Specification's JSON schema (pinned
in compose-spec.json), their security settings and wiring asserted, and the replicas'
configuration started for real: two servers on one fresh PostgreSQL database with one key.
`docker compose config` runs too where the Compose plugin is installed."""

import copy
import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import jsonschema
import pytest
import yaml

from conftest import DEPLOY, REPO, SIGNET

COMPOSE = DEPLOY / "compose"
FILES = sorted(COMPOSE.glob("*.yaml"))
# compose-spec/compose-spec, schema/compose-spec.json at commit 170098ba07d9 (2026-06-23),
# Apache-2.0: the schema `docker compose` itself validates with.
SCHEMA = json.loads((Path(__file__).parent / "compose-spec.json").read_text())
PG_BASE = os.environ.get("SIGNET_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/test").rsplit("/", 1)[0]


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def signet_services(doc: dict) -> dict:
    return {n: s for n, s in doc["services"].items() if s["image"].startswith("localhost/signet:")}


def validate(doc: dict):
    jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(doc)


def test_the_folder_holds_the_two_examples():
    assert [p.name for p in FILES] == ["postgres.yaml", "sqlite.yaml"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_each_file_validates_against_the_compose_schema(path):
    validate(load(path))


def test_the_schema_does_catch_a_misspelled_key():
    doc = load(COMPOSE / "sqlite.yaml")
    doc["services"]["signet"]["readonly"] = doc["services"]["signet"].pop("read_only")
    with pytest.raises(jsonschema.ValidationError):
        validate(doc)
    doc = load(COMPOSE / "postgres.yaml")
    doc["services"]["postgres"]["healthcheck"]["intervall"] = "5s"
    with pytest.raises(jsonschema.ValidationError):
        validate(doc)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_container_is_locked_down_and_pinned(path):
    doc = load(path)
    for name, svc in doc["services"].items():
        image = svc["image"]
        assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), name
        for port in svc.get("ports", []):
            # Published on the host's loopback only: TLS is the operator's next step.
            assert str(port).startswith("127.0.0.1:"), (name, port)
        env = svc.get("environment", {})
        for key, value in env.items():
            # Secrets arrive as files, never as environment values.
            assert not re.search(r"PASSWORD$|SECRET|ROOT_KEY$", key) or key.endswith("_FILE"), (name, key)
            assert "://" not in str(value) or "@" not in str(value), (name, key)
    for name, svc in signet_services(doc).items():
        assert svc["read_only"] is True, name
        assert any(t.startswith("/tmp") for t in svc["tmpfs"]), name
        assert svc["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in svc["security_opt"], name
        assert svc["build"] == {"context": "../..", "dockerfile": "deploy/container/Containerfile"}, name
        assert (COMPOSE / svc["build"]["context"] / svc["build"]["dockerfile"]).resolve() == (DEPLOY / "container" / "Containerfile").resolve()
        [key] = [s for s in svc["secrets"] if s["source"] == "root_key"]
        assert key["target"] == "root-key", name
        assert "user" not in svc, "the image's non-root user is used"


def test_files_named_by_the_examples_exist_or_are_made_by_the_operator():
    for path in FILES:
        doc = load(path)
        for config in doc.get("configs", {}).values():
            assert (COMPOSE / config["file"]).is_file(), config
        for secret in doc.get("secrets", {}).values():
            # Secrets are made by the operator (the header says how) and never committed.
            assert not (COMPOSE / secret["file"]).exists(), secret
            assert secret["file"].split("/")[-1] in path.read_text().split("secrets:")[0], secret


def test_the_replicas_share_one_key_and_sit_behind_the_proxy():
    doc = load(COMPOSE / "postgres.yaml")
    replicas = signet_services(doc)
    assert sorted(replicas) == ["signet-1", "signet-2"]
    a, b = replicas.values()
    assert a == b, "both replicas are the same service definition"
    assert a.get("ports") is None, "replicas are reached through the proxy only"
    assert {s["source"] for s in a["secrets"]} == {"root_key", "pgpass"}
    assert a["environment"]["PGPASSFILE"] == "/run/secrets/pgpass"
    assert a["depends_on"]["postgres"]["condition"] == "service_healthy"
    pg = doc["services"]["postgres"]
    assert pg["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres-password"
    assert "POSTGRES_PASSWORD" not in pg["environment"]
    proxy = doc["services"]["proxy"]
    caddy = (COMPOSE / "Caddyfile").read_text()
    [upstreams] = re.findall(r"reverse_proxy ([^{]+)\{", caddy)
    assert sorted(upstreams.split()) == ["signet-1:8420", "signet-2:8420"]
    assert "health_uri /readyz" in caddy
    config = (COMPOSE / "signet-postgres.toml").read_text()
    proxy_ip = proxy["networks"]["signet"]["ipv4_address"]
    assert f'trusted_proxies = ["{proxy_ip}/32"]' in config
    subnet = doc["networks"]["signet"]["ipam"]["config"][0]["subnet"]
    assert proxy_ip.rsplit(".", 1)[0] == subnet.split("/")[0].rsplit(".", 1)[0]
    # The pgpass line the header makes matches the database URL's host, port, db and user.
    m = re.search(r'^database_url\s*=\s*"postgres://(\w+)@(\w+):(\d+)/(\w+)"', config, re.M)
    user, host, port, db = m.groups()
    assert f"'{host}:{port}:{db}:{user}:%s\\n'" in (COMPOSE / "postgres.yaml").read_text()
    assert pg["environment"]["POSTGRES_USER"] == user and pg["environment"]["POSTGRES_DB"] == db


def docker_compose_works() -> bool:
    try:
        return subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(not docker_compose_works(), reason="the docker compose plugin is not installed")
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_docker_compose_config_accepts_each_file(path, tmp_path):
    # Secrets' files must exist for `config`; placeholders in a copy of the folder.
    folder = tmp_path / "compose"
    subprocess.run(["cp", "-r", str(COMPOSE), str(folder)], check=True)
    for secret in load(path).get("secrets", {}).values():
        (folder / secret["file"]).write_text("placeholder\n")
    p = subprocess.run(["docker", "compose", "-f", str(folder / path.name), "config", "-q"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


# --- the replicas' configuration, started for real ---------------------------------------


def http_json(url: str):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""


def test_two_replicas_with_the_example_config_serve_one_vault(tmp_path):
    database = f"signet_compose_{uuid.uuid4().hex[:12]}"
    subprocess.run(["psql", f"{PG_BASE}/postgres", "-qc", f"CREATE DATABASE {database}"], check=True)
    key = tmp_path / "root-key"
    key.write_text(os.urandom(32).hex())
    key.chmod(0o400)
    text = (COMPOSE / "signet-postgres.toml").read_text()
    text = text.replace('"/run/secrets/root-key"', f'"{key}"')
    text = re.sub(r'^database_url\s*=.*$', f'database_url = "{PG_BASE}/{database}"', text, flags=re.M)
    text = re.sub(r'^listen\s*=.*$', 'listen = "127.0.0.1:0"', text, flags=re.M)
    procs, ports = [], []
    try:
        for n in (1, 2):
            root = tmp_path / f"replica-{n}"
            root.mkdir(mode=0o700)
            config = root / "signet.toml"
            config.write_text(text.replace('"/var/lib/signet"', f'"{root / "data"}"'))
            log = root / "server.log"
            procs.append(
                subprocess.Popen(
                    [SIGNET, "server", "--config", str(config)],
                    stdout=subprocess.DEVNULL,
                    stderr=open(log, "w"),
                )
            )
            deadline = time.monotonic() + 60
            while not (m := re.search(r"signet: listening on 127\.0\.0\.1:(\d+)", log.read_text())):
                assert procs[-1].poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            ports.append(int(m.group(1)))
        vaults = set()
        for n, port in enumerate(ports, 1):
            deadline = time.monotonic() + 30
            while http_json(f"http://127.0.0.1:{port}/readyz")[0] != 200:
                assert time.monotonic() < deadline
                time.sleep(0.2)
            log = (tmp_path / f"replica-{n}" / "server.log").read_text()
            vaults |= set(re.findall(r"serving vault (vault_\w+)", log))
        assert len(vaults) == 1, vaults
    finally:
        for p in procs:
            p.kill()
            p.wait()
        subprocess.run(["psql", f"{PG_BASE}/postgres", "-qc", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"], check=False)
