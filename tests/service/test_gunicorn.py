"""The real thing: gunicorn with two sync workers on a free port, plain HTTP calls."""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from service.cli import gunicorn_args
from service.database import make_engine
from service.decision_log import DecisionLog
from service.metrics import multiprocess_environment
from service.tokens import TokenStore
from tests.service.conftest import HETU, decision_body
from tests.service.test_admin import add_policy

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def listener() -> socket.socket:
    """A socket already listening on a free loopback port, for gunicorn to take over
    (``gunicorn_args(..., fd=sock.fileno())`` and ``Popen(..., pass_fds=[sock.fileno()])``):
    a port chosen free and bound only later by gunicorn could be taken by another process
    in between, and the test would fail or talk to someone else."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def call(port, method, path, body=None, token=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, json.loads(data) if data.startswith(b"{") else data


@pytest.fixture
def server(policies_dir, sqlite_url, tmp_path):
    sock = listener()
    port = sock.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": sqlite_url, "POLICIES_DIR": str(policies_dir),
           "VAR_DIR": str(tmp_path / "var"), "REHAB_RULES_HASH_KEY": "k",
           # every request checks for a newer bundle: a reload reaches both workers at once
           "BUNDLE_CHECK_SECONDS": "0", "PYTHONPATH": str(ROOT)}
    env.update(multiprocess_environment(tmp_path / "var", env))
    log = (tmp_path / "gunicorn.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn",
                             *gunicorn_args("127.0.0.1", port, 2, control_socket=False,
                                            fd=sock.fileno())],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            pass_fds=[sock.fileno()])
    sock.close()                                    # gunicorn listens on its own copy
    deadline = time.monotonic() + 30
    while True:
        try:
            if call(port, "GET", "/v1/health")[0] == 200:
                break
        except OSError:
            pass
        assert proc.poll() is None, (tmp_path / "gunicorn.log").read_text()
        assert time.monotonic() < deadline, "gunicorn did not start"
        time.sleep(0.1)
    yield port, sqlite_url, tmp_path / "gunicorn.log"
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def test_real_http_round_trip(server, policies_dir):
    port, url, log_path = server
    store = TokenStore(make_engine(url))
    provider = store.create("provider", "1234567-1")[0]
    planner = store.create("planner")[0]

    status, body = call(port, "POST", "/v1/decisions",
                        decision_body(facts={"hours": 5, "client": HETU}), provider)
    assert status == 200 and body["outcome"] == "deny"
    status, logged = call(port, "GET", f"/v1/decisions/{body['decision_id']}", token=provider)
    assert status == 200 and logged["facts"]["client"].startswith("hetu#")

    assert call(port, "POST", "/v1/decisions", decision_body())[0] == 401
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/v1/decisions", body=b'{"policy": ',
                 headers={"Authorization": f"Bearer {provider}",
                          "Content-Type": "application/json"})
    assert conn.getresponse().status == 400
    conn.close()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/v1/decisions", body=b"x" * (2 * 1024 * 1024),
                 headers={"Authorization": f"Bearer {provider}",
                          "Content-Type": "application/json"})
    assert conn.getresponse().status == 413
    conn.close()
    assert call(port, "GET", "/openapi.json")[0] == 200

    # a reload on one worker reaches both: every later health check sees the new policy
    add_policy(policies_dir)
    assert call(port, "POST", "/v1/admin/reload", token=planner)[0] == 200
    with ThreadPoolExecutor(8) as pool:     # concurrent, so that both workers answer
        counts = set(pool.map(lambda _: call(port, "GET", "/v1/health")[1]["policies"],
                              range(40)))
    assert counts == {2}

    assert DecisionLog(make_engine(url)).count() == 1
    text = log_path.read_text()
    assert f"decision {body['decision_id']}" in text and HETU not in text


def test_metrics_add_up_every_workers_counts(server, tmp_path):
    """Each worker counts in its own file; /metrics, from whichever worker, sums them."""
    port, url, _ = server
    provider = TokenStore(make_engine(url)).create("provider", "1234567-1")[0]
    sent = 0
    # concurrent batches until both workers have answered (one per counter file); on a
    # loaded machine one worker may take a whole batch, so keep going, within bounds
    for _ in range(50):
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(
                lambda _: call(port, "POST", "/v1/decisions", decision_body(), provider)[0],
                range(30)))
        assert statuses == [200] * 30
        sent += 30
        if len(list((tmp_path / "var" / "metrics").glob("counter_*.db"))) == 2:
            break
    assert len(list((tmp_path / "var" / "metrics").glob("counter_*.db"))) == 2, \
        "both workers answered"
    expected = f'rehab_rules_decisions_total{{action="day",outcome="deny",policy="tiny"}} ' \
               f'{sent}.0'.encode()
    for _ in range(4):                      # ask several times: any worker gives the sum
        status, text = call(port, "GET", "/metrics")
        assert status == 200
        assert expected in text


def test_a_chunked_form_over_one_mebibyte_is_413_under_gunicorn(server):
    """gunicorn hands werkzeug a chunked body that werkzeug stops reading at the limit:
    "try it" judged the first MiB without the fields after the cut (issue 21)."""
    from urllib.parse import urlencode

    port = server[0]
    path = "/explorer/policies/tiny/versions/2025-01/actions/day/try"

    # the form's CSRF token and its cookie, as a browser has them from the form's page
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        page = conn.getresponse()
        html = page.read().decode()
        cookie = next(c.split(";")[0] for c in page.msg.get_all("Set-Cookie") or ()
                      if c.startswith("explorer_csrf="))
    finally:
        conn.close()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)

    def chunked(fields: dict[str, str]) -> int:
        body = urlencode({**fields, "csrf_token": token}).encode()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("POST", path, body=(body[i:i + 65536]
                                             for i in range(0, len(body), 65536)),
                         headers={"Content-Type": "application/x-www-form-urlencoded",
                                  "Transfer-Encoding": "chunked", "Cookie": cookie},
                         encode_chunked=True)
            response = conn.getresponse()
            response.read()
            return response.status
        finally:
            conn.close()

    assert chunked({"note": "x" * (1024 * 1024), "as_of": "2025-03-10", "f.hours": "5"}) == 413
    assert chunked({"as_of": "2025-03-10", "f.hours": "5"}) == 200
