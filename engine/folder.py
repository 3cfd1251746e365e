"""Reading a policy folder once, the same way for ``validate``, start-up, reload and publish.

A policy folder has one shape: ``<root>/<policy>/<version>.yaml``, with a policy name of a-z,
0-9 and ``-`` and a version named for its date (``2025-04`` or ``2025-04-01``). Anything else
that looks like a policy file is refused with a problem at its path, never silently skipped:
a ``.yml`` file, a YAML file at the top or one folder too deep, a sub-folder of a policy, a
link that leads nowhere or in a circle, an empty policy folder, an empty root.

Beside a version file may lie the text of its service description, one file per language:
``<version>.fi.md`` and ``<version>.sv.md`` (:mod:`engine.text`). A text is read like a
version file — it is part of the version, its digest and a published bundle — and a file
that looks like one but is misnamed (``2025-04.md``, ``2025-04.en.md``) is a problem. Other
notes for people (``README.md``, ``*.txt``) may lie beside the files and are not read;
hidden entries (``.git``, ``.gitkeep``) neither.

Sizes are checked from the directory entry before a byte is read, so a 50 MB file is refused
at once. What comes back is a :class:`PolicyFiles`: every version file's and text's bytes
under its relative path. It is all the engine needs to load a set, and all a bundle needs to
store.

>>> files, problems = read_folder("policies")                # doctest: +SKIP
>>> sorted(files.files)[:1], problems                         # doctest: +SKIP
(['ajanvaraus/2020-09.yaml'], [])
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from engine.errors import Problem
from engine.text import TEXT_NAME_RE, text_name_problem

__all__ = ["CASES_PREFIX", "NOTE_SUFFIXES", "VERSION_RE", "Limits", "PolicyFiles",
           "bundle_name_problem", "is_text", "read_fixtures", "read_folder", "read_paths",
           "version_name_problem"]

_POLICY_DIR_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
VERSION_RE = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")
NOTE_SUFFIXES = (".md", ".txt")
# where a set's fixture files stand among its files when the set is stored as one mapping
# (a bundle): ``fixtures/<policy>/<version>/<file>.yaml``, never a policy file's two parts
CASES_PREFIX = "fixtures/"


@dataclass(frozen=True)
class Limits:
    """What one policy set may hold; past these a file is refused before it is parsed.

    The defaults are far above any real service description (the largest seed policy is
    about 60 KB and 6,000 YAML values) and far below what hurts a worker.
    """

    max_file_bytes: int = 1024 * 1024
    max_total_bytes: int = 32 * 1024 * 1024
    max_files: int = 2000
    max_depth: int = 64          # nesting of YAML mappings and lists
    max_nodes: int = 100_000     # YAML values in one file, aliases expanded

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Limits:
        """The defaults, each overridable by ``REHAB_RULES_<FIELD>`` (``…_MAX_FILE_BYTES``).

        >>> Limits.from_env({"REHAB_RULES_MAX_FILE_BYTES": "2048"}).max_file_bytes
        2048
        """
        environ = os.environ if environ is None else environ
        values = {}
        for name in cls.__dataclass_fields__:
            raw = environ.get(f"REHAB_RULES_{name.upper()}")
            if raw:
                try:
                    values[name] = int(raw)
                except ValueError:
                    raise ValueError(f"REHAB_RULES_{name.upper()} must be a whole number, "
                                     f"not {raw!r}") from None
        return cls(**values)


@dataclass(frozen=True)
class PolicyFiles:
    """The files of one set: ``"<policy>/<version>.yaml"`` and the texts beside them
    (``"<policy>/<version>.fi.md"``) → bytes.

    ``root`` is only a label for messages (``policies`` → ``policies/demo/2024-01.yaml``);
    ``bundle`` is the id of the published bundle the files came from, if any. Neither is part
    of the digest.

    ``cases`` are the set's fixture files, ``"<policy>/<version>/<file>.yaml"`` → bytes: the
    cases travel with the policies they test, so whoever loads the set (a worker, the
    explorer, ``fixtures from-log``) reads the very cases the set was published with, never a
    folder on its own disk. They are part of the digest (a set without cases keeps the digest
    it always had). ``cases_root`` labels them in messages, like ``root``.
    """

    root: str
    files: dict[str, bytes] = field(default_factory=dict)
    bundle: int | None = None
    cases: dict[str, bytes] = field(default_factory=dict)
    cases_root: str = "fixtures"

    def display(self, relative: str) -> str:
        return f"{self.root}/{relative}" if self.root else relative

    def display_case(self, relative: str) -> str:
        """A fixture file's name in messages: ``fixtures/demo/2024-01/decide.yaml``."""
        return f"{self.cases_root}/{relative}" if self.cases_root else relative

    def stored(self) -> dict[str, bytes]:
        """Policy files and fixture files as one mapping (how a bundle keeps them): a
        fixture file under :data:`CASES_PREFIX`, which no policy file's path can be."""
        return {**self.files, **{CASES_PREFIX + rel: data for rel, data in self.cases.items()}}

    @classmethod
    def from_stored(cls, root: str, stored: dict[str, bytes], bundle: int | None = None,
                    ) -> PolicyFiles:
        """The files of :meth:`stored` again: the policy files and the fixture files."""
        files: dict[str, bytes] = {}
        cases: dict[str, bytes] = {}
        for rel, data in stored.items():
            if _is_stored_case(rel):
                cases[rel.removeprefix(CASES_PREFIX)] = data
            else:
                files[rel] = data
        return cls(root, files, bundle=bundle, cases=cases)

    @cached_property
    def digest(self) -> str:
        """sha256 over every path and content: the same files give the same digest.

        Computed once per set (the files never change), since /v1/health reports it.
        """
        h = hashlib.sha256()
        stored = self.stored()
        for rel in sorted(stored):
            h.update(rel.encode("utf-8") + b"\0")
            h.update(hashlib.sha256(stored[rel]).digest())
        return "sha256:" + h.hexdigest()


