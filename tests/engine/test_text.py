"""engine/text.py: reading a service description's text, naming its sections, citations."""

from __future__ import annotations

import textwrap

import pytest

from engine.store import load_folder
from engine.text import (
    Section,
    ServiceText,
    TextFile,
    citation_views,
    language_problems,
    parse_text,
    resolve_citation,
    word_diff,
)
from tests.conftest import DEMO, DEMO_TEXT, write_policy, write_text


def _parse(text: str, lang: str = "fi"):
    return parse_text(textwrap.dedent(text).encode(), f"demo/2024-01.{lang}.md", lang,
                      "2024-01")


def _problems(text: str) -> list[tuple[int, str]]:
    doc, problems = _parse(text)
    assert doc is None or not problems
    return [(p.line, p.message) for p in problems]


def test_sections_blocks_sentences_and_markers():
    doc, problems = _parse(DEMO_TEXT)
    assert problems == []
    assert doc.title == "Demo description"
    assert [s.title for s in doc.sections] == [
        "4.2 Kuntoutuspäivä", "4.3 Palkaton työ", "5 Määräaika", "6 Ryhmäkoko", "7 Ryhmät",
        "8 Henkilötunnus", "9 Yhteystiedot"]
    first = doc.get("4.2")
    assert first.line == 4
    assert first.sentences == ("Kuntoutuspäivän pituus on 6 tuntia.",
                               "Tästä vähintään 5 tuntia on työtä.")
    assert doc.get("4.3").blocks == ("Työ on palkatonta.",)      # the list mark is not text
    last = doc.get("9")
    assert (last.no_rule, last.no_rule_line) == ("contact information; no request shows it", 29)
    assert last.blocks == ("Kelan sähköpostiosoite.",)           # a comment is not text


def test_a_list_item_and_a_paragraph_are_blocks_and_sentences_split_where_one_starts():
    doc, _ = _parse("""\
        ## 1 Jousto
        Jousto on mahdollinen esim. sairauden vuoksi. Se kirjataan 6.8.2019 mennessä.
        jatkuu samalla rivillä.
        - yksi kohta ilman pistettä
        - toinen kohta
          jatkuu
        """)
    assert doc.get("1").sentences == (
        "Jousto on mahdollinen esim. sairauden vuoksi.",
        "Se kirjataan 6.8.2019 mennessä. jatkuu samalla rivillä.",
        "yksi kohta ilman pistettä", "toinen kohta jatkuu")


@pytest.mark.parametrize(("text", "expected"), [
    ("## Tapaamisten toteutus\ntext\n",
     [(1, "heading 'Tapaamisten toteutus' has no number; start it with the description's own "
          "number (## 4.2 Asiakkaan kuntoutuspäivä), or number the headings in order (1, 2, 3 "
          "…) when the source has none")]),
    ("## 4.2 A\nx\n## 4.2 B\ny\n",
     [(3, "section 4.2 is written twice (first at line 1); every section has a number of its "
          "own")]),
    ("## 4.2\nx\n", [(1, "section 4.2 has no heading; write it after the number (## 4.2 "
                        "Asiakkaan kuntoutuspäivä)")]),
    ("## 1 A\n<!-- no rule:   -->\n",
     [(2, "section 1: say why it needs no rule: <!-- no rule: contact information, no request "
          "shows it -->")]),
    ("<!-- no rule: why -->\n## 1 A\n",
     [(1, "a <!-- no rule: … --> marker belongs under the heading of the section it is about")]),
    ("## 1 A\n<!-- no rule: a -->\n<!-- no rule: b -->\n",
     [(3, "section 1 is marked no rule twice (first at line 2); keep one marker with the whole "
          "reason")]),
    ("## 1 A\n<!-- never closed\n", [(2, "a comment <!-- is never closed with -->; close it")]),
    ("# Title\nan introduction\n## 1 A\n",
     [(2, "text before the first numbered section can be cited by no rule; put it under a "
          "heading (## 1 …) or in a comment <!-- … -->")]),
    ("# Only a title\n", [(1, "no numbered sections; write each section of the description as "
                             "a heading with its number (## 4.2 Asiakkaan kuntoutuspäivä)")]),
    ("##4.2 Kuntoutuspäivä\nx\n", [(1, "'##4.2 Kuntoutuspäivä' is no heading: write a space "
                                      "after the #: ## 4.2 Kuntoutuspäivä")]),
    ("# 4.2 Kuntoutuspäivä\nx\n", [(1, "# 4.2 Kuntoutuspäivä: a section's heading starts with "
                                      "## (a single # is the document's title); write ## 4.2 "
                                      "Kuntoutuspäivä")]),
])
def test_a_malformed_text_is_one_problem_at_its_line(text, expected):
    assert _problems(text) == expected


