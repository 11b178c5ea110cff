"""The model registries (`ITEM_MODELS`, `EVENT_MODELS`, `SCHEMA_MODELS`) and the published JSON Schemas
(`json_schema`, `schema_documents`). Pure: no boto3.
"""

from __future__ import annotations

import re
from typing import Any, get_args

from pydantic import (
    BaseModel,
)
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from salestalk_lib.contract.envelopes import (
    ClassificationPerformedEvent,
    EventEnvelope,
    EventMetadata,
    MetricsIngestedEvent,
    NarrativeGeneratedEvent,
    TenantProvisionedEvent,
)
from salestalk_lib.contract.fields import UNIX_SECONDS
from salestalk_lib.contract.items import (
    BatchOutcomes,
    Classification,
    ClassificationComponents,
    ContractModel,
    DataReference,
    DataSource,
    Filter,
    IngestBatch,
    Message,
    MessageIdentity,
    Metric,
    ProcessedEvent,
    SessionRollup,
    Tenant,
    TimeRange,
)

EVENT_MODELS: dict[str, type[EventEnvelope]] = {
    get_args(m.model_fields["event_type"].annotation)[0]: m
    for m in (ClassificationPerformedEvent, NarrativeGeneratedEvent, MetricsIngestedEvent, TenantProvisionedEvent)
}
"""Event class by `eventType`."""

ITEM_MODELS: tuple[type[ContractModel], ...] = (
    Tenant,
    Message,
    MessageIdentity,
    SessionRollup,
    IngestBatch,
    ProcessedEvent,
    Metric,
)
SCHEMA_MODELS: tuple[type[ContractModel], ...] = (
    Tenant,
    Message,
    Classification,
    TimeRange,
    Filter,
    ClassificationComponents,
    MessageIdentity,
    SessionRollup,
    IngestBatch,
    BatchOutcomes,
    ProcessedEvent,
    Metric,
    DataReference,
    DataSource,
    EventMetadata,
    *EVENT_MODELS.values(),
)
"""The models `salestalk schema` writes a JSON Schema for."""


class ContractJsonSchema(GenerateJsonSchema):
    """JSON Schema as the contract reads: numbers are numbers, optional means absent (never null)."""

    def decimal_schema(self, schema: core_schema.DecimalSchema) -> JsonSchemaValue:
        json_schema: JsonSchemaValue = {"type": "number"}
        self.update_with_validations(json_schema, schema, self.ValidationsMapping.numeric)
        return json_schema

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False  # the property name is the title; pydantic would title-case the Python name

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def generate(self, schema: core_schema.CoreSchema, mode: Any = "validation") -> JsonSchemaValue:
        generated: JsonSchemaValue = _standard_bounds(super().generate(schema, mode=mode))
        return generated

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        if schema.get("default", ...) is None:
            return self.generate_inner(schema["schema"])
        return super().default_schema(schema)


_BOUND_KEYWORDS = {"gt": "exclusiveMinimum", "ge": "minimum", "lt": "exclusiveMaximum", "le": "maximum"}


def _standard_bounds(node: Any) -> Any:
    # Bounds on an annotated Decimal or validated int come out under pydantic's names (gt, le); JSON Schema has its own.
    if isinstance(node, dict):
        return {
            (_BOUND_KEYWORDS.get(k, k) if node.get("type") in ("number", "integer") else k): _standard_bounds(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_standard_bounds(v) for v in node]
    return node


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema of a contract model (validation mode, contract names)."""
    return model.model_json_schema(by_alias=True, schema_generator=ContractJsonSchema)


def schema_file_name(model: type[BaseModel]) -> str:
    """`ClassificationPerformedEvent` → `classification-performed-event.schema.json`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", model.__name__).lower() + ".schema.json"


def schema_documents() -> dict[str, dict[str, Any]]:
    """One JSON Schema document per contract model, keyed by file name."""
    docs = {}
    for model in SCHEMA_MODELS:
        doc = {"$schema": "https://json-schema.org/draft/2020-12/schema", **json_schema(model)}
        docs[schema_file_name(model)] = doc
    return docs


def _is_unix_seconds(annotation: Any, metadata: list[Any]) -> bool:
    """True when a field's type (`UnixSeconds`, or `UnixSeconds | None`) carries the `UNIX_SECONDS` mark."""
    if any(m is UNIX_SECONDS for m in metadata):
        return True
    return any(_is_unix_seconds(arg, list(getattr(arg, "__metadata__", ()))) for arg in get_args(annotation))


def unix_seconds_attributes(models: tuple[type[ContractModel], ...] = ITEM_MODELS) -> frozenset[str]:
    """The attribute names (camelCase) of every item model's unix-seconds field: `createdAt`, `timestamp`, `ttl`, ...

    Read off the models (fields typed `UnixSeconds`), so a new time attribute is printed as a time
    (`contract.times.format_instant`) without being listed anywhere by hand.
    """
    return frozenset(
        info.alias or name
        for model in models
        for name, info in model.model_fields.items()
        if _is_unix_seconds(info.annotation, info.metadata)
    )
