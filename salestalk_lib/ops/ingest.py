"""Idempotent ingestion of messages and metrics (contract §4, §7), safe under retries, races and Ctrl-C.

**Messages.** One TransactWriteItems per message, three actions:

1. a Put of its identity item (`MSGID#{messageId}` / `METADATA`, `models.MessageIdentity`) with
   `attribute_not_exists(pk)`;
2. a Put of the message (`MSG#{messageId}` / its time) with `attribute_not_exists(pk)`;
3. an Update of its session rollup (`SESSION#{sessionId}` / `METADATA`).

All three happen or none does. The identity item is what makes `messageId`
the message's identity *whatever its time* (contract §7): the message's own key
includes its time, and a DynamoDB condition only tests the item it writes, so
`attribute_not_exists(pk)` on the message cannot see the same id stored at
another time. The identity item's key is the id alone, so two writers of one id
race for one key and DynamoDB lets exactly one transaction win; the loser is
cancelled and settled from the cancellation reasons (which hold the stored
items): the same content is `already_exists`, anything else (its time included)
a `conflict`, and nothing of it is written. This is AWS's "simulating unique
constraints with transactions"; it is race-free by construction, not a read
before the write. It costs one small extra item (2 WCU in the transaction) per
message. `message_puts` builds actions 1-2: the per-message unit a packed
transaction (many messages, one rollup update per session) can reuse.

**Packed messages** (`MessageMode.PACKED`, the default of `ingest` and of
`salestalk ingest`; `MessageMode.SINGLE` sends one message per transaction). Many messages of one tenant share a transaction:
actions 1-2 for each, and one rollup Update per session adding the number of
that session's messages in it (`pack_messages`: ≤ 100 actions, ≤ 4 MB, no item
twice; the transactions sharing a session are one chain, written in order by one
worker; chains run on the worker pool). A cancellation's reasons, one per action
in order, say which identity or message Puts failed: those messages are settled
as above and the others sent again in a new transaction (a new token) with their
sessions' counts recomputed. A rollup is only incremented by the transaction that
creates the identity items of the messages it counts, so no resend — the same
token within DynamoDB's 10-minute window (answered with the first answer), or a
new request after it — can count a message twice: its identity Puts fail.

The rollup's `messageCount` counts each message exactly once, however often the
write is retried. Its first/last message times are kept exact without reading
first: each Update is conditional on where the new message falls (new session,
newest message, earliest message, or in between), and when the condition is
false the stored rollup returned by DynamoDB says which case applies;
contention between writers of one session backs off like a transaction
conflict. The rollup never gets `timestamp` or `sender`, so it stays out of
SessionIndex and SenderIndex.

**Metrics.** Transactional chunks of up to 100 conditional Puts (the default,
`MetricMode.TRANSACTION`), or a conditional PutItem per metric, or a
last-writer-wins BatchWriteItem bulk load: see `WRITE_MODES`. A metric's
identity is its primary key: tenant (its table) + subject + `sk`. Corrections
are explicit: `correct_metric(metric, expected_version=n)` replaces the stored
metric only if its version is still `n`, and stores version `n + 1`. The
version lives in `metadata.version` (absent means 1): the Metric model refuses
unknown top-level attributes, and the contract allows free-form metadata.

**Only active, registered tenants receive data** (contract §7). Before
anything is written, `ingest` reads each tenant's registry item (strongly
consistent) and refuses the whole call with `TenantNotActive` when one is
missing or not `active`. Ingestion never creates tables: onboarding
(`tenants.Tenants.onboard`) and the seed loader do. During a run each tenant's
status is read again when its last read is older than `STATUS_RECHECK_SECONDS`;
once it is no longer active, its records not yet started are `skipped`. A
registry `ConditionCheck` in every transaction would close that window
entirely, and was weighed and rejected: DynamoDB makes two transactions that
touch one item conflict (`TransactionConflict`) even when both only check it,
so every message transaction of a tenant, from every writer, would contend on
its one registry item (and a suspension's own update would fight them); it
would also put every ingest write on the shared registry table's capacity and
not work for the BatchWriteItem and PutItem modes at all. A bounded window of a
few seconds, the same for every write mode, is the documented trade.

**Outcomes.** `created`; `already_exists` (an item with the same identity and
the same content is stored: a duplicate, or our own earlier attempt whose
response was lost); `conflict` (same identity, different content:
`IngestConflict` shows both versions, nothing is overwritten); `written` (a
last-writer-wins bulk load wrote it without a condition: created or
overwritten, not proven new); `failed` (the retry budget was spent, or the run
stopped mid-record; `IngestResult.ambiguous` says whether it *may have been
applied* — every record is one atomic request, so never half — and running the
batch again settles it as created or already_exists); `skipped` (never
started: the run was interrupted, or the tenant stopped being active). A
retried write whose first response was lost finds its own write and ends as
`already_exists`, or as `created` where the engine honours the transaction's
ClientRequestToken (DynamoDB does, moto does not) — never as a conflict, never
counted twice.

**Interrupts.** Ctrl-C (KeyboardInterrupt in the calling thread) or a `stop`
event stops the run within seconds: no record is started after it, records in
flight get no further attempt (`Retrier.stopping`), and after at most
`STOP_GRACE_SECONDS` the call raises `IngestInterrupted` carrying the partial
report. The batch is not completed and no event is sent, so running the same
batch again resumes it and completes it exactly. Records are written by daemon
worker threads, so a request stuck in the network cannot keep the process alive.
"""

from __future__ import annotations

import functools
import itertools
import queue
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from math import ceil
from typing import Any, TypeGuard, TypeVar

from salestalk_lib.contract import keys
from salestalk_lib.contract.errors import (
    CancellationReason,
    ConditionFailed,
    IngestConflict,
    IngestInterrupted,
    Interrupted,
    RetryBudgetExhausted,
    StorageError,
    TableNotFound,
    TenantNotActive,
    TransactionConflict,
    ValidationFailed,
    Violation,
)
from salestalk_lib.contract.models import (
    BatchOutcomes,
    ContractModel,
    EventEnvelope,
    Message,
    MessageIdentity,
    Metric,
    item_size_bytes,
)
from salestalk_lib.contract.settings import Settings
from salestalk_lib.contract.validation import RecordKind, ValidRecord, cross_check, validate_record
from salestalk_lib.contract.vocab import TenantStatus
from salestalk_lib.dynamo.retry import Attempt, Retrier, RetryStats
from salestalk_lib.dynamo.scope import TenantScope
from salestalk_lib.dynamo.storage import Storage
from salestalk_lib.dynamo.writes import CREATE_ONCE, CreateOnce, Outcome, WriteResult, by_content, put_once
from salestalk_lib.ops.batches import BatchLedger, BatchPlan, BatchStart, BatchState, plan_batch, unix_now
from salestalk_lib.ops.events import DEFAULT_SOURCE, EventSink, MemorySink, metrics_ingested_summary, utc_now

BATCH_WRITE_LIMIT = 25
BATCH_GET_LIMIT = 100
TRANSACTION_LIMIT = 100
VERSION_FIELD = "version"
STATUS_RECHECK_SECONDS = 5.0
"""During a run, a tenant's registry status is read again when its last read is older than this."""
STOP_GRACE_SECONDS = 5.0
"""After a stop request, how long `ingest` waits for records in flight before it reports them as such."""
MAX_SETTLE_ROUNDS = 3
INGEST_WINDOW = 4096
"""`Ingestor.ingest_validated` reads, packs and writes this many records at a time (memory holds one window)."""
REPORT_LIMIT = 1000
"""A streamed report keeps at most this many conflicts, failures and skipped records each (and counts them all)."""
"""Rounds of a create whose stored item vanished between its failed condition and the read (then: give up)."""

Hook = Callable[[Attempt], None]
_E = TypeVar("_E", bound=BaseException)


class MessageMode(StrEnum):
    """How `ingest` writes messages: many per transaction (`packed`) or one per transaction (`single`).

    Packed is the default of `Ingestor.ingest` and `salestalk ingest` (`DEFAULT_MESSAGE_MODE`): it is the
    fastest exactly-once path (each transaction's cancellation reasons settle the messages already stored and
    the rest are sent again). `single` keeps one message per request, for a caller that wants each message's
    fate tied to its own request.
    """

    PACKED = "packed"
    SINGLE = "single"


class MetricMode(StrEnum):
    """How metrics are written (see `WRITE_MODES`)."""

    CONDITIONAL = "conditional"
    TRANSACTION = "transaction"
    BATCH = "batch"


# The defaults of `Ingestor.ingest`, `ingest_validated` and `salestalk ingest`: the fastest race-free paths
# (measured by `make bench`: on both engines and behind 5 ms per request, a transaction of up to 100
# conditional Puts beats one conditional PutItem per metric many times over, and packed messages beat one
# transaction per message). They cost 2x the WCU of plain writes; `MetricMode.CONDITIONAL` writes each metric
# with one PutItem at 1x, for a caller who prefers the cost to the speed.
DEFAULT_METRIC_MODE = MetricMode.TRANSACTION
DEFAULT_MESSAGE_MODE = MessageMode.PACKED
# Parallel writers: transactions of up to 100 items keep this many requests in flight, which hides the
# link's latency (measured behind 5 ms: 8 reach the engine's own ceiling, `make bench`'s transact_pool row).
DEFAULT_WORKERS = 8


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
    outcomes: str


