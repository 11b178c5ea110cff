"""The constant IAM set as Terraform, generated from `salestalk_lib.iam.policies`.

`render()` writes `infra/terraform/iam.tf` in the root module: for each access level
(reader, writer, admin) one `aws_iam_policy` (the `jsonencode` of exactly the document
`iam.build_document` returns, with Terraform references in place of the partition,
region, account and prefix, and the policy variable `${aws:PrincipalTag/TenantId}`
escaped as `$${...}` so IAM, not Terraform, resolves it), one `aws_iam_role` whose trust
policy is `iam.trust_policy_document` for `var.tenant_broker_principal_arns`, and the
attachment between them. Nothing is per tenant: the tenant module keeps only tables and
their tags. So the policy lives in one place (the library) and the Terraform is derived
from it: `python -m devtools.iam_terraform` rewrites the file, and the tests fail while
the committed file differs from `render()`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from salestalk_lib.iam.policies import (
    ROLE_PATH,
    ROLES,
    SESSION_DURATION_SECONDS,
    TENANT_VARIABLE,
    Role,
    build_document,
    tenant_table_arn_templates,
    trust_policy_document,
)

TF_PATH = Path(__file__).resolve().parents[1] / "infra" / "terraform" / "iam.tf"

# The references that stand in for the library's concrete values in the root module.
REGISTRY_REF = "aws_dynamodb_table.tenants_metadata.arn"
ARN_PREFIX_REF = "local.tenant_table_arn_prefix"
BROKERS_REF = "var.tenant_broker_principal_arns"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_PURE_REF = re.compile(r"^\$\{([A-Za-z0-9_.]+)\}$")
_ARN_HEAD = re.compile(r"^arn:[^:]+:dynamodb:[^:]+:[0-9]{12}:table/")

HEADER = """\
# GENERATED from salestalk_lib/iam/policies.py by `python -m devtools.iam_terraform`.
# Do not edit: change the library and regenerate (tests/test_iam_terraform.py
# fails while this file differs from what the library renders).
#
# The whole IAM of the tenants, constant in the number of tenants: one role and one
# policy per access level (reader, writer, admin). A tenant's session is the role
# assumed by a broker with the session tag TenantId=<id>; every Allow names the
# tenant's tables through ${aws:PrincipalTag/TenantId} (written $${...} here so IAM,
# not Terraform, resolves it) and requires the table's TenantId tag to equal it.
# Why each statement is there: salestalk_lib/iam/policies.py.
"""


def _template_ref(expr: str) -> str:
    return "${" + expr + "}"


def document_for_terraform(role: Role) -> dict[str, Any]:
    """The role's policy document with Terraform references (as `${...}`) for the deployment's parts."""
    tables = [(spec, _ARN_HEAD.sub(_template_ref(ARN_PREFIX_REF), arn)) for spec, arn in tenant_table_arn_templates()]
    return build_document(role, tables=tables, registry_arn=_template_ref(REGISTRY_REF))


def trust_for_terraform() -> dict[str, Any]:
    """The roles' trust policy with the broker principals as a Terraform reference."""
    doc = trust_policy_document(["placeholder"])
    doc["Statement"][0]["Principal"]["AWS"] = _template_ref(BROKERS_REF)
    return doc


def _hcl(value: Any, indent: int) -> str:
    pad = "  " * indent
    if isinstance(value, dict):
        lines = [f"{pad}  {_key(k)} = {_hcl(v, indent + 1)}" for k, v in value.items()]
        return "{\n" + _align_runs(lines) + f"\n{pad}}}"
    if isinstance(value, list):
        if all(isinstance(v, str) for v in value) and len(value) <= 1:
            return "[" + ", ".join(_hcl(v, indent) for v in value) + "]"
        items = [f"{pad}  {_hcl(v, indent + 1)}," for v in value]
        return "[\n" + "\n".join(items) + f"\n{pad}]"
    if isinstance(value, str):
        pure = _PURE_REF.fullmatch(value)
        # IAM's own policy variable must reach IAM verbatim: `$${` is Terraform's escape for `${`.
        return pure.group(1) if pure else json.dumps(value.replace(TENANT_VARIABLE, "$" + TENANT_VARIABLE))
    raise TypeError(f"cannot render {type(value).__name__} as HCL")


