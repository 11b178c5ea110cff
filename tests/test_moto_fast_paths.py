"""The embedded server's fast paths give exactly moto's own results (salestalk_lib.embedded.moto_fixes).

The compiled request parser (fix 4) is compared with moto's parser on random
request bodies generated from the botocore shapes of every DynamoDB operation
(unknown members, nulls, blobs, timestamps and nested AttributeValues included);
the wire-form item sizing (fix 3) with moto's `DynamoType.size()` on random
attribute values; the parse cache of conditions and filters with moto's own parse on random
items, and on the embedded server (one expression, other values, other verdicts).
"""

from __future__ import annotations

import base64
import enum
import json
import types
import uuid
from datetime import UTC
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto.core.parse import JSONParser
from moto.core.utils import get_service_model

from salestalk_lib.contract.tables import METRICS, create_table_request
from salestalk_lib.dynamo.storage import Storage
from salestalk_lib.embedded import moto_fixes

SERVICE = get_service_model("dynamodb")
OPERATIONS = sorted(SERVICE.operation_names)
KEYS = st.text(alphabet="abcdefXYZ#:_-", min_size=1, max_size=6)


def body_for(shape: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """JSON values in the form of `shape`, with the oddities a client may send."""
    kind = shape.type_name
    if kind == "structure":
        if depth > 3:
            return st.just({})
        members = {
            shape.members[m].serialization.get("name", m): st.one_of(st.none(), body_for(shape.members[m], depth + 1))
            for m in shape.members
        }
        extra = st.dictionaries(st.sampled_from(["Unknown", "extra", "x"]), st.integers(), max_size=1)
        return st.tuples(st.fixed_dictionaries({}, optional=members), extra).map(lambda pair: {**pair[1], **pair[0]})
    if kind == "list":
        return st.lists(body_for(shape.member, depth + 1), max_size=2 if depth > 1 else 3)
    if kind == "map":
        return st.dictionaries(KEYS, body_for(shape.value, depth + 1), max_size=2 if depth > 1 else 3)
    if kind == "blob":
        return st.binary(max_size=8).map(lambda b: base64.b64encode(b).decode())
    if kind == "timestamp":
        return st.one_of(st.integers(0, 2_000_000_000), st.just("2025-11-09T10:00:00Z"))
    if kind in ("integer", "long"):
        return st.integers(-1000, 1000)
    if kind in ("float", "double"):
        return st.floats(allow_nan=False, allow_infinity=False, width=32)
    if kind == "boolean":
        return st.booleans()
    return st.text(max_size=5)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, bytes]:
    action = draw(st.sampled_from(OPERATIONS))
    shape = SERVICE.operation_model(action).input_shape
    body = draw(body_for(shape)) if shape is not None else {}
    return action, json.dumps(body).encode()


def moto_parse(action: str, raw: bytes) -> Any:
    parser = JSONParser(SERVICE.operation_model(action), map_type=dict)
    return parser.parse({"method": "POST", "values": {}, "headers": {}, "body": raw, "url_path": "/", "url_params": {}})


def compiled_parse(action: str, raw: bytes) -> Any:
    parser, convert = moto_fixes.operation_parser(action)
    if parser.operation_model.input_shape is None:
        return {}
    return convert(parser._parse_body_as_json(raw))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(requests())
def test_compiled_parser_equals_motos_parser_on_random_requests(request: tuple[str, bytes]) -> None:
    action, raw = request
    assert compiled_parse(action, raw) == moto_parse(action, raw)


@pytest.mark.parametrize("action", OPERATIONS)
def test_every_operation_compiles_and_parses_an_empty_body(action: str) -> None:
    assert compiled_parse(action, b"") == moto_parse(action, b"")
    assert compiled_parse(action, b"{}") == moto_parse(action, b"{}")


