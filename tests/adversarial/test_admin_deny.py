"""The admin role's explicit Deny covers every table setting and every copy of the data (issue 10, item 8).

It omitted DeleteBackup, RestoreTableFromBackup, RestoreTableToPointInTime,
ExportTableToPointInTime and PutResourcePolicy. An explicit Deny must win even when
another policy attached to the same role allows `dynamodb:*`: that is asked of the IAM
evaluator (@cloud-copilot/iam-simulate), on every resource of the tenant each action takes,
as a tagged session of the tenant (`aws:PrincipalTag/TenantId`) on its tagged tables, so the
Deny under test is the admin list and not the Deny of sessions without the tag.
"""

from __future__ import annotations

import pytest

from devtools.isolation import ALLOWED, EvalRequest, IamSimulator, tenant_resources
from salestalk_lib.iam import policies as iam
from salestalk_lib.iam.policies import RESOURCE_TAG, Deployment, policy_document, principal_context, tenant_arns

DEP = Deployment(account="111122223333", region="eu-west-1", table_prefix="prod-")
REPORTED_MISSING = (
    "dynamodb:DeleteBackup",
    "dynamodb:RestoreTableFromBackup",
    "dynamodb:RestoreTableToPointInTime",
    "dynamodb:ExportTableToPointInTime",
    "dynamodb:PutResourcePolicy",
)
# Reviewed with them: the rest of what changes settings, who may reach a table, or copies its data.
REVIEWED = (
    "dynamodb:DeleteResourcePolicy",
    "dynamodb:UpdateTimeToLive",
    "dynamodb:CreateBackup",
    "dynamodb:ImportTable",
    "dynamodb:TagResource",
    "dynamodb:UntagResource",
    "dynamodb:EnableKinesisStreamingDestination",
    "dynamodb:CreateTableReplica",
    "dynamodb:UpdateGlobalTable",
    "dynamodb:UpdateContinuousBackups",
    "dynamodb:UpdateTable",
)


@pytest.fixture(scope="module")
def simulator() -> IamSimulator:
    return IamSimulator()


def test_the_admin_deny_names_the_reported_and_reviewed_actions():
    (deny,) = [s for s in policy_document("acme", "admin", DEP)["Statement"] if s["Sid"] == "NoTableSettingsOrCopies"]
    assert deny["Effect"] == "Deny"
    assert set(REPORTED_MISSING + REVIEWED) <= set(deny["Action"])
    assert deny["Resource"] == "*"


def test_every_denied_action_is_a_real_dynamodb_action(simulator):
    known = simulator.actions("dynamodb")
    assert [a for a in iam.ADMIN_DENIED_ACTIONS if a not in known] == []


def test_the_deny_wins_over_an_allow_everything_policy_on_every_own_resource(simulator):
    admin = policy_document("acme", "admin", DEP)
    # The same role with a second, careless policy: identity policies add up, an explicit Deny still wins.
    careless = {
        **admin,
        "Statement": admin["Statement"] + [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}],
    }
    actions = simulator.actions("dynamodb")
    resources = tenant_resources(tenant_arns("acme", DEP), DEP)
    session = principal_context("acme")
    tagged = {**session, RESOURCE_TAG: "acme"}
    requests = [
        EvalRequest(0, "acme", name, resource, tagged if rtype in ("table", "index") else session)
        for name in iam.ADMIN_DENIED_ACTIONS
        for rtype in actions[name].resource_types or ("*",)
        for resource in (resources.get(rtype, []) if rtype != "*" else ["*"])
    ]
    assert {r.action for r in requests} == set(iam.ADMIN_DENIED_ACTIONS)
    decisions = simulator.evaluate([careless], requests, account=DEP.account)
    assert {(r.action, d) for r, d in zip(requests, decisions, strict=True) if d != "ExplicitlyDenied"} == set()
    # ... while the admin's data work and its reads of the settings stay allowed.
    table = tenant_arns("acme", DEP).tables[0]
    kept = [
        EvalRequest(0, "acme", a, table, tagged)
        for a in (
            "dynamodb:PutItem",
            "dynamodb:Scan",
            "dynamodb:DescribeTimeToLive",
            "dynamodb:DescribeContinuousBackups",
        )
    ]
    assert simulator.evaluate([admin], kept, account=DEP.account) == [ALLOWED] * len(kept)
