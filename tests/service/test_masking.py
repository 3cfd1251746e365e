"""Personal identity codes never reach the database or the logs (service/masking.py)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import time
import unicodedata
from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn.config import Config
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from engine.personal import personal_texts
from service.gunicorn_logging import ScrubbingLogger
from service.masking import (
    HETU_PATTERN,
    Masker,
    ScrubFilter,
    _scrub_line,
    fold,
    get_logger,
    json_text,
    load_or_create_key,
    redact,
)
from tests.service.conftest import HETU, decision_body

OTHER_HETU = "010594Y9032"       # 2000s century sign Y (from 2023)


def test_hash_is_keyed_stable_and_case_blind():
    a, b = Masker(b"key-a"), Masker(b"key-b")
    assert a.hash(HETU) == a.hash(HETU.lower()) == a.hash(f" {HETU} ")
    assert a.hash(HETU) != b.hash(HETU)
    assert a.hash(HETU) != a.hash(OTHER_HETU)
    assert a.hash(HETU).startswith("hetu#") and HETU not in a.hash(HETU)


def test_pattern_finds_codes_with_every_century_sign_and_only_them():
    for sign in "-+ABCDEFYXWVU":
        assert HETU_PATTERN.search(f"x 131052{sign}308T y")
    for text_ in ("2025-04-01", "1234567-1", "131052-308", "131052Z308T", "991352-308T",
                  "2025-05-12T10:00:00"):
        assert not HETU_PATTERN.search(text_), text_


def test_a_code_glued_to_digits_or_typed_with_look_alike_characters_is_still_found():
    masker = Masker(b"k")
    for text_ in ("puh0401131052-308T", "id:9131052-308T", "131052\u2010308T",
                  "131052\u2013308T", "131052\u2212308T", "131052 308T", "131052\u00a0308T",
                  "131052\u00ad-308T", "13\u200b1052-308T", "131052\uff0d308T"):
        scrubbed = masker.scrub(text_)
        assert scrubbed.count(masker.hash(HETU)) == 1, repr(text_)   # the same pseudonym
        assert "308" not in scrubbed, repr(text_)


def test_decision_ids_are_never_masked():
    decision_id = "01a23a99-aec8-70d2-9cdb-131052a3084f"     # hex that reads 131052A3084
    text_ = f"decision {decision_id} about {HETU}"
    assert Masker(b"k").scrub(text_).startswith(f"decision {decision_id} about hetu#")
    assert redact(text_) == f"decision {decision_id} about <hetu>"


def test_redact_replaces_codes_in_keys_and_values_by_a_placeholder():
    assert redact({HETU: [f"'{HETU}' is not one of a, b", 3]}) == {
        "<hetu>": ["'<hetu>' is not one of a, b", 3]}


def test_mask_facts_hashes_personal_facts_and_scrubs_everything_else():
    masker = Masker(b"k")
    facts = {"client": "not-a-valid-code", "hours": 5, "note": f"about {OTHER_HETU}",
             "nested": {"list": [HETU, {"deep": f"({HETU})"}], OTHER_HETU: True},
             "quotes": "see not-a-valid-code"}
    masked = masker.mask_facts(facts, {"client"})
    assert masked["client"] == masker.hash("not-a-valid-code")
    assert masked["hours"] == 5
    assert masked["note"] == f"about {masker.hash(OTHER_HETU)}"
    assert masked["nested"]["list"] == [masker.hash(HETU), {"deep": f"({masker.hash(HETU)})"}]
    assert masker.hash(OTHER_HETU) in masked["nested"]
    assert "not-a-valid-code" not in str(masked)
    assert facts["client"] == "not-a-valid-code"          # the caller's dict is untouched


def test_a_blank_personal_code_leaves_the_other_texts_alone():
    """A code sent as "" or " " (read as not sent) once had its hash put at every position
    or for every space of the other facts; found by replaying the log (make bench)."""
    masker = Masker(b"k")
    for blank in ("", " ", "\u200b"):
        masked = masker.mask_facts({"client": blank, "upcoming": "   ", "note": "a b"},
                                   {"client"})
        assert masked == {"client": masker.hash(blank), "upcoming": "   ", "note": "a b"}
        assert masker.scrub_value(["a b"], personal_texts({"client": blank},
                                                                  {"client"})) == ["a b"]


def test_personal_lists_are_hashed_item_by_item():
    masker = Masker(b"k")
    assert masker.mask_facts({"ids": [HETU, None]}, {"ids"}) == {"ids": [masker.hash(HETU),
                                                                         None]}


def test_key_is_generated_once_and_reused(tmp_path: Path):
    first = load_or_create_key(None, tmp_path / "var")
    assert len(first) == 64
    assert load_or_create_key(None, tmp_path / "var") == first
    assert load_or_create_key("configured", tmp_path / "var") == b"configured"
    assert (tmp_path / "var" / "hash.key").stat().st_mode & 0o077 == 0


def test_scrub_filter_cleans_message_args_and_traceback(caplog):
    logger = get_logger("service.test")
    with caplog.at_level(logging.INFO, logger="service.test"):
        logger.info("facts %s", {"client": HETU})
        try:
            raise ValueError(f"bad {OTHER_HETU}")
        except ValueError:
            logger.exception("failed")
    assert HETU not in caplog.text and OTHER_HETU not in caplog.text
    assert "<hetu>" in caplog.text
    assert isinstance(logger.filters[0], ScrubFilter)


def _database_text(engine) -> str:
    with engine.connect() as conn:
        rows = [*conn.execute(text("SELECT * FROM decisions")).all(),
                *conn.execute(text("SELECT * FROM tokens")).all()]
    return repr(rows)


def test_no_clear_text_code_in_database_or_logs(app, client, tokens, caplog, capfd, tmp_path):
    facts = {"hours": 5, "client": HETU, "note": f"sisar {OTHER_HETU.lower()} mukana"}
    with caplog.at_level(logging.DEBUG):
        response = client.post("/v1/decisions", json=decision_body(facts=facts, explain=True),
                               headers=tokens["provider"])
        assert response.status_code == 200
        decision_id = response.get_json()["decision_id"]
        # the answer goes back to the sender unmasked: it is their own data
        assert OTHER_HETU.lower() in response.get_data(as_text=True)
        for who in ("provider", "auditor"):
            logged = client.get(f"/v1/decisions/{decision_id}", headers=tokens[who])
            assert HETU not in logged.get_data(as_text=True)
        listed = client.get("/v1/decisions", headers=tokens["planner"]).get_data(as_text=True)
        # a refused request must not log it either
        client.post("/v1/decisions", headers=tokens["provider"],
                    json=decision_body(facts={"hours": "x", "client": HETU}))

    services = app.extensions["rehab_rules"]
    stored = _database_text(services.log.engine)
    masker = services.masker
    assert decision_id in stored
    assert masker.hash(HETU) in stored and masker.hash(OTHER_HETU) in stored
    out, err = capfd.readouterr()
    for place in (stored, listed, caplog.text, out, err):
        for code in (HETU, OTHER_HETU):
            assert code.lower() not in place.lower()
    raw = b"".join(p.read_bytes() for p in (tmp_path / "var").glob("log.db*"))
    assert HETU.encode() not in raw and OTHER_HETU.lower().encode() not in raw.lower()


def test_codes_glued_to_letters_or_digits_are_masked_too():
    masker = Masker(b"k" * 32)
    text = masker.scrub("hetu131052-308T and _131052-308T and 131052-308Tx")
    assert "131052" not in text and text.count("hetu#") == 3


# --- one code, many spellings: each is found and gets the pseudonym of the ASCII code --------

def _spelled(digits: str, text: str = HETU) -> str:
    """``text`` with its ASCII digits written with ``digits`` (the ten, 0 to 9)."""
    return text.translate(str.maketrans("0123456789", digits))


def _assert_masked_as_ascii(spelled: str, code: str = HETU) -> None:
    masker = Masker(b"k")
    assert masker.hash(spelled) == masker.hash(code), repr(spelled)
    scrubbed = masker.scrub(f"asiakas {spelled}, kiitos")
    assert scrubbed == f"asiakas {masker.hash(code)}, kiitos", repr(spelled)
    assert redact(f"({spelled})") == "(<hetu>)", repr(spelled)


def test_full_width_digits_are_masked_as_the_ascii_code():
    spelled = _spelled("０１２３４５６７８９")
    assert spelled == "１３１０５２-３０８T"
    _assert_masked_as_ascii(spelled)
    _assert_masked_as_ascii("１3１0５2-308T")             # mixed with ASCII digits


def test_full_width_letters_and_dash_are_masked_as_the_ascii_code():
    _assert_masked_as_ascii("131052-308Ｔ")
    _assert_masked_as_ascii("１３１０５２－３０８ｔ")          # full-width hyphen, small letter
    _assert_masked_as_ascii("０１０５９４Ｙ９０３２", OTHER_HETU)   # full-width century sign


def test_arabic_indic_digits_are_masked_as_the_ascii_code():
    _assert_masked_as_ascii(_spelled("٠١٢٣٤٥٦٧٨٩"))          # U+0660…
    _assert_masked_as_ascii(_spelled("۰۱۲۳۴۵۶۷۸۹"))          # extended (Persian), U+06F0…


def test_devanagari_digits_are_masked_as_the_ascii_code():
    _assert_masked_as_ascii(_spelled("०१२३४५६७८९"))


def test_mathematical_bold_digits_are_masked_as_the_ascii_code():
    bold = "".join(chr(0x1D7CE + i) for i in range(10))
    assert unicodedata.normalize("NFKC", bold) == "0123456789"
    _assert_masked_as_ascii(_spelled(bold))


def test_every_unicode_decimal_digit_spelling_is_masked_as_the_ascii_code():
    """Every run of ten decimal digits 0…9 in Unicode (str.isdecimal), not a chosen few."""
    zeros = [cp for cp in range(sys.maxunicode + 1)
             if chr(cp).isdecimal() and unicodedata.decimal(chr(cp)) == 0]
    assert len(zeros) > 60
    for zero in zeros:
        digits = "".join(chr(zero + i) for i in range(10))
        assert [unicodedata.decimal(d) for d in digits] == list(range(10)), hex(zero)
        _assert_masked_as_ascii(_spelled(digits))


def test_folding_keeps_the_text_around_a_code_and_decision_ids():
    masker = Masker(b"k")
    decision_id = "01a23a99-aec8-70d2-9cdb-131052a3084f"
    text_ = f"Ｈｕｏｍ: ﬁ {decision_id} １３１０５２-３０８Ｔ."
    assert masker.scrub(text_) == f"Ｈｕｏｍ: ﬁ {decision_id} {masker.hash(HETU)}."
    assert fold("١٣١٠٥٢-٣٠٨T") == HETU


def test_percent_encoded_code_in_the_query_string_is_masked_in_the_access_log(capsys):
    cfg = Config()
    cfg.set("accesslog", "-")
    cfg.set("access_log_format", '"%(r)s" q=%(q)s')
    log = ScrubbingLogger(cfg)
    full_width_one = "%EF%BC%91"                           # "１" in UTF-8
    query = f"cursor=200922%2D123X&other={full_width_one}31052%2d308T&limit=5"
    uri = f"/v1/decisions?{query}"
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": uri, "PATH_INFO": "/v1/decisions",
               "QUERY_STRING": query, "SERVER_PROTOCOL": "HTTP/1.1",
               "REMOTE_ADDR": "127.0.0.1"}
    resp = SimpleNamespace(status="422 UNPROCESSABLE ENTITY", sent=10, headers=[],
                           response_length=10)
    req = SimpleNamespace(headers=[], path="/v1/decisions", query=query, uri=uri,
                          method="GET", version=(1, 1))
    log.access(resp, req, environ, dt.timedelta(seconds=0.01))
    for handler in log.access_log.handlers:
        handler.flush()
    out = capsys.readouterr().out
    assert out.count("cursor=<hetu>&other=<hetu>&limit=5") == 2, out     # request line and q
    assert "200922" not in out and "31052" not in out and "123X" not in out


def test_full_width_code_in_a_message_that_prints_a_fact_is_masked_in_the_decision_log(
        app, client, tokens, tmp_path):
    spelled = "１３１０５２－３０８Ｔ"
    facts = {"hours": 5, "client": spelled, "note": f"sisar {spelled}"}
    response = client.post("/v1/decisions", json=decision_body(facts=facts),
                           headers=tokens["provider"])
    assert response.status_code == 200
    answer = response.get_json()
    assert any(spelled in n["message"] for n in answer["notices"])   # the message prints it
    services = app.extensions["rehab_rules"]
    masker = services.masker
    logged = client.get(f"/v1/decisions/{answer['decision_id']}",
                        headers=tokens["auditor"]).get_json()
    assert logged["facts"]["client"] == masker.hash(HETU)
    assert logged["facts"]["note"] == f"sisar {masker.hash(HETU)}"
    assert any(masker.hash(HETU) in n["message"] for n in logged["notices"])
    stored = _database_text(services.log.engine)
    raw = b"".join(p.read_bytes() for p in (tmp_path / "var").glob("log.db*"))
    for place in (stored, str(logged), raw.decode("utf-8", "replace")):
        assert "131052" not in fold(place) and "１" not in place


# --- one pass: mask_decision against the text-by-text scrub -----------------------------

def _by_text(masker: Masker, facts, personal, results, findings):
    known = personal_texts(facts, personal)
    return (masker.mask_facts(facts, personal), masker.scrub_value(results, known),
            masker.scrub_value(findings, known))


def _check_one_pass(masker: Masker, facts, personal, results, findings) -> bool:
    """mask_decision == the scrub text by text; its JSON texts are those of what it masked.
    True when it took the one-pass way (texts written)."""
    masked = masker.mask_decision(facts, personal, results, findings)
    assert (masked.facts, masked.results, masked.findings) == _by_text(
        masker, facts, personal, results, findings)
    if masked.texts is not None:
        assert masked.texts == {"facts": json.dumps(masked.facts, ensure_ascii=False),
                                "results": json.dumps(masked.results, ensure_ascii=False),
                                "findings": json.dumps(masked.findings, ensure_ascii=False)}
    return masked.texts is not None


def _findings(message: str) -> dict:
    return {"violations": [{"rule": "TS-1", "message": message, "cite": {"seed": "000"}}],
            "warnings": [], "notices": [], "obligations": []}


ONE_PASS_CASES = [
    # (facts, personal, results, findings, one pass expected)
    ({"hours": 5, "note": "ääkköset"}, set(), {"ok": True}, _findings("Liian lyhyt"), True),
    ({"client": HETU, "hours": 5}, {"client"}, {}, _findings("5 h < 6 h"), True),
    ({"client": [HETU, None], "hours": 5}, {"client"}, {}, _findings("ok"), True),
    ({"client": None}, {"client"}, {}, _findings("ok"), True),
    ({"client": "", "note": "a b"}, {"client"}, {}, _findings("a b"), True),
    ({"note": f"about {HETU}"}, set(), {}, _findings("ok"), False),
    ({"note": "x"}, set(), {"who": OTHER_HETU}, _findings("ok"), False),
    ({"note": "x"}, set(), {}, _findings(f"asiakas {HETU}"), False),
    ({HETU: 1}, set(), {}, _findings("ok"), False),
    ({"nested": {"k": [{"deep": HETU.lower()}]}}, set(), {}, _findings("ok"), False),
    ({"client": "12345", "note": "id 12345"}, {"client"}, {}, _findings("ok"), False),
    ({"client": "12345"}, {"client"}, {}, _findings("väärä 12345"), False),
    ({"client": "12345"}, {"client"}, {"12345": 1}, _findings("ok"), False),
    ({"client": 'a"b', "note": 'a"b'}, {"client"}, {}, _findings("ok"), False),
    ({"client": "a\\b"}, {"client"}, {}, _findings("a\\b"), False),
    ({"client": "a\nb"}, {"client"}, {}, _findings("x"), False),
    ({"note": "１３１０５２-３０８Ｔ"}, set(), {}, _findings("ok"), False),
    ({"note": "x"}, set(), {}, _findings("١٣١٠٥٢-٣٠٨T"), False),
    ({"note": "131052\u2011308T"}, set(), {}, _findings("ok"), False),
    ({"note": "1310\u200b52-308T"}, set(), {}, _findings("ok"), False),
    ({"note": 'quote " and \\ and \n'}, set(), {}, _findings("tab\there"), False),
    ({"hours": 1310523081}, set(), {"n": 131052.308}, _findings("ok"), True),
]


def test_mask_decision_equals_the_scrub_text_by_text():
    masker = Masker(b"k")
    for facts, personal, results, findings, one_pass in ONE_PASS_CASES:
        assert _check_one_pass(masker, facts, personal, results, findings) is one_pass, facts


def test_a_decision_whose_texts_were_seen_before_is_masked_the_same():
    """The masker keeps the texts it found clean (results and findings recur): every case
    masks the same the second time, when its clean texts come from the cache."""
    masker = Masker(b"k")
    for _ in range(2):
        for facts, personal, results, findings, one_pass in ONE_PASS_CASES:
            assert _check_one_pass(masker, facts, personal, results, findings) is one_pass


def test_the_clean_texts_kept_never_hold_a_code_however_it_is_spelled():
    """Only a text the full check finds clean is kept; every spelling of a code (full-width,
    other digits, look-alike dashes, invisible characters, percent escapes, mojibake) inside
    a finding's message is found every time, the first or the second, and never kept."""
    from service.masking import _CLEAN, _clean

    spellings = [*CORPUS, "131052\u2011308T", "131052\u200b-308T", "131052\\u2011308T",
                 "\u0661\u0663\u0661\u0660\u0665\u0662\u2013\u0663\u0660\u0668T",
                 "\U0001d7cf\U0001d7d1\U0001d7cf\U0001d7ce\U0001d7d3\U0001d7d0-308T",
                 "131052 308T", "131052\u00a0308T"]
    for spelling in spellings:
        for written in (spelling, json.dumps(_findings(f"asiakas {spelling}"),
                                             ensure_ascii=False)):
            assert not _clean(written), written
            assert not _CLEAN.holds(written) and not _CLEAN.holds(written), written
            assert written not in _CLEAN._texts
    clean = json.dumps(_findings("Liian lyhyt päivä: 5 h < 6 h"), ensure_ascii=False)
    assert _CLEAN.holds(clean) and clean in _CLEAN._texts and _CLEAN.holds(clean)


