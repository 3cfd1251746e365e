"""The word catalogues: read from YAML, the same keys in every language, mistakes named."""

from pathlib import Path

import pytest

from service.explorer.catalogue import LABELS, CatalogueError, labels_for, read_catalogues


def _write(root: Path, lang: str, name: str, text: str) -> None:
    (root / lang).mkdir(parents=True, exist_ok=True)
    (root / lang / name).write_text(text, encoding="utf-8")


def test_the_shipped_catalogues_have_the_same_keys_in_every_language():
    assert set(LABELS["fi"]) == set(LABELS["sv"]) == set(LABELS["en"])
    assert LABELS["fi"]["site"] != LABELS["en"]["site"]


def test_an_unknown_language_gets_finnish():
    assert labels_for("de") is LABELS["fi"]


def test_files_of_a_language_are_read_together(tmp_path):
    for lang in ("fi", "sv", "en"):
        _write(tmp_path, lang, "a.yaml", f"one: {lang}1\n")
        _write(tmp_path, lang, "b.yaml", f"two: {lang}2\n")
    words = read_catalogues(tmp_path)
    assert words["sv"]["one"] == "sv1" and words["sv"]["two"] == "sv2"


def test_a_key_missing_in_one_language_is_named(tmp_path):
    _write(tmp_path, "fi", "a.yaml", "one: yksi\ntwo: kaksi\n")
    _write(tmp_path, "sv", "a.yaml", "one: ett\n")
    _write(tmp_path, "en", "a.yaml", "one: one\ntwo: two\n")
    with pytest.raises(CatalogueError) as raised:
        read_catalogues(tmp_path)
    assert raised.value.code == "catalogue_missing_key"
    assert "two" in str(raised.value) and "svenska" in str(raised.value)


def test_a_key_defined_twice_is_refused(tmp_path):
    for lang in ("fi", "sv", "en"):
        _write(tmp_path, lang, "a.yaml", "one: x\n")
        _write(tmp_path, lang, "b.yaml", "one: y\n")
    with pytest.raises(CatalogueError) as raised:
        read_catalogues(tmp_path)
    assert raised.value.code == "catalogue_duplicate_key"


@pytest.mark.parametrize("text", ["- a list\n", "one: ''\n", "one: 3\n"])
def test_a_file_that_is_not_key_and_text_is_refused(tmp_path, text):
    for lang in ("fi", "sv", "en"):
        _write(tmp_path, lang, "a.yaml", text)
    with pytest.raises(CatalogueError):
        read_catalogues(tmp_path)
