"""`/metrics` read by parsers that are not Signet's (issue 15 §1): a real `signet server` with a
metrics listener from its config file (`metrics_listen`), signed reads made here (answered,
refused, unauthenticated), then the scrape parsed by the official Prometheus client's text
parser (Prometheus text format) and by its stricter OpenMetrics parser (OpenMetrics, asked for
with `Accept`). Checks the families, their types and label sets (the gauges of live sessions and
leases included), and that the counters moved by what was done. Every test runs on SQLite and
again on a fresh database on the PostgreSQL at $SIGNET_TEST_PG_URL (default
postgres://postgres@127.0.0.1:5432/test), dropped afterwards."""

import base64
import hashlib
import importlib.util
import json
import os
import re
import secrets
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[2]

# The SDK tests' real-server harness, loaded under its own name (both folders have a conftest).
_spec = importlib.util.spec_from_file_location("signet_sdk_harness", REPO / "tests" / "sdk" / "conftest.py")
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

PG_ADMIN = os.environ.get("SIGNET_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/test")

OUTCOMES = {"ok", "auth", "throttled", "malformed", "denied", "not_found", "frozen", "error"}


def psql(sql):
    subprocess.run(["psql", PG_ADMIN, "-qc", sql], check=True, capture_output=True)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request):
    backend = request.param
    database = None
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "signet.toml"
        settings = 'metrics_listen = "127.0.0.1:0"\n'
        if backend == "postgres":
            database = "signet_t_metrics_" + secrets.token_hex(6)
            psql(f"CREATE DATABASE {database}")
            key = Path(tmp) / "root.key"
            key.write_text(secrets.token_hex(32))
            key.chmod(0o600)
            base = PG_ADMIN.rsplit("/", 1)[0]
            settings += f'database_url = "{base}/{database}"\nroot_key_file = "{key}"\n'
        config.write_text(settings)
        s = harness.Server(Path(tmp), config=config)
        s.backend = backend
        deadline = time.time() + 30
        while True:
            m = re.search(r"signet: metrics on http://(127\.0\.0\.1:\d+)/metrics", s.log.read_text())
            if m:
                s.metrics = "http://" + m.group(1) + "/metrics"
                break
            assert time.time() < deadline, "no metrics listener: " + s.log.read_text()
            time.sleep(0.05)
        try:
            yield s
        finally:
            s.stop()
            if database:
                psql(f"DROP DATABASE {database} WITH (FORCE)")


