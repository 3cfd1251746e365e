"""Decision ids: given before evaluation, sortable by creation time.

A decision id is a UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, a 12-bit counter,
then random bits. Ids made later sort later — strictly within one process (the counter, RFC
9562 method 1), and by the millisecond across workers and hosts — so the decision log pages
by id alone (``WHERE id < cursor ORDER BY id DESC``) with no ties and no second sort key.

A batch takes its ids in one call (:func:`new_decision_ids`): one lock, one read of the
clock and one of ``os.urandom`` for all of them, and the text written from the integer
directly (``uuid.UUID`` checks and converts its argument on every id, the larger share of
an id's few microseconds).
"""

from __future__ import annotations

import os
import threading
import time

__all__ = ["new_decision_id", "new_decision_ids"]

_lock = threading.Lock()
_last_ms = 0
_counter = 0

# version 7 and the RFC 9562 variant, in place
_VERSION_VARIANT = (0x7 << 76) | (0b10 << 62)
_RANDOM_BITS = 0x3FFF_FFFF_FFFF_FFFF


def new_decision_id() -> str:
    """A fresh UUIDv7 in its canonical text form, greater than any made before here."""
    return new_decision_ids(1)[0]


def new_decision_ids(count: int) -> list[str]:
    """``count`` fresh UUIDv7s in canonical text form, ascending, each greater than any made
    before here."""
    global _last_ms, _counter
    stamps: list[int] = []
    with _lock:
        ms = time.time_ns() // 1_000_000
        for _ in range(count):
            if ms > _last_ms:
                _last_ms, _counter = ms, os.urandom(1)[0]       # leave headroom
            else:
                _counter += 1
                if _counter > 0xFFF:        # 4096 ids in one millisecond: borrow the next
                    _last_ms, _counter = _last_ms + 1, 0
            stamps.append(((_last_ms & 0xFFFF_FFFF_FFFF) << 80) | (_counter << 64))
    randoms = os.urandom(8 * count)
    out = []
    for i, stamp in enumerate(stamps):
        rand = int.from_bytes(randoms[8 * i:8 * i + 8], "big") & _RANDOM_BITS
        h = f"{stamp | _VERSION_VARIANT | rand:032x}"
        out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return out
