"""IAM that does not grow with tenants: one role per access level, tenant chosen by a session tag.

**The design (attribute-based access control, ABAC).** There are exactly three IAM roles
and three customer-managed policies for the whole deployment, one per access level
(reader, writer, admin), whatever the number of tenants. A tenant's session is the role
assumed by the platform's broker with one session tag, `TenantId=<id>`
(`sts:AssumeRole` with `Tags`, which needs `sts:TagSession`; `assume_role_request`).
Every Allow is bound to that tag twice:

- `Resource` names the tenant's tables through the policy variable
  `${aws:PrincipalTag/TenantId}` (`table/{prefix}tenant-${aws:PrincipalTag/TenantId}-messages`,
  its `-metrics` twin, and their GSIs by exact index name: no prefix wildcard, so
  `acme` never matches `acme-eu`'s tables);
- `Condition` requires `aws:ResourceTag/TenantId` (the table's own tag, which its
  indexes inherit) to equal `${aws:PrincipalTag/TenantId}`: a table whose tag is
  missing or names another tenant is reachable by no tenant, even under the right name;
- the registry (`tenants-metadata`) is reached only as `dynamodb:GetItem` of the item
  whose key is the principal tag (`dynamodb:LeadingKeys`, `ForAllValues` + a `Null`
  guard, so a keyless request such as a Scan does not pass vacuously).

Two explicit Denies in every role, which no Allow of any other attached policy overrides:
`NoTenantTag` (every DynamoDB action when the principal carries no `TenantId` tag: a
session the broker forgot to tag reaches nothing, instead of everything a policy
variable might resolve to) and `NoRetagging` (`TagResource`, `UntagResource`: the tag is
the authority, so no tenant may move a table into its reach or out of another's).

**Why ABAC and not generated session policies.** Both keep the IAM object count
constant. A generated session policy is built per session from the tenant id and passed
to AssumeRole; the role itself must then allow every tenant's tables, so a broker that
omits or mis-builds the session policy hands out all tenants, the document is
security-critical code run on every request, and it must fit the 2,048-character
session policy limit. With ABAC the security-critical document is fixed, reviewed,
linted and proven once (the isolation matrix of `devtools.isolation`), and the failure
modes close: no tag, wrong tag or an untagged table all mean no access. The cost: the
table's `TenantId` tag becomes part of the security boundary (provisioning sets it and
no tenant role may change it), and DynamoDB ABAC must be on in the account (on by
default for most accounts; where it is off, tag conditions evaluate as if no tags were
present, so these policies fail closed: nothing is reachable).

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
  the tag-based access control keys on it; with ABAC every role denies these, `NoRetagging`);
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

The Deny list is kept whole under ABAC: ABAC decides *whose* tables a session reaches,
not *what* it may do to them, so none of it becomes moot (only the tag actions are now
denied to every role, not just admin).

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


# The policy variable and the condition keys the ABAC design rests on.
TENANT_TAG = "TenantId"
PRINCIPAL_TAG = f"aws:PrincipalTag/{TENANT_TAG}"
RESOURCE_TAG = f"aws:ResourceTag/{TENANT_TAG}"
TENANT_VARIABLE = "${" + PRINCIPAL_TAG + "}"
# Denied to every role: the table tag is the authority, so no tenant session may change it.
RETAGGING_ACTIONS: tuple[str, ...] = ("dynamodb:TagResource", "dynamodb:UntagResource")
ROLE_PATH = "/salestalk/"
SESSION_DURATION_SECONDS = 3600
# IAM objects of this design, whatever the number of tenants (for quota arithmetic).
IAM_OBJECTS: Mapping[str, int] = {"roles": len(ROLES), "customer_managed_policies": len(ROLES)}
_IAM_NAME_MAX = 64  # role names
_SENTINEL = "tenant0sentinel0id"


def iam_objects(tenant_count: int) -> dict[str, int]:
    """The IAM roles and customer-managed policies the design needs for `tenant_count` tenants: constant."""
    if tenant_count < 0:
        raise ContractError(f"tenant count must be >= 0, got {tenant_count}")
    return dict(IAM_OBJECTS)


def role_name(role: Role | str, deployment: Deployment | None = None) -> str:
    """`{table_prefix}salestalk-tenant-{role}`: one IAM role (and one policy of that name) per access level."""
    dep = deployment or Deployment()
    name = f"{dep.table_prefix}salestalk-tenant-{role_of(role)}"
    if len(name) > _IAM_NAME_MAX:
        raise ConfigurationError(f"IAM role name {name!r} is over {_IAM_NAME_MAX} characters: shorten the table prefix")
    return name


def role_arn(role: Role | str, deployment: Deployment | None = None) -> str:
    """`arn:{partition}:iam::{account}:role/salestalk/{role_name}`."""
    dep = deployment or Deployment()
    return f"arn:{dep.partition}:iam::{dep.account}:role{ROLE_PATH}{role_name(role, dep)}"


def tenant_table_arn_templates(deployment: Deployment | None = None) -> list[tuple[TableSpec, str]]:
    """Each tenant table spec with its ARN, the tenant id replaced by `${aws:PrincipalTag/TenantId}`."""
    dep = deployment or Deployment()
    return [
        (spec, dep.table_arn(dep.settings.table_name(spec, _SENTINEL)).replace(_SENTINEL, TENANT_VARIABLE))
        for spec in TENANT_TABLE_SPECS
    ]


def role_policy_document(role: Role | str, deployment: Deployment | None = None) -> dict[str, Any]:
    """The one IAM policy document of access level `role` in `deployment`, shared by every tenant."""
    dep = deployment or Deployment()
    return build_document(role_of(role), tables=tenant_table_arn_templates(dep), registry_arn=dep.registry_arn)


def build_document(role: Role, *, tables: Sequence[tuple[TableSpec, str]], registry_arn: str) -> dict[str, Any]:
    """The policy structure, with the table ARN templates and registry ARN given verbatim.

    `role_policy_document` passes real ARNs; the Terraform generator passes Terraform
    references, so both come from this one function. Callers validate their inputs.
    """
    own_tag = {"StringEquals": {RESOURCE_TAG: TENANT_VARIABLE}}
    statements: list[dict[str, Any]] = [
        {
            "Sid": "OwnTables",
            "Effect": "Allow",
            "Action": list(TABLE_ACTIONS[role]),
            "Resource": [arn for _, arn in tables],
            "Condition": own_tag,
        },
        {
            "Sid": "OwnIndexes",
            "Effect": "Allow",
            "Action": list(INDEX_ACTIONS),
            "Resource": [index_arn(arn, idx.name) for spec, arn in tables for idx in spec.indexes],
            # Indexes inherit their table's tags.
            "Condition": own_tag,
        },
        {
            "Sid": "OwnRegistryItem",
            "Effect": "Allow",
            "Action": list(REGISTRY_ACTIONS),
            "Resource": [registry_arn],
            "Condition": {
                # Every partition key the request touches must be the session's tenant id ...
                "ForAllValues:StringEquals": {LEADING_KEYS: [TENANT_VARIABLE]},
                # ... and the request must name one: ForAllValues is true on an empty
                # set, so without this a keyless request (a Scan) would pass.
                "Null": {LEADING_KEYS: "false"},
            },
        },
        {
            # A session without the tag reaches nothing, whatever else is attached.
            "Sid": "NoTenantTag",
            "Effect": "Deny",
            "Action": "dynamodb:*",
            "Resource": "*",
            "Condition": {"Null": {PRINCIPAL_TAG: "true"}},
        },
        {
            "Sid": "NoRetagging",
            "Effect": "Deny",
            "Action": list(RETAGGING_ACTIONS),
            "Resource": "*",
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


def policy_document(tenant_id: str, role: Role | str, deployment: Deployment | None = None) -> dict[str, Any]:
    """The policy `tenant_id`'s session at `role` runs under: the role's one document, the same for every tenant.

    The tenant id is validated (a session is only ever opened for a valid one), but it is not in the
    document: IAM substitutes it from the session tag (`session_tags`).
    """
    validate_tenant_id(tenant_id)
    return role_policy_document(role, deployment)


def policy_json(tenant_id: str, role: Role | str, deployment: Deployment | None = None, *, indent: int = 2) -> str:
    """`policy_document` as JSON text, keys in a stable order."""
    return json.dumps(policy_document(tenant_id, role, deployment), indent=indent)


def policies_for(
    tenant_ids: Iterable[str], deployment: Deployment | None = None, roles: Iterable[Role | str] = ROLES
) -> dict[tuple[str, Role], dict[str, Any]]:
    """Every (tenant, role) session's policy for `tenant_ids` (each id validated): three distinct documents in all."""
    shared = role_policies(deployment, roles)
    return {(validate_tenant_id(t), r): doc for t in tenant_ids for r, doc in shared.items()}


