"""Tests for devtools.terraform_check and the Terraform under infra/terraform/.

The real Terraform must match the table specs exactly; each mutated copy must
produce a difference that names the problem. Terraform itself is never run.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import hcl2
import pytest

from devtools.terraform_check import (
    DEFAULT_ROOT,
    check_terraform,
    find_tables,
    iam_differences,
    iam_resources,
    main,
    table_kind,
)
from salestalk_lib.contract import keys, settings
from salestalk_lib.contract.tables import TABLE_SPECS, TableKind, create_table_request

ROOT = Path(__file__).resolve().parent.parent / "infra" / "terraform"
MODULE = "modules/tenant_tables/main.tf"
MESSAGES = f"{MODULE}: aws_dynamodb_table.messages"
METRICS = f"{MODULE}: aws_dynamodb_table.metrics"
REGISTRY = "registry.tf: aws_dynamodb_table.tenants_metadata"
TENANTS_CALL = "tenants.tf: module.tenant_tables"


@pytest.fixture
def infra(tmp_path: Path) -> Path:
    """A private copy of the Terraform tree to mutate."""
    copy = tmp_path / "terraform"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".terraform"))
    return copy


def mutate(root: Path, relpath: str, old: str, new: str, *, occurrence: int = 1) -> None:
    """Replace the `occurrence`-th `old` in one file; fail loudly if it is not there.

    The failure matters: if the real HCL is reformatted so `old` no longer
    appears, a silent no-op would let the mutation test pass for the wrong reason.
    """
    path = root / relpath
    text = path.read_text(encoding="utf-8")
    starts = [m.start() for m in re.finditer(re.escape(old), text)]
    assert len(starts) >= occurrence, f"{old!r} occurs {len(starts)} time(s) in {relpath}"
    at = starts[occurrence - 1]
    path.write_text(text[:at] + new + text[at + len(old) :], encoding="utf-8")


def assert_difference(differences: list[str], address: str, *fragments: str) -> None:
    """One difference names `address` and every fragment."""
    assert any(d.startswith(address) and all(f in d for f in fragments) for d in differences), (
        f"no difference for {address} containing {fragments}; got:\n" + "\n".join(differences)
    )


def gsi_block(name: str, hash_key: str, range_key: str | None = None) -> str:
    range_line = f'    range_key       = "{range_key}"\n' if range_key else ""
    return (
        "  global_secondary_index {\n"
        f'    name            = "{name}"\n'
        f'    hash_key        = "{hash_key}"\n'
        f"{range_line}"
        '    projection_type = "ALL"\n'
        "  }\n"
    )


# The repository's Terraform


def test_repository_terraform_has_no_differences() -> None:
    assert check_terraform(ROOT) == []


def test_default_root_is_the_repository_terraform() -> None:
    assert DEFAULT_ROOT == ROOT
    assert check_terraform() == []


def test_finds_one_table_of_each_kind() -> None:
    kinds = {table.address: table_kind(table) for table in find_tables(ROOT)}
    assert kinds == {
        REGISTRY: (TableKind.REGISTRY, []),
        MESSAGES: (TableKind.MESSAGES, []),
        METRICS: (TableKind.METRICS, []),
    }


def test_table_names_keep_their_interpolations() -> None:
    names = {t.address: t.name for t in find_tables(ROOT)}
    assert names[REGISTRY] == "${var.table_prefix}tenants-metadata"
    assert names[MESSAGES] == "${var.table_prefix}tenant-${var.tenant_id}-messages"
    assert names[METRICS] == "${var.table_prefix}tenant-${var.tenant_id}-metrics"


@pytest.mark.parametrize("address", [REGISTRY, MESSAGES, METRICS])
def test_description_equals_the_libraries_create_table_request(address: str) -> None:
    # An independent cross-check of the parse: the library's own CreateTable
    # request and the Terraform must declare the same keys, types and GSIs.
    table = next(t for t in find_tables(ROOT) if t.address == address)
    kind = table_kind(table)[0]
    assert kind is not None
    request = create_table_request(TABLE_SPECS[kind], "any-name")
    description = table.description()

    def as_set(items: list[dict[str, str]]) -> set[tuple[str, ...]]:
        return {tuple(sorted(i.items())) for i in items}

    assert description["KeySchema"] == request["KeySchema"]
    assert as_set(description["AttributeDefinitions"]) == as_set(request["AttributeDefinitions"])
    have = {g["IndexName"]: (g["KeySchema"], g["Projection"]) for g in description["GlobalSecondaryIndexes"]}
    want = {g["IndexName"]: (g["KeySchema"], g["Projection"]) for g in request["GlobalSecondaryIndexes"]}
    assert have == want
    assert description["BillingModeSummary"]["BillingMode"] == request["BillingMode"]
    assert description["SSEDescription"]["Status"] == "ENABLED"
    assert description["LocalSecondaryIndexes"] == []


def _variable_validation_conditions(relpath: str, variable: str) -> list[str]:
    with (ROOT / relpath).open(encoding="utf-8") as handle:
        document = hcl2.load(handle)
    for entry in document["variable"]:
        for label, body in entry.items():
            if label.strip('"') == variable:
                return [v["condition"] for v in body.get("validation", [])]
    raise AssertionError(f"variable {variable} not found in {relpath}")


@pytest.mark.parametrize(
    "relpath, variable",
    [
        ("variables.tf", "tenant_ids"),
        ("modules/tenant_tables/variables.tf", "tenant_id"),
    ],
)
def test_tenant_id_validation_is_the_key_grammars_rule(relpath: str, variable: str) -> None:
    conditions = " ".join(_variable_validation_conditions(relpath, variable))
    # RE2 (Terraform) and Python's re read this pattern the same way.
    assert re.findall(r'regex\("(.*?)",', conditions) == [keys._TENANT_ID_RE.pattern]
    assert f"<= {keys.TENANT_ID_MAX}" in conditions


@pytest.mark.parametrize("relpath", ["variables.tf", "modules/tenant_tables/variables.tf"])
def test_table_prefix_validation_is_the_settings_rule(relpath: str) -> None:
    conditions = " ".join(_variable_validation_conditions(relpath, "table_prefix"))
    assert re.findall(r'regex\("(.*?)",', conditions) == [keys.TABLE_PREFIX_PATTERN]
    # ... and the rule that keeps table names unambiguous: no "tenant-" inside a prefix.
    assert f'!strcontains(var.table_prefix, "{keys.TENANT_TABLE_HEAD}")' in conditions


@pytest.mark.parametrize("relpath", ["variables.tf", "modules/tenant_tables/variables.tf"])
def test_terraform_environments_are_library_environments(relpath: str) -> None:
    conditions = " ".join(_variable_validation_conditions(relpath, "environment"))
    allowed = re.findall(r'"([a-z]+)"', conditions)
    assert allowed and set(allowed) <= set(settings.ENVIRONMENTS)
    assert "production" in allowed


def test_example_tfvars_use_valid_tenant_ids() -> None:
    with (ROOT / "environments" / "example.tfvars").open(encoding="utf-8") as handle:
        values = hcl2.load(handle)
    tenant_ids = [t.strip('"') for t in values["tenant_ids"]]
    assert tenant_ids
    for tenant_id in tenant_ids:
        assert keys.validate_tenant_id(tenant_id) == tenant_id
    assert values["environment"].strip('"') in settings.ENVIRONMENTS


def test_readme_explains_terraform_and_the_root_has_the_generated_iam() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "terraform init" in readme and "environments/example.tfvars" in readme
    iam = (ROOT / "iam.tf").read_text(encoding="utf-8")
    assert iam.startswith("# GENERATED from salestalk_lib/iam/policies.py")
    # The per-tenant module keeps tables and tags only: no IAM file, no IAM resource.
    module_dir = ROOT / "modules" / "tenant_tables"
    assert not (module_dir / "iam_policies.tf").exists() and not (module_dir / "iam.tf").exists()
    assert not any("aws_iam_" in p.read_text(encoding="utf-8") for p in module_dir.glob("*.tf"))


def test_the_iam_is_a_constant_set_in_the_root_module() -> None:
    found = iam_resources(ROOT)
    assert {module_dir for _, module_dir, _, _ in found} == {"."}
    assert sorted(address for _, _, address, _ in found) == sorted(
        f"{kind}.tenant_{role}"
        for kind in ("aws_iam_policy", "aws_iam_role", "aws_iam_role_policy_attachment")
        for role in ("reader", "writer", "admin")
    )
    assert all("for_each" not in body and "count" not in body for _, _, _, body in found)
    # A role tagged TenantId would hand that tenant to every session the broker forgot to tag.
    roles = [body for _, _, address, body in found if address.startswith("aws_iam_role.")]
    assert roles and all("TenantId" not in body.get("tags", {}) for body in roles)
    assert iam_differences(ROOT) == []


def test_iam_inside_the_per_tenant_module_is_named(infra: Path) -> None:
    (infra / "modules/tenant_tables/iam.tf").write_text(
        'resource "aws_iam_policy" "reader" {\n  name   = "tenant-${var.tenant_id}-reader"\n  policy = "{}"\n}\n',
        encoding="utf-8",
    )
    differences = check_terraform(infra)
    assert_difference(differences, "modules/tenant_tables/iam.tf: aws_iam_policy.reader", "IAM inside a module")
    assert_difference(differences, "terraform", "4 IAM customer_managed_policies", "the design has 3")


def test_iam_multiplied_by_for_each_is_named(infra: Path) -> None:
    mutate(
        infra,
        "iam.tf",
        'resource "aws_iam_role" "tenant_reader" {\n',
        'resource "aws_iam_role" "tenant_reader" {\n  for_each = var.tenant_ids\n',
    )
    assert_difference(check_terraform(infra), "iam.tf: aws_iam_role.tenant_reader", "multiplied by for_each")


# Mutations: each must produce a difference that names the problem


def test_wrong_attribute_type_is_named(infra: Path) -> None:
    mutate(infra, MODULE, 'name = "timestamp"\n    type = "N"', 'name = "timestamp"\n    type = "S"')
    differences = check_terraform(infra)
    assert_difference(differences, MESSAGES, "attribute 'timestamp' has type S, spec says N")
    assert not any(d.startswith(METRICS) for d in differences)


def test_missing_gsi_is_named(infra: Path) -> None:
    mutate(infra, MODULE, gsi_block("SenderIndex", "sender", "timestamp") + "\n", "")
    differences = check_terraform(infra)
    assert_difference(differences, MESSAGES, "GSI SenderIndex is missing")
    # Its attribute block is now unused, which Terraform itself would reject.
    assert_difference(differences, MESSAGES, "attribute 'sender'", "no key or index uses it")


def test_extra_gsi_is_named(infra: Path) -> None:
    mutate(
        infra,
        MODULE,
        gsi_block("MetricTypeIndex", "metricType", "timestamp"),
        gsi_block("MetricTypeIndex", "metricType", "timestamp") + "\n" + gsi_block("SubjectIndex", "metricType"),
    )
    assert_difference(check_terraform(infra), METRICS, "GSI SubjectIndex is not in the spec")


def test_wrong_table_range_key_is_named(infra: Path) -> None:
    mutate(
        infra, MODULE, 'range_key                   = "sk"', 'range_key                   = "timestamp"', occurrence=2
    )
    differences = check_terraform(infra)
    assert_difference(differences, METRICS, "key schema is (pk HASH, timestamp RANGE)", "spec says (pk HASH, sk RANGE)")
    assert not any(d.startswith(MESSAGES) for d in differences)


def test_wrong_gsi_range_key_is_named(infra: Path) -> None:
    mutate(
        infra,
        MODULE,
        gsi_block("DimensionIndex", "dimensionKey", "timestamp"),
        gsi_block("DimensionIndex", "dimensionKey", "sk"),
    )
    assert_difference(
        check_terraform(infra),
        METRICS,
        "GSI DimensionIndex keys are (dimensionKey HASH, sk RANGE)",
        "spec says (dimensionKey HASH, timestamp RANGE)",
    )


def test_wrong_projection_is_named(infra: Path) -> None:
    mutate(
        infra,
        "registry.tf",
        'hash_key        = "status"\n    projection_type = "ALL"',
        'hash_key        = "status"\n    projection_type = "KEYS_ONLY"',
    )
    assert_difference(check_terraform(infra), REGISTRY, "GSI StatusIndex projects KEYS_ONLY, spec says ALL")


def test_count_instead_of_for_each_on_tenant_module_is_named(infra: Path) -> None:
    mutate(infra, "tenants.tf", "for_each = var.tenant_ids", "count    = length(var.tenant_ids)")
    mutate(infra, "tenants.tf", "each.key", "tolist(var.tenant_ids)[count.index]")
    assert_difference(check_terraform(infra), TENANTS_CALL, "uses count", "for_each")


def test_tenant_module_without_for_each_is_named(infra: Path) -> None:
    mutate(infra, "tenants.tf", "for_each = var.tenant_ids\n", "")
    assert_difference(check_terraform(infra), TENANTS_CALL, "not per tenant", "for_each")


def test_count_on_a_tenant_table_is_named(infra: Path) -> None:
    mutate(
        infra,
        MODULE,
        'resource "aws_dynamodb_table" "metrics" {\n',
        'resource "aws_dynamodb_table" "metrics" {\n  count = 1\n',
    )
    assert_difference(check_terraform(infra), METRICS, "uses count", "for_each")


def test_tenant_module_that_nobody_calls_is_named(infra: Path) -> None:
    (infra / "tenants.tf").unlink()
    assert_difference(check_terraform(infra), "modules/tenant_tables", "no module block calls it")


def test_tenant_tables_in_the_root_without_for_each_are_named(infra: Path) -> None:
    (infra / "tenants.tf").unlink()
    shutil.move(infra / MODULE, infra / "tenant_tables.tf")
    assert_difference(check_terraform(infra), "root module", "not per tenant", "for_each")


def test_for_each_one_module_level_up_is_accepted(infra: Path) -> None:
    # root --for_each--> wrapper --(no for_each)--> tenant_tables: still one
    # instance per tenant, so no difference.
    wrapper = infra / "modules" / "wrapper"
    wrapper.mkdir()
    (wrapper / "main.tf").write_text(
        'variable "tenant_id" {\n  type = string\n}\n\n'
        'module "tables" {\n  source    = "../tenant_tables"\n  tenant_id = var.tenant_id\n}\n',
        encoding="utf-8",
    )
    mutate(infra, "tenants.tf", 'source   = "./modules/tenant_tables"', 'source   = "./modules/wrapper"')
    assert check_terraform(infra) == []


def test_pitr_off_is_named(infra: Path) -> None:
    mutate(
        infra,
        "registry.tf",
        "point_in_time_recovery {\n    enabled = true",
        "point_in_time_recovery {\n    enabled = false",
    )
    assert_difference(check_terraform(infra), REGISTRY, "point-in-time recovery is off")


def test_pitr_missing_is_named(infra: Path) -> None:
    mutate(infra, MODULE, "  point_in_time_recovery {\n    enabled = true\n  }\n", "", occurrence=2)
    differences = check_terraform(infra)
    assert_difference(differences, METRICS, "point-in-time recovery is off")
    assert not any(d.startswith(MESSAGES) for d in differences)


def test_sse_off_is_named(infra: Path) -> None:
    mutate(
        infra,
        MODULE,
        "server_side_encryption {\n    enabled     = true",
        "server_side_encryption {\n    enabled     = false",
    )
    assert_difference(check_terraform(infra), MESSAGES, "server-side encryption is off")


def test_sse_without_customer_managed_key_is_named(infra: Path) -> None:
    mutate(infra, "registry.tf", "    kms_key_arn = aws_kms_key.dynamodb.arn\n", "")
    assert_difference(check_terraform(infra), REGISTRY, "kms_key_arn", "customer-managed")


def test_provisioned_billing_is_named(infra: Path) -> None:
    mutate(infra, "registry.tf", '"PAY_PER_REQUEST"', '"PROVISIONED"')
    assert_difference(check_terraform(infra), REGISTRY, "billing mode is PROVISIONED, spec says PAY_PER_REQUEST")


def test_missing_billing_mode_is_named(infra: Path) -> None:
    # Terraform's default is PROVISIONED, so leaving it out is a difference too.
    mutate(infra, MODULE, '  billing_mode                = "PAY_PER_REQUEST"\n', "")
    assert_difference(check_terraform(infra), MESSAGES, "billing mode is PROVISIONED")


def test_missing_attribute_block_is_named(infra: Path) -> None:
    mutate(infra, "registry.tf", '  attribute {\n    name = "status"\n    type = "S"\n  }\n\n', "")
    assert_difference(check_terraform(infra), REGISTRY, "key attribute 'status' has no attribute block")


def test_ttl_always_on_is_named(infra: Path) -> None:
    # A static ttl block with enabled = true: TTL on for every deployment.
    path = infra / MODULE
    text = path.read_text(encoding="utf-8")
    start = text.index('  dynamic "ttl" {')
    end = text.index("  point_in_time_recovery {", start)
    path.write_text(
        text[:start] + '  ttl {\n    attribute_name = "ttl"\n    enabled        = true\n  }\n\n' + text[end:],
        encoding="utf-8",
    )
    assert_difference(check_terraform(infra), MESSAGES, "TTL is always on")


def test_ttl_on_wrong_attribute_is_named(infra: Path) -> None:
    mutate(infra, MODULE, 'attribute_name = "ttl"', 'attribute_name = "expiresAt"')
    assert_difference(check_terraform(infra), MESSAGES, "TTL attribute is 'expiresAt', spec says 'ttl'")


def test_ttl_on_a_table_without_ttl_is_named(infra: Path) -> None:
    mutate(
        infra,
        "registry.tf",
        "  point_in_time_recovery {",
        '  ttl {\n    attribute_name = "ttl"\n    enabled        = true\n  }\n\n  point_in_time_recovery {',
    )
    assert_difference(check_terraform(infra), REGISTRY, "TTL on 'ttl' is not in the spec")


def test_missing_tenant_id_tag_is_named(infra: Path) -> None:
    mutate(infra, MODULE, "    TenantId    = var.tenant_id\n", "", occurrence=2)
    assert_difference(check_terraform(infra), METRICS, "tag TenantId is missing")


def test_wrong_service_tag_is_named(infra: Path) -> None:
    mutate(infra, "registry.tf", 'Service     = "salestalk"', 'Service     = "sales"')
    assert_difference(check_terraform(infra), REGISTRY, "tag Service is 'sales', spec says 'salestalk'")


def test_tags_from_an_expression_are_named(infra: Path) -> None:
    path = infra / "registry.tf"
    text = path.read_text(encoding="utf-8")
    start = text.index("  tags = {")
    path.write_text(text[:start] + '  tags = merge(local.tags, { Purpose = "tenant-registry" })\n}\n', encoding="utf-8")
    assert_difference(check_terraform(infra), REGISTRY, "tags must be a literal map")


def test_purpose_tag_and_name_disagreeing_is_named(infra: Path) -> None:
    mutate(infra, MODULE, 'Purpose     = "conversation-messages"', 'Purpose     = "business-metrics"')
    assert_difference(check_terraform(infra), MESSAGES, "Purpose tag says metrics", "messages table name")


def test_kind_falls_back_to_the_name_without_purpose_tag(infra: Path) -> None:
    mutate(infra, "registry.tf", '    Purpose     = "tenant-registry"\n', "")
    differences = check_terraform(infra)
    # Recognised as the registry by name, so only the tag itself is missing.
    assert [d for d in differences if d.startswith(REGISTRY)] == [f"{REGISTRY}: tag Purpose is missing"]


def test_hard_coded_tenant_table_name_is_named(infra: Path) -> None:
    mutate(infra, MODULE, '"${var.table_prefix}tenant-${var.tenant_id}-metrics"', '"tenant-acme-corp-metrics"')
    assert_difference(
        check_terraform(infra), METRICS, "table name 'tenant-acme-corp-metrics'", "tenant-{tenantId}-metrics"
    )


def test_missing_registry_table_is_named(infra: Path) -> None:
    (infra / "registry.tf").unlink()
    assert_difference(
        check_terraform(infra), "terraform", "no aws_dynamodb_table for the registry table", "tenants-metadata"
    )


def test_unparseable_file_is_named(infra: Path) -> None:
    (infra / "broken.tf").write_text('resource "aws_dynamodb_table" "x" {\n', encoding="utf-8")
    assert_difference(check_terraform(infra), "broken.tf", "does not parse as HCL")


def test_missing_directory_is_named(tmp_path: Path) -> None:
    assert_difference(check_terraform(tmp_path / "nowhere"), str(tmp_path / "nowhere"), "does not exist")


def test_main_exit_code_follows_the_differences(infra: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(infra)]) == 0
    assert "matches the table specs" in capsys.readouterr().out
    mutate(infra, "registry.tf", '"PAY_PER_REQUEST"', '"PROVISIONED"')
    assert main([str(infra)]) == 1
    assert "billing mode is PROVISIONED" in capsys.readouterr().out
