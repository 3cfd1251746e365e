"""Replaying logged decisions under another policy set, and what changed.

Before a planner's draft goes live, the question is not "do the fixtures pass" but "which real
decisions would now come out differently". The decision log holds every request the service
judged (facts, outcome, fired rules, results, messages); :class:`Impact` decides each of them
again under a draft set and sorts them: unchanged, allow→deny, deny→allow, other changes
(rules fired, results, obligation due dates, messages only), and not replayable, each with a
reason. Nothing is dropped silently: a logged request the draft refuses is counted and listed.

The log never holds a personal identity code in clear, only its pseudonym and what the
policy could derive from it (:func:`engine.personal.hetu_checks`); a replay puts back a
synthetic code that the engine judges as it judged the original
(:func:`engine.personal.with_synthetic_codes`).

This module knows nothing of databases: the service turns log rows into
:class:`LoggedDecision`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from engine.batch import decide_many
from engine.decide import decide
from engine.errors import EngineError
from engine.model import FINDING_KINDS, Decision, json_form
from engine.personal import is_pseudonym, with_synthetic_codes
from engine.store import PolicyStore

__all__ = [
    "GROUPS",
    "MAX_LISTED",
    "ROW",
    "Impact",
    "LoggedDecision",
    "NotReplayable",
    "fixture_case",
    "load_text",
    "render_report",
    "restore_facts",
]

# the JSON columns a reader may hand over as text (LoggedDecision.texts)
_TEXTS = ("fired", "results", "findings")
# json.dumps(value, ensure_ascii=False), as the service's log writes its JSON
_dumps = json.JSONEncoder(ensure_ascii=False).encode
# the same text of one string
_string = json.encoder.encode_basestring
# the C scanner json.loads ends in, called without the two whitespace matches and the calls
# around it (load_text)
_scan = json.decoder.JSONDecoder().scan_once
# the one string's scanner (the text after its opening quote): its value and where it ends
_scanstring = json.decoder.scanstring


def load_text(text: Any) -> Any:
    """``json.loads(text)`` of a stored JSON text, the same value or the same error, at half
    the cost for the texts the log writes (one value, no whitespace around it): a replay
    decodes every logged decision's facts, and a call of ``json.loads`` costs as much
    as scanning a hundred characters."""
    if type(text) is str:
        try:
            value, end = _scan(text, 0)
        except StopIteration:
            pass
        else:
            if end == len(text):
                return value
    return json.loads(text)


def _encode(value: Any) -> str:
    """``_dumps(value)`` of a list or dict, by the C encoder made once
    (``JSONEncoder.encode`` makes one per call)."""
    return "".join(_C_ENCODER(value, 0))


_C_ENCODER = json.encoder.c_make_encoder(          # JSONEncoder(ensure_ascii=False)'s
    None, json.JSONEncoder(ensure_ascii=False).default, _string, None, ": ", ", ",
    False, False, True) if json.encoder.c_make_encoder else json.JSONEncoder(
    ensure_ascii=False).iterencode

# the change groups of a report, in the order they are shown
GROUPS = ("allow_to_deny", "deny_to_allow", "other")
MAX_LISTED = 1000      # decisions listed as not replayable; the count is always exact

# A logged decision as a plain tuple, in this order, for :meth:`Impact.add_rows`: a replay
# of a million rows builds no object per row, only one for the few that changed. ``facts``
# and ``hetu_checks`` decoded, ``as_of`` a date, ``pinned`` a bool; ``fired``, ``results``
# and ``findings`` their stored JSON texts (None for SQL NULL), as ``LoggedDecision.texts``.
ROW = ("id", "policy", "action", "version", "as_of", "lang", "facts", "outcome", "fired",
       "results", "findings", "pinned", "hetu_checks")
_OUTCOME, _FIRED, _RESULTS, _FINDINGS = (ROW.index(n) for n in ("outcome", "fired", "results",
                                                                  "findings"))
# the findings text of a decision without any (most allowed ones), and what opens each
# kind's list in a text with some
_NO_FINDINGS = _dumps({k: [] for k in FINDING_KINDS})
_HEADS = tuple(("{" if i == 0 else "], ") + f'"{k}": [' for i, k in enumerate(FINDING_KINDS))
# the types whose JSON form (engine.model.json_form) is the value itself
_PLAIN = frozenset((str, int, float, bool, type(None)))
# distinct texts kept per replay for the fired lists seen: a policy has a few hundred rules,
# its decisions fire a few thousand distinct sets of them; past this the memo starts over
_MEMO = 4096


class NotReplayable(Exception):
    """A logged decision that cannot be judged again; ``code`` is stable, ``reason`` says why."""

    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code, self.reason = code, reason


@dataclass(frozen=True)
class LoggedDecision:
    """One logged decision as the replay needs it; ``facts`` are as stored (masked)."""

    id: str
    policy: str
    action: str
    version: str
    as_of: dt.date
    lang: str
    facts: dict[str, Any]
    outcome: str
    fired: tuple[str, ...]
    results: dict[str, Any]
    findings: dict[str, Any]
    pinned: bool = False
    # what the policy could derive from each personal code (engine.personal.hetu_checks);
    # None: the row was logged before these were recorded
    hetu_checks: dict[str, Any] | None = None
    # the stored JSON texts of "fired", "results" and "findings", when the reader kept them
    # undecoded: then they, not the three fields (left empty), are what was logged, and a
    # replay that serialises to the same texts is unchanged without parsing them
    texts: dict[str, str | None] | None = field(default=None, compare=False, repr=False)

    def decoded(self) -> LoggedDecision:
        """This decision with ``fired``, ``results`` and ``findings`` read from ``texts``."""
        if self.texts is None:
            return self
        fired, results, findings = (None if self.texts.get(k) is None
                                    else json.loads(self.texts[k]) for k in _TEXTS)
        return replace(self, fired=tuple(fired or ()), results=results,
                       findings=findings, texts=None)


def restore_facts(item: LoggedDecision) -> dict[str, Any]:
    """The logged facts with every hashed personal code replaced by a synthetic one that the
    policy judges alike. Raises :class:`NotReplayable` for a code whose checks were never
    recorded (a row logged before they were)."""
    return _restored(item.facts, item.hetu_checks)


def _restored(logged: dict[str, Any], checks: dict[str, Any] | None) -> dict[str, Any]:
    """:func:`restore_facts` of the logged facts and checks."""
    if checks is not None:         # recorded: none (most decisions) leaves the facts as read
        return with_synthetic_codes(logged, checks) if checks else logged
    facts = dict(logged)
    hashed = sorted(n for n, v in facts.items() if is_pseudonym(v))
    if hashed:
        raise NotReplayable("hetu_unknown", f"{', '.join(hashed)}: a personal identity "
                            "code logged before its validity was recorded; the hash alone "
                            "cannot be judged")
    return facts


class _Row(NamedTuple):
    """A :data:`ROW` tuple read by name, as the replay reads a :class:`LoggedDecision`
    (the same fields): what a changed or refused row becomes, built in one call where a
    frozen dataclass sets each field through ``object.__setattr__``."""

    id: str
    policy: str
    action: str
    version: str
    as_of: dt.date
    lang: str
    facts: dict[str, Any]
    outcome: str
    fired: Any
    results: Any
    findings: Any
    pinned: bool
    hetu_checks: dict[str, Any] | None


if _Row._fields != ROW:                        # one order, named twice
    raise ImportError("engine.replay._Row is not in ROW's order")


class _Refusal(NamedTuple):
    """A row's :class:`NotReplayable`, as :meth:`Impact._judge` keeps it."""

    code: str
    reason: str


