"""The text of a service description beside the rules that encode it.

A planner's work starts from Kela's text, so a version may carry it: Markdown beside its YAML,
one file per language Kela publishes it in, ``<version>.fi.md`` (required when there is a
text) and ``<version>.sv.md``. Sections are headings with the description's own numbering::

    # Työkokeilun ja työhönvalmennuksen palvelukuvaus      (optional: the document's title)

    ## 4.2 Asiakkaan kuntoutuspäivä

    Asiakkaan kuntoutuspäivän pituus on vähintään 6 tuntia. …

    ## 5 Yhteystiedot
    <!-- no rule: contact information; no request could show it -->

A heading of level 2 or deeper is a section and must start with its number (``4.2``, ``12``);
a ``#`` heading is the document's (or a part's) title. A section judged to need no rule says
so, with the reason, in a ``<!-- no rule: … -->`` comment; any other comment is a note for
people and is not part of the text. Everything here is about reading such a file and naming
its sections; which rules rest on which section is :mod:`engine.revision`.

A rule's ``cite.section`` names sections of its version's text: the number, optionally
followed by the heading (``"4.2 Asiakkaan kuntoutuspäivä"``), several separated by ``;``.
:func:`resolve_citation` turns it into section numbers or says what is wrong, with "did you
mean"; a decision's citation then carries each section's number and heading (and, asked for,
its sentences), built once per rule by :func:`citation_views`.

>>> doc, problems = parse_text(b"## 4.2 Asiakkaan kuntoutuspaiva\\n\\nPituus on 6 tuntia. "
...                            b"Tasta 5 tuntia.\\n", "2023-01.fi.md", "fi", "2023-01")
>>> problems, [s.title for s in doc.sections], doc.sections[0].sentences
([], ['4.2 Asiakkaan kuntoutuspaiva'], ('Pituus on 6 tuntia.', 'Tasta 5 tuntia.'))
>>> resolve_citation(ServiceText({"fi": doc}), "4.2")
(('4.2',), None)
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from engine.errors import Problem
from engine.invisible import is_blank

__all__ = [
    "NUMBER_RE",
    "TEXT_LANGUAGES",
    "TEXT_NAME_RE",
    "Section",
    "ServiceText",
    "TextFile",
    "WordChange",
    "citation_views",
    "find_quote",
    "language_problems",
    "parse_text",
    "quoted_in",
    "resolve_citation",
    "text_name_problem",
    "word_diff",
]

# the languages Kela publishes service descriptions in; Finnish is always there
TEXT_LANGUAGES = ("fi", "sv")
TEXT_NAME_RE = re.compile(r"^(?P<version>[^.]+)\.(?P<lang>[A-Za-z_-]+)\.md$")
NUMBER_RE = re.compile(r"^\d+(?:\.\d+)*$")
_HEADING_RE = re.compile(r"^(#{1,6})(?:\s+(.*?))?\s*#*\s*$")
_NO_SPACE_RE = re.compile(r"^\s{0,3}(#{1,6})(?=[^#\s])")
_MARKER_RE = re.compile(r"^\s*no[ -]rule\s*:(.*)$", re.IGNORECASE | re.DOTALL)
_LIST_RE = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
# a sentence ends at . ! ? followed by a space and what starts a new one
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'«»”„(\[]?[A-ZÅÄÖÉÜ0-9])")
_LANGUAGE_NAMES = {"fi": "Finnish", "sv": "Swedish"}


def text_name_problem(version: str, lang: str) -> str | None:
    """Why ``<version>.<lang>.md`` cannot be a text, or ``None`` (the version's name is
    checked by the caller).

    >>> text_name_problem("2025-04", "sv") is None, text_name_problem("2025-04", "en")[:30]
    (True, 'a service-description text is ')
    """
    if lang in TEXT_LANGUAGES:
        return None
    return (f"a service-description text is Kela's own, in Finnish or Swedish: name it "
            f"{version}.fi.md or {version}.sv.md, not {version}.{lang}.md")


@dataclass(frozen=True)
class Section:
    """One numbered section: its heading, its text as blocks (paragraphs and list items,
    Markdown list marks taken off) and, when judged to need no rule, the reason."""

    number: str
    heading: str
    line: int
    level: int = 2
    blocks: tuple[str, ...] = ()
    no_rule: str | None = None
    no_rule_line: int = 0

    @property
    def title(self) -> str:
        """``4.2 Asiakkaan kuntoutuspäivä``: how a citation and the tools name it."""
        return f"{self.number} {self.heading}"

    @cached_property
    def sentences(self) -> tuple[str, ...]:
        """The section's sentences in order: each block split after ``.``, ``!`` or ``?``
        where a new sentence starts; a list item without a full stop is one sentence."""
        out: list[str] = []
        for block in self.blocks:
            out += [s for s in _SENTENCE_END.split(block) if s]
        return tuple(out)

    @cached_property
    def words(self) -> tuple[str, ...]:
        """The heading's and the text's words, what a change is measured in."""
        return tuple(" ".join(self.blocks).split())


@dataclass(frozen=True)
class TextFile:
    """One language's text of one version, as read from ``<version>.<lang>.md``."""

    path: str
    lang: str
    version: str            # the version whose file it is (an overlay may inherit it)
    title: str | None
    sections: tuple[Section, ...]
    raw: bytes = field(default=b"", repr=False)

    @cached_property
    def by_number(self) -> dict[str, Section]:
        return {s.number: s for s in self.sections}

    def get(self, number: str) -> Section | None:
        return self.by_number.get(number)


