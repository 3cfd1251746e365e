"""Decision ids are UUIDv7 and sort in creation order (service/ids.py)."""

from __future__ import annotations

import threading
import time
import uuid

from service.ids import new_decision_id, new_decision_ids


def test_ids_are_version_7_with_the_current_time():
    value = uuid.UUID(new_decision_id())
    assert value.version == 7 and value.variant == uuid.RFC_4122
    ms = value.int >> 80
    assert abs(ms - time.time() * 1000) < 5000


def test_ids_made_later_sort_later_even_in_one_millisecond():
    ids = [new_decision_id() for _ in range(10_000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_ids_are_unique_across_threads():
    out: list[str] = []
    lock = threading.Lock()

    def work():
        mine = [new_decision_id() for _ in range(2000)]
        with lock:
            out.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(out)) == 16_000


def test_a_batch_of_ids_is_version_7_ascending_and_after_the_last_single_id():
    before = new_decision_id()
    batch = new_decision_ids(5000)          # more than one millisecond's 4096 counters
    after = new_decision_id()
    ids = [before, *batch, after]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    for text in batch:
        value = uuid.UUID(text)
        assert str(value) == text            # canonical: lower-case, hyphens in place
        assert value.version == 7 and value.variant == uuid.RFC_4122
        assert abs((value.int >> 80) - time.time() * 1000) < 5000


def test_an_empty_batch_of_ids_is_empty():
    assert new_decision_ids(0) == []
