"""The bench's plain-Python floor decides what the engine decides (bench/floor.py).

The floor is the baseline of ``make bench``; when a policy changes and the floor does not,
the bench would stop with a disagreement. This keeps the two equal in every ``make test``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.decisions import floor_disagreements, workload
from bench.floor import FLOOR
from engine import PolicyStore

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def store() -> PolicyStore:
    return PolicyStore.load(ROOT / "policies")


def test_every_floor_action_has_fixture_cases(store):
    covered = {(w["policy"], w["action"], w["version"]) for w in workload(store)}
    assert set(FLOOR) <= covered


def test_the_floor_agrees_with_the_engine_on_every_fixture_case(store):
    assert floor_disagreements(store, workload(store)) == []
