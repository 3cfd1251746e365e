"""Signing in to the explorer once per browser session, and the CSRF token of its forms.

``/explorer/signin`` takes an API bearer token (:mod:`service.tokens`) once and answers with a
signed cookie, ``explorer_session``: HttpOnly, SameSite=Lax (a bookmarked or mailed link to a
decision still opens signed in), Secure over https, for ``EXPLORER_SESSION_SECONDS``. The
cookie holds the token's *id* and the time it was signed, never the token: a stolen cookie is
no API credential, and revoking the token (``rehab-rules tokens revoke``) ends the session at
the next page, since every page asks the token table whether the id is still live
(:func:`service.auth.principal_by_id`). The signature is itsdangerous's, under a key derived
from the service's own secret (``REHAB_RULES_HASH_KEY`` or ``var/hash.key``), which every
host and worker shares: any of them reads any other's cookie.

Every POST to the explorer carries a CSRF token (signed double submit): a random nonce lives
in the ``explorer_csrf`` cookie and each form carries the nonce's HMAC under that key, so a
page of another site can neither read the value nor forge one, even if it could plant a
cookie. A missing or wrong token is a 400 page that says which. The check runs before every
POST view of the blueprint, so a new form cannot forget it; the old ``/explorer/login`` and
``/explorer/logout`` only redirect to the sign-in page and change nothing.

An ``Authorization: Bearer`` header still works on every page (for scripts), as does the
token field of "try it".
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any

from flask import Response, current_app, g, redirect, render_template, request, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer

from service.auth import bearer_token, principal_by_id, principal_of
from service.explorer.views import _PageError, bp
from service.masking import load_or_create_key
from service.tokens import Principal

__all__ = ["CSRF_COOKIE", "CSRF_FIELD", "SESSION_COOKIE", "check_csrf", "csrf_token",
           "current_principal", "login", "logout", "safe_next", "session_principal", "signin",
           "signout"]

SESSION_COOKIE = "explorer_session"
CSRF_COOKIE = "explorer_csrf"
CSRF_FIELD = "csrf_token"
_COOKIE_PATH = "/explorer"
_KEY = "rehab_rules_explorer_key"
_SALT = "rehab-rules explorer session"
_NONCE = re.compile(r"[A-Za-z0-9_-]{32,64}")
# views that change nothing and only send an old bookmark to the sign-in page
_NO_CSRF = frozenset({"explorer.login", "explorer.logout"})


def _key() -> bytes:
    """The explorer's signing key: derived from the service's secret, so it is the same on
    every worker and host, and never the masking key itself."""
    key = current_app.extensions.get(_KEY)
    if key is None:
        secret = load_or_create_key(current_app.config["REHAB_RULES_HASH_KEY"],
                                    current_app.config["VAR_DIR"])
        key = hmac.new(secret, b"rehab-rules explorer", hashlib.sha256).digest()
        current_app.extensions[_KEY] = key
    return key


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_key(), salt=_SALT)


def _seconds() -> int:
    return int(float(current_app.config["EXPLORER_SESSION_SECONDS"]))


# --- who is signed in ---------------------------------------------------------------------------

def session_principal() -> Principal | None:
    """The principal of this browser's signed-in session: None without a cookie, with a
    forged or expired one, or once its token is revoked. Asked once per request."""
    if "explorer_session" in g:
        return g.explorer_session
    principal = None
    raw = request.cookies.get(SESSION_COOKIE, "")
    if raw:
        try:
            data = _serializer().loads(raw, max_age=_seconds())
        except BadSignature:        # SignatureExpired included
            data = None
        if isinstance(data, dict) and isinstance(data.get("token_id"), str):
            principal = principal_by_id(data["token_id"])
    g.explorer_session = principal
    return principal


def current_principal(form_token: str | None = None) -> Principal | None:
    """Who is asking: a token typed into a form ("try it"), the ``Authorization`` header, or
    the signed-in session, in that order; None if none is given or valid."""
    token = (form_token or "").strip() or bearer_token()
    if token:
        return principal_of(token)
    return session_principal()


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a page of the explorer, never another host."""
    target = target or ""
    if target == "/explorer" or target.startswith(("/explorer/", "/explorer?")):
        return target
    return url_for("explorer.index")


