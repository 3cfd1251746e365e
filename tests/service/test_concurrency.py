"""16 threads × 200 decisions through the app → exactly 3,200 rows, on both databases."""

from __future__ import annotations

import logging
import threading

import pytest

from tests.service.conftest import Tokens, decision_body, make_app

THREADS, PER_THREAD = 16, 200


@pytest.mark.slow
def test_concurrent_decisions_are_all_logged(policies_dir, any_db_url, tmp_path):
    app = make_app(policies_dir, any_db_url, tmp_path / "var")
    logging.getLogger("service").setLevel("WARNING")   # 6,400 INFO lines help no one
    tokens = Tokens(app.extensions["rehab_rules"].tokens)
    failures: list[str] = []
    ids: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)

    def work(n: int) -> None:
        client = app.test_client()
        barrier.wait()
        mine = []
        for i in range(PER_THREAD):
            hours = (n + i) % 12
            response = client.post("/v1/decisions", headers=tokens["provider"],
                                   json=decision_body(facts={"hours": hours}))
            body = response.get_json()
            expected = "deny" if hours < 6 else "allow"
            if response.status_code != 200 or body["outcome"] != expected:
                failures.append(f"{response.status_code} {body}")
            else:
                mine.append(body["decision_id"])
        with lock:
            ids.extend(mine)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert failures == []
    assert len(set(ids)) == THREADS * PER_THREAD
    log = app.extensions["rehab_rules"].log
    assert log.count() == THREADS * PER_THREAD
    denied = log.list(limit=500, outcome="deny")
    assert all(d["outcome"] == "deny" for d in denied.items)
