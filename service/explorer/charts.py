"""Counts over time drawn on the server: an inline SVG a screen reader can name, and the same
numbers as a table.

Planners ask "how often does TT-4 deny, and did that change in April?". The answer is a line
per series (decisions, the rules that fired by effect, outcomes) over weeks or months, with
each version's ``effective_from`` a vertical line named by the version. The pages have no
JavaScript and fetch nothing, so the picture is SVG text in the page:
``role="img"`` with a ``<title>`` and a ``<desc>`` (the totals and the version changes in
words) in the page's language; each series has its own dash pattern and marker shape and is
named at the end of its line, so no series is told apart by colour alone; colours are dark
enough on white (≥ 4.5:1). Beside it, :class:`ChartTable` holds every number for a screen
reader, print and a person who wants the exact count.

:func:`draw_chart` is a pure function of its arguments (same input, same bytes), every word it
writes comes from the ``labels`` it is given (the page's catalogue), and the geometry
constants are public so that a test can tell where a date lies.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from engine.model import Policy
from service.decision_log import BUCKETS, DecisionLog
from service.explorer.catalogue import labels_for
from service.explorer.formats import format_date, format_month

__all__ = [
    "BOTTOM",
    "HEIGHT",
    "LEFT",
    "PLOT_HEIGHT",
    "PLOT_WIDTH",
    "RIGHT",
    "TOP",
    "WIDTH",
    "Chart",
    "ChartRow",
    "ChartTable",
    "bucket_end",
    "draw_chart",
    "outcome_chart",
    "version_marks",
    "x_of",
]

# the drawing's coordinates (the viewBox); the plot is the box inside the margins
WIDTH, HEIGHT = 760, 340
LEFT, TOP, RIGHT, BOTTOM = 56, 40, 196, 44
PLOT_WIDTH, PLOT_HEIGHT = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
_LABEL_GAP = 16             # least distance between two names at the lines' ends

# (colour, dash pattern, marker): every colour ≥ 4.5:1 on white; the dash and the marker
# alone tell the series apart
_STYLES = (
    ("#1b1b1b", "", "circle"),
    ("#8a1212", "7 4", "square"),
    ("#0b5394", "2 3", "triangle"),
    ("#0d5a26", "10 3 2 3", "diamond"),
    ("#7a4a00", "4 2", "cross"),
    ("#5b2a86", "1 4", "plus"),
)
_STYLE_OF = {"decisions": 0, "deny": 1, "fired": 1, "denied": 1, "oblige": 2, "allowed": 3,
             "info": 3, "warn": 4, "result": 5}


@dataclass(frozen=True)
class ChartRow:
    """One bucket in the table: its first day, how it is named, a count per series, and the
    version changes inside it in words."""

    start: dt.date
    label: str
    counts: tuple[int, ...]
    marks: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChartTable:
    """The chart's numbers as a table: ``head`` names the bucket column, each series and the
    version changes; ``totals`` per series."""

    caption: str
    head: tuple[str, ...]
    rows: tuple[ChartRow, ...]
    totals: tuple[int, ...]
    total_label: str


@dataclass(frozen=True)
class Chart:
    """What ``chart_block`` (templates/explorer/chart.html) shows: the SVG and its table,
    or only the SVG with ``empty_text`` when nothing was counted. ``marks`` are the drawn
    version changes as (date, version, x); ``chart_id`` prefixes the ids in the page."""

    svg: Markup
    table: ChartTable
    empty: bool
    empty_text: str
    marks: tuple[tuple[dt.date, str, float], ...] = ()
    note: str = ""
    chart_id: str = "chart"


def bucket_end(start: dt.date, bucket: str) -> dt.date:
    """The first day after the bucket starting ``start``."""
    if bucket == "week":
        return start + dt.timedelta(days=7)
    return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def x_of(day: dt.date, first: dt.date, end: dt.date) -> float:
    """Where ``day`` lies on a time axis from ``first`` to ``end`` (the day after the last
    bucket), in the drawing's coordinates."""
    span = max((end - first).days, 1)
    return LEFT + PLOT_WIDTH * (day - first).days / span


def version_marks(policy: Policy, first: dt.date, end: dt.date) -> list[tuple[dt.date, str]]:
    """The policy's versions that took effect after ``first`` and before ``end``, as
    (effective_from, version): where the rules changed inside the period."""
    return [(v.effective_from, v.version) for v in policy.versions
            if first < v.effective_from < end]


