"""The access-pattern registry and runner: exact results, no Scan, pagination, isolation, the period trap."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from salestalk_lib import keys, patterns
from salestalk_lib.cli import main
from salestalk_lib.connection import connect
from salestalk_lib.errors import ContractError, IsolationViolation, KeyGrammarError
from salestalk_lib.models import Message, Metric, SessionRollup, Tenant
from salestalk_lib.patterns import PATTERNS, run
from salestalk_lib.settings import Settings
from salestalk_lib.tables import TableKind

SEED_DIR = Path(__file__).resolve().parents[1] / "seed_data"
ACME, TECHSTART = "acme-corp-001", "techstart-inc-002"
TRAP = "trap-co-003"

# Contract §3: pattern number -> (table, index).
CONTRACT_PATTERNS = {
    1: (TableKind.REGISTRY, None), 2: (TableKind.REGISTRY, "OwnerEmailIndex"),
    3: (TableKind.REGISTRY, "StatusIndex"), 4: (TableKind.MESSAGES, None),
    5: (TableKind.MESSAGES, "SessionIndex"), 6: (TableKind.MESSAGES, "SenderIndex"),
    7: (TableKind.MESSAGES, None), 8: (TableKind.METRICS, None), 9: (TableKind.METRICS, None),
    10: (TableKind.METRICS, None), 11: (TableKind.METRICS, "DimensionIndex"),
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


def test_registry_declares_the_contracts_eleven_patterns():
    assert [p.number for p in PATTERNS] == list(range(1, 12))
    assert {p.number: (p.table, p.index) for p in PATTERNS} == CONTRACT_PATTERNS
    assert len({p.name for p in PATTERNS}) == 11


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
    with pytest.raises(ContractError, match="is after end"):
        p.check_params({"subject": "revenue", "granularity": "month", "start": "2025-11", "end": "2025-10"})
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
    assert list(frame.index) == list(range(1, 12))
    assert frame.loc[9, "key condition"] == "pk = METRIC#{subject} [AND sk BETWEEN {start} AND {end}]"
    assert frame.loc[10, "key condition"] == "pk = METRIC#{subject} AND begins_with(sk, {period})"
    assert frame.loc[7, "example key condition"].endswith("AND sk = METADATA")
    assert frame.loc[4, "operation"] == "GetItem with time, else Query"
    page = patterns.chart_markdown()
    assert page == patterns.chart_markdown()  # deterministic
    for p in PATTERNS:
        assert f"`{p.name}`" in page


def test_a_tenant_pattern_on_the_bare_connection_is_refused(st):
    with pytest.raises(TypeError, match=r"st\.tenant\(tenant_id\)"):
        run(st, "metric_slices", subject="revenue", period="2025-Q3")


# --- the period sort trap, with month/day/quarter items written here ---------------------


def _metric(tenant: str, period: str, value: int, dimension: str | None = None, subject: str = "revenue") -> Metric:
    dims = dict([keys.parse_dimension_key(dimension)]) if dimension else None
    return Metric.create(tenant_id=tenant, subject=subject, period=period, value=value, unit="USD",
                         dimensions=dims, dimension_key=dimension)


TRAP_METRICS = [
    # (period, dimension) -- every granularity, and slices, in one partition
    ("2024-11", None), ("2024-12", None), ("2024-12-31", None), ("2024-Q4", None), ("2024-Q4", "region:Europe"),
    ("2025-01", None), ("2025-01-15", None), ("2025-02", None),
    ("2025-10", None), ("2025-10", "region:Europe"), ("2025-10", "region:North America"),
    ("2025-10-05", None), ("2025-10-05", "region:Europe"), ("2025-10-31", None),
    ("2025-11", None), ("2025-11-01", None), ("2025-Q1", None), ("2025-Q3", None),
    ("2025-Q3", "region:Europe"), ("2025-Q4", None),
]


def _fresh_connection(endpoint, name: str):
    return connect(settings=Settings(table_prefix=f"{name}{uuid.uuid4().hex[:8]}-", environment="test"),
                   endpoint=endpoint)


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


@pytest.mark.parametrize("granularity, start, end, expected", [
    ("month", "2025-10", "2025-11", ["2025-10", "2025-11"]),
    ("month", "2024-11", "2025-02", ["2024-11", "2024-12", "2025-01", "2025-02"]),
    ("month", None, None, ["2024-11", "2024-12", "2025-01", "2025-02", "2025-10", "2025-11"]),
    ("day", "2025-10-01", "2025-10-31", ["2025-10-05", "2025-10-31"]),
    ("day", None, "2025-01-31", ["2024-12-31", "2025-01-15"]),
    ("quarter", "2024-Q4", "2025-Q3", ["2024-Q4", "2025-Q1", "2025-Q3"]),
    ("quarter", "2025-Q2", None, ["2025-Q3", "2025-Q4"]),
])
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
        "2025-10-05", "2025-10-05#region:Europe"]
    assert _periods(run(scope, "metric_slices", subject="revenue", period="2025-Q3")) == [
        "2025-Q3", "2025-Q3#region:Europe"]
    assert _periods(run(scope, "metric_slices", subject="revenue", period="2025-Q2")) == []


def test_dimension_over_time_is_in_timestamp_order_and_holds_only_slices(trap):
    scope, items = trap
    result = run(scope, "dimension_over_time", dimension_key="region:Europe")
    expected = sorted((m for m in items if m.dimension_key == "region:Europe"), key=lambda m: m.timestamp)
    assert [m.sk for m in result.items] == [m.sk for m in expected]
    bounded = run(scope, "dimension_over_time", dimension_key="region:Europe", start="2025-07-01", end="2025-10-31")
    assert [m.sk for m in bounded.items] == ["2025-Q3#region:Europe", "2025-10#region:Europe",
                                             "2025-10-05#region:Europe"]
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
    for name, params in (("metric_time_series", {"subject": "revenue", "granularity": "month"}),
                         ("metric_time_series", {"subject": "revenue", "granularity": "day"}),
                         ("metric_slices", {"subject": "revenue", "period": "2025-10"}),
                         ("dimension_over_time", {"dimension_key": "region:Europe"})):
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
    return [Message.create(tenant_id=tenant, session_id=session_id, sender="user" if i % 2 == 0 else "assistant",
                           text=f"message {i}", at=start + timedelta(seconds=7 * i, milliseconds=i))
            for i in range(n)]


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
