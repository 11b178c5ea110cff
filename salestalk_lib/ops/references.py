"""Verify data references (contract §2.4) against the live metrics table of one tenant.

A narrative quotes each figure with a `DataReference`: metric, period, value, unit,
optional dimensions, and the `source` table and key it was read from.
`DataReference.check_against(item)` compares a reference with a metric item the
caller already has; `verify_reference(scope, ref)` fetches that item itself, by
`source.pk`/`source.sk` from the scope's metrics table (one GetItem, never a Scan),
and returns every mismatch. An empty list means the figure is what is stored.

A reference into another tenant's metrics table is a mismatch on `source.table`,
found without sending a request: the scope could not read that table anyway.
"""

from __future__ import annotations

from typing import Any

from salestalk_lib.contract import keys
from salestalk_lib.contract.errors import IsolationViolation
from salestalk_lib.contract.models import DataReference, Mismatch
from salestalk_lib.dynamo.retry import Retrier
from salestalk_lib.dynamo.scope import TenantScope


def referenced_item(scope: TenantScope, ref: DataReference, *, retrier: Retrier | None = None) -> dict[str, Any] | None:
    """The stored metric item `ref.source` points at in this tenant's metrics table (None if absent).

    Raises `IsolationViolation` when `ref.source.table` is not this tenant's metrics table.
    """
    own = keys.metrics_table_base(scope.tenant_id)
    if ref.source.table != own:
        raise IsolationViolation(
            f"the reference points into {ref.source.table!r}, not into tenant "
            f"{scope.tenant_id!r}'s metrics table {own!r}"
        )
    key = {"pk": ref.source.pk, "sk": ref.source.sk}
    return (retrier or Retrier()).call("GetItem", lambda: scope.storage.get_item(scope.metrics_table, key))


def verify_reference(scope: TenantScope, ref: DataReference, *, retrier: Retrier | None = None) -> list[Mismatch]:
    """Every way `ref` disagrees with the live metric item it cites (empty list: verified)."""
    own = keys.metrics_table_base(scope.tenant_id)
    if ref.source.table != own:
        return [Mismatch("source.table", ref.source.table, own)]
    return ref.check_against(referenced_item(scope, ref, retrier=retrier))
