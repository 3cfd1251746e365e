"""Every kind of explorer page, once, for the checks that must see them all.

``test_languages.py`` (no English words on a Finnish or Swedish page) and
``test_accessibility.py`` (axe-core in real Chromium, fi/sv/en) walk :data:`PAGE_KINDS`.
A new kind of page is one line appended here, e.g.::

    PageKind("decision-list", "/explorer/decisions", role="auditor"),

``role`` signs in with a fresh token of that role (an ``Authorization`` header for Flask's
test client, the explorer's sign-in cookie in the browser); ``form`` is what a person types:
the test client POSTs it, the browser opens the page with it filled in (the try form reads
its query) and clicks ``submit``. The pages are those of the repository's real policies.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["PAGE_KINDS", "POLICY", "PageKind"]

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
    PageKind("forbidden", "/explorer/decisions/d-0000", role="provider", status=403),
]
