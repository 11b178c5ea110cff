"""The contract's eleven access patterns (§3), and one beyond them, declared once as data and run through `run()`.

Each `Pattern` in `PATTERNS` says which question it answers, which table and
index it reads, its key condition (as structured `Eq` / `Between` / `Prefix`
parts, from which both the DynamoDB request and the chart text are derived),
its typed parameters and an example parameter set that finds items in the seed
data. One function runs any of them:

    result = run(st.tenant("acme-corp-001"), "metric_time_series",
                 subject="revenue", granularity="quarter", start="2025-Q2", end="2025-Q4")
    result.items        # typed models (salestalk_lib.contract.models)
    result.to_frame()   # a pandas DataFrame

Rules the runner keeps:

- **GetItem or Query, never Scan.** A pattern whose key condition names the
  whole primary key of a table is a GetItem (patterns 1, 4 with `time`, 7, 8);
  everything else is a Query. The runner calls nothing else on the storage seam.
- **Tenant isolation.** Patterns on a tenant's tables run only on a
  `TenantScope` (`st.tenant(id)`), whose storage refuses any other table before
  a request is sent. Registry patterns run on the connection; a scope may run
  pattern 1 for its own registry item only.
- **No silent truncation.** All pages are read by default. `page_size` sets
  DynamoDB's `Limit` per request; `limit` caps the items returned, and when it
  stops early the result carries `next_token`, an opaque resume token. A token
  only resumes the query it came from (same pattern, parameters and table).
- **Period sort trap.** In one metric partition `2025-10` < `2025-10-05` <
  `2025-11` < `2025-Q1`, and a period's slices (`2025-Q3#region:Europe`) sort
  right after it. A sort-key range therefore also reads other granularities and
  slices; pattern 9 keeps only headlines of the asked granularity, and pattern 10
  keeps only the asked period's headline and slices (not its days), both by
  parsing each sk with `keys.parse_metric_sk`. `Result.read` counts what
  DynamoDB returned, `len(result)` what was kept.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from salestalk_lib.contract import keys, models
from salestalk_lib.contract.errors import ContractError, KeyGrammarError, ValidationFailed
from salestalk_lib.contract.keys import Granularity, parse_metric_sk
from salestalk_lib.contract.tables import TABLE_SPECS, TableKind
from salestalk_lib.contract.validation import violations_from
from salestalk_lib.contract.vocab import Sender, Subject, TenantStatus
from salestalk_lib.dynamo.retry import Retrier
from salestalk_lib.dynamo.storage import deserialize, get_item_request, query_request, serialize

if TYPE_CHECKING:  # pandas is imported only when a frame is asked for
    import pandas as pd

    from salestalk_lib.dynamo.scope import TenantScope
    from salestalk_lib.dynamo.storage import Storage
    from salestalk_lib.ops.connection import SalesTalk


# --- parameter types ------------------------------------------------------------


@dataclass(frozen=True)
class ParamType:
    """A parameter's type: how a value (or its command-line string) is checked and normalised."""

    name: str
    doc: str
    parse: Callable[[Any], Any]
    sample: Any
    """A valid value used to render key templates (`MSG#{message_id}`) from the key grammar itself."""


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ContractError(f"{what} must be a non-empty string, got {value!r}")
    return value


def _enum(enum: type[StrEnum]) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        try:
            return enum(value).value
        except ValueError:
            choices = ", ".join(m.value for m in enum)
            raise ContractError(f"{value!r} is not one of: {choices}") from None

    return parse


def _parsed_text(value: Any, parse: Callable[[str], object]) -> str:
    """`value` itself once the key parser `parse` accepted it."""
    parse(value)
    if not isinstance(value, str):  # every key parser refuses a non-string first: not reached
        raise KeyGrammarError(f"expected a string, got {type(value).__name__}")
    return value


def _uuid(value: Any) -> str:
    if not keys.is_uuid4(value):
        raise KeyGrammarError(f"expected a lowercase UUID v4, got {value!r}")
    return value


def _email(value: Any) -> str:
    text = _str(value, "email")
    if "@" not in text or any(c.isspace() for c in text):
        raise ContractError(f"{text!r} is not an email address")
    return text


def _message_time(value: Any) -> str:
    """A message sort key: an aware datetime, or the sk string itself."""
    if isinstance(value, datetime):
        return keys.message_sk(value)
    return _parsed_text(value, keys.parse_message_sk)


