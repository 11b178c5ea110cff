"""Batch upload idempotency (contract §4: "batchId, recorded in metadata, kept 30 days").

Every ingest run is a batch with a `batchId`. Before the first record is
written, each tenant whose records are in the batch gets an `IngestBatch`
record in its own messages table (`BATCH#{batchId}` / `METADATA`), holding a
fingerprint of that tenant's records (`models.content_hash`), their counts, the
id of the batch's `metrics.ingested.v1` event and `ttl` = start + 30 days. The
record is created with `attribute_not_exists(pk) OR ttl <= now`, so exactly one
run owns a fresh batch id, and what is already stored decides the rest:

| stored record | same records? | what happens |
|---|---|---|
| none, or its `ttl` has passed | – | `new`: the records are written, then the record is completed |
| completed | yes | `replayed`: nothing is written and no event is sent again; every record reports `already_exists` |
| in progress, created by another run (it died, or runs at this moment) | yes | `resumed`: the records are written again (each write is idempotent) and the event is sent under the *same* `eventId`, so consumers deduplicate it |
| any | no | `BatchConflict` before anything is written: the batch id was used for other records |

A tenant's share is completed (status, `completedAt`, outcome counts) only when
every one of its records ended `created`, `already_exists` or `written`; with a
conflict, a failure or a skipped record (an interrupted run) it stays in
progress, so running the batch again reports them again, or finishes them,
instead of replaying a success. A run that gives up before writing any record
(another tenant's share of the batch conflicts) withdraws the records it
created, each with `runToken = :token`, so it never deletes another run's. Records are kept in the messages
table because it is the tenant table whose `ttl` attribute DynamoDB may expire
(contract §1); whether TTL is enabled or not, a record past its `ttl` is
treated as absent.
"""

from __future__ import annotations

import hashlib
import heapq
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from salestalk_lib.contract import keys
from salestalk_lib.contract.errors import BatchConflict, ConditionFailed, RetryBudgetExhausted
from salestalk_lib.contract.models import BatchOutcomes, ContractModel, IngestBatch, Message, Metric, content_hash
from salestalk_lib.contract.times import format_instant
from salestalk_lib.contract.vocab import BatchStatus
from salestalk_lib.dynamo.retry import Attempt, Retrier
from salestalk_lib.dynamo.scope import TenantScope
from salestalk_lib.dynamo.writes import CreateOnce, Outcome, put_once

BEGIN_CONDITION = "attribute_not_exists(pk) OR #ttl <= :now"
COMPLETE_UPDATE = "SET #status = :completed, completedAt = :at, outcomes = :outcomes"
COMPLETE_CONDITION = "#status = :in_progress AND contentHash = :hash"
WITHDRAW_CONDITION = "runToken = :token AND #status = :in_progress"
MAX_BEGIN_ROUNDS = 3


class BatchState(StrEnum):
    """How a tenant's share of a batch started (see the module docstring)."""

    NEW = "new"
    RESUMED = "resumed"
    REPLAYED = "replayed"


@dataclass(frozen=True)
class BatchPlan:
    """One tenant's share of a batch: its records' fingerprint and counts."""

    tenant_id: str
    content_hash: str
    message_count: int
    metric_count: int


@dataclass(frozen=True)
class BatchStart:
    """The record a tenant's share runs under, and how it started."""

    record: IngestBatch
    state: BatchState

    @property
    def event_id(self) -> str | None:
        return self.record.event_id


def plan_batch(models: Sequence[ContractModel]) -> dict[str, BatchPlan]:
    """Each tenant's share of `models` (messages and metrics), by tenant id."""
    by_tenant: dict[str, list[ContractModel]] = {}
    for m in models:
        if isinstance(m, (Message, Metric)):
            by_tenant.setdefault(m.tenant_id, []).append(m)
    return {
        t: BatchPlan(
            t, content_hash(ms), sum(isinstance(m, Message) for m in ms), sum(isinstance(m, Metric) for m in ms)
        )
        for t, ms in sorted(by_tenant.items())
    }


def content_batch_id(models: Iterable[ContractModel]) -> str:
    """A batch id derived from the records themselves: the same records make the same batch."""
    return "content-" + content_hash(models).removeprefix("sha256:")[:40]


FINGERPRINT_BUFFER_LINES = 8192
"""`BatchFingerprint` keeps at most this many record lines in memory; more are sorted and spilled to a temporary file."""


