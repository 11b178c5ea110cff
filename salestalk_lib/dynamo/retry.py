"""The retry policy of the contract (§4), as data and as code.

`RETRY_RULES` is the contract's table, one `RetryRule` per row; the docs render
it with `policy_table()`. `Retrier.call(operation, fn)` runs `fn` and retries it
according to the rule that matches the error it raised:

| error | retry? | backoff | max retries |
|---|---|---|---|
| network timeout, connection error, 5xx (`TransientError`) | yes | 100, 200, 400 … ms, no jitter | 5 |
| throttling (`Throttled`) | yes | exponential from 100 ms, full jitter | 10 |
| `TransactionConflict` | yes | exponential from 100 ms, full jitter | 10 |
| validation error (`ContractError`, `RequestRejected`) | no | – | 0 |
| conditional check failed (`ConditionFailed`) | no | – | 0 |

Which errors are retried is decided by their class, not by a list: every
`RetryableError` (Throttled, TransientError, TransactionConflict and any new
subclass) is retried, under the rule its class names (`retry_rule`); nothing
else is. The `errors` of each rule name the classes for the docs' table.

Every single sleep is capped at 5 s. Budgets are per rule within one call: a
call may use up to 5 transient retries *and* up to 10 throttling retries, and
each rule's delay grows with its own count. Anything that is not a
`StorageError` (a bug, a contract error) is never retried.

Jitter is "full jitter": the delay is drawn uniformly from [0, cap] where cap =
min(5 s, base·2^(n-1)); it spreads clients that were throttled together, while
transient failures back off on the fixed 100/200/400 ms schedule the contract
names. Sleep, clock and the random source are injected, so tests and notebooks
run on `VirtualTime` and a seeded `random.Random` and get the same delays every
time. Each attempt produces an `Attempt` record passed to every hook and logged
on the `salestalk_lib.dynamo.retry` logger.

This is the only retry layer: clients built by `salestalk_lib.dynamo.endpoint` have
botocore's retries off, so attempts never multiply.

**Stopping.** `Retrier.stopping(event)` is the same retrier observing a stop
request: once `event` is set, its calls send no further attempt and raise
`Interrupted` (carrying the error that would have been retried), and a backoff
sleep on the real clock ends at once. A Ctrl-C therefore never leaves a worker
retrying for the rest of its budget.
"""

from __future__ import annotations

import copy
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from salestalk_lib.contract.errors import (
    ConditionFailed,
    ContractError,
    Interrupted,
    RequestRejected,
    RetryableError,
    RetryBudgetExhausted,
    TableNotFound,
    Throttled,
    TransactionConflict,
    TransientError,
)

T = TypeVar("T")
log = logging.getLogger(__name__)

MAX_SLEEP_SECONDS = 5.0
BASE_DELAY_SECONDS = 0.1


@dataclass(frozen=True)
class RetryRule:
    """One row of the retry policy: which errors it covers and how they are retried."""

    name: str
    description: str
    errors: tuple[type[BaseException], ...]
    max_retries: int
    base_delay: float = BASE_DELAY_SECONDS
    jitter: bool = False

    @property
    def retries(self) -> bool:
        return self.max_retries > 0

    def cap(self, retry_number: int, max_sleep: float = MAX_SLEEP_SECONDS) -> float:
        """The un-jittered delay before retry `retry_number` (1-based): base·2^(n-1), capped."""
        delay: float = min(max_sleep, self.base_delay * (2 ** (retry_number - 1)))
        return delay


RETRY_RULES: tuple[RetryRule, ...] = (
    RetryRule("transient", "network timeout, connection error, 5xx", (TransientError,), max_retries=5),
    RetryRule(
        "throttling",
        "throttling (ProvisionedThroughputExceeded, Throttling, RequestLimitExceeded)",
        (Throttled,),
        max_retries=10,
        jitter=True,
    ),
    RetryRule("transaction_conflict", "TransactionConflict", (TransactionConflict,), max_retries=10, jitter=True),
    RetryRule(
        "validation",
        "validation error (contract violation, DynamoDB ValidationException and other 4xx)",
        (ContractError, RequestRejected, TableNotFound),
        max_retries=0,
    ),
    RetryRule(
        "condition",
        "conditional check failed (resolved as already_exists or conflict)",
        (ConditionFailed,),
        max_retries=0,
    ),
)


