"""Key grammar: every pk/sk string and tenant table name is built and parsed here.

| item | pk | sk |
|---|---|---|
| message | `MSG#{messageId}` | message time, ISO-8601 UTC with ms: `2025-11-09T10:00:00.000Z` |
| message identity | `MSGID#{messageId}` | `METADATA` |
| session rollup | `SESSION#{sessionId}` | `METADATA` |
| ingest batch | `BATCH#{batchId}` | `METADATA` |
| processed event | `EVENT#{eventId}` | `METADATA` |
| metric headline | `METRIC#{subject}` | period: `2025-Q3`, `2025-07` or `2025-07-15` |
| metric slice | `METRIC#{subject}` | `{period}#{dimName}:{dimValue}`, e.g. `2025-Q3#region:Europe` |

**Slice decision.** The original design used `sk = period` for every metric, so
two slices of one metric in one period overwrote each other. A slice now appends
its `dimensionKey` after `#`. The headline figure keeps `sk = period`, so the
plain lookup `pk=METRIC#revenue, sk=2025-Q3` still finds it, and
`begins_with(sk, "2025-Q3")` returns the headline and all its slices together.
`#` sorts before every digit, letter and `-`, so a period's slices sort directly
after its headline and before the next period of any granularity. For a month,
`begins_with(sk, "2025-10")` would also catch the days `2025-10-05`; ask for a
period's slices with `begins_with(sk, metric_slice_prefix(period))` instead.

**Message identity decision.** A message's `messageId` is its identity,
whatever its time (contract §7), but its item's key is (`MSG#{messageId}`,
message time): a condition on that item cannot see a message stored under the
same id at another time, and DynamoDB conditions only ever test the one item
they write. So every message is written in one transaction with a second,
small item keyed by the id alone, `MSGID#{messageId}` / `METADATA`, created
with `attribute_not_exists(pk)`: the uniqueness item of AWS's "simulating unique
constraints with transactions". Two writers of one id (at any times) race for
that one key, and DynamoDB lets exactly one win. It lives in its own partition
(the `MSG#` partition holds the message alone) and carries no `timestamp`,
`sender` or `sessionId`, so it is in no index; it records the stored
message's `sk` (`messageSk`), which is what a conflict needs to find and show
the stored version.

**Period sort trap.** In one partition `2025-10` < `2025-10-05` < `2025-11` <
`2025-Q1`: a key range over months also catches days and slices. Range queries
must therefore filter by `parse_metric_sk(...).period.granularity`.
"""

from __future__ import annotations

import calendar
import functools
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import TypeGuard

from salestalk_lib.contract.errors import InvalidTenantId, KeyGrammarError

MSG_PREFIX = "MSG#"
MSG_IDENTITY_PREFIX = "MSGID#"
MSG_IDENTITY_SK = "METADATA"
SESSION_PREFIX = "SESSION#"
SESSION_SK = "METADATA"
BATCH_PREFIX = "BATCH#"
BATCH_SK = "METADATA"
EVENT_PREFIX = "EVENT#"
EVENT_SK = "METADATA"
METRIC_PREFIX = "METRIC#"
SLICE_SEPARATOR = "#"
DIMENSION_SEPARATOR = ":"

TENANT_ID_MAX = 64
_TENANT_ID_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
_UUID4_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
_SUBJECT_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_DIM_NAME_RE = re.compile(r"^[a-z][a-zA-Z0-9_]{0,63}$")
CONTROL_CHARACTERS = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
"""A regex class body: C0 and C1 controls, DEL, and the Unicode line and paragraph separators.

No key part may hold one, nor any text the contract calls single-line (`models.NonEmptyText`):
they would end a line, move the cursor or start an escape sequence wherever the value is shown.
"""
_DIM_VALUE_RE = re.compile(
    rf"^[^#:\s{CONTROL_CHARACTERS}](?:[^#{CONTROL_CHARACTERS}]{{0,126}}"
    rf"[^#\s{CONTROL_CHARACTERS}])?$"
)
# [0-9], not \d: \d also matches other scripts' digits (which int() accepts), so
# '٢٠٢٥-Q3' used to parse as 2025-Q3 under a second key string for the same period.
_QUARTER_RE = re.compile(r"^([0-9]{4})-Q([1-4])$")
_MONTH_RE = re.compile(r"^([0-9]{4})-([0-9]{2})$")
_DAY_RE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")
_EVENT_ID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
_BATCH_ID_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,126}[A-Za-z0-9])?$")
_MSG_SK_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$")

