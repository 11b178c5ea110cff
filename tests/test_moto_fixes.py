"""The embedded server keeps DynamoDB's per-request atomicity (see salestalk_lib.moto_fixes)."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from salestalk_lib.errors import ConditionFailed
from salestalk_lib.storage import Storage
from salestalk_lib.tables import MESSAGES, create_table_request

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def table(endpoint) -> str:
    name = f"fixes-{uuid.uuid4().hex[:8]}"
    Storage(endpoint.client()).create_table(create_table_request(MESSAGES, name))
    return name


def test_concurrent_conditional_creates_of_one_key_succeed_exactly_once(endpoint, table):
    keys = [f"race-{i}" for i in range(30)]
    wins: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        storage = Storage(endpoint.client())
        for k in keys:
            try:
                storage.put_item(table, {"pk": k, "sk": "x"}, condition="attribute_not_exists(pk)")
                with lock:
                    wins.append(k)
            except ConditionFailed:
                pass

    threads = [threading.Thread(target=work) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(wins) == sorted(keys)


def test_cancelled_transaction_rolls_back_only_its_own_items(endpoint, table):
    storage = Storage(endpoint.client())
    storage.put_item(table, {"pk": "exists", "sk": "x", "v": 1})
    storage.put_item(table, {"pk": "other", "sk": "x", "v": 1})
    with pytest.raises(ConditionFailed) as info:
        storage.transact_write([
            {"Put": {"TableName": table, "Item": {"pk": "new-in-tx", "sk": "x"}}},
            {"Put": {"TableName": table, "Item": {"pk": "exists", "sk": "x", "v": 2},
                     "ConditionExpression": "attribute_not_exists(pk)"}},
        ])
    assert info.value.item == {"pk": "exists", "sk": "x", "v": 1}
    assert storage.get_item(table, {"pk": "new-in-tx", "sk": "x"}) is None
    assert storage.get_item(table, {"pk": "other", "sk": "x"})["v"] == 1


def test_transaction_cost_does_not_grow_with_table_size(endpoint, table):
    storage = Storage(endpoint.client())

    def tx_seconds() -> float:
        start = time.perf_counter()
        for _ in range(10):
            storage.transact_write([{"Put": {"TableName": table, "Item": {"pk": uuid.uuid4().hex, "sk": "x"}}}])
        return (time.perf_counter() - start) / 10

    small = tx_seconds()
    for i in range(0, 1500, 25):
        storage.batch_write(table, [{"pk": f"fill-{i + j}", "sk": "x", "text": "y" * 200} for j in range(25)])
    # moto's own implementation deep-copies the table: ~500 ms per transaction at this size.
    assert tx_seconds() < max(5 * small, 0.1)