@dataclass(frozen=True)
class RetryPolicy:
    """An ordered set of rules plus the per-sleep cap; the first rule whose errors match wins."""

    rules: tuple[RetryRule, ...] = RETRY_RULES
    max_sleep: float = MAX_SLEEP_SECONDS

    def rule_for(self, exc: BaseException) -> RetryRule | None:
        """The rule covering `exc`, or None (then it is not a storage error and is never retried).

        A `RetryableError` is covered by the rule its class names (`retry_rule`),
        so a new subclass is retried without being listed anywhere; any other
        error by the first rule whose `errors` match it.
        """
        if isinstance(exc, RetryableError):
            return self.retry_rule_for(exc)
        for rule in self.rules:
            if isinstance(exc, rule.errors):
                return rule
        return None

    def retry_rule_for(self, exc: RetryableError) -> RetryRule:
        """The retrying rule of a retryable error: the one its class names, else the first matching rule
        that retries, else the policy's first retrying rule (a retryable error is never given up at once)."""
        retrying = [r for r in self.rules if r.retries]
        for rule in retrying:
            if rule.name == exc.retry_rule:
                return rule
        for rule in retrying:
            if isinstance(exc, rule.errors):
                return rule
        if not retrying:
            raise ValueError("a retry policy needs at least one rule that retries")
        return retrying[0]

    def rule(self, name: str) -> RetryRule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(f"no retry rule named {name!r}")

    def delay(self, rule: RetryRule, retry_number: int, rng: random.Random) -> float:
        """Seconds to sleep before retry `retry_number` (1-based) under `rule`."""
        cap = rule.cap(retry_number, self.max_sleep)
        return rng.uniform(0.0, cap) if rule.jitter else cap

    def scaled(self, factor: float) -> RetryPolicy:
        """The same policy with every base delay and the sleep cap multiplied by `factor`.

        For load tests that want the contract's shape without its wall-clock cost;
        the library itself always uses `DEFAULT_POLICY`.
        """
        return RetryPolicy(
            rules=tuple(replace(r, base_delay=r.base_delay * factor) for r in self.rules),
            max_sleep=self.max_sleep * factor,
        )


DEFAULT_POLICY = RetryPolicy()


def policy_table(policy: RetryPolicy = DEFAULT_POLICY) -> list[dict[str, str]]:
    """The policy as rows for the docs: error, retry?, backoff, max retries."""
    rows = []
    for rule in policy.rules:
        if rule.retries:
            ms = [round(rule.base_delay * 1000 * 2**i) for i in range(3)]
            backoff = f"exponential from {ms[0]} ms ({', '.join(map(str, ms))} …)"
            backoff += ", full jitter" if rule.jitter else ", no jitter"
            backoff += f"; each sleep ≤ {policy.max_sleep:g} s"
        else:
            backoff = "–"
        rows.append(
            {
                "rule": rule.name,
                "error": rule.description,
                "raised as": ", ".join(e.__name__ for e in rule.errors),
                "retry?": "yes" if rule.retries else "no",
                "backoff": backoff,
                "max retries": str(rule.max_retries),
            }
        )
    return rows


@dataclass(frozen=True)
class Attempt:
    """What happened on one attempt of one operation.

    `outcome` is "ok", "retry" (it failed and will be retried after `delay`),
    "fail" (a non-retryable error, raised as is) or "exhausted" (the rule's
    budget is spent; RetryBudgetExhausted follows). `retry` counts this rule's
    retries so far (the n in base·2^(n-1)). `partial` marks a backoff before
    re-sending work a successful request left undone (UnprocessedItems): no
    request of its own.
    """

    operation: str
    attempt: int
    outcome: str
    at: float
    error_code: str = ""
    rule: str = ""
    retry: int = 0
    delay: float = 0.0
    partial: bool = False


AttemptHook = Callable[[Attempt], None]


class VirtualTime:
    """A clock whose `sleep` advances time instantly: deterministic tests and notebooks."""

    def __init__(self, start: float = 0.0):
        self._now = start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._now += seconds


@dataclass
class RetryStats:
    """An attempt hook that counts: attempts, retries by error code, outcomes, worst budget use."""

    attempts: int = 0
    retries_by_code: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    max_retries_used: Counter[str] = field(default_factory=Counter)  # rule -> highest retry number seen
    slept: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self, attempt: Attempt) -> None:
        with self._lock:
            self.attempts += 1
            self.outcomes[attempt.outcome] += 1
            if attempt.outcome == "retry":
                self.retries_by_code[attempt.error_code] += 1
                self.slept += attempt.delay
                if attempt.retry > self.max_retries_used[attempt.rule]:
                    self.max_retries_used[attempt.rule] = attempt.retry

    @property
    def retries(self) -> int:
        return sum(self.retries_by_code.values())

    @property
    def exhausted(self) -> int:
        return self.outcomes["exhausted"]


