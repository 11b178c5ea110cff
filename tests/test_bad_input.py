"""Bad input at every entry point (CLI arguments, files, library calls): a clear error, nothing written.

Each CLI case runs the real `main()` against the session endpoint under the test's
prefix, then proves that nothing was written by listing the endpoint's tables and
reading back every item under that prefix.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest
from snapshots import snapshot

from salestalk_lib.cli.main import COMMAND_MODULES, main
from salestalk_lib.contract import keys
from salestalk_lib.contract.errors import InvalidTenantId, IsolationViolation, ValidationFailed
from salestalk_lib.contract.models import Metric, Tenant
from salestalk_lib.contract.settings import Settings
from salestalk_lib.contract.tables import MESSAGES, METRICS, REGISTRY, TableKind
from salestalk_lib.ops.connection import connect
from salestalk_lib.ops.tenants import FixedClock, Tenants

HOSTILE_IDS = {
    "uppercase": "ACME-corp-001",
    "space": "acme corp",
    "slash": "acme/x",
    "backslash": "acme\\x",
    "dotdot": "..",
    "traversal": "../tenant-acme-corp-001",
    "non-ascii": "ácme-corp",
    "arabic-digits": "acme-٠٠١",
    "over-long": "a" * 65,
    "leading-dash": "-acme",
    "trailing-dash": "acme-",
    "empty": "",
    "underscore": "acme_corp",
    "dot": "acme.corp",
    "iam-wildcard": "acme*",
    "iam-single": "acme?",
    "arn-colon": "acme:001",
    "nul": "acme\x00",
    "newline": "acme\n",
}
IDS = pytest.mark.parametrize("bad", list(HOSTILE_IDS.values()), ids=list(HOSTILE_IDS))
SEED = "acme-corp-001"


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _conn(endpoint, settings):
    return ["--endpoint-url", endpoint.url, "--table-prefix", settings.table_prefix]


@pytest.fixture(scope="module")
def seeded(endpoint):
    """The registry and one real tenant, so a hostile id has something to reach for.

    Shared by the module's read-only cases (each proves it changed nothing), under its own prefix.
    """
    settings = Settings(table_prefix=f"t{uuid.uuid4().hex[:10]}-", environment="test")
    st = connect(settings=settings, endpoint=endpoint)
    Tenants.of(st, clock=FixedClock(1762682400)).onboard(SEED, name="ACME", owner_email="ops@acme.example")
    return st


# --- CLI arguments -----------------------------------------------------------------


@IDS
def test_provision_refuses_hostile_id(capsys, endpoint, settings, st, bad):
    code, out, err = _run(capsys, "provision", f"--tenant={bad}", *_conn(endpoint, settings))
    assert code == 2 and "tenant id" in err
    assert out == "" and snapshot(st) == {}


def test_provision_refuses_before_creating_the_good_ones(capsys, endpoint, settings, st):
    code, _, err = _run(capsys, "provision", "--tenant", "good-co", "--tenant", "Bad/Co", *_conn(endpoint, settings))
    assert code == 2 and "'Bad/Co'" in err
    assert snapshot(st) == {}


@IDS
def test_tenant_add_refuses_hostile_id(capsys, endpoint, settings, st, bad):
    code, out, err = _run(
        capsys,
        "tenant",
        "add",
        "--name",
        "ACME",
        "--owner-email",
        "ops@acme.example",
        *_conn(endpoint, settings),
        "--",
        bad,
    )
    assert code == 2 and "tenant id" in err
    assert out == "" and snapshot(st) == {}


@IDS
@pytest.mark.parametrize("command", ["suspend", "activate", "remove"])
def test_tenant_status_commands_refuse_hostile_id(capsys, endpoint, seeded, command, bad):
    before = snapshot(seeded)
    code, out, err = _run(capsys, "tenant", command, *_conn(endpoint, seeded.settings), "--", bad)
    assert code == 2 and "tenant id" in err
    assert out == "" and snapshot(seeded) == before


@IDS
def test_tenant_policy_refuses_hostile_id(capsys, bad):
    code, out, err = _run(capsys, "tenant", "policy", "--role", "reader", "--", bad)
    assert code == 2 and "tenant id" in err and out == ""


@pytest.mark.parametrize(
    "options, rule",
    [
        (["--name", "", "--owner-email", "ops@acme.example"], "name: String should have at least 1 character"),
        (["--name", "x" * 300, "--owner-email", "ops@acme.example"], "at most 256 characters"),
        (["--name", "ACME", "--owner-email", "ops@"], "ownerEmail: value is not a valid email address"),
        (
            ["--name", "ACME", "--owner-email", "ops@acme.example", "--plan", "gold"],
            "plan: Input should be 'free', 'standard' or 'enterprise'",
        ),
        (["--name", "ACME", "--owner-email", "ops@acme.example", "--metadata", "[1, 2]"], "must be a JSON object"),
        (["--name", "ACME", "--owner-email", "ops@acme.example", "--metadata", "{region: EU}"], "is not valid JSON"),
        (
            ["--name", "ACME", "--owner-email", "ops@acme.example", "--metadata", '{"a": 1, "a": 2}'],
            "metadata.a: appears more than once in one JSON object",
        ),
        (
            ["--name", "ACME", "--owner-email", "ops@acme.example", "--metadata", '{"n": NaN}'],
            "metadata.n: must be a finite number",
        ),
        (
            ["--name", "ACME", "--owner-email", "ops@acme.example", "--metadata", '{"a": null}'],
            "metadata.a: must not be null",
        ),
        (
            ["--name", "ACME", "--owner-email", "ops@acme.example", "--metadata", '{"blob": "' + "x" * 420_000 + '"}'],
            "the limit is 10,240 bytes",
        ),
    ],
)
def test_tenant_add_refuses_bad_fields_with_nothing_written(capsys, endpoint, settings, st, options, rule):
    code, out, err = _run(capsys, "tenant", "add", "acme-corp-001", *options, *_conn(endpoint, settings))
    assert code == 2 and rule in err
    assert out == "" and snapshot(st) == {}


def test_tenant_add_refuses_bad_metadata_files_with_nothing_written(capsys, endpoint, settings, st, tmp_path):
    base = ["tenant", "add", "acme-corp-001", "--name", "ACME", "--owner-email", "ops@acme.example"]
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00{")
    huge = tmp_path / "huge.json"
    huge.write_text(json.dumps({"blob": "x" * 500_000}), encoding="utf-8")
    for path, rule in (
        (tmp_path / "missing.json", "cannot be read"),
        (binary, "cannot be read"),
        (huge, "the limit is 10,240 bytes"),
        (tmp_path, "cannot be read"),
    ):
        code, _, err = _run(capsys, *base, "--metadata-file", str(path), *_conn(endpoint, settings))
        assert code == 2 and rule in err, (path, err)
    assert snapshot(st) == {}


def test_tenant_list_refuses_an_unknown_status(capsys, endpoint, seeded):
    code, _, err = _run(capsys, "tenant", "list", "--status", "Active", *_conn(endpoint, seeded.settings))
    assert code == 2 and "must be one of active, suspended, deleted" in err


def test_tenant_remove_refuses_an_export_path_that_is_a_file(capsys, endpoint, seeded, tmp_path):
    before = snapshot(seeded)
    target = tmp_path / "not-a-dir"
    target.write_text("x")
    code, _, err = _run(capsys, "tenant", "remove", SEED, "--export", str(target), *_conn(endpoint, seeded.settings))
    assert code == 2 and "is not a directory" in err
    assert snapshot(seeded) == before


@IDS
def test_query_refuses_hostile_tenant(capsys, endpoint, seeded, bad):
    before = snapshot(seeded)
    code, _, err = _run(
        capsys,
        "query",
        "metric_for_period",
        f"--tenant={bad}",
        "--param",
        "subject=revenue",
        "--param",
        "period=2025-Q3",
        *_conn(endpoint, seeded.settings),
    )
    assert code == 2 and "tenant id" in err
    assert snapshot(seeded) == before


@IDS
def test_query_registry_pattern_refuses_hostile_tenant(capsys, endpoint, seeded, bad):
    before = snapshot(seeded)
    code, _, err = _run(capsys, "query", "1", f"--tenant={bad}", *_conn(endpoint, seeded.settings))
    assert code == 2 and "tenant id" in err
    assert snapshot(seeded) == before


@pytest.mark.skipif("audit" not in COMMAND_MODULES, reason="no audit command")
@IDS
def test_audit_refuses_hostile_tenant(capsys, endpoint, seeded, bad):
    before = snapshot(seeded)
    code, _, err = _run(capsys, "audit", f"--tenant={bad}", *_conn(endpoint, seeded.settings))
    assert code == 2 and "tenant id" in err
    assert snapshot(seeded) == before


@IDS
def test_validate_refuses_hostile_tenant_option(capsys, tmp_path, bad):
    path = tmp_path / "tenants.json"
    path.write_text(json.dumps([_tenant_record(SEED)]), encoding="utf-8")
    code, _, err = _run(capsys, "validate", str(path), f"--tenant={bad}")
    assert code == 2 and "tenant id" in err


def test_wrong_argument_types_are_usage_errors(capsys, endpoint, settings, st):
    with pytest.raises(SystemExit) as exc:
        main(["query", "metric_for_period", "--tenant", SEED, "--page-size", "ten", *_conn(endpoint, settings)])
    assert exc.value.code == 2 and "invalid int value: 'ten'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["provision", "--environment", "prod", *_conn(endpoint, settings)])
    assert exc.value.code == 2 and "invalid choice: 'prod'" in capsys.readouterr().err
    assert snapshot(st) == {}


def test_hostile_table_prefix_is_refused(capsys, endpoint, st):
    code, _, err = _run(
        capsys, "provision", "--tenant", SEED, "--endpoint-url", endpoint.url, "--table-prefix", "../x/"
    )
    assert code == 2 and "table prefix" in err
    assert st.storage.list_tables("../x/") == []


# --- files -------------------------------------------------------------------------


def _tenant_record(tenant_id, **over):
    record = {
        "tenantId": tenant_id,
        "name": "ACME",
        "ownerEmail": "ops@acme.example",
        "plan": "standard",
        "status": "active",
        "messagesTableName": f"tenant-{tenant_id}-messages",
        "metricsTableName": f"tenant-{tenant_id}-metrics",
        "s3Prefix": f"tenant-{tenant_id}/",
        "createdAt": 1762682400,
        "updatedAt": 1762682400,
    }
    record.update(over)
    return record


@IDS
def test_validate_reports_a_hostile_tenant_id_in_a_file(capsys, tmp_path, bad):
    path = tmp_path / "tenants.jsonl"
    path.write_text(json.dumps(_tenant_record(bad)) + "\n", encoding="utf-8")
    code, out, _ = _run(capsys, "validate", str(path))
    assert code == 1
    assert f"{path}:1 tenantId:" in out


@pytest.mark.parametrize(
    "field, value, rule",
    [
        ("createdAt", "1762682400", "must be a number, not a string"),
        ("createdAt", True, "must be a number, not a boolean"),
        ("name", 7, "valid string"),
        ("plan", ["standard"], "'free', 'standard' or 'enterprise'"),
        ("metadata", [1, 2], "must be a map"),
        ("updatedAt", 1, "must be ≥ createdAt"),
        ("messagesTableName", "tenant-techstart-inc-002-messages", "derived from tenantId"),
    ],
)
def test_validate_reports_wrong_types_in_a_file(capsys, tmp_path, field, value, rule):
    path = tmp_path / "tenants.json"
    path.write_text(json.dumps([_tenant_record(SEED, **{field: value})]), encoding="utf-8")
    code, out, _ = _run(capsys, "validate", str(path))
    assert code == 1 and f"{field}:" in out and rule in out


def _huge_metric(n_dimensions=4000):
    """A metric slice within every per-field rule whose item is over 400 KB in total (~500 KB)."""
    dims = {f"d{i}": "v" * 120 for i in range(n_dimensions)}
    return {
        "tenantId": SEED,
        "metricId": "00000000-0000-4000-8000-000000000000",
        "subject": "revenue",
        "metricType": "revenue",
        "unit": "USD",
        "value": 1,
        "pk": "METRIC#revenue",
        "sk": "2025-Q3#d1:" + "v" * 120,
        "dimensionKey": "d1:" + "v" * 120,
        "dimensions": dims,
        "timestamp": 1751328000,
    }


def test_validate_reports_an_item_over_400_kb(capsys, tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(json.dumps(_huge_metric()) + "\n", encoding="utf-8")
    code, out, _ = _run(capsys, "validate", str(path))
    assert code == 1 and "by DynamoDB's size rules; the limit is 409,600 (400 KB)" in out


def test_validate_reports_a_file_that_is_not_json(capsys, tmp_path):
    path = tmp_path / "tenants.json"
    path.write_bytes(b"\xff\xfe not json")
    code, out, _ = _run(capsys, "validate", str(path))
    assert code == 2 and f"{path} (file): is not UTF-8 text" in out  # bad input, not a contract violation


def _seed_dir(tmp_path, tenant_id, **over):
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "tenants.json").write_text(json.dumps([_tenant_record(tenant_id, **over)]), encoding="utf-8")
    return seed


@pytest.mark.skipif("seed" not in COMMAND_MODULES, reason="no seed command")
@IDS
def test_seed_refuses_a_hostile_tenant_id_in_its_files(capsys, endpoint, settings, st, tmp_path, bad):
    code, _, err = _run(
        capsys, "seed", "--dir", str(_seed_dir(tmp_path, bad)), "--no-progress", *_conn(endpoint, settings)
    )
    assert code == 2 and "tenantId" in err and "nothing was written" in err
    assert snapshot(st) == {}


@pytest.mark.skipif("seed" not in COMMAND_MODULES, reason="no seed command")
def test_seed_refuses_wrong_types_and_oversized_items(capsys, endpoint, settings, st, tmp_path):
    seed = _seed_dir(tmp_path, SEED, createdAt="yesterday")
    (seed / SEED).mkdir()
    (seed / SEED / "metrics.jsonl").write_text(json.dumps(_huge_metric()) + "\n", encoding="utf-8")
    code, _, err = _run(capsys, "seed", "--dir", str(seed), "--no-progress", *_conn(endpoint, settings))
    assert code == 2 and "nothing was written" in err
    assert "createdAt: must be a number, not a string" in err
    assert "the limit is 409,600 (400 KB)" in err
    assert snapshot(st) == {}


def _message(tenant_id, **over):
    message_id = "ac27d6c2-344a-415e-9da8-c93f71181091"
    record = {
        "tenantId": tenant_id,
        "messageId": message_id,
        "sessionId": "cd27e0f5-bbcd-4025-a2da-5be3ca9bd8b5",
        "pk": f"MSG#{message_id}",
        "sk": "2025-11-09T10:00:00.000Z",
        "timestamp": 1762682400,
        "sender": "user",
        "text": "What was our revenue in Q3 2025?",
    }
    record.update(over)
    return record


@pytest.mark.skipif("ingest" not in COMMAND_MODULES, reason="no ingest command")
@IDS
def test_ingest_refuses_a_hostile_tenant_id_in_its_files(capsys, endpoint, settings, st, tmp_path, bad):
    path = tmp_path / "messages.jsonl"
    path.write_text(json.dumps(_message(bad)) + "\n", encoding="utf-8")
    code, out, err = _run(capsys, "ingest", str(path), "--no-progress", *_conn(endpoint, settings))
    assert code == 2 and f"{path}:1 tenantId:" in out and "nothing was written" in err
    assert snapshot(st) == {}


@pytest.mark.skipif("ingest" not in COMMAND_MODULES, reason="no ingest command")
def test_ingest_refuses_wrong_types_and_oversized_items_with_nothing_written(capsys, endpoint, settings, st, tmp_path):
    path = tmp_path / "batch.jsonl"
    lines = [
        _message(SEED),  # valid: must not be written either, the batch is all-or-nothing
        _message(
            SEED,
            messageId="5a1c7b0e-3f7d-4c89-9b1e-2f0d6c1a4e77",
            pk="MSG#5a1c7b0e-3f7d-4c89-9b1e-2f0d6c1a4e77",
            timestamp="1762682400",
        ),
        _message(
            SEED,
            messageId="6b2d8c1f-4a8e-4d9a-8c2f-3a1e7d2b5f88",
            pk="MSG#6b2d8c1f-4a8e-4d9a-8c2f-3a1e7d2b5f88",
            sender=["user"],
        ),
        _huge_metric(),
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    code, out, err = _run(capsys, "ingest", str(path), "--no-progress", *_conn(endpoint, settings))
    assert code == 2 and "3 violation(s); nothing was written" in err
    assert f"{path}:2 timestamp: must be a number, not a string" in out
    assert f"{path}:3 sender:" in out
    assert f"{path}:4" in out and "the limit is 409,600 (400 KB)" in out
    assert snapshot(st) == {}


# --- library calls -----------------------------------------------------------------


@IDS
def test_every_table_name_builder_refuses_hostile_ids(settings, bad):
    for kind in (TableKind.MESSAGES, TableKind.METRICS):
        with pytest.raises(InvalidTenantId):
            settings.table_name(kind, bad)
    for build in (keys.messages_table_base, keys.metrics_table_base, keys.s3_prefix):
        with pytest.raises(InvalidTenantId):
            build(bad)


@IDS
def test_library_provision_refuses_hostile_id_with_nothing_created(st, bad):
    with pytest.raises(InvalidTenantId):
        st.provision([SEED, bad])
    assert snapshot(st) == {}


@IDS
def test_scoped_handle_refuses_tables_named_from_hostile_ids_before_sending(seeded, bad):
    scope = seeded.tenant(SEED)
    sent = []
    scope.storage.hooks.append(lambda op, params: sent.append(op))
    prefix = seeded.settings.table_prefix
    for name in (
        f"{prefix}tenant-{bad}-messages",
        f"{prefix}tenant-{bad}-metrics",
        f"{prefix}tenant-{SEED}-messages{bad}",
        f"{prefix}tenant-{SEED}{bad}-metrics",
    ):
        if name in (scope.messages_table, scope.metrics_table):
            continue  # e.g. the empty id leaves the tenant's own name intact
        with pytest.raises(IsolationViolation):
            scope.storage.get_item(name, {"pk": "METRIC#revenue", "sk": "2025-Q3"})
        with pytest.raises(IsolationViolation):
            scope.storage.put_item(name, {"pk": "METRIC#revenue", "sk": "2025-Q3"})
    with pytest.raises(IsolationViolation):
        scope.storage.get_item(scope.registry_table, {"tenantId": bad})
    assert sent == []


@IDS
def test_models_refuse_hostile_tenant_ids(bad):
    with pytest.raises(ValueError, match="tenantId"):
        Tenant.from_item(_tenant_record(bad))


def test_models_refuse_an_item_over_400_kb_by_dynamodb_size_rules():
    assert Metric.from_item(_huge_metric(2000)).is_slice  # ~250 KB: fine
    with pytest.raises(ValueError, match=r"item is [0-9,]+ bytes by DynamoDB's size rules"):
        Metric.from_item(_huge_metric(4000))


def test_lifecycle_refuses_oversized_and_wrongly_typed_records_with_nothing_written(st):
    tenants = Tenants.of(st, clock=FixedClock(1762682400))
    for fields in (
        {"name": "ACME", "owner_email": "ops@acme.example", "metadata": {"blob": "x" * 420_000}},
        {"name": b"ACME", "owner_email": "ops@acme.example"},
        {"name": "ACME", "owner_email": "ops@acme.example", "plan": None},
        {"name": "ACME", "owner_email": "ops@acme.example", "metadata": {"n": Decimal("NaN")}},
    ):
        with pytest.raises(ValidationFailed):
            tenants.onboard("globex-003", **fields)
    assert snapshot(st) == {}


def test_table_names_are_only_ever_built_from_validated_ids(settings):
    # The three spec kinds are the only way to a table name, and each validates the id.
    assert settings.table_name(REGISTRY) == settings.table_prefix + "tenants-metadata"
    assert settings.table_name(MESSAGES, SEED).endswith(f"tenant-{SEED}-messages")
    assert settings.table_name(METRICS, SEED).endswith(f"tenant-{SEED}-metrics")