def _align_runs(lines: list[str]) -> str:
    """Align `=` over each run of single-line attributes, as `terraform fmt` does."""
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            width = max(line.index(" = ") for line in run)
            out.extend(line[: line.index(" = ")].ljust(width) + line[line.index(" = ") :] for line in run)
            run.clear()

    for line in lines:
        if "\n" in line:  # a multi-line value ends the run and is not padded
            flush()
            out.append(line)
        else:
            run.append(line)
    flush()
    return "\n".join(out)


def _key(key: str) -> str:
    return key if _IDENT.fullmatch(key) else json.dumps(key)


def render() -> str:
    """The full text of the root module's generated IAM file."""
    prefix = (
        "arn:${data.aws_partition.current.partition}:dynamodb:${var.aws_region}:"
        "${data.aws_caller_identity.current.account_id}:table/${var.table_prefix}"
    )
    parts = [
        HEADER,
        "locals {",
        "  # Every tenant table's ARN starts with this (the tenant part is the policy variable).",
        f"  {ARN_PREFIX_REF.split('.', 1)[1]} = {json.dumps(prefix)}",
        "}",
    ]
    for role in ROLES:
        name = f"${{var.table_prefix}}salestalk-tenant-{role}"
        parts += [
            "",
            f'resource "aws_iam_policy" "tenant_{role}" {{',
            f'  name        = "{name}"',
            f'  path        = "{ROLE_PATH}"',
            f'  description = "SalesTalk tenant {role}: the session tenant\'s own tables (TenantId tag) and registry item"',
            f"  policy = jsonencode({_hcl(document_for_terraform(role), 1)})",
            "",
            "  tags = {",
            '    Service     = "salestalk"',
            '    ManagedBy   = "terraform"',
            "    Environment = var.environment",
            f'    Purpose     = "tenant-{role}-policy"',
            "  }",
            "}",
            "",
            f'resource "aws_iam_role" "tenant_{role}" {{',
            f'  name                 = "{name}"',
            f'  path                 = "{ROLE_PATH}"',
            f'  description          = "SalesTalk tenant {role}: assumed by the broker with session tag TenantId"',
            f"  max_session_duration = {SESSION_DURATION_SECONDS}",
            f"  assume_role_policy = jsonencode({_hcl(trust_for_terraform(), 1)})",
            "",
            "  # No TenantId tag on the role: the tenant comes from the session tag only.",
            "  tags = {",
            '    Service     = "salestalk"',
            '    ManagedBy   = "terraform"',
            "    Environment = var.environment",
            f'    Purpose     = "tenant-{role}-role"',
            "  }",
            "",
            "  lifecycle {",
            "    precondition {",
            f'      condition     = length("{name}") <= 64',
            '      error_message = "IAM role names are at most 64 characters: shorten table_prefix."',
            "    }",
            "  }",
            "}",
            "",
            f'resource "aws_iam_role_policy_attachment" "tenant_{role}" {{',
            f"  role       = aws_iam_role.tenant_{role}.name",
            f"  policy_arn = aws_iam_policy.tenant_{role}.arn",
            "}",
        ]
    parts += [
        "",
        'output "tenant_role_arns" {',
        '  description = "Per access level: the role a broker assumes, with session tag TenantId=<id>, for a tenant session."',
        "  value = {",
        *[f"    {role:<6} = aws_iam_role.tenant_{role}.arn" for role in ROLES],
        "  }",
        "}",
        "",
        'output "tenant_policy_arns" {',
        '  description = "Per access level: the one IAM policy every tenant session of that level runs under."',
        "  value = {",
        *[f"    {role:<6} = aws_iam_policy.tenant_{role}.arn" for role in ROLES],
        "  }",
        "}",
    ]
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check, compare) the module's generated IAM file."""
    parser = argparse.ArgumentParser(prog="python -m devtools.iam_terraform", description=main.__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file differs from the library")
    parser.add_argument("--path", type=Path, default=TF_PATH, help=f"file to write (default: {TF_PATH})")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.path.read_text(encoding="utf-8") if args.path.exists() else ""
        if current != text:
            print(f"{args.path} is stale; run python -m devtools.iam_terraform", file=sys.stderr)
            return 1
        return 0
    args.path.write_text(text, encoding="utf-8")
    print(f"wrote {args.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
