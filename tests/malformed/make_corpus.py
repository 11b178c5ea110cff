"""Write `corpus.jsonl`: malformed records, each with the field validation must name.

Each line is `{"expect_field": ..., "why": ..., "record": ...}`; the annotation sits
outside the record, so the record is exactly what a file would hold. Every record
is a valid base record (built here with fixed ids) with one thing broken.

    .venv/bin/python tests/malformed/make_corpus.py     # rewrites corpus.jsonl

`tests/test_malformed.py` checks that the committed corpus is what this script writes.
"""

from __future__ import annotations

import copy
import re
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from salestalk_lib import keys
from salestalk_lib.contract.models import Message, Metric, SessionRollup, Tenant, canonical_json

CORPUS = Path(__file__).with_name("corpus.jsonl")
NAN, INF = float("nan"), float("inf")
DELETE = object()

A, T = "acme-corp-001", "techstart-inc-002"
SESSION = "c0c5f1a4-3f0e-4d43-9a4e-6b0f1d2e3a4b"
MSG_Q, MSG_A = "4c6a1d7e-1b2f-4e3a-8c5d-7f9e0a1b2c3d", "9e8d7c6b-5a4f-4e3d-b2c1-0f9e8d7c6b5a"
OTHER_UUID = "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9"
UUID_V1 = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
METRIC_ID, SLICE_ID = "7a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d", "2b3c4d5e-6f70-4819-a2b3-c4d5e6f70819"
EVENT_ID = "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"


def tenant() -> dict[str, Any]:
    return Tenant.create(
        tenant_id=A,
        name="ACME Corporation",
        owner_email="platform-admin@acme-corp.example",
        plan="standard",
        created_at=1741003200,
        updated_at=1762425600,
        metadata={"industry": "Manufacturing", "employees": 2400},
    ).to_item()


def metric(subject: str = "revenue", value: str = "12450000", unit: str = "USD") -> Metric:
    return Metric.create(
        tenant_id=A, subject=subject, period="2025-Q3", value=Decimal(value), unit=unit, metric_id=METRIC_ID
    )


def slice_() -> dict[str, Any]:
    return Metric.create(
        tenant_id=A,
        subject="revenue",
        period="2025-Q3",
        value=Decimal("2240000"),
        unit="USD",
        dimensions={"region": "Europe"},
        dimension_key="region:Europe",
        metric_id=SLICE_ID,
    ).to_item()


def question() -> Message:
    return Message.create(
        tenant_id=A,
        session_id=SESSION,
        message_id=MSG_Q,
        sender="user",
        at=datetime(2026, 1, 12, 15, 4, 5, tzinfo=UTC),
        text="What was our revenue in Q3 2025?",
        classification={
            "intent": "fact_retrieval",
            "subject": "revenue",
            "measure": "total",
            "timeRange": {"period": "quarter", "value": "Q3", "year": 2025},
            "filters": [{"key": "region", "value": "Europe"}],
            "confidence": Decimal("0.93"),
            "components": {
                "intent_confidence": Decimal("0.95"),
                "subject_confidence": Decimal("0.98"),
                "measure_confidence": Decimal("0.9"),
                "time_confidence": Decimal("0.97"),
            },
        },
    )


def answer() -> Message:
    refs = [metric().reference().to_item(), Metric.from_item(slice_()).reference().to_item()]
    return Message.create(
        tenant_id=A,
        session_id=SESSION,
        message_id=MSG_A,
        sender="assistant",
        at=datetime(2026, 1, 12, 15, 4, 7, 482000, tzinfo=UTC),
        text="Revenue for Q3 2025 was $12,450,000, of which $2,240,000 came from Europe.",
        metadata={"dataReferences": refs},
    )


def rollup() -> dict[str, Any]:
    return SessionRollup.of_messages([question(), answer()]).to_item()


def event(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "eventId": EVENT_ID,
        "eventType": event_type,
        "eventVersion": "1.0",
        "source": "salestalk.classifier",
        "timestamp": "2026-01-12T15:04:05.120Z",
        "tenantId": A,
        "sessionId": SESSION,
        "metadata": {"correlationId": "req-7f3a"},
        "data": data,
    }


def classified() -> dict[str, Any]:
    q = question()
    return event(
        "classification.performed.v1",
        {
            "messageId": q.message_id,
            "originalText": q.text,
            "classification": q.to_item()["classification"],
            "classifierModel": "salestalk-intent-v3",
            "processingTimeMs": 38,
        },
    )