def role_policy_json(role: Role | str, deployment: Deployment | None = None, *, indent: int = 2) -> str:
    """`role_policy_document` as JSON text, keys in a stable order."""
    return json.dumps(role_policy_document(role, deployment), indent=indent)


def role_policies(
    deployment: Deployment | None = None, roles: Iterable[Role | str] = ROLES
) -> dict[Role, dict[str, Any]]:
    """The whole constant set: one policy document per access level."""
    return {role_of(r): role_policy_document(r, deployment) for r in roles}


def session_tags(tenant_id: str) -> list[dict[str, str]]:
    """The session tags a tenant's session carries: `[{"Key": "TenantId", "Value": id}]` (id validated)."""
    return [{"Key": TENANT_TAG, "Value": validate_tenant_id(tenant_id)}]


def principal_context(tenant_id: str) -> dict[str, str]:
    """The request context keys IAM derives from a tenant session's tags (`aws:PrincipalTag/TenantId`)."""
    return {f"aws:PrincipalTag/{t['Key']}": t["Value"] for t in session_tags(tenant_id)}


def assume_role_request(
    tenant_id: str, role: Role | str, deployment: Deployment | None = None, *, duration_seconds: int | None = None
) -> dict[str, Any]:
    """The `sts:AssumeRole` parameters that open a tenant session (the caller also needs `sts:TagSession`).

    `RoleSessionName` is the tenant id (1-64 characters of `[a-z0-9-]`, within STS's rule), so
    CloudTrail names the tenant; no `TransitiveTagKeys`, so the tag does not follow a role chain.
    """
    tags = session_tags(tenant_id)
    return {
        "RoleArn": role_arn(role, deployment),
        "RoleSessionName": tags[0]["Value"],
        "Tags": tags,
        "DurationSeconds": duration_seconds or SESSION_DURATION_SECONDS,
    }


