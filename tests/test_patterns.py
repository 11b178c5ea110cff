"""The access-pattern registry and runner: exact results, no Scan, pagination, isolation, the period trap."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from salestalk_lib.cli.main import main
from salestalk_lib.contract import keys
from salestalk_lib.contract.errors import ContractError, IsolationViolation, KeyGrammarError
from salestalk_lib.contract.models import Message, Metric, SessionRollup, Tenant
from salestalk_lib.contract.settings import Settings
from salestalk_lib.contract.tables import TableKind
from salestalk_lib.dynamo.storage import Storage
from salestalk_lib.ops import patterns
from salestalk_lib.ops.connection import connect
from salestalk_lib.ops.patterns import PATTERNS, run

SEED_DIR = Path(__file__).resolve().parents[1] / "seed_data"
ACME, TECHSTART = "acme-corp-001", "techstart-inc-002"
TRAP = "trap-co-003"

# Contract §3: pattern number -> (table, index).
CONTRACT_PATTERNS = {
    1: (TableKind.REGISTRY, None),
    2: (TableKind.REGISTRY, "OwnerEmailIndex"),
    3: (TableKind.REGISTRY, "StatusIndex"),
    4: (TableKind.MESSAGES, None),
    5: (TableKind.MESSAGES, "SessionIndex"),
    6: (TableKind.MESSAGES, "SenderIndex"),
    7: (TableKind.MESSAGES, None),
    8: (TableKind.METRICS, None),
    9: (TableKind.METRICS, None),
    10: (TableKind.METRICS, None),
    11: (TableKind.METRICS, "DimensionIndex"),
}
GET_ITEM_PATTERNS = {1, 4, 7, 8}  # 4 with its sk given, as in its example


class Recorder:
    """A storage hook that keeps every request the seam sends: (operation, params)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, operation: str, params: Any) -> None:
        self.sent.append((operation, json.loads(json.dumps(params))))

    @property
    def operations(self) -> list[str]:
        return [op for op, _ in self.sent]

    def tables(self) -> set[str]:
        return {params["TableName"] for _, params in self.sent}


def _target(st, pattern: patterns.Pattern, tenant: str = ACME):
    return st if pattern.table is TableKind.REGISTRY else st.tenant(tenant)


# --- the registry itself --------------------------------------------------------------


def test_registry_declares_the_contracts_eleven_patterns_then_the_one_beyond_them():
    assert [p.number for p in PATTERNS] == list(range(1, 13))
    assert patterns.CONTRACT_PATTERN_COUNT == 11
    contract = PATTERNS[: patterns.CONTRACT_PATTERN_COUNT]
    assert {p.number: (p.table, p.index) for p in contract} == CONTRACT_PATTERNS
    assert len({p.name for p in PATTERNS}) == 12
    # Pattern 12 is the question MetricTypeIndex is kept for, and says it is beyond the contract.
    beyond = patterns.get(12)
    assert (beyond.table, beyond.index) == (TableKind.METRICS, "MetricTypeIndex")
    assert beyond.notes.startswith("Beyond the contract's eleven")


def test_patterns_are_found_by_name_or_number_and_unknown_ones_are_refused():
    assert patterns.get("metric_slices") is patterns.get(10) is patterns.get("10")
    with pytest.raises(ContractError, match="no access pattern 'nope'"):
        patterns.get("nope")


def test_parameters_are_checked_before_anything_is_built():
    p = patterns.get("metric_time_series")
    with pytest.raises(ContractError, match="needs parameter 'granularity'"):
        p.check_params({"subject": "revenue"})
    with pytest.raises(ContractError, match="unknown: colour"):
        p.check_params({"subject": "revenue", "granularity": "month", "colour": "red"})
    with pytest.raises(ContractError, match="2025-Q1 is a quarter, but granularity is month"):
        p.check_params({"subject": "revenue", "granularity": "month", "start": "2025-Q1"})
    with pytest.raises(ContractError, match="start 2025-11 is after end 2025-10"):
        p.check_params({"subject": "revenue", "granularity": "month", "start": "2025-11", "end": "2025-10"})
    with pytest.raises(ContractError, match="start 1751328000 is after end 1751327999"):
        patterns.get("dimension_over_time").check_params(
            {"dimension_key": "region:Europe", "start": "2025-Q3", "end": 1751327999}
        )
    with pytest.raises(KeyGrammarError):
        patterns.get("session_messages").check_params({"session_id": "not-a-uuid"})
    with pytest.raises(ContractError, match="not one of: user, assistant, system"):
        patterns.get("messages_by_sender").check_params({"sender": "robot"})


