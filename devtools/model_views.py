"""Views of the data model built from the seed data: example items, table views, capacity, index matrix.

Everything here is computed from `seed_data/` (validated by `salestalk_lib.ops.seed.plan_seed`,
with the message identities and session rollups `load_seed` derives) and the library's own
builders for what the seed has no example of (a batch record, a processed event); nothing
is typed by hand and nothing talks to a database:

- `example_section(stem)`: one item of a contract page as plain JSON and as DynamoDB JSON
  (what `aws dynamodb get-item` prints), its key attributes annotated from `TABLE_SPECS`
  (hooked into `devtools.contract_docs`' model pages);
- `table_views_page`: every seed item per table, grouped by partition key, sort keys in
  order, item kind and GSI key attributes shown, then each GSI as it sees the items (sparse);
- `capacity_page`: item sizes per kind, read units per access pattern on the seed data
  (items read vs returned), write units per write path and what each index costs a write,
  by the rules of `salestalk_lib.contract.capacity`;
- `with_index_matrix(chart)`: the pattern ↔ table/index matrix, inserted into the access-pattern chart.

Deterministic: fixed ids and times where a builder needs them, items in key order.
"""

from __future__ import annotations

import html
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from salestalk_lib.contract import capacity
from salestalk_lib.contract.capacity import WriteCost, carries, get_item_rcu, item_kind, query_rcu, write_cost
from salestalk_lib.contract.models import (
    BatchOutcomes,
    IngestBatch,
    Message,
    MessageIdentity,
    Metric,
    MetricsIngestedEvent,
    ProcessedEvent,
    SessionRollup,
    Tenant,
    item_size_bytes,
)
from salestalk_lib.contract.tables import TABLE_SPECS, IndexSpec, TableKind, TableSpec
from salestalk_lib.contract.vocab import TenantStatus
from salestalk_lib.dynamo.storage import serialize
from salestalk_lib.ops.batches import content_batch_id, plan_batch
from salestalk_lib.ops.events import metrics_ingested
from salestalk_lib.ops.patterns import EXAMPLE_TENANT, PATTERNS, Between, Eq, Pattern, Prefix, table_pattern
from salestalk_lib.ops.seed import DEFAULT_SEED_DIR, plan_seed

TABLE_VIEWS_PAGE = "table-views.md"
CAPACITY_PAGE = "capacity.md"
WIDE_CLASS = "wide-table"
"""The CSS class (docs/stylesheets/site.css) of a wide table's wrapper: it scrolls sideways."""

# Fixed values for the builders that need an id or a time (the seed has no batch or event).
_EXAMPLE_RUN_TOKEN = "3f0c2a9e-6b1d-4e7a-9c5f-2d8b7a6e1c40"
_EXAMPLE_EVENT_ID = "9a4e1f7c-2b6d-4c3a-8e5f-7d1c0b9a8e62"
_EXAMPLE_CLAIM_TOKEN = "5c8d2e1f-7a3b-4d6c-9e0f-1b2a3c4d5e6f"
_EXAMPLE_CORRELATION_ID = "b7e1c2d3-4f5a-4b6c-8d7e-9f0a1b2c3d4e"


# --- the seed items ---------------------------------------------------------------


@dataclass(frozen=True)
class SeedItem:
    """One item as `load_seed` writes it: its table, tenant, kind and the stored attributes."""

    table: TableKind
    tenant_id: str
    item: Mapping[str, Any]
    derived: bool = False
    """True for items the loader computes (message identities, session rollups), not read from a file."""

    @property
    def kind(self) -> str:
        return item_kind(self.table, self.item)

    @property
    def table_name(self) -> str:
        spec = TABLE_SPECS[self.table]
        return spec.base_name(self.tenant_id if spec.per_tenant else None)

    @property
    def size(self) -> int:
        return item_size_bytes(self.item)


@cache
def _plan(seed_dir: Path) -> tuple[list[Tenant], list[Metric], list[Message], list[SessionRollup]]:
    return plan_seed(seed_dir)


def seed_items(seed_dir: Path = DEFAULT_SEED_DIR) -> list[SeedItem]:
    """Every item `load_seed` writes, in table, tenant and key order (no database: `plan_seed`)."""
    tenants, metrics, messages, rollups = _plan(Path(seed_dir))
    out = [SeedItem(TableKind.REGISTRY, t.tenant_id, t.to_item()) for t in tenants]
    out += [SeedItem(TableKind.MESSAGES, m.tenant_id, m.to_item()) for m in messages]
    out += [SeedItem(TableKind.MESSAGES, m.tenant_id, MessageIdentity.of(m).to_item(), True) for m in messages]
    out += [SeedItem(TableKind.MESSAGES, r.tenant_id, r.to_item(), True) for r in rollups]
    out += [SeedItem(TableKind.METRICS, m.tenant_id, m.to_item()) for m in metrics]
    order = {k: n for n, k in enumerate(TABLE_SPECS)}
    return sorted(out, key=lambda s: (order[s.table], s.table_name, *_primary_key(s.table, s.item)))