def _is_stored_case(rel: str) -> bool:
    """``fixtures/<policy>/<version>/<file>.yaml``: four parts, where a policy file has two."""
    return rel.startswith(CASES_PREFIX) and rel.count("/") == 3


def version_name_problem(stem: str) -> str | None:
    """Why ``stem`` is not a version name, or ``None`` when it is one.

    >>> version_name_problem("2025-04"), version_name_problem("2025-02-30") is not None
    (None, True)
    """
    m = VERSION_RE.match(stem)
    if not m:
        return (f"version file {stem!r} is not named for its date; name it YYYY-MM.yaml or "
                "YYYY-MM-DD.yaml, e.g. 2025-04.yaml")
    year, month, day = int(m[1]), int(m[2]), int(m[3] or 1)
    try:
        dt.date(year, month, day)
    except ValueError:
        return f"version file {stem!r} names a date that does not exist; fix the month or day"
    return None


def is_text(name: str) -> bool:
    """A service-description text's file name: ``<version>.<lang>.md`` (maybe misnamed).

    >>> is_text("2025-04.fi.md"), is_text("2025-04.md"), is_text("README.md")
    (True, False, False)
    """
    m = TEXT_NAME_RE.match(name)
    return bool(m and VERSION_RE.match(m["version"]))


def _text_problem(name: str) -> str | None:
    """Why a ``.md`` file in a policy folder that looks like a text is not named as one."""
    if is_text(name):
        m = TEXT_NAME_RE.match(name)
        assert m is not None
        return version_name_problem(m["version"]) or text_name_problem(m["version"], m["lang"])
    stem = name.removesuffix(".md")
    if VERSION_RE.match(stem):
        return (f"a service-description text says its language: name it {stem}.fi.md "
                f"(Finnish) or {stem}.sv.md (Swedish)")
    return None


def bundle_name_problem(rel: str) -> str | None:
    """Why ``rel`` cannot be a file of a bundle sent as files (the API), or ``None``.

    >>> bundle_name_problem("demo/2025-04.yaml"), bundle_name_problem("demo/2025-04.sv.md")
    (None, None)
    >>> bundle_name_problem("demo/notes.md")
    'a bundle file is named <policy>/<version>.yaml or <policy>/<version>.<fi|sv>.md'
    """
    parts = rel.split("/")
    if len(parts) == 2 and not rel.startswith(".") and parts[1].endswith(".yaml"):
        return None
    if len(parts) == 2 and not rel.startswith(".") and is_text(parts[1]):
        return _text_problem(parts[1])
    return "a bundle file is named <policy>/<version>.yaml or <policy>/<version>.<fi|sv>.md"