def test_time_bounds_accept_seconds_iso_dates_and_periods():
    check = patterns.get("session_messages").check_params
    sid = "cd27e0f5-bbcd-4025-a2da-5be3ca9bd8b5"
    assert check({"session_id": sid, "start": "1751328000"})["start"] == Decimal(1751328000)
    assert check({"session_id": sid, "start": "2025-07-01T00:00:00Z"})["start"] == Decimal(1751328000)
    assert check({"session_id": sid, "start": "2025-Q3"})["start"] == Decimal(1751328000)
    assert check({"session_id": sid, "start": datetime(2025, 7, 1, tzinfo=UTC)})["start"] == Decimal(1751328000)
    with pytest.raises(ContractError, match="needs a timezone"):
        check({"session_id": sid, "start": "2025-07-01T00:00:00"})


def test_chart_has_one_row_per_pattern_with_its_key_condition_and_example():
    frame = patterns.chart_frame()
    assert list(frame.index) == list(range(1, 13))
    assert frame.loc[9, "key condition"] == "pk = METRIC#{subject} [AND sk BETWEEN {start} AND {end}]"
    assert frame.loc[10, "key condition"] == "pk = METRIC#{subject} AND begins_with(sk, {period})"
    assert frame.loc[7, "example key condition"].endswith("AND sk = METADATA")
    assert frame.loc[4, "operation"] == "GetItem with time, else Query"
    page = patterns.chart_markdown()
    assert page == patterns.chart_markdown()  # deterministic
    for p in PATTERNS:
        assert f"`{p.name}`" in page


def test_a_tenant_pattern_on_the_bare_connection_is_refused(st):
    with pytest.raises(ContractError, match=r"st\.tenant\(tenant_id\)"):
        run(st, "metric_slices", subject="revenue", period="2025-Q3")


# --- the period sort trap, with month/day/quarter items written here ---------------------


def _metric(tenant: str, period: str, value: int, dimension: str | None = None, subject: str = "revenue") -> Metric:
    dims = dict([keys.parse_dimension_key(dimension)]) if dimension else None
    return Metric.create(
        tenant_id=tenant,
        subject=subject,
        period=period,
        value=value,
        unit="USD",
        dimensions=dims,
        dimension_key=dimension,
    )


TRAP_METRICS = [
    # (period, dimension) -- every granularity, and slices, in one partition
    ("2024-11", None),
    ("2024-12", None),
    ("2024-12-31", None),
    ("2024-Q4", None),
    ("2024-Q4", "region:Europe"),
    ("2025-01", None),
    ("2025-01-15", None),
    ("2025-02", None),
    ("2025-10", None),
    ("2025-10", "region:Europe"),
    ("2025-10", "region:North America"),
    ("2025-10-05", None),
    ("2025-10-05", "region:Europe"),
    ("2025-10-31", None),
    ("2025-11", None),
    ("2025-11-01", None),
    ("2025-Q1", None),
    ("2025-Q3", None),
    ("2025-Q3", "region:Europe"),
    ("2025-Q4", None),
]


def _fresh_connection(endpoint, name: str):
    return connect(
        settings=Settings(table_prefix=f"{name}{uuid.uuid4().hex[:8]}-", environment="test"), endpoint=endpoint
    )


@pytest.fixture(scope="module")
def trap(endpoint):
    """A tenant whose revenue partition holds quarters, months, days and slices side by side (read-only)."""
    st = _fresh_connection(endpoint, "trap")
    st.provision([TRAP])
    scope = st.tenant(TRAP)
    items = [_metric(TRAP, period, i + 1, dim) for i, (period, dim) in enumerate(TRAP_METRICS)]
    for m in items:
        scope.storage.put_item(scope.metrics_table, m.to_item())
    return scope, items


