"""Pydantic models of every item and event in the contract, with all their cross-field rules.

Pure: no boto3. Each model is frozen and refuses unknown attributes (only the
free-form `metadata` and `dimensions` maps take arbitrary keys). Python
attributes are snake_case; items, files and JSON Schemas use the contract's
camelCase names. Every model has `to_item()` (the dict boto3's resource layer
takes: Decimals for numbers, no None, no empty strings or sets) and
`from_item(item)`.

| model | item / payload | cross-field rules held here |
|---|---|---|
| `Tenant` | registry item | table names and `s3Prefix` derive from `tenantId`; `updatedAt` ≥ `createdAt`; metadata ≤ 10 KB |
| `Message` | messages table | `pk` = `keys.message_pk(messageId)`; `timestamp` = instant of `sk`; `ttl` after `timestamp`; metadata ≤ 50 KB; `metadata.dataReferences` valid and in the same tenant |
| `SessionRollup` | messages table | `pk` = `keys.session_pk(sessionId)`, `sk` = `keys.session_sk()`; no `timestamp`/`sender` (sparse indexes); last ≥ first |
| `IngestBatch` | messages table | `pk` = `keys.batch_pk(batchId)`, `sk` = `keys.batch_sk()`; counts (and `outcomes`) add up; `ttl` = `startedAt` + 30 days; completed ⇔ `completedAt` and `outcomes`; `eventId` ⇔ metrics; no `timestamp`/`sender` (sparse indexes) |
| `ProcessedEvent` | messages table | `pk` = `keys.event_pk(eventId)`, `sk` = `keys.event_sk()`; `ttl` = `claimedAt` + 30 days; processed ⇔ `processedAt` ≥ `claimedAt`; no `timestamp`/`sender` (sparse indexes) |
| `Metric` | metrics table | `pk` = `keys.metric_pk(subject)`; `metricType` = `subject`; `sk` = period, or `{period}#{dimensionKey}` for a slice; `dimensionKey` names one of `dimensions`; `timestamp` = period start; unit fits subject; metadata ≤ 10 KB |
| `DataReference` | inside narratives | `source.pk`/`source.sk` agree with `metric`/`period`; `source.table` is a metrics table |
| `*Event` | event envelope | `eventType` fixes the payload; references and provisioned tables belong to the envelope's tenant |

Numbers are `Decimal` end to end, and one rule (`dynamodb_number`, contract §7) holds for
every number a model or free-form map carries: an int, a Decimal or a finite float
(converted through its shortest repr, never its binary value); booleans, strings, NaN and
infinities are refused; at most 38 significant digits, magnitude 1E-130 to
9.9999999999999999999999999999999999999E+125 or zero, and no digit below 1E-165 (boto3's
limit). Accepted numbers are normalised as DynamoDB stores them (`-0` and `0E-200` are `0`,
`1.50` is `1.5`), so a number is either refused naming its field or stored and read back
equal. Every item must fit DynamoDB's 400 KB limit by `item_size_bytes`, which sizes
numbers as DynamoDB does (measured on DynamoDB Local).
An explicit `null` is refused everywhere: an absent optional attribute is omitted.

Text and control characters: a one-line field (`NonEmptyText`: a tenant's name, an event's
source, ids and labels) refuses every control character (C0, DEL, C1, U+2028, U+2029), even
TAB and line breaks; message and narrative text (`MessageText`) may hold TAB, LF and CR but no
other control (ESC, BEL, NUL, ...); key parts refuse them by the key grammar. Free-form
`metadata` is stored as given, and the `salestalk` CLI escapes every control character it
prints from stored data.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Context, Decimal, Inexact, InvalidOperation
from enum import Enum
from typing import Annotated, Any, ClassVar, Literal, Self, TypeAlias, TypeVar, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import InitErrorDetails, PydanticCustomError, core_schema

from salestalk_lib.contract import keys
from salestalk_lib.contract.currency import is_currency
from salestalk_lib.contract.errors import ContractError
from salestalk_lib.contract.vocab import (
    NON_CURRENCY_UNITS,
    BatchStatus,
    EventProcessing,
    Intent,
    Measure,
    Plan,
    Sender,
    Subject,
    TenantStatus,
    TimeRangePeriod,
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
        raise ContractError("is outside DynamoDB's number range (1E-130 to 9.9999999999999999999999999999999999999E+125 "
                            "in magnitude)")
    normal = normalised_number(d)
    if _exponent(normal) < _MIN_EXPONENT:
        raise ContractError("has a digit below 1E-165, which boto3 cannot send to DynamoDB "
                            f"(at this magnitude at most {normal.adjusted() - _MIN_EXPONENT + 1} significant digits)")
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
UnixSeconds = Annotated[Number, Field(gt=0)]
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
_CONTROL_NAMES = {"\x00": "NUL", "\x07": "BEL", "\x08": "BS", "\t": "TAB", "\n": "LF (a line break)",
                  "\r": "CR", "\x1b": "ESC", "\x7f": "DEL", "\u2028": "LINE SEPARATOR", "\u2029": "PARAGRAPH SEPARATOR"}


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
NonEmptyText = Annotated[str, Strict(), Field(min_length=1, max_length=NAME_MAX), AfterValidator(_not_blank),
                         AfterValidator(_one_line)]
"""1-256 characters on one line: not only whitespace, no control characters (not even TAB or a line break)."""
MessageText = Annotated[str, Strict(), Field(min_length=1, max_length=TEXT_MAX), AfterValidator(_not_blank),
                        AfterValidator(_text)]
"""1-10,000 characters, not only whitespace; line breaks and tabs allowed, no other control character."""
Name = NonEmptyText
Email = Annotated[EmailStr, Strict()]
TenantId = Annotated[
    str,
    Strict(),
    AfterValidator(_contract_check(keys.validate_tenant_id)),
    Field(json_schema_extra={"pattern": keys.TENANT_ID_PATTERN, "minLength": 1, "maxLength": keys.TENANT_ID_MAX}),
]
"""1-64 lowercase letters, digits and inner `-` (safe inside a table name)."""


def _uuid4(value: str) -> str:
    if not keys.is_uuid4(value):
        raise _rule(f"must be a lowercase UUID v4 (like 8f1c...-4...-a...), got {value!r}")
    return value


def _uuid(value: str) -> str:
    if not _UUID_RE.fullmatch(value):
        raise _rule(f"must be a lowercase canonical UUID, got {value!r}")
    return value


UUID4Str = Annotated[str, Strict(), AfterValidator(_uuid4), Field(json_schema_extra={"pattern": keys.UUID4_PATTERN})]
UUIDStr = Annotated[str, Strict(), AfterValidator(_uuid), Field(json_schema_extra={"pattern": _UUID_RE.pattern})]


PeriodText = Annotated[str, Strict(), AfterValidator(_contract_check(keys.parse_period)),
                       Field(json_schema_extra={"pattern": keys.PERIOD_PATTERN})]
"""`YYYY-QN`, `YYYY-MM` or `YYYY-MM-DD`."""


def _unit(value: str) -> str:
    if value in NON_CURRENCY_UNITS or is_currency(value):
        return value
    raise _rule(
        f"must be an ISO 4217 currency code such as USD or EUR, 'count' or 'percentage' (a fraction), got {value!r}"
    )


Unit = Annotated[str, Strict(), AfterValidator(_unit), Field(json_schema_extra={"pattern": r"^([A-Z]{3}|count|percentage)$"})]
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


DimensionName = Annotated[str, Strict(), AfterValidator(_dimension_name),
                          Field(json_schema_extra={"pattern": keys.DIMENSION_NAME_PATTERN})]
DimensionValue = Annotated[str, Strict(), AfterValidator(_dimension_value),
                           Field(json_schema_extra={"pattern": keys.DIMENSION_VALUE_PATTERN})]
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


MetricSubject = Annotated[Subject, AfterValidator(_metric_subject),
                          Field(json_schema_extra={"enum": [s.value for s in Subject if s != Subject.UNKNOWN]})]


def canonical_json(value: Any) -> str:
    """Compact JSON of a JSON-like value; Decimals are written as their exact number text."""
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{canonical_json(v)}"
                              for k, v in value.items()) + "}"
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
            errors.append(((), f"is {size:,} bytes as JSON; the limit is {limit:,} bytes ({limit // 1024} KB)",
                           "..."))
    return out, errors


def _metadata_check(limit: int) -> Callable[[Any], dict[str, Any]]:
    def check(value: Any) -> dict[str, Any]:
        out, errors = _check_json_map(value, limit)
        _raise_nested("metadata", errors)
        return out

    return check


def _metadata_schema(limit: int) -> Any:
    return Field(json_schema_extra={"description": f"free-form map, at most {limit // 1024} KB as JSON"})


TenantMetadata: TypeAlias = Annotated[dict[str, Any], BeforeValidator(_metadata_check(TENANT_METADATA_LIMIT)),
                                      _metadata_schema(TENANT_METADATA_LIMIT)]
MetricMetadata: TypeAlias = Annotated[dict[str, Any], BeforeValidator(_metadata_check(METRIC_METADATA_LIMIT)),
                                      _metadata_schema(METRIC_METADATA_LIMIT)]
MessageMetadata: TypeAlias = Annotated[dict[str, Any], BeforeValidator(_metadata_check(MESSAGE_METADATA_LIMIT)),
                                       _metadata_schema(MESSAGE_METADATA_LIMIT)]


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


class ContractModel(BaseModel):
    """Base of every contract model: frozen, unknown attributes refused, camelCase on the wire."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,
        serialize_by_alias=True,
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_nulls(cls, value: Any) -> Any:
        """No attribute is null: an absent optional attribute is omitted."""
        # Items never hold None (DynamoDB would store a NULL attribute): absent means omitted.
        if value is None:
            raise _rule("must not be null: omit the attribute instead")
        return value

    @field_validator("tenant_id", check_fields=False)
    @classmethod
    def _tenant_of_the_table(cls, value: str, info: ValidationInfo) -> str:
        """`tenantId` is the tenant whose table the record is read from (when the reader names one)."""
        expected = (info.context or {}).get("tenant_id")
        if expected is not None and value != expected:
            raise _rule(f"is {value!r} but the record belongs to tenant {expected!r}'s table")
        return value

    def to_item(self) -> dict[str, Any]:
        """The DynamoDB item (resource-layer form): camelCase names, Decimal numbers, no None."""
        item: dict[str, Any] = _to_dynamo(self.model_dump(by_alias=True, exclude_none=True))
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any], *, tenant_id: str | None = None) -> Self:
        """Validate an item as read from DynamoDB or a file (contract names only).

        `tenant_id`, when given, is the tenant whose table the item comes from; a
        record of another tenant is refused.
        """
        return cls.model_validate(item, by_alias=True, by_name=False, context={"tenant_id": tenant_id})


