"""The smaller ingestion defects of issue 10 (item 8), each reproduced.

- records reported "failed" after the retry budget that were in fact written: now "may have been
  applied", and running the batch again settles them;
- `ingest --events-file <dir>` wrote everything, then died with a traceback: outputs are checked first;
- `--events-file` was silently dropped when `--event-bus` was given: the combination is refused;
- an unbounded `while True` in metric puts; `assert` used for runtime invariants in the library.
"""

from __future__ import annotations

import ast
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from adversary import Deployment, count_items

import salestalk_lib
from salestalk_lib.cli import ingest as ingest_command
from salestalk_lib.cli.main import main
from salestalk_lib.contract.errors import ConditionFailed, IngestInterrupted, RetryBudgetExhausted
from salestalk_lib.dynamo.retry import Attempt, Retrier
from salestalk_lib.dynamo.storage import Storage
from salestalk_lib.ops.audit import audit_tenant
from salestalk_lib.ops.ingest import MAX_SETTLE_ROUNDS, Ingestor, MessageMode, MetricMode, Outcome
from salestalk_lib.testing.faults import FaultProfile, faulty_endpoint
from salestalk_lib.testing.samples import sample_messages, sample_metrics, write_jsonl

TENANT = "defects-co"
# The per-record write paths (not the defaults): one conditional PutItem per metric, one transaction per message.
PER_RECORD = {"metric_mode": MetricMode.CONDITIONAL, "message_mode": MessageMode.SINGLE}


def _records() -> list:
    return [
        *sample_messages(TENANT, 4, sessions=2, seed=91),
        *sample_metrics(TENANT, 4, seed=92, first_day=datetime(2024, 1, 1, tzinfo=UTC)),
    ]


def _lose_every_response_once_the_batch_is_recorded(proxy) -> Callable[[Attempt], None]:
    """An attempt hook: after the batch record's create (the run's first PutItem), every response is lost.

    The requests behind them are applied: the records are written, and the writer cannot know it.
    """

    def hook(attempt: Attempt) -> None:
        if attempt.operation == "PutItem" and attempt.outcome == "ok":
            proxy.profile = FaultProfile(lost=1.0, read_timeout=10)

    return hook


@pytest.mark.parametrize("path", ["per-record", "default"])
def test_a_failed_record_that_was_written_says_may_have_been_applied_and_a_rerun_settles_it(
    deployment: Deployment, path: str
):
    deployment.onboard(TENANT)
    st = deployment.st
    records = _records()
    with faulty_endpoint(st.endpoint, FaultProfile(read_timeout=10)) as faulty:
        ing = Ingestor(Storage(faulty.client()), st.settings, retrier=Retrier.virtual())
        report = ing.ingest(  # per record: each record's fate is its own request's; default: its transaction's
            records,
            workers=1,
            batch_id="lossy",
            hooks=[_lose_every_response_once_the_batch_is_recorded(faulty.proxy)],
            **(PER_RECORD if path == "per-record" else {}),
        )
    assert [r.outcome for r in report.results] == [Outcome.FAILED] * len(records)
    assert all(r.may_have_been_applied and isinstance(r.error, RetryBudgetExhausted) for r in report.results)
    scope = st.tenant(TENANT)
    # Some of them were applied (a lost response hides a write that happened), some not (a cancelled
    # transaction whose answer was lost): the writer cannot tell, hence "may have been applied".
    applied = [
        m
        for m in records
        if scope.storage.get_item(
            scope.metrics_table if m in records[4:] else scope.messages_table, {"pk": m.pk, "sk": m.sk}
        )
        == m.to_item()
    ]
    if path == "per-record":
        assert applied and len(applied) < len(records)
    else:  # two transactions (the messages', the metrics'), each all or nothing, each applied before its answer was lost
        assert applied == records
    assert report.batches[TENANT].record.status.value == "in_progress"
    # Running the batch again settles each one: the applied ones are already_exists, the others created.
    again = Ingestor(st.storage, st.settings, retrier=Retrier.virtual()).ingest(records, batch_id="lossy")
    settled = {"already_exists": len(applied), "created": len(records) - len(applied)}
    assert again.ok and again.counts() == {outcome: n for outcome, n in settled.items() if n}
    assert again.batches[TENANT].record.status.value == "completed"
    assert audit_tenant(scope).findings == []


