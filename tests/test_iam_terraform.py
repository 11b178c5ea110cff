"""The Terraform IAM is the library's constant set, for real deployments, once Terraform's references resolve."""

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
from salestalk_lib.iam.policies import ROLES, Deployment, role_name, role_policy_document, trust_policy_document

ROOT = TF_PATH.parent
_OPTS = SerializationOptions(strip_string_quotes=True)
# `${ref}` but not `$${...}` (Terraform's escape, which reaches IAM as a literal `${...}`).
_TEMPLATE = re.compile(r"(?<!\$)\$\{([^${}]+)\}")
SAMPLES = [
    Deployment(account="111122223333", region="eu-west-1", table_prefix="stg-"),
    Deployment(account="210987654321", region="cn-north-1", partition="aws-cn"),
    Deployment(),
]
BROKERS = ["arn:aws:iam::111122223333:role/salestalk-broker"]


def _load(text: str) -> dict[str, Any]:
    return hcl2.loads(text, serialization_options=_OPTS)


def _refs(dep: Deployment) -> dict[str, Any]:
    return {
        "data.aws_partition.current.partition": dep.partition,
        "var.aws_region": dep.region,
        "data.aws_caller_identity.current.account_id": dep.account,
        "var.table_prefix": dep.table_prefix,
        "aws_dynamodb_table.tenants_metadata.arn": dep.registry_arn,
        "var.tenant_broker_principal_arns": BROKERS,
    }


def _resolve(value: Any, refs: dict[str, Any]) -> Any:
    """`value` with every `${ref}` replaced and `$${` unescaped; an unknown reference raises KeyError."""
    if isinstance(value, dict):
        return {k: _resolve(v, refs) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [_resolve(v, refs) for v in value]
    if not isinstance(value, str):
        return value
    whole = _TEMPLATE.fullmatch(value)
    if whole and not isinstance(refs[whole.group(1)], str):
        return refs[whole.group(1)]  # a list reference, e.g. the broker ARNs
    return _TEMPLATE.sub(lambda m: refs[m.group(1)], value).replace("$${", "${")


def _resources(text: str, dep: Deployment, kind: str, attribute: str) -> dict[str, Any]:
    """Each `kind` resource's `attribute` (a `jsonencode(...)`) in `text`, evaluated for one deployment."""
    refs = _refs(dep)
    document = _load(text)
    for block in document.get("locals", []):
        refs.update({f"local.{k}": _resolve(v, refs) for k, v in block.items() if not k.startswith("__")})
    out = {}
    for block in document["resource"]:
        for name, body in block.get(kind, {}).items():
            expr = body[attribute]
            assert expr.startswith("${jsonencode(") and expr.endswith(")}"), expr
            out[name] = _resolve(_load("x = " + expr[len("${jsonencode(") : -2])["x"], refs)
    return out


def test_generated_file_is_what_the_library_renders():
    assert TF_PATH.read_text(encoding="utf-8") == render(), (
        "stale: run `python -m devtools.iam_terraform` and commit the result"
    )
    assert iam_terraform.main(["--check"]) == 0


@pytest.mark.parametrize("dep", SAMPLES, ids=[f"{s.partition}/{s.table_prefix or 'no-prefix'}" for s in SAMPLES])
def test_terraform_policies_and_trust_equal_the_librarys(dep):
    text = TF_PATH.read_text(encoding="utf-8")
    policies = _resources(text, dep, "aws_iam_policy", "policy")
    assert set(policies) == {f"tenant_{r}" for r in ROLES}
    for role in ROLES:
        assert policies[f"tenant_{role}"] == role_policy_document(role, dep)
    trusts = _resources(text, dep, "aws_iam_role", "assume_role_policy")
    assert trusts == {f"tenant_{r}": trust_policy_document(BROKERS) for r in ROLES}


@pytest.mark.parametrize(
    "old, new",
    [
        ('"dynamodb:Query",\n        ]', '"dynamodb:Scan",\n        ]'),
        ("tenant-$${aws:PrincipalTag/TenantId}-messages", "tenant-$${aws:PrincipalTag/TenantId}*"),
        ('"aws:ResourceTag/TenantId" = "$${aws:PrincipalTag/TenantId}"', '"aws:ResourceTag/TenantId" = "acme"'),
        ('"ForAllValues:StringEquals"', '"ForAnyValue:StringEquals"'),
        ('"aws:PrincipalTag/TenantId" = "true"', '"aws:PrincipalTag/TenantId" = "false"'),
    ],
)
def test_a_hand_edit_of_the_terraform_is_caught(old, new):
    text = render()
    assert old in text
    policies = _resources(text.replace(old, new, 1), Deployment(), "aws_iam_policy", "policy")
    assert policies["tenant_reader"] != role_policy_document("reader", Deployment())


def test_roles_and_policies_are_named_per_access_level_tagged_and_attached():
    document = _load(TF_PATH.read_text(encoding="utf-8"))
    by_kind: dict[str, dict[str, Any]] = {}
    for block in document["resource"]:
        for kind, resources in block.items():
            by_kind.setdefault(kind, {}).update(resources)
    assert set(by_kind) == {"aws_iam_policy", "aws_iam_role", "aws_iam_role_policy_attachment"}
    for role in ROLES:
        name = f"tenant_{role}"
        for kind in ("aws_iam_policy", "aws_iam_role"):
            body = by_kind[kind][name]
            assert body["name"] == "${var.table_prefix}salestalk-tenant-" + str(role)
            assert body["path"] == "/salestalk/"
            tags = {k: v for k, v in body["tags"].items() if not k.startswith("__")}
            assert tags["Service"] == "salestalk" and "TenantId" not in tags
        assert role_name(role, Deployment(table_prefix="stg-")) == f"stg-salestalk-tenant-{role}"
        attachment = by_kind["aws_iam_role_policy_attachment"][name]
        assert attachment == {**attachment, "role": f"${{aws_iam_role.{name}.name}}"}
        assert attachment["policy_arn"] == f"${{aws_iam_policy.{name}.arn}}"
        (lifecycle,) = by_kind["aws_iam_role"][name]["lifecycle"]
        (precondition,) = lifecycle["precondition"]
        assert "<= 64" in precondition["condition"]
    outputs = {name for o in document["output"] for name in o if not name.startswith("__")}
    assert outputs == {"tenant_role_arns", "tenant_policy_arns"}


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH")
def test_generated_file_is_terraform_fmt_clean(tmp_path: Path):
    copy = tmp_path / "iam.tf"
    copy.write_text(render(), encoding="utf-8")
    proc = subprocess.run(["terraform", "fmt", "-check", "-diff", str(copy)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout
