"""The storage seam: the one module that calls DynamoDB and translates its errors.

Items cross this seam as plain Python dicts (str, Decimal, bool, list, dict,
set); the seam serialises them to DynamoDB's typed form and back, so numbers
stay `Decimal` end to end. Every botocore/ClientError is turned into a
`salestalk_lib.contract.errors.StorageError` subclass here, `raise ... from exc`, and
nowhere else. Each method is one request: retries belong to `salestalk_lib.dynamo.retry`.

Every request goes through one path, `Storage._call`, which first asks the
storage's request policies (`RequestPolicy`) whether it may be sent. A plain
`Storage` has none: it is the platform's, unscoped handle (provisioning,
onboarding, the seed loader). `Storage.restricted(policy)` returns a Storage on
the same connection whose every request must also pass `policy`; a tenant's scope
is exactly that, with `scope.TenantPolicy`. The boto3 client is held privately
and no public attribute or method of a restricted Storage hands out the client or
an unrestricted Storage. This guards against programming mistakes; it is not a
security boundary (any code in the process can build its own client). IAM is
what enforces isolation on AWS (`salestalk_lib.iam.policies`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

from boto3.dynamodb.types import DYNAMODB_CONTEXT, TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, ReadTimeoutError
from botocore.exceptions import ConnectionError as BotoConnectionError

from salestalk_lib.contract.errors import (
    CancellationReason,
    ConditionFailed,
    ProvisioningError,
    RequestRejected,
    StorageError,
    TableNotFound,
    Throttled,
    TransactionConflict,
    TransientError,
)
from salestalk_lib.contract.models import normalised_number

_SER = TypeSerializer()
_DESER = TypeDeserializer()

THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "TooManyRequestsException",
    }
)
TRANSIENT_CODES = frozenset(
    {"InternalServerError", "ServiceUnavailable", "InternalFailure", "ServiceUnavailableException"}
)

# A hook sees every request the seam sends: (operation name, request parameters).
RequestHook = Callable[[str, Mapping[str, Any]], None]


class RequestPolicy(Protocol):
    """Decides whether a request may be sent; raises (e.g. `IsolationViolation`) to refuse it.

    `check` gets the operation name and the request parameters exactly as they
    would be sent (DynamoDB's typed form), before the request leaves the process.
    """

    def check(self, operation: str, params: Mapping[str, Any]) -> None: ...


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    """Python item -> DynamoDB AttributeValue map (floats are refused by boto3: use Decimal)."""
    return {k: serialize_value(v) for k, v in item.items()}


def serialize_value(value: Any) -> dict[str, Any]:
    """boto3's `TypeSerializer().serialize(value)`, with direct paths for the exact types items hold.

    str, Decimal, int, bool, None, dict and list are turned into their
    AttributeValue here, with boto3's own number context (so too-precise numbers,
    NaN and infinities fail exactly as in boto3); anything else (sets, bytes,
    Binary, tuples, other mappings, floats) goes to boto3's TypeSerializer.
    `tests/test_storage_serialize.py` compares the two on random values.
    """
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is Decimal or kind is int:
        number = str(DYNAMODB_CONTEXT.create_decimal(value))
        if number in ("Infinity", "NaN"):
            raise TypeError("Infinity and NaN not supported")
        return {"N": number}
    if kind is dict:
        return {"M": {k: serialize_value(v) for k, v in value.items()}}
    if kind is list:
        return {"L": [serialize_value(v) for v in value]}
    if kind is bool:
        return {"BOOL": value}
    if value is None:
        return {"NULL": True}
    # boto3-stubs type the AttributeValue as a TypedDict; this module handles it as a plain dict
    return _SER.serialize(value)  # type: ignore[return-value]


def deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    """DynamoDB AttributeValue map -> Python item with Decimal numbers."""
    return {k: deserialize_value(v) for k, v in item.items()}


def deserialize_value(value: Mapping[str, Any]) -> Any:
    """boto3's `TypeDeserializer().deserialize(value)`, except that numbers are read exactly as sent.

    DynamoDB answers with a number's plain digits (1E+50 comes back as 1 and fifty zeros),
    which boto3's number context refuses past 38 digits (`decimal.Rounded`, boto3 issue #2500),
    so a number the contract stored could not be read back. `Decimal(text)` is exact and needs
    no context (DynamoDB only returns numbers it accepted); a long text is brought to the
    contract's normal form (`models.normalised_number`), so the value can be written again.
    """
    ((tag, inner),) = value.items()
    if tag == "S" or tag == "BOOL":
        return inner
    if tag == "N":
        return _number(inner)
    if tag == "M":
        return {k: deserialize_value(v) for k, v in inner.items()}
    if tag == "L":
        return [deserialize_value(v) for v in inner]
    if tag == "NS":
        return {_number(n) for n in inner}
    return _DESER.deserialize(value)  # type: ignore[arg-type]  # a plain-dict AttributeValue, see serialize_value


def _number(text: str) -> Decimal:
    number = Decimal(text)
    return normalised_number(number) if len(text) > DYNAMODB_CONTEXT.prec else number


def translate(exc: BaseException, *, operation: str, table: str = "") -> StorageError:
    """Map a botocore exception to the library's error tree (not raised: returned)."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "")
        message = error.get("Message", "") or str(exc)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        kw: dict[str, Any] = dict(code=code, operation=operation, table=table)
        text = f"{operation} on {table or '-'} failed: {code}: {message}"
        if code == "ConditionalCheckFailedException":
            old = exc.response.get("Item")
            return ConditionFailed(text, item=deserialize(old) if isinstance(old, Mapping) and old else None, **kw)
        if code == "TransactionCanceledException":
            return _translate_cancellation(exc, text, kw)
        if code in THROTTLING_CODES:
            return Throttled(text, **kw)
        if code == "TransactionConflictException":
            return TransactionConflict(text, **kw)
        if code == "ResourceNotFoundException":
            return TableNotFound(text, **kw)
        if code in TRANSIENT_CODES or status >= 500:
            return TransientError(text, **kw)
        return RequestRejected(text, **kw)
    if isinstance(exc, (BotoConnectionError, ReadTimeoutError, HTTPClientError)):
        return TransientError(
            f"{operation} on {table or '-'}: {type(exc).__name__}: {exc}",
            code=type(exc).__name__,
            operation=operation,
            table=table,
        )
    if isinstance(exc, BotoCoreError):
        return RequestRejected(
            f"{operation} on {table or '-'}: {exc}", code=type(exc).__name__, operation=operation, table=table
        )
    return StorageError(f"{operation} on {table or '-'}: {exc}", operation=operation, table=table)


