"""Streaming validation (`StreamingInput`, `salestalk validate`): the whole-file reader's decisions, in bounded memory.

The streaming reader must give exactly what the whole-file reader (`read_records`) gives, for
every layout and every kind of bad input, wherever the chunk boundaries fall; the rules between
records must stay exact although only key hashes are kept; and memory must not grow with the
records (tracemalloc: no wall clock involved).
"""

from __future__ import annotations

import json
import random
import tracemalloc
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from salestalk_lib.contract import keys, validation
from salestalk_lib.contract.errors import ValidationFailed, Violation
from salestalk_lib.contract.models import Message, canonical_json
from salestalk_lib.contract.validation import (
    FILE_FIELD,
    StreamingInput,
    cross_check,
    iter_valid,
    read_records,
    validate_paths,
    validate_record,
)
from salestalk_lib.testing.samples import sample_messages, sample_metrics, uuid4_from

TENANT = "acme"
START = datetime(2025, 11, 9, 10, 0, tzinfo=UTC)


def message_item(
    i: int, rng: random.Random, *, message_id: str | None = None, seconds: int | None = None
) -> dict[str, Any]:
    """A valid message item (built by hand: fast enough for tens of thousands)."""
    mid = message_id or uuid4_from(rng)
    at = START + timedelta(seconds=i if seconds is None else seconds, milliseconds=i % 1000)
    return {
        "tenantId": TENANT,
        "messageId": mid,
        "sessionId": "e3e70682-c209-4cac-a29f-6fbed82c07cd",
        "pk": keys.message_pk(mid),
        "sk": keys.message_sk(at),
        "timestamp": keys.unix_seconds(at),
        "sender": "user" if i % 2 == 0 else "assistant",
        "text": f"turn {i}",
    }


def write_lines(path: Path, items: list[dict[str, Any]]) -> Path:
    path.write_text("".join(canonical_json(item) + "\n" for item in items), encoding="utf-8")
    return path


def whole_file(paths: list[Path], tenant_id: str | None = None) -> tuple[list[Violation], int, int]:
    """The reference: every file read whole by `read_records`, each record validated, then `cross_check`."""
    violations: list[Violation] = []
    valid = []
    files = checked = 0
    for path in validation.json_files(paths, violations):
        labelled, problems = read_records(path)
        files += bool(labelled) or not problems
        violations += problems
        for where, record in labelled:
            checked += 1
            model, found = validate_record(record, where, tenant_id=tenant_id)
            violations += found
            if model is not None:
                kind = validation.detect_kind(record)
                assert kind is not None
                valid.append(validation.ValidRecord(where, kind, model))
    return violations + cross_check(valid), files, checked


def assert_same_as_whole_file(paths: list[Path], tenant_id: str | None = None) -> list[Violation]:
    report = StreamingInput(paths, tenant_id=tenant_id).validate()
    expected, files, checked = whole_file(paths, tenant_id)
    assert (report.violations, report.files, report.checked) == (expected, files, checked)
    assert report.records == []  # streamed: nothing kept
    return report.violations


