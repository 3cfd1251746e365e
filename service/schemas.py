"""Marshmallow schemas for every request and response body of the API.

Requests are strict: unknown fields are refused, JSON types are not coerced (``"true"`` is
not a boolean, ``"7"`` is not a number), so a client's mistake becomes a 422 that names the
field, never a surprise further down.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from engine.facts import parse_date
from engine.model import LANGUAGES
from engine.schema import RULE_ID, StrictBool
from service.decision_log import CURSOR_PATTERN

__all__ = [
    "MAX_INTEGER",
    "ActivationSchema",
    "BatchItemSchema",
    "BatchRequestSchema",
    "BatchResponseSchema",
    "BundleListSchema",
    "BundleSchema",
    "BundleStatusSchema",
    "ChosenBySchema",
    "CiteSchema",
    "CitedSectionSchema",
    "DatabaseStatusSchema",
    "DecisionListSchema",
    "DecisionQuerySchema",
    "DecisionRequestSchema",
    "DecisionResponseSchema",
    "DiffActionSchema",
    "DiffActionsSchema",
    "DiffCellSchema",
    "DiffDatesSchema",
    "DiffNotesSchema",
    "DiffParameterSchema",
    "DiffParametersSchema",
    "DiffQuerySchema",
    "DiffRuleSchema",
    "DiffRulesSchema",
    "DiffSchema",
    "ErrorEnvelopeSchema",
    "ErrorSchema",
    "FindingSchema",
    "HealthSchema",
    "ImpactRequestSchema",
    "ImpactSchema",
    "Instant",
    "IsoDate",
    "LoggedDecisionSchema",
    "PolicyListSchema",
    "PolicySummarySchema",
    "PublishResultSchema",
    "PublishSchema",
    "ReloadSchema",
    "StrictSchema",
    "VersionDetailSchema",
    "VersionSummarySchema",
]

# The largest integer a request may carry in a query or a body where it reaches the
# database (a bundle id, a LIMIT): the INTEGER columns hold no more on either database, and a
# larger value would be the driver's OverflowError (a 500) instead of the client's 422.
MAX_INTEGER = 2**31 - 1

_NAME = validate.Length(min=1, max=100)
# What a policy, action or version name can look like: anything else cannot exist, and a NUL
# would make PostgreSQL refuse the query instead of finding nothing.
_NAME_CHARS = validate.Regexp(r"^[A-Za-z0-9_.-]+$", error="Not a policy, action or version name.")
_RULE_ID = validate.Regexp(f"^{RULE_ID.pattern}$", error="Not a rule id (e.g. CR-11-min-attached).")


# only JSON true or false (engine.schema.StrictBool), in the API's words
_BOOLEAN = {"invalid": "Not a valid boolean (use true or false)."}


# Python's fromisoformat also reads week dates ("2025-W20-1") and basic forms ("20250512"),
# which a client almost certainly did not mean; the API takes the extended forms only.
_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_TIME = r"[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?"
# An unencoded "+" in a query string arrives as a space: " 02:00" is read as "+02:00".
_OFFSET = r"Z|[+\- ][0-9]{2}:?[0-9]{2}"
_INSTANT = re.compile(rf"(?P<date>{_DATE})(?:(?P<time>{_TIME})(?P<offset>{_OFFSET})?)?",
                      re.IGNORECASE)


class IsoDate(fields.Date):
    """A date written ``YYYY-MM-DD``, and nothing else: the engine's own reading of dates."""

    def _deserialize(self, value: Any, attr, data, **kwargs) -> dt.date:
        if not isinstance(value, str):
            raise ValidationError("Not a valid date: write YYYY-MM-DD.")
        try:
            return parse_date(value)
        except ValueError as exc:
            raise ValidationError("Not a valid date: write YYYY-MM-DD.") from exc


class Instant(fields.String):
    """An ISO 8601 date or date-time; a bare date means its midnight UTC.

    Documented as a date or an RFC 3339 date-time (``anyOf``), which is what it reads."""

    def __init__(self, **kwargs: Any):
        metadata = {"anyOf": [{"type": "string", "format": "date"},
                              {"type": "string", "format": "date-time"}],
                    **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr, data, **kwargs) -> dt.datetime:
        match = _INSTANT.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            raise ValidationError("Not a valid date or date-time: write YYYY-MM-DD or "
                                  "YYYY-MM-DDTHH:MM[:SS][+HH:MM] (%2B for + in a URL).")
        text = match["date"] + (match["time"] or "") + (match["offset"] or "").replace(" ", "+")
        try:
            parsed = dt.datetime.fromisoformat(text)
            parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
            return parsed.astimezone(dt.UTC)      # overflows at the ends of the range
        except (ValueError, OverflowError) as exc:
            raise ValidationError("Not a valid ISO 8601 date or date-time.") from exc


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


