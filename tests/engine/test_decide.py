import pytest

from engine import FactError, NoVersionInForce, PolicyStore, UnknownVersion, decide
from engine.pyeval import PythonEvaluator


def _decide(store, lang="en", explain=False, **facts):
    return decide(store, policy="demo", action="day", as_of="2024-05-01",
                  facts={"hours": 7, "kind": "a", **facts}, lang=lang, explain=explain)


def test_allow_with_results(demo_store):
    d = _decide(demo_store)
    assert d.outcome == "allow" and d.fired == ("TT-4-size",)
    assert d.results == {"size_min": 6, "long_day": False}
    assert d.digest.startswith("sha256:") and d.trace is None


def test_deny_warn_info_oblige(demo_store):
    d = _decide(demo_store, hours=5, kind="b", start="2026-08-31", groups=["x"], lang="fi")
    assert d.outcome == "deny"
    assert [f.message for f in d.violations] == ["Liian lyhyt: 5 h"]
    assert [f.rule for f in d.warnings] == ["TT-2-unpaid"]
    # the interpretation in the decision's language
    assert d.warnings[0].cite["interpretation"] == "b on valmennusta"
    english = _decide(demo_store, hours=7, kind="b", lang="en")
    assert english.warnings[0].cite["interpretation"] == "b counts as coaching"
    assert [f.message for f in d.notices] == ["Koko 4", "Ryhmät x"]   # result explained
    assert [(o.rule, o.due) for o in d.obligations] == [("TT-3-due", "2027-02-28")]


@pytest.mark.parametrize("lang,text", [("fi", "Liian lyhyt: 5.5 h"), ("sv", "För kort: 5.5 h"),
                                       ("en", "Too short: 5.5 h")])
def test_languages(demo_store, lang, text):
    assert _decide(demo_store, hours=5.5, lang=lang).violations[0].message == text


def test_invalid_hetu_is_a_deny_and_never_echoed(demo_store):
    d = _decide(demo_store, code="131052-308U", explain=True)
    assert [f.rule for f in d.violations] == ["TT-6-code"]
    assert "131052" not in str(d.to_dict())
    assert _decide(demo_store, code="131052-308T").outcome == "allow"


def test_trace_lists_every_rule_with_what_it_read(demo_store):
    d = _decide(demo_store, hours=5, explain=True)
    entries = {t.rule: t for t in d.trace}
    assert len(entries) == 6
    assert entries["TT-1-short"].fired and entries["TT-1-short"].reads == {"hours": 5}
    assert not entries["TT-2-unpaid"].fired
    assert entries["TT-2-unpaid"].reads == {"paid": False, "kind": "a"}


def test_python_evaluator_gives_the_same_decision(demo_store):
    a = _decide(demo_store, hours=5, kind="b", groups=["x", "y", "z"])
    b = decide(demo_store, policy="demo", action="day", as_of="2024-05-01",
               facts={"hours": 5, "kind": "b", "groups": ["x", "y", "z"]}, lang="en",
               evaluator=PythonEvaluator())
    assert a.to_dict() == b.to_dict()


def test_refusals(demo_store):
    with pytest.raises(NoVersionInForce):
        decide(demo_store, policy="demo", action="day", as_of="2023-12-31", facts={})
    with pytest.raises(FactError, match="as_of"):
        decide(demo_store, policy="demo", action="day", as_of="yesterday", facts={})
    with pytest.raises(FactError, match="lang"):
        _decide(demo_store, lang="de")


def test_decision_json_shape(demo_store):
    body = _decide(demo_store).to_dict()
    assert set(body) == {"policy", "version", "digest", "action", "as_of", "lang", "outcome",
                         "violations", "warnings", "notices", "obligations", "results",
                         "fired", "trace", "bundle", "pinned", "version_chosen_by"}
    assert body["pinned"] is False


def test_uncomputable_set_or_due_is_the_callers_422(tmp_path):
    from engine import PolicyStore
    from tests.conftest import DEMO, write_policy

    text = DEMO.replace("set: {size_min: size_min, long_day: hours > 8}",
                        'set:\n      size_min: size_min\n'
                        '      second: lookup(types, kind2, "max_size")').replace(
        "      code: {type: hetu, optional: true}\n",
        "      code: {type: hetu, optional: true}\n      kind2: {type: string, default: a}\n"
        "      shift: {type: integer, default: 0}\n").replace(
        "due: add_months(start, 6)", "due: add_days(start, shift)")
    store = PolicyStore.load(write_policy(tmp_path, text).parent.parent)
    try:
        with pytest.raises(FactError) as info:
            decide(store, policy="demo", action="day", as_of="2024-05-01",
                   facts={"hours": 7, "kind": "a", "kind2": "zz"})
        assert info.value.code == "unknown_key" and "kind2" in info.value.errors
        with pytest.raises(FactError) as info:
            decide(store, policy="demo", action="day", as_of="2024-05-01",
                   facts={"hours": 7, "kind": "a", "start": "2024-01-01",
                          "shift": 10**11})
        assert "cannot compute add_days(start, shift)" in str(info.value.errors)
    finally:
        store.close()


