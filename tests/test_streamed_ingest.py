"""`salestalk ingest` streams: the batch fingerprint folded record by record, windows, a bounded report, flat memory."""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest

import salestalk_lib.cli.ingest as cli_ingest
from salestalk_lib.cli import main as cli_main
from salestalk_lib.contract.errors import IngestConflict
from salestalk_lib.contract.models import canonical_json
from salestalk_lib.dynamo.writes import Outcome
from salestalk_lib.ops import batches, ingest
from salestalk_lib.ops.batches import BatchFingerprint, content_batch_id, plan_batch
from salestalk_lib.ops.ingest import IngestResult, OutcomeTally
from salestalk_lib.testing.samples import sample_messages, sample_metrics

A, B = "stream-a", "stream-b"


def _records() -> list:
    return [
        *sample_messages(A, 70, sessions=7, seed=1),
        *sample_metrics(B, 30, seed=2, first_day=datetime(2022, 1, 1, tzinfo=UTC)),
        *sample_messages(B, 40, sessions=3, seed=3),
        *sample_metrics(A, 25, seed=4, first_day=datetime(2023, 1, 1, tzinfo=UTC)),
    ]


@pytest.mark.parametrize("buffer_lines", [1, 7, 64, 10_000])
def test_the_folded_fingerprint_is_plan_batch_and_content_batch_id_exactly(buffer_lines: int) -> None:
    records = _records()
    fp = BatchFingerprint(buffer_lines=buffer_lines)
    for r in reversed(records):  # another order: the fingerprint does not depend on it
        fp.add(r)
    assert fp.finish() == plan_batch(records)
    assert fp.batch_id == content_batch_id(records)


def test_a_different_record_changes_the_folded_fingerprint() -> None:
    records = _records()
    fp, other = BatchFingerprint(buffer_lines=5), BatchFingerprint(buffer_lines=5)
    for r in records:
        fp.add(r)
    for r in records[:-1]:
        other.add(r)
    assert fp.batch_id != other.batch_id
    assert fp.finish()[A].content_hash != other.finish()[A].content_hash
    assert fp.finish()[B] == other.finish()[B]


def test_a_bounded_tally_counts_everything_and_keeps_at_most_its_limit() -> None:
    tally = OutcomeTally(limit=2)
    for n in range(5):
        conflict = IngestConflict(f"k{n}", {"a": 1}, {"a": 2})
        tally.add(IngestResult("metric", A, f"k{n}", Outcome.CONFLICT, conflict=conflict))
        tally.add(IngestResult("message", A, f"m{n}", Outcome.FAILED, ambiguous=n % 2 == 0))
        tally.add(IngestResult("message", B, f"s{n}", Outcome.SKIPPED))
    tally.add_unseen(B, "metric", 4)
    assert (tally.conflict_count, tally.failure_count, tally.unsure_count, tally.skipped_count) == (5, 5, 3, 9)
    assert [len(tally.conflicts), len(tally.failures), len(tally.skipped)] == [2, 2, 2]
    assert tally.outcomes(B) == {"skipped": 9}
    assert tally.outcomes(A, "metric") == {"conflict": 5}


def _serve(tmp_path: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """A moto server in a child process (so that this process's memory is the client's alone), and its env."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SALESTALK_", "AWS_"))}
    code = "import sys; from salestalk_lib.cli import main; sys.exit(main())"
    server = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--engine", "moto"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**env, "PYTHONUNBUFFERED": "1"},
    )
    assert server.stdout is not None
    exports: dict[str, str] = {}
    for line in server.stdout:
        if line.strip().startswith("export "):
            for token in line.split("#")[0].split()[1:]:
                name, _, value = token.partition("=")
                exports[name] = value
        if "AWS_ACCESS_KEY_ID" in exports and "AWS_ENDPOINT_URL_DYNAMODB" in exports:
            break
    return server, exports


def _write(path: Path, tenant_id: str, count: int) -> Path:
    """`count` sample messages as JSON lines, in sessions of about 200 (moto's slowest write is a rollup Update:
    with sessions of 20, a window of 256 interleaved messages sends one per message, and the test took 90 s)."""
    with path.open("w", encoding="utf-8") as out:
        for m in sample_messages(tenant_id, count, sessions=max(1, count // 200), seed=count):
            out.write(canonical_json(m.to_item()) + "\n")
    return path


def test_cli_ingest_memory_does_not_grow_with_the_records(tmp_path: Path, monkeypatch, capsys) -> None:
    """Peak traced memory of `salestalk ingest` (client only: the engine is another process) at 1k and 4k messages.

    With windows, the fingerprint buffer and the first pass's kept models (`_Input.KEEP_VALIDATED`,
    which spares a small load its second parse) at 256 records, the 4k run may need only a
    little more than the 1k run: what grows per record is the first pass's key logs
    (`StreamingInput`'s cross-record state: measured ~0.5 KB a record at its peak) and the
    rollup hints (one per session), below the ~4 KB a record that keeping records cost. A first,
    untraced ingest warms the process (imports, clients, caches) so that the 1k run does not pay
    alone for what is paid once.
    """
    monkeypatch.setattr(ingest, "INGEST_WINDOW", 256)
    monkeypatch.setattr(batches, "FINGERPRINT_BUFFER_LINES", 256)
    monkeypatch.setattr(cli_ingest._Input, "KEEP_VALIDATED", 256)
    server, exports = _serve(tmp_path)
    try:
        for name in [k for k in os.environ if k.startswith(("SALESTALK_", "AWS_"))]:
            monkeypatch.delenv(name)
        for name, value in exports.items():
            monkeypatch.setenv(name, value)
        assert cli_main(["provision"]) == 0
        peaks = {}
        for count in (100, 1000, 4000):
            tenant = f"mem-{count}"
            assert (
                cli_main(["tenant", "add", tenant, "--name", tenant, "--owner-email", f"o@{tenant}.example.com"]) == 0
            )
            path = _write(tmp_path / f"{count}.jsonl", tenant, count)
            if count == 100:  # the warm-up, not traced
                assert cli_main(["ingest", str(path), "--no-progress"]) == 0, capsys.readouterr().out
                capsys.readouterr()
                continue
            tracemalloc.start()
            try:
                base = tracemalloc.get_traced_memory()[0]
                code = cli_main(["ingest", str(path), "--no-progress"])
                peaks[count] = tracemalloc.get_traced_memory()[1] - base
            finally:
                tracemalloc.stop()
            out = capsys.readouterr().out
            assert code == 0, out
            assert "time: " in out and f"for {count} record(s)" in out
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stdout is not None:
            server.stdout.close()
    growth = (peaks[4000] - peaks[1000]) / 3000
    assert growth < 1024, f"{growth:.0f} bytes a record more at 4k than at 1k (peaks {peaks})"
