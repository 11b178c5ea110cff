"""Hypothesis fuzzing of everything a user hands the library: records, key strings, CLI parameters.

The only exceptions allowed out are the library's own (`salestalk_lib.contract.errors`); a record the
contract accepts must serialise through the storage seam and read back equal (the seam is never
the first place a bad value is found). Every run is the same: derandomized, a fixed number of
examples, no deadline (the machine is shared; time is not what is tested).
"""

from __future__ import annotations

import copy
import importlib.util
import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from snapshots import snapshot

from salestalk_lib.cli.main import main
from salestalk_lib.contract import keys
from salestalk_lib.contract.errors import ConfigurationError, SalesTalkError
from salestalk_lib.contract.models import ITEM_SIZE_LIMIT, canonical_json, item_size_bytes
from salestalk_lib.contract.settings import Settings
from salestalk_lib.contract.validation import validate_record, validate_records
from salestalk_lib.dynamo.storage import deserialize, serialize
from salestalk_lib.ops import patterns
from salestalk_lib.ops.connection import connect
from salestalk_lib.testing.faults import FAULT_KINDS, FaultProfile


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
    )


_CORPUS = Path(__file__).resolve().parents[1] / "malformed" / "make_corpus.py"
_spec = importlib.util.spec_from_file_location("make_corpus_bases", _CORPUS)
corpus = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(corpus)
# Valid records of every kind, built from the contract (the malformed corpus's bases).
BASES: dict[str, dict[str, Any]] = {
    "tenant": corpus.tenant(),
    "question": corpus.question().to_item(),
    "answer": corpus.answer().to_item(),
    "metric": corpus.metric().to_item(),
    "slice": corpus.slice_(),
    "rollup": corpus.rollup(),
    "classified": corpus.classified(),
    "narrative": corpus.narrative(),
    "ingested": corpus.ingested(),
    "provisioned": corpus.provisioned(),
}

SPECIAL_STRINGS = [
    "",
    " ",
    "\t",
    "#",
    "##",
    ":",
    "::",
    "MSG#",
    "SESSION#",
    "METRIC#",
    "BATCH#",
    "EVENT#",
    "METADATA",
    "metadata",
    "2025-Q3",
    "2025-Q0",
    "2025-Q5",
    "2025-13",
    "2025-00",
    "2025-02-29",
    "2024-02-29",
    "0000-01-01",
    "9999-12-31",
    "٢٠٢٥-Q3",
    "２０２５-Q3",
    "2025-Q3#region:Europe",
    "2025-Q3#region:",
    "2025-Q3#:x",
    "2025-Q3##x",
    "2025-11-09T10:00:00.000Z",
    "2025-11-09T24:00:00.000Z",
    "2025-11-09T10:00:00Z",
    "2025-11-09T10:00:60.000Z",
    "tenant-acme-corp-001-metrics",
    "tenant--metrics",
    "tenant-ACME-metrics",
    "acme-corp-001",
    "a" * 64,
    "a" * 65,
    "../x",
    "x/../../y",
    "\x00",
    "\x1b[2J",
    "\u2028",
    "\u202e",
    "\ufeff",
    "\ud800",
    "NaN",
    "Infinity",
    "-0",
    "1E+999999",
    "1" * 39,
    "9" * 5000,
    "x" * 10_000,
    "8f1c3a5e-0b7d-4c2a-9e6f-1a2b3c4d5e6f",
    "8F1C3A5E-0B7D-4C2A-9E6F-1A2B3C4D5E6F",
    "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
]
PREFIXES = ["MSG#", "SESSION#", "METRIC#", "BATCH#", "EVENT#", "tenant-", "2025-Q3#", "region:", ""]
HOSTILE_STRINGS = st.one_of(
    st.sampled_from(SPECIAL_STRINGS),
    st.text(max_size=40),
    st.text(alphabet=st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Zs", "Nd", "Mn"]), max_size=12),
    st.builds(
        lambda prefix, rest: prefix + rest,
        st.sampled_from(PREFIXES),
        st.one_of(st.sampled_from(SPECIAL_STRINGS), st.text(max_size=20)),
    ),
)
NUMBERS = st.one_of(
    st.sampled_from(
        [
            Decimal("0E-200"),
            Decimal("-0"),
            Decimal("1." + "0" * 45),
            Decimal("1762682400." + "0" * 33),
            Decimal("1E+126"),
            Decimal("1E-131"),
            Decimal("1.2345678901234567890123456789012345678E-130"),
            Decimal("sNaN"),
            Decimal("-Infinity"),
            10**50,
            -(10**39),
            2**63,
            float("nan"),
            5e-324,
        ]
    ),
    # significant digits with zeros after them, at any exponent: what DynamoDB trims and boto3 counts
    st.builds(
        lambda sign, digits, zeros, exp: Decimal((sign, (*digits, *([0] * zeros)), exp)),
        st.integers(0, 1),
        st.lists(st.integers(0, 9), min_size=1, max_size=45),
        st.integers(0, 60),
        st.integers(-250, 200),
    ),
    st.integers(-300, 300).map(lambda exp: Decimal((0, (0,), exp))),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.integers(-(10**60), 10**60),
    st.floats(allow_nan=True, allow_infinity=True),
)
SCALARS = st.one_of(HOSTILE_STRINGS, NUMBERS, st.booleans(), st.none(), st.binary(max_size=4))
HOSTILE_VALUES = st.one_of(
    SCALARS,
    st.recursive(
        SCALARS,
        lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(HOSTILE_STRINGS, inner, max_size=3)),
        max_leaves=8,
    ),
    st.integers(30, 70).map(lambda depth: _nested(depth)),
)


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"n": value}
    return value


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside a record (maps and lists), the record's own attributes included."""
    found = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        found.append(prefix + (key,))
        found.extend(_paths(child, prefix + (key,)))
    return found


