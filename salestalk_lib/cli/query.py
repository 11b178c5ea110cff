"""`salestalk query`: run one access pattern and print its items as a table."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from decimal import Decimal

from salestalk_lib.cli.common import add_connection_args, connect_from_args, format_table
from salestalk_lib.contract.errors import ContractError, TableNotFound
from salestalk_lib.contract.schemas import unix_seconds_attributes
from salestalk_lib.contract.tables import TableKind
from salestalk_lib.contract.times import format_instants
from salestalk_lib.dynamo.scope import TenantScope
from salestalk_lib.ops import patterns
from salestalk_lib.ops.connection import SalesTalk

DEFAULT_WIDTH = 60


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "query",
        help="run an access pattern (GetItem or Query, never Scan) and print the items",
        description="Run one of the contract's access patterns and print the items it returns as a "
        "table. Patterns on a tenant's tables need --tenant and run through that tenant's scope, so "
        "they can reach only its tables. All pages are read unless --limit stops early; then the "
        "token to resume with is printed.",
        epilog="Examples:\n"
        "  salestalk query --list\n"
        "  salestalk query metric_time_series --tenant acme-corp-001 --param subject=revenue \\\n"
        "      --param granularity=quarter --param start=2025-Q1 --param end=2025-Q4\n"
        "  salestalk query 10 --tenant acme-corp-001 --param subject=revenue --param period=2025-Q3 --explain\n"
        "  salestalk query 9 --tenant acme-corp-001 --example --output csv > revenue.csv\n"
        "\n"
        "--explain --format cli-json prints the request's parameters alone, in DynamoDB JSON: give them to\n"
        "aws dynamodb query|get-item --cli-input-json file://request.json (which of the two is printed on stderr).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("pattern", nargs="?", metavar="PATTERN", help="pattern name or number (see --list)")
    p.add_argument("--list", action="store_true", help="list the access patterns and exit")
    p.add_argument("--tenant", metavar="ID", help="the tenant whose tables the pattern reads")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a pattern parameter (repeatable); --list shows each pattern's parameters",
    )
    p.add_argument(
        "--example", action="store_true", help="use the pattern's example parameters (any --param overrides them)"
    )
    p.add_argument("--explain", action="store_true", help="print the exact first request as JSON instead of sending it")
    p.add_argument(
        "--format",
        choices=["json", "cli-json"],
        default="json",
        help="with --explain: json (the operation and its parameters) or cli-json (the parameters alone, for "
        "`aws dynamodb query|get-item --cli-input-json`; the AWS CLI subcommand is printed on stderr)",
    )
    p.add_argument(
        "--output",
        choices=["table", "json", "csv"],
        default="table",
        help="how to print the items: table (default), json (a list, numbers exact) or csv",
    )
    p.add_argument("--page-size", type=int, metavar="N", help="items per request (DynamoDB Limit)")
    p.add_argument("--limit", type=int, metavar="N", help="return at most N items, then print a resume token")
    p.add_argument("--resume", metavar="TOKEN", help="continue after a previous --limit")
    p.add_argument("--columns", metavar="A,B", help="only these columns, in this order")
    p.add_argument(
        "--max-width",
        type=int,
        default=DEFAULT_WIDTH,
        metavar="N",
        help="cut cells longer than N characters (0: never; default %(default)s)",
    )
    add_connection_args(p)
    p.set_defaults(func=run_query)


def _params(pattern: patterns.Pattern, args: argparse.Namespace) -> dict[str, str]:
    params: dict[str, str] = dict(pattern.example) if args.example else {}
    for text in args.param:
        name, sep, value = text.partition("=")
        if not sep or not name:
            raise ContractError(f"--param {text!r}: expected NAME=VALUE")
        params[name.strip()] = value
    return params


def _target(
    st: SalesTalk, pattern: patterns.Pattern, args: argparse.Namespace, params: dict[str, str]
) -> SalesTalk | TenantScope:
    """The connection for registry patterns, else the tenant's scope."""
    if pattern.table is TableKind.REGISTRY:
        if args.tenant is None:
            return st
        if pattern.number != 1:
            raise ContractError(f"pattern {pattern.name} reads the whole registry: drop --tenant")
        # --tenant on pattern 1 reads the tenant's own registry item through its scope.
        params.setdefault("tenant_id", args.tenant)
        return st.tenant(args.tenant)
    if args.tenant is None:
        raise ContractError(f"pattern {pattern.name} reads a tenant's tables: give --tenant ID")
    return st.tenant(args.tenant)


