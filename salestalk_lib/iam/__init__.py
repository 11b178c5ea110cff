"""IAM for table-per-tenant: one reader, writer and admin role for all tenants, built from the table specs.

Owns the role definitions, their attribute-based policy documents (the tenant is the
session tag `TenantId`, matched against each table's `TenantId` tag), the session tags
and AssumeRole call shape of a tenant session, and the ARNs of a deployment (`policies`). It is pure (policy documents are data) and may import only `contract`: the
Terraform files in `infra/` and the isolation matrix are rendered and checked from it by
the repository's own tooling (`devtools/`).
"""

from importlib import import_module
from typing import Any


def __getattr__(name: str) -> Any:
    # `salestalk_lib.iam` was one module before the layers became subpackages: its names
    # (`policy_document`, `ADMIN_DENIED`, ...) stay readable here, read live from `policies`.
    if not name.startswith("_"):
        policies = import_module(f"{__name__}.policies")
        if hasattr(policies, name):
            return getattr(policies, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
