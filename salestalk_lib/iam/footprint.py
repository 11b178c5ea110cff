"""How many IAM objects the IAM design needs for a fleet: the one place that number comes from.

`salestalk quota` and the Operations page read `iam_objects(tenants)`. The design today
(`policies.py`, `infra/terraform/modules/tenant_tables/iam_policies.tf`) gives every tenant
one customer-managed policy per role (`ROLES`: reader, writer, admin), each meant for a role
of that tenant: both grow with the tenant count. When the design changes to a constant set
of roles and policies, this function is what changes with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from salestalk_lib.iam.policies import ROLES


@dataclass(frozen=True)
class IamObjects:
    """Customer-managed policies and roles a fleet needs in its account, and how the design scales."""

    policies: int
    roles: int
    design: str


def iam_objects(tenants: int) -> IamObjects:
    """The IAM policies and roles the current design needs for `tenants` tenants (per tenant: one of each per role)."""
    per_tenant = len(ROLES)
    return IamObjects(
        policies=per_tenant * tenants,
        roles=per_tenant * tenants,
        design=f"per tenant: {per_tenant} customer-managed policies ({', '.join(ROLES)}) and a role for each",
    )


__all__ = ["IamObjects", "iam_objects"]
