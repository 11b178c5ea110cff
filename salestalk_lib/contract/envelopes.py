"""The event envelopes the platform emits and consumes (`eventType` fixes the payload), with
their payload models; `event_json` is an envelope's wire form. Pure: no boto3.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Self

from pydantic import (
    ConfigDict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from salestalk_lib.contract import keys
from salestalk_lib.contract.fields import (
    _EVENT_TYPE_RE,
    Confidence,
    Count,
    IsoUtc,
    MessageText,
    MetricSubject,
    NonEmptyText,
    NonNegativeNumber,
    PeriodText,
    StrictText,
    TableName,
    TenantId,
    UUID4Str,
    UUIDStr,
    _json_like,
    _NestedErrors,
    _raise_nested,
    _rule,
    error_rule,
)
from salestalk_lib.contract.items import (
    Classification,
    ContractModel,
    DataReference,
    ItemModel,
)
from salestalk_lib.contract.vocab import (
    Plan,
)


class EventMetadata(ContractModel):
    """Envelope metadata: `correlationId` required; further keys allowed (free-form map)."""

    model_config = ConfigDict(extra="allow")

    correlation_id: NonEmptyText
    causation_id: NonEmptyText | None = None
    trace_id: NonEmptyText | None = None

    @model_validator(mode="after")
    def _extras_are_json(self) -> Self:
        """Keys beyond the named ones hold JSON-like values (no nulls, NaN or empty strings)."""
        errors: _NestedErrors = []
        _json_like(self.model_extra or {}, (), errors, 1)
        _raise_nested("EventMetadata", errors)
        return self


class ClassificationPerformed(ContractModel):
    """Payload of `classification.performed.v1`."""

    message_id: UUID4Str
    original_text: MessageText
    classification: Classification
    classifier_model: NonEmptyText
    processing_time_ms: NonNegativeNumber


class QualityMetrics(ContractModel):
    """How sure the narrative generator is of its text."""

    confidence_score: Confidence


class NarrativeGenerated(ContractModel):
    """Payload of `narrative.generated.v1`: the text and the references behind every figure in it."""

    narrative_id: UUID4Str
    message_id: UUID4Str | None = None
    text: MessageText
    data_references: tuple[DataReference, ...]
    quality_metrics: QualityMetrics


class IngestOutcomes(ContractModel):
    """How many records of a batch ended in each outcome.

    `written` counts records of a last-writer-wins bulk load (`--metric-mode
    batch`): written without a condition, so not proven new (they may have
    replaced what another writer stored). Absent in events of producers that
    predate it (it defaults to 0).
    """

    created: Count
    already_exists: Count
    conflicts: Count
    failed: Count
    written: Count = 0

    @property
    def total(self) -> int:
        return self.created + self.already_exists + self.conflicts + self.failed + self.written


class MetricsIngested(ContractModel):
    """Payload of `metrics.ingested.v1`: one ingested batch."""

    batch_id: NonEmptyText
    count: Count
    subjects: tuple[MetricSubject, ...]
    periods: tuple[PeriodText, ...]
    outcomes: IngestOutcomes

    @field_validator("subjects", "periods")
    @classmethod
    def _distinct(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        """`subjects` and `periods` repeat no value, and are not empty when `count` > 0."""
        if len(set(value)) != len(value):
            raise _rule("must not repeat a value")
        if not value and info.data.get("count"):
            raise _rule("must not be empty when count > 0")
        return value

    @field_validator("outcomes")
    @classmethod
    def _outcomes_add_up(cls, value: IngestOutcomes, info: ValidationInfo) -> IngestOutcomes:
        """`outcomes` add up to `count`."""
        count = info.data.get("count")
        if count is not None and value.total != count:
            raise _rule(f"must add up to count ({count}), got {value.total}")
        return value


class ProvisionedTables(ContractModel):
    """The physical table names created for a tenant (a deployment prefix may precede the base name)."""

    messages: TableName
    metrics: TableName


class TenantProvisioned(ContractModel):
    """Payload of `tenant.provisioned.v1`."""

    tenant_id: TenantId
    tables: ProvisionedTables
    plan: Plan

    @field_validator("tables")
    @classmethod
    def _tables_are_the_tenants(cls, value: ProvisionedTables, info: ValidationInfo) -> ProvisionedTables:
        """`tables` are the tenant's own (an optional deployment prefix, then the base name)."""
        tenant_id = info.data.get("tenant_id")
        if tenant_id is not None:
            errors = [
                ((kind,), f"must end with {base!r} (an optional deployment prefix, then the base name)", name)
                for kind, name, base in (
                    ("messages", value.messages, keys.messages_table_base(tenant_id)),
                    ("metrics", value.metrics, keys.metrics_table_base(tenant_id)),
                )
                if not name.endswith(base)
            ]
            _raise_nested("ProvisionedTables", errors)
        return value


