"""The decision log: one row per evaluated request, written after the engine answered.

Rows are written in their own short transaction that starts with the INSERT, so on SQLite a
writer waits on the busy timeout instead of failing on a read-to-write lock upgrade. Paging
is by decision id (a UUIDv7, so newest first = highest id first) behind an opaque cursor.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import fcntl
import os
import re
import sqlite3
import threading
import typing
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, make_dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Engine,
    Text,
    cast,
    func,
    select,
    true,
)
from sqlalchemy.engine import make_url

from engine.model import EFFECTS, Policy
from engine.schema import RULE_ID
from service.idempotency import KeyTaken
from service.masking import get_logger, json_text
from service.models import DecisionRow, IdempotencyRow

__all__ = ["BUCKETS", "CHECKPOINT_EVERY", "COLUMNS", "CURSOR_PATTERN", "WAL_FRAMES_LIMIT",
           "Activity", "BadCursor", "DecisionLog", "LogEntry", "Outcomes", "Page",
           "bucket_start", "bucket_starts", "decode_cursor", "encode_cursor", "to_public"]

# the longest period the outcome chart draws bucket by bucket: ten years
_MAX_CHART_DAYS = 10 * 366

_log = get_logger("service.decision_log")

# -- the row, as the table declares it ---------------------------------------------------------

_TABLE = DecisionRow.__table__
COLUMNS: tuple[str, ...] = tuple(c.name for c in _TABLE.columns)
_JSON_COLUMNS = frozenset(c.name for c in _TABLE.columns if isinstance(c.type, JSON))
# JSON columns that store None as SQL NULL rather than as the JSON text null
_NULL_JSON = frozenset(c.name for c in _TABLE.columns
                       if isinstance(c.type, JSON) and c.type.none_as_null)
_TIME_COLUMNS = frozenset(c.name for c in _TABLE.columns if isinstance(c.type, DateTime))
_DATE_COLUMNS = frozenset(c.name for c in _TABLE.columns if isinstance(c.type, Date)
                          and not isinstance(c.type, DateTime))
_BOOLEAN_COLUMNS = frozenset(c.name for c in _TABLE.columns if isinstance(c.type, Boolean))


def _entry_class() -> type:
    """:class:`LogEntry`: one keyword field per column of :class:`DecisionRow`, typed as the
    model types it; a nullable column defaults to None, a column with a default to it. Plus
    ``texts``, which is no column: the JSON text of facts, results and findings when the
    masker already wrote it to search it (:meth:`service.masking.Masker.mask_decision`),
    stored as it is."""
    hints = typing.get_type_hints(DecisionRow)
    fields: list[Any] = []
    for column in _TABLE.columns:
        kind = typing.get_args(hints[column.name])[0]          # Mapped[X] → X
        if column.default is not None and column.default.is_scalar:
            fields.append((column.name, kind, field(default=column.default.arg)))
        elif column.nullable:
            fields.append((column.name, kind, field(default=None)))
        else:
            fields.append((column.name, kind))
    fields.append(("texts", dict[str, str] | None,
                   field(default=None, compare=False, repr=False)))
    entry = make_dataclass("LogEntry", fields, frozen=True, kw_only=True)
    entry.__module__ = __name__
    entry.__doc__ = ("What is stored about one decision: a row of ``decisions`` "
                     "(:class:`service.models.DecisionRow`); ``facts``, ``results`` and "
                     "``findings`` are already masked.")
    return entry


LogEntry = _entry_class()

# json.dumps(value, ensure_ascii=False), quicker (service/masking.py)
_dumps = json_text
# a PASSIVE checkpoint after this many commits of one process's writer (SQLite's own comes
# at 1000 WAL pages, about 100 rows of the log)
CHECKPOINT_EVERY = 50
_SQLITE_INSERT = (f"INSERT INTO decisions ({', '.join(COLUMNS)}) "
                  f"VALUES ({', '.join(['?'] * len(COLUMNS))})")
_PG_INSERT = (f"INSERT INTO decisions ({', '.join(COLUMNS)}) "
              f"VALUES ({', '.join(['%s'] * len(COLUMNS))})")
_PG_COPY = f"COPY decisions ({', '.join(COLUMNS)}) FROM STDIN"
_KEY_COLUMNS = [c.name for c in IdempotencyRow.__table__.columns]
_SQLITE_KEY_INSERT = (f"INSERT INTO idempotency_keys ({', '.join(_KEY_COLUMNS)}) "
                      f"VALUES ({', '.join(':' + c for c in _KEY_COLUMNS)})")
_PG_KEY_INSERT = (f"INSERT INTO idempotency_keys ({', '.join(_KEY_COLUMNS)}) "
                  f"VALUES ({', '.join(['%s'] * len(_KEY_COLUMNS))})")


def _json_text(entry: Any, column: str) -> str | None:
    """A JSON column's value as the text SQLAlchemy would store (the masker's, if it wrote
    it), or None for SQL NULL."""
    value = getattr(entry, column)
    if value is None and column in _NULL_JSON:
        return None
    texts = entry.texts or {}
    text = texts.get(column)
    return _dumps(value) if text is None else text


def to_public(row: Any) -> dict[str, Any]:
    """A stored row as the API shows it: each column under its API name
    (``info["api"]``), times and dates as ISO text, ``findings`` as one list per kind."""
    out: dict[str, Any] = {}
    for column in _TABLE.columns:
        value = row[column.name]
        api = column.info.get("api", column.name)
        if isinstance(api, tuple):
            value = value or {}
            out.update({kind: value.get(kind, []) for kind in api})
        elif value is None:
            out[api] = None
        elif column.name in _TIME_COLUMNS:
            out[api] = _utc(value).isoformat()
        elif column.name in _DATE_COLUMNS:
            out[api] = value.isoformat()
        elif column.name in _BOOLEAN_COLUMNS:
            out[api] = bool(value)
        else:
            out[api] = value
    return out


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


# -- counting over time ------------------------------------------------------------------------

BUCKETS = ("week", "month")


def bucket_start(day: dt.date, bucket: str) -> dt.date:
    """The first day of ``day``'s bucket: the Monday of its ISO week, or the 1st of its
    month (as SQL groups them in :meth:`DecisionLog.activity`)."""
    if bucket == "week":
        return day - dt.timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    raise ValueError(f"bucket is week or month, not {bucket!r}")


def _next_bucket(start: dt.date, bucket: str) -> dt.date:
    if bucket == "week":
        return start + dt.timedelta(days=7)
    return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def bucket_starts(since: dt.date, until: dt.date, bucket: str) -> list[dt.date]:
    """Every bucket from the one holding ``since`` to the one holding ``until``, by its
    first day; empty when ``until`` is before ``since``. The last bucket ends on
    ``bucket_starts(...)[-1]``'s next bucket (:func:`bucket_end`)."""
    out: list[dt.date] = []
    start = bucket_start(since, bucket)
    while start <= until:
        out.append(start)
        start = _next_bucket(start, bucket)
    return out


