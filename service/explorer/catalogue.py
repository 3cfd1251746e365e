"""The explorer's words in Finnish, Swedish and English, read from files a translator edits.

Every word a page shows comes from ``service/explorer/catalogues/<lang>/*.yaml`` (one flat
mapping of key → text per file; the files of a language are read together, in name order).
The three languages must have the same keys and a key may be defined only once: both are
checked when the catalogue is read, so a half-translated label fails at start-up and in the
tests, never as a bare key on a page. The diff's section words come from
:data:`engine.diff.LABELS` under ``diff_*``, so the page and ``rehab-rules diff`` agree.

>>> labels_for("sv")["site"]
'Regelutforskaren'
"""

from __future__ import annotations

from pathlib import Path

import yaml

from engine.diff import LABELS as DIFF_LABELS
from engine.model import LANGUAGES

__all__ = [
    "CATALOGUES",
    "LABELS",
    "LANGUAGE_NAMES",
    "CatalogueError",
    "labels_for",
    "read_catalogues",
]

CATALOGUES = Path(__file__).parent / "catalogues"
LANGUAGE_NAMES = {"fi": "suomi", "sv": "svenska", "en": "English"}


class CatalogueError(ValueError):
    """A catalogue file that cannot be used: ``code`` names the kind of mistake."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def _read_language(folder: Path) -> dict[str, str]:
    words: dict[str, str] = {}
    for path in sorted(folder.glob("*.yaml")):
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise CatalogueError("catalogue_not_mapping",
                                 f"{path}: write one 'key: text' entry per line")
        for key, text in loaded.items():
            if not isinstance(text, str) or not text.strip():
                raise CatalogueError("catalogue_empty_text",
                                     f"{path}: {key}: give the text as a non-empty string")
            if key in words:
                raise CatalogueError("catalogue_duplicate_key",
                                     f"{path}: {key} is already defined in another file of "
                                     f"{folder.name}/; keep one")
            words[str(key)] = text
    return words


def read_catalogues(root: Path = CATALOGUES) -> dict[str, dict[str, str]]:
    """Every language's words, checked: the same keys in fi, sv and en."""
    own = {lang: _read_language(root / lang) for lang in LANGUAGES}
    keys = {lang: set(words) for lang, words in own.items()}
    every = set().union(*keys.values())
    for lang in LANGUAGES:
        missing = sorted(every - keys[lang])
        if missing:
            raise CatalogueError("catalogue_missing_key",
                                 f"{root / lang}: no text for {', '.join(missing)}; add them "
                                 f"in {LANGUAGE_NAMES[lang]}")
    return {lang: {**{f"diff_{k}": v for k, v in DIFF_LABELS[lang].items()}, **own[lang]}
            for lang in LANGUAGES}


LABELS: dict[str, dict[str, str]] = read_catalogues()


def labels_for(lang: str) -> dict[str, str]:
    """The labels of ``lang``; an unknown language gets Finnish, the service's default."""
    return LABELS.get(lang, LABELS["fi"])
