"""The AWS quotas a table-per-tenant fleet runs into, and the arithmetic against them (pure: no boto3).

Table-per-tenant means `TABLES_PER_TENANT` tables per tenant (messages, metrics) plus the
shared registry. DynamoDB's default quota is 2,500 tables per account and region; it can
be raised on request, to a hard ceiling of 10,000 (past that: more accounts or regions).
A table may have at most 20 GSIs, and at most 500 table operations (CreateTable,
UpdateTable, DeleteTable, ...) may be in progress at once per account and region: a
CreateTable counts until its table is ACTIVE; beyond that DynamoDB answers
`LimitExceededException`.

`salestalk quota` reports usage against these limits (exit 1 above `WARN_FRACTION` of
any), provisioning refuses a fleet that would cross the table limit (`check_tables_fit`),
and the Operations page renders `fleet_rows` from here, so the docs and the code share
one arithmetic.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from salestalk_lib.contract.errors import ProvisioningError, ValidationFailed, Violation
from salestalk_lib.contract.tables import REGISTRY, TENANT_TABLE_SPECS, TableSpec

DEFAULT_TABLE_LIMIT = 2_500
"""DynamoDB's default quota: tables per account and region."""
MAX_TABLE_LIMIT = 10_000
"""The hard ceiling the table quota can be raised to (per account and region)."""
GSI_LIMIT = 20
"""Global secondary indexes per table (default quota)."""
MAX_CONCURRENT_TABLE_OPERATIONS = 500
"""Table operations in progress at once per account and region (CreateTable counts until ACTIVE)."""
WARN_FRACTION = 0.8
"""`salestalk quota` exits 1 when any usage is above this share of its limit."""
IAM_POLICY_LIMIT = 1_500
"""IAM's default quota of customer-managed policies per account."""
IAM_ROLE_LIMIT = 1_000
"""IAM's default quota of roles per account."""
TABLE_LIMIT_ENV = "SALESTALK_TABLE_LIMIT"
"""The account's table quota, when raised above the default (read by provisioning and `salestalk quota`)."""

TABLES_PER_TENANT = len(TENANT_TABLE_SPECS)
"""Tables each tenant adds (its messages and metrics tables)."""
SHARED_TABLES = 1
"""Tables the fleet has whatever its size: the registry."""
FLEET_SIZES = (10, 100, 1_000, 5_000)
"""Tenant counts the Operations page shows the arithmetic for."""


class QuotaExceeded(ProvisioningError):
    """Provisioning would cross a quota: refused before anything is created."""


def tables_for(tenants: int) -> int:
    """Tables a fleet of `tenants` tenants needs: 2 per tenant plus the registry."""
    return TABLES_PER_TENANT * tenants + SHARED_TABLES


