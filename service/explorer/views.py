"""``/explorer``: server-rendered pages where people read the rules the API applies.

Planners review what a new version changes, providers look up which facts an action needs and
why a day was denied, auditors read a logged decision next to the rules that made it. All of
it is read from the same loaded set the API serves (``services().policies.current()``), so the
pages can never disagree with a decision.

A plain Flask blueprint, not a flask-smorest one: these pages are for people and are not part
of the OpenAPI document. Templates are in ``service/explorer/templates/explorer/``, the
stylesheets in ``service/explorer/static/``; nothing is fetched from another host, so the pages
work with no internet.

Access (settings in :mod:`service.config`):

* reading (policies, versions, actions, diffs) is open; ``EXPLORER_OPEN=0`` asks for a token
  of any role (``Authorization`` header, or signed in once per browser session:
  :mod:`service.explorer.signin`, which also puts a CSRF token on every POST form);
* "try it" evaluates with :func:`engine.decide` and never writes the decision log; it needs a
  provider's or planner's token, except from loopback while
  ``EXPLORER_TRY_OPEN_ON_LOOPBACK`` is on;
* logged decisions (:mod:`service.explorer.decisions`): an auditor or a planner reads all, a
  provider its own.

Nothing personal is shown in clear: the log holds hashed facts already, and "try it" hashes
every personal value in its answer and never writes a ``hetu`` fact back into the form.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup, escape

from engine import EngineError, FactError, LookupFailed, decide
from engine.comparisons import comparisons
from engine.diff import diff_versions
from engine.errors import EvaluationError, FactProblem, NoVersionInForce, UnknownVersion
from engine.facts import parse_date
from engine.fixtures import run_case
from engine.invisible import is_blank
from engine.model import LANGUAGES, ActionSpec, FactSpec, PolicyVersion
from engine.personal import personal_texts
from engine.resolve import version_for
from engine.revision import review_text, trace_version
from engine.store import PolicyStore
from service.auth import DECIDERS, from_loopback
from service.explorer import formats
from service.explorer.catalogue import LANGUAGE_NAMES, labels_for
from service.explorer.formats import format_date, format_value
from service.explorer.naming import named, named_derived, named_facts
from service.extensions import services
from service.tokens import Principal

__all__ = [
    "action_page",
    "bp",
    "case_try_url",
    "diff_page",
    "facts_from_form",
    "index",
    "init_app",
    "lang_url",
    "policy_page",
    "problem_text",
    "shape",
    "show",
    "text_page",
    "try_page",
    "try_url",
    "version_page",
    "web_url",
]

bp = Blueprint("explorer", __name__, url_prefix="/explorer", template_folder="templates",
               static_folder="static", static_url_path="/static")
formats.register(bp)

_LANG_COOKIE = "explorer_lang"
_EXTENSION = "rehab_rules_explorer"


class _PageError(Exception):
    """An error page in the reader's language: 400, 401, 403 or 404.

    ``key`` names the detail's words in the catalogue (``error_*``), ``params`` fill them; a
    bare English ``message`` is shown marked ``lang="en"``.
    """

    def __init__(self, status: int, message: str = "", key: str | None = None,
                 **params: Any):
        super().__init__(message or key or "")
        self.status = status
        self.message = message
        self.key = key
        self.params = params


def init_app(app: Flask) -> None:
    """Register the explorer and send ``/`` to it; kept out of the OpenAPI document."""
    app.register_blueprint(bp)
    app.extensions[_EXTENSION] = _FixtureCache()

    @app.route("/")
    def root() -> Response:
        return redirect(url_for("explorer.index"))


# --- language, headers, errors ---------------------------------------------------------------

@bp.before_request
def _choose_language() -> None:
    """``?lang=`` sets the language (and the cookie, below); else the cookie; else the
    browser's preference; else Finnish."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        g.lang, g.set_lang = asked, True
        return
    g.set_lang = False
    cookie = request.cookies.get(_LANG_COOKIE)
    g.lang = cookie if cookie in LANGUAGES else (
        request.accept_languages.best_match(LANGUAGES) or "fi")


