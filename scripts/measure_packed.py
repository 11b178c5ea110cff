"""Measure packed exactly-once ingest against plain boto3 loops on an embedded engine (not a test).

    .venv/bin/python scripts/measure_packed.py [--engine dynamodb-local] [--messages 3000] [--metrics 3000]
        [--latency-ms 0] [--workers 4] [--rounds 2]

Starts the embedded engine (DynamoDB Local by default), onboards a fresh tenant per
method (its own tables, so every method writes into empty tables), and times:

- messages: `Ingestor.ingest` packed (the default) and single (one transaction per
  message), against a plain boto3 loop of one TransactWriteItems per message doing
  the same work (conditional Put of the identity item, conditional Put of the
  message, Update of the session rollup), sequential and on `--workers` threads;
- metrics: `ingest` in each MetricMode, against boto3's `batch_writer` (no condition:
  last writer wins) and a plain loop of conditional PutItems.

`--latency-ms N` adds N ms before every request (a botocore `before-send` hook on
every client, the library's and the baselines'), standing in for a network link.
Wall time of the ingest call itself (start-up excluded); every method runs `--rounds` times (the
first warms the Java engine up) and every sample is printed. On a loaded machine the figures vary
by 2× or more between rounds: compare methods within one round.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

from salestalk_lib.contract.models import Message, MessageIdentity, Metric
from salestalk_lib.contract.settings import Settings
from salestalk_lib.dynamo.endpoint import Endpoint, start_embedded
from salestalk_lib.dynamo.storage import Storage, serialize
from salestalk_lib.ops.connection import SalesTalk, connect
from salestalk_lib.ops.ingest import Ingestor, MessageMode, MetricMode
from salestalk_lib.testing.samples import sample_messages, sample_metrics


def _delay(client: Any, seconds: float) -> Any:
    """`client` with `seconds` of sleep before each request it sends (0: unchanged)."""
    if seconds > 0:
        client.meta.events.register("before-send.dynamodb.*", lambda **_: time.sleep(seconds))
    return client


def _tenant(endpoint: Endpoint, name: str) -> tuple[SalesTalk, str]:
    """A connection with a new onboarded tenant on its own table prefix."""
    tenant = f"{name}-{uuid.uuid4().hex[:6]}"
    st = connect(settings=Settings(table_prefix=f"m{uuid.uuid4().hex[:6]}-", environment="test"), endpoint=endpoint)
    st.tenants().onboard(tenant, name=f"Bench {tenant}", owner_email=f"owner@{tenant}.example.com")
    return st, tenant


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _retry(fn: Callable[[], object]) -> None:
    """Call `fn`, again on throttling or a transaction conflict (the baselines' only retry)."""
    from botocore.exceptions import ClientError

    for attempt in range(50):
        try:
            fn()
            return
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if code in ("ThrottlingException", "ProvisionedThroughputExceededException") or (
                code == "TransactionCanceledException" and "TransactionConflict" in reasons
            ):
                time.sleep(0.005 * (attempt + 1))
                continue
            raise
    raise RuntimeError("baseline: too many retries")


def message_baseline(client: Any, table: str, messages: Sequence[Message], workers: int) -> None:
    """One TransactWriteItems per message: identity Put + message Put (both conditional) + rollup Update."""

    def one(m: Message) -> None:
        actions = [
            {
                "Put": {
                    "TableName": table,
                    "Item": serialize(MessageIdentity.of(m).to_item()),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Put": {
                    "TableName": table,
                    "Item": serialize(m.to_item()),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Update": {
                    "TableName": table,
                    "Key": serialize({"pk": f"SESSION#{m.session_id}", "sk": "METADATA"}),
                    "UpdateExpression": "SET tenantId = :tid, sessionId = :sid, lastMessageAt = :t, "
                    "firstMessageAt = if_not_exists(firstMessageAt, :t) ADD messageCount :one",
                    "ExpressionAttributeValues": serialize(
                        {":tid": m.tenant_id, ":sid": m.session_id, ":t": m.timestamp, ":one": Decimal(1)}
                    ),
                }
            },
        ]
        _retry(lambda: client.transact_write_items(TransactItems=actions, ClientRequestToken=str(uuid.uuid4())))

    if workers <= 1:
        for m in messages:
            one(m)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(one, messages))


