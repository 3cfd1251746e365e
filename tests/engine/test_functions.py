import datetime as dt

import pytest

from engine import functions as fn


@pytest.mark.parametrize("start,months,expected", [
    ("2026-08-31", 6, "2027-02-28"), ("2025-01-31", 1, "2025-02-28"),
    ("2024-01-31", 1, "2024-02-29"), ("2024-02-29", 12, "2025-02-28"),
    ("2025-03-15", -1, "2025-02-15"), ("2019-08-06", 0, "2019-08-06"),
])
def test_add_months_clamps_to_month_end(start, months, expected):
    assert fn.add_months(dt.date.fromisoformat(start), months).isoformat() == expected


@pytest.mark.parametrize("code,ok", [
    ("2077474-0", True), ("1572860-0", True), ("1366959-8", True), ("1234567-1", True),
    ("2077474-1", False), ("1000008-0", False), ("1000008-1", False), ("12345671", False),
    ("0246246-0", True),
])
def test_valid_ytunnus(code, ok):
    assert fn.valid_ytunnus(code) is ok


def test_remainder_one_never_valid():
    base = "1000008"
    assert sum(int(c) * w for c, w in zip(base, (7, 9, 10, 5, 8, 4, 2), strict=True)) % 11 == 1
    assert not any(fn.valid_ytunnus(f"{base}-{d}") for d in range(10))


def test_percent_rounds_half_up_and_shares_of_audit():
    assert [fn.percent(n, 58) for n in (8, 23, 27)] == [14, 40, 47]
    assert fn.percent(1, 8) == 13 and fn.percent(1, 0) is None
    assert fn.round_half_up(14.5) == 15 and fn.round_half_up(2.345, 2) == 2.35


def test_dates():
    assert fn.make_date(2020, 2, 31) == dt.date(2020, 2, 29)
    with pytest.raises(ValueError):
        fn.make_date(2020, 13, 1)
    assert fn.days_between(dt.date(2025, 1, 1), dt.date(2024, 12, 31)) == -1
    assert fn.months_between(dt.date(2025, 1, 31), dt.date(2025, 3, 30)) == 1
    assert fn.end_of_month(dt.date(2024, 2, 3)) == dt.date(2024, 2, 29)


def test_registry_signatures_are_documented():
    readme = (fn.__file__.rsplit("/engine/", 1)[0] + "/policies/README.md")
    text = open(readme, encoding="utf-8").read()
    for name in fn.FUNCTIONS:
        assert f"`{name}(" in text, f"{name} is not documented in policies/README.md"
