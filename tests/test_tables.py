"""Unit tests of the table specs and the requests derived from them (no network)."""

from __future__ import annotations

import pytest

from salestalk_lib.contract import tables
from salestalk_lib.contract.errors import InvalidTenantId
from salestalk_lib.contract.settings import Settings
from salestalk_lib.contract.tables import (
    MESSAGES,
    METRICS,
    REGISTRY,
    TABLE_SPECS,
    IndexSpec,
    KeyAttribute,
    TableKind,
    TableSpec,
)


def test_three_table_types_with_six_gsis_as_the_contract_says():
    assert set(TABLE_SPECS) == {TableKind.REGISTRY, TableKind.MESSAGES, TableKind.METRICS}
    gsis = {(s.kind, i.name, i.hash_key, i.range_key) for s in TABLE_SPECS.values() for i in s.indexes}
    S, N = (lambda n: KeyAttribute(n, "S")), (lambda n: KeyAttribute(n, "N"))
    assert gsis == {
        (TableKind.REGISTRY, "OwnerEmailIndex", S("ownerEmail"), None),
        (TableKind.REGISTRY, "StatusIndex", S("status"), None),
        (TableKind.MESSAGES, "SessionIndex", S("sessionId"), N("timestamp")),
        (TableKind.MESSAGES, "SenderIndex", S("sender"), N("timestamp")),
        (TableKind.METRICS, "MetricTypeIndex", S("metricType"), N("timestamp")),
        (TableKind.METRICS, "DimensionIndex", S("dimensionKey"), N("timestamp")),
    }
    assert REGISTRY.key_attributes == (S("tenantId"),)
    assert MESSAGES.key_attributes == METRICS.key_attributes == (S("pk"), S("sk"))


def test_create_table_request_is_on_demand_encrypted_projection_all_and_tagged():
    tags = tables.tags_for(METRICS, environment="dev", tenant_id="acme-corp-001")
    req = tables.create_table_request(METRICS, "tenant-acme-corp-001-metrics", tags)
    assert req["BillingMode"] == "PAY_PER_REQUEST"
    assert req["SSESpecification"] == {"Enabled": True}
    assert [g["Projection"] for g in req["GlobalSecondaryIndexes"]] == [{"ProjectionType": "ALL"}] * 2
    assert "ProvisionedThroughput" not in str(req)
    assert {t["Key"]: t["Value"] for t in req["Tags"]} == {
        "Service": "salestalk",
        "ManagedBy": "salestalk-lib",
        "Environment": "dev",
        "Purpose": "business-metrics",
        "TenantId": "acme-corp-001",
    }
    # every key attribute defined exactly once, with its type
    defs = {d["AttributeName"]: d["AttributeType"] for d in req["AttributeDefinitions"]}
    assert defs == {"pk": "S", "sk": "S", "metricType": "S", "dimensionKey": "S", "timestamp": "N"}
    assert len(req["AttributeDefinitions"]) == len(defs)


def test_registry_tags_carry_no_tenant_and_tenant_tables_require_one():
    assert "TenantId" not in tables.tags_for(REGISTRY, environment="local")
    with pytest.raises(ValueError):
        tables.tags_for(MESSAGES, environment="local")


def test_table_names_derive_from_validated_tenant_id_and_prefix():
    s = Settings(table_prefix="ci-42-")
    assert s.table_name(TableKind.MESSAGES, "acme-corp-001") == "ci-42-tenant-acme-corp-001-messages"
    assert s.table_name(METRICS, "acme-corp-001") == "ci-42-tenant-acme-corp-001-metrics"
    assert s.registry_table == "ci-42-tenants-metadata"
    for hostile in ["ACME", "acme corp", "../etc", "a/b", "-acme", "acme-", "é", "a" * 65, ""]:
        with pytest.raises(InvalidTenantId):
            s.table_name(TableKind.MESSAGES, hostile)


def test_spec_with_one_attribute_under_two_types_is_rejected_at_declaration():
    with pytest.raises(ValueError, match="two types"):
        TableSpec(
            kind=TableKind.METRICS,
            purpose="x",
            hash_key=KeyAttribute("pk", "S"),
            indexes=(IndexSpec("Bad", KeyAttribute("pk", "N")),),
        )


def _description(spec: TableSpec) -> dict:
    req = tables.create_table_request(spec, "x")
    return {
        "KeySchema": req["KeySchema"],
        "AttributeDefinitions": req["AttributeDefinitions"],
        "GlobalSecondaryIndexes": req.get("GlobalSecondaryIndexes", []),
    }


@pytest.mark.parametrize("spec", list(TABLE_SPECS.values()), ids=lambda s: str(s.kind))
def test_a_table_built_from_its_spec_has_no_differences(spec):
    assert tables.describe_differences(spec, _description(spec)) == []


def test_differences_name_wrong_type_missing_extra_and_rekeyed_gsis():
    desc = _description(MESSAGES)
    desc["AttributeDefinitions"] = [
        {**d, "AttributeType": "S"} if d["AttributeName"] == "timestamp" else d for d in desc["AttributeDefinitions"]
    ]
    desc["GlobalSecondaryIndexes"] = [g for g in desc["GlobalSecondaryIndexes"] if g["IndexName"] != "SenderIndex"]
    desc["GlobalSecondaryIndexes"].append(
        {
            "IndexName": "Rogue",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
        }
    )
    desc["GlobalSecondaryIndexes"][0]["KeySchema"] = [{"AttributeName": "sessionId", "KeyType": "HASH"}]
    desc["GlobalSecondaryIndexes"][0]["Projection"] = {"ProjectionType": "KEYS_ONLY"}
    diffs = tables.describe_differences(MESSAGES, desc)
    text = "\n".join(diffs)
    assert "attribute 'timestamp' has type S, spec says N" in text
    assert "GSI SenderIndex is missing" in text
    assert "GSI Rogue is not in the spec" in text
    assert "GSI SessionIndex keys are (sessionId HASH), spec says (sessionId HASH, timestamp RANGE)" in text
    assert "GSI SessionIndex projects KEYS_ONLY, spec says ALL" in text
    assert len(diffs) == 5


def test_differences_name_a_wrong_table_key_schema():
    desc = _description(METRICS)
    desc["KeySchema"] = [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert tables.describe_differences(METRICS, desc) == ["key schema is (pk HASH), spec says (pk HASH, sk RANGE)"]
