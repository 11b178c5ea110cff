"""Create-once writes: the idempotent path every loader shares.

`create_once` writes an item with `attribute_not_exists(<hash key>)`. If the
item is already there, the stored version decides the outcome: identical
content is `already_exists` (success), different content is `conflict` and is
reported with both versions, never overwritten. A write whose response was lost
and is retried finds its own item and ends as `already_exists`, never as a
conflict and never counted twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from salestalk_lib.contract.errors import ConditionFailed
from salestalk_lib.dynamo.retry import Retrier
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
    """The outcome of one create-once write, with both versions on a conflict."""

    table: str
    key: dict[str, Any]
    outcome: Outcome
    stored: dict[str, Any] | None = None
    incoming: dict[str, Any] | None = None

    def differing_fields(self) -> list[str]:
        """The attribute names whose values differ between stored and incoming (conflicts only)."""
        if self.stored is None or self.incoming is None:
            return []
        names = set(self.stored) | set(self.incoming)
        return sorted(n for n in names if self.stored.get(n) != self.incoming.get(n))


def create_once(storage: Storage, table: str, item: Mapping[str, Any], key_names: tuple[str, ...],
                retrier: Retrier) -> WriteResult:
    """Write `item` unless its key exists; classify an existing item as unchanged or conflict."""
    key = {k: item[k] for k in key_names}
    try:
        retrier.call(f"PutItem {table}", lambda: storage.put_item(
            table, item, condition="attribute_not_exists(#k)", names={"#k": key_names[0]}))
        return WriteResult(table, key, Outcome.CREATED)
    except ConditionFailed as exc:
        stored = exc.item if exc.item is not None else retrier.call(
            f"GetItem {table}", lambda: storage.get_item(table, key))
        if stored is None:
            raise  # the item vanished between the check and the read: the caller decides
    if stored == dict(item):
        return WriteResult(table, key, Outcome.ALREADY_EXISTS)
    return WriteResult(table, key, Outcome.CONFLICT, stored=stored, incoming=dict(item))
