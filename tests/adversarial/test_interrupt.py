"""Ctrl-C stops `salestalk ingest` within seconds, leaves nothing half-applied, says what was done and how to
finish, and a re-run completes exactly (contract §7; issue 10 item 6).

Reproduction: SIGINT at 24 % used to keep writing all 3,000 messages, exit 130 silently and leave the
batch in progress.
"""

from __future__ import annotations

import signal
from datetime import UTC, datetime

import pytest
from adversary import Deployment, count_items, finish, stop, summary, totals, wait_until

from salestalk_lib.contract.vocab import BatchStatus
from salestalk_lib.ops.audit import audit_tenant
from salestalk_lib.ops.batches import content_batch_id, read_batch
from salestalk_lib.testing.faults import FaultProxy
from salestalk_lib.testing.samples import sample_messages, sample_metrics, write_jsonl

TENANT = "interrupt-co"
STOP_WITHIN = 15.0
"""Seconds from SIGINT to exit that the test allows: the run's grace is 5 s; the rest is a loaded machine's slack."""


def test_sigint_stops_within_seconds_reports_and_a_rerun_completes_exactly(deployment: Deployment, tmp_path):
    deployment.onboard(TENANT)
    st = deployment.st
    # Packed transactions (the CLI's default) write up to 49 messages at once: 1,500 make ~35 of them.
    sessions = 100
    messages = sample_messages(TENANT, 1500, sessions=sessions, seed=61)
    metrics = sample_metrics(TENANT, 60, seed=62, first_day=datetime(2022, 1, 1, tzinfo=UTC))
    path = write_jsonl(tmp_path / "records.jsonl", [*messages, *metrics])
    table = st.settings.table_name("messages", TENANT)
    # Throttling makes the run's workers sleep in backoff, which Ctrl-C must cut short; a proxy between the
    # run and the server answers 4 writes (about a tenth of the run), then holds the answers of the next
    # ones: the run is interrupted mid-write however fast the machine, with workers stuck in network reads
    # that must not keep the process alive either.
    faults = "throttle=0.3,seed=3,read_timeout=10"
    with FaultProxy(deployment.server.url) as proxy:
        held = proxy.hold_writes(after=4)
        proc = deployment.via(proxy.url).start(
            "ingest", str(path), "--no-progress", "--workers", "4", "--seed", "1", "--faults", faults
        )
        wait_until(lambda: held.is_set() or proc.poll() is not None, timeout=120, what="a held write")
        if proc.poll() is not None:
            code, out, err = finish(proc)
            pytest.fail(f"the run ended (exit {code}) before it could be interrupted:\n{out}\n{err[-2000:]}")
        code, _out, err, took = stop(proc, signal.SIGINT, timeout=60)
        proxy.release()
    assert code == 130, err
    assert took < STOP_WITHIN, f"took {took:.1f}s to stop"
    assert "Traceback" not in err
    assert "salestalk ingest: interrupted: " in err and f" of {len(messages) + len(metrics)} record(s) done (" in err
    assert "to finish it, run the same command again" in err
    batch_id = content_batch_id([*messages, *metrics])
    assert f"batch {batch_id}: {TENANT}: new, in progress" in err
    stored_then = count_items(st, table)
    assert stored_then < 2 * len(messages) + sessions  # it really stopped early
    assert read_batch(st.tenant(TENANT), batch_id).status is BatchStatus.IN_PROGRESS

    again = deployment.run("ingest", str(path), "--no-progress", "--seed", "2")
    assert again.returncode == 0, again.stderr
    rows = summary(again.stdout)
    assert rows["message"]["records"] == len(messages) and rows["metric"]["records"] == len(metrics)
    total = len(messages) + len(metrics)
    assert totals(rows, "created", "already_exists") == total and totals(rows, "conflict", "failed") == 0
    assert rows["message"]["already_exists"] + rows["metric"]["already_exists"] > 0  # the first run's part
    assert f"{TENANT}: resumed, completed" in again.stdout
    # Every message once, with its identity item; every rollup exact; every metric stored.
    scope = st.tenant(TENANT)
    assert audit_tenant(scope).findings == []
    assert count_items(st, table) == 2 * len(messages) + sessions + 1
    assert count_items(st, scope.metrics_table) == len(metrics)