def test_the_cli_says_may_have_been_applied_and_exits_2(deployment: Deployment, tmp_path, capsys, monkeypatch):
    deployment.onboard(TENANT)
    path = write_jsonl(tmp_path / "records.jsonl", _records())
    proxies = []

    def recording_faulty_endpoint(endpoint, profile):
        faulty = faulty_endpoint(endpoint, profile)
        proxies.append(faulty.proxy)
        return faulty

    class LossyRetrier(Retrier):
        def __init__(self, **kw):
            super().__init__(
                sleep=lambda s: None,
                hooks=[lambda a: _lose_every_response_once_the_batch_is_recorded(proxies[0])(a)],
                **kw,
            )

    monkeypatch.setattr(ingest_command, "faulty_endpoint", recording_faulty_endpoint)
    monkeypatch.setattr(ingest_command, "Retrier", LossyRetrier)
    code = main(
        [
            "ingest",
            str(path),
            "--no-progress",
            "--batch-id",
            "lossy-cli",
            "--faults",
            "read_timeout=10",
            *deployment.args(),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "may have been applied" in err and "run the same command again to settle them" in err


def test_an_events_file_that_cannot_be_written_is_refused_before_anything_is_written(deployment: Deployment, tmp_path):
    deployment.onboard(TENANT)
    path = write_jsonl(tmp_path / "records.jsonl", _records())
    events_dir = tmp_path / "events"
    events_dir.mkdir()
    result = deployment.run("ingest", str(path), "--no-progress", "--events-file", str(events_dir))
    assert result.returncode == 2
    assert "--events-file:" in result.stderr and "not a regular file" in result.stderr
    assert "nothing was written" in result.stderr and "Traceback" not in result.stderr
    st = deployment.st
    assert count_items(st, st.settings.table_name("messages", TENANT)) == 0  # not even the batch record
    assert count_items(st, st.settings.table_name("metrics", TENANT)) == 0


def test_events_file_and_event_bus_together_are_refused(deployment: Deployment, tmp_path):
    path = write_jsonl(tmp_path / "records.jsonl", _records())
    result = deployment.run("ingest", str(path), "--events-file", str(tmp_path / "e.jsonl"), "--event-bus", "bus")
    assert result.returncode == 2
    assert "not allowed with argument" in result.stderr


def test_a_metric_whose_stored_item_keeps_vanishing_gives_up_after_bounded_rounds(deployment: Deployment, monkeypatch):
    deployment.onboard(TENANT)
    st = deployment.st
    ing = Ingestor(st.storage, st.settings, retrier=Retrier.virtual())
    scope = ing.scope(TENANT)
    puts = []

    def exists_but_vanishes(table, item, **kw):
        puts.append(item)
        raise ConditionFailed("exists", item=None, code="ConditionalCheckFailed")

    read = scope.storage.get_item
    monkeypatch.setattr(scope.storage, "put_item", exists_but_vanishes)
    monkeypatch.setattr(
        scope.storage,
        "get_item",  # the metric is gone by the time it is read
        lambda table, key, **kw: None if table == scope.metrics_table else read(table, key, **kw),
    )
    report = ing.ingest(sample_metrics(TENANT, 1, seed=93), record_batch=False, metric_mode=MetricMode.CONDITIONAL)
    assert [r.outcome for r in report.results] == [Outcome.FAILED]
    assert isinstance(report.results[0].error, RetryBudgetExhausted) and len(puts) == MAX_SETTLE_ROUNDS


def test_the_library_holds_its_invariants_with_real_checks_not_asserts():
    # `python -O` strips assert statements: a runtime invariant written as one silently stops being checked.
    package = Path(salestalk_lib.__file__).parent
    found = [
        f"{path.relative_to(package.parent)}:{node.lineno}"
        for path in sorted(package.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Assert)
    ]
    assert found == []


@pytest.mark.parametrize("mode", ["conditional", "transaction", "batch"])
def test_every_metric_mode_stops_retrying_when_the_run_is_stopped(deployment: Deployment, mode):
    # A stop request (what Ctrl-C sets) reaches every write path: under throttling, nothing retries on
    # after it, every record is reported, and the call ends with IngestInterrupted.
    deployment.onboard(TENANT)
    st = deployment.st
    stop = threading.Event()
    with faulty_endpoint(st.endpoint, FaultProfile(read_timeout=10)) as faulty:

        def throttle_then_stop(attempt) -> None:
            if attempt.operation == "GetItem" and attempt.outcome == "ok":
                faulty.proxy.profile = FaultProfile(throttle=1.0, read_timeout=10)
            elif attempt.outcome == "retry":
                stop.set()

        ing = Ingestor(Storage(faulty.client()), st.settings, retrier=Retrier())  # real sleeps: the stop cuts them
        with pytest.raises(IngestInterrupted) as stopped:
            ing.ingest(
                _records(), workers=2, metric_mode=mode, record_batch=False, stop=stop, hooks=[throttle_then_stop]
            )
    report = stopped.value.report
    assert report.interrupted and len(report.results) == len(_records())
    assert report.stats.retries <= 2  # at most one retry per worker was decided before the stop