@bp.after_request
def _headers(response: Response) -> Response:
    if getattr(g, "set_lang", False):
        response.set_cookie(_LANG_COOKIE, g.lang, max_age=365 * 24 * 3600, samesite="Lax",
                            path="/", secure=request.is_secure, httponly=True)
    # everything comes from this host; a page never runs another site's script or frame
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.method == "POST" or request.endpoint in _PRIVATE:
        response.headers["Cache-Control"] = "no-store"
    return _scrubbed(response)


# pages that show logged decisions or who is signed in: never kept by a browser or a proxy
_PRIVATE = ("explorer.decision", "explorer.decisions", "explorer.decisions_csv",
            "explorer.signin")


def _scrubbed(response: Response) -> Response:
    """The last guard of every page: no personal identity code leaves in a page's text or
    links, however it came in (a path, a query, a form field, a message quoting either);
    each is replaced by its pseudonym, as the decision log writes it, also when it hides
    behind percent escapes. The views already leave codes out; this catches what they miss.
    """
    if response.mimetype != "text/html" or response.direct_passthrough:
        return response
    html = response.get_data(as_text=True)
    masked = services().masker.scrub_revealed(html)
    if masked != html:
        response.set_data(masked)
    return response


@bp.app_template_global()
def lang_url(lang: str) -> str:
    """This page in another language: the same path and query, ``lang`` replaced; a
    personal fact's field ("try it") is left out and codes in the rest are hashed, so that
    a language link never carries what was typed into a ``hetu`` field."""
    drop = {"lang", *getattr(g, "personal_args", ())}
    scrub = services().masker.scrub_revealed
    args = [(k, scrub(v)) for k, v in request.args.items(multi=True) if k not in drop]
    return f"{request.path}?{urlencode([*args, ('lang', lang)])}"


@bp.app_template_test("web_url")
def web_url(value: Any) -> bool:
    """True for an ``http(s)://host…`` address: the only kind a page renders as a link
    (a ``javascript:``, ``data:`` or ``file:`` URL from a policy file stays text)."""
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


@bp.context_processor
def _template_values() -> dict[str, Any]:
    lang = getattr(g, "lang", "fi")
    # labels: the interface's words in the page's language; in_lang: a policy's {fi, sv, en}
    # text in it
    return {"lang": lang, "labels": labels_for(lang), "LANGUAGES": LANGUAGES,
            "LANGUAGE_NAMES": LANGUAGE_NAMES, "in_lang": lambda texts: _text_in(texts, lang),
            "show": show}


@bp.errorhandler(_PageError)
def _page_error(error: _PageError):
    titles = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found"}
    scrub = services().masker.scrub_revealed
    message, message_lang = error.message, "en"
    if error.key:
        labels = labels_for(g.lang)
        params = {k: scrub(labels.get(f"role_{v}", v) if k == "role" else
                           format_value(v, g.lang)) for k, v in error.params.items()}
        message, message_lang = labels[error.key].format(**params), g.lang
    return render_template("explorer/error.html", status=error.status,
                           message=scrub(message), message_lang=message_lang,
                           title_key=titles.get(error.status, "not_found"),
                           next_url=scrub(request.full_path.rstrip("?"))), error.status


_LOOKUP_KEYS = {"unknown_policy": "error_unknown_policy",
                "unknown_version": "error_unknown_version",
                "unknown_action": "error_unknown_action"}


@bp.errorhandler(LookupFailed)
def _lookup_failed(error: LookupFailed):
    """A name in the address that the loaded set lacks, said in the page's language."""
    key = _LOOKUP_KEYS.get(error.code)
    if key is None:
        return _page_error(_PageError(404, error.message))
    params = {**(request.view_args or {}), **error.details}
    return _page_error(_PageError(404, key=key, policy=params.get("policy", ""),
                                  version=params.get("version", ""),
                                  action=params.get("action", "")))


def _text_in(texts: Any, lang: str) -> str:
    """The text in ``lang`` of a {fi, sv, en} mapping, else Finnish, else any; plain text
    is returned as it is."""
    if not isinstance(texts, Mapping):
        return "" if texts is None else str(texts)
    for key in (lang, "fi", *texts):
        if texts.get(key):
            return str(texts[key])
    return ""


