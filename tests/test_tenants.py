"""Tenant lifecycle: onboarding converges, status changes are conditional, offboarding exports then deletes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from botocore.exceptions import EndpointConnectionError

from salestalk_lib.contract.errors import IngestConflict, InvalidTenantId, ProvisioningError, ValidationFailed
from salestalk_lib.contract.models import TenantProvisionedEvent
from salestalk_lib.contract.tables import MESSAGES, METRICS
from salestalk_lib.contract.vocab import TenantStatus
from salestalk_lib.dynamo.retry import Retrier
from salestalk_lib.dynamo.storage import Storage
from salestalk_lib.ops.events import JsonLinesSink, MemorySink, read_json_lines
from salestalk_lib.ops.tenants import (
    FixedClock,
    TenantNotFound,
    Tenants,
    TenantStateError,
    read_export,
)

T0 = 1762682400  # 2025-11-09T10:00:00Z
GLOBEX = dict(
    name="Globex Corporation",
    owner_email="ops@globex.example",
    plan="enterprise",
    metadata={"industry": "manufacturing", "employees": 1200, "region": "EMEA", "fiscalYearStart": "01-01"},
)


class Recorder:
    """A storage hook that records (operation, table) of every request sent."""

    def __init__(self):
        self.calls = []

    def __call__(self, operation, params):
        self.calls.append((operation, params.get("TableName", "")))

    @property
    def operations(self):
        return [op for op, _ in self.calls]


class FailOn:
    """A storage hook that raises on the first `times` requests of `operation` on `table`."""

    def __init__(self, operation, table, times=1):
        self.operation, self.table, self.left = operation, table, times

    def __call__(self, operation, params):
        if operation == self.operation and params.get("TableName") == self.table and self.left:
            self.left -= 1
            raise RuntimeError(f"injected failure on {operation} {self.table}")


@pytest.fixture
def clock():
    return FixedClock(T0)


@pytest.fixture
def sink():
    return MemorySink()


@pytest.fixture
def tenants(st, clock, sink):
    return Tenants.of(st, clock=clock, sink=sink, retrier=Retrier.virtual())


def _tables(st):
    return st.storage.list_tables(st.settings.table_prefix)


def _live_tables(st):
    """Tables not on their way out: DynamoDB lists a deleted table (DELETING) for a while after DeleteTable."""
    return [
        name
        for name in _tables(st)
        if (st.storage.describe_table(name) or {}).get("TableStatus", "DELETING") != "DELETING"
    ]


def _registry(st, tenant_id):
    return st.storage.get_item(st.settings.registry_table, {"tenantId": tenant_id})


# --- onboarding ------------------------------------------------------------------


def test_onboard_creates_both_tables_then_the_registry_item(st, tenants, sink):
    result = tenants.onboard("globex-003", **GLOBEX)
    assert result.outcome == "created"
    assert [r.action for r in result.tables] == ["created", "created"]
    messages, metrics = st.settings.table_name(MESSAGES, "globex-003"), st.settings.table_name(METRICS, "globex-003")
    assert _tables(st) == sorted([st.settings.registry_table, messages, metrics])
    item = _registry(st, "globex-003")
    assert item == {
        "tenantId": "globex-003",
        "name": "Globex Corporation",
        "ownerEmail": "ops@globex.example",
        "plan": "enterprise",
        "status": "active",
        "messagesTableName": "tenant-globex-003-messages",
        "metricsTableName": "tenant-globex-003-metrics",
        "s3Prefix": "tenant-globex-003/",
        "createdAt": Decimal(T0),
        "updatedAt": Decimal(T0),
        "metadata": {
            "industry": "manufacturing",
            "employees": Decimal(1200),
            "region": "EMEA",
            "fiscalYearStart": "01-01",
        },
    }


def test_registry_write_is_the_last_request_of_onboarding(st, tenants):
    rec = Recorder()
    st.storage.hooks.append(rec)
    tenants.onboard("globex-003", **GLOBEX)
    writes = [c for c in rec.calls if c[0] in ("CreateTable", "PutItem", "UpdateItem")]
    assert writes[-1] == ("PutItem", st.settings.registry_table)
    assert [op for op, _ in writes].count("CreateTable") == 3  # registry + the tenant's two tables


def test_onboard_publishes_tenant_provisioned_v1(st, tenants, sink):
    result = tenants.onboard("globex-003", **GLOBEX, correlation_id="onboarding-ticket-42")
    assert sink.events == [result.event]
    event = TenantProvisionedEvent.from_item(result.event.to_item())
    assert event.event_type == "tenant.provisioned.v1" and event.tenant_id == "globex-003"
    assert event.timestamp == "2025-11-09T10:00:00.000Z"
    assert event.metadata.correlation_id == "onboarding-ticket-42"
    assert event.data.tables.messages == st.settings.table_name(MESSAGES, "globex-003")
    assert event.data.tables.metrics == st.settings.table_name(METRICS, "globex-003")
    assert event.data.plan == "enterprise"


def test_the_event_can_go_to_a_json_lines_sink(st, clock, tmp_path):
    tenants = Tenants.of(st, clock=clock, sink=JsonLinesSink(tmp_path / "events.jsonl"))
    result = tenants.onboard("globex-003", **GLOBEX)
    (line,) = read_json_lines(tmp_path / "events.jsonl")
    assert TenantProvisionedEvent.from_item(line) == result.event


def test_default_sink_keeps_the_event_in_memory(st, clock):
    tenants = Tenants.of(st, clock=clock)
    result = tenants.onboard("globex-003", **GLOBEX)
    assert tenants.sink.events == [result.event]


def test_event_id_is_deterministic_so_republishing_is_deduplicable(tenants):
    tenant = tenants.onboard("globex-003", **GLOBEX).tenant
    assert tenants.provisioned_event(tenant).event_id == tenants.provisioned_event(tenant).event_id


def test_onboarding_an_identical_tenant_again_is_a_no_op(st, tenants, sink, clock):
    first = tenants.onboard("globex-003", **GLOBEX)
    clock.advance(3600)
    rec = Recorder()
    st.storage.hooks.append(rec)
    again = tenants.onboard("globex-003", **GLOBEX)
    assert again.outcome == "already_exists" and again.event is None
    assert again.tenant == first.tenant  # createdAt is the first run's, not the clock's
    assert {r.action for r in again.tables} == {"unchanged"}
    assert not {"PutItem", "UpdateItem", "CreateTable", "DeleteItem"} & set(rec.operations)
    assert len(sink.events) == 1


def test_same_id_with_other_registration_is_a_conflict_and_changes_nothing(st, tenants):
    tenants.onboard("globex-003", **GLOBEX)
    before = _registry(st, "globex-003")
    with pytest.raises(IngestConflict, match="differ in name, plan") as err:
        tenants.onboard("globex-003", **{**GLOBEX, "name": "Globex Two", "plan": "free"})
    assert err.value.stored["name"] == "Globex Corporation" and err.value.incoming["name"] == "Globex Two"
    assert _registry(st, "globex-003") == before


def test_conflict_is_detected_before_any_table_is_created(st, tenants, clock):
    # With globex-003's tables deleted out of band, a conflicting registration must not
    # recreate them: the registry is read and compared before any table is touched.
    tenants.onboard("globex-003", **GLOBEX)
    for name in tenants.table_names("globex-003"):
        st.storage.delete_table(name)
    with pytest.raises(IngestConflict):
        tenants.onboard("globex-003", **{**GLOBEX, "owner_email": "x@evil.example"})
    assert _live_tables(st) == [st.settings.registry_table]


def test_half_way_failure_then_rerun_converges(st, tenants, sink):
    st.storage.hooks.append(FailOn("PutItem", st.settings.registry_table))
    with pytest.raises(RuntimeError, match="injected failure"):
        tenants.onboard("globex-003", **GLOBEX)
    # Tables were created, the commit point was not reached: the tenant does not exist yet.
    assert set(tenants.table_names("globex-003")) <= set(_tables(st))
    assert _registry(st, "globex-003") is None and tenants.list() == [] and sink.events == []

    result = tenants.onboard("globex-003", **GLOBEX)
    assert result.outcome == "created"
    assert {r.action for r in result.tables} == {"unchanged"}
    assert _registry(st, "globex-003")["status"] == "active"
    assert [e.tenant_id for e in sink.events] == ["globex-003"]


def test_half_way_failure_on_the_second_table_then_rerun_converges(st, tenants):
    metrics = st.settings.table_name(METRICS, "globex-003")
    st.storage.hooks.append(FailOn("CreateTable", metrics))
    with pytest.raises(RuntimeError):
        tenants.onboard("globex-003", **GLOBEX)
    assert metrics not in _tables(st) and _registry(st, "globex-003") is None
    assert tenants.onboard("globex-003", **GLOBEX).outcome == "created"
    assert metrics in _tables(st)


class _LoseFirstRegistryPut:
    """A client wrapper whose first registry PutItem is applied, then its response is lost."""

    def __init__(self, client, registry):
        self._client, self._registry, self.lost = client, registry, 0

    def __getattr__(self, name):
        return getattr(self._client, name)

    def put_item(self, **params):
        response = self._client.put_item(**params)
        if params["TableName"] == self._registry and not self.lost:
            self.lost += 1
            raise EndpointConnectionError(endpoint_url="http://lost-response")
        return response


def test_a_lost_registry_response_retried_ends_as_created_not_conflict(st, clock, sink):
    client = _LoseFirstRegistryPut(st.endpoint.client(parameter_validation=False), st.settings.registry_table)
    tenants = Tenants(Storage(client), st.settings, clock=clock, sink=sink, retrier=Retrier.virtual())
    result = tenants.onboard("globex-003", **GLOBEX)
    assert client.lost == 1
    assert result.outcome == "created" and len(sink.events) == 1


def test_a_concurrent_conflicting_onboarding_is_reported_as_conflict(st, tenants, clock):
    other = Tenants.of(st, clock=clock, retrier=Retrier.virtual())

    def rival_wins(operation, params):
        if operation == "PutItem" and params["TableName"] == st.settings.registry_table:
            st.storage.hooks.remove(rival_wins)
            other.onboard("globex-003", **{**GLOBEX, "name": "Rival Inc"})

    st.storage.hooks.append(rival_wins)
    with pytest.raises(IngestConflict, match="differ in name"):
        tenants.onboard("globex-003", **GLOBEX)
    assert _registry(st, "globex-003")["name"] == "Rival Inc"


def test_a_concurrent_identical_onboarding_is_already_exists(st, tenants, clock, sink):
    other = Tenants.of(st, clock=FixedClock(T0 - 5), retrier=Retrier.virtual())

    def twin_wins(operation, params):
        if operation == "PutItem" and params["TableName"] == st.settings.registry_table:
            st.storage.hooks.remove(twin_wins)
            other.onboard("globex-003", **GLOBEX)

    st.storage.hooks.append(twin_wins)
    result = tenants.onboard("globex-003", **GLOBEX)
    assert result.outcome == "already_exists" and result.tenant.created_at == T0 - 5
    assert sink.events == []


def test_offboarded_id_is_retired(st, tenants):
    tenants.onboard("globex-003", **GLOBEX)
    tenants.offboard("globex-003")
    with pytest.raises(TenantStateError, match="retired"):
        tenants.onboard("globex-003", **GLOBEX)
    assert _live_tables(st) == [st.settings.registry_table]


def test_default_plan_is_free(tenants):
    tenant = tenants.onboard("initech-004", name="Initech", owner_email="bill@initech.example").tenant
    assert tenant.plan == "free"


# --- bad input at the library entry points -------------------------------------------


@pytest.mark.parametrize(
    "bad",
    ["Globex", "globex corp", "globex/../x", "..", "glöbex", "g" * 65, "-globex", "globex-", "", 42, None, ["globex"]],
)
def test_hostile_ids_are_refused_before_any_request(st, tenants, bad):
    rec = Recorder()
    st.storage.hooks.append(rec)
    with pytest.raises(InvalidTenantId):
        tenants.onboard(bad, **GLOBEX)
    for op in (tenants.suspend, tenants.reactivate, tenants.offboard, tenants.get):
        with pytest.raises(InvalidTenantId):
            op(bad)
    assert rec.calls == []
    assert _tables(st) == []


@pytest.mark.parametrize(
    "fields, rule",
    [
        ({"name": 42}, "name: Input should be a valid string"),
        ({"name": ""}, "name: String should have at least 1 character"),
        ({"name": "x" * 257}, "name: String should have at most 256 characters"),
        ({"owner_email": "not-an-email"}, "ownerEmail: value is not a valid email address"),
        ({"owner_email": ["ops@globex.example"]}, "ownerEmail:"),
        ({"plan": "platinum"}, "plan: Input should be 'free', 'standard' or 'enterprise'"),
        ({"plan": 1}, "plan:"),
        ({"metadata": "industry=manufacturing"}, "metadata: must be a map"),
        ({"metadata": {"employees": float("nan")}}, "metadata.employees: must be a finite number"),
        ({"metadata": {"blob": "x" * 11_000}}, "the limit is 10,240 bytes"),
        ({"metadata": {"blob": "x" * 500_000}}, "the limit is 10,240 bytes"),
        ({"metadata": {"region": None}}, "metadata.region: must not be null"),
    ],
)
def test_invalid_records_are_refused_before_any_request(st, tenants, fields, rule):
    rec = Recorder()
    st.storage.hooks.append(rec)
    with pytest.raises(ValidationFailed) as err:
        tenants.onboard("globex-003", **{**GLOBEX, **fields})
    assert rule in str(err.value)
    assert rec.calls == [] and _tables(st) == []


def test_every_broken_rule_is_reported_at_once(tenants):
    with pytest.raises(ValidationFailed) as err:
        tenants.onboard("globex-003", name=None, owner_email="x", plan="gold")
    assert {v.field for v in err.value.violations} == {"name", "ownerEmail", "plan"}


def test_list_refuses_an_unknown_status(tenants):
    with pytest.raises(ValidationFailed, match="must be one of active, suspended, deleted"):
        tenants.list("archived")


# --- suspend and reactivate --------------------------------------------------------


def test_suspend_and_reactivate_set_status_and_updated_at(st, tenants, clock):
    tenants.onboard("globex-003", **GLOBEX)
    clock.advance(60)
    suspended = tenants.suspend("globex-003")
    assert suspended.changed and suspended.previous_status is TenantStatus.ACTIVE
    assert suspended.tenant.status is TenantStatus.SUSPENDED
    assert _registry(st, "globex-003")["updatedAt"] == T0 + 60
    clock.advance(60)
    active = tenants.reactivate("globex-003")
    assert active.tenant.status is TenantStatus.ACTIVE and active.tenant.updated_at == T0 + 120
    assert active.tenant.created_at == T0


def test_asking_for_the_current_status_writes_nothing(st, tenants, clock):
    tenants.onboard("globex-003", **GLOBEX)
    rec = Recorder()
    st.storage.hooks.append(rec)
    clock.advance(60)
    assert tenants.reactivate("globex-003").changed is False
    assert "UpdateItem" not in rec.operations
    assert _registry(st, "globex-003")["updatedAt"] == T0


def test_updated_at_never_moves_backwards_when_the_clock_does(st, tenants, clock):
    tenants.onboard("globex-003", **GLOBEX)
    clock.advance(-86_400)  # a host whose clock is a day behind
    result = tenants.suspend("globex-003")
    assert result.tenant.updated_at == T0 >= result.tenant.created_at


def test_status_changes_are_conditional_on_the_status_read(st, tenants, clock):
    tenants.onboard("globex-003", **GLOBEX)
    other = Tenants.of(st, clock=clock, retrier=Retrier.virtual())

    def offboarded_meanwhile(operation, params):
        if operation == "UpdateItem":
            st.storage.hooks.remove(offboarded_meanwhile)
            other.offboard("globex-003", keep_tables=True)

    st.storage.hooks.append(offboarded_meanwhile)
    with pytest.raises(TenantStateError, match="is deleted"):
        tenants.suspend("globex-003")  # re-read after the failed condition: deleted, not suspendable
    assert _registry(st, "globex-003")["status"] == "deleted"


def test_a_deleted_tenant_cannot_be_suspended_or_reactivated(tenants):
    tenants.onboard("globex-003", **GLOBEX)
    tenants.offboard("globex-003")
    for op in (tenants.suspend, tenants.reactivate):
        with pytest.raises(TenantStateError, match="is deleted"):
            op("globex-003")


def test_a_missing_registry_is_a_clear_error(st, tenants):
    for call in (lambda: tenants.suspend("globex-003"), lambda: tenants.list()):
        with pytest.raises(ProvisioningError, match=r"registry table .* does not exist"):
            call()


def test_unknown_tenant_is_not_found(st, tenants):
    tenants.onboard("globex-003", **GLOBEX)
    for op in (tenants.suspend, tenants.reactivate, tenants.offboard):
        with pytest.raises(TenantNotFound, match="initech-004"):
            op("initech-004")


# --- offboarding ---------------------------------------------------------------------


def _put_data(st, tenant_id):
    scope = st.tenant(tenant_id)
    scope.storage.put_item(
        scope.metrics_table,
        {
            "pk": "METRIC#revenue",
            "sk": "2025-Q3",
            "value": Decimal("1250000.10"),
            "unit": "USD",
            "tags": {"q3", "audited"},
            "raw": b"\x00\xff",
            "dimensions": {"region": "EMEA"},
            "flags": [True, None],
        },
    )
    scope.storage.put_item(scope.messages_table, {"pk": "MSG#x", "sk": "2025-11-09T10:00:00.000Z", "text": "héllo"})
    return scope


def test_offboard_exports_both_tables_exactly_then_deletes_them(st, tenants, tmp_path):
    tenants.onboard("globex-003", **GLOBEX)
    scope = _put_data(st, "globex-003")
    stored = scope.storage.get_item(scope.metrics_table, {"pk": "METRIC#revenue", "sk": "2025-Q3"})
    result = tenants.offboard("globex-003", export_dir=tmp_path)
    assert result.previous_status is TenantStatus.ACTIVE and result.tenant.status is TenantStatus.DELETED
    assert {e.table: e.items for e in result.exports} == {scope.messages_table: 1, scope.metrics_table: 1}
    assert read_export(tmp_path / f"{scope.metrics_table}.jsonl") == [stored]
    assert read_export(tmp_path / f"{scope.messages_table}.jsonl")[0]["text"] == "héllo"
    assert sorted(result.tables_deleted) == sorted([scope.messages_table, scope.metrics_table])
    assert _live_tables(st) == [st.settings.registry_table]
    assert _registry(st, "globex-003")["status"] == "deleted"
    assert not list(tmp_path.glob("*.partial"))


def test_offboard_keep_tables_keeps_them_and_their_data(st, tenants):
    tenants.onboard("globex-003", **GLOBEX)
    scope = _put_data(st, "globex-003")
    result = tenants.offboard("globex-003", keep_tables=True)
    assert result.tables_deleted == () and sorted(result.tables_kept) == sorted(tenants.table_names("globex-003"))
    assert scope.storage.get_item(scope.metrics_table, {"pk": "METRIC#revenue", "sk": "2025-Q3"}) is not None
    assert tenants.list(TenantStatus.DELETED)[0].tenant_id == "globex-003"


def test_offboard_marks_deleted_first_and_a_rerun_converges(st, tenants, tmp_path, clock):
    tenants.onboard("globex-003", **GLOBEX)
    _put_data(st, "globex-003")
    messages, metrics = tenants.table_names("globex-003")
    st.storage.hooks.append(FailOn("DeleteTable", metrics))
    clock.advance(30)
    with pytest.raises(RuntimeError, match="injected failure"):
        tenants.offboard("globex-003", export_dir=tmp_path)
    assert _registry(st, "globex-003")["status"] == "deleted"  # marked before any table went
    assert _registry(st, "globex-003")["updatedAt"] == T0 + 30
    assert metrics in _live_tables(st) and messages not in _live_tables(st)
    exported = (tmp_path / f"{messages}.jsonl").read_text()

    again = tenants.offboard("globex-003", export_dir=tmp_path)
    assert again.previous_status is TenantStatus.DELETED
    assert again.tables_deleted == (metrics,) and again.tables_missing == (messages,)
    # The messages table was gone, so its earlier (complete) export is left as it was.
    assert (tmp_path / f"{messages}.jsonl").read_text() == exported
    assert _live_tables(st) == [st.settings.registry_table]


def test_offboard_refuses_an_export_path_that_is_a_file_before_anything_changes(st, tenants, tmp_path):
    tenants.onboard("globex-003", **GLOBEX)
    target = tmp_path / "export.txt"
    target.write_text("not a directory")
    with pytest.raises(ValidationFailed, match="is not a directory"):
        tenants.offboard("globex-003", export_dir=target)
    assert _registry(st, "globex-003")["status"] == "active"


def test_offboard_of_a_suspended_tenant(tenants):
    tenants.onboard("globex-003", **GLOBEX)
    tenants.suspend("globex-003")
    assert tenants.offboard("globex-003").previous_status is TenantStatus.SUSPENDED


# --- listing -------------------------------------------------------------------------


def test_list_queries_status_index_only_and_pages(st, tenants):
    ids = ["acme-corp-001", "globex-003", "initech-004", "techstart-inc-002"]
    for tenant_id in ids:
        tenants.onboard(tenant_id, name=tenant_id, owner_email=f"ops@{tenant_id}.example")
    tenants.suspend("initech-004")
    tenants.offboard("techstart-inc-002")
    rec = Recorder()
    st.storage.hooks.append(rec)
    assert [t.tenant_id for t in tenants.list("active", page_size=1)] == ["acme-corp-001", "globex-003"]
    assert [t.tenant_id for t in tenants.list(TenantStatus.SUSPENDED)] == ["initech-004"]
    everyone = tenants.list(page_size=1)
    assert [(t.tenant_id, t.status.value) for t in everyone] == [
        ("acme-corp-001", "active"),
        ("globex-003", "active"),
        ("initech-004", "suspended"),
        ("techstart-inc-002", "deleted"),
    ]
    assert set(rec.operations) == {"Query"}
    assert rec.operations.count("Query") >= 3 + 2  # page_size=1 paginates


# --- the CLI -------------------------------------------------------------------------


def _cli(capsys, endpoint, settings, *argv):
    from salestalk_lib.cli.main import main

    code = main([*argv, "--endpoint-url", endpoint.url, "--table-prefix", settings.table_prefix])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_tenant_lifecycle_end_to_end(capsys, endpoint, settings, st, tmp_path):
    events = tmp_path / "events.jsonl"
    code, out, _ = _cli(
        capsys,
        endpoint,
        settings,
        "tenant",
        "add",
        "globex-003",
        "--name",
        "Globex Corporation",
        "--owner-email",
        "ops@globex.example",
        "--plan",
        "enterprise",
        "--metadata",
        '{"region": "EMEA", "employees": 1200, "share": 0.35}',
        "--events-file",
        str(events),
    )
    assert code == 0
    assert "tenant globex-003: created (status active, plan enterprise)" in out
    assert f"{settings.table_prefix}tenant-globex-003-messages  created" in out
    assert "event tenant.provisioned.v1 " in out
    (event,) = read_json_lines(events)
    assert event["data"]["tables"]["metrics"] == f"{settings.table_prefix}tenant-globex-003-metrics"
    assert _registry(st, "globex-003")["metadata"]["share"] == Decimal("0.35")  # exact, never a binary float

    code, out, _ = _cli(
        capsys,
        endpoint,
        settings,
        "tenant",
        "add",
        "globex-003",
        "--name",
        "Globex Corporation",
        "--owner-email",
        "ops@globex.example",
        "--plan",
        "enterprise",
        "--metadata",
        '{"region": "EMEA", "employees": 1200, "share": 0.35}',
    )
    assert code == 0 and "tenant globex-003: already exists" in out and "event" not in out

    code, out, _ = _cli(capsys, endpoint, settings, "tenant", "suspend", "globex-003")
    assert code == 0 and "tenant globex-003: active -> suspended (updatedAt " in out
    code, out, _ = _cli(capsys, endpoint, settings, "tenant", "suspend", "globex-003")
    assert code == 0 and "already suspended; nothing changed" in out
    code, out, _ = _cli(capsys, endpoint, settings, "tenant", "list", "--status", "suspended")
    assert code == 0 and "globex-003" in out and "suspended" in out
    code, out, _ = _cli(capsys, endpoint, settings, "tenant", "activate", "globex-003")
    assert code == 0 and "suspended -> active" in out

    code, out, _ = _cli(capsys, endpoint, settings, "tenant", "remove", "globex-003", "--export", str(tmp_path / "x"))
    assert code == 0 and "tenant globex-003: active -> deleted" in out
    assert out.count("exported") == 2 and out.count("deleted") == 3
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == [
        f"{settings.table_prefix}tenant-globex-003-messages.jsonl",
        f"{settings.table_prefix}tenant-globex-003-metrics.jsonl",
    ]
    assert _live_tables(st) == [st.settings.registry_table]

    code, out, _ = _cli(capsys, endpoint, settings, "tenant", "list")
    assert code == 0
    assert out.splitlines()[0].split() == ["tenantId", "name", "ownerEmail", "plan", "status", "createdAt", "updatedAt"]
    assert "globex-003" in out and "deleted" in out


def test_cli_remove_keep_tables_and_conflict(capsys, endpoint, settings, st):
    args = ["--name", "Initech", "--owner-email", "bill@initech.example"]
    assert _cli(capsys, endpoint, settings, "tenant", "add", "initech-004", *args)[0] == 0
    code, _, err = _cli(
        capsys,
        endpoint,
        settings,
        "tenant",
        "add",
        "initech-004",
        "--name",
        "Initrode",
        "--owner-email",
        "bill@initech.example",
    )
    assert code == 2 and "conflict on tenantId=initech-004" in err and "name" in err
    code, out, _ = _cli(capsys, endpoint, settings, "tenant", "remove", "initech-004", "--keep-tables")
    assert code == 0 and out.count("kept") == 2
    assert len(_tables(st)) == 3


def test_cli_metadata_file(capsys, endpoint, settings, st, tmp_path):
    path = tmp_path / "meta.json"
    path.write_text('{"industry": "Paper", "fiscalYearStart": "04-01"}', encoding="utf-8")
    code, _, _ = _cli(
        capsys,
        endpoint,
        settings,
        "tenant",
        "add",
        "dunder-005",
        "--name",
        "Dunder Mifflin",
        "--owner-email",
        "michael@dunder.example",
        "--metadata-file",
        str(path),
    )
    assert code == 0
    assert _registry(st, "dunder-005")["metadata"] == {"industry": "Paper", "fiscalYearStart": "04-01"}


def test_cli_unknown_tenant_and_missing_registry(capsys, endpoint, settings, st):
    code, _, err = _cli(capsys, endpoint, settings, "tenant", "suspend", "nobody-000")
    assert code == 2 and "registry table" in err and "does not exist" in err
    _cli(capsys, endpoint, settings, "provision", "--tenant", "somebody-001")
    code, _, err = _cli(capsys, endpoint, settings, "tenant", "activate", "nobody-000")
    assert code == 2 and "tenant 'nobody-000' is not in the registry" in err
