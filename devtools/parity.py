"""Engine parity: one small probe per DynamoDB behaviour the data model relies on, run on each engine.

`python -m devtools.parity --out FILE` (run by `make docs` and `make run`)
starts every embedded engine (`salestalk_lib.embedded.engines.ENGINES`) that is installed,
runs every probe in `PROBES` on it and writes the *ledger*: a JSON file with, per
probe, what DynamoDB documents, the outcome it documents (`expected`), what each
engine did, and which library feature depends on it. An engine that cannot start
is recorded with the reason, never with invented results. `parity_page` renders
the ledger as the *Engine parity* page of the docs (`docsgen.PAGES`), and
`tests/test_parity.py` runs the same probes on both engines and checks DynamoDB
Local against the documented outcome for every behaviour the library relies on.

Each probe sends raw DynamoDB requests (a boto3 client with client-side parameter
validation off, so the engine sees every request, even an invalid one) against
tables of its own run, and reports an `Observation`: a short canonical `outcome`
(compared with the probe's `expected`) and a `detail` (error codes, messages and
values, for the reader). Outcomes are deterministic for a given engine version:
no timings, ports, random ids or table prefixes appear in them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from salestalk_lib.dynamo.endpoint import Endpoint, start_embedded
from salestalk_lib.embedded.engines import ENGINES, EngineUnavailable

LEDGER_FORMAT = 1
DEFAULT_LEDGER = Path(__file__).resolve().parents[1] / "build" / "parity" / "ledger.json"
ITEM_LIMIT = 400 * 1024  # 409,600 bytes: DynamoDB's item size limit
DOCS = "https://docs.aws.amazon.com/amazondynamodb/latest"
TABLE_WAIT_S = 60.0


@dataclass(frozen=True)
class Observation:
    """What an engine did: `outcome` is compared with the probe's expectation, `detail` is for the reader."""

    outcome: str
    detail: str = ""


class ProbeContext:
    """An engine under test: a raw client and the probe tables of this run (created on first use)."""

    def __init__(self, endpoint: Endpoint, prefix: str) -> None:
        self.client = endpoint.client(parameter_validation=False, read_timeout=60)
        self.prefix = prefix
        self._tables: dict[str, str] = {}

    def name(self, base: str) -> str:
        return f"{self.prefix}{base}"

    def create(self, base: str, *, gsi: bool = False, wait: bool = True) -> str:
        """Create table `prefix+base` (pk S, sk S; with `gsi`, index ByGroup on grp S + ts N), ACTIVE."""
        name = self.name(base)
        request: dict[str, Any] = {
            "TableName": name,
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
        }
        if gsi:
            request["AttributeDefinitions"] += [
                {"AttributeName": "grp", "AttributeType": "S"},
                {"AttributeName": "ts", "AttributeType": "N"},
            ]
            request["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": "ByGroup",
                    "Projection": {"ProjectionType": "ALL"},
                    "KeySchema": [
                        {"AttributeName": "grp", "KeyType": "HASH"},
                        {"AttributeName": "ts", "KeyType": "RANGE"},
                    ],
                }
            ]
        self.client.create_table(**request)
        if wait:
            self.wait_active(name)
        return name

    def table(self, *, gsi: bool = False) -> str:
        """The shared probe table (with or without the ByGroup index) of this run."""
        base = "parity-gsi" if gsi else "parity-kv"
        if base not in self._tables:
            self._tables[base] = self.create(base, gsi=gsi)
        return self._tables[base]

    def wait_active(self, name: str) -> None:
        deadline = time.monotonic() + TABLE_WAIT_S
        while True:
            desc = self.client.describe_table(TableName=name)["Table"]
            indexes = desc.get("GlobalSecondaryIndexes") or []
            if desc["TableStatus"] == "ACTIVE" and all(i.get("IndexStatus") == "ACTIVE" for i in indexes):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"table {name} not ACTIVE after {TABLE_WAIT_S:.0f} s")
            time.sleep(0.1)

    def wait_gone(self, name: str) -> None:
        deadline = time.monotonic() + TABLE_WAIT_S
        while True:
            try:
                self.client.describe_table(TableName=name)
            except ClientError as exc:
                if _code(exc) == "ResourceNotFoundException":
                    return
                raise
            if time.monotonic() > deadline:
                raise TimeoutError(f"table {name} still there {TABLE_WAIT_S:.0f} s after DeleteTable")
            time.sleep(0.1)

    def clean(self, text: str) -> str:
        """`text` without this run's table prefix (so details do not vary between runs)."""
        return text.replace(self.prefix, "")

    def drop_all(self) -> None:
        for name in self._tables.values():
            try:
                self.client.delete_table(TableName=name)
            except ClientError:
                pass
        self._tables.clear()


@dataclass(frozen=True)
class Probe:
    """One documented DynamoDB behaviour, how to observe it, and who in the library depends on it."""

    key: str
    behaviour: str
    documented: str
    reference: str
    expected: str
    library: str
    run: Callable[[ProbeContext], Observation] = field(repr=False, compare=False)
    relied_on: bool = True
    """The library's guarantees need the documented behaviour (checked on DynamoDB Local by the tests)."""
    handled: str = ""
    """How the library copes where an engine does not behave as documented."""


# --- helpers -----------------------------------------------------------------------------------


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "") or "")


def _message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", "") or "")


def _attempt(call: Callable[[], Any]) -> tuple[str, Any, ClientError | None]:
    """("accepted", response, None) or ("rejected: Code", None, error)."""
    try:
        return "accepted", call(), None
    except ClientError as exc:
        return f"rejected: {_code(exc)}", None, exc


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _why(ctx: ProbeContext, exc: ClientError | None) -> str:
    """The engine's refusal, code and message, for the detail column ("" when nothing was refused)."""
    if exc is None:
        return ""
    message = _short(ctx.clean(_message(exc)))
    return f"{_code(exc)}: {message}" if message else _code(exc)


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _key(pk: str, sk: str = "x") -> dict[str, Any]:
    return {"pk": _s(pk), "sk": _s(sk)}


def _put(ctx: ProbeContext, table: str, item: Mapping[str, Any], **extra: Any) -> Any:
    return ctx.client.put_item(TableName=table, Item=dict(item), **extra)


def _filled(pk: str, size: int, sk: str = "x") -> dict[str, Any]:
    """An item of exactly `size` bytes by DynamoDB's rules: names and string values count their UTF-8 bytes."""
    fixed = len("pk") + len(pk) + len("sk") + len(sk) + len("fill")
    return {**_key(pk, sk), "fill": _s("a" * (size - fixed))}


