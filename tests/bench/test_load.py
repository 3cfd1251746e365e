"""The open-loop load generator (bench/_load.py): every request sent on schedule, each
latency counted from when the request was due."""

from __future__ import annotations

import http.server
import threading
import time

import pytest

from bench._load import Target, open_loop


class _Slow(http.server.BaseHTTPRequestHandler):
    """Answers 200 after 50 ms; /fail answers 500."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(0.05)
        self.send_response(500 if self.path == "/fail" else 200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        return None


@pytest.mark.slow
def test_open_loop_sends_every_scheduled_request_and_counts_from_when_it_was_due():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        ok = open_loop("127.0.0.1", port, Target("x", "POST", "/", {}, {"a": 1}), 40, 0.5)
        assert ok.requests == 20 and ok.errors == 0
        assert ok.p50_ms >= 50 and ok.p99_ms >= ok.p50_ms     # the server's 50 ms, at least
        bad = open_loop("127.0.0.1", port, Target("x", "POST", "/fail", {}, None), 20, 0.5)
        assert bad.requests == 10 and bad.errors == 10
    finally:
        server.shutdown()
        server.server_close()
