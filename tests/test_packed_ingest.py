"""Packed exactly-once transactions: many messages (or metrics) per TransactWriteItems, settled from its reasons.

The packing rules are checked without a database; the outcomes, rollup counts,
races and lost responses on both engines, always against a fresh read of the table.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from salestalk_lib.contract import keys
from salestalk_lib.contract.models import Message, MessageIdentity, Metric, item_size_bytes
from salestalk_lib.contract.settings import Settings
from salestalk_lib.dynamo.retry import Attempt, Retrier
from salestalk_lib.dynamo.storage import Storage
from salestalk_lib.ops.connection import SalesTalk, connect
from salestalk_lib.ops.ingest import (
    ROLLUP_UPDATE_BYTES,
    TRANSACTION_BYTES,
    TRANSACTION_LIMIT,
    Ingestor,
    MessageMode,
    MetricMode,
    Outcome,
    pack_items,
    pack_messages,
)
from salestalk_lib.testing.faults import FaultProfile, faulty_endpoint
from salestalk_lib.testing.samples import sample_messages, sample_metrics, uuid4_from

TENANT = "packed-unit"
PACKED = MessageMode.PACKED
T0 = datetime(2025, 11, 9, 10, 0, tzinfo=UTC)


def message(rng: random.Random, session: str, seconds: float, text: str = "hello", message_id: str | None = None):
    """A message of TENANT in `session` at T0 + `seconds`."""
    return Message.create(
        tenant_id=TENANT,
        session_id=session,
        sender="user",
        text=text,
        at=T0 + timedelta(seconds=seconds),
        message_id=message_id or uuid4_from(rng),
    )


# --- packing (no database) ----------------------------------------------------------------


def _check_packs(messages: list[Message], chains: list[list[list[int]]]) -> None:
    """Every message once; each transaction within 100 actions and 4 MB, no item twice; sessions in one chain."""
    flat = [n for chain in chains for pack in chain for n in pack]
    assert sorted(flat) == list(range(len(messages)))
    chain_of: dict[str, int] = {}
    for c, chain in enumerate(chains):
        for pack in chain:
            sessions = {messages[n].session_id for n in pack}
            actions = 2 * len(pack) + len(sessions)
            size = sum(
                item_size_bytes(messages[n].to_item()) + item_size_bytes(MessageIdentity.of(messages[n]).to_item())
                for n in pack
            )
            assert actions <= TRANSACTION_LIMIT
            assert size + ROLLUP_UPDATE_BYTES * len(sessions) <= TRANSACTION_BYTES
            item_keys = [(messages[n].pk, messages[n].sk) for n in pack] + [
                (keys.message_identity_pk(messages[n].message_id), "") for n in pack
            ]
            assert len(set(item_keys)) == len(item_keys)
            for s in sessions:
                assert chain_of.setdefault(s, c) == c  # a session's transactions are written by one chain


def test_packing_respects_100_actions_and_one_session_per_chain():
    rng = random.Random(1)
    big = uuid4_from(rng)
    messages = [message(rng, big, n) for n in range(130)]  # one session needs three transactions
    messages += sample_messages(TENANT, 300, sessions=40, seed=2)
    chains = pack_messages(messages)
    _check_packs(messages, chains)
    assert len(chains[0]) == 3 and [len(p) for p in chains[0]][:2] == [49, 49]  # 2 × 49 + 1 = 99 actions
    # Small sessions share transactions: far fewer transactions than messages.
    assert sum(len(c) for c in chains) <= ceil_div(430 * 2 + 41, 90)


def ceil_div(a: int, b: int) -> int:
    """a / b rounded up."""
    return -(-a // b)


def test_packing_respects_4_mb():
    rng = random.Random(2)
    session = uuid4_from(rng)
    # The largest messages the contract admits (~90 KB: 10,000 four-byte characters and 50 KB of metadata):
    # 49 of them (99 actions) would be over 4 MB, so bytes, not actions, bound each transaction.
    messages = [
        Message.create(
            tenant_id=TENANT,
            session_id=session,
            sender="user",
            text="\U0001f600" * 10_000,
            at=T0 + timedelta(seconds=n),
            message_id=uuid4_from(rng),
            metadata={"blob": "x" * 50_000},
        )
        for n in range(120)
    ]
    assert item_size_bytes(messages[0].to_item()) > 88_000
    chains = pack_messages(messages)
    _check_packs(messages, chains)
    assert len(chains) == 1 and len(chains[0]) == 3 and max(len(p) for p in chains[0]) < 49
    sizes = [item_size_bytes(m.to_item()) for m in messages]
    parts = pack_items(sizes, [(m.pk, m.sk) for m in messages])
    assert sorted(n for p in parts for n in p) == list(range(120))
    assert all(sum(sizes[n] for n in p) <= TRANSACTION_BYTES for p in parts)
    assert len(parts) == ceil_div(sum(sizes), TRANSACTION_BYTES)


def test_pack_items_never_puts_one_key_twice_in_a_transaction():
    parts = pack_items([10] * 250, [("a", str(n % 30)) for n in range(250)])
    assert [len(p) for p in parts] == [30] * 8 + [10]
    assert sorted(n for p in parts for n in p) == list(range(250))
    assert pack_items([10] * 250, [("a", str(n)) for n in range(250)]) == [
        list(range(0, 100)),
        list(range(100, 200)),
        list(range(200, 250)),
    ]


# --- on both engines ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def conn(endpoint, register) -> SalesTalk:
    """A connection with TENANT onboarded (its own table prefix)."""
    st = connect(settings=Settings(table_prefix=f"pk{uuid.uuid4().hex[:8]}-", environment="test"), endpoint=endpoint)
    return register(st, TENANT)


def stored_state(conn: SalesTalk) -> tuple[dict[str, list[dict]], dict[str, dict], dict[str, dict]]:
    """A fresh, strongly consistent read of the messages table: messages by session, rollups, identities."""
    table = conn.settings.table_name("messages", TENANT)
    items: list[dict] = []
    start = None
    while True:
        page, start = conn.storage.scan(table, consistent=True, start_key=start)
        items.extend(page)
        if start is None:
            break
    messages: dict[str, list[dict]] = {}
    rollups: dict[str, dict] = {}
    identities: dict[str, dict] = {}
    for item in items:
        if item["pk"].startswith("MSG#"):
            messages.setdefault(item["sessionId"], []).append(item)
        elif item["pk"].startswith("SESSION#"):
            rollups[item["sessionId"]] = item
        elif item["pk"].startswith("MSGID#"):
            identities[item["pk"]] = item
    return messages, rollups, identities


def assert_rollups_exact(conn: SalesTalk, sessions: set[str]) -> None:
    """Each session's rollup counts its stored messages exactly once, with their first and last times."""
    messages, rollups, identities = stored_state(conn)
    for sid in sessions:
        stored = messages.get(sid, [])
        if not stored:
            assert sid not in rollups
            continue
        r = rollups[sid]
        assert int(r["messageCount"]) == len(stored) == len({m["messageId"] for m in stored}), sid
        assert r["firstMessageAt"] == min(m["timestamp"] for m in stored)
        last = max(stored, key=lambda m: (m["timestamp"], m["messageId"]))
        assert (r["lastMessageAt"], r["lastMessageId"]) == (last["timestamp"], last["messageId"])
        for m in stored:
            assert identities[f"MSGID#{m['messageId']}"]["messageSk"] == m["sk"]


