"""Bearer-token authentication and role checks for the views.

Roles: a *provider* decides and reads its own decisions; an *auditor* reads every decision;
a *planner* reads everything, decides and reloads policies; *ops* scrapes metrics. Health and
the API docs are open. The caller ends up in ``flask.g.principal``. The explorer's pages sign
people in with the same pieces (:func:`principal_of`, :func:`bearer_token`,
:func:`from_loopback`, :func:`principal_by_id` for a signed-in session's token id).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable
from typing import Any, TypeVar

from flask import g, request

from service.errors import Forbidden, Unauthorized, documented
from service.extensions import services
from service.smorest_apidoc import carry_apidoc
from service.tokens import ROLES, Principal

__all__ = ["ANY_ROLE", "DECIDERS", "READERS", "authenticate", "bearer_token", "from_loopback",
           "principal_by_id", "principal_of", "require"]

_View = TypeVar("_View", bound=Callable[..., Any])

ANY_ROLE = ROLES
DECIDERS = ("provider", "planner")
READERS = ("provider", "auditor", "planner")


def bearer_token() -> str | None:
    """The token of the request's ``Authorization: Bearer …`` header, or None."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def principal_of(token: str | None) -> Principal | None:
    """Who a token is: its principal, or None for no token, an unknown or a revoked one."""
    token = (token or "").strip()
    return services().tokens.verify(token) if token else None


def principal_by_id(token_id: str | None) -> Principal | None:
    """Who the live token with this id is, or None (no id, unknown, revoked): a signed-in
    explorer session keeps the token's id, never the token itself."""
    return services().tokens.live(token_id) if token_id else None


def authenticate() -> Principal:
    """The principal of the request's bearer token; Unauthorized if there is none."""
    token = bearer_token()
    if token is None:
        raise Unauthorized("send 'Authorization: Bearer <token>'; create one with "
                           "'rehab-rules tokens create'")
    principal = principal_of(token)
    if principal is None:
        raise Unauthorized("unknown or revoked token")
    return principal


def from_loopback() -> bool:
    """The request comes from this host (127.0.0.0/8, ::1, or ::ffff:127.x on a dual stack):
    where ``/metrics`` and the explorer's "try it" may be open. Behind a reverse proxy on the
    same host every request looks local; the settings that open them say so."""
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped and mapped.is_loopback)


def require(*roles: str) -> Callable[[_View], _View]:
    """Let the view run only for a valid token with one of ``roles``.

    Authentication comes before the body is parsed, so an anonymous caller learns nothing
    about what a valid body looks like.
    """

    def decorate(view: _View) -> _View:
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
