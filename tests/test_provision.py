"""Provisioning against the embedded server over HTTP: create, idempotence, settings, drift."""

from __future__ import annotations

import pytest

from salestalk_lib import tables
from salestalk_lib.errors import InvalidTenantId, SchemaDrift
from salestalk_lib.provision import check_table, provision_table
from salestalk_lib.tables import MESSAGES, METRICS, REGISTRY, TableKind

TENANTS = ["acme-corp-001", "techstart-inc-002"]


def test_provision_creates_registry_and_each_tenants_two_tables(st):
    results = st.provision(TENANTS)
    assert [(r.table, r.action) for r in results] == [
        (st.settings.registry_table, "created"),
        *[(st.settings.table_name(spec, t), "created") for t in TENANTS for spec in (MESSAGES, METRICS)],
    ]
    for r in results:
        spec = tables.TABLE_SPECS[r.kind]
        assert check_table(st.storage, spec, r.table) == []
        desc = st.storage.describe_table(r.table)
        assert desc["TableStatus"] == "ACTIVE"
        assert desc["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert st.storage.pitr_enabled(r.table)
        tags = st.storage.tags(desc["TableArn"])
        assert tags["Service"] == "salestalk" and tags["Environment"] == "test"
        assert tags.get("TenantId") == r.tenant_id


def test_provisioning_again_changes_nothing(st):
    st.provision(TENANTS)
    again = st.provision(TENANTS)
    assert {r.action for r in again} == {"unchanged"}
    assert all(r.changes == () for r in again)


def test_ttl_is_off_by_default_and_enabled_on_request(st):
    st.provision(["acme-corp-001"])
    name = st.settings.table_name(MESSAGES, "acme-corp-001")
    assert st.storage.ttl_status(name)[0] == "DISABLED"
    from salestalk_lib.provision import provision_tenant
    results = provision_tenant(st.storage, st.settings, "acme-corp-001", ttl_enabled=True)
    msg = next(r for r in results if r.kind is TableKind.MESSAGES)
    assert msg.action == "updated" and "TTL on 'ttl' enabled" in msg.changes
    assert st.storage.ttl_status(name) == ("ENABLED", "ttl")


def test_drift_is_an_error_naming_each_difference(st):
    name = st.settings.table_name(METRICS, "acme-corp-001")
    wrong = tables.create_table_request(METRICS, name)
    wrong["AttributeDefinitions"] = [{**d, "AttributeType": "S"} if d["AttributeName"] == "timestamp" else d
                                     for d in wrong["AttributeDefinitions"] if d["AttributeName"] != "dimensionKey"]
    wrong["GlobalSecondaryIndexes"] = wrong["GlobalSecondaryIndexes"][:1]
    st.storage.create_table(wrong)
    with pytest.raises(SchemaDrift) as info:
        st.provision(["acme-corp-001"])
    assert info.value.table == name
    assert info.value.differences == [
        "attribute 'timestamp' has type S, spec says N",
        "GSI DimensionIndex is missing",
    ]
    assert "Fix or delete the table" in str(info.value)


def test_hostile_tenant_id_is_refused_before_any_table_is_created(st):
    with pytest.raises(InvalidTenantId):
        st.provision(["acme-corp-001", "../../etc"])
    assert st.storage.list_tables(st.settings.table_prefix) == []


def test_prefixes_keep_parallel_runs_apart(endpoint):
    from salestalk_lib.connection import connect
    from salestalk_lib.settings import Settings
    a = connect(settings=Settings(table_prefix="pa-"), endpoint=endpoint)
    b = connect(settings=Settings(table_prefix="pb-"), endpoint=endpoint)
    a.provision(["acme-corp-001"])
    assert b.tables() == []
    assert {r["table"] for r in a.tables()} == {"pa-tenants-metadata", "pa-tenant-acme-corp-001-messages",
                                                 "pa-tenant-acme-corp-001-metrics"}


def test_tables_overview_flags_a_drifted_table(st):
    st.provision([])
    name = st.settings.table_name(REGISTRY)
    assert [r["matches_spec"] for r in st.tables() if r["table"] == name] == [True]
    bad = st.settings.table_name(MESSAGES, "zeta-co")
    req = tables.create_table_request(MESSAGES, bad)
    del req["GlobalSecondaryIndexes"]
    req["AttributeDefinitions"] = [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}]
    st.storage.create_table(req)
    rows = {r["table"]: r for r in st.tables()}
    assert rows[bad]["matches_spec"] is False
    with pytest.raises(SchemaDrift, match="GSI SenderIndex is missing"):
        provision_table(st.storage, MESSAGES, bad, tables.tags_for(MESSAGES, environment="test", tenant_id="zeta-co"))
