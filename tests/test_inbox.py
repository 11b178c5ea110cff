"""Event processing idempotency (contract §4): each eventId handled once per tenant (salestalk_lib.ops.inbox)."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from salestalk_lib.contract import keys
from salestalk_lib.contract.errors import ConditionFailed, IsolationViolation, RetryBudgetExhausted, ValidationFailed
from salestalk_lib.contract.models import EVENT_RETENTION_SECONDS, ProcessedEvent
from salestalk_lib.contract.settings import Settings
from salestalk_lib.contract.validation import validate_record
from salestalk_lib.contract.vocab import EventProcessing
from salestalk_lib.dynamo.retry import DEFAULT_POLICY, Retrier, RetryPolicy
from salestalk_lib.dynamo.scope import TenantScope
from salestalk_lib.dynamo.storage import Storage
from salestalk_lib.ops import inbox
from salestalk_lib.ops.connection import SalesTalk, connect
from salestalk_lib.ops.events import metrics_ingested
from salestalk_lib.ops.inbox import Delivery, process_once, read_processed
from salestalk_lib.testing.faults import FaultProfile, faulty_endpoint
from salestalk_lib.testing.samples import sample_metrics

pytestmark = pytest.mark.integration

TENANT, OTHER = "inbox-a", "inbox-b"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def conn(endpoint) -> SalesTalk:
    st = connect(settings=Settings(table_prefix=f"inb{uuid.uuid4().hex[:8]}-"), endpoint=endpoint)
    st.provision([TENANT, OTHER])
    return st


def event(tenant: str = TENANT, event_id: str | None = None):
    metrics = sample_metrics(tenant, 3, seed=1)
    return metrics_ingested(
        tenant_id=tenant,
        batch_id="b-1",
        metrics=metrics,
        outcomes={"created": 3},
        correlation_id="b-1",
        event_id=event_id or str(uuid.uuid4()),
        now=lambda: NOW,
    )


def deliver(scope: TenantScope, ev, handler, *, at: datetime = NOW, **kw) -> Delivery:
    return process_once(scope, ev, handler, retrier=Retrier.virtual(seed=1), now=lambda: at, **kw)


def test_an_event_is_handled_once_and_its_redeliveries_are_duplicates(conn):
    scope, ev, calls = conn.tenant(TENANT), event(), []
    assert deliver(scope, ev, calls.append) is Delivery.PROCESSED
    assert deliver(scope, ev, calls.append, at=NOW + timedelta(days=29)) is Delivery.DUPLICATE
    assert deliver(scope, ev.to_item(), calls.append) is Delivery.DUPLICATE  # a raw record is validated first
    assert calls == [ev]
    record = read_processed(scope, ev.event_id)
    assert record.status is EventProcessing.PROCESSED and record.processed_at == int(NOW.timestamp())
    assert record.ttl == record.claimed_at + 30 * 86_400 and record.event_type == "metrics.ingested.v1"
    item = conn.storage.get_item(scope.messages_table, {"pk": keys.event_pk(ev.event_id), "sk": "METADATA"})
    assert not {"timestamp", "sessionId", "sender"} & set(item)  # out of SessionIndex and SenderIndex


def test_a_failing_handler_withdraws_the_claim_so_a_redelivery_runs_it_again(conn):
    scope, ev, calls = conn.tenant(TENANT), event(), []

    def broken(e):
        calls.append(e)
        raise RuntimeError("downstream unavailable")

    with pytest.raises(RuntimeError, match="downstream unavailable"):
        deliver(scope, ev, broken)
    assert read_processed(scope, ev.event_id) is None
    assert deliver(scope, ev, calls.append) is Delivery.PROCESSED and len(calls) == 2


def test_ctrl_c_in_the_handler_withdraws_the_claim_in_one_attempt_without_retries(conn, endpoint):
    # Cleanup after an interrupt must not run a retry storm: with every request throttled, the withdrawal is
    # tried once (not the 11 attempts of the throttling budget), and the interrupt goes on at once.
    scope, ev = conn.tenant(TENANT), event()
    with faulty_endpoint(endpoint, FaultProfile(read_timeout=10)) as faulty:
        faulty_scope = TenantScope.open(Storage(faulty.client()), conn.settings, TENANT)

        def interrupted(e):
            faulty.proxy.profile = FaultProfile(throttle=1.0, read_timeout=10)
            raise KeyboardInterrupt

        before = faulty.proxy.requests["DeleteItem"]
        with pytest.raises(KeyboardInterrupt):
            deliver(faulty_scope, ev, interrupted)
        assert faulty.proxy.requests["DeleteItem"] == before + 1
    # Without faults the single attempt withdraws the claim, so a redelivery runs the handler.
    calls: list = []

    def stopped(e):
        raise KeyboardInterrupt

    other = event()
    with pytest.raises(KeyboardInterrupt):
        deliver(scope, other, stopped)
    assert read_processed(scope, other.event_id) is None
    assert deliver(scope, other, calls.append) is Delivery.PROCESSED and calls == [other]


def test_a_claim_that_keeps_vanishing_gives_up_after_a_bounded_number_of_rounds(conn, monkeypatch):
    # Each claim attempt fails its condition, but the stored record is gone by the time it is read: the
    # delivery tries again a bounded number of times (it used to recurse without end), then gives up.
    scope, ev = conn.tenant(TENANT), event()
    rounds = []

    def claim_exists(table, item, **kw):
        rounds.append(1)
        raise ConditionFailed("the claim exists", item=None, code="ConditionalCheckFailed")

    monkeypatch.setattr(scope.storage, "put_item", claim_exists)
    monkeypatch.setattr(scope.storage, "get_item", lambda table, key, **kw: None)
    with pytest.raises(RetryBudgetExhausted, match="kept vanishing"):
        deliver(scope, ev, lambda e: None)
    assert len(rounds) == inbox.MAX_CLAIM_ROUNDS


def test_a_delivery_during_processing_is_in_flight_and_does_not_run_the_handler(conn):
    scope, ev, seen = conn.tenant(TENANT), event(), []

    def handler(e):
        seen.append(deliver(scope, e, lambda _: seen.append("second handler ran")))

    assert deliver(scope, ev, handler) is Delivery.PROCESSED
    assert seen == [Delivery.IN_FLIGHT]


def test_a_claim_older_than_the_lease_is_taken_over(conn):
    scope, ev, calls = conn.tenant(TENANT), event(), []
    stale = ProcessedEvent.claim(ev, claim_token=str(uuid.uuid4()), claimed_at=int(NOW.timestamp()) - 301)
    conn.storage.put_item(scope.messages_table, stale.to_item())  # a consumer that died mid-way
    assert deliver(scope, ev, calls.append, lease_seconds=300) is Delivery.PROCESSED and calls == [ev]
    fresh = ProcessedEvent.claim(event(), claim_token=str(uuid.uuid4()), claimed_at=int(NOW.timestamp()) - 299)
    conn.storage.put_item(scope.messages_table, fresh.to_item())
    assert deliver(scope, event(event_id=fresh.event_id), calls.append) is Delivery.IN_FLIGHT and len(calls) == 1


def test_a_claim_whose_response_was_lost_is_recognised_as_its_own(conn):
    scope, ev, calls = conn.tenant(TENANT), event(), []
    token = "5d0c7b0e-4f3a-4b2c-9d1e-0f9a8b7c6d5e"
    ours = ProcessedEvent.claim(ev, claim_token=token, claimed_at=int(NOW.timestamp()))
    conn.storage.put_item(scope.messages_table, ours.to_item())  # applied, but the answer never came back
    assert deliver(scope, ev, calls.append, new_token=lambda: token) is Delivery.PROCESSED and calls == [ev]


def test_lost_responses_and_throttling_on_the_real_path_still_handle_once(conn, endpoint):
    events, calls = [event() for _ in range(30)], Counter()
    # A 10 s read timeout: only the injected faults fail a request, never a slow, loaded machine (with the
    # default 1 s one this failed once). No `timeout` fault is injected, so the timeout never waits.
    # The retry budget fits the injected rates: with the default 5 transient retries, one of the ~150
    # requests runs out of them in about 4 % of runs (6 lost responses before a success: 0.25**6 each),
    # and an event left unprocessed is not what this test is about. 20 retries: below 1e-10 per run.
    rules = tuple(replace(r, max_retries=20) if r.name == "transient" else r for r in DEFAULT_POLICY.rules)
    retrier = Retrier.virtual(seed=1, policy=RetryPolicy(rules=rules))
    with faulty_endpoint(endpoint, FaultProfile(lost=0.2, throttle=0.2, seed=4, read_timeout=10)) as faulty:
        scope = TenantScope.open(Storage(faulty.client()), conn.settings, TENANT)
        for ev in events:
            for _ in range(2):  # every event delivered twice
                process_once(scope, ev, lambda e: calls.update([e.event_id]), retrier=retrier, now=lambda: NOW)
        assert faulty.proxy.counts["lost"] > 0
    assert sorted(calls.values()) == [1] * len(events)
    assert all(read_processed(conn.tenant(TENANT), ev.event_id).status is EventProcessing.PROCESSED for ev in events)


def test_concurrent_deliveries_run_the_handler_exactly_once(conn):
    scope, ev = conn.tenant(TENANT), event()
    calls, outcomes, start = [], [], threading.Barrier(8)

    def handler(e):
        calls.append(e)
        time.sleep(0.05)  # long enough for the others to arrive while the claim is held

    def consumer():
        start.wait()
        outcomes.append(process_once(scope, ev, handler, retrier=Retrier.virtual(seed=1), now=lambda: NOW))

    threads = [threading.Thread(target=consumer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert Counter(outcomes)[Delivery.PROCESSED] == 1 and len(outcomes) == 8
    assert set(outcomes) <= {Delivery.PROCESSED, Delivery.IN_FLIGHT, Delivery.DUPLICATE}


def test_an_expired_record_no_longer_counts(conn):
    scope, ev, calls = conn.tenant(TENANT), event(), []
    deliver(scope, ev, calls.append)
    assert deliver(scope, ev, calls.append, at=NOW + timedelta(seconds=EVENT_RETENTION_SECONDS)) is Delivery.PROCESSED
    assert len(calls) == 2


def test_an_event_is_processed_only_in_its_own_tenants_scope(conn):
    with pytest.raises(IsolationViolation, match="belongs to tenant 'inbox-b'"):
        deliver(conn.tenant(TENANT), event(OTHER), lambda e: None)
    with pytest.raises(ValidationFailed):
        deliver(conn.tenant(TENANT), {**event().to_item(), "eventVersion": "2.0"}, lambda e: None)


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"ttl": 1}, "ttl", "must be claimedAt + 30 days"),
        ({"status": "processed"}, "processedAt", "is required once the event is processed"),
        ({"processedAt": 1_764_072_000}, "processedAt", "must be absent while the event is being processed"),
        ({"status": "processed", "processedAt": 1_764_071_999}, "processedAt", "must be ≥ claimedAt"),
        ({"pk": "EVENT#0b0e9f0e-8a9f-4c1e-9d6f-3c2b1a0f9e8d"}, "pk", "(built from eventId)"),
        ({"claimToken": "not-a-uuid"}, "claimToken", ""),
        ({"status": "done"}, "status", ""),
    ],
)
def test_a_processed_event_record_breaking_a_rule_is_named(changes, field, rule):
    base = ProcessedEvent.claim(
        event(event_id="9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"),
        claim_token="5d0c7b0e-4f3a-4b2c-9d1e-0f9a8b7c6d5e",
        claimed_at=1_764_072_000,
    ).to_item()
    model, violations = validate_record({**base, **changes}, "events.jsonl:1")
    assert model is None
    assert any(v.field == field and rule in v.rule for v in violations), [str(v) for v in violations]