def _cut(value: object, width: int) -> object:
    # A map or a list of maps is shown as compact JSON: str() would print Python reprs (`Decimal('0.95')`).
    text = "" if value is None else str(_csv_cell(value) if _has_map(value) else value)
    return text if width <= 0 or len(text) <= width else text[: max(width - 1, 1)] + "…"


def to_json(value: object, indent: int = 2, level: int = 0) -> str:
    """`value` as JSON with every Decimal written with its own digits (never a float, never `Decimal('…')`)."""
    pad, inner = "\n" + " " * (indent * level), "\n" + " " * (indent * (level + 1))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ContractError(f"{value} is not a JSON number")
        return str(value)
    if isinstance(value, dict) and value:
        parts = [f"{json.dumps(str(k), ensure_ascii=False)}: {to_json(v, indent, level + 1)}" for k, v in value.items()]
        return "{" + inner + ("," + inner).join(parts) + pad + "}"
    if isinstance(value, (list, tuple)) and value:
        return "[" + inner + ("," + inner).join(to_json(v, indent, level + 1) for v in value) + pad + "]"
    return json.dumps(value, ensure_ascii=False)


def _has_map(value: object) -> bool:
    return isinstance(value, dict) or (isinstance(value, list) and any(isinstance(v, dict) for v in value))


def _csv_cell(value: object) -> object:
    """A cell for csv (and the table): maps and lists as compact JSON, None as empty."""
    if isinstance(value, (list, dict)):
        return to_json(value, 0).replace("\n", "")
    return "" if value is None else value


def run_query(args: argparse.Namespace) -> int:
    if args.list:
        print(format_table([patterns.describe(p) for p in patterns.PATTERNS]))
        return 0
    if not args.pattern:
        raise ContractError("name a PATTERN (or use --list)")
    pattern = patterns.get(args.pattern)
    params = _params(pattern, args)
    options = dict(page_size=args.page_size, limit=args.limit, resume=args.resume)
    with connect_from_args(args) as st:
        target = _target(st, pattern, args, params)
        if args.explain:
            for request in patterns.explain(target, pattern, params, page_size=args.page_size, resume=args.resume):
                if args.format == "cli-json":
                    print(request.to_cli_json())
                    print(
                        f"# run it with: aws dynamodb {request.cli_command} --cli-input-json file://FILE",
                        file=sys.stderr,
                    )
                else:
                    print(request.to_json())
            if pattern.operation(pattern.check_params(params)) == "Query":
                print(
                    "# later pages repeat this request with ExclusiveStartKey = the previous page's LastEvaluatedKey",
                    file=sys.stderr,
                )
            return 0
        try:
            result = patterns.run(target, pattern, params, **options)
        except TableNotFound:
            if isinstance(target, TenantScope) and target.registry_item() is None:
                raise ContractError(
                    f"tenant {target.tenant_id!r} is not registered (no item in {target.registry_table}); "
                    "register it with `salestalk tenant add`"
                ) from None
            raise
    columns = args.columns.split(",") if args.columns else result.columns()
    # Times (createdAt, timestamp, ttl, ...: unix seconds when stored) print as ISO-8601 UTC in every format.
    times = unix_seconds_attributes()
    shown = [format_instants(row, times) for row in result.rows()]
    if args.output == "json":
        print(to_json([{c: row[c] for c in columns if c in row} for row in shown]))
    elif args.output == "csv":
        writer = csv.DictWriter(sys.stdout, columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows({c: _csv_cell(row.get(c)) for c in columns} for row in shown)
    else:
        rows = [{c: _cut(row.get(c), args.max_width) for c in columns} for row in shown]
        print(format_table(rows, columns))
    print(
        f"{len(result)} item(s) from {result.requests[0].operation} on {result.table}"
        + (
            f" ({result.read} read, {result.read - len(result)} outside the asked period/granularity)"
            if result.read != len(result)
            else ""
        )
        + f"; {len(result.requests)} request(s)",
        file=sys.stderr,
    )
    if result.next_token:
        print(f"more items: resume with --resume {result.next_token}", file=sys.stderr)
    return 0
