"""`salestalk audit`: a clean seeded tenant passes; every item written with a broken rule is reported."""

from __future__ import annotations

import copy
import json
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from salestalk_lib.cli.main import main
from salestalk_lib.contract import keys
from salestalk_lib.contract.errors import IsolationViolation
from salestalk_lib.contract.settings import Settings
from salestalk_lib.ops.audit import Finding, audit_tenant
from salestalk_lib.ops.connection import connect

SEED_DIR = Path(__file__).resolve().parents[1] / "seed_data"
ACME, TECHSTART = "acme-corp-001", "techstart-inc-002"


def _seed_records(tenant: str, name: str) -> list[dict]:
    return json.loads((SEED_DIR / tenant / f"{name}.json").read_text(encoding="utf-8"), parse_float=Decimal)


def _seeded(endpoint, label: str):
    from salestalk_lib.ops.seed import load_seed

    st = connect(
        settings=Settings(table_prefix=f"{label}{uuid.uuid4().hex[:8]}-", environment="test"), endpoint=endpoint
    )
    load_seed(st, SEED_DIR, progress=False)
    return st


@pytest.fixture(scope="module")
def clean(endpoint):
    """Both seed tenants, untouched (read-only for the tests that use it)."""
    return _seeded(endpoint, "auditclean")


@pytest.fixture
def broken(endpoint):
    """The seed tenants, to which each test writes broken items raw (past the library's checks)."""
    return _seeded(endpoint, "auditbroken")


def _cli(capsys, st, *argv: str) -> tuple[int, str, str]:
    code = main(["audit", *argv, "--endpoint-url", st.endpoint.url, "--table-prefix", st.settings.table_prefix])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("tenant", [ACME, TECHSTART])
def test_a_clean_seeded_tenant_passes(clean, tenant):
    report = audit_tenant(clean.tenant(tenant))
    assert report.findings == []
    scope = clean.tenant(tenant)
    messages = _seed_records(tenant, "messages")
    sessions = {m["sessionId"] for m in messages}
    # each message, its identity item, one rollup per session
    assert report.items == {
        scope.registry_table: 1,
        scope.messages_table: 2 * len(messages) + len(sessions),
        scope.metrics_table: len(_seed_records(tenant, "metrics")),
    }


def test_the_cli_exits_0_on_a_clean_tenant(capsys, clean):
    code, out, err = _cli(capsys, clean, "--tenant", ACME)
    assert code == 0 and out == ""
    assert f"tenant {ACME}: clean" in err


def test_a_paged_audit_reads_every_item(clean):
    whole = audit_tenant(clean.tenant(ACME))
    paged = audit_tenant(clean.tenant(ACME), page_size=2)
    assert paged.items == whole.items and paged.findings == []
    assert paged.requests > whole.requests


def _message(tenant: str, **changes) -> dict:
    """A copy of a seed question under a new message id and session (so no rollup is involved)."""
    item = copy.deepcopy(next(m for m in _seed_records(tenant, "messages") if m["sender"] == "user"))
    message_id = keys.new_uuid4()
    item.update(messageId=message_id, pk=keys.message_pk(message_id), sessionId=keys.new_uuid4())
    for name, value in changes.items():
        if value is None:
            del item[name]
        else:
            item[name] = value
    return item


def _findings_for(report, pk: str) -> list[Finding]:
    return [f for f in report.findings if f.pk == pk]


def test_each_broken_item_is_reported_and_the_cli_exits_1(capsys, broken):
    st = broken
    acme = st.tenant(ACME)
    wrong_time = _message(ACME)
    wrong_time["timestamp"] += 3600  # an hour off its own sk
    overconfident = _message(ACME)
    overconfident["classification"]["confidence"] = Decimal("1.5")
    metric = copy.deepcopy(_seed_records(ACME, "metrics")[0])
    metric.update(
        sk="2024-Q1", timestamp=keys.parse_period("2024-Q1").timestamp, colour="blue", metricId=keys.new_uuid4()
    )
    for table, item in (
        (acme.messages_table, wrong_time),
        (acme.messages_table, overconfident),
        (acme.metrics_table, metric),
    ):
        st.storage.put_item(table, item)  # the unscoped seam: no model check on the way in

    report = audit_tenant(acme)
    # Each message sits in a session of its own that has no rollup item, and has no identity item (it was
    # written past ingestion): both are reported too.
    assert [(f.field, f.table) for f in _findings_for(report, wrong_time["pk"])] == [
        ("messageId", acme.messages_table),
        ("sessionId", acme.messages_table),
        ("timestamp", acme.messages_table),
    ]
    assert [f.field for f in _findings_for(report, overconfident["pk"])] == [
        "classification.confidence",
        "messageId",
        "sessionId",
    ]
    assert [(f.sk, f.field) for f in _findings_for(report, metric["pk"])] == [("2024-Q1", "colour")]
    assert len(report.findings) == 7

    code, out, err = _cli(capsys, st, "--tenant", ACME)
    assert code == 1
    assert out.splitlines()[0].split() == ["table", "pk", "sk", "field", "rule"]
    for item in (wrong_time, overconfident, metric):
        assert item["pk"] in out
    assert "7 finding(s)" in err
    assert _cli(capsys, st, "--tenant", TECHSTART)[0] == 0  # the other tenant is untouched


def test_misplaced_foreign_and_keyless_items_are_reported(broken):
    st = broken
    acme = st.tenant(ACME)
    metric_in_messages = copy.deepcopy(_seed_records(ACME, "metrics")[0])
    foreign = _message(TECHSTART)  # a TechStart message inside ACME's table
    keyless = {"pk": "NOTE#1", "sk": "x", "text": "left behind by a script"}
    for item in (metric_in_messages, foreign, keyless):
        st.storage.put_item(acme.messages_table, item)
    report = audit_tenant(acme)
    assert ("pk", "a metric item does not belong in the messages table") in [
        (f.field, f.rule) for f in _findings_for(report, metric_in_messages["pk"])
    ]
    assert [f.field for f in _findings_for(report, foreign["pk"])] == ["messageId", "sessionId", "tenantId"]
    assert [f.field for f in _findings_for(report, "NOTE#1")] == ["(record)"]


def test_a_rollup_that_drifted_from_its_messages_is_reported(broken):
    st = broken
    acme = st.tenant(ACME)
    session_id = _seed_records(ACME, "messages")[0]["sessionId"]
    key = {"pk": keys.session_pk(session_id), "sk": keys.session_sk()}
    st.storage.update_item(acme.messages_table, key, update="SET messageCount = :n", values={":n": 5})
    orphan = _message(ACME)  # valid, but its session has no rollup
    st.storage.put_item(acme.messages_table, orphan)
    report = audit_tenant(acme)
    assert [(f.pk, f.field) for f in report.findings] == sorted(
        [(key["pk"], "messageCount"), (orphan["pk"], "messageId"), (orphan["pk"], "sessionId")]
    )


def test_a_broken_message_is_reported_once_not_again_through_its_sessions_rollup(broken):
    st = broken
    acme = st.tenant(ACME)
    stored = _seed_records(ACME, "messages")[0]
    stored["timestamp"] += 3600
    stored["classification"]["confidence"] = Decimal("1.5")
    st.storage.put_item(acme.messages_table, stored)  # overwrites the seeded message in place
    report = audit_tenant(acme)
    assert [(f.pk, f.field) for f in report.findings] == [
        (stored["pk"], "classification.confidence"),
        (stored["pk"], "timestamp"),
    ]


def test_a_missing_registry_item_is_reported(broken):
    st = broken
    st.storage.delete_item(st.settings.registry_table, {"tenantId": ACME})
    report = audit_tenant(st.tenant(ACME))
    assert [(f.table, f.field) for f in report.findings] == [(st.settings.registry_table, "(item)")]


def test_the_audit_only_reads_and_scans_only_the_tenants_own_tables(clean):
    sent: list[tuple[str, str]] = []
    clean.storage.hooks.append(lambda op, params: sent.append((op, params.get("TableName", ""))))
    try:
        scope = clean.tenant(ACME)
        audit_tenant(scope)
    finally:
        clean.storage.hooks.pop()
    assert {op for op, _ in sent} == {"GetItem", "Scan"}
    assert {t for op, t in sent if op == "Scan"} == {scope.messages_table, scope.metrics_table}
    audit = scope.audit_storage()
    with pytest.raises(IsolationViolation, match="may scan only its own tables"):
        audit.scan(clean.settings.registry_table)
    with pytest.raises(IsolationViolation, match="may scan only its own tables"):
        audit.scan(clean.tenant(TECHSTART).metrics_table)
    with pytest.raises(IsolationViolation, match="Scan is not allowed"):
        scope.storage.scan(scope.metrics_table)  # the scope the patterns use still refuses Scan


def test_message_identity_pairing_breaks_are_reported(broken):
    # contract §7: one message per messageId. Each break of the pairing written raw, past ingestion.
    st = broken
    acme = st.tenant(ACME)
    table = acme.messages_table
    stored = _seed_records(ACME, "messages")[0]  # ingested by the seed loader: it has its identity item
    second = copy.deepcopy(stored)
    second.update(
        sk="2025-11-09T23:59:00.000Z", timestamp=keys.unix_seconds(keys.parse_message_sk("2025-11-09T23:59:00.000Z"))
    )
    st.storage.put_item(table, second)  # the same id at another time: a second item in its MSG# partition
    orphan_id = keys.new_uuid4()
    orphan = {
        "pk": keys.message_identity_pk(orphan_id),
        "sk": keys.message_identity_sk(),
        "tenantId": ACME,
        "messageId": orphan_id,
        "messageSk": "2025-11-09T10:00:00.000Z",
    }
    st.storage.put_item(table, orphan)  # an identity item whose message is not stored
    expiring = _message(ACME, ttl=Decimal(4_000_000_000))
    st.storage.put_item(table, expiring)
    st.storage.put_item(
        table,
        {
            "pk": keys.message_identity_pk(expiring["messageId"]),
            "sk": keys.message_identity_sk(),
            "tenantId": ACME,
            "messageId": expiring["messageId"],
            "messageSk": expiring["sk"],
        },
    )  # ttl missing
    report = audit_tenant(acme)
    fields: dict[tuple[str, str], list[str]] = {}
    for f in report.findings:
        fields.setdefault((f.pk, f.sk), []).append(f.field)
    # Both items of the partition are named; the later one also repeats the earlier one's messageId.
    pair = sorted(fields[(stored["pk"], stored["sk"])] + fields[(second["pk"], second["sk"])])
    assert pair == ["messageId", "pk", "pk"]
    assert {f.rule for f in report.findings if f.pk == stored["pk"] and f.field == "pk"} == {
        f"{stored['pk']} holds 2 message items ({', '.join(sorted([stored['sk'], second['sk']]))}): a message's id "
        "is its identity, "
        "whatever its time, so only one may be stored"
    }
    assert fields[(orphan["pk"], "METADATA")] == ["messageSk"]
    assert fields[(keys.message_identity_pk(expiring["messageId"]), "METADATA")] == ["ttl"]
    assert fields[(expiring["pk"], expiring["sk"])] == ["sessionId"]  # it has its identity item: only no rollup
    # Past its ttl, a second message in a partition no longer counts (DynamoDB's TTL deletes items at
    # different moments); an identity item that would outlive its message is still named.
    st.storage.put_item(table, {**second, "ttl": Decimal(4_000_000_000)})
    later = audit_tenant(acme, now=4_000_000_001)
    later_fields = {(f.pk, f.sk, f.field) for f in later.findings}
    assert (keys.message_identity_pk(expiring["messageId"]), "METADATA", "ttl") in later_fields
    assert not {(pk, sk) for pk, sk, field in later_fields if field == "pk"} & {(stored["pk"], stored["sk"])}