def show(value: Any) -> str:
    """A value as planners write it in a policy file and type it in a form: true/false,
    dates as ISO text, a list as comma-separated items, a mapping as ``key: value`` pairs
    (never JSON). What a reader reads goes through the ``|value`` filter instead, in the
    page's language (:mod:`service.explorer.formats`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "—"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {show(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(show(v) for v in value)
    return str(value)


# --- access ---------------------------------------------------------------------------------

def _token_principal(form_token: str | None = None) -> Principal | None:
    """The principal of a token from the form, the Authorization header or the signed-in
    session, in that order; None if none is given or it is unknown or revoked."""
    return signin.current_principal(form_token)


def _readable(view: Callable[..., Any]) -> Callable[..., Any]:
    """Open while ``EXPLORER_OPEN``; otherwise a token of any role."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_app.config["EXPLORER_OPEN"] and _token_principal() is None:
            raise _PageError(401)
        return view(*args, **kwargs)

    return wrapper


# --- fixtures per rule ------------------------------------------------------------------------

@dataclass(frozen=True)
class _CaseView:
    """One fixture case as a rule's section lists it."""

    name: str
    where: str
    fired: bool | None      # None: the case's request was refused (an error case)
    ok: bool
    # what the case decides, to open it in "try it" (:func:`case_try_url`)
    as_of: str = ""
    facts: tuple[tuple[str, Any], ...] = ()


class _FixtureCache:
    """The fixture suite run once per loaded set: (policy, version, action) → its cases.

    The cases are those the served bundle carries (:meth:`engine.PolicyStore.cases`), never
    a folder on this host's disk, so a rule's cases are the ones published with it. Keyed by
    the set's digest (which covers its cases), so a newly published bundle runs the suite
    again and every other page view reuses the answer. Only the newest run is kept.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: str | None = None
        self._cases: dict[tuple[str, str, str], list[tuple[_CaseView, tuple[str, ...]]]] = {}

    def cases(self, store: PolicyStore) -> dict[
            tuple[str, str, str], list[tuple[_CaseView, tuple[str, ...]]]]:
        key = store.digest
        with self._lock:
            if self._key != key:
                self._cases = _run_suite(store)
                self._key = key
            return self._cases


def _run_suite(store: PolicyStore,
               ) -> dict[tuple[str, str, str], list[tuple[_CaseView, tuple[str, ...]]]]:
    out: dict[tuple[str, str, str], list[tuple[_CaseView, tuple[str, ...]]]] = {}
    for case in store.cases():
        try:
            result = run_case(store, case)
        except Exception:        # a broken case must not take the page down
            continue
        where = f"{case.path}:{case.line}"
        if case.inherited_from:
            where += f" ({case.inherited_from})"
        view = _CaseView(case.name, where, None if result.fired is None else True, result.ok,
                         as_of=show(case.as_of), facts=tuple((case.facts or {}).items()))
        out.setdefault((case.policy, case.version, case.action), []).append(
            (view, tuple(result.fired or ())))
    return out


def _rule_cases(version: PolicyVersion, action: str) -> dict[str, dict[str, list[_CaseView]]]:
    """rule id → {"fired": […], "silent": […], "refused": […]} for one action's rules."""
    cache: _FixtureCache = current_app.extensions[_EXTENSION]
    runs = cache.cases(services().policies.current())
    found = runs.get((version.policy, version.version, action), [])
    out: dict[str, dict[str, list[_CaseView]]] = {}
    for rule in version.rules_for(action):
        groups: dict[str, list[_CaseView]] = {"fired": [], "silent": [], "refused": []}
        for view, fired in found:
            if view.fired is None:
                groups["refused"].append(view)
            else:
                groups["fired" if rule.id in fired else "silent"].append(view)
        out[rule.id] = groups
    return out


# --- reading pages ----------------------------------------------------------------------------

def _store() -> PolicyStore:
    return services().policies.current()


@bp.get("")
@_readable
def index():
    """Every policy with its versions, newest first."""
    store = _store()
    policies = [store.policies[name] for name in sorted(store.policies)]
    return render_template("explorer/index.html", policies=policies)


