"""Events the library emits and the sinks that receive them.

An event is built as its contract model (`models.MetricsIngestedEvent`, …), so it
is validated before any sink sees it. Sinks are pluggable: anything with
`send(events)` works.

| sink | where events go |
|---|---|
| `MemorySink` | a list in memory (`sink.events`): tests, notebooks, the default |
| `JsonLinesSink(path)` | one JSON object per line, appended to a file |
| `EventBridgeSink(client, bus)` | Amazon EventBridge `PutEvents` (≤ 10 entries per call), `Source` = the envelope's `source`, `DetailType` = `eventType`, `Detail` = the whole envelope |

EventBridge errors are translated like DynamoDB's (throttling and 5xx retry under
the same policy); entries EventBridge reports as failed are re-sent with backoff
and never dropped silently.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from salestalk_lib.contract.errors import ConfigurationError
from salestalk_lib.contract.models import EventEnvelope, Metric, MetricsIngestedEvent, event_json

# re-exported: callers (cli, the old salestalk_lib.events path) find every sink here
from salestalk_lib.dynamo.eventbridge import EVENTBRIDGE_BATCH as EVENTBRIDGE_BATCH
from salestalk_lib.dynamo.eventbridge import EventBridgeSink as EventBridgeSink

METRICS_INGESTED = "metrics.ingested.v1"
DEFAULT_SOURCE = "salestalk.ingest"


class EventSink(Protocol):
    """Receives validated events."""

    def send(self, events: Sequence[EventEnvelope]) -> None: ...


class MemorySink:
    """Keeps every event in `events`, in order."""

    def __init__(self) -> None:
        self.events: list[EventEnvelope] = []
        self._lock = threading.Lock()

    def send(self, events: Sequence[EventEnvelope]) -> None:
        with self._lock:
            self.events.extend(events)


class JsonLinesSink:
    """Appends each event as one JSON line to `path` (created with its directory if missing)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def check(self) -> None:
        """Raise ConfigurationError unless events can be appended to `path` (call it before writing any data).

        A directory, a FIFO or a device, an unwritable file, or a missing parent that
        cannot be created would otherwise fail only after the records were written.
        """
        path = self.path
        if path.exists() or path.is_symlink():
            if not path.is_file():
                raise ConfigurationError(
                    f"events file {str(path)!r} exists but is not a regular file "
                    "(a directory, FIFO, device or broken link): name a file"
                )
            if not os.access(path, os.W_OK):
                raise ConfigurationError(f"events file {str(path)!r} is not writable")
            return
        parent = path.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            raise ConfigurationError(f"events file {str(path)!r}: {str(parent)!r} is not a directory")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise ConfigurationError(f"events file {str(path)!r}: cannot create it in {str(parent)!r}")

    def send(self, events: Sequence[EventEnvelope]) -> None:
        if not events:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.writelines(event_json(e) + "\n" for e in events)


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_utc(when: datetime) -> str:
    """`2025-11-09T10:00:00.000Z` (milliseconds, UTC)."""
    utc = when.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def metrics_ingested(
    *,
    tenant_id: str,
    batch_id: str,
    metrics: Iterable[Metric],
    outcomes: dict[str, int],
    correlation_id: str,
    source: str = DEFAULT_SOURCE,
    event_id: str | None = None,
    now: Callable[[], datetime] = utc_now,
) -> MetricsIngestedEvent:
    """A validated `metrics.ingested.v1` event for one tenant's batch.

    `outcomes` maps created / already_exists / conflict / failed / written to
    counts that must add up to the number of metrics (the model checks it).
    """
    metrics = list(metrics)
    return metrics_ingested_summary(
        tenant_id=tenant_id,
        batch_id=batch_id,
        count=len(metrics),
        subjects={m.subject.value for m in metrics},
        periods={m.period.text for m in metrics},
        outcomes=outcomes,
        correlation_id=correlation_id,
        source=source,
        event_id=event_id,
        now=now,
    )


def metrics_ingested_summary(
    *,
    tenant_id: str,
    batch_id: str,
    count: int,
    subjects: Iterable[str],
    periods: Iterable[str],
    outcomes: Mapping[str, int],
    correlation_id: str,
    source: str = DEFAULT_SOURCE,
    event_id: str | None = None,
    now: Callable[[], datetime] = utc_now,
) -> MetricsIngestedEvent:
    """`metrics_ingested` from what the event says of the metrics (their number, subjects and periods), not the metrics.

    A streamed ingest keeps these per tenant instead of the metrics themselves.
    """
    return MetricsIngestedEvent.model_validate(
        {
            "eventId": event_id or str(uuid.uuid4()),
            "eventType": METRICS_INGESTED,
            "eventVersion": "1.0",
            "source": source,
            "timestamp": iso_utc(now()),
            "tenantId": tenant_id,
            "metadata": {"correlationId": correlation_id},
            "data": {
                "batchId": batch_id,
                "count": count,
                "subjects": sorted(set(subjects)),
                "periods": sorted(set(periods)),
                "outcomes": {
                    "created": outcomes.get("created", 0),
                    "alreadyExists": outcomes.get("already_exists", 0),
                    "conflicts": outcomes.get("conflict", 0),
                    "failed": outcomes.get("failed", 0),
                    "written": outcomes.get("written", 0),
                },
            },
        }
    )


def read_json_lines(path: str | Path) -> list[dict[str, Any]]:
    """The events a `JsonLinesSink` wrote, as dicts."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
