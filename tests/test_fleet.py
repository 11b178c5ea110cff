"""Fleet onboarding (`salestalk tenant import`): validated first, bounded concurrency, idempotent on a re-run."""

from __future__ import annotations

import json
import random
import threading

import pytest

from salestalk_lib.contract.errors import RequestRejected, ValidationFailed
from salestalk_lib.contract.quotas import QuotaExceeded, tables_for
from salestalk_lib.contract.settings import Settings
from salestalk_lib.ops.connection import connect
from salestalk_lib.ops.events import MemorySink
from salestalk_lib.ops.fleet import Fleet, read_fleet, validate_fleet
from salestalk_lib.ops.tenants import FixedClock, Tenants

T0 = 1762682400
N = 20
WRITES = {"CreateTable", "PutItem", "UpdateItem", "DeleteItem", "DeleteTable", "TagResource", "UpdateTimeToLive"}
WRITES |= {"UpdateContinuousBackups", "BatchWriteItem", "TransactWriteItems", "UpdateTable"}


def records(n: int = N, start: int = 1) -> list[dict[str, object]]:
    """`n` valid import records."""
    return [
        {
            "tenantId": f"fleet-{i:03d}",
            "name": f"Fleet {i}",
            "ownerEmail": f"owner{i}@fleet.example",
            "plan": ("free", "standard", "enterprise")[i % 3],
            **({"metadata": {"cohort": i % 4}} if i % 2 else {}),
        }
        for i in range(start, start + n)
    ]


def write_jsonl(path, recs):
    path.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    return path


class Recorder:
    """A storage hook recording every operation sent."""

    def __init__(self):
        self.ops: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, operation, params):
        with self.lock:
            self.ops.append(operation)

    def writes(self):
        return [op for op in self.ops if op in WRITES]


# --- validation: pure, before any request ----------------------------------------------------


def test_every_violation_is_listed_with_record_field_and_rule(tmp_path):
    bad = [
        {"tenantId": "Bad_Id", "name": "", "ownerEmail": "not-an-email", "plan": "gold", "status": "active"},
        {"name": "no id", "ownerEmail": "a@b.example"},
        {"tenantId": "dup-1", "name": "A", "ownerEmail": "a@b.example"},
        {"tenantId": "dup-1", "name": "B", "ownerEmail": "b@b.example"},
        7,
        {"tenantId": "meta-1", "name": "M", "ownerEmail": "m@b.example", "metadata": "not an object"},
    ]
    path = tmp_path / "fleet.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(ValidationFailed) as err:
        read_fleet(path, created_at=T0)
    got = {(v.where, v.field) for v in err.value.violations}
    f = str(path)
    assert {
        (f"{f}:1", "tenantId"),
        (f"{f}:1", "name"),
        (f"{f}:1", "ownerEmail"),
        (f"{f}:1", "plan"),
        (f"{f}:1", "status"),
        (f"{f}:2", "tenantId"),
        (f"{f}:4", "tenantId"),
        (f"{f}:5", "(record)"),
        (f"{f}:6", "metadata"),
    } <= got
    rules = {(v.where, v.field): v.rule for v in err.value.violations}
    assert "already the id of" in rules[(f"{f}:4", "tenantId")] and f"{f}:3" in rules[(f"{f}:4", "tenantId")]
    assert rules[(f"{f}:2", "tenantId")] == "is required"
    assert "not a field" in rules[(f"{f}:1", "status")]
    assert (f"{f}:3", "tenantId") not in got  # the first of two equal ids is fine; the repeat is the problem


def test_json_lines_and_array_read_the_same(tmp_path):
    recs = records(5)
    lines = write_jsonl(tmp_path / "f.jsonl", recs)
    array = tmp_path / "f.json"
    array.write_text(json.dumps(recs), encoding="utf-8")
    a = [r.tenant for r in read_fleet(lines, created_at=T0)]
    b = [r.tenant for r in read_fleet(array, created_at=T0)]
    assert a == b and [t.tenant_id for t in a] == [f"fleet-{i:03d}" for i in range(1, 6)]
    assert a[0].plan.value == "standard" and a[1].metadata is None and a[0].metadata == {"cohort": 1}


