"""Per-tenant IAM policies for the reader, writer and admin roles, derived from the table specs.

Every policy names exact ARNs: the tenant's two tables and, for each GSI in
`tables.TENANT_TABLE_SPECS`, `.../table/{name}/index/{IndexName}`. There is no
wildcard in any Allow: a prefix such as `tenant-acme-*` would also match
`tenant-acme-evil-messages`, another tenant's table. The registry is reached only
through `dynamodb:GetItem` on its own item, enforced with `dynamodb:LeadingKeys`.

| role | own tables | own indexes | registry (`tenants-metadata`) |
|---|---|---|---|
| reader | GetItem, BatchGetItem, Query, DescribeTable | Query | GetItem of its own item |
| writer | reader + PutItem, UpdateItem, DeleteItem, BatchWriteItem, ConditionCheckItem | Query | GetItem of its own item |
| admin | writer + Scan, DescribeTimeToLive, DescribeContinuousBackups | Query | GetItem of its own item; explicit Deny of `ADMIN_DENIED` everywhere |

Deliberately absent: `Scan` below admin and PartiQL everywhere (the access
patterns are Query/GetItem only, and the tenant-scoped handle refuses them too;
admin's Scan is `salestalk audit`'s read of its own two tables), `ListTables` and every
other account-wide action (they need `Resource: "*"` and would reveal other
tenants' table names), registry writes (status and plan are the platform's, a
tenant that could write its own item could reactivate itself), and table
creation or deletion (onboarding and offboarding run as the platform, never as a
tenant role).

**What an admin may not do, even if another policy allowed it.** A tenant's roles
work on its data; the tables themselves are the platform's (contract §1: SSE,
point-in-time recovery, tags and TTL are set by provisioning). So the admin role
carries an explicit Deny, which no Allow of any other attached policy overrides,
of every action in `ADMIN_DENIED`, grouped there by why:

- table lifecycle and schema: CreateTable, DeleteTable, UpdateTable, ImportTable;
- the contract's settings: UpdateContinuousBackups (PITR stays on) and
  UpdateTimeToLive (TTL on another attribute, `timestamp` say, would expire every
  message; TTL on `ttl` is a provisioning choice), so the admin may read both
  settings (Describe*) but change neither;
- tags: TagResource, UntagResource (`TenantId` names a table's tenant, and
  tag-based access control keys on it);
- recovery points and copies of the data: CreateBackup, DeleteBackup,
  RestoreTableFromBackup, RestoreTableToPointInTime, ExportTableToPointInTime,
  StartAwsBackupJob, RestoreTableFromAwsBackup (a backup or an export outlives the
  table, so offboarding would not remove the data; deleting one destroys a
  recovery point; a restore creates a table);
- who else may reach the table: PutResourcePolicy, DeleteResourcePolicy (a
  resource policy can grant other principals and accounts, or was the platform's
  own guard);
- copies outside the table: Enable/Update/DisableKinesisStreamingDestination
  (every change streamed elsewhere), CreateTableReplica, DeleteTableReplica,
  CreateGlobalTable, UpdateGlobalTable, UpdateGlobalTableSettings,
  UpdateGlobalTableVersion, UpdateTableReplicaAutoScaling (replicas in other regions).

Left out on purpose: reads of settings (DescribeTable, DescribeTimeToLive,
DescribeContinuousBackups, which the admin may use) and UpdateContributorInsights
(monitoring; it neither changes, copies nor exposes data).

Pure: builds plain dicts, never calls AWS.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from salestalk_lib.contract.errors import ConfigurationError, ContractError
from salestalk_lib.contract.keys import validate_tenant_id
from salestalk_lib.contract.settings import DEFAULT_REGION, Settings
from salestalk_lib.contract.tables import REGISTRY, TENANT_TABLE_SPECS, TableSpec

POLICY_VERSION = "2012-10-17"
LEADING_KEYS = "dynamodb:LeadingKeys"

# The documentation example account: used only when no account is given, so a
# printed policy is visibly a template and never silently points at a real one.
PLACEHOLDER_ACCOUNT = "123456789012"
PARTITIONS = ("aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc")
_ACCOUNT_RE = re.compile(r"^[0-9]{12}$")
_REGION_RE = re.compile(r"^[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}$")


class Role(StrEnum):
    """What a tenant principal may do with its own tables."""

    READER = "reader"
    WRITER = "writer"
    ADMIN = "admin"


ROLES: tuple[Role, ...] = tuple(Role)

_READ = ("dynamodb:BatchGetItem", "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:Query")
# ConditionCheckItem is what a TransactWriteItems condition check is authorised as.
_WRITE = (
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
)
# Scan: `salestalk audit` reads every item of the tenant's own two tables (never an index or the registry).
# Reads of settings only: TTL and PITR are provisioning's (see ADMIN_DENIED).
_MANAGE = ("dynamodb:DescribeContinuousBackups", "dynamodb:DescribeTimeToLive", "dynamodb:Scan")

TABLE_ACTIONS: Mapping[Role, tuple[str, ...]] = {
    Role.READER: tuple(sorted(_READ)),
    Role.WRITER: tuple(sorted(_READ + _WRITE)),
    Role.ADMIN: tuple(sorted(_READ + _WRITE + _MANAGE)),
}
# Query is the only action DynamoDB authorises against an index ARN that the access patterns use.
INDEX_ACTIONS: tuple[str, ...] = ("dynamodb:Query",)
REGISTRY_ACTIONS: tuple[str, ...] = ("dynamodb:GetItem",)
# An explicit Deny wins over any Allow, so no other policy attached to an admin role can hand
# it any of these (why each group: the module docstring).
ADMIN_DENIED: Mapping[str, tuple[str, ...]] = {
    "table lifecycle and schema": ("CreateTable", "DeleteTable", "UpdateTable", "ImportTable"),
    "the contract's settings": ("UpdateContinuousBackups", "UpdateTimeToLive"),
    "tags": ("TagResource", "UntagResource"),
    "recovery points and copies of the data": (
        "CreateBackup",
        "DeleteBackup",
        "RestoreTableFromBackup",
        "RestoreTableToPointInTime",
        "ExportTableToPointInTime",
        "StartAwsBackupJob",
        "RestoreTableFromAwsBackup",
    ),
    "who else may reach the table": ("PutResourcePolicy", "DeleteResourcePolicy"),
    "copies outside the table": (
        "EnableKinesisStreamingDestination",
        "UpdateKinesisStreamingDestination",
        "DisableKinesisStreamingDestination",
        "CreateTableReplica",
        "DeleteTableReplica",
        "CreateGlobalTable",
        "UpdateGlobalTable",
        "UpdateGlobalTableSettings",
        "UpdateGlobalTableVersion",
        "UpdateTableReplicaAutoScaling",
    ),
}
ADMIN_DENIED_ACTIONS: tuple[str, ...] = tuple(sorted(f"dynamodb:{a}" for group in ADMIN_DENIED.values() for a in group))


@dataclass(frozen=True)
class Deployment:
    """Where the tables live: partition, region, account and table-name prefix."""

    account: str = PLACEHOLDER_ACCOUNT
    region: str = DEFAULT_REGION
    partition: str = "aws"
    table_prefix: str = ""

    def __post_init__(self) -> None:
        # Each part goes verbatim into an ARN, so none may carry a wildcard or separator.
        if not isinstance(self.account, str) or not _ACCOUNT_RE.fullmatch(self.account):
            raise ConfigurationError(f"AWS account must be 12 digits, got {self.account!r}")
        if not isinstance(self.region, str) or not _REGION_RE.fullmatch(self.region):
            raise ConfigurationError(f"AWS region must look like us-east-1, got {self.region!r}")
        if self.partition not in PARTITIONS:
            raise ConfigurationError(f"AWS partition must be one of {', '.join(PARTITIONS)}, got {self.partition!r}")
        Settings(table_prefix=self.table_prefix)  # the same prefix rule as table names

    @property
    def settings(self) -> Settings:
        return Settings(table_prefix=self.table_prefix)

    def table_arn(self, table_name: str) -> str:
        """`arn:{partition}:dynamodb:{region}:{account}:table/{name}`."""
        return f"arn:{self.partition}:dynamodb:{self.region}:{self.account}:table/{table_name}"

    @property
    def registry_arn(self) -> str:
        return self.table_arn(self.settings.table_name(REGISTRY))


def index_arn(table_arn: str, index_name: str) -> str:
    """`{table ARN}/index/{IndexName}`."""
    return f"{table_arn}/index/{index_name}"


@dataclass(frozen=True)
class TenantArns:
    """Every ARN one tenant's policies may name: its tables, their indexes, the registry."""

    tenant_id: str
    tables: tuple[str, ...]
    indexes: tuple[str, ...]
    registry: str
    registry_indexes: tuple[str, ...]


