"""The stored items: the registry's `Tenant`, the messages table's `Message`, `MessageIdentity`,
`SessionRollup`, `IngestBatch` and `ProcessedEvent`, the metrics table's `Metric`, and the
`DataReference` narratives cite. Each holds its cross-field rules (see `models`' table) and
has `to_item()`/`from_item()`. Pure: no boto3.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, NamedTuple, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from salestalk_lib.contract import keys
from salestalk_lib.contract.errors import ContractError
from salestalk_lib.contract.fields import (
    ITEM_SIZE_LIMIT,
    MESSAGE_METADATA_LIMIT,
    Confidence,
    Count,
    DimensionKey,
    DimensionName,
    Dimensions,
    DimensionValue,
    Email,
    MessageMetadata,
    MessageText,
    MetricMetadata,
    MetricSubject,
    Name,
    NonEmptyText,
    Number,
    PeriodText,
    PositiveCount,
    StrictText,
    TableName,
    TenantId,
    TenantMetadata,
    Unit,
    UnixSeconds,
    UUID4Str,
    UUIDStr,
    Year,
    _check_json_map,
    _contract_check,
    _NestedErrors,
    _raise_nested,
    _rule,
    _to_dynamo,
    error_rule,
    item_size_bytes,
)
from salestalk_lib.contract.vocab import (
    NON_CURRENCY_UNITS,
    BatchStatus,
    EventProcessing,
    Intent,
    Measure,
    Plan,
    Sender,
    Subject,
    TenantStatus,
    TimeRangePeriod,
)

if TYPE_CHECKING:
    from salestalk_lib.contract.envelopes import EventEnvelope


class ContractModel(BaseModel):
    """Base of every contract model: frozen, unknown attributes refused, camelCase on the wire."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,
        serialize_by_alias=True,
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_nulls(cls, value: Any) -> Any:
        """No attribute is null: an absent optional attribute is omitted."""
        # Items never hold None (DynamoDB would store a NULL attribute): absent means omitted.
        if value is None:
            raise _rule("must not be null: omit the attribute instead")
        return value

    @field_validator("tenant_id", check_fields=False)
    @classmethod
    def _tenant_of_the_table(cls, value: str, info: ValidationInfo) -> str:
        """`tenantId` is the tenant whose table the record is read from (when the reader names one)."""
        expected = (info.context or {}).get("tenant_id")
        if expected is not None and value != expected:
            raise _rule(f"is {value!r} but the record belongs to tenant {expected!r}'s table")
        return value

    def to_item(self) -> dict[str, Any]:
        """The DynamoDB item (resource-layer form): camelCase names, Decimal numbers, no None."""
        item: dict[str, Any] = _to_dynamo(self.model_dump(by_alias=True, exclude_none=True))
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any], *, tenant_id: str | None = None) -> Self:
        """Validate an item as read from DynamoDB or a file (contract names only).

        `tenant_id`, when given, is the tenant whose table the item comes from; a
        record of another tenant is refused.
        """
        return cls.model_validate(item, by_alias=True, by_name=False, context={"tenant_id": tenant_id})


class ItemModel(ContractModel):
    """A model stored as one DynamoDB item: checked against the 400 KB item limit."""

    @model_validator(mode="after")
    def _fits_in_an_item(self) -> Self:
        """The item fits DynamoDB's 400 KB item limit, sized by DynamoDB's own rules (`item_size_bytes`)."""
        # Quick bound first: an item's size is at most 2 * (UTF-8 length of its JSON) + 1, because every
        # value's size is at most twice its JSON text: a string counts its bytes inside two quotes; a
        # number of d significant digits takes at most 1 + (d + 2) // 2 bytes, plus 1 if negative, against at
        # least d characters (plus the '-'; pydantic writes a Decimal as a quoted string); true/false/null take
        # 1 byte; a map or list takes 3 + 1 per element against its brackets, separators and quoted keys
        # (see tests/test_item_size.py). Only items that might be large are sized exactly, on the dump
        # (enums, ints and floats size as their item forms do) rather than a built item.
        if 2 * len(self.__pydantic_serializer__.to_json(self, by_alias=True, exclude_none=True)) + 1 <= ITEM_SIZE_LIMIT:
            return self
        size = item_size_bytes(self.model_dump(by_alias=True, exclude_none=True))
        if size > ITEM_SIZE_LIMIT:
            raise _rule(f"item is {size:,} bytes by DynamoDB's size rules; the limit is {ITEM_SIZE_LIMIT:,} (400 KB)")
        return self


