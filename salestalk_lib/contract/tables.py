"""The three table types and their six GSIs, declared once.

Everything else is derived from `TABLE_SPECS`: CreateTable requests, the drift
check in provisioning, the docs' table pages, the Terraform consistency test and
the IAM policies. This module knows nothing of boto3; it only builds plain dicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from salestalk_lib.contract import keys

AttrType = Literal["S", "N", "B"]


class TableKind(StrEnum):
    """Which of the three table types a table is."""

    REGISTRY = "registry"
    MESSAGES = "messages"
    METRICS = "metrics"


@dataclass(frozen=True)
class KeyAttribute:
    """A key attribute: its name and DynamoDB scalar type."""

    name: str
    type: AttrType

    def __post_init__(self) -> None:
        if self.type not in ("S", "N", "B"):
            raise ValueError(f"key attribute {self.name!r}: type must be S, N or B")


@dataclass(frozen=True)
class IndexSpec:
    """A global secondary index (always projection ALL, on-demand)."""

    name: str
    hash_key: KeyAttribute
    range_key: KeyAttribute | None = None
    purpose: str = ""

    @property
    def key_attributes(self) -> tuple[KeyAttribute, ...]:
        return (self.hash_key,) if self.range_key is None else (self.hash_key, self.range_key)

    def key_schema(self) -> list[dict[str, str]]:
        schema = [{"AttributeName": self.hash_key.name, "KeyType": "HASH"}]
        if self.range_key is not None:
            schema.append({"AttributeName": self.range_key.name, "KeyType": "RANGE"})
        return schema


@dataclass(frozen=True)
class TableSpec:
    """One table type: keys, indexes, TTL attribute and what it is for."""

    kind: TableKind
    purpose: str
    hash_key: KeyAttribute
    range_key: KeyAttribute | None = None
    indexes: tuple[IndexSpec, ...] = ()
    ttl_attribute: str | None = None
    per_tenant: bool = True
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        # Reject a malformed spec at import time, as PynamoDB does for models.
        names = [i.name for i in self.indexes]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.kind}: duplicate index names {names}")
        types: dict[str, str] = {}
        for attr in self.key_attributes + tuple(a for i in self.indexes for a in i.key_attributes):
            if types.setdefault(attr.name, attr.type) != attr.type:
                raise ValueError(f"{self.kind}: attribute {attr.name!r} declared with two types")

    @property
    def key_attributes(self) -> tuple[KeyAttribute, ...]:
        return (self.hash_key,) if self.range_key is None else (self.hash_key, self.range_key)

    def key_attributes_all(self) -> tuple[KeyAttribute, ...]:
        """Table and index key attributes, each once, in declaration order."""
        seen: dict[str, KeyAttribute] = {}
        for attr in self.key_attributes + tuple(a for i in self.indexes for a in i.key_attributes):
            seen.setdefault(attr.name, attr)
        return tuple(seen.values())

    def key_schema(self) -> list[dict[str, str]]:
        schema = [{"AttributeName": self.hash_key.name, "KeyType": "HASH"}]
        if self.range_key is not None:
            schema.append({"AttributeName": self.range_key.name, "KeyType": "RANGE"})
        return schema

    def attribute_definitions(self) -> list[dict[str, str]]:
        return [{"AttributeName": a.name, "AttributeType": a.type} for a in self.key_attributes_all()]

    def index(self, name: str) -> IndexSpec:
        for idx in self.indexes:
            if idx.name == name:
                return idx
        raise KeyError(f"{self.kind} table has no index {name!r}")

    def base_name(self, tenant_id: str | None = None) -> str:
        """The table name without deployment prefix (tenant id validated first)."""
        if self.kind is TableKind.REGISTRY:
            return keys.REGISTRY_TABLE_BASE
        if tenant_id is None:
            raise ValueError(f"a {self.kind} table belongs to a tenant: pass tenant_id")
        if self.kind is TableKind.MESSAGES:
            return keys.messages_table_base(tenant_id)
        return keys.metrics_table_base(tenant_id)


def _S(name: str) -> KeyAttribute:
    return KeyAttribute(name, "S")


def _N(name: str) -> KeyAttribute:
    return KeyAttribute(name, "N")


REGISTRY = TableSpec(
    kind=TableKind.REGISTRY,
    purpose="tenant-registry",
    per_tenant=False,
    hash_key=_S("tenantId"),
    indexes=(
        IndexSpec("OwnerEmailIndex", _S("ownerEmail"), purpose="tenants of an owner email"),
        IndexSpec("StatusIndex", _S("status"), purpose="tenants by lifecycle status"),
    ),
    notes=("One global table; one item per tenant.",),
)

MESSAGES = TableSpec(
    kind=TableKind.MESSAGES,
    purpose="conversation-messages",
    hash_key=_S("pk"),
    range_key=_S("sk"),
    indexes=(
        IndexSpec("SessionIndex", _S("sessionId"), _N("timestamp"), purpose="a session's messages in time order"),
        IndexSpec("SenderIndex", _S("sender"), _N("timestamp"), purpose="messages by sender over time"),
    ),
    ttl_attribute="ttl",
    notes=(
        "Messages: pk=MSG#{messageId}, sk=ISO-8601 time.",
        "Session rollups: pk=SESSION#{sessionId}, sk=METADATA, no `timestamp`/`sender`, "
        "so they stay out of both indexes (sparse).",
        "TTL on `ttl` is available but off by default.",
    ),
)

METRICS = TableSpec(
    kind=TableKind.METRICS,
    purpose="business-metrics",
    hash_key=_S("pk"),
    range_key=_S("sk"),
    indexes=(
        IndexSpec("MetricTypeIndex", _S("metricType"), _N("timestamp"), purpose="one metric type over time"),
        IndexSpec("DimensionIndex", _S("dimensionKey"), _N("timestamp"), purpose="one dimension slice over time"),
    ),
    notes=(
        "pk=METRIC#{subject}; headline sk=period; slice sk={period}#{dimName}:{dimValue}.",
        "Only slices carry `dimensionKey`, so DimensionIndex is sparse.",
    ),
)

TABLE_SPECS: dict[TableKind, TableSpec] = {s.kind: s for s in (REGISTRY, MESSAGES, METRICS)}
TENANT_TABLE_SPECS: tuple[TableSpec, ...] = (MESSAGES, METRICS)


def tags_for(
    spec: TableSpec, *, environment: str, tenant_id: str | None = None, managed_by: str = "salestalk-lib"
) -> dict[str, str]:
    """The contract's tags: Service, ManagedBy, Environment, Purpose, and TenantId on tenant tables."""
    tags = {"Service": "salestalk", "ManagedBy": managed_by, "Environment": environment, "Purpose": spec.purpose}
    if spec.per_tenant:
        if tenant_id is None:
            raise ValueError(f"{spec.kind} table tags need a tenant_id")
        tags["TenantId"] = keys.validate_tenant_id(tenant_id)
    return tags


