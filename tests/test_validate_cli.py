"""`salestalk validate` and `salestalk schema` end to end, through the CLI entry point."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from salestalk_lib.cli.main import main
from salestalk_lib.contract.models import SCHEMA_MODELS, canonical_json
from salestalk_lib.contract.validation import parse_json

SEED = Path(__file__).resolve().parents[1] / "seed_data"


def run(capsys, *argv: str) -> tuple[int, list[str], str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def seed(name: str) -> list[dict]:
    return parse_json((SEED / name).read_text(encoding="utf-8"))


def write_json(path: Path, records) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(canonical_json(records), encoding="utf-8")
    return path


def write_lines(path: Path, records) -> Path:
    path.write_text("".join(canonical_json(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_seed_data_validates_with_exit_0(capsys):
    code, out, _err = run(capsys, "validate", str(SEED))
    assert code == 0, out
    assert out == ["OK: 32 record(s) in 5 file(s) (8 message, 22 metric, 2 tenant) valid"]


def test_malformed_file_lists_every_violation_with_exit_1(tmp_path, capsys):
    metric, message = seed("acme-corp-001/metrics.json")[1], seed("acme-corp-001/messages.json")[0]
    bad_metric = dict(metric, value=True, timestamp=metric["timestamp"] + 1, unit="usd")
    bad_message = dict(message, sender="bot", text="")
    bad_message["classification"] = dict(message["classification"], confidence=float("nan"))
    path = write_json(tmp_path / "batch.json", [metric, bad_metric, bad_message])

    code, out, err = run(capsys, "validate", str(path))

    assert code == 1
    assert sorted(out) == sorted(
        [
            f"{path}:2 unit: must be an ISO 4217 currency code such as USD or EUR, 'count' or 'percentage' "
            "(a fraction), got 'usd'",
            f"{path}:2 value: must be a number, not a boolean",
            f"{path}:2 timestamp: must be 1751328000, the start of period 2025-Q3 (2025-07-01T00:00:00Z), "
            "got 1751328001",
            f"{path}:3 sender: Input should be 'user', 'assistant' or 'system'",
            f"{path}:3 text: String should have at least 1 character",
            f"{path}:3 classification.confidence: must be a finite number (NaN and infinity cannot be stored)",
        ]
    )
    assert "6 violation(s)" in err


def test_every_line_has_the_file_record_field_rule_shape(tmp_path, capsys):
    lines = Path(__file__).with_name("malformed").joinpath("corpus.jsonl").read_text().splitlines()
    records = [parse_json(line)["record"] for line in lines[:30]]
    path = write_lines(tmp_path / "corpus-records.jsonl", records)
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 1
    assert len(out) >= 30
    for line in out:
        where, rest = line.split(" ", 1)
        file_part, record = where.rsplit(":", 1)
        assert file_part == str(path) and record.isdigit()
        field, rule = rest.split(": ", 1)
        assert field and rule
    assert {line.split(" ", 1)[0] for line in out} == {f"{path}:{n}" for n in range(1, 31)}


def test_kind_is_recognised_whatever_the_file_is_called(tmp_path, capsys):
    # Every record kind under misleading names and both formats.
    write_json(tmp_path / "messages.json", seed("acme-corp-001/metrics.json"))
    write_lines(tmp_path / "tenants.jsonl", seed("techstart-inc-002/messages.json"))
    write_json(tmp_path / "nested" / "metrics.json", seed("tenants.json"))
    write_lines(tmp_path / "x.ndjson", seed("techstart-inc-002/metrics.json"))
    write_json(tmp_path / "one.json", seed("acme-corp-001/messages.json")[0])
    code, out, _ = run(capsys, "validate", str(tmp_path))
    assert code == 0, out
    assert out == ["OK: 29 record(s) in 5 file(s) (5 message, 22 metric, 2 tenant) valid"]


def test_a_malformed_record_is_judged_by_its_content_not_its_file(tmp_path, capsys):
    metric = dict(seed("acme-corp-001/metrics.json")[0], metricType="margin")
    path = write_json(tmp_path / "tenants.json", [metric])
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 1
    assert out == [f"{path}:1 metricType: must equal subject ('revenue'), got 'margin'"]


def test_json_lines_report_line_numbers_and_parse_errors(tmp_path, capsys):
    good = seed("acme-corp-001/metrics.json")[0]
    path = tmp_path / "m.jsonl"
    path.write_text(canonical_json(good) + "\n\n{not json\n" + canonical_json(dict(good, sk="2025-Q9")) + "\n")
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 2  # a line that is not JSON is bad input; the other lines are still checked
    assert out[0].startswith(f"{path}:3 (file): not valid JSON")
    assert out[1].startswith(f"{path}:4 sk: ")
    assert len(out) == 2


def test_unrecognisable_records_and_non_objects_are_violations(tmp_path, capsys):
    path = write_json(tmp_path / "odd.json", [{"hello": "world"}, 42])
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 1
    assert out[0].startswith(f"{path}:1 (record): cannot tell what kind of record this is")
    assert out[1] == f"{path}:2 (record): must be a JSON object, got a number"


def test_unknown_event_type_is_named(tmp_path, capsys):
    path = write_json(tmp_path / "e.json", {"eventType": "deal.closed.v1", "eventId": "x"})
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 1
    assert out[0].startswith(f"{path}:1 eventType: unknown event type 'deal.closed.v1'")


def test_duplicate_attribute_in_one_object_is_reported(tmp_path, capsys):
    text = canonical_json(seed("acme-corp-001/metrics.json")[0])
    path = tmp_path / "dup.json"
    path.write_text(text[:-1] + ',"value":1}')
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 1
    assert out == [f"{path}:1 value: appears more than once in one JSON object (only the last value would be kept)"]


def test_two_records_with_one_primary_key_are_reported(tmp_path, capsys):
    metric = seed("acme-corp-001/metrics.json")[0]
    path = write_json(tmp_path / "m.json", [metric, dict(metric, value=1)])
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 1
    assert out == [f"{path}:2 pk: has the same key as {path}:1: writing both would overwrite one with the other"]


def test_records_of_an_unregistered_tenant_are_reported(tmp_path, capsys):
    tenants = write_json(tmp_path / "t.json", seed("tenants.json")[:1])  # ACME only
    metrics = write_json(tmp_path / "m.json", seed("techstart-inc-002/metrics.json")[:1])
    code, out, _ = run(capsys, "validate", str(tenants), str(metrics))
    assert code == 1
    assert out == [
        f"{metrics}:1 tenantId: 'techstart-inc-002' has no tenant registry record among the validated records"
    ]


def test_answer_figures_are_checked_against_the_metrics_validated_with_them(tmp_path, capsys):
    root = tmp_path / "seed"
    shutil.copytree(SEED, root)
    metrics_file = root / "acme-corp-001" / "metrics.json"
    items = parse_json(metrics_file.read_text())
    europe = next(i for i in items if i.get("dimensionKey") == "region:Europe")
    europe["value"] = 2240500
    write_json(metrics_file, items)
    code, out, _ = run(capsys, "validate", str(root))
    assert code == 1
    assert len(out) == 1
    assert out[0].startswith(
        f"{root / 'acme-corp-001' / 'messages.json'}:2 metadata.dataReferences[2].value: "
        "reference says 2240000, stored item has 2240500"
    )


def test_tenant_option_rejects_other_tenants_records(capsys):
    code, out, _ = run(capsys, "validate", "--tenant", "acme-corp-001", str(SEED / "techstart-inc-002"))
    assert code == 1
    assert len(out) == 14
    assert all(
        " tenantId: is 'techstart-inc-002' but the record belongs to tenant 'acme-corp-001'" in line for line in out
    )


def test_missing_path_and_empty_file_are_bad_input(tmp_path, capsys):
    empty = tmp_path / "empty.json"
    empty.write_text("")
    code, out, _ = run(capsys, "validate", str(tmp_path / "nope.json"), str(empty))
    assert code == 2
    assert out == [
        f"{tmp_path / 'nope.json'} (file): no such file or directory: check the path",
        f"{empty} (file): is empty: no records (a JSON array or object, or JSON lines, expected)",
    ]


def test_schema_writes_one_schema_per_model(tmp_path, capsys):
    code, out, _ = run(capsys, "schema", "--out", str(tmp_path / "schemas"))
    assert code == 0
    files = sorted((tmp_path / "schemas").glob("*.schema.json"))
    assert len(files) == len(SCHEMA_MODELS) == 19
    titles = {json.loads(f.read_text())["title"] for f in files}
    assert titles == {m.__name__ for m in SCHEMA_MODELS}
    assert out == [f"wrote 19 JSON Schema files to {tmp_path / 'schemas'}"]


def test_written_schemas_accept_the_seed_data(tmp_path, capsys):
    jsonschema = pytest.importorskip("jsonschema")
    main(["schema", "--out", str(tmp_path)])
    capsys.readouterr()
    for schema_name, seed_file in (
        ("tenant", "tenants.json"),
        ("metric", "acme-corp-001/metrics.json"),
        ("message", "techstart-inc-002/messages.json"),
    ):
        validator = jsonschema.Draft202012Validator(json.loads((tmp_path / f"{schema_name}.schema.json").read_text()))
        for record in seed(seed_file):
            assert list(validator.iter_errors(record)) == [], (schema_name, record)


@pytest.mark.parametrize("bad", ["ACME", "acme corp", "", "a" * 65, "acme\n"])
def test_tenant_option_must_be_a_valid_tenant_id(capsys, bad):
    code, out, err = run(capsys, "validate", "--tenant", bad, str(SEED / "tenants.json"))
    assert code == 2 and out == []
    assert "tenant id" in err
