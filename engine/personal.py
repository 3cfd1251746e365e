"""Personal identity codes (henkilötunnus): what the engine knows of them, in one place.

A policy may read a code only through ``valid_hetu`` and ``temporary_hetu``; so whether a
code is valid and whether it is temporary is all a decision can depend on. That is what the
service logs beside a code's pseudonym (:func:`hetu_checks`), and what a replay or a fixture
case written from the log needs to judge the decision again: a *synthetic* code with the same
validity and temporariness (:func:`synthetic_hetu`, :func:`with_synthetic_codes`), never the
real one. A valid synthetic code is born 2080–2099 (century sign ``A``, year 80–99), so it
cannot be a living person's.

The service stores a code only as its pseudonym, ``hetu#`` and 32 hex digits of an HMAC
(:data:`PSEUDONYM_PREFIX`, made by :class:`service.masking.Masker`, which also finds codes
in free text however they are spelled); :func:`is_pseudonym` recognises one. A policy file
may hold no code at all (:func:`personal_codes`): a published bundle stores its texts masked.

>>> valid_hetu("131052-308T"), temporary_hetu("010594Y9021")
(True, True)
>>> synthetic_hetu("hetu#00000000000000000000000000000000", valid=True, temporary=False)
'010180A0025'
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from engine.errors import Problem
from engine.invisible import is_blank, strip_ignorable

__all__ = [
    "PSEUDONYM_PREFIX",
    "hetu_checks",
    "is_pseudonym",
    "personal_codes",
    "personal_texts",
    "synthetic_hetu",
    "temporary_hetu",
    "valid_hetu",
    "with_synthetic_codes",
]

# how a code is stored: this prefix and the first 32 hex digits of its HMAC-SHA256
PSEUDONYM_PREFIX = "hetu#"
_PSEUDONYM = re.compile(r"hetu#[0-9a-f]{32}")

_HETU = re.compile(r"^(\d{2})(\d{2})(\d{2})([-+ABCDEFYXWVU])(\d{3})([0-9A-Y])$")
_CENTURY = {"+": 1800, "-": 1900, "Y": 1900, "X": 1900, "W": 1900, "V": 1900, "U": 1900,
            "A": 2000, "B": 2000, "C": 2000, "D": 2000, "E": 2000, "F": 2000}
_CHECK_CHARACTERS = "0123456789ABCDEFHJKLMNPRSTUVWXY"


# -- what a policy can learn of a code -------------------------------------------------------

def valid_hetu(code: str) -> bool:
    """A henkilötunnus with a real date, a known century sign and the right check character.

    The 2023 signs (Y X W V U for the 1900s, B C D E F for the 2000s) are accepted; the sign is
    not part of the checksum. Temporary codes (900–999) pass: the format does not forbid them.

    >>> valid_hetu("010594Y9021"), valid_hetu("310252-308Y"), valid_hetu("131052-308t")
    (True, False, False)
    """
    m = _HETU.match(code) if isinstance(code, str) else None
    if not m:
        return False
    dd, mm, yy, sign, serial, check = m.groups()
    try:
        dt.date(_CENTURY[sign] + int(yy), int(mm), int(dd))
    except ValueError:
        return False
    if serial in ("000", "001"):
        return False
    return _CHECK_CHARACTERS[int(dd + mm + yy + serial) % 31] == check


def temporary_hetu(code: str) -> bool:
    """A valid henkilötunnus with an individual number 900–999: a temporary code.

    >>> temporary_hetu("010594Y9021"), temporary_hetu("131052-308T")
    (True, False)
    """
    return valid_hetu(code) and code[7] == "9"


# -- what is logged of a code, and a code made up from it ------------------------------------

def _check(value: Any) -> dict[str, bool] | None:
    """What the engine could learn from one code; None for blank text (the engine saw none)."""
    if not isinstance(value, str) or is_blank(value):
        return None
    return {"valid": valid_hetu(value), "temporary": temporary_hetu(value)}


def hetu_checks(facts: dict[str, Any], personal: Iterable[str]) -> dict[str, Any]:
    """For each personal fact sent: ``{"valid", "temporary"}`` (a list for a list of codes),
    or None for blank text. Logged beside the pseudonyms so that a replay can judge the
    decision as the engine did, without the code.

    >>> hetu_checks({"client": "131052-308T", "hours": 7}, {"client"})
    {'client': {'valid': True, 'temporary': False}}
    """
    out: dict[str, Any] = {}
    for name in sorted(personal):
        if name not in facts or facts[name] is None:
            continue
        value = facts[name]
        out[name] = [_check(v) for v in value] if isinstance(value, list) else _check(value)
    return out


def synthetic_hetu(seed: str, valid: bool, temporary: bool = False) -> str:
    """A made-up code, the same for the same ``seed`` (a pseudonym), valid or not as asked.

    Born 2080–2099 (sign ``A``), so never a living person's; individual number 900–999 when
    temporary, else 002–899. An invalid one has the right shape and a wrong check character.
    Equal pseudonyms give equal codes, so a rule comparing two codes still sees them equal.
    """
    n = int(re.sub(r"[^0-9a-f]", "", seed.rpartition("#")[2].lower())[:12] or "0", 16)
    day, n = 1 + n % 28, n // 28
    month, n = 1 + n % 12, n // 12
    year, n = 80 + n % 20, n // 20
    serial = 900 + n % 100 if temporary else 2 + n % 898
    digits = f"{day:02d}{month:02d}{year:02d}{serial:03d}"
    check = int(digits) % 31
    if not valid:
        check = (check + 1) % 31
    return f"{digits[:6]}A{digits[6:]}{_CHECK_CHARACTERS[check]}"


def _synthetic(stored: Any, check: Any) -> Any:
    if isinstance(stored, list):
        checks = check if isinstance(check, list) else [check] * len(stored)
        return [_synthetic(s, c) for s, c in zip(stored, checks, strict=False)]
    if check is None:
        return ""                                # blank text: the engine saw none
    seed = stored if isinstance(stored, str) else repr(stored)
    return synthetic_hetu(seed, bool(check.get("valid")), bool(check.get("temporary")))


def with_synthetic_codes(facts: dict[str, Any], checks: dict[str, Any]) -> dict[str, Any]:
    """Logged ``facts`` with each personal fact named in ``checks`` (:func:`hetu_checks`)
    replaced by synthetic codes that the policy judges alike.

    >>> with_synthetic_codes({"client": "hetu#" + "0" * 32, "hours": 7},
    ...                      {"client": {"valid": True, "temporary": False}})
    {'client': '010180A0025', 'hours': 7}
    """
    out = dict(facts)
    for name, check in checks.items():
        if name in out:
            out[name] = _synthetic(out[name], check)
    return out


def is_pseudonym(value: Any) -> bool:
    """A code as the service stores it (``hetu#`` and 32 hex digits); for a list, every item.

    >>> is_pseudonym("hetu#" + "0" * 32), is_pseudonym(["131052-308T"])
    (True, False)
    """
    if isinstance(value, list):
        return bool(value) and all(is_pseudonym(v) for v in value)
    return isinstance(value, str) and _PSEUDONYM.fullmatch(value) is not None


def personal_texts(facts: dict[str, Any], personal: Iterable[str]) -> list[str]:
    """The texts of the personal facts in ``facts``: what must never be shown or stored,
    wherever it is quoted (a message may quote a mistyped code that no pattern finds).

    Blank ones are left out: a personal code sent as ``""`` or ``" "`` (the engine reads it
    as not sent) is no one's code.

    >>> personal_texts({"client": "131052-308T", "others": ["x", " "], "hours": 7},
    ...                ["client", "others"])
    ['131052-308T', 'x']
    """
    out: list[str] = []
    for name in personal:
        value = facts.get(name)
        values = value if isinstance(value, (list, tuple)) else [value]
        out.extend(str(v) for v in values if v is not None and not isinstance(v, bool)
                   and not is_blank(str(v)))
    return out


# -- a code where none belongs ----------------------------------------------------------------

_CODE = re.compile(r"(?<![0-9A-Za-z])\d{6}[-+A-FU-Y]\d{3}[0-9A-Y](?![0-9A-Za-z])")


def personal_codes(raw: bytes, shown: str) -> list[Problem]:
    """A line of a policy file that holds a valid personal identity code (even with invisible
    characters inside): a published bundle stores policy texts with codes masked, so the file
    served would differ from the one written — and a code does not belong in a policy."""
    out = []
    text = raw.decode("utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), 1):
        if any(valid_hetu(m.group()) for m in _CODE.finditer(strip_ignorable(line))):
            out.append(Problem(shown, number, "this line holds a personal identity code; a "
                               "policy file may not (the published bundle would store it "
                               "masked) — write the rule or the comment without it",
                               "personal_code"))
    return out