def create_table_request(
    spec: TableSpec, table_name: str, tags: dict[str, str] | None = None, *, sse: bool = True
) -> dict[str, Any]:
    """The CreateTable request for `spec` under `table_name` (on-demand, SSE, projection ALL)."""
    request: dict[str, Any] = {
        "TableName": table_name,
        "KeySchema": spec.key_schema(),
        "AttributeDefinitions": spec.attribute_definitions(),
        "BillingMode": "PAY_PER_REQUEST",
    }
    if spec.indexes:
        request["GlobalSecondaryIndexes"] = [
            {"IndexName": i.name, "KeySchema": i.key_schema(), "Projection": {"ProjectionType": "ALL"}}
            for i in spec.indexes
        ]
    if sse:
        request["SSESpecification"] = {"Enabled": True}
    if tags:
        request["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
    return request


def describe_differences(spec: TableSpec, description: dict[str, Any]) -> list[str]:
    """Every way a DescribeTable `Table` dict differs from `spec` in keys, attribute types or GSIs."""
    diffs: list[str] = []
    want_keys = {(k["AttributeName"], k["KeyType"]) for k in spec.key_schema()}
    have_keys = {(k["AttributeName"], k["KeyType"]) for k in description.get("KeySchema", [])}
    if want_keys != have_keys:
        diffs.append(f"key schema is {_fmt_keys(have_keys)}, spec says {_fmt_keys(want_keys)}")

    have_types = {a["AttributeName"]: a["AttributeType"] for a in description.get("AttributeDefinitions", [])}
    for attr in spec.key_attributes_all():
        got = have_types.get(attr.name)
        if got is not None and got != attr.type:
            diffs.append(f"attribute {attr.name!r} has type {got}, spec says {attr.type}")

    have_idx = {g["IndexName"]: g for g in description.get("GlobalSecondaryIndexes", []) or []}
    want_idx = {i.name: i for i in spec.indexes}
    for name in sorted(set(want_idx) - set(have_idx)):
        diffs.append(f"GSI {name} is missing")
    for name in sorted(set(have_idx) - set(want_idx)):
        diffs.append(f"GSI {name} is not in the spec")
    for name in sorted(set(want_idx) & set(have_idx)):
        want = {(k["AttributeName"], k["KeyType"]) for k in want_idx[name].key_schema()}
        have = {(k["AttributeName"], k["KeyType"]) for k in have_idx[name].get("KeySchema", [])}
        if want != have:
            diffs.append(f"GSI {name} keys are {_fmt_keys(have)}, spec says {_fmt_keys(want)}")
        projection = have_idx[name].get("Projection", {}).get("ProjectionType")
        if projection != "ALL":
            diffs.append(f"GSI {name} projects {projection}, spec says ALL")
    return diffs


def _fmt_keys(pairs: set[tuple[str, str]]) -> str:
    order = {"HASH": 0, "RANGE": 1}
    return "(" + ", ".join(f"{n} {t}" for n, t in sorted(pairs, key=lambda p: order.get(p[1], 9))) + ")"
