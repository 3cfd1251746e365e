"""The loaded, validated and compiled policy set, and its atomic reload.

A :class:`PolicyStore` holds one immutable :class:`PolicySet`. Loading reads every
``policies/<policy>/<version>.yaml``, checks each file, checks effective dates across the
versions of a policy, compiles every action and registers it with the evaluator. If anything
is wrong, every problem is raised together and nothing is registered.

A set carries its fixture cases (:attr:`engine.folder.PolicyFiles.cases`): a published
bundle those it was published with, a folder those of the fixtures folder beside it (or the
one named). :meth:`PolicyStore.cases` serves them parsed, so every reader of cases — the
explorer, ``fixtures from-log``, publish's check — sees the cases of the set being served.

``reload()`` builds a complete new set first and swaps it in only when it is whole; a broken
set never replaces a working one. The old set's rulesets are removed from the engine once the
last decision using them has finished.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from engine.compiler import compile_version
from engine.errors import PolicyError, Problem, UnknownAction, UnknownPolicy, UnknownVersion
from engine.folder import Limits, PolicyFiles, read_fixtures, read_folder
from engine.loader import locate, read_yaml_bytes
from engine.model import ActionPlan, Evaluator, Policy, PolicyVersion
from engine.overlay import resolve_policy
from engine.personal import personal_codes
from engine.resolve import in_force
from engine.schema import check_version, digest_of
from engine.text import TEXT_NAME_RE, ServiceText, TextFile, language_problems, parse_text

__all__ = ["PolicySet", "PolicyStore", "collect_files", "default_fixtures", "load_files",
           "load_folder", "with_cases"]


def collect_files(paths: Iterable[Path | str]) -> list[Path]:
    """Every ``*.yaml`` under the given files or folders, sorted (fixture files)."""
    out: set[Path] = set()
    for p in map(Path, paths):
        if p.is_dir():
            out.update(q for q in p.rglob("*.yaml") if q.is_file())
        elif p.suffix in (".yaml", ".yml"):
            out.add(p)
    return sorted(out)


_Plans = dict[tuple[str, str], dict[str, ActionPlan]]


def _guarded(shown: str, work: Any) -> tuple[Any, list[Problem]]:
    """Run one file's checking; nothing escapes but problems."""
    try:
        return work()
    except RecursionError:
        return None, [Problem(shown, 1, "nested too deep to check; split the deepest "
                              "expression with derive", "too_deep")]
    except Exception as exc:        # a bug of ours must not take the caller down
        return None, [Problem(shown, 1, f"could not be checked ({type(exc).__name__}: "
                              f"{exc}); please report this file", "internal_error")]


def load_files(files: PolicyFiles, limits: Limits | None = None,
               ) -> tuple[dict[str, Policy], _Plans, list[Problem]]:
    """Load, check and compile a set's files; return policies, plans and all problems.

    Every file is read first; versions that ``extends`` another are resolved on their
    documents (:mod:`engine.overlay`) and then checked and compiled like any other. Each
    version's text (``<version>.<lang>.md``) is read beside it: its own, or its base's.
    """
    problems: list[Problem] = []
    by_policy: dict[str, dict[str, tuple[Any, str, bytes]]] = {}
    texts = _read_texts(files, problems)
    for rel in sorted(files.files):
        shown = files.display(rel)
        folder, _, name = rel.partition("/")
        if not name.endswith(".yaml"):
            continue
        doc, found = _guarded(shown, lambda r=rel, s=shown: read_yaml_bytes(
            files.files[r], s, limits))
        problems += found + personal_codes(files.files[rel], shown)
        if doc is not None and not found:
            by_policy.setdefault(folder, {})[name.removesuffix(".yaml")] = \
                (doc, shown, files.files[rel])
    versions: dict[str, list[PolicyVersion]] = {}
    plans: _Plans = {}
    for folder, own in sorted(texts.items()):
        for name, text in sorted(own.items()):
            if f"{folder}/{name}.yaml" not in files.files:
                problems.append(Problem(text.fi.path, 1, f"a text of version {name}, but "
                                        f"{folder}/ has no {name}.yaml beside it; name the text "
                                        "for the version it belongs to", "text_without_version"))
    for folder, docs in sorted(by_policy.items()):
        loaded = _load_policy(folder, docs, problems, texts.get(folder, {}))
        for version, compiled in loaded:
            versions.setdefault(version.policy, []).append(version)
            plans[(version.policy, version.version)] = compiled
    policies = {}
    for name, vs in sorted(versions.items()):
        # versions are named in time order ("2023-01" < "2025-04"); their dates must agree
        vs.sort(key=lambda v: v.version)
        for earlier, later in itertools.pairwise(vs):
            if later.effective_from <= earlier.effective_from:
                problems.append(Problem(
                    later.path, later.effective_line,
                    f"effective_from {later.effective_from} is not after the "
                    f"{earlier.effective_from} of version {earlier.version}; effective dates "
                    "must increase with the versions", "effective_order"))
        vs.sort(key=lambda v: v.effective_from)
        policies[name] = Policy(name, tuple(vs))
    # a problem in a base file is found again in every overlay of it: list it once
    return policies, plans, sorted(set(problems))


