"""Which version of a policy is in force: on a date, or on the date a request's fact names.

As in OpenFisca's parameters: versions sorted by ``effective_from``; the one in force on D is
the newest whose ``effective_from`` ≤ D. Usually D is ``as_of``; an action may name a date
fact in ``version_by`` instead (:func:`version_for`). Nothing else works the version out.

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

from engine.errors import FactError, FactProblem, NoVersionInForce
from engine.facts import parse_date
from engine.invisible import is_blank

__all__ = ["in_force", "version_for"]

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


def version_for(policy_set: Any, policy: str, action: str, day: dt.date,
                facts: dict[str, Any]) -> tuple[Any, tuple[str, dt.date | None]]:
    """The version in force, and which date chose it; ``policy_set`` is the
    :class:`engine.store.PolicySet` being decided with (not imported: the store imports this).

    Usually ``as_of``. An action (or its policy) may say ``version_by: <date fact>``, e.g. the
    start date of the rehabilitation, because a service description usually applies to
    rehabilitation *starting* on or after its date: the version in force on ``as_of`` names
    that fact, and the version in force on the fact's date decides. An optional fact left
    out falls back to ``as_of``.
    """
    first = policy_set.resolve(policy, day)
    spec = policy_set.plan(first, action).action
    by = spec.version_by
    if by == "as_of":
        return first, ("as_of", day)
    raw = facts.get(by) if isinstance(facts, dict) else None
    if raw is None or is_blank(raw):
        if spec.facts[by].required:
            kind = spec.facts[by].type
            raise FactError({by: [FactProblem(
                "required_version_by", f"required ({kind}): its date chooses the version of "
                "the policy (version_by)", type=kind)]})
        return first, ("as_of", day)
    try:
        when = parse_date(raw)
    except (ValueError, TypeError):
        raise FactError({by: [FactProblem("not_date", "must be a date written YYYY-MM-DD")]}
                        ) from None
    return policy_set.resolve(policy, when), (by, when)
