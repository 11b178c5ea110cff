"""`salestalk ingest FILE... [--faults PROFILE]`: validate, then write messages and metrics idempotently."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from ..batches import BatchState, content_batch_id, describe
from ..errors import BatchConflict, ConfigurationError, KeyGrammarError, ValidationFailed, Violation
from ..keys import validate_batch_id
from ..events import EventBridgeSink, EventSink, JsonLinesSink, MemorySink
from ..faults import FaultProfile, faulty_endpoint
from ..ingest import Ingestor, MetricMode, validate_for_ingest
from ..retry import Retrier
from ..storage import Storage
from ..validation import RECORD_FIELD, RecordKind, validate_paths
from . import add_connection_args, connect_from_args, format_table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ingest",
        help="ingest JSON-lines messages and metrics idempotently (optionally under injected faults)",
        description="Validate every record first, exactly like `salestalk seed`: if any record breaks the "
        "contract, print every violation as `file:record field: rule`, write nothing and exit 2. Then "
        "provision the records' tenants if needed and write each message with its session rollup in one "
        "transaction, and each metric with a conditional create. Identical existing items are "
        "already_exists; a different existing item is a conflict, reported and never overwritten "
        "(exit 1). The run is one batch, recorded per tenant for 30 days under its batch id (by default "
        "derived from the records): running the same file again replays the batch, writing nothing and "
        "sending no event twice. The same batch id with other records is refused before anything is "
        "written (exit 1).",
    )
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help="JSON-lines (or JSON) file of records")
    p.add_argument("--faults", metavar="PROFILE", type=_profile,
                   help="inject faults on the HTTP path, e.g. throttle=0.2,error5xx=0.05,reset=0.02,lost=0.02,seed=7 "
                        "(kinds: throttle, error5xx, reset, timeout, lost, unprocessed, conflict; "
                        "also seed=N, read_timeout=S)")
    p.add_argument("--batch-id", metavar="ID",
                   help="the batch's idempotency key: 1-128 letters, digits, '.', '_', '-' (default: derived from "
                        "the records, so the same records are the same batch; give a new id to load them again "
                        "as a new batch)")
    p.add_argument("--workers", type=int, default=4, help="parallel writers (default: %(default)s)")
    p.add_argument("--metric-mode", choices=[m.value for m in MetricMode], default=MetricMode.CONDITIONAL.value,
                   help="how metrics are written (default: %(default)s; see the write modes in the docs)")
    p.add_argument("--events-file", type=Path, metavar="PATH",
                   help="append metrics.ingested.v1 events to this JSON-lines file")
    p.add_argument("--event-bus", metavar="NAME", help="send metrics.ingested.v1 events to this EventBridge bus")
    p.add_argument("--seed", type=int, default=None, help="seed of the retry jitter (default: random)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_connection_args(p)
    p.set_defaults(func=run)


def _profile(text: str) -> FaultProfile:
    try:
        return FaultProfile.parse(text)
    except ConfigurationError as exc:  # a usage error: argparse prints it and exits 2
        raise argparse.ArgumentTypeError(str(exc)) from None


def _validate(files: list[Path]) -> list:
    report = validate_paths(files)
    violations = list(report.violations)
    for record in report.records:
        if record.kind not in (RecordKind.MESSAGE, RecordKind.METRIC):
            violations.append(Violation(record.where, RECORD_FIELD, f"is a {record.kind.value} record; "
                                        "ingest takes messages and metrics only"))
    if violations:
        raise ValidationFailed(violations)
    return validate_for_ingest(r.model for r in report.records)


def run(args: argparse.Namespace) -> int:
    try:
        records = _validate(args.files)
        batch_id = validate_batch_id(args.batch_id) if args.batch_id is not None else content_batch_id(records)
    except ValidationFailed as exc:
        for v in exc.violations:
            print(v)
        print(f"salestalk ingest: {len(exc.violations)} violation(s); nothing was written", file=sys.stderr)
        return 2
    except KeyGrammarError as exc:
        print(f"salestalk ingest: --batch-id: {exc}; nothing was written", file=sys.stderr)
        return 2
    tenants = sorted({r.tenant_id for r in records})
    with connect_from_args(args) as st:
        st.provision(tenants)
        endpoint = faulty_endpoint(st.endpoint, args.faults) if args.faults else None
        injected: dict[str, int] = {}
        try:
            storage = Storage(endpoint.client()) if endpoint else st.storage
            sink: EventSink = MemorySink()
            if args.events_file:
                sink = JsonLinesSink(args.events_file)
            if args.event_bus:
                sink = EventBridgeSink(st.endpoint.client("events"), args.event_bus)
            ingestor = Ingestor(storage, st.settings, retrier=Retrier(seed=args.seed), sink=sink)
            with tqdm(total=len(records), desc="ingesting", unit="record",
                      disable=True if args.no_progress else None, file=sys.stderr) as bar:
                report = ingestor.ingest(records, workers=args.workers, metric_mode=args.metric_mode,
                                         batch_id=batch_id, progress=bar.update)
        except BatchConflict as exc:
            print(f"salestalk ingest: {exc}", file=sys.stderr)
            return 1
        finally:
            if endpoint is not None:
                injected = dict(endpoint.proxy.counts)
                endpoint.close()
    print(format_table(report.summary_rows()))
    retries = report.retries_by_code
    print(f"retries: {sum(retries.values())}" + (" (" + ", ".join(f"{code} {n}" for code, n in
                                                              sorted(retries.items())) + ")" if retries else ""))
    if args.faults:
        print(f"faults injected ({args.faults}): " + (", ".join(f"{k} {n}" for k, n in sorted(injected.items()))
                                                       or "none"))
    print(f"batch {report.batch_id}: {describe(report.batches)}")
    if report.replayed:
        print("the batch was already completed: nothing was written and no event was sent again "
              "(give --batch-id a new id to load the records again as a new batch)")
    resumed = sorted(t for t, b in report.batches.items() if b.state is BatchState.RESUMED)
    if resumed:
        print(f"resumed an unfinished run for {', '.join(resumed)}: its event keeps the batch's event id")
    print(f"events: {len(report.events)} metrics.ingested.v1")
    print(f"time: {report.seconds:.2f}s for {len(report.results)} record(s)")
    for conflict in report.conflicts:
        print(f"conflict: {conflict}", file=sys.stderr)
    for failure in report.failures:
        print(f"failed: {failure.key}: {failure.error}", file=sys.stderr)
    return 0 if report.ok else 1
