"""`salestalk validate`: check JSON / JSON-lines records against the contract."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from salestalk_lib.contract import keys
from salestalk_lib.contract.validation import StreamingInput


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "validate",
        help="validate records in JSON / JSON-lines files against the contract",
        description="Validate every record in the given files and directories (searched recursively "
        "for *.json, *.jsonl, *.ndjson). Each record's kind is recognised from its content, not the "
        "file name. Prints every violation, one per line, as `file:record field: rule` (record = "
        "line number in JSON-lines, position from 1 in a JSON array). Exit 0 when all records are "
        "valid, 1 when any record breaks the contract, 2 when a path or file cannot be read as records "
        "at all (missing, a directory without record files, not a regular file, empty, not UTF-8, "
        "not JSON, nested deeper than 64 levels): bad input, reported the same way with field (file).",
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="file or directory")
    p.add_argument(
        "--tenant",
        metavar="ID",
        help="the records come from this tenant's tables: any record of another tenant is a violation",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.tenant is not None:
        # A bad option is a usage error (exit 2), not a violation of every record.
        keys.validate_tenant_id(args.tenant)
    report = StreamingInput(args.paths, tenant_id=args.tenant).validate()  # bounded memory: records not kept
    for violation in report.violations:
        print(violation)
    unreadable = len(report.input_errors)
    broken = len(report.violations) - unreadable
    if unreadable:
        print(
            f"salestalk validate: {unreadable} unreadable input(s) and {broken} violation(s) in "
            f"{report.summary()}; fix the paths or files named above and run again",
            file=sys.stderr,
        )
        return 2
    if broken:
        print(f"{broken} violation(s) in {report.summary()}", file=sys.stderr)
        return 1
    print(f"OK: {report.summary()} valid")
    return 0