def test_one_slip_is_one_problem_and_the_lines_below_it_say_nothing_more():
    assert [line for line, _ in _problems("## 1 A\nx\n## B\ny\n<!-- no rule: z -->\n")] == [3]


def test_a_multi_line_comment_and_text_after_it_on_the_same_line():
    doc, problems = _parse("## 1 A\nalku <!-- a note\nover lines --> loppu\n")
    assert problems == [] and doc.get("1").sentences == ("alku loppu",)


def test_not_utf8_or_binary_is_a_problem_never_an_exception():
    assert [p.code for p in parse_text(b"## 1 A\n\xff\n", "t.fi.md", "fi", "1")[1]] == [
        "encoding"]
    assert [p.code for p in parse_text(b"## 1 A\0", "t.fi.md", "fi", "1")[1]] == ["binary"]


def _text(*files: TextFile) -> ServiceText:
    return ServiceText({f.lang: f for f in files})


FI = TextFile("p/1.fi.md", "fi", "1", None, (
    Section("4.2", "Asiakkaan kuntoutuspäivä", 3, blocks=("Päivä on 6 tuntia. Työtä 5.",)),
    Section("5", "Tapaamisten toteutus", 7), Section("6", "Tapaamisten toteutus", 9)))
SV = TextFile("p/1.sv.md", "sv", "1", None, (
    Section("4.2", "Klientens rehabiliteringsdag", 3, blocks=("Dagen är 6 timmar.",)),
    Section("5", "Möten", 7), Section("6", "Möten", 9)))


@pytest.mark.parametrize(("cited", "numbers", "why"), [
    ("4.2", ("4.2",), None),
    ("4.2 Asiakkaan kuntoutuspäivä", ("4.2",), None),
    ("4.2   asiakkaan  KUNTOUTUSPÄIVÄ", ("4.2",), None),
    ("4.2 Klientens rehabiliteringsdag", ("4.2",), None),         # the Swedish heading
    ("5; 6 Tapaamisten toteutus", ("5", "6"), None),
    ("4.3 Asiakkaan kuntoutuspäivä", (),
     "cite.section '4.3 Asiakkaan kuntoutuspäivä': 1.fi.md has no section 4.3 — did you mean "
     "\"4.2 Asiakkaan kuntoutuspäivä\"?"),
    ("Tapaamisten toteutus", (),
     "cite.section 'Tapaamisten toteutus' names no section of 1.fi.md: a citation starts with "
     "the section's number — did you mean \"5 Tapaamisten toteutus\" or \"6 Tapaamisten "
     "toteutus\"?"),
    ("4.2 Asiakkaan kuntoutuspäivät", (),
     "cite.section '4.2 Asiakkaan kuntoutuspäivät': section 4.2 of 1.fi.md is \"Asiakkaan "
     "kuntoutuspäivä\", not \"Asiakkaan kuntoutuspäivät\" — write \"4.2 Asiakkaan "
     "kuntoutuspäivä\" or the number alone"),
    ("5;", (), "cite.section '5;' has an empty part; separate sections with one ; (\"4.2 "
               "Asiakkaan kuntoutuspäivä; 5 Yhteystiedot\")"),
    ("99 Jotain aivan muuta", (),
     "cite.section '99 Jotain aivan muuta': 1.fi.md has no section 99; its sections: 4.2 "
     "Asiakkaan kuntoutuspäivä, 5 Tapaamisten toteutus, 6 Tapaamisten toteutus"),
])
def test_a_citation_names_sections_by_number(cited, numbers, why):
    assert resolve_citation(_text(FI, SV), cited) == (numbers, why)


