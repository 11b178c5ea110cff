"""Access-pattern parameters and resume tokens under hostile input (issue 10, item 8).

`patterns.run` let TypeErrors through (a parameter named `pattern` or `page_size`, a list
where a string goes, a missing or extra parameter), `query --param start=<39 digits>`
died with `decimal.Inexact` at the storage seam, and a resume token was accepted for
another partition. Now each is a ContractError naming the parameter (and what the
pattern accepts), exit 2 on the command line, and a token resumes only its own query.
"""

from __future__ import annotations

import base64
import json
import uuid
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st_

from salestalk_lib.cli.main import main
from salestalk_lib.contract.errors import ContractError, SalesTalkError
from salestalk_lib.contract.models import Metric
from salestalk_lib.contract.settings import Settings
from salestalk_lib.ops import patterns
from salestalk_lib.ops.connection import connect
from salestalk_lib.ops.patterns import PATTERNS, encode_token, explain, run

TENANT = "acme-corp-001"
SESSION = "cd27e0f5-bbcd-4025-a2da-5be3ca9bd8b5"
BIG = "1" * 39


@pytest.fixture(scope="module")
def tenant(endpoint):
    st = connect(settings=Settings(table_prefix=f"pp{uuid.uuid4().hex[:8]}-", environment="test"), endpoint=endpoint)
    st.provision([TENANT])
    scope = st.tenant(TENANT)
    for subject in ("revenue", "margin"):
        for i, period in enumerate(("2025-01", "2025-02", "2025-03", "2025-04")):
            metric = Metric.create(tenant_id=TENANT, subject=subject, period=period, value=i + 1, unit="USD")
            st.storage.put_item(scope.metrics_table, metric.to_item())
    return st, scope


def _cli(capsys, st, *args):
    code = main(["query", *args, "--endpoint-url", st.endpoint.url, "--table-prefix", st.settings.table_prefix])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    "param",
    [
        "pattern=metric_slices",
        "target=x",
        "page_size=2",
        "limit=x",
        "retrier=1",
        "resume=abc",
        "params=1",
        "colour=red",
        "=x",
        "start",
    ],
)
def test_a_cli_parameter_that_is_no_parameter_of_the_pattern_is_one_clear_line(capsys, tenant, param):
    st, _ = tenant
    code, err = _cli(
        capsys,
        st,
        "metric_time_series",
        "--tenant",
        TENANT,
        "--param",
        "subject=revenue",
        "--param",
        "granularity=month",
        "--param",
        param,
    )
    assert code == 2 and "Traceback" not in err
    (line,) = [ln for ln in err.splitlines() if "error:" in ln]
    assert "subject, granularity, start?, end?" in line or "expected NAME=VALUE" in line


@pytest.mark.parametrize(
    ("pattern", "param"),
    [
        ("session_messages", f"start={BIG}"),
        ("session_messages", f"end=-{BIG}"),
        ("session_messages", "start=1.0000000000000000000000000000000000000001"),
        ("dimension_over_time", f"end={BIG}"),
        ("session_messages", "start=253402300800"),
        ("messages_by_sender", "start=١٢٣"),
    ],
)
def test_an_unstorable_time_bound_is_refused_naming_the_parameter(capsys, tenant, pattern, param):
    st, _ = tenant
    first = {
        "session_messages": f"session_id={SESSION}",
        "dimension_over_time": "dimension_key=region:Europe",
        "messages_by_sender": "sender=user",
    }[pattern]
    code, err = _cli(capsys, st, pattern, "--tenant", TENANT, "--param", first, "--param", param)
    assert code == 2 and "Traceback" not in err and "Inexact" not in err
    assert f"parameter {param.split('=')[0]}" in err


def test_time_bounds_that_are_times_still_work(tenant):
    _, scope = tenant
    for bound in (0, Decimal("1762682400.123456"), "1762682400", "2025-11-09T10:00:00Z", "2025-Q3", -62135596800):
        (request,) = explain(scope, "session_messages", session_id=SESSION, start=bound)
        assert request.params["ExpressionAttributeValues"][":lo"]["N"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"subject": ["revenue"], "period": "2025-Q3"},
        {"subject": "revenue", "period": 2025},
        {"subject": {"a": 1}, "period": "2025-Q3"},
        {"subject": "revenue", "period": b"2025-Q3"},
        {"subject": "revenue"},
        {"subject": "revenue", "period": "2025-Q3", "extra": 1},
        {"subject": "revenue", "period": "2025-Q3", "target": 1},
        {"subject": "revenue", "period": "2025-Q3", "pattern": 1},
        {"subject": "revenue", "period": "2025-Q3", "retrier": "not a retrier"},
        {"subject": "revenue", "period": float("nan")},
        {"subject": 10**5000, "period": "2025-Q3"},
    ],
)
def test_library_calls_with_wrong_missing_or_extra_parameters_raise_contract_errors(tenant, kwargs):
    _, scope = tenant
    with pytest.raises(ContractError) as caught:
        run(scope, "metric_for_period", **kwargs)
    assert "metric_for_period" in str(caught.value) or "retrier" in str(caught.value)


