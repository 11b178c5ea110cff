"""The validation fast path (`fast_message_line`) never accepts what the full path refuses.

`salestalk validate` decides plain messages (the eight required attributes, perhaps `ttl`) on
their decoded values without building a model; everything else, and everything the fast path
does not accept, goes through `parse_json` and `Message.from_item` as before. The fast path
produces no violation of its own, so it is right exactly when every line it accepts is a line
the full path accepts, with the same keys (tenant, messageId, pk, sk: what the rules between
records use). Checked here on the malformed corpus, on every field of a message set to hostile
values, on raw-text variants (repeated keys, escapes, spacing, numbers spelled otherwise), on
generated records, and end to end: the report of `StreamingInput.validate()` (fast path) equals
the report of the full path (`keep_records=True`) on files mixing all of them.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salestalk_lib.contract import keys
from salestalk_lib.contract.errors import ContractError, InputError
from salestalk_lib.contract.models import Message, canonical_json
from salestalk_lib.contract.validation import (
    RecordKind,
    StreamingInput,
    _message_instant,
    _validate_one,
    fast_message_line,
    parse_json,
)
from salestalk_lib.testing.samples import sample_messages

CORPUS = Path(__file__).parent / "malformed" / "corpus.jsonl"
TENANT = "acme-corp-001"
BASE: dict[str, Any] = {
    "tenantId": TENANT,
    "messageId": "d3fbf47a-7e5b-4e7f-9ca5-499d004ae545",
    "sessionId": "e3e70682-c209-4cac-a29f-6fbed82c07cd",
    "pk": "MSG#d3fbf47a-7e5b-4e7f-9ca5-499d004ae545",
    "sk": "2025-11-09T10:00:00.250Z",
    "timestamp": Decimal("1762682400.25"),
    "sender": "user",
    "text": "What was our revenue in Q3?",
}
TTL = Decimal("1770458400")


def full(line: str, tenant_id: str | None = None) -> tuple[str, str, str, str] | None:
    """The full path's decision: the keys of the valid message `line` holds, or None."""
    try:
        record = parse_json(line, "x:1")
    except InputError:
        return None
    model, kind, violations = _validate_one(record, "x:1", tenant_id)
    if model is None or violations:
        return None
    if kind is not RecordKind.MESSAGE:
        return None
    assert isinstance(model, Message)
    return (model.tenant_id, model.message_id, model.pk, model.sk)


def agree(line: str) -> bool:
    """Assert the fast path accepts only what the full path accepts (with and without a tenant); True if it did."""
    accepted = False
    for tenant_id in (None, TENANT, "other-tenant"):
        fast = fast_message_line(line, tenant_id)
        if fast is not None:
            assert full(line, tenant_id) == fast, line
            accepted = True
    return accepted


def dumps(record: dict[str, Any], *, colon: str = ":", comma: str = ",", ascii_strings: bool = False) -> str:
    """A JSON object text of `record` (Decimals as their exact text), with the given separators."""

    def value(v: Any) -> str:
        return json.dumps(v, ensure_ascii=True) if ascii_strings and isinstance(v, str) else canonical_json(v)

    return "{" + comma.join(f"{json.dumps(k)}{colon}{value(v)}" for k, v in record.items()) + "}"


def with_(**changes: Any) -> dict[str, Any]:
    record = dict(BASE)
    for k, v in changes.items():
        if v is _DROP:
            record.pop(k, None)
        else:
            record[k] = v
    return record


_DROP = object()


def test_the_fast_path_accepts_plain_messages_the_full_path_accepts() -> None:
    assert agree(dumps(BASE))
    assert agree(dumps(with_(ttl=TTL)))
    assert agree(dumps(BASE, colon=": ", comma=", "))  # Python's json.dumps spacing
    lines = [canonical_json(m.to_item()) for m in sample_messages(TENANT, 500, seed=3)]
    assert sum(agree(line) for line in lines) == len(lines)


def test_the_malformed_corpus_is_never_accepted_by_the_fast_path_alone() -> None:
    for raw in CORPUS.read_text(encoding="utf-8").splitlines():
        record = json.loads(raw, parse_float=Decimal)["record"]
        if isinstance(record, dict):
            for line in (canonical_json(record), dumps(record, ascii_strings=True)):
                agree(line)


