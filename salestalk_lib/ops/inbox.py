"""Event processing idempotency (contract §4: "event processing, eventId, conditional write").

Events are delivered at least once: an EventBridge retry, a resent batch event
(see `salestalk_lib.ops.batches`), a consumer restarted mid-way. `process_once`
makes a handler's effect happen once per `eventId` and tenant. Before the
handler runs, the consumer *claims* the event with a conditional write of a
`ProcessedEvent` record in the tenant's messages table (`EVENT#{eventId}` /
`METADATA`, kept 30 days); after the handler returns, the claim becomes
`processed`. What is stored decides each delivery:

| stored record | delivery |
|---|---|
| none, or its `ttl` has passed | `processed`: claimed, handled, marked processed |
| processed | `duplicate`: the handler is not called |
| claimed by another delivery less than the lease ago | `in_flight`: not called; deliver again later |
| claimed longer ago than the lease (its consumer died) | taken over: `processed` |

If the handler raises, the claim is withdrawn and the error propagates, so a
redelivery runs it again. On Ctrl-C inside the handler the withdrawal is tried
once, without retries (an interrupt is never held up by a retry loop); if that
fails, the claim lapses after the lease. A claim's `claimToken` names its delivery: a claim
retried after its response was lost finds its own token and goes on. A handler
must finish within the lease (default 5 minutes): after it, another delivery
may take the claim over and run the handler again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from salestalk_lib.contract import keys
from salestalk_lib.contract.errors import (
    ConditionFailed,
    IsolationViolation,
    RetryBudgetExhausted,
    StorageError,
    ValidationFailed,
)
from salestalk_lib.contract.models import EventEnvelope, ProcessedEvent
from salestalk_lib.contract.validation import validate_record
from salestalk_lib.contract.vocab import EventProcessing
from salestalk_lib.dynamo.retry import Retrier
from salestalk_lib.dynamo.scope import TenantScope
from salestalk_lib.dynamo.writes import CreateOnce, Outcome, put_once
from salestalk_lib.ops.events import utc_now

DEFAULT_LEASE_SECONDS = 300
CLAIM_CONDITION = (
    "attribute_not_exists(pk) OR #ttl <= :now OR claimToken = :token OR (#status = :processing AND claimedAt <= :stale)"
)
DONE_UPDATE = "SET #status = :processed, processedAt = :now"
MINE = "#status = :processing AND claimToken = :token"
MAX_CLAIM_ROUNDS = 3
"""A claim whose stored record vanished between the failed write and the read is tried again at most this often."""


class Delivery(StrEnum):
    """How one delivery of an event ended (see the module docstring)."""

    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    IN_FLIGHT = "in_flight"


def as_event(event: EventEnvelope | Mapping[str, Any]) -> EventEnvelope:
    """A validated event envelope (a raw record is validated against its event type's model)."""
    if isinstance(event, EventEnvelope):
        return event
    model, violations = validate_record(event, "<event>")
    if violations or not isinstance(model, EventEnvelope):
        raise ValidationFailed(violations or [])
    return model


def process_once(
    scope: TenantScope,
    event: EventEnvelope | Mapping[str, Any],
    handler: Callable[[EventEnvelope], None],
    *,
    retrier: Retrier | None = None,
    now: Callable[[], datetime] = utc_now,
    lease_seconds: int = DEFAULT_LEASE_SECONDS,
    new_token: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> Delivery:
    """Run `handler(event)` unless this tenant already processed (or is processing) `event.eventId`."""
    event = as_event(event)
    if event.tenant_id != scope.tenant_id:
        raise IsolationViolation(
            f"event {event.event_id} belongs to tenant {event.tenant_id!r}, not to "
            f"{scope.tenant_id!r}: process it in its own tenant's scope"
        )
    retrier = retrier or Retrier()
    table, storage = scope.messages_table, scope.storage
    key = {"pk": keys.event_pk(event.event_id), "sk": keys.event_sk()}
    claim = _claim(scope, event, retrier, now, lease_seconds, new_token)
    if isinstance(claim, Delivery):
        return claim
    mine = {":processing": EventProcessing.PROCESSING.value, ":token": claim.claim_token}

    def withdraw() -> None:
        storage.delete_item(table, key, condition=MINE, names={"#status": "status"}, values=mine)

    try:
        handler(event)
    except Exception:
        try:  # withdraw the claim so that a redelivery runs the handler again
            retrier.call("DeleteItem", withdraw)
        except ConditionFailed:
            pass  # the lease ran out and another delivery holds the claim now
        raise
    except BaseException:
        # Ctrl-C (or SystemExit) inside the handler: one attempt to withdraw, never a retry loop, so the
        # interrupt is not held up. If it fails, the claim lapses after the lease and is taken over.
        try:
            withdraw()
        except StorageError:
            pass
        raise
    done_at = max(Decimal(int(now().timestamp())), claim.claimed_at)
    try:
        retrier.call(
            "UpdateItem",
            lambda: storage.update_item(
                table,
                key,
                update=DONE_UPDATE,
                condition=MINE,
                names={"#status": "status"},
                values={**mine, ":processed": EventProcessing.PROCESSED.value, ":now": Decimal(done_at)},
            ),
        )
    except ConditionFailed:
        pass  # the lease ran out and another delivery took the claim over; it will mark the event itself
    return Delivery.PROCESSED


def _claim(
    scope: TenantScope,
    event: EventEnvelope,
    retrier: Retrier,
    now: Callable[[], datetime],
    lease_seconds: int,
    new_token: Callable[[], str],
) -> ProcessedEvent | Delivery:
    """Claim the event (the claim written) or say why not (duplicate, in flight); bounded rounds."""
    key = {"pk": keys.event_pk(event.event_id), "sk": keys.event_sk()}
    claims: list[ProcessedEvent] = []

    def request() -> CreateOnce:  # each round is a new claim: a new token and the time of now
        claimed_at = int(now().timestamp())
        claim = ProcessedEvent.claim(event, claim_token=new_token(), claimed_at=claimed_at)
        claims.append(claim)
        values = {
            ":now": Decimal(claimed_at),
            ":token": claim.claim_token,
            ":processing": EventProcessing.PROCESSING.value,
            ":stale": Decimal(claimed_at - lease_seconds),
        }
        return CreateOnce(claim.to_item(), CLAIM_CONDITION, {"#ttl": "ttl", "#status": "status"}, values)

    def classify(stored: dict[str, Any], new: dict[str, Any]) -> Outcome:
        """The inbox compares states: a processed event is `already_exists` (a duplicate); one claimed by
        another delivery within its lease is a `conflict` (in flight). Leases and own tokens are the condition's."""
        record = ProcessedEvent.from_item(stored, tenant_id=scope.tenant_id)
        return Outcome.ALREADY_EXISTS if record.status is EventProcessing.PROCESSED else Outcome.CONFLICT

    result = put_once(
        scope.storage,
        scope.messages_table,
        request,
        key,
        retrier,
        classify=classify,
        rounds=MAX_CLAIM_ROUNDS,
        vanished=lambda failure: RetryBudgetExhausted(
            f"event {event.event_id}: its claim kept vanishing between a failed claim and the read",
            attempts=MAX_CLAIM_ROUNDS,
            last_error=failure,
        ),
    )
    if result.outcome is Outcome.CREATED:
        return claims[-1]
    return Delivery.DUPLICATE if result.outcome is Outcome.ALREADY_EXISTS else Delivery.IN_FLIGHT


def read_processed(scope: TenantScope, event_id: str, *, retrier: Retrier | None = None) -> ProcessedEvent | None:
    """The tenant's processing record of `event_id` (a GetItem), or None."""
    key = {"pk": keys.event_pk(event_id), "sk": keys.event_sk()}
    item = (retrier or Retrier()).call("GetItem", lambda: scope.storage.get_item(scope.messages_table, key))
    return None if item is None else ProcessedEvent.from_item(item, tenant_id=scope.tenant_id)