def _periods(result) -> list[str]:
    return [m.sk for m in result.items]


def test_the_trap_is_real_in_key_order(trap):
    assert sorted(["2025-Q1", "2025-11", "2025-10-05", "2025-10"]) == ["2025-10", "2025-10-05", "2025-11", "2025-Q1"]


@pytest.mark.parametrize(
    "granularity, start, end, expected",
    [
        ("month", "2025-10", "2025-11", ["2025-10", "2025-11"]),
        ("month", "2024-11", "2025-02", ["2024-11", "2024-12", "2025-01", "2025-02"]),
        ("month", None, None, ["2024-11", "2024-12", "2025-01", "2025-02", "2025-10", "2025-11"]),
        ("day", "2025-10-01", "2025-10-31", ["2025-10-05", "2025-10-31"]),
        ("day", None, "2025-01-31", ["2024-12-31", "2025-01-15"]),
        ("quarter", "2024-Q4", "2025-Q3", ["2024-Q4", "2025-Q1", "2025-Q3"]),
        ("quarter", "2025-Q2", None, ["2025-Q3", "2025-Q4"]),
    ],
)
def test_time_series_returns_only_the_granularity_asked_for(trap, granularity, start, end, expected):
    scope, _ = trap
    params = {k: v for k, v in (("start", start), ("end", end)) if v}
    result = run(scope, "metric_time_series", subject="revenue", granularity=granularity, **params)
    assert _periods(result) == expected
    assert all(not m.dimension_key for m in result.items)
    assert result.read >= len(result)  # the key range read other granularities too; they were dropped


def test_month_slices_do_not_catch_that_months_days(trap):
    scope, _ = trap
    result = run(scope, "metric_slices", subject="revenue", period="2025-10")
    # begins_with(sk, "2025-10") also reads 2025-10-05, its slice and 2025-10-31: all dropped.
    assert _periods(result) == ["2025-10", "2025-10#region:Europe", "2025-10#region:North America"]
    assert result.read == 6


def test_day_and_quarter_slices_come_back_with_their_headline(trap):
    scope, _ = trap
    assert _periods(run(scope, "metric_slices", subject="revenue", period="2025-10-05")) == [
        "2025-10-05",
        "2025-10-05#region:Europe",
    ]
    assert _periods(run(scope, "metric_slices", subject="revenue", period="2025-Q3")) == [
        "2025-Q3",
        "2025-Q3#region:Europe",
    ]
    assert _periods(run(scope, "metric_slices", subject="revenue", period="2025-Q2")) == []


def test_dimension_over_time_is_in_timestamp_order_and_holds_only_slices(trap):
    scope, items = trap
    result = run(scope, "dimension_over_time", dimension_key="region:Europe")
    expected = sorted((m for m in items if m.dimension_key == "region:Europe"), key=lambda m: m.timestamp)
    assert [m.sk for m in result.items] == [m.sk for m in expected]
    bounded = run(scope, "dimension_over_time", dimension_key="region:Europe", start="2025-07-01", end="2025-10-31")
    assert [m.sk for m in bounded.items] == [
        "2025-Q3#region:Europe",
        "2025-10#region:Europe",
        "2025-10-05#region:Europe",
    ]
    # A period as a bound means its first instant: end=2025-Q4 stops at 1 October, 00:00.
    to_q4 = run(scope, "dimension_over_time", dimension_key="region:Europe", start="2025-Q3", end="2025-Q4")
    assert [m.sk for m in to_q4.items] == ["2025-Q3#region:Europe", "2025-10#region:Europe"]


# --- pagination -------------------------------------------------------------------------


def _drain(scope, name: str, *, limit: int, page_size: int | None = None, **params) -> tuple[list[str], int]:
    """Follow resume tokens to the end: (sort keys in order, number of calls)."""
    got: list[str] = []
    token, calls = None, 0
    while True:
        result = run(scope, name, limit=limit, page_size=page_size, resume=token, **params)
        assert len(result) <= limit
        got += [m.sk for m in result.items]
        calls += 1
        token = result.next_token
        if token is None:
            return got, calls


