"""`connect()`: one call from nothing to a ready endpoint, settings and storage seam."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

from .endpoint import Endpoint, resolve_endpoint
from .provision import TableResult, provision, table_overview
from .scope import TenantScope
from .settings import Settings
from .storage import Storage

if TYPE_CHECKING:
    from .tenants import Tenants


@dataclass
class SalesTalk:
    """A connection to one SalesTalk deployment: endpoint + settings + storage seam."""

    endpoint: Endpoint
    settings: Settings
    storage: Storage

    def provision(self, tenant_ids: Iterable[str] = ()) -> list[TableResult]:
        """Create or confirm the registry and the tenants' tables (idempotent, drift-checked)."""
        return provision(self.storage, self.settings, tenant_ids)

    def tables(self) -> list[dict[str, object]]:
        """One row per SalesTalk table on the endpoint (name, kind, status, keys, GSIs, drift)."""
        return table_overview(self.storage, self.settings)

    def tenant(self, tenant_id: str) -> TenantScope:
        """The handle for one tenant: it reaches only that tenant's tables and registry item."""
        return TenantScope.open(self.storage, self.settings, tenant_id)

    def tenants(self, **kwargs: Any) -> "Tenants":
        """The tenant lifecycle (onboard, suspend, reactivate, offboard, list) on this connection."""
        from .tenants import Tenants  # lifecycle pulls in models and events; import on first use
        return Tenants.of(self, **kwargs)

    def close(self) -> None:
        """Stop the embedded server if this connection started one."""
        self.endpoint.close()

    def __enter__(self) -> "SalesTalk":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(endpoint_url: str | None = None, *, settings: Settings | None = None,
            allow_aws: bool | None = None, region: str | None = None, profile: str | None = None,
            endpoint: Endpoint | None = None) -> SalesTalk:
    """Resolve an endpoint (embedded by default; real AWS only when opted in) and wrap it."""
    settings = settings or Settings.from_env()
    if endpoint is None:
        allow = settings.allow_aws if allow_aws is None else allow_aws
        endpoint = resolve_endpoint(endpoint_url, allow_aws=allow, region=region, profile=profile)
    return SalesTalk(endpoint=endpoint, settings=settings, storage=Storage(endpoint.client()))
