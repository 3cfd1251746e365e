"""The open-loop load generator (bench/_load.py): every request sent on schedule, each
latency counted from when the request was due."""

from __future__ import annotations

import http.server
import socket
import threading
import time

import pytest

from bench._load import OpenRun, Target, open_loop, open_loop_run, pooled


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


class _Echo(http.server.BaseHTTPRequestHandler):
    """Answers 200 with the length of the body it read."""

    def do_POST(self) -> None:
        length = len(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        body = str(length).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.mark.slow
def test_open_loop_sends_a_body_larger_than_a_socket_buffer_whole():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        body = {"decisions": ["x" * 1000] * 1000}          # about 1 MB
        run = open_loop_run("127.0.0.1", port, Target("big", "POST", "/", {}, body), 10, 0.3)
        assert len(run.latencies) == 3 and run.errors == 0
    finally:
        server.shutdown()
        server.server_close()


def test_pooled_runs_take_percentiles_over_every_latency_not_a_median_of_runs():
    calm = OpenRun("x", 100, [0.001] * 100, [0.0] * 100, 0, 1.0)
    stalled = OpenRun("x", 100, [0.001] * 90 + [0.050] * 10, [0.0] * 100, 1, 1.0)
    result = pooled([calm, calm, stalled])
    assert result.requests == 300 and result.errors == 1
    assert result.p50_ms == 1.0
    assert result.p99_ms == 50.0          # the stalled run's tail stays in the pooled p99
    assert result.rps == 100.0 and "3 run(s) pooled" in result.tool


def test_open_loop_counts_a_refused_connection_as_an_error_and_goes_on():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))            # bound, not listening: connections refused
        port = sock.getsockname()[1]
        run = open_loop_run("127.0.0.1", port, Target("x", "GET", "/", {}), 20, 0.25)
    assert len(run.latencies) == 5 and run.errors == 5
