"""Fixes for two faults of moto's DynamoDB server that break DynamoDB's own guarantees.

DynamoDB applies each request atomically; moto (5.x) does not, and its
TransactWriteItems is quadratic. Both matter for ingestion, whose correctness
rests on conditional writes and transactions:

1. **No request isolation.** The threaded server runs requests concurrently
   against an unlocked backend, so two `attribute_not_exists(pk)` puts of the
   same key can both "succeed", and a conditional update can be lost.
   `serialize_requests` wraps the server's WSGI app in a lock: one request at a
   time, which is exactly the per-request atomicity DynamoDB promises.
2. **Whole-table snapshots in TransactWriteItems.** moto deep-copies every
   touched *table* before each transaction to be able to roll back (0.5 ms per
   stored item: 800 ms per transaction at 1,500 items), and a rollback puts the
   stale copy back, erasing writes that other requests made meanwhile.
   `transact_write_items` below snapshots only the items the transaction
   touches and restores only those. Behaviour and error responses are moto's own.

3. **Quadratic item construction.** moto re-sums the size of every attribute
   each time it adds one while building an item (O(attributes²) per write,
   most of a BatchWriteItem's cost). `_item_init` builds the same item and
   applies the same 400 KB check once, on the total.

`apply(server)` installs all three; `salestalk_lib.endpoint.start_embedded` calls it.
"""

from __future__ import annotations

import copy
import threading
from typing import Any, Callable, Iterable

_PATCHED = False
_PATCH_LOCK = threading.Lock()


def serialize_requests(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """A WSGI app that runs `app` one request at a time (body fully produced inside the lock)."""
    lock = threading.Lock()

    def locked(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with lock:
            result = app(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()

    return locked


def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """moto's TransactWriteItems with per-item snapshots instead of whole-table deep copies."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    snapshots: list[tuple[Any, Any, Any, Any]] = []  # (table, hash, range, item before or None)
    target_items: set[tuple[str, str]] = set()
    errors: list[tuple[Any, Any, Any]] = []

    def restore() -> None:
        for table, hash_key, range_key, before in reversed(snapshots):
            if before is None:
                table.delete_item(hash_key, range_key)
            elif table.has_range_key:
                table.items[hash_key][range_key] = before
            else:
                table.items[hash_key] = before

    for item in transact_items:
        original_item = None
        if len(list(item.keys())) > 1:
            raise TransactWriteSingleOpException
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            condition_expression = op.get("ConditionExpression")
            names = op.get("ExpressionAttributeNames")
            values = op.get("ExpressionAttributeValues")
            table = self.get_table(table_name)
            if op_type == "Put":
                attrs = op["Item"]
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            marker = (str(table_name), str(dict(sorted(key.items()))))
            if marker in target_items:
                raise MultipleTransactionsException()
            target_items.add(marker)

            hash_key, range_key = self.get_keys_value(table, key)
            current = table.get_item(hash_key, range_key)
            if condition_expression is not None:
                condition_op = get_filter_expression(condition_expression, names, values)
                if not condition_op.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)
            if op_type != "ConditionCheck":
                snapshots.append((table, hash_key, range_key, copy.deepcopy(current)))
            # The condition was checked above, under the request lock: do not parse it twice.
            if op_type == "Put":
                self.put_item(table_name, op["Item"])
            elif op_type == "Delete":
                self.delete_item(table_name, key)
            elif op_type == "Update":
                self.update_item(table_name, key, update_expression=op["UpdateExpression"],
                                 expression_attribute_names=names, expression_attribute_values=values)
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            restore()
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))
        except Exception as e:  # noqa: BLE001 - moto reports any other failure as a cancellation reason
            errors.append((type(e).__name__, str(e), original_item))

    if any(code is not None for code, _, _ in errors):
        restore()
        raise TransactionCanceledException(errors)


def _item_init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
    """moto's Item.__init__ with its size limit checked once on the total, not once per attribute."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    self.hash_key = hash_key
    self.range_key = range_key
    converted = {key: DynamoType(value) for key, value in attrs.items()}
    if sum(bytesize(key) + value.size() for key, value in converted.items()) > 405000:  # moto's own limit
        raise ItemSizeTooLarge
    self.attrs = LimitedSizeDict.__new__(LimitedSizeDict)
    dict.update(self.attrs, converted)


def patch_backend() -> None:
    """Install the per-item-snapshot TransactWriteItems and the linear Item constructor (once)."""
    global _PATCHED
    with _PATCH_LOCK:
        if _PATCHED:
            return
        from moto.dynamodb.models import DynamoDBBackend
        from moto.dynamodb.models.dynamo_type import Item

        DynamoDBBackend.transact_write_items = transact_write_items
        Item.__init__ = _item_init
        _PATCHED = True


def apply(server: Any) -> None:
    """Make a started `ThreadedMotoServer` atomic per request and its transactions O(items touched)."""
    patch_backend()
    wsgi = server._server  # werkzeug's server: the app it calls for every request
    wsgi.app = serialize_requests(wsgi.app)
