"""deploy/systemd: the unit checked by systemd's own parser, its hardening asserted line by line,
the example configuration started for real, and the server's sd_notify protocol observed through
a Unix datagram socket standing in for systemd's NOTIFY_SOCKET."""

import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import DEPLOY, SIGNET

UNIT = DEPLOY / "systemd" / "signet.service"
CONFIG = DEPLOY / "systemd" / "signet.toml"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def unit_lines(text: str) -> list:
    """(section, key, value) for every assignment, in order (repeated keys kept)."""
    out, section = [], None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.append((section, key.strip(), value.strip()))
    return out


def service(key: str) -> list:
    return [v for s, k, v in unit_lines(UNIT.read_text()) if s == "Service" and k == key]


def verify(unit_text: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """`systemd-analyze verify` on the unit with ExecStart pointing at the built binary (verify
    checks the command exists). Unknown keys and bad values are only warnings to systemd, with
    exit code 0, so callers must look at the output too."""
    unit = tmp_path / "signet.service"
    unit.write_text(unit_text.replace("/usr/local/bin/signet", str(Path(SIGNET).resolve())))
    return subprocess.run(
        [SYSTEMD_ANALYZE, "verify", "--man=no", str(unit)], capture_output=True, text=True
    )


needs_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed (scripts/setup.sh installs systemd)"
)


@needs_analyze
def test_systemd_analyze_verify_finds_nothing_to_say(tmp_path):
    assert Path(SIGNET).is_file(), f"build the binary first: {SIGNET}"
    p = verify(UNIT.read_text(), tmp_path)
    assert p.returncode == 0 and p.stdout + p.stderr == "", p.stdout + p.stderr


@needs_analyze
def test_systemd_analyze_security_rates_the_exposure_at_most_2(tmp_path):
    unit = tmp_path / "signet.service"
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/signet", str(Path(SIGNET).resolve())))
    run = lambda threshold: subprocess.run(
        [SYSTEMD_ANALYZE, "security", "--offline=true", "--no-pager", f"--threshold={threshold}", str(unit)],
        capture_output=True,
        text=True,
    )
    # The threshold is on a scale of 100: 20 is an exposure of 2.0 out of 10.
    p = run(20)
    assert p.returncode == 0, p.stdout + p.stderr
    assert re.search(r"Overall exposure level for signet\.service: 1\.\d OK", p.stdout), p.stdout
    # And the check can fail: the same unit stripped of its sandbox is far more exposed.
    bare = "\n".join(l for l in UNIT.read_text().splitlines() if not re.match(r"(Protect|Private|Restrict|System|Capability|Memory|Lock|NoNew)", l))
    unit.write_text(bare.replace("/usr/local/bin/signet", str(Path(SIGNET).resolve())))
    assert run(20).returncode != 0


@needs_analyze
@pytest.mark.parametrize(
    "good, bad",
    [
        ("LockPersonality=yes", "LockPersonalty=yes"),  # a misspelled key is only a warning
        ("ProtectSystem=strict", "ProtectSystem=strictest"),  # so is a value systemd ignores
        ("Type=notify", "Type=notfy"),
    ],
)
def test_the_verify_check_does_catch_a_broken_unit(tmp_path, good, bad):
    text = UNIT.read_text()
    assert good in text
    p = verify(text.replace(good, bad), tmp_path)
    assert p.returncode != 0 or p.stdout + p.stderr != ""