@dataclass(frozen=True)
class ServiceText:
    """A version's text, by language: always ``fi``, ``sv`` where Kela publishes it.

    An overlay without a text of its own inherits its base's (the same object); one that
    brings its own brings it whole, since a revision is a whole document.
    """

    files: dict[str, TextFile]

    @property
    def fi(self) -> TextFile:
        return self.files["fi"]

    @property
    def version(self) -> str:
        """The version whose files these are."""
        return self.fi.version

    @property
    def sections(self) -> tuple[Section, ...]:
        return self.fi.sections

    def in_language(self, lang: str) -> TextFile:
        """The text in ``lang`` when Kela publishes it, else the Finnish one."""
        return self.files.get(lang) or self.fi

    def get(self, number: str) -> Section | None:
        return self.fi.get(number)

    @cached_property
    def raw(self) -> bytes:
        """Every file's bytes, Finnish first: what the version's digest covers."""
        return b"".join(f"{lang}\0".encode() + self.files[lang].raw + b"\0"
                        for lang in TEXT_LANGUAGES if lang in self.files)


# -- reading ---------------------------------------------------------------------------------

def _decode(raw: bytes, path: str) -> tuple[str | None, list[Problem]]:
    if b"\0" in raw:
        line = raw[:raw.index(b"\0")].count(b"\n") + 1
        return None, [Problem(path, line, "a binary file, not a text; write the service "
                              "description as plain UTF-8 Markdown", "binary")]
    try:
        return raw.decode("utf-8").removeprefix("\ufeff"), []
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        return None, [Problem(path, line, f"not UTF-8 text (byte {raw[exc.start]:#04x}); save "
                              "the file as UTF-8", "encoding")]


