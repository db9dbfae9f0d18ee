"""The GitHub Action's script (integrations/github-action/signet-secrets.sh), run as GitHub runs
it, against a real server and a test issuer that plays GitHub's job-token endpoint."""

import hashlib
import http.server
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
import yaml

from conftest import REPO, SIGNET, Issuer

ACTION = REPO / "integrations" / "github-action"
SCRIPT = ACTION / "signet-secrets.sh"
REQUEST_TOKEN = "request-token-from-the-runner"
JOB = {"sub": "repo:acme/api:ref:refs/heads/main", "repository": "acme/api", "ref": "refs/heads/main"}

DB_URL = "postgres://app:p%w@db/pay"
TLS_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n\n  indented line  \n-----END PRIVATE KEY-----\n"
SMTP = "smtp-pass-42"


class GitHub:
    """GitHub's ACTIONS_ID_TOKEN_REQUEST_URL: a JWT for `?audience=` to the runner's bearer token;
    also serves files (a `signet` to download)."""

    def __init__(self, issuer: Issuer, claims: dict):
        self.issuer, self.claims = issuer, claims
        self.requests = []
        self.files = {}
        self.delay = 0.0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                if url.path in outer.files:
                    body = outer.files[url.path]
                    self.send_response(200)
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                q = urllib.parse.parse_qs(url.query)
                outer.requests.append(q)
                time.sleep(outer.delay)
                if url.path != "/token" or self.headers.get("authorization", "").lower() != f"bearer {REQUEST_TOKEN}":
                    self.send_response(401)
                    self.end_headers()
                    return
                aud = q.get("audience", ["https://github.com/acme"])[0]
                body = json.dumps({"value": outer.issuer.token(aud, outer.claims)}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


def parse_github_env(text: str) -> dict:
    """$GITHUB_ENV as the runner reads it: NAME=VALUE lines, or NAME<<DELIMITER heredocs."""
    out, lines, i = {}, text.split("\n"), 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delim = line.split("<<", 1)
            body = []
            while lines[i] != delim:
                body.append(lines[i])
                i += 1
            i += 1
            out[name] = "\n".join(body)
        else:
            name, value = line.split("=", 1)
            out[name] = value
    return out


@pytest.fixture
def job(server, tmp_path):
    """A vault with three secrets, an issuer trust for acme/api on main, and a fake GitHub."""
    project = server.op("project", "create", "api")["id"]
    db = server.op("secret", "create", "--project", project, "--name", "DATABASE_URL", "--value", DB_URL)["id"]
    tls = server.op("secret", "create", "--project", project, "--name", "TLS_KEY", f"--value={TLS_KEY}")["id"]
    smtp = server.op("secret", "create", "--project", project, "--name", "smtp", "--field", "user=mailer", "--field", f"password={SMTP}")["id"]
    other = server.op("secret", "create", "--project", project, "--name", "NOT_GRANTED", "--value", "nope")["id"]
    issuer = Issuer("https://token.actions.githubusercontent.com")
    server.trust(issuer, "signet", {"repository": "acme/api", "ref": "refs/heads/main"}, project, [db, tls, smtp])
    gh = GitHub(issuer, dict(JOB))
    tmp = tmp_path / "runner-temp"
    tmp.mkdir()
    try:
        yield {"server": server, "gh": gh, "ids": {"db": db, "tls": tls, "smtp": smtp, "other": other}, "tmp": tmp, "root": tmp_path}
    finally:
        gh.close()


def action_env(job, secrets: str, path: str | None = None, **inputs) -> dict:
    env = {
        "PATH": path if path is not None else f"{Path(SIGNET).parent}:{os.environ['PATH']}",
        "HOME": os.environ.get("HOME", "/root"),
        "GITHUB_ENV": str(job["root"] / "github_env"),
        "ACTIONS_ID_TOKEN_REQUEST_URL": f"{job['gh'].url}/token?api-version=2.0",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": REQUEST_TOKEN,
        "SIGNET_ACTION_SERVER": job["server"].url,
        "SIGNET_ACTION_VAULT": job["server"].vault,
        "SIGNET_ACTION_AUDIENCE": "signet",
        "SIGNET_ACTION_SECRETS": secrets,
        "SIGNET_ACTION_TMPDIR": str(job["tmp"]),
    }
    env.update(inputs)
    return env


def run_action(job, secrets: str, path: str | None = None, **inputs) -> tuple[subprocess.CompletedProcess, dict]:
    github_env = job["root"] / "github_env"
    github_env.write_text("")
    env = action_env(job, secrets, path, **inputs)
    p = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120)
    return p, parse_github_env(github_env.read_text())


