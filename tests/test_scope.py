"""The tenant-scoped handle refuses every table and registry item that is not its own."""

from __future__ import annotations

import pytest

from salestalk_lib.contract.errors import InvalidTenantId, IsolationViolation
from salestalk_lib.contract.tables import MESSAGES, METRICS

HOSTILE_IDS = [
    "ACME-corp-001",
    "acme corp",
    "acme/../x",
    "..",
    "acme-corp-001/",
    "ácme",
    "a" * 65,
    "-acme",
    "acme-",
    "",
    "tenant-x-messages\x00",
    "acme_corp",
]


@pytest.fixture
def two_tenants(st):
    st.provision(["acme-corp-001", "techstart-inc-002"])
    return st


def test_scope_reaches_its_own_tables(two_tenants):
    acme = two_tenants.tenant("acme-corp-001")
    acme.storage.put_item(acme.metrics_table, {"pk": "METRIC#revenue", "sk": "2025-Q3", "v": 1})
    assert acme.storage.get_item(acme.metrics_table, {"pk": "METRIC#revenue", "sk": "2025-Q3"})["v"] == 1
    items, _ = acme.storage.query(
        acme.messages_table, index="SessionIndex", key_condition="sessionId = :s", values={":s": "x"}
    )
    assert items == []


def test_scope_refuses_another_tenants_tables_before_sending(two_tenants):
    acme = two_tenants.tenant("acme-corp-001")
    sent = []
    acme.storage.hooks.append(lambda op, params: sent.append(op))
    other = two_tenants.settings.table_name(METRICS, "techstart-inc-002")
    with pytest.raises(IsolationViolation, match="does not belong to tenant 'acme-corp-001'"):
        acme.storage.get_item(other, {"pk": "METRIC#revenue", "sk": "2025-Q3"})
    with pytest.raises(IsolationViolation):
        acme.storage.batch_write(other, [{"pk": "a", "sk": "b"}])
    with pytest.raises(IsolationViolation):
        acme.storage.transact_write(
            [
                {"Put": {"TableName": acme.messages_table, "Item": {"pk": "a", "sk": "b"}}},
                {
                    "Put": {
                        "TableName": two_tenants.settings.table_name(MESSAGES, "techstart-inc-002"),
                        "Item": {"pk": "a", "sk": "b"},
                    }
                },
            ]
        )
    with pytest.raises(IsolationViolation, match=r"Scan|ListTables"):
        acme.storage.list_tables()
    assert sent == []


def test_scope_reads_only_its_own_registry_item(two_tenants):
    acme = two_tenants.tenant("acme-corp-001")
    registry = acme.registry_table
    two_tenants.storage.put_item(registry, {"tenantId": "acme-corp-001", "name": "ACME"})
    two_tenants.storage.put_item(registry, {"tenantId": "techstart-inc-002", "name": "TechStart"})
    assert acme.registry_item()["name"] == "ACME"
    with pytest.raises(IsolationViolation, match="its own registry item"):
        acme.storage.get_item(registry, {"tenantId": "techstart-inc-002"})
    with pytest.raises(IsolationViolation):
        acme.storage.query(
            registry, index="StatusIndex", key_condition="#s = :s", names={"#s": "status"}, values={":s": "active"}
        )


@pytest.mark.parametrize("bad", HOSTILE_IDS)
def test_hostile_ids_are_refused_before_a_name_is_built(st, bad):
    with pytest.raises(InvalidTenantId):
        st.tenant(bad)


def test_prefix_lookalike_tables_are_not_reachable(two_tenants):
    acme = two_tenants.tenant("acme-corp-001")
    lookalike = two_tenants.settings.table_prefix + "tenant-acme-corp-001-messages-evil"
    with pytest.raises(IsolationViolation):
        acme.storage.get_item(lookalike, {"pk": "x", "sk": "y"})
