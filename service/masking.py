"""Keep personal identity codes (henkilötunnus) out of the decision log and the logs.

Two layers, because one mistake in a policy file must not leak a person's id:

1. the facts the policy declares as ``hetu`` (``Decision.personal_facts``) are replaced by a keyed
   hash wherever they are, whatever they look like;
2. every string anywhere in what is stored or logged is scanned for anything shaped like a
   henkilötunnus, and each match is replaced by the same keyed hash.

The hash is HMAC-SHA256 with a secret key, so equal codes still match each other in the log
(an auditor can follow one person) but a code cannot be recovered by hashing all birthdays.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["HETU_PATTERN", "Masker", "ScrubFilter", "get_logger", "load_or_create_key"]

# no word boundaries: "hetu131052-308T" or "131052-308Tx" must be masked too
HETU_PATTERN = re.compile(r"(?<!\d)\d{6}[-+ABCDEFYXWVU]\d{3}[0-9A-Y]", re.IGNORECASE)
_PREFIX = "hetu#"


class Masker:
    """Replaces personal identity codes by ``hetu#<hmac>`` in facts and free text."""

    def __init__(self, key: bytes):
        if not key:
            raise ValueError("the masking key must not be empty")
        self._key = key

    def hash(self, code: str) -> str:
        """The stable pseudonym of one code (case and surrounding blanks do not matter)."""
        normal = code.strip().upper().encode()
        return _PREFIX + hmac.new(self._key, normal, hashlib.sha256).hexdigest()[:32]

    def scrub(self, text: str) -> str:
        """Every henkilötunnus-shaped part of ``text``, hashed."""
        if not HETU_PATTERN.search(text):
            return text
        return HETU_PATTERN.sub(lambda m: self.hash(m.group(0)), text)

    def mask_facts(self, facts: dict[str, Any], personal: Iterable[str]) -> dict[str, Any]:
        """A copy of ``facts`` safe to store: personal facts hashed, then everything scrubbed
        (a personal value quoted inside another fact is hashed there too)."""
        personal = set(personal)
        known = tuple(sorted(set(self.personal_values(facts, personal)), key=len, reverse=True))
        return {
            self.scrub(str(name)): (
                self._hash_value(value) if name in personal else self._scrub_deep(value, known)
            )
            for name, value in facts.items()
        }

    def scrub_value(self, value: Any, known: Iterable[str] = ()) -> Any:
        """``value`` with every string inside it (keys included) scrubbed.

        ``known`` are the personal facts' own values: a message may quote one that does not
        look like a henkilötunnus (a mistyped one), and it must not leak either.
        """
        known = tuple(sorted({k for k in known if k}, key=len, reverse=True))
        return self._scrub_deep(value, known)

    def _scrub_deep(self, value: Any, known: tuple[str, ...]) -> Any:
        if isinstance(value, str):
            for literal in known:
                if literal in value:
                    value = value.replace(literal, self.hash(literal))
            return self.scrub(value)
        if isinstance(value, dict):
            return {self._scrub_deep(str(k), known): self._scrub_deep(v, known)
                    for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self._scrub_deep(v, known) for v in value]
        return value

    @staticmethod
    def personal_values(facts: dict[str, Any], personal: Iterable[str]) -> list[str]:
        """The texts of the personal facts in ``facts`` (for :meth:`scrub_value`)."""
        out: list[str] = []
        for name in personal:
            value = facts.get(name)
            values = value if isinstance(value, (list, tuple)) else [value]
            out.extend(str(v) for v in values if v is not None and not isinstance(v, bool))
        return out

    def _hash_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.hash(value)
        if isinstance(value, (list, tuple)):
            return [self._hash_value(v) for v in value]
        if value is None or isinstance(value, bool):
            return value
        # a personal fact of an unexpected type is still personal: hash its text
        return self.hash(str(value))


def load_or_create_key(configured: str | None, var_dir: str | os.PathLike) -> bytes:
    """The configured key, or the one kept in ``var/hash.key`` (created on first use).

    Several workers may start at once: the file is created exclusively and whoever loses
    the race reads the winner's key, so every worker hashes alike.
    """
    if configured:
        return configured.encode()
    path = Path(var_dir) / "hash.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
    for _ in range(50):  # the winner may still be writing
        key = path.read_text().strip()
        if key:
            return key.encode()
        time.sleep(0.01)
    raise RuntimeError(f"{path} is empty; delete it or set REHAB_RULES_HASH_KEY")


class ScrubFilter(logging.Filter):
    """Rewrites a log record so that no henkilötunnus reaches any handler.

    It needs no key: a log line gets a fixed placeholder, not a pseudonym.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = HETU_PATTERN.sub("<hetu>", message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = HETU_PATTERN.sub("<hetu>", record.exc_text)
        if record.stack_info:
            record.stack_info = HETU_PATTERN.sub("<hetu>", record.stack_info)
        return True


_SCRUB = ScrubFilter()


def get_logger(name: str) -> logging.Logger:
    """A logger whose records are scrubbed before any handler sees them."""
    logger = logging.getLogger(name)
    if _SCRUB not in logger.filters:
        logger.addFilter(_SCRUB)
    return logger
