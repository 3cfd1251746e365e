"""Decision ids: given before evaluation, sortable by creation time.

A decision id is a UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, a 12-bit counter,
then random bits. Ids made later sort later — strictly within one process (the counter, RFC
9562 method 1), and by the millisecond across workers and hosts — so the decision log pages
by id alone (``WHERE id < cursor ORDER BY id DESC``) with no ties and no second sort key.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

__all__ = ["new_decision_id"]

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def new_decision_id() -> str:
    """A fresh UUIDv7 in its canonical text form, greater than any made before here."""
    global _last_ms, _counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms > _last_ms:
            _last_ms, _counter = ms, int.from_bytes(os.urandom(1), "big")  # leave headroom
        else:
            _counter += 1
            if _counter > 0xFFF:            # 4096 ids in one millisecond: borrow the next
                _last_ms, _counter = _last_ms + 1, 0
        ms, counter = _last_ms, _counter
    value = (ms & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76                                            # version 7
    value |= counter << 64                                        # rand_a: the counter
    value |= 0b10 << 62                                           # RFC 9562 variant
    value |= int.from_bytes(os.urandom(8), "big") & 0x3FFF_FFFF_FFFF_FFFF
    return str(uuid.UUID(int=value))
