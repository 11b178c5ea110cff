"""IAM for table-per-tenant: the reader, writer and admin roles' policy documents, built from the table specs.

Owns the role definitions, the leading-keys conditions and the ARNs of a deployment
(`policies`). It is pure (policy documents are data) and may import only `contract`: the
Terraform files in `infra/` and the isolation matrix are rendered and checked from it by
the repository's own tooling (`devtools/`).
"""
