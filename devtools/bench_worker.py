"""One measured run of `make bench`, in its own process: `python -m devtools.bench_worker SPEC OUT`.

`devtools.bench` starts this module once per run, so that every method pays its
own interpreter start-up (the wall time the parent measures is that of a whole
command) and the client's CPU time is its own: the engine runs in another
process, and so does the latency proxy. SPEC is a JSON file naming the method
and its arguments; OUT receives one JSON object:

- `exit`: the method's exit code (the CLI's, or 0 for a baseline that finished);
- `items`: records handled;
- `work_s`: wall seconds of the work itself (after the imports);
- `cpu_user_s`, `cpu_sys_s`: `resource.getrusage(RUSAGE_SELF)` user and system
  seconds spent during the work (imports excluded, file reading included).

Methods: `cli` (the public `salestalk` CLI, in this process: `salestalk ingest`,
`salestalk validate`), and the baselines a user would write with plain boto3:
`put_loop` (one `put_item` per record), `batch_writer` (boto3's
`Table.batch_writer()`), `transact_pool` (TransactWriteItems of 100 conditional Puts
on 8 threads, nothing checked: the engine's ceiling for a race-free batched writer), `transact_loop` (one TransactWriteItems per message: its
identity item and the message, each created once, and its session rollup counted),
and `model_validate` (pydantic's raw `Message.model_validate`, the floor under
validation). Baselines read the same JSON-lines file the CLI reads.
"""

from __future__ import annotations

import contextlib
import io
import json
import resource
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
CREATE_ONCE = "attribute_not_exists(pk)"


def read_items(path: str, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """The records of a JSON-lines file as DynamoDB items (numbers as Decimal), at most `limit` of them."""
    with open(path, encoding="utf-8") as lines:
        for n, line in enumerate(lines):
            if limit is not None and n >= limit:
                return
            yield json.loads(line, parse_float=Decimal, parse_int=Decimal)


def _table(spec: dict[str, Any]) -> Any:
    """boto3's resource Table with the stock client configuration, as a user would have it."""
    import boto3

    dynamodb = boto3.resource("dynamodb", endpoint_url=spec["url"], region_name=spec["region"], **DUMMY_CREDENTIALS)
    return dynamodb.Table(spec["table"])


def put_loop(spec: dict[str, Any]) -> int:
    """One `put_item` per record."""
    table, n = _table(spec), 0
    for item in read_items(spec["file"], spec.get("limit")):
        table.put_item(Item=item)
        n += 1
    return n


def batch_writer(spec: dict[str, Any]) -> int:
    """boto3's `batch_writer` (25 items per BatchWriteItem, sequential, unprocessed items resent)."""
    n = 0
    with _table(spec).batch_writer() as writer:
        for item in read_items(spec["file"], spec.get("limit")):
            writer.put_item(Item=item)
            n += 1
    return n


def transact_pool(spec: dict[str, Any]) -> int:
    """TransactWriteItems of 100 conditional Puts on 8 threads: what the engine can take, with no library around it.

    No validation, no outcome per item, no retries, no batch record: the ceiling that any race-free
    batched writer (the library's default metric path included) runs under on this engine and link.
    """
    import threading

    import boto3
    from boto3.dynamodb.types import TypeSerializer

    client = boto3.client("dynamodb", endpoint_url=spec["url"], region_name=spec["region"], **DUMMY_CREDENTIALS)
    ser, table = TypeSerializer(), spec["table"]
    items = list(read_items(spec["file"], spec.get("limit")))
    chunks = [items[start : start + 100] for start in range(0, len(items), 100)]
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                if not chunks:
                    return
                chunk = chunks.pop()
            client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": table,
                            "Item": {k: ser.serialize(v) for k, v in item.items()},
                            "ConditionExpression": CREATE_ONCE,
                        }
                    }
                    for item in chunk
                ]
            )

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(items)