class _Reader:
    def __init__(self, root: Path, label: str, limits: Limits):
        self.root, self.limits = root, limits
        self.out = PolicyFiles(label)
        self.problems: list[Problem] = []
        self.total = 0

    def problem(self, rel: str, message: str, code: str) -> None:
        self.problems.append(Problem(self.out.display(rel), 1, message, code))

    def kind(self, path: Path, rel: str) -> str | None:
        """'dir', 'file' or None (reported) for an entry, following a sound link."""
        try:
            if path.is_symlink():
                target = path.resolve(strict=True)      # raises on a loop or a dangling link
                path = target
            st = path.stat()
        except (OSError, RuntimeError) as exc:
            # 3.11 and 3.12 raise RuntimeError("Symlink loop …"), 3.13 OSError(ELOOP)
            loop = "loop" in str(exc).lower() or getattr(exc, "errno", None) == errno.ELOOP
            why = "leads in a circle" if loop else "leads nowhere"
            self.problem(rel, f"the link {why}; remove it or point it at a real file",
                         "bad_link")
            return None
        if os.path.isdir(path):
            return "dir"
        if os.path.isfile(path):
            is_policy = path.suffix in (".yaml", ".yml") or is_text(path.name)
            if is_policy and st.st_size > self.limits.max_file_bytes:
                self.problem(rel, f"the file is {st.st_size:,} bytes, over the limit of "
                             f"{self.limits.max_file_bytes:,}; a policy file is text of a few "
                             "hundred KB at most", "too_large")
                return None
            return "file"
        self.problem(rel, "not a file or a folder; remove it", "wrong_place")
        return None

    def read(self) -> None:
        if not self.root.is_dir():
            self.problems.append(Problem(str(self.root), 1, "no such policy folder",
                                         "no_folder"))
            return
        try:
            entries = _entries(self.root)
        except OSError as exc:
            self.problems.append(Problem(str(self.root), 1, f"cannot be read ({exc.strerror})",
                                         "unreadable"))
            return
        for entry in entries:
            kind = self.kind(entry, entry.name)
            if kind == "dir":
                self.read_policy(entry)
            elif kind == "file":
                self.top_file(entry)
        if not self.out.files and not self.problems:
            self.problems.append(Problem(
                str(self.root), 1, "no policy files here; a policy set is "
                "<folder>/<policy>/<version>.yaml", "empty"))

    def top_file(self, path: Path) -> None:
        if is_text(path.name):
            self.problem(path.name, "a service-description text outside a policy folder; "
                         f"move it beside its version: <policy>/{path.name}", "wrong_place")
            return
        if path.suffix in NOTE_SUFFIXES:
            return
        if path.suffix in (".yaml", ".yml"):
            self.problem(path.name, "a policy file outside a policy folder; move it to "
                         f"<policy>/{path.stem}.yaml", "wrong_place")
        else:
            self.problem(path.name, "not a policy file; only policy folders and notes "
                         f"({', '.join(NOTE_SUFFIXES)}) belong here", "wrong_place")

    def read_policy(self, folder: Path) -> None:
        name = folder.name
        if not _POLICY_DIR_RE.match(name):
            self.problem(name, f"policy folder {name!r}: use a-z, 0-9 and -", "bad_name")
            return
        found = 0
        try:
            entries = _entries(folder)
        except OSError as exc:
            self.problem(name, f"cannot be read ({exc.strerror}); check its permissions",
                         "unreadable")
            return
        for entry in entries:
            rel = f"{name}/{entry.name}"
            kind = self.kind(entry, rel)
            if kind == "dir":
                self.problem(rel, "a folder inside a policy folder; version files go "
                             f"directly in {name}/ (move old versions out of the set)",
                             "wrong_place")
            elif kind == "file":
                found += self.version_file(entry, rel)
            else:
                found += 1                # reported already: the folder is not empty
        if found == 0:
            self.problem(name, f"policy folder {name!r} has no version files; add "
                         f"{name}/YYYY-MM.yaml or remove the folder", "empty")

    def version_file(self, path: Path, rel: str) -> int:
        if path.suffix == ".md":
            why = _text_problem(path.name)
            if why:
                self.problem(rel, why, "bad_text_name")
            elif is_text(path.name):
                self.read_bytes(path, rel)
            return 0                      # a text or a note; the folder still needs versions
        if path.suffix in NOTE_SUFFIXES:
            return 0
        if path.suffix == ".yml":
            self.problem(rel, f"policy files end in .yaml; rename it to {path.stem}.yaml",
                         "wrong_suffix")
            return 1
        if path.suffix != ".yaml":
            self.problem(rel, "not a policy file; a policy folder holds <version>.yaml files, "
                         "their texts (<version>.fi.md, <version>.sv.md) and notes "
                         f"({', '.join(NOTE_SUFFIXES)})", "wrong_place")
            return 1
        why = version_name_problem(path.stem)
        if why:
            self.problem(rel, why, "bad_version_name")
            return 1
        self.read_bytes(path, rel)
        return 1

    def read_bytes(self, path: Path, rel: str) -> None:
        """Keep a version file's or text's bytes, within the set's limits."""
        if len(self.out.files) >= self.limits.max_files:
            self.problem(rel, f"more than {self.limits.max_files} files in one set",
                         "too_many_files")
            return
        try:
            data = path.read_bytes()
        except OSError as exc:
            self.problem(rel, f"cannot be read ({exc.strerror}); check its permissions",
                         "unreadable")
            return
        self.total += len(data)
        if self.total > self.limits.max_total_bytes:
            self.problem(rel, f"the set is over {self.limits.max_total_bytes:,} bytes in all",
                         "too_large")
            return
        self.out.files[rel] = data


