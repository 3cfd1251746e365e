"""The loaded policy set of one worker process, and how a reload reaches every worker.

Policies are compiled once at start-up. ``POST /v1/admin/reload`` reaches only the worker
that took the request, so a successful reload also touches a stamp file in ``VAR_DIR``;
every worker compares the stamp's mtime (one ``stat``) before each request and reloads
itself when it changed. A reload is atomic (the engine keeps the old set on any error), so a
worker that finds broken files keeps serving what it had.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from engine import PolicyError, PolicyStore
from service.masking import get_logger

__all__ = ["PolicySource"]

log = get_logger("service.policies")


class PolicySource:
    """Holds this process's :class:`PolicyStore` and keeps it in step with the stamp."""

    def __init__(self, directory: str | os.PathLike, stamp: str | os.PathLike):
        self.directory = str(directory)
        self._stamp = Path(stamp)
        # read the stamp before loading: a reload elsewhere while this worker boots then
        # shows as a newer stamp, and the first request loads again
        self._seen = self._stamp_mtime()
        self.store = PolicyStore.load(self.directory)
        self._lock = threading.Lock()

    def current(self) -> PolicyStore:
        """The store to use for this request, reloaded first if another worker reloaded."""
        if self._stamp_mtime() != self._seen:
            self._follow()
        return self.store

    def reload(self) -> PolicyStore:
        """Reload from disk (PolicyError leaves the running set as it was), tell the others."""
        with self._lock:
            self.store.reload()
            self._touch()
            self._seen = self._stamp_mtime()
        return self.store

    def _follow(self) -> None:
        with self._lock:
            mtime = self._stamp_mtime()
            if mtime == self._seen:
                return
            self._seen = mtime
            try:
                self.store.reload()
            except PolicyError as exc:
                log.error("policies changed on disk but do not load; keeping the old set: %s",
                          exc.message)
            else:
                log.info("reloaded policies after a reload on another worker")

    def _stamp_mtime(self) -> int | None:
        try:
            return self._stamp.stat().st_mtime_ns
        except FileNotFoundError:
            return None

    def _touch(self) -> None:
        self._stamp.parent.mkdir(parents=True, exist_ok=True)
        now = time.time_ns()
        self._stamp.touch()
        os.utime(self._stamp, ns=(now, now))
