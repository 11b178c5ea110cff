"""Hostile ids at every door the guard and the scope keep (issue 10, item 8 and the suite's fuzzing).

Tenant ids, table prefixes, batch ids, local-host names and whole requests to a tenant's
scope, drawn by Hypothesis with a fixed budget (derandomised: the same examples on every
run). The only exceptions allowed out are the library's own (`SalesTalkError` and its
subclasses); whatever is accepted must round-trip through the key grammar.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st_

from salestalk_lib.contract import keys
from salestalk_lib.contract.endpoint_guard import parse_endpoint_url, parse_local_hosts
from salestalk_lib.contract.errors import (
    ConfigurationError,
    InvalidTenantId,
    IsolationViolation,
    KeyGrammarError,
    SalesTalkError,
)
from salestalk_lib.contract.settings import Settings
from salestalk_lib.contract.tables import MESSAGES
from salestalk_lib.dynamo.scope import TenantPolicy
from salestalk_lib.iam.policies import TENANT_VARIABLE, Deployment, policy_document

BUDGET = settings(
    max_examples=500,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

_TRICKS = [
    "acme",
    "acme-corp-001",
    "ACME",
    "acme ",
    " acme",
    "acme\x00",
    "acme\n",
    "acme/../x",
    "..",
    "*",
    "acme*",
    "tenant-x",
    "x-tenant-y",
    "a" * 64,
    "a" * 65,
    "-a",
    "a-",
    "a--b",
    "ácme",
    "аcme",  # Cyrillic а
    "acme\u200b",
    "١٢٣",
    "tenants-metadata",
    "%2e%2e",
    "acme#1",
    "acme:1",
    "",
    "0",
    "9" * 64,
]
hostile_text = st_.one_of(
    st_.sampled_from(_TRICKS),
    st_.text(max_size=70),
    st_.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", max_size=70),
)
hostile_objects = st_.one_of(
    hostile_text,
    st_.none(),
    st_.integers(),
    st_.booleans(),
    st_.binary(max_size=8),
    st_.lists(st_.text(max_size=3), max_size=2),
    st_.floats(),
)


@BUDGET
@given(tenant_id=hostile_objects)
def test_a_hostile_tenant_id_never_becomes_a_table_name(st, tenant_id):
    try:
        scope = st.tenant(tenant_id)
    except InvalidTenantId:
        return
    assert keys.parse_table_name(scope.messages_table) == (st.settings.table_prefix, "messages", tenant_id)
    assert keys.parse_table_name(scope.metrics_table) == (st.settings.table_prefix, "metrics", tenant_id)


@BUDGET
@given(tenant_id=hostile_objects, role=st_.sampled_from(["reader", "writer", "admin", "root", "", None]))
def test_a_hostile_tenant_id_or_role_never_becomes_a_policy(tenant_id, role):
    try:
        doc = policy_document(tenant_id, role, Deployment(table_prefix="dev-"))
    except SalesTalkError:
        return
    arns = [a for s in doc["Statement"] for a in (s["Resource"] if isinstance(s["Resource"], list) else [])]
    # as IAM resolves them for the tenant's session (the tenant id comes from its session tag)
    arns = [a.replace(TENANT_VARIABLE, tenant_id) for a in arns]
    assert all(keys.parse_table_name(a.split(":table/", 1)[1].split("/", 1)[0])[0] == "dev-" for a in arns)


@BUDGET
@given(prefix=hostile_objects)
def test_a_hostile_table_prefix_is_refused_or_names_tables_unambiguously(prefix):
    try:
        settings_ = Settings(table_prefix=prefix)
    except ConfigurationError:
        return
    name = settings_.table_name(MESSAGES, "acme")
    assert keys.parse_table_name(name) == (prefix, "messages", "acme")


@BUDGET
@given(batch_id=hostile_objects)
def test_a_hostile_batch_id_is_refused_or_round_trips(batch_id):
    try:
        pk = keys.batch_pk(batch_id)
    except KeyGrammarError:
        return
    assert keys.parse_batch_pk(pk) == batch_id


@BUDGET
@given(value=st_.one_of(hostile_text, st_.lists(hostile_text, max_size=3)))
def test_hostile_local_hosts_are_refused_or_canonical(value):
    try:
        hosts = parse_local_hosts(value)
    except ConfigurationError:
        return
    for host in hosts:
        assert host == host.lower() and not host.endswith(".") and host.isascii()
        bracketed = f"[{host}]" if ":" in host else host
        assert parse_endpoint_url(f"http://{bracketed}:1").host == host


_OPERATIONS = [
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactWriteItems",
    "TransactGetItems",
    "UpdateTimeToLive",
    "ListTables",
    "ExecuteStatement",
    "",
    "getitem",
]
_TABLES = [
    "t-tenant-acme-messages",
    "t-tenant-acme-metrics",
    "t-tenants-metadata",
    "t-tenant-other-metrics",
    "tenant-acme-messages",
    "arn:aws:dynamodb:us-east-1:1:table/t-tenant-acme-messages",
    "",
]
_keys = st_.one_of(
    st_.none(),
    st_.just({"tenantId": {"S": "acme"}}),
    st_.just({"tenantId": {"S": "other"}}),
    st_.just({"tenantId": {"S": "acme"}, "x": {"S": "1"}}),
    st_.just({"tenantId": "acme"}),
    st_.dictionaries(st_.text(max_size=3), st_.text(max_size=3), max_size=2),
)
_bodies = st_.fixed_dictionaries({"TableName": st_.sampled_from(_TABLES)}, optional={"Key": _keys, "Item": _keys})
_requests = st_.one_of(
    _bodies,
    st_.fixed_dictionaries(
        {
            "RequestItems": st_.dictionaries(
                st_.sampled_from(_TABLES),
                st_.one_of(
                    st_.lists(
                        st_.one_of(
                            st_.builds(lambda k: {"PutRequest": {"Item": k}}, _keys),
                            st_.builds(lambda k: {"DeleteRequest": {"Key": k}}, _keys),
                            st_.just({}),
                        ),
                        max_size=3,
                    ),
                    st_.fixed_dictionaries({"Keys": st_.lists(_keys, max_size=3)}),
                    st_.text(max_size=3),
                ),
                max_size=3,
            )
        }
    ),
    st_.fixed_dictionaries(
        {
            "TransactItems": st_.lists(
                st_.dictionaries(
                    st_.sampled_from(["Put", "Update", "Delete", "ConditionCheck", "Get", "Other"]), _bodies, max_size=2
                ),
                max_size=3,
            )
        }
    ),
    st_.dictionaries(st_.text(max_size=5), st_.text(max_size=5), max_size=3),
)


@BUDGET
@given(operation=st_.sampled_from(_OPERATIONS), params=_requests, scan=st_.booleans())
def test_the_tenant_policy_refuses_with_isolation_violation_only(operation, params, scan):
    policy = TenantPolicy(
        tenant_id="acme",
        tables=frozenset({"t-tenant-acme-messages", "t-tenant-acme-metrics"}),
        registry="t-tenants-metadata",
        allow_scan=scan,
    )
    try:
        policy.check(operation, params)
    except IsolationViolation:
        return
    # Accepted: a data operation, on the tenant's own tables or a read of its own registry item.
    assert operation in (
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactWriteItems",
        "TransactGetItems",
    ) or (scan and operation == "Scan")
    touched = _tables_of(params)
    assert touched <= {"t-tenant-acme-messages", "t-tenant-acme-metrics", "t-tenants-metadata"}
    if "t-tenants-metadata" in touched:
        assert operation == "GetItem" and params.get("Key") == {"tenantId": {"S": "acme"}}


def _tables_of(params) -> set[str]:
    if "TableName" in params:
        return {params["TableName"]}
    if "RequestItems" in params:
        return set(params["RequestItems"])
    return {body["TableName"] for action in params.get("TransactItems", []) for body in action.values()}


@pytest.mark.parametrize("bad", ["tenant-x-", "a" * 65, "../x", "x y", "é", "tenant-"])
def test_the_cli_refuses_a_hostile_prefix_with_exit_2(capsys, bad):
    from salestalk_lib.cli.main import main

    assert main(["tables", "--table-prefix", bad]) == 2
    assert "table prefix" in capsys.readouterr().err
