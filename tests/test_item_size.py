"""Item size as DynamoDB computes it: the sizer against sizes measured on DynamoDB Local, and its properties.

The measured data and how it was measured are in `tests/measured_dynamodb.py`.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from measured_dynamodb import (
    BOUNDARY_METRIC_DIMENSIONS,
    BOUNDARY_METRIC_LONGEST_NOTE,
    LIMIT_SHAPES,
    NUMBER_SIZES,
    WCU_BOUNDARY,
    boundary_metric_fields,
    limit_item,
    wcu_item,
)
from pydantic import ValidationError

from salestalk_lib.contract.errors import ContractError
from salestalk_lib.contract.models import ITEM_SIZE_LIMIT, Metric, canonical_json, dynamodb_number, item_size_bytes
from salestalk_lib.ops.ingest import write_cost

FUZZ = settings(max_examples=400, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize(("text", "size"), list(NUMBER_SIZES.items()))
def test_a_number_is_sized_as_dynamodb_local_charges_it(text, size):
    assert item_size_bytes({"n": Decimal(text)}) - len("n") == size


@pytest.mark.parametrize(("text", "size"), list(NUMBER_SIZES.items()))
def test_write_cost_crosses_the_1_kb_boundary_where_dynamodb_local_does(text, size):
    # DynamoDB Local charged 1 WCU for this item with one pad character less, 2 WCU with this pad.
    pad = 1025 - (len("pk") + len(wcu_item(Decimal(0), 0)["pk"]) + len("n") + size + len("p"))
    assert write_cost("conditional", [wcu_item(Decimal(text), pad - 1)])["wcu"] == 1
    assert write_cost("conditional", [wcu_item(Decimal(text), pad)])["wcu"] == 2


def test_the_1_kb_boundary_itself():
    for size, wcu in WCU_BOUNDARY.items():
        item = {"pk": "wcu-boundary", "p": "x" * (size - len("pk") - len("wcu-boundary") - len("p"))}
        assert item_size_bytes(item) == size
        assert write_cost("conditional", [item])["wcu"] == wcu


@pytest.mark.parametrize(("label", "attributes", "pad"), LIMIT_SHAPES, ids=[s[0] for s in LIMIT_SHAPES])
def test_the_largest_item_dynamodb_local_accepted_is_409600_bytes(label, attributes, pad):
    assert item_size_bytes(limit_item(attributes, pad)) == ITEM_SIZE_LIMIT
    assert item_size_bytes(limit_item(attributes, pad + 1)) == ITEM_SIZE_LIMIT + 1  # which it refused


def test_a_contract_metric_dynamodb_local_accepted_at_the_limit_is_accepted_and_one_byte_more_refused():
    metric = Metric.create(**boundary_metric_fields(BOUNDARY_METRIC_DIMENSIONS, BOUNDARY_METRIC_LONGEST_NOTE))
    assert item_size_bytes(metric.to_item()) == ITEM_SIZE_LIMIT
    with pytest.raises(ValidationError, match="item is 409,601 bytes by DynamoDB's size rules"):
        Metric.create(**boundary_metric_fields(BOUNDARY_METRIC_DIMENSIONS, BOUNDARY_METRIC_LONGEST_NOTE + 1))


def _base100_size(d: Decimal) -> int:
    """A second, independent sizer: write |d| in plain digits, cut it into pairs around the point, count."""
    if d.is_zero():
        return 1
    whole, _, fraction = format(d.copy_abs(), "f").partition(".")  # copy_abs: abs() would round to 28 digits
    whole = whole.lstrip("0")
    whole = ("0" * (len(whole) % 2)) + whole
    fraction = fraction + "0" * (len(fraction) % 2)
    pairs = [whole[i : i + 2] for i in range(0, len(whole), 2)] + [
        fraction[i : i + 2] for i in range(0, len(fraction), 2)
    ]
    while pairs[0] == "00":
        pairs.pop(0)
    while pairs[-1] == "00":
        pairs.pop()
    return 1 + len(pairs) + (1 if d < 0 and len(pairs) < 20 else 0)


def _contract_number(raw: Decimal) -> Decimal | None:
    try:
        return dynamodb_number(raw)
    except ContractError:
        return None


# Any coefficient of up to 38 significant digits (with zeros around them) at any storable exponent.
NUMBERS = (
    st.builds(
        lambda sign, digits, zeros, exponent: Decimal((sign, (*digits, *([0] * zeros)), exponent)),
        st.integers(0, 1),
        st.lists(st.integers(0, 9), min_size=1, max_size=38),
        st.integers(0, 5),
        st.integers(-170, 130),
    )
    .map(_contract_number)
    .filter(lambda d: d is not None)
)


@FUZZ
@given(NUMBERS)
def test_the_sizer_agrees_with_plain_base_100_digits_for_every_number_the_contract_accepts(number):
    size = item_size_bytes({"n": number}) - len("n")
    assert size == _base100_size(number)
    assert 1 <= size <= 21


JSON_SCALARS = st.one_of(st.text(max_size=12), st.booleans(), st.none(), NUMBERS, st.integers(-(10**12), 10**12))
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=6), inner, max_size=5)),
    max_leaves=30,
)


@settings(FUZZ, max_examples=150)
@given(st.dictionaries(st.text(min_size=1, max_size=8), JSON_VALUES, min_size=1, max_size=6))
def test_an_items_size_is_at_most_twice_its_json_plus_one(item):
    # The quick bound ItemModel relies on before sizing an item exactly (models.ItemModel._fits_in_an_item).
    # canonical_json writes numbers unquoted and no spaces: shorter than pydantic's JSON, the tightest case.
    text = canonical_json(item).encode("utf-8")
    assert item_size_bytes(item) <= 2 * len(text) + 1


@FUZZ
@given(NUMBERS)
def test_a_number_is_at_most_twice_its_shortest_text(number):
    # The bound's base case: a number's bytes against its own characters (pydantic's JSON adds quotes).
    assert item_size_bytes({"n": number}) - len("n") <= 2 * len(str(number))
