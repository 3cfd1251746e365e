"""Which version of a policy is in force on a date.

As in OpenFisca's parameters: versions sorted by ``effective_from``; the one in force on D is
the newest whose ``effective_from`` ≤ D.

>>> import datetime as dt
>>> from types import SimpleNamespace as V
>>> vs = [V(version="a", effective_from=dt.date(2023, 1, 1)),
...       V(version="b", effective_from=dt.date(2025, 4, 1))]
>>> in_force(vs, dt.date(2025, 3, 31)).version, in_force(vs, dt.date(2025, 4, 1)).version
('a', 'b')
"""

from __future__ import annotations

import bisect
import datetime as dt
import operator
from collections.abc import Sequence
from typing import Any

from engine.errors import NoVersionInForce

__all__ = ["in_force"]

_EFFECTIVE = operator.attrgetter("effective_from")


def in_force(versions: Sequence[Any], as_of: dt.date, policy: str = "") -> Any:
    """The version in force on ``as_of``; ``versions`` are sorted by ``effective_from``."""
    i = bisect.bisect_right(versions, as_of, key=_EFFECTIVE)    # no list of dates per call
    if i == 0:
        first = versions[0].effective_from.isoformat() if versions else "never"
        raise NoVersionInForce(
            f"no version of {policy or 'the policy'} is in force on {as_of.isoformat()}; "
            f"the first takes effect on {first}",
            {"as_of": as_of.isoformat(), "first_effective_from": first},
        )
    return versions[i - 1]
