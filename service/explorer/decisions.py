"""The decision log in the explorer: a filtered list, each decision's own page, a CSV export.

``/explorer/decisions`` lists logged decisions newest first, filtered by a GET form (policy,
action, version, outcome, fired rule, the event's date ``as_of``, the day it was logged,
pinned or not, and for auditors and planners the provider), a page at a time with the log's
cursor. Every filter is a query parameter, so a filtered list, its next page and each
decision's page (``/explorer/decisions/<id>``) are plain links that a browser's Back, a
bookmark or a mail can carry; a decision's page links back to the list it was opened from.
``/explorer/decisions.csv`` is the same filtered list as a file, every matching decision,
each row as ``GET /v1/decisions`` returns it (facts hashed as logged).

The filters are read with the API's own :class:`service.schemas.DecisionQuerySchema` and
applied by :meth:`service.decision_log.DecisionLog.list` / ``scan``: the page, its CSV and the
API never disagree about what a filter means. Two differences, for people: a logged-date
range takes both days whole (``until`` is the API's exclusive end plus a day), and a mistake
is a 400 page in the reader's language naming the field, with the form to correct it.

Access: an auditor or a planner reads every decision, a provider only its own (another
provider's decision is a 403 page); anyone else is asked to sign in.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlencode

from flask import Response, g, render_template, request, stream_with_context, url_for
from marshmallow import ValidationError

from engine import EngineError, LookupFailed
from engine.model import PolicyVersion
from engine.store import PolicyStore
from service.auth import READERS
from service.decision_log import BadCursor, to_public
from service.explorer import signin
from service.explorer.catalogue import labels_for
from service.explorer.charts import Chart, outcome_chart
from service.explorer.views import _PageError, bp, try_url
from service.extensions import services
from service.schemas import DecisionQuerySchema, LoggedDecisionSchema
from service.tokens import Principal, valid_business_id

__all__ = ["FILTERS", "PAGE_SIZE", "csv_rows", "decision", "decisions", "decisions_csv",
           "list_query", "read_filters"]

# the form's fields, in the form's order; each is also the query parameter
FILTERS = ("policy", "action", "version", "outcome", "fired", "provider", "as_of_from",
           "as_of_until", "since", "until", "pinned")
PAGE_SIZE = 50
_SEE_ALL = ("auditor", "planner")
_DATES = ("as_of_from", "as_of_until", "since", "until")
_PROBLEM = {"policy": "problem_name", "action": "problem_name", "version": "problem_name",
            "outcome": "problem_outcome", "fired": "problem_rule", "pinned": "problem_pinned",
            "provider": "problem_provider", "limit": "problem_limit",
            "cursor": "problem_cursor", **{name: "problem_date" for name in _DATES}}
_ORDER = {"as_of_from": "as_of_until", "since": "until"}
_CSV = LoggedDecisionSchema()


def _reader() -> Principal:
    """The signed-in reader of the log; a 401 page (with the sign-in form) or a 403."""
    principal = signin.current_principal()
    if principal is None:
        raise _PageError(401, key="decisions_sign_in")
    if principal.role not in READERS:
        raise _PageError(403, key="decisions_forbidden")
    return principal


def read_filters(args: Mapping[str, str], principal: Principal,
                 ) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """What a list's query asks for: the filters as :meth:`DecisionLog.count` and ``scan``
    take them (a provider's own id always among them), the paging (``limit``, ``cursor``),
    and per field a message in the page's language for each mistake."""
    labels = labels_for(g.lang)
    given = {k: args.get(k, "").strip() for k in (*FILTERS, "limit", "cursor")}
    given = {k: v for k, v in given.items() if v}
    errors: dict[str, str] = {}
    provider = given.pop("provider", None)
    try:
        loaded = DecisionQuerySchema().load(given)
    except ValidationError as exc:
        loaded = {}
        for name, messages in exc.normalized_messages().items():
            if name in _ORDER and any("later than" in str(m) for m in messages):
                problem = labels["problem_order"].format(other=labels[f"filter_{_ORDER[name]}"])
            else:
                problem = labels[_PROBLEM.get(name, "problem_name")]
            errors[name] = labels["filter_wrong"].format(field=_field_label(name, labels),
                                                         problem=problem)
    if principal.role == "provider":
        provider = principal.provider_id
    elif provider is not None and not valid_business_id(provider):
        errors["provider"] = labels["filter_wrong"].format(
            field=_field_label("provider", labels), problem=labels["problem_provider"])
    if errors:
        return {}, {}, errors
    paging = {"limit": loaded.pop("limit"), "cursor": loaded.pop("cursor", None)}
    if "until" in loaded and len(given["until"]) == 10:       # a day: the whole day
        try:
            loaded["until"] += dt.timedelta(days=1)
        except OverflowError:                                  # 9999-12-31: no end
            del loaded["until"]
    if provider is not None:
        loaded["provider"] = provider
    return loaded, paging, {}


def _field_label(name: str, labels: Mapping[str, str]) -> str:
    return labels.get(f"filter_{name}", name)


def _outcomes(store: PolicyStore, filters: Mapping[str, Any], per: str) -> Chart:
    """Allowed and denied decisions per week or month over the filtered list (a provider's
    own only, as the list), the version changes marked when one policy is chosen."""
    policy = store.policies.get(filters.get("policy") or "")
    return outcome_chart(services().log, {**filters,
                                          "restrict_provider": "provider" in filters},
                         g.lang, per, policy=policy)


def list_query(args: Mapping[str, str], **extra: str) -> str:
    """The list's query string as the reader filled it in (empty fields left out), for the
    links between the list, its pages, its decisions and its CSV; codes come back hashed."""
    scrub = services().masker.scrub_revealed
    pairs = [(k, scrub(args.get(k, "").strip())) for k in (*FILTERS, "limit", "per")
             if args.get(k, "").strip()]
    pairs += [(k, v) for k, v in extra.items() if v]
    return urlencode(pairs)


@bp.get("/decisions")
def decisions():
    """The filtered list, a page at a time, newest first."""
    principal = _reader()
    filters, paging, errors = read_filters(request.args, principal)
    page = None
    if not errors:
        try:
            page = services().log.list(restrict_provider="provider" in filters, **paging,
                                       **filters)
        except BadCursor:
            labels = labels_for(g.lang)
            errors["cursor"] = labels["filter_wrong"].format(
                field=_field_label("cursor", labels), problem=labels["problem_cursor"])
    query = list_query(request.args)
    more = page.next_cursor if page is not None else None
    store = services().policies.current()
    per = request.args.get("per", "").strip()
    per = per if per in ("week", "month") else "week"
    return render_template(
        "explorer/decisions.html", filters=filters, errors=errors, per=per,
        chart=None if errors else _outcomes(store, filters, per),
        rows=page.items if page is not None else [], query=query,
        form={k: services().masker.scrub_revealed(request.args.get(k, "").strip())
              for k in FILTERS},
        next_url=(f"{url_for('explorer.decisions')}?"
                  f"{list_query(request.args, cursor=more)}") if more else None,
        first_url=(f"{url_for('explorer.decisions')}?{query}"
                   if request.args.get("cursor") else None),
        csv_url=f"{url_for('explorer.decisions_csv')}?{query}",
        see_all=principal.role in _SEE_ALL, principal=principal,
        policy_names=sorted(store.policies),
        rule_ids=sorted({r.id for p in store.policies.values() for v in p.versions
                         for r in v.rules}),
    ), 400 if errors else 200


def csv_rows(rows: Iterator[list[dict[str, Any]]]) -> Iterator[str]:
    """The CSV text of stored rows, a header first: each decision as the API returns it
    (:class:`LoggedDecisionSchema`), a structure as its JSON, a text guarded against being
    read as a spreadsheet formula."""
    header = list(_CSV.fields)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    out.write("\ufeff")                  # so that a spreadsheet reads UTF-8 (ä, ö, å)
    writer.writerow(header)
    for batch in rows:
        for row in batch:
            shown = _CSV.dump(to_public(row))
            writer.writerow([_cell(shown.get(name)) for name in header])
        yield out.getvalue()
        out.seek(0)
        out.truncate()
    yield out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    text = str(value)
    return "'" + text if isinstance(value, str) and text[:1] in ("=", "+", "-", "@") else text


@bp.get("/decisions.csv")
def decisions_csv():
    """Every decision of the filtered list as CSV (not a page of it), for a spreadsheet."""
    principal = _reader()
    filters, _paging, errors = read_filters(request.args, principal)
    if errors:
        return decisions()
    rows = services().log.scan(batch=500, **filters)
    name = f"decisions-{dt.date.today().isoformat()}.csv"
    return Response(stream_with_context(csv_rows(rows)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "Cache-Control": "no-store"})


# --- one decision ------------------------------------------------------------------------------

@bp.get("/decisions/<decision_id>")
def decision(decision_id: str):
    """One logged decision: what was decided, under which version, which rules fired, and a
    link to what the version in force today would decide. A provider reads its own only."""
    principal = _reader()
    row = services().log.get(decision_id)
    if row is None:
        raise _PageError(404, key="error_no_decision", decision=decision_id)
    if principal.role == "provider" and row["provider"] != principal.provider_id:
        raise _PageError(403, key="decision_not_yours")
    store = services().policies.current()
    used = _version_that_decided(store, row)
    replay, personal = _today_link(store, row, used)
    rules = used.rules_for(row["action"]) if used is not None else ()
    query = list_query(request.args)
    return render_template("explorer/decision.html", row=row, used=used, rules=rules,
                           fired=set(row["fired"] or ()), replay=replay,
                           personal=personal,
                           back_url=f"{url_for('explorer.decisions')}"
                                    f"{'?' + query if query else ''}")


def _version_that_decided(store: PolicyStore, row: dict[str, Any]) -> PolicyVersion | None:
    """The served version that made a logged decision: same name, same digest, the action;
    None when the set served now no longer holds it."""
    try:
        candidate = store.get_version(row["policy"], row["version"])
    except LookupFailed:
        return None
    if candidate.digest == row["digest"] and row["action"] in candidate.actions:
        return candidate
    return None


def _today_link(store: PolicyStore, row: dict[str, Any],
                used: PolicyVersion | None) -> tuple[str | None, set[str]]:
    """The "try it" link of today's version prefilled with a logged decision's facts, less
    its personal ones (stored hashed, they cannot be replayed), and those facts' names; no
    link when today's version has no such action or no version is in force."""
    try:
        today = store.resolve(row["policy"], dt.date.today())
    except EngineError:
        return None, set()
    if row["action"] not in today.actions:
        return None, set()
    personal = set(today.actions[row["action"]].personal)
    if used is not None:
        personal |= used.actions[row["action"]].personal
    link = try_url(today, row["action"], row["as_of"], row["facts"] or {}, personal,
                   pinned=today.version)
    return link, personal