def test_the_clean_texts_kept_are_bounded():
    from service.masking import _CleanTexts

    kept = _CleanTexts()
    for i in range(kept.SIZE + 10):
        assert kept.holds(f"viesti {i}")
    assert len(kept._texts) == kept.SIZE and "viesti 0" not in kept._texts
    long = "x" * (kept.LONGEST + 1)
    assert kept.holds(long) and long not in kept._texts


_PIECES = st.sampled_from([HETU, OTHER_HETU, "131052", "-308T", "308T", "12345", "１３",
                           "٣", "\u2011", "\u200b", "\u00ad", '"', "\\", "\n", "ä", "x",
                           " ", "0", "1", "A", "-", "+", "hetu#"])
_TEXTS = st.lists(_PIECES, max_size=6).map("".join)
_VALUES = st.recursive(st.one_of(_TEXTS, st.integers(), st.none(), st.booleans()),
                       lambda inner: st.one_of(st.lists(inner, max_size=3),
                                               st.dictionaries(_TEXTS, inner, max_size=3)),
                       max_leaves=8)


@pytest.mark.slow
@settings(max_examples=800, deadline=None)
@given(facts=st.dictionaries(st.sampled_from(["client", "other", "note", "hours", HETU]),
                             _VALUES, max_size=4),
       personal=st.sets(st.sampled_from(["client", "other"]), max_size=2),
       results=st.dictionaries(_TEXTS, _VALUES, max_size=2),
       message=_TEXTS)