HOSTILE: dict[str, list[Any]] = {
    "tenantId": ["", "ACME", "-acme", "acme-", "a" * 65, "a" * 64, "acme corp", "acme\n", "other-tenant", 1, True],
    "messageId": [
        "D3FBF47A-7E5B-4E7F-9CA5-499D004AE545",
        "d3fbf47a-7e5b-1e7f-9ca5-499d004ae545",
        "d3fbf47a-7e5b-4e7f-7ca5-499d004ae545",
        "d3fbf47a-7e5b-4e7f-9ca5-499d004ae545\n",
        "",
    ],
    "sessionId": ["", "not-a-uuid", "e3e70682-c209-4cac-a29f-6fbed82c07c", 7],
    "pk": ["MSG#D3FBF47A-7E5B-4E7F-9CA5-499D004AE545", "MSGID#d3fbf47a-7e5b-4e7f-9ca5-499d004ae545", "MSG#", ""],
    "sk": [
        "2025-11-09T10:00:00.25Z",
        "2025-11-09T10:00:00.250",
        "2025-02-30T10:00:00.250Z",
        "2025-11-09T24:00:00.250Z",
        "2025-11-09T10:60:00.250Z",
        "2025-11-09T10:00:60.250Z",
        "0000-01-01T00:00:00.000Z",
        "1969-12-31T23:59:59.999Z",
        "1970-01-01T00:00:00.000Z",
        "2025-11-09 10:00:00.250Z",
        "٢٠٢٥-11-09T10:00:00.250Z",
        "2025-11-09T10:00:00.250Z\n",
    ],
    "timestamp": [
        Decimal("1762682400.251"),
        Decimal("1762682400.2500000000000000000000000000000000000000001"),
        Decimal("1762682400.250"),
        Decimal("176268240025E-2"),
        1762682400,
        float("nan"),
        float("inf"),
        "1762682400.25",
        True,
        0,
        -1,
    ],
    "sender": ["USER", "bot", "", "system", "assistant", 0],
    "text": [
        "",
        " ",
        "\t\n",
        "\u00a0",
        "\u2028",
        "line\nbreak\tand\rreturn",
        "bell\x07",
        "esc\x1b[31m",
        "nul\x00",
        "del\x7f",
        "c1\x85",
        "\ud800 lone",
        "pair \U0001f600",
        "x" * 10_000,
        "x" * 10_001,
        "é" * 10_000,
        '"quoted" and \\backslashed\\',
        '"text":"again"',
        "{}",
        ["list"],
        {"map": 1},
    ],
    "ttl": [
        TTL,
        Decimal("1762682400.25"),
        Decimal("1762682400.2500000000000000000000000000000000000001"),
        Decimal("1E+125"),
        Decimal("1E+126"),
        Decimal("12345678901234567890123456789012345678.9"),
        10**40,
        1,
        float("nan"),
        "1770458400",
        False,
    ],
}


@pytest.mark.parametrize("field", sorted(HOSTILE))
def test_every_field_set_to_hostile_values(field: str) -> None:
    for value in [*HOSTILE[field], None, _DROP]:
        record = with_(**{field: value})
        for line in (dumps(record), dumps(record, ascii_strings=True), dumps(record, colon=" : ", comma=" ,\t")):
            agree(line)


@pytest.mark.parametrize(
    "extra",
    [
        {"classification": {"intent": "metric_query"}},
        {"metadata": {"a": 1}},
        {"eventType": "x.y.v1"},
        {"tenant_id": TENANT},
        {"message_id": BASE["messageId"]},
        {"unknown": "x"},
        {"ttl": None},
    ],
)
def test_extra_and_renamed_attributes(extra: dict[str, Any]) -> None:
    assert not agree(dumps({**BASE, **extra}))


