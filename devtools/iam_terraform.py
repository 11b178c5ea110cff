"""The per-tenant IAM policies as Terraform, generated from `salestalk_lib.iam.policies`.

`render()` writes one `aws_iam_policy` per role for the `tenant_tables` module,
each `jsonencode` of exactly the document `iam.build_document` returns, with
Terraform references in place of the ARNs and the tenant id. So the policy
lives in one place (the library) and the Terraform is derived from it:
`python -m devtools.iam_terraform` rewrites the file, and the tests fail
while the committed file differs from `render()`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from salestalk_lib.contract.keys import REGISTRY_TABLE_BASE
from salestalk_lib.contract.tables import MESSAGES, METRICS
from salestalk_lib.iam.policies import ROLES, Role, build_document

TF_PATH = Path(__file__).resolve().parents[1] / "infra" / "terraform" / "modules" / "tenant_tables" / "iam_policies.tf"

# The references that stand in for the library's concrete values inside the module.
TABLE_REFS = {MESSAGES: "aws_dynamodb_table.messages", METRICS: "aws_dynamodb_table.metrics"}
REGISTRY_REF = "local.iam_registry_table_arn"
TENANT_REF = "var.tenant_id"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_PURE_REF = re.compile(r"^\$\{([A-Za-z0-9_.]+)\}$")

HEADER = """\
# GENERATED from salestalk_lib/iam/policies.py by `python -m devtools.iam_terraform`.
# Do not edit: change the library and regenerate (tests/test_iam_terraform.py
# fails while this file differs from what the library renders).
#
# One IAM policy per role (reader, writer, admin) of this tenant. Each names the
# exact ARNs of the tenant's two tables and their indexes (never a prefix
# wildcard such as tenant-<id>*, which another tenant's tables could match),
# and reaches the registry only as GetItem of the tenant's own item, enforced
# with dynamodb:LeadingKeys. Why each action is there: salestalk_lib/iam/policies.py.
"""


def _template_ref(expr: str) -> str:
    return "${" + expr + "}"


def document_for_terraform(role: Role) -> dict[str, Any]:
    """The role's policy document with Terraform references (as `${...}`) for ARNs and tenant id."""
    tables = [(spec, _template_ref(f"{ref}.arn")) for spec, ref in TABLE_REFS.items()]
    return build_document(
        role, tables=tables, registry_arn=_template_ref(REGISTRY_REF), leading_key=_template_ref(TENANT_REF)
    )


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
        return pure.group(1) if pure else json.dumps(value)
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
    """The full text of the module's generated IAM file."""
    registry = (
        f"${{trimsuffix({TABLE_REFS[MESSAGES]}.arn, {TABLE_REFS[MESSAGES]}.name)}}"
        f"${{var.table_prefix}}{REGISTRY_TABLE_BASE}"
    )
    parts = [
        HEADER,
        "locals {",
        "  # The registry sits beside this tenant's tables (same partition, region and",
        "  # account) under the same table prefix.",
        f"  {REGISTRY_REF.split('.', 1)[1]} = {json.dumps(registry)}",
        "  # IAM policy names: prefix + tenant id + role, at most 128 characters.",
        '  policy_name_base = "${var.table_prefix}tenant-${var.tenant_id}"',
        "}",
    ]
    for role in ROLES:
        parts += [
            "",
            f'resource "aws_iam_policy" "{role}" {{',
            f'  name        = "${{local.policy_name_base}}-{role}"',
            '  path        = "/salestalk/"',
            f'  description = "SalesTalk tenant ${{var.tenant_id}}: {role} of its own tables and registry item"',
            f"  policy = jsonencode({_hcl(document_for_terraform(role), 1)})",
            "",
            "  tags = {",
            '    Service     = "salestalk"',
            '    ManagedBy   = "terraform"',
            "    Environment = var.environment",
            f'    Purpose     = "tenant-{role}-policy"',
            "    TenantId    = var.tenant_id",
            "  }",
            "",
            "  lifecycle {",
            "    precondition {",
            f'      condition     = length("${{local.policy_name_base}}-{role}") <= 128',
            '      error_message = "IAM policy names are at most 128 characters: shorten table_prefix or the tenant id."',
            "    }",
            "  }",
            "}",
        ]
    for role in ROLES:
        parts += [
            "",
            f'output "{role}_policy_arn" {{',
            f'  description = "ARN of the tenant\'s {role} IAM policy."',
            f"  value       = aws_iam_policy.{role}.arn",
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
