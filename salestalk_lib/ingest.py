"""Idempotent ingestion of messages and metrics (contract §4), safe under retries and concurrency.

**Messages.** One TransactWriteItems per message: a Put of the message with
`attribute_not_exists(pk)` and an Update of its session rollup
(`SESSION#{sessionId}` / `METADATA`). Either both happen or neither, so the
rollup's `messageCount` counts each message exactly once, however often the
write is retried. The rollup's first/last message times are kept exact without
reading first: each Update is conditional on where the new message falls
(new session, newest message, earliest message, or in between), and when the
condition is false the stored rollup returned by DynamoDB says which case
applies; contention between writers of one session backs off like a
transaction conflict. The rollup never gets `timestamp` or `sender`, so it
stays out of SessionIndex and SenderIndex.

**Metrics.** A conditional PutItem per metric (or transactional chunks, or a
checked BatchWriteItem bulk load: see `WRITE_MODES`). Corrections are explicit:
`correct_metric(metric, expected_version=n)` replaces the stored metric only if
its version is still `n`, and stores version `n + 1`. The version lives in
`metadata.version` (absent means 1): the Metric model refuses unknown top-level
attributes, and the contract allows free-form metadata.

**Outcomes.** `created`; `already_exists` (an item with the same key and the
same content is stored: a duplicate, or our own earlier attempt whose response
was lost); `conflict` (same key, different content: `IngestConflict` shows both
versions, nothing is overwritten); `failed` (the retry budget was spent). A
retried write whose first response was lost finds its own write, compares
equal and ends as `already_exists` (or `created` where DynamoDB honours the
transaction's ClientRequestToken) — never as a conflict, never counted twice.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from math import ceil
from typing import Any

from . import keys
from .batches import BatchLedger, BatchStart, BatchState, plan_batch, unix_now
from .errors import (
    ConditionFailed,
    IngestConflict,
    RetryBudgetExhausted,
    TransactionConflict,
    ValidationFailed,
    Violation,
)
from .events import DEFAULT_SOURCE, EventSink, MemorySink, metrics_ingested, utc_now
from .models import BatchOutcomes, ContractModel, EventEnvelope, Message, Metric, item_size_bytes
from .retry import Attempt, Retrier, RetryStats
from .settings import Settings
from .storage import Storage
from .scope import TenantScope
from .validation import RecordKind, ValidRecord, cross_check, validate_record
from .writes import Outcome

BATCH_WRITE_LIMIT = 25
BATCH_GET_LIMIT = 100
TRANSACTION_LIMIT = 100
VERSION_FIELD = "version"


class MetricMode(StrEnum):
    """How metrics are written (see `WRITE_MODES`)."""

    CONDITIONAL = "conditional"
    TRANSACTION = "transaction"
    BATCH = "batch"


@dataclass(frozen=True)
class WriteMode:
    """What a write mode guarantees and what it costs (rendered in the docs by `write_mode_table`)."""

    name: str
    api: str
    items_per_request: int
    guarantees: str
    existing_items: str
    requests: str
    capacity: str


WRITE_MODES: tuple[WriteMode, ...] = (
    WriteMode(
        "conditional", "PutItem with attribute_not_exists(pk)", 1,
        "per item: never overwrites; each item's outcome is exact (created, already_exists, conflict)",
        "detected atomically by the condition; DynamoDB returns the stored item to compare",
        "1 per item (+1 GetItem only if the stored item is not returned)",
        "1 WCU per KB per item; a failed condition still costs the WCUs",
    ),
    WriteMode(
        "transaction", "TransactWriteItems of ≤ 100 conditional Puts", TRANSACTION_LIMIT,
        "all-or-nothing per chunk; never overwrites; an existing item cancels its chunk, which is then "
        "resolved item by item",
        "detected atomically; a cancelled chunk falls back to conditional per item",
        "1 per 100 items (+1 per item of a cancelled chunk)",
        "2 WCU per KB per item (transactions cost double)",
    ),
    WriteMode(
        "batch", "BatchGetItem (≤ 100) existence check, then BatchWriteItem (≤ 25)", BATCH_WRITE_LIMIT,
        "fastest; no per-item condition: an item written by someone else between the check and the write "
        "is overwritten (last writer wins); UnprocessedItems are resent with backoff, never dropped",
        "detected by the pre-read (not atomic); skipped when check_existing=False",
        "1 per 100 items (check) + 1 per 25 items (write), plus resends of unprocessed items",
        "1 WCU per KB per item written + 1 RCU per 4 KB per item checked (strongly consistent)",
    ),
    WriteMode(
        "message", "TransactWriteItems: Put message + Update session rollup", 1,
        "message and rollup together or not at all; the message is never overwritten; the rollup count "
        "is exact under retries and concurrency",
        "detected atomically; the stored message is compared with the incoming one",
        "1 per message (+1 per rollup-state mismatch, +1 GetItem if the stored item is not returned)",
        "2 WCU per KB of the message + 2 WCU per KB of the rollup",
    ),
)


def write_mode_table() -> list[dict[str, str]]:
    """`WRITE_MODES` as rows for the docs."""
    return [{"mode": m.name, "API": m.api, "items/request": str(m.items_per_request), "guarantees": m.guarantees,
             "existing items": m.existing_items, "requests": m.requests, "capacity": m.capacity}
            for m in WRITE_MODES]


def write_cost(mode: MetricMode | str, items: Sequence[Mapping[str, Any]], *, check_existing: bool = True
               ) -> dict[str, int]:
    """Requests and capacity units to write `items` into an empty table with `mode` (no retries)."""
    mode = MetricMode(mode)
    kb = [max(1, ceil(item_size_bytes(i) / 1024)) for i in items]
    n = len(items)
    if mode is MetricMode.CONDITIONAL:
        return {"requests": n, "wcu": sum(kb), "rcu": 0}
    if mode is MetricMode.TRANSACTION:
        return {"requests": ceil(n / TRANSACTION_LIMIT), "wcu": 2 * sum(kb), "rcu": 0}
    reads = ceil(n / BATCH_GET_LIMIT) if check_existing else 0
    rcu = sum(max(1, ceil(item_size_bytes(i) / 4096)) for i in items) if check_existing else 0
    return {"requests": reads + ceil(n / BATCH_WRITE_LIMIT), "wcu": sum(kb), "rcu": rcu}


@dataclass(frozen=True)
class IngestResult:
    """How one record's ingestion ended, and what it took.

    `ambiguous` is True when an attempt failed in a way that may have been
    applied (timeout, reset, 5xx): an `already_exists` after it is most likely
    this call's own write whose response was lost.
    """

    kind: str
    tenant_id: str
    key: str
    outcome: Outcome
    requests: int = 1
    retries: int = 0
    ambiguous: bool = False
    conflict: IngestConflict | None = None
    error: BaseException | None = None

    def raise_for_conflict(self) -> None:
        """Raise the IngestConflict if the outcome is a conflict (or the error if it failed)."""
        if self.conflict is not None:
            raise self.conflict
        if self.error is not None:
            raise self.error


@dataclass
class IngestReport:
    """Every record's result, retries by error code, events sent and time taken."""

    results: list[IngestResult]
    seconds: float
    stats: RetryStats
    events: list[EventEnvelope] = field(default_factory=list)
    batch_id: str = ""
    batches: dict[str, BatchStart] = field(default_factory=dict)
    """Each tenant's batch record (`salestalk_lib.batches`) and how its share started: new, resumed or replayed."""

    @property
    def replayed(self) -> bool:
        """True when every tenant's share of the batch had already completed: nothing was written or sent."""
        return bool(self.batches) and all(b.state is BatchState.REPLAYED for b in self.batches.values())

    def counts(self, kind: str | None = None) -> Counter[str]:
        """Outcome -> number of records (optionally of one kind: message, metric)."""
        return Counter(r.outcome.value for r in self.results if kind is None or r.kind == kind)

    @property
    def conflicts(self) -> list[IngestConflict]:
        return [r.conflict for r in self.results if r.conflict is not None]

    @property
    def failures(self) -> list[IngestResult]:
        return [r for r in self.results if r.outcome is Outcome.FAILED]

    @property
    def ok(self) -> bool:
        """No conflicts and no failures."""
        return not self.conflicts and not self.failures

    @property
    def retries_by_code(self) -> Counter[str]:
        return self.stats.retries_by_code

    def summary_rows(self) -> list[dict[str, Any]]:
        """One row per record kind with the count of each outcome."""
        rows = []
        for kind in sorted({r.kind for r in self.results}):
            c = self.counts(kind)
            rows.append({"kind": kind, "records": sum(c.values()),
                         **{o.value: c.get(o.value, 0) for o in Outcome if o is not Outcome.WRITTEN or c.get(o.value)}})
        return rows


