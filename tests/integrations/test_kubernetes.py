"""The Kubernetes manifests in deploy/kubernetes: validated offline against a pinned Kubernetes
version's schemas, their security settings asserted, the servers' configs started for real, and
the workload's containers run as a pod would run them (issue 14 §1)."""

import json
import os
import re
import stat
import subprocess
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from conftest import REPO, SIGNET, Issuer, wait_for_port

DEPLOY = REPO / "deploy" / "kubernetes"
MANIFESTS = sorted(DEPLOY.glob("*.yaml"))
# The oldest release with native sidecars on by default (restartPolicy: Always init containers)
# and the newest the validator knows.
KUBERNETES_VERSIONS = ["1.29.0", "1.37.0"]
IMAGE_TAG = re.compile(r"^registry\.example\.com/[a-z-]+:\d+\.\d+\.\d+$")


def docs(path: Path) -> list:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def find(path: Path, kind: str) -> dict:
    [d] = [d for d in docs(path) if d["kind"] == kind]
    return d


def all_containers(pod: dict) -> list:
    return pod.get("initContainers", []) + pod["containers"]


def test_the_folder_holds_the_three_manifests():
    assert [p.name for p in MANIFESTS] == ["server-postgres.yaml", "server-sqlite.yaml", "workload.yaml"]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_every_resource_validates_strictly_offline(path, version):
    for doc in docs(path):
        # Raises ValidationError (or an unknown-kind error) on anything the schema refuses,
        # including, with strict, a misspelled field.
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_validator_does_catch_a_misspelled_field():
    doc = find(DEPLOY / "workload.yaml", "Deployment")
    doc["spec"]["template"]["spec"]["securityContext"]["runAsNonRooot"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, KUBERNETES_VERSIONS[-1], strict=True)


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_every_pod_runs_locked_down(path):
    pods = [d["spec"]["template"]["spec"] for d in docs(path) if d["kind"] in ("Deployment", "StatefulSet")]
    assert pods
    for pod in pods:
        assert pod["automountServiceAccountToken"] is False
        sc = pod["securityContext"]
        assert sc["runAsNonRoot"] is True and sc["runAsUser"] != 0
        assert sc["seccompProfile"]["type"] == "RuntimeDefault"
        for c in all_containers(pod):
            csc = c["securityContext"]
            assert csc["readOnlyRootFilesystem"] is True, c["name"]
            assert csc["allowPrivilegeEscalation"] is False, c["name"]
            assert csc["capabilities"]["drop"] == ["ALL"], c["name"]
            assert csc.get("privileged") is not True
            assert IMAGE_TAG.match(c["image"]), c["image"]