def metric_put_loop(client: Any, table: str, metrics: Sequence[Metric]) -> None:
    """A plain loop of conditional PutItems."""
    for m in metrics:
        client.put_item(TableName=table, Item=serialize(m.to_item()), ConditionExpression="attribute_not_exists(pk)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the measurements and print one JSON line per method (and a summary of the ratios)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", default="dynamodb-local", choices=["dynamodb-local", "moto"])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--metrics", type=int, default=3000)
    parser.add_argument("--sessions", type=int, default=300)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--skip", action="append", default=[], help="a method to leave out (repeatable)")
    parser.add_argument(
        "--rounds", type=int, default=2, help="run every method this many times; the first rounds warm the engine up"
    )
    args = parser.parse_args(argv)
    delay = args.latency_ms / 1000
    endpoint = start_embedded(engine=args.engine)
    results: dict[str, float] = {}

    current_round = [0]

    def record(name: str, n: int, seconds: float) -> None:
        results[name] = n / seconds
        line = {"round": current_round[0], "method": name, "items": n, "seconds": round(seconds, 3)}
        print(json.dumps({**line, "per_s": round(n / seconds, 1)}), flush=True)

    try:
        for current_round[0] in range(1, args.rounds + 1):
            run_methods(endpoint, args, delay, record)
    finally:
        endpoint.close()
    print(json.dumps({"ratios of the last round": True}))

    base = results.get("messages: boto3 TransactWriteItems per message (1 threads)")
    packed = next((v for k, v in results.items() if k.startswith("messages: library packed")), None)
    if base and packed:
        print(json.dumps({"ratio": "packed messages / boto3 loop", "value": round(packed / base, 2)}))
    bw = results.get("metrics: boto3 batch_writer (last writer wins)")
    for k, v in results.items():
        if k.startswith("metrics: library") and bw:
            print(json.dumps({"ratio": f"{k} / batch_writer", "value": round(v / bw, 2)}))
    return 0


def run_methods(
    endpoint: Endpoint, args: argparse.Namespace, delay: float, record: Callable[[str, int, float], None]
) -> None:
    """One round: every method once, each into a new tenant's empty tables."""
    messages_of = lambda tenant: sample_messages(tenant, args.messages, sessions=args.sessions, seed=1)  # noqa: E731
    for mode in (MessageMode.PACKED, MessageMode.SINGLE):
        if f"messages:{mode.value}" in args.skip:
            continue
        st, tenant = _tenant(endpoint, f"msg-{mode.value}")
        ing = Ingestor(Storage(_delay(endpoint.client(), delay)), st.settings)
        batch = messages_of(tenant)
        report: list[Any] = []
        seconds = _timed(lambda: report.append(ing.ingest(batch, workers=args.workers, message_mode=mode)))
        assert report[0].counts() == {"created": len(batch)}, report[0].counts()
        record(f"messages: library {mode.value} ({args.workers} workers)", len(batch), seconds)
    for workers in (1, args.workers):
        st, tenant = _tenant(endpoint, "msg-boto3")
        client = _delay(endpoint.client(), delay)
        table = st.settings.table_name("messages", tenant)
        batch = messages_of(tenant)
        seconds = _timed(lambda: message_baseline(client, table, batch, workers))
        record(f"messages: boto3 TransactWriteItems per message ({workers} threads)", len(batch), seconds)
    for mode in MetricMode:
        st, tenant = _tenant(endpoint, f"met-{mode.value}")
        ing = Ingestor(Storage(_delay(endpoint.client(), delay)), st.settings)
        batch = sample_metrics(tenant, args.metrics, seed=2)
        seconds = _timed(lambda: ing.ingest(batch, workers=args.workers, metric_mode=mode))
        record(f"metrics: library {mode.value} ({args.workers} workers)", len(batch), seconds)
    st, tenant = _tenant(endpoint, "met-boto3")
    client = _delay(endpoint.client(), delay)
    table = st.settings.table_name("metrics", tenant)
    batch = sample_metrics(tenant, args.metrics, seed=2)

    def batch_writer() -> None:
        resource_table = endpoint_resource(endpoint, delay).Table(table)
        with resource_table.batch_writer() as w:
            for m in batch:
                w.put_item(Item=m.to_item())

    record("metrics: boto3 batch_writer (last writer wins)", len(batch), _timed(batch_writer))
    st, tenant = _tenant(endpoint, "met-loop")
    table = st.settings.table_name("metrics", tenant)
    batch = sample_metrics(tenant, args.metrics, seed=2)
    record("metrics: boto3 conditional PutItem loop", len(batch), _timed(lambda: metric_put_loop(client, table, batch)))


def endpoint_resource(endpoint: Endpoint, delay: float) -> Any:
    """A boto3 DynamoDB resource on `endpoint` (its client delayed like the others)."""
    from salestalk_lib.dynamo.endpoint import local_session

    resource = local_session(endpoint.region).resource("dynamodb", endpoint_url=endpoint.url)
    _delay(resource.meta.client, delay)
    return resource


if __name__ == "__main__":
    raise SystemExit(main())
