"""bench/targets.py: a target is judged on the unrounded ratio."""

from __future__ import annotations

from bench.targets import verdict


def test_a_ratio_is_judged_unrounded():
    assert verdict(0.1, 0.1) == "target ≤ 0.1: met"
    assert verdict(0.1004, 0.1) == "target ≤ 0.1: not met"
    assert verdict(2.0, 2) == "target ≤ 2: met"
    assert verdict(1.3004, 1.3) == "target ≤ 1.3: not met"


def test_its_example_runs():
    import doctest

    from bench import targets

    result = doctest.testmod(targets)
    assert result.attempted and not result.failed
