"""The Terraform IAM policies are the library's, for real tenants, once Terraform's references resolve."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest
from hcl2.api import SerializationOptions

from devtools import iam_terraform
from devtools.iam_terraform import TF_PATH, render
from salestalk_lib.iam.policies import ROLES, Deployment, policy_document

MODULE = TF_PATH.parent
_OPTS = SerializationOptions(strip_string_quotes=True)
_TEMPLATE = re.compile(r"\$\{([^${}]+)\}")
_TRIMSUFFIX = re.compile(r"^trimsuffix\(([\w.]+), ([\w.]+)\)$")
SAMPLES = [
    ("acme-corp-001", Deployment(account="111122223333", region="eu-west-1", table_prefix="stg-")),
    ("a" * 64, Deployment(account="210987654321", region="cn-north-1", partition="aws-cn")),
    ("1234", Deployment()),
]


def _load(text: str) -> dict[str, Any]:
    return hcl2.loads(text, serialization_options=_OPTS)


def _resolve(value: Any, refs: dict[str, str]) -> Any:
    """`value` with every `${ref}` and `${trimsuffix(a, b)}` replaced; an unknown reference raises KeyError."""
    if isinstance(value, dict):
        return {k: _resolve(v, refs) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [_resolve(v, refs) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        expr = match.group(1)
        if trim := _TRIMSUFFIX.fullmatch(expr):
            whole, suffix = refs[trim.group(1)], refs[trim.group(2)]
            assert whole.endswith(suffix)
            return whole[: -len(suffix)]
        return refs[expr]

    return _TEMPLATE.sub(one, value)


def _policies_in(text: str, tenant_id: str, dep: Deployment) -> dict[str, dict[str, Any]]:
    """Each aws_iam_policy's document in `text`, evaluated for one tenant in one deployment."""
    tables = _load((MODULE / "main.tf").read_text(encoding="utf-8"))["resource"]
    refs = {"var.tenant_id": tenant_id, "var.table_prefix": dep.table_prefix}
    for block in tables:
        for name, body in block.get("aws_dynamodb_table", {}).items():
            table_name = _resolve(body["name"], refs)
            refs[f"aws_dynamodb_table.{name}.name"] = table_name
            refs[f"aws_dynamodb_table.{name}.arn"] = dep.table_arn(table_name)
    document = _load(text)
    for block in document.get("locals", []):
        refs.update({f"local.{k}": _resolve(v, refs) for k, v in block.items() if not k.startswith("__")})
    out = {}
    for block in document["resource"]:
        for name, body in block.get("aws_iam_policy", {}).items():
            expr = body["policy"]
            assert expr.startswith("${jsonencode(") and expr.endswith(")}"), expr
            out[name] = _resolve(_load("x = " + expr[len("${jsonencode(") : -2])["x"], refs)
    return out


def test_generated_file_is_what_the_library_renders():
    assert TF_PATH.read_text(encoding="utf-8") == render(), (
        "stale: run `python -m devtools.iam_terraform` and commit the result"
    )
    assert iam_terraform.main(["--check"]) == 0


@pytest.mark.parametrize("tenant_id, dep", SAMPLES, ids=[s[0][:12] + "/" + s[1].partition for s in SAMPLES])
def test_terraform_policies_equal_the_library_policies(tenant_id, dep):
    policies = _policies_in(TF_PATH.read_text(encoding="utf-8"), tenant_id, dep)
    assert set(policies) == {str(r) for r in ROLES}
    for role in ROLES:
        assert policies[str(role)] == policy_document(tenant_id, role, dep)


@pytest.mark.parametrize(
    "old, new",
    [
        (
            '"dynamodb:Query",\n        ]\n        Resource = [\n          aws_dynamodb_table.messages.arn',
            '"dynamodb:Scan",\n        ]\n        Resource = [\n          aws_dynamodb_table.messages.arn',
        ),
        ("aws_dynamodb_table.messages.arn,", '"${aws_dynamodb_table.messages.arn}*",'),
        ('"ForAllValues:StringEquals"', '"ForAnyValue:StringEquals"'),
    ],
)
def test_a_hand_edit_of_the_terraform_is_caught(old, new):
    text = render()
    assert old in text
    policies = _policies_in(text.replace(old, new, 1), "acme", Deployment())
    assert policies["reader"] != policy_document("acme", "reader", Deployment())


def test_policies_are_tagged_like_the_tables_and_named_per_tenant_and_role():
    document = _load(TF_PATH.read_text(encoding="utf-8"))
    policies = {name: body for block in document["resource"] for name, body in block["aws_iam_policy"].items()}
    assert set(policies) == {str(r) for r in ROLES}
    (local_block,) = [b for b in document["locals"] if "policy_name_base" in b]
    assert local_block["policy_name_base"] == "${var.table_prefix}tenant-${var.tenant_id}"
    for role, body in policies.items():
        assert body["name"] == f"${{local.policy_name_base}}-{role}"
        # IAM refuses names over 128 characters; a 64-char prefix plus a 64-char id would exceed it
        (lifecycle,) = body["lifecycle"]
        (precondition,) = lifecycle["precondition"]
        assert precondition["condition"] == f'${{length("${{local.policy_name_base}}-{role}") <= 128}}'
        assert {k: v for k, v in body["tags"].items() if not k.startswith("__")} == {
            "Service": "salestalk",
            "ManagedBy": "terraform",
            "Environment": "${var.environment}",
            "Purpose": f"tenant-{role}-policy",
            "TenantId": "${var.tenant_id}",
        }
    outputs = {name for o in document["output"] for name in o if not name.startswith("__")}
    assert outputs == {f"{r}_policy_arn" for r in ROLES}


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH")
def test_generated_file_is_terraform_fmt_clean(tmp_path: Path):
    copy = tmp_path / "iam_policies.tf"
    copy.write_text(render(), encoding="utf-8")
    proc = subprocess.run(["terraform", "fmt", "-check", "-diff", str(copy)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout
