"""A real `signet server` process for the SDK tests, set up through the real `signet` CLI."""

import json
import os
import re
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SIGNET = os.environ.get("SIGNET_BIN", str(REPO / "target" / "debug" / "signet"))


class Server:
    def __init__(self, root: Path, config: Path | None = None, init_operator: bool = True):
        self.root = root
        self.data = root / "data"
        self.op_home = root / "operator"
        self.machine_home = root / "machine"
        self.log = root / "server.log"
        self.config = ["--config", str(config)] if config else []
        self.proc = subprocess.Popen(
            [SIGNET, "server", "--data-dir", str(self.data), "--listen", "127.0.0.1:0", *self.config],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        ready = threading.Event()
        self.port = None

        def pump():
            with open(self.log, "a") as log:
                for line in self.proc.stderr:
                    log.write(line)
                    log.flush()
                    m = re.match(r"signet: listening on 127\.0\.0\.1:(\d+)", line)
                    if m and not ready.is_set():
                        self.port = int(m.group(1))
                        ready.set()
            ready.set()

        threading.Thread(target=pump, daemon=True).start()
        ready.wait(60)
        assert self.port, "server did not start: " + self.log.read_text()
        # The SikkerKey SDKs accept plain HTTP only to http://localhost.
        self.url = f"http://localhost:{self.port}"
        if init_operator:
            out = self.run(
                self.op_home, "operator", "init", "--json", "--data-dir", str(self.data), "--api-url", self.url, *self.config
            )
            self.vault = json.loads(out)["vaultId"]

    def run(self, home: Path, *args: str) -> str:
        env = dict(os.environ, SIGNET_HOME=str(home))
        env.pop("SIGNET_IDENTITY", None)
        p = subprocess.run([SIGNET, *args], env=env, capture_output=True, text=True)
        assert p.returncode == 0, f"signet {args}: {p.stderr}"
        return p.stdout

    def op(self, *args: str) -> dict:
        return json.loads(self.run(self.op_home, "--json", *args))

    def stop(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def server():
    with tempfile.TemporaryDirectory() as tmp:
        s = Server(Path(tmp))
        try:
            yield s
        finally:
            s.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Lets a fixture see whether its test failed (`request.node.rep_call`), to keep evidence."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
