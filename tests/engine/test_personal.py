"""Personal identity codes as the engine knows them (engine/personal.py)."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from engine.personal import (
    hetu_checks,
    is_pseudonym,
    personal_codes,
    personal_texts,
    synthetic_hetu,
    temporary_hetu,
    valid_hetu,
    with_synthetic_codes,
)

VALID, TEMPORARY, INVALID = "131052-308T", "010594Y9021", "131052-308X"
PSEUDONYM = "hetu#" + "ab" * 16


@pytest.mark.parametrize("code,ok", [
    ("131052-308T", True), ("010594Y9021", True), ("020594X903P", True),
    ("010516B903X", True), ("020503F9037", True), ("010190-999W", True), ("100190-999P", True),
    ("010190-999K", False),                 # telp.fi's example, wrong check character
    ("310252-308Y", False),                 # 31 February
    ("131052-308t", False), ("131052G308T", False), ("131052-308", False),
    ("131052-000T", False), ("", False), (None, False),
])
def test_valid_hetu(code, ok):
    assert valid_hetu(code) is ok


def test_century_sign_is_not_in_the_checksum_but_distinguishes():
    assert valid_hetu("100190-999P") and valid_hetu("100190Y999P")


def test_synthetic_codes_keep_validity_and_temporariness_and_equality():
    for seed, valid, temporary in itertools.product(
            ["hetu#" + hashlib.sha256(bytes([i])).hexdigest()[:32] for i in range(50)],
            (True, False), (True, False)):
        code = synthetic_hetu(seed, valid, temporary)
        assert valid_hetu(code) is valid
        assert temporary_hetu(code) is (valid and temporary)
        assert code == synthetic_hetu(seed, valid, temporary)
        assert code[6] == "A" and int(code[4:6]) >= 80          # born 2080–2099
    assert synthetic_hetu("hetu#" + "1" * 32, True) != synthetic_hetu("hetu#" + "2" * 32, True)


def test_hetu_checks_record_what_the_engine_could_derive():
    facts = {"code": TEMPORARY, "codes": [VALID, INVALID], "blank": " ", "hours": 7}
    assert hetu_checks(facts, {"code", "codes", "blank", "absent"}) == {
        "code": {"valid": True, "temporary": True},
        "codes": [{"valid": True, "temporary": False}, {"valid": False, "temporary": False}],
        "blank": None}


def test_synthetic_codes_replace_the_pseudonyms_named_in_the_checks():
    facts = {"client": PSEUDONYM, "others": [PSEUDONYM, PSEUDONYM], "blank": PSEUDONYM,
             "hours": 7}
    checks = {"client": {"valid": True, "temporary": True},
              "others": [{"valid": False, "temporary": False}, None], "blank": None}
    out = with_synthetic_codes(facts, checks)
    assert temporary_hetu(out["client"]) and not valid_hetu(out["others"][0])
    assert out["others"][1] == "" and out["blank"] == "" and out["hours"] == 7
    assert facts["client"] == PSEUDONYM                   # the logged facts stay as they were


def test_a_pseudonym_is_the_prefix_and_32_hex_digits():
    assert is_pseudonym(PSEUDONYM) and is_pseudonym([PSEUDONYM, PSEUDONYM])
    assert not is_pseudonym([]) and not is_pseudonym(VALID) and not is_pseudonym(7)
    assert not is_pseudonym(PSEUDONYM + "0") and not is_pseudonym(PSEUDONYM.upper())


def test_personal_texts_leave_out_blank_and_non_text_values():
    facts = {"client": VALID, "others": [TEMPORARY, "", None, True], "hours": 7}
    assert personal_texts(facts, ["client", "others", "absent"]) == [VALID, TEMPORARY]


def test_a_policy_line_with_a_code_is_a_problem_at_that_line():
    raw = f"a: 1\n# asiakas {VALID}\nb: 131052\u200b-308T\nc: {INVALID}\n".encode()
    problems = personal_codes(raw, "p/2025-01.yaml")
    assert [(p.line, p.code) for p in problems] == [(2, "personal_code"), (3, "personal_code")]
