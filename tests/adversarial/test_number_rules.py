"""Numbers follow DynamoDB's rules exactly (contract §7): each is refused naming its field, or stored and read back equal.

Reproductions of issue 10 item 3 (`0E-200`, `1.000…0` and timestamps with long zero tails passed
`validate`, then `ingest` wrote other records and died with `decimal.Clamped`/`Rounded` in the
storage seam), the rule against what DynamoDB Local accepts (`tests/measured_dynamodb.py`), and
properties of the rule against boto3's number context.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal, localcontext

import pytest
from boto3.dynamodb.types import DYNAMODB_CONTEXT, TypeSerializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from measured_dynamodb import NUMBER_ACCEPTANCE
from snapshots import snapshot

from salestalk_lib.cli.main import main
from salestalk_lib.contract import models
from salestalk_lib.contract.errors import ContractError
from salestalk_lib.contract.models import Message, Metric, Tenant, dynamodb_number
from salestalk_lib.contract.settings import Settings
from salestalk_lib.dynamo.storage import deserialize, deserialize_value, serialize, serialize_value
from salestalk_lib.ops.connection import connect
from salestalk_lib.ops.tenants import FixedClock, Tenants

FUZZ = settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TENANT = "acme-corp-001"
BOTO3 = TypeSerializer()
# Stricter than DynamoDB on purpose: boto3's number context cannot carry a digit below 1E-165.
BOTO3_ONLY_REFUSES = {"1.2345678901234567890123456789012345678E-130"}


def _metric(**over) -> dict:
    record = {
        "tenantId": TENANT,
        "metricId": "7a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d",
        "subject": "revenue",
        "metricType": "revenue",
        "unit": "USD",
        "value": 1,
        "pk": "METRIC#revenue",
        "sk": "2025-Q3",
        "timestamp": 1751328000,
    }
    return {**record, **over}


def _message(**over) -> dict:
    message_id = "ac27d6c2-344a-415e-9da8-c93f71181091"
    record = {
        "tenantId": TENANT,
        "messageId": message_id,
        "sessionId": "cd27e0f5-bbcd-4025-a2da-5be3ca9bd8b5",
        "pk": f"MSG#{message_id}",
        "sk": "2025-11-09T10:00:00.000Z",
        "timestamp": 1762682400,
        "sender": "user",
        "text": "What was our revenue in Q3 2025?",
    }
    return {**record, **over}


def _jsonl(path, records: list[str]) -> None:
    path.write_text("".join(r + "\n" for r in records), encoding="utf-8")


def _with_number(record: dict, field: str, number_text: str) -> str:
    """The record as a JSON line whose `field` holds the literal `number_text` (json cannot write it)."""
    marker = "__NUMBER__"
    return json.dumps({**record, field: marker}).replace(f'"{marker}"', number_text)


# --- the rule against DynamoDB Local ---------------------------------------------------


@pytest.mark.parametrize(("text", "answer"), list(NUMBER_ACCEPTANCE.items()))
def test_the_rule_accepts_what_dynamodb_local_stores_and_normalises_it_the_same_way(text, answer):
    if answer.startswith("refused") or text in BOTO3_ONLY_REFUSES:
        with pytest.raises(ContractError):
            dynamodb_number(Decimal(text))
        return
    number = dynamodb_number(Decimal(text))
    assert number == Decimal(answer)
    assert format(number, "f") == answer  # the same digits DynamoDB Local read back


def test_the_boto3_limit_is_boto3s_own_context():
    assert DYNAMODB_CONTEXT.Etiny() == models._MIN_EXPONENT
    assert DYNAMODB_CONTEXT.prec == models.DYNAMODB_MAX_DIGITS


# --- properties --------------------------------------------------------------------------

DECIMALS = st.builds(
    lambda sign, digits, zeros, exponent: Decimal((sign, (*digits, *([0] * zeros)), exponent)),
    st.integers(0, 1),
    st.lists(st.integers(0, 9), min_size=1, max_size=45),
    st.integers(0, 60),
    st.integers(-250, 200),
)
ANY_NUMBER = st.one_of(
    DECIMALS,
    st.decimals(allow_nan=True, allow_infinity=True),
    st.integers(-(10**60), 10**60),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=5),
    st.none(),
)


@FUZZ
@given(ANY_NUMBER)
def test_every_value_is_a_storable_number_or_a_contract_error(value):
    try:
        number = dynamodb_number(value)
    except ContractError:
        return
    # boto3 writes it without a signal: its own serializer and the seam's give the same text.
    with localcontext(DYNAMODB_CONTEXT) as ctx:
        ctx.clear_flags()
        assert DYNAMODB_CONTEXT.create_decimal(number) == number
    sent = serialize_value(number)
    assert sent == BOTO3.serialize(number)
    # DynamoDB answers with plain digits (DynamoDB Local: 1E+50 comes back as 1 and fifty zeros).
    answered = {"N": format(number, "f")}
    for wire in (sent, answered):
        read = deserialize_value(wire)
        assert read == number and str(read) == str(number)
        assert serialize_value(read) == sent  # and can be written again
    assert dynamodb_number(number) == number and str(dynamodb_number(number)) == str(number)  # normal form


@FUZZ
@given(DECIMALS)
def test_a_metric_either_refuses_its_value_naming_it_or_stores_and_reads_it_back_equal(raw):
    from pydantic import ValidationError

    try:
        metric = Metric.from_item(_metric(value=raw))
    except ValidationError as exc:
        assert [e["loc"] for e in exc.errors()] == [("value",)]
        return
    item = metric.to_item()
    assert item["value"] == raw
    back = deserialize(json.loads(json.dumps(serialize(item))))
    assert Metric.from_item(back) == metric


# --- reproductions through the CLI --------------------------------------------------------


@pytest.fixture
def tenant_st(endpoint):
    """A registered, active tenant under a prefix of its own."""
    st = connect(settings=Settings(table_prefix=f"t{uuid.uuid4().hex[:10]}-", environment="test"), endpoint=endpoint)
    Tenants.of(st, clock=FixedClock(1762682400)).onboard(TENANT, name="ACME", owner_email="ops@acme.example")
    return st


def _conn(st) -> list[str]:
    return ["--endpoint-url", st.endpoint.url, "--table-prefix", st.settings.table_prefix, "--no-progress"]


def test_numbers_that_crashed_ingest_are_stored_and_read_back_equal(capsys, tenant_st, tmp_path):
    zero_tail = "1762682400." + "0" * 33
    lines = [
        _with_number(_metric(), "value", "0E-200"),
        _with_number(
            _metric(
                metricId="2b3c4d5e-6f70-4819-a2b3-c4d5e6f70819",
                subject="margin",
                metricType="margin",
                pk="METRIC#margin",
                unit="percentage",
            ),
            "value",
            "1." + "0" * 45,
        ),
        _with_number(_message(metadata={"latencyMs": "__X__"}), "timestamp", zero_tail).replace(
            '"__X__"', "12.5000000000000000000000000000000000000000"
        ),
    ]
    path = tmp_path / "numbers.jsonl"
    _jsonl(path, lines)
    assert main(["validate", str(path)]) == 0
    capsys.readouterr()
    code = main(["ingest", str(path), *_conn(tenant_st)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Traceback" not in out + err
    scope = tenant_st.tenant(TENANT)
    revenue = scope.storage.get_item(scope.metrics_table, {"pk": "METRIC#revenue", "sk": "2025-Q3"})
    margin = scope.storage.get_item(scope.metrics_table, {"pk": "METRIC#margin", "sk": "2025-Q3"})
    message = scope.storage.get_item(scope.messages_table, {"pk": _message()["pk"], "sk": _message()["sk"]})
    assert revenue["value"] == 0 and margin["value"] == 1
    assert message["timestamp"] == 1762682400 and message["metadata"]["latencyMs"] == Decimal("12.5")
    assert Metric.from_item(revenue) == Metric.from_item(json.loads(lines[0], parse_float=Decimal))
    assert Message.from_item(message).timestamp == Decimal(zero_tail)


@pytest.mark.parametrize(
    ("field", "number", "rule"),
    [
        ("value", "1" * 39, "more than 38 significant digits"),
        ("value", "1E+126", "outside DynamoDB's number range"),
        ("value", "-1E-131", "outside DynamoDB's number range"),
        ("value", "1.2345678901234567890123456789012345678E-130", "a digit below 1E-165"),
        ("timestamp", "1751328000.000000000000000000000000000001", "more than 38 significant digits"),
    ],
)
def test_unstorable_numbers_are_refused_naming_their_field_and_nothing_is_written(
    capsys, tenant_st, tmp_path, field, number, rule
):
    path = tmp_path / "bad.jsonl"
    _jsonl(path, [_with_number(_metric(), field, number)])
    assert main(["validate", str(path)]) == 1
    out, _ = capsys.readouterr()
    assert [line for line in out.splitlines() if line.startswith(f"{path}:1 ")] == [_line(out, path, field)]
    assert rule in _line(out, path, field)
    before = snapshot(tenant_st)
    assert main(["ingest", str(path), *_conn(tenant_st)]) == 2
    out, err = capsys.readouterr()
    assert rule in _line(out, path, field) and "nothing was written" in err
    assert snapshot(tenant_st) == before


def _line(out: str, path, field: str) -> str:
    """The one output line reporting `field` of the file's first record."""
    found = [line for line in out.splitlines() if line.startswith(f"{path}:1 {field}: ")]
    assert len(found) == 1, out
    return found[0]