@pytest.mark.parametrize("page_size", [None, 2])
@pytest.mark.parametrize("limit", [1, 3, 7])
def test_limit_and_resume_cover_every_item_once_in_order(trap, page_size, limit):
    scope, _ = trap
    for name, params in (
        ("metric_time_series", {"subject": "revenue", "granularity": "month"}),
        ("metric_time_series", {"subject": "revenue", "granularity": "day"}),
        ("metric_slices", {"subject": "revenue", "period": "2025-10"}),
        ("dimension_over_time", {"dimension_key": "region:Europe"}),
    ):
        whole = _periods(run(scope, name, **params))
        got, _ = _drain(scope, name, limit=limit, page_size=page_size, **params)
        assert got == whole, (name, params)


def test_page_size_reads_all_pages_and_says_how_many_requests(trap):
    scope, items = trap
    everything = run(scope, "metric_time_series", subject="revenue", granularity="month")
    paged = run(scope, "metric_time_series", subject="revenue", granularity="month", page_size=3)
    assert _periods(paged) == _periods(everything)
    assert paged.complete and paged.next_token is None
    assert len(paged.requests) >= len(items) // 3
    assert {r.params["Limit"] for r in paged.requests} == {3}
    assert "ExclusiveStartKey" not in paged.requests[0].params
    assert all("ExclusiveStartKey" in r.params for r in paged.requests[1:])


def test_a_limit_that_stops_early_always_returns_a_token(trap):
    scope, _ = trap
    first = run(scope, "metric_time_series", subject="revenue", granularity="month", limit=2)
    assert _periods(first) == ["2024-11", "2024-12"]
    assert first.next_token and not first.complete
    rest = run(scope, "metric_time_series", subject="revenue", granularity="month", resume=first.next_token)
    assert _periods(rest) == ["2025-01", "2025-02", "2025-10", "2025-11"]
    assert rest.complete


def test_resume_tokens_only_resume_their_own_query(trap, st):
    scope, _ = trap
    token = run(scope, "metric_time_series", subject="revenue", granularity="month", limit=1).next_token
    with pytest.raises(ContractError, match="belongs to another query"):
        run(scope, "metric_time_series", subject="revenue", granularity="day", resume=token)
    with pytest.raises(ContractError, match="malformed"):
        run(scope, "metric_time_series", subject="revenue", granularity="month", resume="!!not-a-token")
    st.provision([TRAP])
    with pytest.raises(ContractError, match="belongs to another query"):  # same tenant, other deployment's table
        run(st.tenant(TRAP), "metric_time_series", subject="revenue", granularity="month", resume=token)


def test_getitem_patterns_take_no_limit_or_token(trap):
    scope, _ = trap
    with pytest.raises(ContractError, match="GetItem"):
        run(scope, "metric_for_period", subject="revenue", period="2025-10", limit=1)


def _messages(tenant: str, session_id: str, n: int, start: datetime) -> list[Message]:
    return [
        Message.create(
            tenant_id=tenant,
            session_id=session_id,
            sender="user" if i % 2 == 0 else "assistant",
            text=f"message {i}",
            at=start + timedelta(seconds=7 * i, milliseconds=i),
        )
        for i in range(n)
    ]


def test_session_messages_paginate_over_the_index_without_gaps_or_repeats(st):
    st.provision([TRAP])
    scope = st.tenant(TRAP)
    session = keys.new_uuid4()
    written = _messages(TRAP, session, 13, datetime(2025, 11, 9, 10, tzinfo=UTC))
    for m in reversed(written):  # written out of order: the index orders them
        scope.storage.put_item(scope.messages_table, m.to_item())
    scope.storage.put_item(scope.messages_table, SessionRollup.of_messages(written).to_item())
    expected = [m.message_id for m in written]
    for limit in (1, 4, 13, 20):
        for page_size in (None, 3):
            got, token = [], None
            while True:
                r = run(scope, "session_messages", session_id=session, limit=limit, page_size=page_size, resume=token)
                got += [m.message_id for m in r.items]
                if (token := r.next_token) is None:
                    break
            assert got == expected, (limit, page_size)
    by_sender = run(scope, "messages_by_sender", sender="assistant", page_size=2)
    assert [m.message_id for m in by_sender.items] == [m.message_id for m in written if m.sender == "assistant"]


