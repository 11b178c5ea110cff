"""The seed data: valid, exactly as documented, and every quoted figure is the metric it cites."""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from salestalk_lib.contract import keys
from salestalk_lib.contract.models import Message, Metric, Tenant
from salestalk_lib.contract.validation import RecordKind, load_valid

SEED = Path(__file__).resolve().parents[1] / "seed_data"
ACME, TECH = "acme-corp-001", "techstart-inc-002"


@pytest.fixture(scope="module")
def report():
    return load_valid([SEED])


@pytest.fixture(scope="module")
def tenants(report) -> dict[str, Tenant]:
    return {t.tenant_id: t for t in report.models(RecordKind.TENANT)}


@pytest.fixture(scope="module")
def metrics(report) -> list[Metric]:
    return report.models(RecordKind.METRIC)


@pytest.fixture(scope="module")
def messages(report) -> list[Message]:
    return report.models(RecordKind.MESSAGE)


def test_seed_validates_without_violations(report):
    assert report.ok
    assert report.files == 5


def test_two_tenants_as_documented(tenants):
    acme, tech = tenants[ACME], tenants[TECH]
    assert (acme.name, acme.plan, acme.metadata["industry"], acme.metadata["region"]) == (
        "ACME Corporation",
        "standard",
        "Manufacturing",
        "North America",
    )
    assert (tech.name, tech.plan, tech.metadata["industry"], tech.metadata["region"]) == (
        "TechStart Inc",
        "enterprise",
        "Technology",
        "Europe",
    )
    for t in (acme, tech):
        assert {"industry", "employees", "region", "fiscalYearStart"} <= set(t.metadata)
        assert t.status == "active"


def test_exactly_20_headline_metrics_over_q2_to_q4_2025(metrics):
    headlines = [m for m in metrics if not m.is_slice]
    assert len(headlines) == 20
    assert {m.period.text for m in metrics} == {"2025-Q2", "2025-Q3", "2025-Q4"}
    assert Counter(m.tenant_id for m in headlines) == {ACME: 10, TECH: 10}


def test_subjects_and_currencies_per_tenant(metrics):
    subjects = {t: {m.subject.value for m in metrics if m.tenant_id == t} for t in (ACME, TECH)}
    assert subjects[ACME] == {"revenue", "margin", "customers", "products", "renewal_rate"}
    assert subjects[TECH] == {"revenue", "margin", "customers", "arr", "churn_rate"}
    currencies = {
        t: {m.unit for m in metrics if m.tenant_id == t and m.unit not in ("count", "percentage")} for t in (ACME, TECH)
    }
    assert currencies == {ACME: {"USD"}, TECH: {"EUR"}}


def test_revenue_customers_and_margin_series(metrics):
    def periods(tenant, subject):
        return sorted(
            m.period.text for m in metrics if m.tenant_id == tenant and m.subject == subject and not m.is_slice
        )

    for tenant in (ACME, TECH):
        assert periods(tenant, "revenue") == ["2025-Q2", "2025-Q3", "2025-Q4"]
        assert periods(tenant, "customers") == ["2025-Q2", "2025-Q3", "2025-Q4"]
        assert periods(tenant, "margin") == ["2025-Q3", "2025-Q4"]


def test_percentages_are_fractions(metrics):
    for m in metrics:
        if m.unit == "percentage":
            assert Decimal(0) < m.value < Decimal(1), m


def test_region_slices_add_up_to_their_headline(metrics):
    slices = [m for m in metrics if m.is_slice]
    assert {m.dimension_key for m in slices} == {"region:North America", "region:Europe"}
    assert {(m.tenant_id, m.subject, m.period.text) for m in slices} == {(ACME, "revenue", "2025-Q3")}
    headline = next(m for m in metrics if (m.tenant_id, m.pk, m.sk) == (ACME, keys.metric_pk("revenue"), "2025-Q3"))
    assert sum(m.value for m in slices) == headline.value


def test_ids_are_unique_uuid4(metrics, messages):
    ids = [m.metric_id for m in metrics] + [m.message_id for m in messages]
    assert len(set(ids)) == len(ids)
    assert all(keys.is_uuid4(i) for i in ids)


def test_per_tenant_files_hold_only_that_tenant(report):
    for r in report.records:
        path = Path(r.where.rsplit(":", 1)[0])
        if path.parent != SEED:
            assert r.model.tenant_id == path.parent.name, r.where


def test_one_conversation_of_two_question_answer_pairs_per_tenant(messages):
    assert len(messages) == 8
    for tenant in (ACME, TECH):
        mine = sorted((m for m in messages if m.tenant_id == tenant), key=lambda m: m.sk)
        assert len({m.session_id for m in mine}) == 1
        assert [m.sender for m in mine] == ["user", "assistant", "user", "assistant"]
        for q, a in zip(mine[::2], mine[1::2], strict=True):
            assert q.classification is not None and q.classification.subject != "unknown"
            assert a.classification is None and a.data_references
            assert q.at < a.at
            refs = a.data_references
            assert refs[0].metric == q.classification.subject
            period = q.classification.time_range.to_period()
            if period is not None:
                assert refs[0].period == period.text


def figure(value: Decimal, unit: str) -> str:
    """How an answer writes a figure: $12,450,000 / €19,850,000 / 70.2% / 1,291."""
    if unit == "percentage":
        return f"{value * 100:.1f}%"
    if unit == "count":
        return f"{int(value):,}"
    symbol = {"USD": "$", "EUR": "€"}[unit]
    return f"{symbol}{int(value):,}" if value == value.to_integral_value() else f"{symbol}{value:,.2f}"


_NUMBER = re.compile(r"(?<![\w$€.,])[$€]?\d[\d,]*(?:\.\d+)?%?")
_YEAR = re.compile(r"(19|20)\d\d")


def figures_in(text: str) -> list[str]:
    """Every figure a text quotes (years and period names like Q3 are not figures)."""
    tokens = [t.rstrip(",") for t in _NUMBER.findall(text)]
    return [t for t in tokens if not _YEAR.fullmatch(t)]


def test_figure_extraction_sees_every_kind_of_number():
    assert figures_in("In Q3 2025 revenue was $1,200, 5.5% of €3,000,000, for 701 customers.") == [
        "$1,200",
        "5.5%",
        "€3,000,000",
        "701",
    ]


def test_every_quoted_figure_is_the_value_of_a_cited_metric(messages, metrics):
    stored = {(m.tenant_id, m.pk, m.sk): m for m in metrics}
    answers = [m for m in messages if m.sender == "assistant"]
    assert len(answers) == 4
    for answer in answers:
        cited = []
        for ref in answer.data_references:
            metric = stored[(ref.tenant_id, ref.source.pk, ref.source.sk)]
            assert ref.tenant_id == answer.tenant_id
            assert ref.check_against(metric) == []
            cited.append(figure(metric.value, metric.unit))
        assert sorted(figures_in(answer.text)) == sorted(cited), answer.text
