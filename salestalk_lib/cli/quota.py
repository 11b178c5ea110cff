"""`salestalk quota`: the fleet's AWS quotas in view (tables, GSIs, IAM objects), exit 1 above 80 % of any."""

from __future__ import annotations

import argparse
import json
from typing import Any

from salestalk_lib.cli.common import add_connection_args, connect_from_args, format_table
from salestalk_lib.contract.errors import ProvisioningError
from salestalk_lib.contract.quotas import (
    GSI_LIMIT,
    IAM_POLICY_LIMIT,
    IAM_ROLE_LIMIT,
    MAX_TABLE_LIMIT,
    TABLE_LIMIT_ENV,
    WARN_FRACTION,
    Usage,
    gsi_usage,
    table_limit_from_env,
    tenants_that_fit,
    validate_table_limit,
)
from salestalk_lib.contract.vocab import TenantStatus
from salestalk_lib.iam.footprint import iam_objects
from salestalk_lib.ops.connection import SalesTalk
from salestalk_lib.ops.tenants import Tenants


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "quota",
        help="tables, GSIs and IAM objects against their AWS quotas (exit 1 above 80 %%)",
        description="Report the tables in this account and region against the table quota (2,500 by "
        f"default; give a raised quota with --table-limit or {TABLE_LIMIT_ENV}; at most {MAX_TABLE_LIMIT:,}), "
        "how many more tenants fit (2 tables each, plus the registry), GSIs per table against 20, and the "
        f"IAM policies and roles the IAM design needs for the registered tenants (IAM defaults: "
        f"{IAM_POLICY_LIMIT:,} customer-managed policies, {IAM_ROLE_LIMIT:,} roles). Exit 1 when any usage is "
        f"above {WARN_FRACTION:.0%} of its limit, 0 otherwise. Reads ListTables and the registry's StatusIndex.",
    )
    p.add_argument(
        "--table-limit", metavar="N", help=f"the account's table quota (default: {TABLE_LIMIT_ENV}, else 2,500)"
    )
    p.add_argument("--gsi-limit", metavar="N", type=int, default=GSI_LIMIT, help="GSIs per table (default: 20)")
    p.add_argument("--output", choices=("table", "json"), default="table", help="output format (default: table)")
    add_connection_args(p)
    p.set_defaults(func=run_quota)


def quota_report(st: SalesTalk, table_limit: int, gsi_limit: int = GSI_LIMIT) -> dict[str, Any]:
    """The quota report of a connection: tables used and the limit, tenants that fit, every usage."""
    tables = st.storage.list_tables()
    registry_exists = st.settings.registry_table in tables
    tenants = 0
    if registry_exists:
        lifecycle = Tenants.of(st)
        tenants = sum(len(lifecycle.list(s)) for s in (TenantStatus.ACTIVE, TenantStatus.SUSPENDED))
    iam = iam_objects(tenants)
    usages = [
        Usage("tables", len(tables), table_limit, "account and region"),
        *(Usage(u.name, u.used, gsi_limit, u.per) for u in gsi_usage()),
        Usage("IAM customer-managed policies", iam.policies, IAM_POLICY_LIMIT, "account"),
        Usage("IAM roles", iam.roles, IAM_ROLE_LIMIT, "account"),
    ]
    return {
        "tables": {
            "used": len(tables),
            "limit": table_limit,
            "hardCeiling": MAX_TABLE_LIMIT,
            "registryExists": registry_exists,
            "tenantsThatFit": tenants_that_fit(table_limit, len(tables), registry_exists=registry_exists),
        },
        "tenants": tenants,
        "iamDesign": iam.design,
        "warnAbove": WARN_FRACTION,
        "usages": [
            {
                "quota": u.name,
                "used": u.used,
                "limit": u.limit,
                "per": u.per,
                "percent": round(100 * u.fraction, 2),
                "aboveWarning": u.over_warning,
            }
            for u in usages
        ],
    }


def run_quota(args: argparse.Namespace) -> int:
    limit = validate_table_limit(args.table_limit) if args.table_limit is not None else table_limit_from_env()
    if args.gsi_limit < 1:
        raise ProvisioningError(f"--gsi-limit must be ≥ 1, got {args.gsi_limit}")
    with connect_from_args(args) as st:
        report = quota_report(st, limit, args.gsi_limit)
    over = [u for u in report["usages"] if u["aboveWarning"]]
    if args.output == "json":
        print(json.dumps(report, indent=2))
    else:
        t = report["tables"]
        print(
            f"tables: {t['used']:,} of {t['limit']:,} in this account and region; "
            f"{t['tenantsThatFit']:,} more tenant(s) fit; {report['tenants']:,} tenant(s) registered"
        )
        rows = [
            {
                "quota": u["quota"],
                "used": f"{u['used']:,}",
                "limit": f"{u['limit']:,}",
                "per": u["per"],
                "use": f"{u['percent']:g} %",
                "status": f"above {WARN_FRACTION:.0%}" if u["aboveWarning"] else "ok",
            }
            for u in report["usages"]
        ]
        print(format_table(rows))
        print(f"IAM design: {report['iamDesign']}")
        if over:
            print(
                f"{len(over)} quota(s) above {WARN_FRACTION:.0%}: raise them (tables up to {MAX_TABLE_LIMIT:,} per "
                "account and region) or shard tenants across accounts (Operations page: 'Past one account')"
            )
    return 1 if over else 0