@pytest.mark.parametrize("number", ["1" * 39, "1E-131", "1E+126"])
def test_unstorable_numbers_in_nested_maps_are_refused_naming_the_path(number):
    record = json.loads(
        _with_number(_message(metadata={"stats": {"n": "__N__"}}), "x", "0").replace('"__N__"', number),
        parse_float=Decimal,
        parse_int=Decimal,
    )
    del record["x"]
    from salestalk_lib.contract.validation import validate_record

    model, violations = validate_record(record, "r:1")
    assert model is None and [v.field for v in violations] == ["metadata.stats.n"]
    tenant = Tenant.create(
        tenant_id=TENANT, name="ACME", owner_email="ops@acme.example", plan="free", created_at=1762682400
    ).to_item()
    model, violations = validate_record({**tenant, "metadata": {"employees": Decimal(number)}}, "r:2")
    assert model is None and [v.field for v in violations] == ["metadata.employees"]


def test_counts_obey_the_number_rule_and_large_whole_numbers_are_stored_with_their_exponent():
    from salestalk_lib.contract.models import SessionRollup

    base = dict(
        tenantId=TENANT,
        sessionId="cd27e0f5-bbcd-4025-a2da-5be3ca9bd8b5",
        pk="SESSION#cd27e0f5-bbcd-4025-a2da-5be3ca9bd8b5",
        sk="METADATA",
        firstMessageAt=1,
        lastMessageAt=2,
    )
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="more than 38 significant digits"):
        SessionRollup.from_item({**base, "messageCount": int("1" * 39)})
    rollup = SessionRollup.from_item({**base, "messageCount": 10**50})
    assert serialize(rollup.to_item())["messageCount"] == {"N": "1E+50"}