# --- no Scan, ever; explain is exact; isolation -----------------------------------------


def test_the_runner_never_calls_scan_even_where_the_seam_could():
    # The runner only knows GetItem and Query; a Scan would have to be written into it.
    source = Path(patterns.__file__).read_text(encoding="utf-8")
    assert ".scan(" not in source and '"Scan"' not in source


def test_a_pattern_scope_refuses_scan(st):
    st.provision([TRAP])
    with pytest.raises(IsolationViolation, match="Scan"):
        st.tenant(TRAP).storage.scan(st.tenant(TRAP).metrics_table)


def test_a_scope_cannot_run_registry_wide_patterns_or_read_another_tenants_item(st):
    st.provision([TRAP])
    recorder = Recorder()
    st.storage.hooks.append(recorder)
    scope = st.tenant(TRAP)
    with pytest.raises(IsolationViolation):
        run(scope, "tenants_by_status", status="active")
    with pytest.raises(IsolationViolation):
        run(scope, "tenant_by_id", tenant_id=ACME)
    assert recorder.sent == []


# --- against the seed data ------------------------------------------------------------------
#
# Expectations are computed here from the seed files (an oracle per pattern), never copied
# from what the runner returned.


def _read(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)


class Seed:
    """The seed files as models, and what each pattern must return for them."""

    def __init__(self, seed_dir: Path) -> None:
        self.tenants = [Tenant.from_item(r) for r in _read(seed_dir / "tenants.json")]
        self.metrics = {
            t.tenant_id: [Metric.from_item(r) for r in _read(seed_dir / t.tenant_id / "metrics.json")]
            for t in self.tenants
        }
        self.messages = {
            t.tenant_id: [Message.from_item(r) for r in _read(seed_dir / t.tenant_id / "messages.json")]
            for t in self.tenants
        }

    def expected(self, tenant: str, name: str, params: dict[str, Any]) -> list[Any]:
        """The items pattern `name` must return, in order (computed from the files, independently)."""
        p = patterns.get(name).check_params(params)
        msgs, mets = self.messages.get(tenant, []), self.metrics.get(tenant, [])

        def in_range(ts: Decimal) -> bool:
            return p.get("start", ts) <= ts <= p.get("end", ts)

        def by_time(items):
            return sorted(items, key=lambda m: m.timestamp)

        if name == "tenant_by_id":
            return [t for t in self.tenants if t.tenant_id == p["tenant_id"]]
        if name == "tenants_by_owner":
            return [t for t in self.tenants if t.owner_email == p["email"]]
        if name == "tenants_by_status":
            return [t for t in self.tenants if t.status == p["status"]]
        if name == "message_by_id":
            return [m for m in msgs if m.message_id == p["message_id"] and p.get("time", m.sk) == m.sk]
        if name == "session_messages":
            return by_time(m for m in msgs if m.session_id == p["session_id"] and in_range(m.timestamp))
        if name == "messages_by_sender":
            return by_time(m for m in msgs if m.sender == p["sender"] and in_range(m.timestamp))
        if name == "session_rollup":
            mine = [m for m in msgs if m.session_id == p["session_id"]]
            return [SessionRollup.of_messages(mine)] if mine else []
        if name == "metric_for_period":
            return [m for m in mets if m.subject == p["subject"] and m.sk == p["period"]]
        if name == "metric_time_series":
            lo = keys.parse_period(p["start"]).start if "start" in p else None
            hi = keys.parse_period(p["end"]).start if "end" in p else None
            heads = [
                m
                for m in mets
                if m.subject == p["subject"]
                and not m.dimension_key
                and keys.parse_period(m.sk).granularity == p["granularity"]
                and (lo is None or keys.parse_period(m.sk).start >= lo)
                and (hi is None or keys.parse_period(m.sk).start <= hi)
            ]
            return sorted(heads, key=lambda m: keys.parse_period(m.sk).start)
        if name == "metric_slices":
            mine = [
                m for m in mets if m.subject == p["subject"] and keys.parse_metric_sk(m.sk).period.text == p["period"]
            ]
            return sorted(mine, key=lambda m: (m.dimension_key is not None, m.dimension_key or ""))
        if name == "dimension_over_time":
            return by_time(m for m in mets if m.dimension_key == p["dimension_key"] and in_range(m.timestamp))
        if name == "subject_in_window":
            return by_time(m for m in mets if m.subject == p["subject"] and in_range(m.timestamp))
        raise AssertionError(name)

    def cases(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(tenant, pattern, params) for every key the seed holds, plus ranges and misses."""
        out: list[tuple[str, str, dict[str, Any]]] = []
        registry = self.tenants[0].tenant_id
        for t in self.tenants:
            out += [
                (registry, "tenant_by_id", {"tenant_id": t.tenant_id}),
                (registry, "tenants_by_owner", {"email": t.owner_email}),
            ]
        out += [(registry, "tenants_by_status", {"status": s}) for s in ("active", "suspended")]
        for tenant in sorted(self.messages):
            msgs, mets = self.messages[tenant], self.metrics[tenant]
            for m in msgs:
                out += [
                    (tenant, "message_by_id", {"message_id": m.message_id}),
                    (tenant, "message_by_id", {"message_id": m.message_id, "time": m.sk}),
                ]
            times = sorted(m.timestamp for m in msgs)
            for sid in sorted({m.session_id for m in msgs}):
                out += [
                    (tenant, "session_messages", {"session_id": sid}),
                    (tenant, "session_messages", {"session_id": sid, "start": times[1], "end": times[-2]}),
                    (tenant, "session_rollup", {"session_id": sid}),
                ]
            for sender in ("user", "assistant", "system"):
                out += [
                    (tenant, "messages_by_sender", {"sender": sender}),
                    (tenant, "messages_by_sender", {"sender": sender, "start": times[0], "end": times[1]}),
                ]
            for subject in sorted({m.subject for m in mets}):
                for gran in ("quarter", "month", "day"):
                    out.append((tenant, "metric_time_series", {"subject": subject, "granularity": gran}))
                out.append(
                    (
                        tenant,
                        "metric_time_series",
                        {"subject": subject, "granularity": "quarter", "start": "2025-Q3", "end": "2025-Q4"},
                    )
                )
            for m in mets:
                period = keys.parse_metric_sk(m.sk).period.text
                out += [
                    (tenant, "metric_for_period", {"subject": m.subject, "period": period}),
                    (tenant, "metric_slices", {"subject": m.subject, "period": period}),
                ]
            for dk in sorted({m.dimension_key for m in mets if m.dimension_key}):
                out.append((tenant, "dimension_over_time", {"dimension_key": dk}))
            out.append((tenant, "dimension_over_time", {"dimension_key": "region:Atlantis"}))
            for subject in sorted({m.subject for m in mets}):
                stamps = sorted({m.timestamp for m in mets if m.subject == subject})
                out += [
                    (tenant, "subject_in_window", {"subject": subject}),
                    (tenant, "subject_in_window", {"subject": subject, "start": stamps[-1], "end": stamps[-1]}),
                ]
        return out


SEED = Seed(SEED_DIR)


@pytest.fixture(scope="module")
def seeded(endpoint):
    """Both seed tenants loaded under a table prefix of their own; a recorder sees every request."""
    from salestalk_lib.ops.seed import load_seed

    st = _fresh_connection(endpoint, "seed")
    recorder = Recorder()
    # Added before any scope exists: each scope copies the connection's hooks when it is opened.
    st.storage.hooks.append(recorder)
    load_seed(st, SEED_DIR, progress=False)
    return st, recorder


@pytest.fixture
def sent(seeded) -> Recorder:
    """The seeded connection's recorder, emptied for this test."""
    seeded[1].sent.clear()
    return seeded[1]


def _items(models: list[Any]) -> list[dict[str, Any]]:
    return [m.to_item() for m in models]


def _assert_same(pattern: patterns.Pattern, got: list[Any], expected: list[Any]) -> None:
    """`got` holds exactly the `expected` items, in the order DynamoDB defines for the pattern."""
    if pattern.order.startswith("unspecified"):
        key = lambda item: item["tenantId"]  # noqa: E731 - the index has no sort key
        assert sorted(_items(got), key=key) == sorted(_items(expected), key=key)
    elif pattern.index is not None and pattern.order.startswith("by timestamp"):
        # An index orders by its sort key only: items with the same timestamp (a period's headline and
        # its slices) come back in an order DynamoDB does not define, so ties are compared as sets.
        def by_stamp(items: list[dict[str, Any]]) -> list[tuple[Any, list[str]]]:
            groups: dict[Any, list[str]] = {}
            for item in items:
                groups.setdefault(item["timestamp"], []).append(json.dumps(item, sort_keys=True, default=str))
            return [(ts, sorted(group)) for ts, group in groups.items()]

        stamps = [item["timestamp"] for item in _items(got)]
        assert stamps == sorted(stamps)
        assert by_stamp(_items(got)) == by_stamp(_items(expected))
    else:
        assert _items(got) == _items(expected)


@pytest.mark.parametrize(
    "tenant, name, params",
    SEED.cases(),
    ids=[f"{n}-{t}-{'-'.join(str(v) for v in p.values())[:40]}" for t, n, p in SEED.cases()],
)
def test_each_pattern_returns_exactly_the_expected_items_in_order(seeded, sent, tenant, name, params):
    st, _ = seeded
    pattern = patterns.get(name)
    result = run(_target(st, pattern, tenant), name, **params)
    expected = SEED.expected(tenant, name, params)
    _assert_same(pattern, result.items, expected)
    assert result.complete
    assert set(sent.operations) <= {"GetItem", "Query"}


def test_every_seeded_subject_and_session_is_covered():
    cases = SEED.cases()
    assert {name for _, name, _ in cases} == {p.name for p in PATTERNS}
    nonempty = {name for t, name, p in cases if SEED.expected(t, name, p)}
    assert nonempty == {p.name for p in PATTERNS}


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.name)
def test_every_example_finds_seed_items_with_getitem_or_query_and_never_a_scan(seeded, sent, pattern):
    st, _ = seeded
    result = run(_target(st, pattern), pattern, **pattern.example)
    assert len(result) >= 1
    _assert_same(pattern, result.items, SEED.expected(ACME, pattern.name, dict(pattern.example)))
    assert "Scan" not in sent.operations
    assert sent.operations == ["GetItem"] if pattern.number in GET_ITEM_PATTERNS else set(sent.operations) == {"Query"}


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.name)
def test_explain_shows_exactly_the_request_that_is_sent(seeded, sent, pattern):
    st, _ = seeded
    target = _target(st, pattern)
    explained = patterns.explain(target, pattern, page_size=2, **pattern.example)
    assert sent.sent == []  # explaining sends nothing
    result = run(target, pattern, page_size=2, **pattern.example)
    assert [(r.operation, r.params) for r in explained] == [sent.sent[0]]
    assert [(r.operation, r.params) for r in result.requests] == sent.sent


