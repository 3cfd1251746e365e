"""Load generators for ``bench.http``: wrk when it is on PATH, else bounded Python threads.

Both report the same figures: requests per second and the 50th/99th latency percentiles in
milliseconds, measured over ``connections`` concurrent clients.
"""

from __future__ import annotations

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

__all__ = ["Result", "Target", "python_load", "wrk_load"]


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
