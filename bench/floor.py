"""The floor of ``make bench``: three actions' rules written by hand in plain Python.

What a programmer would write without the engine: check the facts, apply the rules with the
limits inlined. No policy files, no messages. Each function is written for named versions of
a policy (``FLOOR`` is keyed by policy, action and version), so a planner's new version is
simply not compared: a YAML-only change never needs a programmer here. ``bench.decisions``
first checks that each function decides every workload case of its versions as the engine
does, so the two timings describe the same work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["FLOOR"]

_MAX_DAYS = {"tyokokeilu": 45, "tyohonvalmennus": 95}
_MIN_SIZE = {"sidekudos-aikuiset": 6}
_REQUIREMENT = ("met", "partly_met", "not_met")


def _number(facts: dict[str, Any], name: str) -> float:
    value = facts[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number")
    return value


def _rehab_day(facts: dict[str, Any], exactly_six: bool) -> str:
    service = facts["service"]
    total, at_work = _number(facts, "hours_total"), _number(facts, "hours_at_workplace")
    sick, flex = facts.get("sick", False), facts.get("flex_day", False)
    used = facts.get("days_used_before", 0)
    counted = not sick and not flex
    if exactly_six:                               # 2023-01; 04/2025 made it "at least"
        wrong_length = counted and total != 6
    else:                                         # longer only as the customer's goal
        wrong_length = counted and (total < 6 or (
            total > 6 and not facts.get("longer_day_goal", False)))
    deny = (wrong_length
            or (counted and at_work < 5)
            or at_work > total
            or (not sick and service == "tyohonvalmennus" and not facts.get("paid_work", False))
            or (not sick and used >= _MAX_DAYS[service]))
    return "deny" if deny else "allow"


def rehab_day_2023(facts: dict[str, Any]) -> str:
    return _rehab_day(facts, exactly_six=True)


def rehab_day_2025(facts: dict[str, Any]) -> str:
    return _rehab_day(facts, exactly_six=False)


def confirm_course(facts: dict[str, Any]) -> str:
    attached = _number(facts, "attached_count")
    _number(facts, "group_size")
    return "deny" if attached < _MIN_SIZE[facts["course_type"]] else "allow"


def classify_finding(facts: dict[str, Any]) -> str:
    contract, description = facts["contract_requirements"], facts[
        "service_description_requirements"]
    if contract not in _REQUIREMENT or description not in _REQUIREMENT:
        raise ValueError("requirements must be met, partly_met or not_met")
    gap = facts.get("considerable_offer_gap", False)
    nothing = (contract == "met" and description == "met" and not gap
               and facts.get("observation", "none") == "none")
    return "deny" if nothing else "allow"


FLOOR: dict[tuple[str, str, str], Callable[[dict[str, Any]], str]] = {
    ("tyokokeilu-tyohonvalmennus", "rehab_day", "2023-01"): rehab_day_2023,
    ("tyokokeilu-tyohonvalmennus", "rehab_day", "2025-04"): rehab_day_2025,
    ("course-registration", "confirm_course", "2024-01"): confirm_course,
    ("auditointi", "classify_finding", "2025-01"): classify_finding,
}