class Tenant(ItemModel):
    """A tenant's registry item in `tenants-metadata`."""

    tenant_id: TenantId
    name: Name
    owner_email: Email
    plan: Plan
    status: TenantStatus
    messages_table_name: StrictText
    metrics_table_name: StrictText
    s3_prefix: StrictText
    created_at: UnixSeconds
    updated_at: UnixSeconds
    metadata: TenantMetadata | None = None

    @field_validator("messages_table_name", "metrics_table_name", "s3_prefix")
    @classmethod
    def _derived_from_tenant_id(cls, value: str, info: ValidationInfo) -> str:
        """`messagesTableName`, `metricsTableName` and `s3Prefix` derive from `tenantId` (by the key grammar)."""
        tenant_id = info.data.get("tenant_id")
        if tenant_id is None:
            return value
        if info.field_name is None:  # pydantic names the field of every field validator
            raise TypeError("_derived_from_tenant_id runs only as a field validator")
        derive = {
            "messages_table_name": keys.messages_table_base,
            "metrics_table_name": keys.metrics_table_base,
            "s3_prefix": keys.s3_prefix,
        }[info.field_name]
        expected = derive(tenant_id)
        if value != expected:
            raise _rule(f"must be {expected!r} (derived from tenantId), got {value!r}")
        return value

    @field_validator("updated_at")
    @classmethod
    def _not_before_creation(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        """`updatedAt` ≥ `createdAt`."""
        created = info.data.get("created_at")
        if created is not None and value < created:
            raise _rule(f"must be ≥ createdAt ({created}), got {value}")
        return value

    @classmethod
    def create(
        cls,
        *,
        tenant_id: str,
        name: str,
        owner_email: str,
        plan: Plan | str,
        created_at: int | Decimal,
        updated_at: int | Decimal | None = None,
        status: TenantStatus | str = TenantStatus.ACTIVE,
        metadata: Mapping[str, Any] | None = None,
    ) -> Tenant:
        """A registry item with its table names and S3 prefix derived from `tenant_id`."""
        fields: dict[str, Any] = dict(
            tenant_id=tenant_id,
            name=name,
            owner_email=owner_email,
            plan=plan,
            status=status,
            messages_table_name=keys.messages_table_base(tenant_id),
            metrics_table_name=keys.metrics_table_base(tenant_id),
            s3_prefix=keys.s3_prefix(tenant_id),
            created_at=created_at,
            updated_at=created_at if updated_at is None else updated_at,
        )
        if metadata is not None:
            fields["metadata"] = metadata
        return cls(**fields)


class TimeRange(ContractModel):
    """The time a question is about: `{period: quarter, value: Q3, year: 2025}`.

    `value` by period: quarter `Q1`-`Q4`, month `01`-`12`, day `MM-DD`, year the year itself.
    """

    period: TimeRangePeriod
    year: Year
    value: StrictText

    @field_validator("value")
    @classmethod
    def _value_fits_period(cls, value: str, info: ValidationInfo) -> str:
        """`value` fits `period`: `Q1`-`Q4`, `01`-`12`, `MM-DD` (a real date in `year`), or the year itself."""
        period, year = info.data.get("period"), info.data.get("year")
        if period is None or year is None:
            return value
        if period == TimeRangePeriod.YEAR:
            if value != f"{year:04d}":
                raise _rule(f"must be the year itself ({year:04d}) when period is 'year', got {value!r}")
            return value
        shapes = {
            TimeRangePeriod.QUARTER: (keys.Granularity.QUARTER, "Q1-Q4"),
            TimeRangePeriod.MONTH: (keys.Granularity.MONTH, "01-12"),
            TimeRangePeriod.DAY: (keys.Granularity.DAY, "MM-DD"),
        }
        granularity, shape = shapes[period]
        try:
            parsed = keys.parse_period(f"{year:04d}-{value}")
        except ContractError:
            parsed = None
        if parsed is None or parsed.granularity is not granularity:
            raise _rule(f"must be {shape} when period is {period.value!r} (a real date in {year}), got {value!r}")
        return value

    def to_period(self) -> keys.Period | None:
        """The key-grammar period this range names (None for a whole year)."""
        if self.period == TimeRangePeriod.YEAR:
            return None
        return keys.parse_period(f"{self.year:04d}-{self.value}")


class Filter(ContractModel):
    """One `{key, value}` restriction, in the dimension grammar (`region` = `Europe`)."""

    key: DimensionName
    value: DimensionValue


class ClassificationComponents(ContractModel):
    """Per-part confidences of a classification (snake_case keys, as the classifier emits them)."""

    model_config = ConfigDict(alias_generator=None, serialize_by_alias=False)

    intent_confidence: Confidence | None = None
    subject_confidence: Confidence | None = None
    measure_confidence: Confidence | None = None
    time_confidence: Confidence | None = None


class Classification(ContractModel):
    """What a user question asks: intent, subject, measure, time range, filters and confidences."""

    intent: Intent
    subject: Subject
    measure: Measure
    time_range: TimeRange | None = None
    filters: tuple[Filter, ...] = ()
    confidence: Confidence
    components: ClassificationComponents | None = None


class DataSource(ContractModel):
    """Where a quoted figure is stored: metrics table base name and the item's keys."""

    table: TableName
    pk: StrictText
    sk: StrictText

    @field_validator("table")
    @classmethod
    def _is_a_metrics_table(cls, value: str) -> str:
        """`table` is a tenant's metrics table base name (`keys.metrics_table_base`), without a deployment prefix."""
        _contract_check(keys.parse_metrics_table_base)(value)
        return value


@dataclass(frozen=True)
class Mismatch:
    """One way a data reference disagrees with the stored metric item."""

    field: str
    reference: Any
    stored: Any

    @property
    def rule(self) -> str:
        return f"reference says {self.reference}, stored item has {self.stored}"

    def __str__(self) -> str:
        return f"{self.field}: {self.rule}"


class DataReference(ContractModel):
    """A figure quoted in a narrative and the metric item it comes from (contract §2.4).

    `source.table` is the tenant's metrics table base name (`tenant-{tenantId}-metrics`,
    without any deployment prefix), so a reference stays valid in every environment.
    """

    metric: MetricSubject
    period: PeriodText
    value: Number
    unit: Unit
    dimensions: Dimensions | None = None
    source: DataSource

    @field_validator("source")
    @classmethod
    def _source_keys_agree(cls, source: DataSource, info: ValidationInfo) -> DataSource:
        """`source.pk` is `metric`'s pk; `source.sk` names `period` and, for a slice, an entry of `dimensions`."""
        errors = []
        metric, period, dims = info.data.get("metric"), info.data.get("period"), info.data.get("dimensions")
        if metric is not None and source.pk != keys.metric_pk(metric):
            errors.append((("pk",), f"must be {keys.metric_pk(metric)!r} (the metric's partition key)", source.pk))
        try:
            sk = keys.parse_metric_sk(source.sk)
        except ContractError as exc:
            errors.append((("sk",), str(exc), source.sk))
        else:
            if period is not None and sk.period.text != period:
                errors.append(
                    (("sk",), f"names period {sk.period.text!r} but the reference quotes {period!r}", source.sk)
                )
            # When dimensions failed validation it is missing here; that error is reported on its own.
            if sk.dimension_key is not None and "dimensions" in info.data:
                name, value = keys.parse_dimension_key(sk.dimension_key)
                if (dims or {}).get(name) != value:
                    errors.append(
                        (
                            ("sk",),
                            f"is the slice {sk.dimension_key!r}, so dimensions must contain {name}: {value!r}",
                            source.sk,
                        )
                    )
        _raise_nested("DataSource", errors)
        return source

    @property
    def tenant_id(self) -> str:
        """The tenant whose metrics table the reference points into."""
        return keys.parse_metrics_table_base(self.source.table)

    def check_against(self, item: Metric | MetricFacts | Mapping[str, Any] | None) -> list[Mismatch]:
        """Every way this reference disagrees with the stored metric item (empty list: it matches).

        Pure: the caller fetches `item` (by `source.pk`/`source.sk` from `source.table`).
        """
        if item is None:
            return [Mismatch("source", f"{self.source.table} {self.source.pk} {self.source.sk}", "no such item")]
        if isinstance(item, MetricFacts):
            return self._mismatches(item)
        if not isinstance(item, Metric):
            try:
                item = Metric.from_item(item)
            except ValidationError as exc:
                return [
                    Mismatch(
                        "source", "a valid metric item", f"an invalid item ({exc.error_count()} contract violation(s))"
                    )
                ]
        return self._mismatches(MetricFacts.of(item))

    def _mismatches(self, item: MetricFacts) -> list[Mismatch]:
        checks = [
            ("source.table", self.source.table, keys.metrics_table_base(item.tenant_id)),
            ("source.pk", self.source.pk, item.pk),
            ("source.sk", self.source.sk, item.sk),
            ("metric", self.metric, item.subject),
            ("period", self.period, item.period_text),
            ("value", self.value, item.value),
            ("unit", self.unit, item.unit),
        ]
        if self.dimensions is not None:
            checks.append(("dimensions", self.dimensions, item.dimensions))
        return [Mismatch(name, ref, stored) for name, ref, stored in checks if ref != stored]


class MetricFacts(NamedTuple):
    """What `DataReference.check_against` compares of a metric: kept instead of the model when many are held."""

    tenant_id: str
    pk: str
    sk: str
    subject: Any
    period_text: str
    value: Any
    unit: Any
    dimensions: Any

    @classmethod
    def of(cls, metric: Metric) -> MetricFacts:
        """The facts of a validated metric."""
        return cls(
            metric.tenant_id,
            metric.pk,
            metric.sk,
            metric.subject,
            metric.period.text,
            metric.value,
            metric.unit,
            metric.dimensions,
        )


_check_message_sk = _contract_check(keys.parse_message_sk)


def _references_in_tenant(
    refs: tuple[DataReference, ...] | list[DataReference], tenant_id: str | None, loc: tuple[str | int, ...]
) -> _NestedErrors:
    if tenant_id is None:
        return []
    want = keys.metrics_table_base(tenant_id)
    return [
        (loc + (i, "source", "table"), f"must be this tenant's metrics table {want!r}", ref.source.table)
        for i, ref in enumerate(refs)
        if ref.source.table != want
    ]


class KeyedItem(ItemModel):
    """An item whose `pk` is built from one of its own fields by a `keys` builder.

    Each subclass names the field (`_pk_from`) and the builder (`_build_pk`); the
    rule is held once, here.
    """

    _pk_from: ClassVar[str]
    _build_pk: ClassVar[staticmethod[[str], str]]

    @field_validator("pk", check_fields=False)
    @classmethod
    def _pk_built_from_field(cls, value: str, info: ValidationInfo) -> str:
        """`pk` is built from the item's id or subject (`keys.message_pk`, `keys.message_identity_pk`,
        `keys.metric_pk`, `keys.session_pk`, `keys.batch_pk`, `keys.event_pk`)."""
        source = info.data.get(cls._pk_from)
        if source is not None and value != cls._build_pk(source):
            alias = cls.model_fields[cls._pk_from].alias
            raise _rule(f"must be {cls._build_pk(source)!r} (built from {alias}), got {value!r}")
        return value


class Message(KeyedItem):
    """A conversation message in `tenant-{tenantId}-messages`.

    `metadata.dataReferences`, when present, must be a list of valid data references
    into this tenant's metrics table (assistant answers cite their figures there).
    """

    _pk_from = "message_id"
    _build_pk = staticmethod(keys.message_pk)

    tenant_id: TenantId
    message_id: UUID4Str
    session_id: UUID4Str
    pk: StrictText
    sk: StrictText
    timestamp: UnixSeconds
    sender: Sender
    text: MessageText
    classification: Classification | None = None
    metadata: MessageMetadata | None = None
    ttl: UnixSeconds | None = None

    @field_validator("sk")
    @classmethod
    def _sk_is_a_time(cls, value: str) -> str:
        """`sk` is the message time, ISO-8601 UTC with milliseconds (`keys.message_sk`)."""
        _check_message_sk(value)
        return value

    @field_validator("timestamp")
    @classmethod
    def _timestamp_is_sk_instant(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        """`timestamp` is the unix seconds of the instant `sk` names."""
        sk = info.data.get("sk")
        if sk is not None:
            expected = keys.unix_seconds(keys.parse_message_sk(sk))
            if value != expected:
                raise _rule(f"must be {expected}, the unix seconds of sk {sk}, got {value}")
        return value

    @field_validator("metadata", mode="before")
    @classmethod
    def _data_references_valid(cls, value: Any, info: ValidationInfo) -> Any:
        """`metadata.dataReferences`, when present, are valid data references into this tenant's metrics table."""
        # One pass reports the map's own faults and its references' faults together.
        value, errors = _check_json_map(value, MESSAGE_METADATA_LIMIT)
        raw = value.get("dataReferences") if isinstance(value, Mapping) else None
        if raw is not None and not isinstance(raw, list):
            errors.append((("dataReferences",), "must be a list of data references", raw))
        elif raw is not None:
            refs: list[DataReference] = []
            for i, ref in enumerate(raw):
                try:
                    refs.append(DataReference.model_validate(ref, by_alias=True, by_name=False))
                except ValidationError as exc:
                    errors.extend(
                        (("dataReferences", i) + tuple(e["loc"]), error_rule(e), e.get("input")) for e in exc.errors()
                    )
            errors += _references_in_tenant(refs, info.data.get("tenant_id"), ("dataReferences",))
        # A fault inside a reference may also be a map fault (a null, a NaN): report each location once.
        unique = {(loc, msg): (loc, msg, v) for loc, msg, v in errors}
        _raise_nested("metadata", list(unique.values()))
        return value

    @field_validator("ttl")
    @classmethod
    def _ttl_after_message(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        """`ttl` is after `timestamp` (an earlier one would make DynamoDB expire the message at once)."""
        timestamp = info.data.get("timestamp")
        if timestamp is not None and value <= timestamp:
            raise _rule(f"must be after the message time ({timestamp}); DynamoDB would delete it at once")
        return value

    @property
    def at(self) -> datetime:
        """The message time (UTC)."""
        return keys.parse_message_sk(self.sk)

    @property
    def data_references(self) -> tuple[DataReference, ...]:
        """The data references in `metadata.dataReferences` (validated)."""
        raw = (self.metadata or {}).get("dataReferences", [])
        return tuple(DataReference.from_item(r) for r in raw)

    @classmethod
    def create(
        cls,
        *,
        tenant_id: str,
        session_id: str,
        sender: Sender | str,
        text: str,
        at: datetime,
        message_id: str | None = None,
        classification: Classification | Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        ttl: int | Decimal | None = None,
    ) -> Message:
        """A message with pk, sk and timestamp derived from `message_id` and `at` (a new UUID if none)."""
        message_id = message_id or keys.new_uuid4()
        fields: dict[str, Any] = dict(
            tenant_id=tenant_id,
            message_id=message_id,
            session_id=session_id,
            pk=keys.message_pk(message_id),
            sk=keys.message_sk(at),
            timestamp=keys.unix_seconds(at),
            sender=sender,
            text=text,
            classification=classification,
            metadata=metadata,
            ttl=ttl,
        )
        return cls(**{k: v for k, v in fields.items() if v is not None})


class MetadataItem(KeyedItem):
    """An item keyed `{PREFIX}{id}` / `METADATA`: a message identity, a session rollup, an ingest batch, a processed event.

    Each subclass also names its fixed sort key's builder; that rule is held once, here.
    """

    _build_sk: ClassVar[Callable[[], str]]
    _item_kind: ClassVar[str]

    @field_validator("sk", check_fields=False)
    @classmethod
    def _fixed_metadata_sk(cls, value: str) -> str:
        """`sk` is the fixed sort key `METADATA` (`keys.message_identity_sk`, `keys.session_sk`, `keys.batch_sk`,
        `keys.event_sk`)."""
        if value != cls._build_sk():
            raise _rule(f"must be {cls._build_sk()!r} for {cls._item_kind}, got {value!r}")
        return value


class MessageIdentity(MetadataItem):
    """A message's identity item: exactly one per `messageId`, whatever the message's time (contract §7).

    Keyed `keys.message_identity_pk(messageId)` / `keys.message_identity_sk()` in
    the tenant's messages table, and written in the same transaction as its
    message with `attribute_not_exists(pk)`: a second message under the same id
    (at any time) finds this item and is `already_exists` or a `conflict`, never
    a second message item. `messageSk` is the stored message's sort key, so a
    conflict can read and show the stored version. It copies the message's `ttl`,
    so the two expire together. It has no `timestamp`, `sender` or `sessionId`:
    it never appears in SessionIndex or SenderIndex. It is derived: ingestion
    writes it, files never need to carry it.
    """

    _pk_from = "message_id"
    _build_pk = staticmethod(keys.message_identity_pk)
    _build_sk = staticmethod(keys.message_identity_sk)
    _item_kind = "a message identity"

    tenant_id: TenantId
    message_id: UUID4Str
    pk: StrictText
    sk: StrictText
    message_sk: StrictText
    ttl: UnixSeconds | None = None

    @field_validator("message_sk")
    @classmethod
    def _message_sk_is_a_time(cls, value: str) -> str:
        """`messageSk` is a message sort key: the stored message's time (`keys.message_sk`)."""
        _check_message_sk(value)
        return value

    @property
    def message_key(self) -> dict[str, str]:
        """The primary key of the message this item stands for."""
        return {"pk": keys.message_pk(self.message_id), "sk": self.message_sk}

    @classmethod
    def of(cls, message: Message) -> MessageIdentity:
        """The identity item of `message`."""
        optional = {"ttl": message.ttl} if message.ttl is not None else {}
        return cls(
            tenant_id=message.tenant_id,
            message_id=message.message_id,
            pk=keys.message_identity_pk(message.message_id),
            sk=keys.message_identity_sk(),
            message_sk=message.sk,
            **optional,
        )


class SessionRollup(MetadataItem):
    """A session's summary item, keyed by `keys.session_pk(sessionId)` and `keys.session_sk()`.

    It has no `timestamp` and no `sender`, so it never appears in SessionIndex or
    SenderIndex (sparse indexes). Times are unix seconds of the first and last message.
    """

    _pk_from = "session_id"
    _build_pk = staticmethod(keys.session_pk)
    _build_sk = staticmethod(keys.session_sk)
    _item_kind = "a session rollup"

    tenant_id: TenantId
    session_id: UUID4Str
    pk: StrictText
    sk: StrictText
    message_count: PositiveCount
    first_message_at: UnixSeconds
    last_message_at: UnixSeconds
    last_message_id: UUID4Str | None = None
    updated_at: UnixSeconds | None = None

    @field_validator("last_message_at")
    @classmethod
    def _last_not_before_first(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        """`lastMessageAt` ≥ `firstMessageAt`."""
        first = info.data.get("first_message_at")
        if first is not None and value < first:
            raise _rule(f"must be ≥ firstMessageAt ({first}), got {value}")
        return value

    @classmethod
    def of_messages(cls, messages: list[Message] | tuple[Message, ...]) -> SessionRollup:
        """The rollup of one session's distinct messages (duplicates by messageId count once)."""
        unique = {m.message_id: m for m in messages}
        if not unique:
            raise ContractError("a session rollup needs at least one message")
        sessions = {(m.tenant_id, m.session_id) for m in unique.values()}
        if len(sessions) != 1:
            raise ContractError(f"messages belong to more than one session: {sorted(sessions)}")
        ((tenant_id, session_id),) = sessions
        ordered = sorted(unique.values(), key=lambda m: (m.sk, m.message_id))
        return cls(
            tenant_id=tenant_id,
            session_id=session_id,
            pk=keys.session_pk(session_id),
            sk=keys.session_sk(),
            message_count=len(ordered),
            first_message_at=ordered[0].timestamp,
            last_message_at=ordered[-1].timestamp,
            last_message_id=ordered[-1].message_id,
        )


BATCH_RETENTION_DAYS = 30
BATCH_RETENTION_SECONDS = BATCH_RETENTION_DAYS * 86_400
"""An ingest batch's record is honoured for 30 days (contract §4); its `ttl` says when they end."""
_CONTENT_HASH_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


def _batch_id(value: str) -> str:
    return _contract_check(keys.validate_batch_id)(value)


def _content_hash(value: str) -> str:
    if not _CONTENT_HASH_RE.fullmatch(value):
        raise _rule(f"must be 'sha256:' and 64 lowercase hex digits, got {value!r}")
    return value


BatchId = Annotated[
    str, Strict(), AfterValidator(_batch_id), Field(json_schema_extra={"pattern": keys.BATCH_ID_PATTERN})
]
ContentHash = Annotated[
    str, Strict(), AfterValidator(_content_hash), Field(json_schema_extra={"pattern": _CONTENT_HASH_RE.pattern})
]


def content_hash(records: Iterable[ContractModel]) -> str:
    """`sha256:` fingerprint of a set of records, independent of their order.

    Each record counts as its JSON form (contract names, fields in model order,
    numbers as their exact decimal text, maps in their given key order); the
    lines are sorted before hashing, so reordering a file's records keeps the
    fingerprint and changing any value changes it.
    """
    lines = sorted(r.__pydantic_serializer__.to_json(r, by_alias=True, exclude_none=True) for r in records)
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line + b"\n")
    return "sha256:" + digest.hexdigest()


class BatchOutcomes(ContractModel):
    """How a completed batch's records ended: `created`, `alreadyExists` and `written` (unchecked bulk loads)."""

    created: Count = 0
    already_exists: Count = 0
    written: Count = 0

    @property
    def total(self) -> int:
        return self.created + self.already_exists + self.written


class IngestBatch(MetadataItem):
    """One tenant's share of an ingest batch (contract §4: the batchId is recorded, kept 30 days).

    Stored in the tenant's messages table under `keys.batch_pk(batchId)` /
    `keys.batch_sk()`: the table whose `ttl` attribute the contract lets DynamoDB
    expire. It has no `timestamp`, `sessionId` or `sender`, so it never appears
    in SessionIndex or SenderIndex. `contentHash` fingerprints the tenant's
    records in the batch: the same batch id with other records is a conflict.
    `runToken` names the run that created the record, so a run whose create
    lost its response recognises the record as its own.
    A record whose `ttl` has passed no longer counts, whether or not DynamoDB's
    TTL (off by default) has deleted it yet.
    """

    _pk_from = "batch_id"
    _build_pk = staticmethod(keys.batch_pk)
    _build_sk = staticmethod(keys.batch_sk)
    _item_kind = "an ingest batch"

    tenant_id: TenantId
    batch_id: BatchId
    pk: StrictText
    sk: StrictText
    status: BatchStatus
    content_hash: ContentHash
    record_count: PositiveCount
    message_count: Count
    metric_count: Count
    started_at: UnixSeconds
    ttl: UnixSeconds
    run_token: UUID4Str
    completed_at: UnixSeconds | None = None
    outcomes: BatchOutcomes | None = None
    event_id: UUID4Str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        """Counts add up; `ttl` = `startedAt` + 30 days; completed ⇔ `completedAt` + `outcomes`; `eventId` ⇔ metrics."""
        problems: list[tuple[tuple[str, ...], str, Any]] = []
        if self.message_count + self.metric_count != self.record_count:
            problems.append(
                (
                    ("recordCount",),
                    f"must equal messageCount + metricCount ({self.message_count} + {self.metric_count})",
                    self.record_count,
                )
            )
        if self.ttl != self.started_at + BATCH_RETENTION_SECONDS:
            problems.append(
                (
                    ("ttl",),
                    f"must be startedAt + {BATCH_RETENTION_DAYS} days ({self.started_at + BATCH_RETENTION_SECONDS})",
                    self.ttl,
                )
            )
        done = self.status is BatchStatus.COMPLETED
        for name, value in (("completedAt", self.completed_at), ("outcomes", self.outcomes)):
            if done and value is None:
                problems.append(((name,), "is required once the batch is completed", value))
            if not done and value is not None:
                problems.append(((name,), "must be absent while the batch is in progress", value))
        if self.completed_at is not None and self.completed_at < self.started_at:
            problems.append((("completedAt",), f"must be ≥ startedAt ({self.started_at})", self.completed_at))
        if self.outcomes is not None and self.outcomes.total != self.record_count:
            problems.append(
                (
                    ("outcomes",),
                    f"must add up to recordCount ({self.record_count})",
                    self.outcomes.model_dump(by_alias=True),
                )
            )
        if (self.event_id is not None) != (self.metric_count > 0):
            rule = (
                "is required when the batch has metrics (the id of its metrics.ingested.v1 event)"
                if self.event_id is None
                else "must be absent when the batch has no metrics"
            )
            problems.append((("eventId",), rule, self.event_id))
        _raise_nested(type(self).__name__, problems)
        return self

    @classmethod
    def begin(
        cls,
        *,
        tenant_id: str,
        batch_id: str,
        content_hash: str,
        message_count: int,
        metric_count: int,
        started_at: int | Decimal,
        event_id: str | None,
        run_token: str,
    ) -> IngestBatch:
        """The in-progress record written before a batch's first record."""
        optional = {"event_id": event_id} if event_id is not None else {}
        return cls(
            tenant_id=tenant_id,
            batch_id=batch_id,
            pk=keys.batch_pk(batch_id),
            sk=keys.batch_sk(),
            status=BatchStatus.IN_PROGRESS,
            content_hash=content_hash,
            record_count=message_count + metric_count,
            message_count=message_count,
            metric_count=metric_count,
            started_at=started_at,
            ttl=Decimal(started_at) + BATCH_RETENTION_SECONDS,
            run_token=run_token,
            **optional,
        )

    def expired(self, now: int | Decimal) -> bool:
        """True from `ttl` on: the batch id may then be used again."""
        return self.ttl <= now


EVENT_RETENTION_SECONDS = BATCH_RETENTION_SECONDS
"""An event's processing record is kept 30 days, like a batch's: redeliveries within them are recognised."""


class ProcessedEvent(MetadataItem):
    """That one tenant's consumer claimed or processed an event (contract §4: event processing, eventId).

    Stored in the tenant's messages table under `keys.event_pk(eventId)` /
    `keys.event_sk()` (see `salestalk_lib.ops.inbox`). `claimToken` identifies the
    delivery holding the claim, so a retried claim whose response was lost is
    recognised as its own. No `timestamp`, `sessionId` or `sender`: never in
    SessionIndex or SenderIndex.
    """

    _pk_from = "event_id"
    _build_pk = staticmethod(keys.event_pk)
    _build_sk = staticmethod(keys.event_sk)
    _item_kind = "a processed event"

    tenant_id: TenantId
    event_id: UUIDStr
    event_type: NonEmptyText
    pk: StrictText
    sk: StrictText
    status: EventProcessing
    claim_token: UUID4Str
    claimed_at: UnixSeconds
    ttl: UnixSeconds
    processed_at: UnixSeconds | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        """`ttl` = `claimedAt` + 30 days; `processedAt` (≥ `claimedAt`) exactly when processed."""
        problems: list[tuple[tuple[str, ...], str, Any]] = []
        if self.ttl != self.claimed_at + EVENT_RETENTION_SECONDS:
            problems.append(
                (
                    ("ttl",),
                    f"must be claimedAt + {BATCH_RETENTION_DAYS} days ({self.claimed_at + EVENT_RETENTION_SECONDS})",
                    self.ttl,
                )
            )
        done = self.status is EventProcessing.PROCESSED
        if done and self.processed_at is None:
            problems.append((("processedAt",), "is required once the event is processed", None))
        if not done and self.processed_at is not None:
            problems.append((("processedAt",), "must be absent while the event is being processed", self.processed_at))
        if self.processed_at is not None and self.processed_at < self.claimed_at:
            problems.append((("processedAt",), f"must be ≥ claimedAt ({self.claimed_at})", self.processed_at))
        _raise_nested(type(self).__name__, problems)
        return self

    @classmethod
    def claim(cls, event: EventEnvelope, *, claim_token: str, claimed_at: int | Decimal) -> ProcessedEvent:
        """The record a consumer writes before handling `event`."""
        return cls(
            tenant_id=event.tenant_id,
            event_id=event.event_id,
            event_type=event.event_type,
            pk=keys.event_pk(event.event_id),
            sk=keys.event_sk(),
            status=EventProcessing.PROCESSING,
            claim_token=claim_token,
            claimed_at=claimed_at,
            ttl=Decimal(claimed_at) + EVENT_RETENTION_SECONDS,
        )


# Which kinds of unit make sense for each subject; catches e.g. customers in USD or
# churn_rate as a count, the kind of seed mistake the original checks missed.
_CURRENCY, _COUNT, _PERCENTAGE = "an ISO 4217 currency", "count", "percentage"
SUBJECT_UNITS: dict[Subject, frozenset[str]] = {
    Subject.REVENUE: frozenset({_CURRENCY}),
    Subject.ARR: frozenset({_CURRENCY}),
    Subject.PIPELINE: frozenset({_CURRENCY}),
    Subject.MARGIN: frozenset({_CURRENCY, _PERCENTAGE}),
    Subject.DEALS: frozenset({_COUNT, _CURRENCY}),
    Subject.CUSTOMERS: frozenset({_COUNT}),
    Subject.PRODUCTS: frozenset({_COUNT}),
    Subject.CHURN_RATE: frozenset({_PERCENTAGE}),
    Subject.RENEWAL_RATE: frozenset({_PERCENTAGE}),
}


def _unit_kind(unit: str) -> str:
    return unit if unit in NON_CURRENCY_UNITS else _CURRENCY


class Metric(KeyedItem):
    """A business metric in `tenant-{tenantId}-metrics`: a headline figure or one slice of it.

    Headline: `sk` = period (`2025-Q3`), no `dimensionKey`. Slice: `sk` =
    `{period}#{dimName}:{dimValue}` and `dimensionKey` = `{dimName}:{dimValue}`, which
    must name one entry of `dimensions`. `timestamp` is the period's first instant.
    """

    _pk_from = "subject"
    _build_pk = staticmethod(keys.metric_pk)

    tenant_id: TenantId
    metric_id: UUID4Str
    subject: MetricSubject
    metric_type: MetricSubject
    unit: Unit
    value: Number
    dimensions: Dimensions | None = None
    dimension_key: DimensionKey | None = None
    pk: StrictText
    sk: StrictText
    timestamp: UnixSeconds
    metadata: MetricMetadata | None = None

    @field_validator("metric_type")
    @classmethod
    def _type_is_subject(cls, value: Subject, info: ValidationInfo) -> Subject:
        """`metricType` equals `subject`."""
        subject = info.data.get("subject")
        if subject is not None and value != subject:
            raise _rule(f"must equal subject ({subject.value!r}), got {value.value!r}")
        return value

    @field_validator("unit")
    @classmethod
    def _unit_fits_subject(cls, value: str, info: ValidationInfo) -> str:
        """`unit` suits `subject` (`SUBJECT_UNITS`): revenue in a currency, customers a count, ..."""
        subject = info.data.get("subject")
        if subject is not None and _unit_kind(value) not in SUBJECT_UNITS[subject]:
            allowed = " or ".join(sorted(SUBJECT_UNITS[subject]))
            raise _rule(f"{subject.value} is measured in {allowed}, got {value!r}")
        return value

    @field_validator("value")
    @classmethod
    def _counts_are_whole(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        """A value in unit `count` is a whole number."""
        if info.data.get("unit") == "count" and value != value.to_integral_value():
            raise _rule(f"a count must be a whole number, got {value}")
        return value

    @field_validator("dimension_key")
    @classmethod
    def _names_a_dimension(cls, value: str, info: ValidationInfo) -> str:
        """`dimensionKey` (`{dimName}:{dimValue}`) names one entry of `dimensions`."""
        if "dimensions" not in info.data:
            return value  # dimensions itself failed; reported there
        dims = info.data.get("dimensions") or {}
        name, dim_value = keys.parse_dimension_key(value)
        if dims.get(name) != dim_value:
            raise _rule(f"must name one of dimensions ({name} = {dim_value!r} is not among {dims})")
        return value

    @field_validator("sk")
    @classmethod
    def _sk_is_period_and_slice(cls, value: str, info: ValidationInfo) -> str:
        """`sk` is the period for a headline, `{period}#{dimensionKey}` for a slice (`keys.metric_sk`)."""
        try:
            sk = keys.parse_metric_sk(value)
        except ContractError as exc:
            raise _rule(str(exc)) from None
        if "dimension_key" not in info.data:
            return value  # dimensionKey itself failed; reported there
        dk = info.data["dimension_key"]
        if sk.dimension_key != dk:
            if dk is None:
                raise _rule(
                    f"is a slice ({sk.dimension_key}) but dimensionKey is absent; a headline sk is "
                    f"the period alone ({sk.period.text!r})"
                )
            raise _rule(f"must be {keys.metric_sk(sk.period, dk)!r} ({{period}}#{{dimensionKey}}), got {value!r}")
        return value

    @field_validator("timestamp")
    @classmethod
    def _timestamp_is_period_start(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        """`timestamp` is the unix seconds of the period's first instant, UTC."""
        sk = info.data.get("sk")
        if sk is not None:
            period = keys.parse_metric_sk(sk).period
            if value != period.timestamp:
                raise _rule(
                    f"must be {period.timestamp}, the start of period {period.text} "
                    f"({period.start:%Y-%m-%dT%H:%M:%SZ}), got {value}"
                )
        return value

    @property
    def period(self) -> keys.Period:
        """The period the metric is for."""
        return keys.parse_metric_sk(self.sk).period

    @property
    def is_slice(self) -> bool:
        """True for a dimension slice, False for the headline figure."""
        return self.dimension_key is not None

    def reference(self) -> DataReference:
        """A data reference quoting this metric (contract §2.4)."""
        fields: dict[str, Any] = dict(
            metric=self.subject,
            period=self.period.text,
            value=self.value,
            unit=self.unit,
            source=DataSource(table=keys.metrics_table_base(self.tenant_id), pk=self.pk, sk=self.sk),
        )
        if self.dimensions is not None:
            fields["dimensions"] = self.dimensions
        return DataReference(**fields)

    @classmethod
    def create(
        cls,
        *,
        tenant_id: str,
        subject: Subject | str,
        period: str | keys.Period,
        value: int | float | Decimal,
        unit: str,
        dimensions: Mapping[str, str] | None = None,
        dimension_key: str | None = None,
        metric_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Metric:
        """A headline metric, or a slice when `dimension_key` is given; keys and timestamp derived."""
        p = period if isinstance(period, keys.Period) else keys.parse_period(period)
        subject = Subject(subject)
        fields: dict[str, Any] = dict(
            tenant_id=tenant_id,
            metric_id=metric_id or keys.new_uuid4(),
            subject=subject,
            metric_type=subject,
            unit=unit,
            value=value,
            dimensions=dict(dimensions) if dimensions is not None else None,
            dimension_key=dimension_key,
            pk=keys.metric_pk(subject),
            sk=keys.metric_sk(p, dimension_key),
            timestamp=p.timestamp,
            metadata=metadata,
        )
        return cls(**{k: v for k, v in fields.items() if v is not None})