def _primary_key(kind: TableKind, item: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(item[a.name] for a in TABLE_SPECS[kind].key_attributes)


def table_items(table: TableKind, tenant_id: str | None = None, seed_dir: Path = DEFAULT_SEED_DIR) -> list[SeedItem]:
    """The seed items of one table (a tenant's, for the tenant tables)."""
    return [
        s
        for s in seed_items(seed_dir)
        if s.table is table and (table is TableKind.REGISTRY or s.tenant_id == tenant_id)
    ]


def _seed_tenants(seed_dir: Path = DEFAULT_SEED_DIR) -> list[str]:
    return sorted(t.tenant_id for t in _plan(Path(seed_dir))[0])


# --- the examples -------------------------------------------------------------------


def _example_message() -> Message:
    messages = [m for m in _plan(DEFAULT_SEED_DIR)[2] if m.tenant_id == EXAMPLE_TENANT]
    wanted = dict(next(p for p in PATTERNS if p.name == "message_by_id").example)["message_id"]
    return next(m for m in messages if m.message_id == wanted)


def _session_messages(session_id: str) -> list[Message]:
    return sorted(
        (m for m in _plan(DEFAULT_SEED_DIR)[2] if m.session_id == session_id), key=lambda m: (m.timestamp, m.message_id)
    )


def _example_metric(slice_: bool) -> Metric:
    metrics = [m for m in _plan(DEFAULT_SEED_DIR)[1] if m.tenant_id == EXAMPLE_TENANT and m.subject == "revenue"]
    return next(m for m in sorted(metrics, key=lambda m: m.sk) if m.is_slice == slice_ and m.period.text == "2025-Q3")


def _example_records() -> list[Message | Metric]:
    _, metrics, messages, _ = _plan(DEFAULT_SEED_DIR)
    return [m for m in (*metrics, *messages) if m.tenant_id == EXAMPLE_TENANT]


def _example_started_at() -> Decimal:
    # The seed's latest message time: a fixed, plausible moment for the batch and the event.
    return max(m.timestamp for m in _plan(DEFAULT_SEED_DIR)[2]).to_integral_value()


def example_batch(*, completed: bool = False) -> IngestBatch:
    """The batch record an ingest of the example tenant's seed records writes (`IngestBatch.begin`)."""
    records = _example_records()
    share = plan_batch(records)[EXAMPLE_TENANT]
    record = IngestBatch.begin(
        tenant_id=EXAMPLE_TENANT,
        batch_id=content_batch_id(records),
        content_hash=share.content_hash,
        message_count=share.message_count,
        metric_count=share.metric_count,
        started_at=_example_started_at(),
        event_id=_EXAMPLE_EVENT_ID if share.metric_count else None,
        run_token=_EXAMPLE_RUN_TOKEN,
    )
    if not completed:
        return record
    done = {
        **record.to_item(),
        "status": "completed",
        "completedAt": record.started_at + 2,
        "outcomes": BatchOutcomes(created=record.record_count).to_item(),
    }
    return IngestBatch.from_item(done)


def example_event() -> MetricsIngestedEvent:
    """The `metrics.ingested.v1` event of the example batch (`ops.events.metrics_ingested`)."""
    batch = example_batch()
    metrics = [m for m in _example_records() if isinstance(m, Metric)]
    when = datetime.fromtimestamp(int(batch.started_at) + 2, tz=UTC)
    return metrics_ingested(
        tenant_id=EXAMPLE_TENANT,
        batch_id=batch.batch_id,
        metrics=metrics,
        outcomes={"created": len(metrics)},
        correlation_id=_EXAMPLE_CORRELATION_ID,
        event_id=_EXAMPLE_EVENT_ID,
        now=lambda: when,
    )


def example_processed_event(*, processed: bool = False) -> ProcessedEvent:
    """A consumer's claim of the example event (`ProcessedEvent.claim`), or that claim once processed."""
    claim = ProcessedEvent.claim(
        example_event(), claim_token=_EXAMPLE_CLAIM_TOKEN, claimed_at=_example_started_at() + 3
    )
    if not processed:
        return claim
    return ProcessedEvent.from_item({**claim.to_item(), "status": "processed", "processedAt": claim.claimed_at + 1})


@dataclass(frozen=True)
class Example:
    """An example item of a contract page: what it is, where it comes from, its table (None: not an item)."""

    title: str
    origin: str
    value: Mapping[str, Any]
    table: TableKind | None


def examples(stem: str) -> list[Example]:
    """The example item(s) of the contract page `stem` (empty for a page without one)."""
    message = _example_message()
    tenant = next(t for t in _plan(DEFAULT_SEED_DIR)[0] if t.tenant_id == EXAMPLE_TENANT)
    seed = f"seed data (`seed_data/{EXAMPLE_TENANT}`)"
    if stem == "tenant":
        return [Example("Tenant", "seed data (`seed_data/tenants.json`)", tenant.to_item(), TableKind.REGISTRY)]
    if stem == "message":
        return [Example("Message", seed, message.to_item(), TableKind.MESSAGES)]
    if stem == "message-identity":
        return [
            Example(
                "Message identity",
                f"derived from the seed message {message.message_id} (`MessageIdentity.of`, as ingestion writes it)",
                MessageIdentity.of(message).to_item(),
                TableKind.MESSAGES,
            )
        ]
    if stem == "session-rollup":
        return [
            Example(
                "Session rollup",
                f"derived from the seed messages of session {message.session_id} "
                "(`SessionRollup.of_messages`, as `load_seed` writes it)",
                SessionRollup.of_messages(_session_messages(message.session_id)).to_item(),
                TableKind.MESSAGES,
            )
        ]
    if stem == "ingest-batch":
        return [
            Example(
                "Ingest batch",
                f"generated: the record `IngestBatch.begin` writes for an ingest of "
                f"{EXAMPLE_TENANT}'s seed records (the seed load records no batch)",
                example_batch().to_item(),
                TableKind.MESSAGES,
            )
        ]
    if stem == "processed-event":
        return [
            Example(
                "Processed event",
                "generated: `ProcessedEvent.claim` of the example batch's "
                "`metrics.ingested.v1` event (the seed has none)",
                example_processed_event().to_item(),
                TableKind.MESSAGES,
            )
        ]
    if stem == "metric":
        return [
            Example("Headline metric", seed, _example_metric(False).to_item(), TableKind.METRICS),
            Example("Metric slice", seed, _example_metric(True).to_item(), TableKind.METRICS),
        ]
    if stem == "data-reference":
        ref = next(m for m in _plan(DEFAULT_SEED_DIR)[2] if m.data_references).data_references[0]
        return [
            Example(
                "Data reference",
                "seed data: the first `dataReferences` entry of a seed message (a map inside the message item)",
                ref.to_item(),
                None,
            )
        ]
    if stem == "events":
        return [
            Example(
                "metrics.ingested.v1 event",
                "generated: `ops.events.metrics_ingested` for the example "
                "batch (sent to EventBridge as the entry's Detail, not stored in a table)",
                example_event().to_item(),
                None,
            )
        ]
    return []


def plain(value: Any) -> Any:
    """A stored value as JSON data: whole Decimals as int, others as float only when that is exact."""
    if isinstance(value, Decimal):
        if value == value.to_integral_value():
            return int(value)
        as_float = float(value)
        if Decimal(repr(as_float)) != value:
            raise ValueError(f"{value} has no exact JSON float form")
        return as_float
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def plain_json(item: Mapping[str, Any]) -> str:
    """The item as indented JSON (numbers as numbers, exact)."""
    return json.dumps(plain(item), indent=2, ensure_ascii=False)


def dynamodb_json(item: Mapping[str, Any]) -> str:
    """The item as `aws dynamodb get-item` prints it: `{"Item": {name: {"S": ...}, ...}}`."""
    return json.dumps({"Item": serialize(item)}, indent=2, ensure_ascii=False)


def key_roles(spec: TableSpec, item: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(attribute, role) for every key attribute of the table and its indexes the item carries."""
    roles: dict[str, list[str]] = defaultdict(list)
    kinds = {"HASH": "partition key", "RANGE": "sort key"}
    for k in spec.key_schema():
        roles[k["AttributeName"]].append(f"table {kinds[k['KeyType']]}")
    for index in spec.indexes:
        if carries(index, item):
            for k in index.key_schema():
                roles[k["AttributeName"]].append(f"`{index.name}` {kinds[k['KeyType']]}")
    return [(name, ", ".join(r)) for name, r in roles.items() if name in item]


def _fence(text: str, lang: str = "json", indent: str = "") -> list[str]:
    return [f"{indent}```{lang}", *(indent + line for line in text.splitlines()), f"{indent}```", ""]


def example_section(stem: str) -> list[str]:
    """Markdown: the page's example item(s), plain and DynamoDB JSON, with the key attributes annotated."""
    found = examples(stem)
    if not found:
        return []
    out = ["## Example {#example}", ""]
    for ex in found:
        out += [f"### {ex.title}", "", f"From {ex.origin}.", ""]
        if ex.table is not None:
            spec = TABLE_SPECS[ex.table]
            name = spec.base_name(ex.value["tenantId"] if spec.per_tenant else None)
            out += [f"Stored in `{name}`. Key attributes:", ""]
            out += ["| attribute | value | role |", "|---|---|---|"]
            out += [f"| `{a}` | `{_cell(plain(ex.value[a]))}` | {role} |" for a, role in key_roles(spec, ex.value)]
            held = [i.name for i in spec.indexes if carries(i, ex.value)]
            absent = [i.name for i in spec.indexes if not carries(i, ex.value)]
            line = "In " + (", ".join(f"`{n}`" for n in held) if held else "no index")
            if absent:
                line += (
                    "; absent from "
                    + ", ".join(f"`{n}`" for n in absent)
                    + f" (it lacks {'that index' if len(absent) == 1 else 'their'} key attributes: sparse)"
                )
            out += ["", line + f". Size: {item_size_bytes(ex.value):,} bytes by DynamoDB's rules.", ""]
            out += [
                "**JSON** (the stored attributes, as the library reads and writes them):",
                "",
                *_fence(plain_json(ex.value)),
                "**DynamoDB JSON** (exactly as `aws dynamodb get-item` prints it):",
                "",
                *_fence(dynamodb_json(ex.value)),
            ]
        else:
            out += ["**JSON:**", "", *_fence(plain_json(ex.value))]
            if stem == "data-reference":
                out += [
                    "**DynamoDB JSON** (the map as it sits inside the message item's `dataReferences` list):",
                    "",
                    *_fence(json.dumps({"M": serialize(ex.value)}, indent=2, ensure_ascii=False)),
                ]
    return out


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("`", "'")


# --- HTML tables ----------------------------------------------------------------------


def _h(value: Any) -> str:
    return html.escape(str(plain(value)) if isinstance(value, Decimal) else str(value), quote=True)


def _html_table(header: Sequence[str], groups: Sequence[Sequence[Sequence[str]]]) -> list[str]:
    """A wide-scrolling HTML table; each group's rows share their first cell (rowspan). Cells are HTML."""
    out = [
        f'<div class="{WIDE_CLASS}" markdown="0">',
        "<table>",
        "<thead><tr>" + "".join(f"<th>{h}</th>" for h in header) + "</tr></thead>",
        "<tbody>",
    ]
    for rows in groups:
        for n, row in enumerate(rows):
            first = f'<td rowspan="{len(rows)}"><code>{row[0]}</code></td>' if n == 0 else ""
            out.append("<tr>" + first + "".join(f"<td>{c}</td>" for c in row[1:]) + "</tr>")
    return out + ["</tbody>", "</table>", "</div>", ""]


def _code(value: Any) -> str:
    return f"<code>{_h(value)}</code>" if value is not None else "–"


def _gsi_attributes(spec: TableSpec) -> list[str]:
    table_keys = {a.name for a in spec.key_attributes}
    return [a.name for a in spec.key_attributes_all() if a.name not in table_keys]


def _sort_value(item: Mapping[str, Any], attr: str) -> tuple[int, Any]:
    value = item.get(attr)
    return (0, value) if value is not None else (1, "")


def _kinds_line(items: Iterable[SeedItem]) -> str:
    counts: dict[str, int] = defaultdict(int)
    for s in items:
        counts[s.kind] += 1
    return ", ".join(f"{n} {kind if n == 1 else _plural(kind)}" for kind, n in sorted(counts.items()))


def _plural(kind: str) -> str:
    return kind[:-1] + "ies" if kind.endswith("y") else kind + "s"


def table_view(items: Sequence[SeedItem], spec: TableSpec) -> list[str]:
    """The items of one table grouped by partition key, sort keys in order, kind and GSI keys shown."""
    hk, rk = spec.hash_key.name, spec.range_key.name if spec.range_key else None
    gsi_attrs = _gsi_attributes(spec)
    groups: dict[Any, list[SeedItem]] = defaultdict(list)
    for s in items:
        groups[s.item[hk]].append(s)
    header = [f"<code>{hk}</code> (partition)"] + ([f"<code>{rk}</code> (sort)"] if rk else []) + ["item kind"]
    header += [f"<code>{a}</code>" for a in gsi_attrs] + ["size (bytes)"]
    rows = []
    for pk in sorted(groups):
        members = sorted(groups[pk], key=lambda s: s.item[rk]) if rk else groups[pk]
        rows.append(
            [
                [_h(pk)]
                + ([_code(s.item[rk])] if rk else [])
                + [_h(s.kind) + (" (derived)" if s.derived else "")]
                + [_code(s.item.get(a)) for a in gsi_attrs]
                + [f"{s.size:,}"]
                for s in members
            ]
        )
    return _html_table(header, rows)


def index_view(items: Sequence[SeedItem], index: IndexSpec) -> tuple[list[SeedItem], list[SeedItem]]:
    """(the items the index holds, in index key order; the items it leaves out: sparse)."""
    held = [s for s in items if carries(index, s.item)]
    rk = index.range_key.name if index.range_key else None
    held.sort(key=lambda s: (s.item[index.hash_key.name], s.item[rk] if rk else 0))
    return held, [s for s in items if not carries(index, s.item)]


def _index_section(items: Sequence[SeedItem], spec: TableSpec, index: IndexSpec) -> list[str]:
    held, absent = index_view(items, index)
    hk, rk = index.hash_key.name, index.range_key.name if index.range_key else None
    level = "####" if spec.per_tenant else "###"
    out = [
        f"{level} Index `{index.name}`",
        "",
        f"{index.purpose[:1].upper() + index.purpose[1:]}: partition `{hk}`"
        + (f", sort `{rk}`" if rk else "")
        + ", projection ALL.",
        "",
    ]
    if held:
        groups: dict[Any, list[SeedItem]] = defaultdict(list)
        for s in held:
            groups[s.item[hk]].append(s)
        header = [f"<code>{hk}</code> (index partition)"] + ([f"<code>{rk}</code> (index sort)"] if rk else [])
        header += [f"<code>{a.name}</code>" for a in spec.key_attributes] + ["item kind"]
        rows = [
            [
                [_h(key)]
                + ([_code(s.item[rk])] if rk else [])
                + [_code(s.item[a.name]) for a in spec.key_attributes]
                + [_h(s.kind)]
                for s in groups[key]
            ]
            for key in sorted(groups)
        ]
        out += _html_table(header, rows)
    else:
        out += ["No seed item carries this index's key.", ""]
    if absent:
        out += [
            f"Not in `{index.name}` (they lack `{hk}`" + (f" or `{rk}`" if rk else "") + f"): {_kinds_line(absent)}.",
            "",
        ]
    return out


def table_views_page(inputs: Any = None) -> str:
    """The Table views page: every seed item by table and partition, and each GSI's view of them."""
    out = [
        "# Table views",
        "",
        "Every item the seed load writes (`salestalk seed`, `load_seed`), laid out as DynamoDB keeps it: per",
        "table, grouped by partition key, sort keys in order within a partition (DynamoDB spreads partitions",
        "by a hash of the key, so their order here is just alphabetical). Message identities and session",
        "rollups are *derived*: the loader computes them from the messages, as live ingestion does. Then each",
        "global secondary index as it sees the same items: an index holds only the items that carry its key",
        "attributes (sparse), ordered by the index's sort key. Generated from `seed_data/` by",
        "`devtools.model_views` (validated by `plan_seed`, no database).",
        "",
    ]
    tenants = _seed_tenants()
    for kind, spec in TABLE_SPECS.items():
        out += [f"## `{table_pattern(kind)}`", ""]
        sets = (
            [(spec.base_name(None), table_items(kind))]
            if not spec.per_tenant
            else [(spec.base_name(t), table_items(kind, t)) for t in tenants]
        )
        for name, items in sets:
            if spec.per_tenant:
                out += [f"### `{name}`", ""]
            out += [f"{len(items)} items: {_kinds_line(items)}.", ""]
            out += table_view(items, spec)
            for index in spec.indexes:
                out += _index_section(items, spec, index)
    return "\n".join(out).rstrip("\n") + "\n"


# --- reads: the access patterns on the seed data -----------------------------------


@dataclass(frozen=True)
class PatternCost:
    """One pattern's example run on the seed data: what it reads, returns and costs."""

    pattern: Pattern
    operation: str
    read: tuple[Mapping[str, Any], ...]
    returned: tuple[Mapping[str, Any], ...]
    rcu_strong: Decimal | None
    """None on a GSI: indexes are read eventually consistently only."""
    rcu_eventual: Decimal
    consistent_sent: bool
    """Whether the library's request reads strongly consistently (GetItem: yes; Query: no)."""

    @property
    def bytes_read(self) -> int:
        return sum(item_size_bytes(i) for i in self.read)


def _eq_value(cond: Eq, params: Mapping[str, Any]) -> Any:
    return cond.build() if cond.param is None else cond.build(params[cond.param])


def matches(pattern: Pattern, params: Mapping[str, Any], item: Mapping[str, Any]) -> bool:
    """True when the pattern's key condition (for checked `params`) selects `item`, as DynamoDB would."""
    if pattern.index is not None and not carries(TABLE_SPECS[pattern.table].index(pattern.index), item):
        return False
    if item.get(pattern.hash_key.attribute) != _eq_value(pattern.hash_key, params):
        return False
    rk = pattern.range_key
    value = item.get(rk.attribute) if rk is not None else None
    if isinstance(rk, Eq) and (rk.param is None or rk.param in params):
        return value == _eq_value(rk, params)
    if isinstance(rk, Between):
        return (rk.low not in params or value >= params[rk.low]) and (rk.high not in params or value <= params[rk.high])
    if isinstance(rk, Prefix):
        return isinstance(value, str) and value.startswith(params[rk.param])
    return True


def pattern_cost(
    pattern: Pattern, items: Sequence[Mapping[str, Any]], params: Mapping[str, Any] | None = None
) -> PatternCost:
    """What `pattern` (its example, or `params`) reads from `items` (one table's) and what that costs."""
    checked = pattern.check_params(dict(pattern.example if params is None else params))
    read = [i for i in items if matches(pattern, checked, i)]
    sort_attr = pattern.range_key.attribute if pattern.range_key else None
    if sort_attr:
        read.sort(key=lambda i: i[sort_attr])
    returned = [i for i in read if pattern.keep is None or pattern.keep(i, checked)]
    operation = pattern.operation(checked)
    if operation == "GetItem":
        found = read[0] if read else None
        strong, eventual = get_item_rcu(found, consistent=True), get_item_rcu(found, consistent=False)
        consistent = True
    else:
        strong = None if pattern.index else query_rcu(read, consistent=True)
        eventual = query_rcu(read, consistent=False)
        consistent = False
    return PatternCost(pattern, operation, tuple(read), tuple(returned), strong, eventual, consistent)


def seed_pattern_costs() -> list[PatternCost]:
    """Every pattern's example on the seed data (tenant patterns on the example tenant's tables)."""
    out = []
    for p in PATTERNS:
        items = [s.item for s in table_items(p.table, None if p.table is TableKind.REGISTRY else EXAMPLE_TENANT)]
        out.append(pattern_cost(p, items))
    return out


# --- writes: the write paths --------------------------------------------------------


@dataclass(frozen=True)
class WriteStep:
    """One item written: its table, the item before (None: new) and after, in a transaction or not."""

    what: str
    table: TableKind
    before: Mapping[str, Any] | None
    after: Mapping[str, Any]
    transaction: bool = False

    @property
    def cost(self) -> WriteCost:
        return write_cost(TABLE_SPECS[self.table], self.after, before=self.before, transaction=self.transaction)


@dataclass(frozen=True)
class WritePath:
    """A write the library makes: its requests, and the items each writes."""

    name: str
    requests: str
    steps: tuple[WriteStep, ...]

    @property
    def cost(self) -> WriteCost:
        total = WriteCost(0)
        for step in self.steps:
            total = total + step.cost
        return total


def write_paths() -> list[WritePath]:
    """The library's write paths, each on an example item of the seed (or generated) data."""
    message = _example_message()
    session = _session_messages(message.session_id)
    newest = session[-1]
    tenant = next(t for t in _plan(DEFAULT_SEED_DIR)[0] if t.tenant_id == EXAMPLE_TENANT)
    suspended = {**tenant.to_item(), "status": TenantStatus.SUSPENDED.value, "updatedAt": tenant.updated_at + 1}
    batch, done = example_batch(), example_batch(completed=True)
    claim, processed = example_processed_event(), example_processed_event(processed=True)
    return [
        WritePath(
            "message ingest, first message of a session",
            "1 TransactWriteItems: Put identity + Put message + Update rollup (new)",
            (
                WriteStep("message identity", TableKind.MESSAGES, None, MessageIdentity.of(session[0]).to_item(), True),
                WriteStep("message", TableKind.MESSAGES, None, session[0].to_item(), True),
                WriteStep(
                    "session rollup (created)",
                    TableKind.MESSAGES,
                    None,
                    SessionRollup.of_messages(session[:1]).to_item(),
                    True,
                ),
            ),
        ),
        WritePath(
            "message ingest, later message of a session",
            "1 TransactWriteItems: Put identity + Put message + Update rollup (newest)",
            (
                WriteStep("message identity", TableKind.MESSAGES, None, MessageIdentity.of(newest).to_item(), True),
                WriteStep("message", TableKind.MESSAGES, None, newest.to_item(), True),
                WriteStep(
                    "session rollup (updated)",
                    TableKind.MESSAGES,
                    SessionRollup.of_messages(session[:-1]).to_item(),
                    SessionRollup.of_messages(session).to_item(),
                    True,
                ),
            ),
        ),
        WritePath(
            "metric put, headline",
            "1 PutItem with attribute_not_exists(pk)",
            (WriteStep("headline metric", TableKind.METRICS, None, _example_metric(False).to_item()),),
        ),
        WritePath(
            "metric put, slice",
            "1 PutItem with attribute_not_exists(pk)",
            (WriteStep("metric slice", TableKind.METRICS, None, _example_metric(True).to_item()),),
        ),
        WritePath(
            "batch record, begin and complete",
            "1 PutItem (in progress) + 1 UpdateItem (completed)",
            (
                WriteStep("batch record (begun)", TableKind.MESSAGES, None, batch.to_item()),
                WriteStep("batch record (completed)", TableKind.MESSAGES, batch.to_item(), done.to_item()),
            ),
        ),
        WritePath(
            "event processing, claim and finish",
            "1 PutItem (processing) + 1 UpdateItem (processed)",
            (
                WriteStep("processed event (claimed)", TableKind.MESSAGES, None, claim.to_item()),
                WriteStep("processed event (processed)", TableKind.MESSAGES, claim.to_item(), processed.to_item()),
            ),
        ),
        WritePath(
            "onboarding, registry item",
            "1 PutItem with attribute_not_exists (CreateTable: no write units)",
            (WriteStep("tenant", TableKind.REGISTRY, None, tenant.to_item()),),
        ),
        WritePath(
            "tenant suspend (status change)",
            "1 UpdateItem of status and updatedAt",
            (WriteStep("tenant", TableKind.REGISTRY, tenant.to_item(), suspended),),
        ),
    ]


# --- the capacity page ------------------------------------------------------------------


def _units(value: Decimal | int | None) -> str:
    if value is None:
        return "n/a"
    return f"{plain(Decimal(value))}"


def _md_row(cells: Iterable[Any]) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def _md_table(header: Sequence[str], rows: Iterable[Sequence[Any]], *, wide: bool = True) -> list[str]:
    table = [_md_row(header), "|" + "|".join("---" for _ in header) + "|", *(_md_row(r) for r in rows)]
    if not wide:
        return table + [""]
    return [f'<div class="{WIDE_CLASS}" markdown>', "", *table, "", "</div>", ""]


def index_users() -> dict[tuple[TableKind, str | None], list[Pattern]]:
    """(table, index or None for the table itself) → the patterns reading it; every table and index listed."""
    users: dict[tuple[TableKind, str | None], list[Pattern]] = {}
    for kind, spec in TABLE_SPECS.items():
        users[(kind, None)] = []
        for index in spec.indexes:
            users[(kind, index.name)] = []
    for p in PATTERNS:
        users[(p.table, p.index)].append(p)
    return users


def unused_indexes() -> list[tuple[TableKind, str]]:
    """The GSIs no access pattern queries."""
    return [(kind, name) for (kind, name), ps in index_users().items() if name is not None and not ps]


def _size_rows() -> list[tuple[str, str, int, int, int]]:
    by_kind: dict[tuple[str, str], list[int]] = defaultdict(list)
    for s in seed_items():
        by_kind[(table_pattern(s.table), s.kind)].append(s.size)
    rows = [(table, kind, len(v), min(v), max(v)) for (table, kind), v in by_kind.items()]
    for table, kind, item in (
        ("tenant-{tenantId}-messages", "batch record", example_batch(completed=True)),
        ("tenant-{tenantId}-messages", "processed event", example_processed_event(processed=True)),
    ):
        size = item_size_bytes(item.to_item())
        rows.append((table, kind + " (generated example)", 1, size, size))
    return rows


def capacity_page(inputs: Any = None) -> str:
    """The Capacity page: item sizes, read units per pattern, write units per write path, index costs."""
    out = [
        "# Capacity",
        "",
        "What the access patterns and write paths cost in read and write units (RCU/WCU, or on-demand",
        "request units, which count the same), computed from the seed items' sizes by DynamoDB's rules",
        "(`salestalk_lib.contract.capacity`, sizes by `models.item_size_bytes`). Generated by",
        "`devtools.model_views`; `tests/test_capacity.py` checks the figures against the consumed capacity",
        "DynamoDB Local reports (`ReturnConsumedCapacity`).",
        "",
        "## The rules",
        "",
        "- **GetItem**: 1 RCU per started 4 KB of the item, strongly consistent; half for eventually consistent."
        " A missing item still costs the minimum.",
        "- **Query**: the items the key condition *reads* are summed and rounded up to the next 4 KB, per page"
        " (1 MB or `Limit`); eventually consistent is half. Items the client drops afterwards were read and"
        " are paid for. A GSI is read eventually consistently only.",
        "- **Writes**: 1 WCU per started KB (a put over an item or an update: the larger of before and after);"
        " TransactWriteItems counts every item twice.",
        "- **Index writes**: every GSI whose key attributes the item carries takes a write sized by the"
        " projected entry (projection ALL: the whole item); a changed index key is a delete plus a put;"
        " an item without the key costs the index nothing (sparse).",
        "",
        "The library reads GetItem strongly consistent and Query eventually consistent (the defaults of its"
        " storage seam); both figures are given.",
        "",
        "## Item sizes",
        "",
        "Per item kind, over the seed items (and the generated examples of kinds the seed has none of):",
        "",
    ]
    out += _md_table(
        ["table", "item kind", "items", "smallest (bytes)", "largest (bytes)"],
        [(f"`{t}`", k, n, f"{lo:,}", f"{hi:,}") for t, k, n, lo, hi in _size_rows()],
    )
    out += [
        "Every seed item is far below 1 KB, so every write is 1 WCU per item and index, and every read"
        " stays in its first 4 KB.",
        "",
        "## Read cost per access pattern",
        "",
        f"Each pattern's example (from the [Access patterns](access-patterns.md) page) on the seed items of"
        f" `{EXAMPLE_TENANT}`: items the request reads, items the pattern returns, their bytes and the read units.",
        "",
    ]
    rows = []
    for c in seed_pattern_costs():
        where = f"`{c.pattern.index}`" if c.pattern.index else "table"
        rows.append(
            (
                c.pattern.number,
                f"`{c.pattern.name}`",
                where,
                c.operation,
                len(c.read),
                len(c.returned),
                f"{c.bytes_read:,}",
                _units(c.rcu_strong),
                _units(c.rcu_eventual),
                "strong" if c.consistent_sent else "eventual",
            )
        )
    out += _md_table(
        [
            "#",
            "pattern",
            "reads",
            "operation",
            "items read",
            "items returned",
            "bytes read",
            "RCU strong",
            "RCU eventual",
            "library sends",
        ],
        rows,
    )
    dropped = [c for c in seed_pattern_costs() if len(c.read) > len(c.returned)]
    for c in dropped:
        out += [
            f"Pattern {c.pattern.number} reads {len(c.read)} items and returns {len(c.returned)}: "
            f"{c.pattern.keep_doc}. The dropped ones are paid for: "
            + ", ".join(f"`{i['sk']}`" for i in c.read if i not in c.returned)
            + ".",
            "",
        ]
    out += [
        "## Write cost per write path",
        "",
        "Each write path on an example item (the seed's, or generated by the library's builders): write units"
        " on the table and on each index it writes.",
        "",
    ]
    rows = []
    for path in write_paths():
        for n, step in enumerate(path.steps):
            idx = ", ".join(f"`{k}` {v}" for k, v in step.cost.indexes.items()) or "none"
            rows.append(
                (
                    path.name if n == 0 else "",
                    path.requests if n == 0 else "",
                    step.what,
                    f"{item_size_bytes(step.after):,}",
                    step.cost.table,
                    idx,
                    path.cost.total if n == 0 else "",
                )
            )
    out += _md_table(
        ["write path", "requests", "item", "size (bytes)", "table WCU", "index WCU", "path total WCU"], rows
    )
    out += [
        "## What the indexes cost",
        "",
        "Every write of an item that carries an index's key attributes costs that index a write as well;"
        " with projection ALL it is sized like the item. The patterns that use each index:",
        "",
    ]
    users = index_users()
    rows = []
    for kind, spec in TABLE_SPECS.items():
        items = [s for s in seed_items() if s.table is kind]
        for index in spec.indexes:
            held = [s for s in items if carries(index, s.item)]
            per_write = sorted({capacity.wcu(s.item) for s in held}) or [0]
            used = users[(kind, index.name)]
            rows.append(
                (
                    f"`{table_pattern(kind)}`",
                    f"`{index.name}`",
                    _kinds_line(held) or "none",
                    f"{len(held)} of {len(items)}",
                    "–".join(str(v) for v in (per_write[0], per_write[-1]))
                    if per_write[0] != per_write[-1]
                    else per_write[0],
                    ", ".join(f"{p.number} `{p.name}`" for p in used) or "**none**",
                )
            )
    out += _md_table(["table", "index", "holds (seed)", "seed items held", "WCU per write", "patterns"], rows)
    metrics = [s for s in seed_items() if s.table is TableKind.METRICS]
    paths = {p.name: p.cost for p in write_paths()}
    headline, slice_ = paths["metric put, headline"], paths["metric put, slice"]
    if (TableKind.METRICS, "MetricTypeIndex") in unused_indexes():
        out += [
            f"**`MetricTypeIndex` serves no pattern.** Every metric carries `metricType` (always equal to its"
            f" `subject`, a rule of the `Metric` model) and `timestamp`, so every metric put writes it: for"
            f" the {len(metrics)} seed metrics {sum(capacity.wcu(s.item) for s in metrics)} WCU of index writes,"
            f" {headline.indexes['MetricTypeIndex']} of the {headline.total} WCU of a headline put and"
            f" {slice_.indexes['MetricTypeIndex']} of the {slice_.total} of a slice put (1 per started KB of the"
            " metric). The contract declares it and says pattern 9 may use it, but pattern 9 reads the table's"
            " own partition `METRIC#{subject}` by sort key; since `metricType` equals `subject`, the index"
            " partitions the same items the same way, only ordered by `timestamp` (a period's start, which a"
            " quarter shares with its first month and day, and a headline with its slices) instead of `sk`, so"
            " a time series read from it would read every granularity and slice in the range. Keeping or"
            " removing it is the contract owner's decision; while no pattern queries it, it is write cost only.",
            "",
        ]
    out += [
        "## Checked against an engine",
        "",
        "`tests/test_capacity.py` loads the seed into DynamoDB Local, sends every pattern's first request"
        " exactly as `explain` builds it (and again with the other consistency), every write path's requests"
        " (the message transaction as the library builds it, and each of its writes alone) with"
        " `ReturnConsumedCapacity`, and compares the reported units with the figures above. Every read and every"
        " write outside a transaction agrees exactly, and so does each transactional write sent alone on its"
        " table units. Where an engine's report departs from the rules:",
        "",
    ]
    for engine, notes in capacity.ENGINE_DIFFERENCES.items():
        out += [f"- **{engine}** " + note + "." for note in notes]
    out += ["", "The figures on this page are the rules' figures, not an engine's.", ""]
    return "\n".join(out).rstrip("\n") + "\n"


# --- the pattern ↔ index matrix ----------------------------------------------------------


def index_matrix() -> list[str]:
    """Markdown: one row per table and index, one column per pattern (● where it reads), and the unused indexes."""
    header = ["reads", *(str(p.number) for p in PATTERNS), "patterns"]
    rows = []
    for (kind, name), users in index_users().items():
        where = f"`{table_pattern(kind)}`" if name is None else f"index `{name}`"
        rows.append(
            [
                where,
                *("●" if p in users else "" for p in PATTERNS),
                ", ".join(f"`{p.name}`" for p in users) or "**none**",
            ]
        )
    unused = unused_indexes()
    out = [
        "## Pattern ↔ index matrix",
        "",
        "Which table (by its own key) or index each pattern reads: one row per table and index, one column per"
        " pattern number.",
        "",
    ]
    out += _md_table(header, rows, wide=False)  # docsgen styles the chart page's tables
    if unused:
        out += [
            "Serving no pattern: "
            + ", ".join(f"`{n}` (on `{table_pattern(k)}`)" for k, n in unused)
            + ". It is still written on every write of an item carrying its key: see the"
            " [Capacity](capacity.md) page.",
            "",
        ]
    return out


def with_index_matrix(chart: str) -> str:
    """The access-pattern chart with the pattern ↔ index matrix before its first section heading."""
    head, sep, rest = chart.partition("\n## ")
    return (
        head.rstrip("\n") + "\n\n" + "\n".join(index_matrix()) + sep.lstrip("\n") + rest
        if sep
        else chart.rstrip("\n") + "\n\n" + "\n".join(index_matrix())
    )


MODEL_VIEW_PAGES: dict[str, Callable[[Any], str]] = {
    TABLE_VIEWS_PAGE: table_views_page,
    CAPACITY_PAGE: capacity_page,
}
"""The pages this module adds to `docsgen.PAGES`."""
