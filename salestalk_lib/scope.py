"""The tenant-scoped handle: one tenant's two tables and its own registry item, nothing else.

`TenantScope.storage` is a `Storage` whose every request is checked before it
is sent: the table must be one of the tenant's two tables (exact names) or the
registry, and on the registry every key must be the tenant's own `tenantId`.
Anything else raises `IsolationViolation` and no request leaves the process.
The tenant id itself is validated before it is ever put into a table name.

Scan is refused by default: every access pattern is a GetItem or a Query. The
one exception is `TenantScope.audit_storage()`, used by `salestalk audit` only,
which may also Scan the tenant's own two tables (never the registry): an audit
must see every item, including items whose keys break the grammar, and no Query
can find an item without knowing its key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from .errors import IsolationViolation
from .keys import validate_tenant_id
from .settings import Settings
from .storage import Storage
from .tables import MESSAGES, METRICS, REGISTRY, TableKind

# Request parameters that name tables, and where keys sit in each operation.
_SINGLE_TABLE_OPS = {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "DescribeTable",
                     "DescribeContinuousBackups", "DescribeTimeToLive", "UpdateTimeToLive",
                     "UpdateContinuousBackups"}
_FORBIDDEN_OPS = {"Scan", "CreateTable", "DeleteTable", "ListTables", "UpdateTable", "TagResource",
                  "ListTagsOfResource", "ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction"}


class ScopedStorage(Storage):
    """A Storage that refuses any request outside one tenant's tables and registry item."""

    def __init__(self, inner: Storage, *, tenant_id: str, tables: Mapping[str, TableKind], registry: str,
                 allow_scan: bool = False):
        super().__init__(inner.client, hooks=inner.hooks)
        self.tenant_id = tenant_id
        self.allowed = dict(tables)
        self.registry = registry
        self.allow_scan = allow_scan

    def _call(self, operation: str, table: str = "", **params: Any) -> dict[str, Any]:
        self._check(operation, params)
        return super()._call(operation, table, **params)

    def _check(self, operation: str, params: Mapping[str, Any]) -> None:
        if operation == "Scan" and self.allow_scan:
            # The audit's Scan reaches the tenant's own two tables only, never the registry.
            if params["TableName"] not in self.allowed:
                raise IsolationViolation(f"the audit of tenant {self.tenant_id!r} may scan only its own "
                                         f"tables, not {params['TableName']!r}")
            return
        if operation in _FORBIDDEN_OPS:
            raise IsolationViolation(f"{operation} is not allowed through the scope of tenant {self.tenant_id!r}")
        if operation in _SINGLE_TABLE_OPS:
            self._check_table(params["TableName"], params.get("Key") or params.get("Item"), operation, params)
        elif operation in ("BatchWriteItem", "BatchGetItem"):
            for table, body in params["RequestItems"].items():
                entries = body["Keys"] if operation == "BatchGetItem" else [
                    r.get("PutRequest", {}).get("Item") or r.get("DeleteRequest", {}).get("Key") for r in body]
                for key in entries:
                    self._check_table(table, key, operation, params)
        elif operation == "TransactWriteItems":
            for action in params["TransactItems"]:
                (_, body), = action.items()
                self._check_table(body["TableName"], body.get("Key") or body.get("Item"), operation, params)
        else:
            raise IsolationViolation(f"{operation} is not known to the tenant scope; refusing it")

    def _check_table(self, table: str, key: Mapping[str, Any] | None, operation: str,
                     params: Mapping[str, Any]) -> None:
        if table in self.allowed:
            return
        if table == self.registry:
            if operation == "Query":
                raise IsolationViolation(
                    f"tenant {self.tenant_id!r} may read only its own registry item, not query the registry")
            if key is None or key.get("tenantId") != {"S": self.tenant_id}:
                raise IsolationViolation(
                    f"tenant {self.tenant_id!r} may touch only its own registry item, not {key!r}")
            return
        raise IsolationViolation(
            f"table {table!r} does not belong to tenant {self.tenant_id!r} "
            f"(allowed: {', '.join(sorted(self.allowed))} and its own item in {self.registry})")


@dataclass(frozen=True)
class TenantScope:
    """Everything one tenant may reach: its messages and metrics tables and its registry item."""

    tenant_id: str
    settings: Settings
    storage: ScopedStorage

    @classmethod
    def open(cls, storage: Storage, settings: Settings, tenant_id: str) -> "TenantScope":
        """Validate `tenant_id`, then build the scope (no request is sent)."""
        tenant_id = validate_tenant_id(tenant_id)
        tables = {settings.table_name(MESSAGES, tenant_id): TableKind.MESSAGES,
                  settings.table_name(METRICS, tenant_id): TableKind.METRICS}
        scoped = ScopedStorage(storage, tenant_id=tenant_id, tables=tables,
                               registry=settings.table_name(REGISTRY))
        return cls(tenant_id=tenant_id, settings=settings, storage=scoped)

    @property
    def messages_table(self) -> str:
        return self.settings.table_name(MESSAGES, self.tenant_id)

    @property
    def metrics_table(self) -> str:
        return self.settings.table_name(METRICS, self.tenant_id)

    @property
    def registry_table(self) -> str:
        return self.settings.table_name(REGISTRY)

    def audit_storage(self) -> ScopedStorage:
        """This scope's storage, also allowed to Scan the tenant's two tables: for `salestalk audit` only.

        Access patterns never get it (they are GetItem or Query); see the module docstring for why
        an audit may Scan.
        """
        return ScopedStorage(self.storage, tenant_id=self.tenant_id, tables=self.storage.allowed,
                             registry=self.storage.registry, allow_scan=True)

    def registry_item(self) -> dict[str, Any] | None:
        """This tenant's own registry item (None if it is not registered)."""
        return self.storage.get_item(self.registry_table, {"tenantId": self.tenant_id})