class BatchFingerprint:
    """`plan_batch` and `content_batch_id` of records seen one at a time, in bounded memory (exactly the same values).

    `content_hash` hashes the sorted JSON lines of the records, so the lines must
    be seen in sorted order: they are buffered, and every
    `FINGERPRINT_BUFFER_LINES` the buffer is sorted and written to a temporary
    file (a run); `finish()` merges the runs (`heapq.merge`, one line of each in
    memory) and feeds one SHA-256 for the whole batch and one per tenant (a
    tenant's lines, in the sorted order of all lines, are its own lines sorted).
    Memory: the buffer, not the records; disk: one line per record until `finish()`.
    """

    def __init__(self, *, buffer_lines: int | None = None) -> None:
        self.buffer_lines = FINGERPRINT_BUFFER_LINES if buffer_lines is None else buffer_lines
        self._buffer: list[tuple[bytes, str]] = []
        self._runs: list[Any] = []
        self._counts: dict[str, list[int]] = {}  # tenant -> [messages, metrics]
        self._plans: dict[str, BatchPlan] | None = None
        self._batch_hash = ""

    def add(self, model: ContractModel) -> None:
        """Count one record (a message or a metric; other records are not part of a batch)."""
        if not isinstance(model, (Message, Metric)):
            return
        counts = self._counts.setdefault(model.tenant_id, [0, 0])
        counts[isinstance(model, Metric)] += 1
        self._buffer.append(
            (model.__pydantic_serializer__.to_json(model, by_alias=True, exclude_none=True), model.tenant_id)
        )
        if len(self._buffer) >= self.buffer_lines:
            self._spill()

    def _spill(self) -> None:
        self._buffer.sort()
        run = tempfile.TemporaryFile()  # noqa: SIM115 - closed by finish()
        for line, tenant in self._buffer:
            run.write(line + b"\t" + tenant.encode() + b"\n")  # JSON text never holds a raw tab or newline
        run.seek(0)
        self._runs.append(run)
        self._buffer = []

    def _sorted(self) -> Iterator[tuple[bytes, str]]:
        def read(run: Any) -> Iterator[tuple[bytes, str]]:
            for raw in run:
                line, _, tenant = raw.rstrip(b"\n").rpartition(b"\t")
                yield line, tenant.decode()

        self._buffer.sort()
        return heapq.merge(*(read(r) for r in self._runs), iter(self._buffer))

    def finish(self) -> dict[str, BatchPlan]:
        """Each tenant's `BatchPlan`, as `plan_batch` of all the records added gives it (computed once)."""
        if self._plans is not None:
            return self._plans
        whole = hashlib.sha256()
        tenants = {t: hashlib.sha256() for t in self._counts}
        try:
            for line, tenant in self._sorted():
                whole.update(line + b"\n")
                tenants[tenant].update(line + b"\n")
        finally:
            for run in self._runs:
                run.close()
            self._runs, self._buffer = [], []
        self._batch_hash = "sha256:" + whole.hexdigest()
        self._plans = {
            t: BatchPlan(t, "sha256:" + tenants[t].hexdigest(), messages, metrics)
            for t, (messages, metrics) in sorted(self._counts.items())
        }
        return self._plans

    @property
    def batch_id(self) -> str:
        """`content_batch_id` of the records added."""
        self.finish()
        return "content-" + self._batch_hash.removeprefix("sha256:")[:40]


def unix_now(now: Any) -> int:
    """Whole unix seconds of an aware datetime."""
    return int(now.timestamp())


