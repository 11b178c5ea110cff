"""`salestalk seed`: validate the seed data, provision what is missing, write each item once."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from salestalk_lib.cli.common import add_connection_args, connect_from_args, default_seed_dir, format_table
from salestalk_lib.contract.errors import ValidationFailed
from salestalk_lib.ops.seed import load_seed


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "seed",
        help="load the seed tenants, metrics and conversations (all-or-nothing, idempotent)",
        description="Validate every seed file first: if any record breaks the contract or any file cannot be "
        "read as records (see `salestalk validate`), print every problem as `file:record field: rule`, "
        "write nothing and exit 2; a --dir that is missing or not a directory is exit 2 too. Otherwise "
        "provision missing tables and write each item with a conditional create: identical existing items "
        "count as unchanged; a different existing item is a conflict, reported and never overwritten (exit 1).",
    )
    p.add_argument(
        "--dir",
        type=Path,
        default=None,
        dest="seed_dir",
        help="seed directory (default: ./seed_data, else the seed tenants shipped with the package)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_connection_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    seed_dir = args.seed_dir or default_seed_dir()
    with connect_from_args(args) as st:
        try:
            report = load_seed(st, seed_dir, progress=None if not args.no_progress else False)
        except ValidationFailed as exc:
            for v in exc.violations:
                print(v, file=sys.stderr)
            print(f"salestalk seed: {len(exc.violations)} violation(s); nothing was written", file=sys.stderr)
            return 2
    print(format_table(report.rows()))
    for line in report.conflict_lines():
        print(f"conflict: {line}", file=sys.stderr)
    return 1 if report.conflicts else 0
