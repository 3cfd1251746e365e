"""Decision ids: given before evaluation, sortable by creation time.

A decision id is a UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then random bits.
Ids made later sort later, on any worker or host, so the decision log pages by id alone
(``WHERE id < cursor ORDER BY id DESC``) with no ties and no second sort key.
"""

from __future__ import annotations

import os
import time
import uuid

__all__ = ["new_decision_id"]


def new_decision_id() -> str:
    """A fresh UUIDv7 in its canonical text form."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76                                  # version 7
    value |= ((rand >> 68) & 0xFFF) << 64               # rand_a, 12 bits
    value |= 0b10 << 62                                 # RFC 4122 variant
    value |= rand & 0x3FFF_FFFF_FFFF_FFFF               # rand_b, 62 bits
    return str(uuid.UUID(int=value))