def test_the_decision_shows_a_section_in_its_language_where_kela_publishes_it():
    views = citation_views({"seed": "004", "section": "4.2"}, ("4.2",), _text(FI, SV))
    assert views["fi"] == {"seed": "004", "section": "4.2", "sections": [
        {"number": "4.2", "heading": "Asiakkaan kuntoutuspäivä", "lang": "fi"}]}
    assert views["sv"]["sections"][0]["heading"] == "Klientens rehabiliteringsdag"
    assert views["en"]["sections"][0]["lang"] == "fi"                   # Kela's own words
    assert views["fi+text"]["sections"][0]["sentences"] == ["Päivä on 6 tuntia.", "Työtä 5."]
    assert "sentences" not in views["fi"]["sections"][0]
    assert citation_views({"seed": "1", "section": "x"}, (), None)["sv"] == {
        "seed": "1", "section": "x"}


def test_the_swedish_text_has_the_finnish_sections():
    sv = TextFile("p/1.sv.md", "sv", "1", None, (Section("4.2", "Dag", 3),
                                                 Section("7", "Annat", 5)))
    assert [(p.line, p.message) for p in language_problems(_text(FI, sv))] == [
        (5, "section 7 is not in 1.fi.md; the Swedish text has the Finnish text's sections, "
            "with the same numbers"),
        (1, "the Swedish text lacks sections 5 Tapaamisten toteutus; 6 Tapaamisten toteutus of "
            "1.fi.md; the two texts have the same sections")]


def test_word_diff_shows_the_changed_words_with_some_context():
    long = " ".join(f"w{i}" for i in range(30))
    before = Section("1", "A", 1, blocks=(f"{long} on 6 tuntia.",))
    after = Section("1", "A", 1, blocks=(f"{long} on vähintään 6 tuntia.",))
    assert [(c.kind, c.words) for c in word_diff(before, after, context=3)] == [
        ("same", "… w28 w29 on"), ("added", "vähintään"), ("same", "6 tuntia.")]


# -- in a folder: read, loaded beside the version, digested ----------------------------------

def test_a_version_loads_its_text_and_its_citations_resolve(tmp_path):
    write_policy(tmp_path)
    write_text(tmp_path)
    files, policies, _, problems = load_folder(tmp_path)
    assert problems == []
    assert sorted(files.files) == ["demo/2024-01.fi.md", "demo/2024-01.yaml"]
    version = policies["demo"].versions[0]
    assert version.text.fi.get("9").no_rule
    assert {r.id: r.sections for r in version.rules}["TT-1-short"] == ("4.2",)


def test_an_unknown_section_is_a_problem_at_the_cite_line(tmp_path):
    path = write_policy(tmp_path, DEMO.replace('section: "4.3"', 'section: "4.4 Palkaton tyo"'))
    write_text(tmp_path)
    _, _, _, problems = load_folder(tmp_path)
    assert [(p.path, p.line, p.message) for p in problems] == [(
        str(path), 41, "rule TT-2-unpaid: cite.section '4.4 Palkaton tyo': 2024-01.fi.md has no "
        "section 4.4 — did you mean \"4.3 Palkaton työ\"?")]


def test_the_digest_covers_the_text(tmp_path):
    write_policy(tmp_path)
    _, before, _, _ = load_folder(tmp_path)
    text = write_text(tmp_path)
    _, with_text, _, _ = load_folder(tmp_path)
    text.write_text(DEMO_TEXT.replace("6 tuntia", "7 tuntia"), encoding="utf-8")
    _, changed, _, _ = load_folder(tmp_path)
    digests = [p["demo"].versions[0].digest for p in (before, with_text, changed)]
    assert len(set(digests)) == 3


