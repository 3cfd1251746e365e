"""Every kind of explorer page, once, for the checks that must see them all.

``test_languages.py`` (no English words on a Finnish or Swedish page) and
``test_accessibility.py`` (axe-core in real Chromium, fi/sv/en) walk :data:`PAGE_KINDS`.
A new kind of page is one line appended here, e.g.::

    PageKind("decision-list", "/explorer/decisions", role="auditor"),

``role`` signs in with a fresh token of that role (an ``Authorization`` header for Flask's
test client, the explorer's sign-in cookie in the browser); ``form`` is what a person types:
the test client POSTs it, the browser opens the page with it filled in (the try form reads
its query) and clicks ``submit``. ``{decision}`` in an address is the id of a decision
:func:`log_decisions` logged. The pages are those of the repository's real policies.
"""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = ["DECISION_BODY", "PAGE_KINDS", "POLICY", "PageKind", "log_decisions"]

POLICY = "tyokokeilu-tyohonvalmennus"
_VERSION = f"/explorer/policies/{POLICY}/versions/2023-01"
_ACTION = f"{_VERSION}/actions/rehab_day"
# a 7-hour day with 6 hours at the workplace in March 2025: TT-1 denies it (a finding with
# a citation, an interpretation, a trace)
_DENIED_DAY = {"as_of": "2025-03-10", "f.service": "tyokokeilu", "f.hours_total": "7",
               "f.hours_at_workplace": "6"}
# what the engine refuses: a number out of its limits, a required fact left out
_BAD_DAY = {"as_of": "2025-03-10", "f.service": "tyokokeilu", "f.hours_total": "30"}


class PageKind(NamedTuple):
    """One page: ``name`` (for messages and screenshot files), its address without
    ``lang``, the role to sign in as (None: nobody), a form to send, the status expected."""

    name: str
    url: str
    role: str | None = None
    form: dict[str, str] | None = None
    status: int = 200
    submit: str = "#evaluate"


PAGE_KINDS: list[PageKind] = [
    PageKind("index", "/explorer"),
    PageKind("policy", f"/explorer/policies/{POLICY}"),
    PageKind("version", f"/explorer/policies/{POLICY}/versions/2025-04"),
    PageKind("action", _ACTION),
    PageKind("diff", f"/explorer/policies/{POLICY}/diff?from=2023-01&to=2025-04"),
    PageKind("text", f"/explorer/policies/{POLICY}/versions/2025-04/text"),
    PageKind("try", f"{_ACTION}/try"),
    PageKind("try-answer", f"{_ACTION}/try", form=_DENIED_DAY),
    PageKind("try-errors", f"{_ACTION}/try", form=_BAD_DAY, status=422),
    PageKind("not-found", f"/explorer/policies/{POLICY}/versions/2023-01/actions/nothing",
             status=404),
    PageKind("not-found-policy", "/explorer/policies/no-such-policy", status=404),
    PageKind("forbidden", "/explorer/decisions", role="ops", status=403),
    PageKind("unauthorized", "/explorer/decisions", status=401),
    PageKind("signin", "/explorer/signin"),
    PageKind("decisions", "/explorer/decisions", role="auditor"),
    PageKind("decisions-filtered", f"/explorer/decisions?policy={POLICY}&outcome=deny"
             "&fired=TT-1-day-length&as_of_from=2025-03-01&as_of_until=2025-03-31",
             role="auditor"),
    PageKind("decisions-provider", "/explorer/decisions", role="provider"),
    PageKind("decision", "/explorer/decisions/{decision}", role="auditor"),
    PageKind("decision-own", "/explorer/decisions/{decision}", role="provider"),
    PageKind("policy-activity", f"/explorer/policies/{POLICY}/activity"),
    PageKind("rule-activity", f"/explorer/policies/{POLICY}/rules/TT-1-day-length/activity"
             "?from=2024-10-01&until=2025-09-30&bucket=month"),
]

# the decision the pages above show: a day TT-1 denies, logged through the API by PROVIDER
DECISION_BODY = {"policy": POLICY, "action": "rehab_day", "as_of": "2025-03-10",
                 "facts": {"service": "tyokokeilu", "hours_total": 7,
                           "hours_at_workplace": 6}}


def log_decisions(app: Any, provider: str) -> str:
    """Log a denied day in March and an allowed one in May 2025 (either side of the 2025-04
    version) as ``provider``; the id of the denied one, for the ``{decision}`` pages."""
    raw = app.extensions["rehab_rules"].tokens.create("provider", provider, "page kinds")[0]
    client = app.test_client()
    headers = {"Authorization": f"Bearer {raw}"}
    response = client.post("/v1/decisions", json=DECISION_BODY, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    later = {**DECISION_BODY, "as_of": "2025-05-12",
             "facts": {**DECISION_BODY["facts"], "hours_total": 6}}
    assert client.post("/v1/decisions", json=later, headers=headers).status_code == 200
    return response.get_json()["decision_id"]
