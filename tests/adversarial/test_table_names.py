"""Table names have one owner: name -> (prefix, kind, tenant) is injective (issue 10, item 8).

A prefix starting with `tenant-` made two deployments' tables and IAM ARNs collide:
`tenant-x-` + tenant `y` = `tenant-x-tenant-y-messages` = no prefix + tenant `x-tenant-y`.
The prefix grammar now excludes `tenant-`, and `keys.parse_table_name` reads every built
name back to exactly what built it; the IAM ARNs follow.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st_

from salestalk_lib.cli.main import main
from salestalk_lib.contract import keys
from salestalk_lib.contract.errors import ConfigurationError, KeyGrammarError
from salestalk_lib.contract.settings import Settings
from salestalk_lib.contract.tables import MESSAGES, METRICS, REGISTRY, TableKind
from salestalk_lib.iam.policies import TENANT_VARIABLE, Deployment, policy_document, tenant_arns

# Pieces that make look-alike names: the grammar's own words, separators, near-misses.
_PREFIX_PIECES = [
    "tenant",
    "tenants",
    "tenant-",
    "-",
    ".",
    "_",
    "x",
    "y",
    "T",
    "Tenant-",
    "tenan",
    "t",
    "s",
    "metadata",
    "messages",
    "metrics",
    "dev",
    "0",
]
_ID_PIECES = ["tenant", "tenants", "x", "y", "messages", "metrics", "metadata", "a", "0", "acme", "corp"]

prefixes = st_.lists(st_.sampled_from(_PREFIX_PIECES), max_size=6).map("".join).filter(lambda p: len(p) <= 64)
tenant_ids = (
    st_.lists(st_.sampled_from(_ID_PIECES), min_size=1, max_size=5).map("-".join).filter(lambda t: len(t) <= 64)
)
kinds = st_.sampled_from([TableKind.REGISTRY, TableKind.MESSAGES, TableKind.METRICS])
BUDGET = settings(max_examples=400, deadline=None, derandomize=True)


def _owner(prefix: str, kind: TableKind, tenant: str) -> tuple[str, str, str | None]:
    return prefix, kind.value, None if kind is TableKind.REGISTRY else tenant


@pytest.mark.parametrize("prefix", ["tenant-x-", "tenant-", "dev-tenant-", "xtenant-y", "a.tenant-"])
def test_a_prefix_containing_tenant_is_refused_everywhere(capsys, prefix):
    with pytest.raises(ConfigurationError, match="must not contain 'tenant-'"):
        Settings(table_prefix=prefix)
    with pytest.raises(ConfigurationError, match="must not contain 'tenant-'"):
        Deployment(table_prefix=prefix)
    assert main(["tables", "--table-prefix", prefix]) == 2
    assert "must not contain 'tenant-'" in capsys.readouterr().err


def test_the_reported_collision_cannot_be_built_any_more():
    plain = Settings(table_prefix="").table_name(MESSAGES, "x-tenant-y")
    assert plain == "tenant-x-tenant-y-messages"
    assert keys.parse_table_name(plain) == ("", "messages", "x-tenant-y")
    with pytest.raises(ConfigurationError):
        Settings(table_prefix="tenant-x-").table_name(MESSAGES, "y")


@BUDGET
@given(prefix=prefixes, kind=kinds, tenant=tenant_ids)
def test_every_built_name_parses_back_to_what_built_it(prefix, kind, tenant):
    try:
        settings_ = Settings(table_prefix=prefix)
        keys.validate_tenant_id(tenant)
    except (ConfigurationError, KeyGrammarError, ValueError):
        assert keys.table_prefix_problem(prefix) is not None or not _valid_id(tenant)
        return
    name = settings_.table_name(kind, None if kind is TableKind.REGISTRY else tenant)
    assert keys.parse_table_name(name) == _owner(prefix, kind, tenant)


@BUDGET
@given(prefix=prefixes, kind=kinds, tenant=tenant_ids)
def test_every_name_has_exactly_one_owner_and_so_does_every_arn(prefix, kind, tenant):
    if keys.table_prefix_problem(prefix) is not None or not _valid_id(tenant):
        return
    name = Settings(table_prefix=prefix).table_name(kind, None if kind is TableKind.REGISTRY else tenant)
    # Brute force, independent of parse_table_name: every way to cut the name into a valid
    # prefix and a valid base name. Exactly one cut may exist.
    assert _all_owners(name) == [_owner(prefix, kind, tenant)]
    if kind is not TableKind.REGISTRY:
        dep = Deployment(table_prefix=prefix)
        arns = tenant_arns(tenant, dep)
        assert dep.table_arn(name) in arns.tables  # the ARNs are built from the same (unique) names


def _parse_messages_table_base(base: str) -> str:
    """The tenant id inside `tenant-{tenantId}-messages`, by the rule parse_table_name applies."""
    return keys._tenant_of_table_base(base, keys.MESSAGES_TABLE_SUFFIX)


def _all_owners(name: str) -> list[tuple[str, str, str | None]]:
    owners = []
    for cut in range(len(name) + 1):
        prefix, base = name[:cut], name[cut:]
        if keys.table_prefix_problem(prefix) is not None:
            continue
        if base == keys.REGISTRY_TABLE_BASE:
            owners.append((prefix, "registry", None))
        for kind, parse in (("messages", _parse_messages_table_base), ("metrics", keys.parse_metrics_table_base)):
            try:
                owners.append((prefix, kind, parse(base)))
            except KeyGrammarError:
                pass
    return owners


def _valid_id(tenant: str) -> bool:
    try:
        keys.validate_tenant_id(tenant)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(
    "name",
    [
        "",
        "tenant-",
        "tenant--messages",
        "tenant-ACME-messages",
        "tenants-metadatax",
        "tenant-x-tenant-y-messages-x",
        "dev-tenant-x-logs",
        "tenant-x-tenant-y-metadata",
        "tenant-a-messages\x00",
        "../tenant-a-messages",
        7,
        None,
    ],
)
def test_names_outside_the_grammar_do_not_parse(name):
    with pytest.raises(KeyGrammarError):
        keys.parse_table_name(name)


def test_the_generated_policies_name_only_their_own_deployments_tables():
    for prefix in ("", "dev-", "stg.", "x_"):
        dep = Deployment(table_prefix=prefix)
        doc = policy_document("x-tenant-y", "admin", dep)
        for statement in doc["Statement"]:
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for arn in resources:
                if arn == "*":
                    continue
                # as IAM resolves it for the session of tenant x-tenant-y
                table = arn.replace(TENANT_VARIABLE, "x-tenant-y").split(":table/", 1)[1].split("/", 1)[0]
                assert keys.parse_table_name(table)[0] == prefix
    assert Settings(table_prefix="dev-").table_name(REGISTRY) == "dev-tenants-metadata"
    assert keys.parse_table_name(Settings().table_name(METRICS, "tenant")) == ("", "metrics", "tenant")