def tenants_that_fit(limit: int, tables_used: int, *, registry_exists: bool = True) -> int:
    """How many more tenants fit under `limit` when `tables_used` tables exist (the registry needs one if absent)."""
    free = limit - tables_used - (0 if registry_exists else SHARED_TABLES)
    return max(0, free // TABLES_PER_TENANT)


def validate_table_limit(value: object, where: str = "--table-limit") -> int:
    """A table limit: a whole number from 1 to `MAX_TABLE_LIMIT` (AWS's hard ceiling), else ValidationFailed."""
    try:
        number = int(str(value).strip().replace("_", "").replace(",", ""))
    except ValueError:
        raise ValidationFailed([Violation(where, "table limit", f"must be a whole number, got {value!r}")]) from None
    if not 1 <= number <= MAX_TABLE_LIMIT:
        raise ValidationFailed(
            [
                Violation(
                    where,
                    "table limit",
                    f"must be between 1 and {MAX_TABLE_LIMIT:,} (DynamoDB's hard ceiling per account and "
                    f"region; past it, shard tenants across accounts), got {number:,}",
                )
            ]
        )
    return number


def table_limit_from_env(environ: Mapping[str, str] | None = None) -> int:
    """The table limit in force: `SALESTALK_TABLE_LIMIT` if set (validated), else the default 2,500."""
    env = os.environ if environ is None else environ
    raw = env.get(TABLE_LIMIT_ENV, "").strip()
    return validate_table_limit(raw, TABLE_LIMIT_ENV) if raw else DEFAULT_TABLE_LIMIT


def check_tables_fit(tables_used: int, new_tables: int, limit: int, *, what: str) -> None:
    """Raise QuotaExceeded, saying why and what to do, when `new_tables` more would cross `limit`."""
    if tables_used + new_tables <= limit:
        return
    over = tables_used + new_tables - limit
    raise QuotaExceeded(
        f"{what} needs {new_tables:,} new table(s); {tables_used:,} of the {limit:,} tables allowed in this "
        f"account and region are in use, so it would exceed the table quota by {over:,}. Nothing was created. "
        f"Raise the quota (Service Quotas, DynamoDB 'Maximum number of tables', up to {MAX_TABLE_LIMIT:,}) "
        f"and pass --table-limit or set {TABLE_LIMIT_ENV}, or shard tenants across accounts/regions "
        "(Operations page: 'Past one account')"
    )


@dataclass(frozen=True)
class Usage:
    """One quota: what is used of how much (`per` says per what: account and region, table, ...)."""

    name: str
    used: int
    limit: int
    per: str

    @property
    def fraction(self) -> float:
        return self.used / self.limit if self.limit else 1.0

    @property
    def over_warning(self) -> bool:
        """Above `WARN_FRACTION` of the limit."""
        return self.fraction > WARN_FRACTION


def gsi_usage(specs: Sequence[TableSpec] = (REGISTRY, *TENANT_TABLE_SPECS)) -> list[Usage]:
    """GSIs per table kind against the 20-per-table limit."""
    return [Usage(f"GSIs on the {spec.kind} table", len(spec.indexes), GSI_LIMIT, "table") for spec in specs]


def fleet_rows(
    sizes: Sequence[int] = FLEET_SIZES,
    *,
    iam_policies: object = None,
    iam_roles: object = None,
    limits: Sequence[int] = (DEFAULT_TABLE_LIMIT, MAX_TABLE_LIMIT),
) -> list[dict[str, object]]:
    """For each fleet size: tables needed, share of each table limit, accounts needed, IAM objects.

    `iam_policies` / `iam_roles` are functions of the tenant count (the IAM design's footprint);
    omitted, those columns are left out.
    """
    rows: list[dict[str, object]] = []
    for n in sizes:
        tables = tables_for(n)
        row: dict[str, object] = {"tenants": f"{n:,}", "tables": f"{tables:,}"}
        for limit in limits:
            row[f"of {limit:,}"] = _share(tables, limit)
        row["accounts at 10,000"] = f"{accounts_needed(n, MAX_TABLE_LIMIT):,}"
        if callable(iam_policies):
            row["IAM policies"] = f"{iam_policies(n):,}: {_share(iam_policies(n), IAM_POLICY_LIMIT)}"
        if callable(iam_roles):
            row["IAM roles"] = f"{iam_roles(n):,}: {_share(iam_roles(n), IAM_ROLE_LIMIT)}"
        rows.append(row)
    return rows


def _share(used: int, limit: int) -> str:
    """`used` as a share of `limit` ("80.0 %"), marked when above the warning line or over the limit."""
    percent = 100 * used / limit
    digits = 2 if round(percent, 1) == round(100 * WARN_FRACTION, 1) else 1  # 80.04 % is above the line
    text = f"{percent:,.{digits}f} %"
    if used > limit:
        return text + " (over)"
    return text + (f" (above {WARN_FRACTION:.0%})" if used / limit > WARN_FRACTION else "")


def accounts_needed(tenants: int, table_limit: int = MAX_TABLE_LIMIT) -> int:
    """Account/region cells a fleet needs when each cell holds a registry and at most `table_limit` tables."""
    per_cell = tenants_that_fit(table_limit, 0, registry_exists=False)
    return max(1, -(-tenants // per_cell))


__all__ = [
    "DEFAULT_TABLE_LIMIT",
    "FLEET_SIZES",
    "GSI_LIMIT",
    "IAM_POLICY_LIMIT",
    "IAM_ROLE_LIMIT",
    "MAX_CONCURRENT_TABLE_OPERATIONS",
    "MAX_TABLE_LIMIT",
    "SHARED_TABLES",
    "TABLES_PER_TENANT",
    "TABLE_LIMIT_ENV",
    "WARN_FRACTION",
    "QuotaExceeded",
    "Usage",
    "accounts_needed",
    "check_tables_fit",
    "fleet_rows",
    "gsi_usage",
    "table_limit_from_env",
    "tables_for",
    "tenants_that_fit",
    "validate_table_limit",
]