class ItemModel(ContractModel):
    """A model stored as one DynamoDB item: checked against the 400 KB item limit."""

    @model_validator(mode="after")
    def _fits_in_an_item(self) -> Self:
        """The item fits DynamoDB's 400 KB item limit, sized by DynamoDB's own rules (`item_size_bytes`)."""
        # Quick bound first: an item's size is at most 2 * (UTF-8 length of its JSON) + 1, because every
        # value's size is at most twice its JSON text: a string counts its bytes inside two quotes; a
        # number of d significant digits takes at most 1 + (d + 2) // 2 bytes, plus 1 if negative, against at
        # least d characters (plus the '-'; pydantic writes a Decimal as a quoted string); true/false/null take
        # 1 byte; a map or list takes 3 + 1 per element against its brackets, separators and quoted keys
        # (see tests/test_item_size.py). Only items that might be large are sized exactly, on the dump
        # (enums, ints and floats size as their item forms do) rather than a built item.
        if 2 * len(self.__pydantic_serializer__.to_json(self, by_alias=True, exclude_none=True)) + 1 <= ITEM_SIZE_LIMIT:
            return self
        size = item_size_bytes(self.model_dump(by_alias=True, exclude_none=True))
        if size > ITEM_SIZE_LIMIT:
            raise _rule(f"item is {size:,} bytes by DynamoDB's size rules; the limit is {ITEM_SIZE_LIMIT:,} (400 KB)")
        return self


