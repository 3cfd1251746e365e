"""Policy bundles: validated policy sets kept in the database, and which one is live.

Planners edit files and review them in git; the service never serves those files directly.
``publish`` reads a folder the way ``rehab-rules validate`` does, refuses anything with a
problem, loads and compiles the whole set as a worker would, and only then stores every
file's text as an immutable bundle (its digest, who, when, a note). ``activate`` records a
switch to a bundle; the newest activation is the one every worker on every host serves, so
rolling back is activating an older bundle, and the activations are the record of which set
was live when. Publishing a set whose digest is already stored reuses that bundle.

On PostgreSQL an activation also sends ``NOTIFY rehab_rules_bundles`` so that listening
workers switch at once; every worker also checks the newest activation before requests
(:mod:`service.policy_source`), which is all SQLite has.
"""

from __future__ import annotations

import datetime as dt
import getpass
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError

from engine import PolicyError, PolicyStore, Problem
from engine.folder import Limits, PolicyFiles, bundle_name_problem, read_folder
from engine.pyeval import PythonEvaluator
from engine.store import load_files
from service.errors import NotFound
from service.masking import Masker, scrub_text
from service.models import ActivationRow, BundleRow

__all__ = [
    "MAX_ID",
    "NOTIFY_CHANNEL",
    "Activation",
    "Bundle",
    "BundleStore",
    "cli_actor",
    "files_from",
    "validate",
]

NOTIFY_CHANNEL = "rehab_rules_bundles"
# The largest id the ``INTEGER`` columns hold on both databases (PostgreSQL's is 32-bit). A
# larger number cannot name a bundle, and handing it to the driver is an OverflowError on
# SQLite and an out-of-range error on PostgreSQL, not "no such bundle".
MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class Bundle:
    """What is known of a stored bundle, without its files."""

    id: int
    digest: str
    source: str
    note: str | None
    published_by: str
    published_at: dt.datetime
    files: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "digest": self.digest, "source": self.source, "note": self.note,
                "published_by": self.published_by,
                "published_at": self.published_at.isoformat(), "files": list(self.files)}


@dataclass(frozen=True)
class Activation:
    """One switch of the live bundle. ``id`` grows with every switch."""

    id: int
    bundle_id: int
    activated_by: str
    activated_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "bundle": self.bundle_id, "activated_by": self.activated_by,
                "activated_at": self.activated_at.isoformat()}


def cli_actor() -> str:
    """Who publishes from the command line: ``cli:user@host``."""
    try:
        user = getpass.getuser()
    except Exception:          # no user name in a bare container
        user = "unknown"
    return f"cli:{user}@{socket.gethostname()}"


def files_from(mapping: dict[str, str], label: str) -> tuple[PolicyFiles, list[Problem]]:
    """Files sent as ``{"<policy>/<version>.yaml": text}`` (the API), checked like a folder's;
    a version's texts (``<policy>/<version>.fi.md``, ``.sv.md``) travel the same way."""
    problems: list[Problem] = []
    files: dict[str, bytes] = {}
    limits = Limits.from_env()
    for rel, content in sorted(mapping.items()):
        why = bundle_name_problem(rel)
        if why:
            problems.append(Problem(f"{label}/{rel}", 1, why, "wrong_place"))
            continue
        data = content.encode("utf-8", errors="surrogatepass")
        if len(data) > limits.max_file_bytes:
            problems.append(Problem(f"{label}/{rel}", 1, f"the file is {len(data):,} bytes, "
                                    f"over the limit of {limits.max_file_bytes:,}",
                                    "too_large"))
            continue
        files[rel] = data
    if not files and not problems:
        problems.append(Problem(label, 1, "no policy files in the bundle", "empty"))
    return PolicyFiles(label, files), problems