def _translate_cancellation(exc: ClientError, text: str, kw: dict[str, Any]) -> StorageError:
    reasons = exc.response.get("CancellationReasons") or []
    codes = [r.get("Code", "None") for r in reasons]
    detail = f"{text} (reasons: {', '.join(codes) or 'none given'})"
    if "ConditionalCheckFailed" in codes:
        # One reason per action, in the request's order: the caller settles each action by its own.
        parsed = tuple(
            CancellationReason(r.get("Code", "None"), deserialize(r["Item"]) if r.get("Item") else None)
            for r in reasons
        )
        first = next(r for r in parsed if r.condition_failed)
        return ConditionFailed(detail, item=first.item, reasons=parsed, **{**kw, "code": "ConditionalCheckFailed"})
    if "TransactionConflict" in codes:
        return TransactionConflict(detail, **{**kw, "code": "TransactionConflict"})
    if any(c in ("ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded") for c in codes):
        return Throttled(detail, **{**kw, "code": "ThrottlingError"})
    return RequestRejected(detail, **kw)


class Storage:
    """Single-request DynamoDB operations over an injected boto3 client, checked by its request policies.

    `hooks` see every request that passes the policies, just before it is sent
    (tests and fault injection use them); a refused request reaches no hook.
    """

    def __init__(self, client: Any, *, hooks: Sequence[RequestHook] = (), policy: RequestPolicy | None = None):
        self._client = client
        self._policies: tuple[RequestPolicy, ...] = () if policy is None else (policy,)
        self.hooks: list[RequestHook] = list(hooks)

    def restricted(self, policy: RequestPolicy | None = None, *, hooks: Sequence[RequestHook] | None = None) -> Storage:
        """This storage's connection, with `policy` checked on every request besides its own policies.

        Policies only accumulate: nothing derived from a restricted Storage can do more
        than it. The hooks are copied (or replaced by `hooks`).
        """
        narrowed = Storage(self._client, hooks=self.hooks if hooks is None else hooks)
        narrowed._policies = self._policies + (() if policy is None else (policy,))
        return narrowed

    @property
    def restricted_by(self) -> tuple[RequestPolicy, ...]:
        """The policies every request of this storage must pass (empty: the unscoped, platform storage)."""
        return self._policies

    def _call(self, operation: str, table: str = "", **params: Any) -> dict[str, Any]:
        self._check(operation, params)
        if self.hooks:
            for hook in self.hooks:
                hook(operation, params)
            self._check(operation, params)  # a hook may have changed the request: send only what passed
        method = getattr(self._client, _snake(operation))
        try:
            response: dict[str, Any] = method(**params)
            return response
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, operation=operation, table=table) from exc

    def _check(self, operation: str, params: Mapping[str, Any]) -> None:
        for policy in self._policies:
            policy.check(operation, params)

    # --- tables ---------------------------------------------------------------

    def describe_table(self, name: str) -> dict[str, Any] | None:
        """DescribeTable's `Table`, or None if there is no such table."""
        try:
            table: dict[str, Any] = self._call("DescribeTable", name, TableName=name)["Table"]
            return table
        except TableNotFound:
            return None

    def create_table(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Send a CreateTable request built by `tables.create_table_request`."""
        description: dict[str, Any] = self._call("CreateTable", request["TableName"], **request)["TableDescription"]
        return description

    def wait_active(
        self, name: str, *, timeout: float = 120.0, poll: float = 0.2, sleep: Callable[[float], None] = time.sleep
    ) -> dict[str, Any]:
        """Poll until the table and all its GSIs are ACTIVE; ProvisioningError after `timeout`."""
        waited = 0.0
        while True:
            desc = self.describe_table(name)
            if desc is None:
                raise ProvisioningError(f"table {name!r} disappeared while waiting for ACTIVE")
            gsis = desc.get("GlobalSecondaryIndexes") or []
            if desc.get("TableStatus") == "ACTIVE" and all(g.get("IndexStatus", "ACTIVE") == "ACTIVE" for g in gsis):
                return desc
            if waited >= timeout:
                raise ProvisioningError(
                    f"table {name!r} not ACTIVE after {timeout:.0f}s (status {desc.get('TableStatus')})"
                )
            sleep(poll)
            waited += poll

    def wait_deleted(
        self, name: str, *, timeout: float = 120.0, poll: float = 0.2, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        """Poll until the table no longer exists (a DELETING table takes a while); ProvisioningError after `timeout`."""
        waited = 0.0
        while True:
            desc = self.describe_table(name)
            if desc is None:
                return
            if waited >= timeout:
                raise ProvisioningError(
                    f"table {name!r} is still being deleted after {timeout:.0f}s "
                    f"(status {desc.get('TableStatus')}); try again once it is gone"
                )
            sleep(poll)
            waited += poll

    def delete_table(self, name: str) -> None:
        self._call("DeleteTable", name, TableName=name)

    def list_tables(self, prefix: str = "") -> list[str]:
        """Every table name on the endpoint starting with `prefix` (all pages)."""
        names: list[str] = []
        params: dict[str, Any] = {}
        while True:
            page = self._call("ListTables", **params)
            names.extend(n for n in page.get("TableNames", []) if n.startswith(prefix))
            if "LastEvaluatedTableName" not in page:
                return sorted(names)
            params["ExclusiveStartTableName"] = page["LastEvaluatedTableName"]

    def tag(self, arn: str, tags: Mapping[str, str], *, table: str = "") -> None:
        self._call(
            "TagResource", table, ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())]
        )

    def tags(self, arn: str, *, table: str = "") -> dict[str, str]:
        out: dict[str, str] = {}
        params: dict[str, Any] = {"ResourceArn": arn}
        while True:
            page = self._call("ListTagsOfResource", table, **params)
            out.update({t["Key"]: t["Value"] for t in page.get("Tags", [])})
            if not page.get("NextToken"):
                return out
            params["NextToken"] = page["NextToken"]

    def pitr_enabled(self, name: str) -> bool:
        desc = self._call("DescribeContinuousBackups", name, TableName=name)["ContinuousBackupsDescription"]
        return bool(desc.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus") == "ENABLED")

    def enable_pitr(self, name: str) -> None:
        self._call(
            "UpdateContinuousBackups",
            name,
            TableName=name,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )

    def ttl_status(self, name: str) -> tuple[str, str | None]:
        """(TimeToLiveStatus, attribute name) of a table."""
        desc = self._call("DescribeTimeToLive", name, TableName=name)["TimeToLiveDescription"]
        return desc.get("TimeToLiveStatus", "DISABLED"), desc.get("AttributeName")

    def set_ttl(self, name: str, attribute: str, enabled: bool) -> None:
        self._call(
            "UpdateTimeToLive",
            name,
            TableName=name,
            TimeToLiveSpecification={"Enabled": enabled, "AttributeName": attribute},
        )

    # --- items ----------------------------------------------------------------

    def get_item(self, table: str, key: Mapping[str, Any], *, consistent: bool = True) -> dict[str, Any] | None:
        """The item with `key`, or None."""
        resp = self._call("GetItem", table, **get_item_request(table, key, consistent=consistent))
        return deserialize(resp["Item"]) if "Item" in resp else None

    def put_item(
        self,
        table: str,
        item: Mapping[str, Any],
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> None:
        """PutItem; with `condition`, a failed check raises ConditionFailed carrying the stored item."""
        params: dict[str, Any] = {"TableName": table, "Item": serialize(item)}
        _add_condition(params, condition, names, values)
        self._call("PutItem", table, **params)

    def update_item(
        self,
        table: str,
        key: Mapping[str, Any],
        *,
        update: str,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """UpdateItem returning the new item; a failed condition raises ConditionFailed."""
        params: dict[str, Any] = {
            "TableName": table,
            "Key": serialize(key),
            "UpdateExpression": update,
            "ReturnValues": "ALL_NEW",
        }
        _add_condition(params, condition, names, values)
        return deserialize(self._call("UpdateItem", table, **params).get("Attributes", {}))

    def delete_item(
        self,
        table: str,
        key: Mapping[str, Any],
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> None:
        """DeleteItem; with `condition`, a failed check raises ConditionFailed carrying the stored item."""
        params: dict[str, Any] = {"TableName": table, "Key": serialize(key)}
        _add_condition(params, condition, names, values)
        self._call("DeleteItem", table, **params)

    def query(
        self,
        table: str,
        *,
        key_condition: str,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
        index: str | None = None,
        limit: int | None = None,
        start_key: Mapping[str, Any] | None = None,
        forward: bool = True,
        consistent: bool = False,
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One Query page: (items, LastEvaluatedKey or None)."""
        params = query_request(
            table,
            key_condition=key_condition,
            names=names,
            values=values,
            index=index,
            limit=limit,
            start_key=start_key,
            forward=forward,
            consistent=consistent,
        )
        return _page(self._call("Query", table, **params))

    def scan(
        self,
        table: str,
        *,
        limit: int | None = None,
        start_key: Mapping[str, Any] | None = None,
        consistent: bool = False,
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One Scan page: (items, LastEvaluatedKey or None). For whole-table readers, never access patterns.

        The access patterns (contract §3) are GetItem or Query, never Scan. Two readers
        must see every item of a tenant's table, including items whose keys break the
        grammar, and no Query can find an item without knowing its key: the audit
        (`salestalk audit`, through `TenantScope.audit_storage`) and the export before
        offboarding (`tenants.Tenants.export_table`).
        """
        params: dict[str, Any] = {"TableName": table}
        if consistent:
            params["ConsistentRead"] = True
        if limit:
            params["Limit"] = limit
        if start_key:
            params["ExclusiveStartKey"] = serialize(start_key)
        return _page(self._call("Scan", table, **params))

    def transact_write(self, actions: Sequence[Mapping[str, Any]], *, token: str | None = None) -> None:
        """TransactWriteItems; `actions` use Python values (serialised here).

        Each action is `{"Put"|"Update"|"ConditionCheck"|"Delete": {...}}` with
        `Item`/`Key`/`ExpressionAttributeValues` as plain Python dicts. `token`
        is the ClientRequestToken that makes a resent transaction idempotent.
        """
        items = [_serialize_action(a) for a in actions]
        params: dict[str, Any] = {"TransactItems": items}
        if token:
            params["ClientRequestToken"] = token
        tables = sorted({next(iter(a.values()))["TableName"] for a in actions})
        self._call("TransactWriteItems", ",".join(tables), **params)

    def batch_write(self, table: str, items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """One BatchWriteItem of puts (≤ 25); returns the items DynamoDB left unprocessed."""
        requests = [{"PutRequest": {"Item": serialize(i)}} for i in items]
        if not 1 <= len(requests) <= 25:
            raise ValueError(f"BatchWriteItem takes 1-25 requests, got {len(requests)}")
        resp = self._call("BatchWriteItem", table, RequestItems={table: requests})
        left = resp.get("UnprocessedItems", {}).get(table, [])
        return [deserialize(r["PutRequest"]["Item"]) for r in left]

    def batch_get(
        self, table: str, keys_: Sequence[Mapping[str, Any]], *, consistent: bool = True
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """One BatchGetItem (≤ 100 keys): (items found, keys left unprocessed)."""
        if not 1 <= len(keys_) <= 100:
            raise ValueError(f"BatchGetItem takes 1-100 keys, got {len(keys_)}")
        resp = self._call(
            "BatchGetItem",
            table,
            RequestItems={table: {"Keys": [serialize(k) for k in keys_], "ConsistentRead": consistent}},
        )
        found = [deserialize(i) for i in resp.get("Responses", {}).get(table, [])]
        left = [deserialize(k) for k in resp.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])]
        return found, left


def get_item_request(table: str, key: Mapping[str, Any], *, consistent: bool = True) -> dict[str, Any]:
    """The exact GetItem request parameters the seam would send (used by `--explain`)."""
    return {"TableName": table, "Key": serialize(key), "ConsistentRead": consistent}


def query_request(
    table: str,
    *,
    key_condition: str,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
    index: str | None = None,
    limit: int | None = None,
    start_key: Mapping[str, Any] | None = None,
    forward: bool = True,
    consistent: bool = False,
) -> dict[str, Any]:
    """The exact Query request parameters the seam would send (used by `--explain`)."""
    params: dict[str, Any] = {"TableName": table, "KeyConditionExpression": key_condition, "ScanIndexForward": forward}
    if index:
        params["IndexName"] = index
    elif consistent:
        params["ConsistentRead"] = True
    if names:
        params["ExpressionAttributeNames"] = dict(names)
    if values:
        params["ExpressionAttributeValues"] = serialize(values)
    if limit:
        params["Limit"] = limit
    if start_key:
        params["ExclusiveStartKey"] = serialize(start_key)
    return params


def _page(resp: Mapping[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A Query or Scan response as (items, LastEvaluatedKey or None), deserialised."""
    last = resp.get("LastEvaluatedKey")
    return [deserialize(i) for i in resp.get("Items", [])], (deserialize(last) if last else None)


def _add_condition(
    params: dict[str, Any], condition: str | None, names: Mapping[str, str] | None, values: Mapping[str, Any] | None
) -> None:
    """The condition and its placeholders; a failed check returns the stored item (for ConditionFailed)."""
    if condition:
        params["ConditionExpression"] = condition
        params["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    if names:
        params["ExpressionAttributeNames"] = dict(names)
    if values:
        params["ExpressionAttributeValues"] = serialize(values)


def _serialize_action(action: Mapping[str, Any]) -> dict[str, Any]:
    ((kind, body),) = action.items()
    out = dict(body)
    for field in ("Item", "Key", "ExpressionAttributeValues"):
        if field in out:
            out[field] = serialize(out[field])
    if kind != "ConditionCheck" and "ConditionExpression" in out:
        out.setdefault("ReturnValuesOnConditionCheckFailure", "ALL_OLD")
    return {kind: out}


def _snake(operation: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_")
