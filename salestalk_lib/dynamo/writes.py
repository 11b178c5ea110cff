"""Create-once writes: the one conditional-write primitive every loader shares.

`put_once` puts an item with a not-exists condition (by default
`attribute_not_exists(pk)`; a caller may widen it, e.g. "or expired"). The seam
asks for `ReturnValuesOnConditionCheckFailure=ALL_OLD`, so a failed condition
brings the stored item back in the same round trip (a GetItem reads it only
when the endpoint did not return it). The stored item then decides the outcome,
by the caller's classifier (`by_content` unless told otherwise): identical
content is `already_exists` (success), different content is `conflict` and is
reported with both versions, never overwritten. A write whose response was lost
and is retried finds its own item and ends as `already_exists`, never as a
conflict and never counted twice. Every request goes through the `Retrier`.

A stored item that vanished between the failed condition and the read (or that
the classifier says to treat as absent, e.g. an expired record) is created
again, for at most `rounds` rounds; then `vanished(failure)` is raised (the
last ConditionFailed by default).

`create_once` is `put_once` keyed by a table's hash key (the registry). The
transaction paths of ingestion keep their own TransactWriteItems, and classify
each item they find stored with the same `by_content` and `Outcome`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from salestalk_lib.contract.errors import ConditionFailed
from salestalk_lib.dynamo.retry import AttemptHook, Retrier
from salestalk_lib.dynamo.storage import Storage


class Outcome(StrEnum):
    """How one record's write ended (create-once writes end in the first three)."""

    CREATED = "created"
    ALREADY_EXISTS = "already_exists"
    CONFLICT = "conflict"
    WRITTEN = "written"  # a last-writer-wins bulk load wrote it without a condition: created or overwritten
    FAILED = "failed"  # the retry budget was spent (or the run stopped mid-record); the error says which
    SKIPPED = "skipped"  # never started: the run was interrupted, or the tenant stopped being active


@dataclass(frozen=True)
class WriteResult:
    """The outcome of one create-once write: the stored item when one was found, and the incoming one.

    `stored` is None for a created item; `rounds` counts the conditional puts
    sent as separate rounds (more than one only when a stored item vanished).
    """

    table: str
    key: dict[str, Any]
    outcome: Outcome
    stored: dict[str, Any] | None = None
    incoming: dict[str, Any] | None = None
    rounds: int = 1

    @property
    def conflict(self) -> bool:
        return self.outcome is Outcome.CONFLICT

    def differing_fields(self) -> list[str]:
        """The attribute names whose values differ between stored and incoming (conflicts only)."""
        if self.outcome is not Outcome.CONFLICT or self.stored is None or self.incoming is None:
            return []
        names = set(self.stored) | set(self.incoming)
        return sorted(n for n in names if self.stored.get(n) != self.incoming.get(n))


Classifier = Callable[[dict[str, Any], dict[str, Any]], Outcome | None]
"""`classify(stored, new)`: the outcome of a create-once write that found `stored` (None: treat it as absent)."""

CREATE_ONCE = "attribute_not_exists(pk)"


def by_content(stored: Mapping[str, Any], new: Mapping[str, Any]) -> Outcome:
    """The comparison rule of a create-once write: the same item is `already_exists`, another a `conflict`."""
    return Outcome.ALREADY_EXISTS if dict(stored) == dict(new) else Outcome.CONFLICT


@dataclass(frozen=True)
class CreateOnce:
    """One round's request of a create-once write: the item and its condition (placeholders included)."""

    item: Mapping[str, Any]
    condition: str = CREATE_ONCE
    names: Mapping[str, str] | None = None
    values: Mapping[str, Any] | None = None


def put_once(
    storage: Storage,
    table: str,
    request: CreateOnce | Callable[[], CreateOnce],
    key: Mapping[str, Any],
    retrier: Retrier,
    *,
    classify: Classifier = by_content,
    rounds: int = 1,
    vanished: Callable[[ConditionFailed], BaseException] | None = None,
    hooks: Sequence[AttemptHook] = (),
    operation: str = "PutItem",
    read_operation: str = "GetItem",
) -> WriteResult:
    """Create `request.item` unless `key` is stored; classify the stored item (see the module doc).

    `request` may be a callable building a fresh request each round (a new claim
    token, a new time). Returns created / already_exists / conflict with the
    stored item (when one was found) and the incoming one; `rounds` is the
    number of conditional puts sent as separate rounds.
    """
    if rounds < 1:
        raise ValueError(f"a create-once write takes at least one round, got {rounds}")
    key = dict(key)
    failure: ConditionFailed | None = None
    for n in range(1, rounds + 1):
        req = request() if callable(request) else request
        item = dict(req.item)
        try:
            retrier.call(
                operation,
                lambda: storage.put_item(table, item, condition=req.condition, names=req.names, values=req.values),
                hooks=hooks,
            )
            return WriteResult(table, key, Outcome.CREATED, incoming=item, rounds=n)
        except ConditionFailed as exc:
            failure = exc
            stored = exc.item or retrier.call(read_operation, lambda: storage.get_item(table, key), hooks=hooks)
        outcome = classify(stored, item) if stored is not None else None
        if outcome is not None:
            return WriteResult(table, key, outcome, stored=stored, incoming=item, rounds=n)
        # Gone (or to be treated as gone) since the failed condition: try the create again.
    if failure is None:  # unreachable: every round above returns or records its failure
        raise RuntimeError("put_once ended without a result")
    if vanished is None:
        raise failure
    raise vanished(failure)


def create_once(
    storage: Storage, table: str, item: Mapping[str, Any], key_names: tuple[str, ...], retrier: Retrier
) -> WriteResult:
    """Write `item` unless its key exists; classify an existing item as unchanged or conflict (by content).

    One round: an item that vanished between the failed condition and the read
    raises that ConditionFailed (the caller decides).
    """
    return put_once(
        storage,
        table,
        CreateOnce(item, "attribute_not_exists(#k)", {"#k": key_names[0]}),
        {k: item[k] for k in key_names},
        retrier,
        operation=f"PutItem {table}",
        read_operation=f"GetItem {table}",
    )