class Tenant(ItemModel):
    """A tenant's registry item in `tenants-metadata`."""

    tenant_id: TenantId
    name: Name
    owner_email: Email
    plan: Plan
    status: TenantStatus
    messages_table_name: StrictText
    metrics_table_name: StrictText
    s3_prefix: StrictText
    created_at: UnixSeconds
    updated_at: UnixSeconds
    metadata: TenantMetadata | None = None

    @field_validator("messages_table_name", "metrics_table_name", "s3_prefix")
    @classmethod
    def _derived_from_tenant_id(cls, value: str, info: ValidationInfo) -> str:
        """`messagesTableName`, `metricsTableName` and `s3Prefix` derive from `tenantId` (by the key grammar)."""
        tenant_id = info.data.get("tenant_id")
        if tenant_id is None:
            return value
        if info.field_name is None:  # pydantic names the field of every field validator
            raise TypeError("_derived_from_tenant_id runs only as a field validator")
        derive = {"messages_table_name": keys.messages_table_base, "metrics_table_name": keys.metrics_table_base,
                  "s3_prefix": keys.s3_prefix}[info.field_name]
        expected = derive(tenant_id)
        if value != expected:
            raise _rule(f"must be {expected!r} (derived from tenantId), got {value!r}")
        return value

    @field_validator("updated_at")
    @classmethod
    def _not_before_creation(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        """`updatedAt` ≥ `createdAt`."""
        created = info.data.get("created_at")
        if created is not None and value < created:
            raise _rule(f"must be ≥ createdAt ({created}), got {value}")
        return value

    @classmethod
    def create(cls, *, tenant_id: str, name: str, owner_email: str, plan: Plan | str, created_at: int | Decimal,
               updated_at: int | Decimal | None = None, status: TenantStatus | str = TenantStatus.ACTIVE,
               metadata: Mapping[str, Any] | None = None) -> Tenant:
        """A registry item with its table names and S3 prefix derived from `tenant_id`."""
        fields: dict[str, Any] = dict(
            tenant_id=tenant_id, name=name, owner_email=owner_email, plan=plan, status=status,
            messages_table_name=keys.messages_table_base(tenant_id),
            metrics_table_name=keys.metrics_table_base(tenant_id), s3_prefix=keys.s3_prefix(tenant_id),
            created_at=created_at, updated_at=created_at if updated_at is None else updated_at,
        )
        if metadata is not None:
            fields["metadata"] = metadata
        return cls(**fields)


class TimeRange(ContractModel):
    """The time a question is about: `{period: quarter, value: Q3, year: 2025}`.

    `value` by period: quarter `Q1`-`Q4`, month `01`-`12`, day `MM-DD`, year the year itself.
    """

    period: TimeRangePeriod
    year: Year
    value: StrictText

    @field_validator("value")
    @classmethod
    def _value_fits_period(cls, value: str, info: ValidationInfo) -> str:
        """`value` fits `period`: `Q1`-`Q4`, `01`-`12`, `MM-DD` (a real date in `year`), or the year itself."""
        period, year = info.data.get("period"), info.data.get("year")
        if period is None or year is None:
            return value
        if period == TimeRangePeriod.YEAR:
            if value != f"{year:04d}":
                raise _rule(f"must be the year itself ({year:04d}) when period is 'year', got {value!r}")
            return value
        shapes = {TimeRangePeriod.QUARTER: (keys.Granularity.QUARTER, "Q1-Q4"),
                  TimeRangePeriod.MONTH: (keys.Granularity.MONTH, "01-12"),
                  TimeRangePeriod.DAY: (keys.Granularity.DAY, "MM-DD")}
        granularity, shape = shapes[period]
        try:
            parsed = keys.parse_period(f"{year:04d}-{value}")
        except ContractError:
            parsed = None
        if parsed is None or parsed.granularity is not granularity:
            raise _rule(f"must be {shape} when period is {period.value!r} (a real date in {year}), got {value!r}")
        return value

    def to_period(self) -> keys.Period | None:
        """The key-grammar period this range names (None for a whole year)."""
        if self.period == TimeRangePeriod.YEAR:
            return None
        return keys.parse_period(f"{self.year:04d}-{self.value}")


class Filter(ContractModel):
    """One `{key, value}` restriction, in the dimension grammar (`region` = `Europe`)."""

    key: DimensionName
    value: DimensionValue


class ClassificationComponents(ContractModel):
    """Per-part confidences of a classification (snake_case keys, as the classifier emits them)."""

    model_config = ConfigDict(alias_generator=None, serialize_by_alias=False)

    intent_confidence: Confidence | None = None
    subject_confidence: Confidence | None = None
    measure_confidence: Confidence | None = None
    time_confidence: Confidence | None = None


class Classification(ContractModel):
    """What a user question asks: intent, subject, measure, time range, filters and confidences."""

    intent: Intent
    subject: Subject
    measure: Measure
    time_range: TimeRange | None = None
    filters: tuple[Filter, ...] = ()
    confidence: Confidence
    components: ClassificationComponents | None = None


class DataSource(ContractModel):
    """Where a quoted figure is stored: metrics table base name and the item's keys."""

    table: TableName
    pk: StrictText
    sk: StrictText

    @field_validator("table")
    @classmethod
    def _is_a_metrics_table(cls, value: str) -> str:
        """`table` is a tenant's metrics table base name (`keys.metrics_table_base`), without a deployment prefix."""
        _contract_check(keys.parse_metrics_table_base)(value)
        return value


@dataclass(frozen=True)
class Mismatch:
    """One way a data reference disagrees with the stored metric item."""

    field: str
    reference: Any
    stored: Any

    @property
    def rule(self) -> str:
        return f"reference says {self.reference}, stored item has {self.stored}"

    def __str__(self) -> str:
        return f"{self.field}: {self.rule}"


class DataReference(ContractModel):
    """A figure quoted in a narrative and the metric item it comes from (contract §2.4).

    `source.table` is the tenant's metrics table base name (`tenant-{tenantId}-metrics`,
    without any deployment prefix), so a reference stays valid in every environment.
    """

    metric: MetricSubject
    period: PeriodText
    value: Number
    unit: Unit
    dimensions: Dimensions | None = None
    source: DataSource

    @field_validator("source")
    @classmethod
    def _source_keys_agree(cls, source: DataSource, info: ValidationInfo) -> DataSource:
        """`source.pk` is `metric`'s pk; `source.sk` names `period` and, for a slice, an entry of `dimensions`."""
        errors = []
        metric, period, dims = info.data.get("metric"), info.data.get("period"), info.data.get("dimensions")
        if metric is not None and source.pk != keys.metric_pk(metric):
            errors.append((("pk",), f"must be {keys.metric_pk(metric)!r} (the metric's partition key)", source.pk))
        try:
            sk = keys.parse_metric_sk(source.sk)
        except ContractError as exc:
            errors.append((("sk",), str(exc), source.sk))
        else:
            if period is not None and sk.period.text != period:
                errors.append((("sk",), f"names period {sk.period.text!r} but the reference quotes {period!r}",
                               source.sk))
            # When dimensions failed validation it is missing here; that error is reported on its own.
            if sk.dimension_key is not None and "dimensions" in info.data:
                name, value = keys.parse_dimension_key(sk.dimension_key)
                if (dims or {}).get(name) != value:
                    errors.append((("sk",), f"is the slice {sk.dimension_key!r}, so dimensions must contain "
                                            f"{name}: {value!r}", source.sk))
        _raise_nested("DataSource", errors)
        return source

    @property
    def tenant_id(self) -> str:
        """The tenant whose metrics table the reference points into."""
        return keys.parse_metrics_table_base(self.source.table)

    def check_against(self, item: Metric | Mapping[str, Any] | None) -> list[Mismatch]:
        """Every way this reference disagrees with the stored metric item (empty list: it matches).

        Pure: the caller fetches `item` (by `source.pk`/`source.sk` from `source.table`).
        """
        if item is None:
            return [Mismatch("source", f"{self.source.table} {self.source.pk} {self.source.sk}", "no such item")]
        if not isinstance(item, Metric):
            try:
                item = Metric.from_item(item)
            except ValidationError as exc:
                return [Mismatch("source", "a valid metric item",
                                 f"an invalid item ({exc.error_count()} contract violation(s))")]
        checks = [
            ("source.table", self.source.table, keys.metrics_table_base(item.tenant_id)),
            ("source.pk", self.source.pk, item.pk),
            ("source.sk", self.source.sk, item.sk),
            ("metric", self.metric, item.subject),
            ("period", self.period, item.period.text),
            ("value", self.value, item.value),
            ("unit", self.unit, item.unit),
        ]
        if self.dimensions is not None:
            checks.append(("dimensions", self.dimensions, item.dimensions))
        return [Mismatch(name, ref, stored) for name, ref, stored in checks if ref != stored]


def _references_in_tenant(refs: tuple[DataReference, ...] | list[DataReference], tenant_id: str | None,
                          loc: tuple[str | int, ...]) -> _NestedErrors:
    if tenant_id is None:
        return []
    want = keys.metrics_table_base(tenant_id)
    return [(loc + (i, "source", "table"), f"must be this tenant's metrics table {want!r}", ref.source.table)
            for i, ref in enumerate(refs) if ref.source.table != want]


class KeyedItem(ItemModel):
    """An item whose `pk` is built from one of its own fields by a `keys` builder.

    Each subclass names the field (`_pk_from`) and the builder (`_build_pk`); the
    rule is held once, here.
    """

    _pk_from: ClassVar[str]
    _build_pk: ClassVar[staticmethod[[str], str]]

    @field_validator("pk", check_fields=False)
    @classmethod
    def _pk_built_from_field(cls, value: str, info: ValidationInfo) -> str:
        """`pk` is built from the item's id or subject (`keys.message_pk`, `keys.message_identity_pk`,
        `keys.metric_pk`, `keys.session_pk`, `keys.batch_pk`, `keys.event_pk`)."""
        source = info.data.get(cls._pk_from)
        if source is not None and value != cls._build_pk(source):
            alias = cls.model_fields[cls._pk_from].alias
            raise _rule(f"must be {cls._build_pk(source)!r} (built from {alias}), got {value!r}")
        return value


class Message(KeyedItem):
    """A conversation message in `tenant-{tenantId}-messages`.

    `metadata.dataReferences`, when present, must be a list of valid data references
    into this tenant's metrics table (assistant answers cite their figures there).
    """

    _pk_from = "message_id"
    _build_pk = staticmethod(keys.message_pk)

    tenant_id: TenantId
    message_id: UUID4Str
    session_id: UUID4Str
    pk: StrictText
    sk: StrictText
    timestamp: UnixSeconds
    sender: Sender
    text: MessageText
    classification: Classification | None = None
    metadata: MessageMetadata | None = None
    ttl: UnixSeconds | None = None

    @field_validator("sk")
    @classmethod
    def _sk_is_a_time(cls, value: str) -> str:
        """`sk` is the message time, ISO-8601 UTC with milliseconds (`keys.message_sk`)."""
        _contract_check(keys.parse_message_sk)(value)
        return value

    @field_validator("timestamp")
    @classmethod
    def _timestamp_is_sk_instant(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        """`timestamp` is the unix seconds of the instant `sk` names."""
        sk = info.data.get("sk")
        if sk is not None:
            expected = keys.unix_seconds(keys.parse_message_sk(sk))
            if value != expected:
                raise _rule(f"must be {expected}, the unix seconds of sk {sk}, got {value}")
        return value

    @field_validator("metadata", mode="before")
    @classmethod
    def _data_references_valid(cls, value: Any, info: ValidationInfo) -> Any:
        """`metadata.dataReferences`, when present, are valid data references into this tenant's metrics table."""
        # One pass reports the map's own faults and its references' faults together.
        value, errors = _check_json_map(value, MESSAGE_METADATA_LIMIT)
        raw = value.get("dataReferences") if isinstance(value, Mapping) else None
        if raw is not None and not isinstance(raw, list):
            errors.append((("dataReferences",), "must be a list of data references", raw))
        elif raw is not None:
            refs: list[DataReference] = []
            for i, ref in enumerate(raw):
                try:
                    refs.append(DataReference.model_validate(ref, by_alias=True, by_name=False))
                except ValidationError as exc:
                    errors.extend((("dataReferences", i) + tuple(e["loc"]), error_rule(e), e.get("input"))
                                  for e in exc.errors())
            errors += _references_in_tenant(refs, info.data.get("tenant_id"), ("dataReferences",))
        # A fault inside a reference may also be a map fault (a null, a NaN): report each location once.
        unique = {(loc, msg): (loc, msg, v) for loc, msg, v in errors}
        _raise_nested("metadata", list(unique.values()))
        return value

    @field_validator("ttl")
    @classmethod
    def _ttl_after_message(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        """`ttl` is after `timestamp` (an earlier one would make DynamoDB expire the message at once)."""
        timestamp = info.data.get("timestamp")
        if timestamp is not None and value <= timestamp:
            raise _rule(f"must be after the message time ({timestamp}); DynamoDB would delete it at once")
        return value

    @property
    def at(self) -> datetime:
        """The message time (UTC)."""
        return keys.parse_message_sk(self.sk)

    @property
    def data_references(self) -> tuple[DataReference, ...]:
        """The data references in `metadata.dataReferences` (validated)."""
        raw = (self.metadata or {}).get("dataReferences", [])
        return tuple(DataReference.from_item(r) for r in raw)

    @classmethod
    def create(cls, *, tenant_id: str, session_id: str, sender: Sender | str, text: str, at: datetime,
               message_id: str | None = None, classification: Classification | Mapping[str, Any] | None = None,
               metadata: Mapping[str, Any] | None = None, ttl: int | Decimal | None = None) -> Message:
        """A message with pk, sk and timestamp derived from `message_id` and `at` (a new UUID if none)."""
        message_id = message_id or keys.new_uuid4()
        fields: dict[str, Any] = dict(
            tenant_id=tenant_id, message_id=message_id, session_id=session_id, pk=keys.message_pk(message_id),
            sk=keys.message_sk(at), timestamp=keys.unix_seconds(at), sender=sender, text=text,
            classification=classification, metadata=metadata, ttl=ttl,
        )
        return cls(**{k: v for k, v in fields.items() if v is not None})


class MetadataItem(KeyedItem):
    """An item keyed `{PREFIX}{id}` / `METADATA`: a message identity, a session rollup, an ingest batch, a processed event.

    Each subclass also names its fixed sort key's builder; that rule is held once, here.
    """

    _build_sk: ClassVar[Callable[[], str]]
    _item_kind: ClassVar[str]

    @field_validator("sk", check_fields=False)
    @classmethod
    def _fixed_metadata_sk(cls, value: str) -> str:
        """`sk` is the fixed sort key `METADATA` (`keys.message_identity_sk`, `keys.session_sk`, `keys.batch_sk`,
        `keys.event_sk`)."""
        if value != cls._build_sk():
            raise _rule(f"must be {cls._build_sk()!r} for {cls._item_kind}, got {value!r}")
        return value


class MessageIdentity(MetadataItem):
    """A message's identity item: exactly one per `messageId`, whatever the message's time (contract §7).

    Keyed `keys.message_identity_pk(messageId)` / `keys.message_identity_sk()` in
    the tenant's messages table, and written in the same transaction as its
    message with `attribute_not_exists(pk)`: a second message under the same id
    (at any time) finds this item and is `already_exists` or a `conflict`, never
    a second message item. `messageSk` is the stored message's sort key, so a
    conflict can read and show the stored version. It copies the message's `ttl`,
    so the two expire together. It has no `timestamp`, `sender` or `sessionId`:
    it never appears in SessionIndex or SenderIndex. It is derived: ingestion
    writes it, files never need to carry it.
    """

    _pk_from = "message_id"
    _build_pk = staticmethod(keys.message_identity_pk)
    _build_sk = staticmethod(keys.message_identity_sk)
    _item_kind = "a message identity"

    tenant_id: TenantId
    message_id: UUID4Str
    pk: StrictText
    sk: StrictText
    message_sk: StrictText
    ttl: UnixSeconds | None = None

    @field_validator("message_sk")
    @classmethod
    def _message_sk_is_a_time(cls, value: str) -> str:
        """`messageSk` is a message sort key: the stored message's time (`keys.message_sk`)."""
        _contract_check(keys.parse_message_sk)(value)
        return value

    @property
    def message_key(self) -> dict[str, str]:
        """The primary key of the message this item stands for."""
        return {"pk": keys.message_pk(self.message_id), "sk": self.message_sk}

    @classmethod
    def of(cls, message: Message) -> MessageIdentity:
        """The identity item of `message`."""
        optional = {"ttl": message.ttl} if message.ttl is not None else {}
        return cls(tenant_id=message.tenant_id, message_id=message.message_id,
                   pk=keys.message_identity_pk(message.message_id), sk=keys.message_identity_sk(),
                   message_sk=message.sk, **optional)


class SessionRollup(MetadataItem):
    """A session's summary item, keyed by `keys.session_pk(sessionId)` and `keys.session_sk()`.

    It has no `timestamp` and no `sender`, so it never appears in SessionIndex or
    SenderIndex (sparse indexes). Times are unix seconds of the first and last message.
    """

    _pk_from = "session_id"
    _build_pk = staticmethod(keys.session_pk)
    _build_sk = staticmethod(keys.session_sk)
    _item_kind = "a session rollup"

    tenant_id: TenantId
    session_id: UUID4Str
    pk: StrictText
    sk: StrictText
    message_count: PositiveCount
    first_message_at: UnixSeconds
    last_message_at: UnixSeconds
    last_message_id: UUID4Str | None = None
    updated_at: UnixSeconds | None = None

    @field_validator("last_message_at")
    @classmethod
    def _last_not_before_first(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        """`lastMessageAt` ≥ `firstMessageAt`."""
        first = info.data.get("first_message_at")
        if first is not None and value < first:
            raise _rule(f"must be ≥ firstMessageAt ({first}), got {value}")
        return value

    @classmethod
    def of_messages(cls, messages: list[Message] | tuple[Message, ...]) -> SessionRollup:
        """The rollup of one session's distinct messages (duplicates by messageId count once)."""
        unique = {m.message_id: m for m in messages}
        if not unique:
            raise ContractError("a session rollup needs at least one message")
        sessions = {(m.tenant_id, m.session_id) for m in unique.values()}
        if len(sessions) != 1:
            raise ContractError(f"messages belong to more than one session: {sorted(sessions)}")
        (tenant_id, session_id), = sessions
        ordered = sorted(unique.values(), key=lambda m: (m.sk, m.message_id))
        return cls(tenant_id=tenant_id, session_id=session_id, pk=keys.session_pk(session_id),
                   sk=keys.session_sk(), message_count=len(ordered), first_message_at=ordered[0].timestamp,
                   last_message_at=ordered[-1].timestamp, last_message_id=ordered[-1].message_id)


BATCH_RETENTION_DAYS = 30
BATCH_RETENTION_SECONDS = BATCH_RETENTION_DAYS * 86_400
"""An ingest batch's record is honoured for 30 days (contract §4); its `ttl` says when they end."""
_CONTENT_HASH_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


def _batch_id(value: str) -> str:
    return _contract_check(keys.validate_batch_id)(value)


def _content_hash(value: str) -> str:
    if not _CONTENT_HASH_RE.fullmatch(value):
        raise _rule(f"must be 'sha256:' and 64 lowercase hex digits, got {value!r}")
    return value


BatchId = Annotated[str, Strict(), AfterValidator(_batch_id), Field(json_schema_extra={"pattern": keys.BATCH_ID_PATTERN})]
ContentHash = Annotated[str, Strict(), AfterValidator(_content_hash),
                        Field(json_schema_extra={"pattern": _CONTENT_HASH_RE.pattern})]


def content_hash(records: Iterable[ContractModel]) -> str:
    """`sha256:` fingerprint of a set of records, independent of their order.

    Each record counts as its JSON form (contract names, fields in model order,
    numbers as their exact decimal text, maps in their given key order); the
    lines are sorted before hashing, so reordering a file's records keeps the
    fingerprint and changing any value changes it.
    """
    lines = sorted(r.__pydantic_serializer__.to_json(r, by_alias=True, exclude_none=True) for r in records)
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line + b"\n")
    return "sha256:" + digest.hexdigest()


class BatchOutcomes(ContractModel):
    """How a completed batch's records ended: `created`, `alreadyExists` and `written` (unchecked bulk loads)."""

    created: Count = 0
    already_exists: Count = 0
    written: Count = 0

    @property
    def total(self) -> int:
        return self.created + self.already_exists + self.written


class IngestBatch(MetadataItem):
    """One tenant's share of an ingest batch (contract §4: the batchId is recorded, kept 30 days).

    Stored in the tenant's messages table under `keys.batch_pk(batchId)` /
    `keys.batch_sk()`: the table whose `ttl` attribute the contract lets DynamoDB
    expire. It has no `timestamp`, `sessionId` or `sender`, so it never appears
    in SessionIndex or SenderIndex. `contentHash` fingerprints the tenant's
    records in the batch: the same batch id with other records is a conflict.
    `runToken` names the run that created the record, so a run whose create
    lost its response recognises the record as its own.
    A record whose `ttl` has passed no longer counts, whether or not DynamoDB's
    TTL (off by default) has deleted it yet.
    """

    _pk_from = "batch_id"
    _build_pk = staticmethod(keys.batch_pk)
    _build_sk = staticmethod(keys.batch_sk)
    _item_kind = "an ingest batch"

    tenant_id: TenantId
    batch_id: BatchId
    pk: StrictText
    sk: StrictText
    status: BatchStatus
    content_hash: ContentHash
    record_count: PositiveCount
    message_count: Count
    metric_count: Count
    started_at: UnixSeconds
    ttl: UnixSeconds
    run_token: UUID4Str
    completed_at: UnixSeconds | None = None
    outcomes: BatchOutcomes | None = None
    event_id: UUID4Str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        """Counts add up; `ttl` = `startedAt` + 30 days; completed ⇔ `completedAt` + `outcomes`; `eventId` ⇔ metrics."""
        problems: list[tuple[tuple[str, ...], str, Any]] = []
        if self.message_count + self.metric_count != self.record_count:
            problems.append((("recordCount",), f"must equal messageCount + metricCount "
                                               f"({self.message_count} + {self.metric_count})", self.record_count))
        if self.ttl != self.started_at + BATCH_RETENTION_SECONDS:
            problems.append((("ttl",), f"must be startedAt + {BATCH_RETENTION_DAYS} days "
                                       f"({self.started_at + BATCH_RETENTION_SECONDS})", self.ttl))
        done = self.status is BatchStatus.COMPLETED
        for name, value in (("completedAt", self.completed_at), ("outcomes", self.outcomes)):
            if done and value is None:
                problems.append(((name,), "is required once the batch is completed", value))
            if not done and value is not None:
                problems.append(((name,), "must be absent while the batch is in progress", value))
        if self.completed_at is not None and self.completed_at < self.started_at:
            problems.append((("completedAt",), f"must be ≥ startedAt ({self.started_at})", self.completed_at))
        if self.outcomes is not None and self.outcomes.total != self.record_count:
            problems.append((("outcomes",), f"must add up to recordCount ({self.record_count})",
                             self.outcomes.model_dump(by_alias=True)))
        if (self.event_id is not None) != (self.metric_count > 0):
            rule = ("is required when the batch has metrics (the id of its metrics.ingested.v1 event)"
                    if self.event_id is None else "must be absent when the batch has no metrics")
            problems.append((("eventId",), rule, self.event_id))
        _raise_nested(type(self).__name__, problems)
        return self

    @classmethod
    def begin(cls, *, tenant_id: str, batch_id: str, content_hash: str, message_count: int, metric_count: int,
              started_at: int | Decimal, event_id: str | None, run_token: str) -> IngestBatch:
        """The in-progress record written before a batch's first record."""
        optional = {"event_id": event_id} if event_id is not None else {}
        return cls(tenant_id=tenant_id, batch_id=batch_id, pk=keys.batch_pk(batch_id), sk=keys.batch_sk(),
                   status=BatchStatus.IN_PROGRESS, content_hash=content_hash,
                   record_count=message_count + metric_count, message_count=message_count,
                   metric_count=metric_count, started_at=started_at,
                   ttl=Decimal(started_at) + BATCH_RETENTION_SECONDS, run_token=run_token, **optional)

    def expired(self, now: int | Decimal) -> bool:
        """True from `ttl` on: the batch id may then be used again."""
        return self.ttl <= now


EVENT_RETENTION_SECONDS = BATCH_RETENTION_SECONDS
"""An event's processing record is kept 30 days, like a batch's: redeliveries within them are recognised."""


class ProcessedEvent(MetadataItem):
    """That one tenant's consumer claimed or processed an event (contract §4: event processing, eventId).

    Stored in the tenant's messages table under `keys.event_pk(eventId)` /
    `keys.event_sk()` (see `salestalk_lib.ops.inbox`). `claimToken` identifies the
    delivery holding the claim, so a retried claim whose response was lost is
    recognised as its own. No `timestamp`, `sessionId` or `sender`: never in
    SessionIndex or SenderIndex.
    """

    _pk_from = "event_id"
    _build_pk = staticmethod(keys.event_pk)
    _build_sk = staticmethod(keys.event_sk)
    _item_kind = "a processed event"

    tenant_id: TenantId
    event_id: UUIDStr
    event_type: NonEmptyText
    pk: StrictText
    sk: StrictText
    status: EventProcessing
    claim_token: UUID4Str
    claimed_at: UnixSeconds
    ttl: UnixSeconds
    processed_at: UnixSeconds | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        """`ttl` = `claimedAt` + 30 days; `processedAt` (≥ `claimedAt`) exactly when processed."""
        problems: list[tuple[tuple[str, ...], str, Any]] = []
        if self.ttl != self.claimed_at + EVENT_RETENTION_SECONDS:
            problems.append((("ttl",), f"must be claimedAt + {BATCH_RETENTION_DAYS} days "
                                       f"({self.claimed_at + EVENT_RETENTION_SECONDS})", self.ttl))
        done = self.status is EventProcessing.PROCESSED
        if done and self.processed_at is None:
            problems.append((("processedAt",), "is required once the event is processed", None))
        if not done and self.processed_at is not None:
            problems.append((("processedAt",), "must be absent while the event is being processed", self.processed_at))
        if self.processed_at is not None and self.processed_at < self.claimed_at:
            problems.append((("processedAt",), f"must be ≥ claimedAt ({self.claimed_at})", self.processed_at))
        _raise_nested(type(self).__name__, problems)
        return self

    @classmethod
    def claim(cls, event: EventEnvelope, *, claim_token: str, claimed_at: int | Decimal) -> ProcessedEvent:
        """The record a consumer writes before handling `event`."""
        return cls(tenant_id=event.tenant_id, event_id=event.event_id, event_type=event.event_type,
                   pk=keys.event_pk(event.event_id), sk=keys.event_sk(), status=EventProcessing.PROCESSING,
                   claim_token=claim_token, claimed_at=claimed_at,
                   ttl=Decimal(claimed_at) + EVENT_RETENTION_SECONDS)


# Which kinds of unit make sense for each subject; catches e.g. customers in USD or
# churn_rate as a count, the kind of seed mistake the original checks missed.
_CURRENCY, _COUNT, _PERCENTAGE = "an ISO 4217 currency", "count", "percentage"
SUBJECT_UNITS: dict[Subject, frozenset[str]] = {
    Subject.REVENUE: frozenset({_CURRENCY}),
    Subject.ARR: frozenset({_CURRENCY}),
    Subject.PIPELINE: frozenset({_CURRENCY}),
    Subject.MARGIN: frozenset({_CURRENCY, _PERCENTAGE}),
    Subject.DEALS: frozenset({_COUNT, _CURRENCY}),
    Subject.CUSTOMERS: frozenset({_COUNT}),
    Subject.PRODUCTS: frozenset({_COUNT}),
    Subject.CHURN_RATE: frozenset({_PERCENTAGE}),
    Subject.RENEWAL_RATE: frozenset({_PERCENTAGE}),
}


def _unit_kind(unit: str) -> str:
    return unit if unit in NON_CURRENCY_UNITS else _CURRENCY


class Metric(KeyedItem):
    """A business metric in `tenant-{tenantId}-metrics`: a headline figure or one slice of it.

    Headline: `sk` = period (`2025-Q3`), no `dimensionKey`. Slice: `sk` =
    `{period}#{dimName}:{dimValue}` and `dimensionKey` = `{dimName}:{dimValue}`, which
    must name one entry of `dimensions`. `timestamp` is the period's first instant.
    """

    _pk_from = "subject"
    _build_pk = staticmethod(keys.metric_pk)

    tenant_id: TenantId
    metric_id: UUID4Str
    subject: MetricSubject
    metric_type: MetricSubject
    unit: Unit
    value: Number
    dimensions: Dimensions | None = None
    dimension_key: DimensionKey | None = None
    pk: StrictText
    sk: StrictText
    timestamp: UnixSeconds
    metadata: MetricMetadata | None = None

    @field_validator("metric_type")
    @classmethod
    def _type_is_subject(cls, value: Subject, info: ValidationInfo) -> Subject:
        """`metricType` equals `subject`."""
        subject = info.data.get("subject")
        if subject is not None and value != subject:
            raise _rule(f"must equal subject ({subject.value!r}), got {value.value!r}")
        return value

    @field_validator("unit")
    @classmethod
    def _unit_fits_subject(cls, value: str, info: ValidationInfo) -> str:
        """`unit` suits `subject` (`SUBJECT_UNITS`): revenue in a currency, customers a count, ..."""
        subject = info.data.get("subject")
        if subject is not None and _unit_kind(value) not in SUBJECT_UNITS[subject]:
            allowed = " or ".join(sorted(SUBJECT_UNITS[subject]))
            raise _rule(f"{subject.value} is measured in {allowed}, got {value!r}")
        return value

    @field_validator("value")
    @classmethod
    def _counts_are_whole(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        """A value in unit `count` is a whole number."""
        if info.data.get("unit") == "count" and value != value.to_integral_value():
            raise _rule(f"a count must be a whole number, got {value}")
        return value

    @field_validator("dimension_key")
    @classmethod
    def _names_a_dimension(cls, value: str, info: ValidationInfo) -> str:
        """`dimensionKey` (`{dimName}:{dimValue}`) names one entry of `dimensions`."""
        if "dimensions" not in info.data:
            return value  # dimensions itself failed; reported there
        dims = info.data.get("dimensions") or {}
        name, dim_value = keys.parse_dimension_key(value)
        if dims.get(name) != dim_value:
            raise _rule(f"must name one of dimensions ({name} = {dim_value!r} is not among {dims})")
        return value

    @field_validator("sk")
    @classmethod
    def _sk_is_period_and_slice(cls, value: str, info: ValidationInfo) -> str:
        """`sk` is the period for a headline, `{period}#{dimensionKey}` for a slice (`keys.metric_sk`)."""
        try:
            sk = keys.parse_metric_sk(value)
        except ContractError as exc:
            raise _rule(str(exc)) from None
        if "dimension_key" not in info.data:
            return value  # dimensionKey itself failed; reported there
        dk = info.data["dimension_key"]
        if sk.dimension_key != dk:
            if dk is None:
                raise _rule(f"is a slice ({sk.dimension_key}) but dimensionKey is absent; a headline sk is "
                            f"the period alone ({sk.period.text!r})")
            raise _rule(f"must be {keys.metric_sk(sk.period, dk)!r} ({{period}}#{{dimensionKey}}), got {value!r}")
        return value

    @field_validator("timestamp")
    @classmethod
    def _timestamp_is_period_start(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        """`timestamp` is the unix seconds of the period's first instant, UTC."""
        sk = info.data.get("sk")
        if sk is not None:
            period = keys.parse_metric_sk(sk).period
            if value != period.timestamp:
                raise _rule(f"must be {period.timestamp}, the start of period {period.text} "
                            f"({period.start:%Y-%m-%dT%H:%M:%SZ}), got {value}")
        return value

    @property
    def period(self) -> keys.Period:
        """The period the metric is for."""
        return keys.parse_metric_sk(self.sk).period

    @property
    def is_slice(self) -> bool:
        """True for a dimension slice, False for the headline figure."""
        return self.dimension_key is not None

    def reference(self) -> DataReference:
        """A data reference quoting this metric (contract §2.4)."""
        fields: dict[str, Any] = dict(
            metric=self.subject, period=self.period.text, value=self.value, unit=self.unit,
            source=DataSource(table=keys.metrics_table_base(self.tenant_id), pk=self.pk, sk=self.sk),
        )
        if self.dimensions is not None:
            fields["dimensions"] = self.dimensions
        return DataReference(**fields)

    @classmethod
    def create(cls, *, tenant_id: str, subject: Subject | str, period: str | keys.Period,
               value: int | float | Decimal, unit: str, dimensions: Mapping[str, str] | None = None,
               dimension_key: str | None = None, metric_id: str | None = None,
               metadata: Mapping[str, Any] | None = None) -> Metric:
        """A headline metric, or a slice when `dimension_key` is given; keys and timestamp derived."""
        p = period if isinstance(period, keys.Period) else keys.parse_period(period)
        subject = Subject(subject)
        fields: dict[str, Any] = dict(
            tenant_id=tenant_id, metric_id=metric_id or keys.new_uuid4(), subject=subject, metric_type=subject,
            unit=unit, value=value, dimensions=dict(dimensions) if dimensions is not None else None,
            dimension_key=dimension_key, pk=keys.metric_pk(subject), sk=keys.metric_sk(p, dimension_key),
            timestamp=p.timestamp, metadata=metadata,
        )
        return cls(**{k: v for k, v in fields.items() if v is not None})


class EventMetadata(ContractModel):
    """Envelope metadata: `correlationId` required; further keys allowed (free-form map)."""

    model_config = ConfigDict(extra="allow")

    correlation_id: NonEmptyText
    causation_id: NonEmptyText | None = None
    trace_id: NonEmptyText | None = None

    @model_validator(mode="after")
    def _extras_are_json(self) -> Self:
        """Keys beyond the named ones hold JSON-like values (no nulls, NaN or empty strings)."""
        errors: _NestedErrors = []
        _json_like(self.model_extra or {}, (), errors, 1)
        _raise_nested("EventMetadata", errors)
        return self


class ClassificationPerformed(ContractModel):
    """Payload of `classification.performed.v1`."""

    message_id: UUID4Str
    original_text: MessageText
    classification: Classification
    classifier_model: NonEmptyText
    processing_time_ms: NonNegativeNumber


class QualityMetrics(ContractModel):
    """How sure the narrative generator is of its text."""

    confidence_score: Confidence


class NarrativeGenerated(ContractModel):
    """Payload of `narrative.generated.v1`: the text and the references behind every figure in it."""

    narrative_id: UUID4Str
    message_id: UUID4Str | None = None
    text: MessageText
    data_references: tuple[DataReference, ...]
    quality_metrics: QualityMetrics


class IngestOutcomes(ContractModel):
    """How many records of a batch ended in each outcome.

    `written` counts records of a last-writer-wins bulk load (`--metric-mode
    batch`): written without a condition, so not proven new (they may have
    replaced what another writer stored). Absent in events of producers that
    predate it (it defaults to 0).
    """

    created: Count
    already_exists: Count
    conflicts: Count
    failed: Count
    written: Count = 0

    @property
    def total(self) -> int:
        return self.created + self.already_exists + self.conflicts + self.failed + self.written


class MetricsIngested(ContractModel):
    """Payload of `metrics.ingested.v1`: one ingested batch."""

    batch_id: NonEmptyText
    count: Count
    subjects: tuple[MetricSubject, ...]
    periods: tuple[PeriodText, ...]
    outcomes: IngestOutcomes

    @field_validator("subjects", "periods")
    @classmethod
    def _distinct(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        """`subjects` and `periods` repeat no value, and are not empty when `count` > 0."""
        if len(set(value)) != len(value):
            raise _rule("must not repeat a value")
        if not value and info.data.get("count"):
            raise _rule("must not be empty when count > 0")
        return value

    @field_validator("outcomes")
    @classmethod
    def _outcomes_add_up(cls, value: IngestOutcomes, info: ValidationInfo) -> IngestOutcomes:
        """`outcomes` add up to `count`."""
        count = info.data.get("count")
        if count is not None and value.total != count:
            raise _rule(f"must add up to count ({count}), got {value.total}")
        return value


class ProvisionedTables(ContractModel):
    """The physical table names created for a tenant (a deployment prefix may precede the base name)."""

    messages: TableName
    metrics: TableName


class TenantProvisioned(ContractModel):
    """Payload of `tenant.provisioned.v1`."""

    tenant_id: TenantId
    tables: ProvisionedTables
    plan: Plan

    @field_validator("tables")
    @classmethod
    def _tables_are_the_tenants(cls, value: ProvisionedTables, info: ValidationInfo) -> ProvisionedTables:
        """`tables` are the tenant's own (an optional deployment prefix, then the base name)."""
        tenant_id = info.data.get("tenant_id")
        if tenant_id is not None:
            errors = [((kind,), f"must end with {base!r} (an optional deployment prefix, then the base name)", name)
                      for kind, name, base in (("messages", value.messages, keys.messages_table_base(tenant_id)),
                                               ("metrics", value.metrics, keys.metrics_table_base(tenant_id)))
                      if not name.endswith(base)]
            _raise_nested("ProvisionedTables", errors)
        return value


class EventEnvelope(ItemModel):
    """Fields every event shares (contract §2.5); subclasses fix `eventType` and `data`."""

    event_id: UUIDStr
    event_type: StrictText
    event_version: Literal["1.0"]
    source: NonEmptyText
    timestamp: IsoUtc
    tenant_id: TenantId
    user_id: NonEmptyText | None = None
    session_id: UUID4Str | None = None
    metadata: EventMetadata

    @field_validator("event_type", mode="before")
    @classmethod
    def _event_type_grammar(cls, value: Any) -> Any:
        """`eventType` reads `{domain}.{action}.v{N}`."""
        if isinstance(value, str) and not _EVENT_TYPE_RE.fullmatch(value):
            raise _rule(f"must look like {{domain}}.{{action}}.v{{N}}, got {value!r}")
        return value

    @field_validator("data", mode="wrap", check_fields=False)
    @classmethod
    def _data_in_envelope_tenant(cls, value: Any, handler: Any, info: ValidationInfo) -> Any:
        """`data` stays in the envelope's tenant (its data references and tables are `tenantId`'s)."""
        # Wrap, not after: the tenant rules are reported even when the payload has other faults.
        raw = value.to_item() if isinstance(value, ContractModel) else value
        tenant_id = info.data.get("tenant_id")
        errors = cls._tenant_errors(raw, tenant_id) if isinstance(raw, Mapping) and tenant_id else []
        try:
            result = handler(value)
        except ValidationError as exc:
            errors = [(tuple(e["loc"]), error_rule(e), e.get("input")) for e in exc.errors()] + errors
            result = None
        _raise_nested(cls.__name__, list({(loc, msg): (loc, msg, v) for loc, msg, v in errors}.values()))
        return result

    @classmethod
    def _tenant_errors(cls, data: Mapping[str, Any], tenant_id: str) -> _NestedErrors:
        """(location in data, rule, value) for each way the payload leaves the envelope's tenant."""
        return []


class ClassificationPerformedEvent(EventEnvelope):
    """`classification.performed.v1`: a user message was classified."""

    event_type: Literal["classification.performed.v1"]
    data: ClassificationPerformed


class NarrativeGeneratedEvent(EventEnvelope):
    """`narrative.generated.v1`: an answer was written from metrics it cites."""

    event_type: Literal["narrative.generated.v1"]
    data: NarrativeGenerated

    @classmethod
    def _tenant_errors(cls, data: Mapping[str, Any], tenant_id: str) -> _NestedErrors:
        refs = data.get("dataReferences")
        want = keys.metrics_table_base(tenant_id)
        if not isinstance(refs, list):
            return []
        return [(("dataReferences", i, "source", "table"), f"must be this tenant's metrics table {want!r}", table)
                for i, ref in enumerate(refs)
                if isinstance(ref, Mapping) and isinstance(ref.get("source"), Mapping)
                and isinstance(table := ref["source"].get("table"), str) and table != want]


class MetricsIngestedEvent(EventEnvelope):
    """`metrics.ingested.v1`: a batch of metrics was written."""

    event_type: Literal["metrics.ingested.v1"]
    data: MetricsIngested


class TenantProvisionedEvent(EventEnvelope):
    """`tenant.provisioned.v1`: a tenant's tables exist and are ACTIVE."""

    event_type: Literal["tenant.provisioned.v1"]
    data: TenantProvisioned

    @classmethod
    def _tenant_errors(cls, data: Mapping[str, Any], tenant_id: str) -> _NestedErrors:
        given = data.get("tenantId")
        if given is None or given == tenant_id:
            return []
        return [(("tenantId",), f"must equal the envelope's tenantId {tenant_id!r}", given)]


EVENT_MODELS: dict[str, type[EventEnvelope]] = {
    get_args(m.model_fields["event_type"].annotation)[0]: m
    for m in (ClassificationPerformedEvent, NarrativeGeneratedEvent, MetricsIngestedEvent, TenantProvisionedEvent)
}
"""Event class by `eventType`."""

ITEM_MODELS: tuple[type[ContractModel], ...] = (Tenant, Message, MessageIdentity, SessionRollup, IngestBatch,
                                                ProcessedEvent, Metric)
SCHEMA_MODELS: tuple[type[ContractModel], ...] = (
    Tenant, Message, Classification, TimeRange, Filter, ClassificationComponents, MessageIdentity, SessionRollup,
    IngestBatch,
    BatchOutcomes, ProcessedEvent, Metric, DataReference, DataSource, EventMetadata, *EVENT_MODELS.values(),
)
"""The models `salestalk schema` writes a JSON Schema for."""


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


class ContractJsonSchema(GenerateJsonSchema):
    """JSON Schema as the contract reads: numbers are numbers, optional means absent (never null)."""

    def decimal_schema(self, schema: core_schema.DecimalSchema) -> JsonSchemaValue:
        json_schema: JsonSchemaValue = {"type": "number"}
        self.update_with_validations(json_schema, schema, self.ValidationsMapping.numeric)
        return json_schema

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False  # the property name is the title; pydantic would title-case the Python name

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def generate(self, schema: core_schema.CoreSchema, mode: Any = "validation") -> JsonSchemaValue:
        generated: JsonSchemaValue = _standard_bounds(super().generate(schema, mode=mode))
        return generated

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        if schema.get("default", ...) is None:
            return self.generate_inner(schema["schema"])
        return super().default_schema(schema)


_BOUND_KEYWORDS = {"gt": "exclusiveMinimum", "ge": "minimum", "lt": "exclusiveMaximum", "le": "maximum"}


def _standard_bounds(node: Any) -> Any:
    # Bounds on an annotated Decimal or validated int come out under pydantic's names (gt, le); JSON Schema has its own.
    if isinstance(node, dict):
        return {(_BOUND_KEYWORDS.get(k, k) if node.get("type") in ("number", "integer") else k): _standard_bounds(v)
                for k, v in node.items()}
    if isinstance(node, list):
        return [_standard_bounds(v) for v in node]
    return node


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema of a contract model (validation mode, contract names)."""
    return model.model_json_schema(by_alias=True, schema_generator=ContractJsonSchema)


def schema_file_name(model: type[BaseModel]) -> str:
    """`ClassificationPerformedEvent` → `classification-performed-event.schema.json`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", model.__name__).lower() + ".schema.json"


def schema_documents() -> dict[str, dict[str, Any]]:
    """One JSON Schema document per contract model, keyed by file name."""
    docs = {}
    for model in SCHEMA_MODELS:
        doc = {"$schema": "https://json-schema.org/draft/2020-12/schema", **json_schema(model)}
        docs[schema_file_name(model)] = doc
    return docs


def event_json(event: EventEnvelope) -> str:
    """The envelope as compact JSON with the contract's names (absent optionals omitted)."""
    return event.model_dump_json(by_alias=True, exclude_none=True)
