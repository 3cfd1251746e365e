"""The issue's targets as the benchmarks state them: a ratio judged against its bound.

``make bench-http`` and ``make bench-impact`` print ratios rounded for reading; whether a
target is met is judged here on the unrounded figure, so that a ratio of 0.104 printed as
0.10 is never read as at or below 0.1.
"""

from __future__ import annotations

__all__ = ["verdict"]


def verdict(ratio: float, bound: float) -> str:
    """Whether ``ratio`` is within its target, judged on the unrounded figure.

    >>> verdict(0.104, 0.1), verdict(0.1, 0.1)
    ('target ≤ 0.1: not met', 'target ≤ 0.1: met')
    """
    return f"target ≤ {bound:g}: {'met' if ratio <= bound else 'not met'}"