class Retrier:
    """Runs operations under a `RetryPolicy` with injected sleep, clock and randomness."""

    def __init__(
        self,
        policy: RetryPolicy = DEFAULT_POLICY,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        seed: int | None = None,
        hooks: Sequence[AttemptHook] = (),
    ):
        if rng is not None and seed is not None:
            raise ValueError("pass either rng or seed, not both")
        self.policy = policy
        self.sleep = sleep
        self.clock = clock
        self.rng = rng if rng is not None else random.Random(seed)
        self.hooks: list[AttemptHook] = list(hooks)
        self._rng_lock = threading.Lock()  # random.Random is not safe to share across threads
        self.stop: threading.Event | None = None

    def stopping(self, stop: threading.Event) -> Retrier:
        """This retrier (same policy, clock, random source and hooks) observing `stop` (see the module doc)."""
        bound = copy.copy(self)  # shallow: the random source and its lock stay shared
        bound.stop = stop
        return bound

    def _check_stop(self, operation: str, last_error: BaseException | None = None) -> None:
        if self.stop is not None and self.stop.is_set():
            detail = f"; last error: {last_error}" if last_error is not None else ""
            raise Interrupted(f"{operation}: stopped before another attempt{detail}", last_error=last_error)

    def _pause(self, delay: float) -> None:
        if self.stop is not None and self.sleep is time.sleep:
            self.stop.wait(delay)  # a stop request ends a real wait at once; injected sleeps are virtual
        else:
            self.sleep(delay)

    @classmethod
    def virtual(
        cls, seed: int = 0, *, policy: RetryPolicy = DEFAULT_POLICY, hooks: Sequence[AttemptHook] = ()
    ) -> Retrier:
        """A retrier on `VirtualTime` with a seeded random source (sleeps cost no wall time)."""
        vt = VirtualTime()
        return cls(policy, sleep=vt.sleep, clock=vt.now, seed=seed, hooks=hooks)

    def _emit(self, attempt: Attempt, extra: Sequence[AttemptHook] = ()) -> None:
        if attempt.outcome != "ok":
            log.info(
                "%s attempt %d %s: %s (rule %s, retry %d, delay %.3fs)",
                attempt.operation,
                attempt.attempt,
                attempt.outcome,
                attempt.error_code,
                attempt.rule or "-",
                attempt.retry,
                attempt.delay,
            )
        for hook in (*self.hooks, *extra):
            hook(attempt)

    def next_delay(self, rule: RetryRule, retry_number: int) -> float:
        """The delay before retry `retry_number` under `rule` (draws from the shared random source)."""
        with self._rng_lock:
            return self.policy.delay(rule, retry_number, self.rng)

    def call(self, operation: str, fn: Callable[[], T], *, hooks: Sequence[AttemptHook] = ()) -> T:
        """Run `fn()`; retry retryable storage errors per the policy; return its result.

        `hooks` see this call's attempts only (after the retrier's own hooks).

        Errors no rule retries (anything that is not a retryable StorageError) are
        raised unchanged after one attempt. When a rule's
        budget is spent, RetryBudgetExhausted is raised with the last error as
        `last_error` (and as `__cause__`).
        """
        used: Counter[str] = Counter()
        attempt = 0
        self._check_stop(operation)
        # Bounded: every failed attempt either raises or spends one retry of a finite budget.
        while True:
            attempt += 1
            try:
                result = fn()
            except RetryableError as exc:
                rule = self.policy.retry_rule_for(exc)
                code = exc.code or type(exc).__name__
                used[rule.name] += 1
                n = used[rule.name]
                if n > rule.max_retries:
                    self._emit(Attempt(operation, attempt, "exhausted", self.clock(), code, rule.name, n - 1), hooks)
                    raise RetryBudgetExhausted(
                        f"{operation} gave up after {attempt} attempts: {rule.name} budget of "
                        f"{rule.max_retries} retries spent; last error: {exc}",
                        attempts=attempt,
                        last_error=exc,
                    ) from exc
                self._check_stop(operation, exc)
                delay = self.next_delay(rule, n)
                self._emit(Attempt(operation, attempt, "retry", self.clock(), code, rule.name, n, delay), hooks)
                self._pause(delay)
                self._check_stop(operation, exc)
                continue
            except Exception as exc:  # not retryable: one attempt, raised as it is
                named = self.policy.rule_for(exc)
                code = getattr(exc, "code", "") or type(exc).__name__
                self._emit(Attempt(operation, attempt, "fail", self.clock(), code, named.name if named else ""), hooks)
                raise
            self._emit(Attempt(operation, attempt, "ok", self.clock()), hooks)
            return result

    def backoff(
        self,
        operation: str,
        rule_name: str,
        retry_number: int,
        code: str,
        *,
        attempt: int | None = None,
        last_error: BaseException | None = None,
        hooks: Sequence[AttemptHook] = (),
    ) -> None:
        """Sleep before re-sending partial work (e.g. UnprocessedItems), or raise when over budget.

        Used for progress loops where the request succeeded but left work undone:
        retry `retry_number` (1-based) of `rule_name` sleeps like an error retry
        and emits the same `Attempt` record.
        """
        rule = self.policy.rule(rule_name)
        attempt = retry_number if attempt is None else attempt
        if retry_number > rule.max_retries:
            self._emit(
                Attempt(operation, attempt, "exhausted", self.clock(), code, rule.name, retry_number - 1, partial=True),
                hooks,
            )
            error = last_error or Throttled(f"{operation}: {code}", code=code, operation=operation)
            raise RetryBudgetExhausted(
                f"{operation} gave up after {attempt} attempts: {rule.name} budget of "
                f"{rule.max_retries} retries spent ({code})",
                attempts=attempt,
                last_error=error,
            ) from error
        self._check_stop(operation, last_error)
        delay = self.next_delay(rule, retry_number)
        self._emit(
            Attempt(operation, attempt, "retry", self.clock(), code, rule.name, retry_number, delay, partial=True),
            hooks,
        )
        self._pause(delay)
        self._check_stop(operation, last_error)
