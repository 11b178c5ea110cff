"""DynamoDB reserved words among the model's attribute names (pure: no AWS SDK).

DynamoDB refuses a reserved word as a bare attribute name in an expression
(`KeyConditionExpression`, `ConditionExpression`, `UpdateExpression`, ...): the expression must
name it through a placeholder (`#status` with `ExpressionAttributeNames = {"#status": "status"}`).
botocore does not ship the list; it is in the DynamoDB Developer Guide, "Reserved words in
DynamoDB" (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ReservedWords.html),
and it is not case-sensitive.

This module holds the part of that list that matters here: every attribute name the model
stores (top level and inside maps) was checked against the official list, and is either in
`RESERVED` or in `CHECKED_NOT_RESERVED`. A new attribute name belongs in one of the two (the
test `tests/test_clients.py` fails until it is), so nobody has to remember to look it up.
"""

from __future__ import annotations

from collections.abc import Iterable

RESERVED: frozenset[str] = frozenset(
    {
        # top-level attributes of stored items
        "name",
        "plan",
        "region",
        "source",
        "status",
        "text",
        "timestamp",
        "ttl",
        "unit",
        "value",
        # inside maps (`metadata.dataReferences[].source.table`, `classification.timeRange.year`)
        "table",
        "year",
        # event envelopes and batch records (`data`, `key`, `metrics`, `count`)
        "count",
        "data",
        "key",
        "metrics",
    }
)
"""Reserved words (lower case) that are attribute names of the model."""

CHECKED_NOT_RESERVED: frozenset[str] = frozenset(
    {
        "alreadyExists",
        "batchId",
        "causationId",
        "claimedAt",
        "claimToken",
        "classification",
        "classifierModel",
        "completedAt",
        "components",
        "confidence",
        "confidenceScore",
        "conflicts",
        "contentHash",
        "correlationId",
        "created",
        "createdAt",
        "dataReferences",
        "dimensionKey",
        "dimensions",
        "employees",
        "eventId",
        "eventType",
        "eventVersion",
        "failed",
        "filters",
        "firstMessageAt",
        "fiscalYearStart",
        "industry",
        "intent",
        "intent_confidence",
        "lastMessageAt",
        "lastMessageId",
        "measure",
        "measure_confidence",
        "messageCount",
        "messageId",
        "messages",
        "messageSk",
        "messagesTableName",
        "metadata",
        "metric",
        "metricCount",
        "metricId",
        "metricsTableName",
        "metricType",
        "narrativeId",
        "originalText",
        "outcomes",
        "ownerEmail",
        "period",
        "periods",
        "pk",
        "processedAt",
        "processingTimeMs",
        "qualityMetrics",
        "recordCount",
        "runToken",
        "s3Prefix",
        "sender",
        "sessionId",
        "sk",
        "startedAt",
        "subject",
        "subject_confidence",
        "subjects",
        "tables",
        "tenantId",
        "time_confidence",
        "timeRange",
        "traceId",
        "updatedAt",
        "userId",
        "written",
    }
)
"""Attribute names of the model checked against the official list and found not reserved."""


def is_reserved(name: str) -> bool:
    """True if `name` is one of the model's attribute names that DynamoDB reserves (case-insensitive)."""
    return name.lower() in RESERVED


def reserved_among(names: Iterable[str]) -> list[str]:
    """The reserved words among `names`, sorted; names not checked yet raise KeyError."""
    out = set()
    for name in names:
        if name.lower() in RESERVED:
            out.add(name)
        elif name not in CHECKED_NOT_RESERVED:
            raise KeyError(f"{name!r} was not checked against DynamoDB's reserved words: add it to reserved.py")
    return sorted(out)
