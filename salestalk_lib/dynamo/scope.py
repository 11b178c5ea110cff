"""The tenant-scoped handle: data reads and writes of one tenant's two tables, and a read of its registry item.

`TenantScope.storage` is a plain `Storage` restricted by a `TenantPolicy`: the
storage seam checks every request against the policy in its one request path
(`Storage._call`), before the request leaves the process, and a refused request
raises `IsolationViolation`. The policy allows:

- on the tenant's two tables (exact names): GetItem, Query, BatchGetItem,
  PutItem, UpdateItem, DeleteItem, BatchWriteItem and TransactWriteItems, i.e. data
  reads and writes, nothing else;
- on the registry: a GetItem of the tenant's own item (key `tenantId` = its own
  id), exactly what its IAM policies grant there, and nothing else: never a
  write, a Query, a Scan, a batch or a transaction. Status, plan and table names
  are the platform's: a tenant that could write its item could reactivate itself,
  or point `messagesTableName` at another tenant's table.

Everything else is refused: table settings (TTL, point-in-time recovery, tags,
UpdateTable, backups, restores, exports, resource policies), table lifecycle
(CreateTable, DeleteTable), DescribeTable and the other Describe calls, account-wide
requests (ListTables), PartiQL, and Scan. The one exception is
`TenantScope.audit_storage()`, used by `salestalk audit` and `salestalk export` only, which may
also Scan the tenant's own two tables (never an index, never the registry): an audit
must see every item, including items whose keys break the grammar, and no Query
can find an item without knowing its key. The tenant id is validated before it
is ever put into a table name.

The operations that legitimately write the registry or change tables
(provisioning, onboarding, suspend/reactivate/offboard in `salestalk_lib.ops.tenants`,
the seed loader) run on the connection's unscoped storage, as the platform, never
through a scope. No public attribute of a scope leads to the boto3 client or to an
unrestricted Storage.

**What this is, and what it is not.** The scope is a guard against programming
mistakes: code that holds a tenant's scope cannot reach another tenant's data or
the registry by accident. It is not a security boundary: anyone with the process
can build their own boto3 client. On AWS, isolation is enforced by IAM: the
role policies of `salestalk_lib.iam.policies` (one per access level for all tenants:
the tenant's tables by the session tag `TenantId`, matched by name and by each table's
`TenantId` tag, the registry only through `dynamodb:LeadingKeys`), proven by the
isolation matrix of `devtools.isolation`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from salestalk_lib.contract.errors import IsolationViolation
from salestalk_lib.contract.keys import validate_tenant_id
from salestalk_lib.contract.settings import Settings
from salestalk_lib.contract.tables import MESSAGES, METRICS, REGISTRY
from salestalk_lib.dynamo.storage import Storage

# The one operation a scope may send to the registry: what the tenant roles' IAM policies allow there.
_REGISTRY_READ = "GetItem"


@dataclass(frozen=True)
class TenantPolicy:
    """The request policy of one tenant's scope; `check` raises IsolationViolation for anything else."""

    tenant_id: str
    tables: frozenset[str]
    """The tenant's two tables (exact names, prefix included)."""
    registry: str
    allow_scan: bool = False
    """Only for the audit: Scan of the two tables (see the module docstring)."""

    def check(self, operation: str, params: Mapping[str, Any]) -> None:
        """Refuse any request that is not a data read or write of this tenant (see the module docstring)."""
        try:
            self._check(operation, params)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            # A request whose shape the policy does not understand is not sent either.
            raise IsolationViolation(
                f"{operation}: the scope of tenant {self.tenant_id!r} could not check this "
                f"request ({type(exc).__name__}: {exc}); refusing it"
            ) from None

    def _check(self, operation: str, params: Mapping[str, Any]) -> None:
        if operation == "Scan":
            self._check_scan(params)
        elif operation in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query"):
            self._check_table(params["TableName"], operation, params.get("Key"))
        elif operation == "BatchGetItem":
            for table, body in params["RequestItems"].items():
                for key in body["Keys"] or [None]:  # a table with no keys is still named: check it
                    self._check_table(table, operation, key)
        elif operation == "BatchWriteItem":
            for table, writes in params["RequestItems"].items():
                if not writes:
                    self._check_table(table, operation, None)
                for write in writes:
                    ((kind, body),) = write.items()
                    self._check_table(table, f"BatchWriteItem {kind}", body.get("Key"))
        elif operation in ("TransactWriteItems", "TransactGetItems"):
            for action in params["TransactItems"]:
                ((kind, body),) = action.items()
                self._check_table(body["TableName"], f"{operation} {kind}", body.get("Key"))
        else:
            raise IsolationViolation(
                f"{operation} is not allowed through the scope of tenant {self.tenant_id!r}: a scope sends only "
                "data reads and writes of the tenant's own two tables (table settings, table lifecycle and "
                "account-wide requests belong to the platform, on the connection's storage)"
            )

    def _check_scan(self, params: Mapping[str, Any]) -> None:
        if not self.allow_scan:
            raise IsolationViolation(
                f"Scan is not allowed through the scope of tenant {self.tenant_id!r}: "
                "the access patterns are GetItem and Query"
            )
        table = params["TableName"]
        if table not in self.tables or "IndexName" in params:
            raise IsolationViolation(
                f"the audit of tenant {self.tenant_id!r} may scan only its own tables, "
                f"not {table!r}" + (f" index {params['IndexName']!r}" if "IndexName" in params else "")
            )

    def _check_table(self, table: str, operation: str, key: Mapping[str, Any] | None) -> None:
        if table in self.tables:
            return
        if table == self.registry:
            if operation == "Query":
                raise IsolationViolation(
                    f"tenant {self.tenant_id!r} may read only its own registry item, not query the registry"
                )
            if operation != _REGISTRY_READ:
                raise IsolationViolation(
                    f"tenant {self.tenant_id!r} may read only its own registry item (GetItem), not send "
                    f"{operation} to the registry: status, plan and table names are the platform's"
                )
            if key != {"tenantId": {"S": self.tenant_id}}:
                raise IsolationViolation(f"tenant {self.tenant_id!r} may read only its own registry item, not {key!r}")
            return
        raise IsolationViolation(
            f"table {table!r} does not belong to tenant {self.tenant_id!r} "
            f"(allowed: {', '.join(sorted(self.tables))} and its own item in {self.registry})"
        )


@dataclass(frozen=True)
class TenantScope:
    """Everything one tenant may reach: data in its messages and metrics tables, and its registry item."""

    tenant_id: str
    settings: Settings
    storage: Storage
    """The connection's storage restricted by this tenant's `TenantPolicy`."""
    _audit: Storage = field(repr=False, compare=False)

    @classmethod
    def open(cls, storage: Storage, settings: Settings, tenant_id: str) -> TenantScope:
        """Validate `tenant_id`, then build the scope on `storage` (no request is sent)."""
        tenant_id = validate_tenant_id(tenant_id)
        tables = frozenset({settings.table_name(MESSAGES, tenant_id), settings.table_name(METRICS, tenant_id)})
        policy = TenantPolicy(tenant_id=tenant_id, tables=tables, registry=settings.table_name(REGISTRY))
        audit_policy = TenantPolicy(tenant_id=tenant_id, tables=tables, registry=policy.registry, allow_scan=True)
        return cls(
            tenant_id=tenant_id,
            settings=settings,
            storage=storage.restricted(policy),
            _audit=storage.restricted(audit_policy),
        )

    @property
    def messages_table(self) -> str:
        return self.settings.table_name(MESSAGES, self.tenant_id)

    @property
    def metrics_table(self) -> str:
        return self.settings.table_name(METRICS, self.tenant_id)

    @property
    def registry_table(self) -> str:
        return self.settings.table_name(REGISTRY)

    def audit_storage(self) -> Storage:
        """This scope's storage, also allowed to Scan the tenant's two tables: for the audit and the export only.

        Access patterns never get it (they are GetItem or Query); see the module docstring for why
        an audit may Scan. It carries the scope's hooks as they are now.
        """
        return self._audit.restricted(hooks=self.storage.hooks)

    def registry_item(self) -> dict[str, Any] | None:
        """This tenant's own registry item (None if it is not registered)."""
        return self.storage.get_item(self.registry_table, {"tenantId": self.tenant_id})