def test_the_unit_is_type_notify_and_sandboxed():
    expected = {
        "Type": ["notify"],
        "NotifyAccess": ["main"],
        "Restart": ["on-failure"],
        # Slower than the default start limit (5 starts in 10 s), so a database that is late at
        # boot delays Signet instead of failing the unit for good.
        "RestartSec": ["5s"],
        "User": ["signet"],
        "StateDirectory": ["signet"],
        "StateDirectoryMode": ["0700"],
        "ProtectSystem": ["strict"],
        "ProtectHome": ["yes"],
        "PrivateTmp": ["yes"],
        "PrivateDevices": ["yes"],
        "PrivateMounts": ["yes"],
        "NoNewPrivileges": ["yes"],
        "CapabilityBoundingSet": [""],
        "AmbientCapabilities": [""],
        "LockPersonality": ["yes"],
        "MemoryDenyWriteExecute": ["yes"],
        "RestrictAddressFamilies": ["AF_INET AF_INET6 AF_UNIX"],
        "SystemCallFilter": ["@system-service", "~@privileged"],
        "LimitCORE": ["0"],
        "UMask": ["0077"],
        "LoadCredential": ["root-key:/etc/signet/root.key"],
    }
    for key, values in expected.items():
        assert service(key) == values, key
    [exec_start] = service("ExecStart")
    assert exec_start == "/usr/local/bin/signet server --config /etc/signet/signet.toml"
    # Nothing may hand the service a way back to more privilege or a writable system.
    for key in ("DynamicUser", "ReadWritePaths", "PermissionsStartOnly", "Environment"):
        assert service(key) == [], key


def test_the_example_config_takes_the_key_systemd_hands_over():
    text = CONFIG.read_text()
    assert re.search(r'^root_key_file = "/run/credentials/signet\.service/root-key"$', text, re.M)
    assert re.search(r'^data_dir = "/var/lib/signet"$', text, re.M)
    # The credential's name is the one the unit loads.
    [cred] = service("LoadCredential")
    assert cred.split(":")[0] == "root-key"


def test_sysusers_and_tmpfiles_snippets():
    users = [l for l in (DEPLOY / "systemd" / "signet.sysusers.conf").read_text().splitlines() if l and not l.startswith("#")]
    assert users == ['u signet - "Signet secrets manager" /var/lib/signet']
    dirs = [l for l in (DEPLOY / "systemd" / "signet.tmpfiles.conf").read_text().splitlines() if l and not l.startswith("#")]
    assert dirs == ["d /etc/signet 0750 root signet -"]


# --- sd_notify, observed ------------------------------------------------------------------