# Public copies of the patterns, for JSON Schemas and docs.
TENANT_ID_PATTERN = _TENANT_ID_RE.pattern
UUID4_PATTERN = _UUID4_RE.pattern
UUID4_RE = _UUID4_RE
"""The compiled UUID v4 pattern (for validators that already know they hold a str)."""
BATCH_ID_PATTERN = _BATCH_ID_RE.pattern
PERIOD_PATTERN = r"^[0-9]{4}-(Q[1-4]|[0-9]{2}|[0-9]{2}-[0-9]{2})$"
MESSAGE_SK_PATTERN = _MSG_SK_RE.pattern
DIMENSION_NAME_PATTERN = _DIM_NAME_RE.pattern
DIMENSION_VALUE_PATTERN = _DIM_VALUE_RE.pattern


def validate_tenant_id(tenant_id: object) -> str:
    """Return `tenant_id` if it is 1-64 lowercase letters, digits and inner `-`; raise otherwise.

    Called before a tenant id is ever placed into a table name, so hostile ids
    (uppercase, spaces, `/`, `..`, non-ASCII, leading/trailing `-`) never reach DynamoDB.
    """
    if not isinstance(tenant_id, str):
        raise InvalidTenantId(f"tenant id must be a string, got {type(tenant_id).__name__}")
    if not tenant_id:
        raise InvalidTenantId("tenant id must not be empty")
    if len(tenant_id) > TENANT_ID_MAX:
        raise InvalidTenantId(f"tenant id must be at most {TENANT_ID_MAX} characters, got {len(tenant_id)}")
    if not _TENANT_ID_RE.fullmatch(tenant_id):
        raise InvalidTenantId(
            f"tenant id {tenant_id!r} must use only lowercase letters, digits and '-', "
            "and must not start or end with '-'"
        )
    return tenant_id


def is_uuid4(value: object) -> TypeGuard[str]:
    """True if `value` is a canonical lowercase UUID version 4 string."""
    return isinstance(value, str) and bool(_UUID4_RE.fullmatch(value))


def _require_uuid4(value: str, what: str) -> str:
    if not is_uuid4(value):
        raise KeyGrammarError(f"{what} must be a lowercase UUID v4, got {value!r}")
    return value


def new_uuid4() -> str:
    """A fresh random UUID v4 in canonical form."""
    return str(uuid.uuid4())


# --- messages -----------------------------------------------------------------


def message_pk(message_id: str) -> str:
    """`MSG#{messageId}` for a UUID v4 message id."""
    return MSG_PREFIX + _require_uuid4(message_id, "messageId")


def _after_prefix(pk: object, prefix: str, item: str) -> str:
    """What follows `prefix` in a partition key (KeyGrammarError if the pk does not start with it)."""
    if not isinstance(pk, str) or not pk.startswith(prefix):
        raise KeyGrammarError(f"{item} pk must start with {prefix!r}, got {pk!r}")
    return pk[len(prefix) :]


def parse_message_pk(pk: str) -> str:
    """The message id inside a `MSG#` partition key."""
    return _require_uuid4(_after_prefix(pk, MSG_PREFIX, "message"), "messageId in pk")


def message_sk(when: datetime) -> str:
    """ISO-8601 UTC with milliseconds: `2025-11-09T10:00:00.000Z` (timezone-aware input only)."""
    if not isinstance(when, datetime) or when.tzinfo is None:
        raise KeyGrammarError("message time must be a timezone-aware datetime")
    utc = when.astimezone(UTC)
    if utc.microsecond % 1000:
        raise KeyGrammarError(f"message time has sub-millisecond precision: {when.isoformat()}")
    # Not strftime: glibc's %Y does not pad years below 1000, which broke both the
    # fixed width (string order = time order) and parse_message_sk.
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
        f"{utc.second:02d}.{utc.microsecond // 1000:03d}Z"
    )


def parse_message_sk(sk: object) -> datetime:
    """The UTC instant a message sort key names."""
    if isinstance(sk, str):
        return _parse_message_sk(sk)
    raise KeyGrammarError(f"message sk must look like 2025-11-09T10:00:00.000Z, got {sk!r}")