@pytest.mark.parametrize("pattern", [[9], None, True, 9.0, "٩", "9" * 5000, "metric_time_series\x00"])
def test_a_pattern_that_is_no_pattern_is_a_contract_error(tenant, pattern):
    _, scope = tenant
    with pytest.raises(ContractError, match="no access pattern"):
        run(scope, pattern, subject="revenue", period="2025-Q3")


@pytest.mark.parametrize("target", [None, "acme-corp-001", object(), {"settings": 1}])
def test_a_target_that_is_neither_a_connection_nor_a_scope_is_a_contract_error(target):
    with pytest.raises(ContractError, match=r"connection .* or a tenant scope"):
        run(target, "metric_for_period", subject="revenue", period="2025-Q3")


def _series(scope, subject: str, **kw):
    return run(scope, "metric_time_series", subject=subject, granularity="month", **kw)


def test_a_token_resumes_its_own_query_and_nothing_else(tenant):
    _, scope = tenant
    first = _series(scope, "revenue", limit=2)
    assert [m.sk for m in first] == ["2025-01", "2025-02"]
    assert [m.sk for m in _series(scope, "revenue", resume=first.next_token)] == ["2025-03", "2025-04"]
    with pytest.raises(ContractError, match="belongs to another query"):
        _series(scope, "margin", resume=first.next_token)
    with pytest.raises(ContractError, match="belongs to another query: pattern"):
        run(scope, "metric_slices", subject="revenue", period="2025-Q3", resume=first.next_token)


def _token_body(token: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))


def _token(body: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


def test_a_token_whose_start_key_is_in_another_partition_is_refused(tenant):
    _, scope = tenant
    p = patterns.get("metric_time_series")
    params = p.check_params({"subject": "revenue", "granularity": "month"})
    # Well-formed, checksum right, bound to these parameters, but starting in margin's partition.
    crafted = encode_token(p, scope.metrics_table, params, {"pk": "METRIC#margin", "sk": "2025-02"})
    with pytest.raises(ContractError, match="outside this query"):
        _series(scope, "revenue", resume=crafted)
    below = encode_token(
        p,
        scope.metrics_table,
        p.check_params({"subject": "revenue", "granularity": "month", "start": "2025-03"}),
        {"pk": "METRIC#revenue", "sk": "2025-01"},
    )
    with pytest.raises(ContractError, match="outside this query"):
        _series(scope, "revenue", start="2025-03", resume=below)
    extra = encode_token(p, scope.metrics_table, params, {"pk": "METRIC#revenue", "sk": "2025-02", "x": "1"})
    with pytest.raises(ContractError, match="start key has attributes"):
        _series(scope, "revenue", resume=extra)


def test_an_edited_or_foreign_token_is_refused(tenant):
    _, scope = tenant
    token = _series(scope, "revenue", limit=1).next_token
    body = _token_body(token)
    edited = _token({**body, "k": {"pk": {"S": "METRIC#margin"}, "sk": {"S": "2025-01"}}})
    with pytest.raises(ContractError, match="altered"):
        _series(scope, "revenue", resume=edited)
    old_format = _token({"v": 1, "q": body["q"], "k": body["k"]})
    with pytest.raises(ContractError, match="another version"):
        _series(scope, "revenue", resume=old_format)
    for junk in ("!!", "", "x" * 10000, "eyJ2IjoyfQ", 12, ["a"], "é"):
        with pytest.raises(ContractError, match="malformed"):
            _series(scope, "revenue", resume=junk)


# --- fuzzing: any parameters, only the library's own errors --------------------------------

_NAMES = sorted({q.name for p in PATTERNS for q in p.params} | {"pattern", "target", "limit", "x\x00", "", "é"})
_VALUES = st_.one_of(
    st_.none(),
    st_.booleans(),
    st_.integers(min_value=-(10**45), max_value=10**45),
    st_.floats(),
    st_.decimals(allow_nan=True, allow_infinity=True),
    st_.text(max_size=50),
    st_.sampled_from(
        [
            "2025-Q3",
            "2025-13",
            "2025-10-05",
            "revenue",
            "region:Europe",
            SESSION,
            "user",
            "active",
            "quarter",
            BIG,
            "1e400",
            "-0",
            "2025-11-09T10:00:00Z",
            "2025-11-09T10:00:00",
            "0x10",
        ]
    ),
    st_.lists(st_.integers(), max_size=2),
    st_.dictionaries(st_.text(max_size=3), st_.integers(), max_size=2),
    st_.binary(max_size=4),
)


@settings(
    max_examples=500,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(pattern=st_.sampled_from(PATTERNS), given_params=st_.dictionaries(st_.sampled_from(_NAMES), _VALUES, max_size=5))
def test_fuzzed_parameters_raise_only_the_librarys_errors(tenant, pattern, given_params):
    st, scope = tenant
    target = st if pattern.number in (2, 3) else scope
    try:
        requests = explain(target, pattern, given_params)
    except SalesTalkError:
        return
    for request in requests:
        json.dumps(request.params)  # a request that was built can be sent: every value serialised