# --- decisions --------------------------------------------------------------------------

class DecisionRequestSchema(StrictSchema):
    policy = fields.String(required=True, validate=_NAME)
    action = fields.String(required=True, validate=_NAME)
    as_of = IsoDate(required=True, metadata={"description": "date of the event judged"})
    version = fields.String(validate=[_NAME, _NAME_CHARS], metadata={
        "description": "evaluate under this version whatever as_of says; the decision says "
                       "pinned: true"})
    lang = fields.String(load_default="fi", validate=validate.OneOf(LANGUAGES))
    explain = StrictBool(load_default=False, error_messages=_BOOLEAN)
    cite_text = StrictBool(load_default=False, error_messages=_BOOLEAN, metadata={
        "description": "true: each finding's cite.sections also carries the sentences of the "
                       "section of the service description the rule rests on"})
    facts = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True),
                        required=True)


class CitedSectionSchema(Schema):
    """A section of the version's service-description text that a rule cites."""

    number = fields.String(metadata={"description": "the description's own number, e.g. 4.2"})
    heading = fields.String(metadata={"description": "the section's heading, in `lang`"})
    lang = fields.String(metadata={
        "description": "the language of the heading (and sentences): the decision's language "
                       "where Kela publishes the text in it (fi, sv), else fi"})
    sentences = fields.List(fields.String(), metadata={
        "description": "the section's sentences; only when the request says cite_text: true"})


class CiteSchema(Schema):
    """Where a rule comes from: what the policy file says, and the sections it names."""

    seed = fields.String()
    section = fields.String(metadata={"description": "as the policy file writes it"})
    quote = fields.String(metadata={"description": "the words of the section the rule "
                                                   "rests on, when the policy quotes them"})
    interpretation = fields.String()
    url = fields.String()
    note = fields.String()
    sections = fields.List(fields.Nested(CitedSectionSchema), metadata={
        "description": "the sections of the version's text that `section` names; absent when "
                       "the version carries no text"})


class FindingSchema(Schema):
    rule = fields.String()
    message = fields.String()
    cite = fields.Nested(CiteSchema)
    due = fields.String()


class _DecisionBody(Schema):
    decision_id = fields.String()
    policy = fields.String()
    version = fields.String()
    digest = fields.String()
    action = fields.String()
    as_of = fields.String()
    lang = fields.String()
    outcome = fields.String(metadata={"enum": ["allow", "deny"]})
    violations = fields.List(fields.Nested(FindingSchema))
    warnings = fields.List(fields.Nested(FindingSchema))
    notices = fields.List(fields.Nested(FindingSchema))
    obligations = fields.List(fields.Nested(FindingSchema))
    results = fields.Dict()
    fired = fields.List(fields.String())
    bundle = fields.Integer(allow_none=True, metadata={
        "description": "the published policy bundle that decided"})
    pinned = fields.Boolean(metadata={
        "description": "true: the request named the version (a what-if); false: as_of "
                       "picked the version in force"})


class ChosenBySchema(Schema):
    by = fields.String(metadata={"description": "as_of, the date fact the action names in "
                                                "version_by, or version (pinned)"})
    date = fields.String(allow_none=True, metadata={"description": "the date that chose it"})


class DecisionResponseSchema(_DecisionBody):
    trace = fields.List(fields.Dict(), allow_none=True)
    version_chosen_by = fields.Nested(ChosenBySchema, metadata={
        "description": "which date chose the version in force"})


class LoggedDecisionSchema(_DecisionBody):
    time = fields.String()
    provider = fields.String(allow_none=True)
    token_id = fields.String()
    facts = fields.Dict(metadata={"description": "as sent, personal identity codes hashed"})
    latency_ms = fields.Float()
    hetu_checks = fields.Dict(allow_none=True, metadata={
        "description": "per personal fact, what the policy could derive from the code: "
                       "{valid, temporary} (null for blank text); null for decisions logged "
                       "before this was recorded"})


