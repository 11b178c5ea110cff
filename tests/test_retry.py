"""Unit tests of the retry policy with fake sleep, clock and random source (no network)."""

from __future__ import annotations

import random
import threading
import time

import pytest

from salestalk_lib.contract.errors import (
    ConditionFailed,
    IngestConflict,
    Interrupted,
    RequestRejected,
    RetryableError,
    RetryBudgetExhausted,
    TableNotFound,
    Throttled,
    TransactionConflict,
    TransientError,
    ValidationFailed,
    Violation,
)
from salestalk_lib.dynamo.retry import (
    DEFAULT_POLICY,
    MAX_SLEEP_SECONDS,
    RETRY_RULES,
    Attempt,
    Retrier,
    RetryPolicy,
    RetryStats,
    VirtualTime,
    policy_table,
)


class Failing:
    """A callable that raises the given errors in order, then returns 'done'."""

    def __init__(self, *errors: BaseException):
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def make(seed: int = 1) -> tuple[Retrier, VirtualTime, list[Attempt]]:
    vt = VirtualTime()
    records: list[Attempt] = []
    return Retrier(sleep=vt.sleep, clock=vt.now, seed=seed, hooks=[records.append]), vt, records


def transient() -> TransientError:
    return TransientError("boom", code="InternalServerError")


def throttled() -> Throttled:
    return Throttled("slow down", code="ThrottlingException")


def test_policy_table_is_the_contracts_table():
    by_name = {r.name: r for r in RETRY_RULES}
    assert (by_name["transient"].max_retries, by_name["transient"].jitter) == (5, False)
    assert (by_name["throttling"].max_retries, by_name["throttling"].jitter) == (10, True)
    assert (by_name["transaction_conflict"].max_retries, by_name["transaction_conflict"].jitter) == (10, True)
    assert by_name["validation"].max_retries == 0
    assert by_name["condition"].max_retries == 0
    assert all(r.base_delay == 0.1 for r in RETRY_RULES)
    assert MAX_SLEEP_SECONDS == 5.0
    rows = policy_table()
    assert [r["max retries"] for r in rows] == ["5", "10", "10", "0", "0"]
    assert [r["retry?"] for r in rows] == ["yes", "yes", "yes", "no", "no"]


def test_transient_backoff_is_100_200_400_800_1600_ms_without_jitter():
    retrier, vt, records = make()
    fn = Failing(*(transient() for _ in range(5)))
    assert retrier.call("PutItem", fn) == "done"
    assert vt.sleeps == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6])
    assert [r.attempt for r in records] == [1, 2, 3, 4, 5, 6]
    assert [r.outcome for r in records] == ["retry"] * 5 + ["ok"]
    assert {r.error_code for r in records[:-1]} == {"InternalServerError"}


def test_transient_sixth_failure_exhausts_budget_with_last_error():
    retrier, vt, records = make()
    errors = [transient() for _ in range(6)]
    fn = Failing(*errors)
    with pytest.raises(RetryBudgetExhausted) as info:
        retrier.call("PutItem", fn)
    assert fn.calls == 6
    assert info.value.attempts == 6
    assert info.value.last_error is errors[-1]
    assert info.value.__cause__ is errors[-1]
    assert records[-1].outcome == "exhausted"
    assert len(vt.sleeps) == 5


def test_throttling_retries_ten_times_with_jitter_within_exponential_caps():
    retrier, vt, _records = make(seed=3)
    fn = Failing(*(throttled() for _ in range(10)))
    assert retrier.call("TransactWriteItems", fn) == "done"
    caps = [min(5.0, 0.1 * 2**i) for i in range(10)]
    assert len(vt.sleeps) == 10
    assert all(0 <= s <= c for s, c in zip(vt.sleeps, caps, strict=True))
    assert vt.sleeps != pytest.approx(caps)  # jittered, not the bare schedule
    assert max(vt.sleeps) <= MAX_SLEEP_SECONDS


def test_throttling_eleventh_failure_exhausts():
    retrier, _, _ = make()
    fn = Failing(*(throttled() for _ in range(11)))
    with pytest.raises(RetryBudgetExhausted) as info:
        retrier.call("PutItem", fn)
    assert isinstance(info.value.last_error, Throttled)
    assert fn.calls == 11


def test_transaction_conflict_retries_ten_times_with_jitter():
    retrier, _vt, records = make(seed=5)
    fn = Failing(*(TransactionConflict("tx", code="TransactionConflict") for _ in range(10)))
    assert retrier.call("TransactWriteItems", fn) == "done"
    assert {r.rule for r in records if r.outcome == "retry"} == {"transaction_conflict"}
    with pytest.raises(RetryBudgetExhausted):
        make()[0].call("TransactWriteItems", Failing(*(TransactionConflict("tx") for _ in range(11))))