def test_generated_decisions_mask_alike_in_one_pass(facts, personal, results, message):
    _check_one_pass(Masker(b"k"), facts, personal, results, _findings(message))


def test_a_record_is_scrubbed_once_however_many_filters_it_passes(monkeypatch):
    import service.masking as masking

    calls = []
    real = masking._scrub_line
    monkeypatch.setattr(masking, "_scrub_line", lambda text: calls.append(text) or real(text))
    first, second = ScrubFilter(), ScrubFilter()
    record = logging.LogRecord("service.x", logging.INFO, __file__, 1, "asiakas %s", (HETU,),
                               None)
    assert first.filter(record) and second.filter(record)
    assert record.getMessage() == "asiakas <hetu>" and len(calls) == 1
    record.msg, record.args = "toinen %s", (OTHER_HETU,)     # changed after the first: again
    assert second.filter(record)
    assert record.getMessage() == "toinen <hetu>" and len(calls) == 2


# --- issue 21: every Default_Ignorable character, escapes layer upon layer, mojibake -------

def test_every_default_ignorable_character_inside_a_code_leaves_it_a_code():
    """U+034F, U+2062, U+180E and U+FE0F went unmasked; now the whole set, at every gap."""
    from engine.invisible import DEFAULT_IGNORABLE

    masker = Masker(b"k")
    chars = [chr(cp) for lo, hi in DEFAULT_IGNORABLE for cp in range(lo, hi + 1)]
    assert {"\u034f", "\u2062", "\u180e", "\ufe0f"} <= set(chars)
    for i, char in enumerate(chars):
        at = 1 + i % (len(HETU) - 1)                # somewhere inside, never at an end
        spelled = HETU[:at] + char + HETU[at:]
        assert masker.scrub(f"x {spelled} y") == f"x {masker.hash(HETU)} y", hex(ord(char))
        assert redact(spelled) == "<hetu>", hex(ord(char))


