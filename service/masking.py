"""Keep personal identity codes (henkilötunnus) out of the decision log and the logs.

What the engine itself knows of a code — valid, temporary, what is logged beside its
pseudonym, a synthetic code for a replay — is :mod:`engine.personal`; this module is the
service's side: pseudonyms under a secret key, and finding codes in any text however they are
spelled. :meth:`Masker.mask_decision` makes everything a decision logs of its personal facts:
their pseudonyms and :func:`engine.personal.hetu_checks`.

Two layers, because one mistake in a policy file must not leak a person's id:

1. the facts the policy declares as ``hetu`` (``Decision.personal_facts``) are replaced by a keyed
   hash wherever they are, whatever they look like;
2. every string anywhere in what is stored or logged is scanned for anything shaped like a
   henkilötunnus, and each match is replaced by the same keyed hash.

The hash is HMAC-SHA256 with a secret key, so equal codes still match each other in the log
(an auditor can follow one person) but a code cannot be recovered by hashing all birthdays.

A code is a code however it is spelled: text is *folded* before it is matched (NFKC, so
full-width ``１３１０５２-３０８Ｔ`` and mathematical digits become ASCII, then every other
Unicode decimal digit, Arabic-Indic ``١``, Devanagari ``१`` …, to its ASCII digit), and the
hash is taken of the folded code, so every spelling of one code gets one pseudonym. Only the
matched code is replaced: the text around it is kept as it was written. Any of Unicode's
Default_Ignorable characters (:mod:`engine.invisible`: zero-width spaces, the combining
grapheme joiner U+034F, invisible operators U+2062, the Mongolian vowel separator U+180E,
variation selectors U+FE0F …) inside a code leaves it a code.

Log lines and pages are also read the way a reader could read them (:func:`reveal`): percent
escapes decoded, again and again (``%252D`` is ``%2D`` is ``-``), and UTF-8 that a server
decoded as latin-1 (gunicorn's request line and headers: ``ï¼‘`` is ``１``) decoded again. A
code found only so is masked where it stands when one layer of escapes hides it; deeper, the
line is written out revealed, with the code masked.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from engine.invisible import DEFAULT_IGNORABLE, strip_ignorable
from engine.personal import (
    PSEUDONYM_PREFIX,
    hetu_checks,
    personal_texts,
    synthetic_hetu,
    temporary_hetu,
    valid_hetu,
)

__all__ = [
    "HETU_PATTERN",
    "MaskedDecision",
    "Masker",
    "ScrubFilter",
    "fold",
    "get_logger",
    "json_text",
    "load_or_create_key",
    "masker_from_config",
    "redact",
    "reveal",
    "scrub_text",
    "synthetic_codes",
]

# Invisible characters a copy-paste, a word processor or someone hiding a code leaves between
# its characters: Unicode's whole Default_Ignorable_Code_Point set (soft hyphen, zero-width
# spaces, joiners and marks, word joiner, invisible operators, variation selectors, tags …).
# A code with them still reads as the code.
_INVISIBLE = "".join(f"\\U{lo:08x}" if lo == hi else f"\\U{lo:08x}-\\U{hi:08x}"
                     for lo, hi in DEFAULT_IGNORABLE)
# What people type instead of "-" between birth date and individual number: dashes (hyphen,
# non-breaking hyphen, figure dash, en and em dash, horizontal bar, minus sign, hyphen
# bullet, small and full-width hyphen-minus) and spaces (space, no-break, figure, narrow).
_LOOK_ALIKES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043\ufe63\uff0d \u00a0\u2007\u202f"
_GAP = f"[{_INVISIBLE}]*"
_SEPARATOR = f"[-+ABCDEFYXWVU{_LOOK_ALIKES}]"
# No word boundaries and no look-behind: "hetu131052-308T", "puh0401131052-308T" and
# "131052-308Tx" must be masked too. The check character is not verified (a mistyped code is
# still a person's), but day and month must be possible ones, so that hex such as a digest
# rarely looks like a code.
_DAY = f"(?:0{_GAP}[1-9]|[12]{_GAP}\\d|3{_GAP}[01])"
_MONTH = f"(?:0{_GAP}[1-9]|1{_GAP}[0-2])"
HETU_PATTERN = re.compile(
    _GAP.join([_DAY, _MONTH, r"\d", r"\d", _SEPARATOR, r"\d", r"\d", r"\d", "[0-9A-Y]"]),
    re.IGNORECASE)
# A decision id is quoted in support requests and log lines: it is never masked, even when
# a run of its hex digits happens to look like a code.
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
                   re.IGNORECASE)
# how hash() writes a code before hashing it: look-alikes as "-" (invisible characters go too)
_NORMAL = str.maketrans(dict.fromkeys(_LOOK_ALIKES, "-"))
_PLACEHOLDER = "<hetu>"


def _placeholder(_code: str) -> str:
    return _PLACEHOLDER


# a decimal digit that is not ASCII (``\D`` is all but the Unicode decimal digits, category
# Nd; this spelling is the quickest of those tried)
_OTHER_DIGIT = re.compile(r"[^\x00-\x7f\D]")
# a run of percent escapes: decoded together, as one UTF-8 text
_ESCAPES = re.compile(r"(?:%[0-9A-Fa-f]{2})+")


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    """One character as the pattern reads it: NFKC, then each decimal digit as ASCII."""
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c
                   for c in unicodedata.normalize("NFKC", char))


def _needs_folding(text: str, percent: bool) -> bool:
    """False for the text nearly everything is: ASCII, or already NFKC without odd digits
    (Finnish and Swedish messages), and no percent escape to decode."""
    if percent and "%" in text and _ESCAPES.search(text):
        return True
    if text.isascii():
        return False
    return not unicodedata.is_normalized("NFKC", text) or bool(_OTHER_DIGIT.search(text))


def _fold(text: str, percent: bool = False) -> tuple[str, list[int], list[int]]:
    """``text`` folded, and for each folded character the span of ``text`` it came from.

    Characters are folded one by one (a character's NFKC may be several characters, all
    from its one span); with ``percent``, a run of escapes is decoded first and every
    character of it comes from the whole run.
    """
    folded: list[str] = []
    starts: list[int] = []
    ends: list[int] = []

    def add(piece: str, start: int, end: int) -> None:
        for char in piece:
            for c in _fold_char(char):
                folded.append(c)
                starts.append(start)
                ends.append(end)

    position = 0
    for run in _ESCAPES.finditer(text) if percent else ():
        for i in range(position, run.start()):
            add(text[i], i, i + 1)
        add(unquote(run.group(), errors="replace"), run.start(), run.end())
        position = run.end()
    for i in range(position, len(text)):
        add(text[i], i, i + 1)
    return "".join(folded), starts, ends


def fold(code: str) -> str:
    """How a code is read before it is matched and hashed: NFKC, then every Unicode decimal
    digit as its ASCII digit.

    >>> fold("１３１０５２-３０８Ｔ"), fold("١٣١٠٥٢-٣٠٨T")
    ('131052-308T', '131052-308T')
    """
    if not _needs_folding(code, percent=False):
        return code
    return _fold(code)[0]


def _substitute(text: str, replace: Callable[[str], str], percent: bool = False) -> str:
    """Every henkilötunnus in ``text`` replaced by ``replace(folded code)``, except inside
    UUIDs; the rest of ``text`` is kept as written. ``percent``: decode escapes first."""
    folding = _needs_folding(text, percent)
    if folding:
        folded, starts, ends = _fold(text, percent)
    else:
        folded = text
    if not HETU_PATTERN.search(folded):
        return text
    matches: list[re.Match[str]] = []
    position = 0
    for uuid in _UUID.finditer(folded):
        matches += HETU_PATTERN.finditer(folded, position, uuid.start())
        position = uuid.end()
    matches += HETU_PATTERN.finditer(folded, position)
    out = []
    last = 0
    for match in matches:
        start, end = match.span()
        if folding:
            start, end = starts[start], ends[end - 1]
        if end <= last:        # two matches in one folded character: replaced already
            continue
        out += [text[last:max(start, last)], replace(match.group(0))]
        last = end
    out.append(text[last:])
    return "".join(out)


# What json.dumps escapes (ensure_ascii=False): a text with one of these is not written as
# itself inside JSON, so it cannot be looked for in the JSON text.
_JSON_ESCAPED = re.compile(r'["\\\x00-\x1f]')


def _json_writer() -> Callable[[Any], str]:
    """``json.dumps(value, ensure_ascii=False)``, text for text, about twice as quick.

    ``JSONEncoder.encode`` builds a new C encoder (and a dict to catch circular values) on
    every call, which costs as much as writing a decision's findings; this one is built
    once. A circular value is still an error (RecursionError instead of ValueError): the C
    encoder guards its depth. Without the C encoder (another Python), the plain encode.
    """
    encoder = json.JSONEncoder(ensure_ascii=False)
    make = getattr(json.encoder, "c_make_encoder", None)
    quote = getattr(json.encoder, "c_encode_basestring", None)
    if make is None or quote is None:
        return encoder.encode
    write = make(None, encoder.default, quote, encoder.indent, encoder.key_separator,
                 encoder.item_separator, encoder.sort_keys, encoder.skipkeys,
                 encoder.allow_nan)
    join = "".join

    def dumps(value: Any) -> str:
        return join(write(value, 0))

    return dumps


# The JSON text of a logged value, as the decision log stores it: json.dumps(value,
# ensure_ascii=False).
json_text = _json_writer()
_dumps = json_text


@dataclass(frozen=True)
class MaskedDecision:
    """What one decision logs of its facts, results and findings, safe to store, and what
    the policy could derive from each personal code (:func:`engine.personal.hetu_checks`);
    ``texts`` is the JSON of ``facts``, ``results`` and ``findings`` when the masker wrote
    it, else None."""

    facts: dict[str, Any]
    results: Any
    findings: Any
    hetu_checks: dict[str, Any]
    texts: dict[str, str] | None = None


def _clean(text: str) -> bool:
    """True when ``text`` holds nothing shaped like a code and nothing that could hide one
    (a character to fold, a percent or backslash escape, latin-1 mojibake)."""
    return not (_needs_folding(text, percent=False) or HETU_PATTERN.search(text)
                or "%" in text or "\\" in text
                or (not text.isascii() and _MOJIBAKE.search(text)))


class _CleanTexts:
    """The last texts found :func:`_clean`, so that a text seen again is not scanned again.

    A decision's results and findings are written from the policy's messages, and the same
    few recur decision after decision (a batch of a month's days has a handful): scanning
    each (a regex over every character, NFKC checks) was a quarter of a batched decision's
    time in the service. Being clean depends on the text alone, so a text found clean
    stays clean; only clean texts are kept (never one with a code in it), at most
    :attr:`SIZE` of them up to :attr:`LONGEST` characters, the oldest dropped first.
    """

    SIZE = 256
    LONGEST = 4096

    def __init__(self) -> None:
        self._texts: dict[str, None] = {}

    def holds(self, text: str) -> bool:
        """Whether ``text`` is :func:`_clean`, from the cache when it was seen before."""
        if text in self._texts:
            return True
        if not _clean(text):
            return False
        if len(text) <= self.LONGEST:
            if len(self._texts) >= self.SIZE:
                self._texts.pop(next(iter(self._texts), None), None)
            self._texts[text] = None
        return True


_CLEAN = _CleanTexts()


class Masker:
    """Replaces personal identity codes by ``hetu#<hmac>`` in facts and free text."""

    def __init__(self, key: bytes):
        if not key:
            raise ValueError("the masking key must not be empty")
        self._key = key

    def hash(self, code: str) -> str:
        """The stable pseudonym of one code: case, surrounding blanks, invisible characters,
        a look-alike dash instead of "-" and how the characters are spelled (full-width,
        Arabic-Indic digits …, see :func:`fold`) do not matter."""
        normal = strip_ignorable(fold(code)).strip().translate(_NORMAL).upper().encode()
        return PSEUDONYM_PREFIX + hmac.new(self._key, normal, hashlib.sha256).hexdigest()[:32]

    def scrub(self, text: str) -> str:
        """Every henkilötunnus-shaped part of ``text``, hashed: also one behind percent
        escapes or latin-1 mojibake (see :func:`reveal`), since a reader can decode them."""
        return _scrub_revealed(text, self.hash)

    scrub_revealed = scrub      # the name the pages and stores use: what it guards against

    def mask_facts(self, facts: dict[str, Any], personal: Iterable[str]) -> dict[str, Any]:
        """A copy of ``facts`` safe to store: personal facts hashed, then everything scrubbed
        (a personal value quoted inside another fact is hashed there too)."""
        personal = set(personal)
        return self._mask_facts(facts, personal, personal_texts(facts, personal))

    def _mask_facts(self, facts: dict[str, Any], personal: Iterable[str],
                    known: Iterable[str]) -> dict[str, Any]:
        known = tuple(sorted(set(known), key=len, reverse=True))
        return {
            self.scrub(str(name)): (
                self._hash_value(value) if name in personal else self._scrub_deep(value, known)
            )
            for name, value in facts.items()
        }

    def mask_decision(self, facts: dict[str, Any], personal: Iterable[str], results: Any,
                      findings: Any) -> MaskedDecision:
        """A decision's facts, results and findings as they may be logged: exactly what
        :meth:`mask_facts` and :meth:`scrub_value` (with the personal values) make of them;
        with the checks of each personal code (:func:`engine.personal.hetu_checks`).

        Usually nothing in them is a code: the personal facts are hashed and every other
        text is kept. Instead of scrubbing each text on its own (a dozen searches and a copy
        of every dict and list), the three are written as JSON, which the log stores anyway,
        and each JSON text is searched once. JSON writes every character a code can be made
        of as itself, so a text without a code-shaped part, a personal value or a character
        to fold has none in any key or value inside it. Anything found — a percent sign or
        latin-1 mojibake that may hide one, or a personal value JSON would escape — sends the
        decision through the full scrub, text by text.
        """
        personal = frozenset(personal)
        known = personal_texts(facts, personal)
        checks = hetu_checks(facts, personal)
        if any(_JSON_ESCAPED.search(k) for k in known):
            return self._mask_fully(facts, personal, results, findings, known, checks)
        masked = {name: self._hash_value(value) if name in personal else value
                  for name, value in facts.items()} if personal else facts
        texts = {"facts": _dumps(masked), "results": _dumps(results),
                 "findings": _dumps(findings)}
        for name, text in texts.items():
            if (not (_CLEAN.holds(text) if name != "facts" else _clean(text))
                    or any(k in text for k in known)):
                return self._mask_fully(facts, personal, results, findings, known, checks)
        return MaskedDecision(dict(masked), results, findings, checks, texts)

    def _mask_fully(self, facts: dict[str, Any], personal: frozenset[str], results: Any,
                    findings: Any, known: list[str],
                    checks: dict[str, Any]) -> MaskedDecision:
        return MaskedDecision(self._mask_facts(facts, personal, known),
                              self.scrub_value(results, known),
                              self.scrub_value(findings, known), checks)

    def scrub_value(self, value: Any, known: Iterable[str] = ()) -> Any:
        """``value`` with every string inside it (keys included) scrubbed.

        ``known`` are the personal facts' own values: a message may quote one that does not
        look like a henkilötunnus (a mistyped one), and it must not leak either.
        """
        known = tuple(sorted({k for k in known if k}, key=len, reverse=True))
        return self._scrub_deep(value, known)

    def _scrub_deep(self, value: Any, known: tuple[str, ...]) -> Any:
        if isinstance(value, str):
            for literal in known:
                if literal in value:
                    value = value.replace(literal, self.hash(literal))
            return self.scrub(value)
        if isinstance(value, dict):
            return {self._scrub_deep(str(k), known): self._scrub_deep(v, known)
                    for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self._scrub_deep(v, known) for v in value]
        return value

    def _hash_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.hash(value)
        if isinstance(value, (list, tuple)):
            return [self._hash_value(v) for v in value]
        if value is None or isinstance(value, bool):
            return value
        # a personal fact of an unexpected type is still personal: hash its text
        return self.hash(str(value))


def load_or_create_key(configured: str | None, var_dir: str | os.PathLike) -> bytes:
    """The configured key, or the one kept in ``var/hash.key`` (created on first use).

    Several workers may start at once: the file is created exclusively and whoever loses
    the race reads the winner's key, so every worker hashes alike.
    """
    if configured:
        return configured.encode()
    path = Path(var_dir) / "hash.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
    for _ in range(50):  # the winner may still be writing
        key = path.read_text().strip()
        if key:
            return key.encode()
        time.sleep(0.01)
    raise RuntimeError(f"{path} is empty; delete it or set REHAB_RULES_HASH_KEY")


def redact(value: Any) -> Any:
    """``value`` with every henkilötunnus-shaped text replaced by ``<hetu>``, keys included.

    For what leaves the service but needs no pseudonym: error bodies, which may quote what
    the client sent.

    >>> redact({"131052-308T": ["'131052-308T' is not one of a, b"]})
    {'<hetu>': ["'<hetu>' is not one of a, b"]}
    """
    if isinstance(value, str):
        return _scrub_revealed(value, _placeholder)
    if isinstance(value, dict):
        return {redact(k): redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


class ScrubFilter(logging.Filter):
    """Rewrites a log record so that no henkilötunnus reaches any handler.

    It needs no key: a log line gets a fixed placeholder, not a pseudonym. Percent escapes
    are decoded before matching (a URL in an access log line is still encoded), and only the
    code is replaced: the rest of the line stays as it was.

    A record of a ``service`` logger passes two of these (its logger's and the handler's,
    which also catches loggers made without :func:`get_logger`); the second sees that the
    record is as the first left it and does not scrub it again.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args is None and getattr(record, "_scrubbed", None) is record.msg:
            return True
        message = record.getMessage()
        record.msg = _scrub_line(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _scrub_line(record.exc_text)
        if record.stack_info:
            record.stack_info = _scrub_line(record.stack_info)
        record._scrubbed = record.msg          # type: ignore[attr-defined]
        return True


def _scrub_line(text: str) -> str:
    return _scrub_revealed(text, _placeholder)


# a run that reads as UTF-8 once its characters are taken as latin-1 bytes: a lead byte
# (U+00C2–U+00F4) and continuation bytes (U+0080–U+00BF)
_MOJIBAKE = re.compile("[\u00c2-\u00f4][\u0080-\u00bf]+")
# more layers than this is not an encoding anyone reads, only a way to hide: the last one
# is scrubbed as it stands
_LAYERS = 16


def _unmojibake_run(match: re.Match[str]) -> str:
    try:
        return match.group().encode("latin-1").decode("utf-8")
    except UnicodeError:
        return match.group()


# a character written as a Python or JSON escape (a repr() in a message, a log line)
_BACKSLASH = re.compile(r"\\(?:x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8})")


def _unescape(match: re.Match[str]) -> str:
    code = int(match.group()[2:], 16)
    return chr(code) if code <= 0x10FFFF else match.group()


def reveal(text: str) -> str:
    """``text`` as a persistent reader would read it: percent escapes decoded until none is
    left, backslash escapes (``\\u2062``, as ``repr`` writes an invisible character) read as
    the character, and UTF-8 that was decoded as latin-1 decoded again, layer after layer.

    >>> reveal("131052%252D308T"), reveal("\u00ef\u00bc\u0091" + "31052-308T")
    ('131052-308T', '１31052-308T')
    """
    for _ in range(_LAYERS):
        before = text
        if "%" in text:
            text = unquote(text, errors="replace")
        if "\\" in text:
            text = _BACKSLASH.sub(_unescape, text)
        if not text.isascii():
            text = _MOJIBAKE.sub(_unmojibake_run, text)
        if text == before:
            break
    return text


def _scrub_revealed(text: str, replace: Callable[[str], str]) -> str:
    """Codes replaced in ``text`` and in what :func:`reveal` makes of it.

    One layer of escapes is decoded in place (the rest of the text stays as written); if
    the revealed text still holds a code, hidden deeper, the revealed text is returned
    with every code replaced, since a code cannot be cut out of a double escape.
    """
    out = _substitute(text, replace, percent=True)
    if out.isascii() and "%" not in out and "\\" not in out:
        return out
    revealed = reveal(out)
    if revealed == out:
        return out
    masked = _substitute(revealed, replace)
    return out if masked == revealed else masked


def scrub_text(text: str) -> str:
    """``text`` with every code, also behind escapes or mojibake, as ``<hetu>``: for what is
    logged or shown and needs no pseudonym."""
    return _scrub_revealed(text, _placeholder)


def synthetic_codes(text: str, pseudonym: Callable[[str], str] | None = None) -> str:
    """``text`` with every code, also behind escapes or mojibake, as a synthetic code with
    the same validity and temporariness (:func:`engine.personal.synthetic_hetu`, born
    2080–2099: no one's), seeded by the code's ``pseudonym`` (a :meth:`Masker.hash`; without
    one, its plain sha256). For a fixture case stored in a bundle: the policy judges the
    synthetic code as it judged the written one, so the case still passes.

    >>> synthetic_codes("client: 131052-308T", lambda _: "hetu#" + "0" * 32)
    'client: 010180A0025'
    """
    def replace(code: str) -> str:
        seed = (pseudonym(code) if pseudonym is not None
                else hashlib.sha256(code.upper().encode()).hexdigest())
        return synthetic_hetu(seed, valid_hetu(code), temporary_hetu(code))

    return _scrub_revealed(text, replace)


def masker_from_config(config: dict[str, Any]) -> Masker:
    """The masker of the service's settings (``REHAB_RULES_HASH_KEY``, ``VAR_DIR``): what the
    CLI uses, so that it hashes alike with the workers."""
    return Masker(load_or_create_key(config.get("REHAB_RULES_HASH_KEY"), config["VAR_DIR"]))


_SCRUB = ScrubFilter()


def get_logger(name: str) -> logging.Logger:
    """A logger whose records are scrubbed before any handler sees them."""
    logger = logging.getLogger(name)
    if _SCRUB not in logger.filters:
        logger.addFilter(_SCRUB)
    return logger
