"""The seam's serializer gives exactly boto3's TypeSerializer output, and fails where it fails."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import Binary, TypeSerializer
from hypothesis import given, settings
from hypothesis import strategies as st

from salestalk_lib.dynamo.storage import serialize, serialize_value

BOTO3 = TypeSerializer()
SCALARS = st.one_of(
    st.text(max_size=6),
    st.booleans(),
    st.none(),
    st.integers(-(10**45), 10**45),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.binary(max_size=4),
    st.floats(width=16),
    st.frozensets(st.text(max_size=3), min_size=1, max_size=3),
    st.sets(st.integers(-5, 5), min_size=1, max_size=3),
    st.builds(Binary, st.binary(max_size=3)),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.tuples(inner), st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=20,
)


def outcome(fn, value: Any) -> tuple[str, Any]:
    try:
        return "ok", fn(value)
    except Exception as exc:  # noqa: BLE001 - the error type is what is compared
        return "error", type(exc)


@settings(max_examples=500)
@given(VALUES)
def test_serialize_value_equals_boto3_for_any_value(value: Any) -> None:
    assert outcome(serialize_value, value) == outcome(BOTO3.serialize, value)


def test_an_item_is_serialized_attribute_by_attribute() -> None:
    item = {"pk": "METRIC#revenue", "value": Decimal("1.50"), "n": 3, "ok": True, "m": {"l": [None, "x"]}}
    assert serialize(item) == {k: BOTO3.serialize(v) for k, v in item.items()}


@pytest.mark.parametrize("bad", [Decimal("NaN"), Decimal("Infinity"), Decimal("1" * 39), 0.5])
def test_numbers_boto3_refuses_are_refused(bad: Any) -> None:
    assert outcome(serialize_value, bad)[0] == "error"
