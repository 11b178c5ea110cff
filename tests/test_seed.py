"""The seed loader against the embedded server: all-or-nothing, idempotent, conflicts kept."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from snapshots import snapshot

from salestalk_lib.cli.main import main
from salestalk_lib.contract import keys
from salestalk_lib.contract.errors import ValidationFailed
from salestalk_lib.contract.models import MessageIdentity, Metric
from salestalk_lib.contract.tables import MESSAGES, METRICS, REGISTRY
from salestalk_lib.ops.seed import DEFAULT_SEED_DIR, load_seed, plan_seed


@pytest.fixture
def seed_copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(DEFAULT_SEED_DIR, tmp_path / "seed"))


def test_seed_creates_every_record_and_a_rollup_per_session(st):
    tenants, metrics, messages, rollups = plan_seed(DEFAULT_SEED_DIR)
    report = load_seed(st, progress=False)
    assert report.conflicts == []
    assert report.created == len(tenants) + len(metrics) + len(messages)
    rows = {r["table"]: r for r in report.rows()}
    assert rows[st.settings.table_name(REGISTRY)]["created"] == len(tenants)
    stored = snapshot(st)
    for t in tenants:
        n_metrics = sum(m.tenant_id == t.tenant_id for m in metrics)
        n_msgs = sum(m.tenant_id == t.tenant_id for m in messages)
        n_sessions = sum(r.tenant_id == t.tenant_id for r in rollups)
        assert rows[st.settings.table_name(METRICS, t.tenant_id)]["created"] == n_metrics
        assert rows[st.settings.table_name(MESSAGES, t.tenant_id)]["created"] == n_msgs
        # the identity items and rollups come with their messages' transactions: one identity item per
        # message, one rollup per session, none extra
        items = stored[st.settings.table_name(MESSAGES, t.tenant_id)]
        assert len(items) == 2 * n_msgs + n_sessions
        identities = [i for i in items if keys.pk_kind(i["pk"]) is keys.KeyKind.MESSAGE_IDENTITY]
        assert sorted(i["pk"] for i in identities) == sorted(
            MessageIdentity.of(m).pk for m in messages if m.tenant_id == t.tenant_id
        )


def test_rollups_agree_with_their_messages(st):
    load_seed(st, progress=False)
    _, _, messages, rollups = plan_seed(DEFAULT_SEED_DIR)
    for r in rollups:
        scope = st.tenant(r.tenant_id)
        stored = scope.storage.get_item(scope.messages_table, {"pk": r.pk, "sk": r.sk})
        mine = sorted((m for m in messages if m.session_id == r.session_id), key=lambda m: m.timestamp)
        assert stored["messageCount"] == len(mine)
        assert stored["firstMessageAt"] == mine[0].timestamp and stored["lastMessageAt"] == mine[-1].timestamp
        assert "timestamp" not in stored and "sender" not in stored  # stays out of the GSIs


def test_second_load_writes_nothing_and_tables_are_byte_for_byte_the_same(st):
    load_seed(st, progress=False)
    before = snapshot(st)
    again = load_seed(st, progress=False)
    assert again.created == 0 and again.conflicts == []
    assert all(r["unchanged"] > 0 and r["created"] == 0 for r in again.rows())
    assert json.dumps(snapshot(st), sort_keys=True, default=str) == json.dumps(before, sort_keys=True, default=str)


def test_numbers_come_back_as_the_same_decimal(st):
    load_seed(st, progress=False)
    _, metrics, _, _ = plan_seed(DEFAULT_SEED_DIR)
    for m in metrics:
        scope = st.tenant(m.tenant_id)
        stored = scope.storage.get_item(scope.metrics_table, {"pk": m.pk, "sk": m.sk})
        assert isinstance(stored["value"], Decimal) and stored["value"] == m.value
        assert Metric.from_item(stored) == m


def test_one_bad_record_means_nothing_is_written_and_every_violation_is_listed(st, seed_copy):
    path = seed_copy / "acme-corp-001" / "metrics.json"
    records = json.loads(path.read_text())
    records[0]["timestamp"] = records[0]["timestamp"] + 86400
    records[1]["unit"] = "dollars"
    path.write_text(json.dumps(records))
    with pytest.raises(ValidationFailed) as info:
        load_seed(st, seed_copy, progress=False)
    fields = [v.field for v in info.value.violations]
    assert "timestamp" in fields and "unit" in fields
    own = [v for v in info.value.violations if v.field in ("timestamp", "unit")]
    assert [v.where.rsplit("/", 1)[-1] for v in own] == ["metrics.json:1", "metrics.json:2"]
    assert st.storage.list_tables(st.settings.table_prefix) == []


def test_record_of_an_unknown_tenant_is_refused(st, seed_copy):
    (seed_copy / "tenants.json").write_text(json.dumps(json.loads((seed_copy / "tenants.json").read_text())[:1]))
    with pytest.raises(ValidationFailed, match="is not among the seed tenants"):
        load_seed(st, seed_copy, progress=False)
    assert st.storage.list_tables(st.settings.table_prefix) == []


def test_a_different_existing_item_is_a_conflict_kept_and_reported(st):
    load_seed(st, progress=False)
    _, metrics, _, _ = plan_seed(DEFAULT_SEED_DIR)
    victim = metrics[0]
    scope = st.tenant(victim.tenant_id)
    changed = {**victim.to_item(), "value": victim.value + 1}
    scope.storage.put_item(scope.metrics_table, changed)
    report = load_seed(st, progress=False)
    assert len(report.conflicts) == 1
    conflict = report.conflicts[0]
    assert conflict.key == {"pk": victim.pk, "sk": victim.sk}
    assert conflict.differing_fields() == ["value"]
    assert conflict.stored["value"] == victim.value + 1 and conflict.incoming["value"] == victim.value
    stored = scope.storage.get_item(scope.metrics_table, {"pk": victim.pk, "sk": victim.sk})
    assert stored["value"] == victim.value + 1  # never overwritten


def test_cli_seed_twice_then_malformed(capsys, endpoint, settings, seed_copy):
    args = ["--endpoint-url", endpoint.url, "--table-prefix", settings.table_prefix, "--no-progress"]
    assert main(["seed", *args]) == 0
    first = capsys.readouterr().out
    assert main(["seed", *args]) == 0
    second = capsys.readouterr().out
    table = f"{settings.table_prefix}tenants-metadata"
    assert any(line.split()[:4] == [table, "2", "0", "0"] for line in first.splitlines())
    assert any(line.split()[:4] == [table, "0", "2", "0"] for line in second.splitlines())

    bad = seed_copy / "techstart-inc-002" / "messages.json"
    msgs = json.loads(bad.read_text())
    msgs[0]["classification"]["confidence"] = 1.5
    msgs[1]["sender"] = "robot"
    bad.write_text(json.dumps(msgs))
    fresh = ["--endpoint-url", endpoint.url, "--table-prefix", settings.table_prefix + "x-", "--no-progress"]
    assert main(["seed", "--dir", str(seed_copy), *fresh]) == 2
    err = capsys.readouterr().err
    assert "classification.confidence" in err and "sender" in err and "nothing was written" in err
    assert err.count("messages.json:") >= 2