def test_raw_text_variants() -> None:
    base = dumps(BASE)
    body = base[1:-1]
    variants = [
        base,
        " " + base,
        base + " ",
        base + "\r",
        "\ufeff" + base,
        base + "x",
        base + "{}",
        base[:-1],
        "[" + base + "]",
        base.replace('"user"', '"us\\u0065r"'),
        base.replace("What", "\\u0057hat"),
        base.replace("What", '\\"What\\"'),
        base.replace("What", "What\\\\"),
        base.replace("What", "\\ud800What"),
        base.replace("What", "\\/What"),
        base.replace('"tenantId"', '"tenant\\u0049d"'),
        base.replace('"tenantId"', '"tenantI\\u0064"'),
        base.replace("1762682400.25", "1762682400.250"),
        base.replace("1762682400.25", "1.76268240025e9"),
        base.replace("1762682400.25", "1.76268240025E+9"),
        base.replace("1762682400.25", "176268240025e-2"),
        base.replace("1762682400.25", "1762682400.2500000000000000000000000000000000000000001"),
        base.replace("1762682400.25", "NaN"),
        base.replace("1762682400.25", "Infinity"),
        base.replace("1762682400.25", "-0"),
        base.replace("1762682400.25", "01762682400.25"),
        base.replace("1762682400.25", "1" * 4301),
        base.replace("What", "What\x01"),  # a raw control character inside a string: not JSON
    ]
    for key, value in BASE.items():  # each key given twice, first or last, with its value or another
        for again in (canonical_json(value), '"x"', "1", "null", "{}", "[]", '{"a":"b"}'):
            variants.append("{" + f'"{key}":{again},' + body + "}")
            variants.append("{" + body + f',"{key}":{again}' + "}")
    variants.append("{" + body + ',"ttl":1770458400,"ttl":1770458400}')
    for line in variants:
        agree(line)
    assert not any(fast_message_line(v) for v in variants[-(len(BASE) * 14 + 1) :])  # no repeated key slips through


def _values(field: str) -> st.SearchStrategy[Any]:
    valid = st.just(BASE.get(field, TTL))
    return st.one_of(valid, valid, st.sampled_from(HOSTILE[field]), st.text(max_size=12), st.integers())


@settings(max_examples=400, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    record=st.fixed_dictionaries(
        {k: _values(k) for k in BASE}, optional={"ttl": _values("ttl"), "extra": st.integers()}
    ),
    ascii_strings=st.booleans(),
    spacing=st.sampled_from([(":", ","), (": ", ", "), (" :", "\n,")]),
    repeat=st.none() | st.sampled_from([*BASE, "ttl"]),
)
def test_generated_records(
    record: dict[str, Any], ascii_strings: bool, spacing: tuple[str, str], repeat: str | None
) -> None:
    line = dumps(record, colon=spacing[0], comma=spacing[1], ascii_strings=ascii_strings)
    if repeat is not None:
        line = "{" + f'"{repeat}":{canonical_json(record.get(repeat, 1))},' + line[1:]
    agree(line.replace("\n", " "))


def test_the_report_is_the_full_paths_report(tmp_path: Path) -> None:
    """End to end: the fast path's report equals the full path's on a file mixing every case above."""
    lines = [canonical_json(m.to_item()) for m in sample_messages(TENANT, 200, seed=5)]
    lines += [lines[3], lines[7].replace('"sk":"', '"sk":"1')]  # a repeated message, a broken one
    lines.append(canonical_json({**json.loads(lines[9], parse_float=Decimal), "sk": "2026-01-01T00:00:00.000Z"}))
    for field, values in HOSTILE.items():
        for value in values:
            lines.append(dumps(with_(**{field: value}), ascii_strings=True))
    base = dumps(BASE)
    lines += ["", "   ", '{"text":"x",' + base[1:], base.replace("What", '\\"What\\"'), base]
    lines = [line.replace("\n", " ") for line in lines]
    jsonl = tmp_path / "mixed.jsonl"
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    array = tmp_path / "mixed.json"  # the array reader, then (a line that is not JSON) the whole-file reader
    array.write_text("[\n" + ",\n".join(line for line in lines if line.strip()) + "\n]\n", encoding="utf-8")
    valid = tmp_path / "valid.json"
    valid.write_text("[" + ",".join(lines[:150]) + "]", encoding="utf-8")
    for paths in ([jsonl], [array], [valid], [valid, jsonl]):
        for tenant_id in (None, TENANT):
            fast = StreamingInput(paths, tenant_id=tenant_id).validate()
            slow = StreamingInput(paths, tenant_id=tenant_id).validate(keep_records=True)
            assert fast.violations == slow.violations
            assert (fast.checked, fast.counts, fast.files) == (slow.checked, slow.counts, slow.files)
            if paths != [valid]:
                assert any(v.field == "messageId" for v in fast.violations)  # the repeated message is found