class _Reader:
    """One pass over the lines of a text: comments, headings, blocks."""

    def __init__(self, path: str, lang: str, version: str):
        self.path, self.lang, self.version = path, lang, version
        self.problems: list[Problem] = []
        self.title: str | None = None
        self.sections: list[dict[str, Any]] = []
        self.first: dict[str, int] = {}
        self.block: list[str] = []
        self.current: dict[str, Any] | None = None     # the section text lines go into
        self.quiet = False               # a slip is reported: what follows from it is not
        self.stray: int = 0              # first line of text outside any section

    def problem(self, line: int, message: str, code: str) -> None:
        self.problems.append(Problem(self.path, line, message, code))

    def end_block(self) -> None:
        if self.block and self.current is not None:
            self.current["blocks"].append(" ".join(self.block))
        self.block = []

    def comment(self, body: str, line: int) -> None:
        m = _MARKER_RE.match(body)
        if m is None:
            return                        # a note for people, not part of the text
        reason = " ".join(m.group(1).split())
        section = self.current
        if section is None:
            self.problem(line, "a <!-- no rule: … --> marker belongs under the heading of "
                         "the section it is about", "marker_outside")
        elif is_blank(reason):
            self.problem(line, f"section {section['number']}: say why it needs no rule: "
                         "<!-- no rule: contact information, no request shows it -->",
                         "marker_without_reason")
        elif section["no_rule"] is not None:
            self.problem(line, f"section {section['number']} is marked no rule twice (first "
                         f"at line {section['no_rule_line']}); keep one marker with the whole "
                         "reason", "marker_twice")
        else:
            section["no_rule"] = reason
            section["no_rule_line"] = line

    def heading(self, level: int, text: str, line: int) -> None:
        self.end_block()
        if level == 1:                    # the document's or a part's title
            self.current = None
            if NUMBER_RE.match(text.partition(" ")[0].rstrip(".")):
                self.problem(line, f"# {text}: a section's heading starts with ## (a single "
                             f"# is the document's title); write ## {text}", "title_numbered")
                self.quiet = True
            elif self.title is None:
                self.title = text
            return
        number, _, rest = text.partition(" ")
        number, rest = number.rstrip("."), " ".join(rest.split())
        # a heading that is wrong still takes the lines below it, so one slip is one problem
        self.current = {"number": number or "?", "heading": rest, "line": line,
                        "level": level, "blocks": [], "no_rule": None, "no_rule_line": 0}
        if not text:
            self.problem(line, "an empty heading; write the section's number and heading "
                         "(## 4.2 Asiakkaan kuntoutuspäivä)", "heading_empty")
        elif not NUMBER_RE.match(number):
            self.quiet = True
            self.problem(line, f"heading {text!r} has no number; start it with the "
                         "description's own number (## 4.2 Asiakkaan kuntoutuspäivä), or "
                         "number the headings in order (1, 2, 3 …) when the source has none",
                         "heading_without_number")
        elif not rest:
            self.problem(line, f"section {number} has no heading; write it after the number "
                         f"(## {number} Asiakkaan kuntoutuspäivä)", "heading_empty")
        elif number in self.first:
            self.problem(line, f"section {number} is written twice (first at line "
                         f"{self.first[number]}); every section has a number of its own",
                         "duplicate_section")
        else:
            self.first[number] = line
            self.sections.append(self.current)

    def text_line(self, text: str, line: int) -> None:
        if self.current is None:
            if not self.stray:
                self.stray = line
            return
        stripped = text.strip()
        item = _LIST_RE.match(stripped)
        if item or stripped.startswith(">"):
            self.end_block()
            stripped = stripped[item.end():] if item else stripped.lstrip("> ")
        self.block.append(stripped)

    def read(self, text: str) -> None:
        lines = text.splitlines()
        i = 0
        while i < len(lines):
            raw = lines[i]
            start = raw.find("<!--")
            if start >= 0:
                end_line, body, rest = _comment(lines, i, start)
                if end_line is None:
                    self.problem(i + 1, "a comment <!-- is never closed with -->; close it",
                                 "unclosed_comment")
                    return
                self.comment(body, i + 1)
                before = raw[:start]
                if before.strip():
                    self.text_line(before, i + 1)
                if rest.strip():
                    lines[end_line] = rest      # text after --> on the closing line
                    i = end_line
                    continue
                i = end_line + 1
                continue
            m = _HEADING_RE.match(raw)
            if m is None and _NO_SPACE_RE.match(raw):
                meant = _NO_SPACE_RE.sub(lambda hashes: hashes.group(1) + " ", raw.strip(), 1)
                self.problem(i + 1, f"{raw.strip()!r} is no heading: write a space after the "
                             f"#: {meant}", "heading_without_space")
                m = _HEADING_RE.match(meant)        # read as meant: one slip, one problem
                self.quiet = True
            if m:
                self.heading(len(m.group(1)), " ".join((m.group(2) or "").split()), i + 1)
            elif is_blank(raw):
                self.end_block()
            else:
                self.text_line(raw, i + 1)
            i += 1
        self.end_block()


def _comment(lines: list[str], i: int, start: int) -> tuple[int | None, str, str]:
    """The comment opened at ``lines[i][start:]``: its last line, its body, the rest of
    that line."""
    text = lines[i][start + 4:]
    parts: list[str] = []
    j = i
    while True:
        end = text.find("-->")
        if end >= 0:
            parts.append(text[:end])
            return j, "\n".join(parts), text[end + 3:]
        parts.append(text)
        j += 1
        if j >= len(lines):
            return None, "", ""
        text = lines[j]


def parse_text(raw: bytes, path: str, lang: str, version: str,
               ) -> tuple[TextFile | None, list[Problem]]:
    """Read one text file; every problem is at its line, and a file with any problem gives
    no text (so a broken text never half-resolves citations)."""
    text, problems = _decode(raw, path)
    if text is None:
        return None, problems
    reader = _Reader(path, lang, version)
    reader.read(text)
    problems = reader.problems
    if reader.stray and not reader.quiet:
        problems.append(Problem(path, reader.stray, "text before the first numbered section "
                                "can be cited by no rule; put it under a heading "
                                "(## 1 …) or in a comment <!-- … -->", "text_outside"))
    if not reader.sections and not problems:
        problems.append(Problem(path, 1, "no numbered sections; write each section of the "
                                "description as a heading with its number (## 4.2 Asiakkaan "
                                "kuntoutuspäivä)", "no_sections"))
    if problems:
        return None, sorted(problems)
    sections = tuple(Section(s["number"], s["heading"], s["line"], s["level"],
                             tuple(s["blocks"]), s["no_rule"], s["no_rule_line"])
                     for s in reader.sections)
    return TextFile(path, lang, version, reader.title, sections, raw), []


