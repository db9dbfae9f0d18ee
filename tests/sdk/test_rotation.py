"""The official `sikkerkey` Python SDK's `watch` sees an operator's rotation (issue 11, "Rotation")."""

import queue

from sikkerkey import SikkerKey
from sikkerkey.client import WatchStatus

from test_sikkerkey_sdk import setup_machine


def test_watch_sees_a_rotation(server, monkeypatch):
    _project, std, _fields, ident_path = setup_machine(server)
    monkeypatch.setenv("SIKKERKEY_IDENTITY", str(ident_path))
    sk = SikkerKey()
    before = sk.get_secret(std)
    server.op("secret", "rotation", "set", std, "--charset", "hex", "--length", "48")

    events = queue.Queue()
    sk.watch(std, events.put)
    try:
        # Nothing changed since the read: the first polls report nothing.
        try:
            early = events.get(timeout=1)
            raise AssertionError(f"an event before any change: {early}")
        except queue.Empty:
            pass
        rotated = server.op("secret", "rotate", std)
        assert rotated["version"] == 2
        # The SDK polls at least every 15 s (its minimum interval is 10 s).
        event = events.get(timeout=40)
        assert event.secret_id == std
        assert event.status == WatchStatus.CHANGED, event
        assert event.value != before
        assert len(event.value) == 48 and all(c in "0123456789abcdef" for c in event.value)
        assert sk.get_secret(std) == event.value
    finally:
        sk.close()

    records = server.op("audit", "list", "--action", "secret_rotate")["records"]
    assert [r["detail"].split(" ")[0] for r in records] == ["trigger=manual"]