def _decoded(row: tuple[Any, ...]) -> _Row:
    """A :data:`ROW` tuple with its three JSON texts parsed (as
    :meth:`LoggedDecision.decoded`)."""
    fired, results, findings = (None if row[i] is None else json.loads(row[i])
                                for i in (_FIRED, _RESULTS, _FINDINGS))
    return _Row(*row[:_FIRED], tuple(fired or ()), results, findings, *row[_FINDINGS + 1:])


# -- comparing -----------------------------------------------------------------------------

def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) \
            and not isinstance(a, bool) and not isinstance(b, bool):
        return abs(a - b) < 1e-9
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


class _Texts:
    """The JSON texts a replay compares, written as the log's ``json.dumps(value,
    ensure_ascii=False)`` writes them, without building a dict per finding: most of a
    replay's decisions are unchanged, and serialising their findings was what a replay
    spent the most on after deciding.

    Memoised are only texts of the policy's own vocabulary: each set of fired rules (and
    the one each logged text of them reads as), and the text around each rule's message
    (its id and citation, per version and language) — never a value of a decision, so they
    are as often hit in a log of a million different cases as in a small one. Past
    :data:`_MEMO` entries a memo starts over."""

    def __init__(self) -> None:
        self.fired: dict[tuple[str, ...], str] = {}
        self.read: dict[str, tuple[str, ...]] = {}
        self.finding: dict[tuple[str, str, str], tuple[dict[str, Any], str, str, str]] = {}
        self.cites: dict[str, list[str]] = {}
        # the last decision's findings text: a changed one's is compared twice
        self.written: tuple[Decision | None, str] = (None, "")

    def same(self, fired: str | None, results: str | None, findings: str | None,
             d: Decision) -> bool:
        """Whether ``d`` serialises to the very texts logged (``fired``, ``results``,
        ``findings``): then nothing differs, and the stored JSON need not be parsed. Any
        other text (a key order, a number written otherwise, a scrubbed message) is no
        verdict: the caller compares the decoded values. Cheapest first, each serialised
        only when the one before matched."""
        return (fired == self.fired_text(d.fired) and results == self.results_text(d)
                and findings == self.findings_text(d))

    def fired_text(self, fired: tuple[str, ...]) -> str:
        """The text of a fired list."""
        return self.fired.get(fired) or _memo(self.fired, fired, _encode, list(fired))

    def fired_read(self, text: str) -> tuple[str, ...]:
        """A logged fired list's text read (as :meth:`LoggedDecision.decoded` reads it)."""
        fired = self.read.get(text)
        if fired is None:
            if len(self.read) >= _MEMO:
                self.read.clear()
            fired = self.read[text] = tuple(load_text(text) or ())
        return fired

    @staticmethod
    def results_text(d: Decision) -> str:
        """The text of a decision's results: written as they are when every key is text and
        every value a plain scalar (their JSON form is themselves), else of their JSON
        form (dates, tuples, nested mappings)."""
        results = d.results
        if not results:
            return "{}"
        for k, v in results.items():
            if type(k) is not str or type(v) not in _PLAIN:
                return _encode(json_form(results))
        return _encode(results)

    def findings_text(self, d: Decision) -> str:
        """The text of a decision's findings: each ``f.to_dict()`` written piece by piece,
        ``{"rule": …, "message": …, "cite": …, "due": …}``."""
        kinds = (d.violations, d.warnings, d.notices, d.obligations)
        if not any(kinds):
            return _NO_FINDINGS
        if self.written[0] is d:
            return self.written[1]
        memo, version, lang = self.finding, d.version, d.lang
        out: list[str] = []
        for head, found in zip(_HEADS, kinds, strict=True):
            out.append(head)
            sep = ""
            for f in found:
                # a rule's citation is its version's, in the decision's language: the text
                # written for the first one seen serves every equal one (compared by the
                # identity of its values first: a shallow copy of the rule's is equal at once)
                key = (version, f.rule, lang)
                seen = memo.get(key)
                if seen is None or (seen[0] is not f.cite and seen[0] != f.cite):
                    if len(memo) >= _MEMO:
                        memo.clear()
                    rule, cite = _string(f.rule), _encode(f.cite)
                    seen = memo[key] = (f.cite, f'{{"rule": {rule}, "message": ',
                                        f', "cite": {cite}}}', f', "cite": {cite}, "due": ')
                if f.due is None:
                    out.append(f"{sep}{seen[1]}{_string(f.message)}{seen[2]}")
                else:
                    out.append(f"{sep}{seen[1]}{_string(f.message)}{seen[3]}"
                               f"{_string(f.due)}}}")
                sep = ", "
        out.append("]}")
        text = "".join(out)
        self.written = (d, text)
        return text


    def findings_read(self, text: str) -> list[list[tuple[str, str, str | None]]] | None:
        """A logged findings text as the log writes it (:meth:`findings_text`'s form), read
        as each kind's (rule, message, due) in :data:`FINDING_KINDS`' order — what a changed
        decision's findings are compared by — without building their citations: each is
        only skipped, by its text when a citation of the rule was seen before (a
        citation is the policy's, not the decision's). None: a text of any other form,
        for ``json.loads`` to read (or to find no JSON)."""
        out: list[list[tuple[str, str, str | None]]] = []
        pos, end = 0, len(text)
        try:
            for head in _HEADS:
                if not text.startswith(head, pos):
                    return None
                pos += len(head)
                found: list[tuple[str, str, str | None]] = []
                out.append(found)
                while text.startswith('{"rule": "', pos):
                    rule, pos = _scanstring(text, pos + 10)
                    if not text.startswith(', "message": "', pos):
                        return None
                    message, pos = _scanstring(text, pos + 14)
                    if not text.startswith(', "cite": ', pos):
                        return None
                    pos = self._cite_end(rule, text, pos + 10)
                    due = None
                    if text.startswith(', "due": "', pos):
                        due, pos = _scanstring(text, pos + 10)
                    if not text.startswith("}", pos):
                        return None
                    found.append((rule, message, due))
                    pos += 1
                    if text.startswith(", {", pos):
                        pos += 2
        except (ValueError, StopIteration):      # no JSON here: json.loads says why
            return None
        return out if pos == end - 2 and text.endswith("]}") else None

    def _cite_end(self, rule: str, text: str, pos: int) -> int:
        """Where the citation at ``pos`` (of ``rule``'s finding) ends."""
        seen = self.cites.get(rule)
        if seen is not None:
            for cite in seen:
                if text.startswith(cite, pos):    # an object's text ends where it closes
                    return pos + len(cite)
        _, end = _scan(text, pos)
        if seen is None:
            if len(self.cites) >= _MEMO:
                self.cites.clear()
            seen = self.cites[rule] = []
        if len(seen) < 8 and text.startswith("{", pos):   # an object: one per version and
            seen.append(text[pos:end])                     # language, mostly
        return end


