"""A WSGI entry point for tests only: the service, whose worker SIGKILLs itself right after
the decision log committed and before the answer leaves, once per file named by
``KILL_AFTER_COMMIT`` (the file is removed first, so the retry goes through).

This is the probe's case of issue 21: the decisions are logged, the client never hears.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from service.decision_log import DecisionLog

_record_many = DecisionLog.record_many


def _record_then_die(self, entries, key=None):
    _record_many(self, entries, key)
    marker = Path(os.environ["KILL_AFTER_COMMIT"])
    try:
        marker.unlink()
    except FileNotFoundError:
        return
    os.kill(os.getpid(), signal.SIGKILL)


DecisionLog.record_many = _record_then_die

from service.wsgi import app  # noqa: E402  (after the patch, which the app's log uses)

__all__ = ["app"]
