import datetime as dt
from types import SimpleNamespace

import pytest

from engine.errors import NoVersionInForce
from engine.resolve import in_force

VERSIONS = [SimpleNamespace(version=v, effective_from=dt.date.fromisoformat(d))
            for v, d in (("2023-01", "2023-01-01"), ("2025-04", "2025-04-01"))]


@pytest.mark.parametrize("day,version", [
    ("2023-01-01", "2023-01"), ("2025-03-31", "2023-01"), ("2025-04-01", "2025-04"),
    ("2099-12-31", "2025-04"),
])
def test_latest_effective_from_not_after_as_of(day, version):
    assert in_force(VERSIONS, dt.date.fromisoformat(day)).version == version


def test_none_in_force():
    with pytest.raises(NoVersionInForce, match="first takes effect on 2023-01-01"):
        in_force(VERSIONS, dt.date(2022, 12, 31), "p")
