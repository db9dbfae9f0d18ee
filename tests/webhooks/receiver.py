#!/usr/bin/env python3
"""A webhook receiver for the end-to-end tests: a real HTTP server (the standard library's).

    python3 receiver.py PORT_FILE OUT_DIR FAIL_FIRST

Listens on 127.0.0.1 (a free port, written to PORT_FILE once listening) and saves every request
it gets as OUT_DIR/<n>.json in the saved-delivery format `signet webhook verify` reads:
{"method", "url", "headers": {name: value}, "body"}. The first FAIL_FIRST requests to /hook are
answered 503 (to exercise retries); later ones 204. Requests to /redirect are answered with a
302 to /hook, which a webhook sender must not follow.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PORT_FILE, OUT_DIR, FAIL_FIRST = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
LOCK = threading.Lock()
COUNT = {"all": 0, "hook": 0}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        with LOCK:
            COUNT["all"] += 1
            n = COUNT["all"]
            if self.path == "/hook":
                COUNT["hook"] += 1
            hook_n = COUNT["hook"]
        saved = {
            "method": self.command,
            "url": f"http://{self.headers['Host']}{self.path}",
            "headers": {k: v for k, v in self.headers.items()},
            "body": body.decode("utf-8"),
        }
        tmp = OUT_DIR / f".{n}.tmp"
        tmp.write_text(json.dumps(saved, indent=2), encoding="utf-8")
        tmp.rename(OUT_DIR / f"{n}.json")
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/hook")
        elif hook_n <= FAIL_FIRST:
            self.send_response(503)
        else:
            self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
tmp = PORT_FILE.with_suffix(".tmp")
tmp.write_text(str(server.server_address[1]))
tmp.rename(PORT_FILE)
server.serve_forever()