class BatchLedger:
    """Reads, begins and completes `IngestBatch` records through a tenant's scope and the retry policy."""

    def __init__(self, retrier: Retrier, new_id: Callable[[], str]):
        self.retrier = retrier
        self.new_id = new_id

    def read(
        self, scope: TenantScope, batch_id: str, hooks: Sequence[Callable[[Attempt], None]] = ()
    ) -> IngestBatch | None:
        """The tenant's stored record of `batch_id`, or None (expired records included: see `IngestBatch.expired`)."""
        key = {"pk": keys.batch_pk(batch_id), "sk": keys.batch_sk()}
        item = self.retrier.call("GetItem", lambda: scope.storage.get_item(scope.messages_table, key), hooks=hooks)
        return None if item is None else IngestBatch.from_item(item, tenant_id=scope.tenant_id)

    def begin(
        self,
        scope: TenantScope,
        batch_id: str,
        plan: BatchPlan,
        now: int,
        hooks: Sequence[Callable[[Attempt], None]] = (),
    ) -> BatchStart:
        """Create the in-progress record, or classify the stored one (replayed, resumed or a BatchConflict)."""
        run_token = self.new_id()
        record = IngestBatch.begin(
            tenant_id=plan.tenant_id,
            batch_id=batch_id,
            content_hash=plan.content_hash,
            message_count=plan.message_count,
            metric_count=plan.metric_count,
            started_at=now,
            event_id=self.new_id() if plan.metric_count else None,
            run_token=run_token,
        )

        def classify(stored_item: dict[str, Any], new_item: dict[str, Any]) -> Outcome | None:
            """Batches compare fingerprints: the same records are `already_exists`, others a `conflict`."""
            stored = IngestBatch.from_item(stored_item, tenant_id=scope.tenant_id)
            if stored.expired(now):
                return None  # expired (the condition let it through since): try the create again
            return Outcome.ALREADY_EXISTS if stored.content_hash == plan.content_hash else Outcome.CONFLICT

        result = put_once(
            scope.storage,
            scope.messages_table,
            CreateOnce(record.to_item(), BEGIN_CONDITION, {"#ttl": "ttl"}, {":now": Decimal(now)}),
            {"pk": record.pk, "sk": record.sk},
            self.retrier,
            classify=classify,
            rounds=MAX_BEGIN_ROUNDS,
            hooks=hooks,
            vanished=lambda failure: RetryBudgetExhausted(
                f"batch {batch_id!r} of tenant {plan.tenant_id!r}: its record kept vanishing "
                "between a failed create and the read",
                attempts=MAX_BEGIN_ROUNDS,
                last_error=failure,
            ),
        )
        if result.outcome is Outcome.CREATED or result.stored is None:
            return BatchStart(record, BatchState.NEW)
        stored = IngestBatch.from_item(result.stored, tenant_id=scope.tenant_id)
        if result.outcome is Outcome.CONFLICT:
            raise BatchConflict(batch_id, plan.tenant_id, stored.to_item(), record.to_item())
        if stored.status is BatchStatus.COMPLETED:
            return BatchStart(stored, BatchState.REPLAYED)
        # In progress: our own create whose response was lost, or another run's.
        return BatchStart(stored, BatchState.NEW if stored.run_token == run_token else BatchState.RESUMED)

    def withdraw(self, scope: TenantScope, start: BatchStart, hooks: Sequence[Callable[[Attempt], None]] = ()) -> bool:
        """Delete the in-progress record `start` created, only if it still carries this run's token.

        Returns False when the stored record is another run's (or completed, or
        gone): it is left as it is. Used when a run gives up before writing any
        record (another tenant's share conflicts), so that nothing of it stays.
        """
        key = {"pk": start.record.pk, "sk": start.record.sk}
        try:
            self.retrier.call(
                "DeleteItem",
                lambda: scope.storage.delete_item(
                    scope.messages_table,
                    key,
                    condition=WITHDRAW_CONDITION,
                    names={"#status": "status"},
                    values={":token": start.record.run_token, ":in_progress": BatchStatus.IN_PROGRESS.value},
                ),
                hooks=hooks,
            )
        except ConditionFailed:
            return False
        return True

    def complete(
        self,
        scope: TenantScope,
        start: BatchStart,
        outcomes: Mapping[str, int],
        now: int,
        hooks: Sequence[Callable[[Attempt], None]] = (),
    ) -> IngestBatch:
        """Mark the tenant's share completed with its outcome counts (a no-op if another run already did)."""
        if set(outcomes) - set(BatchOutcomes.model_fields):
            raise ValueError(
                f"a batch completes only with {', '.join(BatchOutcomes.model_fields)}; got {sorted(outcomes)}"
            )
        counts = BatchOutcomes(**outcomes).to_item()
        key = {"pk": start.record.pk, "sk": start.record.sk}
        try:
            item = self.retrier.call(
                "UpdateItem",
                lambda: scope.storage.update_item(
                    scope.messages_table,
                    key,
                    update=COMPLETE_UPDATE,
                    condition=COMPLETE_CONDITION,
                    names={"#status": "status"},
                    values={
                        ":completed": BatchStatus.COMPLETED.value,
                        ":in_progress": BatchStatus.IN_PROGRESS.value,
                        ":hash": start.record.content_hash,
                        ":at": Decimal(max(now, int(start.record.started_at))),
                        ":outcomes": counts,
                    },
                ),
                hooks=hooks,
            )
            return IngestBatch.from_item(item, tenant_id=scope.tenant_id)
        except ConditionFailed:
            stored = self.read(scope, start.record.batch_id, hooks)
            if (
                stored is not None
                and stored.status is BatchStatus.COMPLETED
                and stored.content_hash == start.record.content_hash
            ):
                return stored  # a concurrent run of the same batch completed it first
            raise


def describe(starts: Mapping[str, BatchStart]) -> str:
    """Per tenant: `tenant: how it started, its status (kept until 2026-12-25T12:00:00Z)`."""
    return (
        "; ".join(
            f"{t}: {s.state.value}, {s.record.status.value.replace('_', ' ')} "
            f"(kept until {format_instant(s.record.ttl)})"
            for t, s in sorted(starts.items())
        )
        or "not recorded"
    )


def read_batch(scope: TenantScope, batch_id: str, *, retrier: Retrier | None = None) -> IngestBatch | None:
    """The tenant's record of `batch_id` (a GetItem on its messages table), or None."""
    return BatchLedger(retrier or Retrier(), lambda: "").read(scope, batch_id)
