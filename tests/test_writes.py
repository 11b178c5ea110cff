"""Unit tests of the create-once primitive (`salestalk_lib.dynamo.writes.put_once`) on an in-memory fake seam."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from salestalk_lib.contract.errors import (
    ConditionFailed,
    RetryBudgetExhausted,
    Throttled,
    TransientError,
)
from salestalk_lib.dynamo.retry import Attempt, Retrier
from salestalk_lib.dynamo.writes import (
    CREATE_ONCE,
    CreateOnce,
    Outcome,
    WriteResult,
    by_content,
    create_once,
    put_once,
)

TABLE = "t"
KEY = {"pk": "A", "sk": "1"}


class FakeSeam:
    """put_item/get_item on a dict; `faults` is a script of what each PutItem does before (or instead of) its work.

    A fault is "throttle" (refused, nothing applied), "lost" (applied, then the response is lost: TransientError),
    "vanish" (fails its condition, but the item is gone before the read) or None (normal).
    `return_item=False` models an endpoint that returns no stored item on a failed condition.
    """

    def __init__(self, *, return_item: bool = True, faults: list[str | None] | None = None):
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.return_item = return_item
        self.faults = list(faults or [])
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.vanishing = False

    def put_item(
        self,
        table: str,
        item: Mapping[str, Any],
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> None:
        self.calls.append(("PutItem", {"condition": condition, "names": names, "values": values}))
        fault = self.faults.pop(0) if self.faults else None
        if fault == "throttle":
            raise Throttled("slow down", code="ThrottlingException")
        k = (item["pk"], item["sk"])
        if fault == "vanish":
            self.vanishing = True
            raise ConditionFailed("condition failed", code="ConditionalCheckFailedException")
        if k in self.items:
            stored = self.items[k] if self.return_item else None
            raise ConditionFailed("condition failed", item=stored, code="ConditionalCheckFailedException")
        self.items[k] = dict(item)
        if fault == "lost":
            raise TransientError("connection reset", code="ConnectionReset")

    def get_item(self, table: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
        self.calls.append(("GetItem", dict(key)))
        if self.vanishing:
            self.vanishing = False
            return None
        return self.items.get((key["pk"], key["sk"]))


def run(
    seam: FakeSeam, item: Mapping[str, Any] | Callable[[], CreateOnce], **kw: Any
) -> tuple[WriteResult, list[Attempt]]:
    attempts: list[Attempt] = []
    request = item if callable(item) else CreateOnce(item)
    result = put_once(seam, TABLE, request, KEY, Retrier.virtual(), hooks=[attempts.append], **kw)  # type: ignore[arg-type]
    return result, attempts


ITEM = {"pk": "A", "sk": "1", "value": 1}


def test_created_writes_the_item_with_the_not_exists_condition():
    seam = FakeSeam()
    result, attempts = run(seam, ITEM)
    assert result.outcome is Outcome.CREATED and result.stored is None and result.incoming == ITEM
    assert result.table == TABLE and result.key == KEY and result.rounds == 1
    assert seam.items[("A", "1")] == ITEM
    assert seam.calls == [("PutItem", {"condition": CREATE_ONCE, "names": None, "values": None})]
    assert [a.outcome for a in attempts] == ["ok"]


def test_an_identical_stored_item_is_already_exists_in_one_round_trip():
    seam = FakeSeam()
    seam.items[("A", "1")] = dict(ITEM)
    result, _ = run(seam, ITEM)
    assert result.outcome is Outcome.ALREADY_EXISTS
    assert result.stored == ITEM and not result.conflict and result.differing_fields() == []
    assert [c[0] for c in seam.calls] == ["PutItem"]  # the stored item came back with the failed condition


def test_a_different_stored_item_is_a_conflict_with_both_versions_and_is_not_overwritten():
    seam = FakeSeam()
    seam.items[("A", "1")] = {**ITEM, "value": 2}
    result, _ = run(seam, ITEM)
    assert result.outcome is Outcome.CONFLICT and result.conflict
    assert result.stored == {**ITEM, "value": 2} and result.incoming == ITEM
    assert result.differing_fields() == ["value"]
    assert seam.items[("A", "1")]["value"] == 2


def test_without_a_returned_item_the_stored_item_is_read():
    seam = FakeSeam(return_item=False)
    seam.items[("A", "1")] = {**ITEM, "value": 2}
    result, attempts = run(seam, ITEM)
    assert result.outcome is Outcome.CONFLICT and result.stored == {**ITEM, "value": 2}
    assert [c[0] for c in seam.calls] == ["PutItem", "GetItem"]
    assert [a.operation for a in attempts] == ["PutItem", "GetItem"]


def test_a_throttled_put_is_retried_under_the_throttling_rule():
    seam = FakeSeam(faults=["throttle", "throttle"])
    result, attempts = run(seam, ITEM)
    assert result.outcome is Outcome.CREATED
    assert [(a.outcome, a.rule) for a in attempts] == [("retry", "throttling"), ("retry", "throttling"), ("ok", "")]
    assert len(seam.calls) == 3


def test_a_lost_response_is_settled_as_already_exists_never_a_conflict():
    seam = FakeSeam(faults=["lost"])
    result, attempts = run(seam, ITEM)
    assert result.outcome is Outcome.ALREADY_EXISTS  # the retry found its own write
    assert [(a.outcome, a.rule) for a in attempts] == [("retry", "transient"), ("fail", "condition")]
    assert list(seam.items.values()) == [ITEM]


def test_the_retry_budget_is_the_retriers():
    seam = FakeSeam(faults=["throttle"] * 11)
    with pytest.raises(RetryBudgetExhausted) as info:
        run(seam, ITEM)
    assert isinstance(info.value.last_error, Throttled)
    assert seam.items == {}


def test_a_vanished_item_is_created_again_within_the_rounds():
    seam = FakeSeam(faults=["vanish"])
    result, _ = run(seam, ITEM, rounds=2)
    assert result.outcome is Outcome.CREATED and result.rounds == 2
    assert [c[0] for c in seam.calls] == ["PutItem", "GetItem", "PutItem"]


def test_an_item_that_keeps_vanishing_raises_the_callers_error_or_the_condition_failure():
    seam = FakeSeam(faults=["vanish"])
    with pytest.raises(ConditionFailed):
        run(seam, ITEM)
    seam = FakeSeam(faults=["vanish", "vanish"])
    with pytest.raises(RetryBudgetExhausted) as info:
        run(seam, ITEM, rounds=2, vanished=lambda f: RetryBudgetExhausted("gone", attempts=2, last_error=f))
    assert isinstance(info.value.last_error, ConditionFailed)
    assert [c[0] for c in seam.calls] == ["PutItem", "GetItem"] * 2


def test_the_callers_classifier_decides_and_none_means_create_again():
    seam = FakeSeam()
    seam.items[("A", "1")] = {**ITEM, "value": 2, "expired": True}
    seen: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def classify(stored: dict[str, Any], new: dict[str, Any]) -> Outcome | None:
        seen.append((stored, new))
        if stored.get("expired"):
            seam.items.pop(("A", "1"))  # as if DynamoDB's TTL removed it
            return None
        return Outcome.ALREADY_EXISTS

    result, _ = run(seam, ITEM, classify=classify, rounds=2)
    assert result.outcome is Outcome.CREATED and result.rounds == 2
    assert seen == [({**ITEM, "value": 2, "expired": True}, ITEM)]
    seam.items[("A", "1")] = {**ITEM, "value": 3}
    assert run(seam, ITEM, classify=classify)[0].outcome is Outcome.ALREADY_EXISTS  # not by content


def test_a_request_factory_builds_each_round_afresh():
    seam = FakeSeam(faults=["vanish"])
    built: list[int] = []

    def request() -> CreateOnce:
        built.append(len(built) + 1)
        return CreateOnce(
            {**ITEM, "round": built[-1]}, "attribute_not_exists(pk) OR #t <= :now", {"#t": "ttl"}, {":now": built[-1]}
        )

    result, _ = run(seam, request, rounds=3)
    assert result.outcome is Outcome.CREATED and built == [1, 2]
    assert seam.items[("A", "1")]["round"] == 2
    assert seam.calls[-1] == (
        "PutItem",
        {"condition": "attribute_not_exists(pk) OR #t <= :now", "names": {"#t": "ttl"}, "values": {":now": 2}},
    )


def test_by_content_is_the_comparison_rule():
    assert by_content(ITEM, dict(ITEM)) is Outcome.ALREADY_EXISTS
    assert by_content(ITEM, {**ITEM, "value": 2}) is Outcome.CONFLICT
    assert by_content(ITEM, {**ITEM, "extra": None}) is Outcome.CONFLICT


def test_create_once_conditions_on_the_tables_hash_key():
    seam = FakeSeam()
    item = {"pk": "A", "sk": "1", "name": "x"}
    result = create_once(seam, TABLE, item, ("pk", "sk"), Retrier.virtual())  # type: ignore[arg-type]
    assert result.outcome is Outcome.CREATED and result.key == {"pk": "A", "sk": "1"}
    assert seam.calls == [("PutItem", {"condition": "attribute_not_exists(#k)", "names": {"#k": "pk"}, "values": None})]
    again = create_once(seam, TABLE, {**item, "name": "y"}, ("pk", "sk"), Retrier.virtual())  # type: ignore[arg-type]
    assert again.outcome is Outcome.CONFLICT and again.differing_fields() == ["name"]