WRITE_MODES: tuple[WriteMode, ...] = (
    WriteMode(
        "conditional",
        "PutItem with attribute_not_exists(pk)",
        1,
        "per item: never overwrites; each item's outcome is exact (created, already_exists, conflict)",
        "detected atomically by the condition; DynamoDB returns the stored item to compare",
        "1 per item (+1 GetItem only if the stored item is not returned)",
        "1 WCU per KB per item; a failed condition still costs the WCUs",
        "created, already_exists, conflict",
    ),
    WriteMode(
        "transaction",
        "TransactWriteItems of ≤ 100 conditional Puts",
        TRANSACTION_LIMIT,
        "all-or-nothing per chunk; never overwrites; an existing item cancels its chunk, whose cancellation "
        "reasons say which items exist: those are settled (already_exists or conflict) and the rest sent again "
        "in a new transaction",
        "detected atomically; the cancellation reasons return the stored items to compare (one per action)",
        "1 per 100 items or 4 MB (+1 per round of a cancelled chunk, sent again without the items found stored)",
        "2 WCU per KB per item (transactions cost double)",
        "created, already_exists, conflict",
    ),
    WriteMode(
        "batch",
        "BatchGetItem (≤ 100) existence check, then BatchWriteItem (≤ 25)",
        BATCH_WRITE_LIMIT,
        "last writer wins, and overwrites: BatchWriteItem takes no condition, so an item stored by another "
        "writer (or a concurrent batch run) between the check and the write is overwritten, and two runs "
        "may both write one key; the items it writes are reported written (not proven new); UnprocessedItems "
        "are resent with backoff, never dropped",
        "seen by the pre-read only (not atomic): found items are already_exists or conflict as of that read; "
        "skipped when check_existing=False",
        "1 per 100 items (check) + 1 per 25 items (write), plus resends of unprocessed items",
        "1 WCU per KB per item written + 1 RCU per 4 KB per item checked (strongly consistent)",
        "written, already_exists, conflict (never created: nothing proves a written item was new)",
    ),
    WriteMode(
        "message",
        "TransactWriteItems: Put identity item + Put message for each message, one Update per session rollup "
        "(packed: up to 49 messages, ≤ 100 actions, ≤ 4 MB; `MessageMode.SINGLE`: one message)",
        (TRANSACTION_LIMIT - 1) // 2,
        "message, identity item and rollup together or not at all; one message per messageId whatever its "
        "time (the identity item's condition decides races); never overwritten; the rollup count is exact "
        "under retries and concurrency: each rollup Update adds the number of its session's messages whose "
        "identity items the same transaction creates",
        "detected atomically; the cancellation reasons return the stored identity and message to compare: those "
        "messages are settled, the others sent again in a new transaction, their rollup counts recomputed",
        "1 per transaction (+1 per round of a cancelled one, +1 per rollup-state mismatch, +1 GetItem when a "
        "stored item is not returned, +1 when the stored message has another time)",
        "2 WCU per KB of the message + 2 WCU for its identity item (under 1 KB) + 2 WCU per KB of the rollup, "
        "once per session per transaction: transactions cost 2× the WCU of plain writes",
        "created, already_exists, conflict",
    ),
)


def write_mode_table() -> list[dict[str, str]]:
    """`WRITE_MODES` as rows for the docs."""
    return [
        {
            "mode": m.name,
            "API": m.api,
            "items/request": str(m.items_per_request),
            "guarantees": m.guarantees,
            "existing items": m.existing_items,
            "outcomes": m.outcomes,
            "requests": m.requests,
            "capacity": m.capacity,
        }
        for m in WRITE_MODES
    ]


def write_cost(
    mode: MetricMode | str, items: Sequence[Mapping[str, Any]], *, check_existing: bool = True
) -> dict[str, int]:
    """Requests and capacity units to write `items` into an empty table with `mode` (no retries)."""
    mode = MetricMode(mode)
    kb = [max(1, ceil(item_size_bytes(i) / 1024)) for i in items]
    n = len(items)
    if mode is MetricMode.CONDITIONAL:
        return {"requests": n, "wcu": sum(kb), "rcu": 0}
    if mode is MetricMode.TRANSACTION:
        packs = pack_items([item_size_bytes(i) for i in items], [(i["pk"], i["sk"]) for i in items]) if items else []
        return {"requests": len(packs), "wcu": 2 * sum(kb), "rcu": 0}
    reads = ceil(n / BATCH_GET_LIMIT) if check_existing else 0
    rcu = sum(max(1, ceil(item_size_bytes(i) / 4096)) for i in items) if check_existing else 0
    return {"requests": reads + ceil(n / BATCH_WRITE_LIMIT), "wcu": sum(kb), "rcu": rcu}


@dataclass(frozen=True)
class IngestResult:
    """How one record's ingestion ended, and what it took.

    `ambiguous` is True when an attempt failed in a way that may have been
    applied (timeout, reset, 5xx): an `already_exists` after it is most likely
    this call's own write whose response was lost, and a `failed` record with it
    *may have been applied* (see `may_have_been_applied`).
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

    @property
    def may_have_been_applied(self) -> bool:
        """A failed record whose write may have reached DynamoDB (atomically: whole or not at all).

        Running the batch again settles it: `already_exists` if it was applied, `created` if not.
        """
        return self.outcome is Outcome.FAILED and self.ambiguous

    def write_result(self, table: str, key: Mapping[str, Any]) -> WriteResult:
        """This record's outcome as the create-once `WriteResult` (both versions on a conflict)."""
        c = self.conflict
        return WriteResult(
            table,
            dict(key),
            self.outcome,
            stored=c.stored if c is not None else None,
            incoming=c.incoming if c is not None else None,
        )

    def raise_for_conflict(self) -> None:
        """Raise the IngestConflict if the outcome is a conflict (or the error if it failed)."""
        if self.conflict is not None:
            raise self.conflict
        if self.error is not None:
            raise self.error


class OutcomeTally:
    """Outcome counts (by tenant, kind and outcome) and at most `limit` each of conflicts, failures and skipped records.

    What a report keeps instead of every record's result when the input is
    streamed (`Ingestor.ingest_validated`); `limit=None` keeps every one.
    """

    def __init__(self, *, limit: int | None = REPORT_LIMIT) -> None:
        self.limit = limit
        self.counts: Counter[tuple[str, str, str]] = Counter()  # (tenant, kind, outcome) -> records
        self.conflicts: list[IngestConflict] = []
        self.failures: list[IngestResult] = []
        self.skipped: list[IngestResult] = []
        self.conflict_count = self.failure_count = self.skipped_count = self.unsure_count = 0

    @classmethod
    def of(cls, results: Iterable[IngestResult]) -> OutcomeTally:
        """The tally of `results`, keeping every conflict, failure and skipped record."""
        tally = cls(limit=None)
        for r in results:
            tally.add(r)
        return tally

    def copy(self) -> OutcomeTally:
        """An independent copy (the lists shallowly copied)."""
        other = OutcomeTally(limit=self.limit)
        other.counts = Counter(self.counts)
        other.conflicts, other.failures, other.skipped = list(self.conflicts), list(self.failures), list(self.skipped)
        other.conflict_count, other.failure_count = self.conflict_count, self.failure_count
        other.skipped_count, other.unsure_count = self.skipped_count, self.unsure_count
        return other

    def _keep(self, kept: list[Any], item: Any) -> None:
        if self.limit is None or len(kept) < self.limit:
            kept.append(item)

    def add(self, r: IngestResult) -> None:
        """Count one record's result."""
        self.counts[(r.tenant_id, r.kind, r.outcome.value)] += 1
        if r.conflict is not None:
            self.conflict_count += 1
            self._keep(self.conflicts, r.conflict)
        if r.error is not None and self.limit is not None:
            _detached(r.error)  # a kept failure must not keep its window's frames (and records) alive
        if r.outcome is Outcome.FAILED:
            self.failure_count += 1
            self.unsure_count += r.may_have_been_applied
            self._keep(self.failures, r)
        elif r.outcome is Outcome.SKIPPED:
            self.skipped_count += 1
            self._keep(self.skipped, r)

    def add_unseen(self, tenant_id: str, kind: str, n: int) -> None:
        """Count `n` records of a tenant that were never read (the run stopped first): skipped, not listed."""
        if n > 0:
            self.counts[(tenant_id, kind, Outcome.SKIPPED.value)] += n
            self.skipped_count += n

    @property
    def by_tenant_kind(self) -> Counter[tuple[str, str]]:
        """(tenant, kind) -> records."""
        out: Counter[tuple[str, str]] = Counter()
        for (tenant_id, kind, _), n in self.counts.items():
            out[(tenant_id, kind)] += n
        return out

    def outcomes(self, tenant_id: str | None = None, kind: str | None = None) -> Counter[str]:
        """Outcome -> records, optionally of one tenant and of one kind."""
        out: Counter[str] = Counter()
        for (t, k, outcome), n in self.counts.items():
            if (tenant_id is None or t == tenant_id) and (kind is None or k == kind):
                out[outcome] += n
        return out