def _read_texts(files: PolicyFiles, problems: list[Problem],
                ) -> dict[str, dict[str, ServiceText]]:
    """Every text of the set, parsed: policy folder → version → its text. A Swedish text
    without the Finnish one, or with other sections, is a problem; a text with problems is
    left out (its version's citations are then not resolved, and say nothing more)."""
    by_version: dict[tuple[str, str], dict[str, TextFile]] = {}
    for rel in sorted(files.files):
        folder, _, name = rel.partition("/")
        m = TEXT_NAME_RE.match(name)
        if m is None or name.endswith(".yaml"):
            continue
        shown = files.display(rel)
        parsed, found = _guarded(shown, lambda r=rel, s=shown, m=m: parse_text(
            files.files[r], s, m["lang"], m["version"]))
        problems += found
        if parsed is not None:
            by_version.setdefault((folder, m["version"]), {})[m["lang"]] = parsed
    out: dict[str, dict[str, ServiceText]] = {}
    for (folder, version), by_lang in sorted(by_version.items()):
        if "fi" not in by_lang:
            sv = by_lang["sv"]
            problems.append(Problem(sv.path, 1, f"a Swedish text needs the Finnish one beside "
                                    f"it: {version}.fi.md (Finnish is always there)",
                                    "text_without_finnish"))
            continue
        text = ServiceText(dict(by_lang))
        found = language_problems(text)
        problems += found
        if not found:
            out.setdefault(folder, {})[version] = text
    return out


def _load_policy(folder: str, docs: dict[str, tuple[Any, str, bytes]],
                 problems: list[Problem], texts: dict[str, ServiceText] | None = None,
                 ) -> list[tuple[PolicyVersion, dict[str, ActionPlan]]]:
    """Resolve, check and compile the versions of one policy folder; an overlay without a
    text of its own reads its base's."""
    texts = dict(texts or {})
    resolved, chains, found = resolve_policy({n: (d, p) for n, (d, p, _) in docs.items()})
    problems += found
    digests: dict[str, str] = {}
    out = []
    for name in sorted(resolved, key=lambda n: len(chains[n])):     # bases first
        _, shown, raw = docs[name]
        chain = chains[name]
        if chain and chain[0] not in digests:         # its base has problems of its own
            problems.append(Problem(*locate(docs[name][0], ["extends"], shown),
                                    f"extends {chain[0]!r}, which has problems; fix those "
                                    "first", "base_broken"))
            continue
        own = texts.get(name)
        if own is None and chain and chain[0] in texts:
            texts[name] = texts[chain[0]]                 # inherited whole
        digest = digest_of(raw, digests.get(chain[0]) if chain else None,
                           own.raw if own else None)

        def work(doc=resolved[name], shown=shown, name=name, digest=digest):
            version, found = check_version(doc, shown, folder, name, digest, texts.get(name))
            if version is None:
                return None, found
            compiled, found = compile_version(version)
            return (version, compiled), found

        loaded, found = _guarded(shown, work)
        problems += found
        if loaded is None or found:
            continue
        digests[name] = digest
        out.append(loaded)
    return out


def with_cases(files: PolicyFiles, fixtures: Path | str | None,
               limits: Limits | None = None) -> tuple[PolicyFiles, list[Problem]]:
    """``files`` carrying the fixture files under ``fixtures`` (none if it is None or no
    folder), and the problems of reading them."""
    if fixtures is None:
        return files, []
    cases, problems = read_fixtures(fixtures, limits)
    return replace(files, cases=cases, cases_root=str(fixtures)), problems