def ingestor(conn: SalesTalk, storage: Storage | None = None, **kw) -> Ingestor:
    """An Ingestor with a virtual retrier (no real sleeping)."""
    return Ingestor(storage or conn.storage, conn.settings, retrier=Retrier.virtual(seed=3), **kw)


@pytest.mark.integration
def test_partially_existing_batch_settles_each_message_and_counts_only_new_ones(conn):
    rng = random.Random("partial")
    sessions = [uuid4_from(rng) for _ in range(4)]
    batch = [message(rng, sessions[n % 4], 100 + n) for n in range(60)]
    ing = ingestor(conn)
    # Stored before: some of the batch itself (same content), and other versions of a few of its ids.
    same = [batch[n] for n in (0, 5, 6, 17, 33, 59)]
    other_text = [message(rng, batch[n].session_id, 100 + n, "changed", batch[n].message_id) for n in (1, 40)]
    other_time = [message(rng, batch[n].session_id, 5000 + n, message_id=batch[n].message_id) for n in (2, 21)]
    earlier = [message(rng, sessions[0], 1), message(rng, sessions[1], 9000)]  # stretch first/last times
    for m in [*same, *other_text, *other_time, *earlier]:
        assert ing.ingest_message(m).outcome is Outcome.CREATED
    requests: Counter[str] = Counter()
    report = ing.ingest(
        batch, hooks=[lambda a: requests.update([a.operation])], record_batch=False, message_mode=PACKED
    )
    by_id = {r.key: r.outcome for r in report.results}
    for n, m in enumerate(batch):
        expected = (
            Outcome.ALREADY_EXISTS
            if n in (0, 5, 6, 17, 33, 59)
            else Outcome.CONFLICT
            if n in (1, 40, 2, 21)
            else Outcome.CREATED
        )
        assert by_id[m.pk] is expected, (n, by_id[m.pk])
    assert report.counts() == {"created": 50, "already_exists": 6, "conflict": 4}
    assert {c.key.split(" ")[0] for c in report.conflicts} == {batch[n].pk for n in (1, 40, 2, 21)}
    # Packed: a handful of transactions, not one per message (60 messages of 4 sessions: 2 transactions,
    # each sent again once without the messages found stored; rollup guesses cost at most a round each).
    assert requests["TransactWriteItems"] <= 8
    assert_rollups_exact(conn, set(sessions))
    again = ing.ingest(batch, record_batch=False, message_mode=PACKED)
    assert again.counts() == {"already_exists": 56, "conflict": 4}
    assert_rollups_exact(conn, set(sessions))


