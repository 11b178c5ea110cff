"""Controlled vocabularies of the contract, in one place.

Adding a value is a backward-compatible change; removing or renaming one is
breaking (stored items and classifier output would stop validating).
"""

from __future__ import annotations

from enum import StrEnum


class Intent(StrEnum):
    """What the user wants from a question."""

    FACT_RETRIEVAL = "fact_retrieval"
    COMPARISON = "comparison"
    TREND_ANALYSIS = "trend_analysis"
    ROOT_CAUSE = "root_cause"
    PREDICTION = "prediction"
    LIST = "list"
    UNKNOWN = "unknown"


class Subject(StrEnum):
    """The business figure a question or metric is about (also a metric's `metricType`)."""

    REVENUE = "revenue"
    MARGIN = "margin"
    CUSTOMERS = "customers"
    PRODUCTS = "products"
    PIPELINE = "pipeline"
    DEALS = "deals"
    ARR = "arr"
    CHURN_RATE = "churn_rate"
    RENEWAL_RATE = "renewal_rate"
    UNKNOWN = "unknown"


class Measure(StrEnum):
    """How a figure is aggregated or compared."""

    TOTAL = "total"
    AVERAGE = "average"
    COUNT = "count"
    GROWTH = "growth"
    RATIO = "ratio"
    RATE = "rate"
    CHANGE = "change"


class Sender(StrEnum):
    """Who wrote a message."""

    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"


class Plan(StrEnum):
    """A tenant's subscription plan."""

    FREE = "free"
    STANDARD = "standard"
    ENTERPRISE = "enterprise"


class TenantStatus(StrEnum):
    """A tenant's lifecycle state in the registry."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    DELETED = "deleted"


class BatchStatus(StrEnum):
    """Where an ingest batch stands: its records are being written, or all of them were."""

    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class EventProcessing(StrEnum):
    """An event's processing record: a consumer holds the claim, or the event was processed."""

    PROCESSING = "processing"
    PROCESSED = "processed"


class TimeRangePeriod(StrEnum):
    """Granularity named in a classification's time range."""

    DAY = "day"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


# Units: an ISO 4217 code (three uppercase letters), or one of these two words.
# `percentage` is a fraction: 0.35 means 35 %.
NON_CURRENCY_UNITS: frozenset[str] = frozenset({"count", "percentage"})

VOCABULARIES: dict[str, type[StrEnum]] = {
    "intent": Intent,
    "subject": Subject,
    "measure": Measure,
    "sender": Sender,
    "plan": Plan,
    "status": TenantStatus,
    "status (ingest batch)": BatchStatus,
    "status (processed event)": EventProcessing,
    "timeRange.period": TimeRangePeriod,
}