@dataclass(frozen=True)
class Activity:
    """Counts of one policy's (or one rule's) logged decisions per bucket of their event date.

    ``decisions[i]`` is how many decisions fell in the bucket starting ``starts[i]`` (with a
    rule: decisions of the rule's actions); ``fired[effect][i]`` how many times a rule of
    that effect fired in them (with a rule: that rule, under its one effect). Effects in
    :data:`engine.model.EFFECTS` order, only those the policy's rules have."""

    starts: list[dt.date]
    bucket: str
    decisions: list[int]
    fired: dict[str, list[int]]

    @property
    def total(self) -> int:
        return sum(self.decisions)


@dataclass(frozen=True)
class Outcomes:
    """Decisions per bucket of their logged day (UTC) and outcome: ``counts["deny"][i]``
    for the bucket starting ``starts[i]``."""

    starts: list[dt.date]
    bucket: str
    counts: dict[str, list[int]]


class BadCursor(ValueError):
    """The cursor was not made by this service."""


# A cursor is the last decision id of a page as 32 hex digits: every such text is a place
# in the log, so the OpenAPI document can describe a cursor exactly (``CURSOR_PATTERN``).
CURSOR_PATTERN = "^[0-9a-f]{32}$"
_CURSOR = re.compile(CURSOR_PATTERN[1:-1])


def encode_cursor(decision_id: str) -> str:
    return uuid.UUID(decision_id).hex


def decode_cursor(cursor: str) -> str:
    """The decision id inside ``cursor``; BadCursor for anything else. The cursors of
    earlier releases (the id's text in unpadded URL-safe base64) are still read."""
    if _CURSOR.fullmatch(cursor):
        return str(uuid.UUID(hex=cursor))
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        return str(uuid.UUID(raw))
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise BadCursor("not a cursor from this service") from exc


