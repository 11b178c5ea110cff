"""`connect()`: one call from nothing to a ready endpoint, settings and storage seam."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from salestalk_lib.contract.errors import ConfigurationError, KeyGrammarError, TableNotFound
from salestalk_lib.contract.keys import parse_table_name
from salestalk_lib.contract.settings import Settings
from salestalk_lib.dynamo.endpoint import Endpoint, resolve_endpoint
from salestalk_lib.dynamo.scope import TenantScope
from salestalk_lib.dynamo.storage import Storage
from salestalk_lib.ops.provision import TableResult, provision, table_overview

if TYPE_CHECKING:
    from salestalk_lib.ops.tenants import Tenants


@dataclass
class SalesTalk:
    """A connection to one SalesTalk deployment: endpoint + settings + storage seam."""

    endpoint: Endpoint
    settings: Settings
    storage: Storage

    def provision(self, tenant_ids: Iterable[str] = ()) -> list[TableResult]:
        """Create or confirm the registry and the tenants' tables (idempotent, drift-checked)."""
        return provision(self.storage, self.settings, tenant_ids)

    def tables(self, *, with_settings: bool = False) -> list[dict[str, object]]:
        """One row per SalesTalk table on the endpoint (name, kind, status, keys, GSIs, drift).

        `with_settings` adds each table's PITR, TTL and tags as the engine reports them
        ("unsupported on this engine" where it has no such API).
        """
        return table_overview(self.storage, self.settings, with_settings=with_settings)

    def tenant(self, tenant_id: str) -> TenantScope:
        """The handle for one tenant: it reaches only that tenant's tables and registry item."""
        return TenantScope.open(self.storage, self.settings, tenant_id)

    def tenants(self, **kwargs: Any) -> Tenants:
        """The tenant lifecycle (onboard, suspend, reactivate, offboard, list) on this connection."""
        from salestalk_lib.ops.tenants import Tenants  # lifecycle pulls in models and events; import on first use

        return Tenants.of(self, **kwargs)

    def drop_tables(self) -> list[str]:
        """Delete every SalesTalk table under this connection's own table prefix and wait until they are gone.

        A notebook's (or a demo's) cleanup on a shared endpoint: the registry items it wrote go with
        its registry table. Only names that are SalesTalk tables with exactly this prefix are deleted
        (`nb03-tenant-x-metrics`, not another prefix's `nb03-b-...`); without a prefix it is refused
        (ConfigurationError), since that would be the deployment's own tables. Returns the names deleted.
        """
        prefix = self.settings.table_prefix
        if not prefix:
            raise ConfigurationError("drop_tables needs a table prefix: without one it would delete the deployment's")
        names = []
        for name in self.storage.list_tables(prefix):
            try:
                if parse_table_name(name)[0] == prefix:
                    names.append(name)
            except KeyGrammarError:
                continue  # not a SalesTalk table: not ours to delete
        for name in names:
            try:
                self.storage.delete_table(name)
            except TableNotFound:
                pass  # deleted meanwhile (a second cleanup): gone is what was asked
        for name in names:
            self.storage.wait_deleted(name)
        return names

    def close(self) -> None:
        """Stop the embedded server if this connection started one."""
        self.endpoint.close()

    def __enter__(self) -> SalesTalk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(
    endpoint_url: str | None = None,
    *,
    settings: Settings | None = None,
    allow_aws: bool | None = None,
    region: str | None = None,
    profile: str | None = None,
    endpoint: Endpoint | None = None,
) -> SalesTalk:
    """Resolve an endpoint (embedded by default; real AWS only when opted in) and wrap it.

    The storage seam's client skips botocore's client-side parameter validation
    (`parameter_validation=False`): every request it sends is built by
    `salestalk_lib.dynamo.storage` from records already validated against the contract,
    and DynamoDB validates each request again itself. Re-checking every
    attribute against botocore's shapes cost about a third of the client's time
    in bulk loads. One validation layer, as there is one retry layer.
    `Endpoint.client()` (what notebooks and users call directly) keeps it on.
    """
    settings = settings or Settings.from_env()
    if endpoint is None:
        allow = settings.allow_aws if allow_aws is None else allow_aws
        endpoint = resolve_endpoint(
            endpoint_url, allow_aws=allow, region=region, profile=profile, local_hosts=settings.local_hosts
        )
    client = endpoint.client(parameter_validation=False)
    return SalesTalk(endpoint=endpoint, settings=settings, storage=Storage(client))