_NUMERIC_TEXT_RE = re.compile(r"^-?[0-9.]+$")  # ASCII digits only: int() would also read other scripts'
_INSTANT_TEXT_RE = re.compile(r"^-?[0-9]{1,12}(\.[0-9]{1,6})?$")
# The instants a datetime can hold (years 1-9999, to the microsecond): every one is a number
# DynamoDB stores exactly (at most 18 significant digits), so no bound can fail at the seam.
_FIRST_INSTANT = keys.unix_seconds(datetime(1, 1, 1, tzinfo=UTC))
_LAST_INSTANT = keys.unix_seconds(datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
_MICROSECOND = Decimal("0.000001")


def _instant(value: Any) -> Decimal:
    """Unix seconds (number or digits), an aware datetime, ISO-8601 text, a date, or a period's start.

    Seconds must lie in years 1-9999 with at most 6 decimals (microseconds): a 39-digit
    number used to reach the storage seam and fail there with `decimal.Inexact`.
    """
    if isinstance(value, bool):
        raise ContractError(f"expected a time, got {value!r}")
    if isinstance(value, (int, Decimal)):
        return _seconds(Decimal(value), value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ContractError("a datetime bound must be timezone-aware")
        return keys.unix_seconds(value)
    if isinstance(value, date):
        return keys.unix_seconds(datetime(value.year, value.month, value.day, tzinfo=UTC))
    text = _str(value, "time")
    if _NUMERIC_TEXT_RE.fullmatch(text):
        if not _INSTANT_TEXT_RE.fullmatch(text):
            raise ContractError(
                f"{text!r} is not a time: unix seconds have at most 12 digits and 6 decimals "
                "(years 1-9999, to the microsecond)"
            )
        return _seconds(Decimal(text), text)
    return _instant_text(text)


def _seconds(seconds: Decimal, shown: object) -> Decimal:
    if not seconds.is_finite() or not _FIRST_INSTANT <= seconds <= _LAST_INSTANT:
        raise ContractError(
            f"{shown!r} is not a time: unix seconds must lie between {_FIRST_INSTANT} and "
            f"{_LAST_INSTANT} (years 1-9999)"
        )
    if seconds != seconds.quantize(_MICROSECOND):
        raise ContractError(f"{shown!r} is not a time: unix seconds have at most 6 decimals (microseconds)")
    return seconds


def _instant_text(text: str) -> Decimal:
    try:
        return Decimal(keys.parse_period(text).timestamp)
    except KeyGrammarError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ContractError(
            f"{text!r} is not a time: use unix seconds, ISO-8601 UTC (2025-11-09T10:00:00Z) or a period"
        ) from None
    if parsed.tzinfo is None:
        raise ContractError(f"time {text!r} needs a timezone (end it with Z)")
    return keys.unix_seconds(parsed)


def _shown(value: Any, width: int = 60) -> str:
    """A value for an error message: its repr, cut to `width` characters."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a hostile __repr__ must not hide the real error
        text = f"<{type(value).__name__}>"
    return text if len(text) <= width else text[: width - 1] + "…"


def _period(value: Any) -> str:
    return (value if isinstance(value, keys.Period) else keys.parse_period(value)).text


_METRIC_SUBJECTS = [s.value for s in Subject if s is not Subject.UNKNOWN]


def _subject(value: Any) -> str:
    text = _parsed_text(value, keys.metric_pk)  # the key grammar first, then the vocabulary
    if text not in _METRIC_SUBJECTS:
        raise ContractError(f"{_shown(text)} is not a metric subject; one of: {', '.join(_METRIC_SUBJECTS)}")
    return text


def _dimension_key(value: Any) -> str:
    return _parsed_text(value, keys.parse_dimension_key)


_SAMPLE_UUID = "00000000-0000-4000-8000-000000000000"

TENANT_ID = ParamType(
    "tenant id", "1-64 lowercase letters, digits and inner '-'", keys.validate_tenant_id, "zz0sample0zz"
)
EMAIL = ParamType("email", "an owner's email address, exactly as stored", _email, "zz@sample.zz")
STATUS = ParamType("status", "one of " + ", ".join(s.value for s in TenantStatus), _enum(TenantStatus), "active")
UUID = ParamType("uuid", "a lowercase UUID v4", _uuid, _SAMPLE_UUID)
MESSAGE_TIME = ParamType(
    "message time",
    "ISO-8601 UTC with milliseconds (2025-11-09T10:00:00.000Z)",
    _message_time,
    "1999-09-09T09:09:09.999Z",
)
INSTANT = ParamType(
    "time",
    "unix seconds, ISO-8601 UTC, a date or a period (its first instant); inclusive",
    _instant,
    Decimal(999999999),
)
SENDER = ParamType("sender", "one of " + ", ".join(s.value for s in Sender), _enum(Sender), "user")
SUBJECT = ParamType("subject", "a metric subject (metricType): " + ", ".join(_METRIC_SUBJECTS), _subject, "zzsamplezz")
PERIOD = ParamType("period", "YYYY-QN, YYYY-MM or YYYY-MM-DD", _period, "1999-Q4")
GRANULARITY = ParamType(
    "granularity", "one of " + ", ".join(g.value for g in Granularity), _enum(Granularity), "quarter"
)
DIMENSION_KEY = ParamType("dimension key", "{dimName}:{dimValue}, e.g. region:Europe", _dimension_key, "zzdim:zzsample")


@dataclass(frozen=True)
class Param:
    """One parameter of a pattern."""

    name: str
    type: ParamType
    doc: str
    required: bool = True


# --- key conditions -------------------------------------------------------------


def _identity(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Eq:
    """`attribute = value`, the value built from one parameter (or a constant when `param` is None)."""

    attribute: str
    param: str | None = None
    build: Callable[..., Any] = _identity


@dataclass(frozen=True)
class Between:
    """`attribute BETWEEN low AND high` (inclusive); an optional side may be left out."""

    attribute: str
    low: str
    high: str


@dataclass(frozen=True)
class Prefix:
    """`begins_with(attribute, value)`."""

    attribute: str
    param: str


RangeCondition = Eq | Between | Prefix


# --- the registry ----------------------------------------------------------------


@dataclass(frozen=True)
class Pattern:
    """One access pattern: the question, where it reads, its key condition, parameters and example."""

    number: int
    name: str
    question: str
    table: TableKind
    index: str | None
    hash_key: Eq
    range_key: RangeCondition | None
    params: tuple[Param, ...]
    example: Mapping[str, Any]
    model: str
    """The class in `salestalk_lib.contract.models` the items are read into."""
    order: str
    """The order results come back in."""
    keep: Callable[[Mapping[str, Any], Mapping[str, Any]], bool] | None = None
    """Client-side filter after the key condition (the period sort trap), given (item, params)."""
    keep_doc: str = ""
    check: Callable[[dict[str, Any]], None] | None = None
    """A rule between parameters, run on the normalised parameters (raises ContractError)."""
    notes: str = ""

    def __post_init__(self) -> None:
        # Reject a malformed declaration at import time, not when it is first run.
        spec = TABLE_SPECS[self.table]
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ValueError(f"pattern {self.name}: duplicate parameter names")
        if self.index is not None:
            index = spec.index(self.index)
            key_attrs = [a.name for a in index.key_attributes]
        else:
            key_attrs = [a.name for a in spec.key_attributes]
        declared = [self.hash_key.attribute] + ([self.range_key.attribute] if self.range_key else [])
        if declared != key_attrs[: len(declared)]:
            raise ValueError(
                f"pattern {self.name}: key condition on {declared}, but the "
                f"{self.index or spec.kind} key is {key_attrs}"
            )
        for used in self.used_params():
            if used not in names:
                raise ValueError(f"pattern {self.name}: key condition uses undeclared parameter {used!r}")
        self.check_params(dict(self.example))

    def used_params(self) -> list[str]:
        """The parameters the key condition is built from."""
        out = [self.hash_key.param] if self.hash_key.param else []
        rk = self.range_key
        if isinstance(rk, Eq) and rk.param:
            out.append(rk.param)
        elif isinstance(rk, Between):
            out += [rk.low, rk.high]
        elif isinstance(rk, Prefix):
            out.append(rk.param)
        return out

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def accepts(self) -> str:
        """The parameters this pattern takes, for error messages: `subject, granularity, start?, end?`."""
        return ", ".join(p.name + ("" if p.required else "?") for p in self.params) or "no parameters"

    def check_params(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Check and normalise parameters: unknown, missing or malformed ones raise ContractError.

        Every message names the parameter and the parameters the pattern accepts. A value of
        a type a parameter cannot take (a list, a float, a huge number) is a ContractError
        too, never the TypeError or decimal signal it would otherwise raise.
        """
        if not isinstance(given, Mapping):
            raise ContractError(
                f"pattern {self.name}: parameters must be a mapping of name to value, "
                f"got {type(given).__name__} (it takes {self.accepts()})"
            )
        known = {p.name: p for p in self.params}
        unknown = sorted(
            n if isinstance(n, str) and n.isidentifier() and n.isascii() else _shown(n) for n in set(given) - set(known)
        )
        if unknown:
            raise ContractError(f"pattern {self.name} takes {self.accepts()}; unknown: {', '.join(unknown)}")
        out: dict[str, Any] = {}
        for p in self.params:
            value = given.get(p.name)
            if value is None:
                if p.required:
                    raise ContractError(
                        f"pattern {self.name} needs parameter {p.name!r} ({p.doc}); it takes {self.accepts()}"
                    )
                continue
            try:
                out[p.name] = p.type.parse(value)
            except ContractError as exc:
                raise type(exc)(f"pattern {self.name}, parameter {p.name}: {exc}") from None
            except (TypeError, ValueError, ArithmeticError, AttributeError):
                # The parsers expect text or the documented Python types; anything else is bad input.
                raise ContractError(
                    f"pattern {self.name}, parameter {p.name}: expected {p.type.doc}, got "
                    f"{type(value).__name__} {_shown(value)}"
                ) from None
        if self.check is not None:
            self.check(out)
        rk = self.range_key
        # Caught here rather than as DynamoDB's ValidationException: BETWEEN needs low <= high.
        if isinstance(rk, Between) and rk.low in out and rk.high in out and out[rk.low] > out[rk.high]:
            raise ContractError(f"pattern {self.name}: {rk.low} {out[rk.low]} is after {rk.high} {out[rk.high]}")
        return out

    def key_condition_text(self, params: Mapping[str, Any] | None = None) -> str:
        """The key condition as text: with `{param}` placeholders, or with the values of `params`."""

        def shown(attr_param: str | None, build: Callable[..., Any]) -> str:
            if attr_param is None:
                return str(build())
            if params is not None:
                return str(build(params[attr_param]))
            sample = self.param(attr_param).type.sample
            return str(build(sample)).replace(str(sample), "{" + attr_param + "}")

        def present(name: str) -> bool:
            return params is None or name in params

        hk = self.hash_key
        parts = [f"{hk.attribute} = {shown(hk.param, hk.build)}"]
        rk = self.range_key
        optional = False
        if isinstance(rk, Eq) and (rk.param is None or present(rk.param)):
            parts.append(f"{rk.attribute} = {shown(rk.param, rk.build)}")
            optional = rk.param is not None and not self.param(rk.param).required and params is None
        elif isinstance(rk, Between):
            lo, hi = present(rk.low), present(rk.high)
            low, high = shown(rk.low, _identity) if lo else None, shown(rk.high, _identity) if hi else None
            if lo and hi:
                parts.append(f"{rk.attribute} BETWEEN {low} AND {high}")
            elif lo or hi:
                parts.append(f"{rk.attribute} {'>=' if lo else '<='} {low if lo else high}")
            optional = params is None and not (self.param(rk.low).required or self.param(rk.high).required)
        elif isinstance(rk, Prefix):
            parts.append(f"begins_with({rk.attribute}, {shown(rk.param, _identity)})")
        if len(parts) == 2 and optional:
            return f"{parts[0]} [AND {parts[1]}]"
        return " AND ".join(parts)

    def operation_text(self) -> str:
        """The operation for the chart: `GetItem`, `Query`, or which one depends on an optional parameter."""
        rk = self.range_key
        if self.index is None and isinstance(rk, Eq) and rk.param and not self.param(rk.param).required:
            return f"GetItem with {rk.param}, else Query"
        return self.operation({name: None for name in self.used_params()})

    def operation(self, params: Mapping[str, Any]) -> str:
        """`GetItem` when the key condition names a whole primary key, else `Query`."""
        if self.index is not None:
            return "Query"
        spec = TABLE_SPECS[self.table]
        if spec.range_key is None:
            return "GetItem"
        rk = self.range_key
        if isinstance(rk, Eq) and (rk.param is None or rk.param in params):
            return "GetItem"
        return "Query"


def _check_series_bounds(params: dict[str, Any]) -> None:
    """Pattern 9: both bounds are periods of the asked granularity (so their key order is time order)."""
    want = params["granularity"]
    for bound in ("start", "end"):
        if bound in params and (period := keys.parse_period(params[bound])).granularity != want:
            raise ContractError(
                f"pattern metric_time_series: period {period.text} is a {period.granularity}, but granularity is {want}"
            )


def _headline_of_granularity(item: Mapping[str, Any], params: Mapping[str, Any]) -> bool:
    sk = parse_metric_sk(item["sk"])
    return not sk.is_slice and sk.period.granularity == params["granularity"]


def _in_period(item: Mapping[str, Any], params: Mapping[str, Any]) -> bool:
    return bool(parse_metric_sk(item["sk"]).period.text == params["period"])


_TIME_RANGE = (
    Param("start", INSTANT, "earliest timestamp, inclusive", required=False),
    Param("end", INSTANT, "latest timestamp, inclusive", required=False),
)

PATTERNS: tuple[Pattern, ...] = (
    Pattern(
        number=1,
        name="tenant_by_id",
        question="tenant by id",
        table=TableKind.REGISTRY,
        index=None,
        hash_key=Eq("tenantId", "tenant_id"),
        range_key=None,
        params=(Param("tenant_id", TENANT_ID, "the tenant's id"),),
        example={"tenant_id": "acme-corp-001"},
        model="Tenant",
        order="one item",
        notes="On a tenant scope, only the scope's own registry item can be read.",
    ),
    Pattern(
        number=2,
        name="tenants_by_owner",
        question="tenants of an owner email",
        table=TableKind.REGISTRY,
        index="OwnerEmailIndex",
        hash_key=Eq("ownerEmail", "email"),
        range_key=None,
        params=(Param("email", EMAIL, "the owner's email"),),
        example={"email": "platform-admin@acme-corp.example"},
        model="Tenant",
        order="unspecified (the index has no sort key)",
        notes="Registry-wide: runs on the connection, not on a tenant scope.",
    ),
    Pattern(
        number=3,
        name="tenants_by_status",
        question="tenants by status",
        table=TableKind.REGISTRY,
        index="StatusIndex",
        hash_key=Eq("status", "status"),
        range_key=None,
        params=(Param("status", STATUS, "lifecycle status"),),
        example={"status": "active"},
        model="Tenant",
        order="unspecified (the index has no sort key)",
        notes="Registry-wide: runs on the connection, not on a tenant scope.",
    ),
    Pattern(
        number=4,
        name="message_by_id",
        question="one message",
        table=TableKind.MESSAGES,
        index=None,
        hash_key=Eq("pk", "message_id", keys.message_pk),
        range_key=Eq("sk", "time"),
        params=(
            Param("message_id", UUID, "the message's id"),
            Param("time", MESSAGE_TIME, "the message's sk; makes the read a GetItem", required=False),
        ),
        example={"message_id": "ac27d6c2-344a-415e-9da8-c93f71181091", "time": "2026-01-12T15:04:05.000Z"},
        model="Message",
        order="one item",
        notes="Without `time` it is a Query on the message's own partition (one item).",
    ),
    Pattern(
        number=5,
        name="session_messages",
        question="a session's messages in time order",
        table=TableKind.MESSAGES,
        index="SessionIndex",
        hash_key=Eq("sessionId", "session_id"),
        range_key=Between("timestamp", "start", "end"),
        params=(Param("session_id", UUID, "the session's id"), *_TIME_RANGE),
        example={"session_id": "cd27e0f5-bbcd-4025-a2da-5be3ca9bd8b5"},
        model="Message",
        order="by timestamp, oldest first",
        notes="Session rollups have no `timestamp`, so SessionIndex never holds them (sparse index).",
    ),
    Pattern(
        number=6,
        name="messages_by_sender",
        question="messages by sender over time",
        table=TableKind.MESSAGES,
        index="SenderIndex",
        hash_key=Eq("sender", "sender"),
        range_key=Between("timestamp", "start", "end"),
        params=(Param("sender", SENDER, "who wrote the messages"), *_TIME_RANGE),
        example={"sender": "user", "start": "2026-01-01T00:00:00Z", "end": "2026-01-31T23:59:59Z"},
        model="Message",
        order="by timestamp, oldest first",
    ),
    Pattern(
        number=7,
        name="session_rollup",
        question="a session's rollup",
        table=TableKind.MESSAGES,
        index=None,
        hash_key=Eq("pk", "session_id", keys.session_pk),
        range_key=Eq("sk", None, keys.session_sk),
        params=(Param("session_id", UUID, "the session's id"),),
        example={"session_id": "cd27e0f5-bbcd-4025-a2da-5be3ca9bd8b5"},
        model="SessionRollup",
        order="one item",
    ),
    Pattern(
        number=8,
        name="metric_for_period",
        question="one metric for one period",
        table=TableKind.METRICS,
        index=None,
        hash_key=Eq("pk", "subject", keys.metric_pk),
        range_key=Eq("sk", "period"),
        params=(
            Param("subject", SUBJECT, "the metric's subject"),
            Param("period", PERIOD, "the period (its headline figure)"),
        ),
        example={"subject": "revenue", "period": "2025-Q3"},
        model="Metric",
        order="one item",
        notes="The headline figure; a slice is read with pattern 10.",
    ),
    Pattern(
        number=9,
        name="metric_time_series",
        question="a metric's time series at one granularity",
        table=TableKind.METRICS,
        index=None,
        hash_key=Eq("pk", "subject", keys.metric_pk),
        range_key=Between("sk", "start", "end"),
        params=(
            Param("subject", SUBJECT, "the metric's subject"),
            Param("granularity", GRANULARITY, "quarter, month or day"),
            Param("start", PERIOD, "first period, inclusive (of that granularity)", required=False),
            Param("end", PERIOD, "last period, inclusive (of that granularity)", required=False),
        ),
        example={"subject": "revenue", "granularity": "quarter", "start": "2025-Q2", "end": "2025-Q4"},
        model="Metric",
        order="by period, oldest first",
        keep=_headline_of_granularity,
        check=_check_series_bounds,
        keep_doc="headlines of the asked granularity only: the sk range also holds other "
        "granularities and slices (period sort trap)",
    ),
    Pattern(
        number=10,
        name="metric_slices",
        question="a metric's slices in one period",
        table=TableKind.METRICS,
        index=None,
        hash_key=Eq("pk", "subject", keys.metric_pk),
        range_key=Prefix("sk", "period"),
        params=(Param("subject", SUBJECT, "the metric's subject"), Param("period", PERIOD, "the period")),
        example={"subject": "revenue", "period": "2025-Q3"},
        model="Metric",
        order="headline first, then slices by dimension key",
        keep=_in_period,
        keep_doc="the asked period only: begins_with(sk, '2025-10') also matches the days '2025-10-05'",
    ),
    Pattern(
        number=11,
        name="dimension_over_time",
        question="all metrics of one dimension over time",
        table=TableKind.METRICS,
        index="DimensionIndex",
        hash_key=Eq("dimensionKey", "dimension_key"),
        range_key=Between("timestamp", "start", "end"),
        params=(Param("dimension_key", DIMENSION_KEY, "the slice's dimension key"), *_TIME_RANGE),
        example={"dimension_key": "region:Europe"},
        model="Metric",
        order="by timestamp (period start), oldest first",
        notes="Only slices carry `dimensionKey`, so headlines are not in DimensionIndex (sparse).",
    ),
    Pattern(
        number=12,
        name="subject_in_window",
        question="every figure about one subject in a time window (all granularities and slices)",
        table=TableKind.METRICS,
        index="MetricTypeIndex",
        hash_key=Eq("metricType", "subject"),
        range_key=Between("timestamp", "start", "end"),
        params=(Param("subject", SUBJECT, "the metric's subject (its metricType)"), *_TIME_RANGE),
        example={"subject": "revenue", "start": "2025-07-01", "end": "2025-09-30"},
        model="Metric",
        order="by timestamp (period start), oldest first",
        notes="Beyond the contract's eleven: the question MetricTypeIndex is kept for. On the table, periods sort as"
        " text (`2025-07` < `2025-07-15` < `2025-Q3`), so one sk range cannot hold every granularity of a window;"
        " the index orders the same partition by `timestamp`, so one Query does.",
    ),
)
"""Every access pattern: the contract's eleven (§3) in its numbering, then the one beyond it (12)."""

CONTRACT_PATTERN_COUNT = 11
"""Patterns 1–11 are the contract's §3; later numbers are this library's own, each with a reason in its notes."""

EXAMPLE_TENANT = "acme-corp-001"
"""The seed tenant the examples of the tenant patterns are written for."""

_BY_NAME = {p.name: p for p in PATTERNS}
_BY_NUMBER = {p.number: p for p in PATTERNS}
if not len(_BY_NAME) == len(_BY_NUMBER) == len(PATTERNS) == CONTRACT_PATTERN_COUNT + 1:  # `python -O` strips asserts
    raise RuntimeError(
        f"the contract's eleven access patterns and one beyond them, with distinct names and numbers; "
        f"got {len(PATTERNS)} ({len(_BY_NAME)} names, {len(_BY_NUMBER)} numbers)"
    )


def get(pattern: str | int | Pattern) -> Pattern:
    """A pattern by name, number (`9` or `"9"`) or itself; unknown ones raise ContractError."""
    if isinstance(pattern, Pattern):
        return pattern
    found = None
    if isinstance(pattern, int) and not isinstance(pattern, bool):
        found = _BY_NUMBER.get(pattern)
    elif isinstance(pattern, str):
        # ASCII digits only: int() also reads other scripts' digits, and very long digit strings raise.
        numeric = pattern.isascii() and pattern.isdigit() and len(pattern) <= 3
        found = _BY_NUMBER.get(int(pattern)) if numeric else _BY_NAME.get(pattern)
    if found is None:
        raise ContractError(
            f"no access pattern {_shown(pattern)}; known: " + ", ".join(f"{p.number} {p.name}" for p in PATTERNS)
        )
    return found


# --- requests ---------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One request exactly as the storage seam sends it: operation and parameters."""

    operation: str
    params: dict[str, Any]

    def to_json(self) -> str:
        """The request as indented JSON (what `salestalk query --explain` prints)."""
        return json.dumps({"operation": self.operation, **self.params}, indent=2, sort_keys=False)

    def to_cli_json(self) -> str:
        """The parameters alone, in DynamoDB JSON: what `aws dynamodb query|get-item --cli-input-json` accepts.

        The operation is not in it (the AWS CLI refuses unknown keys): it is the AWS CLI subcommand,
        `cli_command`.
        """
        return json.dumps(self.params, indent=2, sort_keys=False)

    @property
    def cli_command(self) -> str:
        """The AWS CLI subcommand for this request: `query` or `get-item`."""
        return "get-item" if self.operation == "GetItem" else "query"


@dataclass(frozen=True)
class _Call:
    """What the runner asks the seam for: the method and its arguments."""

    operation: str
    table: str
    key: dict[str, Any] = field(default_factory=dict)  # GetItem
    query: dict[str, Any] = field(default_factory=dict)  # Query keyword arguments

    def request(self) -> Request:
        if self.operation == "GetItem":
            return Request("GetItem", get_item_request(self.table, self.key))
        return Request("Query", query_request(self.table, **self.query))


def _value(cond: Eq, params: Mapping[str, Any]) -> Any:
    return cond.build() if cond.param is None else cond.build(params[cond.param])


def _plan(
    pattern: Pattern, table: str, params: Mapping[str, Any], *, limit: int | None, start_key: Mapping[str, Any] | None
) -> _Call:
    if pattern.operation(params) == "GetItem":
        key = {pattern.hash_key.attribute: _value(pattern.hash_key, params)}
        if isinstance(pattern.range_key, Eq):
            key[pattern.range_key.attribute] = _value(pattern.range_key, params)
        return _Call("GetItem", table, key=key)
    # Attribute names always go through placeholders: `status` and `timestamp` are reserved words.
    names = {"#h": pattern.hash_key.attribute}
    values: dict[str, Any] = {":h": _value(pattern.hash_key, params)}
    condition = "#h = :h"
    rk = pattern.range_key
    if isinstance(rk, Eq) and (rk.param is None or rk.param in params):
        names["#r"], values[":r"] = rk.attribute, _value(rk, params)
        condition += " AND #r = :r"
    elif isinstance(rk, Between) and (rk.low in params or rk.high in params):
        names["#r"] = rk.attribute
        if rk.low in params:
            values[":lo"] = params[rk.low]
        if rk.high in params:
            values[":hi"] = params[rk.high]
        if rk.low in params and rk.high in params:
            condition += " AND #r BETWEEN :lo AND :hi"
        else:
            condition += " AND #r >= :lo" if rk.low in params else " AND #r <= :hi"
    elif isinstance(rk, Prefix):
        names["#r"], values[":p"] = rk.attribute, params[rk.param]
        condition += " AND begins_with(#r, :p)"
    return _Call(
        "Query",
        table,
        query=dict(
            key_condition=condition, names=names, values=values, index=pattern.index, limit=limit, start_key=start_key
        ),
    )


# --- resume tokens ------------------------------------------------------------------
#
# A token is base64url of a small JSON envelope: {"v": 2, "p": pattern name, "q": digest of
# (pattern, table, parameters), "k": the start key (DynamoDB JSON), "c": checksum of p, q and k}.
# Not a secret (no HMAC: whoever holds a token may read the query anyway), but checked: a token
# resumes only the query it came from, an edited token fails its checksum, and its start key
# must lie inside that query's partition and range (a crafted key for another partition used to
# be sent as ExclusiveStartKey).

TOKEN_VERSION = 2
_TOKEN_FIELDS = {"v", "p", "q", "k", "c"}
_TOKEN_MAX = 8192


def _digest(*parts: Any) -> str:
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()[:32]


def _fingerprint(pattern: Pattern, table: str, params: Mapping[str, Any]) -> str:
    return _digest(pattern.name, table, {k: str(v) for k, v in sorted(params.items())})


def encode_token(pattern: Pattern, table: str, params: Mapping[str, Any], last_key: Mapping[str, Any]) -> str:
    """An opaque resume token for `last_key`, bound to its pattern, parameters and table."""
    query, key = _fingerprint(pattern, table, params), serialize(last_key)
    body = {"v": TOKEN_VERSION, "p": pattern.name, "q": query, "k": key, "c": _digest(pattern.name, query, key)}
    raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_token(token: object, pattern: Pattern, table: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The ExclusiveStartKey inside `token`; ContractError if it is malformed, altered or from another query."""
    if not isinstance(token, str) or not token.isascii() or len(token) > _TOKEN_MAX:
        raise ContractError(
            f"resume token is malformed: expected the text a previous result's next_token gave, got {_shown(token)}"
        )
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
        body = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise ContractError(f"resume token is malformed: {exc}") from None
    if not isinstance(body, dict) or set(body) != _TOKEN_FIELDS or body["v"] != TOKEN_VERSION:
        raise ContractError(
            "resume token is malformed or from another version of the library: run the query again without it"
        )
    if body["p"] != pattern.name:
        raise ContractError(f"resume token belongs to another query: pattern {_shown(body['p'])}, not {pattern.name}")
    if body["c"] != _digest(body["p"], body["q"], body["k"]):
        raise ContractError("resume token was altered: its checksum does not match its contents")
    if body["q"] != _fingerprint(pattern, table, params):
        raise ContractError(
            f"resume token belongs to another query, not to {pattern.name} with these parameters on this table"
        )
    try:
        key = deserialize(body["k"])
    except (TypeError, ValueError, AttributeError, KeyError, ArithmeticError) as exc:
        raise ContractError(f"resume token is malformed: its start key does not parse ({exc})") from None
    _check_start_key(pattern, params, key)
    return key


def _check_start_key(pattern: Pattern, params: Mapping[str, Any], key: Mapping[str, Any]) -> None:
    """A start key must be one this query can return: right attributes and types, inside its key condition."""
    spec = TABLE_SPECS[pattern.table]
    attrs = list(spec.key_attributes) + (list(spec.index(pattern.index).key_attributes) if pattern.index else [])
    want = {a.name: a for a in attrs}
    if set(key) != set(want) or not all(isinstance(key[n], str if a.type == "S" else Decimal) for n, a in want.items()):
        raise ContractError(
            f"resume token's start key has attributes {sorted(key)}, but {pattern.name} resumes with {sorted(want)}"
        )
    outside = ContractError(
        f"resume token's start key lies outside this query of {pattern.name} (another "
        "partition or range): run the query again without it"
    )
    hash_value = _value(pattern.hash_key, params)
    if key[pattern.hash_key.attribute] != hash_value:
        raise outside
    rk = pattern.range_key
    if rk is None:
        return
    value = key[rk.attribute]  # present: the attribute set was checked above
    try:
        if isinstance(rk, Eq) and (rk.param is None or rk.param in params) and value != _value(rk, params):
            raise outside
        if isinstance(rk, Between) and (
            (rk.low in params and value < params[rk.low]) or (rk.high in params and value > params[rk.high])
        ):
            raise outside
        if isinstance(rk, Prefix) and not value.startswith(params[rk.param]):
            raise outside
    except TypeError:  # a string where the range holds numbers, or the reverse
        raise outside from None


# --- results ------------------------------------------------------------------------


@dataclass
class Result:
    """What a pattern returned: typed items, the stored items, the requests sent, the resume token."""

    pattern: Pattern
    params: dict[str, Any]
    table: str
    items: list[Any]
    """The items as models (`salestalk_lib.contract.models`)."""
    raw: list[dict[str, Any]]
    """The same items as stored (plain dicts, `Decimal` numbers)."""
    requests: list[Request]
    read: int
    """Items DynamoDB returned, before the pattern's client-side filter."""
    next_token: str | None = None
    """Resume token when the result stopped early (at `limit`); None when everything was read."""

    @property
    def complete(self) -> bool:
        return self.next_token is None

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.items)

    def rows(self) -> list[dict[str, Any]]:
        """The items as flat rows: maps flattened one level (`classification.intent`), whole numbers as int."""
        return [_flatten(item) for item in self.raw]

    def columns(self) -> list[str]:
        """Column order of `rows()`: the table's key attributes first, then the rest by name."""
        rows = self.rows()
        first = [a.name for a in TABLE_SPECS[self.pattern.table].key_attributes]
        present = {c for row in rows for c in row}
        return [c for c in first if c in present or not rows] + sorted(present - set(first))

    def to_frame(self) -> pd.DataFrame:
        """The items as a DataFrame with the columns of `columns()`."""
        import pandas as pd

        return pd.DataFrame(self.rows(), columns=self.columns())


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        # Whole numbers become ints (an int64 column); others stay exact Decimals, never binary floats.
        return int(value) if value == value.to_integral_value() else value
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _flatten(item: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in item.items():
        if isinstance(value, dict) and value:
            for sub, inner in value.items():
                out[f"{key}.{sub}"] = _plain(inner)
        else:
            out[key] = _plain(value)
    return out


def _model(pattern: Pattern) -> Any:
    return getattr(models, pattern.model)


# --- running ------------------------------------------------------------------------


def _target(target: SalesTalk | TenantScope, pattern: Pattern) -> tuple[Storage, str]:
    """(storage, table name) for `pattern` on a connection or a tenant scope."""
    from salestalk_lib.dynamo.scope import TenantScope
    from salestalk_lib.ops.connection import (
        SalesTalk,  # imported late: the connection module imports this layer's peers
    )

    if not isinstance(target, (SalesTalk, TenantScope)):
        raise ContractError(
            f"run pattern {pattern.name} on a connection (connect()) or a tenant scope "
            f"(st.tenant(id)), not on {type(target).__name__}"
        )
    settings = target.settings
    if pattern.table is TableKind.REGISTRY:
        return target.storage, settings.table_name(TableKind.REGISTRY)
    if not isinstance(target, TenantScope):
        raise ContractError(
            f"pattern {pattern.number} ({pattern.name}) reads a tenant's tables: run it on a "
            "tenant scope, st.tenant(tenant_id), so it can reach only that tenant's tables"
        )
    return target.storage, settings.table_name(pattern.table, target.tenant_id)


def _merged(pattern: Pattern, params: Mapping[str, Any] | None, kwparams: Mapping[str, Any]) -> dict[str, Any]:
    """`params` and keyword parameters as one mapping; a name given both ways is refused."""
    if params is not None and not isinstance(params, Mapping):
        raise ContractError(
            f"pattern {pattern.name}: params must be a mapping of name to value, "
            f"got {type(params).__name__} (it takes {pattern.accepts()})"
        )
    given = dict(params or {})
    both = sorted(set(given) & set(kwparams))
    if both:
        raise ContractError(f"pattern {pattern.name}: parameter(s) {', '.join(both)} given twice")
    given.update(kwparams)
    return given


def explain(
    target: SalesTalk | TenantScope,
    pattern: str | int | Pattern,
    /,
    params: Mapping[str, Any] | None = None,
    *,
    page_size: int | None = None,
    resume: str | None = None,
    **kwparams: Any,
) -> list[Request]:
    """The request(s) `run` would send first, exactly, without sending anything.

    Parameters come as `params` (a mapping: what the CLI passes) or as keywords. A
    GetItem is one request. A Query's later pages repeat the first request with
    `ExclusiveStartKey` set to where the previous page ended.
    """
    p = get(pattern)
    checked = p.check_params(_merged(p, params, kwparams))
    _, table = _target(target, p)
    _check_positive(page_size=page_size)
    start_key = decode_token(resume, p, table, checked) if resume is not None else None
    return [_plan(p, table, checked, limit=page_size, start_key=start_key).request()]


def _check_positive(**values: int | None) -> None:
    for name, value in values.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ContractError(f"{name} must be a positive integer, got {value!r}")


def _resume_key(pattern: Pattern, item: Mapping[str, Any]) -> dict[str, Any]:
    """The ExclusiveStartKey that resumes right after `item`: its table key, plus its index key on a GSI."""
    spec = TABLE_SPECS[pattern.table]
    attrs = [a.name for a in spec.key_attributes]
    if pattern.index is not None:
        attrs += [a.name for a in spec.index(pattern.index).key_attributes]
    return {a: item[a] for a in attrs}


def run(
    target: SalesTalk | TenantScope,
    pattern: str | int | Pattern,
    /,
    params: Mapping[str, Any] | None = None,
    *,
    page_size: int | None = None,
    limit: int | None = None,
    resume: str | None = None,
    retrier: Retrier | None = None,
    **kwparams: Any,
) -> Result:
    """Run one access pattern on a connection (registry patterns) or a tenant scope (all others).

    Parameters come as `params` (a mapping) or as keywords; any name that is not one of
    the pattern's parameters, including `target` or `pattern`, is refused as unknown.
    Reads every page unless `limit` caps the items returned; then `next_token`
    resumes exactly after the last item returned (pass it as `resume`). Each
    request goes through `retrier` (reads are safe to retry).
    """
    p = get(pattern)
    checked = p.check_params(_merged(p, params, kwparams))
    storage, table = _target(target, p)
    if retrier is not None and not isinstance(retrier, Retrier):
        raise ContractError(f"retrier must be a salestalk_lib.dynamo.retry.Retrier, got {type(retrier).__name__}")
    retrier = retrier or Retrier()
    _check_positive(page_size=page_size, limit=limit)
    start_key = decode_token(resume, p, table, checked) if resume is not None else None
    if p.operation(checked) == "GetItem" and (resume is not None or limit is not None):
        raise ContractError(f"pattern {p.name} reads one item with GetItem: it takes no limit or resume token")

    kept: list[dict[str, Any]] = []
    requests: list[Request] = []
    read = 0
    resume_at: dict[str, Any] | None = None
    while True:
        call = _plan(p, table, checked, limit=page_size, start_key=start_key)
        requests.append(call.request())
        if call.operation == "GetItem":
            item = retrier.call("GetItem", lambda: storage.get_item(table, call.key))
            page, last = ([item] if item is not None else []), None
        else:
            page, last = retrier.call("Query", lambda: storage.query(table, **call.query))
        read += len(page)
        for item in page:
            if p.keep is not None and not p.keep(item, checked):
                continue
            if limit is not None and len(kept) == limit:
                # One item too many: resume right after the last item returned, not after
                # the page, so nothing between the two is skipped.
                resume_at = _resume_key(p, kept[-1])
                break
            kept.append(item)
        if resume_at is not None or last is None:
            break
        if limit is not None and len(kept) == limit:
            resume_at = last
            break
        start_key = last
    model = _model(p)
    tenant_id = getattr(target, "tenant_id", None) if p.table is not TableKind.REGISTRY else None
    return Result(
        pattern=p,
        params=checked,
        table=table,
        items=[_stored_model(model, i, tenant_id, table, p) for i in kept],
        raw=kept,
        requests=requests,
        read=read,
        next_token=encode_token(p, table, checked, resume_at) if resume_at else None,
    )


def _stored_model(model: Any, item: dict[str, Any], tenant_id: str | None, table: str, p: Pattern) -> Any:
    """The stored item as its model; a stored item that breaks the contract is a ValidationFailed naming it."""
    try:
        return model.from_item(item, tenant_id=tenant_id)
    except ValidationError as exc:
        key = ", ".join(f"{a.name}={item.get(a.name)!r}" for a in TABLE_SPECS[p.table].key_attributes)
        raise ValidationFailed(violations_from(exc, f"{table} item {key}")) from None


# --- the chart ----------------------------------------------------------------------

_SAMPLE_TENANT = "zz0sample0zz"


def table_pattern(kind: TableKind) -> str:
    """The table's base name with `{tenantId}` where a tenant's id goes."""
    spec = TABLE_SPECS[kind]
    return spec.base_name(_SAMPLE_TENANT if spec.per_tenant else None).replace(_SAMPLE_TENANT, "{tenantId}")


def _example_text(pattern: Pattern) -> str:
    return ", ".join(f"{k}={v}" for k, v in pattern.example.items())


def chart_rows() -> list[dict[str, Any]]:
    """One row per pattern: number, name, question, table, index, operation, key condition, filter, example."""
    rows = []
    for p in PATTERNS:
        example = p.check_params(dict(p.example))
        rows.append(
            {
                "#": p.number,
                "pattern": p.name,
                "question": p.question,
                "table": table_pattern(p.table),
                "index": p.index or "",
                "operation": p.operation_text(),
                "key condition": p.key_condition_text(),
                "then keeps": p.keep_doc,
                "example": _example_text(p),
                "example key condition": p.key_condition_text(example),
            }
        )
    return rows


def chart_frame() -> pd.DataFrame:
    """The access-pattern chart as a DataFrame (indexed by pattern number)."""
    import pandas as pd

    return pd.DataFrame(chart_rows()).set_index("#")


def _md(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _placeholder_request(pattern: Pattern) -> Request:
    """The example's first request on the sample tenant, with `{tenantId}` put back."""
    from salestalk_lib.contract.settings import Settings

    settings = Settings()
    params = pattern.check_params(dict(pattern.example))
    table = settings.table_name(pattern.table, None if pattern.table is TableKind.REGISTRY else _SAMPLE_TENANT)
    request = _plan(pattern, table, params, limit=None, start_key=None).request()
    return Request(request.operation, json.loads(json.dumps(request.params).replace(_SAMPLE_TENANT, "{tenantId}")))


def chart_markdown() -> str:
    """The access-pattern chart as a markdown page (the docs' generated `access-patterns.md`)."""
    out = [
        "# Access patterns",
        "",
        "Generated from `salestalk_lib.ops.patterns.PATTERNS`: each pattern of the contract is declared once,",
        "and this chart, the `salestalk query` command and the notebooks all read the same declarations.",
        "Every pattern is a GetItem or a Query, never a Scan. Patterns on a tenant's tables run only on",
        "a tenant scope (`st.tenant(id)`); table names also get the deployment's `SALESTALK_TABLE_PREFIX`.",
        "",
        "```python",
        "from salestalk_lib import connect",
        "from salestalk_lib.ops.patterns import run",
        "",
        "st = connect()",
        f'result = run(st.tenant("{EXAMPLE_TENANT}"), "metric_time_series",',
        '             subject="revenue", granularity="quarter", start="2025-Q2", end="2025-Q4")',
        "result.to_frame()",
        "```",
        "",
        "| # | question (pattern) | table / index | operation | key condition |",
        "|---|---|---|---|---|",
    ]
    rows = chart_rows()
    for row in rows:
        reads = f"`{row['table']}`" + (f"<br>index `{row['index']}`" if row["index"] else "")
        out.append(
            "| "
            + " | ".join(
                _md(c)
                for c in (
                    row["#"],
                    f"{row['question']}<br>`{row['pattern']}`",
                    reads,
                    row["operation"],
                    f"`{row['key condition']}`",
                )
            )
            + " |"
        )  # code: attr_list would eat a bare `{param}`
    out += [
        "",
        f"Examples (each finds items in the seed data; tenant patterns for `{EXAMPLE_TENANT}`):",
        "",
        "| # | example parameters | its key condition |",
        "|---|---|---|",
    ]
    for row in rows:
        out.append("| " + " | ".join(_md(c) for c in (row["#"], row["example"], row["example key condition"])) + " |")
    out += [
        "",
        "## Period sort trap",
        "",
        "Metric sort keys of all granularities share one partition, and in string order",
        "`2025-10` < `2025-10-05` < `2025-11` < `2025-Q1`; a period's slices",
        "(`2025-Q3#region:Europe`) sort right after its headline. A sort-key range therefore reads",
        "more than one granularity, so the runner parses every sort key and keeps only what was asked",
        "for (patterns 9 and 10). The result's `read` counts the items DynamoDB returned, its length",
        "the items kept.",
        "",
        "## Pagination",
        "",
        "`run(..., page_size=N)` sets DynamoDB's `Limit` per request and still reads every page.",
        "`run(..., limit=N)` returns at most N items; when it stops early the result's `next_token`",
        "(an opaque resume token) continues exactly after the last item with `run(..., resume=token)`.",
        "Results are never truncated silently.",
        "",
    ]
    for p in PATTERNS:
        out += [
            f"## {p.number}. {p.question}",
            "",
            f"`{p.name}`: {p.operation_text()}"
            f" on `{table_pattern(p.table)}`" + (f", index `{p.index}`" if p.index else "") + ".",
            "",
        ]
        out += [f"- **Key condition:** `{p.key_condition_text()}`", f"- **Order:** {p.order}"]
        if p.keep_doc:
            out.append(f"- **Then keeps:** {p.keep_doc}")
        if p.notes:
            out.append(f"- **Note:** {p.notes}")
        out += ["", "| parameter | type | required | meaning |", "|---|---|---|---|"]
        out += [
            f"| `{q.name}` | {_md(q.type.doc)} | {'yes' if q.required else 'no'} | {_md(q.doc)} |" for q in p.params
        ]
        cli = " ".join(f"--param {k}={v}" for k, v in p.example.items())
        tenant = "" if p.table is TableKind.REGISTRY else f" --tenant {EXAMPLE_TENANT}"
        out += [
            "",
            f'??? example "Example: `salestalk query {p.name}{tenant} {cli}`"',
            "",
            "    The first request it sends (`--explain`):",
            "",
            "    ```json",
            *("    " + line for line in _placeholder_request(p).to_json().splitlines()),
            "    ```",
            "",
        ]
    return "\n".join(out).rstrip("\n") + "\n"


def describe(pattern: str | int | Pattern) -> dict[str, Any]:
    """One pattern as a plain dict (what `salestalk query --list` prints per row)."""
    p = get(pattern)
    return {
        "#": p.number,
        "pattern": p.name,
        "question": p.question,
        "table": table_pattern(p.table),
        "index": p.index or "",
        "key condition": p.key_condition_text(),
        "params": ", ".join(q.name + ("" if q.required else "?") for q in p.params),
    }


__all__ = [
    "PATTERNS",
    "Param",
    "ParamType",
    "Pattern",
    "Request",
    "Result",
    "chart_frame",
    "chart_markdown",
    "chart_rows",
    "describe",
    "explain",
    "get",
    "run",
]