ITEM = message_item(0, random.Random(1))
ITEM_JSON = canonical_json(ITEM)
# (file name, text): every layout and every bad input the whole-file reader decides.
CASES = [
    ("array.json", "[" + ",".join(canonical_json(message_item(i, random.Random(i))) for i in range(12)) + "]"),
    ("spaced.json", " \r\n[ \n" + ITEM_JSON + " ,\n\t" + ITEM_JSON.replace("turn 0", "other") + "\n]\r\n \n"),
    ("empty-array.json", "[]"),
    ("numbers.json", '[1234567, 8.25e3, -0.5, true, null, "x", [1]]'),
    ("object.json", ITEM_JSON),
    ("bom.json", "\ufeff[" + ITEM_JSON + "]"),
    ("truncated.json", "[" + ITEM_JSON + "," + ITEM_JSON[:40]),
    ("trailing-comma.json", "[" + ITEM_JSON + ",]"),
    ("missing-comma.json", "[" + ITEM_JSON + " " + ITEM_JSON + "]"),
    ("extra-data.json", "[" + ITEM_JSON + "]\n[" + ITEM_JSON + "]\n"),
    ("lines-in-json.json", ITEM_JSON + "\n" + ITEM_JSON + "\n"),
    (
        "repeated-key-in-lines.json",
        ITEM_JSON + "\n" + ITEM_JSON.replace("turn 0", "b") + "\n" + ITEM_JSON[:-1] + ', "text": "c"}\n',
    ),
    ("repeated-key-late.jsonl", ITEM_JSON + "\n" * 3 + ITEM_JSON[:-1] + ', "sender": "user"}\n' + ITEM_JSON + "\n"),
    ("deep.json", "[" + ITEM_JSON + "," + "[" * 63 + "]" * 63 + "]"),
    ("too-deep.json", "[" + ITEM_JSON + "," + "[" * 64 + "]" * 64 + "]"),
    ("deep-strings.json", "[" + json.dumps({"x": "[" * 200}) + "]"),
    ("long-int.json", "[" + ITEM_JSON + ", " + "9" * 5000 + "]"),
    ("nul-at-end.json", "[" + ITEM_JSON + "]\x00"),
    ("blank.json", " \n\t "),
    ("formfeed.json", "\x0c[" + ITEM_JSON + "]"),
    ("scalar.json", "42"),
    ("duplicate-key.json", "[" + ITEM_JSON[:-1] + ', "text": "again"}]'),
    ("nan.json", "[" + ITEM_JSON.replace('"timestamp":', '"timestamp": NaN, "x":') + "]"),
    ("u2028.json", "[" + ITEM_JSON.replace("turn 0", "turn\u20280") + "]"),
    ("lines.jsonl", ITEM_JSON + "\n\n" + ITEM_JSON.replace("turn 0", "again") + "\r\n"),
    ("bad-line.jsonl", ITEM_JSON + "\n{not json\n" + json.dumps({"pk": "MSG#x"}) + "\n"),
    ("no-newline.ndjson", ITEM_JSON),
    ("u2028.jsonl", ITEM_JSON.replace("turn 0", "a\u2028b\u2029c") + "\n"),
    ("blank.jsonl", "\n\n  \n"),
    ("nul.jsonl", ITEM_JSON + "\n" + "{}\x00\n"),
    ("bom.jsonl", "\ufeff" + ITEM_JSON + "\n"),
    ("too-deep.jsonl", "[" * 65 + "]" * 65 + "\n" + ITEM_JSON + "\n"),
]


@pytest.mark.parametrize("chunk", [1 << 20, 7, 1])
@pytest.mark.parametrize(("name", "text"), CASES, ids=[c[0] for c in CASES])
def test_streaming_reads_every_layout_as_the_whole_file_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str, chunk: int
) -> None:
    monkeypatch.setattr(validation, "_CHUNK", chunk)  # chunk boundaries everywhere, mid-character too
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert_same_as_whole_file([path])


@pytest.mark.parametrize("chunk", [1 << 20, 5])
def test_bytes_that_are_not_utf8_anywhere_are_decided_by_the_whole_file_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(validation, "_CHUNK", chunk)
    body = ("[" + ITEM_JSON + "]").encode()
    paths = []
    for i, data in enumerate(
        [body + b"\xff", body[:20] + b"\xc3" + body[20:], b"\xff\xfe[\x00]\x00", body + b"\n\xe2\x80"]
    ):
        for suffix in (".json", ".jsonl"):
            path = tmp_path / f"bad{i}{suffix}"
            path.write_bytes(data if suffix == ".json" else data.replace(b"[", b"").replace(b"]", b""))
            paths.append(path)
    violations = assert_same_as_whole_file(paths)
    assert violations and all(v.field == FILE_FIELD for v in violations)


