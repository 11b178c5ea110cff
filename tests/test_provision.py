"""Provisioning against the embedded server over HTTP: create, idempotence, settings, drift."""

from __future__ import annotations

import pytest

from salestalk_lib.contract import tables
from salestalk_lib.contract.errors import InvalidTenantId, SchemaDrift
from salestalk_lib.contract.tables import MESSAGES, METRICS, REGISTRY, TableKind
from salestalk_lib.ops.provision import UNSUPPORTED, check_table, provision_table

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
        # Each setting is applied, or reported as unsupported on this engine (DynamoDB Local has no
        # PITR or tagging API), never silently assumed.
        settings = st.tables(with_settings=True)
        row = next(t for t in settings if t["table"] == r.table)
        if row["pitr"] == "on":
            assert st.storage.pitr_enabled(r.table)
        else:
            assert row["pitr"].startswith(UNSUPPORTED)
            assert any(u.startswith(f"point-in-time recovery: {UNSUPPORTED}") for u in r.unsupported), r.unsupported
        if row["tags"] == "as specified":
            tags = st.storage.tags(desc["TableArn"])
            assert tags["Service"] == "salestalk" and tags["Environment"] == "test"
            assert tags.get("TenantId") == r.tenant_id
        else:
            assert row["tags"].startswith(UNSUPPORTED)
            assert any(u.startswith(f"tags: {UNSUPPORTED}") for u in r.unsupported), r.unsupported


def test_provisioning_again_changes_nothing(st):
    st.provision(TENANTS)
    again = st.provision(TENANTS)
    assert {r.action for r in again} == {"unchanged"}
    assert all(r.changes == () for r in again)


def test_ttl_is_off_by_default_and_enabled_on_request(st):
    st.provision(["acme-corp-001"])
    name = st.settings.table_name(MESSAGES, "acme-corp-001")
    assert st.storage.ttl_status(name)[0] == "DISABLED"
    from salestalk_lib.ops.provision import provision_tenant

    results = provision_tenant(st.storage, st.settings, "acme-corp-001", ttl_enabled=True)
    msg = next(r for r in results if r.kind is TableKind.MESSAGES)
    assert msg.action == "updated" and "TTL on 'ttl' enabled" in msg.changes
    assert st.storage.ttl_status(name) == ("ENABLED", "ttl")


def test_drift_is_an_error_naming_each_difference(st):
    name = st.settings.table_name(METRICS, "acme-corp-001")
    wrong = tables.create_table_request(METRICS, name)
    wrong["AttributeDefinitions"] = [
        {**d, "AttributeType": "S"} if d["AttributeName"] == "timestamp" else d
        for d in wrong["AttributeDefinitions"]
        if d["AttributeName"] != "dimensionKey"
    ]
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
    from salestalk_lib.contract.settings import Settings
    from salestalk_lib.ops.connection import connect

    a = connect(settings=Settings(table_prefix="pa-"), endpoint=endpoint)
    b = connect(settings=Settings(table_prefix="pb-"), endpoint=endpoint)
    a.provision(["acme-corp-001"])
    assert b.tables() == []
    assert {r["table"] for r in a.tables()} == {
        "pa-tenants-metadata",
        "pa-tenant-acme-corp-001-messages",
        "pa-tenant-acme-corp-001-metrics",
    }


def test_tables_overview_flags_a_drifted_table(st):
    st.provision([])
    name = st.settings.table_name(REGISTRY)
    assert [r["matches_spec"] for r in st.tables() if r["table"] == name] == [True]
    bad = st.settings.table_name(MESSAGES, "zeta-co")
    req = tables.create_table_request(MESSAGES, bad)
    del req["GlobalSecondaryIndexes"]
    req["AttributeDefinitions"] = [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
    ]
    st.storage.create_table(req)
    rows = {r["table"]: r for r in st.tables()}
    assert rows[bad]["matches_spec"] is False
    with pytest.raises(SchemaDrift, match="GSI SenderIndex is missing"):
        provision_table(st.storage, MESSAGES, bad, tables.tags_for(MESSAGES, environment="test", tenant_id="zeta-co"))


def _without_api(*operations: str):
    """A storage hook answering `operations` as an engine without that API does (DynamoDB Local: PITR, tags)."""
    from salestalk_lib.contract.errors import RequestRejected

    def hook(operation, params):
        if operation in operations:
            raise RequestRejected(
                f"{operation} failed: UnknownOperationException: An unknown operation was requested.",
                code="UnknownOperationException",
                operation=operation,
            )

    return hook


def test_a_setting_the_engine_has_no_api_for_is_reported_unsupported_not_assumed(st):
    st.storage.hooks.append(
        _without_api("DescribeContinuousBackups", "UpdateContinuousBackups", "ListTagsOfResource", "TagResource")
    )
    results = st.provision(["acme-corp-001"])
    for r in results:
        assert r.unsupported == (
            f"tags: {UNSUPPORTED} (UnknownOperationException)",
            f"point-in-time recovery: {UNSUPPORTED} (UnknownOperationException)",
        )
        assert not any("point-in-time" in c for c in r.changes)
    rows = st.tables(with_settings=True)
    assert {(r["pitr"], r["tags"]) for r in rows} == {(f"{UNSUPPORTED} (UnknownOperationException)",) * 2}


def test_another_refusal_is_reported_as_rejected_not_as_unsupported(st):
    from salestalk_lib.contract.errors import RequestRejected

    def deny(operation, params):
        if operation == "UpdateContinuousBackups":
            raise RequestRejected("denied", code="AccessDeniedException", operation=operation)

    st.storage.hooks.append(deny)
    registry = st.provision([])[0]
    pitr = [u for u in registry.unsupported if u.startswith("point-in-time")]
    if st.tables(with_settings=True)[0]["pitr"].startswith(UNSUPPORTED):  # the engine has no PITR at all
        assert pitr == [f"point-in-time recovery: {UNSUPPORTED} (UnknownOperationException)"]
    else:
        assert pitr == ["point-in-time recovery: rejected (AccessDeniedException)"]


def test_tables_shows_each_tables_settings_as_the_engine_reports_them(st):
    st.provision(["acme-corp-001"])
    rows = {r["table"]: r for r in st.tables(with_settings=True)}
    messages = rows[st.settings.table_name(MESSAGES, "acme-corp-001")]
    assert messages["ttl"] == "disabled"
    assert rows[st.settings.registry_table]["ttl"] == "–"  # the registry has no TTL attribute
    for row in rows.values():
        assert row["pitr"] == "on" or row["pitr"].startswith(UNSUPPORTED)
        assert row["tags"] == "as specified" or row["tags"].startswith(UNSUPPORTED)


def test_a_table_still_being_deleted_is_waited_for_and_created_again_not_read_as_drift(st):
    from salestalk_lib.dynamo.storage import Storage

    st.provision([])
    name = st.settings.registry_table

    class StillDeleting(Storage):
        """DynamoDB right after DeleteTable: the table is listed, status DELETING, for a while."""

        reports = 3

        def describe_table(self, table):
            desc = super().describe_table(table)
            if table == name and desc is None and self.reports:
                self.reports -= 1
                return {"TableName": table, "TableStatus": "DELETING", "KeySchema": [], "AttributeDefinitions": []}
            return desc

    st.storage.delete_table(name)
    storage = StillDeleting(st.endpoint.client())
    result = provision_table(storage, REGISTRY, name, tables.tags_for(REGISTRY, environment="test"))
    assert result.action == "created" and storage.reports == 0
    assert st.storage.describe_table(name)["TableStatus"] == "ACTIVE"
