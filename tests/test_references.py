"""Data references verified against the live metrics table (salestalk_lib.ops.references)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from salestalk_lib.contract import keys
from salestalk_lib.contract.errors import IsolationViolation
from salestalk_lib.contract.models import DataReference, Metric
from salestalk_lib.ops.ingest import Ingestor
from salestalk_lib.ops.references import referenced_item, verify_reference
from salestalk_lib.ops.seed import DEFAULT_SEED_DIR, load_seed, plan_seed

pytestmark = pytest.mark.integration

ACME = "acme-corp-001"
TECHSTART = "techstart-inc-002"


@pytest.fixture
def seeded(st):
    load_seed(st, progress=False)
    return st


def seed_metrics(tenant_id: str) -> list[Metric]:
    _, metrics, _, _ = plan_seed(DEFAULT_SEED_DIR)
    return [m for m in metrics if m.tenant_id == tenant_id]


def changed(ref: DataReference, **fields) -> DataReference:
    return DataReference.from_item({**ref.to_item(), **fields})


def test_every_seed_metric_reference_verifies_against_the_live_table(seeded):
    for tenant_id in (ACME, TECHSTART):
        scope = seeded.tenant(tenant_id)
        for metric in seed_metrics(tenant_id):
            assert verify_reference(scope, metric.reference()) == [], metric.sk


def test_referenced_item_is_the_stored_metric_with_its_exact_decimal(seeded):
    scope = seeded.tenant(ACME)
    margin = next(m for m in seed_metrics(ACME) if m.subject == "margin")
    stored = referenced_item(scope, margin.reference())
    assert stored == margin.to_item()
    assert stored["value"] == margin.value and str(stored["value"]) == str(margin.value)


def test_a_changed_value_unit_or_period_is_named(seeded):
    scope = seeded.tenant(ACME)
    ref = next(m for m in seed_metrics(ACME) if m.sk == "2025-Q3").reference()
    assert [m.field for m in verify_reference(scope, changed(ref, value=ref.value + 1))] == ["value"]
    assert [m.field for m in verify_reference(scope, changed(ref, unit="EUR"))] == ["unit"]
    other = changed(ref, period="2025-Q2", source={**ref.source.to_item(), "sk": "2025-Q2"})
    assert {m.field for m in verify_reference(scope, other)} == {"value"}  # Q2 exists with another value


def test_a_slice_reference_checks_its_dimensions(seeded):
    scope = seeded.tenant(ACME)
    europe = next(m for m in seed_metrics(ACME) if m.dimension_key == "region:Europe")
    ref = europe.reference()
    assert verify_reference(scope, ref) == []
    headline = changed(ref, source={**ref.source.to_item(), "sk": keys.metric_sk(europe.period)})
    headline = DataReference.from_item({k: v for k, v in headline.to_item().items() if k != "dimensions"})
    assert [m.field for m in verify_reference(scope, headline)] == ["value"]


def test_a_reference_to_a_missing_item_fails_on_source(seeded):
    scope = seeded.tenant(ACME)
    ref = next(m for m in seed_metrics(ACME) if m.sk == "2025-Q3").reference()
    missing = changed(ref, period="2024-Q3", source={**ref.source.to_item(), "sk": "2024-Q3"})
    assert [m.field for m in verify_reference(scope, missing)] == ["source"]


def test_a_corrected_stored_value_fails_the_old_reference(seeded):
    scope = seeded.tenant(ACME)
    metric = next(m for m in seed_metrics(ACME) if m.sk == "2025-Q3" and m.subject == "revenue")
    old = metric.reference()
    corrected = Ingestor(seeded.storage, seeded.settings).correct_metric(
        Metric.from_item({**metric.to_item(), "value": Decimal("12500000")}), expected_version=1
    )
    mismatches = verify_reference(scope, old)
    assert [(m.field, m.reference, m.stored) for m in mismatches] == [("value", metric.value, Decimal("12500000"))]
    assert verify_reference(scope, corrected.reference()) == []


def test_another_tenants_reference_is_refused_without_a_request(seeded):
    acme_ref = next(m for m in seed_metrics(ACME) if m.sk == "2025-Q3").reference()
    other = seeded.tenant(TECHSTART)
    sent: list[str] = []
    other.storage.hooks.append(lambda operation, params: sent.append(operation))
    assert [m.field for m in verify_reference(other, acme_ref)] == ["source.table"]
    with pytest.raises(IsolationViolation, match="acme-corp-001-metrics"):
        referenced_item(other, acme_ref)
    assert sent == []


def test_verification_is_one_getitem_on_the_prefixed_physical_table(seeded):
    scope = seeded.tenant(ACME)
    sent: list[tuple[str, str]] = []
    scope.storage.hooks.append(lambda operation, params: sent.append((operation, params["TableName"])))
    assert seeded.settings.table_prefix and scope.metrics_table.startswith(seeded.settings.table_prefix)
    ref = seed_metrics(ACME)[0].reference()
    assert ref.source.table == keys.metrics_table_base(ACME) != scope.metrics_table
    assert verify_reference(scope, ref) == []
    assert sent == [("GetItem", scope.metrics_table)]