def test_a_batch_write_of_nested_values_parses_alike() -> None:
    item = {
        "pk": {"S": "METRIC#revenue"},
        "sk": {"S": "2025-Q3"},
        "value": {"N": "1.5"},
        "blob": {"B": base64.b64encode(b"\x00\xff").decode()},
        "bs": {"BS": [base64.b64encode(b"a").decode()]},
        "m": {"M": {"l": {"L": [{"NULL": True}, {"BOOL": False}, {"SS": ["a", "b"]}, {"NS": ["1"]}]}}},
    }
    raw = json.dumps({"RequestItems": {"t": [{"PutRequest": {"Item": item}}]}}).encode()
    parsed = compiled_parse("BatchWriteItem", raw)
    assert parsed == moto_parse("BatchWriteItem", raw)
    stored = parsed["RequestItems"]["t"][0]["PutRequest"]["Item"]
    assert stored["blob"] == {"B": b"\x00\xff"} and stored["bs"] == {"BS": [b"a"]}


MOTO_ONLY = pytest.mark.engine_only("moto", reason="checks moto_fixes' fast paths inside moto's server")


@pytest.mark.integration
@MOTO_ONLY
def test_the_embedded_server_uses_the_compiled_parser_and_round_trips_binary(endpoint) -> None:
    from moto.dynamodb.responses import DynamoHandler

    assert DynamoHandler.parse_parameters is moto_fixes.parse_parameters
    client = endpoint.client()
    name = f"parse-{uuid.uuid4().hex[:8]}"
    Storage(client).create_table(create_table_request(METRICS, name))
    Storage(client).wait_active(name)
    item = {
        "pk": {"S": "METRIC#revenue"},
        "sk": {"S": "2025-Q3"},
        "raw": {"B": b"\x00\x01\xfe"},
        "nested": {"M": {"xs": {"L": [{"N": "1"}, {"BS": [b"\x02"]}]}}},
    }
    client.put_item(TableName=name, Item=item)
    got = client.get_item(TableName=name, Key={"pk": item["pk"], "sk": item["sk"]}, ConsistentRead=True)["Item"]
    assert got == item


# --- item sizing on the wire form ------------------------------------------------------------

SCALARS = st.one_of(
    st.builds(lambda s: {"S": s}, st.text(max_size=8)),
    st.builds(lambda n: {"N": n}, st.sampled_from(["0", "1.5", "-12", "1E+3", "123456789.000"])),
    st.builds(lambda b: {"B": b}, st.binary(max_size=6)),
    st.builds(lambda b: {"BOOL": b}, st.booleans()),
    st.just({"NULL": True}),
    st.builds(lambda xs: {"SS": xs}, st.lists(st.text(max_size=4), max_size=3)),
    st.builds(lambda xs: {"NS": xs}, st.lists(st.sampled_from(["1", "22", "-3.5"]), max_size=3)),
    st.builds(lambda xs: {"BS": xs}, st.lists(st.binary(max_size=3), max_size=3)),
)
ATTRIBUTE_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.builds(lambda xs: {"L": xs}, st.lists(inner, max_size=4)),
        st.builds(lambda m: {"M": m}, st.dictionaries(st.text(max_size=5), inner, max_size=4)),
    ),
    max_leaves=25,
)


@settings(max_examples=300)
@given(ATTRIBUTE_VALUES)
def test_wire_form_size_equals_motos_dynamotype_size(value: dict) -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    assert moto_fixes.attribute_size(value) == DynamoType(value).size()


@pytest.mark.integration
@MOTO_ONLY
def test_key_and_item_size_limits_still_hold_on_the_embedded_server(endpoint) -> None:
    from botocore.exceptions import ClientError

    client = endpoint.client()
    name = f"limits-{uuid.uuid4().hex[:8]}"
    Storage(client).create_table(create_table_request(METRICS, name))
    Storage(client).wait_active(name)
    with pytest.raises(ClientError, match=r"Size of hashkey has exceeded the maximum size limit of ?2048 bytes"):
        client.put_item(TableName=name, Item={"pk": {"S": "x" * 2049}, "sk": {"S": "s"}})
    with pytest.raises(
        ClientError, match="Aggregated size of all range keys has exceeded the size limit of 1024 bytes"
    ):
        client.put_item(TableName=name, Item={"pk": {"S": "p"}, "sk": {"S": "é" * 600}})
    with pytest.raises(ClientError, match="Item size has exceeded the maximum allowed size"):
        client.put_item(
            TableName=name, Item={"pk": {"S": "p"}, "sk": {"S": "s"}, "big": {"L": [{"S": "y" * 1000}] * 406}}
        )
    client.put_item(TableName=name, Item={"pk": {"S": "p"}, "sk": {"S": "s"}, "ok": {"L": [{"S": "y" * 1000}] * 390}})


# --- each condition, filter or key condition parsed once ----------------------------

CONDITIONS = [
    "attribute_not_exists(#k)",
    "attribute_exists(#k) AND #a = :v",
    "#a < :v OR begins_with(#b, :w)",
    "NOT (#a >= :v) AND size(#b) <= :n",
    "#a IN (:v, :w) OR #b BETWEEN :w AND :v",
]
SCALARS = st.one_of(
    st.builds(lambda s: {"S": s}, st.text(alphabet="ab", max_size=2)),
    st.builds(lambda n: {"N": str(n)}, st.integers(-2, 2)),
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(CONDITIONS),
    st.fixed_dictionaries({":v": SCALARS, ":w": SCALARS, ":n": st.builds(lambda n: {"N": str(n)}, st.integers(0, 2))}),
    st.one_of(st.none(), st.dictionaries(st.sampled_from(["k", "a", "b"]), SCALARS)),
)
def test_a_cached_condition_decides_as_motos_own_parse(expression: str, values: dict, attrs: dict | None) -> None:
    """Few expressions and values, many items: most parses come from the cache, and each must decide as moto's own."""
    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.comparisons import get_filter_expression as motos_parse
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    names = {"#k": "k", "#a": "a", "#b": "b"}
    used = {k: v for k, v in values.items() if k in expression}
    item = None if attrs is None else Item(DynamoType({"S": "h"}), None, {"pk": {"S": "h"}, **attrs})

    def decide(parse: Any) -> bool | str:
        try:
            return bool(parse(expression, dict(names), dict(used)).expr(item))
        except Exception as exc:  # noqa: BLE001 - moto's verdict on a bad comparison is part of what must match
            return type(exc).__name__

    assert decide(moto_fixes.get_filter_expression) == decide(motos_parse)
    # The handlers' parser: the same tree, the same placeholders found, in lists of its own.
    ours, motos = (
        make(expression, dict(names), dict(used)) for make in (moto_fixes.ConditionParser, ConditionExpressionParser)
    )
    assert decide(lambda *_: ours.parse()) == decide(lambda *_: motos.parse())
    assert (ours.expr_attr_names_found, ours.expr_attr_values_found) == (
        motos.expr_attr_names_found,
        motos.expr_attr_values_found,
    )
    ours.expr_attr_names_found.append("#changed")  # a handler extends its lists: the next parse's are fresh
    again = moto_fixes.ConditionParser(expression, dict(names), dict(used))
    again.parse()
    assert again.expr_attr_names_found == motos.expr_attr_names_found