class _Tracker:
    """Per-record attempt hook: requests sent, retries, and whether an ambiguous failure happened."""

    __slots__ = ("requests", "retries", "ambiguous")

    def __init__(self) -> None:
        self.requests = 0
        self.retries = 0
        self.ambiguous = False

    def __call__(self, attempt: Attempt) -> None:
        if not attempt.partial:  # a backoff before re-sending unprocessed work sends nothing itself
            self.requests += 1
        if attempt.outcome == "retry":
            self.retries += 1
        if attempt.rule == "transient":
            self.ambiguous = True


def metric_version(metric: Metric | Mapping[str, Any]) -> int:
    """A metric's correction version: `metadata.version`, 1 when absent."""
    metadata = metric.metadata if isinstance(metric, Metric) else metric.get("metadata")
    return int((metadata or {}).get(VERSION_FIELD, 1))


def with_version(metric: Metric, version: int) -> Metric:
    """The same metric stamped with `metadata.version = version` (validated again)."""
    item = metric.to_item()
    item["metadata"] = {**item.get("metadata", {}), VERSION_FIELD: Decimal(version)}
    return Metric.from_item(item)


def _message_key(m: Message) -> dict[str, str]:
    return {"pk": m.pk, "sk": m.sk}


def _rollup_key(session_id: str) -> dict[str, str]:
    return {"pk": keys.session_pk(session_id), "sk": keys.session_sk()}


