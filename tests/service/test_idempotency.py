"""Idempotent retries with ``Idempotency-Key`` (service/idempotency.py and the two views)."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from service.cli import gunicorn_args
from service.database import make_engine
from service.decision_log import DecisionLog
from service.idempotency import Idempotency
from service.metrics import multiprocess_environment
from service.tokens import TokenStore
from tests.service.conftest import HETU, decision_body
from tests.service.test_gunicorn import listener

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def setup(any_app):
    tokens = any_app.extensions["rehab_rules"].tokens
    return (any_app, any_app.test_client(),
            {"Authorization": "Bearer " + tokens.create("provider", "1234567-1")[0]},
            {"Authorization": "Bearer " + tokens.create("planner")[0]})


def _rows(app, table: str = "decisions") -> int:
    with app.extensions["rehab_rules"].log.engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


BATCH = {"decisions": [decision_body(), decision_body(facts={"hours": 7}),
                       decision_body(policy="nope")]}


@pytest.mark.parametrize(("path", "body"), [("/v1/decisions", decision_body(
    facts={"hours": 5, "client": HETU, "note": f"asiakas {HETU}"})), ("/v1/decisions/batch",
                                                                      BATCH)])
def test_a_retry_is_answered_the_same_and_logs_nothing_new(setup, path, body):
    app, client, provider, _ = setup
    key = {**provider, "Idempotency-Key": "9d0f6c1e-retry-1"}
    first = client.post(path, json=body, headers=key)
    assert first.status_code == 200 and "Idempotent-Replayed" not in first.headers
    logged = _rows(app)
    for _ in range(3):
        again = client.post(path, json=body, headers=key)
        assert again.status_code == 200, again.get_data(as_text=True)
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.get_json() == first.get_json()
    assert _rows(app) == logged and _rows(app, "idempotency_keys") == 1
    # the same key with another body is refused, and logs nothing
    other = client.post(path, json={**body, "lang": "sv"} if "policy" in body
                        else {"decisions": body["decisions"][:1]}, headers=key)
    assert other.status_code == 409
    assert other.get_json()["error"]["code"] == "idempotency_key_reused"
    assert _rows(app) == logged
    # without a key, or with another one, every request is logged
    assert client.post(path, json=body, headers=provider).status_code == 200
    assert client.post(path, json=body, headers={**provider, "Idempotency-Key": "k2"}
                       ).status_code == 200
    assert _rows(app) > logged


def test_keys_are_per_token(setup):
    app, client, provider, planner = setup
    for who in (provider, planner):
        response = client.post("/v1/decisions", json=decision_body(),
                               headers={**who, "Idempotency-Key": "same"})
        assert response.status_code == 200 and "Idempotent-Replayed" not in response.headers
    assert _rows(app) == 2


def test_nothing_personal_is_stored_in_clear_with_the_key(setup):
    app, client, provider, _ = setup
    client.post("/v1/decisions", headers={**provider, "Idempotency-Key": HETU},
                json=decision_body(facts={"hours": 5, "client": HETU, "note": HETU}))
    with app.extensions["rehab_rules"].log.engine.connect() as conn:
        stored = repr(conn.execute(text("SELECT * FROM idempotency_keys")).all())
    assert "131052" not in stored and "hours" not in stored     # the answer is sealed


def test_a_key_is_kept_for_its_time_only(setup):
    app, client, provider, _ = setup
    app.extensions["rehab_rules"].idempotency.keep_seconds = 0
    key = {**provider, "Idempotency-Key": "short-lived"}
    for _ in range(2):
        assert client.post("/v1/decisions", json=decision_body(), headers=key
                           ).headers.get("Idempotent-Replayed") is None
    assert _rows(app) == 2
    assert app.extensions["rehab_rules"].idempotency.purge() == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "ä-key", "tab\there"])
def test_a_bad_key_is_422_naming_the_header(client, tokens, key):
    response = client.post("/v1/decisions", json=decision_body(),
                           headers={**tokens["provider"], "Idempotency-Key": key})
    assert response.status_code == 422, response.get_data(as_text=True)
    assert "Idempotency-Key" in response.get_json()["error"]["details"]["fields"]


def test_two_requests_with_one_key_at_once_log_once(setup, monkeypatch):
    """The second request looked for the key before the first committed: its insert meets
    the key's row, its transaction rolls back, and it answers what the first stored."""
    app, client, provider, _ = setup
    key = {**provider, "Idempotency-Key": "racing"}
    first = client.post("/v1/decisions/batch", json=BATCH, headers=key).get_json()
    monkeypatch.setattr(Idempotency, "find", lambda self, claim, real=Idempotency.find:
                        monkeypatch.undo() or None)
    second = client.post("/v1/decisions/batch", json=BATCH, headers=key)
    assert second.status_code == 200 and second.get_json() == first
    assert second.headers["Idempotent-Replayed"] == "true"
    assert _rows(app) == 2


# --- a worker SIGKILLed between the commit and the answer --------------------------------

def _call(port: int, path: str, body: dict, headers: dict) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, body=json.dumps(body),
                     headers={"Content-Type": "application/json", **headers})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


@pytest.mark.slow
def test_a_retry_after_a_worker_was_killed_between_commit_and_answer(policies_dir, sqlite_url,
                                                                     tmp_path):
    sock = listener()
    port = sock.getsockname()[1]
    marker = tmp_path / "kill-after-commit"
    env = {**os.environ, "DATABASE_URL": sqlite_url, "POLICIES_DIR": str(policies_dir),
           "VAR_DIR": str(tmp_path / "var"), "REHAB_RULES_HASH_KEY": "k",
           "PYTHONPATH": str(ROOT), "KILL_AFTER_COMMIT": str(marker)}
    env.update(multiprocess_environment(tmp_path / "var", env))
    args = gunicorn_args("127.0.0.1", port, 2, control_socket=False, fd=sock.fileno())
    args[-1] = "tests.service.kill_after_commit:app"
    log = (tmp_path / "gunicorn.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", *args], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, pass_fds=[sock.fileno()])
    sock.close()                                    # gunicorn listens on its own copy
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/v1/health")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None, (tmp_path / "gunicorn.log").read_text()
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        token = TokenStore(make_engine(sqlite_url)).create("provider", "1234567-1")[0]
        auth = {"Authorization": f"Bearer {token}"}
        log_ = DecisionLog(make_engine(sqlite_url))
        for n, (path, body) in enumerate((("/v1/decisions", decision_body()),
                                          ("/v1/decisions/batch", BATCH))):
            key = {**auth, "Idempotency-Key": f"killed-{n}"}
            before = log_.count()
            marker.touch()
            with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
                _call(port, path, body, key)            # committed, then the worker died
            assert not marker.exists()
            committed = log_.count() - before
            assert committed >= 1                       # logged, though never answered
            status, answer = 0, {}
            deadline = time.monotonic() + 60
            while status != 200:                        # gunicorn starts a new worker
                try:
                    status, answer = _call(port, path, body, key)
                except (http.client.RemoteDisconnected, ConnectionError):
                    assert time.monotonic() < deadline
                    time.sleep(0.2)
            ids = [answer["decision_id"]] if "decision_id" in answer else [
                r["decision"]["decision_id"] for r in answer["results"] if "decision" in r]
            assert len(ids) == committed
            assert all(log_.get(i) is not None for i in ids)      # the stored decisions
            assert log_.count() - before == committed             # logged once
            assert _call(port, path, {"decisions": []} if "batch" in path
                         else decision_body(lang="sv"), key)[0] == 409
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
