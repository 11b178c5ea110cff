"""The EventBridge sink: events sent with `PutEvents`, errors translated like DynamoDB's.

It lives in `dynamo` because it is a client of an AWS API; `ops.events` re-exports it
beside the other sinks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from salestalk_lib.contract.errors import StorageError
from salestalk_lib.contract.models import EventEnvelope, event_json
from salestalk_lib.dynamo.retry import Retrier
from salestalk_lib.dynamo.storage import translate

EVENTBRIDGE_BATCH = 10


class EventBridgeSink:
    """Sends events to an EventBridge bus with `PutEvents`, 10 entries per request."""

    def __init__(self, client: Any, bus_name: str, *, retrier: Retrier | None = None):
        self.client = client
        self.bus_name = bus_name
        self.retrier = retrier or Retrier()
        self.sent_ids: list[str] = []  # EventBridge's ids of accepted entries

    def send(self, events: Sequence[EventEnvelope]) -> None:
        for start in range(0, len(events), EVENTBRIDGE_BATCH):
            self._send_chunk([self._entry(e) for e in events[start : start + EVENTBRIDGE_BATCH]])

    def _entry(self, event: EventEnvelope) -> dict[str, Any]:
        return {
            "Source": event.source,
            "DetailType": event.event_type,
            "Detail": event_json(event),
            "EventBusName": self.bus_name,
        }

    def _put(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        try:
            response: dict[str, Any] = self.client.put_events(Entries=entries)
            return response
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, operation="PutEvents", table=self.bus_name) from exc

    def _send_chunk(self, entries: list[dict[str, Any]]) -> None:
        retry = 0
        while entries:
            resp = self.retrier.call("PutEvents", lambda: self._put(entries))
            failed = []
            for entry, result in zip(entries, resp.get("Entries", []), strict=False):
                if result.get("EventId"):
                    self.sent_ids.append(result["EventId"])
                else:
                    failed.append((entry, result))
            if not failed:
                return
            codes = sorted({r.get("ErrorCode", "?") for _, r in failed})
            retry += 1
            # Failed entries are usually throttling inside EventBridge: back off, resend only them.
            last = StorageError(
                f"PutEvents to {self.bus_name}: {len(failed)} entries failed ({', '.join(codes)})",
                code=codes[0],
                operation="PutEvents",
                table=self.bus_name,
            )
            self.retrier.backoff("PutEvents", "throttling", retry, "FailedEntries", last_error=last)
            entries = [e for e, _ in failed]