def _mutate(record: dict, path: tuple, action: str, value: Any, extra_name: str) -> dict:
    record = copy.deepcopy(record)
    target = record
    for part in path[:-1]:
        target = target[part]
    if action == "delete":
        del target[path[-1]]
    elif action == "add" and isinstance(target, dict):
        target[extra_name] = value
    else:
        target[path[-1]] = value
    return record


def _number_paths(record: dict) -> list[tuple]:
    def at(path: tuple) -> Any:
        value = record
        for part in path:
            value = value[part]
        return value

    return [p for p in _paths(record) if isinstance(at(p), (int, Decimal)) and not isinstance(at(p), bool)]


@st.composite
def hostile_records(draw) -> dict:
    record = BASES[draw(st.sampled_from(sorted(BASES)))]
    for _ in range(draw(st.integers(1, 3))):
        numbers = _number_paths(record)
        if numbers and draw(st.booleans()):  # half the time: a number field gets a hostile number
            record = _mutate(record, draw(st.sampled_from(numbers)), "set", draw(NUMBERS), "")
            continue
        paths = _paths(record)
        if not paths:
            break
        record = _mutate(
            record,
            draw(st.sampled_from(paths)),
            draw(st.sampled_from(["set", "set", "delete", "add"])),
            draw(HOSTILE_VALUES),
            draw(HOSTILE_STRINGS),
        )
    return record


def _round_trips(model) -> None:
    """What the contract accepted is stored and read back equal, within DynamoDB's item limit."""
    item = model.to_item()
    wire = json.loads(json.dumps(serialize(item)))  # botocore sends the typed item as JSON
    assert type(model).from_item(deserialize(wire)) == model
    assert item_size_bytes(item) <= ITEM_SIZE_LIMIT


# --- validation ----------------------------------------------------------------------------


@fuzz(400)
@given(hostile_records())
def test_a_hostile_record_gets_violations_or_round_trips(record):
    try:
        model, violations = validate_record(record, "r:1")
    except SalesTalkError:
        return
    if model is None:
        assert violations and all(v.where == "r:1" and v.field and v.rule for v in violations)
    else:
        assert violations == []
        _round_trips(model)


@fuzz(150)
@given(st.lists(hostile_records(), min_size=1, max_size=4), st.sampled_from(sorted(BASES)))
def test_hostile_records_validated_together_only_report(records, base):
    try:
        violations = validate_records([BASES[base], *records], "f")
    except SalesTalkError:
        return
    assert all(v.where.startswith("f:") and v.field and v.rule for v in violations)


# --- key parsing -----------------------------------------------------------------------------