def get(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, r.headers.get("content-type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("content-type", ""), e.read().decode()


def scrape(server):
    """The Prometheus text format, what a scraper gets without asking."""
    status, ctype, text = get(server.metrics)
    assert status == 200
    assert ctype.startswith("text/plain; version=0.0.4")
    return text


def scrape_openmetrics(server):
    """OpenMetrics, for a scraper that asks for it as Prometheus does."""
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
    status, ctype, text = get(server.metrics, {"Accept": accept})
    assert status == 200
    assert ctype.startswith("application/openmetrics-text; version=1.0.0")
    assert text.endswith("# EOF\n")
    return text


def families(text):
    return {f.name: f for f in text_string_to_metric_families(text)}


def sample(fams, family, name, **labels):
    for s in fams[family].samples:
        if s.name == name and s.labels == labels:
            return s.value
    return 0.0


def signed_get(server, key, machine, path, signature=None):
    ts = str(int(time.time()))
    nonce = base64.b64encode(secrets.token_bytes(16)).decode()
    signed = f"GET:{path}:{ts}:{nonce}:{hashlib.sha256(b'').hexdigest()}"
    sig = signature or base64.b64encode(key.sign(signed.encode())).decode()
    headers = {"X-Machine-Id": machine, "X-Timestamp": ts, "X-Nonce": nonce, "X-Signature": sig}
    return get(server.url + path, headers)[0]


def enrolled_machine(server):
    project = server.op("project", "create", "metrics")["id"]
    granted = server.op("secret", "create", "--project", project, "--name", "GRANTED", "--value", "v-granted")["id"]
    other = server.op("secret", "create", "--project", project, "--name", "OTHER", "--value", "v-other")["id"]
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    token = server.op("token", "bootstrap")["token"]
    req = urllib.request.Request(
        server.url + "/v1/enroll/bootstrap",
        data=json.dumps({"token": token, "publicKey": base64.b64encode(raw).decode(), "hostname": "metrics-1"}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=15) as r:
        machine = json.loads(r.read())["machineId"]
    server.op("machine", "approve", machine)
    server.op("machine", "attach", machine, "--project", project)
    server.op("machine", "grant", machine, "--secret", granted)
    return key, machine, granted, other


def test_the_scrape_parses_and_moves_with_reads(server):
    key, machine, granted, other = enrolled_machine(server)
    before = families(scrape(server))

    assert signed_get(server, key, machine, f"/v1/secret/{granted}") == 200
    assert signed_get(server, key, machine, f"/v1/secret/{granted}") == 200
    assert signed_get(server, key, machine, f"/v1/secret/{other}") == 403
    assert signed_get(server, key, machine, f"/v1/secret/{granted}", signature="AAAA" * 22) == 401

    text = scrape(server)
    # The stricter OpenMetrics parser accepts the other format as a whole (types, units, # EOF).
    strict = {f.name: f for f in parse_openmetrics(scrape_openmetrics(server))}
    assert strict["signet_secret_reads"].type == "counter"
    assert strict["signet_http_request_duration_seconds"].type == "histogram"
    assert strict["signet_http_request_duration_seconds"].unit == "seconds"

    after = families(text)
    expected = {
        "signet_http_requests": "counter",
        "signet_http_request_duration_seconds": "histogram",
        "signet_secret_reads": "counter",
        "signet_audit_append_duration_seconds": "histogram",
        "signet_sign_ins": "counter",
        "signet_leases_created": "counter",
        "signet_leases_revoked": "counter",
        "signet_event_streams_open": "gauge",
        "signet_store_backend": "gauge",
        "signet_store_group_commit_size": "histogram",
        "signet_store_commit_duration_seconds": "histogram",
        "signet_store_fsync_duration_seconds": "histogram",
        "signet_store_checkpoint_duration_seconds": "histogram",
        "signet_store_pool_connections": "gauge",
        "signet_store_pool_busy_connections": "gauge",
        "signet_nonces_held": "gauge",
        "signet_sessions_active": "gauge",
        "signet_leases_active": "gauge",
    }
    for name, typ in expected.items():
        assert name in after, f"{name} missing"
        assert after[name].type == typ, f"{name} is {after[name].type}"

    # Label sets: requests by method, route template and status; latency by route; reads by
    # outcome; nothing else.
    for s in after["signet_http_requests"].samples:
        assert set(s.labels) == {"method", "route", "status"}, s
        assert s.labels["route"] in ("unmatched", "other") or s.labels["route"].startswith("/"), s
    for s in after["signet_http_request_duration_seconds"].samples:
        assert set(s.labels) - {"le"} == {"route"}, s
    assert {s.labels["outcome"] for s in after["signet_secret_reads"].samples} == OUTCOMES
    assert {s.labels["kind"] for s in after["signet_sign_ins"].samples} == {"browser", "cli"}
    assert [s.labels for s in after["signet_store_backend"].samples] == [{"backend": server.backend}]
    # What is live in the store, counted as the server starts and every 10 s: sessions by kind.
    assert {s.labels["kind"] for s in after["signet_sessions_active"].samples} == {"browser", "cli"}
    assert [s.labels for s in after["signet_leases_active"].samples] == [{}]
    assert all(s.value >= 0 for f in ("signet_sessions_active", "signet_leases_active") for s in after[f].samples)

    # No id from a path became a label value.
    for ident in (machine, granted, other):
        assert ident not in text

    def moved(outcome):
        name = "signet_secret_reads_total"
        return sample(after, "signet_secret_reads", name, outcome=outcome) - sample(
            before, "signet_secret_reads", name, outcome=outcome
        )

    assert moved("ok") == 2
    assert moved("denied") == 1
    assert moved("auth") == 1
    assert moved("error") == 0
    route = "/v1/secret/{id}"
    reqs = lambda fams, status: sample(  # noqa: E731
        fams, "signet_http_requests", "signet_http_requests_total", method="GET", route=route, status=status
    )
    assert reqs(after, "200") - reqs(before, "200") == 2
    assert reqs(after, "403") - reqs(before, "403") == 1
    assert reqs(after, "401") - reqs(before, "401") == 1
    # Histograms are cumulative and end at +Inf, which holds every observation.
    buckets = [
        s
        for s in after["signet_http_request_duration_seconds"].samples
        if s.name.endswith("_bucket") and s.labels["route"] == route
    ]
    values = [b.value for b in buckets]
    assert values == sorted(values) and buckets[-1].labels["le"] == "+Inf"
    count = sample(after, "signet_http_request_duration_seconds", "signet_http_request_duration_seconds_count", route=route)
    assert buckets[-1].value == count >= 4
    # The three signed reads' nonces (and the operator's requests') are held on either backend.
    nonces = "signet_nonces_held"
    assert sample(after, nonces, nonces) >= sample(before, nonces, nonces) + 3
    audit = "signet_audit_append_duration_seconds"
    assert sample(after, audit, audit + "_count") > sample(before, audit, audit + "_count")


def test_the_api_listener_does_not_serve_metrics(server):
    status, _, body = get(server.url + "/metrics")
    assert status == 404
    assert "signet_" not in body


def test_the_metrics_listener_serves_nothing_else(server):
    for path in ("/", "/v1/secrets", "/metrics/", "/healthz"):
        status, _, _ = get(server.metrics.rsplit("/", 1)[0] + path)
        assert status == 404, path


def test_the_example_alert_rules_name_only_served_series(server):
    """deploy/prometheus/signet-alerts.yml (docs/operations.md) parses as a Prometheus rule file,
    and every `signet_*` series an expression names is one a real server serves: a renamed
    metric cannot leave an alert that never fires. `promtool check rules` runs too when it is
    installed (Debian's `prometheus` package)."""
    import shutil
    import subprocess

    import yaml

    path = REPO / "deploy" / "prometheus" / "signet-alerts.yml"
    doc = yaml.safe_load(path.read_text())
    rules = [r for g in doc["groups"] for r in g["rules"]]
    assert rules and all({"alert", "expr"} <= set(r) for r in rules)
    served = set()
    for fam in text_string_to_metric_families(scrape(server)):
        served.update(s.name for s in fam.samples)
        served.add(fam.name)
    for rule in rules:
        for name in re.findall(r"\bsignet_[a-z0-9_]+", rule["expr"]):
            assert name in served, f"{rule['alert']}: {name} is not served"
    promtool = shutil.which("promtool")
    if promtool:
        out = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr


def test_made_up_paths_and_methods_add_no_series(server):
    """An outsider cannot grow the scrape: hundreds of made-up paths (with ids that look real),
    query strings and invented methods all land in a fixed set of series, and none of what they
    sent becomes a label value."""
    import http.client

    def series(text):
        return {
            (s.name, tuple(sorted(s.labels.items())))
            for f in text_string_to_metric_families(text)
            for s in f.samples
            if f.name.startswith("signet_http_")
        }

    host, port = server.url.removeprefix("http://").split(":")

    def send(method, path):
        c = http.client.HTTPConnection(host, int(port), timeout=15)
        c.request(method, path)
        c.getresponse().read()
        c.close()

    # Each kind once first, so the series they land in exist before the count.
    warm = [("GET", "/nope"), ("GET", "/v1/secret/x/y"), ("BREW", "/v1/secrets"), ("GET", "/v1/secrets?q=1")]
    for method, path in warm:
        send(method, path)
    before = series(scrape(server))
    sent = []
    for i in range(200):
        tag = secrets.token_hex(8)
        sent.append(tag)
        send("GET", f"/{tag}/{i}")
        send("GET", f"/v1/secret/{tag}/{i}")
        send(f"X{tag.upper()}", "/v1/secrets")
        send("GET", f"/v1/secrets?token={tag}")
    text = scrape(server)
    assert series(text) == before, series(text) ^ before
    log = server.log.read_text()
    for tag in sent:
        for where in (text, log):
            assert tag not in where and tag.upper() not in where
