"""The contract's field rules: DynamoDB numbers, text and control characters, ids, free-form maps, item sizes.

The building blocks every model in `items` and `envelopes` is made of: `dynamodb_number`
(38 significant digits, magnitude 1E-130 to 9.99…E+125, normalised as DynamoDB stores it),
the one-line and message-text rules, UUIDs, units and dimensions, `canonical_json`, the
free-form metadata checks and `item_size_bytes` (numbers sized as DynamoDB sizes them,
measured on DynamoDB Local). Pure: no boto3.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Context, Decimal, Inexact, InvalidOperation
from enum import Enum
from typing import Annotated, Any, TypeAlias, TypeVar

from pydantic import (
    AfterValidator,
    BeforeValidator,
    EmailStr,
    Field,
    Strict,
    ValidationError,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from salestalk_lib.contract import keys
from salestalk_lib.contract.currency import is_currency
from salestalk_lib.contract.errors import ContractError
from salestalk_lib.contract.vocab import (
    NON_CURRENCY_UNITS,
    Subject,
)

ITEM_SIZE_LIMIT = 400 * 1024
TENANT_METADATA_LIMIT = 10 * 1024
METRIC_METADATA_LIMIT = 10 * 1024
MESSAGE_METADATA_LIMIT = 50 * 1024
TEXT_MAX = 10_000
NAME_MAX = 256
DYNAMODB_MAX_DIGITS = 38
# DynamoDB numbers: positive magnitudes from 1E-130 to 9.99...E+125 (adjusted exponents -130..125).
_MIN_ADJUSTED, _MAX_ADJUSTED = -130, 125
# DynamoDB allows 32 levels of nesting in a document.
MAX_NESTING = 32
_TABLE_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_EVENT_TYPE_RE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.v[1-9][0-9]*$")
_ISO_UTC_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z$")
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def _rule(message: str) -> PydanticCustomError:
    """A contract violation for the field being validated; `message` is the human rule text."""
    # The message goes in as a literal: PydanticCustomError would try to format `{...}` in it.
    return PydanticCustomError("contract", "{rule}", {"rule": message})


def _raise_nested(title: str, errors: Sequence[tuple[tuple[str | int, ...], str, Any]]) -> None:
    """Raise one ValidationError naming every (location, rule) pair, relative to the current field."""
    if errors:
        raise ValidationError.from_exception_data(
            title,
            [InitErrorDetails(type=_rule(msg), loc=loc, input=value) for loc, msg, value in errors],
        )


_V = TypeVar("_V")

# (location, rule, value) of each problem found inside a nested value
_NestedErrors: TypeAlias = list[tuple[tuple[str | int, ...], str, Any]]


def _contract_check(fn: Callable[[Any], object]) -> Callable[[_V], _V]:
    """Adapt a keys.py parser into a validator: the value passes unchanged, a ContractError becomes the rule text."""

    def check(value: _V) -> _V:
        try:
            fn(value)
        except ContractError as exc:
            raise _rule(str(exc)) from None
        return value

    return check


def _exponent(d: Decimal) -> int:
    """A finite number's exponent (`as_tuple` gives 'n', 'N' or 'F' for NaN, sNaN and infinity)."""
    exponent = d.as_tuple().exponent
    if not isinstance(exponent, int):
        raise ContractError("must be a finite number")
    return exponent


def _significant_digits(d: Decimal) -> int:
    """Digits between the first and the last non-zero digit (at least 1)."""
    digits = d.as_tuple().digits
    end = len(digits)
    while end > 1 and digits[end - 1] == 0:
        end -= 1
    start = 0
    while start < end - 1 and digits[start] == 0:
        start += 1
    return end - start


