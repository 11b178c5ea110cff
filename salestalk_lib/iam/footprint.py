"""How many IAM objects the IAM design needs for a fleet: the one place that number comes from.

`salestalk quota`, the Operations page and the scale notebook read `iam_objects(tenants)`.
The design (`salestalk_lib.iam.policies`, `infra/terraform/iam.tf`) is a constant set: one
role and one customer-managed policy per access level (`ROLES`: reader, writer, admin), with
attribute-based access on the `TenantId` session tag and table tag, so the count does not grow
with tenants. `per_tenant_iam_objects` is the design it replaced (three policies and three roles
per tenant), kept for comparison: it stops at 500 tenants against IAM's default quotas.
"""

from __future__ import annotations

from dataclasses import dataclass

from salestalk_lib.iam import policies
from salestalk_lib.iam.policies import ROLES


@dataclass(frozen=True)
class IamObjects:
    """Customer-managed policies and roles a fleet needs in its account, and how the design scales."""

    policies: int
    roles: int
    design: str


def iam_objects(tenants: int) -> IamObjects:
    """The IAM policies and roles the current design needs for `tenants` tenants: the same for any count."""
    constant = policies.iam_objects(tenants)
    return IamObjects(
        policies=constant["customer_managed_policies"],
        roles=constant["roles"],
        design=f"constant: one role and one customer-managed policy per access level ({', '.join(ROLES)}), "
        "access by the TenantId session tag and table tag (ABAC)",
    )


def per_tenant_iam_objects(tenants: int) -> IamObjects:
    """The replaced design, for comparison: one policy and one role per access level for every tenant."""
    per_tenant = len(ROLES)
    return IamObjects(
        policies=per_tenant * tenants,
        roles=per_tenant * tenants,
        design=f"per tenant (replaced): {per_tenant} customer-managed policies ({', '.join(ROLES)}) and a role "
        "for each",
    )


__all__ = ["IamObjects", "iam_objects", "per_tenant_iam_objects"]
