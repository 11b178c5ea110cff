"""Kills and races against real `salestalk ingest` processes and one `salestalk serve` (issue 10's suite).

- Crash: SIGKILL the ingest at random points, three times, each while writes it sent are applied
  but unanswered, then let it finish: every message is stored once (with its identity item), every
  rollup is exact, every metric is stored.
- Race: several processes on the same and on overlapping files, plus a file whose messages reuse
  ids of another file at other times: exactly one version of each id wins, the others are
  conflicts, every rollup is exact.

The kill points are drawn from a seeded generator and counted in answered writes (a proxy holds the
answers after that), not in wall time, so a fast or slow machine moves them in time but not in what
they interrupt.
"""

from __future__ import annotations

import random
import signal
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from adversary import Deployment, conflict_keys, count_items, finish, stop, summary, totals, wait_until

from salestalk_lib.contract import keys
from salestalk_lib.contract.models import Message
from salestalk_lib.ops.audit import audit_tenant
from salestalk_lib.testing.faults import FaultProxy
from salestalk_lib.testing.samples import sample_messages, sample_metrics, write_jsonl

TENANT = "chaos-co"


def _stored_messages(st) -> dict[str, list[dict]]:
    """messageId -> the message items stored under its `MSG#` partition (read back by a Scan: verification)."""
    table = st.settings.table_name("messages", TENANT)
    items, start, out = [], None, {}
    for _ in range(10_000):
        page, start = st.storage.scan(table, start_key=start, consistent=True)
        items += page
        if start is None:
            break
    for item in items:
        if keys.pk_kind(item["pk"]) is keys.KeyKind.MESSAGE:
            out.setdefault(item["messageId"], []).append(item)
    return out


def test_three_sigkills_then_a_finish_store_every_message_once_and_every_rollup_exact(deployment: Deployment, tmp_path):
    deployment.onboard(TENANT)
    st = deployment.st
    messages = sample_messages(TENANT, 480, sessions=20, seed=81)
    metrics = sample_metrics(TENANT, 40, seed=82, first_day=datetime(2023, 1, 1, tzinfo=UTC))
    path = write_jsonl(tmp_path / "records.jsonl", [*messages, *metrics])
    table = st.settings.table_name("messages", TENANT)
    full = 2 * len(messages) + 20 + 1  # messages, identity items, rollups, the batch record
    rng = random.Random(83)
    # The ingest goes through a proxy that answers a drawn number of writes, then applies the next ones
    # and holds their answers: each SIGKILL lands mid-write, at a point counted in requests, and no run
    # can finish before it (a fast machine used to finish a run between two polls of a stored count).
    with FaultProxy(deployment.server.url) as proxy:
        through = deployment.via(proxy.url)
        # ~12 packed writes make a run; a resumed run sends them again (those already applied come back
        # cancelled and are classified), so later kills answer more of them.
        for after in sorted(rng.sample(range(1, 10), 3)):
            held = proxy.hold_writes(after=after)
            proc = through.start("ingest", str(path), "--no-progress", "--workers", "4")
            wait_until(lambda: held.is_set() or proc.poll() is not None, timeout=120, what="a held write")
            if proc.poll() is not None:
                code, out, err = finish(proc)
                pytest.fail(f"the run ended (exit {code}) before a write was held:\n{out}\n{err[-2000:]}")
            stop(proc, signal.SIGKILL, timeout=30)
            proxy.release()
    code, out, err = finish(deployment.start("ingest", str(path), "--no-progress"))
    assert code == 0, err
    rows = summary(out)
    assert totals(rows, "created", "already_exists") == len(messages) + len(metrics)
    assert totals(rows, "conflict", "failed") == 0
    stored = _stored_messages(st)
    assert sorted(stored) == sorted(m.message_id for m in messages)
    assert all(len(v) == 1 for v in stored.values())
    by_id = {m.message_id: m for m in messages}
    assert all(v[0] == by_id[mid].to_item() for mid, v in stored.items())
    scope = st.tenant(TENANT)
    assert audit_tenant(scope).findings == []  # every identity paired, every rollup exact
    assert count_items(st, table) == full
    assert count_items(st, scope.metrics_table) == len(metrics)


def test_racing_processes_on_same_and_overlapping_files_and_reused_ids_end_exact(deployment: Deployment, tmp_path):
    deployment.onboard(TENANT)
    st = deployment.st
    messages = sample_messages(TENANT, 180, sessions=10, seed=84)
    a, b = messages[:120], messages[60:]
    # The same ids as 20 of A's messages, an hour later and with other text: a second version of each id.
    reused = [
        Message.create(
            tenant_id=TENANT,
            session_id=m.session_id,
            sender=m.sender,
            text=f"rewritten {n}",
            at=m.at + timedelta(hours=1),
            message_id=m.message_id,
        )
        for n, m in enumerate(a[10:30])
    ]
    files = {
        "A": write_jsonl(tmp_path / "a.jsonl", a),
        "A again": write_jsonl(tmp_path / "a2.jsonl", a),
        "B": write_jsonl(tmp_path / "b.jsonl", b),
        "D": write_jsonl(tmp_path / "d.jsonl", reused),
    }
    # "A again" is the same file, so the same batch: it resumes A's run, or replays it if A finished first.
    procs = {
        name: deployment.start("ingest", str(path), "--no-progress", "--workers", "3") for name, path in files.items()
    }
    runs = {name: finish(proc) for name, proc in procs.items()}

    contested = {m.message_id for m in reused}
    created = Counter()
    conflicts: Counter = Counter()
    for name, (code, out, err) in runs.items():
        rows = summary(out)
        assert totals(rows, "failed") == 0, err
        assert code in (0, 1) and (code == 1) == bool(conflict_keys(err)), err
        created[name] = totals(rows, "created")
        conflicts.update(keys.parse_message_pk(k) for k in conflict_keys(err))
    # Every id was created exactly once over all the runs; only contested ids conflict.
    assert sum(created.values()) == len(messages)
    assert set(conflicts) <= contested and set(conflicts) == contested
    stored = _stored_messages(st)
    assert sorted(stored) == sorted(m.message_id for m in messages)
    versions = {m.message_id: m for m in messages}
    second = {m.message_id: m for m in reused}
    for message_id, items in stored.items():
        assert len(items) == 1, message_id
        if message_id in contested:
            assert items[0] in (versions[message_id].to_item(), second[message_id].to_item())
        else:
            assert items[0] == versions[message_id].to_item()
    assert audit_tenant(st.tenant(TENANT)).findings == []  # every rollup counts the winners, once