def _quote_layers(text: str, layers: int) -> str:
    from urllib.parse import quote

    for _ in range(layers):
        text = quote(text, safe="")
    return text


def test_percent_encoded_codes_are_found_however_many_times_encoded():
    masker = Masker(b"k")
    for layers in range(1, 6):
        for code in (HETU, "１３１０５２-３０８Ｔ", "131052\u2062-308T"):
            encoded = _quote_layers(code, layers)
            line = f"GET /v1/decisions?cursor={encoded}&limit=5"
            assert "131052" not in reveal_digits(_scrub_line(line)), (layers, line)
            assert "131052" not in reveal_digits(masker.scrub(f"note {encoded}")), encoded
            assert "131052" not in reveal_digits(str(redact({"k": encoded}))), encoded


def test_latin1_mojibake_of_utf8_is_read_as_the_code():
    """gunicorn decodes the request line and headers as latin-1: a full-width code arrives
    as 'ï¼\\x91ï¼\\x93…', which a reader turns back into the code."""
    for code in ("１３１０５２-３０８Ｔ", "131052\u034f-308T", "131052\u2013308T"):
        garbled = code.encode("utf-8").decode("latin-1")
        assert garbled != code
        assert "<hetu>" in _scrub_line(f'"GET /x/{garbled} HTTP/1.1" "{garbled}"')
        assert "131052" not in reveal_digits(_scrub_line(f"ua={garbled}"))
        assert "131052" not in reveal_digits(Masker(b"k").scrub(garbled))