@pytest.mark.integration
def test_single_mode_is_one_transaction_per_message(conn):
    rng = random.Random("single")
    session = uuid4_from(rng)
    batch = [message(rng, session, n) for n in range(5)]
    requests: Counter[str] = Counter()
    report = ingestor(conn).ingest(
        batch,
        workers=1,
        message_mode=MessageMode.SINGLE,
        hooks=[lambda a: requests.update([a.operation])],
        record_batch=False,
    )
    assert report.counts() == {"created": 5}
    assert requests["TransactWriteItems"] == 5  # the first created the rollup; the others knew it existed
    assert_rollups_exact(conn, {session})


@pytest.mark.integration
def test_racing_packed_writers_store_each_message_once(conn):
    rng = random.Random("race")
    sessions = [uuid4_from(rng) for _ in range(6)]
    pool = [message(rng, sessions[n % 6], rng.randrange(0, 3000)) for n in range(240)]
    subsets = [rng.sample(pool, 160) for _ in range(4)]
    reports = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(subsets))

    def write(subset: list[Message]) -> None:
        try:
            ing = ingestor(conn)
            barrier.wait()
            reports.append(ing.ingest(subset, workers=3, record_batch=False, message_mode=PACKED))
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(s,)) for s in subsets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == [] and len(reports) == 4
    outcomes: dict[str, Counter[str]] = {}
    for report in reports:
        assert report.failures == [] and report.conflicts == []
        for r in report.results:
            outcomes.setdefault(r.key, Counter())[r.outcome.value] += 1
    written = {m.pk for s in subsets for m in s}
    assert set(outcomes) == written
    assert all(c["created"] == 1 for c in outcomes.values())  # exactly one writer created each message
    messages, _, _ = stored_state(conn)
    stored = {m["pk"] for sid in sessions for m in messages.get(sid, [])}
    assert stored == written
    assert_rollups_exact(conn, set(sessions))


