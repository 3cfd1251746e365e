"""No English-only words on a Finnish or Swedish explorer page.

Every page kind of :data:`tests.service.explorer.page_kinds.PAGE_KINDS`, on the repository's
real policies, is fetched in fi and sv through Flask's test client; its HTML is parsed with
:mod:`html.parser` and every visible text node (and every ``aria-label``, ``title``, ``alt``
and ``placeholder``) is compared with the English catalogue
(:data:`service.explorer.catalogue.LABELS`): a text that equals an English value which the
page's language says differently is a word someone forgot to translate. Skipped: ``<code>``
and ``<pre>`` (names and expressions as written in the policy), anything inside an element
whose ``lang`` differs from the page's (a Finnish quotation, an English interpretation, a
logged decision's stored messages), numbers and dates.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode

import pytest

from service import create_app
from service.database import upgrade
from service.explorer.catalogue import LABELS
from tests.service.conftest import PROVIDER_A
from tests.service.explorer.page_kinds import PAGE_KINDS, PageKind, log_decisions

ROOT = Path(__file__).resolve().parents[3]
PAGE_LANGUAGES = ("fi", "sv")

# Deliberate exceptions, each (language, text) with a comment saying why. Keep it empty.
KNOWN_GAPS: set[tuple[str, str]] = set()

_SKIPPED_TAGS = {"code", "pre", "script", "style", "kbd", "samp"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr"}
_SPOKEN_ATTRIBUTES = ("aria-label", "title", "alt", "placeholder")
_NOT_WORDS = re.compile(r"[\d\s.,:;/\-–—−+=<>≤≥()?!·%€#*→›]*")
_PUNCTUATION = " \t\n\r:;,.()?!·–—-"


class _Texts(HTMLParser):
    """Visible text nodes and spoken attributes that are in the page's own language."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page_lang = ""
        self.stack: list[tuple[str, bool]] = []       # (tag, text in it is checked)
        self.texts: list[str] = []

    def _checked(self) -> bool:
        return not self.stack or self.stack[-1][1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "html":
            self.page_lang = values.get("lang") or ""
        checked = self._checked() and tag not in _SKIPPED_TAGS
        lang = values.get("lang")
        if lang and self.page_lang and lang != self.page_lang:
            checked = False
        if checked:
            self.texts += [str(values[a]) for a in _SPOKEN_ATTRIBUTES if values.get(a)]
        if tag not in _VOID:
            self.stack.append((tag, checked))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):     # tolerate an unclosed <p> or <li>
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        if self._checked() and data.strip():
            self.texts.append(data)


def _pieces(text: str) -> set[str]:
    """The text and its parts between separators, each stripped of punctuation."""
    parts = {text, *re.split(r"\s[·|]\s|:\s|\(|\)|,\s|;\s", text)}
    out = {p.strip(_PUNCTUATION) for p in parts}
    return {p for p in out if p and not _NOT_WORDS.fullmatch(p)}


def english_only(html: str) -> list[str]:
    """The texts of a page that exist only in the English catalogue."""
    parser = _Texts()
    parser.feed(html)
    lang = parser.page_lang
    english = {value.strip(_PUNCTUATION): key for key, value in LABELS["en"].items()
               if value.strip(_PUNCTUATION) != LABELS[lang][key].strip(_PUNCTUATION)}
    found = []
    for text in parser.texts:
        for piece in _pieces(" ".join(text.split())):
            if piece in english and (lang, piece) not in KNOWN_GAPS:
                found.append(f"{piece!r} (catalogue key {english[piece]})")
    return found


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory):
    """The app on the real policies and fixtures, once for every page of this module."""
    var = tmp_path_factory.mktemp("languages") / "var"
    var.mkdir()
    url = f"sqlite:///{var / 'log.db'}"
    upgrade(url)
    app = create_app({
        "TESTING": True,
        "POLICIES_DIR": str(ROOT / "policies"),
        "FIXTURES_DIR": str(ROOT / "fixtures"),
        "DATABASE_URL": url,
        "VAR_DIR": str(var),
        "REHAB_RULES_HASH_KEY": "language-test",
        "POLICIES_BOOTSTRAP": True,
    })
    app.config["PAGE_KINDS_DECISION"] = log_decisions(app, PROVIDER_A)
    return app


def fetch(app, kind: PageKind, lang: str) -> str:
    """The page of ``kind`` in ``lang``, as its reader gets it (signed in, form sent)."""
    headers = {}
    if kind.role is not None:
        store = app.extensions["rehab_rules"].tokens
        raw = store.create(kind.role, PROVIDER_A if kind.role == "provider" else None,
                           f"language test {kind.role}")[0]
        headers["Authorization"] = f"Bearer {raw}"
    sep = "&" if "?" in kind.url else "?"
    url = f"{kind.url.format(decision=app.config['PAGE_KINDS_DECISION'])}{sep}" \
          f"{urlencode({'lang': lang})}"
    client = app.test_client()
    if kind.form is not None:
        form = client.get(url, headers=headers).get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        response = client.post(url, data={**kind.form, "csrf_token": token}, headers=headers)
    else:
        response = client.get(url, headers=headers)
    html = response.get_data(as_text=True)
    assert response.status_code == kind.status, html[:2000]
    assert f'<html lang="{lang}">' in html
    return html


@pytest.mark.parametrize("lang", PAGE_LANGUAGES)
@pytest.mark.parametrize("kind", PAGE_KINDS, ids=[k.name for k in PAGE_KINDS])
def test_no_english_only_words(app, kind: PageKind, lang: str):
    html = fetch(app, kind, lang)
    found = english_only(html)
    assert not found, (f"{kind.name} in {lang} shows words that exist only in English: "
                       + ", ".join(sorted(set(found))))


def test_the_check_finds_an_english_word_left_on_a_finnish_page():
    """The check itself: an untranslated label is found, the same word inside ``<code>`` or
    marked ``lang="en"`` is not."""
    english = LABELS["en"]["violations"]
    page = (f'<html lang="fi"><body><h2>{english}</h2><p>Tulos: <code>{english}</code> '
            f'<span lang="en">{english}</span> 5.12.2026 7,5</p></body></html>')
    assert english_only(page) == [f"{english!r} (catalogue key violations)"]
    assert english_only(page.replace(f"<h2>{english}</h2>", "")) == []
    labelled = '<html lang="sv"><body><nav aria-label="Breadcrumb"></nav></body></html>'
    assert english_only(labelled) == ["'Breadcrumb' (catalogue key breadcrumb)"]


def test_the_page_kinds_cover_the_explorer():
    """Each page kind once; the kinds the language and accessibility checks must see."""
    names = [k.name for k in PAGE_KINDS]
    assert len(names) == len(set(names))
    for needed in ("index", "policy", "version", "action", "diff", "text", "try",
                   "try-answer", "not-found", "forbidden"):
        assert needed in names


def test_every_fact_problem_code_has_words_in_the_catalogue():
    """Each code the engine gives a fact's problem (engine.errors.FactProblem) is said in
    every language, so "try it" never falls back to the English message."""
    codes: set[str] = set()
    for path in (ROOT / "engine").glob("*.py"):
        codes |= set(re.findall(r'FactProblem\(\s*"([a-z_]+)"', path.read_text("utf-8")))
    assert {"required", "above_max", "not_date", "not_one_of"} <= codes
    codes.discard("invalid")     # FactError's code for plain text, which the engine never gives
    missing = sorted(c for c in codes if f"fact_{c}" not in LABELS["en"])
    assert not missing, f"add fact_<code> to catalogues/*/language.yaml for: {missing}"
