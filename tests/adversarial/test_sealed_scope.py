"""The tenant scope is sealed (contract §7; issue 10, item 5).

Through `st.tenant(id).storage` a tenant reads its registry item and never writes it,
reaches no table setting, and no public attribute chain leads to the boto3 client or
to an unscoped Storage. The check sits at the storage seam: the scope is a plain
`Storage` restricted by a `TenantPolicy`, consulted in its one request path.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest
from botocore.client import BaseClient

from salestalk_lib.contract.errors import IsolationViolation
from salestalk_lib.dynamo.scope import TenantPolicy, TenantScope
from salestalk_lib.dynamo.storage import Storage
from salestalk_lib.ops.tenants import FixedClock, Tenants

ACME, GLOBEX = "acme-corp-001", "globex-003"
KEY = {"pk": "METRIC#revenue", "sk": "2025-Q3"}


@pytest.fixture
def two(st):
    tenants = Tenants.of(st, clock=FixedClock(1762682400))
    tenants.onboard(ACME, name="ACME", owner_email="ops@acme.example")
    tenants.onboard(GLOBEX, name="Globex", owner_email="ops@globex.example")
    return st, tenants


def _sent(scope: TenantScope) -> list[str]:
    sent: list[str] = []
    scope.storage.hooks.append(lambda op, params: sent.append(op))
    return sent


def _registry_tampering(scope: TenantScope, other_table: str) -> dict[str, Any]:
    reg, own = scope.registry_table, {"tenantId": scope.tenant_id}
    s = scope.storage
    return {
        "UpdateItem status": lambda: s.update_item(
            reg, own, update="SET #s = :s", names={"#s": "status"}, values={":s": "suspended"}
        ),
        "UpdateItem plan": lambda: s.update_item(
            reg, own, update="SET #p = :p", names={"#p": "plan"}, values={":p": "enterprise"}
        ),
        "PutItem pointing messagesTableName at another tenant": lambda: s.put_item(
            reg, {**scope.registry_item(), "messagesTableName": other_table}
        ),
        "DeleteItem": lambda: s.delete_item(reg, own),
        "BatchWriteItem": lambda: s.batch_write(reg, [{**own, "status": "active"}]),
        "TransactWriteItems Update": lambda: s.transact_write(
            [
                {
                    "Update": {
                        "TableName": reg,
                        "Key": own,
                        "UpdateExpression": "SET #s = :s",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": {":s": "deleted"},
                    }
                }
            ]
        ),
        "TransactWriteItems Put": lambda: s.transact_write([{"Put": {"TableName": reg, "Item": {**own}}}]),
        "Query on its own tenantId": lambda: s.query(
            reg, key_condition="tenantId = :t", values={":t": scope.tenant_id}
        ),
    }


def _table_settings(scope: TenantScope) -> dict[str, Any]:
    s, m = scope.storage, scope.messages_table
    arn = f"arn:aws:dynamodb:us-east-1:123456789012:table/{m}"
    return {
        "UpdateTimeToLive on": lambda: s.set_ttl(m, "timestamp", True),
        "UpdateTimeToLive off": lambda: s.set_ttl(m, "ttl", False),
        "UpdateContinuousBackups": lambda: s.enable_pitr(m),
        "DescribeContinuousBackups": lambda: s.pitr_enabled(m),
        "DescribeTimeToLive": lambda: s.ttl_status(m),
        "DescribeTable": lambda: s.describe_table(m),
        "TagResource": lambda: s.tag(arn, {"TenantId": "someone-else"}, table=m),
        "ListTagsOfResource": lambda: s.tags(arn, table=m),
        "DeleteTable": lambda: s.delete_table(m),
        "ListTables": lambda: s.list_tables(),
        "Scan": lambda: s.scan(m),
        **{
            op: (lambda op=op: s._call(op, m, TableName=m))
            for op in (
                "UpdateTable",
                "CreateBackup",
                "DeleteBackup",
                "RestoreTableFromBackup",
                "RestoreTableToPointInTime",
                "ExportTableToPointInTime",
                "PutResourcePolicy",
                "DeleteResourcePolicy",
                "GetResourcePolicy",
                "UntagResource",
                "UpdateContributorInsights",
                "EnableKinesisStreamingDestination",
                "ImportTable",
                "ExecuteStatement",
                "BatchExecuteStatement",
                "ExecuteTransaction",
                "DescribeLimits",
            )
        },
    }


def test_a_scope_reads_its_registry_item_and_can_never_write_it(two):
    st, tenants = two
    acme = st.tenant(ACME)
    before = acme.registry_item()
    sent = _sent(acme)
    for call in _registry_tampering(acme, st.tenant(GLOBEX).messages_table).values():
        with pytest.raises(IsolationViolation):
            call()
    assert sent == ["GetItem"]  # only the read the PutItem attempt made to build its item
    assert acme.registry_item() == before
    # `tenant list` still works for everyone: nothing in the registry was changed.
    assert [(t.tenant_id, t.status.value) for t in tenants.list()] == [(ACME, "active"), (GLOBEX, "active")]


def test_no_table_setting_is_reachable_through_a_scope(two):
    st, _ = two
    acme = st.tenant(ACME)
    sent = _sent(acme)
    for call in _table_settings(acme).values():
        with pytest.raises(IsolationViolation):
            call()
    assert sent == []
    assert st.storage.ttl_status(acme.messages_table)[0] == "DISABLED"


def test_data_reads_and_writes_of_its_own_tables_still_work(two):
    st, _ = two
    acme = st.tenant(ACME)
    s = acme.storage
    s.put_item(acme.metrics_table, {**KEY, "value": 1}, condition="attribute_not_exists(pk)")
    assert (
        s.update_item(acme.metrics_table, KEY, update="SET #v = :v", names={"#v": "value"}, values={":v": 2})["value"]
        == 2
    )
    assert s.batch_write(acme.messages_table, [{"pk": "x", "sk": "y"}]) == []
    s.transact_write(
        [
            {"Put": {"TableName": acme.messages_table, "Item": {"pk": "x", "sk": "z"}}},
            {
                "ConditionCheck": {
                    "TableName": acme.messages_table,
                    "Key": {"pk": "x", "sk": "y"},
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
        ]
    )
    found, _ = s.batch_get(acme.messages_table, [{"pk": "x", "sk": "y"}, {"pk": "x", "sk": "z"}])
    assert len(found) == 2
    items, _ = s.query(acme.messages_table, key_condition="pk = :p", values={":p": "x"})
    assert [i["sk"] for i in items] == ["y", "z"]
    s.delete_item(acme.messages_table, {"pk": "x", "sk": "y"})
    assert s.get_item(acme.registry_table, {"tenantId": ACME})["tenantId"] == ACME
    # The registry is read with GetItem only, as the tenant roles' IAM policies allow: no batch, no
    # transaction, not even a condition check on its own item.
    own = {"tenantId": ACME}
    for refused in (
        lambda: s.batch_get(acme.registry_table, [own]),
        lambda: s.transact_write(
            [
                {
                    "ConditionCheck": {
                        "TableName": acme.registry_table,
                        "Key": own,
                        "ConditionExpression": "attribute_exists(tenantId)",
                    }
                }
            ]
        ),
    ):
        with pytest.raises(IsolationViolation, match=r"may read only its own registry item \(GetItem\)"):
            refused()


def test_no_public_attribute_chain_leads_to_the_client_or_an_unscoped_storage(two):
    st, _ = two
    scope = st.tenant(ACME)
    assert type(scope.storage) is Storage  # a policy at the seam, not a subclass overriding a private method
    assert not hasattr(scope.storage, "client")
    reached = _public_graph(scope, extra=lambda obj: [obj.audit_storage()] if isinstance(obj, TenantScope) else [])
    assert not [o for o in reached if isinstance(o, BaseClient)]
    storages = [o for o in reached if isinstance(o, Storage)]
    assert len(storages) >= 2  # the scope's and the audit's
    assert all(any(isinstance(p, TenantPolicy) and p.tenant_id == ACME for p in o.restricted_by) for o in storages)
    # Nothing derived from a scope can do more than the scope: policies only accumulate.
    with pytest.raises(IsolationViolation):
        scope.storage.restricted().update_item(
            scope.registry_table, {"tenantId": ACME}, update="SET a = :a", values={":a": 1}
        )


def _public_graph(root: object, extra) -> list[object]:
    """Every object reachable from `root` through public attributes (properties read, methods skipped)."""
    seen: dict[int, object] = {}
    todo = deque([root])
    while todo and len(seen) < 2000:
        obj = todo.popleft()
        if id(obj) in seen or isinstance(obj, (str, bytes, int, float, bool, type(None))):
            continue
        seen[id(obj)] = obj
        todo.extend(extra(obj))
        if isinstance(obj, (list, tuple, set, frozenset)):
            todo.extend(obj)
            continue
        if isinstance(obj, dict):
            todo.extend(obj.values())
            continue
        for name in dir(obj):
            if name.startswith("_"):
                continue
            try:
                value = getattr(obj, name)
            except Exception:  # noqa: BLE001 - a property that refuses to be read leads nowhere
                continue
            if callable(value) and not isinstance(value, (Storage, BaseClient)):
                continue
            todo.append(value)
    return list(seen.values())


def test_a_hook_that_rewrites_a_request_cannot_send_it_elsewhere(two):
    st, _ = two
    acme, globex = st.tenant(ACME), st.tenant(GLOBEX)

    def redirect(operation, params):
        params["TableName"] = globex.metrics_table

    acme.storage.hooks.append(redirect)
    with pytest.raises(IsolationViolation, match="does not belong"):
        acme.storage.put_item(acme.metrics_table, {**KEY, "value": 666})
    assert st.storage.get_item(globex.metrics_table, KEY) is None


def test_the_audit_scans_only_the_tenants_own_two_tables(two):
    st, _ = two
    acme = st.tenant(ACME)
    audit = acme.audit_storage()
    assert audit.scan(acme.messages_table)[0] == []
    for table, index in (
        (acme.registry_table, None),
        (st.tenant(GLOBEX).metrics_table, None),
        (acme.messages_table, "SessionIndex"),
    ):
        with pytest.raises(IsolationViolation, match="may scan only its own tables"):
            audit._call("Scan", table, TableName=table, **({"IndexName": index} if index else {}))
    for call in _table_settings(acme).values():  # the audit's storage is no less sealed otherwise
        try:
            call()
        except IsolationViolation:
            continue
        pytest.fail("a table setting was reachable")


@pytest.mark.parametrize(
    "malformed",
    [
        {"RequestItems": "not a mapping"},
        {"RequestItems": {"t": [{"PutRequest": {}, "DeleteRequest": {}}]}},
        {"TransactItems": [{}]},
        {},
        {"TableName": None},
    ],
)
def test_a_request_the_policy_cannot_read_is_refused_not_crashed(two, malformed):
    st, _ = two
    acme = st.tenant(ACME)
    for operation in ("BatchWriteItem", "TransactWriteItems", "GetItem"):
        with pytest.raises(IsolationViolation):
            acme.storage._call(operation, "", **malformed)


def test_registry_writes_run_on_the_connection_not_through_a_scope(two):
    st, tenants = two
    assert tenants.storage is st.storage and st.storage.restricted_by == ()
    assert tenants.suspend(ACME).changed and tenants.reactivate(ACME).changed
    assert tenants.offboard(GLOBEX).tenant.status.value == "deleted"
