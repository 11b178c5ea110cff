"""Every datetime the CLI prints is ISO-8601 UTC (`2026-01-15T09:30:00Z`), in every command and output format.

Stored times are unix seconds (`createdAt`, `timestamp`, `ttl`, ...); `contract.times.format_instant`
is the one formatter that shows them, and `unix_seconds_attributes` reads which attributes
are times off the models.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from salestalk_lib.cli.query import to_json
from salestalk_lib.contract.models import Message, Metric
from salestalk_lib.contract.schemas import unix_seconds_attributes
from salestalk_lib.contract.times import format_instant, format_instants
from salestalk_lib.ops.ingest import Ingestor
from salestalk_lib.ops.tenants import FixedClock

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3}|\.\d{6})?Z$")
T0 = 1768469400  # 2026-01-15T09:30:00Z


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (T0, "2026-01-15T09:30:00Z"),
        (Decimal(T0), "2026-01-15T09:30:00Z"),
        (Decimal("1768230247.482"), "2026-01-12T15:04:07.482Z"),
        (Decimal("1768230247.000001"), "2026-01-12T15:04:07.000001Z"),
        (1768230247.5, "2026-01-12T15:04:07.500Z"),
        (datetime(2026, 1, 15, 10, 30, tzinfo=timezone(timedelta(hours=1))), "2026-01-15T09:30:00Z"),
        (Decimal(-62135596800), "0001-01-01T00:00:00Z"),  # padded: not glibc's strftime %Y
    ],
)
def test_format_instant_is_iso_utc(value, shown):
    assert format_instant(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [(None, ""), ("soon", "soon"), (True, "True"), (Decimal("NaN"), "NaN"), (10**20, str(10**20))],
)
def test_what_is_not_an_instant_is_shown_as_it_is(value, shown):
    assert format_instant(value) == shown
    assert format_instant(datetime(2026, 1, 15)) == "2026-01-15 00:00:00"  # naive: no zone to convert from


def test_the_time_attributes_are_read_off_the_models():
    assert unix_seconds_attributes() == {
        "createdAt",
        "updatedAt",
        "timestamp",
        "ttl",
        "firstMessageAt",
        "lastMessageAt",
        "startedAt",
        "completedAt",
        "claimedAt",
        "processedAt",
    }
    row = {"timestamp": Decimal(T0), "ttl": "broken", "value": Decimal(T0), "sk": "2026-01-15T09:30:00.000Z"}
    assert format_instants(row, unix_seconds_attributes()) == {
        "timestamp": "2026-01-15T09:30:00Z",
        "ttl": "broken",  # a stored value of the wrong type is shown as stored
        "value": Decimal(T0),  # not a time attribute
        "sk": "2026-01-15T09:30:00.000Z",  # a key is shown as stored
    }


# --- the commands ------------------------------------------------------------------


def _cli(capsys, endpoint, settings, *argv):
    from salestalk_lib.cli.main import main

    code = main([*argv, "--endpoint-url", endpoint.url, "--table-prefix", settings.table_prefix])
    out, err = capsys.readouterr()
    return code, out, err


def _times_in(text: str) -> list[str]:
    """Every token of `text` that looks like a date or time (ISO or not), to check they are all ISO."""
    return re.findall(r"\d{4}-\d{2}-\d{2}[T ]?[\d:.]*Z?", text)


def test_tenant_list_and_suspend_print_iso_times(capsys, endpoint, settings, st):
    tenants = st.tenants(clock=FixedClock(T0))
    tenants.onboard("globex-003", name="Globex", owner_email="ops@globex.example")
    code, out, _ = _cli(capsys, endpoint, settings, "tenant", "list")
    assert code == 0
    header, _rule, row = out.splitlines()
    assert header.split()[-2:] == ["createdAt", "updatedAt"]
    assert row.split()[-2:] == ["2026-01-15T09:30:00Z", "2026-01-15T09:30:00Z"]

    code, out, _ = _cli(capsys, endpoint, settings, "tenant", "suspend", "globex-003")  # updatedAt: the clock's now
    assert code == 0
    (updated,) = re.findall(r"\(updatedAt (\S+)\)", out)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", updated)  # whole unix seconds: no fraction
    assert all(ISO.fullmatch(t) for t in _times_in(out))


def _session(tenant: str) -> list[Message]:
    session = "5b0f9a7e-2c1d-4e3f-9a8b-7c6d5e4f3a2b"
    at = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
    return [
        Message.create(
            tenant_id=tenant,
            session_id=session,
            message_id="1a2b3c4d-0000-4000-8000-000000000001",
            sender="user",
            text="Q3 revenue?",
            at=at,
            ttl=T0 + 86400,
        ),
        Message.create(
            tenant_id=tenant,
            session_id=session,
            # Fixed ids: a random uuid4's last group can hold ten decimal digits ("...2d1534923735").
            message_id="1a2b3c4d-0000-4000-8000-000000000002",
            sender="assistant",
            text="12.45 M USD",
            at=at + timedelta(seconds=2, milliseconds=482),
        ),
    ]


@pytest.mark.parametrize("output", ["table", "json", "csv"])
def test_query_prints_every_time_attribute_as_iso_in_every_output(capsys, endpoint, settings, st, register, output):
    tenant = "times-a"
    register(st, tenant)
    messages = _session(tenant)
    Ingestor(st.storage, st.settings).ingest(messages)
    session = messages[0].session_id
    base = ["query", "session_messages", "--tenant", tenant, "--param", f"session_id={session}", "--output", output]
    code, out, err = _cli(capsys, endpoint, settings, *base, "--columns", "sk,timestamp,ttl")
    assert code == 0, err
    if output == "json":
        rows = json.loads(out)
    elif output == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
    else:
        lines = out.splitlines()
        names = lines[0].split()
        rows = [dict(zip(names, line.split(), strict=False)) for line in lines[2:]]
    assert [r["timestamp"] for r in rows] == ["2026-01-15T09:30:00Z", "2026-01-15T09:30:02.482Z"]
    assert [r["sk"] for r in rows] == ["2026-01-15T09:30:00.000Z", "2026-01-15T09:30:02.482Z"]  # keys as stored
    assert rows[0]["ttl"] == "2026-01-16T09:30:00Z"

    # The registry item (createdAt, updatedAt) and the session rollup (firstMessageAt, lastMessageAt).
    for pattern in (["1"], ["7", "--param", f"session_id={session}"]):
        code, out, err = _cli(capsys, endpoint, settings, "query", *pattern, "--tenant", tenant, "--output", output)
        assert code == 0, err
        assert "2026-01-15T09:30:0" in out or pattern == ["1"]
        # A number standing alone: not part of an id's hex group or a key ("d1534923735" is not a time).
        raw = re.findall(r"(?<![\w.-])1[0-9]{9}(?:\.[0-9]+)?(?![\w-])", out)
        assert raw == [], f"unix seconds printed raw in:\n{out}"


def test_query_of_metrics_shows_the_period_start_as_iso(capsys, endpoint, settings, st, register):
    tenant = "times-b"
    register(st, tenant)
    metric = Metric.create(tenant_id=tenant, subject="revenue", period="2025-Q3", value=12450000, unit="USD")
    Ingestor(st.storage, st.settings).ingest([metric])
    code, out, err = _cli(
        capsys, endpoint, settings, "query", "10", "--tenant", tenant, "--param", "subject=revenue",
        "--param", "period=2025-Q3", "--output", "json",
    )  # fmt: skip
    assert code == 0, err
    (row,) = json.loads(out)
    assert row["timestamp"] == "2025-07-01T00:00:00Z" and row["value"] == 12450000 and row["sk"] == "2025-Q3"


def test_ingest_reports_when_the_batch_record_expires_as_iso(capsys, endpoint, settings, st, register, tmp_path):
    tenant = "times-c"
    register(st, tenant)
    path = tmp_path / "m.jsonl"
    path.write_text("".join(to_json(m.to_item(), 0).replace("\n", "") + "\n" for m in _session(tenant)), "utf-8")
    code, out, err = _cli(capsys, endpoint, settings, "ingest", str(path), "--no-progress")
    assert code == 0, err
    (kept,) = re.findall(r"kept until (\S+)\)", out)
    assert ISO.fullmatch(kept) and kept.endswith("Z")
    assert all(ISO.fullmatch(t) for t in _times_in(out))
