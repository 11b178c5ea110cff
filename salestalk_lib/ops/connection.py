"""`connect()`: one call from nothing to a ready endpoint, settings and storage seam."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