@dataclass
class IngestReport:
    """Every record's result (or, streamed, a `tally` of them), retries by error code, events sent and time taken.

    `results` holds one `IngestResult` per record when the report comes from
    `Ingestor.ingest`. A streamed run (`Ingestor.ingest_validated`, used by
    `salestalk ingest`) leaves it empty and sets `tally`: the counts are exact,
    and `conflicts`, `failures` and `skipped` hold at most `tally.limit` each
    (`conflict_count`, `failure_count`, `skipped_count` count them all).
    """

    results: list[IngestResult]
    seconds: float
    stats: RetryStats
    events: list[EventEnvelope] = field(default_factory=list)
    batch_id: str = ""
    batches: dict[str, BatchStart] = field(default_factory=dict)
    """Each tenant's batch record (`salestalk_lib.ops.batches`) and how its share started: new, resumed or replayed."""
    interrupted: bool = False
    """True when the run stopped early (Ctrl-C or a stop request): see `IngestInterrupted`."""
    inactive: dict[str, TenantNotActive] = field(default_factory=dict)
    """Tenants that stopped being active during the run (their remaining records were skipped)."""
    tally: OutcomeTally | None = None
    """The counts and bounded lists of a streamed run (None: computed from `results`)."""

    def _tally(self) -> OutcomeTally:
        return self.tally if self.tally is not None else OutcomeTally.of(self.results)

    @property
    def replayed(self) -> bool:
        """True when every tenant's share of the batch had already completed: nothing was written or sent."""
        return bool(self.batches) and all(b.state is BatchState.REPLAYED for b in self.batches.values())

    def counts(self, kind: str | None = None) -> Counter[str]:
        """Outcome -> number of records (optionally of one kind: message, metric)."""
        if self.tally is None:
            return Counter(r.outcome.value for r in self.results if kind is None or r.kind == kind)
        return self.tally.outcomes(kind=kind)

    @property
    def total(self) -> int:
        """The number of records of the run."""
        return len(self.results) if self.tally is None else sum(self.tally.counts.values())

    @property
    def conflicts(self) -> list[IngestConflict]:
        return self._tally().conflicts

    @property
    def failures(self) -> list[IngestResult]:
        return self._tally().failures

    @property
    def skipped(self) -> list[IngestResult]:
        return self._tally().skipped

    @property
    def conflict_count(self) -> int:
        """Conflicts, all of them (`conflicts` may list fewer: see the class docstring)."""
        return self._tally().conflict_count

    @property
    def failure_count(self) -> int:
        """Failed records, all of them."""
        return self._tally().failure_count

    @property
    def unsure_count(self) -> int:
        """Failed records that may have been applied (`IngestResult.may_have_been_applied`)."""
        return self._tally().unsure_count

    @property
    def skipped_count(self) -> int:
        """Skipped records, all of them (records a stopped streamed run never read included)."""
        return self._tally().skipped_count

    @property
    def ok(self) -> bool:
        """Every record was written or found stored: no conflict, no failure, nothing skipped."""
        t = self._tally()
        return not (t.conflict_count or t.failure_count or t.skipped_count)

    @property
    def retries_by_code(self) -> Counter[str]:
        return self.stats.retries_by_code

    def summary_rows(self) -> list[dict[str, Any]]:
        """One row per record kind with the count of each outcome (written and skipped only when they occur)."""
        rows = []
        occasional = (Outcome.WRITTEN, Outcome.SKIPPED)
        kinds = {r.kind for r in self.results} if self.tally is None else {k for _, k, _ in self.tally.counts}
        for kind in sorted(kinds):
            c = self.counts(kind)
            rows.append(
                {
                    "kind": kind,
                    "records": sum(c.values()),
                    **{o.value: c.get(o.value, 0) for o in Outcome if o not in occasional or c.get(o.value)},
                }
            )
        return rows


class _Tracker:
    """Per-record attempt hook: requests sent, retries, and whether an ambiguous failure happened."""

    __slots__ = ("ambiguous", "requests", "retries")

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


def _identity_key(message_id: str) -> dict[str, str]:
    return {"pk": keys.message_identity_pk(message_id), "sk": keys.message_identity_sk()}


def _rollup_key(session_id: str) -> dict[str, str]:
    return {"pk": keys.session_pk(session_id), "sk": keys.session_sk()}


def message_puts(table: str, message: Message) -> list[dict[str, Any]]:
    """The per-message actions of a TransactWriteItems: create the identity item, then the message, each once.

    Both carry `attribute_not_exists(pk)`; on a cancellation, their two
    reasons settle the message (`Ingestor._settle_message`). The session rollup's
    Update and any request-level actions are the caller's, so a packed
    transaction can hold the units of many messages (two actions each) and one
    rollup update per session.
    """
    return [
        {
            "Put": {
                "TableName": table,
                "Item": MessageIdentity.of(message).to_item(),
                "ConditionExpression": CREATE_ONCE,
            }
        },
        {"Put": {"TableName": table, "Item": message.to_item(), "ConditionExpression": CREATE_ONCE}},
    ]


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


