"""The views of the data model built from the seed data (`devtools.model_views`)."""

from __future__ import annotations

import json
import re
from collections import Counter
from decimal import Decimal

import pytest

from devtools import model_views as mv
from devtools.contract_docs import CONTRACT_PAGES, MODEL_PAGES
from salestalk_lib.contract.tables import TABLE_SPECS, TableKind
from salestalk_lib.dynamo.storage import deserialize
from salestalk_lib.ops.patterns import PATTERNS
from salestalk_lib.ops.seed import DEFAULT_SEED_DIR, plan_seed, rollups_of


def _cells(page: str, section: str) -> list[str]:
    """The first-cell (rowspan) partition keys of the HTML tables between heading `section` and the next."""
    start = page.index(section)
    nxt = page.find("\n### ", start + len(section))
    return re.findall(r'<td rowspan="\d+"><code>([^<]*)</code>', page[start : nxt if nxt != -1 else None])


def test_seed_items_are_what_load_seed_writes():
    tenants, metrics, messages, rollups = plan_seed(DEFAULT_SEED_DIR)
    kinds = Counter(s.kind for s in mv.seed_items())
    assert kinds["tenant"] == len(tenants)
    assert kinds["message"] == kinds["message identity"] == len(messages)
    assert kinds["session rollup"] == len(rollups_of(messages)) == len(rollups)
    assert kinds["headline metric"] + kinds["metric slice"] == len(metrics)
    assert kinds["metric slice"] == sum(m.is_slice for m in metrics) > 0
    keys = [(s.table_name, tuple(s.item[a.name] for a in TABLE_SPECS[s.table].key_attributes)) for s in mv.seed_items()]
    assert len(keys) == len(set(keys)), "one item per primary key, as DynamoDB keeps them"


def test_every_seed_item_appears_once_in_the_table_view_under_its_pk():
    page = mv.table_views_page()
    for s in mv.seed_items():
        spec = TABLE_SPECS[s.table]
        section = f"### `{s.table_name}`" if spec.per_tenant else f"## `{s.table_name}`"
        table_html = page[page.index(section) :]
        table_html = table_html[: table_html.index("</table>")]
        # Each partition key heads exactly one group of the table, and the group has one row per item.
        pk = str(s.item[spec.hash_key.name])
        heads = re.findall(r'<td rowspan="(\d+)"><code>' + re.escape(pk) + "</code>", table_html)
        assert len(heads) == 1, (s.table_name, pk)
        members = [
            o for o in mv.table_items(s.table, s.tenant_id) if o.item[spec.hash_key.name] == s.item[spec.hash_key.name]
        ]
        assert int(heads[0]) == len(members)
        if spec.range_key is not None:
            sk = str(s.item[spec.range_key.name])
            group = table_html[table_html.index(f"<code>{pk}</code>") :]
            rows = group.split("</tr>")[: len(members)]
            assert sum(f"<code>{sk}</code>" in r for r in rows) == 1, (pk, sk)
    total_rows = sum(
        len(mv.table_items(k, t))
        for k in TABLE_SPECS
        for t in ([None] if not TABLE_SPECS[k].per_tenant else mv._seed_tenants())
    )
    assert total_rows == len(mv.seed_items())


def test_sort_keys_are_in_order_within_a_partition():
    page = mv.table_views_page()
    section = page[page.index("### `tenant-acme-corp-001-metrics`") :]
    section = section[: section.index("</table>")]
    group = section[section.index("<code>METRIC#revenue</code>") :]
    group = group[: group.index("<td rowspan", 10)] if group.count("<td rowspan") > 1 else group
    sks = re.findall(r"<td><code>(20[^<]*)</code></td>", group)
    assert sks == sorted(sks) and "2025-Q3#region:Europe" in sks
    assert sks.index("2025-Q3") < sks.index("2025-Q3#region:Europe") < sks.index("2025-Q4")


@pytest.mark.parametrize("kind", list(TableKind))
def test_sparse_index_views_exclude_items_without_the_key(kind):
    spec = TABLE_SPECS[kind]
    tenant = None if not spec.per_tenant else "acme-corp-001"
    items = mv.table_items(kind, tenant)
    for index in spec.indexes:
        held, absent = mv.index_view(items, index)
        names = [a.name for a in index.key_attributes]
        assert all(all(n in s.item for n in names) for s in held)
        assert all(not all(n in s.item for n in names) for s in absent)
        assert len(held) + len(absent) == len(items)