def test_example_and_seed_rollup_is_not_in_the_session_index(seeded):
    st, _ = seeded
    acme = st.tenant(ACME)
    sid = patterns.get("session_rollup").example["session_id"]
    rollup = run(acme, "session_rollup", session_id=sid).items[0]
    messages = run(acme, "session_messages", session_id=sid)
    assert rollup.message_count == len(messages) == 4
    assert all(item["pk"].startswith(keys.MSG_PREFIX) for item in messages.raw)  # sparse: no SESSION# item
    assert "timestamp" not in rollup.to_item()


@pytest.mark.parametrize("pattern", [p for p in PATTERNS if p.table is not TableKind.REGISTRY], ids=lambda p: p.name)
def test_a_pattern_for_one_tenant_reaches_only_that_tenants_tables(seeded, sent, pattern):
    st, _ = seeded
    for tenant in (ACME, TECHSTART):
        sent.sent.clear()
        scope = st.tenant(tenant)
        result = run(scope, pattern, **pattern.example)  # ACME's example ids, asked of each tenant
        assert sent.tables() <= {scope.messages_table, scope.metrics_table}
        assert {m.tenant_id for m in result.items} <= {tenant}
        _assert_same(pattern, result.items, SEED.expected(tenant, pattern.name, dict(pattern.example)))


