"""Every error the engine raises, with a stable string code.

The tree::

    EngineError                     base; ``code``, ``message``, ``details``
    ├── PolicyError                 policy files are broken; ``problems`` lists every one
    ├── LookupFailed                the caller named something that does not exist
    │   ├── UnknownPolicy           code ``unknown_policy``
    │   ├── UnknownAction           code ``unknown_action``
    │   └── UnknownVersion          code ``unknown_version``
    ├── NoVersionInForce            code ``no_version_in_force``: as_of precedes every version
    ├── FactError                   code ``invalid_facts`` or ``unknown_key``: the request's
    │                               facts are missing, wrongly typed or name an unknown row;
    │                               ``details`` maps each fact name to its messages
    └── EvaluationError             code ``evaluation_failed``: the rule engine itself failed

Callers map them to their own world: the HTTP service turns ``LookupFailed`` into 404,
``NoVersionInForce`` and ``FactError`` into 422, ``PolicyError`` into 422 on reload and
``EvaluationError`` into 500. The ``code`` strings never change once published.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "EngineError",
    "EvaluationError",
    "FactError",
    "FactProblem",
    "LookupFailed",
    "NoVersionInForce",
    "PolicyError",
    "Problem",
    "UnknownAction",
    "UnknownPolicy",
    "UnknownVersion",
]


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong in one policy or fixture file, at one line.

    >>> str(Problem("policies/a/1.yaml", 3, "unknown key 'x'"))
    "policies/a/1.yaml:3: unknown key 'x'"
    """

    path: str
    line: int
    message: str
    code: str = field(default="invalid_policy", compare=False)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "message": self.message, "code": self.code}


class EngineError(Exception):
    """Base of every engine error; ``code`` is stable, ``message`` is for people."""

    code = "engine_error"

    def __init__(self, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class PolicyError(EngineError):
    """Policy files failed to load; ``problems`` holds every problem found, sorted."""

    code = "invalid_policy"

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems)
        lines = "\n".join(str(p) for p in self.problems)
        super().__init__(
            f"{len(self.problems)} problem(s) in policy files:\n{lines}",
            {"problems": [p.to_dict() for p in self.problems]},
        )


class LookupFailed(EngineError):
    """The caller named a policy, version or action that does not exist."""

    code = "not_found"


class UnknownPolicy(LookupFailed):
    code = "unknown_policy"


class UnknownAction(LookupFailed):
    code = "unknown_action"


class UnknownVersion(LookupFailed):
    code = "unknown_version"


class NoVersionInForce(EngineError):
    """``as_of`` is before the first version's ``effective_from``."""

    code = "no_version_in_force"


class FactProblem(ValueError):
    """One thing wrong with one fact value: a stable ``code`` and the ``params`` that fill a
    translation of it (the explorer's catalogue has ``fact_<code>``); ``str()`` is the English
    message the API answers with, unchanged.

    >>> problem = FactProblem("above_max", "must be at most 24", max=24)
    >>> str(problem), problem.code, problem.params
    ('must be at most 24', 'above_max', {'max': 24})
    """

    def __init__(self, code: str, message: str, **params: Any):
        super().__init__(message)
        self.code = code
        self.message = message
        self.params = params

    def __reduce__(self) -> tuple[Any, ...]:
        return _fact_problem, (self.code, self.message, self.params)


def _fact_problem(code: str, message: str, params: dict[str, Any]) -> FactProblem:
    return FactProblem(code, message, **params)


class FactError(EngineError):
    """The facts of a request are unusable; ``details`` maps fact name → messages.

    ``errors`` holds the English messages (the API's answer); ``problems`` the same per fact
    as :class:`FactProblem` with a stable code, so that a page can say it in its reader's
    language. A message given as plain text gets the code ``invalid``.
    """

    code = "invalid_facts"

    def __init__(self, errors: dict[str, list[str | FactProblem]], code: str | None = None):
        if code:
            self.code = code
        self.problems = {name: [m if isinstance(m, FactProblem) else
                                FactProblem("invalid", str(m)) for m in messages]
                         for name, messages in errors.items()}
        errors = {name: [str(m) for m in messages] for name, messages in errors.items()}
        names = ", ".join(sorted(errors))
        first = next(iter(errors.values()))[0] if errors else ""
        message = f"invalid facts: {names}" + (f" ({first})" if len(errors) == 1 else "")
        super().__init__(message, {"fields": errors})
        self.errors = errors


class EvaluationError(EngineError):
    """The rule engine failed on facts that had passed validation: a bug, never the caller's."""

    code = "evaluation_failed"