def trust_policy_document(broker_arns: Sequence[str]) -> dict[str, Any]:
    """Who may open tenant sessions: the broker principals, only with exactly one `TenantId` session tag."""
    if not broker_arns:
        raise ConfigurationError("the trust policy needs at least one broker principal ARN")
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": "BrokerOpensTaggedSessions",
                "Effect": "Allow",
                "Principal": {"AWS": list(broker_arns)},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": {
                    "Null": {f"aws:RequestTag/{TENANT_TAG}": "false"},
                    "ForAllValues:StringEquals": {"aws:TagKeys": [TENANT_TAG]},
                },
            }
        ],
    }


def tenant_session(tenant_id: str, role: Role | str, deployment: Deployment | None = None) -> dict[str, Any]:
    """What `salestalk tenant policy` shows: the role, its (shared) policy, and the tenant's session."""
    dep = deployment or Deployment()
    tenant_id = validate_tenant_id(tenant_id)
    r = role_of(role)
    return {
        "tenant": tenant_id,
        "role": str(r),
        "roleArn": role_arn(r, dep),
        "sessionTags": session_tags(tenant_id),
        "assumeRole": assume_role_request(tenant_id, r, dep),
        "requestContext": principal_context(tenant_id),
        "tables": list(tenant_arns(tenant_id, dep).tables),
        "policy": policy_document(tenant_id, r, dep),
    }