def transact_loop(spec: dict[str, Any]) -> int:
    """One TransactWriteItems per message: create its identity item and the message once, count it in its rollup.

    The work `salestalk ingest` does for a message, written the plain way: the
    loop is the only writer, so it keeps each session's first/last message in
    memory and sets the rollup from there (one request per message, no reads).
    """
    import boto3
    from boto3.dynamodb.types import TypeSerializer

    from salestalk_lib.contract import keys
    from salestalk_lib.contract.items import MessageIdentity
    from salestalk_lib.contract.models import Message

    client = boto3.client("dynamodb", endpoint_url=spec["url"], region_name=spec["region"], **DUMMY_CREDENTIALS)
    ser = TypeSerializer()
    table = spec["table"]

    def av(item: dict[str, Any]) -> dict[str, Any]:
        return {k: ser.serialize(v) for k, v in item.items()}

    sessions: dict[str, tuple[str, str, str]] = {}  # session -> (first at, last at, last message id)
    n = 0
    for item in read_items(spec["file"], spec.get("limit")):
        message = Message.from_item(item)
        at, mid, sid = item["timestamp"], item["messageId"], item["sessionId"]
        first, last, last_id = sessions.get(sid, (at, at, mid))
        first = min(first, at)
        if (at, mid) >= (last, last_id):
            last, last_id = at, mid
        sessions[sid] = (first, last, last_id)
        client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table,
                        "Item": av(MessageIdentity.of(message).to_item()),
                        "ConditionExpression": CREATE_ONCE,
                    }
                },
                {"Put": {"TableName": table, "Item": av(item), "ConditionExpression": CREATE_ONCE}},
                {
                    "Update": {
                        "TableName": table,
                        "Key": av({"pk": keys.session_pk(sid), "sk": keys.session_sk()}),
                        "UpdateExpression": "SET tenantId = :tid, sessionId = :sid, firstMessageAt = :f, "
                        "lastMessageAt = :l, lastMessageId = :lid ADD messageCount :one",
                        "ExpressionAttributeValues": av(
                            {
                                ":tid": item["tenantId"],
                                ":sid": sid,
                                ":f": first,
                                ":l": last,
                                ":lid": last_id,
                                ":one": Decimal(1),
                            }
                        ),
                    }
                },
            ]
        )
        n += 1
    return n


def model_validate(spec: dict[str, Any]) -> int:
    """pydantic's `Message.model_validate` on every record, nothing else (the floor under `validate`)."""
    from salestalk_lib.contract.models import Message

    n = 0
    with open(spec["file"], encoding="utf-8") as lines:
        for line in lines:
            Message.model_validate(json.loads(line))
            n += 1
    return n


def cli(spec: dict[str, Any]) -> tuple[int, int]:
    """The `salestalk` CLI with `spec["argv"]`, in this process (its output discarded); (exit code, items)."""
    from salestalk_lib.cli.main import main as salestalk

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
        code = salestalk(spec["argv"])
    if code != 0:
        sys.stderr.write(err.getvalue()[-2000:])
    return code, int(spec["items"])


BASELINES = {
    "put_loop": put_loop,
    "batch_writer": batch_writer,
    "transact_pool": transact_pool,
    "transact_loop": transact_loop,
}


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the method `spec` names; its exit code, items, work seconds and CPU seconds."""
    method = spec["method"]
    if method == "cli":  # import the CLI before the clock starts, as the baselines import boto3 below
        import salestalk_lib.cli.main  # noqa: F401
    else:
        import boto3  # noqa: F401
    before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    if method == "cli":
        code, items = cli(spec)
    elif method == "model_validate":
        code, items = 0, model_validate(spec)
    else:
        code, items = 0, BASELINES[method](spec)
    seconds, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
    return {
        "exit": code,
        "items": items,
        "work_s": seconds,
        "cpu_user_s": after.ru_utime - before.ru_utime,
        "cpu_sys_s": after.ru_stime - before.ru_stime,
    }


def main(argv: list[str]) -> int:
    """`SPEC OUT`: run the method in SPEC, write its figures to OUT."""
    spec_path, out_path = argv
    result = run(json.loads(Path(spec_path).read_text(encoding="utf-8")))
    Path(out_path).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