def tenant_arns(tenant_id: str, deployment: Deployment | None = None) -> TenantArns:
    """The exact table and index ARNs of `tenant_id` (validated first) in `deployment`."""
    tenant_id = validate_tenant_id(tenant_id)
    dep = deployment or Deployment()
    table_arns = {spec: dep.table_arn(dep.settings.table_name(spec, tenant_id)) for spec in TENANT_TABLE_SPECS}
    return TenantArns(
        tenant_id=tenant_id,
        tables=tuple(table_arns.values()),
        indexes=tuple(index_arn(arn, idx.name) for spec, arn in table_arns.items() for idx in spec.indexes),
        registry=dep.registry_arn,
        registry_indexes=tuple(index_arn(dep.registry_arn, idx.name) for idx in REGISTRY.indexes),
    )


def role_of(role: Role | str) -> Role:
    """`role` as a Role; anything but reader, writer or admin raises ContractError."""
    try:
        return Role(role)
    except ValueError as exc:
        raise ContractError(f"role must be one of {', '.join(ROLES)}, got {role!r}") from exc


def policy_document(tenant_id: str, role: Role | str, deployment: Deployment | None = None) -> dict[str, Any]:
    """The IAM policy document for `role` of `tenant_id` (validated before use)."""
    tenant_id = validate_tenant_id(tenant_id)
    dep = deployment or Deployment()
    tables = [(spec, dep.table_arn(dep.settings.table_name(spec, tenant_id))) for spec in TENANT_TABLE_SPECS]
    return build_document(role_of(role), tables=tables, registry_arn=dep.registry_arn, leading_key=tenant_id)


