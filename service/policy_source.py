"""The policy bundle one worker serves, kept in step with the active bundle in the database.

A worker never reads policy files from disk: it serves the bundle of the newest activation
(:mod:`service.bundles`), loaded at start — also after a crash or restart — and again within
``BUNDLE_CHECK_SECONDS`` after another worker or host activates a different one. On
PostgreSQL a listener thread hears ``NOTIFY`` and switches at once, even while idle.

A bundle that does not load in this worker (it was validated at publish, so this means the
rule engine refused it here) never replaces the running set: the worker keeps serving what
it had, says so in ``/v1/health`` and in the ``rehab_rules_policy_bundle_stale`` metric, and
tries again, less often each time. At start it falls back to the newest earlier bundle that
loads, so one bad bundle cannot keep every worker from booting.

With ``POLICIES_BOOTSTRAP`` (the default on SQLite) a database with no bundle at all gets
``POLICIES_DIR`` published as its first one, with the cases of ``FIXTURES_DIR``, so ``make
run`` needs no extra step. The fixture cases a worker shows are those of the bundle it
serves (:meth:`engine.PolicyStore.cases`), never a folder on its disk.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from engine import PolicyError, PolicyStore
from service.bundles import NOTIFY_CHANNEL, Activation, BundleStore
from service.errors import DatabaseNotReady
from service.masking import get_logger

__all__ = ["PolicySource"]

_log = get_logger("service.policies")

_MAX_BACKOFF = 60.0


def _refreeze() -> None:
    """In a process that froze its start-up objects (:mod:`service.wsgi`), after a switch:
    thaw, collect the replaced bundle's cycles, and freeze the new one, so that later
    full collections do not walk it in the middle of a request (one such walk now, at the
    switch, which is already a compile)."""
    if gc.get_freeze_count() == 0:
        return
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class PolicySource:
    """Holds this process's :class:`PolicyStore`, always loaded from a published bundle."""

    def __init__(self, bundles: BundleStore, folder: str | os.PathLike, *,
                 bootstrap: bool = True, check_seconds: float = 2.0, metrics: Any = None,
                 listen: bool = True, fixtures: str | os.PathLike | None = None):
        self.bundles = bundles
        self.folder = str(folder)
        # the cases published with the folder (None: the fixtures folder beside it)
        self.fixtures = None if fixtures is None else str(fixtures)
        self.check_seconds = float(check_seconds)
        self.metrics = metrics
        self.error: str | None = None          # why the active bundle is not served here
        # why the database could not be reached the last time this worker tried, if it
        # could not; cleared by the next look at it that succeeds
        self.database_error: str | None = None
        self._lock = threading.RLock()
        self._failures = 0
        self._retry_at = 0.0
        self._next_check = 0.0
        self._listen = listen and bundles.engine.dialect.name == "postgresql"
        self._listener_pid: int | None = None
        active = self.bundles.active()
        if active is None:
            if not bootstrap:
                raise DatabaseNotReady(
                    "no policy bundle has been published to this database: run "
                    "'rehab-rules publish POLICIES_DIR' once", {"bundle": None})
            self.bundles.bootstrap(self.folder, by=f"bootstrap:{os.getpid()}",
                                   fixtures=self.fixtures)
            active = self.bundles.active()
        assert active is not None
        self.active = active                   # the newest activation seen
        self.store = self._boot(active)
        self._report()
        self._schedule(time.monotonic())

    # -- what views use --------------------------------------------------------------------

    def current(self) -> PolicyStore:
        """The store to use for this request; first follows a newer activation, if any."""
        self._ensure_listener()
        now = time.monotonic()
        if now >= self._next_check:
            self.follow(now)
        return self.store

    @property
    def serving(self) -> int | None:
        """The id of the bundle this worker serves."""
        return self.store.current.files.bundle

    def status(self) -> dict[str, Any]:
        """For ``/v1/health``: the bundle served here, the active one, and any trouble."""
        current = self.store.current
        return {"serving": current.files.bundle, "digest": current.files.digest,
                "active": self.active.bundle_id, "error": self.error, "worker": os.getpid()}

    def database_failed(self, exc: BaseException) -> None:
        """The database could not be reached: ``/v1/health`` says so until the next look at
        it (within ``check_seconds``, before any request) succeeds."""
        # health is open to anyone: the kind of error, never the server's address
        self.database_error = f"the database cannot be reached ({type(exc).__name__})"
        self._next_check = min(self._next_check, time.monotonic() + 1.0)

    def reload(self, by: str) -> PolicyStore:
        """``POST /v1/admin/reload``: validate ``POLICIES_DIR``, publish it, serve it here now.

        PolicyError (every problem) when the folder does not load; nothing is published then.
        If this worker's rule engine refuses the published bundle, :meth:`status` says so.
        """
        self.bundles.publish_folder(self.folder, by=by, note="published by reload",
                                    fixtures=self.fixtures)
        self.follow(time.monotonic(), force=True)
        return self.store

    # -- following -------------------------------------------------------------------------

    def follow(self, now: float | None = None, force: bool = False) -> None:
        """Serve the newest activation's bundle if it differs from the one served here."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._schedule(now)
            try:
                active = self.bundles.active()
            except SQLAlchemyError as exc:     # keep serving; the next check tries again
                _log.warning("cannot read the active policy bundle: %s", exc)
                self.database_failed(exc)
                return
            if self.database_error is not None:
                _log.info("the database answers again")
                self.database_error = None
            if active is None:
                return
            self.active = active
            if active.bundle_id == self.serving:
                self._settled()
                return
            if not force and now < self._retry_at:
                return
            try:
                self.store.replace(self.bundles.files(active.bundle_id))
            except (PolicyError, SQLAlchemyError) as exc:
                self._failed(active, exc, now)
            else:
                _log.info("serving policy bundle %s (activation %s by %s)", active.bundle_id,
                         active.id, active.activated_by)
                self._settled()
                _refreeze()

    def _boot(self, active: Activation) -> PolicyStore:
        """The active bundle, or else the newest earlier one that loads."""
        tried: list[int] = []
        candidates = [active.bundle_id] + [a.bundle_id for a in self.bundles.activations(50)]
        for bundle_id in dict.fromkeys(candidates):
            try:
                store = PolicyStore.from_files(self.bundles.files(bundle_id))
            except PolicyError as exc:
                tried.append(bundle_id)
                _log.error("policy bundle %s does not load: %s", bundle_id, exc.message)
                continue
            if tried:
                self.error = (f"bundle {active.bundle_id} does not load in this worker; "
                              f"serving bundle {bundle_id}")
                self._retry_at = time.monotonic() + self._backoff()
            return store
        raise DatabaseNotReady(f"no published policy bundle loads (tried {tried})",
                               {"bundles": tried})

    def _schedule(self, now: float) -> None:
        self._next_check = now + self.check_seconds

    def _backoff(self) -> float:
        self._failures += 1
        return min(_MAX_BACKOFF, 2.0 ** self._failures)

    def _failed(self, active: Activation, exc: Exception, now: float) -> None:
        self.error = (f"bundle {active.bundle_id} does not load in this worker "
                      f"({getattr(exc, 'message', exc)}); serving bundle {self.serving}")
        self._retry_at = now + self._backoff()
        _log.error("%s; trying again later", self.error)
        if self.metrics is not None:
            self.metrics.count_reload("failed")
        self._report()

    def _settled(self) -> None:
        self.error, self._failures, self._retry_at = None, 0, 0.0
        self._report()

    def _report(self) -> None:
        if self.metrics is not None:
            self.metrics.set_bundle(self.serving, stale=self.error is not None)

    # -- PostgreSQL LISTEN -----------------------------------------------------------------

    def _ensure_listener(self) -> None:
        """Start the listener in this process (after gunicorn forked it), once."""
        if not self._listen or self._listener_pid == os.getpid():
            return
        self._listener_pid = os.getpid()
        threading.Thread(target=self._listen_forever, name="bundle-listener",
                         daemon=True).start()

    def _listen_forever(self) -> None:
        import psycopg

        url = self.bundles.engine.url.set(drivername="postgresql")
        while True:
            try:
                with psycopg.connect(url.render_as_string(hide_password=False),
                                     autocommit=True) as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    for _ in conn.notifies():
                        self.follow(force=True)
            except Exception as exc:          # the database went away: listen again later
                _log.warning("bundle listener: %s; listening again in 5 s", exc)
                time.sleep(5)