def _memo(memo: dict[Any, str], key: Any, write: Callable[[Any], str], value: Any) -> str:
    """``write(value)``, kept in ``memo`` under ``key``."""
    if len(memo) >= _MEMO:
        memo.clear()
    text = memo[key] = write(value)
    return text


def _differences(item: LoggedDecision | _Row, d: Decision) -> list[str]:
    """Which aspects differ: outcome, fired, results, obligations (due dates), messages."""
    out = []
    if d.outcome != item.outcome:
        out.append("outcome")
    if set(d.fired) != set(item.fired):
        out.append("fired")
    if not _same(json_form(d.results), item.results):
        out.append("results")
    logged = item.findings or {}
    dues = {o.rule: o.due for o in d.obligations}
    if dues != {o.get("rule"): o.get("due") for o in logged.get("obligations") or []}:
        out.append("obligations")
    new = [(f.rule, f.message) for k in FINDING_KINDS for f in getattr(d, k)]
    old = [(f.get("rule"), f.get("message")) for k in FINDING_KINDS for f in logged.get(k) or []]
    if sorted(new) != sorted(old):
        out.append("messages")
    return out


def _text_differences(texts: _Texts, row: tuple[Any, ...],
                      d: Decision) -> tuple[list[str], tuple[str, ...]]:
    """:func:`_differences` of a :data:`ROW` tuple whose three JSON texts are all there,
    and its fired rules read: each text decoded only if it is not the one the answer
    writes (an equal text holds equal values), the fired lists read once per distinct
    text. A changed decision mostly differs in some of them only, and its findings, the
    longest text (every citation written out), were what most of its time went on."""
    out = []
    if d.outcome != row[_OUTCOME]:
        out.append("outcome")
    fired = row[_FIRED]
    if fired == texts.fired_text(d.fired):
        logged_fired = d.fired
    else:
        logged_fired = texts.fired_read(fired)
        if set(d.fired) != set(logged_fired):
            out.append("fired")
    results = row[_RESULTS]
    # an equal text holds equal values, but for NaN and infinities: no value equals them
    if (results != texts.results_text(d) or "NaN" in results or "Infinity" in results) \
            and not _same(json_form(d.results), load_text(results)):
        out.append("results")
    findings = row[_FINDINGS]
    if findings != texts.findings_text(d):
        kinds = texts.findings_read(findings)
        if kinds is not None:
            dues = {rule: due for rule, _, due in kinds[-1]}
            old = [(rule, message) for found in kinds for rule, message, _ in found]
        else:
            logged = load_text(findings) or {}
            dues = {o.get("rule"): o.get("due") for o in logged.get("obligations") or []}
            old = [(f.get("rule"), f.get("message")) for k in FINDING_KINDS
                   for f in logged.get(k) or []]
        if {o.rule: o.due for o in d.obligations} != dues:
            out.append("obligations")
        if sorted((f.rule, f.message) for k in FINDING_KINDS for f in getattr(d, k)) \
                != sorted(old):
            out.append("messages")
    return out, logged_fired