def build_document(
    role: Role, *, tables: Sequence[tuple[TableSpec, str]], registry_arn: str, leading_key: str
) -> dict[str, Any]:
    """The policy structure, with the ARNs and leading key given verbatim.

    `policy_document` passes real ARNs; the Terraform generator passes Terraform
    references, so both come from this one function. Callers validate their inputs.
    """
    statements: list[dict[str, Any]] = [
        {
            "Sid": "OwnTables",
            "Effect": "Allow",
            "Action": list(TABLE_ACTIONS[role]),
            "Resource": [arn for _, arn in tables],
        },
        {
            "Sid": "OwnIndexes",
            "Effect": "Allow",
            "Action": list(INDEX_ACTIONS),
            "Resource": [index_arn(arn, idx.name) for spec, arn in tables for idx in spec.indexes],
        },
        {
            "Sid": "OwnRegistryItem",
            "Effect": "Allow",
            "Action": list(REGISTRY_ACTIONS),
            "Resource": [registry_arn],
            "Condition": {
                # Every partition key the request touches must be the tenant's own id ...
                "ForAllValues:StringEquals": {LEADING_KEYS: [leading_key]},
                # ... and the request must name one: ForAllValues is true on an empty
                # set, so without this a keyless request (a Scan) would pass.
                "Null": {LEADING_KEYS: "false"},
            },
        },
    ]
    if role is Role.ADMIN:
        statements.append(
            {
                "Sid": "NoTableSettingsOrCopies",
                "Effect": "Deny",
                "Action": list(ADMIN_DENIED_ACTIONS),
                "Resource": "*",
            }
        )
    return {"Version": POLICY_VERSION, "Statement": statements}


def policy_json(tenant_id: str, role: Role | str, deployment: Deployment | None = None, *, indent: int = 2) -> str:
    """`policy_document` as JSON text, keys in a stable order."""
    return json.dumps(policy_document(tenant_id, role, deployment), indent=indent)


def policies_for(
    tenant_ids: Iterable[str], deployment: Deployment | None = None, roles: Iterable[Role | str] = ROLES
) -> dict[tuple[str, Role], dict[str, Any]]:
    """Every (tenant, role) policy document for `tenant_ids` (each id validated)."""
    role_list = [role_of(r) for r in roles]
    return {(validate_tenant_id(t), r): policy_document(t, r, deployment) for t in tenant_ids for r in role_list}
