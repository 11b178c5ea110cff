"""Record templates: a valid message, metric or tenant record built from a few parameters.

`salestalk template KIND --param name=value ...` prints what `build_template` returns: one
record, valid by the contract, whose derived attributes come from the key grammar
(`salestalk_lib.contract.keys`) through the models' `create` constructors, never typed by hand:

- a message's `pk` (`MSG#{messageId}`), `sk` (its time, ISO-8601 UTC with milliseconds) and
  `timestamp` (the unix seconds of that same instant) from `message_id` and `time`;
- a metric's `pk` (`METRIC#{subject}`), `sk` (the period, or `{period}#{dimName}:{dimValue}` for a
  slice), `dimensionKey` and `timestamp` (the period's first instant) from `subject`, `period`
  and `dimension`;
- a tenant's table names and S3 prefix from `tenant_id`.

Every parameter has a default (`TemplateParam.default`) and a rule (`TemplateParam.rule`); a
value that breaks the rule is a ContractError naming the parameter and the rule. Pure apart
from the clock and new UUIDs (the defaults of `time`/`period`/`created_at` and of the ids).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from pydantic import ValidationError
from pydantic.alias_generators import to_camel

from salestalk_lib.contract import keys
from salestalk_lib.contract.errors import ContractError
from salestalk_lib.contract.fields import error_path, error_rule
from salestalk_lib.contract.items import SUBJECT_UNITS, ContractModel, Message, Metric, Tenant
from salestalk_lib.contract.vocab import Intent, Measure, Plan, Sender, Subject, TenantStatus
from salestalk_lib.ops import patterns

DEFAULT_TENANT = "acme-corp-001"
"""The first seed tenant: a message or metric template for it ingests once the seed data is loaded."""
DEFAULT_TEXT = "What was our revenue last quarter?"
DEFAULT_CONFIDENCE = "0.9"


@dataclass(frozen=True)
class TemplateParam:
    """One `--param` of a template: its name, its rule, what it defaults to, and how its text is read."""

    name: str
    rule: str
    default: str
    parse: Callable[[str], Any]


def _enum(enum: type[StrEnum], allowed: list[str] | None = None) -> Callable[[str], str]:
    choices = allowed if allowed is not None else [m.value for m in enum]

    def parse(text: str) -> str:
        if text not in choices:
            raise ContractError(f"got {text!r}")
        return text

    return parse


def _uuid(text: str) -> str:
    if not keys.is_uuid4(text):
        raise ContractError(f"got {text!r}")
    return text


def _text(text: str) -> str:
    if not text:
        raise ContractError("must not be empty")
    return text


def _number(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ContractError(f"{text!r} is not a number") from None
    if not value.is_finite():
        raise ContractError(f"{text!r} is not a finite number")
    return value


def _instant(text: str) -> datetime:
    return keys.from_unix_seconds(patterns.INSTANT.parse(text))


def _message_time(text: str) -> datetime:
    when = _instant(text)
    keys.message_sk(when)  # the key grammar's own check: at most millisecond precision
    return when


def _days(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 36_500:
        raise ContractError(f"got {text!r}")
    return int(text)


def _yes_no(text: str) -> bool:
    if text not in ("yes", "no"):
        raise ContractError(f"got {text!r}")
    return text == "yes"


def _dimension(text: str) -> str:
    keys.parse_dimension_key(text)
    return text


_TENANT = TemplateParam("tenant_id", "1-64 lowercase letters, digits and inner '-'", "", keys.validate_tenant_id)
_TIME_RULE = "ISO-8601 UTC (2026-01-15T09:30:00Z, at most milliseconds), a date, or unix seconds"
_METRIC_SUBJECTS = [s.value for s in Subject if s is not Subject.UNKNOWN]

MESSAGE_PARAMS: tuple[TemplateParam, ...] = (
    TemplateParam(_TENANT.name, _TENANT.rule, DEFAULT_TENANT, _TENANT.parse),
    TemplateParam("time", _TIME_RULE, "now, to the millisecond", _message_time),
    TemplateParam("sender", "one of " + ", ".join(s.value for s in Sender), Sender.USER.value, _enum(Sender)),
    TemplateParam("text", "1-10,000 characters", repr(DEFAULT_TEXT), _text),
    TemplateParam("session_id", "a lowercase UUID v4", "a new UUID", _uuid),
    TemplateParam("message_id", "a lowercase UUID v4", "a new UUID", _uuid),
    TemplateParam("classification", "yes or no", "yes for a user message, else no", _yes_no),
    TemplateParam("intent", "one of " + ", ".join(i.value for i in Intent), Intent.FACT_RETRIEVAL.value, _enum(Intent)),
    TemplateParam("subject", "one of " + ", ".join(s.value for s in Subject), Subject.REVENUE.value, _enum(Subject)),
    TemplateParam("measure", "one of " + ", ".join(m.value for m in Measure), Measure.TOTAL.value, _enum(Measure)),
    TemplateParam("confidence", "a number from 0 to 1", DEFAULT_CONFIDENCE, _number),
    TemplateParam("ttl_days", "a whole number of days from 1 to 36500", "none (kept forever)", _days),
)
METRIC_PARAMS: tuple[TemplateParam, ...] = (
    TemplateParam(_TENANT.name, _TENANT.rule, DEFAULT_TENANT, _TENANT.parse),
    TemplateParam(
        "subject",
        "one of " + ", ".join(_METRIC_SUBJECTS),
        Subject.REVENUE.value,
        _enum(Subject, _METRIC_SUBJECTS),
    ),
    TemplateParam("period", "YYYY-QN, YYYY-MM or YYYY-MM-DD", "the current quarter", keys.parse_period),
    TemplateParam("value", "a finite number (a count is whole)", "0", _number),
    TemplateParam(
        "unit",
        "an ISO 4217 currency (USD, EUR, ...), count or percentage, as the subject allows",
        "count, percentage or USD, as the subject allows",
        _text,
    ),
    TemplateParam(
        "dimension", "{dimName}:{dimValue}, e.g. region:Europe (makes a slice)", "none (a headline)", _dimension
    ),
    TemplateParam("metric_id", "a lowercase UUID v4", "a new UUID", _uuid),
    TemplateParam("source", "non-empty text, stored as metadata.source", "none", _text),
)
TENANT_PARAMS: tuple[TemplateParam, ...] = (
    TemplateParam(_TENANT.name, _TENANT.rule, "new-tenant-001", _TENANT.parse),
    TemplateParam("name", "1-256 characters", "the id in words (New Tenant 001)", _text),
    TemplateParam("owner_email", "an email address", "owner@{tenant_id}.example", _text),
    TemplateParam("plan", "one of " + ", ".join(p.value for p in Plan), Plan.FREE.value, _enum(Plan)),
    TemplateParam(
        "status", "one of " + ", ".join(s.value for s in TenantStatus), TenantStatus.ACTIVE.value, _enum(TenantStatus)
    ),
    TemplateParam("created_at", _TIME_RULE, "now, in whole seconds", _instant),
)

# Which parameter a model attribute (camelCase path head) comes from, to name it in an error.
_ATTRIBUTE_PARAMS = {
    "tenantId": "tenant_id",
    "messageId": "message_id",
    "sessionId": "session_id",
    "metricId": "metric_id",
    "sk": "time",
    "timestamp": "time",
    "classification": "classification",
    "classification.intent": "intent",
    "classification.subject": "subject",
    "classification.measure": "measure",
    "classification.confidence": "confidence",
    "dimensionKey": "dimension",
    "dimensions": "dimension",
    "metadata.source": "source",
    "metadata": "source",
    "ttl": "ttl_days",
    "ownerEmail": "owner_email",
    "createdAt": "created_at",
    "updatedAt": "created_at",
}


def _current_quarter(now: datetime) -> keys.Period:
    return keys.quarter(now.year, (now.month - 1) // 3 + 1)


def _message(values: Mapping[str, Any], now: datetime) -> Message:
    at = values.get("time") or now.replace(microsecond=now.microsecond // 1000 * 1000)
    sender = values.get("sender", Sender.USER.value)
    classified = values.get("classification", sender == Sender.USER.value)
    classification = (
        {
            "intent": values.get("intent", Intent.FACT_RETRIEVAL.value),
            "subject": values.get("subject", Subject.REVENUE.value),
            "measure": values.get("measure", Measure.TOTAL.value),
            "confidence": values.get("confidence", Decimal(DEFAULT_CONFIDENCE)),
        }
        if classified
        else None
    )
    ttl = keys.unix_seconds(at) + values["ttl_days"] * 86_400 if "ttl_days" in values else None
    return Message.create(
        tenant_id=values.get("tenant_id", DEFAULT_TENANT),
        session_id=values.get("session_id") or keys.new_uuid4(),
        message_id=values.get("message_id"),
        sender=sender,
        text=values.get("text", DEFAULT_TEXT),
        at=at,
        classification=classification,
        ttl=ttl,
    )


def _default_unit(subject: str) -> str:
    allowed = SUBJECT_UNITS[Subject(subject)]
    return next((u for u in ("count", "percentage") if u in allowed), "USD")


def _metric(values: Mapping[str, Any], now: datetime) -> Metric:
    subject = values.get("subject", Subject.REVENUE.value)
    dimension = values.get("dimension")
    dimensions = dict([keys.parse_dimension_key(dimension)]) if dimension else None
    return Metric.create(
        tenant_id=values.get("tenant_id", DEFAULT_TENANT),
        subject=subject,
        period=values.get("period") or _current_quarter(now),
        value=values.get("value", 0),
        unit=values.get("unit") or _default_unit(subject),
        dimensions=dimensions,
        dimension_key=dimension,
        metric_id=values.get("metric_id"),
        metadata={"source": values["source"]} if "source" in values else None,
    )


def _tenant(values: Mapping[str, Any], now: datetime) -> Tenant:
    tenant_id = values.get("tenant_id", "new-tenant-001")
    created = keys.unix_seconds(values["created_at"]) if "created_at" in values else int(now.timestamp())
    return Tenant.create(
        tenant_id=tenant_id,
        name=values.get("name") or " ".join(w.capitalize() for w in tenant_id.split("-")),
        owner_email=values.get("owner_email") or f"owner@{tenant_id}.example",
        plan=values.get("plan", Plan.FREE.value),
        status=values.get("status", TenantStatus.ACTIVE.value),
        created_at=created,
    )


@dataclass(frozen=True)
class Template:
    """One record kind's template: its parameters and how a record is built from their values."""

    kind: str
    params: tuple[TemplateParam, ...]
    build: Callable[[Mapping[str, Any], datetime], ContractModel]