@pytest.mark.integration
@pytest.mark.parametrize("token", [True, False], ids=["token", "no-token"])
def test_lost_responses_never_count_twice(conn, endpoint, token):
    """A transaction applied whose response is lost is sent again: with its token, or (the token's 10-minute
    window over, simulated by sending none) as a new request that the identity conditions refuse."""
    rng = random.Random(f"lost-{token}")
    sessions = [uuid4_from(rng) for _ in range(5)]
    batch = [message(rng, sessions[n % 5], n) for n in range(150)]
    year = 2011 if token else 2010
    metrics = sample_metrics(TENANT, 120, seed=year, first_day=datetime(year, 1, 1, tzinfo=UTC))
    with faulty_endpoint(endpoint, FaultProfile(read_timeout=10)) as faulty:

        def lose_every_first_send(attempt: Attempt) -> None:
            """After the tenant's status read, each transaction's first response is lost; its resend is not."""
            if attempt.outcome == "retry":
                faulty.proxy.profile = FaultProfile(read_timeout=10)
            elif attempt.operation in ("GetItem", "TransactWriteItems") and attempt.outcome in ("ok", "fail"):
                faulty.proxy.profile = FaultProfile(lost=1.0, read_timeout=10)

        kw = {} if token else {"new_token": lambda: ""}
        ing = Ingestor(Storage(faulty.client()), conn.settings, retrier=Retrier.virtual(seed=5), **kw)
        report = ing.ingest(
            [*batch, *metrics],
            workers=1,
            metric_mode=MetricMode.TRANSACTION,
            message_mode=PACKED,
            record_batch=False,
            hooks=[lose_every_first_send],
        )
        lost = faulty.proxy.counts["lost"]
    transactions = len([p for c in pack_messages(batch) for p in c]) + 2  # 120 metrics: 2 transactions
    assert lost >= transactions  # (and the tenant's status re-read, when one falls after a resend)
    assert all(r.ambiguous and r.retries == 1 for r in report.results)
    # With the token, DynamoDB answers the resend with the first answer: created. Without it (its 10 minutes
    # over), the resend is a new request that the identity and not-exists conditions refuse: the messages
    # and metrics are found stored with our content, already_exists, and no rollup counts them again.
    assert report.counts() == ({"created": 270} if token else {"already_exists": 270})
    assert_rollups_exact(conn, set(sessions))
    messages, _, _ = stored_state(conn)
    assert sum(len(messages.get(s, [])) for s in sessions) == 150
    table = conn.settings.table_name("metrics", TENANT)
    assert all(conn.storage.get_item(table, {"pk": m.pk, "sk": m.sk}) == m.to_item() for m in metrics)


@pytest.mark.integration
def test_partially_existing_metric_transaction_settles_from_its_reasons(conn):
    metrics = sample_metrics(TENANT, 150, seed=9, first_day=datetime(2009, 1, 1, tzinfo=UTC))
    ing = ingestor(conn)
    for m in metrics[:150:7]:
        assert ing.ingest_metric(m).outcome is Outcome.CREATED
    changed = Metric.from_item({**metrics[3].to_item(), "value": metrics[3].value + 1})
    assert ing.ingest_metric(changed).outcome is Outcome.CREATED
    requests: Counter[str] = Counter()
    report = ing.ingest(
        metrics,
        metric_mode=MetricMode.TRANSACTION,
        hooks=[lambda a: requests.update([a.operation])],
        record_batch=False,
    )
    existing = len(range(0, 150, 7))
    assert report.counts() == {"already_exists": existing, "conflict": 1, "created": 150 - existing - 1}
    assert requests["TransactWriteItems"] == 4 and requests["PutItem"] == 0  # 2 chunks, each resent once
    table = conn.settings.table_name("metrics", TENANT)
    assert conn.storage.get_item(table, {"pk": changed.pk, "sk": changed.sk}) == changed.to_item()
    assert all(
        conn.storage.get_item(table, {"pk": m.pk, "sk": m.sk}) == m.to_item() for m in metrics if m is not metrics[3]
    )