def test_same_seed_gives_same_delays_and_other_seed_differs():
    def delays(seed: int) -> list[float]:
        retrier, vt, _ = make(seed)
        retrier.call("PutItem", Failing(*(throttled() for _ in range(8))))
        return vt.sleeps

    assert delays(42) == delays(42)
    assert delays(42) != delays(43)


def test_rng_can_be_injected():
    vt = VirtualTime()
    retrier = Retrier(sleep=vt.sleep, clock=vt.now, rng=random.Random(9))
    retrier.call("PutItem", Failing(throttled()))
    assert vt.sleeps == [random.Random(9).uniform(0, 0.1)]
    with pytest.raises(ValueError):
        Retrier(rng=random.Random(1), seed=1)


def test_single_sleep_is_capped_at_five_seconds():
    retrier, vt, _ = make()
    # Jitter draws from [0, cap]: force the top of the range to see the cap itself.
    retrier.rng = type("Top", (random.Random,), {"uniform": lambda self, a, b: b})()
    retrier.call("PutItem", Failing(*(throttled() for _ in range(10))))
    assert vt.sleeps[-4:] == [5.0, 5.0, 5.0, 5.0]
    assert vt.sleeps[:6] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 3.2])


def test_budgets_are_per_rule_and_delays_grow_per_rule():
    retrier, vt, records = make()
    retrier.rng = type("Top", (random.Random,), {"uniform": lambda self, a, b: b})()
    fn = Failing(transient(), throttled(), transient(), throttled())
    assert retrier.call("PutItem", fn) == "done"
    assert vt.sleeps == pytest.approx([0.1, 0.1, 0.2, 0.2])
    assert [r.retry for r in records[:-1]] == [1, 1, 2, 2]


@pytest.mark.parametrize(
    "error",
    [
        ConditionFailed("exists", code="ConditionalCheckFailedException"),
        RequestRejected("bad", code="ValidationException"),
        TableNotFound("gone", code="ResourceNotFoundException"),
        ValidationFailed([Violation("f:1", "text", "must not be empty")]),
        IngestConflict("MSG#x", {"a": 1}, {"a": 2}),
        KeyError("a bug"),
    ],
)
def test_validation_conditional_and_other_errors_are_never_retried(error):
    retrier, vt, records = make()
    fn = Failing(error)
    with pytest.raises(type(error)):
        retrier.call("PutItem", fn)
    assert fn.calls == 1
    assert vt.sleeps == []
    assert [r.outcome for r in records] == ["fail"]


def test_every_attempt_is_observable_with_clock_times():
    retrier, _vt, records = make()
    retrier.call("UpdateItem", Failing(transient(), transient()))
    assert [(r.operation, r.attempt, r.outcome, r.delay) for r in records] == [
        ("UpdateItem", 1, "retry", 0.1),
        ("UpdateItem", 2, "retry", 0.2),
        ("UpdateItem", 3, "ok", 0.0),
    ]
    assert [r.at for r in records] == pytest.approx([0.0, 0.1, 0.3])


def test_attempts_are_logged(caplog):
    retrier, _, _ = make()
    with caplog.at_level("INFO", logger="salestalk_lib.dynamo.retry"):
        retrier.call("PutItem", Failing(throttled()))
    assert "PutItem attempt 1 retry: ThrottlingException" in caplog.text


def test_stats_hook_counts_retries_by_code():
    stats = RetryStats()
    retrier, _, _ = make()
    retrier.hooks.append(stats)
    retrier.call("PutItem", Failing(throttled(), throttled(), transient()))
    with pytest.raises(ConditionFailed):
        retrier.call("PutItem", Failing(ConditionFailed("x", code="ConditionalCheckFailedException")))
    assert stats.retries_by_code == {"ThrottlingException": 2, "InternalServerError": 1}
    assert stats.attempts == 5
    assert stats.outcomes == {"retry": 3, "ok": 1, "fail": 1}
    assert stats.max_retries_used == {"throttling": 2, "transient": 1}
    assert stats.exhausted == 0


def test_backoff_for_partial_progress_sleeps_then_raises_past_budget():
    retrier, vt, records = make()
    retrier.rng = type("Top", (random.Random,), {"uniform": lambda self, a, b: b})()
    for n in range(1, 11):
        retrier.backoff("BatchWriteItem", "throttling", n, "UnprocessedItems")
    assert len(vt.sleeps) == 10
    with pytest.raises(RetryBudgetExhausted) as info:
        retrier.backoff("BatchWriteItem", "throttling", 11, "UnprocessedItems")
    assert isinstance(info.value.last_error, Throttled)
    assert records[-1].outcome == "exhausted"
    assert all(r.partial for r in records)


def test_scaled_policy_keeps_shape():
    fast = DEFAULT_POLICY.scaled(0.01)
    assert fast.rule("transient").cap(3, fast.max_sleep) == pytest.approx(0.004)
    assert fast.rule("throttling").max_retries == 10
    assert fast.max_sleep == pytest.approx(0.05)


def test_a_stopped_retrier_sends_no_further_attempt_and_says_what_it_would_have_retried():
    retrier, _vt, _records = make()
    stop = threading.Event()
    bound = retrier.stopping(stop)
    fn = Failing(throttled(), throttled())
    stop.set()
    with pytest.raises(Interrupted):
        bound.call("PutItem", fn)
    assert fn.calls == 0  # not even a first attempt once stopped
    stop.clear()

    def stop_after_first(attempt):
        if attempt.outcome == "retry":
            stop.set()

    with pytest.raises(Interrupted) as caught:
        bound.call("PutItem", fn, hooks=[stop_after_first])
    assert fn.calls == 1 and isinstance(caught.value.last_error, Throttled)
    assert retrier.call("PutItem", Failing()) == "done"  # the original retrier is not stopped


def test_a_stop_request_cuts_a_real_backoff_sleep_short():
    stop = threading.Event()
    slow = RetryPolicy().scaled(100.0)  # a 10 s first backoff, far longer than the test may take
    bound = Retrier(slow, seed=1).stopping(stop)  # the real clock: time.sleep
    timer = threading.Timer(0.2, stop.set)
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(Interrupted):
            bound.call("PutItem", Failing(transient(), transient()))
    finally:
        timer.cancel()
    assert time.monotonic() - started < 5.0  # the 10 s sleep ended when the stop came


def test_every_retried_class_is_a_retryable_error_naming_its_rule():
    for rule in RETRY_RULES:
        for error in rule.errors:
            assert issubclass(error, RetryableError) == rule.retries, error
            if rule.retries:
                assert error.retry_rule == rule.name
                assert DEFAULT_POLICY.rule_for(error("x")) is rule
    assert {Throttled, TransientError, TransactionConflict} <= set(RetryableError.__subclasses__())
    assert not issubclass(ConditionFailed, RetryableError) and not issubclass(RequestRejected, RetryableError)


def test_the_policy_retries_a_new_retryable_subclass_without_being_told():
    class Overloaded(RetryableError):
        """A new retryable error no rule lists: the base's rule (transient) applies."""

    class SlowDown(Throttled):
        """A new kind of throttling: its parent's rule applies."""

    retrier, vt, records = make(seed=5)
    assert retrier.call("PutItem", Failing(Overloaded("busy", code="Overloaded"))) == "done"
    assert vt.sleeps == pytest.approx([0.1])  # the transient schedule: no jitter
    assert [(r.outcome, r.rule, r.error_code) for r in records] == [
        ("retry", "transient", "Overloaded"),
        ("ok", "", ""),
    ]

    retrier, _, records = make(seed=5)
    fn = Failing(*(SlowDown("slow") for _ in range(10)))
    assert retrier.call("PutItem", fn) == "done" and fn.calls == 11
    assert {r.rule for r in records[:-1]} == {"throttling"}
    assert records[0].error_code == "SlowDown"  # no code: the class name

    with pytest.raises(RetryBudgetExhausted):
        make()[0].call("PutItem", Failing(*(SlowDown("slow") for _ in range(11))))


def test_a_retryable_class_may_name_another_rule_and_unknown_names_fall_back():
    class Contended(RetryableError):
        retry_rule = "transaction_conflict"

    class Odd(RetryableError):
        retry_rule = "no such rule"

    assert DEFAULT_POLICY.rule_for(Contended("x")).name == "transaction_conflict"
    assert DEFAULT_POLICY.rule_for(Odd("x")).name == "transient"  # never given up at once
    assert RetryPolicy().scaled(0.5).rule_for(Contended("x")).name == "transaction_conflict"


def test_a_non_retryable_storage_error_is_tried_once():
    retrier, vt, records = make()
    fn = Failing(RequestRejected("bad", code="ValidationException"))
    with pytest.raises(RequestRejected):
        retrier.call("PutItem", fn)
    assert fn.calls == 1 and vt.sleeps == []
    assert [(r.outcome, r.rule) for r in records] == [("fail", "validation")]
