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
   applies the same 400 KB check once, on the total, sized on the wire form
   (`attribute_size`, equal to moto's `DynamoType.size()`), as are the key size
   limits (`_validate_key_sizes`).
4. **Request parsing re-walks the botocore shapes per node.** moto turns every
   JSON body into parameters by dispatching on each shape's type name for every
   value (a 25-item BatchWriteItem is ~900 dispatches), on a service model it
   rebuilds per request. `parse_parameters` compiles one converter per
   operation, once, with moto's own rules (members by serialisation name, nulls
   dropped, blobs base64-decoded, timestamps and numbers converted) and gives
   the same result; `tests/test_moto_fixes.py` compares it with moto's parser.

5. **moto reads the user's AWS configuration.** To list regions it builds a plain
   `boto3.Session()`, which reads `AWS_PROFILE` and the config files: an unknown
   profile failed every request of the embedded server with a 500.
   `isolate_from_aws_config(make_session)` gives it a session that reads nothing
   (`endpoint.local_session`).

`apply(server)` installs 1-4; `salestalk_lib.endpoint.start_embedded` calls it and 5.
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


def attribute_size(value: Any) -> int:
    """`DynamoType(value).size()` computed on the wire form, without building DynamoType objects."""
    if type(value) is not dict or not value:
        from moto.dynamodb.models.dynamo_type import DynamoType

        return DynamoType(value).size()
    kind, inner = next(iter(value.items()))  # DynamoType reads the first key, as here
    if kind == "S" and type(inner) is str:
        return len(inner) if inner.isascii() else len(inner.encode("utf-8"))
    if kind == "N":
        return len(str(inner))
    if kind == "M" and type(inner) is dict:
        return sum((len(k) if k.isascii() else len(k.encode("utf-8"))) + attribute_size(v) for k, v in inner.items())
    if kind == "L" and type(inner) is list:
        return sum(attribute_size(v) for v in inner)
    if kind in ("SS", "NS", "BS") and type(inner) is list:
        return sum(attribute_size({kind[0]: v}) for v in inner)
    if isinstance(inner, bool):
        return 1
    if isinstance(inner, (str, bytes)):
        return len(inner if isinstance(inner, bytes) else inner.encode("utf-8"))
    from moto.dynamodb.models.dynamo_type import DynamoType

    return DynamoType(value).size()


def _item_init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
    """moto's Item.__init__ with its size limit checked once on the total, not once per attribute."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    self.hash_key = hash_key
    self.range_key = range_key
    if sum(bytesize(key) + attribute_size(value) for key, value in attrs.items()) > 405000:  # moto's own limit
        raise ItemSizeTooLarge
    self.attrs = LimitedSizeDict.__new__(LimitedSizeDict)
    dict.update(self.attrs, {key: DynamoType(value) for key, value in attrs.items()})


def _validate_key_sizes(self: Any, item_attrs: dict[str, Any]) -> None:
    """moto's Table._validate_key_sizes, sizing each key value with `attribute_size`."""
    from moto.dynamodb.exceptions import HashKeyTooLong, RangeKeyTooLong
    from moto.dynamodb.limits import HASH_KEY_MAX_LENGTH, RANGE_KEY_MAX_LENGTH

    for hash_name in self.hash_key_names:
        hash_value = item_attrs.get(hash_name)
        if hash_value and attribute_size(hash_value) > HASH_KEY_MAX_LENGTH:
            raise HashKeyTooLong
    for range_name in self.range_key_names:
        range_value = item_attrs.get(range_name)
        if range_value and attribute_size(range_value) > RANGE_KEY_MAX_LENGTH:
            raise RangeKeyTooLong


_UNDEFINED = object()


def _identity(value: Any) -> Any:
    return value


