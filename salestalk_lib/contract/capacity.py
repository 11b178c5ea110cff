"""What reads and writes cost in capacity units, by DynamoDB's documented rules (pure: no boto3).

The rules, for on-demand tables (read/write request units count the same way):

- **GetItem**: one read unit per started 4 KB of the item (a missing item still
  costs one unit); strongly consistent reads cost that, eventually consistent
  ones half.
- **Query**: the sizes of all items the key condition *reads* are summed (items a
  filter or the client drops afterwards count too) and rounded up to the next
  4 KB, once per page (a page ends after `Limit` items or 1 MB read); eventually
  consistent is half. A GSI is read eventually consistently only.
- **Writes**: one write unit per started KB of the item (for a put over an
  existing item or an update: the larger of the item before and after);
  in a TransactWriteItems every item's units count twice (prepare and commit).
- **Index writes**: each GSI whose key attributes the item carries takes its own
  write, sized by the projected entry (projection ALL: the whole item): a new
  entry is a put, a changed entry an update (the larger size), a changed index
  key a delete plus a put (two writes), an entry that loses its key a delete.
  An item without an index's key attributes costs that index nothing (sparse).

`item_kind` names what an item is from its key (message, session rollup, ...).
The Capacity page (`devtools.model_views`) applies these rules to the seed items;
`tests/test_capacity.py` checks them by hand-computed figures and against the
consumed capacity DynamoDB Local reports (`ENGINE_DIFFERENCES` lists where it
reports otherwise).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from math import ceil
from typing import Any

from salestalk_lib.contract import keys
from salestalk_lib.contract.models import item_size_bytes
from salestalk_lib.contract.tables import IndexSpec, TableKind, TableSpec

READ_UNIT_BYTES = 4 * 1024
"""A read unit covers a started 4 KB (strongly consistent; eventually consistent: two of them)."""
WRITE_UNIT_BYTES = 1024
"""A write unit covers a started 1 KB."""
QUERY_PAGE_BYTES = 1024 * 1024
"""A Query page stops after 1 MB of items read."""
TRANSACTION_FACTOR = 2
"""TransactWriteItems writes every item twice (prepare, commit): its units count double."""
TRANSACTION_INDEX_FACTOR = 1
"""The rule used here for the index writes a transactional write causes: counted once. AWS documents
the doubling for the items in a transaction, not for the index updates that follow them; DynamoDB
Local doubles them too (see `ENGINE_DIFFERENCES`)."""

_HALF = Decimal("0.5")


def _units(size: int, unit: int) -> int:
    return max(1, ceil(size / unit))


def size_of(item: Mapping[str, Any] | int) -> int:
    """An item's size in bytes by DynamoDB's rules (`models.item_size_bytes`); an int is taken as a size."""
    return item if isinstance(item, int) else item_size_bytes(item)


def get_item_rcu(item: Mapping[str, Any] | int | None, *, consistent: bool) -> Decimal:
    """Read units of one GetItem: 1 per started 4 KB (a missing item: 1); eventually consistent: half."""
    units = Decimal(_units(0 if item is None else size_of(item), READ_UNIT_BYTES))
    return units if consistent else units * _HALF


def query_pages(sizes: Sequence[int], *, limit: int | None = None) -> list[list[int]]:
    """The items read, split into pages as DynamoDB pages a Query: at `limit` items or once 1 MB is read."""
    pages: list[list[int]] = []
    page: list[int] = []
    read = 0
    for size in sizes:
        page.append(size)
        read += size
        if (limit is not None and len(page) == limit) or read >= QUERY_PAGE_BYTES:
            pages.append(page)
            page, read = [], 0
    if page or not pages:
        pages.append(page)
    return pages


def query_rcu(items: Iterable[Mapping[str, Any] | int], *, consistent: bool, limit: int | None = None) -> Decimal:
    """Read units of a Query (all its pages) that reads `items`: per page the summed size rounded up to 4 KB.

    Every item the key condition reads counts, including those dropped afterwards. A page
    that reads nothing is charged the one-unit minimum (DynamoDB Local reports 0 for it).
    """
    sizes = [size_of(i) for i in items]
    units = Decimal(sum(_units(sum(page), READ_UNIT_BYTES) for page in query_pages(sizes, limit=limit)))
    return units if consistent else units * _HALF


def wcu(item: Mapping[str, Any] | int, previous: Mapping[str, Any] | int | None = None) -> int:
    """Write units of writing `item` (over `previous`, when one is stored): 1 per started KB of the larger."""
    size = size_of(item)
    if previous is not None:
        size = max(size, size_of(previous))
    return _units(size, WRITE_UNIT_BYTES)


def carries(index: IndexSpec, item: Mapping[str, Any]) -> bool:
    """True when `item` has every key attribute of `index`, so the index holds an entry for it."""
    return all(a.name in item for a in index.key_attributes)


def indexes_holding(spec: TableSpec, item: Mapping[str, Any]) -> tuple[IndexSpec, ...]:
    """The GSIs of `spec` that hold an entry for `item` (the others are sparse for it)."""
    return tuple(i for i in spec.indexes if carries(i, item))


@dataclass(frozen=True)
class WriteCost:
    """Write units of one write: on the table, and per GSI it writes."""

    table: int
    indexes: Mapping[str, int] = field(default_factory=dict)

    @property
    def index_total(self) -> int:
        return sum(self.indexes.values())

    @property
    def total(self) -> int:
        return self.table + self.index_total

    def __add__(self, other: WriteCost) -> WriteCost:
        names = {**self.indexes, **other.indexes}
        return WriteCost(self.table + other.table, {n: self.indexes.get(n, 0) + other.indexes.get(n, 0) for n in names})


def _index_key(index: IndexSpec, item: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(item[a.name] for a in index.key_attributes)


def index_write_units(index: IndexSpec, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> int:
    """Write units `index` takes when an item goes from `before` to `after` (None: absent); 0 if untouched."""
    had = before is not None and carries(index, before)
    has = after is not None and carries(index, after)
    if had and has and before is not None and after is not None:
        if _index_key(index, before) != _index_key(index, after):
            return wcu(before) + wcu(after)  # the old entry is deleted, the new one put
        return wcu(after, before) if dict(before) != dict(after) else 0
    if has and after is not None:
        return wcu(after)
    if had and before is not None:
        return wcu(before)
    return 0


def write_cost(
    spec: TableSpec, item: Mapping[str, Any], *, before: Mapping[str, Any] | None = None, transaction: bool = False
) -> WriteCost:
    """Units of writing `item` (a put, or an update from `before`) into a table of `spec`, with its GSI writes."""
    table = wcu(item, before) * (TRANSACTION_FACTOR if transaction else 1)
    factor = TRANSACTION_INDEX_FACTOR if transaction else 1
    indexes = {i.name: units * factor for i in spec.indexes if (units := index_write_units(i, before, item))}
    return WriteCost(table, indexes)


def item_kind(kind: TableKind, item: Mapping[str, Any]) -> str:
    """What an item is, from its table and key: tenant, message, message identity, session rollup, batch
    record, processed event, headline metric or metric slice."""
    if kind is TableKind.REGISTRY:
        return "tenant"
    pk = str(item.get("pk", ""))
    if kind is TableKind.METRICS:
        return "metric slice" if keys.SLICE_SEPARATOR in str(item.get("sk", "")) else "headline metric"
    for prefix, name in (
        (keys.MSG_IDENTITY_PREFIX, "message identity"),
        (keys.MSG_PREFIX, "message"),
        (keys.SESSION_PREFIX, "session rollup"),
        (keys.BATCH_PREFIX, "batch record"),
        (keys.EVENT_PREFIX, "processed event"),
    ):
        if pk.startswith(prefix):
            return name
    return "unknown"


ENGINE_DIFFERENCES: dict[str, tuple[str, ...]] = {
    "dynamodb-local": (
        "doubles the index writes of a TransactWriteItems as well as its table writes (the rules here count "
        "each index write once)",
        "reports 0 read units for a Query that reads no item (the rules here charge the one-unit minimum)",
        "under-reports a TransactWriteItems of several items on one table: each write of a message ingest "
        "transaction is reported as 2 table units when sent alone, but the three together as 4, not 6",
    ),
    "moto": (
        "reports the table's write units only: with ReturnConsumedCapacity=INDEXES it gives no index part, "
        "so the index writes it leaves out are the rules' figures alone",
    ),
}
"""Where an engine's ReturnConsumedCapacity departs from the rules above (each checked against the engine by the test suite)."""


__all__ = [
    "ENGINE_DIFFERENCES",
    "QUERY_PAGE_BYTES",
    "READ_UNIT_BYTES",
    "TRANSACTION_FACTOR",
    "TRANSACTION_INDEX_FACTOR",
    "WRITE_UNIT_BYTES",
    "WriteCost",
    "carries",
    "get_item_rcu",
    "index_write_units",
    "indexes_holding",
    "item_kind",
    "query_pages",
    "query_rcu",
    "size_of",
    "wcu",
    "write_cost",
]