# DynamoDB's numbers (contract §7): at most 38 significant digits, magnitude 1E-130 to
# 9.9999999999999999999999999999999999999E+125, or zero. boto3 carries every number through
# its DYNAMODB_CONTEXT (38 digits, Emin -128), which also cannot hold a digit below 1E-165
# (the context's Etiny) although DynamoDB itself stores one (DynamoDB Local 3.3.1 keeps
# 1.2345678901234567890123456789012345678E-130): the contract takes the stricter rule, so every
# number it accepts can be written and read through boto3.
_MIN_EXPONENT = -165
# Exact for any number the rules accept (38 digits); a rounding here would be a bug, so it traps.
_NORMALISE = Context(prec=DYNAMODB_MAX_DIGITS, traps=[Inexact, InvalidOperation])
_ONE = Decimal(1)
_PLAIN_INT_BOUND = 10**DYNAMODB_MAX_DIGITS


def dynamodb_number(value: Any) -> Decimal:
    """The DynamoDB-storable, normalised Decimal of an int, Decimal or finite float; ContractError otherwise.

    The one number rule of the contract (§7), used by every model field and free-form map that
    holds a number. Refused: booleans, strings, NaN and infinities, more than 38 significant
    digits, magnitudes outside 1E-130 .. 9.9999999999999999999999999999999999999E+125, digits
    below 1E-165 (boto3's number context cannot carry them). Accepted numbers come back
    normalised as DynamoDB stores them: zero (also `-0`, `0E-200`) is `0`; leading and trailing
    zeros are trimmed (`1.50` → `1.5`, `1.000…0` → `1`); whole numbers of up to 38 digits stay
    plain (`1000`), larger ones keep an exponent (`1E+50`), which boto3 needs. A float goes
    through `repr` (the shortest text that reads back as the same float), so 0.35 becomes
    Decimal('0.35'), not 0.34999999999999997779...
    """
    if type(value) is int and -_PLAIN_INT_BOUND < value < _PLAIN_INT_BOUND:
        return Decimal(value)  # what the rules below come to for a whole number of at most 38 digits
    if type(value) is Decimal and value:
        _, digits, exponent = value.as_tuple()
        if (
            type(exponent) is int
            and _MIN_EXPONENT <= exponent <= 0
            and digits[-1]
            and len(digits) <= DYNAMODB_MAX_DIGITS
            and _MIN_ADJUSTED <= value.adjusted() <= _MAX_ADJUSTED
        ):
            return value  # already in stored form: no trailing zero, within every limit below
    if isinstance(value, bool):
        raise ContractError("must be a number, not a boolean")
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ContractError("must be a finite number (NaN and infinity cannot be stored)")
        d = Decimal(repr(value))
    elif isinstance(value, str):
        raise ContractError("must be a number, not a string (strings are never converted to numbers)")
    else:
        raise ContractError(f"must be a number, got {type(value).__name__}")
    if not d.is_finite():
        raise ContractError("must be a finite number (NaN and infinity cannot be stored)")
    if d.is_zero():
        return Decimal(0)
    if _significant_digits(d) > DYNAMODB_MAX_DIGITS:
        raise ContractError(f"has more than {DYNAMODB_MAX_DIGITS} significant digits, which DynamoDB cannot store")
    if not _MIN_ADJUSTED <= d.adjusted() <= _MAX_ADJUSTED:
        raise ContractError(
            "is outside DynamoDB's number range (1E-130 to 9.9999999999999999999999999999999999999E+125 in magnitude)"
        )
    normal = normalised_number(d)
    if _exponent(normal) < _MIN_EXPONENT:
        raise ContractError(
            "has a digit below 1E-165, which boto3 cannot send to DynamoDB "
            f"(at this magnitude at most {normal.adjusted() - _MIN_EXPONENT + 1} significant digits)"
        )
    return normal


def normalised_number(d: Decimal) -> Decimal:
    """A finite Decimal of at most 38 significant digits in DynamoDB's stored form (see `dynamodb_number`).

    Zero is `0`; trailing zeros go (`1.50` → `1.5`); whole numbers of up to 38 digits stay plain
    (`1000`), larger ones keep an exponent (`1E+50`, which boto3's number context takes).
    """
    if d.is_zero():
        return Decimal(0)
    normal = d.normalize(_NORMALISE)
    if _exponent(normal) > 0 and normal.adjusted() < DYNAMODB_MAX_DIGITS:
        return normal.quantize(_ONE, context=_NORMALISE)  # 1000, not 1E+3
    return normal