def default_fixtures(root: Path | str) -> Path:
    """The fixtures folder of a policies folder: ``fixtures`` beside it."""
    return Path(root).parent / "fixtures"


def load_folder(root: Path | str, limits: Limits | None = None,
                ) -> tuple[PolicyFiles, dict[str, Policy], _Plans, list[Problem]]:
    """Read a policy folder once and load it: what ``validate``, start-up and reload share."""
    files, problems = read_folder(root, limits)
    policies, plans, found = load_files(files, limits)
    return files, policies, plans, problems + found


@dataclass
class PolicySet:
    """One consistent generation of policies and their registered rulesets."""

    policies: dict[str, Policy]
    plans: dict[tuple[str, str], dict[str, ActionPlan]]
    files: PolicyFiles = field(default_factory=lambda: PolicyFiles(""))
    prepared: dict[str, Any] = field(default_factory=dict)    # plan name → evaluator handle
    users: int = 0
    retired: bool = False
    # problems met reading a folder's fixture files (a misplaced one): the cases' business,
    # so they never keep the policies from loading
    case_read_problems: list[Problem] = field(default_factory=list)

    @cached_property
    def suite(self) -> tuple[list[Any], list[Problem]]:
        """The set's fixture cases (inherited ones too) and the problems of their files,
        parsed once per set (:func:`engine.fixtures.set_suite`)."""
        # engine.fixtures runs cases on a store: imported when first asked
        from engine.fixtures import set_suite

        cases, problems = set_suite(self.files, self.policies)
        return cases, self.case_read_problems + problems

    def get_policy(self, name: str) -> Policy:
        try:
            return self.policies[name]
        except KeyError:
            known = ", ".join(sorted(self.policies))
            raise UnknownPolicy(f"unknown policy {name!r}; known: {known}",
                                {"policy": name}) from None

    def get_version(self, name: str, version: str) -> PolicyVersion:
        versions = self.get_policy(name).versions
        for v in versions:
            if v.version == version:
                return v
        known = ", ".join(v.version for v in versions)
        raise UnknownVersion(f"policy {name} has no version {version!r}; known: {known}",
                             {"policy": name, "version": version})

    def resolve(self, name: str, as_of: dt.date) -> PolicyVersion:
        return in_force(self.get_policy(name).versions, as_of, name)

    def plan(self, version: PolicyVersion, action: str) -> ActionPlan:
        plans = self.plans[(version.policy, version.version)]
        if action not in plans:
            known = ", ".join(sorted(plans))
            raise UnknownAction(
                f"policy {version.policy} version {version.version} has no action "
                f"{action!r}; known: {known}", {"action": action})
        return plans[action]


class _InUse:
    """The context of :meth:`PolicyStore.using`; a class, not a generator, because every
    decision enters one (a ``@contextmanager`` costs several times as much)."""

    __slots__ = ("_set", "_store")

    def __init__(self, store: PolicyStore):
        self._store = store

    def __enter__(self) -> PolicySet:
        self._set = self._store._enter()
        return self._set

    def __exit__(self, *exc: object) -> None:
        self._store._leave(self._set)


