"""Only registered, active tenants receive data; ingest never creates tables (contract §7; issue 10 item 2).

Reproductions: `salestalk ingest` used to re-create the tables of a removed tenant and write into them,
write for a suspended tenant, and create tables for a tenant with no registry item.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from adversary import Deployment

from salestalk_lib.contract import keys
from salestalk_lib.contract.errors import TenantNotActive
from salestalk_lib.dynamo.retry import Retrier
from salestalk_lib.ops.ingest import Ingestor, MessageMode, Outcome, TenantGate, pack_messages
from salestalk_lib.testing.samples import sample_messages, sample_metrics, write_jsonl

TENANT = "status-co"


def _records(tenant: str = TENANT) -> list:
    return [
        *sample_messages(tenant, 6, sessions=2, seed=51),
        *sample_metrics(tenant, 6, seed=52, first_day=datetime(2021, 1, 1, tzinfo=UTC)),
    ]


def _tables(deployment: Deployment) -> list[str]:
    return deployment.st.storage.list_tables(deployment.prefix)


def test_an_unregistered_tenant_is_refused_and_no_table_is_created(deployment: Deployment, tmp_path):
    path = write_jsonl(tmp_path / "records.jsonl", _records())
    result = deployment.run("ingest", str(path), "--no-progress")
    assert result.returncode == 2, result.stderr
    assert f"tenant '{TENANT}' is not registered" in result.stderr
    assert f"salestalk tenant add {TENANT}" in result.stderr and "Traceback" not in result.stderr
    assert not [t for t in _tables(deployment) if TENANT in t]  # ingest never creates tables


def test_a_suspended_tenant_is_refused_and_nothing_is_written(deployment: Deployment, tmp_path):
    deployment.onboard(TENANT)
    deployment.st.tenants().suspend(TENANT)
    st = deployment.st
    path = write_jsonl(tmp_path / "records.jsonl", _records())
    result = deployment.run("ingest", str(path), "--no-progress")
    assert result.returncode == 2, result.stderr
    assert f"tenant '{TENANT}' is suspended" in result.stderr
    assert f"salestalk tenant activate {TENANT}" in result.stderr
    scope = st.tenant(TENANT)
    assert [st.storage.scan(t)[0] for t in (scope.messages_table, scope.metrics_table)] == [[], []]
    # Reactivated, the same file is ingested.
    st.tenants().reactivate(TENANT)
    assert deployment.run("ingest", str(path), "--no-progress").returncode == 0


def test_a_removed_tenant_is_refused_and_its_tables_are_not_recreated(deployment: Deployment, tmp_path):
    deployment.onboard(TENANT)
    removed = deployment.run("tenant", "remove", TENANT)
    assert removed.returncode == 0, removed.stderr
    path = write_jsonl(tmp_path / "records.jsonl", _records())
    result = deployment.run("ingest", str(path), "--no-progress")
    assert result.returncode == 2, result.stderr
    assert f"tenant '{TENANT}' was offboarded (status deleted)" in result.stderr
    assert not [t for t in _tables(deployment) if TENANT in t]


def test_the_library_refuses_before_any_table_is_written(deployment: Deployment):
    # One record of an unregistered tenant refuses the whole call: not even the registered tenant's
    # batch record is written. Only reads are sent.
    deployment.onboard(TENANT)
    st = deployment.st
    sent: list[str] = []
    storage = st.storage.restricted(hooks=[lambda op, params: sent.append(op)])
    ing = Ingestor(storage, st.settings, retrier=Retrier.virtual())
    with pytest.raises(TenantNotActive, match="'stranger-co' is not registered"):
        ing.ingest([*_records(), *_records("stranger-co")])
    assert set(sent) == {"GetItem"}
    with pytest.raises(TenantNotActive):
        ing.ingest_message(_records("stranger-co")[0])
    assert set(sent) == {"GetItem"}
    scope = st.tenant(TENANT)
    assert st.storage.scan(scope.messages_table)[0] == []


def test_a_tenant_suspended_during_a_run_receives_nothing_more(deployment: Deployment):
    # The status is read again as the run goes (here: before every record, recheck_seconds=0); once the
    # tenant is suspended, its records not yet started are skipped, the others' tenant goes on.
    deployment.onboard(TENANT, "other-co")
    st = deployment.st
    mine, others = sample_messages(TENANT, 12, sessions=3, seed=53), sample_messages("other-co", 12, seed=54)
    written: list[str] = []

    def suspend_after_the_fourth_message(attempt) -> None:  # runs in the writing thread: no race with it
        if attempt.operation == "TransactWriteItems" and attempt.outcome == "ok":
            written.append(attempt.operation)
            if len(written) == 4:
                st.tenants().suspend(TENANT)

    ing = Ingestor(st.storage, st.settings, retrier=Retrier.virtual(), gate=TenantGate(recheck_seconds=0))
    report = ing.ingest(  # one transaction per message, so "the fourth message" is the fourth request
        [*mine, *others], workers=1, hooks=[suspend_after_the_fourth_message], message_mode=MessageMode.SINGLE
    )
    mine_results = [r for r in report.results if r.tenant_id == TENANT]
    assert [r.outcome for r in mine_results[:4]] == [Outcome.CREATED] * 4
    assert {r.outcome for r in mine_results[4:]} == {Outcome.SKIPPED}
    assert report.counts() == {"created": 4 + 12, "skipped": 8}
    assert TENANT in report.inactive and not report.ok
    assert report.batches[TENANT].record.status.value == "in_progress"  # not completed: nothing replays it
    assert report.batches["other-co"].record.status.value == "completed"
    scope = st.tenant(TENANT)
    stored = [i for i in st.storage.scan(scope.messages_table)[0] if keys.pk_kind(i["pk"]) is keys.KeyKind.MESSAGE]
    assert sorted(i["pk"] for i in stored) == sorted(m.pk for m in mine[:4])


WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


def _tables_written(operation: str, params: dict[str, Any]) -> set[str]:
    if operation == "BatchWriteItem":
        return set(params["RequestItems"])
    if operation == "TransactWriteItems":
        return {action["TableName"] for item in params["TransactItems"] for action in item.values()}
    return {params["TableName"]}


def test_a_tenant_suspended_during_a_default_run_is_sent_no_further_write(deployment: Deployment):
    # The default paths write many records per request (packed message transactions, metric transactions
    # of up to 100): the status is read again before each request (recheck_seconds=0); once the tenant is
    # suspended, no write of its tables is sent, its records not begun are skipped, the other tenant goes on.
    deployment.onboard(TENANT, "other-co")
    st = deployment.st
    messages = sample_messages(TENANT, 150, sessions=3, seed=55)
    metrics = sample_metrics(TENANT, 250, seed=56, first_day=datetime(2022, 1, 1, tzinfo=UTC))
    others = sample_messages("other-co", 30, sessions=2, seed=57)
    assert len([t for chain in pack_messages(messages) for t in chain]) >= 3  # several requests of its own
    scope = st.tenant(TENANT)
    mine = {scope.messages_table, scope.metrics_table}
    suspended, sent_after = threading.Event(), []

    def watch(operation: str, params: dict[str, Any]) -> None:
        if operation in WRITES and suspended.is_set() and _tables_written(operation, params) & mine:
            sent_after.append(operation)

    def suspend_after_its_first_transaction(attempt) -> None:  # in the writing thread: no race with it
        if attempt.operation == "TransactWriteItems" and attempt.outcome == "ok" and not suspended.is_set():
            st.tenants().suspend(TENANT)
            suspended.set()

    storage = st.storage.restricted(hooks=[watch])
    ing = Ingestor(storage, st.settings, retrier=Retrier.virtual(), gate=TenantGate(recheck_seconds=0))
    report = ing.ingest([*messages, *metrics, *others], workers=1, hooks=[suspend_after_its_first_transaction])
    assert suspended.is_set() and sent_after == []
    mine_results = [r for r in report.results if r.tenant_id == TENANT]
    outcomes = {r.outcome for r in mine_results}
    assert outcomes == {Outcome.CREATED, Outcome.SKIPPED}, outcomes
    assert {r.outcome for r in report.results if r.tenant_id == "other-co"} == {Outcome.CREATED}
    assert TENANT in report.inactive and not report.ok
    # What is stored is exactly what the report says was created; each rollup counts its stored messages.
    created = {r.key for r in mine_results if r.outcome is Outcome.CREATED}
    items = st.storage.scan(scope.messages_table, consistent=True)[0]
    stored = [i for i in items if keys.pk_kind(i["pk"]) is keys.KeyKind.MESSAGE]
    stored_metrics = st.storage.scan(scope.metrics_table, consistent=True)[0]
    assert {i["pk"] for i in stored} | {f"{i['pk']} {i['sk']}" for i in stored_metrics} == created
    assert len(stored) + len(stored_metrics) == len(created)
    by_id = {m.pk: m.to_item() for m in messages}
    assert all(by_id[i["pk"]] == i for i in stored)
    rollups = [i for i in items if keys.pk_kind(i["pk"]) is keys.KeyKind.SESSION]
    assert rollups and all(int(r["messageCount"]) > 0 for r in rollups)
    for rollup in rollups:
        session = rollup["pk"].removeprefix("SESSION#")
        assert int(rollup["messageCount"]) == len([i for i in stored if i["sessionId"] == session])