def language_problems(text: ServiceText) -> list[Problem]:
    """The Swedish text has exactly the Finnish text's sections (the same numbers)."""
    sv = text.files.get("sv")
    if sv is None:
        return []
    fi_numbers = set(text.fi.by_number)
    out = [Problem(sv.path, s.line, f"section {s.number} is not in {_name(text.fi)}; the "
                   "Swedish text has the Finnish text's sections, with the same numbers",
                   "language_mismatch") for s in sv.sections if s.number not in fi_numbers]
    missing = [s.title for s in text.fi.sections if s.number not in sv.by_number]
    if missing:
        out.append(Problem(sv.path, 1, f"the Swedish text lacks section"
                           f"{'s' if len(missing) > 1 else ''} {'; '.join(missing)} of "
                           f"{_name(text.fi)}; the two texts have the same sections",
                           "language_mismatch"))
    return out


def _name(text: TextFile) -> str:
    return text.path.rsplit("/", 1)[-1]


# -- citations -------------------------------------------------------------------------------

def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def resolve_citation(text: ServiceText, cited: str) -> tuple[tuple[str, ...], str | None]:
    """The section numbers ``cited`` names (``"4.2"``, ``"4.2 Asiakkaan kuntoutuspäivä"``,
    several separated by ``;``), or what is wrong with it, with "did you mean".

    >>> doc = TextFile("t.fi.md", "fi", "1", None, (Section("1", "Tapaamisten toteutus", 3),
    ...                Section("2", "Tapaamisten toteutus", 9)))
    >>> print(resolve_citation(ServiceText({"fi": doc}), "Tapaamisten toteutus")[1][-58:])
    mean "1 Tapaamisten toteutus" or "2 Tapaamisten toteutus"?
    """
    numbers: list[str] = []
    for part in cited.split(";"):
        part = " ".join(part.split())
        if not part:
            return (), (f"cite.section {cited!r} has an empty part; separate sections with "
                        "one ; (\"4.2 Asiakkaan kuntoutuspäivä; 5 Yhteystiedot\")")
        number, _, heading = part.partition(" ")
        number = number.rstrip(".")
        where = _name(text.fi)
        if not NUMBER_RE.match(number):
            return (), (f"cite.section {part!r} names no section of {where}: a citation "
                        f"starts with the section's number{_did_you_mean(text, part)}")
        section = text.get(number)
        if section is None:
            return (), (f"cite.section {part!r}: {where} has no section {number}"
                        f"{_did_you_mean(text, part)}")
        if heading and _norm(heading) not in {_norm(f.get(number).heading)
                                              for f in text.files.values() if f.get(number)}:
            return (), (f"cite.section {part!r}: section {number} of {where} is "
                        f"\"{section.heading}\", not \"{heading}\" — write \"{section.title}\" "
                        f"or the number alone")
        if number not in numbers:
            numbers.append(number)
    return tuple(numbers), None


def _did_you_mean(text: ServiceText, part: str) -> str:
    """``— did you mean "1 X" or "2 X"?`` over the sections' titles and headings."""
    titles = {s.title: s.title for s in text.sections}
    headings: dict[str, list[str]] = {}
    for s in text.sections:
        headings.setdefault(_norm(s.heading), []).append(s.title)
    wanted = _norm(part)
    found = headings.get(wanted) or headings.get(_norm(part.partition(" ")[2])) or []
    if not found:
        close = difflib.get_close_matches(wanted, list(headings), n=1, cutoff=0.6)
        found = headings[close[0]] if close else []
    if not found:
        found = difflib.get_close_matches(part, list(titles), n=2, cutoff=0.5)
    if not found:
        return f"; its sections: {_listed(text.sections)}"
    return " — did you mean " + " or ".join(f'"{t}"' for t in found[:3]) + "?"


def _listed(sections: Iterable[Section], most: int = 8) -> str:
    shown = [s.title for s in sections]
    more = f" … ({len(shown)} in all)" if len(shown) > most else ""
    return ", ".join(shown[:most]) + more