def secrets_input(ids: dict) -> str:
    # As YAML hands a `|` block over: indented lines, a comment and a blank line.
    return (
        f"  # the job's secrets\n  DATABASE_URL={ids['db']}\n\n"
        f"  TLS_KEY={ids['tls']}\n  SMTP_PASSWORD={ids['smtp']}:password\n"
    )


def masks(stdout: str) -> list:
    return [l[len("::add-mask::"):] for l in stdout.splitlines() if l.startswith("::add-mask::")]


def test_exports_masked_values_and_leaves_no_key_on_disk(job):
    p, exported = run_action(job, secrets_input(job["ids"]))
    assert p.returncode == 0, p.stdout + p.stderr
    assert exported == {"DATABASE_URL": DB_URL, "TLS_KEY": TLS_KEY, "SMTP_PASSWORD": SMTP}

    # Every non-blank line of every value is masked, escaped as a workflow command's data.
    m = masks(p.stdout)
    want = [DB_URL.replace("%", "%25"), SMTP] + [l for l in TLS_KEY.split("\n") if l.strip()]
    assert sorted(m) == sorted(want)
    # No value reaches the log other than in its mask.
    for value in exported.values():
        for line in value.split("\n"):
            if line.strip():
                rest = "\n".join(l for l in p.stdout.splitlines() if not l.startswith("::add-mask::"))
                assert line not in rest and line not in p.stderr

    # GitHub was asked for a token for the input's audience, with the runner's bearer token.
    assert [r.get("audience") for r in job["gh"].requests] == [["signet"]]
    assert [r.get("api-version") for r in job["gh"].requests] == [["2.0"]]
    # The temporary SIGNET_HOME (and the key in it) is gone.
    assert list(job["tmp"].iterdir()) == []
    # The machine it enrolled is an approved, ephemeral one.
    machines = job["server"].op("machine", "list")["machines"]
    assert len(machines) == 1 and machines[0]["kind"] == "ephemeral" and machines[0]["expiresAt"]