@pytest.mark.parametrize(("name", "message"), [
    ("2024-01.en.md", "a service-description text is Kela's own, in Finnish or Swedish: name "
                      "it 2024-01.fi.md or 2024-01.sv.md, not 2024-01.en.md"),
    ("2024-01.md", "a service-description text says its language: name it 2024-01.fi.md "
                   "(Finnish) or 2024-01.sv.md (Swedish)"),
    ("2024-13.fi.md", "version file '2024-13' names a date that does not exist; fix the month "
                      "or day"),
])
def test_a_misnamed_text_is_a_problem(tmp_path, name, message):
    write_policy(tmp_path)
    (tmp_path / "demo" / name).write_text(DEMO_TEXT, encoding="utf-8")
    _, _, _, problems = load_folder(tmp_path)
    assert [(p.path.rsplit("/", 1)[-1], p.message) for p in problems] == [(name, message)]


def test_a_text_needs_its_version_and_swedish_needs_finnish(tmp_path):
    write_policy(tmp_path)
    write_text(tmp_path, version="2024-02")
    write_text(tmp_path, lang="sv")
    _, _, _, problems = load_folder(tmp_path)
    assert [(p.path.rsplit("/", 1)[-1], p.line, p.code) for p in problems] == [
        ("2024-01.sv.md", 1, "text_without_finnish"),
        ("2024-02.fi.md", 1, "text_without_version")]


def test_a_broken_text_is_reported_and_the_notes_beside_it_still_are_not_read(tmp_path):
    write_policy(tmp_path)
    write_text(tmp_path, "## 1 A\n## 1 B\n")
    (tmp_path / "demo" / "NOTES.md").write_text("## no number, not read")
    _, _, _, problems = load_folder(tmp_path)
    assert [(p.line, p.code) for p in problems] == [(2, "duplicate_section")]


def test_an_overlay_inherits_the_text_or_brings_its_own_whole(tmp_path):
    write_policy(tmp_path)
    write_text(tmp_path)
    overlay = textwrap.dedent("""\
        policy: demo
        version: "2024-06"
        extends: "2024-01"
        effective_from: 2024-06-01
        """)
    write_policy(tmp_path, overlay, version="2024-06")
    _, policies, _, problems = load_folder(tmp_path)
    assert problems == []
    base, over = policies["demo"].versions
    assert over.text is base.text
    write_text(tmp_path, DEMO_TEXT.replace("## 4.3 Palkaton työ", "## 4.4 Palkaton työ"),
               version="2024-06")
    _, _, _, problems = load_folder(tmp_path)
    assert [(p.path.rsplit("/", 1)[-1], p.line, p.message) for p in problems] == [(
        "2024-01.yaml", 41, "rule TT-2-unpaid: cite.section '4.3': 2024-06.fi.md has no section "
        "4.3; its sections: 4.2 Kuntoutuspäivä, 4.4 Palkaton työ, 5 Määräaika, 6 Ryhmäkoko, 7 "
        "Ryhmät, 8 Henkilötunnus, 9 Yhteystiedot (in version 2024-06, which inherits the rule: "
        "write it anew there, citing the section of its text)")]


def test_a_quote_must_stand_in_the_cited_section(tmp_path):
    quoted = DEMO.replace('section: "4.2"}', 'section: "4.2", quote: "vähintään 5 tuntia"}')
    write_policy(tmp_path, quoted)
    write_text(tmp_path)
    assert load_folder(tmp_path)[3] == []
    write_policy(tmp_path, quoted.replace("vähintään 5 tuntia", "vähintään 4 tuntia"))
    _, _, _, problems = load_folder(tmp_path)
    assert [(p.line, p.message) for p in problems] == [(
        32, "rule TT-1-short: cite.quote 'vähintään 4 tuntia' is not in section 4.2 of "
            "2024-01.fi.md: quote the words the rule rests on exactly; closest: \"Tästä "
            "vähintään 5 tuntia on työtä.\"")]