@pytest.mark.integration
@MOTO_ONLY
def test_the_same_condition_with_other_values_is_decided_on_those_values(endpoint) -> None:
    """The parse cache is keyed by the values too: one expression, two values, two verdicts (update and transaction)."""
    import moto.dynamodb.models
    import moto.dynamodb.responses
    from botocore.exceptions import ClientError

    assert moto.dynamodb.models.get_filter_expression is moto_fixes.get_filter_expression
    assert moto.dynamodb.responses.create_condition_expression_parser is moto_fixes.ConditionParser
    client = endpoint.client()
    name = f"cond-{uuid.uuid4().hex[:8]}"
    Storage(client).create_table(create_table_request(METRICS, name))
    Storage(client).wait_active(name)
    key = {"pk": {"S": "METRIC#revenue"}, "sk": {"S": "2025-Q3"}}
    client.put_item(TableName=name, Item={**key, "n": {"N": "5"}})
    guarded = {
        "TableName": name,
        "Key": key,
        "UpdateExpression": "SET n = n + :one",
        "ConditionExpression": "n = :expected",
        "ExpressionAttributeValues": {":one": {"N": "1"}},
    }

    def update(values: dict) -> None:
        client.update_item(**{**guarded, "ExpressionAttributeValues": values})

    def transact(values: dict) -> None:
        client.transact_write_items(TransactItems=[{"Update": {**guarded, "ExpressionAttributeValues": values}}])

    refused = {update: "ConditionalCheckFailed", transact: "TransactionCanceled"}
    steps = [(update, "5", True), (update, "5", False), (update, "6", True), (update, "6", False), (update, "7", True)]
    steps += [(transact, "8", True), (transact, "8", False), (transact, "9", True)]
    for write, expected, applies in steps:
        values = {**guarded["ExpressionAttributeValues"], ":expected": {"N": expected}}
        if applies:
            write(values)
        else:
            with pytest.raises(ClientError, match=refused[write]):
                write(values)
    got = client.get_item(TableName=name, Key=key, ConsistentRead=True)["Item"]
    assert got["n"] == {"N": "10"}
    # A placeholder the expression does not use is refused, every time (moto's check, on the cached parse's list).
    unused = {
        **guarded,
        "ConditionExpression": "#n = :expected",
        "ExpressionAttributeNames": {"#n": "n", "#unused": "x"},
        "ExpressionAttributeValues": {":one": {"N": "1"}, ":expected": {"N": "10"}},
    }
    for _ in range(2):
        with pytest.raises(ClientError, match=r"unused in expressions: keys: \{#unused\}"):
            client.transact_write_items(TransactItems=[{"Update": unused}])
    client.transact_write_items(TransactItems=[{"Update": {**unused, "ExpressionAttributeNames": {"#n": "n"}}}])
    assert client.get_item(TableName=name, Key=key, ConsistentRead=True)["Item"]["n"] == {"N": "11"}


# --- the compiled response serializer -------------------------------------------------------


class _Kind(enum.Enum):
    ACTIVE = "ACTIVE"


