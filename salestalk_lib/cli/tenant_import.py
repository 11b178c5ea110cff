"""`salestalk tenant import FILE`: onboard many tenants from a JSON / JSON-lines file (see `ops/fleet.py`)."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from tqdm import tqdm

from salestalk_lib.cli.common import add_connection_args, connect_from_args
from salestalk_lib.contract.errors import ValidationFailed, Violation
from salestalk_lib.contract.quotas import (
    MAX_CONCURRENT_TABLE_OPERATIONS,
    TABLE_LIMIT_ENV,
    table_limit_from_env,
    validate_table_limit,
)
from salestalk_lib.ops.events import EventSink, JsonLinesSink, MemorySink
from salestalk_lib.ops.fleet import (
    DEFAULT_WORKERS,
    IMPORT_FIELDS,
    Fleet,
    FleetPlan,
    FleetRecord,
    FleetResult,
    read_fleet,
)
from salestalk_lib.ops.tenants import system_clock


def add_import(tenant_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = tenant_sub.add_parser(
        "import",
        help="onboard many tenants from a JSON / JSON-lines file of tenant records",
        description="Onboard every tenant of FILE (a JSON array or JSON lines of records with "
        f"{', '.join(IMPORT_FIELDS)}; plan defaults to free, metadata is optional). Every record is "
        "validated first, and checked against the registry: any broken rule, an id repeated in the file, "
        "an id registered with other details or retired, or a fleet that would cross the table quota is "
        "listed (record, field, rule) and nothing is created (exit 2). Then each tenant's two tables are "
        "created concurrently (at most 500 table operations in flight, LimitExceededException backed "
        "off) and its registry item is written last, as the commit point. Idempotent: running it again "
        "after a failure, a kill or Ctrl-C finishes the rest and changes nothing already done. Exit 0 when "
        "every tenant is created or already present, 2 when any failed, 130 when interrupted.",
    )
    p.add_argument("file", type=Path, metavar="FILE", help="JSON array or JSON lines of tenant records")
    p.add_argument(
        "--workers",
        type=int,
        default=DEFAULT_WORKERS,
        metavar="N",
        help="tenants onboarded at once (default: %(default)s)",
    )
    p.add_argument(
        "--max-in-flight",
        type=int,
        default=MAX_CONCURRENT_TABLE_OPERATIONS,
        metavar="N",
        help="table operations in progress at once, CreateTable counted until ACTIVE (1-500, DynamoDB's "
        "limit per account and region; default: %(default)s)",
    )
    p.add_argument(
        "--table-limit",
        metavar="N",
        help=f"the account's table quota in this region (default: {TABLE_LIMIT_ENV}, else 2,500; at most 10,000)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar (it is off anyway when not a TTY)")
    p.add_argument("--events-file", type=Path, metavar="PATH", help="append tenant.provisioned.v1 events here")
    add_connection_args(p)
    p.set_defaults(func=run_import)


def _usage(message: str) -> ValidationFailed:
    return ValidationFailed([Violation("tenant import", "options", message)])


def run_import(args: argparse.Namespace) -> int:
    if not 1 <= args.max_in_flight <= MAX_CONCURRENT_TABLE_OPERATIONS:
        raise _usage(f"--max-in-flight must be 1-{MAX_CONCURRENT_TABLE_OPERATIONS}, got {args.max_in_flight}")
    if args.workers < 1:
        raise _usage(f"--workers must be ≥ 1, got {args.workers}")
    limit = validate_table_limit(args.table_limit) if args.table_limit is not None else table_limit_from_env()
    sink: EventSink = MemorySink()
    if args.events_file:
        events = JsonLinesSink(args.events_file)
        events.check()  # before anything is created
        sink = events
    try:
        records = read_fleet(args.file, created_at=system_clock())  # the whole file, before any endpoint
        with connect_from_args(args) as st:
            fleet = Fleet.of(st, sink=sink, workers=args.workers, max_in_flight=args.max_in_flight, table_limit=limit)
            plan = fleet.plan(records)
            result = _run(fleet, plan, records, args)
    except ValidationFailed as exc:
        for v in exc.violations:
            print(v, file=sys.stderr)
        print(
            f"salestalk tenant import: {len(exc.violations)} problem(s) in {args.file}; nothing was created",
            file=sys.stderr,
        )
        return 2
    _print_result(result, args.file)
    if result.interrupted:
        return 130
    return 0 if result.ok else 2


def _run(fleet: Fleet, plan: FleetPlan, records: list[FleetRecord], args: argparse.Namespace) -> FleetResult:
    print(
        f"{len(records):,} tenant(s) in {args.file}: {len(plan.to_onboard):,} to onboard, "
        f"{len(plan.present):,} already registered; {plan.new_tables:,} table(s) to create "
        f"({plan.tables_used:,} of {fleet.table_limit:,} in use)",
        file=sys.stderr,
    )
    show = sys.stderr.isatty() and not args.no_progress
    with tqdm(total=len(records), desc="onboarding", unit="tenant", disable=not show) as bar:
        return fleet.run(plan, progress=bar.update, stop=threading.Event())


def _print_result(result: FleetResult, path: Path) -> None:
    print(result.summary())
    if result.limit_retries:
        print(f"LimitExceededException backed off and retried {result.limit_retries:,} time(s)")
    for tenant_id, why in sorted(result.failed.items()):
        print(f"failed: {tenant_id}: {why}", file=sys.stderr)
    if result.failed or result.not_started:
        print(f"run the same `salestalk tenant import {path}` command again to finish the rest", file=sys.stderr)