def _rollup_case(stored: Mapping[str, Any] | None, m: Message) -> str:
    """Where message `m` falls in a session's stored rollup: new, newest, earliest or middle."""
    if stored is None:
        return "new"
    t, mid = m.timestamp, m.message_id
    last, last_id = stored["lastMessageAt"], stored.get("lastMessageId")
    if last < t or (last == t and (last_id is None or last_id < mid)):
        return "newest"
    if stored["firstMessageAt"] > t:
        return "earliest"
    return "middle"


_NEWEST = "(lastMessageAt < :t OR (lastMessageAt = :t AND (attribute_not_exists(lastMessageId) OR lastMessageId < :mid)))"
_NOT_NEWEST = "(lastMessageAt > :t OR (lastMessageAt = :t AND lastMessageId > :mid))"
# case -> (update, condition); each condition holds exactly when `_rollup_case` names that case.
_ROLLUP_UPDATES: dict[str, tuple[str, str]] = {
    "new": ("SET tenantId = :tid, sessionId = :sid, messageCount = :one, firstMessageAt = :t, "
            "lastMessageAt = :t, lastMessageId = :mid", "attribute_not_exists(pk)"),
    "newest": ("SET lastMessageAt = :t, lastMessageId = :mid ADD messageCount :one",
               f"attribute_exists(pk) AND {_NEWEST}"),
    "earliest": ("SET firstMessageAt = :t ADD messageCount :one",
                 f"attribute_exists(pk) AND firstMessageAt > :t AND {_NOT_NEWEST}"),
    "middle": ("ADD messageCount :one", f"attribute_exists(pk) AND firstMessageAt <= :t AND {_NOT_NEWEST}"),
}


def rollup_update(case: str, m: Message) -> dict[str, Any]:
    """The UpdateItem parts (expression, condition, values) that count message `m` in its rollup."""
    update, condition = _ROLLUP_UPDATES[case]
    values: dict[str, Any] = {":t": m.timestamp, ":one": Decimal(1)}
    if ":mid" in update + condition:
        values[":mid"] = m.message_id
    if case == "new":
        values.update({":tid": m.tenant_id, ":sid": m.session_id})
    return {"UpdateExpression": update, "ConditionExpression": condition, "ExpressionAttributeValues": values}


def _new_token() -> str:
    return str(uuid.uuid4())