def parse_messages_table_base(name: str) -> str:
    """The tenant id inside `tenant-{tenantId}-messages` (the library parses full names: parse_table_name)."""
    return keys._tenant_of_table_base(name, keys.MESSAGES_TABLE_SUFFIX)


# parser -> builder that must give the parsed text back
ROUND_TRIPS = {
    keys.validate_tenant_id: lambda parsed: parsed,
    keys.validate_batch_id: lambda parsed: parsed,
    keys.parse_message_pk: keys.message_pk,
    keys.parse_message_sk: keys.message_sk,
    keys.parse_session_pk: keys.session_pk,
    keys.parse_batch_pk: keys.batch_pk,
    keys.parse_event_pk: keys.event_pk,
    keys.parse_period: lambda parsed: parsed.text,
    keys.parse_metric_pk: keys.metric_pk,
    keys.parse_dimension_key: lambda parsed: keys.dimension_key(*parsed),
    keys.parse_metric_sk: lambda parsed: keys.metric_sk(parsed.period, parsed.dimension_key),
    parse_messages_table_base: keys.messages_table_base,
    keys.parse_metrics_table_base: keys.metrics_table_base,
}
BUILDERS = [
    keys.message_pk,
    keys.session_pk,
    keys.batch_pk,
    keys.event_pk,
    keys.metric_pk,
    keys.messages_table_base,
    keys.metrics_table_base,
    keys.s3_prefix,
    keys.metric_slice_prefix,
    keys.pk_kind,
    keys.is_uuid4,
]


@fuzz(400)
@given(st.sampled_from(sorted(ROUND_TRIPS, key=lambda f: f.__name__)), HOSTILE_STRINGS)
def test_a_key_parser_parses_and_rebuilds_the_same_text_or_raises_a_key_error(parse, text):
    try:
        parsed = parse(text)
    except SalesTalkError:
        return
    assert ROUND_TRIPS[parse](parsed) == text


@fuzz(300)
@given(st.sampled_from(BUILDERS), HOSTILE_STRINGS)
def test_a_key_builder_builds_something_its_parser_reads_back_or_raises_a_key_error(build, text):
    try:
        built = build(text)
    except SalesTalkError:
        return
    parse = {
        keys.message_pk: keys.parse_message_pk,
        keys.session_pk: keys.parse_session_pk,
        keys.batch_pk: keys.parse_batch_pk,
        keys.event_pk: keys.parse_event_pk,
        keys.metric_pk: keys.parse_metric_pk,
        keys.messages_table_base: parse_messages_table_base,
        keys.metrics_table_base: keys.parse_metrics_table_base,
    }.get(build)
    if parse is not None:
        assert parse(built) == text


@fuzz(200)
@given(HOSTILE_STRINGS, HOSTILE_STRINGS)
def test_a_dimension_key_is_built_only_from_parts_that_read_back(name, value):
    try:
        built = keys.dimension_key(name, value)
    except SalesTalkError:
        return
    assert keys.parse_dimension_key(built) == (name, value)


# --- CLI parameters --------------------------------------------------------------------------

PATTERN_PARAMS = sorted({(p.name, param.name) for p in patterns.PATTERNS for param in p.params})


@fuzz(400)
@given(st.sampled_from(PATTERN_PARAMS), HOSTILE_STRINGS)
def test_a_hostile_pattern_parameter_is_a_contract_error(pattern_param, text):
    name, param = pattern_param
    pattern = patterns.get(name)
    try:
        pattern.check_params({**pattern.example, param: text})
    except SalesTalkError:
        return


@pytest.fixture(scope="module")
def conn(endpoint):
    return connect(settings=Settings(table_prefix=f"t{uuid.uuid4().hex[:10]}-", environment="test"), endpoint=endpoint)


