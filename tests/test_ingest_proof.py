"""Proof that ingestion is exact under faults and concurrency (contract §4), over real HTTP.

The DynamoDB server runs in its own process (`salestalk serve`); faults are
injected by the fault proxy between the client and that server. The retry
policy is the contract's, unchanged; only its sleeps are shortened ten times
(the delays it *asks for* are recorded and checked against the policy), so the
proof runs in seconds rather than minutes.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from devtools.bench import start_server, stop_server
from salestalk_lib.contract.errors import RequestRejected, TableNotFound, TenantNotActive, ValidationFailed
from salestalk_lib.contract.models import Message, Metric, SessionRollup
from salestalk_lib.contract.settings import Settings
from salestalk_lib.contract.vocab import BatchStatus
from salestalk_lib.dynamo.endpoint import Endpoint, resolve_endpoint
from salestalk_lib.dynamo.retry import MAX_SLEEP_SECONDS, Attempt, Retrier
from salestalk_lib.dynamo.storage import Storage
from salestalk_lib.ops.batches import BatchState
from salestalk_lib.ops.connection import SalesTalk, connect
from salestalk_lib.ops.ingest import Ingestor, MessageMode, MetricMode, Outcome, TenantGate, metric_version
from salestalk_lib.testing.faults import FaultProfile, faulty_endpoint
from salestalk_lib.testing.samples import sample_messages, sample_metrics

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# The CLI example's rates, plus timeouts, conflicts and unprocessed batch items. The read timeout leaves
# a loaded machine's engine (a JVM on two busy cores) time to answer: only injected timeouts may time out.
PROFILE = FaultProfile.parse(
    "throttle=0.2,error5xx=0.05,reset=0.02,timeout=0.004,lost=0.03,conflict=0.02,unprocessed=0.15,seed=7,read_timeout=3"
)
RETRYABLE_CODES = {
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "ConnectionClosedError",
    "ReadTimeoutError",
    "TransactionConflict",
    "TransactionConflictException",
    "UnprocessedItems",
    "RollupChanged",
}


@pytest.fixture(scope="module")
def server(engine: str) -> Endpoint:
    proc, url = start_server(engine)
    try:
        yield resolve_endpoint(url)
    finally:
        stop_server(proc)


def onboard(st: SalesTalk, tenant: str) -> SalesTalk:
    """Register the tenant (tables, then an active registry item): ingestion writes for active tenants only."""
    st.tenants().onboard(tenant, name=f"Proof tenant {tenant}", owner_email=f"owner@{tenant}.example.com")
    return st


def open_tenant(server: Endpoint, tenant: str) -> SalesTalk:
    st = connect(endpoint=server, settings=Settings(table_prefix="proof-", environment="test"))
    return onboard(st, tenant)


class RecordingSleep:
    """Sleeps a tenth of each delay the policy asks for, and remembers what it asked."""

    def __init__(self) -> None:
        self.asked: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.asked.append(seconds)
        time.sleep(seconds / 10)


def stored_messages(st: SalesTalk, tenant: str, sessions: set[str]) -> list[dict]:
    table = st.settings.table_name("messages", tenant)
    out: list[dict] = []
    for sid in sorted(sessions):
        start = None
        while True:
            items, start = st.storage.query(
                table, index="SessionIndex", key_condition="sessionId = :s", values={":s": sid}, start_key=start
            )
            out += items
            if start is None:
                break
    return out


def stored_metrics(st: SalesTalk, tenant: str, subjects: set[str]) -> list[dict]:
    table = st.settings.table_name("metrics", tenant)
    out: list[dict] = []
    for subject in sorted(subjects):
        start = None
        while True:
            items, start = st.storage.query(
                table, key_condition="pk = :pk", values={":pk": f"METRIC#{subject}"}, start_key=start, consistent=True
            )
            out += items
            if start is None:
                break
    return out


def assert_rollups_exact(st: SalesTalk, tenant: str, messages: list[Message]) -> None:
    table = st.settings.table_name("messages", tenant)
    by_session: dict[str, list[Message]] = {}
    for m in messages:
        by_session.setdefault(m.session_id, []).append(m)
    for sid, ms in by_session.items():
        stored = st.storage.get_item(table, {"pk": f"SESSION#{sid}", "sk": "METADATA"})
        assert stored == SessionRollup.of_messages(ms).to_item(), f"rollup of session {sid} is not exact"


def assert_stored_exactly(st: SalesTalk, tenant: str, messages: list[Message], metrics: list[Metric]) -> None:
    """Every record stored once, byte for byte; nothing else in the partitions; rollups exact."""
    got = stored_messages(st, tenant, {m.session_id for m in messages})
    assert len(got) == len(messages), "a message is missing or doubled"
    assert {g["pk"]: g for g in got} == {m.pk: m.to_item() for m in messages}
    got = stored_metrics(st, tenant, {m.subject.value for m in metrics})
    assert len(got) == len(metrics), "a metric is missing or doubled"
    assert {(g["pk"], g["sk"]): g for g in got} == {(m.pk, m.sk): m.to_item() for m in metrics}
    assert_rollups_exact(st, tenant, messages)


# The default write paths (packed messages, metric transactions) send a request per ~50-100 records, so the
# same records meet far fewer faults: this profile draws each kind often enough that every one happens.
PACKED_PROFILE = FaultProfile.parse(
    "throttle=0.15,error5xx=0.04,reset=0.02,timeout=0.015,lost=0.05,conflict=0.08,unprocessed=0.3,seed=7,read_timeout=3"
)
WRITE_PATHS = {
    # one request per record: conditional PutItem per metric, one TransactWriteItems per message
    "per-record": (PROFILE, {"metric_mode": MetricMode.CONDITIONAL, "message_mode": MessageMode.SINGLE}),
    # the defaults of Ingestor.ingest and salestalk ingest
    "default": (PACKED_PROFILE, {}),
}


@pytest.mark.parametrize("path", list(WRITE_PATHS))
def test_a_thousands_of_records_under_faults_end_exact(server, path):
    profile, modes = WRITE_PATHS[path]
    tenant = f"proof-faults-{path}"
    st = open_tenant(server, tenant)
    messages = sample_messages(tenant, 600, sessions=40, seed=1)
    metrics = sample_metrics(tenant, 600, seed=2)
    bulk = sample_metrics(tenant, 1000, seed=3, first_day=datetime(2010, 1, 1, tzinfo=UTC))
    sleep = RecordingSleep()
    with faulty_endpoint(server, profile) as faulty:
        ing = Ingestor(Storage(faulty.client()), st.settings, retrier=Retrier(sleep=sleep, seed=7))
        first = ing.ingest([*messages, *metrics], workers=6, **modes)
        loaded = ing.bulk_load_metrics(bulk, workers=4)
        again = ing.ingest([*messages[:100], *metrics[:100]], workers=6, **modes)
        injected = Counter(faulty.proxy.counts)
        assert faulty.proxy.errors == []

    # Every fault kind of the profile really happened.
    assert set(injected) == set(profile.rates), injected
    # Every outcome is accounted for: each record created once, or found as our own lost write.
    for report, n in ((first, 1200), (loaded, 1000), (again, 200)):
        assert len(report.results) == n
        assert report.ok and report.stats.exhausted == 0
    for kind, n in (("message", 600), ("metric", 600)):
        counts = first.counts(kind)
        assert set(counts) <= {"created", "already_exists"}
        assert counts["created"] + counts["already_exists"] == n
    assert loaded.counts() == {"written": 1000}  # a last-writer-wins bulk load proves nothing new
    assert again.counts() == {"already_exists": 200}
    lost_own_writes = [r for r in first.results if r.outcome is Outcome.ALREADY_EXISTS]
    assert all(r.ambiguous for r in lost_own_writes)
    assert len(lost_own_writes) <= injected["lost"] * (1 if path == "per-record" else 100)
    if path == "per-record":  # a PutItem resent after a lost response meets its own write
        assert lost_own_writes
    else:  # a transaction resent with its ClientRequestToken is answered as the first one: created, once
        assert [r for r in first.results if r.ambiguous and r.outcome is Outcome.CREATED], "no lost response seen"
    # No retry budget exceeded, no single sleep above the cap, nothing non-retryable retried.
    for report in (first, loaded, again):
        assert set(report.retries_by_code) <= RETRYABLE_CODES
        assert report.stats.max_retries_used["transient"] <= 5
        assert report.stats.max_retries_used["throttling"] <= 10
    assert sleep.asked and max(sleep.asked) <= MAX_SLEEP_SECONDS
    # Nothing lost, nothing doubled, every rollup count exact.
    assert_stored_exactly(st, tenant, messages, [*metrics, *bulk])
    # One metrics.ingested.v1 per batch, outcomes adding up.
    assert [
        (e.data.count, e.data.outcomes.created + e.data.outcomes.already_exists + e.data.outcomes.written)
        for e in (*first.events, *loaded.events)
    ] == [(600, 600), (1000, 1000)]


def test_b_threads_ingesting_the_same_records_create_each_once(server):
    tenant = "proof-threads"
    st = open_tenant(server, tenant)
    messages = sample_messages(tenant, 80, sessions=4, seed=4)  # few sessions: rollups under contention
    metrics = sample_metrics(tenant, 80, seed=5)
    records = [*messages, *metrics]
    writers = 4
    reports = [None] * writers
    barrier = threading.Barrier(writers)

    def writer(k: int) -> None:
        order = list(records)
        if k % 2:
            random.Random(k).shuffle(order)
        ing = Ingestor(st.storage, st.settings, retrier=Retrier(sleep=RecordingSleep(), seed=k))
        barrier.wait()
        reports[k] = ing.ingest(order, workers=2)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(writers)]
    [t.start() for t in threads]
    [t.join() for t in threads]

    outcomes: dict[str, Counter] = {}
    for report in reports:
        assert report.ok and report.stats.exhausted == 0
        for r in report.results:
            outcomes.setdefault(r.key, Counter())[r.outcome.value] += 1
    assert len(outcomes) == len(records)
    for key, c in outcomes.items():
        assert c == {"created": 1, "already_exists": writers - 1}, f"{key}: {c}"
    assert_stored_exactly(st, tenant, messages, metrics)


def test_c_validation_and_conditional_failures_are_never_retried(server):
    tenant = "proof-no-retry"
    st = open_tenant(server, tenant)
    m = sample_messages(tenant, 1, seed=6)[0]
    with faulty_endpoint(server, FaultProfile()) as faulty:  # no faults: the proxy only counts requests
        attempts: list[Attempt] = []
        ing = Ingestor(Storage(faulty.client()), st.settings, retrier=Retrier(hooks=[attempts.append], seed=1))

        bad = {**m.to_item(), "sender": "robot"}
        with pytest.raises(ValidationFailed, match="sender"):
            ing.ingest([m, bad])
        assert sum(faulty.proxy.requests.values()) == 0 and attempts == []

        assert ing.ingest_message(m).outcome is Outcome.CREATED
        changed = Message.from_item({**m.to_item(), "text": "something else"})
        before = faulty.proxy.requests["TransactWriteItems"]
        result = ing.ingest_message(changed)
        assert result.outcome is Outcome.CONFLICT
        assert (result.requests, result.retries) == (1, 0)
        assert faulty.proxy.requests["TransactWriteItems"] == before + 1
        assert attempts[-1].outcome == "fail" and attempts[-1].error_code == "ConditionalCheckFailed"

        metric = sample_metrics(tenant, 1, seed=6)[0]
        ing.ingest_metric(metric)
        result = ing.ingest_metric(Metric.from_item({**metric.to_item(), "value": Decimal("-1")}))
        assert result.outcome is Outcome.CONFLICT and (result.requests, result.retries) == (1, 0)

        storage = Storage(faulty.client())
        table = st.settings.table_name("metrics", tenant)
        requests_before = sum(faulty.proxy.requests.values())
        with pytest.raises(RequestRejected) as info:  # DynamoDB's own ValidationException
            ing.retrier.call("PutItem", lambda: storage.put_item(table, {"pk": metric.pk, "sk": ""}))
        assert info.value.code == "ValidationException"
        # A tenant that is not registered is refused after one registry read, and nothing is sent for it.
        stranger = Message.from_item({**m.to_item(), "tenantId": "proof-unregistered"})
        with pytest.raises(TenantNotActive, match="not registered"):
            ing.ingest_message(stranger)
        assert sum(faulty.proxy.requests.values()) == requests_before + 2
        assert faulty.proxy.requests["TransactWriteItems"] == before + 1
        # A registered tenant whose tables are gone: TableNotFound is not retried.
        orphan = "proof-no-tables"
        onboard(st, orphan)
        for kind in ("messages", "metrics"):
            st.storage.delete_table(st.settings.table_name(kind, orphan))
            wait_gone(st, st.settings.table_name(kind, orphan))
        requests_before = sum(faulty.proxy.requests.values())
        with pytest.raises(TableNotFound):
            ing.ingest_message(Message.from_item({**m.to_item(), "tenantId": orphan}))
        assert sum(faulty.proxy.requests.values()) == requests_before + 2  # its status, then one transaction
    assert not [a for a in attempts if a.outcome == "retry"]


def wait_gone(st: SalesTalk, table: str, timeout: float = 60.0) -> None:
    """Wait until DescribeTable no longer finds `table` (a deleted table may be DELETING for a while)."""
    deadline = time.monotonic() + timeout
    while st.storage.describe_table(table) is not None:
        assert time.monotonic() < deadline, f"{table} still exists after {timeout:.0f}s"
        time.sleep(0.1)


def test_d_lost_responses_end_created_or_already_exists_never_conflict(server):
    # The engine-independent invariant of a lost response: the retry ends created (an engine that honours
    # the transaction's ClientRequestToken replays it: DynamoDB) or already_exists (one that does not finds
    # its own write: moto) — never a conflict, never counted twice (assert_stored_exactly, rollups below).
    tenant = "proof-lost"
    st = open_tenant(server, tenant)
    # In time order per session, so every first attempt is the write that succeeds (see the end).
    sessions = sample_messages(tenant, 3, sessions=3, seed=8)
    messages = [
        Message.create(
            tenant_id=tenant,
            session_id=sessions[n % 3].session_id,
            sender="user",
            text=f"turn {n}",
            at=datetime(2025, 11, 9, 10, 0, n, tzinfo=UTC),
            message_id=sample_messages(tenant, 1, seed=100 + n)[0].message_id,
        )
        for n in range(20)
    ]
    metrics = sample_metrics(tenant, 20, seed=9)
    with faulty_endpoint(server, FaultProfile()) as faulty:
        # The tenant's status is read once (a clock that stands still), so the lost responses below are
        # always the writes' own; `ingest` calls read it afresh first, and the fault is armed after that read.
        ing = Ingestor(
            Storage(faulty.client()),
            st.settings,
            retrier=Retrier(sleep=RecordingSleep(), seed=2),
            gate=TenantGate(clock=lambda: 0.0),
        )
        ing.require_active(tenant)

        def lose_first_response(*, after_status_read: bool = False) -> list:
            """Lose the next write's response; heal as soon as the retrier decides to retry."""

            def arm() -> None:
                faulty.proxy.profile = FaultProfile(lost=1.0)

            def hook(attempt: Attempt) -> None:
                if attempt.outcome == "retry":
                    faulty.proxy.profile = FaultProfile()
                elif after_status_read and attempt.operation == "GetItem" and attempt.outcome == "ok":
                    arm()

            if not after_status_read:
                arm()
            return [hook]

        wrote = {Outcome.CREATED, Outcome.ALREADY_EXISTS}
        for record in [*messages, *metrics]:
            hooks = lose_first_response()
            result = (
                ing.ingest_message(record, hooks=hooks)
                if isinstance(record, Message)
                else ing.ingest_metric(record, hooks=hooks)
            )
            assert result.outcome in wrote, result
            assert result.ambiguous and result.retries == 1
        assert faulty.proxy.counts["lost"] == 40
        assert_stored_exactly(st, tenant, messages, metrics)

        # A correction whose response is lost: the retry finds its own write, and the version moves once.
        fixed = Metric.from_item({**metrics[0].to_item(), "value": Decimal("42")})
        stored = ing.correct_metric(fixed, expected_version=1, hooks=lose_first_response())
        table = st.settings.table_name("metrics", tenant)
        now = st.storage.get_item(table, {"pk": fixed.pk, "sk": fixed.sk})
        assert now == stored.to_item() and metric_version(now) == 2

        # A transactional chunk whose response is lost: all created (token replayed) or all already_exists,
        # none a conflict.
        chunk = sample_metrics(tenant, 30, seed=10, first_day=datetime(2012, 1, 1, tzinfo=UTC))
        # (record_batch=False: the first write is then the transaction itself, not the batch record.)
        report = ing.ingest(
            chunk,
            metric_mode=MetricMode.TRANSACTION,
            hooks=lose_first_response(after_status_read=True),
            record_batch=False,
        )
        assert report.counts() in ({"created": 30}, {"already_exists": 30})
        # A batch whose response is lost is simply sent again (same items, same content).
        batch = sample_metrics(tenant, 30, seed=11, first_day=datetime(2013, 1, 1, tzinfo=UTC))
        report = ing.ingest(
            batch,
            metric_mode=MetricMode.BATCH,
            check_existing=False,
            hooks=lose_first_response(after_status_read=True),
            record_batch=False,
        )
        assert report.counts() == {"written": 30}
        # A batch record whose creation lost its response: the retry finds the record it wrote (its own
        # run token), so the batch is new; its records are created once and one event is sent.
        recorded = sample_metrics(tenant, 10, seed=12, first_day=datetime(2014, 1, 1, tzinfo=UTC))
        report = ing.ingest(recorded, batch_id="lost-begin", hooks=lose_first_response(after_status_read=True))
        assert report.batches[tenant].state is BatchState.NEW and report.counts() == {"created": 10}
        assert len(report.events) == 1 and report.events[0].event_id == report.batches[tenant].event_id
        assert report.batches[tenant].record.status is BatchStatus.COMPLETED

        # The lost response of a transaction that was *cancelled* (this message is older than the
        # session's newest, so the first rollup guess was wrong) hid a write that never happened:
        # it ends created, after one more round, and is still counted once.
        late = Message.create(
            tenant_id=tenant,
            session_id=sessions[0].session_id,
            sender="user",
            text="late",
            at=datetime(2025, 11, 9, 9, 0, tzinfo=UTC),
            message_id=sample_messages(tenant, 1, seed=99)[0].message_id,
        )
        result = ing.ingest_message(late, hooks=lose_first_response())
        assert (result.outcome, result.requests, result.retries) == (Outcome.CREATED, 3, 1)
        assert faulty.proxy.counts["lost"] == 45
        messages.append(late)
    assert_rollups_exact(st, tenant, messages)
    got = {(g["pk"], g["sk"]): g for g in stored_metrics(st, tenant, {m.subject.value for m in metrics})}
    expected = [stored, *metrics[1:], *chunk, *batch, *recorded]
    assert got == {(m.pk, m.sk): m.to_item() for m in expected}