_NEWEST = (
    "(lastMessageAt < :t OR (lastMessageAt = :t AND (attribute_not_exists(lastMessageId) OR lastMessageId < :mid)))"
)
_NOT_NEWEST = "(lastMessageAt > :t OR (lastMessageAt = :t AND lastMessageId > :mid))"
# case -> (update, condition); each condition holds exactly when `_rollup_case` names that case.
_ROLLUP_UPDATES: dict[str, tuple[str, str]] = {
    "new": (
        "SET tenantId = :tid, sessionId = :sid, messageCount = :one, firstMessageAt = :t, "
        "lastMessageAt = :t, lastMessageId = :mid",
        "attribute_not_exists(pk)",
    ),
    "newest": (
        "SET lastMessageAt = :t, lastMessageId = :mid ADD messageCount :one",
        f"attribute_exists(pk) AND {_NEWEST}",
    ),
    "earliest": (
        "SET firstMessageAt = :t ADD messageCount :one",
        f"attribute_exists(pk) AND firstMessageAt > :t AND {_NOT_NEWEST}",
    ),
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


# --- packed transactions ------------------------------------------------------------

TRANSACTION_BYTES = 4 * 1024 * 1024
"""DynamoDB's limit on the aggregate size of the items of one TransactWriteItems."""
ROLLUP_UPDATE_BYTES = 1024
"""What a session rollup Update is counted as against `TRANSACTION_BYTES` (its item stays far below)."""


@dataclass
class _Pack:
    """One transaction being filled: record indexes, actions, bytes and the item keys it touches."""

    indexes: list[int] = field(default_factory=list)
    actions: int = 0
    size: int = 0
    keys: set[tuple[str, str]] = field(default_factory=set)

    def fits(self, actions: int, size: int, keys: Collection[tuple[str, str]]) -> bool:
        """Whether `actions` more actions of `size` bytes fit, touching none of the items already in it."""
        return (
            self.actions + actions <= TRANSACTION_LIMIT
            and self.size + size <= TRANSACTION_BYTES
            and self.keys.isdisjoint(keys)
        )


def pack_items(sizes: Sequence[int], item_keys: Sequence[tuple[str, str]]) -> list[list[int]]:
    """Positions of items (one Put each) grouped into transactions: ≤ 100 actions, ≤ 4 MB, no key twice.

    Greedy in input order; an item whose key is already in the open transaction
    (a duplicate) starts the next one, since DynamoDB refuses two actions on one
    item in a transaction.
    """
    packs: list[_Pack] = [_Pack()]
    for n, (size, key) in enumerate(zip(sizes, item_keys, strict=True)):
        if not packs[-1].fits(1, size, (key,)):
            packs.append(_Pack())
        p = packs[-1]
        p.indexes.append(n)
        p.actions += 1
        p.size += size
        p.keys.add(key)
    return [p.indexes for p in packs if p.indexes]


def pack_messages(messages: Sequence[Message]) -> list[list[list[int]]]:
    """Positions of one tenant's messages grouped into transactions, and the transactions into chains.

    A transaction holds two Puts per message (its identity item and the message)
    and one rollup Update per session it touches: ≤ 100 actions, ≤ 4 MB
    (`item_size_bytes` of every item), no item twice. A session's messages stay
    together unless they do not fit in one transaction; the transactions that
    share a session form one chain, written in order by one worker, so writers
    never contend on a rollup of their own run. Returns the chains, each a list
    of transactions (lists of positions).
    """
    by_session: dict[str, list[int]] = {}
    for n, m in enumerate(messages):
        by_session.setdefault(m.session_id, []).append(n)
    sizes = [item_size_bytes(m.to_item()) + item_size_bytes(MessageIdentity.of(m).to_item()) for m in messages]

    def item_keys(n: int) -> tuple[tuple[str, str], tuple[str, str]]:
        m = messages[n]
        return (keys.message_identity_pk(m.message_id), keys.message_identity_sk()), (m.pk, m.sk)

    # Pieces: a session's messages cut where they would not fit in an empty transaction.
    pieces: list[tuple[str, _Pack]] = []
    for session, positions in by_session.items():
        rollup = (keys.session_pk(session), keys.session_sk())
        piece = _Pack(actions=1, size=ROLLUP_UPDATE_BYTES, keys={rollup})
        for n in positions:
            ks = item_keys(n)
            if piece.indexes and not piece.fits(2, sizes[n], ks):
                pieces.append((session, piece))
                piece = _Pack(actions=1, size=ROLLUP_UPDATE_BYTES, keys={rollup})
            piece.indexes.append(n)
            piece.actions += 2
            piece.size += sizes[n]
            piece.keys.update(ks)
        pieces.append((session, piece))
    packs: list[tuple[_Pack, set[str]]] = []
    for session, piece in pieces:
        if packs and packs[-1][0].fits(piece.actions, piece.size, piece.keys):
            p, sessions = packs[-1]
            p.indexes.extend(piece.indexes)
            p.actions += piece.actions
            p.size += piece.size
            p.keys.update(piece.keys)
            sessions.add(session)
        else:
            packs.append((piece, {session}))
    # Chains: transactions sharing a session (only a session too big for one transaction spans several,
    # and its transactions are consecutive), in order.
    chains: list[list[list[int]]] = []
    last_sessions: set[str] = set()
    for p, sessions in packs:
        if chains and not last_sessions.isdisjoint(sessions):
            chains[-1].append(p.indexes)
        else:
            chains.append([p.indexes])
        last_sessions = sessions
    return chains


def _group_case(stored: Mapping[str, Any] | None, group: Sequence[Message]) -> str:
    """Where a session's group of new messages falls in its stored rollup (see `rollup_group_update`)."""
    if stored is None:
        return "new"
    newest = _rollup_case(stored, max(group, key=lambda m: (m.timestamp, m.message_id))) == "newest"
    earliest = stored["firstMessageAt"] > min(m.timestamp for m in group)
    return {(True, True): "both", (True, False): "newest", (False, True): "earliest"}.get((newest, earliest), "middle")


def rollup_group_update(case: str, group: Sequence[Message]) -> dict[str, Any]:
    """The UpdateItem parts that count a session's group of new messages in its rollup, for `case`.

    `case` is "new" (no rollup yet), or how the group relates to the stored
    rollup: "newest" (its latest message is after the stored last one),
    "earliest" (its first is before the stored first one), "both" or "middle".
    Each condition holds exactly when `_group_case` names that case, so a
    wrong guess fails the condition and the returned rollup says which applies.
    `messageCount` grows by the number of messages in the group: the Puts of
    their identity items in the same transaction guarantee each is new.
    """
    last = max(group, key=lambda m: (m.timestamp, m.message_id))
    first = min(m.timestamp for m in group)
    values: dict[str, Any] = {":n": Decimal(len(group)), ":t": last.timestamp, ":mid": last.message_id}
    if case == "new":
        values.update({":tid": last.tenant_id, ":sid": last.session_id, ":first": first})
        update = (
            "SET tenantId = :tid, sessionId = :sid, messageCount = :n, firstMessageAt = :first, "
            "lastMessageAt = :t, lastMessageId = :mid"
        )
        return {
            "UpdateExpression": update,
            "ConditionExpression": "attribute_not_exists(pk)",
            "ExpressionAttributeValues": values,
        }
    newest = case in ("newest", "both")
    earliest = case in ("earliest", "both")
    values[":first"] = first
    sets = (["lastMessageAt = :t", "lastMessageId = :mid"] if newest else []) + (
        ["firstMessageAt = :first"] if earliest else []
    )
    update = (f"SET {', '.join(sets)} " if sets else "") + "ADD messageCount :n"
    condition = (
        f"attribute_exists(pk) AND {_NEWEST if newest else _NOT_NEWEST} AND "
        f"{'firstMessageAt > :first' if earliest else 'firstMessageAt <= :first'}"
    )
    return {"UpdateExpression": update, "ConditionExpression": condition, "ExpressionAttributeValues": values}


def _new_token() -> str:
    return str(uuid.uuid4())


def _failed(reason: CancellationReason | None) -> TypeGuard[CancellationReason]:
    return reason is not None and reason.condition_failed


@dataclass(frozen=True)
class _Run:
    """One call's context: the attempt hooks and the retrier (for `ingest`, observing the run's stop event)."""

    retrier: Retrier
    hooks: tuple[Hook, ...]

    def with_hook(self, hook: Hook) -> _Run:
        return replace(self, hooks=(hook, *self.hooks))

    def call(self, operation: str, fn: Callable[[], Any]) -> Any:
        return self.retrier.call(operation, fn, hooks=self.hooks)


class TenantGate:
    """Whether a tenant may receive data: its registry item exists with `status = active` (contract §7).

    `require(scope, run)` reads the tenant's registry item (strongly consistent,
    through the tenant's own scope) unless an active status was read less than
    `recheck_seconds` ago (always with `fresh=True`), and raises `TenantNotActive`
    otherwise. Only active answers are remembered: a refused tenant is read
    again on the next call, so onboarding or reactivating it takes effect at once.
    """

    def __init__(self, *, recheck_seconds: float = STATUS_RECHECK_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.recheck_seconds = recheck_seconds
        self.clock = clock
        self._active_at: dict[str, float] = {}
        self._lock = threading.Lock()

    def require(self, scope: TenantScope, run: _Run, *, fresh: bool = False, during_run: bool = False) -> None:
        """Raise TenantNotActive unless the tenant is registered and active (read again when due)."""
        tenant_id = scope.tenant_id
        with self._lock:  # one reader at a time; the others wait for its answer
            last = self._active_at.get(tenant_id)
            if not fresh and last is not None and self.clock() - last < self.recheck_seconds:
                return
            self._active_at.pop(tenant_id, None)
            try:
                item = run.call("GetItem", scope.registry_item)
            except TableNotFound:
                item = None  # no registry table: no tenant is registered on this deployment
            status = None if item is None else item.get("status")
            if status != TenantStatus.ACTIVE.value:
                raise TenantNotActive(tenant_id, status, registry=scope.registry_table, during_run=during_run)
            self._active_at[tenant_id] = self.clock()


class Ingestor:
    """Writes messages and metrics idempotently through the storage seam and the retry policy.

    Everything that varies is injected: the retrier (sleep, clock, seed), the
    event sink, the clock and id factory for events and batch ids, the
    ClientRequestToken factory and the tenant gate (its status re-read interval
    and clock).
    """

    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        *,
        retrier: Retrier | None = None,
        sink: EventSink | None = None,
        source: str = DEFAULT_SOURCE,
        now: Callable[[], datetime] = utc_now,
        new_id: Callable[[], str] = keys.new_uuid4,
        new_token: Callable[[], str] = _new_token,
        gate: TenantGate | None = None,
    ):
        self.storage = storage
        self.settings = settings
        self.retrier = retrier or Retrier()
        self.sink: EventSink = sink if sink is not None else MemorySink()
        self.source = source
        self.now = now
        self.new_id = new_id
        self.new_token = new_token
        self.gate = gate or TenantGate()
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

    def _single(self, tenant_id: str, hooks: Sequence[Hook], tracker: _Tracker) -> _Run:
        """The context of a one-record call, once the tenant may receive data (its status read when due).

        The status read is the call's own request, not the record's: `tracker` counts the record's only.
        """
        self.gate.require(self.scope(tenant_id), _Run(self.retrier, tuple(hooks)))
        return _Run(self.retrier, (tracker, *hooks))

    def require_active(self, tenant_id: str, *, hooks: Sequence[Hook] = ()) -> None:
        """Read the tenant's registry item now; TenantNotActive unless it is registered and active."""
        self.gate.require(self.scope(tenant_id), _Run(self.retrier, tuple(hooks)), fresh=True)

    def _get(self, storage: Storage, table: str, key: Mapping[str, Any], run: _Run) -> dict[str, Any] | None:
        item: dict[str, Any] | None = run.call("GetItem", lambda: storage.get_item(table, key))
        return item

    @staticmethod
    def _resolve(key: str, stored: dict[str, Any], incoming: dict[str, Any]) -> tuple[Outcome, IngestConflict | None]:
        """Classify an item found stored by the create-once rule (`writes.by_content`)."""
        if by_content(stored, incoming) is Outcome.ALREADY_EXISTS:
            return Outcome.ALREADY_EXISTS, None
        return Outcome.CONFLICT, IngestConflict(key, stored, incoming)

    # --- messages -----------------------------------------------------------------

    def ingest_message(self, message: Message | Mapping[str, Any], *, hooks: Sequence[Hook] = ()) -> IngestResult:
        """Write one message and count it in its session rollup, atomically and idempotently.

        Returns created / already_exists / conflict; raises ValidationFailed for an
        invalid record, TenantNotActive for a tenant that may not receive data and
        RetryBudgetExhausted when the retry policy gives up.
        """
        m = _as_model(message, Message)
        tracker = _Tracker()
        outcome, conflict = self._write_message(m, self._single(m.tenant_id, hooks, tracker))
        return IngestResult(
            "message", m.tenant_id, m.pk, outcome, tracker.requests, tracker.retries, tracker.ambiguous, conflict
        )

    def _write_message(self, m: Message, run: _Run) -> tuple[Outcome, IngestConflict | None]:
        scope = self.scope(m.tenant_id)
        storage, table = scope.storage, scope.messages_table
        session = (table, m.session_id)
        case = "newest" if session in self._sessions else "new"
        puts = message_puts(table, m)
        mismatches = 0
        # Bounded: each round either returns, or counts a rollup mismatch (backed off under the
        # transaction-conflict budget, which raises when spent) or a vanished item (MAX_SETTLE_ROUNDS).
        vanished = 0
        while True:
            actions = [
                *puts,
                {"Update": {"TableName": table, "Key": _rollup_key(m.session_id), **rollup_update(case, m)}},
            ]
            # One token per distinct request: resends of this exact transaction are idempotent in
            # DynamoDB, and a different request never reuses a token (that would be rejected).
            token = self.new_token()
            try:
                run.call("TransactWriteItems", lambda: storage.transact_write(actions, token=token))
                with self._lock:
                    self._sessions.add(session)
                return Outcome.CREATED, None
            except ConditionFailed as exc:
                failure = _detached(exc)
            reasons = failure.reasons or self._read_reasons(m, storage, table, run)
            settled = self._settle_message(m, reasons[0], reasons[1], storage, table, run)
            if settled is not None:
                with self._lock:  # a stored message means its session's rollup exists too
                    self._sessions.add(session)
                return settled
            rollup = reasons[2] if len(reasons) > 2 else None
            if not _failed(rollup):
                # Nothing failed that we can see: an identity or message item vanished between the
                # cancellation and the read. Send the transaction again, a bounded number of times.
                vanished += 1
                if vanished >= MAX_SETTLE_ROUNDS:
                    raise RetryBudgetExhausted(
                        f"message {m.message_id}: its stored items kept changing", attempts=vanished, last_error=failure
                    )
                continue
            # The rollup is not in the state we guessed: its stored state says which update applies.
            stored = rollup.item if rollup is not None else None
            with self._lock:
                if stored is None:
                    self._sessions.discard(session)
                else:
                    self._sessions.add(session)
            case = _rollup_case(stored, m)
            mismatches += 1
            if mismatches > 1:  # a second mismatch means other writers are updating this session now
                run.retrier.backoff(
                    "TransactWriteItems",
                    "transaction_conflict",
                    mismatches - 1,
                    "RollupChanged",
                    hooks=run.hooks,
                    last_error=TransactionConflict(
                        f"session rollup of {m.session_id} kept changing", code="RollupChanged"
                    ),
                )

    def _read_reasons(
        self, m: Message, storage: Storage, table: str, run: _Run
    ) -> tuple[CancellationReason | None, ...]:
        """The three actions' reasons rebuilt by reading, for an endpoint that returned no cancellation reasons."""
        identity = self._get(storage, table, _identity_key(m.message_id), run)
        message = self._get(storage, table, {"pk": m.pk, "sk": identity["messageSk"] if identity else m.sk}, run)
        if identity is not None or message is not None:
            found = [
                CancellationReason("ConditionalCheckFailed", identity) if identity else None,
                CancellationReason("ConditionalCheckFailed", message) if message else None,
                None,
            ]
            return tuple(found)
        rollup = self._get(storage, table, _rollup_key(m.session_id), run)
        return None, None, CancellationReason("ConditionalCheckFailed", rollup)

    def _settle_message(
        self,
        m: Message,
        identity: CancellationReason | None,
        message: CancellationReason | None,
        storage: Storage,
        table: str,
        run: _Run,
    ) -> tuple[Outcome, IngestConflict | None] | None:
        """The outcome of a cancelled transaction for message `m`, from the reasons of its two `message_puts`.

        None when neither of its Puts failed (the cancellation came from another
        action, e.g. the session rollup's Update). Otherwise the stored message
        decides: the same item is `already_exists`; anything else — the same id
        at another time included — a `conflict` showing both versions.
        """
        if not (_failed(identity) or _failed(message)):
            return None
        item = m.to_item()
        stored_identity = None
        if _failed(identity):
            stored_identity = identity.item or self._get(storage, table, _identity_key(m.message_id), run)
        stored_sk = stored_identity["messageSk"] if stored_identity else m.sk
        stored = message.item if _failed(message) and message.item and message.item.get("sk") == stored_sk else None
        if stored is None:
            stored = self._get(storage, table, {"pk": m.pk, "sk": stored_sk}, run)
        if stored is None and stored_identity is not None:
            # An identity item without its message (the audit reports it): the id is taken all the same.
            return Outcome.CONFLICT, IngestConflict(
                f"{m.pk} (its identity item names {stored_sk}, which is not stored)", stored_identity, item
            )
        if stored is None:
            return None  # it vanished since the cancellation: the caller tries again
        return self._resolve(m.pk, stored, item)

    def _write_message_pack(
        self, indexes: list[int], pack: list[Message], run: _Run, finish: Callable[..., None]
    ) -> None:
        """Messages of one tenant in packed transactions: two Puts each, one rollup Update per session.

        Each round sends the messages not settled yet in one TransactWriteItems
        (a new ClientRequestToken per distinct request). On a cancellation the
        reasons, index-aligned with the actions, say which identity or message
        Puts failed: those messages are settled like `_write_message` does
        (already_exists / conflict) and finished; a failed rollup Update returns
        the stored rollup, which says which update applies. The others are sent
        again, their sessions' counts recomputed for them alone. A rollup is
        counted only in the transaction that creates the identity items of the
        messages it counts, so a resend — with the same token or, past its
        10-minute window, as a new request — can never count a message twice:
        its identity Puts fail and the messages settle as already_exists. An
        endpoint that returns no reasons gets each message written on its own.
        """
        scope = self.scope(pack[0].tenant_id)
        storage, table = scope.storage, scope.messages_table
        pending = list(zip(indexes, pack, strict=True))
        stored: dict[str, dict[str, Any] | None] = {}  # rollups as last returned by a failed condition
        guesses: dict[str, str] = {}
        for _, m in pending:
            guesses.setdefault(m.session_id, "newest" if (table, m.session_id) in self._sessions else "new")
        mismatches = vanished = 0
        while pending:
            groups: dict[str, list[Message]] = {}
            actions: list[dict[str, Any]] = []
            for _, m in pending:
                groups.setdefault(m.session_id, []).append(m)
                actions.extend(message_puts(table, m))
            sessions = list(groups)
            for sid in sessions:
                case = _group_case(stored[sid], groups[sid]) if sid in stored else guesses[sid]
                update = rollup_group_update(case, groups[sid])
                actions.append({"Update": {"TableName": table, "Key": _rollup_key(sid), **update}})
            token = self.new_token()
            try:
                run.call("TransactWriteItems", lambda: storage.transact_write(actions, token=token))
            except ConditionFailed as exc:
                failure = _detached(exc)
            else:
                with self._lock:
                    self._sessions.update((table, sid) for sid in sessions)
                for i, _ in pending:
                    finish(i, Outcome.CREATED)
                return
            reasons = failure.reasons
            if len(reasons) != len(actions):  # no reasons to go by: each message on its own (exact, race-free)
                for i, m in pending:
                    finish(i, *self._write_message(m, run))
                return
            left: list[tuple[int, Message]] = []
            for n, (i, m) in enumerate(pending):
                identity, message = reasons[2 * n], reasons[2 * n + 1]
                settled = self._settle_message(m, identity, message, storage, table, run)
                if settled is None:
                    left.append((i, m))
                    continue
                with self._lock:  # a stored message means its session's rollup exists too
                    self._sessions.add((table, m.session_id))
                finish(i, *settled)
            rollups_failed = False
            for k, sid in enumerate(sessions):
                reason = reasons[2 * len(pending) + k]
                if _failed(reason):
                    rollups_failed = True
                    stored[sid] = reason.item
            progressed = len(left) < len(pending)
            pending = left
            if progressed or not pending:
                continue
            if not rollups_failed:
                # Nothing failed that we can see: a stored item vanished between the cancellation and the read.
                vanished += 1
                if vanished >= MAX_SETTLE_ROUNDS:
                    raise RetryBudgetExhausted(
                        "a packed message transaction: its stored items kept changing",
                        attempts=vanished,
                        last_error=failure,
                    )
                continue
            mismatches += 1
            if mismatches > 1:  # a second mismatch means other writers are updating these sessions now
                run.retrier.backoff(
                    "TransactWriteItems",
                    "transaction_conflict",
                    mismatches - 1,
                    "RollupChanged",
                    hooks=run.hooks,
                    last_error=TransactionConflict(
                        f"session rollups of {', '.join(sessions)} kept changing", code="RollupChanged"
                    ),
                )

    # --- metrics ------------------------------------------------------------------

    def ingest_metric(self, metric: Metric | Mapping[str, Any], *, hooks: Sequence[Hook] = ()) -> IngestResult:
        """Conditionally create one metric: created / already_exists / conflict (never an overwrite)."""
        m = _as_model(metric, Metric)
        tracker = _Tracker()
        outcome, conflict = self._put_metric(m, self._single(m.tenant_id, hooks, tracker))
        return IngestResult(
            "metric",
            m.tenant_id,
            _metric_label(m),
            outcome,
            tracker.requests,
            tracker.retries,
            tracker.ambiguous,
            conflict,
        )

    def _put_metric(self, m: Metric, run: _Run) -> tuple[Outcome, IngestConflict | None]:
        scope = self.scope(m.tenant_id)
        label = _metric_label(m)
        result = put_once(
            scope.storage,
            scope.metrics_table,
            CreateOnce(m.to_item(), CREATE_ONCE),
            {"pk": m.pk, "sk": m.sk},
            run.retrier,
            hooks=run.hooks,
            rounds=MAX_SETTLE_ROUNDS,
            vanished=lambda failure: RetryBudgetExhausted(
                f"{label}: the stored metric kept vanishing after a failed create",
                attempts=MAX_SETTLE_ROUNDS,
                last_error=failure,
            ),
        )
        return _conflict_of(label, result)

    def correct_metric(
        self, metric: Metric | Mapping[str, Any], *, expected_version: int, hooks: Sequence[Hook] = ()
    ) -> Metric:
        """Replace a stored metric only if its version is still `expected_version`; store version + 1.

        Returns the stored corrected metric. Raises IngestConflict (showing the
        stored and the intended item) when the metric is missing or its version
        moved on. A retry whose first response was lost finds its own correction
        and succeeds.
        """
        m = _as_model(metric, Metric)
        if not isinstance(expected_version, int) or isinstance(expected_version, bool) or expected_version < 1:
            raise ValidationFailed([Violation(_metric_label(m), "expectedVersion", "must be an integer ≥ 1")])
        run = self._single(m.tenant_id, hooks, _Tracker())
        scope = self.scope(m.tenant_id)
        corrected = with_version(m, expected_version + 1)
        item = corrected.to_item()
        storage, table = scope.storage, scope.metrics_table
        names = {"#md": "metadata", "#v": VERSION_FIELD}
        if expected_version == 1:
            condition, values = "attribute_exists(pk) AND attribute_not_exists(#md.#v)", None
        else:
            condition, values = "attribute_exists(pk) AND #md.#v = :expected", {":expected": Decimal(expected_version)}
        try:
            run.call("PutItem", lambda: storage.put_item(table, item, condition=condition, names=names, values=values))
            return corrected
        except ConditionFailed as exc:
            stored = exc.item or self._get(storage, table, {"pk": m.pk, "sk": m.sk}, run)
        if stored == item:
            return corrected
        if stored is None:
            raise IngestConflict(f"{_metric_label(m)} (no stored metric to correct)", {}, item)
        raise IngestConflict(
            f"{_metric_label(m)} (expected version {expected_version}, stored version {metric_version(stored)})",
            stored,
            item,
        )

    def _transaction_chunk(
        self, indexes: list[int], chunk: list[Metric], run: _Run, trackers: list[_Tracker], finish: Callable[..., None]
    ) -> None:
        """Metrics of one tenant (≤ 100, ≤ 4 MB: `pack_items`) in all-or-nothing transactions of conditional Puts.

        On a cancellation the reasons (index-aligned with the Puts, each failed
        one with the stored item) settle the metrics found stored
        (already_exists / conflict, by `writes.by_content`); the others are sent
        again in a new transaction (a new ClientRequestToken). An endpoint that
        returns no reasons gets each metric written on its own.
        """
        scope = self.scope(chunk[0].tenant_id)
        storage, table = scope.storage, scope.metrics_table
        shared = _Shared(indexes, trackers, finish)
        finish = shared.finish
        pending = [(i, m, m.to_item()) for i, m in zip(indexes, chunk, strict=True)]
        vanished = 0
        try:
            while pending:
                actions = [
                    {"Put": {"TableName": table, "Item": item, "ConditionExpression": CREATE_ONCE}}
                    for *_, item in pending
                ]
                token = self.new_token()
                try:
                    run.with_hook(shared).call(
                        "TransactWriteItems", lambda: storage.transact_write(actions, token=token)
                    )
                except ConditionFailed as exc:
                    failure = _detached(exc)
                else:
                    for i, *_ in pending:
                        finish(i, Outcome.CREATED)
                    return
                if len(failure.reasons) != len(actions):
                    shared.release()
                    for i, m, _ in pending:
                        finish(i, *self._put_metric(m, run.with_hook(trackers[i])))
                    return
                left = []
                for (i, m, item), reason in zip(pending, failure.reasons, strict=True):
                    if not _failed(reason):
                        left.append((i, m, item))
                        continue
                    old = reason.item or self._get(storage, table, {"pk": m.pk, "sk": m.sk}, run.with_hook(shared))
                    if old is None:
                        left.append((i, m, item))  # vanished since the cancellation: sent again
                    else:
                        finish(i, *self._resolve(_metric_label(m), old, item))
                if len(left) == len(pending):
                    vanished += 1
                    if vanished >= MAX_SETTLE_ROUNDS:
                        raise RetryBudgetExhausted(
                            "a metric transaction: its stored items kept vanishing",
                            attempts=vanished,
                            last_error=failure,
                        )
                pending = left
        finally:
            shared.release()

    def _batch_get(self, storage: Storage, table: str, wanted: list[dict[str, Any]], run: _Run) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        retry = 0
        while wanted:  # bounded: each round with keys left spends one throttling retry (backoff raises when spent)
            items, wanted = run.call("BatchGetItem", lambda: storage.batch_get(table, wanted))
            found.extend(items)
            if wanted:
                retry += 1
                run.retrier.backoff("BatchGetItem", "throttling", retry, "UnprocessedKeys", hooks=run.hooks)
        return found

    def _batch_write(self, storage: Storage, table: str, items: list[dict[str, Any]], run: _Run) -> None:
        retry = 0
        while items:  # bounded like _batch_get
            left = run.call("BatchWriteItem", lambda: storage.batch_write(table, items))
            if left:
                retry += 1
                run.retrier.backoff("BatchWriteItem", "throttling", retry, "UnprocessedItems", hooks=run.hooks)
            items = left

    # --- many records -------------------------------------------------------------

    def ingest(
        self,
        records: Iterable[Message | Metric | Mapping[str, Any]],
        *,
        workers: int = DEFAULT_WORKERS,
        metric_mode: MetricMode | str = DEFAULT_METRIC_MODE,
        check_existing: bool = True,
        batch_id: str | None = None,
        progress: Callable[[int], object] | None = None,
        hooks: Sequence[Hook] = (),
        message_mode: MessageMode | str = DEFAULT_MESSAGE_MODE,
        record_batch: bool = True,
        stop: threading.Event | None = None,
    ) -> IngestReport:
        """Validate every record, then write them all as one batch; one `metrics.ingested.v1` event per tenant.

        Nothing is written if any record is invalid (ValidationFailed lists every
        violation), if any record's tenant is not registered and active
        (TenantNotActive), or if `batch_id` was already recorded for other records
        (BatchConflict). With `record_batch` (the default), each tenant's share is
        recorded under `batch_id` (a new id when None) before its first record,
        so running the same batch again within 30 days replays it: nothing is
        written and no event is sent twice (see `salestalk_lib.ops.batches`).
        Records are written by `workers` threads; `progress(n)` is called as
        records finish. A record whose retries are exhausted is reported as
        failed; the others still complete. Ctrl-C in the calling thread, or
        setting `stop`, ends the run early with `IngestInterrupted` (see the
        module docstring). The report keeps every record's result
        (`IngestReport.results`); `ingest_validated` streams instead.
        """
        started = time.perf_counter()
        models = validate_for_ingest(records)
        return self._write_batch(
            [models],
            plans=plan_batch(models) if record_batch else None,
            tenants=sorted({m.tenant_id for m in models}),
            batch_id=batch_id,
            keep_results=True,
            limit=None,
            started=started,
            workers=workers,
            metric_mode=metric_mode,
            check_existing=check_existing,
            progress=progress,
            hooks=hooks,
            message_mode=message_mode,
            stop=stop,
        )

    def ingest_validated(
        self,
        records: Iterable[Message | Metric],
        plans: Mapping[str, BatchPlan],
        *,
        batch_id: str,
        window: int | None = None,
        result_limit: int | None = REPORT_LIMIT,
        workers: int = DEFAULT_WORKERS,
        metric_mode: MetricMode | str = DEFAULT_METRIC_MODE,
        check_existing: bool = True,
        progress: Callable[[int], object] | None = None,
        hooks: Sequence[Hook] = (),
        message_mode: MessageMode | str = DEFAULT_MESSAGE_MODE,
        stop: threading.Event | None = None,
    ) -> IngestReport:
        """Write records already validated as a whole (all-or-nothing is the caller's) as one batch, in bounded memory.

        `plans` is each tenant's share of the batch, computed in the validating
        pass (`batches.BatchFingerprint`: the same values `plan_batch` gives), so
        the batch is recorded before the first record is read here. `records`
        (an iterator: `validation.StreamingInput.records()`, typically) is read
        `window` records at a time (default `INGEST_WINDOW`); each window's transactions are built and
        written by `workers` threads before the next is read, so memory holds one
        window, never the input. Everything else is `ingest`'s: tenants checked
        first, replays, resumes, interrupts, one event per tenant at the end.
        The report keeps no per-record `results`: counts by kind and outcome, and
        at most `result_limit` each of conflicts, failures and skipped records
        (`IngestReport.conflict_count` and the like count them all); records not
        read when the run stopped are counted skipped from `plans`.
        """
        size = INGEST_WINDOW if window is None else window
        if size < 1:
            raise ValueError(f"window must be at least 1, got {size}")
        return self._write_batch(
            _windows(records, size),
            plans=plans,
            tenants=sorted(plans),
            batch_id=batch_id,
            keep_results=False,
            limit=result_limit,
            started=time.perf_counter(),
            workers=workers,
            metric_mode=metric_mode,
            check_existing=check_existing,
            progress=progress,
            hooks=hooks,
            message_mode=message_mode,
            stop=stop,
        )

    def _write_batch(
        self,
        windows: Iterable[Sequence[Message | Metric]],
        *,
        plans: Mapping[str, BatchPlan] | None,
        tenants: Sequence[str],
        batch_id: str | None,
        keep_results: bool,
        limit: int | None,
        started: float,
        workers: int,
        metric_mode: MetricMode | str,
        check_existing: bool,
        progress: Callable[[int], object] | None,
        hooks: Sequence[Hook],
        message_mode: MessageMode | str,
        stop: threading.Event | None,
    ) -> IngestReport:
        """The batch of valid records in `windows`, one window after the other (see `ingest`, `ingest_validated`)."""
        batch = keys.validate_batch_id(batch_id) if batch_id is not None else self.new_id()
        mode = MetricMode(metric_mode)
        packed = MessageMode(message_mode) is MessageMode.PACKED
        stats = RetryStats()
        stop = stop if stop is not None else threading.Event()
        run = _Run(self.retrier.stopping(stop), (stats, *hooks))
        inactive: dict[str, TenantNotActive] = {}
        kept: list[IngestResult] = []
        tally = OutcomeTally(limit=limit)
        metrics_seen: dict[str, _MetricShare] = {}
        expected = Counter[tuple[str, str]]()
        for plan in (plans or {}).values():
            expected[(plan.tenant_id, "message")] += plan.message_count
            expected[(plan.tenant_id, "metric")] += plan.metric_count
        open_window: list[Callable[[], list[IngestResult]]] = []  # the unfinished window's results, when stopped
        held = list(windows) if keep_results else []  # the library call's records, all in memory already
        kept_windows: list[int] = []  # sizes of the windows written

        def report(
            *, interrupted: bool, starts: Mapping[str, BatchStart] | None = None, events: Sequence[EventEnvelope] = ()
        ) -> IngestReport:
            results, counted = list(kept), tally.copy()
            for pending in open_window:
                for r in pending():
                    counted.add(r)
                    if keep_results:
                        results.append(r)
            if keep_results:  # windows not started yet (all of them, when stopped while the batch began)
                for models in held[len(kept_windows) + len(open_window) :]:
                    for m in models:
                        r = _unfinished(m, _Tracker(), False)
                        counted.add(r)
                        results.append(r)
            elif plans is not None:  # records never read: not started
                seen = counted.by_tenant_kind
                for (tenant_id, kind), n in sorted(expected.items()):
                    counted.add_unseen(tenant_id, kind, n - seen.get((tenant_id, kind), 0))
            return IngestReport(
                results,
                time.perf_counter() - started,
                stats,
                list(events),
                batch,
                dict(starts or {}),
                interrupted=interrupted,
                inactive=dict(inactive),
                tally=None if keep_results else counted,
            )

        # Every tenant is checked before anything is written: one that may not receive data refuses the call.
        for tenant_id in tenants:
            self.gate.require(self.scope(tenant_id), run, fresh=True)
        try:
            starts = self._begin_batch(batch, plans or {}, run)
        except KeyboardInterrupt:
            raise IngestInterrupted(report(interrupted=True)) from None
        replayed = {t for t, b in starts.items() if b.state is BatchState.REPLAYED}

        def write_window(models: Sequence[Message | Metric]) -> None:
            results: list[IngestResult | None] = [None] * len(models)
            trackers = [_Tracker() for _ in models]
            begun = [False] * len(models)
            open_window.append(
                lambda: [
                    r if r is not None else _unfinished(models[i], trackers[i], begun[i]) for i, r in enumerate(results)
                ]
            )

            def finish(
                i: int, outcome: Outcome, conflict: IngestConflict | None = None, error: BaseException | None = None
            ) -> None:
                m, t = models[i], trackers[i]
                kind, label = ("message", m.pk) if isinstance(m, Message) else ("metric", _metric_label(m))
                results[i] = IngestResult(
                    kind, m.tenant_id, label, outcome, t.requests, t.retries, t.ambiguous, conflict, error
                )

            def admitted(indexes: list[int]) -> bool:
                """Mark the records begun, unless their tenant stopped being active (then they are skipped)."""
                tenant_id = models[indexes[0]].tenant_id
                try:
                    if tenant_id in inactive:  # once stopped in a run, a tenant stays stopped for the run
                        raise inactive[tenant_id]
                    self.gate.require(self.scope(tenant_id), run, during_run=True)
                except TenantNotActive as exc:
                    inactive.setdefault(tenant_id, exc)
                    for i in indexes:
                        finish(i, Outcome.SKIPPED, error=exc)
                    return False
                for i in indexes:
                    begun[i] = True
                return True

            def one(i: int) -> int:
                m, t = models[i], trackers[i]
                if not admitted([i]):
                    return 1
                try:
                    if isinstance(m, Message):
                        finish(i, *self._write_message(m, run.with_hook(t)))
                    else:
                        finish(i, *self._put_metric(m, run.with_hook(t)))
                except (RetryBudgetExhausted, Interrupted) as exc:
                    finish(i, Outcome.FAILED, error=exc)
                return 1

            def chunk_task(indexes: list[int]) -> int:
                chunk = [m for m in (models[i] for i in indexes) if isinstance(m, Metric)]  # groups hold metrics only
                if not admitted(indexes):
                    return len(indexes)
                try:
                    if mode is MetricMode.TRANSACTION:
                        self._transaction_chunk(indexes, chunk, run, trackers, finish)
                    else:
                        self._batch_chunk(indexes, chunk, check_existing, run, trackers, finish)
                except (RetryBudgetExhausted, Interrupted) as exc:
                    for i in indexes:
                        if results[i] is None:
                            finish(i, Outcome.FAILED, error=exc)
                return len(indexes)

            def chain_task(chain: list[list[int]]) -> int:
                """Packed message transactions sharing sessions, one after the other (see `pack_messages`)."""
                for indexes in chain:
                    if stop.is_set():  # the rest of the chain is never begun: skipped
                        break
                    if not admitted(indexes):
                        continue
                    shared = _Shared(indexes, trackers, finish)
                    pack = [m for m in (models[i] for i in indexes) if isinstance(m, Message)]
                    try:
                        self._write_message_pack(indexes, pack, run.with_hook(shared), shared.finish)
                    except (RetryBudgetExhausted, Interrupted) as exc:
                        shared.release()
                        for i in indexes:
                            if results[i] is None:
                                finish(i, Outcome.FAILED, error=exc)
                    finally:
                        shared.release()
                return sum(len(indexes) for indexes in chain)

            tasks: list[tuple[Callable[[], int], int]] = []
            metric_groups: dict[str, list[int]] = {}
            message_groups: dict[str, list[int]] = {}
            for i, m in enumerate(models):
                if isinstance(m, Metric):
                    metrics_seen.setdefault(m.tenant_id, _MetricShare()).add(m)
                if m.tenant_id in replayed:  # its share of the batch completed before: stored, nothing to send
                    finish(i, Outcome.ALREADY_EXISTS)
                    if progress:
                        progress(1)
                elif isinstance(m, Metric) and mode is not MetricMode.CONDITIONAL:
                    metric_groups.setdefault(m.tenant_id, []).append(i)
                elif isinstance(m, Message) and packed:
                    message_groups.setdefault(m.tenant_id, []).append(i)
                else:
                    tasks.append((functools.partial(one, i), 1))
            for indexes in message_groups.values():
                messages = [m for m in (models[i] for i in indexes) if isinstance(m, Message)]
                for chain in pack_messages(messages):
                    chain_indexes = [[indexes[n] for n in pack] for pack in chain]
                    tasks.append((functools.partial(chain_task, chain_indexes), sum(map(len, chain_indexes))))
            for indexes in metric_groups.values():
                if mode is MetricMode.TRANSACTION:
                    items = [models[i].to_item() for i in indexes]
                    parts = [
                        [indexes[n] for n in part]
                        for part in pack_items([item_size_bytes(i) for i in items], [(i["pk"], i["sk"]) for i in items])
                    ]
                else:
                    parts = [
                        indexes[start : start + BATCH_GET_LIMIT] for start in range(0, len(indexes), BATCH_GET_LIMIT)
                    ]
                for part in parts:
                    tasks.append((functools.partial(chunk_task, part), len(part)))
            _run_tasks(tasks, workers, progress, stop)
            if stop.is_set():
                raise KeyboardInterrupt  # stopped by the caller's event: the same path as a Ctrl-C
            done = [r for r in results if r is not None]
            if len(done) != len(models):
                raise RuntimeError(f"ingest bug: {len(models) - len(done)} record(s) ended without a result")
            open_window.clear()
            kept_windows.append(len(done))
            for r in done:
                tally.add(r)
            if keep_results:
                kept.extend(done)

        try:
            for models in held if keep_results else windows:
                if stop.is_set():
                    raise KeyboardInterrupt
                write_window(models)
            event_ids = {t: b.event_id for t, b in starts.items() if b.event_id is not None}
            events = self._emit_metrics_events(
                metrics_seen, tally, batch, skip=replayed | set(inactive), event_ids=event_ids
            )
            starts = self._complete_batch(starts, tally, run)
        except KeyboardInterrupt:
            stop.set()
            raise IngestInterrupted(report(interrupted=True, starts=starts)) from None
        return report(interrupted=False, starts=starts, events=events)

    def _begin_batch(self, batch_id: str, plans: Mapping[str, BatchPlan], run: _Run) -> dict[str, BatchStart]:
        """Record (or find) each tenant's share of the batch before any record is written."""
        ledger = BatchLedger(run.retrier, self.new_id)
        now = unix_now(self.now())
        starts: dict[str, BatchStart] = {}
        try:
            for tenant_id, plan in sorted(plans.items()):
                starts[tenant_id] = ledger.begin(self.scope(tenant_id), batch_id, plan, now, run.hooks)
        except Exception:
            # Another tenant's share conflicts (or the budget ran out): withdraw the records this call created
            # (only those still carrying this run's token), so that nothing of the batch stays behind. Not on
            # an interrupt: its records stay in progress and the next run of the batch resumes them.
            for tenant_id, start in starts.items():
                if start.state is BatchState.NEW:
                    try:
                        ledger.withdraw(self.scope(tenant_id), start, run.hooks)
                    except (RetryBudgetExhausted, Interrupted, StorageError):
                        pass  # left in progress: a later run of this batch resumes it; the first error matters
            raise
        return starts

    def _complete_batch(self, starts: dict[str, BatchStart], tally: OutcomeTally, run: _Run) -> dict[str, BatchStart]:
        """Complete each tenant's share whose records all succeeded; the others stay in progress."""
        ledger = BatchLedger(run.retrier, self.new_id)
        now = unix_now(self.now())
        done: dict[str, BatchStart] = {}
        for tenant_id, start in starts.items():
            counts = tally.outcomes(tenant_id)
            if start.state is BatchState.REPLAYED or not set(counts) <= set(BatchOutcomes.model_fields):
                done[tenant_id] = start
                continue
            try:
                record = ledger.complete(self.scope(tenant_id), start, counts, now, run.hooks)
            except RetryBudgetExhausted:
                done[tenant_id] = start  # left in progress: running the batch again resumes it
                continue
            done[tenant_id] = BatchStart(record, start.state)
        return done

    def _batch_chunk(
        self,
        indexes: list[int],
        chunk: list[Metric],
        check_existing: bool,
        run: _Run,
        trackers: list[_Tracker],
        finish: Callable[..., None],
    ) -> None:
        """Up to 100 metrics of one tenant: check which exist, then BatchWriteItem the others (last writer wins).

        Each record is finished as soon as its fate is known, so a later failure
        in the chunk never relabels records that were already written. A written
        record is `written`, never `created`: BatchWriteItem has no condition, so
        nothing proves it was new (a concurrent writer may have stored it first).
        """
        scope = self.scope(chunk[0].tenant_id)
        storage, table = scope.storage, scope.metrics_table
        items = [m.to_item() for m in chunk]
        shared = _Tracker()
        run = run.with_hook(shared)

        def share() -> None:  # the chunk's requests are shared by its records
            for i in indexes:
                trackers[i].requests, trackers[i].retries = shared.requests, shared.retries
                trackers[i].ambiguous = shared.ambiguous

        stored: dict[tuple[str, str], dict[str, Any]] = {}
        try:
            if check_existing:
                found = self._batch_get(storage, table, [{"pk": i["pk"], "sk": i["sk"]} for i in items], run)
                stored = {(s["pk"], s["sk"]): s for s in found}
            to_write: list[tuple[int, dict[str, Any]]] = []
            for i, m, item in zip(indexes, chunk, items, strict=True):
                old = stored.get((m.pk, m.sk))
                if old is None:
                    to_write.append((i, item))
                else:
                    share()
                    finish(i, *self._resolve(_metric_label(m), old, item))
            for start in range(0, len(to_write), BATCH_WRITE_LIMIT):
                part = to_write[start : start + BATCH_WRITE_LIMIT]
                self._batch_write(storage, table, [item for _, item in part], run)
                share()
                for i, _ in part:
                    finish(i, Outcome.WRITTEN)
        finally:
            share()

    def bulk_load_metrics(
        self,
        metrics: Iterable[Metric | Mapping[str, Any]],
        *,
        workers: int = DEFAULT_WORKERS,
        check_existing: bool = True,
        batch_id: str | None = None,
        progress: Callable[[int], object] | None = None,
    ) -> IngestReport:
        """Validate and load many metrics with BatchGetItem + BatchWriteItem, last writer wins (see `WRITE_MODES`)."""
        return self.ingest(
            metrics,
            workers=workers,
            metric_mode=MetricMode.BATCH,
            check_existing=check_existing,
            batch_id=batch_id,
            progress=progress,
        )

    # --- events -------------------------------------------------------------------

    def _emit_metrics_events(
        self,
        metrics: Mapping[str, _MetricShare],
        tally: OutcomeTally,
        batch_id: str,
        *,
        skip: Collection[str] = (),
        event_ids: Mapping[str, str] | None = None,
    ) -> list[EventEnvelope]:
        """One event per tenant with metrics (none for `skip`); its id from the batch record when there is one."""
        events: list[EventEnvelope] = []
        for tenant_id, share in sorted(metrics.items()):
            if tenant_id in skip:
                continue
            events.append(
                metrics_ingested_summary(
                    tenant_id=tenant_id,
                    batch_id=batch_id,
                    count=share.count,
                    subjects=share.subjects,
                    periods=share.periods,
                    outcomes=tally.outcomes(tenant_id, "metric"),
                    correlation_id=batch_id,
                    source=self.source,
                    event_id=(event_ids or {}).get(tenant_id) or self.new_id(),
                    now=self.now,
                )
            )
        if events:
            self.sink.send(events)
        return events


class _MetricShare:
    """What one tenant's event needs of its metrics: how many, their subjects and periods (not the metrics)."""

    __slots__ = ("count", "periods", "subjects")

    def __init__(self) -> None:
        self.count = 0
        self.subjects: set[str] = set()
        self.periods: set[str] = set()

    def add(self, m: Metric) -> None:
        """Count one metric."""
        self.count += 1
        self.subjects.add(m.subject.value)
        self.periods.add(m.period.text)


def _detached(exc: _E) -> _E:
    """`exc` (and the exceptions it chains) without tracebacks: kept in a local, it then keeps no frame alive.

    A caught exception kept in a local of the frame that caught it is a reference
    cycle (frame, exception, traceback, frame) that only the cyclic collector frees,
    with everything the frame holds (a whole window of records, through the
    closures): memory would float with the input between collections.
    """
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        e.__traceback__ = None
        todo += [e.__cause__, e.__context__]
    return exc


def _windows(records: Iterable[Message | Metric], size: int) -> Iterator[list[Message | Metric]]:
    """`records` in lists of `size` (the last one shorter), read lazily."""
    it = iter(records)
    while window := list(itertools.islice(it, size)):
        yield window


class _Shared(_Tracker):
    """The requests of one transaction shared by several records: credited to each record's tracker.

    `finish(i, ...)` credits record `i` with everything seen so far (on top of
    what its tracker had before), then finishes it; `release()` credits the
    records still open and stops sharing (their trackers count on their own).
    """

    __slots__ = ("_base", "_finish", "_trackers")

    def __init__(self, indexes: Sequence[int], trackers: Sequence[_Tracker], finish: Callable[..., None]):
        super().__init__()
        self._trackers = trackers
        self._finish = finish
        self._base = {i: (trackers[i].requests, trackers[i].retries, trackers[i].ambiguous) for i in indexes}

    def _credit(self, i: int) -> None:
        requests, retries, ambiguous = self._base.pop(i)
        t = self._trackers[i]
        t.requests, t.retries, t.ambiguous = (
            requests + self.requests,
            retries + self.retries,
            ambiguous or self.ambiguous,
        )

    def finish(self, i: int, *args: Any, **kw: Any) -> None:
        """Credit record `i` with the shared requests so far and finish it."""
        if i in self._base:
            self._credit(i)
        self._finish(i, *args, **kw)

    def release(self) -> None:
        """Credit every record not finished yet; from now on their trackers count their own requests."""
        for i in list(self._base):
            self._credit(i)


def _metric_label(m: Metric) -> str:
    return f"{m.pk} {m.sk}"


def _conflict_of(label: str, result: WriteResult) -> tuple[Outcome, IngestConflict | None]:
    """A create-once write's result as ingestion reports it: its outcome, and an IngestConflict for a conflict."""
    if result.outcome is Outcome.CONFLICT and result.stored is not None and result.incoming is not None:
        return Outcome.CONFLICT, IngestConflict(label, result.stored, result.incoming)
    return result.outcome, None


def _unfinished(m: Message | Metric, tracker: _Tracker, begun: bool) -> IngestResult:
    """The result of a record the run stopped before it finished: skipped, or in flight (may have been applied)."""
    kind, label = ("message", m.pk) if isinstance(m, Message) else ("metric", _metric_label(m))
    if not begun:
        return IngestResult(
            kind, m.tenant_id, label, Outcome.SKIPPED, tracker.requests, tracker.retries, tracker.ambiguous
        )
    error = Interrupted(f"{label}: still in flight when the run stopped")
    return IngestResult(kind, m.tenant_id, label, Outcome.FAILED, tracker.requests, tracker.retries, True, error=error)


def _as_model(record: Any, model: type[ContractModel]) -> Any:
    if isinstance(record, model):
        return record
    validated, violations = validate_record(record, "<record>")
    if violations:
        raise ValidationFailed(violations)
    if not isinstance(validated, model):
        raise ValidationFailed(
            [
                Violation(
                    "<record>",
                    "(record)",
                    f"must be a {model.__name__.lower()} record, got a {type(validated).__name__}",
                )
            ]
        )
    return validated


def validate_for_ingest(
    records: Iterable[Message | Metric | Mapping[str, Any]], *, where: str = "<records>"
) -> list[Message | Metric]:
    """Validate records for ingestion (each one's rules and the rules between them); all-or-nothing.

    Only messages and metrics are ingested: session rollups and message
    identities are derived, and tenants and events have their own paths. Raises
    ValidationFailed listing every violation.
    """
    valid: list[ValidRecord] = []
    violations: list[Violation] = []
    for n, record in enumerate(records, start=1):
        label = f"{where}:{n}"
        if isinstance(record, (Message, Metric)):
            valid.append(
                ValidRecord(label, RecordKind.MESSAGE if isinstance(record, Message) else RecordKind.METRIC, record)
            )
            continue
        model, problems = validate_record(record, label)
        violations.extend(problems)
        if model is None:
            continue
        if not isinstance(model, (Message, Metric)):
            violations.append(
                Violation(
                    label, "(record)", f"is a {type(model).__name__} record; ingest takes messages and metrics only"
                )
            )
            continue
        valid.append(ValidRecord(label, RecordKind.MESSAGE if isinstance(model, Message) else RecordKind.METRIC, model))
    violations.extend(cross_check(valid))
    if violations:
        raise ValidationFailed(violations)
    return [r.model for r in valid]  # type: ignore[misc]


def _run_tasks(
    tasks: Sequence[tuple[Callable[[], int], int]],
    workers: int,
    progress: Callable[[int], object] | None,
    stop: threading.Event,
    grace: float = STOP_GRACE_SECONDS,
) -> None:
    """Run `tasks` (each `(task, records)`) on `workers` daemon threads; the calling thread only waits.

    No task starts once `stop` is set. Then the running tasks get up to `grace`
    seconds to end (their retriers send no further attempt) and this returns;
    records still in flight after that are the caller's to report. Ctrl-C
    (KeyboardInterrupt, which reaches the calling thread while it waits here)
    sets `stop`, waits the same way and is raised again. The first exception a
    task raises stops the others the same way and is raised here. Workers are
    daemon threads: one stuck in a network read cannot keep the process alive.
    """
    if not tasks:
        return
    pending = list(reversed(tasks))
    lock = threading.Lock()
    finished: queue.SimpleQueue[tuple[int, BaseException | None]] = queue.SimpleQueue()
    started = [0]

    def worker() -> None:
        while True:
            with lock:  # checked under the lock: once the waiter saw the run idle, nothing new starts
                if stop.is_set() or not pending:
                    return
                task, size = pending.pop()
                started[0] += 1
            try:
                finished.put((task(), None))
            except BaseException as exc:  # noqa: BLE001 - handed to the calling thread, which raises it
                stop.set()
                finished.put((size, exc))

    threads = [
        threading.Thread(target=worker, name=f"salestalk-ingest-{n}", daemon=True)
        for n in range(max(1, min(workers, len(tasks))))
    ]
    for t in threads:
        t.start()
    ended = 0
    error: BaseException | None = None

    def wait_for_running(deadline: float) -> None:
        nonlocal ended, error
        while time.monotonic() < deadline:
            with lock:
                if ended >= started[0]:
                    return
            try:
                _, exc = finished.get(timeout=0.05)
            except queue.Empty:
                continue
            ended += 1
            error = error or exc

    try:
        while ended < len(tasks):
            if stop.is_set():
                wait_for_running(time.monotonic() + grace)
                break
            try:
                n, exc = finished.get(timeout=0.1)
            except queue.Empty:
                continue
            ended += 1
            error = error or exc
            if progress and exc is None:
                progress(n)
    except KeyboardInterrupt:
        stop.set()
        try:
            wait_for_running(time.monotonic() + grace)
        except KeyboardInterrupt:
            pass  # a second Ctrl-C: stop waiting; records still in flight are reported as such
        raise
    if error is not None:
        raise error