@pytest.mark.parametrize("name,kind", [("server-sqlite.yaml", "StatefulSet"), ("server-postgres.yaml", "Deployment")])
def test_servers_are_probed_and_keep_their_keys_in_secrets(name, kind):
    workload = find(DEPLOY / name, kind)
    [c] = workload["spec"]["template"]["spec"]["containers"]
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["startupProbe"]["httpGet"]["path"] == "/healthz"
    env = {e["name"]: e for e in c["env"]}
    assert env["SIGNET_ROOT_KEY"]["valueFrom"]["secretKeyRef"]
    assert "value" not in env["SIGNET_ROOT_KEY"]
    config = find(DEPLOY / name, "ConfigMap")["data"]["signet.toml"]
    assert 'root_key_env    = "SIGNET_ROOT_KEY"' in config
    assert "database_url" not in config.replace("SIGNET_DATABASE_URL", "")
    service = find(DEPLOY / name, "Service")
    assert service["spec"]["selector"] == workload["spec"]["selector"]["matchLabels"]
    if kind == "StatefulSet":
        assert workload["spec"]["replicas"] == 1
        [claim] = workload["spec"]["volumeClaimTemplates"]
        mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
        assert claim["metadata"]["name"] == "data" and mounts["data"] == "/var/lib/signet"
        assert 'data_dir        = "/var/lib/signet/data"' in config
    else:
        assert workload["spec"]["replicas"] == 2
        assert env["SIGNET_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "database-url"


def workload_pod() -> dict:
    return find(DEPLOY / "workload.yaml", "Deployment")["spec"]["template"]["spec"]


def test_the_workload_keeps_key_token_and_secrets_in_memory_and_the_app_read_only():
    pod = workload_pod()
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["signet-home"]["emptyDir"]["medium"] == "Memory"
    assert volumes["secrets"]["emptyDir"]["medium"] == "Memory"
    [source] = volumes["platform-token"]["projected"]["sources"]
    token = source["serviceAccountToken"]
    assert token["audience"] == "signet"
    assert 600 <= token["expirationSeconds"] <= 3600
    containers = {c["name"]: c for c in all_containers(pod)}
    assert list(containers) == ["signet-enroll", "signet-agent", "app"]
    assert containers["signet-agent"]["restartPolicy"] == "Always"
    app = {m["name"]: m for m in containers["app"]["volumeMounts"]}
    assert list(app) == ["secrets"] and app["secrets"]["readOnly"] is True
    # Only the enrolling container sees the platform token; the agent reads the key read-only.
    for name, c in containers.items():
        mounted = {m["name"] for m in c.get("volumeMounts", [])}
        assert ("platform-token" in mounted) == (name == "signet-enroll"), name
    agent_home = next(m for m in containers["signet-agent"]["volumeMounts"] if m["name"] == "signet-home")
    assert agent_home["readOnly"] is True
    sa = find(DEPLOY / "workload.yaml", "ServiceAccount")
    assert sa["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == sa["metadata"]["name"]


def free_config(text: str, data_dir: Path) -> str:
    """The ConfigMap's signet.toml, with the listen address and folder of this test."""
    text = re.sub(r'(?m)^listen\s*=.*$', 'listen = "127.0.0.1:0"', text)
    return re.sub(r'(?m)^data_dir\s*=.*$', f'data_dir = "{data_dir}"', text)


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


@pytest.mark.parametrize("name", ["server-sqlite.yaml", "server-postgres.yaml"])
def test_the_server_config_starts_a_server_that_the_probes_find_ready(name, tmp_path):
    """The ConfigMap's config, with the environment the manifest gives, starts a real server;
    /healthz and /readyz answer 200 (PostgreSQL: a fresh database)."""
    config = tmp_path / "signet.toml"
    config.write_text(free_config(find(DEPLOY / name, "ConfigMap")["data"]["signet.toml"], tmp_path / "data"))
    [c] = [c for d in docs(DEPLOY / name) if d["kind"] in ("Deployment", "StatefulSet") for c in d["spec"]["template"]["spec"]["containers"]]
    assert c["command"][:2] == ["signet", "server"]
    env = dict(os.environ, SIGNET_ROOT_KEY=os.urandom(32).hex())
    env.pop("SIGNET_DATABASE_URL", None)
    database = None
    if "SIGNET_DATABASE_URL" in {e["name"] for e in c["env"]}:
        base = os.environ.get("SIGNET_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/test").rsplit("/", 1)[0]
        database = f"signet_k8s_{uuid.uuid4().hex[:12]}"
        subprocess.run(["psql", f"{base}/postgres", "-qc", f"CREATE DATABASE {database}"], check=True)
        env["SIGNET_DATABASE_URL"] = f"{base}/{database}"
    command = [SIGNET, *c["command"][1:]]
    command[command.index("/etc/signet/signet.toml")] = str(config)
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        port = wait_for_port(proc, tmp_path / "server.log")
        assert get(f"http://127.0.0.1:{port}/healthz") == 200
        deadline = time.time() + 30
        while get(f"http://127.0.0.1:{port}/readyz") != 200:
            assert time.time() < deadline, (tmp_path / "server.log").read_text()
            time.sleep(0.2)
        if database is None:
            assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    finally:
        proc.kill()
        proc.wait()
        if database:
            subprocess.run(["psql", f"{base}/postgres", "-qc", f"DROP DATABASE IF EXISTS {database}"], check=False)


# --- the pod-like run -------------------------------------------------------------------------


class Pod:
    """The workload's volumes as folders (emptyDirs made 0777, as the kubelet makes them), and
    its containers' commands and environment with each mount path mapped onto its folder."""

    def __init__(self, pod: dict, root: Path):
        self.pod = pod
        self.volumes = {}
        for v in pod["volumes"]:
            d = root / v["name"]
            d.mkdir(parents=True)
            if "emptyDir" in v:
                os.chmod(d, 0o777)
            self.volumes[v["name"]] = d
        self.containers = {c["name"]: c for c in all_containers(pod)}

    def mapping(self, name: str) -> list:
        c = self.containers[name]
        return sorted(
            ((m["mountPath"], self.volumes[m["name"]]) for m in c.get("volumeMounts", [])),
            key=lambda m: -len(m[0]),
        )

    def remap(self, name: str, text: str) -> str:
        for mount, folder in self.mapping(name):
            text = text.replace(mount, str(folder))
        return text

    def command(self, name: str, replace: dict) -> list:
        out = []
        for arg in self.containers[name]["command"]:
            for old, new in replace.items():
                arg = arg.replace(old, new)
            out.append(self.remap(name, arg))
        if out[0] == "signet":
            out[0] = SIGNET
        return out

    def env(self, name: str) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNET_")}
        for e in self.containers[name].get("env", []):
            env[e["name"]] = self.remap(name, e["value"])
        return env

    def host_path(self, name: str, path: str) -> Path:
        return Path(self.remap(name, path))


def test_pod_like_run_enrolls_with_the_projected_token_and_renders_into_the_shared_folder(server, tmp_path):
    manifest = find(DEPLOY / "workload.yaml", "Deployment")
    pod_spec = manifest["spec"]["template"]["spec"]
    pod = Pod(pod_spec, tmp_path / "pod")
    namespace = manifest["metadata"]["namespace"]
    subject = f"system:serviceaccount:{namespace}:{pod_spec['serviceAccountName']}"
    assert subject == "system:serviceaccount:prod:api"

    # The vault: two secrets, and trust in the cluster's issuer for this service account only.
    project = server.op("project", "create", "api")["id"]
    db_url = "postgres://api:pw@db.prod/api"
    smtp = "line one\nline two"
    db = server.op("secret", "create", "--project", project, "--name", "DATABASE_URL", "--value", db_url)["id"]
    mail = server.op("secret", "create", "--project", project, "--name", "smtp", "--field", "user=mailer", "--field", f"password={smtp}")["id"]
    cluster = Issuer("https://kubernetes.default.svc.cluster.local")
    server.trust(cluster, "signet", {"sub": subject}, project, [db, mail], ttl="1h")

    # The kubelet's part: the projected token, for the manifest's audience, in the token volume.
    [source] = next(v for v in pod_spec["volumes"] if v["name"] == "platform-token")["projected"]["sources"]
    projected = source["serviceAccountToken"]
    token = cluster.token(
        projected["audience"],
        {"sub": subject, "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": "api"}}},
        lifetime=projected["expirationSeconds"],
    )
    (pod.volumes["platform-token"] / projected["path"]).write_text(token)

    replace = {
        "https://vault.example.com": server.url,
        "vault_XXXXXXXXXXXXXXXX": server.vault,
        "sk_AAAAAAAAAA": db,
        "sk_BBBBBBBBBB": mail,
    }
    # The init containers, in order, each to completion.
    for name in ["signet-enroll"]:
        p = subprocess.run(pod.command(name, replace), env=pod.env(name), capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, f"{name}: {p.stdout}{p.stderr}"
    shared = pod.host_path("signet-agent", "/run/signet/secrets")
    assert not shared.exists(), "nothing prepares the render folder: the agent makes it"
    # The key was made in the in-memory home, owner-only; the app's volume holds no key.
    home = pod.volumes["signet-home"]
    keys = [p for p in home.rglob("*") if p.is_file() and "identity.json" not in p.name]
    assert keys and all(stat.S_IMODE(k.stat().st_mode) == 0o600 for k in keys)
    [machine] = server.op("machine", "list")["machines"]
    assert machine["kind"] == "ephemeral" and machine["status"] == "approved"

    # The same token again (a restarted init container before the kubelet rotates it): refused.
    again = subprocess.run(pod.command("signet-enroll", replace), env=pod.env("signet-enroll"), capture_output=True, text=True, timeout=60)
    assert again.returncode != 0
    assert len(server.op("machine", "list")["machines"]) == 1

    # The emptyDir's own 0777 folder is refused as a render target; the agent renders into a
    # folder of its own inside it.
    bare = pod.command("signet-agent", {**replace, "/run/signet/secrets/": "/run/signet/"}) + ["--once"]
    refused = subprocess.run(bare, env=pod.env("signet-agent"), capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "writable by every user" in refused.stderr, refused.stderr

    # The sidecar: runs until stopped; its first pass renders every file.
    renders = pod.command("signet-agent", replace)
    agent = subprocess.Popen(renders, env=pod.env("signet-agent"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        expected = {"DATABASE_URL": db_url, "smtp-password": smtp}
        deadline = time.time() + 30
        while not all((shared / f).exists() for f in expected):
            assert agent.poll() is None, agent.stdout.read()
            assert time.time() < deadline, "the agent rendered nothing"
            time.sleep(0.2)
        for f, value in expected.items():
            path = shared / f
            assert path.read_text() == value
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
        # The sidecar's startup probe, run as the kubelet would, now passes.
        probe = pod.containers["signet-agent"]["startupProbe"]["exec"]["command"]
        assert subprocess.run([pod.remap("signet-agent", a) for a in probe]).returncode == 0
        assert sorted(p.name for p in shared.iterdir()) == sorted(expected)
        # Made by the agent, owner-only, inside the everyone-writable volume.
        assert stat.S_IMODE(shared.stat().st_mode) == 0o700
        assert agent.poll() is None
    finally:
        agent.terminate()
        agent.wait(timeout=30)

