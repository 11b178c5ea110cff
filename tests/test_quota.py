"""Quotas in view: the table/GSI/IAM arithmetic, `salestalk quota`, and the Operations page generated from it."""

from __future__ import annotations

import json

import pytest

from devtools import fleet_docs
from salestalk_lib.contract.errors import ValidationFailed
from salestalk_lib.contract.quotas import (
    DEFAULT_TABLE_LIMIT,
    GSI_LIMIT,
    QuotaExceeded,
    Usage,
    accounts_needed,
    check_tables_fit,
    fleet_rows,
    gsi_usage,
    table_limit_from_env,
    tables_for,
    tenants_that_fit,
    validate_table_limit,
)
from salestalk_lib.contract.tables import TABLE_SPECS
from salestalk_lib.iam.footprint import iam_objects, per_tenant_iam_objects
from salestalk_lib.iam.policies import ROLES


def test_table_arithmetic():
    assert [tables_for(n) for n in (0, 1, 10, 1_000, 5_000)] == [1, 3, 21, 2_001, 10_001]
    assert tenants_that_fit(2_500, 2_001) == 249
    assert tenants_that_fit(2_500, 0, registry_exists=False) == 1_249
    assert tenants_that_fit(2_500, 2_500) == 0 and tenants_that_fit(2_500, 2_600) == 0
    assert accounts_needed(4_999) == 1 and accounts_needed(5_000) == 2 and accounts_needed(1) == 1
    assert accounts_needed(1_249, DEFAULT_TABLE_LIMIT) == 1 and accounts_needed(1_250, DEFAULT_TABLE_LIMIT) == 2


def test_the_warning_line_is_strictly_above_80_percent():
    assert not Usage("t", 80, 100, "x").over_warning
    assert Usage("t", 81, 100, "x").over_warning
    assert Usage("tables", tables_for(1_000), 2_500, "account and region").over_warning  # 80.04 %


def test_table_limits_are_validated():
    assert validate_table_limit("5,000") == 5_000 and validate_table_limit(10_000) == 10_000
    for bad in ("0", "10001", "lots", "-5"):
        with pytest.raises(ValidationFailed) as err:
            validate_table_limit(bad)
        assert err.value.violations[0].where == "--table-limit"
    assert table_limit_from_env({}) == 2_500
    assert table_limit_from_env({"SALESTALK_TABLE_LIMIT": "4000"}) == 4_000
    with pytest.raises(ValidationFailed):
        table_limit_from_env({"SALESTALK_TABLE_LIMIT": "20000"})


def test_crossing_the_limit_is_refused_with_what_to_do():
    check_tables_fit(2_490, 10, 2_500, what="x")  # exactly at the limit: allowed
    with pytest.raises(QuotaExceeded) as err:
        check_tables_fit(2_490, 11, 2_500, what="importing 5 tenant(s)")
    text = str(err.value)
    assert "importing 5 tenant(s) needs 11 new table(s)" in text and "by 1" in text
    assert "Raise the quota" in text and "10,000" in text and "shard" in text


def test_gsis_per_table_come_from_the_specs():
    usage = gsi_usage()
    assert {u.name: u.used for u in usage} == {
        f"GSIs on the {s.kind} table": len(s.indexes) for s in TABLE_SPECS.values()
    }
    assert all(u.limit == GSI_LIMIT and 0 < u.used <= GSI_LIMIT for u in usage)


def test_iam_objects_of_the_current_design_do_not_grow_with_tenants():
    assert iam_objects(0) == iam_objects(1_000) == iam_objects(5_000)
    assert (iam_objects(1_000).policies, iam_objects(1_000).roles) == (len(ROLES), len(ROLES)) == (3, 3)
    assert "ABAC" in iam_objects(1).design


def test_the_replaced_per_tenant_design_grows_per_tenant():
    assert per_tenant_iam_objects(1_000).policies == len(ROLES) * 1_000 == 3_000
    assert per_tenant_iam_objects(0).policies == 0 and per_tenant_iam_objects(500).roles == 1_500


def test_fleet_rows_mark_what_crosses_a_limit():
    rows = {
        r["tenants"]: r
        for r in fleet_rows(iam_policies=lambda n: iam_objects(n).policies, iam_roles=lambda n: iam_objects(n).roles)
    }
    assert list(rows) == ["10", "100", "1,000", "5,000"]
    assert rows["1,000"]["tables"] == "2,001" and rows["1,000"]["of 2,500"] == "80.04 % (above 80%)"
    assert rows["5,000"]["of 10,000"] == "100.0 % (over)" and rows["5,000"]["accounts at 10,000"] == "2"
    assert rows["1,000"]["IAM policies"].startswith("3: ")  # the constant set
    per_tenant = {
        r["tenants"]: r
        for r in fleet_rows(
            iam_policies=lambda n: per_tenant_iam_objects(n).policies,
            iam_roles=lambda n: per_tenant_iam_objects(n).roles,
        )
    }
    assert per_tenant["1,000"]["IAM policies"] == "3,000: 200.0 % (over)"
    assert rows["10"]["of 2,500"] == "0.8 %"


def test_the_operations_page_carries_the_generated_arithmetic():
    assert fleet_docs.main(["--check"]) == 0, "run `python -m devtools.fleet_docs`"
    text = fleet_docs.OPERATIONS_PAGE.read_text(encoding="utf-8")
    assert "| 1,000 | 2,001 | 80.04 % (above 80%) |" in text
    assert "## Past one account" in text
    stale = text.replace("| 1,000 | 2,001 |", "| 1,000 | 1,999 |")
    assert fleet_docs.render_page(stale, fleet_docs.load_results()) == text


# --- the CLI ---------------------------------------------------------------------------------


def _cli(capsys, endpoint, settings, *argv):
    from salestalk_lib.cli.main import main

    code = main([*argv, "--endpoint-url", endpoint.url, "--table-prefix", settings.table_prefix])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.integration
def test_cli_quota_reports_tables_tenants_gsis_and_iam(capsys, endpoint, settings, st, register):
    register(st, "quota-a", "quota-b", "quota-c")
    used = len(st.storage.list_tables())
    code, out, err = _cli(capsys, endpoint, settings, "quota", "--output", "json", "--table-limit", "10000")
    report = json.loads(out)
    assert report["tables"]["used"] == used and report["tables"]["limit"] == 10_000
    assert report["tables"]["tenantsThatFit"] == (10_000 - used) // 2
    assert report["tenants"] == 3
    by_name = {u["quota"]: u for u in report["usages"]}
    assert by_name["IAM customer-managed policies"]["used"] == 3  # the constant set, whatever the tenant count
    assert by_name["GSIs on the messages table"]["limit"] == 20
    assert code == (1 if any(u["aboveWarning"] for u in report["usages"]) else 0)
    assert code == 0  # a few tables and three tenants are far from every limit

    code, out, _ = _cli(capsys, endpoint, settings, "quota", "--table-limit", str(used))
    assert code == 1 and f"tables: {used:,} of {used:,}" in out and "above 80%" in out

    code, _, err = _cli(capsys, endpoint, settings, "quota", "--table-limit", "0")
    assert code == 2 and "--table-limit" in err and "Traceback" not in err


@pytest.mark.integration
def test_cli_quota_without_a_registry(capsys, endpoint, settings):
    code, out, _ = _cli(capsys, endpoint, settings, "quota", "--output", "json", "--table-limit", "10000")
    report = json.loads(out)
    assert report["tenants"] == 0 and report["tables"]["registryExists"] is False
    assert code == 0
