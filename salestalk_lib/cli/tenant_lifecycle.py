"""`salestalk tenant add|suspend|activate|remove|list`: the tenant lifecycle on the command line.

Each `add_<name>(tenant_sub)` adds one sub-subcommand to the `salestalk tenant`
group (see `cli/tenant.py`, which lists them in `SUBCOMMANDS`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from salestalk_lib.cli.common import add_connection_args, connect_from_args, format_table
from salestalk_lib.contract.errors import InputError, ValidationFailed, Violation
from salestalk_lib.contract.quotas import table_limit_from_env
from salestalk_lib.contract.times import format_instant
from salestalk_lib.contract.validation import duplicate_keys, parse_json, read_input_text
from salestalk_lib.contract.vocab import Plan, TenantStatus
from salestalk_lib.ops.events import JsonLinesSink, MemorySink
from salestalk_lib.ops.fleet import check_fleet_fits
from salestalk_lib.ops.tenants import OnboardResult, Tenants, TransitionResult


def add_add(tenant_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = tenant_sub.add_parser(
        "add",
        help="onboard a tenant: create its two tables, then its registry item",
        description="Onboard a tenant. Everything is validated first (id, name, email, plan, metadata); "
        "on any error nothing is written (exit 2). Then the tenant's messages and metrics tables are "
        "created (or confirmed) and the registry item is written last, as the commit point. Running "
        "the same command again after a failure completes it; running it for an existing identical "
        "tenant changes nothing; the same id with other details is a conflict (exit 2). A "
        "tenant.provisioned.v1 event is emitted when the tenant is created.",
    )
    p.add_argument("tenant_id", metavar="ID", help="1-64 lowercase letters, digits and inner '-'")
    p.add_argument("--name", required=True, help="display name (1-256 characters)")
    p.add_argument("--owner-email", required=True, metavar="EMAIL", help="owner's email address")
    p.add_argument(
        "--plan",
        default=str(Plan.FREE),
        metavar="PLAN",
        help=f"one of {', '.join(p.value for p in Plan)} (default: %(default)s)",
    )
    meta = p.add_mutually_exclusive_group()
    meta.add_argument("--metadata", metavar="JSON", help="metadata as a JSON object (at most 10 KB)")
    meta.add_argument("--metadata-file", type=Path, metavar="PATH", help="metadata from a JSON file")
    p.add_argument(
        "--events-file",
        type=Path,
        metavar="PATH",
        help="append the tenant.provisioned.v1 event to this JSON-lines file",
    )
    p.add_argument("--correlation-id", metavar="ID", help="metadata.correlationId of the event")
    add_connection_args(p)
    p.set_defaults(func=run_add)


def add_suspend(tenant_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = tenant_sub.add_parser(
        "suspend",
        help="suspend an active tenant (status and updatedAt)",
        description="Set an active tenant's status to suspended. A suspended "
        "tenant is left as it is; a deleted one is an error (exit 2).",
    )
    p.add_argument("tenant_id", metavar="ID")
    add_connection_args(p)
    p.set_defaults(func=run_status, transition="suspend")


def add_activate(tenant_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = tenant_sub.add_parser(
        "activate",
        help="reactivate a suspended tenant",
        description="Set a suspended tenant's status back to active. An active "
        "tenant is left as it is; a deleted one is an error (exit 2).",
    )
    p.add_argument("tenant_id", metavar="ID")
    add_connection_args(p)
    p.set_defaults(func=run_status, transition="reactivate")


def add_remove(tenant_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = tenant_sub.add_parser(
        "remove",
        help="offboard a tenant: mark it deleted, optionally export, then delete its tables",
        description="Offboard a tenant: its registry item is marked deleted first (the id is retired "
        "and never onboarded again), then, with --export, both tables are written to DIR as JSON-lines "
        "in DynamoDB JSON, then the tables are deleted unless --keep-tables. Running it again completes "
        "an interrupted removal.",
    )
    p.add_argument("tenant_id", metavar="ID")
    p.add_argument("--keep-tables", action="store_true", help="keep the tenant's tables and their data")
    p.add_argument("--export", type=Path, metavar="DIR", help="first export both tables to DIR/{table}.jsonl")
    add_connection_args(p)
    p.set_defaults(func=run_remove)


def add_list(tenant_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = tenant_sub.add_parser(
        "list",
        help="list tenants from the registry (by status)",
        description="List the registry's tenants, read per status from StatusIndex (Query, never Scan).",
    )
    p.add_argument(
        "--status",
        metavar="STATUS",
        help=f"only this status: {', '.join(s.value for s in TenantStatus)} (default: all)",
    )
    add_connection_args(p)
    p.set_defaults(func=run_list)


SUBCOMMANDS = (add_add, add_suspend, add_activate, add_remove, add_list)


def run_add(args: argparse.Namespace) -> int:
    metadata = _metadata(args)
    sink = JsonLinesSink(args.events_file) if args.events_file else MemorySink()
    with connect_from_args(args) as st:
        check_fleet_fits(st.storage, st.settings, [args.tenant_id], table_limit_from_env(), what="this tenant")
        result = Tenants.of(st, sink=sink).onboard(
            args.tenant_id,
            name=args.name,
            owner_email=args.owner_email,
            plan=args.plan,
            metadata=metadata,
            correlation_id=args.correlation_id,
        )
    _print_onboard(result, args.events_file)
    return 0


def run_status(args: argparse.Namespace) -> int:
    with connect_from_args(args) as st:
        result = getattr(Tenants.of(st), args.transition)(args.tenant_id)
    _print_transition(result)
    return 0


def run_remove(args: argparse.Namespace) -> int:
    with connect_from_args(args) as st:
        result = Tenants.of(st).offboard(args.tenant_id, keep_tables=args.keep_tables, export_dir=args.export)
    rows = [
        {"table": e.table, "action": "exported", "items": e.items, "file": e.path}
        for e in result.exports
        if e.items is not None
    ]
    rows += [{"table": t, "action": "deleted"} for t in result.tables_deleted]
    rows += [{"table": t, "action": "kept"} for t in result.tables_kept]
    rows += [{"table": t, "action": "already gone"} for t in result.tables_missing]
    print(f"tenant {result.tenant.tenant_id}: {result.previous_status.value} -> deleted")
    if rows:
        print(format_table(rows, ["table", "action", "items", "file"]))
    return 0


def run_list(args: argparse.Namespace) -> int:
    with connect_from_args(args) as st:
        tenants = Tenants.of(st).list(args.status)
    print(
        format_table(
            [_row(t) for t in tenants], ["tenantId", "name", "ownerEmail", "plan", "status", "createdAt", "updatedAt"]
        )
    )
    return 0


def _row(tenant: Any) -> dict[str, Any]:
    return {
        "tenantId": tenant.tenant_id,
        "name": tenant.name,
        "ownerEmail": tenant.owner_email,
        "plan": tenant.plan.value,
        "status": tenant.status.value,
        "createdAt": format_instant(tenant.created_at),
        "updatedAt": format_instant(tenant.updated_at),
    }


def _print_onboard(result: OnboardResult, events: Path | None) -> None:
    tenant = result.tenant
    print(
        f"tenant {tenant.tenant_id}: {result.outcome.replace('_', ' ')} "
        f"(status {tenant.status.value}, plan {tenant.plan.value})"
    )
    print(format_table([{"table": r.table, "action": r.action} for r in result.tables]))
    if result.event is not None:
        where = f" (appended to {events})" if events else ""
        print(f"event {result.event.event_type} {result.event.event_id}{where}")


def _print_transition(result: TransitionResult) -> None:
    tenant = result.tenant
    if result.changed:
        print(
            f"tenant {tenant.tenant_id}: {result.previous_status.value} -> {tenant.status.value} "
            f"(updatedAt {format_instant(tenant.updated_at)})"
        )
    else:
        print(f"tenant {tenant.tenant_id}: already {tenant.status.value}; nothing changed")


def _metadata(args: argparse.Namespace) -> dict[str, Any] | None:
    """The --metadata / --metadata-file JSON object (fractions as exact Decimals), or None."""
    if args.metadata is not None:
        return parse_metadata(args.metadata, "--metadata")
    if args.metadata_file is not None:
        try:
            text = read_input_text(args.metadata_file)  # a FIFO or device is refused, never read
        except InputError as exc:
            raise ValidationFailed([Violation(exc.where, "(file)", f"cannot be read: {exc.problem}")]) from None
        return parse_metadata(text, str(args.metadata_file))
    return None


def parse_metadata(text: str, where: str) -> dict[str, Any]:
    """A JSON object from `text`; unreadable JSON, another JSON type or a repeated key is a ValidationFailed."""
    try:
        value = parse_json(text, where)  # the records' JSON reader: the same limits and decisions
    except InputError as exc:
        raise ValidationFailed([Violation(exc.where, "metadata", f"is not valid JSON: {exc.problem}")]) from None
    if not isinstance(value, dict):
        raise ValidationFailed([Violation(where, "metadata", f"must be a JSON object, got {type(value).__name__}")])
    repeated = duplicate_keys(value)
    if repeated:
        raise ValidationFailed([Violation(where, f"metadata.{path}", rule) for path, rule in repeated])
    return value