def _cli(capsys, *argv: str) -> tuple[int, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out + err


@fuzz(30)
@given(st.sampled_from(PATTERN_PARAMS), HOSTILE_STRINGS)
def test_query_explain_with_a_hostile_param_exits_0_or_2(capsys, conn, pattern_param, text):
    name, param = pattern_param
    registry = patterns.get(name).table.name == "REGISTRY"
    tenant = [] if registry else ["--tenant", "acme-corp-001"]
    code, output = _cli(
        capsys,
        "query",
        name,
        *tenant,
        "--example",
        f"--param={param}={text}",
        "--explain",
        "--endpoint-url",
        conn.endpoint.url,
        "--table-prefix",
        conn.settings.table_prefix,
    )
    assert code in (0, 2), output


def test_query_with_unix_seconds_over_38_digits_is_refused_not_a_decimal_error(capsys, conn):
    code, output = _cli(
        capsys,
        "query",
        "messages_by_sender",
        "--tenant",
        "acme-corp-001",
        "--param",
        "sender=user",
        "--param",
        "start=5",
        "--param",
        "end=" + "1" * 39,
        "--explain",
        "--endpoint-url",
        conn.endpoint.url,
        "--table-prefix",
        conn.settings.table_prefix,
    )
    # Refused before the seam (it was decimal.Inexact there): a time bound has at most 12 digits and 6 decimals,
    # so every accepted one is a number DynamoDB stores exactly.
    assert (
        code == 2 and "parameter end: '" + "1" * 39 + "' is not a time: unix seconds have at most 12 digits" in output
    )
    assert "Traceback" not in output and "Inexact" not in output


@fuzz(100)
@given(HOSTILE_STRINGS)
def test_a_hostile_tenant_id_on_the_command_line_exits_0_or_2(capsys, tmp_path_factory, text):
    valid = _is(keys.validate_tenant_id, text)
    code, output = _cli(capsys, "tenant", "policy", "--role", "reader", "--", text)
    assert code == (0 if valid else 2), output
    if not valid:
        assert "tenant id" in output


@fuzz(100)
@given(HOSTILE_STRINGS)
def test_a_hostile_batch_id_is_refused_before_anything_is_written(capsys, conn, tmp_path_factory, text):
    if _is(keys.validate_batch_id, text):
        assert keys.validate_batch_id(text) == text  # accepted ids are plain; writing with one is tested elsewhere
        return
    path = tmp_path_factory.mktemp("batch") / "m.jsonl"
    path.write_text(canonical_json(BASES["metric"]) + "\n", encoding="utf-8")
    before = snapshot(conn)
    code, output = _cli(
        capsys,
        "ingest",
        str(path),
        f"--batch-id={text}",
        "--no-progress",
        "--endpoint-url",
        conn.endpoint.url,
        "--table-prefix",
        conn.settings.table_prefix,
    )
    assert code == 2 and "--batch-id" in output and "nothing was written" in output
    assert snapshot(conn) == before


FAULT_VALUES = st.one_of(
    st.sampled_from(
        [
            "0",
            "0.2",
            "1",
            "nan",
            "inf",
            "-inf",
            "1e999",
            "-0",
            "0x10",
            "1_0",
            "٣",
            "1" * 5000,
            "",
            " ",
            "=",
            "0.5,",
            "True",
        ]
    ),
    HOSTILE_STRINGS,
)
FAULT_PROFILES = st.one_of(
    HOSTILE_STRINGS,
    st.lists(
        st.tuples(st.sampled_from([*FAULT_KINDS, "seed", "read_timeout", "bogus", ""]), FAULT_VALUES), max_size=4
    ).map(lambda parts: ",".join(f"{k}={v}" for k, v in parts)),
)


@fuzz(300)
@given(FAULT_PROFILES)
def test_a_fault_profile_parses_to_one_that_prints_the_same_or_is_a_configuration_error(text):
    try:
        profile = FaultProfile.parse(text)
    except ConfigurationError:
        return
    assert FaultProfile.parse(str(profile)) == profile


@fuzz(60)
@given(FAULT_PROFILES)
def test_a_hostile_faults_option_is_a_usage_error_or_reaches_validation(capsys, tmp_path_factory, text):
    path = tmp_path_factory.mktemp("faults") / "empty.jsonl"
    path.write_text("", encoding="utf-8")  # bad input: ingest stops before it connects
    code, output = _cli(capsys, "ingest", str(path), f"--faults={text}", "--no-progress")
    assert code == 2, output
    assert ("argument --faults" in output) != _is(FaultProfile.parse, text)


def _is(parse, text: str) -> bool:
    try:
        parse(text)
    except SalesTalkError:
        return False
    return True
