"""Invisible characters: Unicode's Default_Ignorable_Code_Point set, and blank text.

A form, a copy-paste or someone hiding a value can leave characters that show nothing: the
zero-width space, the Hangul fillers (U+3164 looks like a space but is a letter), the
combining grapheme joiner, variation selectors, tags. Unicode lists every such character as
Default_Ignorable_Code_Point (DerivedCoreProperties.txt); ``unicodedata`` does not expose the
property, so its ranges are written out here (Unicode 15.1; the set has been stable since
Unicode 7, apart from U+180F, added in 14.0).

Blank text is text made only of whitespace and of these characters: it carries no content, so
a rule that needs a written justification or an author's name must not take it as written,
and a personal code with such a character inside is still the code (the masking finds it).

>>> is_blank("\\u3164\\u034f ") , is_blank(" x "), is_ignorable("\\ufe0f")
(True, False, True)
>>> strip_ignorable("131052\\u2062-308T")
'131052-308T'
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["DEFAULT_IGNORABLE", "is_blank", "is_ignorable", "strip_ignorable"]

#: Default_Ignorable_Code_Point, inclusive ranges (DerivedCoreProperties.txt, Unicode 15.1).
DEFAULT_IGNORABLE: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD),      # soft hyphen
    (0x034F, 0x034F),      # combining grapheme joiner
    (0x061C, 0x061C),      # Arabic letter mark
    (0x115F, 0x1160),      # Hangul choseong and jungseong fillers
    (0x17B4, 0x17B5),      # Khmer inherent vowels
    (0x180B, 0x180F),      # Mongolian free variation selectors and vowel separator
    (0x200B, 0x200F),      # zero-width space, joiners, direction marks
    (0x202A, 0x202E),      # direction embeddings and overrides
    (0x2060, 0x206F),      # word joiner, invisible operators, isolates (2065 unassigned)
    (0x3164, 0x3164),      # Hangul filler
    (0xFE00, 0xFE0F),      # variation selectors 1–16
    (0xFEFF, 0xFEFF),      # zero-width no-break space (byte-order mark)
    (0xFFA0, 0xFFA0),      # halfwidth Hangul filler
    (0xFFF0, 0xFFF8),      # unassigned, reserved as ignorable
    (0x1BCA0, 0x1BCA3),    # shorthand format controls
    (0x1D173, 0x1D17A),    # musical symbol beams and phrases
    (0xE0000, 0xE0FFF),    # tags, variation selectors 17–256 and their reserved neighbours
)

_CLASS = "".join(f"\\U{lo:08x}" if lo == hi else f"\\U{lo:08x}-\\U{hi:08x}"
                 for lo, hi in DEFAULT_IGNORABLE)
_IGNORABLE = re.compile(f"[{_CLASS}]")
_BLANK = re.compile(f"[\\s{_CLASS}]*")


def is_ignorable(ch: str) -> bool:
    """True for one character of the Default_Ignorable_Code_Point set."""
    return _IGNORABLE.fullmatch(ch) is not None


def is_blank(value: Any) -> bool:
    """True for text with nothing visible in it: empty, whitespace (what ``str.isspace``
    says, no-break and ideographic spaces too), or default-ignorable characters only.

    >>> [is_blank(v) for v in ("", " \\t\\n", "\\u00a0\\u200b\\ufeff", "\\uffa0", " x ", 0, None)]
    [True, True, True, True, False, False, False]
    """
    if not isinstance(value, str):
        return False
    if value.isascii():                  # the common case, without a regular expression
        return not value or value.isspace()
    return _BLANK.fullmatch(value) is not None


def strip_ignorable(text: str) -> str:
    """``text`` without its default-ignorable characters (whitespace is kept)."""
    return _IGNORABLE.sub("", text) if not text.isascii() else text