def _naive_instant(sk: str) -> Decimal | None:
    """The unix seconds an sk would name if its fields were added up unchecked (hour 24, February 30, ...)."""
    from datetime import date

    try:
        y, mo, d, h, mi, s, ms = (
            int(sk[a:b]) for a, b in ((0, 4), (5, 7), (8, 10), (11, 13), (14, 16), (17, 19), (20, 23))
        )
        days = date(y, mo, 1).toordinal() + d - 1 - date(1970, 1, 1).toordinal()
    except ValueError:
        return None
    return Decimal(days * 86_400 + h * 3_600 + mi * 60 + s) + Decimal(ms) / 1000


@pytest.mark.parametrize(
    "sk",
    [
        "2025-11-09T24:00:00.250Z",
        "2025-11-09T23:60:00.250Z",
        "2025-11-09T23:59:60.250Z",
        "2025-11-09T99:99:99.999Z",
        "2025-02-29T10:00:00.000Z",
        "2024-02-30T10:00:00.000Z",
        "2025-04-31T10:00:00.000Z",
        "2025-11-00T10:00:00.000Z",
        "2025-11-09T10:00:00.000Z",
        "2024-02-29T23:59:59.999Z",
        "1970-01-01T00:00:00.000Z",
        "1970-01-01T00:00:00.500Z",
        "1970-01-01T00:00:01.000Z",
        "1969-12-31T23:59:59.999Z",
    ],
)
def test_a_time_that_is_not_one_is_refused_even_when_the_timestamp_adds_up(sk: str) -> None:
    """An sk naming no real time, with a timestamp equal to its fields added up anyway: the fast path refuses it."""
    timestamp = _naive_instant(sk)
    assert timestamp is not None
    agree(dumps(with_(sk=sk, timestamp=timestamp)))
    agree(dumps(with_(sk=sk, timestamp=timestamp, ttl=timestamp + 1)))
    agree(dumps(with_(sk=sk, timestamp=timestamp, ttl=True)))  # a boolean is not a number, not even 1
    if timestamp == 1:
        agree(dumps(with_(sk=sk, timestamp=True)))


def _grammar_instant(sk: str) -> Decimal | None:
    """The key grammar's instant of `sk` when it names a real time after the epoch; None otherwise."""
    try:
        expected = keys.unix_seconds(keys.parse_message_sk(sk))
    except ContractError:
        return None
    return None if expected < 0 else expected


def assert_instant_is_the_grammars(sk: str) -> None:
    """`_message_instant(sk)` is `_grammar_instant(sk)`, asked twice (the second a cache hit)."""
    expected = _grammar_instant(sk)
    for _ in range(2):
        got = _message_instant(sk)
        assert (got is None) == (expected is None), sk
        assert got is None or Decimal(got) == expected, (sk, got, expected)


@settings(max_examples=400, deadline=None)
@given(
    year=st.integers(1960, 2100),
    month=st.integers(0, 13),
    day=st.integers(0, 32),
    hour=st.integers(0, 25),
    minute=st.integers(0, 61),
    second=st.integers(0, 61),
    millis=st.integers(0, 999) | st.just(0),
)
def test_the_instant_of_a_sort_key_is_the_key_grammars(
    year: int, month: int, day: int, hour: int, minute: int, second: int, millis: int
) -> None:
    """`_message_instant` (the fast path's calendar, with a cache of days) equals `keys.unix_seconds(parse_message_sk(sk))`
    when that is a real time after the epoch, and is None otherwise."""
    assert_instant_is_the_grammars(
        f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}.{millis:03d}Z"
    )


@pytest.mark.parametrize("day", ["1969-12-31", "1970-01-01", "2024-02-29", "2025-02-29", "2025-11-09", "2025-13-01"])
def test_every_time_of_a_day_has_the_key_grammars_instant(day: str) -> None:
    """Every hour (0-25), minute (0-61) and second (0-60) of a day, whole and with millis."""
    for hour in range(26):
        for minute in range(62):
            for second in (0, 1, 59, 60):
                for millis in ("000", "001", "500"):
                    assert_instant_is_the_grammars(f"{day}T{hour:02d}:{minute:02d}:{second:02d}.{millis}Z")
