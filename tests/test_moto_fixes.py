"""The embedded engines keep DynamoDB's per-request atomicity; moto's patches are contained (salestalk_lib.embedded.moto_fixes).

The first two tests state DynamoDB's semantics and run on every engine (on moto they prove
the request lock and the per-item rollback of `moto_fixes`). The rest are about the patches
themselves: what they cost (counted, not timed), the version guard and the off switch.
"""

from __future__ import annotations

import copy
import os
import threading
import types
import uuid

import pytest

from salestalk_lib.contract.errors import ConditionFailed, ConfigurationError
from salestalk_lib.contract.tables import MESSAGES, create_table_request
from salestalk_lib.dynamo.storage import Storage
from salestalk_lib.embedded import engines, moto_fixes

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def table(endpoint) -> str:
    name = f"fixes-{uuid.uuid4().hex[:8]}"
    storage = Storage(endpoint.client())
    storage.create_table(create_table_request(MESSAGES, name))
    storage.wait_active(name)
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
        storage.transact_write(
            [
                {"Put": {"TableName": table, "Item": {"pk": "new-in-tx", "sk": "x"}}},
                {
                    "Put": {
                        "TableName": table,
                        "Item": {"pk": "exists", "sk": "x", "v": 2},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    assert info.value.item == {"pk": "exists", "sk": "x", "v": 1}
    assert storage.get_item(table, {"pk": "new-in-tx", "sk": "x"}) is None
    assert storage.get_item(table, {"pk": "other", "sk": "x"})["v"] == 1


@pytest.mark.engine_only(
    "moto",
    reason="counts what moto_fixes' TransactWriteItems copies inside moto's in-process "
    "backend; DynamoDB Local runs in a JVM of its own",
)
def test_a_transaction_copies_the_items_it_touches_not_the_table(endpoint, table, monkeypatch):
    storage = Storage(endpoint.client())
    for i in range(0, 1500, 25):
        storage.batch_write(table, [{"pk": f"fill-{i + j}", "sk": "x", "text": "y" * 200} for j in range(25)])
    copied: list[str] = []
    deepcopy = copy.deepcopy

    def counting(value, *args, **kwargs):
        copied.append(type(value).__name__)
        return deepcopy(value, *args, **kwargs)

    monkeypatch.setattr(copy, "deepcopy", counting)  # moto and moto_fixes both call copy.deepcopy
    storage.transact_write(
        [
            {"Put": {"TableName": table, "Item": {"pk": "tx-1", "sk": "x"}}},
            {"Put": {"TableName": table, "Item": {"pk": "fill-7", "sk": "x", "text": "z"}}},
        ]
    )
    # moto's own code deep-copies each touched table (1,500 items, ~0.8 s); the fix copies each touched item once.
    assert "Table" not in copied
    assert copied.count("Item") + copied.count("NoneType") == 2  # the stored fill-7, and tx-1's absence


# --- the version guard and the switch ---------------------------------------------------------


@pytest.fixture
def restore_fixes():
    """Leave the process as the session's moto server needs it: the tested version's patches installed."""
    yield
    assert moto_fixes.install({}) == moto_fixes.ALL


def test_the_tested_version_gets_every_patch(restore_fixes):
    from moto.dynamodb.responses import DynamoHandler

    assert moto_fixes.install({}, version=moto_fixes.TESTED_MOTO_VERSIONS[0]) == moto_fixes.ALL
    assert DynamoHandler.parse_parameters is moto_fixes.parse_parameters
    assert moto_fixes.backend_patched()


def test_an_untested_moto_version_runs_unpatched_with_a_warning(restore_fixes):
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    with pytest.warns(moto_fixes.UntestedMotoVersion, match=r"moto 9\.9\.9 is not a version .* tested against"):
        applied = moto_fixes.install({}, version="9.9.9")
    assert applied == moto_fixes.LOCK_ONLY  # the request lock, which touches no moto internals, still applies
    assert not moto_fixes.backend_patched()
    assert "parse_parameters" not in DynamoHandler.__dict__  # moto's own, inherited again
    assert DynamoDBBackend.transact_write_items is not moto_fixes.transact_write_items


def test_the_fixes_can_be_turned_off(restore_fixes):
    from moto.dynamodb.models.dynamo_type import Item

    with engines.MotoEngine.start(env={moto_fixes.FIXES_ENV: "off"}) as server:
        assert server.fixes == moto_fixes.OFF
        assert not moto_fixes.backend_patched() and Item.__init__ is not moto_fixes._item_init
        assert server._server.app.__class__.__name__ == "DomainDispatcherApplication"  # no request lock either
    with engines.MotoEngine.start(env={}) as server:
        assert server.fixes == moto_fixes.ALL and server._server.app.__name__ == "locked"


def test_a_bad_switch_value_is_a_clear_error():
    with pytest.raises(ConfigurationError, match="SALESTALK_MOTO_FIXES='maybe' must be 'on' or 'off'"):
        moto_fixes.install({moto_fixes.FIXES_ENV: "maybe"})


def test_the_docstring_names_every_replaced_attribute():
    doc = moto_fixes.__doc__ or ""
    for owner, name, _ in moto_fixes._replacements():
        where = owner.__name__ if isinstance(owner, types.ModuleType) else owner.__qualname__
        assert f"{where}.{name}" in doc, (owner, name)


@pytest.mark.engine_only("moto", reason="counts the directory listings of moto's in-process server")
def test_the_server_lists_motos_modules_once_not_on_every_request(endpoint, table, monkeypatch):
    import moto.backends

    assert list(moto_fixes.list_of_moto_modules()) == list(
        moto_fixes._original(moto.backends, "list_of_moto_modules")()
    )
    assert "dynamodb" in moto_fixes.list_of_moto_modules()
    listed: list[str] = []
    listdir = os.listdir
    monkeypatch.setattr(os, "listdir", lambda path=".": listed.append(str(path)) or listdir(path))
    storage = Storage(endpoint.client())
    for i in range(3):
        storage.put_item(table, {"pk": f"listed-{i}", "sk": "x"})
    assert not [p for p in listed if p.rstrip("/").endswith("moto")], listed