@dataclass
class _Rule:
    newly_fires: int = 0
    no_longer_fires: int = 0
    examples: list[str] = field(default_factory=list)


class Impact:
    """Replays logged decisions of one policy under ``store`` and keeps the counts.

    ``version`` pins every replay to that version (a draft version not yet in force, or any
    other); without it a decision is replayed under the version in force on its dates, as the
    service would decide it (``version_by`` included), and a logged what-if (pinned) stays
    pinned to its own version. ``examples`` is how many decision ids each group and each rule
    keeps; examples are decided once more with ``explain`` for the values their changed rules
    read, with messages in ``lang`` (default: the decision's own language).
    """

    def __init__(self, store: PolicyStore, *, version: str | None = None, examples: int = 5,
                 lang: str | None = None):
        self.store, self.version, self.examples, self.lang = store, version, examples, lang
        self.read = 0
        self.unchanged = 0
        self.groups: dict[str, list[dict[str, Any]]] = {g: [] for g in GROUPS}
        self.counts: Counter[str] = Counter()
        self.aspects: Counter[str] = Counter()
        self.rules: dict[str, _Rule] = {}
        self.refused: list[dict[str, str]] = []
        self.refused_by: Counter[str] = Counter()
        self._texts = _Texts()

    def _decide(self, item: LoggedDecision | _Row, facts: dict[str, Any], explain: bool = False,
                lang: str | None = None) -> Decision:
        version = self.version or (item.version if item.pinned else None)
        return decide(self.store, policy=item.policy, action=item.action, as_of=item.as_of,
                      facts=facts, lang=lang or item.lang, explain=explain, version=version)

    def add(self, items: Iterable[LoggedDecision]) -> None:
        """Replay a batch of logged decisions, decided together in one
        :func:`engine.batch.decide_many` call (the same answers as one ``decide`` each)."""
        rows, given = [], []
        for item in items:
            texts = item.texts
            rows.append((item.id, item.policy, item.action, item.version, item.as_of,
                         item.lang, item.facts, item.outcome,
                         *((texts.get(k) for k in _TEXTS) if texts is not None
                           else (None,) * 3),
                         item.pinned, item.hetu_checks))
            given.append(item)
        self._judge(rows, given)

    def add_rows(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """:meth:`add` of logged decisions given as tuples in :data:`ROW`'s order, their
        ``fired``, ``results`` and ``findings`` as stored JSON texts: a
        :class:`LoggedDecision` is built only for a decision that changed or was refused."""
        self._judge(rows if isinstance(rows, list) else list(rows), None)

    def _judge(self, rows: list[tuple[Any, ...]], given: list[LoggedDecision] | None) -> None:
        """Decide the rows together, then sort each in the order read. ``given``: the
        decisions as given to :meth:`add`, one per row (None: each built from its row when
        needed). No object is made per row but its request: the rows, the facts
        restored and the answers are walked side by side."""
        requests: list[dict[str, Any]] = []
        restored: list[Any] = []
        pinned_to = self.version
        for (_, policy, action, version, as_of, lang, facts, _, _, _, _, pinned,
             checks) in rows:
            if checks or checks is None:        # recorded and none: the facts as read
                try:
                    facts = _restored(facts, checks)
                except NotReplayable as exc:
                    # its code and reason, not the exception: its traceback would hold this
                    # frame, and the frame the batch, until the collector's next pass
                    restored.append(_Refusal(exc.code, exc.reason))
                    continue
            restored.append(facts)
            requests.append({"policy": policy, "action": action, "as_of": as_of,
                             "facts": facts, "lang": lang,
                             "version": pinned_to or (version if pinned else None)})
        self.read += len(rows)
        answers = iter(decide_many(self.store, requests) if requests else ())
        texts, unchanged = self._texts, 0
        for i, (row, facts) in enumerate(zip(rows, restored, strict=True)):  # as read
            if type(facts) is _Refusal:
                self._refuse(given[i] if given else _Row(*row), facts.code, facts.reason)
                continue
            decision = next(answers)
            if isinstance(decision, EngineError):
                self._refuse(given[i] if given else _Row(*row), decision.code,
                             decision.message)
                continue
            fired, results, findings = row[_FIRED], row[_RESULTS], row[_FINDINGS]
            if decision.outcome == row[_OUTCOME] and fired is not None and texts.same(
                    fired, results, findings, decision):
                unchanged += 1
                continue
            if fired is None or results is None or findings is None:
                logged = given[i].decoded() if given else _decoded(row)
                aspects, logged_fired = _differences(logged, decision), logged.fired
            else:
                aspects, logged_fired = _text_differences(texts, row, decision)
            if not aspects:
                unchanged += 1
                continue
            self._changed(given[i] if given else _Row(*row), logged_fired, facts, decision,
                          aspects)
        self.unchanged += unchanged

    def _refuse(self, item: LoggedDecision | _Row, code: str, reason: str) -> None:
        self.refused_by[code] += 1
        if len(self.refused) < MAX_LISTED:
            self.refused.append({"decision_id": item.id, "as_of": item.as_of.isoformat(),
                                 "action": item.action, "code": code, "reason": reason})

    def _changed(self, item: LoggedDecision | _Row, logged_fired: tuple[str, ...],
                 facts: dict[str, Any], decision: Decision, aspects: list[str]) -> None:
        """Count a changed decision; ``logged_fired`` the rules it fired when logged (an
        ``item`` may hold them as text)."""
        if "outcome" in aspects:
            group = f"{item.outcome}_to_{decision.outcome}"
        else:
            group = "other"
            for aspect in aspects:
                self.aspects[aspect] += 1
            if aspects == ["messages"]:
                self.aspects["messages_only"] += 1
        self.counts[group] += 1
        newly = sorted(set(decision.fired) - set(logged_fired))
        gone = sorted(set(logged_fired) - set(decision.fired))
        for rule in newly + gone:
            entry = self.rules.setdefault(rule, _Rule())
            if rule in newly:
                entry.newly_fires += 1
            else:
                entry.no_longer_fires += 1
            if len(entry.examples) < self.examples:
                entry.examples.append(item.id)
        if len(self.groups[group]) < self.examples:
            self.groups[group].append(self._example(item, facts, decision, aspects,
                                                    newly, gone))

    def _example(self, item: LoggedDecision | _Row, facts: dict[str, Any], decision: Decision,
                 aspects: list[str], newly: list[str], gone: list[str]) -> dict[str, Any]:
        """One changed decision, with the values read by the rules whose firing changed (or,
        when none did, by every rule that fired)."""
        explained = self._decide(item, facts, explain=True, lang=self.lang)
        watched = set(newly + gone) or set(decision.fired)
        mattered: dict[str, Any] = {}
        for entry in explained.trace or ():
            if entry.rule in watched:
                mattered.update(entry.reads)
        messages = [f.to_dict() for k in FINDING_KINDS for f in getattr(explained, k)
                    if f.rule in newly]
        return {
            "decision_id": item.id, "action": item.action, "as_of": item.as_of.isoformat(),
            "logged_version": item.version, "replayed_version": decision.version,
            "before": item.outcome, "after": decision.outcome, "changed": aspects,
            "newly_fired": newly, "no_longer_fired": gone,
            "facts_that_mattered": json_form(mattered), "new_messages": messages,
        }

    def partial(self) -> dict[str, Any]:
        """What this replay has counted, without its store: picklable, for a worker process
        to hand back and the parent to :meth:`merge`."""
        return {"read": self.read, "unchanged": self.unchanged, "groups": self.groups,
                "counts": self.counts, "aspects": self.aspects, "rules": self.rules,
                "refused": self.refused, "refused_by": self.refused_by}

    def merge(self, part: dict[str, Any]) -> None:
        """Add a :meth:`partial` of the decisions read *after* this one's: merged in the
        order read, the report is the one a single replay of them all makes (the first
        examples, the first decisions not replayable)."""
        self.read += part["read"]
        self.unchanged += part["unchanged"]
        self.counts.update(part["counts"])
        self.aspects.update(part["aspects"])
        self.refused_by.update(part["refused_by"])
        self.refused.extend(part["refused"][:max(0, MAX_LISTED - len(self.refused))])
        for group in GROUPS:
            room = max(0, self.examples - len(self.groups[group]))
            self.groups[group].extend(part["groups"][group][:room])
        for rule, theirs in part["rules"].items():
            mine = self.rules.setdefault(rule, _Rule())
            mine.newly_fires += theirs.newly_fires
            mine.no_longer_fires += theirs.no_longer_fires
            mine.examples.extend(theirs.examples[:max(0, self.examples - len(mine.examples))])

    def report(self) -> dict[str, Any]:
        """Counts, per-rule changes, examples and the decisions that could not be replayed."""
        replayed = self.read - sum(self.refused_by.values())
        changed = sum(self.counts.values())
        return {
            "read": self.read,
            "replayed": replayed,
            "unchanged": self.unchanged,
            "changed": {
                "total": changed,
                **{g: self.counts[g] for g in GROUPS},
                "other_by_aspect": {a: self.aspects[a] for a in
                                    ("fired", "results", "obligations", "messages",
                                     "messages_only")},
            },
            "rules": {rule: {"newly_fires": r.newly_fires, "no_longer_fires": r.no_longer_fires,
                             "examples": r.examples}
                      for rule, r in sorted(self.rules.items())},
            "examples": self.groups,
            "not_replayable": {
                "count": sum(self.refused_by.values()),
                "by_reason": dict(sorted(self.refused_by.items())),
                "decisions": self.refused,
                "more": max(0, sum(self.refused_by.values()) - len(self.refused)),
            },
        }


# -- text ----------------------------------------------------------------------------------

_LABELS = {"allow_to_deny": "allow → deny", "deny_to_allow": "deny → allow",
           "other": "other changes"}


def render_report(report: dict[str, Any]) -> str:
    """The report as a planner reads it on a terminal."""
    c = report["changed"]
    lines = [f"{report['read']} logged decision(s) read: {report['replayed']} replayed, "
             f"{report['unchanged']} unchanged, {c['total']} changed, "
             f"{report['not_replayable']['count']} not replayable"]
    for group in GROUPS:
        lines.append(f"  {_LABELS[group]}: {c[group]}")
    aspects = c["other_by_aspect"]
    if c["other"]:
        lines.append("    " + ", ".join(f"{k.replace('_', ' ')} {v}"
                                        for k, v in aspects.items() if v))
    if report["rules"]:
        lines.append("rules:")
        for rule, r in report["rules"].items():
            parts = []
            if r["newly_fires"]:
                parts.append(f"newly fires in {r['newly_fires']}")
            if r["no_longer_fires"]:
                parts.append(f"no longer fires in {r['no_longer_fires']}")
            lines.append(f"  {rule}: {', '.join(parts)}  (e.g. {', '.join(r['examples'])})")
    for group in GROUPS:
        for ex in report["examples"][group]:
            lines.append(f"{_LABELS[group]} {ex['decision_id']} ({ex['action']}, as of "
                         f"{ex['as_of']}, {ex['logged_version']} → {ex['replayed_version']}): "
                         f"{', '.join(ex['changed'])}")
            if ex["newly_fired"] or ex["no_longer_fired"]:
                lines.append(f"    fires now {ex['newly_fired']}, no longer "
                             f"{ex['no_longer_fired']}")
            if ex["facts_that_mattered"]:
                lines.append("    read: " + ", ".join(
                    f"{k}={v}" for k, v in ex["facts_that_mattered"].items()))
            for m in ex["new_messages"]:
                lines.append(f"    {m['rule']}: {m['message']}")
    refused = report["not_replayable"]
    if refused["count"]:
        lines.append("not replayable: " + ", ".join(f"{k} {v}"
                                                    for k, v in refused["by_reason"].items()))
        for r in refused["decisions"]:
            lines.append(f"  {r['decision_id']} ({r['action']}, as of {r['as_of']}): "
                         f"{r['code']}: {r['reason']}")
        if refused["more"]:
            lines.append(f"  … and {refused['more']} more")
    return "\n".join(lines)


# -- a logged decision as a fixture case ---------------------------------------------------

def fixture_case(item: LoggedDecision, name: str | None = None) -> dict[str, Any]:
    """A fixture case (the mapping written to YAML) that expects what the log says was
    decided: outcome, fired rules, results and obligation due dates. Personal codes become
    synthetic ones with the same validity (:func:`restore_facts`), never the real ones."""
    item = item.decoded()
    facts = restore_facts(item)
    case: dict[str, Any] = {"name": name or f"from log {item.id}", "action": item.action,
                            "as_of": item.as_of}
    if item.lang != "en":
        case["lang"] = item.lang
    case["facts"] = facts
    expect: dict[str, Any] = {"outcome": item.outcome, "fired": list(item.fired)}
    if item.results:
        expect["results"] = dict(item.results)
    dues = {o["rule"]: o["due"] for o in (item.findings or {}).get("obligations") or []
            if o.get("due")}
    if dues:
        expect["obligations"] = dues
    case["expect"] = expect
    return case