class Ingestor:
    """Writes messages and metrics idempotently through the storage seam and the retry policy.

    Everything that varies is injected: the retrier (sleep, clock, seed), the
    event sink, the clock and id factory for events and batch ids, and the
    ClientRequestToken factory.
    """

    def __init__(self, storage: Storage, settings: Settings, *, retrier: Retrier | None = None,
                 sink: EventSink | None = None, source: str = DEFAULT_SOURCE,
                 now: Callable[[], datetime] = utc_now, new_id: Callable[[], str] = keys.new_uuid4,
                 new_token: Callable[[], str] = _new_token):
        self.storage = storage
        self.settings = settings
        self.retrier = retrier or Retrier()
        self.sink: EventSink = sink if sink is not None else MemorySink()
        self.source = source
        self.now = now
        self.new_id = new_id
        self.new_token = new_token
        self._sessions: set[tuple[str, str]] = set()  # rollups known to exist: a hint, never trusted
        self._scopes: dict[str, TenantScope] = {}
        self._lock = threading.Lock()

    # --- helpers ------------------------------------------------------------------

    def scope(self, tenant_id: str) -> TenantScope:
        """The tenant's scope: every request for its records goes through it (isolation by construction)."""
        with self._lock:
            if tenant_id not in self._scopes:
                self._scopes[tenant_id] = TenantScope.open(self.storage, self.settings, tenant_id)
            return self._scopes[tenant_id]

    def _call(self, operation: str, fn: Callable[[], Any], hooks: Sequence[Callable[[Attempt], None]]) -> Any:
        return self.retrier.call(operation, fn, hooks=hooks)

    def _get(self, storage: Storage, table: str, key: Mapping[str, Any],
             hooks: Sequence[Callable[[Attempt], None]]) -> dict[str, Any] | None:
        return self._call("GetItem", lambda: storage.get_item(table, key), hooks)

    @staticmethod
    def _resolve(key: str, stored: dict[str, Any], incoming: dict[str, Any]) -> tuple[Outcome, IngestConflict | None]:
        if stored == incoming:
            return Outcome.ALREADY_EXISTS, None
        return Outcome.CONFLICT, IngestConflict(key, stored, incoming)

    # --- messages -----------------------------------------------------------------

    def ingest_message(self, message: Message | Mapping[str, Any], *,
                       hooks: Sequence[Callable[[Attempt], None]] = ()) -> IngestResult:
        """Write one message and count it in its session rollup, atomically and idempotently.

        Returns created / already_exists / conflict; raises ValidationFailed for an
        invalid record and RetryBudgetExhausted when the retry policy gives up.
        """
        m = _as_model(message, Message)
        tracker = _Tracker()
        outcome, conflict = self._write_message(m, (tracker, *hooks))
        return IngestResult("message", m.tenant_id, m.pk, outcome, tracker.requests, tracker.retries,
                            tracker.ambiguous, conflict)

    def _write_message(self, m: Message, hooks: Sequence[Callable[[Attempt], None]]
                       ) -> tuple[Outcome, IngestConflict | None]:
        scope = self.scope(m.tenant_id)
        storage, table = scope.storage, scope.messages_table
        item = m.to_item()
        session = (table, m.session_id)
        case = "newest" if session in self._sessions else "new"
        mismatches = 0
        while True:
            actions = [
                {"Put": {"TableName": table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Update": {"TableName": table, "Key": _rollup_key(m.session_id), **rollup_update(case, m)}},
            ]
            # One token per distinct request: resends of this exact transaction are idempotent in
            # DynamoDB, and a different request never reuses a token (that would be rejected).
            token = self.new_token()
            try:
                self._call("TransactWriteItems", lambda: storage.transact_write(actions, token=token), hooks)
                with self._lock:
                    self._sessions.add(session)
                return Outcome.CREATED, None
            except ConditionFailed as exc:
                stored = exc.item
            if stored is None:  # the endpoint did not return the item: look for the message first
                stored = self._get(storage, table, _message_key(m), hooks)
                if stored is None:
                    stored = self._get(storage, table, _rollup_key(m.session_id), hooks)
            if stored is not None and stored.get("pk") == m.pk:
                with self._lock:  # a stored message means its session's rollup exists too
                    self._sessions.add(session)
                return self._resolve(m.pk, stored, item)
            # The rollup is not in the state we guessed: its stored state says which update applies.
            with self._lock:
                if stored is None:
                    self._sessions.discard(session)
                else:
                    self._sessions.add(session)
            case = _rollup_case(stored, m)
            mismatches += 1
            if mismatches > 1:  # a second mismatch means other writers are updating this session now
                self.retrier.backoff("TransactWriteItems", "transaction_conflict", mismatches - 1,
                                     "RollupChanged", hooks=hooks,
                                     last_error=TransactionConflict(f"session rollup of {m.session_id} kept "
                                                                    "changing", code="RollupChanged"))

    # --- metrics ------------------------------------------------------------------

    def ingest_metric(self, metric: Metric | Mapping[str, Any], *,
                      hooks: Sequence[Callable[[Attempt], None]] = ()) -> IngestResult:
        """Conditionally create one metric: created / already_exists / conflict (never an overwrite)."""
        m = _as_model(metric, Metric)
        tracker = _Tracker()
        outcome, conflict = self._put_metric(m, (tracker, *hooks))
        return IngestResult("metric", m.tenant_id, _metric_label(m), outcome, tracker.requests, tracker.retries,
                            tracker.ambiguous, conflict)

    def _put_metric(self, m: Metric, hooks: Sequence[Callable[[Attempt], None]]
                    ) -> tuple[Outcome, IngestConflict | None]:
        scope = self.scope(m.tenant_id)
        storage, table = scope.storage, scope.metrics_table
        item = m.to_item()
        while True:
            try:
                self._call("PutItem", lambda: storage.put_item(table, item, condition="attribute_not_exists(pk)"),
                           hooks)
                return Outcome.CREATED, None
            except ConditionFailed as exc:
                stored = exc.item or self._get(storage, table, {"pk": m.pk, "sk": m.sk}, hooks)
            if stored is not None:
                return self._resolve(_metric_label(m), stored, item)
            # Deleted between the failed condition and the read: try the create again.

    def correct_metric(self, metric: Metric | Mapping[str, Any], *, expected_version: int,
                       hooks: Sequence[Callable[[Attempt], None]] = ()) -> Metric:
        """Replace a stored metric only if its version is still `expected_version`; store version + 1.

        Returns the stored corrected metric. Raises IngestConflict (showing the
        stored and the intended item) when the metric is missing or its version
        moved on. A retry whose first response was lost finds its own correction
        and succeeds.
        """
        m = _as_model(metric, Metric)
        if not isinstance(expected_version, int) or isinstance(expected_version, bool) or expected_version < 1:
            raise ValidationFailed([Violation(_metric_label(m), "expectedVersion", "must be an integer ≥ 1")])
        corrected = with_version(m, expected_version + 1)
        item = corrected.to_item()
        scope = self.scope(m.tenant_id)
        storage, table = scope.storage, scope.metrics_table
        names = {"#md": "metadata", "#v": VERSION_FIELD}
        if expected_version == 1:
            condition, values = "attribute_exists(pk) AND attribute_not_exists(#md.#v)", None
        else:
            condition, values = "attribute_exists(pk) AND #md.#v = :expected", {":expected": Decimal(expected_version)}
        try:
            self._call("PutItem", lambda: storage.put_item(table, item, condition=condition, names=names,
                                                            values=values), hooks)
            return corrected
        except ConditionFailed as exc:
            stored = exc.item or self._get(storage, table, {"pk": m.pk, "sk": m.sk}, hooks)
        if stored == item:
            return corrected
        if stored is None:
            raise IngestConflict(f"{_metric_label(m)} (no stored metric to correct)", {}, item)
        raise IngestConflict(f"{_metric_label(m)} (expected version {expected_version}, stored version "
                             f"{metric_version(stored)})", stored, item)

    def _transaction_chunk(self, indexes: list[int], chunk: list[Metric],
                           hooks: Sequence[Callable[[Attempt], None]], trackers: list[_Tracker],
                           finish: Callable[..., None]) -> None:
        """Up to 100 metrics of one tenant in one all-or-nothing transaction of conditional Puts."""
        scope = self.scope(chunk[0].tenant_id)
        storage, table = scope.storage, scope.metrics_table
        actions = [{"Put": {"TableName": table, "Item": m.to_item(), "ConditionExpression": "attribute_not_exists(pk)"}}
                   for m in chunk]
        token = self.new_token()
        shared = _Tracker()
        try:
            self._call("TransactWriteItems", lambda: storage.transact_write(actions, token=token), (shared, *hooks))
            settled = False
        except ConditionFailed:
            settled = True
        for i in indexes:
            trackers[i].requests += shared.requests
            trackers[i].retries += shared.retries
            trackers[i].ambiguous |= shared.ambiguous
        for i, m in zip(indexes, chunk):
            if settled:  # some item exists: the chunk was cancelled, so settle each by its own write
                finish(i, *self._put_metric(m, (trackers[i], *hooks)))
            else:
                finish(i, Outcome.CREATED)

    def _batch_get(self, storage: Storage, table: str, wanted: list[dict[str, Any]],
                   hooks: Sequence[Callable[[Attempt], None]]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        retry = 0
        while wanted:
            items, wanted = self._call("BatchGetItem", lambda: storage.batch_get(table, wanted), hooks)
            found.extend(items)
            if wanted:
                retry += 1
                self.retrier.backoff("BatchGetItem", "throttling", retry, "UnprocessedKeys", hooks=hooks)
        return found

    def _batch_write(self, storage: Storage, table: str, items: list[dict[str, Any]],
                     hooks: Sequence[Callable[[Attempt], None]]) -> None:
        retry = 0
        while items:
            left = self._call("BatchWriteItem", lambda: storage.batch_write(table, items), hooks)
            if left:
                retry += 1
                self.retrier.backoff("BatchWriteItem", "throttling", retry, "UnprocessedItems", hooks=hooks)
            items = left

    # --- many records -------------------------------------------------------------

    def ingest(self, records: Iterable[Message | Metric | Mapping[str, Any]], *, workers: int = 4,
               metric_mode: MetricMode | str = MetricMode.CONDITIONAL, check_existing: bool = True,
               batch_id: str | None = None, progress: Callable[[int], None] | None = None,
               hooks: Sequence[Callable[[Attempt], None]] = (), record_batch: bool = True) -> IngestReport:
        """Validate every record, then write them all as one batch; one `metrics.ingested.v1` event per tenant.

        Nothing is written if any record is invalid (ValidationFailed lists every
        violation) or if `batch_id` was already recorded for other records
        (BatchConflict). With `record_batch` (the default), each tenant's share is
        recorded under `batch_id` (a new id when None) before its first record,
        so running the same batch again within 30 days replays it: nothing is
        written and no event is sent twice (see `salestalk_lib.batches`).
        Records are written by `workers` threads; `progress(n)` is called as
        records finish. A record whose retries are exhausted is reported as
        failed; the others still complete.
        """
        started = time.perf_counter()
        models = validate_for_ingest(records)
        batch = keys.validate_batch_id(batch_id) if batch_id is not None else self.new_id()
        mode = MetricMode(metric_mode)
        stats = RetryStats()
        hooks = (stats, *hooks)
        results: list[IngestResult | None] = [None] * len(models)
        trackers = [_Tracker() for _ in models]
        starts = self._begin_batch(batch, models, hooks) if record_batch else {}
        replayed = {t for t, b in starts.items() if b.state is BatchState.REPLAYED}

        def finish(i: int, outcome: Outcome, conflict: IngestConflict | None = None,
                   error: BaseException | None = None) -> None:
            m, t = models[i], trackers[i]
            kind, label = ("message", m.pk) if isinstance(m, Message) else ("metric", _metric_label(m))
            results[i] = IngestResult(kind, m.tenant_id, label, outcome, t.requests, t.retries, t.ambiguous,
                                      conflict, error)

        def one(i: int) -> int:
            m, t = models[i], trackers[i]
            try:
                if isinstance(m, Message):
                    finish(i, *self._write_message(m, (t, *hooks)))
                else:
                    finish(i, *self._put_metric(m, (t, *hooks)))
            except RetryBudgetExhausted as exc:
                finish(i, Outcome.FAILED, error=exc)
            return 1

        def chunk_task(indexes: list[int]) -> int:
            chunk = [models[i] for i in indexes]
            try:
                if mode is MetricMode.TRANSACTION:
                    self._transaction_chunk(indexes, chunk, hooks, trackers, finish)
                else:
                    self._batch_chunk(indexes, chunk, check_existing, hooks, trackers, finish)
            except RetryBudgetExhausted as exc:
                for i in indexes:
                    if results[i] is None:
                        finish(i, Outcome.FAILED, error=exc)
            return len(indexes)

        tasks: list[Callable[[], int]] = []
        metric_groups: dict[str, list[int]] = {}
        for i, m in enumerate(models):
            if m.tenant_id in replayed:  # its share of the batch completed before: stored, nothing to send
                finish(i, Outcome.ALREADY_EXISTS)
                if progress:
                    progress(1)
            elif isinstance(m, Metric) and mode is not MetricMode.CONDITIONAL:
                metric_groups.setdefault(m.tenant_id, []).append(i)
            else:
                tasks.append(lambda i=i: one(i))
        size = TRANSACTION_LIMIT if mode is MetricMode.TRANSACTION else BATCH_GET_LIMIT
        for indexes in metric_groups.values():
            for start in range(0, len(indexes), size):
                tasks.append(lambda ix=indexes[start:start + size]: chunk_task(ix))

        _run(tasks, workers, progress)
        done = [r for r in results if r is not None]
        assert len(done) == len(models), "every record must have a result"
        event_ids = {t: b.event_id for t, b in starts.items() if b.event_id is not None}
        events = self._emit_metrics_events(models, done, batch, skip=replayed, event_ids=event_ids)
        starts = self._complete_batch(starts, done, hooks)
        return IngestReport(done, time.perf_counter() - started, stats, events, batch, starts)

    def _begin_batch(self, batch_id: str, models: Sequence[ContractModel],
                     hooks: Sequence[Callable[[Attempt], None]]) -> dict[str, BatchStart]:
        """Record (or find) each tenant's share of the batch before any record is written."""
        ledger = BatchLedger(self.retrier, self.new_id)
        now = unix_now(self.now())
        starts: dict[str, BatchStart] = {}
        try:
            for tenant_id, plan in plan_batch(models).items():
                starts[tenant_id] = ledger.begin(self.scope(tenant_id), batch_id, plan, now, hooks)
        except BaseException:
            # Another tenant's share conflicts (or the budget ran out): withdraw the records this call
            # created, so that nothing of the batch stays behind.
            for tenant_id, start in starts.items():
                if start.state is BatchState.NEW:
                    scope = self.scope(tenant_id)
                    key = {"pk": start.record.pk, "sk": start.record.sk}
                    self._call("DeleteItem", lambda s=scope, k=key: s.storage.delete_item(s.messages_table, k), hooks)
            raise
        return starts

    def _complete_batch(self, starts: dict[str, BatchStart], results: Sequence[IngestResult],
                        hooks: Sequence[Callable[[Attempt], None]]) -> dict[str, BatchStart]:
        """Complete each tenant's share whose records all succeeded; the others stay in progress."""
        ledger = BatchLedger(self.retrier, self.new_id)
        now = unix_now(self.now())
        done: dict[str, BatchStart] = {}
        for tenant_id, start in starts.items():
            counts = Counter(r.outcome.value for r in results if r.tenant_id == tenant_id)
            if start.state is BatchState.REPLAYED or not set(counts) <= set(BatchOutcomes.model_fields):
                done[tenant_id] = start
                continue
            try:
                record = ledger.complete(self.scope(tenant_id), start, counts, now, hooks)
            except RetryBudgetExhausted:
                done[tenant_id] = start  # left in progress: running the batch again resumes it
                continue
            done[tenant_id] = BatchStart(record, start.state)
        return done

    def _batch_chunk(self, indexes: list[int], chunk: list[Metric], check_existing: bool,
                     hooks: Sequence[Callable[[Attempt], None]], trackers: list[_Tracker],
                     finish: Callable[..., None]) -> None:
        """Up to 100 metrics of one tenant: check which exist, then BatchWriteItem the new ones.

        Each record is finished as soon as its fate is known, so a later failure
        in the chunk never relabels records that were already written.
        """
        scope = self.scope(chunk[0].tenant_id)
        storage, table = scope.storage, scope.metrics_table
        items = [m.to_item() for m in chunk]
        shared = _Tracker()
        hooks = (shared, *hooks)

        def share() -> None:  # the chunk's requests are shared by its records
            for i in indexes:
                trackers[i].requests, trackers[i].retries = shared.requests, shared.retries
                trackers[i].ambiguous = shared.ambiguous

        stored: dict[tuple[str, str], dict[str, Any]] = {}
        try:
            if check_existing:
                found = self._batch_get(storage, table, [{"pk": i["pk"], "sk": i["sk"]} for i in items], hooks)
                stored = {(s["pk"], s["sk"]): s for s in found}
            to_write: list[tuple[int, dict[str, Any]]] = []
            for i, m, item in zip(indexes, chunk, items):
                old = stored.get((m.pk, m.sk))
                if old is None:
                    to_write.append((i, item))
                else:
                    share()
                    finish(i, *self._resolve(_metric_label(m), old, item))
            outcome = Outcome.CREATED if check_existing else Outcome.WRITTEN
            for start in range(0, len(to_write), BATCH_WRITE_LIMIT):
                part = to_write[start:start + BATCH_WRITE_LIMIT]
                self._batch_write(storage, table, [item for _, item in part], hooks)
                share()
                for i, _ in part:
                    finish(i, outcome)
        finally:
            share()

    def bulk_load_metrics(self, metrics: Iterable[Metric | Mapping[str, Any]], *, workers: int = 4,
                          check_existing: bool = True, batch_id: str | None = None,
                          progress: Callable[[int], None] | None = None) -> IngestReport:
        """Validate and load many metrics with BatchGetItem + BatchWriteItem (see `WRITE_MODES`)."""
        return self.ingest(metrics, workers=workers, metric_mode=MetricMode.BATCH, check_existing=check_existing,
                           batch_id=batch_id, progress=progress)

    # --- events -------------------------------------------------------------------

    def _emit_metrics_events(self, models: Sequence[ContractModel], results: Sequence[IngestResult],
                             batch_id: str, *, skip: Collection[str] = (),
                             event_ids: Mapping[str, str] | None = None) -> list[EventEnvelope]:
        """One event per tenant with metrics (none for `skip`); its id from the batch record when there is one."""
        by_tenant: dict[str, list[tuple[Metric, IngestResult]]] = {}
        for m, r in zip(models, results):
            if isinstance(m, Metric) and m.tenant_id not in skip:
                by_tenant.setdefault(m.tenant_id, []).append((m, r))
        events: list[EventEnvelope] = []
        for tenant_id, pairs in sorted(by_tenant.items()):
            counts = Counter(r.outcome.value for _, r in pairs)
            counts["created"] += counts.pop(Outcome.WRITTEN.value, 0)
            events.append(metrics_ingested(tenant_id=tenant_id, batch_id=batch_id, metrics=[m for m, _ in pairs],
                                           outcomes=counts, correlation_id=batch_id, source=self.source,
                                           event_id=(event_ids or {}).get(tenant_id) or self.new_id(),
                                           now=self.now))
        if events:
            self.sink.send(events)
        return events


def _metric_label(m: Metric) -> str:
    return f"{m.pk} {m.sk}"


def _as_model(record: Any, model: type[ContractModel]) -> Any:
    if isinstance(record, model):
        return record
    validated, violations = validate_record(record, "<record>")
    if violations:
        raise ValidationFailed(violations)
    if not isinstance(validated, model):
        raise ValidationFailed([Violation("<record>", "(record)", f"must be a {model.__name__.lower()} record, "
                                                                   f"got a {type(validated).__name__}")])
    return validated


def validate_for_ingest(records: Iterable[Message | Metric | Mapping[str, Any]], *, where: str = "<records>"
                        ) -> list[Message | Metric]:
    """Validate records for ingestion (each one's rules and the rules between them); all-or-nothing.

    Only messages and metrics are ingested: session rollups are derived, and
    tenants and events have their own paths. Raises ValidationFailed listing
    every violation.
    """
    valid: list[ValidRecord] = []
    violations: list[Violation] = []
    for n, record in enumerate(records, start=1):
        label = f"{where}:{n}"
        if isinstance(record, (Message, Metric)):
            valid.append(ValidRecord(label, RecordKind.MESSAGE if isinstance(record, Message) else RecordKind.METRIC,
                                     record))
            continue
        model, problems = validate_record(record, label)
        violations.extend(problems)
        if model is None:
            continue
        if not isinstance(model, (Message, Metric)):
            violations.append(Violation(label, "(record)", f"is a {type(model).__name__} record; ingest takes "
                                                           "messages and metrics only"))
            continue
        valid.append(ValidRecord(label, RecordKind.MESSAGE if isinstance(model, Message) else RecordKind.METRIC,
                                 model))
    violations.extend(cross_check(valid))
    if violations:
        raise ValidationFailed(violations)
    return [r.model for r in valid]  # type: ignore[misc]


def _run(tasks: list[Callable[[], int]], workers: int, progress: Callable[[int], None] | None) -> None:
    if workers <= 1:
        for task in tasks:
            n = task()
            if progress:
                progress(n)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="salestalk-ingest") as pool:
        for future in as_completed([pool.submit(task) for task in tasks]):
            n = future.result()
            if progress:
                progress(n)
