"""`salestalk template message|metric|tenant`: a valid record with keys derived by the key grammar.

The round trip is the point: template → `salestalk validate` → `salestalk ingest` (or `seed`
for a tenant) → `salestalk query` finds it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from salestalk_lib.cli.main import main
from salestalk_lib.contract import keys
from salestalk_lib.contract.models import Message, Metric, Tenant
from salestalk_lib.contract.validation import validate_records
from salestalk_lib.ops.seed import DEFAULT_SEED_DIR
from salestalk_lib.ops.templates import DEFAULT_TENANT, TEMPLATES, build_template

NOW = datetime(2026, 5, 17, 8, 15, 42, 123456, tzinfo=UTC)


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _template(capsys, kind: str, *params: str, compact: bool = False) -> dict:
    argv = ["template", kind, *(a for p in params for a in ("--param", p))]
    code, out, err = _run(capsys, *argv, *(["--compact"] if compact else []))
    assert code == 0, err
    return json.loads(out, parse_float=Decimal)


def test_message_keys_and_timestamp_come_from_the_time_by_the_key_grammar(capsys):
    record = _template(capsys, "message", "time=2026-01-15T09:30:00.250Z", "sender=assistant", "text=Hi")
    assert record["pk"] == keys.message_pk(record["messageId"])
    assert record["sk"] == "2026-01-15T09:30:00.250Z"
    assert record["timestamp"] == Decimal("1768469400.25") == keys.unix_seconds(keys.parse_message_sk(record["sk"]))
    assert record["sender"] == "assistant" and record["text"] == "Hi" and "classification" not in record
    assert keys.is_uuid4(record["messageId"]) and keys.is_uuid4(record["sessionId"])
    Message.from_item(record)


def test_metric_keys_and_timestamp_come_from_the_period_and_dimension(capsys):
    record = _template(capsys, "metric", "period=2025-Q3", "dimension=region:Europe", "value=2240000.50")
    assert (record["pk"], record["sk"]) == ("METRIC#revenue", "2025-Q3#region:Europe")
    assert record["dimensionKey"] == "region:Europe" and record["dimensions"] == {"region": "Europe"}
    assert record["timestamp"] == 1751328000 and record["unit"] == "USD" and record["value"] == Decimal("2240000.5")
    headline = _template(capsys, "metric", "subject=customers", "period=2025-11", compact=True)
    assert (headline["sk"], headline["unit"], headline["timestamp"]) == ("2025-11", "count", 1761955200)
    assert "dimensionKey" not in headline


def test_tenant_names_derive_from_its_id(capsys):
    record = _template(capsys, "tenant", "tenant_id=globex-003", "plan=enterprise", "created_at=2026-01-15T09:30:00Z")
    assert record["messagesTableName"] == "tenant-globex-003-messages"
    assert record["metricsTableName"] == "tenant-globex-003-metrics" and record["s3Prefix"] == "tenant-globex-003/"
    assert record["createdAt"] == record["updatedAt"] == 1768469400
    assert record["name"] == "Globex 003" and record["ownerEmail"] == "owner@globex-003.example"
    Tenant.from_item(record)


@pytest.mark.parametrize("kind", list(TEMPLATES))
def test_every_default_is_a_valid_record(kind):
    record = build_template(kind, {}, now=NOW)
    assert validate_records([record], kind) == []
    if kind == "message":
        assert record["sk"] == "2026-05-17T08:15:42.123Z" and "classification" in record  # a user message
    if kind == "metric":
        assert record["sk"] == "2026-Q2" and record["tenantId"] == DEFAULT_TENANT


def test_the_default_tenant_is_a_seed_tenant():
    seed = json.loads((DEFAULT_SEED_DIR / "tenants.json").read_text(encoding="utf-8"))
    assert seed[0]["tenantId"] == DEFAULT_TENANT


def test_every_param_of_every_template_is_accepted_with_a_valid_value():
    valid = {
        "tenant_id": "globex-003",
        "time": "1768469400",
        "sender": "system",
        "text": "Hello",
        "session_id": "5b0f9a7e-2c1d-4e3f-9a8b-7c6d5e4f3a2b",
        "message_id": "6c1f0b8f-3d2e-4f40-8b9c-8d7e6f5a4b3c",
        "classification": "yes",
        "intent": "comparison",
        "subject": "margin",
        "measure": "ratio",
        "confidence": "1",
        "ttl_days": "30",
        "period": "2025-10-05",
        "value": "-3",
        "unit": "percentage",
        "dimension": "product:Widgets",
        "metric_id": "7d2a1c90-4e3f-4a51-9cad-9e8f7a6b5c4d",
        "source": "crm",
        "name": "Globex",
        "owner_email": "ops@globex.example",
        "plan": "standard",
        "status": "suspended",
        "created_at": "2026-01-15",
    }
    for kind, template in TEMPLATES.items():
        params = {p.name: valid[p.name] for p in template.params}
        record = build_template(kind, params)
        assert validate_records([record], kind) == []
    message = build_template("message", {p.name: valid[p.name] for p in TEMPLATES["message"].params})
    assert message["ttl"] == 1768469400 + 30 * 86400 and message["classification"]["subject"] == "margin"


@pytest.mark.parametrize(
    ("kind", "param", "message"),
    [
        ("message", "sender=bot", "--param sender: got 'bot'; expected one of user, assistant, system"),
        ("message", "time=2026-01-15T09:30:00.0001Z", "--param time: message time has sub-millisecond precision"),
        ("message", "time=yesterday", "--param time: 'yesterday' is not a time"),
        ("message", "confidence=2", "--param confidence: Input should be less than or equal to 1"),
        ("message", "session_id=42", "--param session_id: got '42'; expected a lowercase UUID v4"),
        ("message", "ttl_days=0", "--param ttl_days: got '0'; expected a whole number of days from 1 to 36500"),
        ("metric", "subject=revenu", "--param subject: got 'revenu'; expected one of revenue, margin, customers"),
        ("metric", "period=2025-Q5", "--param period: period must be YYYY-QN, YYYY-MM or YYYY-MM-DD"),
        ("metric", "unit=count", "--param unit: revenue is measured in an ISO 4217 currency, got 'count'"),
        ("metric", "value=lots", "--param value: 'lots' is not a number"),
        ("metric", "dimension=region", "--param dimension: dimensionKey must be '{name}:{value}'"),
        ("tenant", "tenant_id=Globex", "--param tenant_id: tenant id 'Globex' must use only lowercase letters"),
        ("tenant", "owner_email=nobody", "--param owner_email: value is not a valid email address"),
        ("tenant", "plan=gold", "--param plan: got 'gold'; expected one of free, standard, enterprise"),
        ("tenant", "colour=red", "template tenant has no parameter colour; it takes: tenant_id, name, owner_email"),
        ("tenant", "plan", "--param 'plan': expected NAME=VALUE"),
    ],
)
def test_a_bad_param_is_exit_2_naming_the_param_and_its_rule(capsys, kind, param, message):
    code, out, err = _run(capsys, "template", kind, "--param", param)
    assert code == 2 and out == ""
    assert err.startswith("salestalk template: error: ") and message in err, err
    assert "Traceback" not in err


def test_an_unknown_kind_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["template", "session"])
    assert caught.value.code == 2
    assert "invalid choice: 'session'" in capsys.readouterr().err


def test_help_lists_every_param_with_its_rule_and_default_and_examples(capsys):
    with pytest.raises(SystemExit):
        main(["template", "--help"])
    out = capsys.readouterr().out
    for template in TEMPLATES.values():
        for p in template.params:
            assert f"  {p.name}: {p.rule}; default {p.default}" in out
    assert "salestalk template metric --param subject=revenue --param period=2025-Q3" in out


# --- the round trip -----------------------------------------------------------------


def _cli(capsys, endpoint, settings, *argv):
    return _run(capsys, *argv, "--endpoint-url", endpoint.url, "--table-prefix", settings.table_prefix)


def test_template_validate_ingest_query_round_trip(capsys, endpoint, settings, st, register, tmp_path):
    tenant = "template-a"
    register(st, tenant)
    session = "5b0f9a7e-2c1d-4e3f-9a8b-7c6d5e4f3a2b"
    records = tmp_path / "records.jsonl"
    with records.open("w", encoding="utf-8") as f:
        for kind, params in [
            ("message", [f"tenant_id={tenant}", f"session_id={session}", "time=2026-01-15T09:30:00Z"]),
            ("message", [f"tenant_id={tenant}", f"session_id={session}", "time=2026-01-15T09:30:02.482Z",
                         "sender=assistant", "text=Revenue was 12.45 M USD"]),
            ("metric", [f"tenant_id={tenant}", "period=2025-Q3", "value=12450000"]),
            ("metric", [f"tenant_id={tenant}", "period=2025-Q3", "value=2240000", "dimension=region:Europe"]),
        ]:  # fmt: skip
            code, out, err = _run(capsys, "template", kind, "--compact", *(a for p in params for a in ("--param", p)))
            assert code == 0, err
            assert out.count("\n") == 1  # one JSON-lines record
            f.write(out)
    code, out, err = _run(capsys, "validate", str(records), "--tenant", tenant)
    assert code == 0 and out.startswith("OK: 4 record(s)"), out + err
    code, out, err = _cli(capsys, endpoint, settings, "ingest", str(records), "--no-progress")
    assert code == 0, out + err
    code, out, err = _cli(
        capsys, endpoint, settings, "query", "session_messages", "--tenant", tenant,
        "--param", f"session_id={session}", "--output", "json",
    )  # fmt: skip
    assert code == 0, err
    found = json.loads(out)
    assert [m["sk"] for m in found] == ["2026-01-15T09:30:00.000Z", "2026-01-15T09:30:02.482Z"]
    assert found[1]["text"] == "Revenue was 12.45 M USD"
    code, out, err = _cli(
        capsys, endpoint, settings, "query", "metric_slices", "--tenant", tenant,
        "--param", "subject=revenue", "--param", "period=2025-Q3", "--output", "json",
    )  # fmt: skip
    assert code == 0, err
    assert [(m["sk"], m["value"]) for m in json.loads(out)] == [
        ("2025-Q3", 12450000),
        ("2025-Q3#region:Europe", 2240000),
    ]


def test_tenant_template_validate_seed_query_round_trip(capsys, endpoint, settings, tmp_path):
    code, out, err = _run(capsys, "template", "tenant", "--param", "tenant_id=template-b", "--param", "plan=standard")
    assert code == 0, err
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "tenants.json").write_text(f"[{out}]", encoding="utf-8")
    code, out, err = _run(capsys, "validate", str(seed))
    assert code == 0, out + err
    code, out, err = _cli(capsys, endpoint, settings, "seed", "--dir", str(seed), "--no-progress")
    assert code == 0, out + err
    code, out, err = _cli(capsys, endpoint, settings, "query", "1", "--tenant", "template-b", "--output", "json")
    assert code == 0, err
    (found,) = json.loads(out)
    assert (found["tenantId"], found["plan"], found["status"]) == ("template-b", "standard", "active")


def test_the_printed_record_is_the_builders_record(capsys):
    # The CLI adds nothing: what it prints is build_template's item, numbers exact.
    record = _template(
        capsys,
        "metric",
        "period=2025-Q3",
        "value=0.35",
        "subject=churn_rate",
        "metric_id=" + "7d2a1c90-4e3f-4a51-9cad-9e8f7a6b5c4d",
    )
    assert record == Metric.create(
        tenant_id=DEFAULT_TENANT, subject="churn_rate", period="2025-Q3", value=Decimal("0.35"), unit="percentage",
        metric_id="7d2a1c90-4e3f-4a51-9cad-9e8f7a6b5c4d",
    ).to_item()  # fmt: skip