@functools.lru_cache(maxsize=64)  # a message's validators read its sk twice (its own rule, then the timestamp's)
def _parse_message_sk(sk: str) -> datetime:
    if not _MSG_SK_RE.fullmatch(sk):
        raise KeyGrammarError(f"message sk must look like 2025-11-09T10:00:00.000Z, got {sk!r}")
    try:  # the fixed-width fields the pattern matched (strptime would take ~5x as long to say the same)
        return datetime(
            int(sk[0:4]),
            int(sk[5:7]),
            int(sk[8:10]),
            int(sk[11:13]),
            int(sk[14:16]),
            int(sk[17:19]),
            int(sk[20:23]) * 1000,
            tzinfo=UTC,
        )
    except ValueError as exc:
        raise KeyGrammarError(f"message sk {sk!r} is not a real date and time") from exc


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def unix_seconds(when: datetime) -> Decimal:
    """Unix seconds of an aware datetime as an exact Decimal (integral when whole seconds)."""
    delta = when.astimezone(UTC) - _EPOCH
    seconds = delta.days * 86400 + delta.seconds
    if not delta.microseconds:
        return Decimal(seconds)
    return Decimal(seconds * 1_000_000 + delta.microseconds).scaleb(-6).normalize()  # exact: at most 20 digits


def from_unix_seconds(seconds: Decimal | int) -> datetime:
    """The aware UTC datetime of a unix-seconds number (exact to the microsecond)."""
    micros = int(Decimal(seconds) * 1_000_000)
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


# --- message identities ---------------------------------------------------------


def message_identity_pk(message_id: str) -> str:
    """`MSGID#{messageId}`: the partition of a message's identity item (one per messageId, whatever its time)."""
    return MSG_IDENTITY_PREFIX + _require_uuid4(message_id, "messageId")


def parse_message_identity_pk(pk: str) -> str:
    """The message id inside a `MSGID#` partition key."""
    return _require_uuid4(_after_prefix(pk, MSG_IDENTITY_PREFIX, "message identity"), "messageId in pk")


def message_identity_sk() -> str:
    """The fixed sort key of a message identity item."""
    return MSG_IDENTITY_SK


# --- session rollups ----------------------------------------------------------


def session_pk(session_id: str) -> str:
    """`SESSION#{sessionId}` for a UUID v4 session id."""
    return SESSION_PREFIX + _require_uuid4(session_id, "sessionId")


def parse_session_pk(pk: str) -> str:
    """The session id inside a `SESSION#` partition key."""
    return _require_uuid4(_after_prefix(pk, SESSION_PREFIX, "session"), "sessionId in pk")


def session_sk() -> str:
    """The fixed sort key of a session rollup item."""
    return SESSION_SK


# --- ingest batches -------------------------------------------------------------


def validate_batch_id(batch_id: object) -> str:
    """A batch id: 1-128 letters, digits, `.`, `_` or `-`, starting and ending with a letter or digit.

    No `#`, so `BATCH#{batchId}` parses back unambiguously; a UUID qualifies.
    """
    if not isinstance(batch_id, str) or not _BATCH_ID_RE.fullmatch(batch_id):
        raise KeyGrammarError(
            f"batchId must be 1-128 letters, digits, '.', '_' or '-', starting and ending with a "
            f"letter or digit, got {batch_id!r}"
        )
    return batch_id


def batch_pk(batch_id: str) -> str:
    """`BATCH#{batchId}`: the partition of an ingest batch's record (in the tenant's messages table)."""
    return BATCH_PREFIX + validate_batch_id(batch_id)


def parse_batch_pk(pk: str) -> str:
    """The batch id inside a `BATCH#` partition key."""
    return validate_batch_id(_after_prefix(pk, BATCH_PREFIX, "batch"))


def batch_sk() -> str:
    """The fixed sort key of an ingest batch record."""
    return BATCH_SK


# --- processed events ------------------------------------------------------------


def event_pk(event_id: str) -> str:
    """`EVENT#{eventId}`: the partition of an event's processing record (eventId: a lowercase UUID)."""
    if not isinstance(event_id, str) or not _EVENT_ID_RE.fullmatch(event_id):
        raise KeyGrammarError(f"eventId must be a lowercase canonical UUID, got {event_id!r}")
    return EVENT_PREFIX + event_id


def parse_event_pk(pk: str) -> str:
    """The event id inside an `EVENT#` partition key."""
    event_id = _after_prefix(pk, EVENT_PREFIX, "event")
    event_pk(event_id)
    return event_id


def event_sk() -> str:
    """The fixed sort key of an event's processing record."""
    return EVENT_SK


# --- periods ------------------------------------------------------------------


class Granularity(StrEnum):
    """How long a period is."""

    QUARTER = "quarter"
    MONTH = "month"
    DAY = "day"