def test_text_without_a_code_is_kept_as_written():
    for plain in ("100% sure", "%zz %4", "ä ö å Ã", "a%20b %252D", "2025-03-10 12:00"):
        assert _scrub_line(plain) == plain and Masker(b"k").scrub(plain) == plain


# The corpus' detector, independent of the scrubber: every layer of escapes and mojibake
# undone, every spelling folded, invisible characters and every separator dropped; what is
# left must not hold the code's nine digits in a row.
def reveal_digits(text: str) -> str:
    from urllib.parse import unquote

    for _ in range(20):
        before = text
        text = unquote(text)
        try:
            text = text.encode("latin-1").decode("utf-8")
        except UnicodeError:
            pass
        if text == before:
            break
    text = fold(text)
    return "".join(c for c in text if c.isascii() and c.isalnum()).upper()


def leaks(text: str, digits: tuple[str, ...] = ("131052308", "010594903")) -> list[str]:
    found = reveal_digits(text)
    return [d for d in digits if d in found]


# Spellings of the two codes that reached the database, logs or pages in clear (issue 21).
CORPUS = [
    HETU, HETU.lower(), OTHER_HETU, "１３１０５２－３０８Ｔ", "١٣١٠٥٢-٣٠٨T",
    "131052\u034f-308T", "1310\u206252-308T", "131052-308\u180eT", "131052-3\ufe0f08T",
    "131052\u00ad-308T", "13\u200b1052\u2013308T", "131052\U000e0041-308T",
    "131052%2D308T", "131052%252D308T", "131052%25252D308T", "%31%33%31%30%35%32-308T",
    "１３１０５２-３０８Ｔ".encode().decode("latin-1"),          # mojibake
]