def test_a_file_that_fails_late_contributes_no_record_to_the_rules_between_records(tmp_path: Path) -> None:
    """A JSON array broken at its end is bad input as a whole: its early records are not cross-checked either."""
    rng = random.Random(3)
    first = message_item(1, rng)
    good = write_lines(tmp_path / "a.jsonl", [first])
    broken = tmp_path / "b.json"
    broken.write_text("[" + canonical_json(first) + ", {", encoding="utf-8")  # same key as a.jsonl:1, then broken
    violations = assert_same_as_whole_file([good, broken])
    assert [v.field for v in violations] == [FILE_FIELD]


def test_records_across_files_and_layouts_are_cross_checked_exactly(tmp_path: Path) -> None:
    rng = random.Random(5)
    items = [message_item(i, rng) for i in range(30)]
    same_id_later = message_item(99, rng, message_id=items[3]["messageId"], seconds=5000)  # messageId twice
    (tmp_path / "a.json").write_text(canonical_json([*items[:15], items[4]]), encoding="utf-8")
    write_lines(tmp_path / "b.jsonl", [*items[15:], same_id_later, items[20], items[0]])
    violations = assert_same_as_whole_file([tmp_path])
    assert [(v.where.rsplit("/", 1)[-1], v.field) for v in violations] == [
        ("a.json:16", "pk"),
        ("b.jsonl:16", "messageId"),
        ("b.jsonl:17", "pk"),
        ("b.jsonl:18", "pk"),
    ]
    assert "already the id of the message at" in violations[1].rule and violations[1].rule.count("a.json:4")