@dataclass(frozen=True)
class Period:
    """A calendar quarter, month or day, written `2025-Q3`, `2025-07` or `2025-07-15`."""

    year: int
    granularity: Granularity
    index: int  # quarter 1-4, month 1-12, or a day as month*100+day
    text: str

    @property
    def start(self) -> datetime:
        """The period's first instant, UTC."""
        if self.granularity is Granularity.QUARTER:
            return datetime(self.year, 3 * self.index - 2, 1, tzinfo=UTC)
        if self.granularity is Granularity.MONTH:
            return datetime(self.year, self.index, 1, tzinfo=UTC)
        return datetime(self.year, self.index // 100, self.index % 100, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The first instant after the period, UTC (KeyGrammarError for the last period of year 9999)."""
        months = 3 if self.granularity is Granularity.QUARTER else 1
        start = self.start
        month0 = start.month - 1 + months
        try:
            if self.granularity is Granularity.DAY:
                return start + timedelta(days=1)
            return datetime(start.year + month0 // 12, month0 % 12 + 1, 1, tzinfo=UTC)
        except (ValueError, OverflowError) as exc:
            # datetime stops at 9999-12-31; a bare ValueError here escaped the error tree.
            raise KeyGrammarError(f"period {self.text} ends after 9999-12-31, which cannot be represented") from exc

    @property
    def timestamp(self) -> int:
        """Unix seconds of the period's first instant (2025-Q3 → 1751328000)."""
        return calendar.timegm(self.start.utctimetuple())

    def __str__(self) -> str:
        return self.text


def quarter(year: int, q: int) -> Period:
    """The period `YYYY-QN`."""
    return parse_period(f"{year:04d}-Q{q}")


def month(year: int, m: int) -> Period:
    """The period `YYYY-MM`."""
    return parse_period(f"{year:04d}-{m:02d}")


def day(year: int, m: int, d: int) -> Period:
    """The period `YYYY-MM-DD`."""
    return parse_period(f"{year:04d}-{m:02d}-{d:02d}")


def parse_period(text: str) -> Period:
    """Parse `YYYY-QN`, `YYYY-MM` or `YYYY-MM-DD`; anything else raises KeyGrammarError."""
    if not isinstance(text, str):
        raise KeyGrammarError(f"period must be a string, got {type(text).__name__}")
    # Parsing is pure and a load repeats a few periods many times: plain strings are remembered.
    return _parse_period_cached(text) if type(text) is str else _parse_period(text)


def _parse_period(text: str) -> Period:
    if m := _QUARTER_RE.fullmatch(text):
        year, idx, gran = int(m[1]), int(m[2]), Granularity.QUARTER
    elif m := _MONTH_RE.fullmatch(text):
        year, idx, gran = int(m[1]), int(m[2]), Granularity.MONTH
        if not 1 <= idx <= 12:
            raise KeyGrammarError(f"period {text!r}: month must be 01-12")
    elif m := _DAY_RE.fullmatch(text):
        year, mo, d = int(m[1]), int(m[2]), int(m[3])
        try:
            datetime(year, mo, d)
        except ValueError as exc:
            raise KeyGrammarError(f"period {text!r} is not a real date") from exc
        idx, gran = mo * 100 + d, Granularity.DAY
    else:
        raise KeyGrammarError(f"period must be YYYY-QN, YYYY-MM or YYYY-MM-DD, got {text!r}")
    if year < 1970:
        raise KeyGrammarError(f"period {text!r} is before 1970")
    return Period(year=year, granularity=gran, index=idx, text=text)


# --- metrics ------------------------------------------------------------------


def metric_pk(subject: str) -> str:
    """`METRIC#{subject}`."""
    if not isinstance(subject, str) or not _SUBJECT_RE.fullmatch(subject):
        raise KeyGrammarError(f"metric subject must be lowercase snake_case, got {subject!r}")
    return METRIC_PREFIX + subject


def parse_metric_pk(pk: str) -> str:
    """The subject inside a `METRIC#` partition key."""
    subject = _after_prefix(pk, METRIC_PREFIX, "metric")
    metric_pk(subject)
    return subject


def dimension_key(name: str, value: str) -> str:
    """`{dimName}:{dimValue}`, e.g. `region:Europe`."""
    if not isinstance(name, str) or not _DIM_NAME_RE.fullmatch(name):
        raise KeyGrammarError(f"dimension name must be camelCase or snake_case letters/digits, got {name!r}")
    if not isinstance(value, str) or not _DIM_VALUE_RE.fullmatch(value):
        raise KeyGrammarError(
            f"dimension value must be 1-128 characters without '#', control characters "
            f"or surrounding spaces, got {value!r}"
        )
    return f"{name}{DIMENSION_SEPARATOR}{value}"


def parse_dimension_key(key: str) -> tuple[str, str]:
    """Split `region:Europe` into `("region", "Europe")`."""
    if not isinstance(key, str) or DIMENSION_SEPARATOR not in key:
        raise KeyGrammarError(f"dimensionKey must be '{{name}}:{{value}}', got {key!r}")
    name, value = key.split(DIMENSION_SEPARATOR, 1)
    dimension_key(name, value)
    return name, value


@dataclass(frozen=True)
class MetricSortKey:
    """A parsed metric sort key: its period and, for a slice, its dimension key."""

    period: Period
    dimension_key: str | None = None

    @property
    def is_slice(self) -> bool:
        return self.dimension_key is not None

    def __str__(self) -> str:
        return metric_sk(self.period.text, self.dimension_key)


def metric_slice_prefix(period: str | Period) -> str:
    """`{period}#`: the begins_with prefix of a period's slices (never its days or its headline)."""
    text = period.text if isinstance(period, Period) else parse_period(period).text
    return text + SLICE_SEPARATOR


def metric_sk(period: str | Period, dimension: str | None = None) -> str:
    """Headline `sk` = period; slice `sk` = `{period}#{dimName}:{dimValue}`."""
    text = period.text if isinstance(period, Period) else parse_period(period).text
    if dimension is None:
        return text
    parse_dimension_key(dimension)
    return f"{text}{SLICE_SEPARATOR}{dimension}"


def parse_metric_sk(sk: str) -> MetricSortKey:
    """Parse a headline or slice metric sort key."""
    if not isinstance(sk, str):
        raise KeyGrammarError(f"metric sk must be a string, got {type(sk).__name__}")
    return _parse_metric_sk_cached(sk) if type(sk) is str else _parse_metric_sk(sk)


def _parse_metric_sk(sk: str) -> MetricSortKey:
    period_text, sep, dim = sk.partition(SLICE_SEPARATOR)
    period = parse_period(period_text)
    if not sep:
        return MetricSortKey(period)
    parse_dimension_key(dim)
    return MetricSortKey(period, dim)


# Results are immutable (frozen dataclasses); errors are raised again on every call, never cached.
_parse_period_cached = lru_cache(maxsize=4096)(_parse_period)
_parse_metric_sk_cached = lru_cache(maxsize=4096)(_parse_metric_sk)


# --- item kinds -----------------------------------------------------------------


class KeyKind(StrEnum):
    """Which kind of item a partition key belongs to."""

    MESSAGE = "message"
    MESSAGE_IDENTITY = "message identity"
    SESSION = "session"
    METRIC = "metric"
    BATCH = "batch"
    EVENT = "event"


def pk_kind(pk: object) -> KeyKind | None:
    """The item kind a pk's prefix names (even if the rest of the pk is malformed), else None."""
    if not isinstance(pk, str):
        return None
    # MSGID# does not start with MSG# (the '#' differs from 'I'), so the order of these prefixes does not matter.
    for prefix, kind in (
        (MSG_PREFIX, KeyKind.MESSAGE),
        (MSG_IDENTITY_PREFIX, KeyKind.MESSAGE_IDENTITY),
        (SESSION_PREFIX, KeyKind.SESSION),
        (METRIC_PREFIX, KeyKind.METRIC),
        (BATCH_PREFIX, KeyKind.BATCH),
        (EVENT_PREFIX, KeyKind.EVENT),
    ):
        if pk.startswith(prefix):
            return kind
    return None


# --- tenant table names --------------------------------------------------------
#
# A full table name is `{prefix}tenants-metadata` or `{prefix}tenant-{tenantId}-{messages|metrics}`.
# The grammar must be unambiguous, or two deployments' tables (and IAM ARNs) collide: with a
# prefix `tenant-x-`, tenant `y`'s table `tenant-x-tenant-y-messages` is also tenant `x-tenant-y`'s
# table of the unprefixed deployment. So a prefix never contains `tenant-`. Then the first
# `tenant-` of a tenant table's name is where its base name starts (`tenant-` overlaps no
# prefix of itself, so it cannot straddle the prefix's end either), and `parse_table_name`
# reads back exactly the (prefix, kind, tenant) it was built from.

REGISTRY_TABLE_BASE = "tenants-metadata"
TENANT_TABLE_HEAD = "tenant-"
MESSAGES_TABLE_SUFFIX = "-messages"
METRICS_TABLE_SUFFIX = "-metrics"
TABLE_PREFIX_MAX = 64
_TABLE_PREFIX_RE = re.compile(r"^[A-Za-z0-9_.-]{0,64}$")
TABLE_PREFIX_PATTERN = _TABLE_PREFIX_RE.pattern


def table_prefix_problem(prefix: object) -> str | None:
    """Why `prefix` cannot prefix table names, or None when it can.

    Letters, digits, `_`, `.` and `-`, at most 64 characters, and never the text
    `tenant-` (see the grammar note above: it would make names parse two ways).
    """
    if not isinstance(prefix, str) or not _TABLE_PREFIX_RE.fullmatch(prefix):
        return f"may use only letters, digits, '_', '.', '-' (at most {TABLE_PREFIX_MAX} characters)"
    if TENANT_TABLE_HEAD in prefix:
        return (
            f"must not contain {TENANT_TABLE_HEAD!r}: with it, one table name would belong to two "
            "deployments (prefix 'tenant-x-' + tenant 'y' = no prefix + tenant 'x-tenant-y')"
        )
    return None


def messages_table_base(tenant_id: str) -> str:
    """`tenant-{tenantId}-messages` (without any deployment prefix)."""
    return f"{TENANT_TABLE_HEAD}{validate_tenant_id(tenant_id)}{MESSAGES_TABLE_SUFFIX}"


def metrics_table_base(tenant_id: str) -> str:
    """`tenant-{tenantId}-metrics` (without any deployment prefix)."""
    return f"{TENANT_TABLE_HEAD}{validate_tenant_id(tenant_id)}{METRICS_TABLE_SUFFIX}"


def s3_prefix(tenant_id: str) -> str:
    """`tenant-{tenantId}/`."""
    return f"{TENANT_TABLE_HEAD}{validate_tenant_id(tenant_id)}/"


def _tenant_of_table_base(name: object, suffix: str) -> str:
    head = TENANT_TABLE_HEAD
    if not isinstance(name, str) or not name.startswith(head) or not name.endswith(suffix):
        raise KeyGrammarError(f"table name must be '{head}{{tenantId}}{suffix}', got {name!r}")
    try:
        return validate_tenant_id(name[len(head) : -len(suffix)])
    except InvalidTenantId as exc:
        raise KeyGrammarError(f"table name {name!r} does not embed a valid tenant id: {exc}") from exc


def parse_metrics_table_base(name: str) -> str:
    """The tenant id inside `tenant-{tenantId}-metrics`."""
    return _tenant_of_table_base(name, METRICS_TABLE_SUFFIX)


def parse_table_name(name: object) -> tuple[str, str, str | None]:
    """(prefix, kind, tenant id) of a full table name, kind being `registry`, `messages` or `metrics`.

    The inverse of building a name: for every valid prefix, kind and tenant id,
    `parse_table_name(prefix + base_name)` returns exactly them (so no name has two
    owners). KeyGrammarError for a name that is not a SalesTalk table name.
    """
    if not isinstance(name, str):
        raise KeyGrammarError(f"table name must be a string, got {type(name).__name__}")
    kind: str | None
    if name.endswith(REGISTRY_TABLE_BASE):
        prefix, kind, tenant_id = name[: -len(REGISTRY_TABLE_BASE)], "registry", None
    else:
        at = name.find(TENANT_TABLE_HEAD)
        kind = next(
            (
                k
                for k, suffix in (("messages", MESSAGES_TABLE_SUFFIX), ("metrics", METRICS_TABLE_SUFFIX))
                if name.endswith(suffix)
            ),
            None,
        )
        if at < 0 or kind is None:
            raise KeyGrammarError(
                f"{name!r} is not a SalesTalk table name ({{prefix}}{REGISTRY_TABLE_BASE} or "
                f"{{prefix}}{TENANT_TABLE_HEAD}{{tenantId}}-messages|-metrics)"
            )
        prefix = name[:at]
        tenant_id = _tenant_of_table_base(
            name[at:], MESSAGES_TABLE_SUFFIX if kind == "messages" else METRICS_TABLE_SUFFIX
        )
    problem = table_prefix_problem(prefix)
    if problem is not None:
        raise KeyGrammarError(f"table name {name!r} has prefix {prefix!r}, which {problem}")
    return prefix, kind, tenant_id
