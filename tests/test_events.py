"""metrics.ingested.v1 events: validated by their model, delivered by each sink (EventBridge over HTTP)."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from salestalk_lib.contract.errors import ConfigurationError, RetryBudgetExhausted, StorageError
from salestalk_lib.contract.models import Metric, MetricsIngestedEvent
from salestalk_lib.dynamo.endpoint import start_embedded
from salestalk_lib.dynamo.retry import Retrier
from salestalk_lib.ops.events import (
    EventBridgeSink,
    JsonLinesSink,
    MemorySink,
    event_json,
    metrics_ingested,
    read_json_lines,
)

TENANT = "events-tenant"
NOW = datetime(2025, 11, 9, 12, 30, 15, 250000, tzinfo=UTC)


def metrics() -> list[Metric]:
    return [
        Metric.create(
            tenant_id=TENANT,
            subject=s,
            period=p,
            value=Decimal(v),
            unit="USD",
            metric_id=str(uuid.UUID(int=i, version=4)),
        )
        for i, (s, p, v) in enumerate(
            [("revenue", "2025-Q3", "10"), ("revenue", "2025-Q2", "9"), ("arr", "2025-Q3", "100")], start=1
        )
    ]


def event(batch: str = "batch-1", **outcomes: int) -> MetricsIngestedEvent:
    return metrics_ingested(
        tenant_id=TENANT,
        batch_id=batch,
        metrics=metrics(),
        outcomes=outcomes or {"created": 2, "already_exists": 1},
        correlation_id=batch,
        event_id="00000000-0000-4000-8000-000000000001",
        now=lambda: NOW,
    )


def test_event_is_built_as_its_contract_model():
    e = event()
    assert isinstance(e, MetricsIngestedEvent)
    assert e.event_type == "metrics.ingested.v1" and e.event_version == "1.0"
    assert e.timestamp == "2025-11-09T12:30:15.250Z"
    assert list(e.data.subjects) == ["arr", "revenue"] and list(e.data.periods) == ["2025-Q2", "2025-Q3"]
    assert json.loads(event_json(e))["data"]["outcomes"] == {
        "created": 2,
        "alreadyExists": 1,
        "conflicts": 0,
        "failed": 0,
        "written": 0,
    }


def test_outcomes_that_do_not_add_up_are_refused():
    with pytest.raises(ValidationError, match="must add up to count"):
        event(created=1)


def test_memory_and_json_lines_sinks(tmp_path):
    memory = MemorySink()
    memory.send([event("a"), event("b")])
    assert [e.data.batch_id for e in memory.events] == ["a", "b"]
    path = tmp_path / "events" / "ingested.jsonl"
    sink = JsonLinesSink(path)
    sink.send([event("a")])
    sink.send([event("b")])
    lines = read_json_lines(path)
    assert [MetricsIngestedEvent.model_validate(line).data.batch_id for line in lines] == ["a", "b"]


@pytest.fixture(scope="module")
def aws_services():
    """moto's server for EventBridge and SQS: no DynamoDB engine is involved, so these run once, on moto."""
    with start_embedded(engine="moto") as ep:
        yield ep


@pytest.mark.integration
def test_eventbridge_sink_delivers_over_http(aws_services):
    events, sqs = aws_services.client("events"), aws_services.client("sqs")
    bus = f"salestalk-{uuid.uuid4().hex[:8]}"
    events.create_event_bus(Name=bus)
    queue = sqs.create_queue(QueueName=bus)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="ingested", EventBusName=bus, EventPattern=json.dumps({"detail-type": ["metrics.ingested.v1"]})
    )
    events.put_targets(Rule="ingested", EventBusName=bus, Targets=[{"Id": "queue", "Arn": arn}])

    sink = EventBridgeSink(events, bus, retrier=Retrier.virtual())
    sent = [event(f"batch-{n}") for n in range(12)]  # more than one PutEvents request (10 entries max)
    sink.send(sent)
    assert len(sink.sent_ids) == 12

    received = []
    while len(received) < 12:
        batch = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        assert batch, "EventBridge did not deliver every event"
        received += [json.loads(m["Body"]) for m in batch]
    assert {r["detail-type"] for r in received} == {"metrics.ingested.v1"}
    assert {r["source"] for r in received} == {"salestalk.ingest"}
    details = sorted(
        (MetricsIngestedEvent.model_validate(r["detail"]) for r in received),
        key=lambda e: int(e.data.batch_id.split("-")[1]),
    )
    assert details == sent


@pytest.mark.integration
def test_eventbridge_unknown_bus_is_an_error_not_retried(aws_services):
    calls = []
    sink = EventBridgeSink(aws_services.client("events"), "no-such-bus", retrier=Retrier.virtual(hooks=[calls.append]))
    with pytest.raises(StorageError, match="no-such-bus"):
        sink.send([event()])
    assert [c.outcome for c in calls] == ["fail"]


class FlakyEvents:
    """A PutEvents client that fails some entries the first time, as EventBridge does when throttled."""

    def __init__(self, fail_first: int):
        self.fail_first = fail_first
        self.requests: list[int] = []

    def put_events(self, Entries):
        self.requests.append(len(Entries))
        out = []
        for n, _ in enumerate(Entries):
            if len(self.requests) == 1 and n < self.fail_first:
                out.append({"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"})
            else:
                out.append({"EventId": f"id-{len(self.requests)}-{n}"})
        return {"FailedEntryCount": sum("ErrorCode" in e for e in out), "Entries": out}


def test_failed_entries_are_resent_with_backoff_never_dropped():
    client = FlakyEvents(fail_first=3)
    retrier = Retrier.virtual()
    sink = EventBridgeSink(client, "bus", retrier=retrier)
    sink.send([event(f"b{n}") for n in range(5)])
    assert client.requests == [5, 3]
    assert len(sink.sent_ids) == 5


def test_entries_failing_forever_exhaust_the_budget():
    class AlwaysFailing(FlakyEvents):
        def put_events(self, Entries):
            self.requests.append(len(Entries))
            return {"FailedEntryCount": len(Entries), "Entries": [{"ErrorCode": "InternalFailure"}] * len(Entries)}

    client = AlwaysFailing(0)
    with pytest.raises(RetryBudgetExhausted, match="FailedEntries"):
        EventBridgeSink(client, "bus", retrier=Retrier.virtual()).send([event()])
    assert len(client.requests) == 11


def test_an_events_file_is_checked_before_any_write(tmp_path):
    JsonLinesSink(tmp_path / "new" / "deeper" / "events.jsonl").check()  # created on first send: fine
    (tmp_path / "events.jsonl").write_text("")
    JsonLinesSink(tmp_path / "events.jsonl").check()
    with pytest.raises(ConfigurationError, match="not a regular file"):
        JsonLinesSink(tmp_path).check()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ConfigurationError, match="not a regular file"):
        JsonLinesSink(fifo).check()
    (tmp_path / "plain").write_text("x")
    with pytest.raises(ConfigurationError, match="is not a directory"):
        JsonLinesSink(tmp_path / "plain" / "events.jsonl").check()
