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

import asyncio
import gc
import http.client
import json
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Result", "Target", "open_loop", "python_load", "wrk_load"]


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


async def _one(host: str, port: int, payload: bytes, due: float,
               latencies: list[float], errors: list[int], late: list[float]) -> None:
    late.append(time.perf_counter() - due)
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 30)
        writer.write(payload)
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 60)
        await asyncio.wait_for(reader.read(), 60)            # Connection: close
        writer.close()
        ok = status.split(b" ")[1:2] == [b"200"]
    except (TimeoutError, OSError, IndexError):
        ok = False
    latencies.append(time.perf_counter() - due)
    errors[0] += not ok


async def _schedule(host: str, port: int, target: Target, rate: float, seconds: float,
                    late: list[float]) -> tuple[list[float], list[int], float]:
    payload = _request_bytes(host, port, target)
    latencies: list[float] = []
    errors = [0]
    tasks = []
    start = time.perf_counter()
    total = max(1, int(rate * seconds))
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(_one(host, port, payload, due, latencies, errors,
                                                 late)))
    await asyncio.gather(*tasks)
    return latencies, errors, time.perf_counter() - start


def open_loop(host: str, port: int, target: Target, rate: float, seconds: float) -> Result:
    """Send ``rate`` requests a second for ``seconds``, on schedule whatever the answers do;
    each latency runs from when its request was due (a late send counts against the
    service, as it would for the provider who sent it). The tool column says how late the
    sender itself was (its p99): more than a millisecond or two means this machine was too
    busy to send on time, and the tail is partly its own. The generator's cyclic garbage
    collector is off meanwhile, so that its own pauses do not count against the service."""
    late: list[float] = []
    collecting = gc.isenabled()
    gc.disable()
    try:
        latencies, errors, elapsed = asyncio.run(_schedule(host, port, target, rate, seconds,
                                                           late))
    finally:
        if collecting:
            gc.enable()
    latencies.sort()
    late.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000

    return Result(target.name, len(latencies), errors[0], len(latencies) / elapsed,
                  pct(50), pct(99), f"open loop at {rate:.0f}/s, sent late by "
                  f"{late[min(len(late) - 1, int(0.99 * len(late)))] * 1000:.1f} ms at p99")