class DecisionQuerySchema(StrictSchema):
    policy = fields.String(validate=[_NAME, _NAME_CHARS])
    action = fields.String(validate=[_NAME, _NAME_CHARS])
    outcome = fields.String(validate=validate.OneOf(("allow", "deny")))
    since = Instant(metadata={"description": "ISO date or date-time, inclusive"})
    until = Instant(metadata={"description": "ISO date or date-time, exclusive"})
    as_of_from = IsoDate(metadata={
        "description": "only decisions whose event date (`as_of`) is on or after this day"})
    as_of_until = IsoDate(metadata={
        "description": "only decisions whose event date (`as_of`) is on or before this day "
                       "(inclusive)"})
    bundle = fields.Integer(strict=False, validate=validate.Range(min=1, max=MAX_INTEGER),
                            metadata={"description": "only decisions made under this bundle"})
    version = fields.String(validate=[_NAME, _NAME_CHARS],
                            metadata={"description": "only decisions made under this version"})
    # exactly true or false: "yes", "1" or "on" are a client's guess, refused like any other
    pinned = fields.Boolean(truthy={"true"}, falsy={"false"}, metadata={
        "description": "true: only pinned decisions (what-ifs); false: only those under the "
                       "version in force"})
    digest = fields.String(validate=[validate.Length(min=1, max=80), validate.Regexp(
        r"^[A-Za-z0-9:]+$", error="Not a digest.")], metadata={
        "description": "only decisions made under the version with this digest"})
    fired = fields.String(validate=[validate.Length(min=1, max=100), _RULE_ID], metadata={
        "description": "only decisions in which this rule fired"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String(validate=validate.Regexp(CURSOR_PATTERN, error=(
        "Not a cursor: pass next_cursor of the previous page.")), metadata={
        "description": "next_cursor of the previous page"})

    @validates_schema
    def _range(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "since" in data and "until" in data and data["since"] > data["until"]:
            raise ValidationError("must not be later than until", "since")
        if ("as_of_from" in data and "as_of_until" in data
                and data["as_of_from"] > data["as_of_until"]):
            raise ValidationError("must not be later than as_of_until", "as_of_from")


class BatchRequestSchema(StrictSchema):
    decisions = fields.List(fields.Raw(allow_none=True), required=True, metadata={
        "description": "up to 1,000 decision requests, each shaped like the body of "
                       "`POST /v1/decisions`; each is checked on its own"})


class BatchItemSchema(Schema):
    index = fields.Integer(metadata={"description": "the item's place in the request"})
    status = fields.Integer(metadata={"description": "200, or the HTTP status the item alone "
                                                     "would have had"})
    decision = fields.Nested(DecisionResponseSchema)
    error = fields.Dict(metadata={"description": "`{code, message, details}` as in any error"})


class BatchResponseSchema(Schema):
    results = fields.List(fields.Nested(BatchItemSchema), metadata={
        "description": "one per request item, in order"})
    decided = fields.Integer()
    failed = fields.Integer()


class DecisionListSchema(Schema):
    decisions = fields.List(fields.Nested(LoggedDecisionSchema))
    next_cursor = fields.String(allow_none=True)


# --- policies ---------------------------------------------------------------------------

class VersionSummarySchema(Schema):
    version = fields.String()
    effective_from = fields.String()
    digest = fields.String()


class PolicySummarySchema(Schema):
    policy = fields.String()
    title = fields.Dict()
    versions = fields.List(fields.Nested(VersionSummarySchema))


class PolicyListSchema(Schema):
    policies = fields.List(fields.Nested(PolicySummarySchema))


class VersionDetailSchema(VersionSummarySchema):
    policy = fields.String()
    title = fields.Dict()
    source = fields.Dict()
    changes = fields.List(fields.Dict())
    parameters = fields.Dict()
    actions = fields.Dict(metadata={"description": "per action: the facts it takes, typed"})
    rules = fields.List(fields.Dict())


class DiffQuerySchema(StrictSchema):
    from_ = fields.String(required=True, data_key="from", validate=[_NAME, _NAME_CHARS])
    to = fields.String(required=True, validate=[_NAME, _NAME_CHARS])


_CHANGE = validate.OneOf(("added", "removed", "changed"))


class DiffCellSchema(Schema):
    """One changed cell: a parameter's value or table cell, a rule's part, a fact's attribute."""

    name = fields.String(metadata={"description": "the path joined with dots, e.g. "
                                   "course_types.sidekudos-aikuiset.min_size, message.fi"})
    path = fields.List(fields.String())
    change = fields.String(validate=_CHANGE)
    from_ = fields.Raw(data_key="from", attribute="from",
                       metadata={"description": "the value before; absent when added"})
    to = fields.Raw(metadata={"description": "the value after; absent when removed"})
    read_by = fields.List(fields.String(), metadata={
        "description": "on a derived value: the rules that read it, directly or through "
                       "other derived values"})


class DiffParameterSchema(Schema):
    name = fields.String()
    value = fields.Raw(metadata={"description": "the whole value of an added or removed one"})
    cells = fields.List(fields.Nested(DiffCellSchema), metadata={
        "description": "of a changed one: one entry per changed cell"})
    read_by = fields.List(fields.String(), metadata={
        "description": "rules that read it (in either version), directly or through derived "
                       "values"})


class DiffParametersSchema(Schema):
    added = fields.List(fields.Nested(DiffParameterSchema))
    removed = fields.List(fields.Nested(DiffParameterSchema))
    changed = fields.List(fields.Nested(DiffParameterSchema))


class DiffActionSchema(Schema):
    """An added or removed action as in the version's description; a changed one's parts."""

    name = fields.String()
    title = fields.Dict()
    facts = fields.Dict()
    derived = fields.Dict()
    version_by = fields.String()
    changes = fields.List(fields.Nested(DiffCellSchema), metadata={
        "description": "title.<lang>, facts.<fact>[.<attribute>], derived.<name>, version_by"})


class DiffActionsSchema(Schema):
    added = fields.List(fields.Nested(DiffActionSchema))
    removed = fields.List(fields.Nested(DiffActionSchema))
    changed = fields.List(fields.Nested(DiffActionSchema))


class DiffRuleSchema(Schema):
    """An added or removed rule as in the version's description; a changed one's parts."""

    id = fields.String()
    actions = fields.List(fields.String())
    effect = fields.String()
    when = fields.String(allow_none=True)
    due = fields.String()
    set = fields.Dict()
    cite = fields.Dict()
    message = fields.Dict()
    changes = fields.List(fields.Nested(DiffCellSchema), metadata={
        "description": "when, effect, due, set.<key>, message.<lang>, cite.<key>, actions"})


class DiffRulesSchema(Schema):
    added = fields.List(fields.Nested(DiffRuleSchema))
    removed = fields.List(fields.Nested(DiffRuleSchema))
    changed = fields.List(fields.Nested(DiffRuleSchema))


class DiffDatesSchema(Schema):
    from_ = fields.String(data_key="from", attribute="from")
    to = fields.String()


class DiffNotesSchema(Schema):
    version = fields.String()
    changes = fields.List(fields.Dict(), metadata={
        "description": "the version's own change notes: cite, fi, sv, en"})


class DiffSchema(Schema):
    """What differs between two resolved versions of one policy (engine/diff.py)."""

    policy = fields.String()
    from_ = fields.String(data_key="from", attribute="from")
    to = fields.String()
    effective_from = fields.Nested(DiffDatesSchema)
    notes = fields.List(fields.Nested(DiffNotesSchema), metadata={
        "description": "the change notes of every version the diff spans"})
    title = fields.List(fields.Nested(DiffCellSchema))
    source = fields.List(fields.Nested(DiffCellSchema))
    parameters = fields.Nested(DiffParametersSchema)
    actions = fields.Nested(DiffActionsSchema)
    rules = fields.Nested(DiffRulesSchema)
    labels = fields.List(fields.Nested(DiffCellSchema), metadata={
        "description": "what people call the facts, derived values and parameters (labels:), "
                       "cell by cell: name.label.fi, name.help.sv, name.values.<value>.en"})


class ImpactRequestSchema(StrictSchema):
    files = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict,
                        metadata={
                            "description": "the draft: \"<policy>/<version>.yaml\" → YAML "
                                           "text, added to or replacing the running set's "
                                           "files; validated whole, never published"})
    version = fields.String(validate=[_NAME, _NAME_CHARS], metadata={
        "description": "replay every decision pinned to this version (e.g. the draft's new "
                       "one); without it, the version in force on each decision's dates"})
    since = Instant(metadata={"description": "logged at or after (ISO date or date-time)"})
    until = Instant(metadata={"description": "logged before (ISO date or date-time)"})
    action = fields.String(validate=[_NAME, _NAME_CHARS])
    limit = fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_INTEGER), metadata={
        "description": "at most this many decisions, newest first"})
    examples = fields.Integer(strict=True, load_default=5, validate=validate.Range(0, 1000),
                              metadata={"description": "decision ids kept per group and rule"})
    lang = fields.String(validate=validate.OneOf(LANGUAGES), metadata={
        "description": "language of the examples' new messages (default: each decision's)"})

    @validates_schema
    def _range(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "since" in data and "until" in data and data["since"] > data["until"]:
            raise ValidationError("must not be later than until", "since")
        if ("as_of_from" in data and "as_of_until" in data
                and data["as_of_from"] > data["as_of_until"]):
            raise ValidationError("must not be later than as_of_until", "as_of_from")

    @validates_schema
    def _something_to_replay(self, data: dict[str, Any], **kwargs: Any) -> None:
        """As ``rehab-rules impact`` asks for --draft or --version: with neither (an empty
        or missing body) every decision would be replayed under the rules that made it."""
        if not data.get("files") and "version" not in data:
            raise ValidationError("send the draft's files, or a version to pin every "
                                  "decision to (or both)", "files")


class ImpactSchema(Schema):
    policy = fields.String()
    version = fields.String(allow_none=True, metadata={"description": "pinned to, if any"})
    draft = fields.Dict(metadata={"description": "digest of the draft set, files sent"})
    window = fields.Dict()
    read = fields.Integer(metadata={"description": "logged decisions read"})
    replayed = fields.Integer()
    unchanged = fields.Integer()
    changed = fields.Dict(metadata={"description": "total, allow_to_deny, deny_to_allow, "
                                                   "other, other_by_aspect"})
    rules = fields.Dict(metadata={"description": "rule id → newly_fires, no_longer_fires, "
                                                 "examples"})
    examples = fields.Dict(metadata={"description": "per group: decision id, what changed, "
                                                    "the values its changed rules read"})
    not_replayable = fields.Dict(metadata={"description": "count, by_reason, decisions (with "
                                                          "the reason), more"})
    cases = fields.Dict(metadata={"description": "the fixture cases the set carries, run "
                                                 "under the draft: run, changed (name, action, "
                                                 "version, where, failures)"})


# --- errors ---------------------------------------------------------------------------

class ErrorSchema(Schema):
    code = fields.String(metadata={"description": "stable, e.g. invalid_facts"})
    message = fields.String()
    details = fields.Dict(metadata={
        "description": "e.g. fields: {name: [messages]} (at most 50; more_fields: how many "
                       "more there were)"})


class ErrorEnvelopeSchema(Schema):
    """Every error response: ``{"error": {"code", "message", "details"}}``."""

    error = fields.Nested(ErrorSchema)


# --- health and admin -------------------------------------------------------------------

class BundleStatusSchema(Schema):
    serving = fields.Integer(allow_none=True, metadata={
        "description": "the bundle this worker serves"})
    digest = fields.String(metadata={"description": "sha256 of every file of that bundle"})
    active = fields.Integer(metadata={"description": "the bundle activated most recently"})
    error = fields.String(allow_none=True, metadata={
        "description": "why this worker does not serve the active bundle, if it does not"})
    worker = fields.Integer(metadata={"description": "the answering worker's process id"})


class DatabaseStatusSchema(Schema):
    status = fields.String(metadata={"enum": ["ok", "unavailable"]})
    error = fields.String(allow_none=True, metadata={
        "description": "why this worker could not reach the database the last time it tried"})


class HealthSchema(Schema):
    status = fields.String(metadata={"enum": ["ok", "degraded", "unavailable"], "description":
                                     "degraded: this worker serves an older bundle; "
                                     "unavailable (503): it cannot reach the database"})
    policies = fields.Integer()
    bundle = fields.Nested(BundleStatusSchema)
    database = fields.Nested(DatabaseStatusSchema)


class ReloadSchema(Schema):
    status = fields.String()
    policies = fields.List(fields.Nested(PolicySummarySchema))
    bundle = fields.Nested(BundleStatusSchema)


class BundleSchema(Schema):
    id = fields.Integer()
    digest = fields.String()
    source = fields.String()
    note = fields.String(allow_none=True)
    published_by = fields.String()
    published_at = fields.String()
    files = fields.List(fields.String())
    active = fields.Boolean()


class ActivationSchema(Schema):
    id = fields.Integer()
    bundle = fields.Integer()
    activated_by = fields.String()
    activated_at = fields.String()


class BundleListSchema(Schema):
    bundles = fields.List(fields.Nested(BundleSchema))
    activations = fields.List(fields.Nested(ActivationSchema), metadata={
        "description": "which bundle was live when, newest first"})


class PublishSchema(StrictSchema):
    files = fields.Dict(keys=fields.String(), values=fields.String(), required=True,
                        validate=validate.Length(min=1), metadata={"minProperties": 1,
                            "description": "every version file: \"<policy>/<version>.yaml\""
                                           " → its YAML text"})
    note = fields.String(validate=validate.Length(max=2000))
    activate = StrictBool(load_default=True, error_messages=_BOOLEAN)


class PublishResultSchema(Schema):
    bundle = fields.Nested(BundleSchema)
    created = fields.Boolean(metadata={"description": "false: the same files were already "
                                                      "stored, that bundle is reused"})
    serving = fields.Nested(BundleStatusSchema)