def _compile(shape: Any, compiled: dict[str, Callable[[Any], Any]], parser: Any) -> Callable[[Any], Any]:
    """A converter doing what moto's `BaseJSONParser._parse_shape(shape, value)` does, without per-node dispatch."""
    from moto.core.parse import UNDEFINED

    name = shape.name
    if name in compiled:
        return compiled[name]
    kind = shape.type_name
    if kind == "structure":
        if shape.is_document_type:
            return _identity
        map_type = parser.MAP_TYPE
        members: list[tuple[str, str, Callable[[Any], Any]]] = []

        by_json_name: dict[str, tuple[str, Callable[[Any], Any]]] = {}

        def structure(value: Any) -> Any:
            if value is None:
                return None
            out = map_type()
            if len(value) == 1:  # e.g. an AttributeValue: look its one key up instead of trying every member
                for json_name, raw in value.items():
                    found = by_json_name.get(json_name)
                    if found is not None and raw is not None:
                        out[found[0]] = found[1](raw)
                return out
            get = value.get
            for member, json_name, convert in members:
                raw = get(json_name)
                if raw is not None:
                    out[member] = convert(raw)
            return out

        compiled[name] = structure  # before the members: shapes are recursive (AttributeValue.M)
        for member, member_shape in shape.members.items():
            json_name = member_shape.serialization.get("name", member)
            members.append((member, json_name, _compile(member_shape, compiled, parser)))
            by_json_name[json_name] = (member, members[-1][2])
        return structure
    if kind == "list":
        convert_member = _compile(shape.member, compiled, parser)
        if convert_member is _identity:
            return list
        return lambda node: [convert_member(item) for item in node]
    if kind == "map":
        convert_key = _compile(shape.key, compiled, parser)
        convert_value = _compile(shape.value, compiled, parser)
        map_type = parser.MAP_TYPE

        def mapping(value: Any) -> Any:
            out = map_type()
            for key, val in value.items():
                out[convert_key(key)] = convert_value(val)
            return out

        compiled[name] = mapping
        return mapping
    if kind == "blob":
        return parser._blob_parser
    if kind == "timestamp":
        return parser._timestamp_parser
    if kind in ("float", "double"):
        return lambda value: value if value is UNDEFINED else float(value)
    if kind in ("integer", "long", "short", "byte"):
        return lambda value: value if value is UNDEFINED else int(value)
    return _identity


_OPERATION_PARSERS: dict[str, tuple[Any, Callable[[Any], Any]]] = {}


def operation_parser(action: str) -> tuple[Any, Callable[[Any], Any]]:
    """(moto's JSON parser for `action`, the compiled converter of its input shape), built once per operation."""
    found = _OPERATION_PARSERS.get(action)
    if found is None:
        from moto.core.parse import JSONParser
        from moto.core.utils import get_service_model

        operation = get_service_model("dynamodb").operation_model(action)
        parser = JSONParser(operation, map_type=dict)
        shape = operation.input_shape
        convert = _compile(shape, {}, parser) if shape is not None else (lambda _: {})
        found = _OPERATION_PARSERS[action] = (parser, convert)
    return found


def parse_parameters(self: Any, request: Any) -> None:
    """moto's `BaseResponse.parse_parameters` for DynamoDB's JSON protocol, with a compiled converter per operation."""
    from moto.core.request import JSON_TYPES

    if request.content_type not in JSON_TYPES or self.PROTOCOL_PARSER_MAP_TYPE is not dict:
        return _ORIGINAL_PARSE_PARAMETERS(self, request)
    parser, convert = operation_parser(self._get_action())
    if parser.operation_model.input_shape is None:
        self.params = {}
        return None
    self.params = convert(parser._parse_body_as_json(request.data))
    return None


_ORIGINAL_PARSE_PARAMETERS: Any = None


def patch_backend() -> None:
    """Install the per-item-snapshot TransactWriteItems and the linear Item constructor (once)."""
    global _PATCHED
    with _PATCH_LOCK:
        if _PATCHED:
            return
        from moto.dynamodb.models import DynamoDBBackend
        from moto.dynamodb.models.dynamo_type import Item
        from moto.dynamodb.models.table import Table
        from moto.dynamodb.responses import DynamoHandler

        global _ORIGINAL_PARSE_PARAMETERS
        DynamoDBBackend.transact_write_items = transact_write_items
        Item.__init__ = _item_init
        Table._validate_key_sizes = _validate_key_sizes
        _ORIGINAL_PARSE_PARAMETERS = DynamoHandler.parse_parameters
        DynamoHandler.parse_parameters = parse_parameters
        _PATCHED = True


def isolate_from_aws_config(make_session: Callable[[], Any]) -> None:
    """Make moto list regions with `make_session()` instead of a `boto3.Session()` that reads AWS_PROFILE."""
    from moto.core.base_backend import AccountSpecificBackend

    session = make_session()
    AccountSpecificBackend.get_session = classmethod(lambda cls: session)  # type: ignore[method-assign]


def apply(server: Any) -> None:
    """Make a started `ThreadedMotoServer` atomic per request and its transactions O(items touched)."""
    patch_backend()
    wsgi = server._server  # werkzeug's server: the app it calls for every request
    wsgi.app = serialize_requests(wsgi.app)
