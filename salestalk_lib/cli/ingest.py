"""`salestalk ingest FILE... [--faults PROFILE]`: validate, then write messages and metrics idempotently."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

from tqdm import tqdm

from salestalk_lib.cli.common import add_connection_args, connect_from_args, format_table
from salestalk_lib.contract.errors import (
    BatchConflict,
    ConfigurationError,
    IngestInterrupted,
    KeyGrammarError,
    TableNotFound,
    TenantNotActive,
    ValidationFailed,
    Violation,
)
from salestalk_lib.contract.keys import validate_batch_id
from salestalk_lib.contract.models import Message, Metric
from salestalk_lib.contract.validation import RECORD_FIELD, RecordKind, StreamingInput, ValidRecord
from salestalk_lib.dynamo.retry import Retrier
from salestalk_lib.dynamo.storage import Storage
from salestalk_lib.dynamo.writes import Outcome
from salestalk_lib.ops.batches import BatchFingerprint, BatchState, describe
from salestalk_lib.ops.events import EventBridgeSink, EventSink, JsonLinesSink, MemorySink
from salestalk_lib.ops.ingest import (
    DEFAULT_MESSAGE_MODE,
    DEFAULT_METRIC_MODE,
    DEFAULT_WORKERS,
    REPORT_LIMIT,
    Ingestor,
    IngestReport,
    MessageMode,
    MetricMode,
)
from salestalk_lib.testing.faults import FaultProfile, faulty_endpoint

INTERRUPTED = 130  # the shell's code for a process ended by SIGINT


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "ingest",
        help="ingest JSON-lines messages and metrics idempotently (optionally under injected faults)",
        description="Validate every record first, exactly like `salestalk seed`: if any record breaks the "
        "contract (one messageId twice included), print every violation as `file:record field: rule`, write "
        "nothing and exit 2. Every record's tenant must be registered and active: ingest never creates "
        "tables, and refuses (exit 2, naming the tenant and its status) before writing anything otherwise "
        "(`salestalk tenant add` / `salestalk tenant activate`). Each message is written with its identity "
        "item and its session rollup in one transaction: one message per messageId, whatever its time. "
        "Metrics follow --metric-mode. In every mode but batch, an identical stored item is already_exists "
        "and a different one a conflict, reported and left as stored (exit 1); batch overwrites (last "
        "writer wins) and reports what it wrote as written, not created. The run is one batch, recorded per "
        "tenant for 30 days under its batch id (by default derived from the records): running the same file "
        "again replays the batch, writing nothing and sending no event twice. The same batch id with other "
        "records is refused before anything is written (exit 1). Ctrl-C stops within seconds, prints what "
        "was done and exits 130; running the same command again completes the batch exactly.",
    )
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help="JSON-lines (or JSON) file of records")
    p.add_argument(
        "--faults",
        metavar="PROFILE",
        type=_profile,
        help="inject faults on the HTTP path, e.g. throttle=0.2,error5xx=0.05,reset=0.02,lost=0.02,seed=7 "
        "(kinds: throttle, error5xx, reset, timeout, lost, unprocessed, conflict; "
        "also seed=N, read_timeout=S, and latency=MS: milliseconds added to every request, "
        "e.g. --faults latency=5 for a link 5 ms away)",
    )
    p.add_argument(
        "--batch-id",
        metavar="ID",
        help="the batch's idempotency key: 1-128 letters, digits, '.', '_', '-' (default: derived from "
        "the records, so the same records are the same batch; give a new id to load them again "
        "as a new batch)",
    )
    p.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="parallel writers (default: %(default)s)")
    p.add_argument(
        "--metric-mode",
        choices=[m.value for m in MetricMode],
        default=DEFAULT_METRIC_MODE.value,
        help="how metrics are written: transaction (default; up to 100 conditional Puts per "
        "TransactWriteItems, never overwrites, 2x the WCU), conditional (one PutItem each, never "
        "overwrites, 1x the WCU, many more requests), batch (BatchWriteItem bulk load, last writer "
        "wins: it overwrites what another writer stored, and counts what it wrote as written); see the "
        "write modes in the docs",
    )
    p.add_argument(
        "--message-mode",
        choices=[m.value for m in MessageMode],
        default=DEFAULT_MESSAGE_MODE.value,
        help="how messages are written: packed (default; up to 49 per TransactWriteItems with one rollup "
        "update per session, exactly once), single (one TransactWriteItems per message); see the write "
        "modes in the docs",
    )
    events = p.add_mutually_exclusive_group()
    events.add_argument(
        "--events-file",
        type=Path,
        metavar="PATH",
        help="append metrics.ingested.v1 events to this JSON-lines file (checked before anything "
        "is written; not with --event-bus)",
    )
    events.add_argument(
        "--event-bus",
        metavar="NAME",
        help="send metrics.ingested.v1 events to this EventBridge bus (not with --events-file: "
        "one destination per run, so a run's events are delivered whole or reported failed)",
    )
    p.add_argument("--seed", type=int, default=None, help="seed of the retry jitter (default: random)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_connection_args(p)
    p.set_defaults(func=run)


def _profile(text: str) -> FaultProfile:
    try:
        return FaultProfile.parse(text)
    except ConfigurationError as exc:  # a usage error: argparse prints it and exits 2
        raise argparse.ArgumentTypeError(str(exc)) from None


class _Input:
    """The files of a run, validated in a first pass that keeps no record (`StreamingInput`), then streamed.

    The first pass lists every violation (a record of another kind than message or
    metric included) and folds each valid record into the batch's fingerprint
    (`BatchFingerprint`: its plans and content batch id), so nothing is written
    before the whole input is known valid. An input of at most `KEEP_VALIDATED`
    records keeps its validated models for the second pass (bounded: a few tens of
    MB at most), so a small load is not parsed and validated twice; a larger one
    keeps none and is read again.
    """

    KEEP_VALIDATED = 10_000

    def __init__(self, files: list[Path]) -> None:
        self.source = StreamingInput(files)
        self.fingerprint = BatchFingerprint()
        violations: list[Violation] = []
        held: list[Message | Metric] | None = []

        def observe(record: ValidRecord) -> None:
            nonlocal held
            if held is not None:
                if len(held) < self.KEEP_VALIDATED and isinstance(record.model, (Message, Metric)):
                    held.append(record.model)
                else:
                    held = None  # too many to keep (or not ingestible): the second pass reads the files again
            if record.kind not in (RecordKind.MESSAGE, RecordKind.METRIC):
                violations.append(
                    Violation(
                        record.where,
                        RECORD_FIELD,
                        f"is a {record.kind.value} record; ingest takes messages and metrics only",
                    )
                )
            else:
                self.fingerprint.add(record.model)

        report = self.source.validate(observe=observe)
        if report.violations or violations:
            raise ValidationFailed(list(dict.fromkeys([*report.violations, *violations])))  # a re-read file tells twice
        if not self.source.observed_once:  # a file was read whole after some records: fold the records again
            held = None
            self.fingerprint = BatchFingerprint()
            for record in self.source.records():
                self.fingerprint.add(record.model)
        self.plans = self.fingerprint.finish()
        self.count = sum(p.message_count + p.metric_count for p in self.plans.values())
        self._held = held

    def records(self) -> Iterator[Message | Metric]:
        """The second pass: every record, file by file (the models the first pass kept, if it kept them all)."""
        if self._held is not None:
            yield from self._held
            return
        for record in self.source.records():
            if isinstance(record.model, (Message, Metric)):
                yield record.model


def run(args: argparse.Namespace) -> int:
    try:
        source = _Input(args.files)
        batch_id = validate_batch_id(args.batch_id) if args.batch_id is not None else source.fingerprint.batch_id
    except ValidationFailed as exc:
        for v in exc.violations:
            print(v)
        print(f"salestalk ingest: {len(exc.violations)} violation(s); nothing was written", file=sys.stderr)
        return 2
    except KeyGrammarError as exc:
        print(f"salestalk ingest: --batch-id: {exc}; nothing was written", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("salestalk ingest: interrupted while validating; nothing was written", file=sys.stderr)
        return INTERRUPTED
    file_sink = JsonLinesSink(args.events_file) if args.events_file else None
    if file_sink is not None:
        try:
            file_sink.check()  # before any write: a bad path must not surface after the records are stored
        except ConfigurationError as exc:
            print(f"salestalk ingest: --events-file: {exc}; nothing was written", file=sys.stderr)
            return 2
    with connect_from_args(args) as st:
        endpoint = faulty_endpoint(st.endpoint, args.faults) if args.faults else None
        injected: dict[str, int] = {}
        try:
            storage = Storage(endpoint.client()) if endpoint else st.storage
            sink: EventSink = file_sink or MemorySink()
            if args.event_bus:
                sink = EventBridgeSink(st.endpoint.client("events"), args.event_bus)
            ingestor = Ingestor(storage, st.settings, retrier=Retrier(seed=args.seed), sink=sink)
            with tqdm(
                total=source.count,
                desc="ingesting",
                unit="record",
                disable=True if args.no_progress else None,
                file=sys.stderr,
            ) as bar:
                report = ingestor.ingest_validated(
                    source.records(),
                    source.plans,
                    workers=args.workers,
                    metric_mode=args.metric_mode,
                    message_mode=args.message_mode,
                    batch_id=batch_id,
                    progress=bar.update,
                )
        except TenantNotActive as exc:
            print(f"salestalk ingest: {exc}", file=sys.stderr)
            return 2
        except TableNotFound as exc:
            print(
                f"salestalk ingest: {exc}. A registered tenant's tables are created by onboarding "
                "(`salestalk tenant add`) or `salestalk provision`; ingest never creates them",
                file=sys.stderr,
            )
            return 2
        except BatchConflict as exc:
            print(f"salestalk ingest: {exc}", file=sys.stderr)
            return 1
        except IngestInterrupted as stopped:
            _print_interrupted(stopped.report, args)
            return INTERRUPTED
        except KeyboardInterrupt:
            print(
                "salestalk ingest: interrupted before any record was written; run the same command again",
                file=sys.stderr,
            )
            return INTERRUPTED
        finally:
            if endpoint is not None:
                if endpoint.proxy is not None:  # None only once the endpoint is closed
                    injected = dict(endpoint.proxy.counts)
                endpoint.close()
    print(format_table(report.summary_rows()))
    retries = report.retries_by_code
    print(
        f"retries: {sum(retries.values())}"
        + (" (" + ", ".join(f"{code} {n}" for code, n in sorted(retries.items())) + ")" if retries else "")
    )
    if args.faults:
        print(
            f"faults injected ({args.faults}): "
            + (", ".join(f"{k} {n}" for k, n in sorted(injected.items())) or "none")
        )
    print(f"batch {report.batch_id}: {describe(report.batches)}")
    if report.replayed:
        print(
            "the batch was already completed: nothing was written and no event was sent again "
            "(give --batch-id a new id to load the records again as a new batch)"
        )
    resumed = sorted(t for t, b in report.batches.items() if b.state is BatchState.RESUMED)
    if resumed:
        print(f"resumed an unfinished run for {', '.join(resumed)}: its event keeps the batch's event id")
    if args.metric_mode == MetricMode.BATCH.value and report.counts("metric"):
        print(
            "--metric-mode batch is a last-writer-wins bulk load: it overwrites what another writer stored "
            "between its check and its write, so what it wrote is counted written, not created"
        )
    print(f"events: {len(report.events)} metrics.ingested.v1")
    print(f"time: {report.seconds:.2f}s for {report.total} record(s)")
    for conflict in report.conflicts:
        print(f"conflict: {conflict}", file=sys.stderr)
    _more(report.conflict_count - len(report.conflicts), "conflict")
    for failure in report.failures:
        applied = " (may have been applied)" if failure.may_have_been_applied else ""
        print(f"failed{applied}: {failure.key}: {failure.error}", file=sys.stderr)
    _more(report.failure_count - len(report.failures), "failure")
    unsure = report.unsure_count
    if report.failure_count:
        print(
            f"salestalk ingest: {report.failure_count} record(s) failed"
            + (f", {unsure} of them may have been applied (each whole or not at all)" if unsure else "")
            + "; run the same command again to settle them: a stored one is reported already_exists, "
            "the others are written",
            file=sys.stderr,
        )
    for _tenant_id, not_active in sorted(report.inactive.items()):
        print(f"salestalk ingest: {not_active}", file=sys.stderr)
    if report.inactive:
        return 2
    if report.failure_count:
        return 2  # an error, not a finding: the records could not be written (yet)
    return 0 if report.ok else 1


def _more(n: int, what: str) -> None:
    """The line that stands for the `n` of `what` a streamed report counted but did not keep."""
    if n > 0:
        print(f"... and {n} more {what}(s), not listed (the report keeps {REPORT_LIMIT})", file=sys.stderr)


def _print_interrupted(report: IngestReport, args: argparse.Namespace) -> None:
    """What an interrupted run did, and how to finish it."""
    counts = report.counts()
    failed, skipped = counts.pop(Outcome.FAILED.value, 0), counts.pop(Outcome.SKIPPED.value, 0)
    done = sum(counts.values())
    unsure = report.unsure_count
    detail = ", ".join(f"{n} {o}" for o, n in sorted(counts.items())) or "none"
    lines = [f"salestalk ingest: interrupted: {done} of {report.total} record(s) done ({detail})"]
    if unsure:
        lines.append(f"  {unsure} in flight when it stopped: each is atomic, and may have been applied")
    if failed - unsure:
        lines.append(f"  {failed - unsure} stopped before they were applied")
    if skipped:
        lines.append(f"  {skipped} not started")
    lines.append(f"  batch {report.batch_id}: {describe(report.batches)}")
    again = "salestalk ingest " + " ".join(str(f) for f in args.files)
    if args.batch_id is not None:
        again += f" --batch-id {args.batch_id}"
    lines.append(
        f"  to finish it, run the same command again ({again} ...): records already stored are "
        "reported already_exists, the others are written; no event is sent twice"
    )
    print("\n".join(lines), file=sys.stderr)
