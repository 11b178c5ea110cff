"""messageId is the message's identity, whatever its time (contract §7; issue 10 item 1).

Reproductions: a messageId already stored, sent again at another time, used to be stored as a second
item and counted twice in its rollup (`ingest` said created, exit 0; pattern 4 returned two items),
and `validate` accepted one file holding the same messageId twice.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

from adversary import Deployment, conflict_keys, summary

from salestalk_lib.contract import keys
from salestalk_lib.contract.models import Message, MessageIdentity, SessionRollup
from salestalk_lib.dynamo.retry import Retrier
from salestalk_lib.ops import patterns
from salestalk_lib.ops.audit import audit_tenant
from salestalk_lib.ops.ingest import Ingestor, Outcome
from salestalk_lib.testing.samples import sample_messages, write_jsonl

TENANT = "identity-co"
SESSION = "3f2e1d0c-9b8a-4765-8432-10fedcba9876"
T0 = datetime(2025, 11, 9, 10, 0, tzinfo=UTC)


def _message(message_id: str, seconds: int, text: str = "What was revenue in Q3?") -> Message:
    return Message.create(
        tenant_id=TENANT,
        session_id=SESSION,
        sender="user",
        text=text,
        at=T0 + timedelta(seconds=seconds),
        message_id=message_id,
    )


def _stored_under(st, message_id: str) -> list[dict]:
    """Every item in the message's `MSG#` partition (access pattern 4 without the sort key)."""
    items, _ = st.storage.query(
        st.settings.table_name("messages", TENANT),
        key_condition="pk = :pk",
        values={":pk": keys.message_pk(message_id)},
        consistent=True,
    )
    return items


def test_the_same_message_id_at_another_time_is_a_conflict_and_writes_nothing(deployment: Deployment, tmp_path):
    deployment.onboard(TENANT)
    first = _message("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", 0)
    moved = _message(first.message_id, 300)  # same id and text, five minutes later
    assert deployment.run("ingest", str(write_jsonl(tmp_path / "a.jsonl", [first])), "--no-progress").returncode == 0
    again = deployment.run("ingest", str(write_jsonl(tmp_path / "b.jsonl", [moved])), "--no-progress")
    assert again.returncode == 1, again.stderr
    assert summary(again.stdout)["message"]["conflict"] == 1
    assert conflict_keys(again.stderr) == [first.pk]
    assert "differ in sk, timestamp" in again.stderr

    st = deployment.st
    assert [i["sk"] for i in _stored_under(st, first.message_id)] == [first.sk]  # one item under MSG#{id}
    scope = st.tenant(TENANT)
    rollup = patterns.run(scope, "session_rollup", session_id=SESSION).items[0]
    assert rollup == SessionRollup.of_messages([first])  # counted once, first/last untouched
    identity = st.storage.get_item(
        scope.messages_table, {"pk": keys.message_identity_pk(first.message_id), "sk": keys.message_identity_sk()}
    )
    assert identity == MessageIdentity.of(first).to_item()
    assert audit_tenant(scope).findings == []


def test_writers_racing_one_id_at_different_times_end_with_one_winner(deployment: Deployment):
    # Twenty ids, each written at the same moment by three writers at three different times: the
    # identity item's condition lets exactly one transaction per id win; the others are conflicts.
    deployment.onboard(TENANT)
    st = deployment.st
    ids = [m.message_id for m in sample_messages(TENANT, 20, seed=41)]
    writers = 3
    barrier = threading.Barrier(writers)
    outcomes: list[list[tuple[str, Outcome]]] = [[] for _ in range(writers)]

    def writer(k: int) -> None:
        ing = Ingestor(st.storage, st.settings, retrier=Retrier(seed=k))
        ing.require_active(TENANT)
        barrier.wait(timeout=60)
        for n, message_id in enumerate(ids):
            result = ing.ingest_message(_message(message_id, 60 * n + k, text=f"writer {k}"))
            outcomes[k].append((message_id, result.outcome))

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a writer hung"

    for message_id in ids:
        ends = Counter(outcome for per_writer in outcomes for mid, outcome in per_writer if mid == message_id)
        assert ends == {Outcome.CREATED: 1, Outcome.CONFLICT: writers - 1}, (message_id, ends)
        (stored,) = _stored_under(st, message_id)
        winner = next(k for k in range(writers) if (message_id, Outcome.CREATED) in outcomes[k])
        assert stored["text"] == f"writer {winner}"
    rollup = patterns.run(st.tenant(TENANT), "session_rollup", session_id=SESSION).items[0]
    assert rollup.message_count == len(ids)
    assert audit_tenant(st.tenant(TENANT)).findings == []


def test_validate_reports_one_message_id_twice_in_one_file_and_across_files(deployment: Deployment, tmp_path):
    first = _message("5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b", 0)
    moved = _message(first.message_id, 60)
    one_file = write_jsonl(tmp_path / "one.jsonl", [first, moved])
    result = deployment.run("validate", str(one_file), connected=False)
    assert result.returncode == 1
    assert (
        f"{one_file}:2 messageId: {first.message_id} is already the id of the message at {one_file}:1" in result.stdout
    )
    a, b = write_jsonl(tmp_path / "a.jsonl", [first]), write_jsonl(tmp_path / "b.jsonl", [moved])
    across = deployment.run("validate", str(a), str(b), connected=False)
    assert across.returncode == 1 and f"{b}:1 messageId: " in across.stdout
    # ingest refuses the file before anything is written
    refused = deployment.run("ingest", str(one_file), "--no-progress")
    assert refused.returncode == 2 and "nothing was written" in refused.stderr
