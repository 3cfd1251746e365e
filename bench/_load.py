"""Load generators for ``bench.http``: wrk when it is on PATH, else bounded Python threads
(both closed loop), and an open-loop generator at a constant rate.

All report the same figures: requests per second and the 50th/99th latency percentiles in
milliseconds. A closed loop (``connections`` clients, each sending its next request when the
last is answered) saturates the server and measures its queue more than the service; the
open loop (:func:`open_loop`) sends requests on a schedule whatever the answers do, and
measures each latency from the moment the request was *due*, so a slow answer that delays
others is counted in full (no coordinated omission) — what a provider feels at that load.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import gc
import http.client
import json
import os
import re
import selectors
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["OpenRun", "Result", "Target", "open_loop", "open_loop_run", "pooled",
           "python_load", "wrk_load"]


@dataclass(frozen=True)
class Target:
    """One endpoint to load: method, path, headers and an optional JSON body."""

    name: str
    method: str
    path: str
    headers: dict[str, str]
    body: dict | None = None


@dataclass(frozen=True)
class Result:
    name: str
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float
    tool: str


# --- wrk --------------------------------------------------------------------------------

_LUA = """\
wrk.method = {method}
wrk.body = {body}
{headers}
done = function(summary, latency, requests)
  io.write(string.format("PCT %f %f\\n", latency:percentile(50), latency:percentile(99)))
  io.write(string.format("ERR %d %d\\n", summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout))
end
"""


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal here


def wrk_load(base: str, target: Target, connections: int, seconds: float,
             threads: int = 2) -> Result:
    """Run wrk against ``target``; latencies come from wrk's own histogram (µs)."""
    wrk = shutil.which("wrk")
    assert wrk, "wrk is not on PATH"
    headers = "\n".join(f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}"
                        for k, v in {**target.headers, "Content-Type": "application/json"}
                        .items())
    script = _LUA.format(method=_lua_string(target.method),
                         body=_lua_string(json.dumps(target.body)) if target.body else "nil",
                         headers=headers)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(
            [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
             "-s", f.name, base + target.path],
            capture_output=True, text=True, check=True, timeout=seconds + 30).stdout
    finally:
        Path(f.name).unlink()
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50, p99 = (float(x) / 1000 for x in re.search(r"PCT ([\d.]+) ([\d.]+)", out).groups())
    status_errors, socket_errors = (int(x) for x in re.search(r"ERR (\d+) (\d+)", out).groups())
    return Result(target.name, requests, status_errors + socket_errors, rps, p50, p99, "wrk")


# --- Python threads ---------------------------------------------------------------------