class EventEnvelope(ItemModel):
    """Fields every event shares (contract §2.5); subclasses fix `eventType` and `data`."""

    event_id: UUIDStr
    event_type: StrictText
    event_version: Literal["1.0"]
    source: NonEmptyText
    timestamp: IsoUtc
    tenant_id: TenantId
    user_id: NonEmptyText | None = None
    session_id: UUID4Str | None = None
    metadata: EventMetadata

    @field_validator("event_type", mode="before")
    @classmethod
    def _event_type_grammar(cls, value: Any) -> Any:
        """`eventType` reads `{domain}.{action}.v{N}`."""
        if isinstance(value, str) and not _EVENT_TYPE_RE.fullmatch(value):
            raise _rule(f"must look like {{domain}}.{{action}}.v{{N}}, got {value!r}")
        return value

    @field_validator("data", mode="wrap", check_fields=False)
    @classmethod
    def _data_in_envelope_tenant(cls, value: Any, handler: Any, info: ValidationInfo) -> Any:
        """`data` stays in the envelope's tenant (its data references and tables are `tenantId`'s)."""
        # Wrap, not after: the tenant rules are reported even when the payload has other faults.
        raw = value.to_item() if isinstance(value, ContractModel) else value
        tenant_id = info.data.get("tenant_id")
        errors = cls._tenant_errors(raw, tenant_id) if isinstance(raw, Mapping) and tenant_id else []
        try:
            result = handler(value)
        except ValidationError as exc:
            errors = [(tuple(e["loc"]), error_rule(e), e.get("input")) for e in exc.errors()] + errors
            result = None
        _raise_nested(cls.__name__, list({(loc, msg): (loc, msg, v) for loc, msg, v in errors}.values()))
        return result

    @classmethod
    def _tenant_errors(cls, data: Mapping[str, Any], tenant_id: str) -> _NestedErrors:
        """(location in data, rule, value) for each way the payload leaves the envelope's tenant."""
        return []


class ClassificationPerformedEvent(EventEnvelope):
    """`classification.performed.v1`: a user message was classified."""

    event_type: Literal["classification.performed.v1"]
    data: ClassificationPerformed


class NarrativeGeneratedEvent(EventEnvelope):
    """`narrative.generated.v1`: an answer was written from metrics it cites."""

    event_type: Literal["narrative.generated.v1"]
    data: NarrativeGenerated

    @classmethod
    def _tenant_errors(cls, data: Mapping[str, Any], tenant_id: str) -> _NestedErrors:
        refs = data.get("dataReferences")
        want = keys.metrics_table_base(tenant_id)
        if not isinstance(refs, list):
            return []
        return [
            (("dataReferences", i, "source", "table"), f"must be this tenant's metrics table {want!r}", table)
            for i, ref in enumerate(refs)
            if isinstance(ref, Mapping)
            and isinstance(ref.get("source"), Mapping)
            and isinstance(table := ref["source"].get("table"), str)
            and table != want
        ]


class MetricsIngestedEvent(EventEnvelope):
    """`metrics.ingested.v1`: a batch of metrics was written."""

    event_type: Literal["metrics.ingested.v1"]
    data: MetricsIngested


class TenantProvisionedEvent(EventEnvelope):
    """`tenant.provisioned.v1`: a tenant's tables exist and are ACTIVE."""

    event_type: Literal["tenant.provisioned.v1"]
    data: TenantProvisioned

    @classmethod
    def _tenant_errors(cls, data: Mapping[str, Any], tenant_id: str) -> _NestedErrors:
        given = data.get("tenantId")
        if given is None or given == tenant_id:
            return []
        return [(("tenantId",), f"must equal the envelope's tenantId {tenant_id!r}", given)]


def event_json(event: EventEnvelope) -> str:
    """The envelope as compact JSON with the contract's names (absent optionals omitted)."""
    return event.model_dump_json(by_alias=True, exclude_none=True)