def test_the_scopes_tables_are_exact_names_not_prefixes(seeded):
    st, _ = seeded
    scope = st.tenant(ACME)
    assert scope.messages_table == st.settings.table_prefix + keys.messages_table_base(ACME)
    assert scope.metrics_table == st.settings.table_prefix + keys.metrics_table_base(ACME)


def test_result_frames_have_key_columns_first_and_plain_numbers(seeded):
    st, _ = seeded
    frame = run(st.tenant(ACME), "metric_time_series", subject="revenue", granularity="quarter").to_frame()
    assert list(frame.columns[:2]) == ["pk", "sk"]
    assert list(frame.sk) == ["2025-Q2", "2025-Q3", "2025-Q4"]
    assert frame.value.dtype.kind in "if"
    messages = run(
        st.tenant(ACME), "session_messages", session_id=patterns.get("session_messages").example["session_id"]
    ).to_frame()
    assert "classification.intent" in messages.columns


# --- the command line ---------------------------------------------------------------------


def _cli(capsys, st, *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--endpoint-url", st.endpoint.url, "--table-prefix", st.settings.table_prefix])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_lists_the_patterns(capsys):
    assert main(["query", "--list"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[1] for line in out.splitlines()[2:]] == [p.name for p in PATTERNS]


def test_cli_prints_a_patterns_items_as_a_table(capsys, seeded):
    st, _ = seeded
    code, out, err = _cli(
        capsys,
        st,
        "query",
        "metric_time_series",
        "--tenant",
        ACME,
        "--param",
        "subject=revenue",
        "--param",
        "granularity=quarter",
        "--columns",
        "sk,value,unit",
    )
    assert code == 0
    expected = SEED.expected(ACME, "metric_time_series", {"subject": "revenue", "granularity": "quarter"})
    rows = [line.split() for line in out.splitlines()[2:]]
    assert rows == [[m.sk, str(m.value), m.unit] for m in expected]
    assert "3 item(s) from Query" in err


def test_cli_limit_prints_a_token_that_resumes(capsys, seeded):
    st, _ = seeded
    args = ["query", "9", "--tenant", ACME, "--example", "--columns", "sk"]
    code, out, err = _cli(capsys, st, *args, "--limit", "2")
    assert code == 0 and out.split()[2:] == ["2025-Q2", "2025-Q3"]
    token = err.split("--resume ")[1].split()[0]
    code, out, err = _cli(capsys, st, *args, "--resume", token)
    assert code == 0 and out.split()[2:] == ["2025-Q4"] and "--resume" not in err


def test_cli_explain_prints_the_request_without_sending_it(capsys, seeded, monkeypatch):
    st, _ = seeded
    calls: list[str] = []
    real_call = Storage._call
    monkeypatch.setattr(Storage, "_call", lambda self, op, *a, **kw: calls.append(op) or real_call(self, op, *a, **kw))
    code, out, _ = _cli(capsys, st, "query", "metric_slices", "--tenant", ACME, "--example", "--explain")
    assert code == 0
    assert calls == []  # the CLI's own connection sent nothing
    request = json.loads(out)
    expected = patterns.explain(st.tenant(ACME), "metric_slices", **patterns.get("metric_slices").example)[0]
    assert request == {"operation": "Query", **expected.params}
    assert _cli(capsys, st, "query", "metric_slices", "--tenant", ACME, "--example")[0] == 0
    assert calls == ["Query"]  # and the same command without --explain sends exactly that one Query


def test_cli_needs_a_tenant_for_tenant_patterns_and_refuses_it_for_registry_wide_ones(capsys, seeded):
    st, _ = seeded
    code, _, err = _cli(capsys, st, "query", "session_rollup", "--example")
    assert code == 2 and "give --tenant" in err
    code, _, err = _cli(capsys, st, "query", "tenants_by_status", "--tenant", ACME, "--param", "status=active")
    assert code == 2 and "drop --tenant" in err
    code, out, _ = _cli(capsys, st, "query", "1", "--tenant", ACME, "--columns", "tenantId,status")
    assert code == 0 and out.splitlines()[2].split() == [ACME, "active"]
