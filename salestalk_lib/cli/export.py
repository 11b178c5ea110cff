"""`salestalk export`: a tenant's tables, or the seed, in DynamoDB's S3 export format (what ImportTable reads)."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from salestalk_lib.cli.common import add_connection_args, connect_from_args, default_seed_dir, format_table
from salestalk_lib.contract.errors import InputError, ValidationFailed
from salestalk_lib.contract.keys import validate_tenant_id
from salestalk_lib.contract.settings import Settings
from salestalk_lib.ops.export import DEFAULT_BUCKET, DEFAULT_FILE_BYTES, ExportOptions, export_seed, export_tenant


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "export",
        help="write a tenant's tables (or the seed) in DynamoDB's S3 export format, which ImportTable accepts",
        description="Write each table as a full export in DynamoDB JSON, as ExportTableToPointInTime writes it: "
        'OUT/<table>/AWSDynamoDB/<ExportId>/ with gzip data files (one {"Item": ...} per line), '
        "manifest-files.json, manifest-summary.json and their .md5 checksums. Sync OUT to "
        "s3://BUCKET/PREFIX/ and point ImportTable at each export's data/ prefix (printed), with "
        "InputFormat DYNAMODB_JSON and InputCompressionType GZIP. With --tenant the live tables are "
        "read by Scan, page by page (not a point-in-time snapshot); with --seed the validated seed "
        "records are written (registry and every seed tenant's two tables), no DynamoDB needed. "
        "`salestalk audit --export OUT` checks the result. Exit 0, or 2 on bad input.",
    )
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--tenant", metavar="ID", help="export this tenant's messages and metrics tables")
    what.add_argument("--seed", action="store_true", help="export the seed data as import-ready tables")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="directory to write the exports under")
    p.add_argument(
        "--seed-dir", type=Path, metavar="DIR", help="with --seed: the seed directory (default: as `salestalk seed`)"
    )
    p.add_argument(
        "--s3-bucket",
        default=DEFAULT_BUCKET,
        metavar="BUCKET",
        help=f"the bucket the manifests name (default {DEFAULT_BUCKET})",
    )
    p.add_argument(
        "--s3-prefix",
        default="",
        metavar="PREFIX",
        help="the key prefix OUT will be synced to; each table's s3Prefix is PREFIX/<table> (default: none)",
    )
    p.add_argument(
        "--file-size",
        type=int,
        default=DEFAULT_FILE_BYTES,
        metavar="BYTES",
        help=f"uncompressed DynamoDB JSON per data file before the next is started (default {DEFAULT_FILE_BYTES})",
    )
    p.add_argument(
        "--at",
        metavar="TIME",
        help="a fixed export time (ISO 8601 with zone, e.g. 2025-01-01T00:00:00Z): export ids and file names "
        "are derived from it, so the same data gives the same files (notebooks, tests)",
    )
    p.add_argument("--page-size", type=int, metavar="N", help="with --tenant: items per Scan request")
    p.add_argument("--account", default="000000000000", help="with --seed: the account id in the table ARNs")
    add_connection_args(p)
    p.set_defaults(func=run_export)


def _at(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise InputError("--at", f"{text!r} is not an ISO 8601 time (e.g. 2025-01-01T00:00:00Z)") from None


def run_export(args: argparse.Namespace) -> int:
    options = ExportOptions(
        s3_bucket=args.s3_bucket, s3_prefix=args.s3_prefix, file_bytes=args.file_size, at=_at(args.at)
    )
    if args.seed:
        settings = Settings.from_env(table_prefix=args.table_prefix)
        try:
            results = export_seed(
                args.seed_dir or default_seed_dir(),
                args.out,
                settings=settings,
                region=args.region or "us-east-1",
                account=args.account,
                options=options,
            )
        except ValidationFailed as exc:
            for v in exc.violations:
                print(v, file=sys.stderr)
            print(f"salestalk export: {len(exc.violations)} violation(s); nothing was written", file=sys.stderr)
            return 2
    else:
        if args.seed_dir is not None:
            raise InputError("--seed-dir", "goes with --seed, not --tenant")
        validate_tenant_id(args.tenant)
        with connect_from_args(args) as st:
            results = export_tenant(st, args.tenant, args.out, options=options, page_size=args.page_size)
    print(format_table([r.row() for r in results]))
    items = sum(r.item_count for r in results)
    print(f"exported {items} item(s) in {len(results)} table(s) under {args.out}", file=sys.stderr)
    return 0