def find_quote(text: ServiceText, numbers: tuple[str, ...], quote: str) -> str | None:
    """``None`` when ``quote`` (``cite.quote``: the words a rule rests on) stands in one of
    the cited sections, in either language (spaces and case aside); else what is wrong, with
    the sentence it is closest to.

    >>> t = ServiceText({"fi": TextFile("1.fi.md", "fi", "1", None, (
    ...     Section("1", "A", 2, blocks=("Hae valtuus heti.",)),))})
    >>> find_quote(t, ("1",), "hae  VALTUUS"), find_quote(t, ("1",), "hae lupa heti")[-28:]
    (None, 'closest: "Hae valtuus heti."')
    """
    wanted = _norm(quote)
    sentences: list[str] = []
    for lang_text in text.files.values():
        for number in numbers:
            section = lang_text.get(number)
            if section is None:
                continue
            if wanted in _norm(" ".join((section.heading, *section.blocks))):
                return None
            sentences += section.sentences
    close = difflib.get_close_matches(quote, sentences, n=1, cutoff=0.3)
    hint = f'; closest: "{close[0]}"' if close else ""
    return (f"cite.quote {quote!r} is not in section {', '.join(numbers)} of "
            f"{_name(text.fi)}: quote the words the rule rests on exactly{hint}")


def quoted_in(section: Section | None, quote: str) -> bool:
    """Whether the words ``quote`` still stand in ``section`` (spaces and case aside)."""
    if section is None:
        return False
    return _norm(quote) in _norm(" ".join((section.heading, *section.blocks)))




def citation_views(cite: dict[str, Any], numbers: tuple[str, ...],
                   text: ServiceText | None) -> dict[str, dict[str, Any]]:
    """A rule's citation as each decision language shows it, built once at load: the
    ``cite`` mapping as written, its ``interpretation`` (written in fi, sv and en) in the
    decision's language, plus ``sections`` — each cited section's number, heading and
    the language they are in (the Swedish text's for ``sv`` where there is one, else
    Kela's Finnish) — and, under ``"<lang>+text"``, each section's sentences too."""
    out: dict[str, dict[str, Any]] = {}
    for lang in ("fi", "sv", "en"):
        for with_text in (False, True):
            view: dict[str, Any] = {k: (v.get(lang) or v.get("fi", "")
                                        if isinstance(v, dict) else v)
                                    for k, v in cite.items()}
            if text is not None and numbers:
                shown = text.in_language(lang)
                view["sections"] = [_section_view(shown, n, with_text) for n in numbers]
            out[f"{lang}+text" if with_text else lang] = view
    return out


def _section_view(shown: TextFile, number: str, with_text: bool) -> dict[str, Any]:
    section = shown.get(number)
    assert section is not None          # resolved at load
    view: dict[str, Any] = {"number": section.number, "heading": section.heading,
                            "lang": shown.lang}
    if with_text:
        view["sentences"] = list(section.sentences)
    return view


# -- what changed in a section's words ---------------------------------------------------------

@dataclass(frozen=True)
class WordChange:
    """A run of words: kept (``same``), taken out (``removed``) or put in (``added``)."""

    kind: str
    words: str


def word_diff(before: Section, after: Section, context: int = 6) -> tuple[WordChange, ...]:
    """The section's words, old to new, with at most ``context`` unchanged words kept on
    each side of a change (``…`` for the rest), so a long section shows what changed.

    >>> a = Section("4.2", "X", 1, blocks=("Päivä on 6 tuntia työpaikalla.",))
    >>> b = Section("4.2", "X", 1, blocks=("Päivä on vähintään 6 tuntia työpaikalla.",))
    >>> [(c.kind, c.words) for c in word_diff(a, b)]
    [('same', 'Päivä on'), ('added', 'vähintään'), ('same', '6 tuntia työpaikalla.')]
    """
    old, new = before.words, after.words
    out: list[WordChange] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    opcodes = matcher.get_opcodes()
    for n, (op, i1, i2, j1, j2) in enumerate(opcodes):
        if op == "equal":
            same = list(old[i1:i2])
            first, last = n == 0, n == len(opcodes) - 1
            if len(same) > 2 * context or (first and len(same) > context) or \
                    (last and len(same) > context):
                head = [] if first else same[:context]
                tail = [] if last else same[-context:]
                pieces = [" ".join(head), "…", " ".join(tail)]
                out.append(WordChange("same", " ".join(p for p in pieces if p)))
            else:
                out.append(WordChange("same", " ".join(same)))
            continue
        if i2 > i1:
            out.append(WordChange("removed", " ".join(old[i1:i2])))
        if j2 > j1:
            out.append(WordChange("added", " ".join(new[j1:j2])))
    return tuple(out)
