"""Property tests of the key grammar: every key round-trips, and string order is time order."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from salestalk_lib.contract import keys
from salestalk_lib.contract.errors import InvalidTenantId, KeyGrammarError

uuid4s = st.uuids(version=4).map(str)

# Millisecond-precision UTC instants over the whole range datetime supports.
instants = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))

days = st.dates(min_value=date(1970, 1, 1), max_value=date(9999, 12, 31))
quarters = days.map(lambda d: keys.quarter(d.year, (d.month - 1) // 3 + 1))
months = days.map(lambda d: keys.month(d.year, d.month))
day_periods = days.map(lambda d: keys.day(d.year, d.month, d.day))
periods = st.one_of(quarters, months, day_periods)

dim_names = st.from_regex(keys._DIM_NAME_RE, fullmatch=True)
dim_values = st.from_regex(keys._DIM_VALUE_RE, fullmatch=True)
dimension_keys = st.builds(keys.dimension_key, dim_names, dim_values)
subjects = st.from_regex(keys._SUBJECT_RE, fullmatch=True)
tenant_ids = st.from_regex(keys._TENANT_ID_RE, fullmatch=True)


@given(uuid4s)
def test_message_pk_round_trips(message_id):
    assert keys.parse_message_pk(keys.message_pk(message_id)) == message_id


@given(instants)
def test_message_sk_round_trips(when):
    sk = keys.message_sk(when)
    assert keys.parse_message_sk(sk) == when
    assert len(sk) == len("2025-11-09T10:00:00.000Z")


@given(instants, instants)
def test_message_sk_string_order_is_time_order(a, b):
    assert (keys.message_sk(a) < keys.message_sk(b)) == (a < b)


@given(instants)
def test_message_sk_normalises_other_timezones_to_utc(when):
    assume(2 <= when.year <= 9998)
    shifted = when.astimezone(timezone(timedelta(hours=5, minutes=30)))
    assert keys.message_sk(shifted) == keys.message_sk(when)


@given(instants)
def test_unix_seconds_round_trips(when):
    assert keys.from_unix_seconds(keys.unix_seconds(when)) == when


@given(uuid4s)
def test_session_pk_round_trips(session_id):
    assert keys.parse_session_pk(keys.session_pk(session_id)) == session_id
    assert keys.session_sk() == keys.SESSION_SK


@given(subjects)
def test_metric_pk_round_trips(subject):
    assert keys.parse_metric_pk(keys.metric_pk(subject)) == subject


@given(periods)
def test_period_text_round_trips(period):
    assert keys.parse_period(period.text) == period
    assert str(period) == period.text


def _ends_before_10000(period: keys.Period) -> bool:
    last = {keys.Granularity.QUARTER: "9999-Q4", keys.Granularity.MONTH: "9999-12", keys.Granularity.DAY: "9999-12-31"}
    return period.text != last[period.granularity]


@given(periods)
def test_period_start_is_timestamp_and_end_is_next_start(period):
    assert datetime.fromtimestamp(period.timestamp, UTC) == period.start
    if _ends_before_10000(period):
        assert period.start < period.end
    else:
        with pytest.raises(KeyGrammarError):
            _ = period.end


@pytest.mark.parametrize("text", ["9999-Q4", "9999-12", "9999-12-31"])
def test_last_periods_have_no_representable_end(text):
    with pytest.raises(KeyGrammarError):
        _ = keys.parse_period(text).end


@given(dim_names, dim_values)
def test_dimension_key_round_trips(name, value):
    assert keys.parse_dimension_key(keys.dimension_key(name, value)) == (name, value)


@given(periods)
def test_headline_metric_sk_round_trips(period):
    parsed = keys.parse_metric_sk(keys.metric_sk(period))
    assert parsed.period == period
    assert not parsed.is_slice
    assert keys.metric_sk(period) == period.text


@given(periods, dimension_keys)
def test_slice_metric_sk_round_trips(period, dk):
    sk = keys.metric_sk(period, dk)
    parsed = keys.parse_metric_sk(sk)
    assert parsed == keys.MetricSortKey(period, dk)
    assert str(parsed) == sk
    assert sk.startswith(keys.metric_slice_prefix(period))


@given(tenant_ids)
def test_tenant_table_names_embed_the_tenant_id(tenant_id):
    assert keys.messages_table_base(tenant_id) == f"tenant-{tenant_id}-messages"
    assert keys.metrics_table_base(tenant_id) == f"tenant-{tenant_id}-metrics"
    assert keys.s3_prefix(tenant_id) == f"tenant-{tenant_id}/"


@pytest.mark.parametrize("granularity", [quarters, months, day_periods], ids=["quarter", "month", "day"])
@given(data=st.data())
def test_one_granularity_sorts_chronologically(granularity, data):
    a, b = data.draw(granularity), data.draw(granularity)
    assert (a.text < b.text) == (a.start < b.start)
    assert (keys.metric_sk(a) < keys.metric_sk(b)) == (a.start < b.start)


def _next_period(period: keys.Period) -> keys.Period:
    nxt = period.end
    if period.granularity is keys.Granularity.QUARTER:
        return keys.quarter(nxt.year, (nxt.month - 1) // 3 + 1)
    if period.granularity is keys.Granularity.MONTH:
        return keys.month(nxt.year, nxt.month)
    return keys.day(nxt.year, nxt.month, nxt.day)


@given(periods, st.lists(dimension_keys, min_size=1, max_size=5))
def test_headline_sorts_before_its_slices_and_slices_before_next_period(period, dks):
    assume(_ends_before_10000(period))
    headline = keys.metric_sk(period)
    slices = [keys.metric_sk(period, dk) for dk in dks]
    nxt = _next_period(period)
    for s in slices:
        assert headline < s < keys.metric_sk(nxt)


@given(periods, st.lists(dimension_keys, min_size=1, max_size=3), periods, st.none() | dimension_keys)
def test_no_other_period_sorts_between_a_headline_and_its_slices(period, dks, other, other_dk):
    """The headline is immediately followed by its own slices, whatever the granularity of others."""
    assume(other != period)
    headline = keys.metric_sk(period)
    last_slice = max(keys.metric_sk(period, dk) for dk in dks)
    foreign = keys.metric_sk(other, other_dk)
    assert not headline < foreign < last_slice


@given(months, dimension_keys, st.integers(min_value=1, max_value=28))
def test_slice_prefix_of_a_month_does_not_catch_its_days(period, dk, dom):
    prefix = keys.metric_slice_prefix(period)
    a_day = keys.day(period.year, period.start.month, dom)
    assert keys.metric_sk(period, dk).startswith(prefix)
    assert not keys.metric_sk(a_day).startswith(prefix)
    assert not keys.metric_sk(period).startswith(prefix)


@pytest.mark.parametrize(
    "text",
    [
        "2025-Q0",
        "2025-Q5",
        "2025-13",
        "2025-00",
        "2025-02-30",
        "1969-12",
        "25-Q3",
        "2025-q3",
        "2025-7",
        "2025-07-1",
        "٢٠٢٥-Q3",
        "２０２５-07",
        "2025-Q3 ",
        "",
        "2025-W27",
    ],
)
def test_parse_period_rejects(text):
    with pytest.raises(KeyGrammarError):
        keys.parse_period(text)


@pytest.mark.parametrize(
    "sk",
    [
        "2025-11-09T10:00:00Z",
        "2025-11-09T10:00:00.000",
        "2025-11-09 10:00:00.000Z",
        "２０２５-11-09T10:00:00.000Z",
        "2025-02-30T10:00:00.000Z",
        "2025-11-09T24:00:00.000Z",
    ],
)
def test_parse_message_sk_rejects(sk):
    with pytest.raises(KeyGrammarError):
        keys.parse_message_sk(sk)


def test_message_sk_pads_years_below_1000():
    assert keys.message_sk(datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)) == "0999-01-02T03:04:05.000Z"


def test_message_sk_rejects_naive_and_sub_millisecond_times():
    with pytest.raises(KeyGrammarError):
        keys.message_sk(datetime(2025, 11, 9, 10))
    with pytest.raises(KeyGrammarError):
        keys.message_sk(datetime(2025, 11, 9, 10, 0, 0, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    "pk",
    [
        "MSG#",
        "MSG#0B1E1C2A-7A4B-4C1D-9E2F-3A4B5C6D7E8F",
        "MSG#0b1e1c2a-7a4b-1c1d-9e2f-3a4b5c6d7e8f",
        "msg#0b1e1c2a-7a4b-4c1d-9e2f-3a4b5c6d7e8f",
        "SESSION#0b1e1c2a-7a4b-4c1d-9e2f-3a4b5c6d7e8f",
    ],
)
def test_parse_message_pk_rejects(pk):
    with pytest.raises(KeyGrammarError):
        keys.parse_message_pk(pk)


@pytest.mark.parametrize(
    "sk",
    [
        "2025-Q3#",
        "2025-Q3#region",
        "2025-Q3#region:",
        "2025-Q3#Region:EU",
        "2025-Q3#region:EU#x",
        "2025-Q3#region: EU",
        "2025-Q3#region:EU ",
    ],
)
def test_parse_metric_sk_rejects_malformed_slices(sk):
    with pytest.raises(KeyGrammarError):
        keys.parse_metric_sk(sk)


@pytest.mark.parametrize(
    "tenant_id",
    ["", "-acme", "acme-", "ACME", "acme corp", "acme/corp", "a..b", "acmé", "a" * 65, 7, None],
)
def test_validate_tenant_id_rejects(tenant_id):
    with pytest.raises(InvalidTenantId):
        keys.validate_tenant_id(tenant_id)


def test_quarter_timestamp_matches_contract_example():
    assert keys.parse_period("2025-Q3").timestamp == 1751328000


@pytest.mark.parametrize(
    ("pk", "kind"),
    [
        ("MSG#anything", keys.KeyKind.MESSAGE),
        ("SESSION#x", keys.KeyKind.SESSION),
        ("METRIC#revenue", keys.KeyKind.METRIC),
        ("BATCH#b-1", keys.KeyKind.BATCH),
        ("OTHER#x", None),
        (None, None),
        (3, None),
    ],
)
def test_pk_kind_reads_the_prefix(pk, kind):
    assert keys.pk_kind(pk) is kind


@pytest.mark.parametrize(
    "batch_id", ["b", "2025-11-25.nightly", "content-0123abcd", "9b2f6f2e-1c3d-4e5f-8a7b-0c1d2e3f4a5b", "A" * 128]
)
def test_batch_keys_round_trip(batch_id):
    pk = keys.batch_pk(batch_id)
    assert pk == f"BATCH#{batch_id}" and keys.parse_batch_pk(pk) == batch_id and keys.batch_sk() == "METADATA"


@pytest.mark.parametrize(
    "batch_id", ["", "-lead", "trail-", "has#hash", "has space", "new\nline", "A" * 129, "tab\t", "ünïcode", 7, None]
)
def test_batch_ids_outside_the_grammar_are_refused(batch_id):
    with pytest.raises(KeyGrammarError, match="batchId must be"):
        keys.batch_pk(batch_id)


def test_a_batch_pk_must_carry_the_prefix():
    with pytest.raises(KeyGrammarError, match="must start with 'BATCH#'"):
        keys.parse_batch_pk("SESSION#x")


def test_event_keys_round_trip_and_refuse_what_is_not_a_uuid():
    event_id = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
    assert keys.parse_event_pk(keys.event_pk(event_id)) == event_id and keys.event_sk() == "METADATA"
    assert keys.pk_kind(keys.event_pk(event_id)) is keys.KeyKind.EVENT
    for bad in ("", "x", event_id.upper(), event_id + "\n", None):
        with pytest.raises(KeyGrammarError, match="eventId must be a lowercase canonical UUID"):
            keys.event_pk(bad)
    with pytest.raises(KeyGrammarError, match="must start with 'EVENT#'"):
        keys.parse_event_pk("BATCH#x")


@given(uuid4s)
def test_message_identity_pk_round_trips_and_is_a_kind_of_its_own(message_id):
    pk = keys.message_identity_pk(message_id)
    assert keys.parse_message_identity_pk(pk) == message_id
    assert keys.message_identity_sk() == keys.MSG_IDENTITY_SK
    # Its own partition, never the message's: MSGID# is not a MSG# key, and each is recognised as itself.
    assert pk != keys.message_pk(message_id) and not pk.startswith(keys.MSG_PREFIX)
    assert keys.pk_kind(pk) is keys.KeyKind.MESSAGE_IDENTITY
    assert keys.pk_kind(keys.message_pk(message_id)) is keys.KeyKind.MESSAGE


@pytest.mark.parametrize(
    "pk",
    [
        "MSG#0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        "MSGID#not-a-uuid",
        "MSGID#",
        "msgid#0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        None,
    ],
)
def test_parse_message_identity_pk_rejects(pk):
    with pytest.raises(KeyGrammarError):
        keys.parse_message_identity_pk(pk)
