"""Capacity units by DynamoDB's rules (`salestalk_lib.contract.capacity`): hand-computed figures, and the
Capacity page's figures checked against the consumed capacity DynamoDB Local reports."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pytest

from devtools import model_views as mv
from salestalk_lib.contract import capacity
from salestalk_lib.contract.capacity import (
    ENGINE_DIFFERENCES,
    WriteCost,
    get_item_rcu,
    index_write_units,
    item_kind,
    query_pages,
    query_rcu,
    wcu,
    write_cost,
)
from salestalk_lib.contract.models import Message, item_size_bytes
from salestalk_lib.contract.tables import MESSAGES, METRICS, REGISTRY, TableKind
from salestalk_lib.dynamo.storage import serialize
from salestalk_lib.ops.ingest import CREATE_ONCE, message_puts, rollup_update
from salestalk_lib.ops.patterns import EXAMPLE_TENANT, explain
from salestalk_lib.ops.seed import load_seed


def _message_like(pad: int) -> dict[str, Any]:
    # pk 2+5, sk 2+1, sessionId 9+1, timestamp 9+2 (the number 1), sender 6+4, pad 3+pad = 44 + pad bytes
    return {"pk": "MSG#x", "sk": "s", "sessionId": "a", "timestamp": Decimal(1), "sender": "user", "pad": "x" * pad}


def test_the_hand_sized_item_is_what_the_library_sizes():
    assert item_size_bytes(_message_like(1000)) == 1044
    assert item_size_bytes(_message_like(980)) == 1024


def test_get_item_read_units():
    assert get_item_rcu(4096, consistent=True) == 1
    assert get_item_rcu(4097, consistent=True) == 2
    assert get_item_rcu(4097, consistent=False) == Decimal("1")
    assert get_item_rcu(100, consistent=False) == Decimal("0.5")
    assert get_item_rcu(None, consistent=True) == 1  # a missing item still costs the minimum
    assert get_item_rcu(None, consistent=False) == Decimal("0.5")
    assert get_item_rcu(_message_like(5000), consistent=True) == 2  # 5,044 bytes: two started 4 KB


def test_query_read_units_sum_the_items_read_then_round():
    # Four items of 1,000 + 1,000 + 1,000 + 1,097 = 4,097 bytes: 2 units, not 4 (summed, then rounded).
    assert query_rcu([1000, 1000, 1000, 1097], consistent=True) == 2
    assert query_rcu([1000, 1000, 1000, 1097], consistent=False) == 1
    assert query_rcu([1000, 1000, 1000, 1096], consistent=False) == Decimal("0.5")
    assert query_rcu([], consistent=False) == Decimal("0.5")


def test_query_pages_round_each_page():
    assert query_pages([3000, 3000, 3000], limit=2) == [[3000, 3000], [3000]]
    # pages of 6,000 and 3,000 bytes: 2 + 1 units strongly consistent, 1.5 eventually
    assert query_rcu([3000, 3000, 3000], consistent=True, limit=2) == 3
    assert query_rcu([3000, 3000, 3000], consistent=False, limit=2) == Decimal("1.5")
    assert query_rcu([3000, 3000, 3000], consistent=True) == 3  # one page of 9,000 bytes: 3 units
    mb = 1024 * 1024
    assert query_pages([mb // 2, mb // 2, 10]) == [[mb // 2, mb // 2], [10]]


def test_write_units():
    assert wcu(1) == 1 and wcu(1024) == 1 and wcu(1025) == 2
    assert wcu(100, previous=3000) == 3  # a put over a larger item pays for the larger
    assert wcu(_message_like(980)) == 1 and wcu(_message_like(981)) == 2


def test_write_cost_counts_every_index_carrying_the_key():
    item = _message_like(1000)  # 1,044 bytes: 2 WCU; in SessionIndex and SenderIndex
    assert write_cost(MESSAGES, item) == WriteCost(2, {"SessionIndex": 2, "SenderIndex": 2})
    assert write_cost(MESSAGES, item).total == 6
    assert write_cost(MESSAGES, item, transaction=True) == WriteCost(4, {"SessionIndex": 2, "SenderIndex": 2})
    rollup = {"pk": "SESSION#a", "sk": "METADATA", "messageCount": Decimal(1)}
    assert write_cost(MESSAGES, rollup) == WriteCost(1, {})  # sparse: no index key, no index write
    no_sender = {k: v for k, v in item.items() if k != "sender"}
    assert write_cost(MESSAGES, no_sender).indexes == {"SessionIndex": 2}


def test_index_writes_of_an_update():
    tenant = {"tenantId": "t", "ownerEmail": "o@x.example", "status": "active", "updatedAt": Decimal(1)}
    moved = {**tenant, "status": "suspended", "updatedAt": Decimal(2)}
    index = {i.name: i for i in REGISTRY.indexes}
    assert index_write_units(index["StatusIndex"], tenant, moved) == 2  # key changed: delete + put
    assert index_write_units(index["OwnerEmailIndex"], tenant, moved) == 1  # same key, entry updated
    assert index_write_units(index["OwnerEmailIndex"], tenant, tenant) == 0  # nothing changed
    assert index_write_units(index["StatusIndex"], tenant, {"tenantId": "t"}) == 1  # entry deleted
    assert write_cost(REGISTRY, moved, before=tenant) == WriteCost(1, {"OwnerEmailIndex": 1, "StatusIndex": 2})


def test_item_kinds():
    assert item_kind(TableKind.REGISTRY, {"tenantId": "t"}) == "tenant"
    assert item_kind(TableKind.MESSAGES, {"pk": "MSGID#x"}) == "message identity"
    assert item_kind(TableKind.MESSAGES, {"pk": "MSG#x"}) == "message"
    assert item_kind(TableKind.MESSAGES, {"pk": "SESSION#x"}) == "session rollup"
    assert item_kind(TableKind.MESSAGES, {"pk": "BATCH#x"}) == "batch record"
    assert item_kind(TableKind.MESSAGES, {"pk": "EVENT#x"}) == "processed event"
    assert item_kind(TableKind.METRICS, {"pk": "METRIC#r", "sk": "2025-Q3"}) == "headline metric"
    assert item_kind(TableKind.METRICS, {"pk": "METRIC#r", "sk": "2025-Q3#region:Europe"}) == "metric slice"


def test_the_page_states_the_seed_figures():
    page = mv.capacity_page()
    nine = next(c for c in mv.seed_pattern_costs() if c.pattern.number == 9)
    assert (len(nine.read), len(nine.returned)) == (5, 3)
    assert "| 9 | `metric_time_series` | table | Query | 5 | 3 |" in page
    headline = next(p for p in mv.write_paths() if p.name == "metric put, headline")
    assert headline.cost == WriteCost(1, {"MetricTypeIndex": 1})
    assert "**`MetricTypeIndex` serves no pattern.**" not in page  # pattern 12 reads it
    assert "| 12 | `subject_in_window` | `MetricTypeIndex` | Query |" in page
    for notes in ENGINE_DIFFERENCES.values():
        assert all(note in page for note in notes)


def test_capacity_is_pure():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(capacity))
    imported = {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    imported |= {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not imported & {"boto3", "botocore"}


# --- against DynamoDB Local's ReturnConsumedCapacity -------------------------------------


def _local(test):
    """An integration test on DynamoDB Local only, the engine that reports consumed capacity."""
    marks = (
        pytest.mark.integration,
        pytest.mark.engine_only(
            "dynamodb-local",
            reason="DynamoDB Local reports ReturnConsumedCapacity like "
            "DynamoDB; the figures are checked against its reports",
        ),
    )
    for mark in marks:
        test = mark(test)
    return test


_LOCAL = _local


def _query_units(client: Any, params: Mapping[str, Any]) -> Decimal:
    total, request = Decimal(0), dict(params)
    while True:
        resp = client.query(**request, ReturnConsumedCapacity="TOTAL")
        total += Decimal(str(resp["ConsumedCapacity"]["CapacityUnits"]))
        if "LastEvaluatedKey" not in resp:
            return total
        request["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


@_LOCAL
def test_pattern_read_units_match_dynamodb_local(st, endpoint):
    load_seed(st, progress=False)
    client = endpoint.client()
    for cost in mv.seed_pattern_costs():
        p = cost.pattern
        target = st if p.table is TableKind.REGISTRY else st.tenant(EXAMPLE_TENANT)
        [request] = explain(target, p, dict(p.example))
        params = dict(request.params)
        if request.operation == "GetItem":
            assert params["ConsistentRead"] is True and cost.consistent_sent
            sent = client.get_item(**params, ReturnConsumedCapacity="TOTAL")
            assert ("Item" in sent) == bool(cost.read)
            assert Decimal(str(sent["ConsumedCapacity"]["CapacityUnits"])) == cost.rcu_strong, p.name
            eventual = client.get_item(**{**params, "ConsistentRead": False}, ReturnConsumedCapacity="TOTAL")
            assert Decimal(str(eventual["ConsumedCapacity"]["CapacityUnits"])) == cost.rcu_eventual, p.name
            continue
        assert "ConsistentRead" not in params and not cost.consistent_sent
        assert _query_units(client, params) == cost.rcu_eventual, p.name
        resp = client.query(**params)
        assert resp["Count"] == len(cost.read), p.name  # items read, before the pattern's own filter
        if cost.rcu_strong is not None:
            assert _query_units(client, {**params, "ConsistentRead": True}) == cost.rcu_strong, p.name


@_LOCAL
def test_dynamodb_local_charges_nothing_for_a_query_that_reads_nothing(st, endpoint):
    """The documented difference: the rules charge the minimum, DynamoDB Local reports 0."""
    st.provision([EXAMPLE_TENANT])
    table = st.settings.table_name(TableKind.MESSAGES, EXAMPLE_TENANT)
    params = {
        "TableName": table,
        "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": serialize({":p": "none"}),
    }
    assert _query_units(endpoint.client(), params) == 0
    assert query_rcu([], consistent=False) == Decimal("0.5")
    assert any("Query that reads no item" in n for n in ENGINE_DIFFERENCES["dynamodb-local"])


def _reported(consumed: Any) -> WriteCost:
    parts = consumed if isinstance(consumed, list) else [consumed]
    table, indexes = 0, {}
    for part in parts:
        table += int(part.get("Table", {}).get("CapacityUnits", 0))
        for name, v in (part.get("GlobalSecondaryIndexes") or {}).items():
            indexes[name] = indexes.get(name, 0) + int(v["CapacityUnits"])
    return WriteCost(table, indexes)


def _update_params(table: str, spec: Any, before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    key = {a.name: after[a.name] for a in spec.key_attributes}
    changed = [n for n in after if n not in key and after[n] != before.get(n)]
    removed = [n for n in before if n not in after]
    names = {f"#a{i}": n for i, n in enumerate(changed + removed)}
    expression = "SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(changed)))
    if removed:
        expression += " REMOVE " + ", ".join(f"#a{len(changed) + i}" for i in range(len(removed)))
    return {
        "TableName": table,
        "Key": serialize(key),
        "UpdateExpression": expression,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": serialize({f":v{i}": after[n] for i, n in enumerate(changed)}),
    }


@_LOCAL
def test_write_path_units_match_dynamodb_local(st, endpoint):
    st.provision([EXAMPLE_TENANT])
    client = endpoint.client()
    specs = {TableKind.REGISTRY: REGISTRY, TableKind.MESSAGES: MESSAGES, TableKind.METRICS: METRICS}

    def table_of(kind: TableKind) -> str:
        return (
            st.settings.table_name(kind) if kind is TableKind.REGISTRY else st.settings.table_name(kind, EXAMPLE_TENANT)
        )

    checked = 0
    for path in mv.write_paths():
        if all(step.transaction for step in path.steps):
            # The library's own transaction: message_puts + the session rollup's Update.
            _identity, message_step, rollup = path.steps
            table = table_of(TableKind.MESSAGES)
            if rollup.before is not None:
                client.put_item(TableName=table, Item=serialize(rollup.before))
            m = Message.from_item(message_step.after)
            update = rollup_update("new" if rollup.before is None else "newest", m)
            actions = [{"Put": {**a["Put"], "Item": serialize(a["Put"]["Item"])}} for a in message_puts(table, m)]
            actions.append(
                {
                    "Update": {
                        "TableName": table,
                        "Key": serialize({"pk": rollup.after["pk"], "sk": rollup.after["sk"]}),
                        "UpdateExpression": update["UpdateExpression"],
                        "ConditionExpression": update["ConditionExpression"],
                        "ExpressionAttributeValues": serialize(update["ExpressionAttributeValues"]),
                    }
                }
            )
            # DynamoDB Local doubles a transaction's index writes (ENGINE_DIFFERENCES); the rules count them once.
            doubled = WriteCost(path.cost.table, {n: 2 * v for n, v in path.cost.indexes.items()})
            alone = WriteCost(0)
            for action, step in zip(actions, path.steps, strict=True):
                # Each write as a transaction of its own (on a twin key, so it is new as in the real one) ...
                twin = {
                    kind: {
                        **body,
                        **(
                            {"Item": {**body["Item"], "pk": {"S": body["Item"]["pk"]["S"] + "-alone"}}}
                            if "Item" in body
                            else {"Key": {**body["Key"], "pk": {"S": body["Key"]["pk"]["S"] + "-alone"}}}
                        ),
                    }
                    for kind, body in action.items()
                }
                if rollup.before is not None and "Update" in twin:
                    client.put_item(
                        TableName=table, Item=serialize({**rollup.before, "pk": rollup.before["pk"] + "-alone"})
                    )
                one = _reported(
                    client.transact_write_items(TransactItems=[twin], ReturnConsumedCapacity="INDEXES")[
                        "ConsumedCapacity"
                    ]
                )
                assert one == WriteCost(step.cost.table, {k: 2 * v for k, v in step.cost.indexes.items()}), step.what
                alone = alone + one
            assert alone == doubled, path.name
            # ... and the real transaction, which DynamoDB Local reports with fewer table units than its writes.
            resp = client.transact_write_items(TransactItems=actions, ReturnConsumedCapacity="INDEXES")
            got = _reported(resp["ConsumedCapacity"])
            stored = client.get_item(
                TableName=table, Key=serialize({"pk": rollup.after["pk"], "sk": "METADATA"}), ConsistentRead=True
            )["Item"]
            assert stored == serialize(rollup.after), "the rollup the transaction wrote is the one costed"
            assert got.indexes == doubled.indexes, path.name
            assert (got.table, path.cost.table) == (4, 6), path.name  # the under-report ENGINE_DIFFERENCES states
            checked += 1
            continue
        for step in path.steps:
            table, spec = table_of(step.table), specs[step.table]
            if step.before is None:
                resp = client.put_item(
                    TableName=table,
                    Item=serialize(step.after),
                    ConditionExpression=CREATE_ONCE
                    if step.table is not TableKind.REGISTRY
                    else "attribute_not_exists(tenantId)",
                    ReturnConsumedCapacity="INDEXES",
                )
            else:
                client.put_item(TableName=table, Item=serialize(step.before))  # the state the update starts from
                resp = client.update_item(
                    **_update_params(table, spec, step.before, step.after), ReturnConsumedCapacity="INDEXES"
                )
            assert _reported(resp["ConsumedCapacity"]) == step.cost, (path.name, step.what)
            checked += 1
    assert checked == sum(len(p.steps) if not all(s.transaction for s in p.steps) else 1 for p in mv.write_paths())
    notes = ENGINE_DIFFERENCES["dynamodb-local"]
    assert any("doubles the index writes" in n for n in notes)
    assert any("together as 4, not 6" in n for n in notes)


@pytest.mark.integration
@pytest.mark.engine_only("moto", reason="the documented difference of moto's consumed-capacity report")
def test_moto_reports_the_table_units_of_a_write_but_no_index_part(st, endpoint):
    st.provision([EXAMPLE_TENANT])
    path = next(p for p in mv.write_paths() if p.name == "metric put, slice")
    [step] = path.steps
    resp = endpoint.client().put_item(
        TableName=st.settings.table_name(TableKind.METRICS, EXAMPLE_TENANT),
        Item=serialize(step.after),
        ReturnConsumedCapacity="INDEXES",
    )
    reported = _reported(resp["ConsumedCapacity"])
    assert reported == WriteCost(step.cost.table, {}) and step.cost.index_total == 2
    assert any("no index part" in n for n in ENGINE_DIFFERENCES["moto"])


def test_an_index_no_pattern_reads_is_named_with_its_write_cost(monkeypatch):
    # With the contract's eleven patterns only, nothing queries MetricTypeIndex: the page says what it costs.
    monkeypatch.setattr(mv, "PATTERNS", mv.PATTERNS[:11])
    page = mv.capacity_page()
    assert "**`MetricTypeIndex` serves no pattern.**" in page