def result_for(shape: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Results a moto handler may hand its serializer for `shape`: wire-form dicts and the oddities around them."""
    from botocore import xform_name

    kind = shape.type_name
    if kind == "structure":
        if depth > 2:
            return st.one_of(st.none(), st.just({}))

        # up to four members, each under one or two of its key, its snake_case name and its shape's name (moto's
        # picker tries them in an order of its own: a result holding two must give the value moto picks)
        def spellings(member: str) -> st.SearchStrategy[list[tuple[str, Any]]]:
            names = sorted({member, xform_name(member), shape.members[member].name})
            value = st.one_of(st.none(), result_for(shape.members[member], depth + 1))
            return st.lists(st.tuples(st.sampled_from(names), value), min_size=1, max_size=2, unique_by=lambda p: p[0])

        members = sorted(shape.members)
        chosen = st.lists(st.sampled_from(members), max_size=4, unique=True).flatmap(
            lambda some: st.tuples(*(spellings(m) for m in some)).map(lambda groups: [p for g in groups for p in g])
        )
        as_dict = st.tuples(chosen, st.dictionaries(st.sampled_from(["Unknown", "x"]), st.integers(), max_size=1)).map(
            lambda pair: {**pair[1], **dict(pair[0])}
        )
        as_object = chosen.map(lambda pairs: types.SimpleNamespace(**dict(pairs)))
        return st.one_of(as_dict, as_dict, as_dict, as_object)
    if kind == "list":
        return st.lists(st.one_of(st.none(), result_for(shape.member, depth + 1)), max_size=1 if depth > 1 else 2)
    if kind == "map":
        return st.dictionaries(KEYS, st.one_of(st.none(), result_for(shape.value, depth + 1)), max_size=2)
    if kind == "blob":
        return st.one_of(st.binary(max_size=6), st.text(max_size=4))
    if kind == "timestamp":
        return st.one_of(
            st.integers(0, 2_000_000_000),
            st.floats(0, 2e9, allow_nan=False),
            st.datetimes(timezones=st.just(UTC)),
            st.just("2025-11-09T10:00:00Z"),
        )
    if kind in ("integer", "long"):
        return st.one_of(st.integers(-1000, 1000), st.integers(0, 99).map(str), st.booleans())
    if kind in ("float", "double"):
        return st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-5, 5), st.just("1.5"))
    if kind == "boolean":
        return st.one_of(st.booleans(), st.just("true"), st.none())
    return st.one_of(st.text(max_size=5), st.just(_Kind.ACTIVE), st.integers(0, 9), st.just({}), st.just([]))


@st.composite
def results(draw: st.DrawFn) -> tuple[str, Any]:
    action = draw(st.sampled_from(OPERATIONS))
    shape = SERVICE.operation_model(action).output_shape
    return action, (draw(result_for(shape)) if shape is not None else draw(st.just({})))


def moto_serialize(action: str, result: Any) -> Any:
    from moto.core.serialize import XFormedAttributePicker, get_serializer_class

    serializer = get_serializer_class("dynamodb", "json")(
        operation_model=SERVICE.operation_model(action),
        pretty_print=False,
        value_picker=XFormedAttributePicker(response_transformers=None),
    )
    out = serializer.serialize(result)
    return out["status_code"], out["headers"], out["body"]


def outcome(serialize: Any, action: str, result: Any) -> Any:
    try:
        return serialize(action, result)
    except Exception as exc:  # noqa: BLE001 - a result moto cannot serialize must fail the same way
        return type(exc).__name__


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(results())
def test_compiled_serializer_answers_as_motos_serializer_on_random_results(case: tuple[str, Any]) -> None:
    action, result = case
    compiled = outcome(lambda a, r: moto_fixes.operation_serializer(a)(r), action, result)
    assert compiled == outcome(moto_serialize, action, result)  # the same status, headers and body, byte for byte


@pytest.mark.parametrize("action", OPERATIONS)
def test_every_operation_compiles_a_serializer_that_answers_an_empty_result_alike(action: str) -> None:
    assert moto_fixes.operation_serializer(action) is not None
    assert moto_fixes.operation_serializer(action)({}) == moto_serialize(action, {})


def test_a_query_result_of_nested_values_serializes_alike() -> None:
    item = {
        "pk": {"S": "METRIC#revenue"},
        "value": {"N": "1.5"},
        "raw": {"B": b"\x00\xff"},
        "bs": {"BS": [b"a", b"b"]},
        "m": {"M": {"l": {"L": [{"NULL": True}, {"BOOL": False}, {"SS": ["a"]}, {"NS": ["1"]}]}}},
    }
    result = {"Items": [item, item], "Count": 2, "ScannedCount": 2, "LastEvaluatedKey": {"pk": item["pk"]}}
    status, headers, body = moto_fixes.operation_serializer("Query")(result)
    assert (status, headers, body) == moto_serialize("Query", result)
    assert json.loads(body)["Items"][0]["raw"] == {"B": base64.b64encode(b"\x00\xff").decode()}


@pytest.mark.integration
@MOTO_ONLY
def test_the_embedded_server_answers_through_the_compiled_serializer(endpoint, monkeypatch) -> None:
    from moto.dynamodb.responses import DynamoHandler

    assert DynamoHandler.serialized is moto_fixes.serialized
    answered: list[str] = []
    serialize = moto_fixes.operation_serializer

    def counting(action: str) -> Any:
        answered.append(action)
        return serialize(action)

    monkeypatch.setattr(moto_fixes, "operation_serializer", counting)
    client = endpoint.client()
    name = f"serialize-{uuid.uuid4().hex[:8]}"
    Storage(client).create_table(create_table_request(METRICS, name))
    Storage(client).wait_active(name)
    item = {"pk": {"S": "METRIC#revenue"}, "sk": {"S": "2025-Q3"}, "n": {"N": "3.25"}, "raw": {"B": b"\x01"}}
    client.put_item(TableName=name, Item=item)
    got = client.query(TableName=name, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": item["pk"]})
    assert got["Items"] == [item] and got["Count"] == 1
    assert {"PutItem", "Query"} <= set(answered)
    with pytest.raises(client.exceptions.ConditionalCheckFailedException):  # an error: moto's own serializer
        client.put_item(TableName=name, Item=item, ConditionExpression="attribute_not_exists(pk)")


def test_an_unknown_operation_gets_motos_own_serializer() -> None:
    assert moto_fixes.operation_serializer("NoSuchOperation") is None
