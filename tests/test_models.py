"""Per-rule tests of the contract models: each rule accepts its boundary and rejects just past it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from salestalk_lib.contract import items, keys, models
from salestalk_lib.contract.models import (
    Classification,
    ClassificationPerformedEvent,
    DataReference,
    Message,
    MessageIdentity,
    Metric,
    MetricsIngestedEvent,
    NarrativeGeneratedEvent,
    SessionRollup,
    Tenant,
    TenantProvisionedEvent,
    item_size_bytes,
)
from salestalk_lib.contract.validation import parse_json, violations_from

TENANT = "acme-corp-001"
OTHER = "techstart-inc-002"
SESSION = "5df749f2-e283-4917-98e7-28cfc8ecd7a2"
MESSAGE = "8a3e8ab9-0837-4e34-8f09-71ef36f722f8"
METRIC = "ae2e5f1b-84e7-4643-a820-01c0198b3f1c"
EVENT = "3b8f0c8e-5a7d-4f0e-9a51-2f4d8c6b1e70"
AT = datetime(2025, 11, 9, 10, 0, 0, 123000, tzinfo=UTC)


def tenant_item(**changes: Any) -> dict[str, Any]:
    item = Tenant.create(
        tenant_id=TENANT,
        name="ACME Corporation",
        owner_email="ops@acme-corp.example",
        plan="standard",
        created_at=1741003200,
        updated_at=1762425600,
        metadata={"industry": "Manufacturing", "employees": 2400},
    ).to_item()
    return _apply(item, changes)


def classification(**changes: Any) -> dict[str, Any]:
    c = {
        "intent": "fact_retrieval",
        "subject": "revenue",
        "measure": "total",
        "timeRange": {"period": "quarter", "value": "Q3", "year": 2025},
        "filters": [],
        "confidence": Decimal("0.9"),
        "components": {"intent_confidence": Decimal("0.95")},
    }
    return _apply(c, changes)


def metric_item(**changes: Any) -> dict[str, Any]:
    item = Metric.create(
        tenant_id=TENANT, subject="revenue", period="2025-Q3", value=Decimal("12450000"), unit="USD", metric_id=METRIC
    ).to_item()
    return _apply(item, changes)


def slice_item(**changes: Any) -> dict[str, Any]:
    item = Metric.create(
        tenant_id=TENANT,
        subject="revenue",
        period="2025-Q3",
        value=Decimal("2240000"),
        unit="USD",
        dimensions={"region": "Europe"},
        dimension_key="region:Europe",
        metric_id=METRIC,
    ).to_item()
    return _apply(item, changes)


def message_item(**changes: Any) -> dict[str, Any]:
    item = Message.create(
        tenant_id=TENANT,
        session_id=SESSION,
        message_id=MESSAGE,
        sender="user",
        text="What was revenue in Q3 2025?",
        at=AT,
        classification=classification(),
    ).to_item()
    return _apply(item, changes)


def answer_item(**changes: Any) -> dict[str, Any]:
    ref = Metric.from_item(metric_item()).reference().to_item()
    item = Message.create(
        tenant_id=TENANT,
        session_id=SESSION,
        message_id=MESSAGE,
        sender="assistant",
        text="Revenue was $12,450,000.",
        at=AT,
        metadata={"dataReferences": [ref]},
    ).to_item()
    return _apply(item, changes)


def envelope(event_type: str, data: dict[str, Any], **changes: Any) -> dict[str, Any]:
    item = {
        "eventId": EVENT,
        "eventType": event_type,
        "eventVersion": "1.0",
        "source": "salestalk.test",
        "timestamp": "2025-11-09T10:00:00.000Z",
        "tenantId": TENANT,
        "sessionId": SESSION,
        "metadata": {"correlationId": "corr-1"},
        "data": data,
    }
    return _apply(item, changes)


def _apply(item: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    item = dict(item)
    for name, value in changes.items():
        if value is _DELETE:
            item.pop(name, None)
        else:
            item[name] = value
    return item


_DELETE = object()


def violated(model: type[models.ContractModel], item: dict[str, Any], **kw: Any) -> dict[str, str]:
    """field → rule for every violation; {} when the item is valid."""
    try:
        model.from_item(item, **kw)
    except ValidationError as exc:
        return {v.field: v.rule for v in violations_from(exc, "test")}
    return {}


def assert_only(model, item, field, **kw) -> str:
    found = violated(model, item, **kw)
    assert set(found) == {field}, found
    return found[field]


# Valid records and round trips


@pytest.mark.parametrize("build", [tenant_item, metric_item, slice_item, message_item, answer_item])
def test_valid_items_round_trip_unchanged(build):
    item = build()
    model = _model_of(item)
    parsed = model.from_item(item)
    assert parsed.to_item() == item
    assert model.from_item(parsed.to_item()) == parsed


def _model_of(item):
    if "ownerEmail" in item:
        return Tenant
    return Message if "messageId" in item else Metric


def test_to_item_holds_only_dynamodb_types():
    def walk(v):
        if isinstance(v, dict):
            for k, x in v.items():
                assert type(k) is str and k
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        else:
            assert v is not None and v != ""
            assert type(v) in (str, Decimal, bool), (v, type(v))  # plain str, not a StrEnum

    for item in (tenant_item(), message_item(), answer_item(), slice_item()):
        walk(item)


def test_decimals_built_from_text_read_back_exactly():
    text = models.canonical_json(metric_item(value=0)).replace('"value":0', '"value":0.1')
    metric = Metric.from_item(parse_json(text))
    assert metric.value == Decimal("0.1")
    assert str(metric.to_item()["value"]) == "0.1"  # not 0.1000000000000000055511151231257827
    assert models.canonical_json(metric.to_item()) == text


def test_floats_become_their_shortest_decimal():
    metric = Metric.from_item(
        metric_item(subject="margin", metricType="margin", pk=keys.metric_pk("margin"), unit="percentage", value=0.35)
    )
    assert metric.to_item()["value"] == Decimal("0.35")
    assert str(metric.value) == "0.35"


@pytest.mark.parametrize("value", [Decimal("0"), Decimal("-1250.75"), 0, -3, Decimal("1E+20")])
def test_metric_value_may_be_zero_or_negative(value):
    assert violated(Metric, metric_item(value=value)) == {}


# Confidence in [0.0, 1.0]


@pytest.mark.parametrize("value", [0.0, 1.0, -0.0, 0, 1, Decimal("0.0"), Decimal("1.0"), Decimal("-0"), 0.5])
def test_confidence_accepts_the_closed_unit_interval(value):
    c = Classification.from_item(classification(confidence=value))
    assert Decimal(0) <= c.confidence <= Decimal(1)


def test_negative_zero_confidence_is_stored_as_zero():
    c = Classification.from_item(classification(confidence=-0.0))
    assert c.confidence.is_zero() and not c.confidence.is_signed()


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        (1.0000001, "less than or equal to 1"),
        (Decimal("1.0000001"), "less than or equal to 1"),
        (-0.0000001, "greater than or equal to 0"),
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        (float("-inf"), "finite"),
        (Decimal("NaN"), "finite"),
        (Decimal("Infinity"), "finite"),
        (True, "boolean"),
        (False, "boolean"),
        ("0.5", "string"),
        (None, "null"),
        ([0.5], "number"),
    ],
)
def test_confidence_rejects(value, rule):
    message = assert_only(Classification, classification(confidence=value), "confidence")
    assert rule in message


def test_missing_confidence_is_rejected():
    assert assert_only(Classification, classification(confidence=_DELETE), "confidence") == "is required"


@pytest.mark.parametrize("value", [1.0000001, float("nan"), True, "0.9", None])
def test_component_confidences_follow_the_same_rule(value):
    item = classification(components={"intent_confidence": 0.5, "time_confidence": value})
    assert_only(Classification, item, "components.time_confidence")


def test_components_refuse_unknown_keys():
    item = classification(components={"intent_confidence": 0.5, "mood_confidence": 0.5})
    assert_only(Classification, item, "components.mood_confidence")


@pytest.mark.parametrize(("name", "value"), [("intent", "chit_chat"), ("subject", "weather"), ("measure", "sum")])
def test_classification_values_come_from_the_vocabularies(name, value):
    assert_only(Classification, classification(**{name: value}), name)


@pytest.mark.parametrize(
    ("time_range", "ok"),
    [
        ({"period": "quarter", "value": "Q4", "year": 2025}, True),
        ({"period": "quarter", "value": "Q5", "year": 2025}, False),
        ({"period": "month", "value": "12", "year": 2025}, True),
        ({"period": "month", "value": "13", "year": 2025}, False),
        ({"period": "day", "value": "02-29", "year": 2024}, True),
        ({"period": "day", "value": "02-29", "year": 2025}, False),
        ({"period": "year", "value": "2025", "year": 2025}, True),
        ({"period": "year", "value": "2024", "year": 2025}, False),
    ],
)
def test_time_range_value_fits_its_period(time_range, ok):
    found = violated(Classification, classification(timeRange=time_range))
    assert found == {} if ok else set(found) == {"timeRange.value"}


def test_time_range_year_is_a_whole_number_not_text():
    assert_only(
        Classification, classification(timeRange={"period": "quarter", "value": "Q3", "year": "2025"}), "timeRange.year"
    )


# Text lengths and empty strings


@pytest.mark.parametrize(("length", "ok"), [(1, True), (10_000, True), (10_001, False)])
def test_message_text_is_1_to_10000_characters(length, ok):
    found = violated(Message, message_item(text="x" * length))
    assert found == {} if ok else set(found) == {"text"}


def test_text_counts_characters_not_bytes():
    assert violated(Message, message_item(text="é" * 10_000)) == {}


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_message_text_must_not_be_empty_or_blank(text):
    assert_only(Message, message_item(text=text), "text")


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", ""), ("name", "x" * 257), ("tenantId", ""), ("ownerEmail", ""), ("ownerEmail", "not-an-email")],
)
def test_tenant_rejects_empty_and_malformed_strings(field, value):
    found = violated(Tenant, tenant_item(**{field: value}))
    assert field in found


def test_strings_are_never_coerced_from_numbers():
    assert_only(Tenant, tenant_item(name=42), "name")


# Numbers


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        (True, "boolean"),
        ("12450000", "string"),
        (float("nan"), "finite"),
        (Decimal("-Infinity"), "finite"),
        (None, "null"),
        (Decimal("1" * 39), "38 significant digits"),
        (Decimal("1E+126"), "range"),
        (Decimal("1E-131"), "range"),
    ],
)
def test_metric_value_rejects(value, rule):
    assert rule in assert_only(Metric, metric_item(value=value), "value")


def test_38_significant_digits_and_range_edges_are_accepted():
    for value in (Decimal("1" * 38), Decimal("9.9E+125"), Decimal("1E-130"), Decimal("1" * 38 + "000")):
        assert violated(Metric, metric_item(value=value)) == {}, value


def test_counts_must_be_whole_numbers():
    item = metric_item(subject="customers", metricType="customers", pk=keys.metric_pk("customers"), unit="count")
    assert violated(Metric, dict(item, value=Decimal("1236"))) == {}
    assert violated(Metric, dict(item, value=Decimal("1236.0"))) == {}
    assert "whole" in assert_only(Metric, dict(item, value=Decimal("1236.5")), "value")


# Tenant


def test_tenant_table_names_and_prefix_derive_from_tenant_id():
    for field, wrong in (
        ("messagesTableName", "tenant-techstart-inc-002-messages"),
        ("metricsTableName", "acme-corp-001-metrics"),
        ("s3Prefix", "tenant-acme-corp-001"),
    ):
        assert "derived from tenantId" in assert_only(Tenant, tenant_item(**{field: wrong}), field)


def test_updated_at_may_equal_but_not_precede_created_at():
    assert violated(Tenant, tenant_item(updatedAt=Decimal(1741003200))) == {}
    assert_only(Tenant, tenant_item(updatedAt=Decimal(1741003199)), "updatedAt")
    assert_only(Tenant, tenant_item(updatedAt=Decimal("1741003199.999")), "updatedAt")


@pytest.mark.parametrize("value", [0, -1, True, "1741003200"])
def test_created_at_is_positive_unix_seconds(value):
    assert "createdAt" in violated(Tenant, tenant_item(createdAt=value, updatedAt=Decimal(1762425600)))


@pytest.mark.parametrize(("field", "value"), [("plan", "gold"), ("status", "archived")])
def test_tenant_plan_and_status_come_from_the_vocabularies(field, value):
    assert_only(Tenant, tenant_item(**{field: value}), field)


@pytest.mark.parametrize("tenant_id", ["ACME", "acme corp", "-acme", "a" * 65, "acme/../x"])
def test_unsafe_tenant_ids_are_rejected(tenant_id):
    assert "tenantId" in violated(Tenant, tenant_item(tenantId=tenant_id))


def _metadata_of_json_size(size: int) -> dict[str, str]:
    overhead = len('{"blob":""}')
    return {"blob": "x" * (size - overhead)}


@pytest.mark.parametrize(
    ("model", "build", "limit"),
    [
        (Tenant, tenant_item, 10 * 1024),
        (Metric, metric_item, 10 * 1024),
        (Message, message_item, 50 * 1024),
    ],
)
def test_metadata_size_limit_is_inclusive(model, build, limit):
    assert violated(model, build(metadata=_metadata_of_json_size(limit))) == {}
    rule = assert_only(model, build(metadata=_metadata_of_json_size(limit + 1)), "metadata")
    assert f"{limit:,} bytes" in rule


def test_metadata_size_counts_utf8_bytes():
    meta = {"blob": "€" * (10 * 1024 // 3)}  # 3 bytes each: over 10 KB in bytes, under in characters
    assert_only(Tenant, tenant_item(metadata=meta), "metadata")


@pytest.mark.parametrize(
    ("meta", "field"),
    [
        ({"a": None}, "metadata.a"),
        ({"a": ""}, "metadata.a"),
        ({"a": float("nan")}, "metadata.a"),
        ({"a": {"b": [1, float("inf")]}}, "metadata.a.b[1]"),
        ({"a": {1, 2}}, "metadata.a"),
    ],
)
def test_metadata_values_must_be_storable(meta, field):
    assert_only(Tenant, tenant_item(metadata=meta), field)


def test_metadata_reports_every_bad_value():
    found = violated(Tenant, tenant_item(metadata={"a": None, "b": "", "c": float("nan"), "d": "ok"}))
    assert set(found) == {"metadata.a", "metadata.b", "metadata.c"}


def test_unknown_attributes_are_refused_but_metadata_is_free_form():
    assert_only(Tenant, tenant_item(colour="blue"), "colour")
    assert violated(Tenant, tenant_item(metadata={"colour": "blue", "nested": {"deep": [1, True]}})) == {}


def test_items_use_contract_names_only():
    item = tenant_item()
    item["tenant_id"] = item.pop("tenantId")
    assert set(violated(Tenant, item)) == {"tenantId", "tenant_id"}


def test_tenant_create_derives_everything():
    t = Tenant.create(
        tenant_id="new-co", name="New Co", owner_email="a@new-co.example", plan="free", created_at=1700000000
    )
    assert t.messages_table_name == keys.messages_table_base("new-co")
    assert t.s3_prefix == "tenant-new-co/"
    assert t.updated_at == t.created_at


def test_models_are_frozen():
    t = Tenant.from_item(tenant_item())
    with pytest.raises(ValidationError):
        t.name = "Other"  # type: ignore[misc]


# Message


def test_message_pk_must_name_the_message_id():
    other = "2d3c9a10-1b7e-4f57-8c2d-9e0f1a2b3c4d"
    assert keys.MSG_PREFIX in assert_only(Message, message_item(pk=keys.message_pk(other)), "pk")


def test_message_timestamp_must_equal_the_instant_of_sk():
    assert_only(Message, message_item(timestamp=Decimal("1762682400.124")), "timestamp")
    assert_only(Message, message_item(timestamp=Decimal("1762682400")), "timestamp")
    same = message_item(sk="2025-11-09T10:00:00.000Z", timestamp=Decimal("1762682400.000"))
    assert violated(Message, same) == {}


def test_message_sk_must_be_iso_utc_with_milliseconds():
    assert_only(Message, message_item(sk="2025-11-09T10:00:00Z"), "sk")


@pytest.mark.parametrize("field", ["messageId", "sessionId"])
@pytest.mark.parametrize(
    "value", ["not-a-uuid", "8A3E8AB9-0837-4E34-8F09-71EF36F722F8", "8a3e8ab9-0837-1e34-8f09-71ef36f722f8"]
)
def test_message_ids_are_lowercase_uuid4(field, value):
    assert field in violated(Message, message_item(**{field: value}))


def test_sender_comes_from_the_vocabulary():
    assert_only(Message, message_item(sender="bot"), "sender")


def test_message_of_another_tenants_table_is_rejected():
    assert violated(Message, message_item(), tenant_id=TENANT) == {}
    assert_only(Message, message_item(), "tenantId", tenant_id=OTHER)


def test_ttl_must_be_after_the_message():
    assert violated(Message, message_item(ttl=Decimal(1762682401))) == {}
    assert_only(Message, message_item(ttl=Decimal(1762682400)), "ttl")


def test_answer_references_are_validated_in_place():
    ref = dict(answer_item()["metadata"]["dataReferences"][0])
    bad = dict(ref, value="12450000", source=dict(ref["source"], pk=keys.metric_pk("margin")))
    found = violated(Message, answer_item(metadata={"dataReferences": [ref, bad]}))
    assert set(found) == {"metadata.dataReferences[1].value", "metadata.dataReferences[1].source.pk"}


def test_answer_references_must_stay_in_the_tenant():
    ref = answer_item()["metadata"]["dataReferences"][0]
    foreign = dict(ref, source=dict(ref["source"], table=keys.metrics_table_base(OTHER)))
    assert_only(Message, answer_item(metadata={"dataReferences": [foreign]}), "metadata.dataReferences[0].source.table")


def test_message_create_derives_keys_and_timestamp():
    m = Message.from_item(message_item())
    assert m.pk == keys.message_pk(MESSAGE)
    assert m.sk == "2025-11-09T10:00:00.123Z"
    assert m.timestamp == Decimal("1762682400.123")
    assert m.at == AT


# Session rollup


def rollup_item(**changes: Any) -> dict[str, Any]:
    first = Message.from_item(message_item())
    second = Message.from_item(
        answer_item(
            messageId="2d3c9a10-1b7e-4f57-8c2d-9e0f1a2b3c4d",
            pk=keys.message_pk("2d3c9a10-1b7e-4f57-8c2d-9e0f1a2b3c4d"),
            sk="2025-11-09T10:00:02.500Z",
            timestamp=Decimal("1762682402.5"),
        )
    )
    return _apply(SessionRollup.of_messages([first, second, first]).to_item(), changes)


def test_rollup_counts_each_message_once():
    rollup = SessionRollup.from_item(rollup_item())
    assert rollup.message_count == 2
    assert rollup.first_message_at < rollup.last_message_at
    assert rollup.sk == keys.SESSION_SK


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"pk": keys.session_pk(MESSAGE)}, "pk"),
        ({"sk": "META"}, "sk"),
        ({"lastMessageAt": Decimal(1762682399)}, "lastMessageAt"),
        ({"messageCount": 0}, "messageCount"),
        ({"timestamp": Decimal(1762682400)}, "timestamp"),
        ({"sender": "user"}, "sender"),
    ],
)
def test_rollup_rules(changes, field):
    assert_only(SessionRollup, rollup_item(**changes), field)


# Metric


def test_metric_timestamp_is_the_period_start():
    assert Metric.from_item(metric_item()).timestamp == 1751328000
    assert "1751328000" in assert_only(Metric, metric_item(timestamp=Decimal(1751328001)), "timestamp")


def test_metric_timestamp_for_month_and_day_periods():
    for period in ("2025-07", "2025-07-15"):
        item = metric_item(sk=period, timestamp=Decimal(keys.parse_period(period).timestamp))
        assert violated(Metric, item) == {}
        assert_only(Metric, dict(item, timestamp=Decimal(1751328000 - 1)), "timestamp")


def test_metric_type_must_equal_subject():
    assert_only(Metric, metric_item(metricType="arr"), "metricType")


def test_metric_pk_must_name_the_subject():
    assert_only(Metric, metric_item(pk=keys.metric_pk("arr")), "pk")


def test_metric_subject_unknown_is_refused():
    assert "subject" in violated(
        Metric, metric_item(subject="unknown", metricType="unknown", pk=keys.metric_pk("unknown"))
    )


@pytest.mark.parametrize(
    ("unit", "ok"),
    [("USD", True), ("EUR", True), ("usd", False), ("US", False), ("XXX", False), ("dollars", False), ("count", False)],
)
def test_revenue_unit_is_an_iso_currency(unit, ok):
    found = violated(Metric, metric_item(unit=unit))
    assert found == {} if ok else set(found) == {"unit"}


def test_rates_are_percentages():
    item = metric_item(
        subject="churn_rate", metricType="churn_rate", pk=keys.metric_pk("churn_rate"), value=Decimal("0.018")
    )
    assert_only(Metric, dict(item, unit="EUR"), "unit")
    assert violated(Metric, dict(item, unit="percentage")) == {}


def test_slice_sk_is_period_hash_dimension_key():
    m = Metric.from_item(slice_item())
    assert m.sk == "2025-Q3#region:Europe"
    assert m.is_slice and m.period.text == "2025-Q3"


def test_slice_without_dimension_key_is_rejected():
    assert "dimensionKey is absent" in assert_only(Metric, slice_item(dimensionKey=_DELETE), "sk")


def test_headline_sk_with_dimension_key_is_rejected():
    assert_only(Metric, slice_item(sk="2025-Q3"), "sk")


def test_dimension_key_must_name_one_of_the_dimensions():
    assert_only(Metric, slice_item(dimensions={"region": "Asia"}), "dimensionKey")
    assert_only(Metric, slice_item(dimensions=_DELETE), "dimensionKey")


def test_dimension_names_and_values_follow_the_key_grammar():
    assert "dimensions" in " ".join(violated(Metric, slice_item(dimensions={"region": "Europe", "bad#name": "x"})))
    assert_only(Metric, slice_item(dimensions={"region": "Europe", "channel": "web#1"}), "dimensions.channel")


def test_slices_and_headline_have_distinct_keys():
    headline, one = Metric.from_item(metric_item()), Metric.from_item(slice_item())
    assert (headline.pk, headline.sk) != (one.pk, one.sk)
    assert headline.pk == one.pk


# Data references


def test_reference_built_from_a_metric_is_valid_and_matches_it():
    metric = Metric.from_item(slice_item())
    ref = metric.reference()
    assert DataReference.from_item(ref.to_item()) == ref
    assert ref.source.table == keys.metrics_table_base(TENANT)
    assert ref.check_against(metric) == []
    assert ref.check_against(metric.to_item()) == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"value": Decimal("2240001")}, "value"),
        ({"unit": "EUR"}, "unit"),
        ({"dimensions": {"region": "Europe", "channel": "web"}}, "dimensions"),
        ({"tenantId": OTHER}, "source.table"),
    ],
)
def test_check_against_names_every_mismatch(changes, field):
    ref = Metric.from_item(slice_item()).reference()
    stored = slice_item(**changes)
    assert [m.field for m in ref.check_against(stored)] == [field]


def test_check_against_a_missing_or_invalid_item():
    ref = Metric.from_item(metric_item()).reference()
    assert [m.field for m in ref.check_against(None)] == ["source"]
    assert [m.field for m in ref.check_against(metric_item(value="oops"))] == ["source"]


def test_check_against_another_period():
    ref = Metric.from_item(metric_item()).reference()
    q2 = metric_item(sk="2025-Q2", timestamp=Decimal(keys.parse_period("2025-Q2").timestamp))
    assert {m.field for m in ref.check_against(q2)} == {"source.sk", "period"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"period": "2025-Q2"}, "source.sk"),
        ({"metric": "arr"}, "source.pk"),
        ({"unit": ""}, "unit"),
        ({"period": "2025-Q9"}, "period"),
    ],
)
def test_reference_source_keys_agree_with_metric_and_period(changes, field):
    ref = Metric.from_item(metric_item()).reference().to_item()
    assert_only(DataReference, dict(ref, **changes), field)


def test_reference_source_table_must_be_a_metrics_table():
    ref = Metric.from_item(metric_item()).reference().to_item()
    bad = dict(ref, source=dict(ref["source"], table=keys.messages_table_base(TENANT)))
    assert_only(DataReference, bad, "source.table")


# Events


def classification_event(**changes):
    data = {
        "messageId": MESSAGE,
        "originalText": "What was revenue in Q3 2025?",
        "classification": classification(),
        "classifierModel": "rules-v3",
        "processingTimeMs": 42,
    }
    return envelope("classification.performed.v1", _apply(data, changes))


def narrative_event(**changes):
    ref = Metric.from_item(metric_item()).reference().to_item()
    data = {
        "narrativeId": MESSAGE,
        "text": "Revenue was $12,450,000.",
        "dataReferences": [ref],
        "qualityMetrics": {"confidenceScore": Decimal("0.8")},
    }
    return envelope("narrative.generated.v1", _apply(data, changes))


def ingested_event(**changes):
    data = {
        "batchId": "batch-2025-q3",
        "count": 3,
        "subjects": ["revenue", "margin"],
        "periods": ["2025-Q3"],
        "outcomes": {"created": 2, "alreadyExists": 1, "conflicts": 0, "failed": 0},
    }
    return envelope("metrics.ingested.v1", _apply(data, changes))


def provisioned_event(**changes):
    data = {
        "tenantId": TENANT,
        "tables": {
            "messages": "dev-" + keys.messages_table_base(TENANT),
            "metrics": "dev-" + keys.metrics_table_base(TENANT),
        },
        "plan": "standard",
    }
    return envelope("tenant.provisioned.v1", _apply(data, changes))


@pytest.mark.parametrize(
    ("model", "build"),
    [
        (ClassificationPerformedEvent, classification_event),
        (NarrativeGeneratedEvent, narrative_event),
        (MetricsIngestedEvent, ingested_event),
        (TenantProvisionedEvent, provisioned_event),
    ],
)
def test_valid_events_round_trip(model, build):
    event = model.from_item(build())
    assert model.from_item(event.to_item()) == event


@pytest.mark.parametrize(
    ("model", "item", "field"),
    [
        (
            ClassificationPerformedEvent,
            classification_event(classification=classification(confidence=1.01)),
            "data.classification.confidence",
        ),
        (ClassificationPerformedEvent, classification_event(processingTimeMs=-1), "data.processingTimeMs"),
        (
            NarrativeGeneratedEvent,
            narrative_event(qualityMetrics={"confidenceScore": 1.5}),
            "data.qualityMetrics.confidenceScore",
        ),
        (MetricsIngestedEvent, ingested_event(count=4), "data.outcomes"),
        (MetricsIngestedEvent, ingested_event(periods=["2025-Q3", "2025-Q3"]), "data.periods"),
        (
            TenantProvisionedEvent,
            provisioned_event(
                tenantId=OTHER,
                tables={"messages": keys.messages_table_base(OTHER), "metrics": keys.metrics_table_base(OTHER)},
            ),
            "data.tenantId",
        ),
        (
            TenantProvisionedEvent,
            provisioned_event(tables={"messages": "tenant-acme-corp-001-messages", "metrics": "tenant-other-metrics"}),
            "data.tables.metrics",
        ),
        (ClassificationPerformedEvent, classification_event() | {"eventVersion": "2.0"}, "eventVersion"),
        (ClassificationPerformedEvent, classification_event() | {"timestamp": "2025-11-09 10:00:00"}, "timestamp"),
        (ClassificationPerformedEvent, classification_event() | {"metadata": {}}, "metadata.correlationId"),
        (ClassificationPerformedEvent, classification_event() | {"eventId": "42"}, "eventId"),
        (ClassificationPerformedEvent, classification_event() | {"eventType": "narrative.generated.v1"}, "eventType"),
    ],
)
def test_event_rules(model, item, field):
    assert_only(model, item, field)


def test_narrative_references_stay_in_the_envelope_tenant():
    item = narrative_event()
    item["tenantId"] = OTHER
    assert_only(NarrativeGeneratedEvent, item, "data.dataReferences[0].source.table")


def test_event_metadata_is_free_form_but_storable():
    ok = classification_event() | {"metadata": {"correlationId": "c", "causationId": "d", "retry": 2}}
    assert violated(ClassificationPerformedEvent, ok) == {}
    bad = classification_event() | {"metadata": {"correlationId": "c", "note": ""}}
    assert_only(ClassificationPerformedEvent, bad, "metadata.note")


# DynamoDB item size


@pytest.mark.parametrize(
    ("item", "size"),
    [
        ({"a": "abc"}, 1 + 3),
        ({"name": "é"}, 4 + 2),
        ({"n": Decimal("12345")}, 1 + 1 + 3),
        ({"n": Decimal("1000")}, 1 + 1 + 1),  # trailing zeros are not significant
        ({"n": Decimal("0.0012")}, 1 + 1 + 1),  # neither are leading ones
        ({"n": 7}, 1 + 2),
        ({"b": True}, 1 + 1),
        ({"m": {}}, 1 + 3),
        ({"m": {"k": "v"}}, 1 + 3 + (1 + 1 + 1)),
        ({"l": ["ab", Decimal(1)]}, 1 + 3 + (1 + 2) + (1 + 2)),
        ({"s": {"ab", "c"}}, 1 + 3),
    ],
)
def test_item_size_bytes_follows_dynamodb_rules(item, size):
    assert item_size_bytes(item) == size


def test_item_size_is_checked_on_every_item_model(monkeypatch):
    item = tenant_item()
    size = item_size_bytes(item)
    monkeypatch.setattr(items, "ITEM_SIZE_LIMIT", size)
    assert violated(Tenant, item) == {}
    monkeypatch.setattr(items, "ITEM_SIZE_LIMIT", size - 1)
    assert "400 KB" in assert_only(Tenant, item, "(record)")


def test_400_kb_limit_counts_names_and_values():
    assert models.ITEM_SIZE_LIMIT == 400 * 1024
    big = {"text": "x" * (400 * 1024 - 4)}
    assert item_size_bytes(big) == 400 * 1024


# JSON Schemas


def test_every_schema_document_is_a_valid_json_schema():
    jsonschema = pytest.importorskip("jsonschema")
    for name, doc in models.schema_documents().items():
        jsonschema.Draft202012Validator.check_schema(doc)
        assert name.endswith(".schema.json")


def test_schemas_accept_valid_items_and_reject_shape_errors():
    jsonschema = pytest.importorskip("jsonschema")
    docs = models.schema_documents()
    cases = [
        ("tenant.schema.json", tenant_item()),
        ("metric.schema.json", slice_item()),
        ("message.schema.json", answer_item()),
    ]
    for name, item in cases:
        validator = jsonschema.Draft202012Validator(docs[name])
        assert list(validator.iter_errors(item)) == []
        assert list(validator.iter_errors(dict(item, tenantId="Not Valid")))
        assert list(validator.iter_errors(dict(item, surprise=1)))
    optional_absent = docs["message.schema.json"]["properties"]["classification"]
    assert "null" not in json.dumps(optional_absent)


# --- the size check works on the model's dump: the same number as on its item ---------------------


def test_the_size_of_a_models_dump_equals_the_size_of_its_item():
    from salestalk_lib.contract.models import IngestBatch, SessionRollup, content_hash
    from salestalk_lib.testing.samples import sample_messages, sample_metrics

    messages = sample_messages("size-check", 40, sessions=3, seed=11)
    metrics = sample_metrics("size-check", 60, seed=12)
    tenant = Tenant.create(
        tenant_id="size-check",
        name="Größe GmbH ✓",
        owner_email="o@example.com",
        plan="free",
        created_at=1_700_000_000,
        metadata={"region": "EU", "employees": 12},
    )
    batch = IngestBatch.begin(
        tenant_id="size-check",
        batch_id="b-1",
        content_hash=content_hash(metrics),
        message_count=0,
        metric_count=60,
        started_at=1_700_000_000,
        event_id="0b0e9f0e-8a9f-4c1e-9d6f-3c2b1a0f9e8d",
        run_token="7c1d2e3f-4a5b-4c6d-9e7f-8a9b0c1d2e3f",
    )
    models = [*messages, *metrics, tenant, batch, SessionRollup.of_messages(messages[:1])]
    for model in models:
        dump = model.model_dump(by_alias=True, exclude_none=True)
        assert item_size_bytes(dump) == item_size_bytes(model.to_item()), type(model).__name__


@given(st.decimals(allow_nan=False, allow_infinity=False, places=None))
def test_significant_digits_counts_from_the_first_to_the_last_non_zero_digit(d):
    from salestalk_lib.contract.models import _significant_digits

    text = "".join(map(str, d.as_tuple().digits)).strip("0")
    assert _significant_digits(d) == max(len(text), 1)


# The quick size bound ItemModel relies on is tested in tests/test_item_size.py.


def test_a_message_identity_names_its_message_and_copies_its_ttl_but_nothing_an_index_keys_on():
    message = Message.create(
        tenant_id="acme-corp-001",
        session_id="6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f",
        sender="user",
        text="Q3?",
        at=datetime(2025, 11, 9, 10, 0, tzinfo=UTC),
        message_id="1c2b3a49-5d6e-4f70-8192-a3b4c5d6e7f8",
        ttl=1_800_000_000,
    )
    identity = MessageIdentity.of(message)
    item = identity.to_item()
    assert item == {
        "tenantId": "acme-corp-001",
        "messageId": message.message_id,
        "pk": keys.message_identity_pk(message.message_id),
        "sk": "METADATA",
        "messageSk": message.sk,
        "ttl": Decimal(1_800_000_000),
    }
    assert identity.message_key == {"pk": message.pk, "sk": message.sk}
    assert not {"timestamp", "sender", "sessionId"} & set(item)  # in no GSI (SessionIndex, SenderIndex)
    assert MessageIdentity.from_item(item, tenant_id="acme-corp-001") == identity


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"pk": "MSG#1c2b3a49-5d6e-4f70-8192-a3b4c5d6e7f8"}, "pk"),
        ({"sk": "IDENTITY"}, "sk"),
        ({"messageSk": "2025-11-09 10:00"}, "messageSk"),
        ({"sessionId": "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"}, "sessionId"),
        ({"tenantId": "other-co"}, "tenantId"),
    ],
)
def test_a_message_identity_breaking_a_rule_is_named(changes, field):
    item = {
        "tenantId": "acme-corp-001",
        "messageId": "1c2b3a49-5d6e-4f70-8192-a3b4c5d6e7f8",
        "pk": "MSGID#1c2b3a49-5d6e-4f70-8192-a3b4c5d6e7f8",
        "sk": "METADATA",
        "messageSk": "2025-11-09T10:00:00.000Z",
    } | changes
    with pytest.raises(ValidationError) as info:
        MessageIdentity.from_item(item, tenant_id="acme-corp-001")
    assert field in {e["loc"][0] for e in info.value.errors()}