def test_the_rollup_is_absent_from_session_index_and_headlines_from_dimension_index():
    messages = mv.table_items(TableKind.MESSAGES, "acme-corp-001")
    held, absent = mv.index_view(messages, TABLE_SPECS[TableKind.MESSAGES].index("SessionIndex"))
    assert {s.kind for s in held} == {"message"}
    assert {s.kind for s in absent} == {"message identity", "session rollup"}
    metrics = mv.table_items(TableKind.METRICS, "acme-corp-001")
    held, absent = mv.index_view(metrics, TABLE_SPECS[TableKind.METRICS].index("DimensionIndex"))
    assert {s.kind for s in held} == {"metric slice"} and {s.kind for s in absent} == {"headline metric"}
    page = mv.table_views_page()
    session_index = page[page.index("#### Index `SessionIndex`") :]
    session_index = session_index[: session_index.index("#### Index `SenderIndex`")]
    assert "SESSION#" not in session_index.split("Not in `SessionIndex`")[0]
    assert "session rollup" in session_index.split("Not in `SessionIndex`")[1]


@pytest.mark.parametrize("page", [p.stem for p in MODEL_PAGES])
def test_every_contract_page_has_an_example(page):
    text = CONTRACT_PAGES[f"contracts/{page}.md"](None)
    assert "## Example {#example}" in text
    assert mv.examples(page)


@pytest.mark.parametrize("page", [p.stem for p in MODEL_PAGES])
def test_the_dynamodb_json_example_round_trips_to_the_plain_example(page):
    for ex in mv.examples(page):
        plain = json.loads(mv.plain_json(ex.value), parse_float=Decimal)
        if ex.table is None:
            assert plain == json.loads(json.dumps(mv.plain(ex.value)), parse_float=Decimal)
            continue
        printed = json.loads(mv.dynamodb_json(ex.value))
        assert set(printed) == {"Item"}
        back = deserialize(printed["Item"])
        assert back == ex.value
        assert json.loads(mv.plain_json(back), parse_float=Decimal) == plain
        # The page shows both blocks, byte for byte.
        text = CONTRACT_PAGES[f"contracts/{page}.md"](None)
        assert mv.dynamodb_json(ex.value) in text and mv.plain_json(ex.value) in text


def test_example_key_annotations_follow_the_specs():
    ex = mv.examples("message")[0]
    roles = dict(mv.key_roles(TABLE_SPECS[TableKind.MESSAGES], ex.value))
    assert roles["pk"] == "table partition key" and roles["sk"] == "table sort key"
    assert roles["sessionId"] == "`SessionIndex` partition key"
    assert roles["timestamp"] == "`SessionIndex` sort key, `SenderIndex` sort key"
    rollup = mv.examples("session-rollup")[0]
    assert set(dict(mv.key_roles(TABLE_SPECS[TableKind.MESSAGES], rollup.value))) == {"pk", "sk"}


def test_plain_json_refuses_an_inexact_number():
    with pytest.raises(ValueError):
        mv.plain({"v": Decimal("0.1000000000000000000000000001")})


def test_index_matrix_marks_every_pattern_once_and_every_index_serves_one(monkeypatch):
    lines = mv.index_matrix()
    rows = [line.split(" | ") for line in lines if line.startswith("| `") or line.startswith("| index")]
    assert len(rows) == sum(1 + len(spec.indexes) for spec in TABLE_SPECS.values())
    marks = [[cell.strip() == "●" for cell in row[1 : 1 + len(PATTERNS)]] for row in rows]
    assert all(sum(column) == 1 for column in zip(*marks, strict=True)), "each pattern reads exactly one table or index"
    unused = [row for row, m in zip(rows, marks, strict=True) if not any(m)]
    assert unused == [] and mv.unused_indexes() == []  # MetricTypeIndex serves pattern 12
    assert not any("Serving no pattern" in line for line in lines)
    # Without pattern 12 (the contract's eleven only), the matrix names MetricTypeIndex as serving none.
    monkeypatch.setattr(mv, "PATTERNS", PATTERNS[:11])
    assert mv.unused_indexes() == [(TableKind.METRICS, "MetricTypeIndex")]
    assert any("Serving no pattern: `MetricTypeIndex`" in line for line in mv.index_matrix())
    chart = mv.with_index_matrix("# Access patterns\n\nintro\n\n## First\n\nbody\n")
    assert chart.index("## Pattern ↔ index matrix") < chart.index("## First") and chart.endswith("body\n")


def test_pattern_nine_reads_slices_it_then_drops():
    cost = next(c for c in mv.seed_pattern_costs() if c.pattern.number == 9)
    dropped = [i["sk"] for i in cost.read if i not in cost.returned]
    assert [i["sk"] for i in cost.returned] == ["2025-Q2", "2025-Q3", "2025-Q4"]
    assert dropped == ["2025-Q3#region:Europe", "2025-Q3#region:North America"]
    assert cost.bytes_read == sum(mv.item_size_bytes(i) for i in cost.read)


def test_pages_are_deterministic():
    assert mv.table_views_page() == mv.table_views_page()
    assert mv.capacity_page() == mv.capacity_page()