def test_colliding_hashes_are_compared_by_their_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every hash equal: the exact comparison alone decides, so no unique record is reported."""
    rng = random.Random(7)
    items = [message_item(i, rng) for i in range(40)]
    clean = write_lines(tmp_path / "clean.jsonl", items)
    dup = write_lines(tmp_path / "dup.jsonl", [items[5], message_item(1, rng, message_id=items[9]["messageId"])])
    honest = StreamingInput([clean, dup]).validate().violations
    monkeypatch.setattr(validation, "_key_hash", lambda key: 0)
    assert StreamingInput([clean]).validate().violations == []
    assert StreamingInput([clean, dup]).validate().violations == honest
    assert [v.field for v in honest] == ["pk", "messageId"]
    assert_same_as_whole_file([clean, dup])


def test_tenant_registry_and_references_are_checked_while_streaming(tmp_path: Path) -> None:
    metrics = sample_metrics(TENANT, 6)
    ref = {
        "metric": metrics[0].subject.value,
        "period": metrics[0].period.text,
        "value": metrics[0].value + 1,  # disagrees with the stored metric
        "unit": metrics[0].unit,
        "source": {"table": keys.metrics_table_base(TENANT), "pk": metrics[0].pk, "sk": metrics[0].sk},
    }
    if metrics[0].dimensions:
        ref["dimensions"] = metrics[0].dimensions
    answer = Message.create(
        tenant_id=TENANT,
        session_id=uuid4_from(random.Random(1)),
        sender="assistant",
        at=START,
        message_id=uuid4_from(random.Random(2)),
        text="revenue was up",
        metadata={"dataReferences": [ref]},
    )
    other = sample_messages("other-tenant", 2)
    seed = Path(__file__).resolve().parents[1] / "seed_data" / "tenants.json"
    write_lines(tmp_path / "a-messages.jsonl", [answer.to_item(), *(m.to_item() for m in other)])
    write_lines(tmp_path / "b-metrics.jsonl", [m.to_item() for m in metrics])
    paths = [tmp_path, seed] if seed.exists() else [tmp_path]
    violations = assert_same_as_whole_file(paths)
    fields = [v.field for v in violations]
    assert "metadata.dataReferences[0].value" in fields
    if seed.exists():
        assert fields.count("tenantId") >= 2  # other-tenant is not in the registry


def test_records_streams_the_valid_records_after_a_clean_first_pass(tmp_path: Path) -> None:
    rng = random.Random(11)
    items = [message_item(i, rng) for i in range(25)]
    (tmp_path / "a.json").write_text(canonical_json(items[:10]), encoding="utf-8")
    write_lines(tmp_path / "b.jsonl", items[10:])
    streaming = StreamingInput([tmp_path])
    assert streaming.validate().ok
    kept = validate_paths([tmp_path]).records
    assert list(streaming.records()) == kept and len(kept) == 25
    assert list(iter_valid([tmp_path])) == [r.model for r in kept]


def test_records_and_iter_valid_refuse_an_invalid_input_before_yielding_anything(tmp_path: Path) -> None:
    rng = random.Random(13)
    items = [message_item(i, rng) for i in range(5)]
    write_lines(tmp_path / "a.jsonl", items)
    write_lines(tmp_path / "b.jsonl", [{**items[0], "text": ""}])
    given = []
    with pytest.raises(ValidationFailed) as failed:
        for model in iter_valid([tmp_path]):
            given.append(model)
    assert given == []
    assert [v.field for v in failed.value.violations] == ["text"]


def test_the_report_counts_kinds_without_keeping_records(tmp_path: Path) -> None:
    write_lines(tmp_path / "m.jsonl", [m.to_item() for m in sample_messages(TENANT, 3)])
    write_lines(tmp_path / "x.jsonl", [m.to_item() for m in sample_metrics(TENANT, 2)])
    streamed = StreamingInput([tmp_path]).validate()
    assert (
        streamed.summary() == validate_paths([tmp_path]).summary() == "5 record(s) in 2 file(s) (3 message, 2 metric)"
    )


def _traced_peak(path: Path) -> int:
    tracemalloc.start()
    try:
        report = StreamingInput([path]).validate()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.ok and report.checked > 0
    return peak


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_memory_does_not_grow_with_the_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str) -> None:
    """8,000 records against 1,000: the peak grows by the key logs only, not by the records (~3 KB each).

    The logs take ~50 bytes a record (hashes and positions in arrays), and sorting the hashes
    at the end ~40 more for a moment: far below what keeping any record would take.
    """
    monkeypatch.setattr(validation, "_CHUNK", 1 << 16)  # small chunks: the buffer does not hide the growth
    rng = random.Random(17)
    items = [message_item(i, rng) for i in range(8_000)]

    def write(n: int) -> Path:
        path = tmp_path / f"m{n}{suffix}"
        if suffix == ".json":
            path.write_text("[\n" + ",\n".join(canonical_json(i) for i in items[:n]) + "\n]\n", encoding="utf-8")
            return path
        return write_lines(path, items[:n])

    small, large = write(1_000), write(8_000)
    items.clear()  # not held while measuring
    _traced_peak(small)  # warm caches (lru caches, interned strings) before measuring
    peak_small, peak_large = _traced_peak(small), _traced_peak(large)
    growth_per_record = (peak_large - peak_small) / 7_000
    assert growth_per_record < 150, (peak_small, peak_large)


def test_numbers_at_chunk_boundaries_are_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A number (or literal) that ends a chunk may go on in the next: every cut gives the same values."""
    text = "[" + ", ".join(["123456789", "-0.000125", "1e400", "true", "false", "null", "7"]) + "]"
    path = tmp_path / "n.json"
    path.write_text(text, encoding="utf-8")
    for chunk in range(1, len(text) + 2):
        monkeypatch.setattr(validation, "_CHUNK", chunk)
        problems: list[Violation] = []
        got = [r for _, r in validation._numbered_records(path, problems)]
        assert problems == [] and got == [123456789, Decimal("-0.000125"), Decimal("1e400"), True, False, None, 7]