def _n(value: float) -> str:
    """A coordinate as fixed text: the same drawing gives the same bytes."""
    return f"{value:.1f}"


def _step(top: int) -> int:
    """A round step for the count axis: 1, 2, 5, 10, 20 … with at most five steps to ``top``."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if top <= 5 * step * factor:
                return step * factor
        step *= 10


def _row_label(start: dt.date, bucket: str, lang: str) -> str:
    if bucket == "month":
        return format_month(start, lang)
    return f"{format_date(start, lang)} – {format_date(start + dt.timedelta(days=6), lang)}"


def _ticks(starts: Sequence[dt.date], end: dt.date, bucket: str,
           lang: str) -> list[tuple[dt.date, str]]:
    """The dates named under the axis: each week of a short weekly chart, else the months
    (every second or third one when there are many), at most eight."""
    if bucket == "week" and len(starts) <= 6:
        return [(s, format_date(s, lang)) for s in starts]
    months = []
    day = starts[0] if starts[0].day == 1 else bucket_end(starts[0].replace(day=1), "month")
    while day < end:
        months.append(day)
        day = bucket_end(day, "month")
    every = max(1, math.ceil(len(months) / 8))
    return [(m, format_month(m, lang)) for m in months[::every]]


def _marker(shape: str, x: float, y: float, colour: str, r: float = 4.5) -> str:
    """A marker of ``shape`` and half-size ``r`` centred at (x, y)."""
    if shape == "circle":
        return f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{_n(r)}" fill="{colour}"/>'
    if shape == "square":
        return (f'<rect x="{_n(x - r)}" y="{_n(y - r)}" width="{_n(2 * r)}" '
                f'height="{_n(2 * r)}" fill="{colour}"/>')
    if shape == "triangle":
        points = f"{_n(x)},{_n(y - r - 1)} {_n(x + r + 1)},{_n(y + r)} {_n(x - r - 1)},{_n(y + r)}"
        return f'<polygon points="{points}" fill="{colour}"/>'
    if shape == "diamond":
        points = f"{_n(x)},{_n(y - r - 1)} {_n(x + r + 1)},{_n(y)} {_n(x)},{_n(y + r + 1)} " \
                 f"{_n(x - r - 1)},{_n(y)}"
        return f'<polygon points="{points}" fill="{colour}"/>'
    arms = ((-r, -r, r, r), (-r, r, r, -r)) if shape == "cross" else ((-r, 0, r, 0),
                                                                      (0, -r, 0, r))
    return "".join(f'<line x1="{_n(x + a)}" y1="{_n(y + b)}" x2="{_n(x + c)}" y2="{_n(y + d)}" '
                   f'stroke="{colour}" stroke-width="2.5"/>' for a, b, c, d in arms)


def _spread(wanted: list[float], low: float, high: float) -> list[float]:
    """Positions as near ``wanted`` (sorted) as keeps them ``_LABEL_GAP`` apart inside
    [low, high]."""
    out: list[float] = []
    for y in wanted:
        out.append(max(y, out[-1] + _LABEL_GAP) if out else max(y, low))
    overflow = out[-1] - high if out else 0
    if overflow > 0:
        out = [y - overflow for y in out]
        for i in range(len(out) - 2, -1, -1):
            out[i] = min(out[i], out[i + 1] - _LABEL_GAP)
    return out


def draw_chart(starts: Sequence[dt.date], series: Mapping[str, Sequence[int]],
               marks: Sequence[tuple[dt.date, str]], labels: Mapping[str, str], *,
               bucket: str = "week", title: str, chart_id: str = "chart",
               note: str = "", lang: str = "fi") -> Chart:
    """Counts per bucket as a line chart and a table.

    ``starts`` are the buckets' first days (consecutive weeks or months), ``series`` a count
    per bucket for each key (``decisions``, an effect, ``fired``, or the outcomes
    ``allowed`` and ``denied``; the word for a key is ``labels["chart_series_<key>"]``),
    ``marks`` the version changes as (date, version name). ``labels`` are the page's
    catalogue and ``lang`` its language (dates are written the reader's way); ``title`` is
    the chart's name in it. ``chart_id`` keeps the ids of two
    charts on one page apart."""
    if bucket not in BUCKETS:
        raise ValueError(f"bucket is week or month, not {bucket!r}")
    starts = list(starts)
    keys = list(series)
    names = [labels[f"chart_series_{k}"] for k in keys]
    counts = {k: [int(c) for c in series[k]] for k in keys}
    for key in keys:
        if len(counts[key]) != len(starts):
            raise ValueError(f"series {key!r} has {len(counts[key])} counts for "
                             f"{len(starts)} buckets")
    end = bucket_end(starts[-1], bucket) if starts else None
    drawn = [] if end is None else [(d, v) for d, v in marks if starts[0] < d < end]
    mark_words = {d: labels["chart_mark_desc"].format(version=v, date=format_date(d, lang))
                  for d, v in drawn}
    rows = []
    for i, start in enumerate(starts):
        stop = bucket_end(start, bucket)
        rows.append(ChartRow(start, _row_label(start, bucket, lang),
                             tuple(counts[k][i] for k in keys),
                             tuple(mark_words[d] for d, _ in drawn if start <= d < stop)))
    totals = tuple(sum(counts[k]) for k in keys)
    table = ChartTable(title, (labels[f"chart_{bucket}"], *names, labels["chart_changes"]),
                       tuple(rows), totals, labels["chart_total"])
    empty = not starts or not any(totals)
    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" aria-labelledby="{title_id} {desc_id}" '
             f'font-family="system-ui, sans-serif" font-size="12">',
             f'<title id="{title_id}">{escape(title)}</title>',
             f'<desc id="{desc_id}">{escape(_describe(table, names, bucket, labels, drawn, lang))}'
             f'</desc>',
             f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>']
    mark_x: list[tuple[dt.date, str, float]] = []
    if empty:
        parts.append(f'<rect x="{LEFT}" y="{TOP}" width="{PLOT_WIDTH}" height="{PLOT_HEIGHT}" '
                     f'fill="none" stroke="#767676"/>')
        parts.append(f'<text x="{_n(LEFT + PLOT_WIDTH / 2)}" y="{_n(TOP + PLOT_HEIGHT / 2)}" '
                     f'text-anchor="middle" font-size="16" fill="#1b1b1b">'
                     f'{escape(labels["chart_empty"])}</text>')
    else:
        assert end is not None
        parts += _plot(starts, end, bucket, keys, names, counts, labels, lang)
        for day, version in drawn:
            x = x_of(day, starts[0], end)
            mark_x.append((day, version, x))
            parts.append(
                f'<g class="mark"><line x1="{_n(x)}" y1="{TOP - 14}" x2="{_n(x)}" '
                f'y2="{TOP + PLOT_HEIGHT}" stroke="#1b1b1b" stroke-width="2" '
                f'stroke-dasharray="1 3"/><text x="{_n(x)}" y="{TOP - 18}" '
                f'text-anchor="middle" font-weight="700" fill="#1b1b1b">'
                f'{escape(labels["chart_mark"].format(version=version))}</text></g>')
    parts.append("</svg>")
    return Chart(Markup("".join(parts)), table, empty, labels["chart_empty"], tuple(mark_x),
                 note, chart_id)


def _plot(starts: list[dt.date], end: dt.date, bucket: str, keys: list[str],
          names: list[str], counts: dict[str, list[int]],
          labels: Mapping[str, str], lang: str) -> list[str]:
    """Axes, grid, one line per series and the series' names at the lines' ends."""
    first = starts[0]
    top = max(max(c) for c in counts.values())
    step = _step(top)
    ceiling = step * math.ceil(top / step)

    def y_of(count: float) -> float:
        return TOP + PLOT_HEIGHT - PLOT_HEIGHT * count / ceiling

    parts = []
    for value in range(0, ceiling + 1, step):
        y = y_of(value)
        parts.append(f'<line x1="{LEFT}" y1="{_n(y)}" x2="{LEFT + PLOT_WIDTH}" y2="{_n(y)}" '
                     f'stroke="{"#767676" if value == 0 else "#d0d0d0"}"/>'
                     f'<text x="{LEFT - 6}" y="{_n(y + 4)}" text-anchor="end" '
                     f'fill="#1b1b1b">{value}</text>')
    parts.append(f'<text x="14" y="{_n(TOP + PLOT_HEIGHT / 2)}" text-anchor="middle" '
                 f'fill="#1b1b1b" transform="rotate(-90 14 {_n(TOP + PLOT_HEIGHT / 2)})">'
                 f'{escape(labels["chart_count"])}</text>')
    for day, text in _ticks(starts, end, bucket, lang):
        x = x_of(day, first, end)
        parts.append(f'<line x1="{_n(x)}" y1="{TOP + PLOT_HEIGHT}" x2="{_n(x)}" '
                     f'y2="{TOP + PLOT_HEIGHT + 5}" stroke="#767676"/>'
                     f'<text x="{_n(x)}" y="{TOP + PLOT_HEIGHT + 18}" text-anchor="middle" '
                     f'fill="#1b1b1b">{escape(text)}</text>')
    middles = [x_of(s, first, end) + (x_of(bucket_end(s, bucket), first, end)
                                      - x_of(s, first, end)) / 2 for s in starts]
    ends: list[tuple[float, int]] = []
    size = 4.5 if len(starts) <= 26 else 3.0        # a year of weeks: smaller markers
    for i, key in enumerate(keys):
        colour, dash, shape = _STYLES[_STYLE_OF.get(key, i) % len(_STYLES)]
        points = [(x, y_of(c)) for x, c in zip(middles, counts[key], strict=True)]
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        path = " ".join(f"{_n(x)},{_n(y)}" for x, y in points)
        parts.append(f'<g class="series series-{escape(key)}">'
                     f'<polyline points="{path}" fill="none" stroke="{colour}" '
                     f'stroke-width="2.5"{dashed}/>'
                     + "".join(_marker(shape, x, y, colour, size) for x, y in points) + "</g>")
        ends.append((points[-1][1], i))
    ends.sort()
    placed = _spread([y for y, _ in ends], TOP, TOP + PLOT_HEIGHT)
    x0 = LEFT + PLOT_WIDTH + 12
    for y, (_, i) in zip(placed, ends, strict=True):
        colour, dash, shape = _STYLES[_STYLE_OF.get(keys[i], i) % len(_STYLES)]
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<g class="name"><line x1="{_n(x0)}" y1="{_n(y)}" x2="{_n(x0 + 26)}" '
                     f'y2="{_n(y)}" stroke="{colour}" stroke-width="2.5"{dashed}/>'
                     f'{_marker(shape, x0 + 13, y, colour)}'
                     f'<text x="{_n(x0 + 32)}" y="{_n(y + 4)}" fill="{colour}">'
                     f'{escape(names[i])}</text></g>')
    return parts


def _describe(table: ChartTable, names: list[str], bucket: str, labels: Mapping[str, str],
              drawn: list[tuple[dt.date, str]], lang: str) -> str:
    """The chart in words: its period, each series' total and busiest bucket, the
    version changes."""
    if not table.rows:
        return labels["chart_empty"]
    words = [labels["chart_desc"].format(bucket=labels[f"chart_per_{bucket}"],
                                         first=table.rows[0].label,
                                         last=table.rows[-1].label)]
    if not any(table.totals):
        words.append(labels["chart_empty"])
    else:
        for i, name in enumerate(names):
            peak = max(table.rows, key=lambda r, i=i: r.counts[i])
            words.append(labels["chart_desc_series"].format(
                series=name, total=table.totals[i], peak=peak.counts[i], at=peak.label))
    words += [labels["chart_mark_desc"].format(version=v, date=format_date(d, lang))
              for d, v in drawn]
    return " ".join(words)


def outcome_chart(log: DecisionLog, filters: Mapping[str, Any], lang: str,
                  bucket: str = "week", *, policy: Policy | None = None,
                  chart_id: str = "outcomes") -> Chart:
    """Allowed and denied decisions per bucket of the day they were logged, for the
    decision list's filters (the keyword arguments of :meth:`DecisionLog.list`: ``policy``,
    ``action``, ``version``, ``outcome``, ``fired``, ``provider``, ``since``, ``until``,
    ``pinned``, ``restrict_provider``). Given the loaded ``policy``, its version changes
    are marked."""
    labels = labels_for(lang)
    wanted = {k: v for k, v in filters.items() if k not in ("limit", "cursor")}
    found = log.outcomes(bucket=bucket, **wanted)
    marks: list[tuple[dt.date, str]] = []
    if policy is not None and found.starts:
        marks = version_marks(policy, found.starts[0], bucket_end(found.starts[-1], bucket))
    series = {"allowed": found.counts.get("allow", [0] * len(found.starts)),
              "denied": found.counts.get("deny", [0] * len(found.starts))}
    return draw_chart(found.starts, series, marks, labels, bucket=bucket,
                      title=labels["chart_outcomes_title"].format(
                          bucket=labels[f"chart_per_{bucket}"]),
                      chart_id=chart_id, note=labels["chart_by_logged_day"], lang=lang)