def test_a_cancelled_step_still_removes_the_identity_folder(job):
    """The runner cancels a step with a signal to its process group, here mid-enrollment."""
    job["gh"].delay = 3
    (job["root"] / "github_env").write_text("")
    env = action_env(job, secrets_input(job["ids"]))
    p = subprocess.Popen(["bash", str(SCRIPT)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 30
    while not job["gh"].requests:
        assert time.time() < deadline and p.poll() is None
        time.sleep(0.05)
    assert len(list(job["tmp"].iterdir())) == 1
    os.killpg(p.pid, signal.SIGTERM)
    p.communicate(timeout=30)
    assert p.returncode != 0
    assert list(job["tmp"].iterdir()) == []
    assert (job["root"] / "github_env").read_text() == ""


def test_a_job_no_rule_admits_gets_nothing_and_leaves_nothing(job):
    job["gh"].claims["ref"] = "refs/heads/feature"
    p, exported = run_action(job, secrets_input(job["ids"]))
    assert p.returncode != 0
    assert "::error title=signet::enrollment failed" in p.stdout
    assert exported == {} and masks(p.stdout) == []
    assert list(job["tmp"].iterdir()) == []


def test_the_wrong_audience_is_refused(job):
    p, exported = run_action(job, secrets_input(job["ids"]), SIGNET_ACTION_AUDIENCE="not-signet")
    assert p.returncode != 0 and exported == {}
    assert [r.get("audience") for r in job["gh"].requests] == [["not-signet"]]
    assert list(job["tmp"].iterdir()) == []


def test_one_unreadable_secret_exports_none(job):
    p, exported = run_action(job, secrets_input(job["ids"]) + f"OTHER={job['ids']['other']}\n")
    assert p.returncode != 0
    assert f"cannot read {job['ids']['other']} for OTHER" in p.stdout
    assert exported == {}
    assert list(job["tmp"].iterdir()) == []


@pytest.mark.parametrize(
    "bad",
    ["DATABASE_URL", "1X=sk_AAAAAAAAAA", "A B=sk_AAAAAAAAAA", "X=sk_AAAAAAAAAA extra", "X=$(id)", "X=sk_A\nX=sk_B"],
)
def test_a_malformed_secrets_input_is_refused_before_enrolling(job, bad):
    p, exported = run_action(job, bad)
    assert p.returncode != 0 and "::error title=signet::secrets:" in p.stdout
    assert job["gh"].requests == [] and exported == {}
    assert list(job["tmp"].iterdir()) == []


def test_no_identity_token_permission_fails_cleanly(job):
    p, exported = run_action(job, secrets_input(job["ids"]), ACTIONS_ID_TOKEN_REQUEST_URL="", ACTIONS_ID_TOKEN_REQUEST_TOKEN="")
    assert p.returncode != 0 and exported == {}
    assert list(job["tmp"].iterdir()) == []
    p, exported = run_action(job, secrets_input(job["ids"]), ACTIONS_ID_TOKEN_REQUEST_TOKEN="wrong")
    assert p.returncode != 0 and exported == {}
    assert list(job["tmp"].iterdir()) == []


def fake_signet(job) -> bytes:
    """A stand-in download: a `signet` that runs the binary under test (no 400 MB copies)."""
    return f'#!/bin/sh\nexec "{SIGNET}" "$@"\n'.encode()


def test_installs_a_verified_download_when_signet_is_not_on_path(job):
    body = fake_signet(job)
    job["gh"].files["/signet"] = body
    sha = hashlib.sha256(body).hexdigest()
    path = "/usr/bin:/bin"
    assert shutil.which("signet", path=path) is None
    p, exported = run_action(
        job, f"DATABASE_URL={job['ids']['db']}", path=path,
        SIGNET_ACTION_BINARY_URL=f"{job['gh'].url}/signet", SIGNET_ACTION_BINARY_SHA256=sha.upper(),
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert exported == {"DATABASE_URL": DB_URL}
    assert list(job["tmp"].iterdir()) == []


def test_a_download_with_another_digest_is_refused(job):
    job["gh"].files["/signet"] = fake_signet(job)
    p, exported = run_action(
        job, f"DATABASE_URL={job['ids']['db']}", path="/usr/bin:/bin",
        SIGNET_ACTION_BINARY_URL=f"{job['gh'].url}/signet", SIGNET_ACTION_BINARY_SHA256="0" * 64,
    )
    assert p.returncode != 0 and "SHA-256" in p.stdout
    assert exported == {} and job["gh"].requests == []
    assert list(job["tmp"].iterdir()) == []


def test_a_plain_http_download_from_elsewhere_is_refused(job):
    p, exported = run_action(
        job, f"DATABASE_URL={job['ids']['db']}", path="/usr/bin:/bin",
        SIGNET_ACTION_BINARY_URL="http://example.com/signet", SIGNET_ACTION_BINARY_SHA256="0" * 64,
    )
    assert p.returncode != 0 and "must be https://" in p.stdout
    assert exported == {} and list(job["tmp"].iterdir()) == []


def test_action_yml_passes_every_input_to_the_script():
    action = yaml.safe_load((ACTION / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    step = action["runs"]["steps"][0]
    assert step["shell"] == "bash" and "signet-secrets.sh" in step["run"]
    script = SCRIPT.read_text()
    for name in action["inputs"]:
        var = next(k for k, v in step["env"].items() if v == "${{ inputs.%s }}" % name)
        assert var in script, f"input {name} ({var}) is not read by the script"
    assert action["inputs"]["audience"]["default"] == "signet"


def test_the_script_is_shellcheck_clean():
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed")
    p = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout
