"""Bearer-token authentication and role checks for the views.

Roles: a *provider* decides and reads its own decisions; an *auditor* reads every decision;
a *planner* reads everything, decides and reloads policies. Health and the API docs are
open. The caller ends up in ``flask.g.principal``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import g, request

from service.errors import Forbidden, Unauthorized, documented
from service.extensions import services
from service.smorest_apidoc import carry_apidoc
from service.tokens import ROLES, Principal

__all__ = ["ANY_ROLE", "DECIDERS", "READERS", "authenticate", "require"]

F = TypeVar("F", bound=Callable[..., Any])

ANY_ROLE = ROLES
DECIDERS = ("provider", "planner")
READERS = ("provider", "auditor", "planner")


def authenticate() -> Principal:
    """The principal of the request's bearer token; Unauthorized if there is none."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send 'Authorization: Bearer <token>'; create one with "
                           "'rehab-rules tokens create'")
    principal = services().tokens.verify(token.strip())
    if principal is None:
        raise Unauthorized("unknown or revoked token")
    return principal


def require(*roles: str) -> Callable[[F], F]:
    """Let the view run only for a valid token with one of ``roles``.

    Authentication comes before the body is parsed, so an anonymous caller learns nothing
    about what a valid body looks like.
    """

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = authenticate()
            if principal.role not in roles:
                raise Forbidden(f"role {principal.role!r} may not do this",
                                {"allowed_roles": list(roles)})
            g.principal = principal
            return view(*args, **kwargs)

        doc = {"manual_doc": {"security": [{"bearer": []}], **documented({
            401: "`unauthorized`: no token, or an unknown or revoked one",
            403: f"`forbidden`: only for {', '.join(roles)}; a provider only for its own",
            503: "`database_unavailable`: the database cannot be reached; nothing was done, "
                 "send it again after `Retry-After` seconds",
        })}}
        carry_apidoc(view, wrapper, doc)
        return wrapper  # type: ignore[return-value]

    return decorate
