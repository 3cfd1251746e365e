"""The Default_Ignorable set, checked against what Unicode itself says of its members."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from engine.invisible import DEFAULT_IGNORABLE, is_blank, is_ignorable, strip_ignorable

EVERY = [chr(c) for lo, hi in DEFAULT_IGNORABLE for c in range(lo, hi + 1)]


def test_the_set_is_what_the_issue_names_and_all_of_it_is_blank():
    for ch in "\u3164\u034f\u115f\u1160\uffa0\ufe0f\u180e\u2062\U000e0100\u00ad\u200b":
        assert is_ignorable(ch), hex(ord(ch))
    assert len(EVERY) == 4174          # the count DerivedCoreProperties.txt gives (15.1)
    assert is_blank("".join(EVERY))
    for ch in EVERY:                   # each one alone, and between spaces
        assert is_blank(ch) and is_blank(f" {ch}\u00a0"), hex(ord(ch))


def test_every_member_is_a_format_mark_filler_or_unassigned():
    """A wrong range would take in a visible letter: each member is Cf, Mn, Lo (the fillers)
    or Cn, as DerivedCoreProperties.txt lists them."""
    fillers = {0x115F, 0x1160, 0x3164, 0xFFA0}
    for ch in EVERY:
        category = unicodedata.category(ch)
        assert category in ("Cf", "Mn", "Cn") or ord(ch) in fillers, (hex(ord(ch)), category)


@pytest.mark.parametrize("text", ["x", " . ", "0", "\u3164x", "a\u200b", "\u0600", "\ufff9"])
def test_visible_text_is_not_blank(text):
    assert not is_blank(text)


def test_non_text_is_not_blank():
    assert not any(is_blank(v) for v in (0, None, [], b"", 1.5))


def test_whitespace_and_format_neighbours():
    """Whitespace (str.isspace) is blank; the visible format characters outside the set
    (U+0600 Arabic number sign, U+FFF9 interlinear annotation) are not."""
    spaces = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    assert is_blank("".join(spaces))
    assert not is_ignorable("\u0600") and not is_ignorable(" ")


def test_strip_ignorable_keeps_everything_else():
    assert strip_ignorable("131052\u034f-30\U000e0041\u2062\ufe0f8T") == "131052-308T"
    assert strip_ignorable("a b") == "a b"
    assert strip_ignorable("".join(EVERY)) == ""