def test_plan_defaults_to_free_and_unreadable_json_is_reported(tmp_path):
    recs, problems = validate_fleet(
        [("x:1", {"tenantId": "a-1", "name": "A", "ownerEmail": "a@a.example"})], created_at=T0
    )
    assert not problems and recs[0].tenant.plan.value == "free"
    path = tmp_path / "broken.jsonl"
    path.write_text('{"tenantId": "a-1", "name": "A", "ownerEmail": "a@a.example"}\n{not json\n', encoding="utf-8")
    with pytest.raises(ValidationFailed) as err:
        read_fleet(path, created_at=T0)
    assert [v.where for v in err.value.violations] == [f"{path}:2"]


# --- onboarding on an engine -------------------------------------------------------------------


def fleet_of(st, **kw):
    kw.setdefault("clock", FixedClock(T0))
    kw.setdefault("table_limit", 10_000)
    return Fleet.of(st, **kw)


def state(st):
    """What an import leaves: every registry item, and the deployment's tables by name without the prefix."""
    prefix = st.settings.table_prefix
    tenants = Tenants.of(st).list()
    tables = {}
    for name in st.storage.list_tables(prefix):
        desc = st.storage.describe_table(name)
        tables[name[len(prefix) :]] = (
            desc["TableStatus"],
            sorted(json.dumps(k, sort_keys=True) for k in desc["KeySchema"]),
            sorted(g["IndexName"] for g in desc.get("GlobalSecondaryIndexes") or []),
        )
    return [t.to_item() for t in tenants], tables


@pytest.mark.integration
def test_import_creates_every_tenant_then_a_second_run_sends_no_write(st, tmp_path):
    path = write_jsonl(tmp_path / "fleet.jsonl", records())
    sink = MemorySink()
    fleet = fleet_of(st, sink=sink, workers=8)
    ticks = []
    result = fleet.run(fleet.plan(fleet.read(path)), progress=ticks.append)
    assert result.ok and len(result.created) == N and not result.present
    assert result.tables_created == 2 * N and sum(ticks) == N
    items, tables = state(st)
    assert len(tables) == tables_for(N) and all(s == "ACTIVE" for s, _, _ in tables.values())
    assert sorted(i["tenantId"] for i in items) == [f"fleet-{i:03d}" for i in range(1, N + 1)]
    assert len(sink.events) == N and {e.tenant_id for e in sink.events} == {i["tenantId"] for i in items}

    rec = Recorder()
    st.storage.hooks.append(rec)
    again = fleet_of(st, sink=MemorySink())
    second = again.run(again.plan(again.read(path)))
    assert second.ok and not second.created and len(second.present) == N and second.tables_created == 0
    assert rec.writes() == []  # nothing already done is touched
    assert state(st) == (items, tables)


def _clean_state(endpoint, path):
    clean = connect(
        settings=Settings(table_prefix="clean-" + random.randbytes(4).hex() + "-", environment="test"),
        endpoint=endpoint,
    )
    fleet = fleet_of(clean)
    assert fleet.run(fleet.plan(fleet.read(path))).ok
    return state(clean)


@pytest.mark.integration
def test_a_stop_after_some_tables_then_a_rerun_equals_a_clean_run(st, endpoint, tmp_path):
    path = write_jsonl(tmp_path / "fleet.jsonl", records())
    stop = threading.Event()
    created = []

    def stop_after_7(operation, params):
        if operation == "CreateTable":
            created.append(params["TableName"])
            if len(created) == 7:
                stop.set()

    st.storage.hooks.append(stop_after_7)
    fleet = fleet_of(st, workers=4)
    first = fleet.run(fleet.plan(fleet.read(path)), stop=stop)
    st.storage.hooks.remove(stop_after_7)
    assert first.interrupted and first.not_started and len(first.created) < N
    # the registry item is the commit point: no tenant is registered without both its tables
    items, tables = state(st)
    for item in items:
        assert item["messagesTableName"] in tables and item["metricsTableName"] in tables

    second_fleet = fleet_of(st)
    second = second_fleet.run(second_fleet.plan(second_fleet.read(path)))
    assert second.ok and sorted(second.created + second.present) == [f"fleet-{i:03d}" for i in range(1, N + 1)]
    assert set(second.created).isdisjoint(first.created)
    after = state(st)
    assert after == _clean_state(endpoint, path)

    rec = Recorder()
    st.storage.hooks.append(rec)
    third_fleet = fleet_of(st)
    third = third_fleet.run(third_fleet.plan(third_fleet.read(path)))
    assert third.ok and not third.created and rec.writes() == [] and state(st) == after