class BundleStore:
    """Publish, list and activate bundles in the service's database.

    Every text stored — each file, the note, the folder, who published or activated — has
    its personal identity codes replaced first (by ``masker``'s pseudonym; without one, by
    ``<hetu>``). The files are masked *before* they are validated and digested, so what is
    stored is exactly what every worker loads and what the digest covers: a policy file that
    quotes a code (an example in a comment) is served with the pseudonym in its place.
    """

    def __init__(self, engine: Engine, masker: Masker | None = None):
        self.engine = engine
        self._scrub = masker.scrub_revealed if masker is not None else scrub_text

    def masked(self, files: PolicyFiles) -> PolicyFiles:
        """``files`` with every code in their texts replaced (the same files if none)."""
        out = {}
        for rel, data in files.files.items():
            try:
                text = data.decode("utf-8", errors="surrogatepass")
            except UnicodeDecodeError:       # not text: validation refuses it anyway
                out[rel] = data
                continue
            masked = self._scrub(text)
            out[rel] = data if masked == text else masked.encode("utf-8", "surrogatepass")
        if all(out[rel] is files.files[rel] for rel in out):
            return files
        return PolicyFiles(files.root, out, bundle=files.bundle)

    # -- writing ---------------------------------------------------------------------------

    def publish_folder(self, folder: Path | str, by: str, note: str | None = None,
                       activate: bool = True) -> tuple[Bundle, bool]:
        """Validate ``folder`` and store it (see :meth:`publish`)."""
        files, problems = read_folder(folder)
        if problems:                  # every problem at once: the files' own ones too
            raise PolicyError(problems + load_files(files)[2])
        return self.publish(files, by, note, activate, source=str(Path(folder).resolve()))

    def publish(self, files: PolicyFiles, by: str, note: str | None = None,
                activate: bool = True, source: str | None = None) -> tuple[Bundle, bool]:
        """Store ``files`` as a bundle once they load whole; return it and whether it is new.

        Raises :class:`PolicyError` with every problem and stores nothing when they do not.
        Codes in the texts are masked first (see the class).
        """
        files = self.masked(files)
        validate(files)
        try:
            bundle_id, created = self._store(files, by, note, activate, source)
        except IntegrityError:        # the same files published at the same moment elsewhere
            bundle_id, created = self._store(files, by, note, activate, source)
        return self.get(bundle_id), created

    def _store(self, files: PolicyFiles, by: str, note: str | None, activate: bool,
               source: str | None) -> tuple[int, bool]:
        digest = files.digest
        with self.engine.begin() as conn:
            existing = conn.execute(select(BundleRow.id).where(BundleRow.digest == digest)
                                    ).scalar()
            created = existing is None
            if created:
                existing = conn.execute(BundleRow.__table__.insert().values(
                    digest=digest,
                    files={rel: data.decode("utf-8") for rel, data in files.files.items()},
                    source=self._scrub(source or files.root)[:500],
                    note=self._scrub(note) if note else None,
                    published_by=self._scrub(by)[:200], published_at=_now(),
                ).returning(BundleRow.id)).scalar_one()
            if activate:
                self._activate(conn, existing, by)
        return existing, created

    def activate(self, bundle_id: int, by: str) -> Activation:
        """Make ``bundle_id`` the live bundle everywhere (roll back or forward)."""
        _check_id(bundle_id)
        with self.engine.begin() as conn:
            if conn.execute(select(BundleRow.id).where(BundleRow.id == bundle_id)
                            ).scalar() is None:
                raise NotFound(f"no bundle {bundle_id}; see GET /v1/admin/bundles",
                               {"bundle": bundle_id}, code="unknown_bundle")
            self._activate(conn, bundle_id, by)
        active = self.active()
        assert active is not None
        return active

    def _activate(self, conn: Any, bundle_id: int, by: str) -> None:
        conn.execute(ActivationRow.__table__.insert().values(
            bundle_id=bundle_id, activated_by=self._scrub(by)[:200], activated_at=_now()))
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_notify(:channel, :payload)"),
                         {"channel": NOTIFY_CHANNEL, "payload": str(bundle_id)})

    # -- reading ---------------------------------------------------------------------------

    def active(self) -> Activation | None:
        """The newest activation: one indexed row, cheap enough to ask before requests."""
        with self.engine.connect() as conn:
            row = conn.execute(select(ActivationRow).order_by(ActivationRow.id.desc())
                               .limit(1)).first()
        return None if row is None else Activation(row.id, row.bundle_id, row.activated_by,
                                                   row.activated_at)

    def files(self, bundle_id: int) -> PolicyFiles:
        """The bundle's files, ready for :meth:`engine.PolicyStore.replace`."""
        _check_id(bundle_id)
        with self.engine.connect() as conn:
            row = conn.execute(select(BundleRow.files).where(BundleRow.id == bundle_id)
                               ).first()
        if row is None:
            raise NotFound(f"no bundle {bundle_id}", {"bundle": bundle_id},
                           code="unknown_bundle")
        return PolicyFiles(f"bundle-{bundle_id}",
                           {rel: content.encode("utf-8") for rel, content in row.files.items()},
                           bundle=bundle_id)

    def get(self, bundle_id: int) -> Bundle:
        _check_id(bundle_id)
        with self.engine.connect() as conn:
            row = conn.execute(select(BundleRow).where(BundleRow.id == bundle_id)).first()
        if row is None:
            raise NotFound(f"no bundle {bundle_id}; see GET /v1/admin/bundles",
                           {"bundle": bundle_id}, code="unknown_bundle")
        return _bundle(row)

    def list(self, limit: int = 100) -> list[Bundle]:
        """The newest bundles first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(BundleRow).order_by(BundleRow.id.desc()).limit(limit))
            return [_bundle(r) for r in rows]

    def activations(self, limit: int = 100) -> list[Activation]:
        """Which bundle was live when: the newest switches first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(ActivationRow).order_by(ActivationRow.id.desc())
                                .limit(limit))
            return [Activation(r.id, r.bundle_id, r.activated_by, r.activated_at)
                    for r in rows]

    def bootstrap(self, folder: Path | str, by: str) -> Bundle | None:
        """Publish ``folder`` as the first bundle if the database has none; else nothing."""
        if self.active() is not None:
            return None
        bundle, _ = self.publish_folder(folder, by=by, note="first bundle, published at "
                                        "start-up from POLICIES_DIR")
        return bundle

    def count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(BundleRow)).scalar_one()


def _check_id(bundle_id: int) -> None:
    """NotFound for a number no bundle can have, before it reaches the database."""
    if not 1 <= bundle_id <= MAX_ID:
        raise NotFound(f"no bundle {bundle_id}: bundle ids run from 1 to {MAX_ID}",
                       {"bundle": bundle_id}, code="unknown_bundle")


def validate(files: PolicyFiles) -> None:
    """Load and compile the whole set as a worker would; raise PolicyError if it does not.

    The Python evaluator prepares nothing in the rule engine's process-wide host, so
    validating a bundle never touches the rulesets a worker is serving with.
    """
    PolicyStore.from_files(files, evaluator=PythonEvaluator()).close()


def _bundle(row: Any) -> Bundle:
    return Bundle(row.id, row.digest, row.source, row.note, row.published_by,
                  row.published_at, tuple(sorted(row.files)))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