def _entries(folder: Path) -> list[Path]:
    """The folder's entries, sorted, without hidden ones (``.git``, ``.gitkeep``)."""
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def read_folder(root: Path | str, limits: Limits | None = None,
                label: str | None = None) -> tuple[PolicyFiles, list[Problem]]:
    """Read ``<root>/<policy>/<version>.yaml``; return the files and every problem.

    ``label`` names the root in messages (default: ``root`` as given).
    """
    root = Path(root)
    reader = _Reader(root, str(root) if label is None else label, limits or Limits.from_env())
    reader.read()
    return reader.out, reader.problems


def read_paths(paths: list[Path | str], limits: Limits | None = None,
               ) -> tuple[list[PolicyFiles], list[Problem]]:
    """Folders read as sets; a single ``<policy>/<version>.yaml`` file read as a set of one."""
    sets: list[PolicyFiles] = []
    problems: list[Problem] = []
    for path in map(Path, paths):
        if path.is_dir():
            files, found = read_folder(path, limits)
        else:
            reader = _Reader(path.parent.parent, str(path.parent.parent),
                             limits or Limits.from_env())
            rel = f"{path.parent.name}/{path.name}"
            if reader.kind(path, rel) == "file":
                reader.version_file(path, rel)
            files, found = reader.out, reader.problems
        sets.append(files)
        problems += found
    return sets, problems


def read_fixtures(root: Path | str, limits: Limits | None = None,
                  label: str | None = None) -> tuple[dict[str, bytes], list[Problem]]:
    """The fixture files under ``root``: ``"<policy>/<version>/<file>.yaml"`` → bytes.

    They go into a set's :attr:`PolicyFiles.cases` (and so into a bundle and its digest). A
    missing folder holds no cases; a YAML file anywhere but two folders down, or over the
    size limit, is a problem at its path. Notes (``README.md``) and hidden entries are not
    read. ``label`` names the root in messages (default: ``root`` as given).
    """
    root = Path(root)
    limits = limits or Limits.from_env()
    shown = str(root) if label is None else label
    out: dict[str, bytes] = {}
    problems: list[Problem] = []
    if not root.is_dir():
        return out, problems
    total = 0
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if any(part.startswith(".") for part in rel.split("/")) or path.is_dir():
            continue
        if path.suffix not in (".yaml", ".yml"):
            continue
        where = f"{shown}/{rel}"
        if rel.count("/") != 2 or path.suffix != ".yaml":
            problems.append(Problem(where, 1, "a fixture file is <policy>/<version>/<name>.yaml;"
                                    " move or rename it", "wrong_place"))
            continue
        try:
            size = path.stat().st_size
            if size > limits.max_file_bytes:
                problems.append(Problem(where, 1, f"the file is {size:,} bytes, over the limit "
                                        f"of {limits.max_file_bytes:,}", "too_large"))
                continue
            data = path.read_bytes()
        except OSError as exc:
            problems.append(Problem(where, 1, f"cannot be read ({exc.strerror})", "unreadable"))
            continue
        total += len(data)
        if total > limits.max_total_bytes:
            problems.append(Problem(where, 1, f"the fixtures are over "
                                    f"{limits.max_total_bytes:,} bytes in all", "too_large"))
            break
        out[rel] = data
    return out, problems
