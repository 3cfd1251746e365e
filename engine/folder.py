"""Reading a policy folder once, the same way for ``validate``, start-up, reload and publish.

A policy folder has one shape: ``<root>/<policy>/<version>.yaml``, with a policy name of a-z,
0-9 and ``-`` and a version named for its date (``2025-04`` or ``2025-04-01``). Anything else
that looks like a policy file is refused with a problem at its path, never silently skipped:
a ``.yml`` file, a YAML file at the top or one folder too deep, a sub-folder of a policy, a
link that leads nowhere or in a circle, an empty policy folder, an empty root. Notes for
people (``*.md``, ``*.txt``) may lie beside the files; hidden entries (``.git``,
``.gitkeep``) are not read.

Sizes are checked from the directory entry before a byte is read, so a 50 MB file is refused
at once. What comes back is a :class:`PolicyFiles`: every version file's bytes under its
relative path. It is all the engine needs to load a set, and all a bundle needs to store.

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

__all__ = ["NOTE_SUFFIXES", "VERSION_RE", "Limits", "PolicyFiles", "read_folder", "read_paths",
           "version_name_problem"]

_POLICY_DIR_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
VERSION_RE = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")
NOTE_SUFFIXES = (".md", ".txt")


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
    """The version files of one set: ``"<policy>/<version>.yaml"`` → bytes.

    ``root`` is only a label for messages (``policies`` → ``policies/demo/2024-01.yaml``);
    ``bundle`` is the id of the published bundle the files came from, if any. Neither is part
    of the digest.
    """

    root: str
    files: dict[str, bytes] = field(default_factory=dict)
    bundle: int | None = None

    def display(self, relative: str) -> str:
        return f"{self.root}/{relative}" if self.root else relative

    @cached_property
    def digest(self) -> str:
        """sha256 over every path and content: the same files give the same digest.

        Computed once per set (the files never change), since /v1/health reports it.
        """
        h = hashlib.sha256()
        for rel in sorted(self.files):
            h.update(rel.encode("utf-8") + b"\0")
            h.update(hashlib.sha256(self.files[rel]).digest())
        return "sha256:" + h.hexdigest()


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
            is_policy = path.suffix in (".yaml", ".yml")
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
        if path.suffix in NOTE_SUFFIXES:
            return 0
        if path.suffix == ".yml":
            self.problem(rel, f"policy files end in .yaml; rename it to {path.stem}.yaml",
                         "wrong_suffix")
            return 1
        if path.suffix != ".yaml":
            self.problem(rel, "not a policy file; a policy folder holds <version>.yaml files "
                         f"and notes ({', '.join(NOTE_SUFFIXES)})", "wrong_place")
            return 1
        why = version_name_problem(path.stem)
        if why:
            self.problem(rel, why, "bad_version_name")
            return 1
        if len(self.out.files) >= self.limits.max_files:
            self.problem(rel, f"more than {self.limits.max_files} version files in one set",
                         "too_many_files")
            return 1
        try:
            data = path.read_bytes()
        except OSError as exc:
            self.problem(rel, f"cannot be read ({exc.strerror}); check its permissions",
                         "unreadable")
            return 1
        self.total += len(data)
        if self.total > self.limits.max_total_bytes:
            self.problem(rel, f"the set is over {self.limits.max_total_bytes:,} bytes in all",
                         "too_large")
            return 1
        self.out.files[rel] = data
        return 1


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
