"""Measure which numbers a DynamoDB engine takes and how it sizes items, to check the contract against it.

    .venv/bin/python scripts/measure_dynamodb.py --endpoint-url http://127.0.0.1:8000 [--random 500]

Loopback endpoints only (DynamoDB Local, moto, dynalite); real AWS is refused. It puts each number
of `tests/measured_dynamodb.py` as its exact text and reads it back, then measures the size
cases there two ways (see that module): each number's size from the
1 KB write-capacity boundary, and each shape's largest pad under the 400 KB item limit; then a
contract Metric of exactly 409,600 bytes and the same item one byte larger; then `--random`
numbers from a fixed seed, by the WCU method. It prints every measurement beside the sizer's
answer, and exits 1 if any differs. Nothing here is run by the tests: the measured values are
committed as data in `tests/measured_dynamodb.py`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from measured_dynamodb import (  # noqa: E402
    BOUNDARY_METRIC_DIMENSIONS,
    LIMIT_SHAPES,
    NUMBER_ACCEPTANCE,
    NUMBER_SIZES,
    WCU_KEY_LENGTH,
    boundary_metric_fields,
    limit_item,
    wcu_item,
)

from salestalk_lib.contract.models import ITEM_SIZE_LIMIT, Metric, item_size_bytes  # noqa: E402
from salestalk_lib.dynamo.storage import serialize  # noqa: E402

WCU_BYTES = 1024
MAX_PUTS = 200_000  # every search below is bounded; this bounds them all together


class Probe:
    def __init__(self, url: str):
        host = urlparse(url).hostname
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit(f"refusing {url}: measure on a loopback endpoint only")
        self.client = boto3.client(
            "dynamodb",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="probe",
            aws_secret_access_key="probe",
            config=Config(retries={"max_attempts": 1}, read_timeout=60),
        )
        run = uuid.uuid4().hex[:6]
        self.table = self._table(f"size-probe-{run}", ["pk"])
        self.metrics_table = self._table(f"size-probe-metrics-{run}", ["pk", "sk"])
        self.keys = (f"k{run}{i:0{WCU_KEY_LENGTH - 7}d}" for i in itertools.count())
        self.puts = 0

    def _table(self, name: str, keys: list[str]) -> str:
        self.client.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
            KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in zip(keys, ("HASH", "RANGE"), strict=False)],
        )
        self.client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        return name

    def put(self, item: dict, table: str | None = None) -> tuple[bool, float | None, str]:
        """(accepted, WCU charged, refusal message) for one PutItem."""
        self.puts += 1
        if self.puts > MAX_PUTS:
            raise SystemExit("too many puts: a search did not converge")
        try:
            resp = self.client.put_item(
                TableName=table or self.table, Item=serialize(item), ReturnConsumedCapacity="TOTAL"
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ValidationException":
                raise
            return False, None, exc.response["Error"]["Message"]
        return True, resp["ConsumedCapacity"]["CapacityUnits"], ""

    def accepts(self, text: str) -> str:
        """What the engine does with the number `text`, sent as is: the text it reads back, or its refusal."""
        key = {"pk": {"S": next(self.keys)}}
        try:
            self.client.put_item(TableName=self.table, Item={**key, "n": {"N": text}})
        except ClientError as exc:
            return f"refused: {exc.response['Error']['Message']}"
        item = self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True)["Item"]
        return item["n"]["N"]

    def wcu_of(self, number: Decimal, pad: int) -> float:
        # A fresh key each time: a put over an existing item is charged for the larger of the two.
        ok, wcu, why = self.put({**wcu_item(number, pad), "pk": next(self.keys)})
        if not ok:
            raise SystemExit(f"{number}: refused: {why}")
        return wcu

    def number_size(self, text: str) -> int:
        """Bytes charged for the number: from the smallest pad whose item costs 2 WCU (1,025 bytes)."""
        number = Decimal(text)
        lo, hi = 0, WCU_BYTES  # wcu(lo) == 1, wcu(hi) == 2
        if self.wcu_of(number, lo) != 1 or self.wcu_of(number, hi) != 2:
            raise SystemExit(f"{text}: the 1 KB boundary is not inside the search range")
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if self.wcu_of(number, mid) == 1 else (lo, mid)
        return WCU_BYTES + 1 - (item_size_bytes(wcu_item(Decimal(0), hi)) - 1)

    def largest_pad(self, attributes: dict) -> tuple[int, str]:
        """The largest pad accepted under the item limit, and the refusal of one character more."""
        lo, hi = 0, ITEM_SIZE_LIMIT  # accepted(lo), refused(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if self.put(limit_item(attributes, mid))[0] else (lo, mid)
        ok, _, why = self.put(limit_item(attributes, lo + 1))
        assert not ok
        return lo, why


def random_numbers(count: int, seed: int = 20260601) -> list[str]:
    rng = random.Random(seed)
    out = []
    while len(out) < count:
        ndigits = rng.randint(1, 38)
        digits = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(ndigits - 2)]
        digits += [rng.randint(1, 9)] if ndigits > 1 else []
        adjusted = rng.choice([rng.randint(-128, 125), rng.randint(-10, 15)])
        number = Decimal((rng.random() < 0.3, tuple(digits), adjusted - len(digits) + 1))
        if number.as_tuple().exponent >= -165:
            out.append(str(number))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-url", required=True)
    parser.add_argument("--random", type=int, default=0, help="also measure this many random numbers")
    args = parser.parse_args()
    probe = Probe(args.endpoint_url)
    differences = 0

    acceptance = {}
    for text in NUMBER_ACCEPTANCE:
        acceptance[text] = probe.accepts(text)
        print(json.dumps({"method": "accept", "number": text, "answer": acceptance[text]}))

    measured = {}
    for text in [*NUMBER_SIZES, *random_numbers(args.random)]:
        size = probe.number_size(text)
        ours = item_size_bytes({"n": Decimal(text)}) - len("n")
        measured[text] = size
        differences += size != ours
        print(json.dumps({"method": "wcu", "number": text, "measured": size, "item_size_bytes": ours}))

    # The 1 KB write-capacity boundary itself, on an item of strings.
    for size in (WCU_BYTES, WCU_BYTES + 1):
        item = {"pk": "wcu-boundary", "p": "x" * (size - len("pk") - len("wcu-boundary") - len("p"))}
        print(json.dumps({"method": "wcu-boundary", "bytes": item_size_bytes(item), "wcu": probe.put(item)[1]}))

    shapes = []
    for label, attributes, _ in LIMIT_SHAPES:
        pad, why = probe.largest_pad(attributes)
        size = item_size_bytes(limit_item(attributes, pad))
        differences += size != ITEM_SIZE_LIMIT
        shapes.append((label, pad))
        print(
            json.dumps(
                {"method": "limit", "shape": label, "largest_pad": pad, "item_size_bytes": size, "one_more": why}
            )
        )

    def metric_item(note: int) -> dict:
        item = Metric.create(**boundary_metric_fields(BOUNDARY_METRIC_DIMENSIONS, 1)).to_item()
        return {**item, "metadata": {**item["metadata"], "note": "x" * note}}  # past the contract's limit too

    lo, hi = 1, 10_000  # accepted(lo), refused(hi)
    if not probe.put(metric_item(lo), probe.metrics_table)[0] or probe.put(metric_item(hi), probe.metrics_table)[0]:
        raise SystemExit("the Metric boundary is not inside the search range: change BOUNDARY_METRIC_DIMENSIONS")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if probe.put(metric_item(mid), probe.metrics_table)[0] else (lo, mid)
    size = item_size_bytes(metric_item(lo))
    differences += size != ITEM_SIZE_LIMIT
    print(
        json.dumps(
            {
                "method": "metric",
                "dimensions": BOUNDARY_METRIC_DIMENSIONS,
                "longest_note": lo,
                "item_size_bytes": size,
                "one_more": probe.put(metric_item(lo + 1), probe.metrics_table)[2],
            }
        )
    )

    print("# data for tests/measured_dynamodb.py", file=sys.stderr)
    print("NUMBER_ACCEPTANCE = " + json.dumps(acceptance, indent=4), file=sys.stderr)
    print("NUMBER_SIZES = " + json.dumps({t: measured[t] for t in NUMBER_SIZES}, indent=4), file=sys.stderr)
    print("LIMIT pads = " + json.dumps(shapes, indent=4), file=sys.stderr)
    print(f"BOUNDARY_METRIC_LONGEST_NOTE = {lo}", file=sys.stderr)
    print(f"{probe.puts} puts; {differences} difference(s) from models.item_size_bytes", file=sys.stderr)
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
