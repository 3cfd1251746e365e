"""Policy bundles: validated policy sets kept in the database, and which one is live.

Planners edit files and review them in git; the service never serves those files directly.
``publish`` reads a folder the way ``rehab-rules validate`` does, refuses anything with a
problem, loads and compiles the whole set as a worker would, and only then stores every
file's text as an immutable bundle (its digest, who, when, a note). A bundle carries the
fixture cases of its policies (``fixtures/<policy>/<version>/*.yaml``, in its digest), and a
set whose ``rehab-rules check`` fails — a case that no longer passes, a rule no case covers
— is refused like a broken one (:mod:`engine.check`): what the explorer shows beside a rule
is what was published with it. ``activate`` records a
switch to a bundle; the newest activation is the one every worker on every host serves, so
rolling back is activating an older bundle, and the activations are the record of which set
was live when. Publishing a set whose digest is already stored reuses that bundle.

On PostgreSQL an activation also sends ``NOTIFY rehab_rules_bundles`` so that listening
workers switch at once; every worker also checks the newest activation before requests
(:mod:`service.policy_source`), which is all SQLite has.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import getpass
import socket
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError

from engine import PolicyError, PolicyStore, Problem
from engine.check import check_problems
from engine.fixtures import set_suite
from engine.folder import CASES_PREFIX, Limits, PolicyFiles, bundle_name_problem, read_folder
from engine.pyeval import PythonEvaluator
from engine.store import default_fixtures, load_files, with_cases
from service.errors import NotFound
from service.masking import Masker, scrub_text, synthetic_codes
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
    a version's texts (``<policy>/<version>.fi.md``, ``.sv.md``) travel the same way, and so
    do its fixture cases (``fixtures/<policy>/<version>/<name>.yaml``)."""
    problems: list[Problem] = []
    files: dict[str, bytes] = {}
    limits = Limits.from_env()
    for rel, content in sorted(mapping.items()):
        why = _case_name_problem(rel) if rel.startswith(CASES_PREFIX) \
            else bundle_name_problem(rel)
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
    out = PolicyFiles.from_stored(label, files)
    if not out.files and not problems:
        problems.append(Problem(label, 1, "no policy files in the bundle", "empty"))
    return out, problems


def _case_name_problem(rel: str) -> str | None:
    """Why ``rel`` (``fixtures/…``) cannot be a fixture file sent as a file, or ``None``."""
    parts = rel.split("/")
    if len(parts) == 4 and all(p and not p.startswith(".") for p in parts) \
            and parts[3].endswith(".yaml"):
        return None
    return "a bundle's fixture file is named fixtures/<policy>/<version>/<name>.yaml"


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
        self._pseudonym = masker.hash if masker is not None else None

    def masked(self, files: PolicyFiles) -> PolicyFiles:
        """``files`` with every code in their texts replaced (the same files if none).

        A code in a fixture case becomes a synthetic one with the same validity
        (:func:`service.masking.synthetic_codes`), not a pseudonym: the policy judges it
        alike, so the case still passes, and no one's code is stored.
        """
        out = _mapped(files.files, self._scrub)
        cases = _mapped(files.cases, lambda text: synthetic_codes(text, self._pseudonym))
        if out is files.files and cases is files.cases:
            return files
        return dataclasses.replace(files, files=out, cases=cases)

    # -- writing ---------------------------------------------------------------------------

    def publish_folder(self, folder: Path | str, by: str, note: str | None = None,
                       activate: bool = True, fixtures: Path | str | None = None,
                       ) -> tuple[Bundle, bool]:
        """Validate ``folder`` with the cases under ``fixtures`` (default: the ``fixtures``
        folder beside it; none if there is none) and store them (see :meth:`publish`)."""
        files, problems = read_folder(folder)
        files, found = with_cases(files, default_fixtures(folder) if fixtures is None
                                  else fixtures)
        problems += found
        if problems:                  # every problem at once: the files' own ones too
            policies, _, found = load_files(files)
            raise PolicyError(problems + found + set_suite(files, policies)[1])
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
                    files={rel: data.decode("utf-8")
                           for rel, data in files.stored().items()},
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
        return PolicyFiles.from_stored(
            f"bundle-{bundle_id}",
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

    def bootstrap(self, folder: Path | str, by: str,
                  fixtures: Path | str | None = None) -> Bundle | None:
        """Publish ``folder`` (with the cases under ``fixtures``) as the first bundle if the
        database has none; else nothing."""
        if self.active() is not None:
            return None
        bundle, _ = self.publish_folder(folder, by=by, note="first bundle, published at "
                                        "start-up from POLICIES_DIR", fixtures=fixtures)
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
    """Load and compile the whole set as a worker would, then check it as ``rehab-rules
    check`` does with the cases it carries (:func:`engine.check.check_problems`); raise
    PolicyError with every problem — each failing case named at its line — if anything is
    wrong.

    The Python evaluator prepares nothing in the rule engine's process-wide host, so
    validating a bundle never touches the rulesets a worker is serving with.
    """
    key = files.digest
    with _VALIDATED_LOCK:
        if key in _VALIDATED:
            _VALIDATED.move_to_end(key)
            return
    store = PolicyStore.from_files(files, evaluator=PythonEvaluator())
    try:
        problems = check_problems(store)
    finally:
        store.close()
    if problems:
        raise PolicyError(problems)
    with _VALIDATED_LOCK:
        _VALIDATED[key] = None
        while len(_VALIDATED) > _VALIDATED_KEEP:
            _VALIDATED.popitem(last=False)


# Digests of the sets this process has validated and found clean. The digest covers every
# policy file, text and fixture case, and the check depends on nothing else (the engine's code
# is the process's own), so the same set is never run through its hundreds of cases twice —
# a reload of an unchanged folder, a worker bootstrapping the bundle another just published.
_VALIDATED: OrderedDict[str, None] = OrderedDict()
_VALIDATED_KEEP = 16
_VALIDATED_LOCK = threading.Lock()


def _mapped(files: dict[str, bytes], scrub: Any) -> dict[str, bytes]:
    """Each file's text through ``scrub``; the same mapping when nothing changed."""
    out = {}
    for rel, data in files.items():
        try:
            text = data.decode("utf-8", errors="surrogatepass")
        except UnicodeDecodeError:       # not text: validation refuses it anyway
            out[rel] = data
            continue
        masked = scrub(text)
        out[rel] = data if masked == text else masked.encode("utf-8", "surrogatepass")
    return files if all(out[rel] is files[rel] for rel in out) else out


def _bundle(row: Any) -> Bundle:
    return Bundle(row.id, row.digest, row.source, row.note, row.published_by,
                  row.published_at, tuple(sorted(row.files)))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
