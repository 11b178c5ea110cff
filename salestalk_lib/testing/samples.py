"""Deterministic sample messages and metrics for tests, notebooks and the benchmark.

Every record is valid under the contract and every id is a UUID v4 drawn from a
seeded generator, so the same arguments give the same records, byte for byte.
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from salestalk_lib.contract import keys
from salestalk_lib.contract.models import ContractModel, Message, Metric, canonical_json
from salestalk_lib.contract.vocab import Sender, Subject

# One unit per subject that the Metric model accepts for it.
SUBJECT_UNITS: dict[Subject, str] = {
    Subject.REVENUE: "USD",
    Subject.ARR: "USD",
    Subject.PIPELINE: "USD",
    Subject.MARGIN: "percentage",
    Subject.DEALS: "count",
    Subject.CUSTOMERS: "count",
    Subject.PRODUCTS: "count",
    Subject.CHURN_RATE: "percentage",
    Subject.RENEWAL_RATE: "percentage",
}
REGIONS = ("North America", "Europe", "Asia Pacific")
START = datetime(2025, 11, 9, 10, 0, tzinfo=UTC)


def uuid4_from(rng: random.Random) -> str:
    """A canonical UUID v4 drawn from `rng` (deterministic for a seeded generator)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def counter_ids(start: int = 1) -> Callable[[], str]:
    """A factory of predictable UUID v4s (`…-000000000001`, `…-000000000002`, …) for reproducible examples."""
    counter = itertools.count(start)
    return lambda: str(uuid.UUID(int=next(counter), version=4))


def sample_messages(
    tenant_id: str, count: int, *, sessions: int = 10, seed: int = 0, shuffle: float = 0.1, start: datetime = START
) -> list[Message]:
    """`count` messages spread over `sessions` conversations, mostly in time order.

    Each session alternates user and assistant turns 1-90 s apart; about one turn
    in twenty shares its predecessor's time (to exercise tie-breaks). A fraction
    `shuffle` of the list is swapped with random other positions, so some
    messages arrive before older ones, as they do from real clients.
    """
    rng = random.Random(seed)
    session_ids = [uuid4_from(rng) for _ in range(max(1, sessions))]
    clocks = {sid: start + timedelta(minutes=17 * i) for i, sid in enumerate(session_ids)}
    turns = dict.fromkeys(session_ids, 0)
    out: list[Message] = []
    for n in range(count):
        sid = session_ids[n % len(session_ids)] if n < len(session_ids) else rng.choice(session_ids)
        if turns[sid] and rng.random() >= 0.05:
            clocks[sid] += timedelta(milliseconds=rng.randrange(1_000, 90_000))
        sender = Sender.USER if turns[sid] % 2 == 0 else Sender.ASSISTANT
        turns[sid] += 1
        out.append(
            Message.create(
                tenant_id=tenant_id,
                session_id=sid,
                sender=sender,
                at=clocks[sid],
                message_id=uuid4_from(rng),
                text=f"{sender.value} turn {turns[sid]} of session {sid[:8]} (sample {n})",
            )
        )
    for i in range(len(out)):
        if rng.random() < shuffle:
            j = rng.randrange(len(out))
            out[i], out[j] = out[j], out[i]
    return out


def sample_metrics(
    tenant_id: str,
    count: int,
    *,
    seed: int = 0,
    slices: bool = True,
    first_day: datetime = datetime(2000, 1, 1, tzinfo=UTC),
) -> list[Metric]:
    """`count` distinct metrics: daily figures per subject, with regional slices when `slices`.

    Keys never repeat: the subject cycles fastest, then the slice (headline,
    then one per region), then the day.
    """
    rng = random.Random(seed)
    subjects = list(SUBJECT_UNITS)
    variants: list[str | None] = [None, *(REGIONS if slices else ())]
    out: list[Metric] = []
    for n in range(count):
        subject = subjects[n % len(subjects)]
        variant = variants[(n // len(subjects)) % len(variants)]
        day = first_day + timedelta(days=n // (len(subjects) * len(variants)))
        unit = SUBJECT_UNITS[subject]
        if unit == "percentage":
            value = Decimal(rng.randrange(0, 10_000)) / Decimal(10_000)
        elif unit == "count":
            value = Decimal(rng.randrange(0, 50_000))
        else:
            value = Decimal(rng.randrange(-5_000_000, 50_000_000)) / Decimal(100)
        dims = {"region": variant} if variant else None
        out.append(
            Metric.create(
                tenant_id=tenant_id,
                subject=subject,
                period=keys.day(day.year, day.month, day.day),
                value=value,
                unit=unit,
                dimensions=dims,
                dimension_key=keys.dimension_key("region", variant) if variant else None,
                metric_id=uuid4_from(rng),
            )
        )
    return out


def write_jsonl(path: str | Path, records: Iterable[ContractModel]) -> Path:
    """Write records as JSON lines, numbers as their exact decimal text (what `salestalk ingest` reads)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(canonical_json(r.to_item()) + "\n" for r in records), encoding="utf-8")
    return path