TEMPLATES: dict[str, Template] = {
    "message": Template("message", MESSAGE_PARAMS, _message),
    "metric": Template("metric", METRIC_PARAMS, _metric),
    "tenant": Template("tenant", TENANT_PARAMS, _tenant),
}


def template_for(kind: str) -> Template:
    """The template of `kind` (message, metric, tenant); ContractError naming the kinds otherwise."""
    try:
        return TEMPLATES[kind]
    except KeyError:
        raise ContractError(f"no template {kind!r}; one of: {', '.join(TEMPLATES)}") from None


def build_template(kind: str, params: Mapping[str, str], *, now: datetime | None = None) -> dict[str, Any]:
    """A valid record of `kind` (its item form: camelCase, Decimal numbers) from parameter texts.

    Unknown parameters, and values that break a parameter's rule or the contract, raise
    ContractError naming the parameter (`--param sender: 'bot' is not one of: user, assistant, system`).
    `now` (default: the clock) gives the defaults of `time`, `period` and `created_at`.
    """
    template = template_for(kind)
    known = {p.name: p for p in template.params}
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ContractError(f"template {kind} has no parameter {', '.join(unknown)}; it takes: {', '.join(known)}")
    values: dict[str, Any] = {}
    for name, text in params.items():
        param = known[name]
        try:
            values[name] = param.parse(text)
        except ContractError as exc:
            raise ContractError(f"--param {name}: {exc}; expected {param.rule}") from None
    try:
        model = template.build(values, now or datetime.now(UTC))
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            path = ".".join(to_camel(part) for part in error_path(tuple(error["loc"])).split("."))
            head = ".".join(path.split(".")[:2])
            name = _ATTRIBUTE_PARAMS.get(head) or _ATTRIBUTE_PARAMS.get(path.split(".")[0]) or path
            problems.append(f"--param {name}: {error_rule(error)} (attribute {path})")
        raise ContractError("; ".join(problems)) from None
    item: dict[str, Any] = model.to_item()
    return item
