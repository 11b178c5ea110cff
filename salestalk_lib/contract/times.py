"""How every datetime is shown to a person: ISO-8601 UTC, `2026-01-15T09:30:00Z`.

Pure and dependency-free (the standard library only), so error messages, reports and the
CLI all print instants through `format_instant` and look the same everywhere. Stored values
keep their contract forms (unix seconds in `createdAt`, `timestamp`, `ttl`, ...; a message's
`sk` with milliseconds): this module only decides how they are *printed*.

Whole seconds print without a fraction (`2026-01-15T09:30:00Z`); an instant with a fraction
prints it to the millisecond (`2026-01-12T15:04:07.482Z`), or to the microsecond when it has one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def instant_of(value: object) -> datetime | None:
    """The aware UTC datetime of unix seconds (int, Decimal, float) or an aware datetime; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo is not None else None
    if isinstance(value, (int, Decimal, float)):
        try:
            micros = int(Decimal(str(value) if isinstance(value, float) else value) * 1_000_000)
            return _EPOCH + timedelta(microseconds=micros)
        except (InvalidOperation, ValueError, OverflowError):  # NaN, infinities, years beyond 9999
            return None
    return None


def format_instant(value: object) -> str:
    """`value` (unix seconds or an aware datetime) as ISO-8601 UTC: `2026-01-15T09:30:00Z`.

    Anything that is not an instant (None, text, a naive datetime, a number beyond year 9999)
    is returned as `str(value)` ("" for None), so a broken stored value is still shown as it is.
    """
    when = instant_of(value)
    if when is None:
        return "" if value is None else str(value)
    text = f"{when.year:04d}-{when.month:02d}-{when.day:02d}T{when.hour:02d}:{when.minute:02d}:{when.second:02d}"  # not strftime: glibc's %Y does not pad years below 1000
    if when.microsecond % 1000:
        return f"{text}.{when.microsecond:06d}Z"
    if when.microsecond:
        return f"{text}.{when.microsecond // 1000:03d}Z"
    return f"{text}Z"


def format_instants(row: Mapping[str, Any], attributes: Iterable[str]) -> dict[str, Any]:
    """A copy of `row` with each of `attributes` it holds as an instant written by `format_instant`.

    Values that are not instants (a stored string where a number belongs) are left as they are.
    """
    names = set(attributes)
    return {k: (format_instant(v) if k in names and instant_of(v) is not None else v) for k, v in row.items()}