def python_load(host: str, port: int, target: Target, connections: int, requests: int,
                seconds: float) -> Result:
    """``connections`` threads share ``requests`` requests, stopping at ``seconds`` at most.

    A new connection per request, as gunicorn's sync workers close each one anyway.
    """
    body = json.dumps(target.body).encode() if target.body else None
    headers = {**target.headers, "Content-Type": "application/json"}
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    remaining = [requests]
    deadline = time.monotonic() + seconds

    def worker() -> None:
        mine: list[float] = []
        bad = 0
        while time.monotonic() < deadline:
            with lock:
                if remaining[0] == 0:
                    break
                remaining[0] -= 1
            started = time.perf_counter()
            try:
                conn = http.client.HTTPConnection(host, port, timeout=10)
                conn.request(target.method, target.path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                conn.close()
                ok = response.status == 200
            except OSError:
                ok = False
            mine.append(time.perf_counter() - started)
            bad += not ok
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000

    return Result(target.name, len(latencies), errors[0], len(latencies) / elapsed,
                  pct(50), pct(99), "python")


# --- open loop: a constant rate -----------------------------------------------------------

def _request_bytes(host: str, port: int, target: Target) -> bytes:
    body = json.dumps(target.body).encode() if target.body else b""
    head = [f"{target.method} {target.path} HTTP/1.1", f"Host: {host}:{port}",
            "Connection: close", "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            *(f"{k}: {v}" for k, v in target.headers.items())]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class _DueTimer:
    """Wakes the selector loop when the next request is due, to the microsecond.

    ``epoll`` waits in whole milliseconds, rounded up: a sender that slept in it would send
    up to a millisecond late, and that lateness would count in every latency of both
    endpoints. On Linux a ``timerfd`` armed at the due time on ``CLOCK_MONOTONIC`` (the
    clock of :func:`time.perf_counter`) becomes readable exactly then, among the sockets;
    elsewhere the loop falls back to the selector's own timeout."""

    def __init__(self) -> None:
        self.fd = -1
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            fd = libc.timerfd_create(time.CLOCK_MONOTONIC, os.O_NONBLOCK | os.O_CLOEXEC)
        except (OSError, AttributeError):
            return
        if fd >= 0:
            self._settime, self.fd = libc.timerfd_settime, fd

    def arm(self, at: float) -> bool:
        """Become readable at ``at`` (a :func:`time.perf_counter` time); False if the
        system refused (the loop then waits with a timeout instead)."""
        seconds = int(at)
        spec = _Itimerspec(_Timespec(0, 0),
                           _Timespec(seconds, max(1, int((at - seconds) * 1e9))))
        return self._settime(self.fd, 1, ctypes.byref(spec), None) == 0   # TFD_TIMER_ABSTIME

    def clear(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.read(self.fd, 8)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


class _Sending:
    """One request of the open loop: its socket, when it was due, and what came back."""

    __slots__ = ("due", "head", "sent", "sock")

    def __init__(self, sock: socket.socket, due: float):
        self.sock, self.due, self.head, self.sent = sock, due, b"", 0     # bytes sent


def _schedule(host: str, port: int, target: Target, rate: float, seconds: float,
              late: list[float]) -> tuple[list[float], int, float]:
    """Send the requests on schedule over non-blocking sockets, one ``epoll`` loop.

    Each request is a connection of its own (``Connection: close``, as gunicorn's sync
    workers answer anyway): opened when due, written when connected, read until the
    server closes it; its latency runs from when it was due to that close. This costs the
    sender about 0.25 ms of CPU a request, most of it the kernel's TCP on both ends of the
    loopback, where asyncio's streams (with a timeout each) cost about 0.44 ms: on a 2-core
    machine as much CPU as the decision it measured, taken from the server under test. A
    request whose socket cannot even be opened (the process out of descriptors behind a
    long stall) counts as an error at once."""
    payload = _request_bytes(host, port, target)
    address = (host, port)
    latencies: list[float] = []
    errors = 0
    total = max(1, int(rate * seconds))
    selector = selectors.DefaultSelector()
    open_: dict[int, _Sending] = {}
    deadline_after = 60.0          # a request unanswered this long is an error
    timer = _DueTimer()
    if timer.fd >= 0:
        selector.register(timer.fd, selectors.EVENT_READ, None)
    start = time.perf_counter()
    i = 0

    def finish(one: _Sending, ok: bool, now: float) -> None:
        nonlocal errors
        selector.unregister(one.sock)
        one.sock.close()
        del open_[id(one)]
        latencies.append(now - one.due)
        errors += not ok

    while i < total or open_:
        now = time.perf_counter()
        while i < total and start + i / rate <= now:
            due = start + i / rate
            i += 1
            late.append(now - due)
            try:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            except OSError:
                latencies.append(now - due)
                errors += 1
                continue
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            one = _Sending(sock, due)
            open_[id(one)] = one
            selector.register(sock, selectors.EVENT_WRITE, one)
            if sock.connect_ex(address) not in (0, errno.EINPROGRESS):
                finish(one, False, now)
        if i >= total:
            wait: float | None = 0.05
        elif timer.fd >= 0 and timer.arm(start + i / rate):
            wait = None
        else:
            wait = max(0.0, start + i / rate - time.perf_counter())
        for key, _events in selector.select(wait):
            one = key.data
            if one is None:
                timer.clear()
                continue
            now = time.perf_counter()
            try:
                if one.sent < len(payload):
                    if one.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                        finish(one, False, now)
                        continue
                    one.sent += one.sock.send(payload[one.sent:])
                    if one.sent == len(payload):
                        selector.modify(one.sock, selectors.EVENT_READ, one)
                    continue
                chunk = one.sock.recv(65536)
            except OSError:
                finish(one, False, now)
                continue
            if chunk:
                if len(one.head) < 16:
                    one.head += chunk[:16]
                continue
            finish(one, one.head.split(b" ")[1:2] == [b"200"], now)
        if open_ and i >= total:
            now = time.perf_counter()
            for one in [o for o in open_.values() if now - o.due > deadline_after]:
                finish(one, False, now)
    selector.close()
    timer.close()
    return latencies, errors, time.perf_counter() - start


@dataclass(frozen=True, eq=False)
class OpenRun:
    """One open-loop run's raw figures (seconds), to be pooled with the other runs of the
    same endpoint (:func:`pooled`)."""

    name: str
    rate: float
    latencies: list[float]
    late: list[float]
    errors: int
    elapsed: float


def open_loop_run(host: str, port: int, target: Target, rate: float,
                  seconds: float) -> OpenRun:
    """Send ``rate`` requests a second for ``seconds``, on schedule whatever the answers do;
    each latency runs from when its request was due (a late send counts against the
    service, as it would for the provider who sent it). How late the sender itself was is
    kept too: more than a millisecond or two means this machine was too busy to send on
    time, and the tail is partly its own. The generator's cyclic garbage collector is off
    meanwhile, so that its own pauses do not count against the service."""
    late: list[float] = []
    collecting = gc.isenabled()
    gc.disable()
    try:
        latencies, errors, elapsed = _schedule(host, port, target, rate, seconds, late)
    finally:
        if collecting:
            gc.enable()
    return OpenRun(target.name, rate, latencies, late, errors, elapsed)


def pooled(runs: list[OpenRun]) -> Result:
    """The runs of one endpoint as one: percentiles over every latency of every run (not a
    median of each run's p99, which would drop a bad run's tail), the rate over their
    summed time; the tool column says how late the sender itself was.

    >>> one = OpenRun("x", 10, [0.001] * 98 + [0.004, 0.009], [0.0] * 100, 0, 10.0)
    >>> r = pooled([one, one])
    >>> r.requests, r.p50_ms, r.p99_ms
    (200, 1.0, 9.0)
    """
    latencies = sorted(x for run in runs for x in run.latencies)
    late = sorted(x for run in runs for x in run.late)

    def pct(values: list[float], p: float) -> float:
        return values[min(len(values) - 1, int(p / 100 * len(values)))] * 1000

    first = runs[0]
    return Result(first.name, len(latencies), sum(r.errors for r in runs),
                  len(latencies) / sum(r.elapsed for r in runs), pct(latencies, 50),
                  pct(latencies, 99),
                  f"open loop at {first.rate:.0f}/s, {len(runs)} run(s) pooled, sent late by "
                  f"{pct(late, 99):.1f} ms at p99")


def open_loop(host: str, port: int, target: Target, rate: float, seconds: float) -> Result:
    """One open-loop run (:func:`open_loop_run`) as a :class:`Result`."""
    return pooled([open_loop_run(host, port, target, rate, seconds)])