@bp.get("/policies/<policy>")
@_readable
def policy_page(policy: str):
    """A policy's versions: dates, change notes, digest, base, actions; and the diff form."""
    found = _store().get_policy(policy)
    return render_template("explorer/policy.html", policy=found,
                           versions=list(reversed(found.versions)))


@bp.get("/policies/<policy>/versions/<version>")
@_readable
def version_page(policy: str, version: str):
    """One version in full: source, change notes, parameter tables, actions."""
    store = _store()
    found = store.get_version(policy, version)
    return render_template("explorer/version.html", policy=store.get_policy(policy),
                           version=found, tables={k: shape(v) for k, v in
                                                  found.parameters.items()},
                           names={k: named(found, k, g.lang) for k in found.parameters})


@bp.get("/policies/<policy>/versions/<version>/actions/<action>")
@_readable
def action_page(policy: str, version: str, action: str):
    """What an action takes and how it is judged: facts, derived values, its rules in order
    with citations, and the fixture cases where each rule fires or stays silent."""
    store = _store()
    found = store.get_version(policy, version)
    spec = _action(found, action)
    params = _parameters_read(found, spec)
    return render_template(
        "explorer/action.html", policy=store.get_policy(policy), version=found, action=spec,
        rules=found.rules_for(action), cases=_rule_cases(found, action),
        tables={k: shape(found.parameters[k]) for k in params},
        case_url=lambda case: case_try_url(found, spec, case),
        facts=named_facts(found, spec, g.lang), derived=named_derived(found, spec, g.lang),
        names={k: named(found, k, g.lang) for k in params})


def case_try_url(version: PolicyVersion, action: ActionSpec, case: _CaseView) -> str:
    """A fixture case opened in "try it": its facts (never a personal one) and date, its
    version pinned as the suite runs it, so the try shows what the case checks."""
    return try_url(version, action.name, case.as_of, dict(case.facts), set(action.personal),
                   pinned=version.version)


@bp.get("/policies/<policy>/diff")
@_readable
def diff_page(policy: str):
    """What changed between two versions, both resolved, cell by cell."""
    store = _store()
    found = store.get_policy(policy)
    names = [v.version for v in found.versions]
    before_name = request.args.get("from") or (names[-2] if len(names) > 1 else names[0])
    after_name = request.args.get("to") or names[-1]
    before = store.get_version(policy, before_name)
    after = store.get_version(policy, after_name)
    diff = diff_versions(before, after, found.versions)
    return render_template("explorer/diff.html", policy=found, diff=diff, before=before,
                           after=after, rule_actions={r.id: r.actions[0] for v in
                                                      (before, after) for r in v.rules},
                           text_changes=_text_changes(before, after))


@bp.get("/policies/<policy>/versions/<version>/text")
@_readable
def text_page(policy: str, version: str):
    """The version's service-description text, section by section, with the rules resting
    on each in the margin (a section links to its rules, a rule's citation back here)."""
    store = _store()
    found = store.get_version(policy, version)
    trace = trace_version(found, g.lang)
    if trace is None:
        raise _PageError(404, key="error_no_text", policy=policy, version=version)
    return render_template("explorer/text.html", policy=store.get_policy(policy),
                           version=found, trace=trace)


def _text_changes(before: PolicyVersion, after: PolicyVersion) -> list[dict[str, Any]]:
    """The sections of ``after``'s text that differ from ``before``'s, each with the rules of
    ``before`` that cite it and what ``after`` did with each: changed, removed, reviewed (and
    why) or left as it was."""
    if before.text is None or after.text is None or before.text is after.text:
        return []
    lang = g.lang if g.lang in after.text.files and g.lang in before.text.files else "fi"
    now = {r.id: r for r in after.rules}
    out = []
    for change in review_text(before, after.text.in_language(lang)).changes:
        rules = []
        for rule in change.rules:
            later = now.get(rule.id)
            status = ("rule_removed" if later is None else
                      "rule_changed" if later.describe() != rule.describe() else
                      "rule_reviewed" if rule.id in after.reviewed else "rule_unchanged")
            rules.append({"id": rule.id, "effect": rule.effect, "status": status,
                          "why": after.reviewed.get(rule.id),
                          "action": (later or rule).actions[0]})
        out.append({"change": change, "rules": rules, "lang": lang})
    return out


