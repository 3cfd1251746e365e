"""The database: engines, and what the service does while it cannot reach it
(service/database.py, service/errors.py's 503, /v1/health)."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import make_url

from service.bundles import BundleStore
from service.cli import gunicorn_args
from service.database import make_engine
from service.decision_log import DecisionLog
from service.metrics import multiprocess_environment
from service.tokens import TokenStore
from tests.service.conftest import _clean, decision_body
from tests.service.test_gunicorn import listener

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("error", [
    psycopg.OperationalError("server closed the connection unexpectedly"),
    sa_exc.OperationalError("INSERT …", {}, Exception("connection refused")),
    sa_exc.TimeoutError("QueuePool limit reached"),
])
def test_decisions_answer_503_with_retry_after_while_the_database_is_away(
        app, client, tokens, monkeypatch, error):
    def unreachable(*args, **kwargs):
        raise error

    def away(*args, **kwargs):
        raise sa_exc.OperationalError("SELECT …", {}, Exception("connection refused"))

    monkeypatch.setattr(DecisionLog, "record_many", unreachable)
    monkeypatch.setattr(BundleStore, "active", away)        # the worker's own look at it
    for path, body in (("/v1/decisions", decision_body()),
                       ("/v1/decisions/batch", {"decisions": [decision_body()]})):
        response = client.post(path, json=body, headers=tokens["provider"])
        assert response.status_code == 503, response.get_data(as_text=True)
        assert response.headers["Retry-After"] == "5"
        assert response.get_json()["error"]["code"] == "database_unavailable"
    health = client.get("/v1/health")
    assert health.status_code == 503 and health.headers["Retry-After"] == "5"
    assert health.get_json()["status"] == "unavailable"
    assert "127.0.0.1" not in health.get_data(as_text=True)     # no address to anyone
    monkeypatch.undo()
    assert client.get("/v1/health").get_json()["status"] == "ok"   # the next look clears it
    assert client.post("/v1/decisions", json=decision_body(),
                       headers=tokens["provider"]).status_code == 200
    assert app.extensions["rehab_rules"].log.count() == 1


def test_a_postgres_engine_gives_up_connecting_within_seconds(monkeypatch):
    """Not the kernel's minutes: a connection that cannot be made is a 503 within 5 s."""
    seen = []

    def connect(*args, **kwargs):
        seen.append(kwargs.get("connect_timeout"))
        raise psycopg.OperationalError("refused")

    monkeypatch.setattr(psycopg, "connect", connect)
    for url, timeout in (("postgresql+psycopg://u@127.0.0.1:1/x", 5),
                         ("postgresql+psycopg://u@127.0.0.1:1/x?connect_timeout=1", "1")):
        with pytest.raises(sa_exc.OperationalError):
            make_engine(url).connect()
        assert seen.pop() == timeout


# --- a real outage: gunicorn → a TCP proxy → PostgreSQL, and the proxy cut -----------------

class Proxy:
    """A TCP proxy on a free loopback port to PostgreSQL. ``cut()`` closes every connection
    and refuses new ones (accepts and closes them at once), as a lost network does to a
    client that tries; ``mend()`` forwards again."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.open = True
        self.stopped = False
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self.stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, server))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        self.open = False
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def mend(self) -> None:
        self.open = True

    def stop(self) -> None:
        self.stopped = True
        self.cut()
        self.listener.close()


def _request(port: int, method: str, path: str, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body),
                     headers={"Content-Type": "application/json", **(headers or {})})
        response = conn.getresponse()
        data = response.read()
        return response.status, dict(response.getheaders()), json.loads(data or b"null")
    finally:
        conn.close()


def _wait(condition, what: str, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.postgres
def test_an_outage_loses_no_acknowledged_decision_and_heals_by_itself(
        postgres_url, policies_dir, tmp_path):
    _clean(postgres_url)
    url = make_url(postgres_url)
    proxy = Proxy((url.host or "127.0.0.1", url.port or 5432))
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    direct = make_engine(postgres_url)
    BundleStore(direct).publish_folder(policies_dir, by="test")
    token = TokenStore(direct).create("provider", "1234567-1")[0]
    auth = {"Authorization": f"Bearer {token}"}
    sock = listener()
    port = sock.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": proxied, "POLICIES_DIR": str(policies_dir),
           "VAR_DIR": str(tmp_path / "var"), "REHAB_RULES_HASH_KEY": "k",
           "PYTHONPATH": str(ROOT), "BUNDLE_CHECK_SECONDS": "1", "TOKEN_CACHE_SECONDS": "1"}
    env.update(multiprocess_environment(tmp_path / "var", env))
    log = (tmp_path / "gunicorn.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn",
                             *gunicorn_args("127.0.0.1", port, 2, control_socket=False,
                                            fd=sock.fileno())],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            pass_fds=[sock.fileno()])
    sock.close()                                    # gunicorn listens on its own copy
    acknowledged: list[str] = []
    statuses: dict[int, int] = {}
    stop = threading.Event()

    def health() -> tuple[int, dict]:
        try:
            status, _, body = _request(port, "GET", "/v1/health")
        except OSError:
            return 0, {}
        return status, body

    def decide_forever() -> None:
        while not stop.is_set():
            try:
                status, headers, body = _request(port, "POST", "/v1/decisions",
                                                 decision_body(), auth)
            except OSError:
                status, headers, body = -1, {}, None
            statuses[status] = statuses.get(status, 0) + 1
            if status == 200:
                acknowledged.append(body["decision_id"])
            elif status == 503:
                assert headers.get("Retry-After") == "5"
                time.sleep(0.1)

    client = threading.Thread(target=decide_forever, daemon=True)
    try:
        _wait(lambda: proc.poll() is not None or health()[0] == 200, "gunicorn to start")
        assert proc.poll() is None, (tmp_path / "gunicorn.log").read_text()
        client.start()
        _wait(lambda: len(acknowledged) >= 20, "decisions before the cut")
        proxy.cut()
        _wait(lambda: health()[0] == 503 and health()[1]["database"]["status"]
              == "unavailable", "health to say the database is away")
        seen = statuses.get(503, 0)
        _wait(lambda: statuses.get(503, 0) >= seen + 5, "decisions answered 503")
        during = len(acknowledged)
        time.sleep(2)
        assert len(acknowledged) == during          # no 200 without the database
        proxy.mend()
        _wait(lambda: health()[0] == 200, "health to recover by itself")
        _wait(lambda: len(acknowledged) >= during + 20, "decisions after the outage")
        stop.set()
        client.join(timeout=60)
        assert statuses.get(500, 0) == 0, statuses
        # healed without a restart: the server runs on and no worker was booted again
        assert proc.poll() is None and health()[0] == 200
        # every acknowledged decision is in the log, read past the proxy
        with direct.connect() as conn:
            logged = {r[0] for r in conn.execute(text("SELECT id FROM decisions"))}
        lost = [i for i in acknowledged if i not in logged]
        assert lost == [], f"{len(lost)} acknowledged decisions lost"
        assert len(set(acknowledged)) == len(acknowledged)
        text_ = (tmp_path / "gunicorn.log").read_text()
        assert "Traceback" not in text_ and text_.count("Booting worker") == 2, text_[-3000:]
    finally:
        stop.set()
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        proxy.stop()
        direct.dispose()
