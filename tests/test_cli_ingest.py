"""`salestalk ingest`: all-or-nothing validation, faults on the HTTP path, exact and repeatable."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from salestalk_lib.cli.main import main
from salestalk_lib.contract.models import SessionRollup
from salestalk_lib.contract.settings import Settings
from salestalk_lib.ops.batches import content_batch_id
from salestalk_lib.ops.connection import connect
from salestalk_lib.testing.samples import sample_messages, sample_metrics, write_jsonl

pytestmark = pytest.mark.integration

TENANT = "cli-ingest"


@pytest.fixture
def prefix(endpoint, register) -> str:
    """A fresh table prefix under which the tenant is registered (ingest writes for registered tenants only)."""
    name = f"cli{uuid.uuid4().hex[:8]}-"
    register(connect(endpoint=endpoint, settings=Settings(table_prefix=name)), TENANT)
    return name


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["ingest", *args, "--no-progress"])
    out, err = capsys.readouterr()
    return code, out, err


def table_items(endpoint, prefix: str, kind: str) -> list[dict]:
    client = endpoint.client()
    name = f"{prefix}tenant-{TENANT}-{kind}"
    # Every page: the session's endpoint holds more tables than one ListTables page (100) returns.
    names = [n for page in client.get_paginator("list_tables").paginate() for n in page["TableNames"]]
    if name not in names:
        return []
    items, params = [], {"TableName": name, "ConsistentRead": True}
    while True:  # verification reads every item: a Scan is fine in a test
        page = client.scan(**params)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def test_invalid_records_print_every_violation_and_write_nothing(tmp_path, capsys, endpoint, prefix):
    good = sample_messages(TENANT, 3, seed=1)
    path = write_jsonl(tmp_path / "records.jsonl", good)
    lines = path.read_text().splitlines()
    broken = json.loads(lines[1]) | {"sender": "robot", "text": ""}
    rollup = SessionRollup.of_messages(good[:1]).to_item() | {
        "messageCount": 1,
        "firstMessageAt": 1,
        "lastMessageAt": 1,
    }
    path.write_text("\n".join([lines[0], json.dumps(broken), lines[2], json.dumps(rollup)]) + "\n")
    code, out, err = run(capsys, str(path), "--endpoint-url", endpoint.url, "--table-prefix", prefix)
    assert code == 2
    assert f"{path}:2 sender: " in out and f"{path}:2 text: " in out
    assert f"{path}:4 (record): is a session record; ingest takes messages and metrics only" in out
    assert "nothing was written" in err
    assert table_items(endpoint, prefix, "messages") == []


def test_ingest_under_faults_ends_exact_and_a_rerun_changes_nothing(tmp_path, capsys, endpoint, prefix):
    messages = sample_messages(TENANT, 60, sessions=5, seed=2)
    metrics = sample_metrics(TENANT, 60, seed=3, first_day=datetime(2020, 1, 1, tzinfo=UTC))
    path = write_jsonl(tmp_path / "records.jsonl", [*messages, *metrics])
    events = tmp_path / "events.jsonl"
    profile = "throttle=0.2,error5xx=0.05,reset=0.02,lost=0.05,seed=7"
    # The per-record paths: a request per record, so the profile's faults are met (the default paths send
    # a handful of transactions for these 120 records; test_ingest_proof's test_a proves them under faults).
    args = [
        str(path),
        "--metric-mode",
        "conditional",
        "--message-mode",
        "single",
        "--endpoint-url",
        endpoint.url,
        "--table-prefix",
        prefix,
        "--seed",
        "1",
        "--events-file",
        str(events),
    ]
    code, out, err = run(capsys, *args, "--faults", profile)
    assert code == 0, err
    assert "message  60" in out and "metric   60" in out
    assert "retries: " in out and "ThrottlingException" in out
    assert f"faults injected ({profile}): " in out and "throttle " in out
    assert "time: " in out
    assert f"batch {content_batch_id([*messages, *metrics])}: {TENANT}: new, completed (kept until " in out
    first = (table_items(endpoint, prefix, "messages"), table_items(endpoint, prefix, "metrics"))
    # messages, their identity items, rollups, the batch record
    assert len(first[0]) == 60 + 60 + 5 + 1 and len(first[1]) == 60
    (record,) = [i for i in first[0] if i["pk"]["S"].startswith("BATCH#")]
    assert record["status"] == {"S": "completed"} and record["recordCount"] == {"N": "120"}

    st = connect(endpoint=endpoint, settings=Settings(table_prefix=prefix))
    table = st.settings.table_name("messages", TENANT)
    for sid in {m.session_id for m in messages}:
        ms = [m for m in messages if m.session_id == sid]
        assert (
            st.storage.get_item(table, {"pk": f"SESSION#{sid}", "sk": "METADATA"})
            == SessionRollup.of_messages(ms).to_item()
        )

    # The same file again is the same batch: replayed, nothing written, no second event.
    code, out, _ = run(capsys, *args)
    assert code == 0
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith(("message", "metric"))}
    assert rows == {"message": ["60", "0", "60", "0", "0"], "metric": ["60", "0", "60", "0", "0"]}
    assert f"{TENANT}: replayed, completed" in out and "nothing was written and no event was sent again" in out
    assert (table_items(endpoint, prefix, "messages"), table_items(endpoint, prefix, "metrics")) == first
    outcomes = [json.loads(line)["data"]["outcomes"] for line in events.read_text().splitlines()]
    assert len(outcomes) == 1 and outcomes[0]["created"] + outcomes[0]["alreadyExists"] == 60

    # As a new batch, every record is found already stored, item by item; only the new batch record is added.
    code, out, _ = run(capsys, *args, "--batch-id", "second-load")
    assert code == 0
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith(("message", "metric"))}
    assert rows == {"message": ["60", "0", "60", "0", "0"], "metric": ["60", "0", "60", "0", "0"]}
    after = table_items(endpoint, prefix, "messages")
    assert [i for i in after if i["pk"]["S"] != "BATCH#second-load"] == first[0]
    assert table_items(endpoint, prefix, "metrics") == first[1]
    outcomes = [json.loads(line)["data"]["outcomes"] for line in events.read_text().splitlines()]
    assert len(outcomes) == 2 and outcomes[1] == {
        "created": 0,
        "alreadyExists": 60,
        "conflicts": 0,
        "failed": 0,
        "written": 0,
    }


def test_a_batch_id_reused_for_other_records_is_refused_and_writes_nothing(tmp_path, capsys, endpoint, prefix):
    first, second = sample_metrics(TENANT, 2, seed=8, first_day=datetime(2019, 1, 1, tzinfo=UTC))
    args = ["--endpoint-url", endpoint.url, "--table-prefix", prefix, "--batch-id", "nightly-2025-11-25"]
    assert run(capsys, str(write_jsonl(tmp_path / "a.jsonl", [first])), *args)[0] == 0
    before = (table_items(endpoint, prefix, "messages"), table_items(endpoint, prefix, "metrics"))
    code, _, err = run(capsys, str(write_jsonl(tmp_path / "b.jsonl", [second])), *args)
    assert code == 1
    assert "batch 'nightly-2025-11-25' of tenant" in err and "Nothing was written: use a new batch id" in err
    assert (table_items(endpoint, prefix, "messages"), table_items(endpoint, prefix, "metrics")) == before


@pytest.mark.parametrize("batch_id", ["has space", "x#y", "-"])
def test_a_batch_id_outside_the_grammar_is_a_usage_error(tmp_path, capsys, batch_id):
    path = write_jsonl(tmp_path / "a.jsonl", sample_metrics(TENANT, 1, seed=9))
    code, _, err = run(capsys, str(path), "--batch-id", batch_id)
    assert code == 2 and "--batch-id: batchId must be" in err and "nothing was written" in err


def test_conflicting_record_exits_1_and_is_not_overwritten(tmp_path, capsys, endpoint, prefix):
    metric = sample_metrics(TENANT, 1, seed=4)[0]
    path = write_jsonl(tmp_path / "a.jsonl", [metric])
    args = ["--endpoint-url", endpoint.url, "--table-prefix", prefix]
    assert run(capsys, str(path), *args)[0] == 0
    changed = tmp_path / "b.jsonl"
    changed.write_text(path.read_text().replace(f'"value":{metric.value},', '"value":1,'))
    assert changed.read_text() != path.read_text()
    code, _out, err = run(capsys, str(changed), *args)
    assert code == 1
    assert "conflict: conflict on METRIC#" in err and "differ in value" in err
    assert table_items(endpoint, prefix, "metrics")[0]["value"] == {"N": str(metric.value)}


def test_bad_fault_profile_is_a_usage_error(capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        main(["ingest", str(tmp_path / "x.jsonl"), "--faults", "throttle=2"])
    assert info.value.code == 2
    assert "fault rate throttle=2.0 must be a number between 0 and 1" in capsys.readouterr().err


def test_ingest_behind_a_latency_writes_everything_and_says_so(tmp_path, capsys, endpoint, prefix):
    messages = sample_messages(TENANT, 4, sessions=2, seed=11)
    path = write_jsonl(tmp_path / "records.jsonl", messages)
    args = [str(path), "--endpoint-url", endpoint.url, "--table-prefix", prefix, "--seed", "1"]
    code, out, err = run(capsys, *args, "--faults", "latency=5")
    assert code == 0, err
    assert "message  4" in out
    assert "faults injected (seed=0,latency=5): none" in out  # a latency delays requests, it refuses none
    assert len(table_items(endpoint, prefix, "messages")) == 4 + 4 + 2 + 1  # messages, identities, rollups, batch


def test_bad_latency_is_a_usage_error(capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        main(["ingest", str(tmp_path / "x.jsonl"), "--faults", "latency=-5"])
    assert info.value.code == 2
    assert "latency=-5.0 must be a number of milliseconds between 0 and 10,000" in capsys.readouterr().err