# --- CSRF ---------------------------------------------------------------------------------------

# a token in letters only: the pages' last guard hashes whatever looks like a personal identity
# code (six digits, a century sign that may be a letter A-F, …), and random hex sometimes does
_LETTERS = str.maketrans("0123456789abcdef", "ghijklmnopqrstuv")


def _expected(nonce: str) -> str:
    digest = hmac.new(_key(), b"csrf:" + nonce.encode(), hashlib.sha256).hexdigest()
    return digest.translate(_LETTERS)


@bp.app_template_global()
def csrf_token() -> str:
    """The CSRF token a form of this page carries (hidden field ``csrf_token``); the nonce
    it signs is this browser's ``explorer_csrf`` cookie, set with the page if it is new."""
    nonce = getattr(g, "csrf_nonce", None)
    if nonce is None:
        nonce = request.cookies.get(CSRF_COOKIE, "")
        if not _NONCE.fullmatch(nonce):
            nonce, g.csrf_new = secrets.token_urlsafe(32), True
        g.csrf_nonce = nonce
    return _expected(nonce)


def check_csrf() -> None:
    """Refuse (400) a POST whose form lacks the CSRF token or carries a wrong one."""
    sent = request.form.get(CSRF_FIELD, "")
    if not sent:
        raise _PageError(400, key="csrf_missing")
    nonce = request.cookies.get(CSRF_COOKIE, "")
    if not _NONCE.fullmatch(nonce) or not hmac.compare_digest(sent, _expected(nonce)):
        raise _PageError(400, key="csrf_wrong")


@bp.before_request
def _every_post_carries_csrf() -> None:
    if request.method == "POST" and request.endpoint not in _NO_CSRF:
        check_csrf()


@bp.after_request
def _set_csrf_cookie(response: Response) -> Response:
    if getattr(g, "csrf_new", False):
        response.set_cookie(CSRF_COOKIE, g.csrf_nonce, httponly=True, samesite="Lax",
                            secure=request.is_secure, path=_COOKIE_PATH)
    return response


@bp.context_processor
def _signed_in() -> dict[str, Any]:
    principal = session_principal()
    return {"signed_in": principal is not None, "signed_in_as": principal}


# --- the pages ----------------------------------------------------------------------------------

def _form(status: int = 200, failed: bool = False):
    return render_template("explorer/signin.html", failed=failed,
                           next_url=safe_next(request.values.get("next")),
                           seconds=_seconds()), status


@bp.route("/signin", methods=["GET", "POST"])
def signin():
    """GET: the sign-in form (and who is signed in). POST: a valid API token becomes this
    browser's session cookie, and the browser goes on to ``next``."""
    if request.method == "GET":
        return _form()
    principal = principal_of(request.form.get("token"))
    if principal is None:
        return _form(401, failed=True)
    response = redirect(safe_next(request.form.get("next")), code=303)
    response.set_cookie(SESSION_COOKIE, _serializer().dumps({"token_id": principal.token_id}),
                        max_age=_seconds(), httponly=True, samesite="Lax",
                        secure=request.is_secure, path=_COOKIE_PATH)
    return response


@bp.post("/signout")
def signout():
    """End this browser's session (the token itself stays valid for the API)."""
    response = redirect(url_for("explorer.index"), code=303)
    response.delete_cookie(SESSION_COOKIE, path=_COOKIE_PATH, httponly=True, samesite="Lax",
                           secure=request.is_secure)
    return response


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The old sign-in address: to the sign-in page (nothing is signed in here)."""
    target = url_for("explorer.signin", next=safe_next(request.values.get("next")))
    return redirect(target, code=303)


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """The old sign-out address: to the sign-in page, whose button signs out."""
    return redirect(url_for("explorer.signin"), code=303)