def _all_text(app, tmp_path) -> dict[str, str]:
    """The database (every table) and its files on disk, WAL included."""
    engine = app.extensions["rehab_rules"].log.engine
    with engine.connect() as conn:
        tables = {t: repr(conn.execute(text(f"SELECT * FROM {t}")).all())
                  for t in ("decisions", "tokens", "policy_bundles", "bundle_activations")}
    files = {p.name: p.read_bytes() for p in (tmp_path / "var").glob("log.db*")}
    assert any(name.endswith("-wal") for name in files), sorted(files)
    return {**tables, **{name: data.decode("utf-8", "replace") + data.decode("latin-1")
                         for name, data in files.items()}}


def test_notes_bundle_texts_and_token_names_are_stored_masked(app, client, tokens, tmp_path):
    """They were stored verbatim."""
    from tests.service.conftest import VERSION_1

    masker = app.extensions["rehab_rules"].masker
    for i, code in enumerate(CORPUS):
        tokens.store.create("auditor", None, f"kuka {code}")
        policy = VERSION_1.replace("policy: tiny", f"policy: p{i}").replace(
            "source: {document: Testikuvaus}",
            f"# esimerkki: {code}\nsource: {{document: \"Testikuvaus {code}\"}}")
        response = client.post("/v1/admin/bundles", headers=tokens["planner"], json={
            "files": {f"p{i}/2025-01.yaml": policy}, "note": f"asiakas {code}"})
        assert response.status_code == 201, response.get_data(as_text=True)
        assert not leaks(response.get_data(as_text=True))
    stored = _all_text(app, tmp_path)
    for place, content in stored.items():
        assert not leaks(content), place
    assert masker.hash(HETU) in stored["policy_bundles"] and masker.hash(HETU) in stored["tokens"]
    # what is stored is what is served (the last set published): the digest covers it
    served = client.get(f"/v1/policies/p{len(CORPUS) - 1}/versions/2025-01",
                        headers=tokens["auditor"])
    assert served.get_json()["source"]["document"] == f"Testikuvaus {masker.hash(HETU)}"