def narrative() -> dict[str, Any]:
    return event(
        "narrative.generated.v1",
        {
            "narrativeId": OTHER_UUID,
            "messageId": MSG_A,
            "text": answer().text,
            "dataReferences": [metric().reference().to_item()],
            "qualityMetrics": {"confidenceScore": Decimal("0.82")},
        },
    )


def ingested() -> dict[str, Any]:
    return event(
        "metrics.ingested.v1",
        {
            "batchId": "batch-2025-q3-close",
            "count": 3,
            "subjects": ["revenue", "margin"],
            "periods": ["2025-Q3"],
            "outcomes": {"created": 2, "alreadyExists": 1, "conflicts": 0, "failed": 0},
        },
    )


def provisioned() -> dict[str, Any]:
    return event(
        "tenant.provisioned.v1",
        {
            "tenantId": A,
            "plan": "standard",
            "tables": {"messages": keys.messages_table_base(A), "metrics": keys.metrics_table_base(A)},
        },
    )


def mutate(record: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Set (or with DELETE remove) the value at a dotted path such as `a.b[0].c`."""
    record = copy.deepcopy(record)
    parts: list[str | int] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        parts.append(int(index) if index else name)
    target = record
    for part in parts[:-1]:
        target = target[part]
    if value is DELETE:
        del target[parts[-1]]
    else:
        target[parts[-1]] = value
    return record


def cases() -> list[tuple[str, str, dict[str, Any]]]:
    """(expected field, why, record) for every malformed record."""
    t, q, a, m, s, r = tenant(), question().to_item(), answer().to_item(), metric().to_item(), slice_(), rollup()
    out: list[tuple[str, str, dict[str, Any]]] = []

    def add(base: dict[str, Any], path: str, value: Any, why: str, field: str | None = None) -> None:
        out.append((field or path, why, mutate(base, path, value)))

    add(t, "tenantId", "", "empty tenant id")
    add(t, "tenantId", "ACME-Corp", "uppercase tenant id")
    add(t, "tenantId", "acme_corp", "underscore in tenant id")
    add(t, "tenantId", "-acme", "tenant id starts with a hyphen")
    add(t, "tenantId", "a" * 65, "tenant id longer than 64")
    add(t, "tenantId", "acme/../x", "path characters in tenant id")
    add(t, "tenantId", DELETE, "registry item without tenantId")
    add(t, "name", "", "empty name")
    add(t, "name", "   ", "blank name")
    add(t, "name", "x" * 257, "name longer than 256")
    add(t, "name", 123, "number where a string belongs")
    add(t, "ownerEmail", "not-an-email", "malformed email")
    add(t, "ownerEmail", DELETE, "missing owner email")
    add(t, "plan", "gold", "plan outside the vocabulary")
    add(t, "status", "archived", "status outside the vocabulary")
    add(t, "messagesTableName", "tenant-techstart-inc-002-messages", "messages table of another tenant")
    add(t, "metricsTableName", "tenant-acme-corp-001-metric", "metrics table name not derived from tenantId")
    add(t, "s3Prefix", "tenant-acme-corp-001", "s3Prefix without trailing slash")
    add(t, "createdAt", 0, "createdAt not positive")
    add(t, "createdAt", "1741003200", "createdAt as a string")
    add(t, "createdAt", True, "boolean as a number")
    add(t, "updatedAt", 1741003199, "updatedAt before createdAt")
    add(t, "metadata", None, "null metadata")
    add(t, "metadata.industry", "", "empty string in metadata")
    add(t, "metadata.employees", NAN, "NaN in metadata")
    add(t, "metadata", {"blob": "x" * 10_300}, "metadata over 10 KB")
    add(t, "colour", "blue", "attribute not in the contract")

    add(q, "pk", keys.message_pk(OTHER_UUID), "pk names another message")
    add(q, "pk", keys.MSG_PREFIX + "not-a-uuid", "pk not built from messageId")
    add(q, "sk", "2026-01-12T15:04:05Z", "sk without milliseconds")
    add(q, "sk", "2026-01-12 15:04:05.000Z", "sk with a space instead of T")
    add(q, "sk", "2026-02-30T15:04:05.000Z", "sk on a date that does not exist")
    add(q, "timestamp", q["timestamp"] + 1, "timestamp one second off sk")
    add(q, "timestamp", q["timestamp"] - 31_536_000, "timestamp a year off sk (the original seed defect)")
    add(q, "timestamp", str(q["timestamp"]), "timestamp as a string")
    add(q, "timestamp", NAN, "NaN timestamp")
    add(q, "messageId", "12345", "messageId not a UUID", "messageId")
    add(q, "messageId", MSG_Q.upper(), "uppercase UUID")
    add(q, "sessionId", "session-1", "sessionId not a UUID")
    add(q, "sessionId", UUID_V1, "sessionId a UUID v1, not v4")
    add(q, "sender", "bot", "sender outside the vocabulary")
    add(q, "text", "", "empty text")
    add(q, "text", "x" * 10_001, "text of 10,001 characters")
    add(q, "text", " \n\t ", "whitespace-only text")
    add(q, "text", None, "null text")
    add(q, "tenantId", "Acme", "uppercase tenant id on a message")
    add(q, "classification.intent", "chit_chat", "intent outside the vocabulary")
    add(q, "classification.subject", "weather", "subject outside the vocabulary")
    add(q, "classification.measure", "sum", "measure outside the vocabulary")
    add(q, "classification.confidence", Decimal("1.5"), "confidence above 1")
    add(q, "classification.confidence", Decimal("-0.1"), "confidence below 0")
    add(q, "classification.confidence", Decimal("1.0000001"), "confidence just above 1")
    add(q, "classification.confidence", NAN, "NaN confidence")
    add(q, "classification.confidence", INF, "infinite confidence")
    add(q, "classification.confidence", True, "boolean confidence")
    add(q, "classification.confidence", "0.9", "confidence as a string")
    add(q, "classification.confidence", None, "null confidence")
    add(q, "classification.confidence", DELETE, "missing confidence")
    add(q, "classification.components.intent_confidence", Decimal("1.2"), "component above 1")
    add(q, "classification.components.time_confidence", NAN, "NaN component")
    add(q, "classification.components.subject_confidence", None, "null component")
    add(q, "classification.components.mood_confidence", Decimal("0.5"), "unknown component")
    add(q, "classification.timeRange.value", "Q5", "quarter 5")
    add(q, "classification.timeRange.period", "week", "time range period outside the vocabulary")
    add(q, "classification.timeRange.year", "2025", "year as a string")
    add(q, "classification.timeRange.year", 1969, "year before 1970")
    add(q, "classification.filters[0].value", DELETE, "filter without a value")
    add(q, "classification.filters[0].key", "Region", "filter key outside the dimension grammar")
    add(q, "classification.filters", "region=Europe", "filters not a list")
    add(q, "classification.sentiment", "positive", "attribute not in the classification contract")
    add(q, "metadata", {"note": None}, "null inside metadata", "metadata.note")
    add(q, "ttl", q["timestamp"] - 1, "ttl before the message time")
    add(q, "channel", "web", "attribute not in the message contract")

    add(a, "metadata.dataReferences[0].value", "12450000", "reference value as a string")
    add(a, "metadata.dataReferences[0].source.pk", keys.metric_pk("margin"), "reference pk of another metric")
    add(a, "metadata.dataReferences[0].source.sk", "2025-Q2", "reference sk of another period")
    add(a, "metadata.dataReferences[0].source.table", keys.metrics_table_base(T), "reference into another tenant")
    add(a, "metadata.dataReferences[0].unit", "", "empty unit")
    add(a, "metadata.dataReferences[0].period", "2025-Q5", "period that does not exist")
    add(a, "metadata.dataReferences[0].metric", "unknown", "reference to the 'unknown' subject")
    add(
        a,
        "metadata.dataReferences[1].dimensions",
        {"region": "Asia"},
        "slice reference without its dimension",
        "metadata.dataReferences[1].source.sk",
    )
    add(a, "metadata.dataReferences", "revenue", "dataReferences not a list")
    add(a, "metadata.dataReferences[0].source", DELETE, "reference without a source")

    add(m, "pk", keys.metric_pk("margin"), "pk of another subject")
    add(m, "pk", "REVENUE", "pk without the metric prefix")
    add(m, "sk", "2025-Q5", "quarter 5")
    add(m, "sk", "Q3-2025", "period written backwards")
    add(m, "sk", "2025-13", "month 13")
    add(m, "timestamp", m["timestamp"] + 1, "timestamp one second after the period start")
    add(m, "timestamp", Decimal(keys.parse_period("2024-Q3").timestamp), "timestamp a year off (the original defect)")
    add(m, "timestamp", "1751328000", "timestamp as a string")
    add(m, "metricType", "margin", "metricType differs from subject")
    add(m, "subject", "weather", "subject outside the vocabulary")
    add(m, "value", True, "boolean value")
    add(m, "value", "12450000", "value as a string")
    add(m, "value", NAN, "NaN value")
    add(m, "value", INF, "infinite value")
    add(m, "value", None, "null value")
    add(m, "value", DELETE, "missing value")
    add(m, "value", Decimal("1" * 39), "39 significant digits")
    add(m, "unit", "usd", "lowercase currency")
    add(m, "unit", "dollars", "unit not ISO 4217")
    add(m, "unit", "count", "revenue counted instead of priced")
    add(m, "metricId", "metric-1", "metricId not a UUID")
    add(m, "tenantId", "", "empty tenant id on a metric")
    add(m, "metadata", {"blob": "x" * 10_300}, "metric metadata over 10 KB")
    add(m, "period", "2025-Q3", "attribute not in the metric contract")

    add(s, "dimensionKey", DELETE, "slice sk without dimensionKey", "sk")
    add(s, "dimensionKey", "region:Asia", "dimensionKey not among dimensions")
    add(s, "dimensions", DELETE, "dimensionKey without dimensions", "dimensionKey")
    add(s, "dimensions", {"region": "Europe", "bad key": "x"}, "dimension name with a space", "dimensions.bad key")
    add(s, "dimensions.region", "Europe#West", "dimension value with #")
    add(s, "sk", "2025-Q3#region:Asia", "sk names another slice")
    add(s, "sk", "2025-Q3", "headline sk on a slice")
    add(s, "dimensionKey", "region", "dimensionKey without a value")
    add(metric("customers", "1236", "count").to_item(), "value", Decimal("1236.5"), "fractional count")
    add(metric("renewal_rate", "0.91", "percentage").to_item(), "unit", "USD", "rate priced in dollars")

    add(r, "pk", keys.session_pk(OTHER_UUID), "rollup pk of another session")
    add(r, "sk", "META", "rollup sk not METADATA")
    add(r, "messageCount", 0, "rollup of no messages")
    add(r, "messageCount", Decimal("2.5"), "fractional message count")
    add(r, "lastMessageAt", r["firstMessageAt"] - 1, "last message before the first")
    add(r, "timestamp", r["firstMessageAt"], "rollup with timestamp (would enter SessionIndex)")
    add(r, "sender", "user", "rollup with sender (would enter SenderIndex)")

    c, n, i, p = classified(), narrative(), ingested(), provisioned()
    add(c, "eventVersion", "2.0", "unsupported event version")
    add(c, "data.classification.confidence", Decimal("2"), "event classification confidence above 1")
    add(c, "metadata.correlationId", DELETE, "event without correlationId")
    add(c, "eventType", "classification.performed", "eventType without version")
    add(c, "eventType", "classification.deleted.v1", "unknown event type")
    add(c, "eventId", "evt-1", "eventId not a UUID")
    add(c, "timestamp", "2026-01-12T16:04:05+01:00", "event time not in UTC")
    add(c, "data.processingTimeMs", -5, "negative processing time")
    add(n, "data.qualityMetrics.confidenceScore", Decimal("1.01"), "confidence score above 1")
    add(n, "data.dataReferences[0].source.table", keys.metrics_table_base(T), "narrative cites another tenant")
    add(n, "data.dataReferences[0].source.pk", keys.metric_pk("arr"), "narrative reference pk of another metric")
    add(i, "data.count", 4, "outcomes do not add up to count", "data.outcomes")
    add(i, "data.subjects", ["revenue", "revenue"], "repeated subject")
    add(i, "data.periods", ["2025-Q3", "Q3"], "malformed period", "data.periods[1]")
    add(p, "data.tenantId", T, "payload tenant differs from the envelope")
    add(p, "data.plan", "gold", "plan outside the vocabulary")
    add(p, "data.tables.metrics", "tenant-other-metrics", "provisioned metrics table of another tenant")

    out.append(("(record)", "nothing identifies the record's kind", {"foo": "bar"}))
    out.append(("(record)", "an empty object", {}))
    return out


def render() -> str:
    return "".join(canonical_json({"expect_field": f, "why": why, "record": rec}) + "\n" for f, why, rec in cases())


if __name__ == "__main__":
    CORPUS.write_text(render(), encoding="utf-8")
    print(f"wrote {len(cases())} malformed records to {CORPUS}")
