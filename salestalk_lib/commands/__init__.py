"""Subcommands of the `salestalk` CLI; each module has `register(subparsers)`.

Shared here: the connection options every database command takes, and a plain
table printer.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..connection import SalesTalk, connect
from ..keys import validate_tenant_id
from ..settings import ENVIRONMENTS, Settings

REPO_ROOT = Path(__file__).resolve().parents[2]


def add_connection_args(parser: argparse.ArgumentParser) -> None:
    """--endpoint-url, --allow-aws, --local-host, --region, --profile, --table-prefix, --environment."""
    g = parser.add_argument_group("connection")
    g.add_argument("--endpoint-url", metavar="URL",
                   help="DynamoDB endpoint (default: AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL, "
                        "else a temporary embedded server); used without --allow-aws only when its host "
                        "is loopback or a --local-host")
    g.add_argument("--allow-aws", action="store_true", default=None,
                   help="allow a real AWS account, or any endpoint that is not local "
                        "(same as SALESTALK_ALLOW_AWS=1)")
    g.add_argument("--local-host", action="append", default=[], metavar="HOST",
                   help="a host besides loopback that runs a local emulator, e.g. a container name "
                        "(repeatable; added to SALESTALK_LOCAL_HOSTS, a comma-separated list); "
                        "signed with dummy credentials, never your AWS keys")
    g.add_argument("--region", help="AWS region (default: AWS_REGION or us-east-1)")
    g.add_argument("--profile", help="AWS profile (default: AWS_PROFILE)")
    g.add_argument("--table-prefix", help="prefix for every table name (default: SALESTALK_TABLE_PREFIX)")
    g.add_argument("--environment", choices=ENVIRONMENTS,
                   help="Environment tag on created tables (default: SALESTALK_ENVIRONMENT or local)")


# Argument names that carry tenant ids, across every subcommand.
TENANT_ARGS = ("tenant", "tenants", "tenant_id")


def connect_from_args(args: argparse.Namespace) -> SalesTalk:
    """Connect using the connection options; warn when the endpoint is a throwaway embedded one.

    Every tenant id among the arguments is validated first, so a hostile id is refused
    before an endpoint is resolved or a server started, let alone a request sent.
    """
    for name in TENANT_ARGS:
        value = getattr(args, name, None)
        for tenant_id in (value if isinstance(value, list) else [value]):
            if tenant_id is not None:
                validate_tenant_id(tenant_id)
    from_env = Settings.from_env()
    settings = Settings.from_env(table_prefix=args.table_prefix, environment=args.environment,
                                 allow_aws=args.allow_aws,
                                 local_hosts=(*from_env.local_hosts, *getattr(args, "local_host", ())))
    st = connect(args.endpoint_url, settings=settings, region=args.region, profile=args.profile)
    if st.endpoint.embedded:
        print("note: no endpoint configured, so this runs on a temporary embedded DynamoDB that stops "
              "when the command exits. To keep data, run `salestalk serve` in another shell and "
              "export the AWS_ENDPOINT_URL_DYNAMODB line it prints.", file=sys.stderr)
    return st


def seed_tenant_ids(seed_dir: Path | None = None) -> list[str]:
    """The tenant ids in `seed_data/tenants.json` (the default tenants to provision)."""
    path = (seed_dir or default_seed_dir()) / "tenants.json"
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    if isinstance(records, Mapping):
        records = [records]
    return [r["tenantId"] for r in records if isinstance(r, Mapping) and "tenantId" in r]


def default_seed_dir() -> Path:
    """`./seed_data` if present, else the repository's seed_data."""
    local = Path("seed_data")
    return local if local.is_dir() else REPO_ROOT / "seed_data"


def format_table(rows: Sequence[Mapping[str, Any]], columns: Iterable[str] | None = None) -> str:
    """Rows as a plain aligned text table (no colour, stable for tests and pipes)."""
    cols = list(columns) if columns is not None else (list(rows[0]) if rows else [])
    if not rows:
        return "(no rows)"
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths)).rstrip()  # noqa: E731
    return "\n".join([line(cols), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)
