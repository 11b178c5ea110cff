"""`salestalk tenant SUBCOMMAND`: the tenant command group.

Each sub-subcommand is a function `add_<name>(tenant_sub)` listed in
`SUBCOMMANDS`; it adds its parser and sets `func`. To add one (add, suspend,
activate, remove, list), write its `add_...` function here or in another module
and append it to `SUBCOMMANDS`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from salestalk_lib.cli import tenant_import, tenant_lifecycle
from salestalk_lib.contract.settings import DEFAULT_REGION, PREFIX_ENV
from salestalk_lib.iam.policies import PARTITIONS, PLACEHOLDER_ACCOUNT, ROLES, Deployment, policy_json


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "tenant",
        help="tenant commands: add, import, suspend, activate, remove, list, policy",
        description="Commands about one tenant. Run `salestalk tenant SUBCOMMAND --help` for each.",
    )
    tenant_sub = p.add_subparsers(dest="tenant_command", metavar="SUBCOMMAND")
    tenant_sub.required = True
    for add in SUBCOMMANDS:
        add(tenant_sub)


def add_policy(tenant_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = tenant_sub.add_parser(
        "policy",
        help="print a tenant role's IAM policy (JSON)",
        description="Print the IAM policy document of one role of one tenant: exact ARNs of the tenant's "
        "two tables and their indexes, and GetItem of its own registry item only (dynamodb:LeadingKeys). "
        "Talks to no endpoint.",
    )
    p.add_argument("tenant_id", metavar="ID", help="tenant id (validated before it is used)")
    p.add_argument("--role", required=True, choices=[str(r) for r in ROLES], help="which role's policy")
    p.add_argument("--account", help=f"AWS account id, 12 digits (default: the placeholder {PLACEHOLDER_ACCOUNT})")
    p.add_argument("--region", help=f"AWS region of the tables (default: AWS_REGION, else {DEFAULT_REGION})")
    p.add_argument("--partition", default="aws", choices=PARTITIONS, help="AWS partition (default: aws)")
    p.add_argument("--table-prefix", help=f"prefix of every table name (default: {PREFIX_ENV})")
    p.set_defaults(func=run_policy)


def run_policy(args: argparse.Namespace) -> int:
    deployment = Deployment(
        account=args.account or PLACEHOLDER_ACCOUNT,
        region=args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION,
        partition=args.partition,
        table_prefix=args.table_prefix if args.table_prefix is not None else os.environ.get(PREFIX_ENV, ""),
    )
    text = policy_json(args.tenant_id, args.role, deployment)
    if not args.account:
        print(
            f"note: no --account given, so the ARNs use the placeholder account {PLACEHOLDER_ACCOUNT}", file=sys.stderr
        )
    print(text)
    return 0


SUBCOMMANDS: tuple[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None], ...] = (
    *tenant_lifecycle.SUBCOMMANDS,
    tenant_import.add_import,
    add_policy,
)
