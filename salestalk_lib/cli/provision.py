"""`salestalk provision` and `salestalk tables`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from salestalk_lib.cli.common import add_connection_args, connect_from_args, format_table, seed_tenant_ids
from salestalk_lib.contract.errors import ValidationFailed
from salestalk_lib.contract.quotas import table_limit_from_env
from salestalk_lib.ops.fleet import check_fleet_fits


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "provision",
        help="create the registry and tenants' tables (idempotent, drift-checked)",
        description="Create the tenants-metadata registry and each tenant's messages and metrics "
        "tables from the library's specs. Existing tables that match are left alone; a table that "
        "differs from its spec is an error naming the difference (exit 2). Without --tenant, the tenants "
        "of tenants.json in --seed-dir (default: the seed data); every record there is validated first, "
        "and a missing or unreadable file or a record that breaks the contract is exit 2, nothing created. "
        "Tags, point-in-time recovery and TTL are applied where the engine has the API; the 'unsupported' column "
        "names each setting the engine lacks ('unsupported on this engine').",
    )
    p.add_argument(
        "--tenant",
        action="append",
        metavar="ID",
        dest="tenants",
        help="provision this tenant (repeatable; default: the seed tenants)",
    )
    p.add_argument(
        "--seed-dir",
        type=Path,
        metavar="DIR",
        help="directory whose tenants.json names the tenants (default: seed_data)",
    )
    add_connection_args(p)
    p.set_defaults(func=run_provision)

    t = sub.add_parser(
        "tables",
        help="list SalesTalk tables: name, status, keys, GSIs, drift, PITR, TTL, tags",
        description="List every SalesTalk table on the endpoint with its status, key "
        "schema, GSIs, whether it matches its spec, and its point-in-time recovery, TTL and "
        "tags as the engine reports them ('unsupported on this engine' where it has no such "
        "API, as DynamoDB Local has none for PITR and tags).",
    )
    add_connection_args(t)
    t.set_defaults(func=run_tables)


def run_provision(args: argparse.Namespace) -> int:
    try:
        tenants = args.tenants if args.tenants else seed_tenant_ids(args.seed_dir)
    except ValidationFailed as exc:
        for v in exc.violations:
            print(v, file=sys.stderr)
        print(
            f"salestalk provision: {len(exc.violations)} problem(s) in tenants.json; nothing was provisioned",
            file=sys.stderr,
        )
        return 2
    with connect_from_args(args) as st:
        check_fleet_fits(st.storage, st.settings, tenants, table_limit_from_env(), what="provisioning these tenants")
        results = st.provision(tenants)
    rows = [
        {
            "table": r.table,
            "kind": str(r.kind),
            "tenant": r.tenant_id or "",
            "action": r.action,
            "changes": "; ".join(r.changes),
            "unsupported": "; ".join(r.unsupported),
        }
        for r in results
    ]
    print(format_table(rows))
    return 0


def run_tables(args: argparse.Namespace) -> int:
    with connect_from_args(args) as st:
        rows = st.tables(with_settings=True)
    print(format_table(rows))
    return 1 if any(not r["matches_spec"] for r in rows) else 0
