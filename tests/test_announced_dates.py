"""Dates Kela announces later: what happens once a planner writes them into a policy.

Two seed policies wait for an announcement, each with an empty table the planner fills in as
its comment says: the booking system's go-live (ajanvaraus, ``go_live``, seed 003: "Tarkka
aikataulu tiedotetaan myöhemmin") and the end of the Katso transition for the organisations
that cannot use Suomi.fi mandates (tuloksellisuus, ``katso_transition_end``, seed 002: "Tieto …
päivitetään tälle sivulle"). The fixtures show the policies as they are, with nothing
announced; here the planner's one-line change is made on a copy of ``policies/``, and the day
before and the announced day itself decide as the comments promise.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine import PolicyStore, decide
from tests.conftest import POLICIES

BOOKING = {"suomifi_mandates": ["Sosiaaliturvan etuusasioiden ajanvarauksen tekeminen"],
           "business_id": "2077474-0", "in_register": True, "identification": "verkkopankki",
           "customer_consent": True, "customer_hetu": "131052-308T"}
ROLE = "KELA - Kuntoutuksen tuloksellisuustietojen toimittaja"
MANDATE = "Kuntoutuspalveluiden tuottajien asiointi"
SUBMISSION = {"written_consent": True, "measured_on": "2021-02-01",
              "measurement_kind": "loppumittaus", "identification": "verkkopankki",
              "organisation_kind": "saatio"}


def _announce(tmp_path: Path, policy_file: str, empty: str, announced: str) -> PolicyStore:
    """A copy of policies/ in which the planner has written the announced day."""
    root = tmp_path / "policies"
    shutil.copytree(POLICIES, root)
    target = root / policy_file
    text = target.read_text(encoding="utf-8")
    assert text.count(f"\n  {empty}\n") == 1, f"{policy_file} no longer says {empty!r}"
    target.write_text(text.replace(f"\n  {empty}\n", f"\n  {announced}\n"), encoding="utf-8")
    return PolicyStore.load(root)


def _fired(store: PolicyStore, policy: str, action: str, as_of: str, facts: dict) -> tuple:
    d = decide(store, policy=policy, action=action, as_of=as_of, facts=facts)
    return d.outcome, d.fired


def test_nothing_announced_yet(real_store):
    assert _fired(real_store, "ajanvaraus", "book_appointment", "2030-01-01", BOOKING) == (
        "deny", ("AJ-2-not-in-use-yet",))
    facts = {**SUBMISSION, "suomifi_mandates": [MANDATE], "measured_on": "2029-05-01"}
    assert _fired(real_store, "tuloksellisuus", "submit_outcome_data", "2030-01-01", facts) == (
        "deny", ("TU-2-deadline", "TU-4-katso-role"))


@pytest.fixture
def booking_live(tmp_path: Path) -> PolicyStore:
    return _announce(tmp_path, "ajanvaraus/2020-09.yaml", "go_live: {}",
                     "go_live: {announced: 2020-11-16}")


@pytest.mark.parametrize("action", ["book_appointment", "check_booking", "cancel_booking"])
def test_from_the_announced_go_live_a_booking_is_judged_by_its_preparations(booking_live,
                                                                           action):
    assert _fired(booking_live, "ajanvaraus", action, "2020-11-15", BOOKING) == (
        "deny", ("AJ-2-not-in-use-yet",))
    assert _fired(booking_live, "ajanvaraus", action, "2020-11-16", BOOKING) == ("allow", ())
    late = {**BOOKING, "customer_consent": False}
    assert _fired(booking_live, "ajanvaraus", action, "2021-03-01", late) == (
        "deny", ("AJ-4-consent",))
    ready = {**BOOKING, "preparations_only": True}
    for day in ("2020-11-15", "2020-11-16"):
        assert _fired(booking_live, "ajanvaraus", action, day, ready) == (
            "allow", ("AJ-2-preparations-only",))


@pytest.fixture
def transition_over(tmp_path: Path) -> PolicyStore:
    return _announce(tmp_path, "tuloksellisuus/2019-12.yaml", "katso_transition_end: {}",
                     "katso_transition_end: {announced: 2021-06-01}")


def test_from_the_announced_end_a_foundation_is_judged_like_the_others(transition_over):
    def fired(as_of: str, **facts) -> tuple:
        return _fired(transition_over, "tuloksellisuus", "submit_outcome_data", as_of,
                      {**SUBMISSION, **facts})

    # the mandate alone: denied in the transition, enough from the announced day
    assert fired("2021-05-31", suomifi_mandates=[MANDATE]) == (
        "deny", ("TU-2-deadline", "TU-4-katso-role"))
    assert fired("2021-06-01", suomifi_mandates=[MANDATE]) == ("allow", ("TU-2-deadline",))
    # the Katso role alone: admitted in the transition; afterwards still, with the warning
    # the other organisations get, and on a Katso ID that strong identification can use
    role = {"katso_roles": [ROLE], "katso_id": "tunniste"}
    assert fired("2021-05-31", **role) == ("allow", ("TU-2-deadline", "TU-4-katso-transition"))
    assert fired("2021-06-01", **role) == ("allow", ("TU-2-deadline",
                                                     "TU-4-suomifi-mandate-soon"))
    weak = {"katso_roles": [ROLE], "katso_id": "alitunniste"}
    assert fired("2021-06-01", **weak) == (
        "deny", ("TU-2-deadline", "TU-4-suomifi-mandate-soon", "TU-4-katso-sub-identifier"))
    # neither: the Katso role is asked for in the transition, the mandate afterwards
    assert fired("2021-05-31") == ("deny", ("TU-2-deadline", "TU-4-katso-role"))
    assert fired("2021-06-01") == ("deny", ("TU-2-deadline", "TU-4-suomifi-mandate"))
