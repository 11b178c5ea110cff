"""Batch upload idempotency (contract §4): the batchId recorded per tenant, kept 30 days (salestalk_lib.ops.batches)."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from salestalk_lib.contract import keys
from salestalk_lib.contract.errors import BatchConflict, IngestInterrupted, KeyGrammarError
from salestalk_lib.contract.models import BATCH_RETENTION_SECONDS, IngestBatch, Message, Metric, Tenant, content_hash
from salestalk_lib.contract.settings import Settings
from salestalk_lib.contract.validation import validate_record
from salestalk_lib.contract.vocab import BatchStatus
from salestalk_lib.dynamo.retry import Retrier
from salestalk_lib.dynamo.storage import Storage
from salestalk_lib.ops.audit import audit_tenant
from salestalk_lib.ops.batches import BatchLedger, BatchState, content_batch_id, plan_batch
from salestalk_lib.ops.connection import SalesTalk, connect
from salestalk_lib.ops.events import MemorySink
from salestalk_lib.ops.ingest import Ingestor, MetricMode, Outcome
from salestalk_lib.testing.samples import sample_messages, sample_metrics

pytestmark = pytest.mark.integration

A, B = "batch-a", "batch-b"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def conn(endpoint, register) -> SalesTalk:
    st = connect(settings=Settings(table_prefix=f"bat{uuid.uuid4().hex[:8]}-"), endpoint=endpoint)
    return register(st, A, B)


def ingestor(
    conn: SalesTalk, *, now: datetime = NOW, storage: Storage | None = None, sink: MemorySink | None = None
) -> Ingestor:
    return Ingestor(
        storage or conn.storage,
        conn.settings,
        retrier=Retrier.virtual(seed=1),
        now=lambda: now,
        sink=sink if sink is not None else MemorySink(),
    )


def records(tenant: str = A, seed: int = 1) -> list[Message | Metric]:
    return [
        *sample_messages(tenant, 6, sessions=2, seed=seed),
        *sample_metrics(tenant, 8, seed=seed, first_day=datetime(2021, 1, 1, tzinfo=UTC)),
    ]


def stored_record(conn: SalesTalk, tenant: str, batch_id: str) -> dict | None:
    return conn.storage.get_item(
        conn.settings.table_name("messages", tenant), {"pk": keys.batch_pk(batch_id), "sk": keys.batch_sk()}
    )


def everything(conn: SalesTalk) -> list[tuple[str, dict]]:
    out = []
    for tenant in (A, B):
        for kind in ("messages", "metrics"):
            table = conn.settings.table_name(kind, tenant)
            items, _ = conn.storage.scan(table)
            out += sorted(((table, i) for i in items), key=lambda ti: (ti[0], ti[1]["pk"], ti[1]["sk"]))
    return out


def counting(conn: SalesTalk) -> tuple[Storage, list[str]]:
    sent: list[str] = []
    return Storage(conn.endpoint.client(parameter_validation=False), hooks=[lambda op, params: sent.append(op)]), sent


# --- the record -----------------------------------------------------------------------


def test_a_new_batch_is_recorded_per_tenant_and_completed_with_its_outcomes(conn):
    sink = MemorySink()
    batch = [*records(A), *records(B, seed=2)]
    report = ingestor(conn, sink=sink).ingest(batch, batch_id="upload-1")
    assert report.ok and {t: b.state for t, b in report.batches.items()} == {A: BatchState.NEW, B: BatchState.NEW}
    events = {e.tenant_id: e for e in sink.events}
    for tenant in (A, B):
        item = stored_record(conn, tenant, "upload-1")
        record = IngestBatch.from_item(item, tenant_id=tenant)  # what is stored satisfies its own contract
        mine = [m for m in batch if m.tenant_id == tenant]
        assert record.status is BatchStatus.COMPLETED and record.content_hash == content_hash(mine)
        assert (record.record_count, record.message_count, record.metric_count) == (14, 6, 8)
        assert record.started_at == int(NOW.timestamp()) == record.completed_at
        assert record.ttl == record.started_at + 30 * 86_400
        assert (record.outcomes.created, record.outcomes.already_exists, record.outcomes.written) == (14, 0, 0)
        assert record.event_id == events[tenant].event_id  # the event carries the id the record holds
        for index in ("SessionIndex", "SenderIndex"):  # sparse: no timestamp, sessionId or sender
            assert not {"timestamp", "sessionId", "sender"} & set(item), index


def test_the_same_batch_again_is_replayed_nothing_written_no_event(conn):
    batch = records(A)
    ingestor(conn).ingest(batch, batch_id="upload-2")
    before = everything(conn)
    storage, sent = counting(conn)
    sink = MemorySink()
    later = NOW + timedelta(days=29)
    report = ingestor(conn, storage=storage, sink=sink, now=later).ingest(list(reversed(batch)), batch_id="upload-2")
    assert report.replayed and report.batches[A].state is BatchState.REPLAYED
    assert Counter(r.outcome for r in report.results) == {Outcome.ALREADY_EXISTS: 14}
    assert all(r.requests == 0 for r in report.results)
    # The tenant's status (contract §7), then the conditional create of the batch record, refused: nothing else.
    assert sent == ["GetItem", "PutItem"]
    assert sink.events == [] and report.events == []
    assert everything(conn) == before


def test_a_batch_id_reused_for_other_records_is_a_conflict_and_nothing_is_written(conn):
    ingestor(conn).ingest(records(A), batch_id="upload-3")
    before = everything(conn)
    changed = records(A, seed=9)
    with pytest.raises(BatchConflict) as caught:
        ingestor(conn).ingest(changed, batch_id="upload-3")
    text = str(caught.value)
    assert "batch 'upload-3' of tenant 'batch-a' was recorded on 2026-11-25T12:00:00Z for other records" in text
    assert (
        "Nothing was written: use a new batch id, or wait until the old record expires on 2026-12-25T12:00:00Z" in text
    )
    assert caught.value.stored["contentHash"] != caught.value.incoming["contentHash"]
    assert everything(conn) == before


def test_a_conflict_in_one_tenant_withdraws_the_records_begun_for_the_others(conn):
    ingestor(conn).ingest(records(B), batch_id="upload-4")  # B's share is recorded with other records
    before = everything(conn)
    with pytest.raises(BatchConflict, match="tenant 'batch-b'"):
        ingestor(conn).ingest([*records(A), *records(B, seed=5)], batch_id="upload-4")
    assert stored_record(conn, A, "upload-4") is None  # A's record was created, then withdrawn
    assert everything(conn) == before


def test_a_withdrawal_never_deletes_a_record_another_run_holds(conn):
    # Between our create of A's record and the withdrawal, another run holds A's share (its record
    # carries another run token): the withdrawal is conditional on our token, so that record stays.
    ingestor(conn).ingest(records(B), batch_id="upload-6")
    other_token = "7d6c5b4a-3f2e-4d1c-8b0a-9f8e7d6c5b4a"
    b_messages = conn.settings.table_name("messages", B)

    def another_run_takes_a_over(op: str, params: dict) -> None:
        if (
            op == "PutItem"
            and params["TableName"] == b_messages
            and params["Item"]["pk"]["S"] == keys.batch_pk("upload-6")
        ):
            held = stored_record(conn, A, "upload-6") | {"runToken": other_token}
            conn.storage.put_item(conn.settings.table_name("messages", A), held)

    storage = conn.storage.restricted(hooks=[another_run_takes_a_over])
    with pytest.raises(BatchConflict, match="tenant 'batch-b'"):
        ingestor(conn, storage=storage).ingest([*records(A), *records(B, seed=5)], batch_id="upload-6")
    kept = stored_record(conn, A, "upload-6")
    assert kept is not None and kept["runToken"] == other_token and kept["status"] == "in_progress"


def test_ctrl_c_while_the_batch_begins_sends_no_cleanup_and_a_rerun_completes(conn):
    # An interrupt is not an error to clean up after (that cleanup used to run the whole retry budget):
    # the records begun stay in progress, and running the batch again resumes them.
    sent: list[str] = []
    b_messages = conn.settings.table_name("messages", B)

    def interrupt_at_b(op: str, params: dict) -> None:
        sent.append(op)
        if op == "PutItem" and params["TableName"] == b_messages:
            raise KeyboardInterrupt

    batch = [*records(A), *records(B)]
    with pytest.raises(IngestInterrupted) as stopped:
        ingestor(conn, storage=conn.storage.restricted(hooks=[interrupt_at_b])).ingest(batch, batch_id="upload-7")
    assert "DeleteItem" not in sent
    assert {r.outcome for r in stopped.value.report.results} == {Outcome.SKIPPED}
    assert stored_record(conn, A, "upload-7")["status"] == "in_progress"
    again = ingestor(conn).ingest(batch, batch_id="upload-7")
    assert again.batches[A].state is BatchState.RESUMED and again.batches[B].state is BatchState.NEW
    assert again.counts() == {"created": len(batch)} and again.ok
    assert {t: b.record.status for t, b in again.batches.items()} == {
        A: BatchStatus.COMPLETED,
        B: BatchStatus.COMPLETED,
    }


def test_an_unfinished_batch_is_resumed_under_the_same_event_id(conn):
    batch = records(A)
    ledger = BatchLedger(Retrier.virtual(), lambda: "0b0e9f0e-8a9f-4c1e-9d6f-3c2b1a0f9e8d")
    plan = plan_batch(batch)[A]
    begun = ledger.begin(conn.tenant(A), "upload-5", plan, int(NOW.timestamp()))  # a run that then died
    assert begun.state is BatchState.NEW
    ingestor(conn).ingest(batch[:3], batch_id="upload-5-partial", record_batch=False)  # it wrote a few records
    sink = MemorySink()
    report = ingestor(conn, sink=sink, now=NOW + timedelta(hours=1)).ingest(batch, batch_id="upload-5")
    assert report.batches[A].state is BatchState.RESUMED and report.ok
    assert [e.event_id for e in sink.events] == ["0b0e9f0e-8a9f-4c1e-9d6f-3c2b1a0f9e8d"]
    assert Counter(r.outcome for r in report.results) == {Outcome.CREATED: 11, Outcome.ALREADY_EXISTS: 3}
    record = IngestBatch.from_item(stored_record(conn, A, "upload-5"))
    assert record.status is BatchStatus.COMPLETED
    assert (record.outcomes.created, record.outcomes.already_exists) == (11, 3)
    assert record.started_at == int(NOW.timestamp())  # kept from the run that began it


def test_an_expired_record_no_longer_counts(conn):
    batch = records(A)
    ingestor(conn).ingest(batch, batch_id="upload-6")
    expired = NOW + timedelta(seconds=BATCH_RETENTION_SECONDS)
    report = ingestor(conn, now=expired).ingest(records(A, seed=3), batch_id="upload-6")  # other records: no conflict
    assert report.batches[A].state is BatchState.NEW
    record = IngestBatch.from_item(stored_record(conn, A, "upload-6"))
    assert record.started_at == int(expired.timestamp()) and record.content_hash == content_hash(records(A, seed=3))


def test_a_batch_with_a_conflicting_record_stays_in_progress_and_reports_it_again(conn):
    first = records(A)
    ingestor(conn).ingest(first, batch_id="upload-7a")
    metric = next(m for m in first if isinstance(m, Metric))
    other = Metric.from_item({**metric.to_item(), "value": metric.value + 1})
    for attempt in range(2):
        report = ingestor(conn).ingest([other], batch_id="upload-7b")
        assert [r.outcome for r in report.results] == [Outcome.CONFLICT]
        assert report.batches[A].state is (BatchState.NEW if attempt == 0 else BatchState.RESUMED)
        assert report.batches[A].record.status is BatchStatus.IN_PROGRESS


def test_concurrent_runs_of_one_batch_write_each_record_once_and_send_one_event_id(conn):
    batch = records(A, seed=4)
    sinks = [MemorySink() for _ in range(4)]
    reports: list = []
    errors: list[BaseException] = []

    def run(sink: MemorySink) -> None:
        try:
            reports.append(ingestor(conn, sink=sink).ingest(batch, batch_id="upload-8", workers=2))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in sinks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    created = Counter(r.key for rep in reports for r in rep.results if r.outcome is Outcome.CREATED)
    assert sorted(created.values()) == [1] * len(batch)  # every record created by exactly one run
    event_ids = {e.event_id for s in sinks for e in s.events}
    assert len(event_ids) == 1  # resent, perhaps, but always as the one event a consumer deduplicates
    record = IngestBatch.from_item(stored_record(conn, A, "upload-8"))
    assert record.status is BatchStatus.COMPLETED and record.outcomes.total == len(batch)


def test_bulk_loads_and_transactions_are_batches_too(conn):
    metrics = sample_metrics(A, 30, seed=6, first_day=datetime(2022, 1, 1, tzinfo=UTC))
    for mode, batch_id in ((MetricMode.BATCH, "bulk-1"), (MetricMode.TRANSACTION, "tx-1")):
        report = ingestor(conn).ingest(metrics, metric_mode=mode, batch_id=batch_id)
        assert report.batches[A].record.status is BatchStatus.COMPLETED
        again = ingestor(conn).ingest(metrics, metric_mode=mode, batch_id=batch_id)
        assert again.replayed


def test_an_invalid_batch_id_is_refused_before_anything_is_sent(conn):
    storage, sent = counting(conn)
    with pytest.raises(KeyGrammarError, match="batchId must be"):
        ingestor(conn, storage=storage).ingest(records(A), batch_id="no spaces")
    assert sent == []


def test_the_audit_accepts_batch_records_and_names_a_broken_one(conn):
    conn.storage.put_item(
        conn.settings.table_name("registry"),
        Tenant.create(
            tenant_id=A, name="A", owner_email="a@example.com", plan="free", created_at=1_700_000_000
        ).to_item(),
    )
    ingestor(conn).ingest(records(A), batch_id="upload-9")
    assert audit_tenant(conn.tenant(A)).findings == []
    table = conn.settings.table_name("messages", A)
    broken = {**stored_record(conn, A, "upload-9"), "recordCount": Decimal(99)}
    conn.storage.put_item(table, broken)
    findings = audit_tenant(conn.tenant(A)).findings
    assert [(f.pk, f.field) for f in findings] == [("BATCH#upload-9", "outcomes"), ("BATCH#upload-9", "recordCount")]


# --- pure parts -----------------------------------------------------------------------


def test_the_content_batch_id_depends_on_the_records_not_their_order():
    batch = records(A)
    assert content_batch_id(batch) == content_batch_id(list(reversed(batch)))
    assert content_batch_id(batch) != content_batch_id(batch[:-1])
    assert keys.validate_batch_id(content_batch_id(batch)) == content_batch_id(batch)


def _record(**changes) -> dict:
    base = IngestBatch.begin(
        tenant_id=A,
        batch_id="b-1",
        content_hash=content_hash(records(A)),
        message_count=6,
        metric_count=8,
        started_at=1_764_072_000,
        event_id="0b0e9f0e-8a9f-4c1e-9d6f-3c2b1a0f9e8d",
        run_token="7c1d2e3f-4a5b-4c6d-9e7f-8a9b0c1d2e3f",
    ).to_item()
    return {k: v for k, v in {**base, **changes}.items() if v is not None}


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"recordCount": 15}, "recordCount", "must equal messageCount + metricCount (6 + 8)"),
        ({"ttl": 1_764_072_001}, "ttl", "must be startedAt + 30 days"),
        ({"status": "completed"}, "completedAt", "is required once the batch is completed"),
        ({"outcomes": {"created": 14}}, "outcomes", "must be absent while the batch is in progress"),
        ({"status": "completed", "completedAt": 1_764_072_000, "outcomes": {"created": -1}}, "outcomes.created", ""),
        (
            {"status": "completed", "completedAt": 1_764_071_999, "outcomes": {"created": 14}},
            "completedAt",
            "must be ≥ startedAt",
        ),
        (
            {"status": "completed", "completedAt": 1_764_072_000, "outcomes": {"created": 13}},
            "outcomes",
            "must add up to recordCount (14)",
        ),
        ({"status": "completed", "completedAt": 1_764_072_000, "outcomes": {"conflict": 14}}, "outcomes.conflict", ""),
        (
            {"status": "completed", "completedAt": 1_764_072_000, "outcomes": {"alreadyExists": 13}},
            "outcomes",
            "must add up to recordCount (14)",
        ),
        ({"eventId": None}, "eventId", "is required when the batch has metrics"),
        ({"pk": "BATCH#b-2"}, "pk", "must be 'BATCH#b-1' (built from batchId)"),
        ({"sk": "META"}, "sk", "must be 'METADATA' for an ingest batch"),
        ({"contentHash": "md5:abc"}, "contentHash", "must be 'sha256:' and 64 lowercase hex digits"),
        ({"status": "done"}, "status", ""),
        ({"timestamp": 1}, "timestamp", ""),
    ],
)
def test_an_ingest_batch_record_breaking_a_rule_is_named(changes, field, rule):
    model, violations = validate_record(_record(**changes), "batch.jsonl:1")
    assert model is None
    assert any(v.field == field and rule in v.rule for v in violations), [str(v) for v in violations]