def test_the_cli_masks_a_token_name_and_a_note_too(tmp_path, policies_dir, monkeypatch):
    from click.testing import CliRunner

    from service import cli
    from service.database import make_engine

    url = f"sqlite:///{tmp_path / 'var' / 'log.db'}"
    env = {"REHAB_RULES_HASH_KEY": "k", "VAR_DIR": str(tmp_path / "var")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()
    assert runner.invoke(cli.db, ["upgrade", "--database-url", url]).exit_code == 0
    for code in CORPUS:
        result = runner.invoke(cli.tokens, ["create", "--role", "ops", "--name", f"x {code}",
                                            "--database-url", url])
        assert result.exit_code == 0, result.output
    result = runner.invoke(cli.publish, [str(policies_dir), "--note", " ".join(CORPUS),
                                         "--database-url", url])
    assert result.exit_code == 0, result.output
    engine = make_engine(url)
    with engine.connect() as conn:
        dump = repr(conn.execute(text("SELECT * FROM tokens")).all()) + repr(
            conn.execute(text("SELECT note FROM policy_bundles")).all())
    assert not leaks(dump) and Masker(b"k").hash(HETU) in dump
    listed = runner.invoke(cli.tokens, ["list", "--database-url", url]).output
    assert not leaks(listed)


def test_no_page_echoes_a_code_back_in_its_text_or_its_links(client):
    """"try it" by GET put the code into the page's language links; error pages quoted
    the path and the query."""
    from urllib.parse import quote

    try_url = "/explorer/policies/tiny/versions/2025-01/actions/day/try"
    for code in CORPUS:
        q = quote(code, safe="")
        for url in (f"{try_url}?as_of=2025-03-10&f.hours=5&f.client={q}&f.note={q}",
                    f"{try_url}?f.note=asiakas%20{q}&lang=sv",
                    f"/explorer/policies/{q}", f"/explorer/policies/tiny/versions/{q}",
                    f"/explorer/policies/tiny/versions/2025-01/actions/{q}",
                    f"/explorer/decisions/{q}", f"/explorer?x={q}"):
            response = client.get(url)
            html = response.get_data(as_text=True)
            assert response.status_code in (200, 401, 404), (url, response.status_code)
            assert not leaks(html), (url, [line for line in html.splitlines()
                                           if leaks(line)])
        response = client.post(try_url, data={"as_of": "2025-03-10", "f.hours": "5",
                                              "f.client": code, "f.note": code})
        assert not leaks(response.get_data(as_text=True)), code


# --- the corpus through a real gunicorn: every place text enters, every place it is kept ---

def _raw_http(port: int, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """One request written byte for byte (any method, UTF-8 in the request line and the
    headers, as the probe sent them); the status (0 if none) and the body."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head + b"\r\nConnection: close\r\nContent-Length: "
                     + str(len(body)).encode() + b"\r\n\r\n" + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head_, _, rest = data.partition(b"\r\n\r\n")
    parts = head_.split(b" ", 2)
    return (int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0), rest


@pytest.mark.slow
def test_the_corpus_leaves_no_code_in_the_database_wal_logs_metrics_or_pages(
        policies_dir, sqlite_url, tmp_path):
    """Issue 21's figure: every spelling of the corpus sent through every entry point — JSON
    facts and keys, the batch, a draft's files and note, paths, queries, methods, headers,
    the request line in raw UTF-8, Idempotency-Key, "try it" by GET and POST, explorer
    paths, the sign-in form, a token's name — and then 0 codes in clear in the database
    (every table), its files (WAL included), gunicorn's access and error logs, /metrics
    and every page."""
    import os
    import subprocess
    from urllib.parse import quote

    from service.cli import gunicorn_args
    from service.metrics import multiprocess_environment
    from tests.service.conftest import VERSION_1
    from tests.service.test_gunicorn import ROOT, call, listener

    sock = listener()
    port = sock.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": sqlite_url, "POLICIES_DIR": str(policies_dir),
           "VAR_DIR": str(tmp_path / "var"), "REHAB_RULES_HASH_KEY": "k", "ACCESS_LOG": "1",
           "LOG_LEVEL": "DEBUG", "PYTHONPATH": str(ROOT), "BUNDLE_CHECK_SECONDS": "0"}
    env.update(multiprocess_environment(tmp_path / "var", env))
    cli = Path(sys.executable).with_name("rehab-rules")
    tokens = {}
    for role, provider in (("provider", "1234567-1"), ("planner", None)):
        args = [str(cli), "tokens", "create", "--role", role, "--name",
                f"{role} " + " ".join(CORPUS), "--database-url", sqlite_url]
        created = subprocess.run(args + (["--provider-id", provider] if provider else []),
                                 env=env, capture_output=True, text=True, check=True)
        tokens[role] = created.stdout.strip()
    log_path = tmp_path / "gunicorn.log"
    log = log_path.open("wb")
    args = gunicorn_args("127.0.0.1", port, 2, control_socket=False, fd=sock.fileno())
    args[-1:-1] = ["--access-logfile", "-", "--log-level", "debug"]
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", *args],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            pass_fds=[sock.fileno()])
    sock.close()                                    # gunicorn listens on its own copy
    pages: list[str] = []
    sent = 0
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if call(port, "GET", "/v1/health")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        provider = f"Authorization: Bearer {tokens['provider']}".encode()
        planner = f"Authorization: Bearer {tokens['planner']}".encode()
        try_path = "/explorer/policies/tiny/versions/2025-01/actions/day/try"
        for i, code in enumerate(CORPUS):
            u8, q = code.encode("utf-8"), quote(code, safe="").encode()
            facts = {"hours": 5, "client": code, "note": f"asiakas {code}", code: 1}
            body = json.dumps(decision_body(facts=facts), ensure_ascii=False).encode()
            ok = json.dumps(decision_body(facts={k: v for k, v in facts.items() if k != code}),
                            ensure_ascii=False).encode()
            requests = [
                (b"POST /v1/decisions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 + provider + b"\r\nUser-Agent: " + u8 + b"\r\nReferer: /r?c=" + q, body),
                (b"POST /v1/decisions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 + provider + b"\r\nIdempotency-Key: k" + str(i).encode() + q[:200], ok),
                (b"POST /v1/decisions/batch HTTP/1.1\r\nHost: x\r\nContent-Type: "
                 b"application/json\r\n" + provider,
                 b'{"decisions": [' + ok + b", " + body + b"]}"),
                (b"GET /v1/decisions?cursor=" + q + b"&policy=" + q + b" HTTP/1.1\r\nHost: x\r\n"
                 + planner, b""),
                (b"GET /v1/decisions/" + u8 + b"?x=" + u8 + b" HTTP/1.1\r\nHost: x\r\n" + planner,
                 b""),
                (b"GET /v1/" + q + b"/" + quote(q.decode(), safe="").encode()
                 + b" HTTP/1.1\r\nHost: x", b""),
                (b"131052-308T /v1/health HTTP/1.1\r\nHost: x", b""),
                (u8 + b" /v1/decisions HTTP/1.1\r\nHost: x", b""),
                (b"POST /v1/admin/bundles HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                 b"\r\n" + planner, json.dumps({
                     "note": f"asiakas {code}", "activate": False, "files": {
                         "tiny/2025-01.yaml": VERSION_1 + f"# esimerkki {code}\n",
                         "tiny/2025-06.yaml": VERSION_1.replace("2025-01", "2025-06")}},
                     ensure_ascii=False).encode()),
                (b"POST /v1/policies/tiny/impact HTTP/1.1\r\nHost: x\r\nContent-Type: "
                 b"application/json\r\n" + planner,
                 json.dumps({"version": code, "files": {f"{code}.yaml": code}},
                            ensure_ascii=False).encode()),
            ]
            explorer = [
                try_path.encode() + b"?as_of=2025-03-10&f.hours=5&f.client=" + q + b"&f.note=" + q,
                try_path.encode() + b"?f.note=" + u8 + b"&lang=" + q,
                b"/explorer/policies/" + q, b"/explorer/decisions/" + q,
                b"/explorer/policies/tiny/versions/2025-01/actions/" + q,
                b"/explorer/policies/tiny/diff?from=" + q + b"&to=2025-06",
            ]
            requests += [(b"GET " + path + b" HTTP/1.1\r\nHost: x", b"") for path in explorer]
            form = ("as_of=2025-03-10&f.hours=5&f.client=" + q.decode() + "&f.note=" + q.decode()
                    ).encode()
            requests += [
                (b"POST " + try_path.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: "
                 b"application/x-www-form-urlencoded", form),
                (b"POST /explorer/login HTTP/1.1\r\nHost: x\r\nContent-Type: "
                 b"application/x-www-form-urlencoded", b"token=" + q + b"&next=/explorer/" + q),
            ]
            for head, payload in requests:
                status, answer = _raw_http(port, head, payload)
                sent += 1
                assert status != 500, (head, answer[:500])
                if head.split(b" ", 2)[1].startswith(b"/explorer"):
                    pages.append(answer.decode("utf-8", "replace"))
        status, metrics = _raw_http(port, b"GET /metrics HTTP/1.1\r\nHost: x")
        assert status == 200
        # the database's files while the workers hold them open: the last connection to
        # close checkpoints the WAL into the database and removes it
        files = {p.name: p.read_bytes()
                 for p in Path(sqlite_url.split("///", 1)[1]).parent.glob("log.db*")}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    from service.database import make_engine

    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        tables = [r[0] for r in conn.execute(text(
            "SELECT name FROM sqlite_master WHERE type = 'table'"))]
        database = {t: repr(conn.execute(text(f'SELECT * FROM "{t}"')).all()) for t in tables}
    engine.dispose()
    assert any(name.endswith("-wal") for name in files)
    logged = log_path.read_bytes()
    # both logs were written: the access log and the service's decision lines
    assert b'"POST /v1/decisions HTTP/1.1" 200' in logged and b"service.decisions" in logged
    places = {**{f"table {t}": v for t, v in database.items()},
              **{f"file {n}": d.decode("utf-8", "replace") + d.decode("latin-1")
                 for n, d in files.items()},
              "gunicorn access and error log": logged.decode("utf-8", "replace")
              + logged.decode("latin-1"),
              "metrics": metrics.decode("utf-8", "replace"),
              **{f"page {i}": p for i, p in enumerate(pages)}}
    found = {place: leaks(content) for place, content in places.items() if leaks(content)}
    assert found == {}, {p: [line for line in places[p].splitlines() if leaks(line)][:3]
                         for p in found}
    assert sent == 18 * len(CORPUS) and len(pages) == 8 * len(CORPUS)


@pytest.mark.parametrize("value", [
    {"a": [1, 2.5, None, True, False, "Ä ö € \u2028 \x00 \" \\ \U0001f600"], "b": {"1": {}}},
    "plain", 7, None, [], {}, float("nan"), float("-inf"), -0.0, 1e300, 10 ** 30, {1: "x"},
    {"findings": [{"rule": "R-1", "message": "Päivä 1.4.", "cite": {"sections": [[]]}}]},
])
def test_json_text_is_json_dumps_without_ascii_escapes(value):
    assert json_text(value) == json.dumps(value, ensure_ascii=False)


def test_json_text_refuses_what_json_dumps_refuses():
    for bad in ({(1,): 2}, {"s": {1, 2}}, object()):
        with pytest.raises(TypeError):
            json_text(bad)
    circular: list = []
    circular.append(circular)
    with pytest.raises((ValueError, RecursionError)):
        json_text(circular)