class Killed(Exception):
    """Stands for the process dying: not a storage error, nothing in the library handles it."""


@pytest.mark.integration
def test_a_crash_mid_run_then_a_rerun_finishes_the_rest(st, endpoint, tmp_path):
    path = write_jsonl(tmp_path / "fleet.jsonl", records())
    seen = {"CreateTable": 0}

    def die_after_9_tables(operation, params):
        if seen["CreateTable"] >= 9 and operation in ("CreateTable", "PutItem", "DescribeTable"):
            raise Killed("process killed")
        if operation == "CreateTable":
            seen["CreateTable"] += 1

    st.storage.hooks.append(die_after_9_tables)
    fleet = fleet_of(st, workers=4)
    plan = fleet.plan(fleet.read(path))
    with pytest.raises(Killed):
        fleet.run(plan)
    st.storage.hooks.remove(die_after_9_tables)
    items, tables = state(st)
    assert len(items) < N and len(tables) < tables_for(N)

    again = fleet_of(st)
    result = again.run(again.plan(again.read(path)))
    assert result.ok and len(result.created) + len(result.present) == N
    assert state(st) == _clean_state(endpoint, path)


@pytest.mark.integration
def test_limit_exceeded_is_backed_off_and_in_flight_tables_are_bounded(st, tmp_path):
    path = write_jsonl(tmp_path / "fleet.jsonl", records(8))
    refusals = {"left": 3}

    def limit_exceeded(operation, params):
        if operation == "CreateTable" and refusals["left"]:
            refusals["left"] -= 1
            raise RequestRejected(
                "CreateTable: LimitExceededException: too many tables being created",
                code="LimitExceededException",
                operation="CreateTable",
                table=params["TableName"],
            )

    # observed outside the fleet: a table is in flight from its CreateTable until it is seen ACTIVE
    in_flight, peak, lock = set(), [0], threading.Lock()
    create, wait_active = st.storage.create_table, st.storage.wait_active

    def observed_create(request):
        desc = create(request)
        with lock:
            in_flight.add(request["TableName"])
            peak[0] = max(peak[0], len(in_flight))
        return desc

    def observed_wait(name, **kw):
        desc = wait_active(name, **kw)
        with lock:
            in_flight.discard(name)
        return desc

    st.storage.create_table, st.storage.wait_active = observed_create, observed_wait
    st.storage.hooks.append(limit_exceeded)
    sleeps = []
    fleet = fleet_of(st, workers=8, max_in_flight=2, sleep=sleeps.append, rng=random.Random(1))
    result = fleet.run(fleet.plan(fleet.read(path)))
    assert result.ok and len(result.created) == 8 and result.tables_created == 16
    assert result.limit_retries == 3 and len(sleeps) == 3 and all(0 <= s <= 5 for s in sleeps)
    assert 1 <= peak[0] <= 2


@pytest.mark.integration
def test_limit_exceeded_past_the_budget_fails_that_tenant_only(st, tmp_path):
    path = write_jsonl(tmp_path / "fleet.jsonl", records(3))
    victim = st.settings.table_prefix + "tenant-fleet-002-messages"

    def always(operation, params):
        if operation == "CreateTable" and params["TableName"] == victim:
            raise RequestRejected("LimitExceededException", code="LimitExceededException", operation=operation)

    st.storage.hooks.append(always)
    fleet = fleet_of(st, limit_retries=2, sleep=lambda s: None)
    result = fleet.run(fleet.plan(fleet.read(path)))
    assert list(result.failed) == ["fleet-002"] and sorted(result.created) == ["fleet-001", "fleet-003"]
    assert not result.ok and Tenants.of(st).get("fleet-002") is None


@pytest.mark.integration
def test_conflicts_with_the_registry_are_listed_and_nothing_is_created(st, tmp_path):
    lifecycle = Tenants.of(st, clock=FixedClock(T0))
    lifecycle.onboard(
        "fleet-001", name="Another name", owner_email="owner1@fleet.example", plan="standard", metadata={"cohort": 1}
    )
    lifecycle.onboard("fleet-002", name="Fleet 2", owner_email="owner2@fleet.example", plan="enterprise")
    lifecycle.offboard("fleet-002")
    before = st.storage.list_tables()
    path = write_jsonl(tmp_path / "fleet.jsonl", records(5))
    fleet = fleet_of(st)
    with pytest.raises(ValidationFailed) as err:
        fleet.plan(fleet.read(path))
    by_where = {v.where.rsplit(":", 1)[1]: v for v in err.value.violations}
    assert set(by_where) == {"1", "2"}
    assert by_where["1"].field == "name" and "Another name" in by_where["1"].rule
    assert "retired" in by_where["2"].rule
    assert st.storage.list_tables() == before