class PolicyStore:
    """Policies loaded from a folder, ready to decide with; safe to share between threads.

    >>> store = PolicyStore.load("policies")              # doctest: +SKIP
    >>> store.resolve("tyokokeilu-tyohonvalmennus", dt.date(2025, 5, 12)).version  # doctest: +SKIP
    '2025-04'
    """

    def __init__(self, root: Path | str | None = None, evaluator: Evaluator | None = None,
                 limits: Limits | None = None, fixtures: Path | str | None = None):
        if evaluator is None:
            from engine.backend import DurableEvaluator

            evaluator = DurableEvaluator()
        self.root = Path(root) if root is not None else None
        # a folder's cases: the fixtures folder named, else the one beside the policies
        self.fixtures = (Path(fixtures) if fixtures is not None
                         else default_fixtures(self.root) if self.root is not None else None)
        self.evaluator: Evaluator = evaluator
        self.limits = limits
        self._lock = threading.Lock()
        self._set: PolicySet | None = None

    @classmethod
    def load(cls, root: Path | str, evaluator: Evaluator | None = None,
             limits: Limits | None = None, fixtures: Path | str | None = None) -> PolicyStore:
        """Load every policy under ``root``, with the cases under ``fixtures`` (default: the
        ``fixtures`` folder beside ``root``); raise :class:`PolicyError` with all problems."""
        store = cls(root, evaluator, limits, fixtures)
        store.reload()
        return store

    @classmethod
    def from_files(cls, files: PolicyFiles, evaluator: Evaluator | None = None,
                   limits: Limits | None = None) -> PolicyStore:
        """A store serving files already read (a published bundle), not a folder."""
        store = cls(None, evaluator, limits)
        store.replace(files)
        return store

    # -- loading ---------------------------------------------------------------------------

    def _build(self, files: PolicyFiles, problems: list[Problem]) -> PolicySet:
        policies, plans, found = load_files(files, self.limits)
        problems = problems + found
        if not problems and not policies:
            problems.append(Problem(files.root or "policies", 1, "no policies in the set",
                                    "empty"))
        if problems:
            raise PolicyError(problems)
        built = PolicySet(policies, plans, files=files)
        for action_plans in plans.values():
            for plan in action_plans.values():
                try:
                    built.prepared[plan.name] = self.evaluator.prepare(plan)
                except Exception as exc:      # the engine refused what the compiler passed
                    self._release(built)
                    version = built.get_version(plan.policy, plan.version)
                    raise PolicyError([Problem(
                        version.path, plan.action.line,
                        f"action {plan.action.name}: the rule engine refused it ({exc})",
                        "engine_refused")]) from exc
        return built

    def reload(self) -> None:
        """Read the folder again; swap it in only if it is whole, else raise and keep serving."""
        if self.root is None:
            raise PolicyError([Problem("policies", 1, "this store serves a bundle, not a "
                                       "folder; publish a new bundle instead", "no_folder")])
        files, problems = read_folder(self.root, self.limits)
        files, found = with_cases(files, self.fixtures, self.limits)
        built = self._build(files, problems)
        built.case_read_problems = found
        self._swap(built)

    def replace(self, files: PolicyFiles) -> None:
        """Serve ``files`` instead; a broken set raises and the running one stays."""
        self._swap(self._build(files, []))

    def close(self) -> None:
        """Remove this store's rulesets from the engine once no decision uses them."""
        self._swap(None)

    def _swap(self, new: PolicySet | None) -> None:
        """Make ``new`` current; release the old set now if idle, else when its last user ends."""
        with self._lock:
            old, self._set = self._set, new
            if old is None:
                return
            old.retired = True
            idle = old.users == 0
        if idle:
            self._release(old)

    def _release(self, old: PolicySet) -> None:
        for handle in old.prepared.values():
            self.evaluator.release(handle)
        old.prepared.clear()

    def using(self) -> _InUse:
        """``with store.using() as policy_set``: the current set, kept until the block ends."""
        return _InUse(self)

    def _enter(self) -> PolicySet:
        with self._lock:
            current = self._set
            if current is None:
                raise PolicyError([Problem(str(self.root or "policies"), 1, "no policies loaded",
                                           "empty")])
            current.users += 1
        return current

    def _leave(self, current: PolicySet) -> None:
        with self._lock:
            current.users -= 1
            release = current.retired and current.users == 0
        if release:
            self._release(current)

    # -- reading (always from the current set) ---------------------------------------------

    @property
    def current(self) -> PolicySet:
        if self._set is None:
            raise PolicyError([Problem(str(self.root or "policies"), 1, "no policies loaded",
                                           "empty")])
        return self._set

    @property
    def policies(self) -> dict[str, Policy]:
        return self.current.policies

    @property
    def digest(self) -> str:
        """The digest of the whole set being served (every file's path and content)."""
        return self.current.files.digest

    def cases(self) -> list[Any]:
        """The fixture cases of the set being served (:class:`engine.fixtures.Case`, the
        inherited ones too): a bundle's own, or a folder's fixtures folder's."""
        return self.current.suite[0]

    def case_problems(self) -> list[Problem]:
        """The problems of the served set's fixture files (none for a published bundle:
        publish refuses them)."""
        return self.current.suite[1]

    def get_policy(self, name: str) -> Policy:
        return self.current.get_policy(name)

    def get_version(self, name: str, version: str) -> PolicyVersion:
        return self.current.get_version(name, version)

    def resolve(self, name: str, as_of: dt.date) -> PolicyVersion:
        """The version of ``name`` in force on ``as_of``."""
        return self.current.resolve(name, as_of)
