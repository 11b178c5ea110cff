"""The generated IAM policies lint clean with parliament (run from .venv-lint)."""

from __future__ import annotations

import pytest

from devtools.policy_lint import lint_policies, linter_version
from salestalk_lib.iam.policies import ROLES, Deployment, policy_document

TENANTS = ["acme", "acme-corp-001", "1234", "a" * 64]
DEPLOYMENTS = [
    Deployment(),
    Deployment(account="111122223333", region="us-gov-west-1", partition="aws-us-gov", table_prefix="prod."),
]


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=["aws", "aws-us-gov-prefixed"])
def test_every_role_of_every_sample_tenant_lints_clean(deployment):
    policies = {f"{t}/{r}": policy_document(t, r, deployment) for t in TENANTS for r in ROLES}
    findings = lint_policies(policies)
    assert findings == [], "\n".join(map(str, findings))


def test_the_linter_does_report_a_broken_policy():
    broken = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "dynamodb:GetItems",
                "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/tenant-acme-messages",
            },
            {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"},
        ],
    }
    issues = {f.issue for f in lint_policies({"broken": broken})}
    assert {"UNKNOWN_ACTION", "RESOURCE_STAR"} <= issues


def test_linter_version_names_the_distribution():
    assert linter_version().split()[0] in {"ol-parliament", "parliament"}