def to_decimal(value: Any) -> Decimal:
    """`dynamodb_number` as a pydantic validator: a refusal becomes the field's rule text."""
    try:
        return dynamodb_number(value)
    except ContractError as exc:
        raise _rule(str(exc)) from None


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise _rule("must be a whole number, not a boolean")
    if isinstance(value, str):
        raise _rule("must be a whole number, not a string (strings are never converted to numbers)")
    if not isinstance(value, (int, Decimal, float)):
        raise _rule(f"must be a whole number, got {type(value).__name__}")
    d = to_decimal(value)  # whole numbers obey DynamoDB's number rules too
    if d != d.to_integral_value():
        raise _rule(f"must be a whole number, got {d}")
    return value if isinstance(value, int) else int(d)


Number = Annotated[Decimal, BeforeValidator(to_decimal)]
"""Any finite number DynamoDB can store, as a Decimal."""
Confidence = Annotated[Number, Field(ge=0, le=1)]
"""A probability in [0.0, 1.0], both ends included."""


class _UnixSecondsMark:
    """Marks a field as an instant in unix seconds (`UNIX_SECONDS_ATTRIBUTES`, how the CLI prints times)."""

    def __repr__(self) -> str:
        return "UNIX_SECONDS"


UNIX_SECONDS = _UnixSecondsMark()
UnixSeconds = Annotated[Number, Field(gt=0), UNIX_SECONDS]
"""Seconds since 1970-01-01T00:00:00Z, positive; fractions allowed (milliseconds)."""
NonNegativeNumber = Annotated[Number, Field(ge=0)]
Count = Annotated[int, BeforeValidator(_to_int), Field(ge=0)]
"""A whole number ≥ 0."""
PositiveCount = Annotated[int, BeforeValidator(_to_int), Field(ge=1)]
Year = Annotated[int, BeforeValidator(_to_int), Field(ge=1970, le=9999)]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise _rule("must not be blank")
    return value


# Control characters in text (contract §7, issue 10): a name, an id or a label is one line, so no
# control character at all (C0, DEL, C1, U+2028/U+2029); a message's text may break lines and
# indent (TAB, LF, CR) but carries no other control (ESC, BEL, NUL, ...). Free-form `metadata`
# maps are stored as given; the CLI escapes whatever it prints (`commands.escape_controls`).
_LINE_CONTROL = re.compile(f"[{keys.CONTROL_CHARACTERS}]")
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CONTROL_NAMES = {
    "\x00": "NUL",
    "\x07": "BEL",
    "\x08": "BS",
    "\t": "TAB",
    "\n": "LF (a line break)",
    "\r": "CR",
    "\x1b": "ESC",
    "\x7f": "DEL",
    "\u2028": "LINE SEPARATOR",
    "\u2029": "PARAGRAPH SEPARATOR",
}


def _no_control(pattern: re.Pattern[str], what: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        found = pattern.search(value)
        if found:
            char = found[0]
            label = f"U+{ord(char):04X}" + (f" {_CONTROL_NAMES[char]}" if char in _CONTROL_NAMES else "")
            raise _rule(f"must not contain control characters ({what}): {label} at position {found.start() + 1}")
        return value

    return check


_one_line = _no_control(_LINE_CONTROL, "one line of text")
_text = _no_control(_TEXT_CONTROL, "line breaks and tabs are the only ones allowed")

StrictText = Annotated[str, Strict()]
NonEmptyText = Annotated[
    str, Strict(), Field(min_length=1, max_length=NAME_MAX), AfterValidator(_not_blank), AfterValidator(_one_line)
]
"""1-256 characters on one line: not only whitespace, no control characters (not even TAB or a line break)."""
MessageText = Annotated[
    str, Strict(), Field(min_length=1, max_length=TEXT_MAX), AfterValidator(_not_blank), AfterValidator(_text)
]
"""1-10,000 characters, not only whitespace; line breaks and tabs allowed, no other control character."""
Name = NonEmptyText
Email = Annotated[EmailStr, Strict()]
_VALID_TENANT_IDS: set[str] = set()
"""Tenant ids that passed `keys.validate_tenant_id` (a few per input, checked once each; bounded)."""


def _tenant_id(value: str) -> str:
    if value in _VALID_TENANT_IDS:
        return value
    try:
        keys.validate_tenant_id(value)
    except ContractError as exc:
        raise _rule(str(exc)) from None
    if len(_VALID_TENANT_IDS) < 4096:
        _VALID_TENANT_IDS.add(value)
    return value


TenantId = Annotated[
    str,
    Strict(),
    AfterValidator(_tenant_id),
    Field(json_schema_extra={"pattern": keys.TENANT_ID_PATTERN, "minLength": 1, "maxLength": keys.TENANT_ID_MAX}),
]
"""1-64 lowercase letters, digits and inner `-` (safe inside a table name)."""


def _uuid4(value: str) -> str:
    if not keys.UUID4_RE.fullmatch(value):  # a str: the field is strict
        raise _rule(f"must be a lowercase UUID v4 (like 8f1c...-4...-a...), got {value!r}")
    return value


def _uuid(value: str) -> str:
    if not _UUID_RE.fullmatch(value):
        raise _rule(f"must be a lowercase canonical UUID, got {value!r}")
    return value


UUID4Str = Annotated[str, Strict(), AfterValidator(_uuid4), Field(json_schema_extra={"pattern": keys.UUID4_PATTERN})]
UUIDStr = Annotated[str, Strict(), AfterValidator(_uuid), Field(json_schema_extra={"pattern": _UUID_RE.pattern})]


PeriodText = Annotated[
    str,
    Strict(),
    AfterValidator(_contract_check(keys.parse_period)),
    Field(json_schema_extra={"pattern": keys.PERIOD_PATTERN}),
]
"""`YYYY-QN`, `YYYY-MM` or `YYYY-MM-DD`."""


def _unit(value: str) -> str:
    if value in NON_CURRENCY_UNITS or is_currency(value):
        return value
    raise _rule(
        f"must be an ISO 4217 currency code such as USD or EUR, 'count' or 'percentage' (a fraction), got {value!r}"
    )


Unit = Annotated[
    str, Strict(), AfterValidator(_unit), Field(json_schema_extra={"pattern": r"^([A-Z]{3}|count|percentage)$"})
]
"""An ISO 4217 currency code, `count`, or `percentage` (a fraction: 0.35 is 35 %)."""


def _dimension_name(value: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(keys.DIMENSION_NAME_PATTERN, value):
        raise _rule(f"dimension name must be a letter then letters, digits or '_' (at most 64), got {value!r}")
    return value


def _dimension_value(value: str) -> str:
    if not re.fullmatch(keys.DIMENSION_VALUE_PATTERN, value):
        raise _rule(
            f"dimension value must be 1-128 characters without '#', control characters, a leading ':' "
            f"or surrounding spaces, got {value!r}"
        )
    return value


DimensionName = Annotated[
    str, Strict(), AfterValidator(_dimension_name), Field(json_schema_extra={"pattern": keys.DIMENSION_NAME_PATTERN})
]
DimensionValue = Annotated[
    str, Strict(), AfterValidator(_dimension_value), Field(json_schema_extra={"pattern": keys.DIMENSION_VALUE_PATTERN})
]
DimensionKey = Annotated[str, Strict(), AfterValidator(_contract_check(keys.parse_dimension_key))]
"""`{dimName}:{dimValue}`, e.g. `region:Europe`."""
Dimensions = dict[DimensionName, DimensionValue]


def _table_name(value: str) -> str:
    if not _TABLE_NAME_RE.fullmatch(value):
        raise _rule(f"must be a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -), got {value!r}")
    return value


TableName = Annotated[str, Strict(), AfterValidator(_table_name)]


def _iso_utc(value: str) -> str:
    if not _ISO_UTC_RE.fullmatch(value):
        raise _rule(f"must be ISO-8601 UTC like 2025-11-09T10:00:00.000Z, got {value!r}")
    try:
        datetime.fromisoformat(value[:-1] + "+00:00")
    except ValueError:
        raise _rule(f"is not a real date and time: {value!r}") from None
    return value


IsoUtc = Annotated[str, Strict(), AfterValidator(_iso_utc)]


def _metric_subject(value: Subject) -> Subject:
    if value == Subject.UNKNOWN:
        raise _rule("a metric needs a known subject; 'unknown' is only for classifications")
    return value


MetricSubject = Annotated[
    Subject,
    AfterValidator(_metric_subject),
    Field(json_schema_extra={"enum": [s.value for s in Subject if s != Subject.UNKNOWN]}),
]


def canonical_json(value: Any) -> str:
    """Compact JSON of a JSON-like value; Decimals are written as their exact number text."""
    if isinstance(value, Mapping):
        return (
            "{"
            + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{canonical_json(v)}" for k, v in value.items())
            + "}"
        )
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(canonical_json(v) for v in value) + "]"
    if isinstance(value, Enum):
        return json.dumps(value.value, ensure_ascii=False)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, float):
        return json.dumps(value)  # NaN and Infinity as Python's json writes (and reads) them
    raise TypeError(f"not JSON-like: {type(value).__name__}")


def _json_like(value: Any, path: tuple[str | int, ...], errors: _NestedErrors, depth: int) -> Any:
    """Normalise one metadata value (floats → Decimal), collecting every rule it breaks."""
    if depth > MAX_NESTING:
        errors.append((path, f"is nested deeper than DynamoDB's {MAX_NESTING} levels", value))
        return value
    if value is None:
        errors.append((path, "must not be null: omit the key instead", value))
    elif isinstance(value, bool):
        return value
    elif isinstance(value, str):
        if not value:
            errors.append((path, "must not be an empty string: omit the key instead", value))
        return value
    elif isinstance(value, (int, float, Decimal)):
        try:
            return to_decimal(value)
        except PydanticCustomError as exc:
            errors.append((path, exc.message(), value))
    elif isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str) or not k:
                errors.append((path + (str(k),), "map keys must be non-empty strings", k))
                continue
            out[k] = _json_like(v, path + (k,), errors, depth + 1)
        return out
    elif isinstance(value, (list, tuple)):
        return [_json_like(v, path + (i,), errors, depth + 1) for i, v in enumerate(value)]
    else:
        errors.append((path, f"must be a string, number, boolean, list or map, got {type(value).__name__}", value))
    return value


def _check_json_map(value: Any, limit: int) -> tuple[dict[str, Any], _NestedErrors]:
    """Normalise a free-form map; return it and every (location, rule, value) it breaks."""
    if not isinstance(value, Mapping):
        return value, [((), "must be a map", value)]
    errors: _NestedErrors = []
    out = _json_like(value, (), errors, 1)
    if not errors:
        size = len(canonical_json(out).encode("utf-8"))
        if size > limit:
            errors.append(((), f"is {size:,} bytes as JSON; the limit is {limit:,} bytes ({limit // 1024} KB)", "..."))
    return out, errors


def _metadata_check(limit: int) -> Callable[[Any], dict[str, Any]]:
    def check(value: Any) -> dict[str, Any]:
        out, errors = _check_json_map(value, limit)
        _raise_nested("metadata", errors)
        return out

    return check


def _metadata_schema(limit: int) -> Any:
    return Field(json_schema_extra={"description": f"free-form map, at most {limit // 1024} KB as JSON"})


TenantMetadata: TypeAlias = Annotated[
    dict[str, Any], BeforeValidator(_metadata_check(TENANT_METADATA_LIMIT)), _metadata_schema(TENANT_METADATA_LIMIT)
]
MetricMetadata: TypeAlias = Annotated[
    dict[str, Any], BeforeValidator(_metadata_check(METRIC_METADATA_LIMIT)), _metadata_schema(METRIC_METADATA_LIMIT)
]
MessageMetadata: TypeAlias = Annotated[
    dict[str, Any], BeforeValidator(_metadata_check(MESSAGE_METADATA_LIMIT)), _metadata_schema(MESSAGE_METADATA_LIMIT)
]


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def _number_size(value: int | float | Decimal) -> int:
    """A number's size as DynamoDB counts it (measured: `tests/test_item_size.py`).

    DynamoDB stores a number like Oracle's NUMBER: one exponent byte, then base-100 digits
    aligned on the decimal point, from the first to the last non-zero pair, and for a negative
    number a terminator byte unless it already has the 20 pairs 38 digits can need (1.5 is
    [01].[50]: 3 bytes; 123.4 is [01][23].[40]: 4; -1.5: 4).
    """
    d = value if isinstance(value, Decimal) else Decimal(repr(value) if isinstance(value, float) else value)
    if not d.is_finite():
        raise ValueError(f"DynamoDB cannot store {value!r}")
    if d.is_zero():
        return 1
    negative, digits, _ = d.as_tuple()
    exponent = _exponent(d)
    end = len(digits)  # a Decimal's coefficient has no leading zeros; its trailing ones do not count
    while digits[end - 1] == 0:
        end -= 1
    exponent += len(digits) - end
    odd = (end + exponent) % 2  # digits before the point (negative: zeros after it), odd → a leading 0 pads the pair
    pairs = (end + odd + 1) // 2
    return 1 + pairs + (1 if negative and pairs < 20 else 0)


def _value_size(value: Any) -> int:
    kind = type(value)  # exact types first: most values are plain str, Decimal, int or dict
    if kind is str:
        return _utf8_len(value)
    if kind is Decimal or kind is int:
        return _number_size(value)
    if kind is dict:
        return 3 + sum(1 + _utf8_len(str(k)) + _value_size(v) for k, v in value.items())
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, str):
        return _utf8_len(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return len(value)
    if isinstance(value, (int, float, Decimal)):
        return _number_size(value)
    if isinstance(value, Mapping):
        return 3 + sum(1 + _utf8_len(str(k)) + _value_size(v) for k, v in value.items())
    if isinstance(value, (set, frozenset)):
        return sum(_value_size(v) for v in value)
    if isinstance(value, (list, tuple)):
        return 3 + sum(1 + _value_size(v) for v in value)
    if isinstance(getattr(value, "value", None), bytes):  # boto3's Binary wrapper
        return len(value.value)
    raise TypeError(f"cannot size a {type(value).__name__} as a DynamoDB value")


def item_size_bytes(item: Mapping[str, Any]) -> int:
    """An item's size by DynamoDB's rules: attribute names plus values.

    Strings and binaries count their bytes; a number 1 byte plus its base-100 digits aligned on
    the decimal point, from the first to the last non-zero pair, plus 1 for a negative number of
    fewer than 20 pairs (1.5 → 3 bytes, 123.4 → 4, 1000 → 2, -1.5 → 4, 0 → 1; at most 21);
    booleans and nulls 1; lists and maps 3 plus 1 per element (plus the key's length in maps);
    sets their elements. Measured against DynamoDB Local (`tests/test_item_size.py`): an item
    sized 409,600 here is accepted, 409,601 refused.
    """
    return sum(_utf8_len(name) + _value_size(value) for name, value in item.items())


def _to_dynamo(value: Any) -> Any:
    kind = type(value)  # exact types first: most values are plain str, Decimal or dict
    if kind is str or kind is Decimal:
        return value
    if kind is dict:
        return {k: _to_dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, Mapping):
        return {k: _to_dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_to_dynamo(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return to_decimal(value)  # normalised: a whole number over 38 digits keeps its exponent (1E+50)
    return value


def error_rule(error: Mapping[str, Any]) -> str:
    """A pydantic error as rule text ("is required", "must be ...")."""
    kind = error.get("type")
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not an attribute of this record (unknown names are refused)"
    msg = str(error.get("msg", ""))
    return msg.removeprefix("Value error, ")


def error_path(loc: tuple[str | int, ...]) -> str:
    """A pydantic error location as a dotted field path: `metadata.dataReferences[0].source.table`."""
    out = ""
    for part in loc:
        if part == "[key]":
            continue  # pydantic's marker for "the key itself is wrong"; the rule text says so
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(record)"
