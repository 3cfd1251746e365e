"""How often a policy's rules fire over time: ``/explorer/policies/<policy>/activity`` and
``/explorer/policies/<policy>/rules/<rule_id>/activity``.

Planners ask "how often does TT-4 deny, and did that change in April?". These pages answer
with counts from the decision log per week or month of the decisions' event date
(``as_of``), drawn by :mod:`service.explorer.charts` with the policy's version changes
marked, and the same numbers as a table. Only counts leave the log, never a decision's facts,
so the pages are as open as the other reading pages (``_readable``). What-ifs (a version
chosen by the caller) are left out: they are no decisions under the rules in force.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import g, render_template, request

from engine.model import Policy, Rule
from service.decision_log import BUCKETS, Activity
from service.explorer.catalogue import labels_for
from service.explorer.charts import Chart, draw_chart, version_marks
from service.explorer.views import _PageError, _readable, _store, _text_in, bp
from service.extensions import services

__all__ = ["MAX_YEARS", "Period", "parse_period", "policy_activity", "rule_activity"]

MAX_YEARS = 10          # a longer period would draw thousands of weekly points


class Period:
    """The form's period and bucket, or the problems with them per field."""

    def __init__(self, since: dt.date, until: dt.date, bucket: str,
                 errors: dict[str, str]) -> None:
        self.since, self.until, self.bucket, self.errors = since, until, bucket, errors

    @property
    def end(self) -> dt.date:
        """The day after the period."""
        return self.until + dt.timedelta(days=1)


def _year_before(day: dt.date) -> dt.date:
    """The day after the same date a year earlier: a year's period ends on ``day``."""
    try:
        earlier = day.replace(year=day.year - 1)
    except ValueError:                      # 29 February
        earlier = day.replace(year=day.year - 1, day=28)
    return earlier + dt.timedelta(days=1)


def parse_period(args: Any, labels: dict[str, str], today: dt.date | None = None) -> Period:
    """``from``, ``until`` (ISO dates, both included) and ``bucket`` from a GET form;
    by default the twelve months up to today, per month. A bad field is named in
    ``errors`` with what to write instead."""
    today = today or dt.date.today()
    errors: dict[str, str] = {}
    dates: dict[str, dt.date | None] = {}
    for name in ("from", "until"):
        text = (args.get(name) or "").strip()
        try:
            dates[name] = dt.date.fromisoformat(text) if text else None
        except ValueError:
            errors[name] = labels["activity_bad_date"]
            dates[name] = None
    until = dates["until"] or today
    since = dates["from"] or _year_before(until)
    bucket = args.get("bucket") or "month"
    if bucket not in BUCKETS:
        errors["bucket"] = labels["activity_bad_bucket"]
        bucket = "month"
    if not errors and until < since:
        errors["until"] = labels["activity_bad_period"]
    if not errors and (until - since).days > 366 * MAX_YEARS:
        errors["from"] = labels["activity_too_long"].format(years=MAX_YEARS)
    return Period(since, until, bucket, errors)


def _rule(policy: Policy, rule_id: str) -> Rule:
    """The rule as the newest version that has it writes it; 404 when no version has it."""
    for version in reversed(policy.versions):
        for rule in version.rules:
            if rule.id == rule_id:
                return rule
    raise _PageError(404, key="error_unknown_rule", policy=policy.name, rule=rule_id)


def _counted(policy: Policy, period: Period, rule: str | None = None) -> Activity | None:
    if period.errors:
        return None
    return services().log.activity(policy=policy, rule=rule, since=period.since,
                                   until=period.until, bucket=period.bucket)


def _chart(counts: Activity, series: dict[str, list[int]], policy: Policy, period: Period,
           title: str, chart_id: str) -> Chart:
    labels = labels_for(g.lang)
    return draw_chart(counts.starts, series, version_marks(policy, period.since, period.end),
                      labels, bucket=period.bucket,
                      title=f"{title} {labels[f'chart_per_{period.bucket}']}",
                      chart_id=chart_id, note=labels["activity_note"], lang=g.lang)


def _page(policy: Policy, period: Period, chart: Chart | None, title: str,
          rule: Rule | None = None):
    return render_template("explorer/activity.html", policy=policy, period=period,
                           chart=chart, title=title, rule=rule, buckets=BUCKETS,
                           errors=period.errors), 400 if period.errors else 200


@bp.get("/policies/<policy>/activity")
@_readable
def policy_activity(policy: str):
    """A policy's decisions per bucket and how many times its rules of each effect fired."""
    found = _store().get_policy(policy)
    labels = labels_for(g.lang)
    period = parse_period(request.args, labels)
    title = labels["activity_title"].format(policy=_text_in(found.title, g.lang))
    counts = _counted(found, period)
    chart = None if counts is None else _chart(
        counts, {"decisions": counts.decisions, **counts.fired}, found, period, title,
        "activity")
    return _page(found, period, chart, title)


@bp.get("/policies/<policy>/rules/<rule_id>/activity")
@_readable
def rule_activity(policy: str, rule_id: str):
    """One rule: the decisions of its actions per bucket and in how many it fired."""
    found = _store().get_policy(policy)
    rule = _rule(found, rule_id)
    labels = labels_for(g.lang)
    period = parse_period(request.args, labels)
    title = labels["activity_rule_title"].format(rule=rule.id)
    counts = _counted(found, period, rule.id)
    chart = None
    if counts is not None:
        fired = [sum(c) for c in zip(*counts.fired.values(), strict=True)] \
            if counts.fired else [0] * len(counts.starts)
        chart = _chart(counts, {"decisions": counts.decisions, "fired": fired}, found,
                       period, title, "rule-activity")
    return _page(found, period, chart, title, rule)