@pytest.mark.integration
def test_a_fleet_that_would_cross_the_table_limit_is_refused(st, tmp_path):
    used = len(st.storage.list_tables())
    path = write_jsonl(tmp_path / "fleet.jsonl", records(5))
    fleet = fleet_of(st, table_limit=used + 10)  # 5 tenants need 10 tables plus the registry
    with pytest.raises(QuotaExceeded) as err:
        fleet.plan(fleet.read(path))
    text = str(err.value)
    assert "11 new table(s)" in text and "exceed the table quota by 1" in text
    assert "Raise the quota" in text and "shard" in text
    assert len(st.storage.list_tables()) == used
    assert fleet_of(st, table_limit=used + 11).plan(fleet.read(path)).new_tables == 11


# --- the CLI ---------------------------------------------------------------------------------


def _cli(capsys, endpoint, settings, *argv):
    from salestalk_lib.cli.main import main

    code = main([*argv, "--endpoint-url", endpoint.url, "--table-prefix", settings.table_prefix])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.integration
def test_cli_import_summary_exit_codes_and_refusals(capsys, endpoint, settings, st, tmp_path, monkeypatch):
    path = write_jsonl(tmp_path / "fleet.jsonl", records(4))
    events = tmp_path / "events.jsonl"
    argv = ("tenant", "import", str(path), "--table-limit", "10000", "--events-file", str(events))
    code, out, err = _cli(capsys, endpoint, settings, *argv)
    assert code == 0, err
    assert "4 created, 0 already present, 0 failed" in out
    lines = [json.loads(line) for line in events.read_text(encoding="utf-8").splitlines()]
    assert sorted(e["tenantId"] for e in lines) == [f"fleet-{i:03d}" for i in range(1, 5)]
    assert {e["eventType"] for e in lines} == {"tenant.provisioned.v1"}
    code, out, _ = _cli(capsys, endpoint, settings, *argv)
    assert code == 0 and "0 created, 4 already present, 0 failed (0 table(s) created" in out
    assert len(events.read_text(encoding="utf-8").splitlines()) == 4  # a re-run announces nothing again

    bad = tmp_path / "bad.jsonl"
    renamed = {**records(1)[0], "name": "Renamed"}
    bad.write_text(json.dumps(renamed) + "\n", encoding="utf-8")
    code, out, err = _cli(capsys, endpoint, settings, "tenant", "import", str(bad))
    assert code == 2 and f"{bad}:1 name: conflicts with the registered tenant 'fleet-001'" in err
    assert "1 problem(s)" in err and "nothing was created" in err and "Traceback" not in err

    code, _, err = _cli(capsys, endpoint, settings, "tenant", "import", str(path), "--table-limit", "10001")
    assert code == 2 and "10,000" in err

    more = write_jsonl(tmp_path / "more.jsonl", records(3, start=50))
    used = len(st.storage.list_tables())
    code, _, err = _cli(capsys, endpoint, settings, "tenant", "import", str(more), "--table-limit", str(used + 5))
    assert code == 2 and "exceed the table quota by 1" in err and Tenants.of(st).get("fleet-050") is None

    monkeypatch.setenv("SALESTALK_TABLE_LIMIT", str(used + 1))
    code, _, err = _cli(
        capsys, endpoint, settings, "tenant", "add", "fleet-099", "--name", "N", "--owner-email", "n@n.example"
    )
    assert code == 2 and "this tenant needs 2 new table(s)" in err and "shard" in err
    code, _, err = _cli(capsys, endpoint, settings, "provision", "--tenant", "fleet-098")
    assert code == 2 and "exceed the table quota by 1" in err
    assert Tenants.of(st).get("fleet-099") is None
    assert all(st.storage.describe_table(n) is None for n in Tenants.of(st).table_names("fleet-099"))
    assert all(st.storage.describe_table(n) is None for n in Tenants.of(st).table_names("fleet-098"))