class DecisionLog:
    """Write and read logged decisions."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._insert = DecisionRow.__table__.insert()
        self._sqlite = engine.dialect.name == "sqlite"
        self._writer: _SqliteWriter | _PostgresWriter | None = None
        if self._sqlite:
            self._writer = _SqliteWriter(engine)
        elif engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
            self._writer = _PostgresWriter(engine)

    def record(self, entry: Any) -> None:
        """One row, committed before the caller answers: a decision is never unlogged."""
        self.record_many([entry])

    def record_many(self, entries: list[Any],
                    key: dict[str, Any] | None = None) -> None:
        """Several rows in one transaction (a batch request): all are logged, or none and the
        caller answers with an error.

        ``key`` is the row of the request's ``Idempotency-Key``
        (:meth:`service.idempotency.Idempotency.row`), inserted first in the same
        transaction: if another request with that key committed before, :class:`KeyTaken`
        is raised and none of ``entries`` is logged.

        On SQLite and on PostgreSQL with psycopg the rows go straight through the driver
        (:class:`_SqliteWriter`, :class:`_PostgresWriter`): on the path every decision takes,
        SQLAlchemy's pool and Core layer cost as much as the write. Values are stored as
        SQLAlchemy stores them, so every read sees no difference."""
        if not entries and key is None:
            return
        if self._writer is not None:
            self._writer.insert(entries, key)
            return
        with self.engine.begin() as conn:
            if key is not None:
                _insert_key(conn, key)
            if entries:
                conn.execute(self._insert, [{c: getattr(e, c) for c in COLUMNS}
                                            for e in entries])

    def get(self, decision_id: str) -> dict[str, Any] | None:
        """The logged decision as the API shows it (:func:`to_public`), or None."""
        row = self.stored(decision_id)
        return None if row is None else to_public(row)

    def stored(self, decision_id: str) -> dict[str, Any] | None:
        """The logged decision's row as stored (column → value), or None; a text that is
        no UUID is no decision id."""
        try:
            decision_id = str(uuid.UUID(decision_id))
        except ValueError:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(select(_TABLE).where(_TABLE.c.id == decision_id)).first()
        return None if row is None else dict(row._mapping)

    def list(self, *, limit: int, cursor: str | None = None, provider: str | None = None,
             policy: str | None = None, action: str | None = None,
             outcome: str | None = None, since: dt.datetime | None = None,
             until: dt.datetime | None = None, bundle: int | None = None,
             version: str | None = None, pinned: bool | None = None,
             digest: str | None = None, fired: str | None = None,
             as_of_from: dt.date | None = None, as_of_until: dt.date | None = None,
             restrict_provider: bool = False) -> Page:
        """Newest first. ``restrict_provider`` limits the page to ``provider``'s rows;
        ``pinned`` tells what-ifs (True) from decisions under the version in force (False);
        ``fired`` keeps the decisions in which that rule fired; ``as_of_from`` and
        ``as_of_until`` bound the event's date (``as_of``), both days included."""
        table = DecisionRow.__table__
        query = select(table).order_by(table.c.id.desc()).limit(limit + 1)
        if restrict_provider:
            query = query.where(table.c.provider == provider)
        query = self._filtered(query, policy=policy, action=action, outcome=outcome,
                               bundle_id=bundle, version=version, pinned=pinned,
                               digest=digest, fired=fired, since=since, until=until,
                               as_of_from=as_of_from, as_of_until=as_of_until)
        if cursor is not None:
            query = query.where(table.c.id < decode_cursor(cursor))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        more = len(rows) > limit
        items = [to_public(r._mapping) for r in rows[:limit]]
        return Page(items, encode_cursor(items[-1]["decision_id"]) if more else None)

    def _filtered(self, query: Any, *, since: dt.datetime | None = None,
                  until: dt.datetime | None = None, fired: str | None = None,
                  as_of_from: dt.date | None = None, as_of_until: dt.date | None = None,
                  **equal: Any) -> Any:
        """``query`` narrowed by equal columns, a time window (when logged, ``until``
        excluded), a window of event dates (``as_of``, both days included) and a fired rule:
        the one place the API's list, the explorer's pages and their CSV filter."""
        table = DecisionRow.__table__
        for column, value in equal.items():
            if value is not None:
                query = query.where(table.c[column] == value)
        if since is not None:
            query = query.where(table.c.time >= _utc(since))
        if until is not None:
            query = query.where(table.c.time < _utc(until))
        if as_of_from is not None:
            query = query.where(table.c.as_of >= as_of_from)
        if as_of_until is not None:
            query = query.where(table.c.as_of <= as_of_until)
        if fired is not None:
            query = query.where(self._fired(fired))
        return query

    def _fired(self, rule: str) -> Any:
        """``fired`` holds ``rule``: the quoted id in the JSON text, case-sensitively on both
        databases (SQLite's LIKE is not). Exact: an id is never a part of another quoted id,
        and the caller has checked that ``rule`` looks like a rule id (no quotes)."""
        if not RULE_ID.fullmatch(rule):
            raise ValueError(f"not a rule id: {rule!r}")
        needle = f'"{rule}"'
        column = DecisionRow.__table__.c.fired
        if self._sqlite:
            return func.instr(column, needle) > 0
        return func.strpos(cast(column, Text), needle) > 0

    def count(self, **filters: Any) -> int:
        """How many rows; with ``filters`` (as :meth:`list` takes them, ``bundle`` excepted),
        how many match."""
        query = self._filtered(select(func.count()).select_from(DecisionRow), **filters)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def activity(self, *, policy: Policy, since: dt.date, until: dt.date,
                 rule: str | None = None, bucket: str = "week", provider: str | None = None,
                 restrict_provider: bool = False, pinned: bool | None = False,
                 **filters: Any) -> Activity:
        """How many decisions of ``policy`` (the loaded policy: its name picks the rows, its
        versions' rules give each fired id its effect) had an event date (``as_of``) from
        ``since`` to ``until``, both included, per ``bucket``, and per effect how many times
        its rules — or the one ``rule`` — fired in them.

        Grouped in SQL, on both databases: one query counts the decisions per bucket, one
        the fired ids per bucket and version (``json_each`` / ``json_array_elements_text``
        over ``fired``), so a year of a busy policy is two indexed aggregate reads and a few
        hundred rows back, however many decisions it holds. A fired id takes the effect it
        has in the version that decided; an id that version no longer has (a bundle since
        replaced), the effect of the newest version that has it. What-ifs (``pinned``) are
        left out unless ``pinned`` is None or True; ``filters`` are further equal columns
        (``action``, ``version``, ``outcome``, ``digest``)."""
        table = DecisionRow.__table__
        starts = bucket_starts(since, until, bucket)
        index = {start: i for i, start in enumerate(starts)}
        effects = _effects(policy)
        actions: set[str] | None = None
        if rule is not None:
            if not RULE_ID.fullmatch(rule):
                raise ValueError(f"not a rule id: {rule!r}")
            actions = {a for v in policy.versions for r in v.rules if r.id == rule
                       for a in r.actions}
        day = self._bucket(table.c.as_of, bucket, timestamp=False)
        where = self._filtered(select(), policy=policy.name, pinned=pinned, **filters)
        where = where.where(table.c.as_of >= since, table.c.as_of <= until)
        if restrict_provider:
            where = where.where(table.c.provider == provider)
        if actions is not None:
            where = where.where(table.c.action.in_(sorted(actions)))
        decisions = [0] * len(starts)
        kinds = [e for e in EFFECTS if e in {e for by in effects.values() for e in by.values()}]
        if rule is not None:
            kinds = [e for e in kinds if any(by.get(rule) == e for by in effects.values())]
        fired = {kind: [0] * len(starts) for kind in kinds}
        counted = where.add_columns(day.label("day"), func.count().label("n")).select_from(
            table).group_by(day)
        ids = self._fired_ids()
        rules = where.add_columns(day.label("day"), table.c.version, ids.c.value.label("rule"),
                                  func.count().label("n")).select_from(table).join(
            ids, true()).group_by(day, table.c.version, ids.c.value)
        if rule is not None:
            rules = rules.where(self._fired(rule), ids.c.value == rule)
        with self.engine.connect() as conn:
            for row in conn.execute(counted):
                decisions[index[_day(row.day)]] += row.n
            for row in conn.execute(rules):
                effect = effects.get(row.version, {}).get(row.rule) or effects[""].get(row.rule)
                if effect in fired:
                    fired[effect][index[_day(row.day)]] += row.n
        return Activity(starts, bucket, decisions, fired)

    def outcomes(self, *, since: dt.datetime | None = None, until: dt.datetime | None = None,
                 bucket: str = "week", provider: str | None = None,
                 restrict_provider: bool = False, **filters: Any) -> Outcomes:
        """Decisions per bucket of the day they were logged (UTC) and per outcome, for the
        filters :meth:`list` takes (the decision list's); without ``since``/``until`` the
        buckets run from the first to the last such decision, and so they do when the period
        asked for is longer than ten years of weeks or months. Grouped in SQL."""
        table = DecisionRow.__table__
        if "bundle" in filters:                       # as list() names it
            filters["bundle_id"] = filters.pop("bundle")
        day = self._bucket(table.c.time, bucket, timestamp=True)
        query = self._filtered(select(day.label("day"), table.c.outcome,
                                      func.count().label("n")).select_from(table),
                               since=since, until=until, **filters).group_by(
            day, table.c.outcome)
        if restrict_provider:
            query = query.where(table.c.provider == provider)
        with self.engine.connect() as conn:
            rows = [(_day(r.day), r.outcome, r.n) for r in conn.execute(query)]
        days = [r[0] for r in rows]
        first = _utc(since).date() if since is not None else min(days, default=None)
        last = (_utc(until) - dt.timedelta(microseconds=1)).date() if until is not None \
            else max(days, default=None)
        if first is not None and last is not None and \
                (last - first).days > _MAX_CHART_DAYS:
            # "from year 1 to 9999" must not draw half a million empty weeks: the buckets
            # with decisions, first to last, instead
            first, last = min(days, default=None), max(days, default=None)
        starts = [] if first is None or last is None else bucket_starts(first, last, bucket)
        index = {start: i for i, start in enumerate(starts)}
        counts = {o: [0] * len(starts) for o in ("allow", "deny")}
        for start, outcome, n in rows:
            if start in index:
                counts.setdefault(outcome, [0] * len(starts))[index[start]] += n
        return Outcomes(starts, bucket, counts)

    def _bucket(self, column: Any, bucket: str, *, timestamp: bool) -> Any:
        """SQL for the first day of ``column``'s bucket (:func:`bucket_start`): a date on
        PostgreSQL, its ISO text on SQLite (times are stored there as UTC text)."""
        if bucket not in BUCKETS:
            raise ValueError(f"bucket is week or month, not {bucket!r}")
        if self._sqlite:
            if bucket == "week":
                return func.date(column, "weekday 0", "-6 days")
            return func.strftime("%Y-%m-01", column)
        if timestamp:
            column = func.timezone("UTC", column)
        return cast(func.date_trunc(bucket, column), Date)

    def _fired_ids(self) -> Any:
        """The ``fired`` list as a table of its ids (column ``value``), joined per row."""
        column = DecisionRow.__table__.c.fired
        if self._sqlite:
            return func.json_each(column).table_valued("value").alias("ids")
        return func.json_array_elements_text(column).table_valued("value").alias("ids")

    def scan(self, *, batch: int = 1000, limit: int | None = None,
             columns: Sequence[str] | None = None, texts: Sequence[str] = (),
             within: tuple[str, str] | None = None,
             **filters: Any) -> Iterator[list[dict[str, Any]]]:
        """Every matching row (``filters`` as :meth:`count`), newest first, in batches of
        ``batch`` stored rows (dicts of ``columns``, default all): a long replay never holds
        the whole log in memory, and each batch is one short indexed query. Naming only the
        columns needed saves most of the reading (SQLite's times are parsed in Python).
        The JSON columns named in ``texts`` come as their stored text, undecoded (None for
        SQL NULL): a reader that can compare texts parses only those that differ.
        ``within`` (lowest id, highest id) reads only the rows between them, both included:
        a slice of an earlier scan, read again by another process."""
        table = DecisionRow.__table__
        wanted = [cast(table.c[c], Text).label(c) if c in texts else table.c[c]
                  for c in columns or COLUMNS]
        if "id" not in (columns or COLUMNS):
            wanted.insert(0, table.c.id)
        last: str | None = None
        left = limit
        while left is None or left > 0:
            size = batch if left is None else min(batch, left)
            query = self._filtered(select(*wanted), **filters).order_by(table.c.id.desc())
            if last is not None:
                query = query.where(table.c.id < last)
            elif within is not None:
                query = query.where(table.c.id <= within[1])
            if within is not None:
                query = query.where(table.c.id >= within[0])
            with self.engine.connect() as conn:
                result = conn.execute(query.limit(size))
                keys = list(result.keys())          # once, not once per row
                rows = [dict(zip(keys, r, strict=True)) for r in result]
            if not rows:
                return
            yield rows
            last = rows[-1]["id"]
            if left is not None:
                left -= len(rows)
            if len(rows) < size:
                return

    # -- reading straight through the driver (a replay of the whole log) --------------------

    def read_raw(self, columns: Sequence[str], *, batch: int = 5000, limit: int | None = None,
                 within: tuple[str, str] | None = None,
                 **filters: Any) -> Iterator[list[tuple[Any, ...]]]:
        """:meth:`scan` through the database driver: lists of tuples of ``columns`` in that
        order, as the driver gives them — JSON columns as their stored text (SQLite stores
        text; PostgreSQL's are cast), dates as ISO text and booleans as 0/1 on SQLite.
        ``filters``: ``policy``, ``action``, ``since``, ``until`` (as :meth:`count`).

        A replay of a million rows spends more on SQLAlchemy's rows, type processors and
        JSON decoding than on deciding; here a batch is one keyset query (``id`` below the
        last one read, newest first) on a connection taken from the pool for that query
        only: no transaction stays open, nothing is held but the batch."""
        where, params, mark = self._raw_where(**filters)
        if within is not None:
            where.append(f"id >= {mark}")
            params.append(within[0])
        pg = not self._sqlite
        wanted = ", ".join(f"CAST({c} AS TEXT)" if pg and c in _JSON_COLUMNS else c
                           for c in columns)
        at = list(columns).index("id") if "id" in columns else 0
        if "id" not in columns:
            wanted = f"id, {wanted}"
        upper, op = (None, "<") if within is None else (within[1], "<=")
        left = limit
        while left is None or left > 0:
            size = batch if left is None else min(batch, left)
            clauses = where + ([] if upper is None else [f"id {op} {mark}"])
            sql = (f"SELECT {wanted} FROM decisions"
                   + (f" WHERE {' AND '.join(clauses)}" if clauses else "")
                   + f" ORDER BY id DESC LIMIT {int(size)}")
            rows = self._raw_query(sql, params + ([] if upper is None else [upper]))
            if not rows:
                return
            upper, op = rows[-1][at], "<"
            yield rows if "id" in columns else [r[1:] for r in rows]
            if left is not None:
                left -= len(rows)
            if len(rows) < size:
                return

    def id_slices(self, size: int, *, limit: int | None = None,
                  **filters: Any) -> Iterator[tuple[str, str]]:
        """The matching rows (``filters`` as :meth:`read_raw`), newest first, as
        (lowest id, highest id) of each ``size`` of them, to hand to other processes that
        read their slice themselves (``within``). One aggregate query per slice: the
        database walks its index, no id comes into Python but the two ends."""
        where, params, mark = self._raw_where(**filters)
        last: str | None = None
        left = limit
        while left is None or left > 0:
            n = size if left is None else min(size, left)
            clauses = where + ([] if last is None else [f"id < {mark}"])
            inner = ("SELECT id FROM decisions"
                     + (f" WHERE {' AND '.join(clauses)}" if clauses else "")
                     + f" ORDER BY id DESC LIMIT {int(n)}")
            low, high, count = self._raw_query(
                f"SELECT min(id), max(id), count(*) FROM ({inner}) AS slice",
                params + ([] if last is None else [last]))[0]
            if not count:
                return
            yield low, high
            last = low
            if left is not None:
                left -= count
            if count < n:
                return

    def _raw_where(self, *, policy: str | None = None, action: str | None = None,
                   since: dt.datetime | None = None, until: dt.datetime | None = None
                   ) -> tuple[list[str], list[Any], str]:
        """SQL conditions and their values for :meth:`read_raw`'s filters (the same rows
        :meth:`_filtered` selects), and the driver's placeholder."""
        mark = "?" if self._sqlite else "%s"
        when = _sqlite_time if self._sqlite else _utc
        where: list[str] = []
        params: list[Any] = []
        for column, value in (("policy", policy), ("action", action)):
            if value is not None:
                where.append(f"{column} = {mark}")
                params.append(value)
        for op, value in ((">=", since), ("<", until)):
            if value is not None:
                where.append(f"time {op} {mark}")
                params.append(when(value))
        return where, params, mark

    def _raw_query(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        """All rows of one query, on a pooled connection returned (rolled back) after it."""
        conn = self.engine.raw_connection()
        try:
            cursor = conn.cursor()
            try:
                cursor.execute(sql, params)
                return cursor.fetchall()
            finally:
                cursor.close()
        finally:
            conn.close()


# connections a forked child inherited: never used and never closed (that would end the
# parent's PostgreSQL session on the shared socket, or break SQLite's locks), only kept
# from the garbage collector
_INHERITED: list[Any] = []


class _SqliteWriter:
    """The log's writes on SQLite: one connection per process, writers queued by a lock file.

    SQLite lets one writer in at a time, and a writer that finds the database locked sleeps
    in its busy handler — 1, 2, 5, 10 … ms, however soon the lock is free again; with
    gunicorn workers writing a row per request, those sleeps would be most of a decision's
    time at its slowest. Here every writer of this log first takes an
    exclusive ``flock`` on ``<database>-writer.lock``: the kernel queues the waiters and
    wakes the next one the moment the lock is released, so the busy handler never runs
    between workers. SQLite's own locking still guards the file (another process that
    writes without the lock file, the CLI, still waits on the busy timeout).

    The connection is opened once per process (gunicorn forks; a connection or a lock
    shared across a fork would be no lock) and kept: SQLAlchemy's pool checkout and reset
    cost as much as the INSERT. A thread lock serialises threads of one process, which
    share both. A database that is not a plain file (in memory, URI options) is written
    through the engine's pool instead.

    SQLite checkpoints the WAL into the database (two fsyncs with synchronous=NORMAL)
    inside the COMMIT that fills it past 1000 pages: that decision waited for it, and so
    did the other worker, queued on the lock. Here the writer's own checkpoints are off;
    every :data:`CHECKPOINT_EVERY` commits it wakes a checkpointer thread of its process
    (:class:`_Checkpointer`), which runs a PASSIVE checkpoint on a connection of its own.
    Run in the request's thread, even after the lock was released, that checkpoint held up
    the worker's next request: 5–100 ms on this disk, one decision in fifty — the open
    loop's p99 (issue 22). In its own thread it blocks no writer and no request (SQLite
    releases the GIL while it copies and syncs). The decision is committed by then, so a
    failed checkpoint is only logged. Other connections keep SQLite's own.
    """

    def __init__(self, engine: Engine):
        url = make_url(engine.url)
        path = url.database or ""
        self.path = path if path and path != ":memory:" and not url.query else None
        self._engine = engine
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._conn: sqlite3.Connection | None = None
        self._lock_fd = -1
        self._commits = 0
        self._checkpointer: _Checkpointer | None = None

    def insert(self, entries: list[Any], key: dict[str, Any] | None = None) -> None:
        """``entries`` (after ``key``'s row) committed in one transaction, or none of them
        (the error propagates; :class:`KeyTaken` when the key's row exists)."""
        rows = [self._row(e) for e in entries]
        key_row = None if key is None else self._key_row(key)
        if self.path is None:
            self._insert_pooled(rows, key_row)
            return
        with self._lock:
            if self._pid != os.getpid():
                self._open(self.path)
            conn = self._conn
            assert conn is not None
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    if key_row is not None:
                        _sqlite_key(conn, key_row)
                    conn.executemany(_SQLITE_INSERT, rows)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            self._commits += 1
            if self._commits % CHECKPOINT_EVERY == 0:
                assert self._checkpointer is not None
                self._checkpointer.wake()

    def wait_checkpointed(self, timeout: float) -> bool:
        """Wait until every checkpoint asked for so far has run (False on ``timeout``);
        for tests and orderly shutdowns."""
        return self._checkpointer is None or self._checkpointer.wait_idle(timeout)

    @staticmethod
    def _row(entry: Any) -> tuple[Any, ...]:
        """The values in column order as SQLAlchemy stores them on SQLite (times and dates
        as text, JSON as text); positional, which binds quicker than by name."""
        return _sqlite_row(entry)

    @staticmethod
    def _key_row(key: dict[str, Any]) -> dict[str, Any]:
        """An idempotency row as SQLAlchemy stores it on SQLite."""
        values = dict(key)
        for column in ("created_at", "expires_at"):
            values[column] = _sqlite_time(values[column])
        values["decision_ids"] = _dumps(values["decision_ids"])
        return values

    def _open(self, path: str) -> None:
        """This process's connection and lock file: a fork inherits neither's use.

        A connection inherited from the parent is left alone (SQLite forbids using or
        closing it in the child), only kept from the garbage collector; the child's copy
        of the lock file descriptor is closed (the parent's lock, if any, stays its own).
        """
        if self._conn is not None:
            _INHERITED.append(self._conn)
            self._conn = None
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1
        conn = sqlite3.connect(path, timeout=30, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")      # as service.database sets them
        conn.execute("PRAGMA synchronous=NORMAL")
        # After another worker's commit SQLite drops its page cache and reads every page
        # again; mapped, the database file's pages need no read() each.
        conn.execute("PRAGMA mmap_size=268435456")
        conn.execute("PRAGMA wal_autocheckpoint=0")    # this writer's: see _checkpoint
        self._lock_fd = os.open(f"{path}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
        self._conn, self._pid, self._commits = conn, os.getpid(), 0
        # a thread does not survive a fork: each process starts its own (the parent's, and
        # its connection, are left alone like the writer's)
        if self._checkpointer is not None:
            _INHERITED.append(self._checkpointer)
        self._checkpointer = _Checkpointer(path)

    def _insert_pooled(self, rows: list[dict[str, Any]],
                       key_row: dict[str, Any] | None) -> None:
        connection = self._engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                if key_row is not None:
                    _sqlite_key(cursor, key_row)
                cursor.executemany(_SQLITE_INSERT, rows)
            except BaseException:
                connection.rollback()
                raise
            connection.commit()
        finally:
            connection.close()


# frames in the WAL (4 KiB each, about a dozen per logged decision: 128 MiB) past which a
# checkpoint that could not catch up with the writers runs once more holding their lock
# (see below): a safety valve, reached only by writers that never pause for the few ms a
# checkpoint takes (a constant 420 decisions/s grows the WAL by about 5 MiB a second)
WAL_FRAMES_LIMIT = 32768


class _Checkpointer:
    """A daemon thread that checkpoints one process's SQLite log when woken.

    A PASSIVE checkpoint copies the WAL's frames up to the last commit it sees, never
    waiting for a writer; the WAL is only started again from its beginning once a
    checkpoint has copied *every* frame. Under steady load the writers append while it
    copies, so it may never quite finish and the WAL would grow without bound: when more
    than :data:`WAL_FRAMES_LIMIT` frames remain, it runs once more holding the writers'
    lock file, copying only what came since (a few frames, and a sync), and the next writer
    starts the WAL anew. Any pause of the writers longer than a checkpoint lets the WAL
    start anew without that lock.
    """

    def __init__(self, path: str):
        self.path = path
        self._cond = threading.Condition()
        self._asked = 0          # checkpoints asked for
        self._done = 0           # … and run
        self._conn: sqlite3.Connection | None = None
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        """Ask for a checkpoint; the thread starts with the first (a log that is written
        less has none, nor its connection)."""
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="decision-log-checkpoint")
                self._thread.start()
            self._asked += 1
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._cond:
            asked = self._asked
            return self._cond.wait_for(lambda: self._done >= asked, timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._asked > self._done)
                asked = self._asked
            self.checkpoint()
            with self._cond:
                self._done = asked       # the asks that came while it ran are served too
                self._cond.notify_all()

    def checkpoint(self) -> None:
        """One PASSIVE checkpoint, and a second under the writers' lock if the WAL is past
        the limit; a failure is logged (the rows are in; the next one tries again)."""
        try:
            if self._conn is None:
                self._conn = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                             check_same_thread=False)
                self._conn.execute("PRAGMA synchronous=NORMAL")
            _busy, frames, copied = self._conn.execute(
                "PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if frames > WAL_FRAMES_LIMIT and copied < frames:
                # a descriptor of its own: a flock belongs to the open file, so the
                # writer's would not wait for the writer of this same process
                lock_fd = os.open(f"{self.path}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(lock_fd, fcntl.LOCK_EX)
                    self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                finally:
                    os.close(lock_fd)            # and with it the lock
        except (sqlite3.Error, OSError) as exc:
            _log.warning("decision log checkpoint failed: %s", exc)


def _sqlite_row_function() -> Callable[[Any], tuple[Any, ...]]:
    """A function that makes an entry's SQLite row: a plain attribute read for most columns
    and one conversion for the rest, chosen once here rather than looked up column by
    column for every row (a batch of a hundred decisions builds a hundred rows)."""
    parts: list[str] = []
    for column in COLUMNS:
        if column in _JSON_COLUMNS:
            parts.append(f"_json_text(entry, {column!r})")
        elif column in _TIME_COLUMNS:
            parts.append(f"_sqlite_time(entry.{column})")
        elif column in _DATE_COLUMNS:
            parts.append(f"entry.{column}.isoformat()")
        else:
            parts.append(f"entry.{column}")
    assert all(column.isidentifier() for column in COLUMNS)      # our own model's names
    made: dict[str, Any] = {}         # the function reads this module's globals when called
    exec(f"def row(entry):\n    return ({', '.join(parts)},)", globals(), made)
    return made["row"]


_sqlite_row = _sqlite_row_function()


def _sqlite_key(conn: Any, key_row: dict[str, Any]) -> None:
    """Insert an idempotency row in the open transaction; KeyTaken if its key is there."""
    try:
        conn.execute(_SQLITE_KEY_INSERT, key_row)
    except sqlite3.IntegrityError as exc:
        raise KeyTaken() from exc


def _insert_key(conn: Any, key: dict[str, Any]) -> None:
    """The same through SQLAlchemy (a database without a writer of its own)."""
    from sqlalchemy.exc import IntegrityError

    try:
        with conn.begin_nested():
            conn.execute(IdempotencyRow.__table__.insert(), [key])
    except IntegrityError as exc:
        raise KeyTaken() from exc


class _PostgresWriter:
    """The log's writes on PostgreSQL: one psycopg connection per process, a prepared INSERT.

    Through SQLAlchemy a one-row insert takes a pool checkout with its pre-ping (a round trip
    of its own), BEGIN, the Core statement with the JSON written again, and COMMIT. Here the
    connection runs in autocommit, so a one-row INSERT is its own transaction: one round
    trip, prepared once per connection, with the JSON texts the masker already wrote. The
    rows of a batch go in one ``COPY … FROM STDIN`` inside one transaction.

    The connection is made by the engine (its settings, its adapters) and then taken out of
    its pool. If it broke (the server restarted while it was idle, say), the writer
    reconnects and writes once more; should the first attempt have committed after all, the
    second meets its own ids (the primary key) and, finding every one of them logged,
    counts as done. So a row is logged once, and an error means it was not logged.
    """

    def __init__(self, engine: Engine):
        self._engine = engine
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._conn: Any = None

    def insert(self, entries: list[Any], key: dict[str, Any] | None = None) -> None:
        """``entries`` (after ``key``'s row) committed in one transaction, or none of them
        (the error propagates; :class:`KeyTaken` when the key's row exists — also when the
        first attempt committed it and only the answer was lost)."""
        import psycopg

        rows = [self._row(e) for e in entries]
        key_row = None if key is None else self._key_row(key)
        with self._lock:
            fresh = self._connect()
            try:
                self._write(rows, key_row)
                return
            except psycopg.OperationalError:
                self._discard()
                if fresh:
                    raise
            self._connect()
            try:
                self._write(rows, key_row)
            except psycopg.errors.UniqueViolation:
                if not self._all_logged([r[0] for r in rows]):
                    raise

    def _write(self, rows: list[tuple[Any, ...]], key_row: tuple[Any, ...] | None) -> None:
        import psycopg

        conn = self._conn
        if len(rows) == 1 and key_row is None:
            conn.execute(_PG_INSERT, rows[0], prepare=True)
            return
        with conn.transaction():
            if key_row is not None:
                try:
                    with conn.transaction():            # a savepoint: told apart below
                        conn.execute(_PG_KEY_INSERT, key_row)
                except psycopg.errors.UniqueViolation as exc:
                    raise KeyTaken() from exc
            if len(rows) == 1:
                conn.execute(_PG_INSERT, rows[0], prepare=True)
            elif rows:
                # COPY: the rows stream in one message, where executemany's pipeline still
                # binds and executes each; 34 against 57 µs a row for a batch of 100
                with conn.cursor().copy(_PG_COPY) as copy:
                    for row in rows:
                        copy.write_row(row)

    @staticmethod
    def _key_row(key: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(_dumps(key[c]) if c == "decision_ids" else key[c] for c in _KEY_COLUMNS)

    def _all_logged(self, ids: list[str]) -> bool:
        count = self._conn.execute("SELECT count(*) FROM decisions WHERE id = ANY(%s)",
                                   [ids]).fetchone()[0]
        return count == len(set(ids))

    @staticmethod
    def _row(entry: Any) -> tuple[Any, ...]:
        """The values in column order; JSON as text (the column is ``json``)."""
        return tuple(_json_text(entry, c) if c in _JSON_COLUMNS else getattr(entry, c)
                     for c in COLUMNS)

    def _connect(self) -> bool:
        """Make sure this process has a live connection; True when it was made just now."""
        pid = os.getpid()
        if self._conn is not None and self._pid != pid:
            _INHERITED.append(self._conn)       # the parent's: leave it be
            self._conn = None
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return False
        self._discard()
        fairy = self._engine.raw_connection()
        fairy.detach()                          # ours now, not the pool's
        conn = fairy.dbapi_connection
        conn.rollback()                         # idle, whatever the pool left
        conn.autocommit = True
        self._conn, self._pid = conn, pid
        return True

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:                   # already broken: nothing to close
                pass


def _effects(policy: Policy) -> dict[str, dict[str, str]]:
    """version → rule id → effect for every version of ``policy``; under ``""`` each id's
    effect in the newest version that has it."""
    out: dict[str, dict[str, str]] = {"": {}}
    for version in policy.versions:                 # oldest first: the newest wins in ""
        own = {r.id: r.effect for r in version.rules}
        out[version.version] = own
        out[""].update(own)
    return out


def _day(value: Any) -> dt.date:
    """A bucket's day as SQL answers it: a date (PostgreSQL) or ISO text (SQLite)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _sqlite_time(value: dt.datetime) -> str:
    """A time as SQLAlchemy writes it into SQLite: UTC, as text (``isoformat`` writes
    SQLAlchemy's ``%04d-%02d-%02d %02d:%02d:%02d.%06d`` several times quicker than
    ``strftime``)."""
    return _utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")


def _utc(value: dt.datetime) -> dt.datetime:
    """Aware UTC; a naive time is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)
