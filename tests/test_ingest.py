"""Ingestion outcomes, rollup exactness, corrections and write modes, over HTTP on the embedded server."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from salestalk_lib.contract.errors import (
    ConditionFailed,
    IngestConflict,
    RetryBudgetExhausted,
    TenantNotActive,
    ValidationFailed,
)
from salestalk_lib.contract.models import Message, Metric, SessionRollup
from salestalk_lib.contract.settings import Settings
from salestalk_lib.dynamo.retry import Retrier
from salestalk_lib.dynamo.storage import Storage
from salestalk_lib.ops.connection import SalesTalk, connect
from salestalk_lib.ops.ingest import (
    WRITE_MODES,
    Ingestor,
    MetricMode,
    Outcome,
    TenantGate,
    metric_version,
    write_cost,
    write_mode_table,
)
from salestalk_lib.testing.faults import FaultProfile, faulty_endpoint
from salestalk_lib.testing.samples import sample_messages, sample_metrics, uuid4_from

pytestmark = pytest.mark.integration

TENANT = "ingest-unit"
T0 = datetime(2025, 11, 9, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def conn(endpoint, register) -> SalesTalk:
    st = connect(settings=Settings(table_prefix=f"ing{uuid.uuid4().hex[:8]}-", environment="test"), endpoint=endpoint)
    return register(st, TENANT, "ingest-other")


@pytest.fixture
def ing(conn) -> Ingestor:
    return Ingestor(conn.storage, conn.settings, retrier=Retrier.virtual(seed=1))


@pytest.fixture
def rng(request) -> random.Random:
    return random.Random(request.node.name)


def msg(
    rng: random.Random, session: str, seconds: float, text: str = "hello", message_id: str | None = None
) -> Message:
    return Message.create(
        tenant_id=TENANT,
        session_id=session,
        sender="user",
        text=text,
        at=T0 + timedelta(seconds=seconds),
        message_id=message_id or uuid4_from(rng),
    )


def rollup(conn: SalesTalk, session: str) -> dict | None:
    table = conn.settings.table_name("messages", TENANT)
    return conn.storage.get_item(table, {"pk": f"SESSION#{session}", "sk": "METADATA"})


def metrics_table(conn: SalesTalk, tenant: str = TENANT) -> str:
    return conn.settings.table_name("metrics", tenant)


# --- messages -------------------------------------------------------------------------


def test_message_created_then_already_exists_counted_once(conn, ing, rng):
    session = uuid4_from(rng)
    m = msg(rng, session, 0)
    first = ing.ingest_message(m)
    again = ing.ingest_message(m.to_item())  # a raw record is validated, then written the same way
    assert (first.outcome, again.outcome) == (Outcome.CREATED, Outcome.ALREADY_EXISTS)
    assert again.requests == 1 and again.retries == 0
    assert rollup(conn, session) == SessionRollup.of_messages([m]).to_item()
    assert rollup(conn, session)["messageCount"] == 1


def test_message_conflict_shows_both_versions_and_changes_nothing(conn, ing, rng):
    session = uuid4_from(rng)
    original = msg(rng, session, 0, "revenue in Q3?")
    changed = msg(rng, session, 0, "revenue in Q4?", message_id=original.message_id)
    ing.ingest_message(original)
    result = ing.ingest_message(changed)
    assert result.outcome is Outcome.CONFLICT
    assert result.conflict.stored["text"] == "revenue in Q3?"
    assert result.conflict.incoming["text"] == "revenue in Q4?"
    with pytest.raises(IngestConflict, match="differ in text"):
        result.raise_for_conflict()
    table = conn.settings.table_name("messages", TENANT)
    assert conn.storage.get_item(table, {"pk": original.pk, "sk": original.sk}) == original.to_item()
    assert rollup(conn, session)["messageCount"] == 1


def test_rollup_is_exact_whatever_the_arrival_order(conn, ing, rng):
    session = uuid4_from(rng)
    # newest, earliest, middle, ties on the first and the last time, in a scrambled order
    seconds = [50, 10, 30, 90, 30, 0, 90, 0, 60, 5]
    messages = [msg(rng, session, s) for s in seconds]
    for m in messages:
        assert ing.ingest_message(m).outcome is Outcome.CREATED
        assert rollup(conn, session) == SessionRollup.of_messages(messages[: messages.index(m) + 1]).to_item()
    for m in messages:
        assert ing.ingest_message(m).outcome is Outcome.ALREADY_EXISTS
    assert rollup(conn, session)["messageCount"] == len(messages)


def test_rollup_stays_out_of_the_session_and_sender_indexes(conn, ing, rng):
    session = uuid4_from(rng)
    messages = [msg(rng, session, s) for s in (0, 1, 2)]
    for m in messages:
        ing.ingest_message(m)
    table = conn.settings.table_name("messages", TENANT)
    items, _ = conn.storage.query(table, index="SessionIndex", key_condition="sessionId = :s", values={":s": session})
    assert sorted(i["pk"] for i in items) == sorted(m.pk for m in messages)
    assert "timestamp" not in rollup(conn, session) and "sender" not in rollup(conn, session)


def test_a_new_ingestor_finds_existing_sessions_by_their_stored_rollup(conn, rng):
    session = uuid4_from(rng)
    a, b = msg(rng, session, 10), msg(rng, session, 20)
    Ingestor(conn.storage, conn.settings, retrier=Retrier.virtual()).ingest_message(a)
    result = Ingestor(conn.storage, conn.settings, retrier=Retrier.virtual()).ingest_message(b)
    assert result.outcome is Outcome.CREATED
    assert result.requests == 2  # guessed "new session", learned from the returned rollup, wrote again
    assert rollup(conn, session) == SessionRollup.of_messages([a, b]).to_item()


# --- metrics --------------------------------------------------------------------------


def metric(rng: random.Random, period: str = "2025-Q3", value: str = "1250000.50", **kw) -> Metric:
    return Metric.create(
        tenant_id=kw.pop("tenant_id", TENANT),
        subject=kw.pop("subject", "revenue"),
        period=period,
        value=Decimal(value),
        unit="USD",
        metric_id=kw.pop("metric_id", None) or uuid4_from(rng),
        **kw,
    )


def test_metric_created_already_exists_conflict(conn, ing, rng):
    m = metric(rng, "2024-Q1")
    assert ing.ingest_metric(m).outcome is Outcome.CREATED
    assert ing.ingest_metric(m).outcome is Outcome.ALREADY_EXISTS
    other = metric(rng, "2024-Q1", "999", metric_id=m.metric_id)
    result = ing.ingest_metric(other)
    assert result.outcome is Outcome.CONFLICT
    assert (result.conflict.stored["value"], result.conflict.incoming["value"]) == (Decimal("1250000.50"), Decimal(999))
    assert conn.storage.get_item(metrics_table(conn), {"pk": m.pk, "sk": m.sk}) == m.to_item()


def test_correction_is_guarded_by_the_version(conn, ing, rng):
    m = metric(rng, "2024-Q2", "100")
    ing.ingest_metric(m)
    assert metric_version(m) == 1
    fixed = metric(rng, "2024-Q2", "120", metric_id=m.metric_id)
    stored = ing.correct_metric(fixed, expected_version=1)
    assert (stored.value, metric_version(stored)) == (Decimal(120), 2)
    assert conn.storage.get_item(metrics_table(conn), {"pk": m.pk, "sk": m.sk}) == stored.to_item()

    stale = metric(rng, "2024-Q2", "130", metric_id=m.metric_id)
    with pytest.raises(IngestConflict, match="expected version 1, stored version 2") as info:
        ing.correct_metric(stale, expected_version=1)
    assert info.value.stored["value"] == Decimal(120) and info.value.incoming["value"] == Decimal(130)
    assert ing.correct_metric(stale, expected_version=2).value == Decimal(130)
    assert metric_version(conn.storage.get_item(metrics_table(conn), {"pk": m.pk, "sk": m.sk})) == 3
    # The original record now conflicts with the corrected one: re-ingesting it overwrites nothing.
    assert ing.ingest_metric(m).outcome is Outcome.CONFLICT


def test_correcting_a_missing_metric_is_a_conflict(ing, rng):
    with pytest.raises(IngestConflict, match="no stored metric to correct"):
        ing.correct_metric(metric(rng, "2019-Q1"), expected_version=1)
    with pytest.raises(ValidationFailed, match="expectedVersion"):
        ing.correct_metric(metric(rng, "2019-Q1"), expected_version=0)


@pytest.mark.parametrize(
    "mode, year", [(MetricMode.CONDITIONAL, 2021), (MetricMode.TRANSACTION, 2022), (MetricMode.BATCH, 2023)]
)
def test_every_metric_mode_reports_already_exists_conflict_and_what_it_wrote(conn, ing, rng, mode, year):
    # Each mode has its own year, so no case depends on what another left behind (or failed to tidy up).
    existing = [metric(rng, f"{year}-{m:02d}", subject="arr") for m in range(1, 4)]
    ing.ingest(existing, metric_mode=MetricMode.CONDITIONAL)
    changed = metric(rng, f"{year}-03", "1", subject="arr")  # same key as existing[2], other content
    new = [metric(rng, f"{year}-{m:02d}-15", subject="arr") for m in range(1, 6)]
    records = [existing[0], existing[1], changed, *new]
    report = ing.ingest(records, metric_mode=mode, workers=2)
    outcomes = [r.outcome for r in report.results]
    # A bulk load writes without a condition (last writer wins): nothing proves its items new.
    wrote = Outcome.WRITTEN if mode is MetricMode.BATCH else Outcome.CREATED
    assert outcomes == [Outcome.ALREADY_EXISTS] * 2 + [Outcome.CONFLICT] + [wrote] * 5
    table = metrics_table(conn)
    assert conn.storage.get_item(table, {"pk": changed.pk, "sk": changed.sk}) == existing[2].to_item()
    assert all(conn.storage.get_item(table, {"pk": m.pk, "sk": m.sk}) == m.to_item() for m in new)


def test_unchecked_batch_reports_written(conn, ing):
    batch = sample_metrics(TENANT, 60, seed=11, first_day=datetime(2010, 1, 1, tzinfo=UTC))
    report = ing.bulk_load_metrics(batch, check_existing=False)
    assert report.counts() == {"written": 60}
    assert report.events[0].data.outcomes.written == 60 and report.events[0].data.outcomes.created == 0


def test_unprocessed_items_are_resent_never_dropped(conn, endpoint):
    # Every BatchWriteItem leaves part of its items unprocessed until four have (a fault per request
    # at a rate below 1 depends on the random table name in the request: it could draw none).
    batch = sample_metrics(TENANT, 400, seed=5, first_day=datetime(2011, 1, 1, tzinfo=UTC))
    with faulty_endpoint(endpoint, FaultProfile(unprocessed=1.0, seed=3)) as faulty:

        def heal_after_four_faults(attempt) -> None:
            if faulty.proxy.counts["unprocessed"] >= 4:
                faulty.proxy.profile = FaultProfile()

        ing = Ingestor(Storage(faulty.client()), conn.settings, retrier=Retrier.virtual(seed=2))
        report = ing.ingest(batch, workers=2, metric_mode=MetricMode.BATCH, hooks=[heal_after_four_faults])
        assert faulty.proxy.counts["unprocessed"] >= 4
    assert [r.error for r in report.failures] == []
    assert report.counts() == {"written": 400}
    assert report.retries_by_code["UnprocessedItems"] >= 4
    table = metrics_table(conn)
    assert all(conn.storage.get_item(table, {"pk": m.pk, "sk": m.sk}) == m.to_item() for m in batch)


def test_exhausted_budget_is_reported_as_failed_and_writes_nothing(conn, endpoint, rng):
    session = uuid4_from(rng)
    records = [msg(rng, session, 1), metric(rng, "2012-Q1")]
    with faulty_endpoint(endpoint, FaultProfile()) as faulty:

        def throttle_after_the_status_read(attempt) -> None:
            if attempt.operation == "GetItem" and attempt.outcome == "ok":  # the tenant's status, read first
                faulty.proxy.profile = FaultProfile(throttle=1.0)

        ing = Ingestor(Storage(faulty.client()), conn.settings, retrier=Retrier.virtual())
        # per-record failures: no batch record first
        report = ing.ingest(records, record_batch=False, hooks=[throttle_after_the_status_read])
        with pytest.raises(RetryBudgetExhausted):
            ing.ingest_message(records[0])
        with pytest.raises(RetryBudgetExhausted):  # the tenant's status cannot be read: no record is tried
            ing.ingest(records)
    assert [r.outcome for r in report.results] == [Outcome.FAILED, Outcome.FAILED]
    assert all(r.requests == 11 for r in report.results)  # 1 attempt + 10 throttling retries
    assert not report.ok and len(report.failures) == 2
    assert rollup(conn, session) is None


def test_one_invalid_record_means_nothing_is_written(conn, rng):
    sent: list[str] = []
    storage = Storage(conn.endpoint.client(parameter_validation=False), hooks=[lambda op, params: sent.append(op)])
    ing = Ingestor(storage, conn.settings, retrier=Retrier.virtual())
    good = msg(rng, uuid4_from(rng), 0)
    bad = {**msg(rng, uuid4_from(rng), 0).to_item(), "text": ""}
    rollup_record = SessionRollup.of_messages([good]).to_item()
    with pytest.raises(ValidationFailed) as info:
        ing.ingest([good, bad, rollup_record, metric(rng, "2013-Q1")])
    fields = [(v.where, v.field) for v in info.value.violations]
    assert ("<records>:2", "text") in fields
    assert ("<records>:3", "(record)") in fields
    assert sent == []


def test_duplicate_keys_in_one_ingest_are_refused(ing, rng):
    m = metric(rng, "2014-Q1")
    with pytest.raises(ValidationFailed, match="same key"):
        ing.ingest([m, m])


# --- events ---------------------------------------------------------------------------


def test_one_metrics_ingested_event_per_tenant_and_batch(conn, rng):
    ids = iter(f"00000000-0000-4000-8000-{n:012d}" for n in range(100))
    ing = Ingestor(
        conn.storage,
        conn.settings,
        retrier=Retrier.virtual(),
        new_id=lambda: next(ids),
        now=lambda: datetime(2025, 11, 9, 12, 0, tzinfo=UTC),
    )
    records = [
        metric(rng, "2015-Q1"),
        metric(rng, "2015-Q2"),
        metric(rng, "2015-Q1", subject="arr"),
        metric(rng, "2015-Q1", tenant_id="ingest-other"),
        msg(rng, uuid4_from(rng), 0),
    ]
    ing.ingest(records[:1])
    report = ing.ingest(records, workers=2)
    assert [(e.tenant_id, e.data.count) for e in report.events] == [("ingest-other", 1), (TENANT, 3)]
    ours = report.events[1]
    assert ours.event_type == "metrics.ingested.v1"
    assert ours.data.batch_id == report.batch_id == ours.metadata.correlation_id
    assert (ours.data.outcomes.created, ours.data.outcomes.already_exists) == (2, 1)
    assert list(ours.data.subjects) == ["arr", "revenue"] and list(ours.data.periods) == ["2015-Q1", "2015-Q2"]
    assert ours.timestamp == "2025-11-09T12:00:00.000Z"
    assert ing.sink.events[-2:] == report.events


# --- docs tables ----------------------------------------------------------------------


def test_write_modes_table_and_costs():
    rows = write_mode_table()
    assert [r["mode"] for r in rows] == [m.name for m in WRITE_MODES]
    assert {"conditional", "transaction", "batch", "message"} == {m.name for m in WRITE_MODES}
    # The docs' table says what the bulk load is: it overwrites, and counts what it wrote as written.
    batch = next(r for r in rows if r["mode"] == "batch")
    assert (
        batch["guarantees"].startswith("last writer wins, and overwrites") and "never overwr" not in batch["guarantees"]
    )
    assert batch["outcomes"].startswith("written, already_exists, conflict (never created")
    assert all(
        "never overwrites" in r["guarantees"] or "never overwritten" in r["guarantees"]
        for r in rows
        if r["mode"] != "batch"
    )
    items = [m.to_item() for m in sample_metrics(TENANT, 250)]
    assert write_cost("conditional", items) == {"requests": 250, "wcu": 250, "rcu": 0}
    assert write_cost("transaction", items) == {"requests": 3, "wcu": 500, "rcu": 0}
    assert write_cost("batch", items) == {"requests": 3 + 10, "wcu": 250, "rcu": 250}
    assert write_cost("batch", items, check_existing=False) == {"requests": 10, "wcu": 250, "rcu": 0}


def test_sample_messages_are_deterministic_and_valid():
    a = sample_messages(TENANT, 50, sessions=5, seed=3)
    assert [m.to_item() for m in a] == [m.to_item() for m in sample_messages(TENANT, 50, sessions=5, seed=3)]
    assert len({m.message_id for m in a}) == 50 and len({m.session_id for m in a}) == 5


# --- the tenant gate and the cancellation reasons ------------------------------------------


def test_the_tenant_status_is_read_again_after_its_window_and_a_refusal_is_never_remembered(conn, rng):
    now = [0.0]
    sent: list[str] = []
    storage = conn.storage.restricted(hooks=[lambda op, params: sent.append((op, params.get("TableName")))])
    ing = Ingestor(
        storage, conn.settings, retrier=Retrier.virtual(), gate=TenantGate(recheck_seconds=5, clock=lambda: now[0])
    )
    registry = conn.settings.table_name("registry")

    def status_reads() -> int:
        return sum(1 for op, table in sent if op == "GetItem" and table == registry)

    session = uuid4_from(rng)
    ing.ingest_message(msg(rng, session, 1))
    ing.ingest_message(msg(rng, session, 2))
    assert status_reads() == 1  # within the window: trusted
    now[0] = 5.0
    ing.ingest_message(msg(rng, session, 3))
    assert status_reads() == 2  # the window passed: read again
    ing.ingest([msg(rng, session, 4)], record_batch=False)
    assert status_reads() == 3  # `ingest` always reads afresh before it writes
    stranger = Message.create(
        tenant_id="ingest-nobody", session_id=session, sender="user", text="hi", at=T0, message_id=uuid4_from(rng)
    )
    for _ in range(2):
        with pytest.raises(TenantNotActive):
            ing.ingest_message(stranger)
    assert status_reads() == 5  # a refusal is read again every time: onboarding takes effect at once


def test_a_cancelled_transaction_reports_each_action_in_order_with_the_stored_item(conn, rng):
    table = conn.settings.table_name("messages", TENANT)
    stored = {"pk": "NOTE#reasons", "sk": "b", "x": Decimal(1)}
    conn.storage.put_item(table, stored)
    actions = [
        {
            "Put": {
                "TableName": table,
                "Item": {"pk": "NOTE#reasons", "sk": k},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        for k in ("a", "b", "c")
    ]
    with pytest.raises(ConditionFailed) as info:
        conn.storage.transact_write(actions)
    assert [r.code for r in info.value.reasons] == ["None", "ConditionalCheckFailed", "None"]
    assert info.value.reason(1).item == stored and info.value.item == stored
    assert info.value.reason(0).item is None and info.value.reason(7) is None