class NotifySocket:
    """A Unix datagram socket where systemd's would be: every datagram the server sends, with
    the time it came."""

    def __init__(self, path: Path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.messages = []
        self.cond = threading.Condition()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        while True:
            try:
                data = self.sock.recv(4096)
            except OSError:
                return
            with self.cond:
                self.messages.append(data.decode())
                self.cond.notify_all()

    def wait_for(self, line: str, timeout: float) -> int:
        """Index of the first message holding `line`, waiting up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i, m in enumerate(self.messages):
                    if line in m.splitlines():
                        return i
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {line} within {timeout}s; got {self.messages}")
                self.cond.wait(left)

    def lines(self) -> list:
        with self.cond:
            return [l for m in self.messages for l in m.splitlines()]

    def close(self):
        self.sock.close()


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


class Server:
    """`signet server` started with deploy/systemd/signet.toml, its paths moved into a temporary
    folder (the state directory and the credential systemd would provide), on a free port."""

    def __init__(self, root: Path, notify: Path | None):
        self.root = root
        data = root / "state"
        data.mkdir(mode=0o700, exist_ok=True)
        key = root / "credentials" / "root-key"
        if not key.exists():
            key.parent.mkdir(mode=0o700)
            # As systemd hands a credential over: mode 0400.
            key.write_text(os.urandom(32).hex())
            key.chmod(0o400)
        config = CONFIG.read_text()
        config = config.replace('"/var/lib/signet"', f'"{data}"')
        config = config.replace('"/run/credentials/signet.service/root-key"', f'"{key}"')
        config = re.sub(r'^listen\s*=.*$', 'listen = "127.0.0.1:0"', config, flags=re.M)
        (root / "signet.toml").write_text(config)
        self.db = data / "signet.db"
        env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "SIGNET_LOG")}
        if notify is not None:
            env["NOTIFY_SOCKET"] = str(notify)
        self.log = root / "server.log"
        self.proc = subprocess.Popen(
            [SIGNET, "server", "--config", str(root / "signet.toml")],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.port = None
        self.listening = threading.Event()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        with open(self.log, "a") as out:
            for line in self.proc.stderr:
                out.write(line)
                out.flush()
                m = re.search(r"signet: listening on 127\.0\.0\.1:(\d+)", line)
                if m:
                    self.port = int(m.group(1))
                    self.listening.set()

    def url(self, path: str) -> str:
        assert self.listening.wait(60), "server did not start: " + self.log.read_text()
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture
def notify(tmp_path):
    # AF_UNIX paths are limited to 107 bytes; pytest's tmp_path can be longer.
    short = Path(os.environ.get("TMPDIR", "/tmp")) / f"signet-notify-{os.getpid()}-{time.monotonic_ns()}"
    sock = NotifySocket(short)
    yield sock
    sock.close()
    short.unlink(missing_ok=True)


def test_ready_is_sent_once_when_readyz_answers_and_stopping_on_sigterm(tmp_path, notify):
    server = Server(tmp_path, notify.path)
    try:
        i = notify.wait_for("READY=1", 60)
        # The moment READY=1 arrives, the server answers as systemd's dependants expect.
        assert http_status(server.url("/readyz")) == 200
        ready = notify.messages[i].splitlines()
        status = [l for l in ready if l.startswith("STATUS=")]
        assert len(status) == 1 and status[0].startswith("STATUS=serving vault vault_"), ready
        assert str(server.port) in status[0]
        server.proc.send_signal(signal.SIGTERM)
        notify.wait_for("STOPPING=1", 30)
        assert server.proc.wait(30) == 0, server.log.read_text()
        lines = notify.lines()
        assert lines.count("READY=1") == 1, lines
        assert lines.index("READY=1") < lines.index("STOPPING=1")
        # Nothing secret travels to the service manager.
        key = (tmp_path / "credentials" / "root-key").read_text()
        assert all(key not in l for l in lines)
    finally:
        server.stop()


def test_no_ready_while_the_store_cannot_take_writes(tmp_path, notify):
    # A first start makes the database; then another process holds SQLite's write lock, so
    # reads could not be audited: systemd must not hear READY=1 until it is released. (Today the
    # server waits for the lock while opening the store, before it listens; if it ever gets
    # further, /readyz must answer 503 meanwhile. The retry loop itself, a store that opens but
    # is not ready yet, is the unit test in crates/cli/src/serve.rs.)
    first = Server(tmp_path, None)
    assert http_status(first.url("/readyz")) == 200
    first.proc.send_signal(signal.SIGTERM)
    assert first.proc.wait(30) == 0
    holder = sqlite3.connect(first.db, isolation_level=None, timeout=0)
    holder.execute("BEGIN IMMEDIATE")
    server = Server(tmp_path, notify.path)
    try:
        time.sleep(4)
        assert server.proc.poll() is None, server.log.read_text()
        assert "READY=1" not in notify.lines(), notify.lines()
        if server.listening.is_set():
            assert http_status(server.url("/readyz")) == 503
        holder.execute("ROLLBACK")
        holder.close()
        notify.wait_for("READY=1", 60)
        assert http_status(server.url("/readyz")) == 200
    finally:
        server.stop()


def test_without_notify_socket_or_with_a_dead_one_the_server_still_serves(tmp_path):
    # No NOTIFY_SOCKET: nothing to tell. A socket path nobody listens on: a warning, no exit.
    for name, notify in (("none", None), ("dead", tmp_path / "nobody-listens")):
        root = tmp_path / name
        root.mkdir()
        server = Server(root, notify)
        try:
            deadline = time.monotonic() + 30
            while http_status(server.url("/readyz")) != 200:
                assert time.monotonic() < deadline, server.log.read_text()
                time.sleep(0.2)
            server.proc.send_signal(signal.SIGTERM)
            assert server.proc.wait(30) == 0, server.log.read_text()
        finally:
            server.stop()
        if notify is not None:
            assert "could not notify the service manager" in server.log.read_text()