def _action(version: PolicyVersion, name: str) -> ActionSpec:
    spec = version.actions.get(name)
    if spec is None:
        raise _PageError(404, key="error_unknown_action", policy=version.policy,
                         version=version.version, action=name)
    return spec


def _parameters_read(version: PolicyVersion, spec: ActionSpec) -> list[str]:
    """The parameters an action's rules and derived values read, in the file's order."""
    derived = {d.name: d for d in spec.derived}
    todo = [n for r in version.rules_for(spec.name) for n in r.reads]
    todo += [n for d in spec.derived for n in d.reads]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            if name in derived:
                todo.extend(derived[name].reads)
    return [name for name in version.parameters if name in seen]


def shape(value: Any) -> dict[str, Any]:
    """How a parameter is drawn: a table of rows (a mapping of mappings), a two-column
    table (a mapping of plain values), a list, or one value."""
    if isinstance(value, Mapping) and value and all(
            isinstance(v, Mapping) for v in value.values()):
        columns: list[str] = []
        for row in value.values():
            columns += [str(c) for c in row if str(c) not in columns]
        rows = [(str(k), [row.get(c) if c in row else "" for c in columns])
                for k, row in value.items()]
        return {"kind": "table", "columns": columns, "rows": rows}
    if isinstance(value, Mapping):
        return {"kind": "pairs", "rows": [(str(k), v) for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return {"kind": "list", "items": list(value)}
    return {"kind": "value", "value": value}


# --- try it -----------------------------------------------------------------------------------

def _field_kind(spec: FactSpec) -> str:
    if spec.type == "list":
        return "textarea"
    if spec.one_of is not None:
        return "select"
    return {"boolean": "checkbox", "integer": "number", "number": "number",
            "date": "date"}.get(spec.type, "text")


def _number(text: str) -> Any:
    """The number in ``text``, or the text itself so that the engine says what is wrong."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def _item(kind: str, text: str) -> Any:
    return _number(text) if kind in ("integer", "number") else text


def facts_from_form(action: ActionSpec, form: Mapping[str, str]) -> dict[str, Any]:
    """The request facts a filled-in form means: an empty field (blank: spaces or invisible
    characters only, :func:`engine.invisible.is_blank`) is a fact left out, a checkbox is true
    or false, a list is one item per non-blank line; the engine checks the rest."""
    facts: dict[str, Any] = {}
    for name, spec in action.facts.items():
        raw = form.get(f"f.{name}", "")
        kind = _field_kind(spec)
        if kind == "checkbox":
            facts[name] = raw not in ("", "0", "false", "off")
        elif kind == "textarea":
            lines = [line.strip() for line in raw.splitlines() if not is_blank(line)]
            if lines:
                facts[name] = [_item(spec.items or "string", line) for line in lines]
        elif not is_blank(raw):
            facts[name] = _item(spec.type, raw.strip())
    return facts


def _fields(action: ActionSpec, form: Mapping[str, str], fresh: bool,
            scrub: Callable[[str], str]) -> list[dict[str, Any]]:
    """The inputs of the form, with what was typed: never a personal fact's value, and a
    code quoted in another field comes back hashed (``scrub``); a ``fresh`` form shows the
    facts' defaults."""
    out = []
    for name, spec in action.facts.items():
        kind = _field_kind(spec)
        value = "" if spec.personal else scrub(form.get(f"f.{name}", ""))
        if fresh and spec.default is not None and f"f.{name}" not in form:
            value = ("on" if spec.default is True else "") if kind == "checkbox" \
                else "\n".join(show(v) for v in spec.default) if kind == "textarea" \
                else show(spec.default)
        out.append({"name": name, "spec": spec, "kind": kind, "value": value,
                    "had_value": bool(spec.personal and form.get(f"f.{name}"))})
    return out


def _try_gate(form_token: str) -> tuple[int, str] | None:
    """None if this request may evaluate; else (status, why)."""
    if current_app.config["EXPLORER_TRY_OPEN_ON_LOOPBACK"] and from_loopback():
        return None
    principal = _token_principal(form_token)
    if principal is None:
        return 401, "unauthorized"
    if principal.role not in DECIDERS:
        return 403, "forbidden"
    return None


@bp.route("/policies/<policy>/versions/<version>/actions/<action>/try",
          methods=["GET", "POST"])
def try_page(policy: str, version: str, action: str):
    """A what-if decision from a form: never logged, so it calls the engine directly."""
    if request.method == "GET" and not current_app.config["EXPLORER_OPEN"] \
            and _token_principal() is None:
        raise _PageError(401)
    store = _store()
    found = store.get_version(policy, version)
    spec = _action(found, action)
    g.personal_args = {f"f.{name}" for name in spec.personal}    # never in a language link
    form = request.form if request.method == "POST" else request.args
    as_of = form.get("as_of") or dt.date.today().isoformat()
    pinned = form.get("version", "")
    masker = services().masker
    facts = facts_from_form(spec, form)
    known = personal_texts(facts, spec.personal)
    tried = _Tried()
    if request.method == "POST":
        tried = _try(store, found, action, as_of, pinned, facts,
                     lambda value: masker.scrub_value(value, known), form.get("token", ""))
    elsewhere = _other_versions(store.get_policy(policy).versions, tried.result, action,
                                as_of, {k: v for k, v in facts.items()
                                        if k not in spec.personal})
    return render_template(
        "explorer/try.html", policy=store.get_policy(policy), version=found, action=spec,
        fields=_fields(spec, form, request.method == "GET",
                       lambda text: masker.scrub_value(text, known)),
        as_of=masker.scrub(as_of), pinned=pinned, errors=tried.errors, problem=tried.problem,
        result=tried.result, elsewhere=elsewhere, left_out=tried.left_out,
        loopback_open=bool(current_app.config["EXPLORER_TRY_OPEN_ON_LOOPBACK"]
                           and from_loopback())), tried.status


@dataclass
class _Tried:
    """What "try it" shows: the decision, or the engine's messages per field, or a problem."""

    status: int = 200
    result: dict[str, Any] | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    problem: str | Markup | None = None
    left_out: tuple[str, ...] = ()      # the page's facts the deciding version does not take


def _try(store: PolicyStore, version: PolicyVersion, action: str, as_of: str, pinned: str,
         facts: dict[str, Any], scrub: Callable[[Any], Any], token: str) -> _Tried:
    """Decide the form's facts if this caller may (:func:`_try_gate`); everything shown
    passes ``scrub``, so a personal value typed in never comes back."""
    gate = _try_gate(token)
    if gate is not None:
        status, key = gate
        return _Tried(status, errors={"token": [labels_for(g.lang)[key]]})
    facts, left_out = _untouched_left_out(store, version, action, as_of, pinned, facts)
    try:
        decision = decide(store, policy=version.policy, action=action, as_of=as_of,
                          facts=facts, lang=g.lang, explain=True, version=pinned or None)
    except FactError as exc:
        return _Tried(422, errors={scrub(name): [problem_text(p, g.lang, scrub) for p in found]
                                   for name, found in exc.problems.items()})
    except EngineError as exc:
        return _Tried(422, problem=_engine_problem(exc, g.lang, scrub))
    result = decision.to_dict()
    used = store.get_version(version.policy, decision.version)
    rules = {r.id: r for r in used.rules_for(action)}
    spec = used.actions[action]
    for entry, shown in zip(decision.trace or (), result["trace"] or (), strict=True):
        # each comparison with its threshold; personal values are never shown or judged
        shown["comparisons"] = [c.to_dict() for c in comparisons(
            rules[entry.rule].when, entry.reads, used.parameters, spec.derived,
            spec.personal)]
    return _Tried(result=scrub(result), left_out=left_out)


def _untouched_left_out(store: PolicyStore, version: PolicyVersion, action: str, as_of: str,
                        pinned: str, facts: dict[str, Any],
                        ) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The facts without those the deciding version's action does not take and the reader
    left as the form gave them (an unticked box, a default): a date before this page's
    version took effect decides under an older version, which would refuse a fact it never
    had. A fact the reader did fill in stays, and the engine says it is unknown."""
    try:
        if pinned:
            used = store.get_version(version.policy, pinned)
        else:
            with store.using() as policy_set:
                used, _ = version_for(policy_set, version.policy, action, parse_date(as_of),
                                      facts)
    except (EngineError, ValueError, TypeError):
        return facts, ()             # decide() says what is wrong
    if used is version or action not in used.actions:
        return facts, ()
    takes, ours = used.actions[action].facts, version.actions[action].facts
    out = [n for n, v in facts.items() if n not in takes and n in ours
           and (v == ours[n].default or (v is False and ours[n].default is None))]
    return {n: v for n, v in facts.items() if n not in out}, tuple(out)


def _other_versions(versions: Any, result: dict[str, Any] | None, action: str, as_of: str,
                    facts: Mapping[str, Any]) -> list[tuple[PolicyVersion, str]]:
    """"Try these facts under another version": each other version that has the action,
    with the link to its form filled in with the same facts (never a personal one), that
    version pinned. Only beside a decision."""
    if result is None:
        return []
    out = []
    for other in versions:
        if other.version == result["version"] or action not in other.actions:
            continue
        skip = set(other.actions[action].personal)
        out.append((other, try_url(other, action, as_of, facts, skip, pinned=other.version)))
    return out


_PARAM_LISTS = ("allowed", "known")


def problem_text(problem: FactProblem, lang: str, scrub: Callable[[Any], Any]) -> Markup:
    """What is wrong with a fact in ``lang`` (the catalogue's ``fact_<code>``), its values
    scrubbed and written the reader's way; a problem with no words in the catalogue keeps
    its English message, marked as English."""
    labels = labels_for(lang)
    words = labels.get(f"fact_{problem.code}")
    if words is None:
        return Markup('<span lang="en">{}</span>').format(scrub(problem.message))
    params: dict[str, str] = {}
    for name, value in problem.params.items():
        if name in ("type", "items"):
            params[name] = labels.get(f"type_{value}", str(value))
        elif name in _PARAM_LISTS and isinstance(value, (list, tuple)):
            params[name] = ", ".join(str(scrub(format_value(v, lang))) for v in value)
        else:
            params[name] = str(scrub(format_value(value, lang)))
    text = words.format(**params)
    if "item" in problem.params:
        text = labels["fact_item"].format(item=params["item"], problem=text)
    return escape(text)


def _engine_problem(exc: EngineError, lang: str, scrub: Callable[[Any], Any]) -> Markup:
    """An engine error that is not about one fact, in ``lang`` where the catalogue has it."""
    labels = labels_for(lang)
    details = exc.details
    if isinstance(exc, NoVersionInForce):
        text = labels["problem_no_version_in_force"].format(
            policy=scrub(request.view_args.get("policy", "")),
            as_of=format_date(details.get("as_of"), lang),
            first=format_date(details.get("first_effective_from"), lang))
    elif isinstance(exc, UnknownVersion):
        text = labels["problem_unknown_version"].format(policy=scrub(details.get("policy", "")),
                                                        version=scrub(details.get("version", "")))
    elif isinstance(exc, EvaluationError):
        text = labels["problem_evaluation_failed"]
    else:
        return Markup('<span lang="en">{}</span>').format(scrub(exc.message))
    return escape(text)


def try_url(version: PolicyVersion, action: str, as_of: str, facts: Mapping[str, Any],
            skip: set[str], pinned: str = "") -> str:
    """The "try it" form of ``version`` prefilled with ``facts`` (those in ``skip`` left
    out) and a date."""
    args: list[tuple[str, str]] = [("as_of", as_of)]
    if pinned:
        args.append(("version", pinned))
    for name, value in facts.items():
        if name in skip:
            continue
        if isinstance(value, bool):
            if value:
                args.append((f"f.{name}", "on"))
        elif isinstance(value, list):
            args.append((f"f.{name}", "\n".join(show(v) for v in value)))
        else:
            args.append((f"f.{name}", show(value)))
    base = url_for("explorer.try_page", policy=version.policy, version=version.version,
                   action=action)
    return f"{base}?{urlencode(args)}"


# the sign-in, the decision log's and the activity pages: their routes on ``bp`` (imported
# last, as they use it)
from service.explorer import activity, decisions, signin  # noqa: E402, F401