@pytest.fixture
def two_versions(tmp_path):
    """demo 2024-01 (min 6 h) and 2025-01 (min 5 h, from 2025-01-01)."""
    from tests.conftest import DEMO, write_policy

    root = tmp_path / "policies"
    write_policy(root)
    write_policy(root, DEMO.replace('version: "2024-01"', 'version: "2025-01"').replace(
        "effective_from: 2024-01-01", "effective_from: 2025-01-01").replace(
        "min_hours: 6", "min_hours: 5"), version="2025-01")
    store = PolicyStore.load(root)
    yield store
    store.close()


def _day(store, as_of, version=None):
    return decide(store, policy="demo", action="day", as_of=as_of,
                  facts={"hours": 5.5, "kind": "a"}, version=version)


def test_pinned_version_wins_over_as_of(two_versions):
    by_date = _day(two_versions, "2025-03-10")
    assert (by_date.version, by_date.outcome, by_date.pinned) == ("2025-01", "allow", False)
    pinned = _day(two_versions, "2025-03-10", version="2024-01")
    assert (pinned.version, pinned.outcome, pinned.pinned) == ("2024-01", "deny", True)
    assert pinned.as_of.isoformat() == "2025-03-10" and pinned.to_dict()["pinned"] is True
    # naming the version in force is still a pinned decision: the caller chose it
    assert _day(two_versions, "2025-03-10", version="2025-01").pinned is True


def test_pinned_version_may_be_asked_before_it_takes_effect(two_versions):
    """A what-if: no NoVersionInForce, even before the policy's first version."""
    assert _day(two_versions, "2024-06-01", version="2025-01").outcome == "allow"
    assert _day(two_versions, "2020-01-01", version="2024-01").version == "2024-01"
    with pytest.raises(NoVersionInForce):
        _day(two_versions, "2020-01-01")


def test_unknown_pinned_version(two_versions):
    with pytest.raises(UnknownVersion) as info:
        _day(two_versions, "2025-03-10", version="2030-01")
    assert info.value.code == "unknown_version"
    assert info.value.details == {"policy": "demo", "version": "2030-01"}


# -- version_by: which date chooses the version ------------------------------------------------

def _versions_by_start(root, by_line: str):
    """demo 2024-01 (6 h minimum) and 2025-01 (4 h), both choosing the version by ``start``."""
    from tests.conftest import DEMO, write_policy

    text = DEMO.replace("actions:\n  day:\n", f"actions:\n  day:\n{by_line}")
    write_policy(root, text)
    write_policy(root, text.replace('version: "2024-01"', 'version: "2025-01"').replace(
        "effective_from: 2024-01-01", "effective_from: 2025-01-01").replace(
        "min_hours: 6", "min_hours: 4"), version="2025-01")
    return PolicyStore.load(root)


def test_version_by_a_start_date_picks_the_version_of_that_date(tmp_path):
    store = _versions_by_start(tmp_path, "    version_by: start\n")
    try:
        started_2024 = decide(store, policy="demo", action="day", as_of="2025-03-01",
                              facts={"hours": 5, "kind": "a", "start": "2024-11-01"})
        assert started_2024.version == "2024-01" and started_2024.outcome == "deny"
        assert started_2024.to_dict()["version_chosen_by"] == {"by": "start",
                                                               "date": "2024-11-01"}
        started_2025 = decide(store, policy="demo", action="day", as_of="2025-03-01",
                              facts={"hours": 5, "kind": "a", "start": "2025-02-01"})
        assert started_2025.version == "2025-01" and started_2025.outcome == "allow"
        # start is optional: without it as_of chooses, and the decision says so
        plain = decide(store, policy="demo", action="day", as_of="2025-03-01",
                       facts={"hours": 5, "kind": "a"})
        assert plain.version == "2025-01" and plain.chosen_by == "as_of"
        with pytest.raises(FactError) as caught:
            decide(store, policy="demo", action="day", as_of="2025-03-01",
                   facts={"hours": 5, "kind": "a", "start": "1.2.2025"})
        assert "start" in caught.value.errors
        pinned = decide(store, policy="demo", action="day", as_of="2025-03-01",
                        facts={"hours": 5, "kind": "a", "start": "2025-02-01"},
                        version="2024-01")
        assert pinned.version == "2024-01" and pinned.chosen_by == "version"
    finally:
        store.close()


def test_version_by_must_name_a_date_fact(tmp_path):
    from engine import PolicyError

    with pytest.raises(PolicyError) as caught:
        _versions_by_start(tmp_path, "    version_by: strat\n")
    assert "version_by: action day has no date fact 'strat'; did you mean 'start'?" in \
        caught.value.problems[0].message
