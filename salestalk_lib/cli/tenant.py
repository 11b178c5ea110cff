"""`salestalk tenant SUBCOMMAND`: the tenant command group.

Each sub-subcommand is a function `add_<name>(tenant_sub)` listed in
`SUBCOMMANDS`; it adds its parser and sets `func`. To add one (add, suspend,
activate, remove, list), write its `add_...` function here or in another module
and append it to `SUBCOMMANDS`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable

from salestalk_lib.cli import tenant_import, tenant_lifecycle
from salestalk_lib.contract.settings import DEFAULT_REGION, PREFIX_ENV
from salestalk_lib.iam.policies import PARTITIONS, PLACEHOLDER_ACCOUNT, ROLES, Deployment, tenant_session


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
        help="show a tenant session: the role, its shared IAM policy and the session tags (JSON)",
        description="Show what one tenant's session at one access level runs under. The IAM is constant in the "
        "number of tenants: one role and one policy per access level, the tenant chosen by the session tag "
        "TenantId=<id> that the broker passes to sts:AssumeRole (which needs sts:TagSession). Prints JSON with "
        "roleArn, sessionTags, assumeRole (the AssumeRole parameters), requestContext (the aws:PrincipalTag key "
        "IAM derives), tables (the tenant's table ARNs, each tagged TenantId=<id>) and policy (the role's "
        "document: every Allow bound to ${aws:PrincipalTag/TenantId} by name and by aws:ResourceTag/TenantId, "
        "the registry by dynamodb:LeadingKeys). --policy-only prints just the policy document. "
        "Talks to no endpoint.",
    )
    p.add_argument("tenant_id", metavar="ID", help="tenant id (validated before it is used)")
    p.add_argument("--role", required=True, choices=[str(r) for r in ROLES], help="which access level")
    p.add_argument("--account", help=f"AWS account id, 12 digits (default: the placeholder {PLACEHOLDER_ACCOUNT})")
    p.add_argument("--region", help=f"AWS region of the tables (default: AWS_REGION, else {DEFAULT_REGION})")
    p.add_argument("--partition", default="aws", choices=PARTITIONS, help="AWS partition (default: aws)")
    p.add_argument("--table-prefix", help=f"prefix of every table name (default: {PREFIX_ENV})")
    p.add_argument(
        "--policy-only", action="store_true", help="print only the policy document (the same for every tenant)"
    )
    p.set_defaults(func=run_policy)


def run_policy(args: argparse.Namespace) -> int:
    deployment = Deployment(
        account=args.account or PLACEHOLDER_ACCOUNT,
        region=args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION,
        partition=args.partition,
        table_prefix=args.table_prefix if args.table_prefix is not None else os.environ.get(PREFIX_ENV, ""),
    )
    session = tenant_session(args.tenant_id, args.role, deployment)
    if not args.account:
        print(
            f"note: no --account given, so the ARNs use the placeholder account {PLACEHOLDER_ACCOUNT}", file=sys.stderr
        )
    print(json.dumps(session["policy"] if args.policy_only else session, indent=2))
    return 0


SUBCOMMANDS: tuple[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None], ...] = (
    *tenant_lifecycle.SUBCOMMANDS,
    tenant_import.add_import,
    add_policy,
)
