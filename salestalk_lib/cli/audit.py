"""`salestalk audit`: check every stored item of one tenant against the contract (live, or in an export)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from salestalk_lib.cli.common import add_connection_args, connect_from_args, format_table
from salestalk_lib.contract.keys import validate_tenant_id
from salestalk_lib.ops.audit import audit_tenant
from salestalk_lib.ops.export import audit_export


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "audit",
        help="report every stored item of a tenant that breaks the contract (exit 1 if any)",
        description="Read a live tenant's registry item and every item of its messages and metrics "
        "tables, and print each broken rule as a table (table, pk, sk, field, rule). Exit 0 when "
        "clean, 1 when anything breaks the contract, 2 on an error. The audit only reads: it Scans "
        "the tenant's own two tables (as `salestalk export` does: the library's only Scans, because an audit must see "
        "items whose keys nobody knows) and refuses any write before it is sent. Against a staging "
        "or production account, opt in with --allow-aws. With --export DIR it reads DynamoDB S3 exports "
        "instead (ours from `salestalk export`, or ones AWS wrote), offline and streaming: the same rules "
        "for every tenant whose tables are exported, plus the manifests, checksums and data files (a "
        "broken one is a finding naming the file).",
    )
    p.add_argument("--tenant", metavar="ID", help="the tenant to audit (with --export: only this tenant)")
    p.add_argument(
        "--export",
        type=Path,
        metavar="DIR",
        help="audit the DynamoDB exports (AWSDynamoDB/<ExportId>/...) under DIR instead of the live tables",
    )
    p.add_argument("--page-size", type=int, metavar="N", help="items per Scan request (default: DynamoDB's 1 MB pages)")
    add_connection_args(p)
    p.set_defaults(func=run_audit)


def run_audit(args: argparse.Namespace) -> int:
    if args.export is not None:
        return _run_export_audit(args)
    if args.tenant is None:
        print("salestalk audit: error: give --tenant ID (the live tables) or --export DIR", file=sys.stderr)
        return 2
    with connect_from_args(args) as st:
        report = audit_tenant(st.tenant(args.tenant), page_size=args.page_size)
    if report.findings:
        print(format_table(report.rows(), ["table", "pk", "sk", "field", "rule"]))
    print(report.summary(), file=sys.stderr)
    return 0 if report.ok else 1


def _run_export_audit(args: argparse.Namespace) -> int:
    tenant = None if args.tenant is None else validate_tenant_id(args.tenant)
    audit = audit_export(args.export, tenant_id=tenant)
    if audit.findings:
        print(format_table(audit.rows(), ["table", "pk", "sk", "field", "rule"]))
    for line in audit.summary_lines():
        print(line, file=sys.stderr)
    return 0 if audit.ok else 1