# --- probes ------------------------------------------------------------------------------------


def probe_conditional_put(ctx: ProbeContext) -> Observation:
    table = ctx.table()
    _put(ctx, table, {**_key("cond"), "v": _s("first")})
    outcome, _, exc = _attempt(
        lambda: _put(ctx, table, {**_key("cond"), "v": _s("second")}, ConditionExpression="attribute_not_exists(pk)")
    )
    stored = ctx.client.get_item(TableName=table, Key=_key("cond"), ConsistentRead=True)["Item"]["v"]["S"]
    return Observation(
        f"second put {outcome}; stored item unchanged"
        if stored == "first"
        else f"second put {outcome}; stored item overwritten",
        _why(ctx, exc),
    )


def probe_all_old(ctx: ProbeContext) -> Observation:
    table = ctx.table()
    item = {**_key("allold"), "v": _s("stored"), "n": {"N": "7"}}
    _put(ctx, table, item)
    _, _, exc = _attempt(
        lambda: _put(
            ctx,
            table,
            {**_key("allold"), "v": _s("other")},
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    )
    if exc is None:
        return Observation("condition did not fail")
    returned = exc.response.get("Item")
    if returned is None:
        return Observation("no item in the error", _why(ctx, exc))
    return Observation(
        "stored item in the error" if returned == item else "another item in the error",
        f"{_code(exc)} carried {sorted(returned)}",
    )


def probe_cancellation_reasons(ctx: ProbeContext) -> Observation:
    table = ctx.table()
    _put(ctx, table, {**_key("tx-exists"), "v": _s("stored")})
    actions = [
        {"Put": {"TableName": table, "Item": {**_key("tx-new"), "v": _s("new")}}},
        {
            "Put": {
                "TableName": table,
                "Item": {**_key("tx-exists"), "v": _s("other")},
                "ConditionExpression": "attribute_not_exists(pk)",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        },
        {
            "ConditionCheck": {
                "TableName": table,
                "Key": _key("tx-absent"),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
    ]
    outcome, _, exc = _attempt(lambda: ctx.client.transact_write_items(TransactItems=actions))
    if exc is None:
        return Observation("transaction accepted")
    reasons = exc.response.get("CancellationReasons") or []
    codes = ", ".join(str(r.get("Code")) for r in reasons) or "none"
    with_item = [i for i, r in enumerate(reasons) if r.get("Item")]
    written = "Item" in ctx.client.get_item(TableName=table, Key=_key("tx-new"), ConsistentRead=True)
    item_text = (
        f"stored item on action {with_item[0] + 1}"
        if with_item == [1]
        else ("no stored item" if not with_item else f"items on actions {[i + 1 for i in with_item]}")
    )
    return Observation(
        f"{outcome}; reasons in order: {codes}; {item_text}; {'first Put applied' if written else 'nothing applied'}",
        _why(ctx, exc),
    )


def probe_two_actions_one_item(ctx: ProbeContext) -> Observation:
    table = ctx.table()
    actions = [
        {"Put": {"TableName": table, "Item": {**_key("tx-twice"), "v": _s("a")}}},
        {
            "Update": {
                "TableName": table,
                "Key": _key("tx-twice"),
                "UpdateExpression": "SET v = :v",
                "ExpressionAttributeValues": {":v": _s("b")},
            }
        },
    ]
    outcome, _, exc = _attempt(lambda: ctx.client.transact_write_items(TransactItems=actions))
    return Observation(outcome, _why(ctx, exc))


def _puts(table: str, stem: str, n: int, item: Callable[[str], dict[str, Any]] | None = None) -> list[dict]:
    make = item or (lambda pk: _key(pk))
    return [{"Put": {"TableName": table, "Item": make(f"{stem}-{i}")}} for i in range(n)]


def probe_transaction_100(ctx: ProbeContext) -> Observation:
    table = ctx.table()
    ok, _, _ = _attempt(lambda: ctx.client.transact_write_items(TransactItems=_puts(table, "tx100", 100)))
    over, _, exc = _attempt(lambda: ctx.client.transact_write_items(TransactItems=_puts(table, "tx101", 101)))
    return Observation(f"100 actions: {ok}; 101 actions: {over}", _why(ctx, exc))


def probe_transaction_4mb(ctx: ProbeContext) -> Observation:
    table = ctx.table()
    size = 390_000  # each item well under the item limit of every engine

    def tx(stem: str, n: int) -> Any:
        return ctx.client.transact_write_items(TransactItems=_puts(table, stem, n, lambda pk: _filled(pk, size)))

    under, _, _ = _attempt(lambda: tx("tx4mb-under", 10))  # 3,900,000 bytes
    over, _, exc = _attempt(lambda: tx("tx4mb-over", 11))  # 4,290,000 bytes > 4 MB
    return Observation(f"10 items (3.9 MB): {under}; 11 items (4.29 MB): {over}", _why(ctx, exc))


def _counter_tx(table: str, pk: str, by: int) -> list[dict]:
    return [
        {
            "Update": {
                "TableName": table,
                "Key": _key(pk),
                "UpdateExpression": "ADD n :by",
                "ExpressionAttributeValues": {":by": {"N": str(by)}},
            }
        }
    ]


def probe_token_replay(ctx: ProbeContext) -> Observation:
    table = ctx.table()
    token = str(uuid.uuid4())
    first, _, _ = _attempt(
        lambda: ctx.client.transact_write_items(TransactItems=_counter_tx(table, "token", 1), ClientRequestToken=token)
    )
    again, _, exc = _attempt(
        lambda: ctx.client.transact_write_items(TransactItems=_counter_tx(table, "token", 1), ClientRequestToken=token)
    )
    n = ctx.client.get_item(TableName=table, Key=_key("token"), ConsistentRead=True).get("Item", {}).get("n", {})
    effect = "applied once" if n.get("N") == "1" else f"applied {n.get('N', 0)} times"
    return Observation(f"first: {first}; resend with the same token: {again}; {effect}", _why(ctx, exc))


def probe_token_mismatch(ctx: ProbeContext) -> Observation:
    table = ctx.table()
    token = str(uuid.uuid4())
    ctx.client.transact_write_items(TransactItems=_counter_tx(table, "token-mismatch", 1), ClientRequestToken=token)
    outcome, _, exc = _attempt(
        lambda: ctx.client.transact_write_items(
            TransactItems=_counter_tx(table, "token-mismatch", 2), ClientRequestToken=token
        )
    )
    return Observation(f"same token, other parameters: {outcome}", _why(ctx, exc))


def probe_item_size(ctx: ProbeContext) -> Observation:
    table = ctx.table()
    at, _, _ = _attempt(lambda: _put(ctx, table, _filled("size-at", ITEM_LIMIT)))
    over, _, exc = _attempt(lambda: _put(ctx, table, _filled("size-over", ITEM_LIMIT + 1)))
    return Observation(f"{ITEM_LIMIT:,} B: {at}; {ITEM_LIMIT + 1:,} B: {over}", _why(ctx, exc))


def probe_partition_key_size(ctx: ProbeContext) -> Observation:
    table = ctx.table()
    at, _, _ = _attempt(lambda: _put(ctx, table, _key("p" * 2048)))
    over, _, exc = _attempt(lambda: _put(ctx, table, _key("p" * 2049)))
    return Observation(f"2,048 B: {at}; 2,049 B: {over}", _why(ctx, exc))


def probe_sort_key_size(ctx: ProbeContext) -> Observation:
    table = ctx.table()
    at, _, _ = _attempt(lambda: _put(ctx, table, _key("sort-key", "s" * 1024)))
    over, _, exc = _attempt(lambda: _put(ctx, table, _key("sort-key", "s" * 1025)))
    return Observation(f"1,024 B: {at}; 1,025 B: {over}", _why(ctx, exc))


def probe_empty_strings(ctx: ProbeContext) -> Observation:
    table = ctx.table()
    key, _, exc = _attempt(lambda: _put(ctx, table, _key("empty", "")))
    other, _, _ = _attempt(lambda: _put(ctx, table, {**_key("empty"), "note": _s("")}))
    return Observation(f"empty sort key: {key}; empty non-key string: {other}", _why(ctx, exc))


def probe_batch_write_25(ctx: ProbeContext) -> Observation:
    table = ctx.table()

    def batch(stem: str, n: int) -> Any:
        return ctx.client.batch_write_item(
            RequestItems={table: [{"PutRequest": {"Item": _key(f"{stem}-{i}")}} for i in range(n)]}
        )

    ok, _, _ = _attempt(lambda: batch("bw25", 25))
    over, _, exc = _attempt(lambda: batch("bw26", 26))
    return Observation(f"25 puts: {ok}; 26 puts: {over}", _why(ctx, exc))


def probe_unprocessed_items(ctx: ProbeContext) -> Observation:
    table = ctx.table()
    resp = ctx.client.batch_write_item(
        RequestItems={table: [{"PutRequest": {"Item": _key(f"bw-u-{i}")}} for i in range(25)]}
    )
    if "UnprocessedItems" not in resp:
        return Observation("no UnprocessedItems in the response")
    left = sum(len(v) for v in resp["UnprocessedItems"].values())
    return Observation("UnprocessedItems in the response" + (" (empty)" if not left else f" ({left} items)"))


def probe_batch_get_100(ctx: ProbeContext) -> Observation:
    table = ctx.table()

    def get(n: int) -> Any:
        return ctx.client.batch_get_item(RequestItems={table: {"Keys": [_key(f"bg-{i}") for i in range(n)]}})

    ok, _, _ = _attempt(lambda: get(100))
    over, _, exc = _attempt(lambda: get(101))
    return Observation(f"100 keys: {ok}; 101 keys: {over}", _why(ctx, exc))


def probe_query_limit_gsi(ctx: ProbeContext) -> Observation:
    table = ctx.table(gsi=True)
    for i in range(5):
        _put(ctx, table, {**_key(f"gsi-{i}"), "grp": _s("limit"), "ts": {"N": str(i + 1)}})
    pages: list[int] = []
    seen: list[str] = []
    last_keys: list[str] = []
    start: dict[str, Any] | None = None
    for _ in range(10):  # 5 items at 2 a page: bounded well above the 3 pages expected
        params: dict[str, Any] = {
            "TableName": table,
            "IndexName": "ByGroup",
            "KeyConditionExpression": "grp = :g",
            "ExpressionAttributeValues": {":g": _s("limit")},
            "Limit": 2,
        }
        if start:
            params["ExclusiveStartKey"] = start
        page = ctx.client.query(**params)
        pages.append(len(page["Items"]))
        seen += [i["pk"]["S"] for i in page["Items"]]
        start = page.get("LastEvaluatedKey")
        if start and not last_keys:
            last_keys = sorted(start)
        if not start:
            break
    order = "in index order" if seen == [f"gsi-{i}" for i in range(5)] else f"order {seen}"
    return Observation(
        f"pages of {', '.join(map(str, pages))} items, {order}; "
        f"LastEvaluatedKey holds {', '.join(last_keys) or 'nothing'}"
    )


def probe_page_cap(ctx: ProbeContext) -> Observation:
    table = ctx.table()
    count = 12  # 12 items of 100,000 bytes: 1.2 MB in one partition
    for i in range(count):
        _put(ctx, table, _filled("page-cap", 100_000, sk=f"{i:02d}"))
    sizes: list[int] = []
    start: dict[str, Any] | None = None
    for _ in range(count + 1):
        params: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": _s("page-cap")},
            "Select": "COUNT",
        }
        if start:
            params["ExclusiveStartKey"] = start
        page = ctx.client.query(**params)
        sizes.append(page["Count"])
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    first = sizes[0]
    capped = (
        "first page capped near 1 MB with LastEvaluatedKey"
        if first < count and len(sizes) > 1
        else ("first page holds all 1.2 MB")
    )
    total = "every item over the pages" if sum(sizes) == count else f"{sum(sizes)} of {count} items over the pages"
    return Observation(f"{capped}; {total}", f"page counts {sizes} (items of 100,000 bytes)")


def probe_sparse_gsi(ctx: ProbeContext) -> Observation:
    table = ctx.table(gsi=True)
    _put(ctx, table, {**_key("sparse-in"), "grp": _s("sparse"), "ts": {"N": "1"}})
    _put(ctx, table, {**_key("sparse-out"), "grp": _s("sparse")})  # no ts: not in the index
    items = ctx.client.query(
        TableName=table,
        IndexName="ByGroup",
        KeyConditionExpression="grp = :g",
        ExpressionAttributeValues={":g": _s("sparse")},
    )["Items"]
    found = sorted(i["pk"]["S"] for i in items)
    return Observation(
        "item without the index key absent from the index" if found == ["sparse-in"] else f"index returned {found}"
    )


def probe_begins_with(ctx: ProbeContext) -> Observation:
    table = ctx.table()
    for sk in ("2025-10", "2025-10-05", "2025-10#region:Europe", "2025-11", "2025-Q4"):
        _put(ctx, table, _key("begins", sk))
    items = ctx.client.query(
        TableName=table,
        KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
        ExpressionAttributeValues={":p": _s("begins"), ":s": _s("2025-10")},
    )["Items"]
    return Observation("matched " + ", ".join(i["sk"]["S"] for i in items))


def probe_reserved_words(ctx: ProbeContext) -> Observation:
    table = ctx.table()
    _put(ctx, table, _key("reserved"))

    def update(expression: str, names: dict[str, str] | None) -> Any:
        extra = {"ExpressionAttributeNames": names} if names else {}
        return ctx.client.update_item(
            TableName=table,
            Key=_key("reserved"),
            UpdateExpression=expression,
            ExpressionAttributeValues={":v": _s("active")},
            **extra,
        )

    bare, _, exc = _attempt(lambda: update("SET status = :v", None))
    named, _, _ = _attempt(lambda: update("SET #s = :v", {"#s": "status"}))
    return Observation(f"bare `status`: {bare}; `#s` placeholder: {named}", _why(ctx, exc))


def _settings_api(ctx: ProbeContext, apply: Callable[[], Any], read: Callable[[], str]) -> Observation:
    try:
        apply()
        return Observation("supported", read())
    except ClientError as exc:
        return Observation(f"unsupported: {_code(exc)}", _short(ctx.clean(_message(exc))))


def probe_ttl(ctx: ProbeContext) -> Observation:
    table = ctx.create("parity-ttl")
    try:
        return _settings_api(
            ctx,
            lambda: ctx.client.update_time_to_live(
                TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"}
            ),
            lambda: "DescribeTimeToLive: {TimeToLiveStatus} on {AttributeName}".format(
                **ctx.client.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
            ),
        )
    finally:
        ctx.client.delete_table(TableName=table)


def probe_pitr(ctx: ProbeContext) -> Observation:
    table = ctx.table()
    return _settings_api(
        ctx,
        lambda: ctx.client.update_continuous_backups(
            TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        ),
        lambda: (
            "DescribeContinuousBackups: "
            + ctx.client.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"][
                "PointInTimeRecoveryDescription"
            ]["PointInTimeRecoveryStatus"]
        ),
    )


def probe_tagging(ctx: ProbeContext) -> Observation:
    table = ctx.table()
    arn = ctx.client.describe_table(TableName=table)["Table"]["TableArn"]
    return _settings_api(
        ctx,
        lambda: ctx.client.tag_resource(ResourceArn=arn, Tags=[{"Key": "Service", "Value": "salestalk"}]),
        lambda: (
            "ListTagsOfResource: "
            + ", ".join(
                f"{t['Key']}={t['Value']}" for t in ctx.client.list_tags_of_resource(ResourceArn=arn).get("Tags", [])
            )
        ),
    )


def _capacity(resp: Mapping[str, Any]) -> Mapping[str, Any] | None:
    return resp.get("ConsumedCapacity")


def probe_capacity_total(ctx: ProbeContext) -> Observation:
    table = ctx.table(gsi=True)
    resp = _put(ctx, table, {**_key("cap-total"), "v": _s("small")}, ReturnConsumedCapacity="TOTAL")
    cap = _capacity(resp)
    if not cap:
        return Observation("no ConsumedCapacity")
    return Observation(f"CapacityUnits {float(cap.get('CapacityUnits', 0)):g}")


def probe_capacity_indexes(ctx: ProbeContext) -> Observation:
    table = ctx.table(gsi=True)
    resp = _put(ctx, table, {**_key("cap-index"), "grp": _s("cap"), "ts": {"N": "1"}}, ReturnConsumedCapacity="INDEXES")
    cap = _capacity(resp)
    if not cap:
        return Observation("no ConsumedCapacity")
    parts = [
        f"total {float(cap.get('CapacityUnits', 0)):g}",
        f"table {float(cap.get('Table', {}).get('CapacityUnits', 0)):g}" if "Table" in cap else "no table part",
    ]
    gsis = cap.get("GlobalSecondaryIndexes") or {}
    parts += [f"{name} {float(v.get('CapacityUnits', 0)):g}" for name, v in sorted(gsis.items())] or ["no index part"]
    return Observation("; ".join(parts))


NUMBERS_IN = ("1.500", "007", "1E+2", "0.000", "-12.50")


def probe_number_normalisation(ctx: ProbeContext) -> Observation:
    table = ctx.table()
    item = {**_key("numbers"), **{f"n{i}": {"N": v} for i, v in enumerate(NUMBERS_IN)}}
    _put(ctx, table, item)
    got = ctx.client.get_item(TableName=table, Key=_key("numbers"), ConsistentRead=True)["Item"]
    return Observation("; ".join(f"{v} → {got[f'n{i}']['N']}" for i, v in enumerate(NUMBERS_IN)))


NUMBER_LIMITS = (
    ("38 digits", "1.2345678901234567890123456789012345678"),
    ("39 digits", "1.23456789012345678901234567890123456789"),
    ("1E-130", "1E-130"),
    ("1E-131", "1E-131"),
    ("9.99…E+125", "9.9999999999999999999999999999999999999E+125"),
    ("1E+126", "1E+126"),
)


def probe_number_limits(ctx: ProbeContext) -> Observation:
    table = ctx.table()
    parts, first_error = [], None
    for i, (label, value) in enumerate(NUMBER_LIMITS):
        outcome, _, exc = _attempt(lambda: _put(ctx, table, {**_key(f"number-limit-{i}"), "n": {"N": value}}))
        parts.append(f"{label}: {outcome}")
        first_error = first_error or exc
    return Observation("; ".join(parts), _why(ctx, first_error))


def probe_wire_types(ctx: ProbeContext) -> Observation:
    table = ctx.table()
    # A JSON number where the AttributeValue's S must be a JSON string (boto3 would refuse it client-side).
    outcome, _, exc = _attempt(lambda: _put(ctx, table, {**_key("wire"), "s": {"S": 5}}))
    return Observation(f"S given a JSON number: {outcome}", _why(ctx, exc))


def probe_create_table_status(ctx: ProbeContext) -> Observation:
    name = ctx.name("parity-create")
    resp = ctx.client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    )
    answered = resp["TableDescription"]["TableStatus"]
    ctx.wait_active(name)
    ctx.client.delete_table(TableName=name)
    return Observation(f"CreateTable answered {answered}; ACTIVE after waiting")


def probe_delete_table_status(ctx: ProbeContext) -> Observation:
    name = ctx.create("parity-delete")
    answered = ctx.client.delete_table(TableName=name)["TableDescription"]["TableStatus"]
    listed = name in ctx.client.list_tables().get("TableNames", [])
    ctx.wait_gone(name)
    return Observation(
        f"DeleteTable answered {answered}; gone after waiting",
        "still in ListTables right after DeleteTable" if listed else "out of ListTables at once",
    )


PROBES: tuple[Probe, ...] = (
    Probe(
        "conditional-put",
        "Conditional put on an existing key",
        "A PutItem whose ConditionExpression is false fails with ConditionalCheckFailedException and writes nothing.",
        f"{DOCS}/APIReference/API_PutItem.html",
        "second put rejected: ConditionalCheckFailedException; stored item unchanged",
        "create-once writes: message and metric ingestion, the seed loader, batch records, event claims (contract §4)",
        probe_conditional_put,
    ),
    Probe(
        "all-old-on-failed-condition",
        "ALL_OLD on a failed condition",
        "ReturnValuesOnConditionCheckFailure=ALL_OLD returns the stored item with the "
        "ConditionalCheckFailedException, without a second read.",
        f"{DOCS}/APIReference/API_PutItem.html#DDB-PutItem-request-ReturnValuesOnConditionCheckFailure",
        "stored item in the error",
        "`storage.ConditionFailed.item`: a duplicate is settled as already_exists or conflict from the "
        "stored item (ingest, seed, inbox)",
        probe_all_old,
    ),
    Probe(
        "transaction-cancellation-reasons",
        "TransactWriteItems cancellation reasons",
        "A cancelled transaction applies nothing; TransactionCanceledException lists one reason per action, "
        "in request order (None for actions that were fine), with the stored item under ALL_OLD.",
        f"{DOCS}/APIReference/API_TransactWriteItems.html",
        "rejected: TransactionCanceledException; reasons in order: None, ConditionalCheckFailed, None; "
        "stored item on action 2; nothing applied",
        "transactional metric chunks settle each item from its reason and resend the rest; message + rollup "
        "transactions (`ingest`)",
        probe_cancellation_reasons,
    ),
    Probe(
        "two-actions-one-item",
        "Two actions on one item in one transaction",
        "A transaction cannot include more than one action on the same item: ValidationException.",
        f"{DOCS}/APIReference/API_TransactWriteItems.html",
        "rejected: ValidationException",
        "ingest removes duplicate keys before packing a transaction (one action per item)",
        probe_two_actions_one_item,
    ),
    Probe(
        "transaction-100-actions",
        "100 actions per transaction",
        "TransactWriteItems takes up to 100 actions; more is a ValidationException.",
        f"{DOCS}/developerguide/ServiceQuotas.html",
        "100 actions: accepted; 101 actions: rejected: ValidationException",
        "`ingest.TRANSACTION_LIMIT` = 100 metrics per transactional chunk",
        probe_transaction_100,
    ),
    Probe(
        "transaction-4mb",
        "4 MB per transaction",
        "The aggregate size of the items in a transaction cannot exceed 4 MB: ValidationException.",
        f"{DOCS}/developerguide/ServiceQuotas.html",
        "10 items (3.9 MB): accepted; 11 items (4.29 MB): rejected: ValidationException",
        "transactional chunks of ≤ 100 metrics (≤ 10 KB of metadata each) and message + rollup pairs stay far "
        "below 4 MB",
        probe_transaction_4mb,
        relied_on=False,
        handled="the library's transactions are bounded well below 4 MB by the contract's item limits, so it "
        "never depends on the engine enforcing this",
    ),
    Probe(
        "client-request-token-replay",
        "ClientRequestToken: a resent transaction",
        "A TransactWriteItems resent with the same ClientRequestToken within 10 minutes succeeds without a second "
        "effect (idempotent).",
        f"{DOCS}/APIReference/API_TransactWriteItems.html#DDB-TransactWriteItems-request-ClientRequestToken",
        "first: accepted; resend with the same token: accepted; applied once",
        "every transaction the library sends carries a new token, so a retry after a lost response is "
        "idempotent (`ingest`, message + rollup)",
        probe_token_replay,
        handled="ingest treats the outcome of a resent transaction as created or already_exists, never a "
        "conflict, and never counts twice (a rollup is only incremented with the identity items it counts): "
        "moto alone executes the resend again, which fails its conditions (already_exists); the embedded moto "
        "carries a fix (`embedded.moto_fixes`) that replays it as DynamoDB does (created)",
    ),
    Probe(
        "client-request-token-mismatch",
        "ClientRequestToken reused with other parameters",
        "A token reused within 10 minutes for a request with other parameters fails with "
        "IdempotentParameterMismatchException.",
        f"{DOCS}/APIReference/API_TransactWriteItems.html#DDB-TransactWriteItems-request-ClientRequestToken",
        "same token, other parameters: rejected: IdempotentParameterMismatchException",
        "a token is never reused for a different request (`Ingestor.new_token` per distinct transaction)",
        probe_token_mismatch,
        handled="the library never reuses a token for another request, so the check (missing in moto alone, "
        "added to the embedded moto by `embedded.moto_fixes`) cannot change a result",
    ),
    Probe(
        "item-size-limit",
        "400 KB item limit, exact boundary",
        "An item is at most 400 KB = 409,600 bytes: attribute names plus values, strings counted in UTF-8 bytes.",
        f"{DOCS}/developerguide/ServiceQuotas.html#limits-items",
        f"{ITEM_LIMIT:,} B: accepted; {ITEM_LIMIT + 1:,} B: rejected: ValidationException",
        "`models.item_size_bytes` sizes every item as DynamoDB does and the library refuses one over "
        "409,600 bytes before sending (contract §2.6)",
        probe_item_size,
        handled="the library checks the limit itself by DynamoDB's rules; an engine with a lower limit (moto: "
        "405,000 bytes) refuses items DynamoDB accepts, which the library reports as the engine's error",
    ),
    Probe(
        "partition-key-size",
        "Partition key size limit",
        "A partition key value is 1 to 2,048 bytes.",
        f"{DOCS}/developerguide/ServiceQuotas.html#limits-partition-sort-keys",
        "2,048 B: accepted; 2,049 B: rejected: ValidationException",
        "key grammar: tenant ids ≤ 64 characters, message and session ids are UUIDs, so keys stay far below the "
        "limit (`keys`)",
        probe_partition_key_size,
    ),
    Probe(
        "sort-key-size",
        "Sort key size limit",
        "A sort key value is 1 to 1,024 bytes.",
        f"{DOCS}/developerguide/ServiceQuotas.html#limits-partition-sort-keys",
        "1,024 B: accepted; 1,025 B: rejected: ValidationException",
        "sort keys are times, periods and slices of bounded length (`keys`)",
        probe_sort_key_size,
    ),
    Probe(
        "empty-strings",
        "Empty strings",
        "Key attributes cannot be empty strings (ValidationException); other string attributes may be empty.",
        f"{DOCS}/developerguide/HowItWorks.NamingRulesDataTypes.html",
        "empty sort key: rejected: ValidationException; empty non-key string: accepted",
        "the contract refuses empty key attributes before sending (contract §2.6)",
        probe_empty_strings,
    ),
    Probe(
        "batch-write-25",
        "25 requests per BatchWriteItem",
        "BatchWriteItem takes up to 25 put or delete requests; more is a ValidationException.",
        f"{DOCS}/APIReference/API_BatchWriteItem.html",
        "25 puts: accepted; 26 puts: rejected: ValidationException",
        "`Storage.batch_write` refuses more than 25 items itself; the bulk path and batch mode send ≤ 25",
        probe_batch_write_25,
        handled="the library never sends more than 25 (`Storage.batch_write` checks), so an engine accepting "
        "26 cannot change a result",
    ),
    Probe(
        "unprocessed-items",
        "UnprocessedItems",
        "Requests BatchWriteItem could not process (throughput, internal failure) come back in UnprocessedItems; "
        "the response always carries the map.",
        f"{DOCS}/APIReference/API_BatchWriteItem.html#DDB-BatchWriteItem-response-UnprocessedItems",
        "UnprocessedItems in the response (empty)",
        "bulk loads resend UnprocessedItems with backoff until done or the budget is spent (contract §4)",
        probe_unprocessed_items,
        relied_on=False,
        handled="no local engine throttles, so the tests inject UnprocessedItems with the fault proxy "
        "(`faults`, `unprocessed=`); `Storage.batch_write` reads a missing map as none left",
    ),
    Probe(
        "batch-get-100",
        "100 keys per BatchGetItem",
        "BatchGetItem takes up to 100 keys; more is a ValidationException.",
        f"{DOCS}/APIReference/API_BatchGetItem.html",
        "100 keys: accepted; 101 keys: rejected: ValidationException",
        "the existence check of batch mode reads ≤ 100 keys per request (`Storage.batch_get` checks)",
        probe_batch_get_100,
        handled="`Storage.batch_get` refuses more than 100 keys itself",
    ),
    Probe(
        "query-limit-gsi",
        "Query Limit and LastEvaluatedKey on a GSI",
        "Limit caps the items evaluated per page; LastEvaluatedKey of an index query holds the index key and "
        "the table's primary key, and ExclusiveStartKey resumes after it.",
        f"{DOCS}/APIReference/API_Query.html#DDB-Query-response-LastEvaluatedKey",
        "pages of 2, 2, 1 items, in index order; LastEvaluatedKey holds grp, pk, sk, ts",
        "paged access patterns 5, 6 and 11 and their resume tokens (`patterns`)",
        probe_query_limit_gsi,
    ),
    Probe(
        "page-1mb-cap",
        "1 MB page cap",
        "A Query reads at most 1 MB per page and then returns LastEvaluatedKey.",
        f"{DOCS}/developerguide/Query.Pagination.html",
        "first page capped near 1 MB with LastEvaluatedKey; every item over the pages",
        "every reader follows LastEvaluatedKey to the end (`patterns`, audit, export)",
        probe_page_cap,
        relied_on=False,
        handled="the library never assumes one page holds everything: it pages until LastEvaluatedKey is absent, "
        "whatever the page size",
    ),
    Probe(
        "sparse-gsi",
        "Sparse GSI",
        "An item that lacks an index's key attributes is not written to the index.",
        f"{DOCS}/developerguide/bp-indexes-general-sparse-indexes.html",
        "item without the index key absent from the index",
        "session rollups carry no `timestamp`, so they stay out of SessionIndex and SenderIndex (contract §2.2)",
        probe_sparse_gsi,
    ),
    Probe(
        "begins-with",
        "begins_with on the sort key",
        "A key condition `begins_with(sk, :prefix)` returns the items whose sort key starts with the prefix, in "
        "sort-key order.",
        f"{DOCS}/developerguide/Query.KeyConditionExpressions.html",
        "matched 2025-10, 2025-10#region:Europe, 2025-10-05",
        "pattern 10 (a metric's slices in one period) and the granularity filter of pattern 9 (`patterns`)",
        probe_begins_with,
    ),
    Probe(
        "reserved-words",
        "Reserved words in expressions",
        "A reserved word (`status`, `name`, `timestamp`, …) used bare in an expression is a ValidationException; "
        "an expression attribute name (`#s`) stands in for it.",
        f"{DOCS}/developerguide/ReservedWords.html",
        "bare `status`: rejected: ValidationException; `#s` placeholder: accepted",
        "every expression the library builds names attributes through placeholders",
        probe_reserved_words,
    ),
    Probe(
        "ttl-api",
        "TTL API",
        "UpdateTimeToLive enables expiry on an attribute; DescribeTimeToLive reports it.",
        f"{DOCS}/APIReference/API_UpdateTimeToLive.html",
        "supported",
        "optional TTL on messages tables (`provision`, `tenant add --ttl`)",
        probe_ttl,
        relied_on=False,
        handled="provisioning applies TTL where the engine has the API and lists it as unsupported on this "
        "engine otherwise",
    ),
    Probe(
        "pitr-api",
        "Point-in-time recovery API",
        "UpdateContinuousBackups turns point-in-time recovery on; DescribeContinuousBackups reports it.",
        f"{DOCS}/APIReference/API_UpdateContinuousBackups.html",
        "supported",
        "provisioning turns PITR on for every table (contract §1)",
        probe_pitr,
        relied_on=False,
        handled="provisioning lists point-in-time recovery as unsupported on this engine where the API is "
        "missing, and `salestalk tables` shows it; it never assumes it is on",
    ),
    Probe(
        "tagging-api",
        "Tagging API",
        "TagResource and ListTagsOfResource set and read a table's tags.",
        f"{DOCS}/APIReference/API_TagResource.html",
        "supported",
        "provisioning tags every table (Service, ManagedBy, Environment, Purpose, TenantId; contract §1)",
        probe_tagging,
        relied_on=False,
        handled="provisioning lists tags as unsupported on this engine where the API is missing, and "
        "`salestalk tables` shows it; it never assumes they are set",
    ),
    Probe(
        "consumed-capacity-total",
        "Consumed capacity, TOTAL",
        "ReturnConsumedCapacity=TOTAL reports the write units used: 1 per KB written, so 1 for a small item "
        "that no index holds.",
        f"{DOCS}/APIReference/API_ConsumedCapacity.html",
        "CapacityUnits 1",
        "`ingest.write_cost` (the Reliability page's costs) counts 1 WCU per started KB",
        probe_capacity_total,
        relied_on=False,
        handled="the library computes costs from item sizes by DynamoDB's rules and never reads ConsumedCapacity",
    ),
    Probe(
        "consumed-capacity-indexes",
        "Consumed capacity, INDEXES",
        "ReturnConsumedCapacity=INDEXES splits the units between the table and each index written: a small "
        "item in one GSI costs 1 for the table and 1 for the index.",
        f"{DOCS}/APIReference/API_ConsumedCapacity.html",
        "total 2; table 1; ByGroup 1",
        "`ingest.write_cost` counts index writes on top of table writes",
        probe_capacity_indexes,
        relied_on=False,
        handled="the library never reads ConsumedCapacity",
    ),
    Probe(
        "number-normalisation",
        "Number normalisation on read",
        "Numbers are stored normalised: leading and trailing zeros are trimmed, exponents expanded.",
        f"{DOCS}/developerguide/HowItWorks.NamingRulesDataTypes.html#HowItWorks.DataTypes.Number",
        "1.500 → 1.5; 007 → 7; 1E+2 → 100; 0.000 → 0; -12.50 → -12.5",
        "numbers compare equal after a round trip: duplicates settle as already_exists, not conflict "
        "(`models`, contract §7)",
        probe_number_normalisation,
        handled="the library compares numbers as values (Decimal), never as strings, so a number an engine "
        "returns un-normalised (moto: 1.500 stays 1.500) still reads back equal",
    ),
    Probe(
        "number-limits",
        "Number precision and magnitude",
        "A number has at most 38 significant digits and a magnitude from 1E-130 to "
        "9.9999999999999999999999999999999999999E+125; others are a ValidationException.",
        f"{DOCS}/developerguide/HowItWorks.NamingRulesDataTypes.html#HowItWorks.DataTypes.Number",
        "38 digits: accepted; 39 digits: rejected: ValidationException; 1E-130: accepted; 1E-131: rejected: "
        "ValidationException; 9.99…E+125: accepted; 1E+126: rejected: ValidationException",
        "validation refuses numbers DynamoDB cannot store, naming the field (contract §7)",
        probe_number_limits,
        handled="numbers are held to DynamoDB's limits before anything is sent (boto3's DynamoDB decimal "
        "context at the storage seam, and validation per contract §7), so an engine with a laxer "
        "check (moto) never decides",
    ),
    Probe(
        "wire-types",
        "AttributeValue types on the wire",
        "An AttributeValue's value has the type its key names (`S` a string, `N` a number as a string); a "
        "request with another JSON type is refused (SerializationException).",
        f"{DOCS}/APIReference/API_AttributeValue.html",
        "S given a JSON number: rejected: SerializationException",
        "the storage seam's client skips botocore's client-side checks and leaves request checks to the contract "
        "and to DynamoDB (`connection.connect`)",
        probe_wire_types,
        relied_on=False,
        handled="the seam builds every value from validated records (`storage.serialize`), so it never sends a "
        "mistyped value; an engine that coerces one cannot change a result",
    ),
    Probe(
        "create-table-status",
        "CreateTable status transition",
        "CreateTable is asynchronous: it answers CREATING, and the table becomes ACTIVE later.",
        f"{DOCS}/APIReference/API_CreateTable.html",
        "CreateTable answered CREATING; ACTIVE after waiting",
        "provisioning waits (bounded) until the table and its indexes are ACTIVE before anything is written "
        "(`Storage.wait_active`)",
        probe_create_table_status,
        relied_on=False,
        handled="provisioning always waits for ACTIVE, whether the engine answers CREATING or ACTIVE",
    ),
    Probe(
        "delete-table-status",
        "DeleteTable status transition",
        "DeleteTable answers DELETING; the table stays visible until the deletion is done.",
        f"{DOCS}/APIReference/API_DeleteTable.html",
        "DeleteTable answered DELETING; gone after waiting",
        "provisioning waits for a DELETING table to be gone before creating it again (`provision`)",
        probe_delete_table_status,
        relied_on=False,
        handled="provisioning waits (bounded) for a DELETING table to disappear instead of reading it as drift",
    ),
)
"""Every probe, in the order of the Engine parity page."""


# --- running and the ledger ----------------------------------------------------------------------


def run_probes(
    endpoint: Endpoint, *, prefix: str | None = None, probes: Sequence[Probe] = PROBES
) -> dict[str, Observation]:
    """Run `probes` against `endpoint` under a fresh table prefix; key -> Observation."""
    ctx = ProbeContext(endpoint, prefix or f"p{uuid.uuid4().hex[:8]}-")
    results: dict[str, Observation] = {}
    try:
        for probe in probes:
            try:
                results[probe.key] = probe.run(ctx)
            except (ClientError, BotoCoreError, TimeoutError, KeyError) as exc:
                results[probe.key] = Observation(f"probe failed: {type(exc).__name__}", _short(ctx.clean(str(exc))))
    finally:
        ctx.drop_all()
    return results


def matches(probe: Probe, observation: Observation) -> bool:
    return observation.outcome == probe.expected


def engine_entry(
    engine: str, version: str | None, results: Mapping[str, Observation] | None, reason: str = ""
) -> dict[str, Any]:
    """One engine's part of the ledger (results None: the engine was unavailable, `reason` says why)."""
    return {
        "engine": engine,
        "version": version,
        "available": results is not None,
        "reason": reason,
        "results": {k: asdict(v) for k, v in (results or {}).items()},
    }


def build_ledger(engines: Iterable[Mapping[str, Any]], probes: Sequence[Probe] = PROBES) -> dict[str, Any]:
    """The ledger: the probes (what DynamoDB documents, who relies on it) and each engine's results."""
    return {
        "format": LEDGER_FORMAT,
        "generated_by": "python -m devtools.parity",
        "probes": [
            {
                "key": p.key,
                "behaviour": p.behaviour,
                "documented": p.documented,
                "reference": p.reference,
                "expected": p.expected,
                "library": p.library,
                "relied_on": p.relied_on,
                "handled": p.handled,
            }
            for p in probes
        ],
        "engines": list(engines),
    }


def probe_engine(engine: str) -> dict[str, Any]:
    """Start `engine`, run every probe, stop it; its ledger entry (unavailable, with the reason, if it won't start)."""
    try:
        endpoint = start_embedded(engine=engine)
    except EngineUnavailable as exc:
        return engine_entry(engine, None, None, str(exc).splitlines()[0])
    with endpoint:
        return engine_entry(engine, endpoint._server.version, run_probes(endpoint))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.parity", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_LEDGER, help="ledger file (default: %(default)s)")
    parser.add_argument(
        "--engine",
        action="append",
        choices=ENGINES,
        dest="engines",
        help="probe only this engine (repeatable; default: every engine)",
    )
    args = parser.parse_args(argv)
    entries = []
    for engine in args.engines or ENGINES:
        started = time.monotonic()
        entry = probe_engine(engine)
        if entry["available"]:
            deviations = sum(1 for p in PROBES if entry["results"][p.key]["outcome"] != p.expected)
            print(
                f"parity: {engine} {entry['version']}: {len(PROBES)} probes, {deviations} differ from DynamoDB's "
                f"documented behaviour ({time.monotonic() - started:.0f} s)"
            )
        else:
            print(f"parity: {engine} unavailable: {entry['reason']}")
        entries.append(entry)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(build_ledger(entries), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"parity: ledger written to {args.out}")
    return 0


# --- the page --------------------------------------------------------------------------------------


def load_ledger(path: Path | None) -> dict[str, Any] | None:
    if path is None or not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def parity_page(inputs: Any) -> str:
    """The Engine parity page, rendered from the ledger (`Inputs.parity_ledger`); nothing typed by hand."""
    ledger = load_ledger(getattr(inputs, "parity_ledger", None))
    out = ["# Engine parity", ""]
    if ledger is None:
        return "\n".join(
            out
            + [
                "No parity ledger was generated for this build: `make docs` runs the probes",
                "(`python -m devtools.parity`) on every installed engine and publishes the",
                "result here.",
                "",
            ]
        )
    engines = ledger["engines"]
    available = [e for e in engines if e["available"]]
    out += [
        "Which DynamoDB behaviours the embedded engines reproduce, measured, not asserted: `make docs` runs one",
        "small probe per behaviour the data model relies on (`devtools.parity.PROBES`) on each installed",
        "engine and this page is rendered from the resulting ledger. `tests/test_parity.py` runs the same probes",
        "in `make test` and fails when DynamoDB Local stops doing what DynamoDB documents for a behaviour the",
        "library relies on, or when an engine differs where the library has no answer for the difference.",
        "",
        "## Engines",
        "",
        "| engine | version | probes as documented |",
        "|---|---|---:|",
    ]
    probes = ledger["probes"]
    for e in engines:
        if e["available"]:
            same = sum(1 for p in probes if e["results"].get(p["key"], {}).get("outcome") == p["expected"])
            out.append(f"| `{e['engine']}` | {_cell(e['version'])} | {same} of {len(probes)} |")
        else:
            out.append(f"| `{e['engine']}` | not available here: {_cell(e['reason'])} | – |")
    out += [""]
    if any(e["engine"] == "dynamodb-local" for e in engines):
        out += [
            "DynamoDB Local is Amazon's own engine (a Java program, installed by `make dynamodb-local`",
            "under Amazon's DynamoDB Local licence); it listens on every network interface, so the library",
            "runs it in memory and only for as long as it is needed. moto is a Python emulator.",
            "",
        ]
    out += ["## Differences", ""]
    rows = []
    for p in probes:
        differ = [e for e in available if e["results"].get(p["key"], {}).get("outcome") != p["expected"]]
        if differ:
            rows.append((p, differ))
    if not available:
        out += ["No engine could run the probes on this machine.", ""]
    elif not rows:
        out += ["Every engine behaved as DynamoDB documents in every probe.", ""]
    else:
        out += ["| behaviour | engine | what it did instead | how the library copes |", "|---|---|---|---|"]
        for p, differ in rows:
            for e in differ:
                got = e["results"][p["key"]]
                copes = p["handled"] or "**nothing yet: the library relies on the documented behaviour**"
                out.append(f"| {_cell(p['behaviour'])} | `{e['engine']}` | {_cell(got['outcome'])} | {_cell(copes)} |")
        out += [""]
    out += ["## Every probe", ""]
    header = (
        ["behaviour", "DynamoDB documents", "expected outcome"]
        + [f"`{e['engine']}`" for e in available]
        + ["library feature that depends on it"]
    )
    out += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for p in probes:
        cells = [
            f"{_cell(p['behaviour'])}{'' if p['relied_on'] else ' (informational)'}",
            f"{_cell(p['documented'])} [source]({p['reference']})",
            _cell(p["expected"]),
        ]
        for e in available:
            got = e["results"].get(p["key"], {"outcome": "not probed", "detail": ""})
            mark = "✓" if got["outcome"] == p["expected"] else "✗"
            detail = f" ({_cell(got['detail'])})" if got.get("detail") else ""
            cells.append(f"{mark} {_cell(got['outcome'])}{detail}")
        cells.append(_cell(p["library"]))
        out.append("| " + " | ".join(cells) + " |")
    out += [
        "",
        "✓ the engine did what DynamoDB documents; ✗ it did something else (see *Differences*).",
        "*Informational* rows are behaviours the library does not depend on (it checks, waits or pages for",
        "itself); every other row is checked on DynamoDB Local by `tests/test_parity.py`.",
        "",
    ]
    return "\n".join(out).rstrip("\n") + "\n"


if __name__ == "__main__":
    sys.exit(main())
