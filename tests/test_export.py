"""`salestalk export` / `salestalk audit --export`: DynamoDB's S3 export format, written and audited offline.

What is checked against AWS's documentation ("DynamoDB table export output format", and the
DynamoDB JSON import format) is typed into this file from it, not taken from the module under
test: the directory layout, the manifest fields, the manifest-files lines, and that each data
line parses as DynamoDB JSON with boto3's own TypeDeserializer.
"""

from __future__ import annotations

import base64
import copy
import gzip
import hashlib
import json
import re
import shutil
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from boto3.dynamodb.types import TypeDeserializer

from salestalk_lib.cli.main import main
from salestalk_lib.contract import keys
from salestalk_lib.contract.errors import InputError
from salestalk_lib.contract.settings import Settings
from salestalk_lib.contract.tables import TableKind
from salestalk_lib.ops.audit import audit_tenant
from salestalk_lib.ops.connection import connect
from salestalk_lib.ops.export import (
    ExportOptions,
    audit_export,
    export_seed,
    export_tenant,
    item_line,
    read_table_export,
    write_table_export,
)

SEED_DIR = Path(__file__).resolve().parents[1] / "seed_data"
ACME, TECHSTART = "acme-corp-001", "techstart-inc-002"
AT = datetime(2025, 11, 10, 12, 0, 0, 123000, tzinfo=UTC)

# AWS's documented manifest-summary.json of a full export (S3DataExport.Output), field by field.
DOCUMENTED_SUMMARY = {
    "version": str,
    "exportArn": str,
    "startTime": str,
    "endTime": str,
    "tableArn": str,
    "tableId": str,
    "exportTime": str,
    "s3Bucket": str,
    "s3Prefix": str,
    "s3SseAlgorithm": str,
    "s3SseKmsKeyId": type(None),
    "manifestFilesS3Key": str,
    "billedSizeBytes": int,
    "itemCount": int,
    "outputFormat": str,
    "exportType": str,
}
DOCUMENTED_FILE_LINE = {"itemCount": int, "md5Checksum": str, "etag": str, "dataFileS3Key": str}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _seed_records(tenant: str, name: str) -> list[dict]:
    return json.loads((SEED_DIR / tenant / f"{name}.json").read_text(encoding="utf-8"), parse_float=Decimal)


def _b64md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def _canonical(item: dict) -> str:
    """An item as comparable text: numbers by value (the seed files hold ints, DynamoDB returns Decimals)."""

    def plain(value):
        if isinstance(value, bool) or value is None or isinstance(value, str):
            return value
        if isinstance(value, (int, Decimal)):
            return f"N:{Decimal(value).normalize()}"
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, (set, frozenset)):
            return sorted(str(plain(v)) for v in value)
        return repr(value)

    return json.dumps(plain(item), sort_keys=True)


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _export_dir(out: Path, table: str) -> Path:
    (directory,) = (out / table / "AWSDynamoDB").iterdir()
    return directory


def _rewrite_data_file(path: Path, lines: list[bytes], *, fix_manifests: bool, count: int | None = None) -> None:
    """Replace a data file's lines; with fix_manifests, its manifest line and every checksum are made true again."""
    body = gzip.compress(b"".join(lines), mtime=0)
    path.write_bytes(body)
    if not fix_manifests:
        return
    directory = path.parent.parent
    files = directory / "manifest-files.json"
    entries = [json.loads(line) for line in files.read_bytes().splitlines()]
    for e in entries:
        if e["dataFileS3Key"].endswith(path.name):
            e.update(
                itemCount=len(lines) if count is None else count,
                md5Checksum=_b64md5(body),
                etag=hashlib.md5(body).hexdigest(),
            )
    files_bytes = b"".join(json.dumps(e).encode() + b"\n" for e in entries)
    files.write_bytes(files_bytes)
    (directory / "manifest-files.md5").write_text(_b64md5(files_bytes))
    summary = json.loads((directory / "manifest-summary.json").read_bytes())
    summary["itemCount"] = sum(e["itemCount"] for e in entries)
    summary_bytes = json.dumps(summary).encode()
    (directory / "manifest-summary.json").write_bytes(summary_bytes)
    (directory / "manifest-summary.md5").write_text(_b64md5(summary_bytes))


@pytest.fixture
def seed_export(tmp_path):
    """The seed, exported with a fixed time under prefix `exp-`."""
    settings = Settings(table_prefix="exp-")
    out = tmp_path / "seed"
    results = export_seed(SEED_DIR, out, settings=settings, options=ExportOptions(at=AT))
    return out, settings, results


# --- the format, against AWS's documentation ------------------------------------------------


def test_the_seed_export_has_aws_layout_manifests_and_checksums(seed_export):
    out, settings, results = seed_export
    assert {r.table for r in results} == {
        settings.registry_table,
        *(settings.table_name(k, t) for t in (ACME, TECHSTART) for k in (TableKind.MESSAGES, TableKind.METRICS)),
    }
    for r in results:
        directory = _export_dir(out, r.table)
        export_id = directory.name
        assert re.fullmatch(r"\d{14}-[0-9a-f]{8}", export_id) and int(export_id[:14]) == int(AT.timestamp() * 1000)
        names = {p.name for p in directory.iterdir()}
        assert names == {
            "_started",
            "data",
            "manifest-summary.json",
            "manifest-summary.md5",
            "manifest-files.json",
            "manifest-files.md5",
        }
        assert (directory / "_started").read_bytes() == b""
        summary_bytes = (directory / "manifest-summary.json").read_bytes()
        files_bytes = (directory / "manifest-files.json").read_bytes()
        assert (directory / "manifest-summary.md5").read_text() == _b64md5(summary_bytes)
        assert (directory / "manifest-files.md5").read_text() == _b64md5(files_bytes)

        summary = json.loads(summary_bytes)
        assert {k: type(v) for k, v in summary.items()} == DOCUMENTED_SUMMARY
        assert summary["version"] == "2020-06-30"
        assert (summary["outputFormat"], summary["exportType"]) == ("DYNAMODB_JSON", "FULL_EXPORT")
        assert summary["tableArn"].endswith(f":table/{r.table}") and summary["tableArn"].startswith("arn:aws:dynamodb:")
        assert summary["exportArn"] == f"{summary['tableArn']}/export/{export_id}"
        assert str(uuid.UUID(summary["tableId"])) == summary["tableId"]
        assert all(TIMESTAMP.match(summary[k]) for k in ("startTime", "endTime", "exportTime"))
        assert summary["s3Prefix"] == r.table
        assert summary["manifestFilesS3Key"] == f"{r.table}/AWSDynamoDB/{export_id}/manifest-files.json"

        deserializer = TypeDeserializer()
        total = 0
        lines = [json.loads(line) for line in files_bytes.splitlines()]
        assert lines
        for entry in lines:
            assert {k: type(v) for k, v in entry.items()} == DOCUMENTED_FILE_LINE
            key = entry["dataFileS3Key"]
            assert re.fullmatch(rf"{re.escape(r.table)}/AWSDynamoDB/{export_id}/data/[a-z2-7]{{26}}\.json\.gz", key)
            body = (out / key).read_bytes()  # OUT laid out as the S3 keys: OUT synced to the bucket root
            assert entry["md5Checksum"] == _b64md5(body) and entry["etag"] == hashlib.md5(body).hexdigest()
            text = gzip.decompress(body).decode("utf-8").splitlines()
            assert len(text) == entry["itemCount"]
            for line in text:
                doc = json.loads(line)
                assert list(doc) == ["Item"]
                item = {k: deserializer.deserialize(v) for k, v in doc["Item"].items()}  # boto3's own reading
                key_name = "tenantId" if r.table == settings.registry_table else "pk"
                assert isinstance(item[key_name], str)
            total += entry["itemCount"]
        assert summary["itemCount"] == total == r.item_count
        assert r.import_source() == {
            "S3BucketSource": {
                "S3Bucket": "salestalk-exports",
                "S3KeyPrefix": f"{r.table}/AWSDynamoDB/{export_id}/data/",
            },
            "InputFormat": "DYNAMODB_JSON",
            "InputCompressionType": "GZIP",
        }


def test_the_seed_export_holds_exactly_the_items_seed_stores_and_audits_clean(seed_export):
    out, settings, _ = seed_export
    audit = audit_export(out)
    assert audit.findings == [] and audit.ok and audit.registry_checked
    by_tenant = {r.tenant_id: r for r in audit.reports}
    assert set(by_tenant) == {ACME, TECHSTART}
    for tenant in (ACME, TECHSTART):
        messages = _seed_records(tenant, "messages")
        assert by_tenant[tenant].items == {
            settings.registry_table: 1,
            settings.table_name(TableKind.MESSAGES, tenant): 2 * len(messages)
            + len({m["sessionId"] for m in messages}),
            settings.table_name(TableKind.METRICS, tenant): len(_seed_records(tenant, "metrics")),
        }
    metrics = list(read_table_export(_export_dir(out, settings.table_name(TableKind.METRICS, ACME))))
    assert {_canonical(m) for m in metrics} == {_canonical(m) for m in _seed_records(ACME, "metrics")}


def test_a_fixed_time_export_is_byte_for_byte_reproducible(tmp_path, seed_export):
    out, settings, _ = seed_export
    again = tmp_path / "again"
    export_seed(SEED_DIR, again, settings=settings, options=ExportOptions(at=AT))
    assert _tree(again) == _tree(out)
    export_seed(SEED_DIR, again, settings=settings, options=ExportOptions(at=AT))  # rewrites its own export in place
    assert _tree(again) == _tree(out)


def test_without_a_fixed_time_a_second_export_into_the_same_dir_is_refused(tmp_path):
    out = tmp_path / "out"
    export_seed(SEED_DIR, out, settings=Settings())
    with pytest.raises(InputError, match="already holds an export of"):
        export_seed(SEED_DIR, out, settings=Settings())


def test_binary_sets_and_numbers_round_trip_through_a_data_line(tmp_path):
    item = {
        "pk": "X#1",
        "sk": "a",
        "blob": b"\x00\xffraw",
        "tags": {"a", "b"},
        "big": Decimal("12345678901234567890.123456789"),
        "nested": {"l": [Decimal(1), None, True, b"\x01"]},
    }
    line = item_line(item)
    doc = json.loads(line)
    assert doc["Item"]["blob"] == {"B": base64.b64encode(b"\x00\xffraw").decode()}
    export = write_table_export([item], tmp_path, table="t-x", table_arn="arn:aws:dynamodb:r:1:table/t-x", table_id="i")
    (back,) = read_table_export(export.directory)
    assert back == item


# --- streaming --------------------------------------------------------------------------------


def test_the_writer_streams_one_item_at_a_time_and_rotates_files_at_the_size(tmp_path):
    pulled = 0
    closes: list[tuple[int, int]] = []  # (items pulled when a file closed, items in closed files by then)
    closed_items = 0

    def items():
        nonlocal pulled
        for n in range(3000):
            pulled += 1
            yield {"pk": f"X#{n}", "sk": "s", "text": "word " * (n % 7)}

    def on_file(f):
        nonlocal closed_items
        closed_items += f.item_count
        closes.append((pulled, closed_items))

    export = write_table_export(
        items(),
        tmp_path,
        table="tenant-acme-corp-001-messages",
        table_arn="arn:aws:dynamodb:r:1:table/tenant-acme-corp-001-messages",
        table_id="i",
        options=ExportOptions(file_bytes=4096, at=AT),
        on_file=on_file,
    )
    assert len(export.files) > 20 and export.item_count == 3000
    # Every file but the last is closed by the item that no longer fits in it: the writer is never
    # more than that one item ahead of what it has already written to closed files.
    assert all(p - c == 1 for p, c in closes[:-1]) and closes[-1] == (3000, 3000)
    for f in export.files:
        assert len(gzip.decompress(f.path.read_bytes())) <= 4096
    assert audit_export(tmp_path).file_findings == []


def test_an_empty_table_is_one_empty_data_file(tmp_path):
    export = write_table_export([], tmp_path, table="t-e", table_arn="arn:aws:dynamodb:r:1:table/t-e", table_id="i")
    (f,) = export.files
    assert f.item_count == 0 and gzip.decompress(f.path.read_bytes()) == b""
    assert export.summary["itemCount"] == 0 and list(read_table_export(export.directory)) == []


# --- tampering: each break is a finding naming the item or the file ---------------------------


def _data_file_of(out: Path, table: str, pk: str) -> tuple[Path, list[bytes]]:
    for path in sorted((_export_dir(out, table) / "data").iterdir()):
        lines = gzip.decompress(path.read_bytes()).splitlines(keepends=True)
        if any(json.loads(line)["Item"]["pk"]["S"] == pk for line in lines):
            return path, lines
    raise AssertionError(f"{pk} not exported")


def test_an_item_edited_to_break_a_contract_rule_is_a_finding_on_that_item(seed_export):
    out, settings, _ = seed_export
    table = settings.table_name(TableKind.MESSAGES, ACME)
    message = next(m for m in _seed_records(ACME, "messages") if "classification" in m)
    path, lines = _data_file_of(out, table, message["pk"])
    edited = []
    for line in lines:
        doc = json.loads(line)
        if doc["Item"]["pk"]["S"] == message["pk"]:
            doc["Item"]["classification"]["M"]["confidence"] = {"N": "1.5"}
            line = (json.dumps(doc) + "\n").encode()
        edited.append(line)
    _rewrite_data_file(path, edited, fix_manifests=True)  # checksums made true: only the contract breaks
    audit = audit_export(out)
    assert audit.file_findings == []
    assert [(f.table, f.pk, f.sk, f.field) for f in audit.findings] == [
        (table, message["pk"], message["sk"], "classification.confidence")
    ]


def test_a_truncated_data_file_is_a_finding_naming_the_file(seed_export):
    out, settings, _ = seed_export
    table = settings.table_name(TableKind.MESSAGES, TECHSTART)
    (path,) = (_export_dir(out, table) / "data").iterdir()
    body = path.read_bytes()
    path.write_bytes(body[: len(body) // 2])
    audit = audit_export(out)
    name = path.relative_to(out).as_posix()
    rules = [f.rule for f in audit.file_findings if f.field == name]
    assert any("cannot be read to its end as gzip" in r for r in rules)
    assert any("md5Checksum" in r for r in rules)  # the bytes changed, so the checksum names it too
    assert any("manifest-files.json says" in r for r in rules)
    assert all(f.table == table for f in audit.file_findings)
    assert not audit.ok


def test_a_wrong_checksum_is_a_finding_naming_the_file(seed_export):
    out, settings, _ = seed_export
    table = settings.table_name(TableKind.METRICS, ACME)
    directory = _export_dir(out, table)
    files = directory / "manifest-files.json"
    entries = [json.loads(line) for line in files.read_bytes().splitlines()]
    entries[0]["md5Checksum"] = _b64md5(b"something else")
    files_bytes = b"".join(json.dumps(e).encode() + b"\n" for e in entries)
    files.write_bytes(files_bytes)
    (directory / "manifest-files.md5").write_text(_b64md5(files_bytes))  # the manifest's own checksum still true
    audit = audit_export(out)
    data_name = (out / entries[0]["dataFileS3Key"]).relative_to(out).as_posix()
    assert [(f.table, f.field) for f in audit.findings] == [(table, data_name)]
    assert "md5Checksum" in audit.findings[0].rule
    # and a manifest whose checksum file disagrees with it is named as well
    (directory / "manifest-summary.md5").write_text(_b64md5(b"not the summary"))
    fields = {f.field for f in audit_export(out).findings}
    assert (directory / "manifest-summary.md5").relative_to(out).as_posix() in fields


def test_files_the_manifest_does_not_list_and_unfinished_exports_are_findings(seed_export):
    out, settings, _ = seed_export
    directory = _export_dir(out, settings.table_name(TableKind.METRICS, ACME))
    stray = directory / "data" / "strayfile.json.gz"
    stray.write_bytes(gzip.compress(b""))
    unfinished = out / settings.table_name(TableKind.METRICS, TECHSTART) / "AWSDynamoDB"
    (directory_b,) = unfinished.iterdir()
    (directory_b / "manifest-summary.json").unlink()
    audit = audit_export(out)
    fields = {f.field: f.rule for f in audit.findings}
    assert "ImportTable reads every object" in fields[stray.relative_to(out).as_posix()]
    assert "did not finish" in fields[(directory_b / "manifest-summary.json").relative_to(out).as_posix()]
    # the tenant whose metrics export is unusable: its table is named as not exported
    assert (settings.table_name(TableKind.METRICS, TECHSTART), "(export)") in {
        (f.table, f.field) for f in audit.findings
    }


def test_manifest_lines_naming_other_files_or_the_same_file_twice_are_findings(seed_export):
    out, settings, _ = seed_export
    table = settings.table_name(TableKind.METRICS, ACME)
    directory = _export_dir(out, table)
    files = directory / "manifest-files.json"
    (entry,) = [json.loads(line) for line in files.read_bytes().splitlines()]
    head = entry["dataFileS3Key"].split("/data/")[0]
    outside = {**entry, "dataFileS3Key": f"{head}//etc/passwd"}
    climbing = {**entry, "dataFileS3Key": f"{head}/data/../../../../secret"}
    files_bytes = b"".join(json.dumps(e).encode() + b"\n" for e in (entry, entry, outside, climbing))
    files.write_bytes(files_bytes)
    (directory / "manifest-files.md5").write_text(_b64md5(files_bytes))
    rules = {f.field: f.rule for f in audit_export(out).findings}
    name = files.relative_to(out).as_posix()
    assert "is listed twice" in rules[f"{name}:2"]
    assert "names no file of this export" in rules[f"{name}:3"] and "names no file" in rules[f"{name}:4"]
    assert len(rules) == 3  # the file itself is read once, its items counted once


def test_a_line_that_is_not_dynamodb_json_is_a_finding_naming_file_and_line(seed_export):
    out, settings, _ = seed_export
    table = settings.table_name(TableKind.METRICS, ACME)
    (path,) = (_export_dir(out, table) / "data").iterdir()
    lines = gzip.decompress(path.read_bytes()).splitlines(keepends=True)
    lines.insert(1, b'{"Item": {"pk": {"Q": "x"}}}\n')
    _rewrite_data_file(path, lines, fix_manifests=True, count=len(lines) - 1)
    findings = audit_export(out).findings
    assert [f.field for f in findings] == [f"{path.relative_to(out).as_posix()}:2"]
    assert "not a DynamoDB attribute value" in findings[0].rule


def test_an_export_written_as_aws_writes_it_is_read(tmp_path):
    """AWS's own shape: keys without our layout's prefix convention, a one-part multipart etag, empty files."""
    export_id = "01604474914028-a1b2c3d4"
    table = "tenant-acme-corp-001-metrics"
    arn = f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}"
    directory = tmp_path / "2020-Nov" / "AWSDynamoDB" / export_id
    (directory / "data").mkdir(parents=True)
    (directory / "_started").write_bytes(b"")
    metrics = _seed_records(ACME, "metrics")
    bodies = {
        "bafybeiczss3yxay3o4abnabbb.json.gz": gzip.compress(b"".join(item_line(m) for m in metrics)),
        "gkes5o3lnrhoznhnkyax3hxvya.json.gz": gzip.compress(b""),
    }
    lines = []
    for name, body in bodies.items():
        (directory / "data" / name).write_bytes(body)
        etag = hashlib.md5(hashlib.md5(body).digest()).hexdigest() + "-1"
        count = len(metrics) if gzip.decompress(body) else 0
        key = f"2020-Nov/AWSDynamoDB/{export_id}/data/{name}"
        lines.append({"itemCount": count, "md5Checksum": _b64md5(body), "etag": etag, "dataFileS3Key": key})
    files_bytes = b"".join(json.dumps(e).encode() + b"\n" for e in lines)
    (directory / "manifest-files.json").write_bytes(files_bytes)
    (directory / "manifest-files.md5").write_text(_b64md5(files_bytes))
    summary = {
        "version": "2020-06-30",
        "exportArn": f"{arn}/export/{export_id}",
        "startTime": "2020-11-04T07:28:34.028Z",
        "endTime": "2020-11-04T07:33:43.897Z",
        "tableArn": arn,
        "tableId": "12345a12-abcd-123a-ab12-1234abc12345",
        "exportTime": "2020-11-04T07:28:34.028Z",
        "s3Bucket": "ddb-export",
        "s3Prefix": "2020-Nov",
        "s3SseAlgorithm": "AES256",
        "s3SseKmsKeyId": None,
        "manifestFilesS3Key": f"2020-Nov/AWSDynamoDB/{export_id}/manifest-files.json",
        "billedSizeBytes": 0,
        "itemCount": len(metrics),
        "outputFormat": "DYNAMODB_JSON",
    }  # an export from before exportType was added
    summary_bytes = json.dumps(summary, indent=3).encode()
    (directory / "manifest-summary.json").write_bytes(summary_bytes)
    (directory / "manifest-summary.checksum").write_text(_b64md5(summary_bytes))  # the name AWS's docs give
    audit = audit_export(tmp_path)
    assert audit.file_findings == []
    (report,) = audit.reports
    assert report.tenant_id == ACME and report.items[table] == len(metrics)
    # only the metrics table was exported: the messages table is named as missing, nothing else
    assert [(f.table, f.field) for f in audit.findings] == [("tenant-acme-corp-001-messages", "(export)")]


def test_bad_export_directories_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="holds no DynamoDB export"):
        audit_export(tmp_path)
    with pytest.raises(InputError, match="is not a directory"):
        audit_export(tmp_path / "missing")
    write_table_export([], tmp_path, table="orders", table_arn="arn:aws:dynamodb:r:1:table/orders", table_id="i")
    with pytest.raises(InputError, match="not a SalesTalk table"):
        audit_export(tmp_path)


def test_two_exports_of_one_table_are_refused(tmp_path):
    export_seed(SEED_DIR, tmp_path / "a", settings=Settings(), options=ExportOptions(at=AT))
    with pytest.raises(InputError, match="already holds an export of"):  # another fixed time, same directory
        export_seed(SEED_DIR, tmp_path / "a", settings=Settings(), options=ExportOptions(at=AT.replace(second=1)))
    export_seed(SEED_DIR, tmp_path / "b", settings=Settings(), options=ExportOptions(at=AT.replace(second=1)))
    table = f"tenant-{ACME}-metrics"
    shutil.copytree(_export_dir(tmp_path / "b", table), tmp_path / "a" / table / "AWSDynamoDB" / "other")
    with pytest.raises(InputError, match="holds two exports of"):
        audit_export(tmp_path / "a")


def test_an_export_interrupted_midway_is_left_unfinished_and_audited_as_such(tmp_path):
    def items():
        yield {"pk": "X#1", "sk": "s"}
        raise RuntimeError("the Scan failed")

    table = f"tenant-{ACME}-metrics"
    with pytest.raises(RuntimeError):
        write_table_export(
            items(), tmp_path, table=table, table_arn=f"arn:aws:dynamodb:r:1:table/{table}", table_id="i"
        )
    findings = audit_export(tmp_path).findings
    assert any(f.field.endswith("manifest-summary.json") and "did not finish" in f.rule for f in findings)


# --- the command line -------------------------------------------------------------------------


def test_cli_seed_export_then_audit_export(capsys, tmp_path):
    out = tmp_path / "out"
    code = main(["export", "--seed", "--seed-dir", str(SEED_DIR), "--out", str(out), "--at", "2025-01-01T00:00:00Z"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "import prefix" in captured.out and "AWSDynamoDB/01735689600000-" in captured.out
    assert main(["audit", "--export", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"tenant {ACME}: clean" in err and "intact" in err
    assert main(["audit", "--export", str(out), "--tenant", TECHSTART]) == 0
    assert f"tenant {ACME}" not in capsys.readouterr().err

    (path,) = (_export_dir(out, f"tenant-{ACME}-metrics") / "data").iterdir()
    path.write_bytes(path.read_bytes()[:-9])  # cut the gzip trailer
    assert main(["audit", "--export", str(out)]) == 1
    captured = capsys.readouterr()
    assert path.name in captured.out and "finding(s)" in captured.err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["audit"], "give --tenant ID (the live tables) or --export DIR"),
        (["audit", "--export", "/nonexistent-dir"], "is not a directory"),
        (["audit", "--export", ".", "--tenant", "../etc"], "tenant id"),
        (["export", "--tenant", "Bad Id", "--out", "x"], "tenant id"),
        (["export", "--seed", "--out", "x", "--at", "yesterday"], "is not an ISO 8601 time"),
        (["export", "--seed", "--out", "x", "--at", "2025-01-01T00:00:00"], "must carry a time zone"),
        (["export", "--seed", "--out", "x", "--file-size", "0"], "must be a positive number"),
        (["export", "--tenant", "acme-corp-001", "--seed-dir", "d", "--out", "x"], "goes with --seed"),
    ],
)
def test_cli_usage_errors_exit_2(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_cli_seed_export_of_a_broken_seed_exits_2_and_writes_nothing(capsys, tmp_path):
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "tenants.json").write_text('[{"tenantId": "Bad Id"}]')
    out = tmp_path / "out"
    assert main(["export", "--seed", "--seed-dir", str(seed), "--out", str(out)]) == 2
    assert "nothing was written" in capsys.readouterr().err and not out.exists()


# --- live tenants (both engines) --------------------------------------------------------------


def _seeded(endpoint, label: str):
    from salestalk_lib.ops.seed import load_seed

    st = connect(
        settings=Settings(table_prefix=f"{label}{uuid.uuid4().hex[:8]}-", environment="test"), endpoint=endpoint
    )
    load_seed(st, SEED_DIR, progress=False)
    return st


@pytest.fixture(scope="module")
def clean(endpoint):
    """Both seed tenants, untouched (read-only for the tests that use it)."""
    return _seeded(endpoint, "exportclean")


def _live_items(st, table: str) -> list[dict]:
    items, start = [], None
    while True:
        page, start = st.storage.scan(table, start_key=start, consistent=True)
        items += page
        if start is None:
            return items


@pytest.mark.parametrize("tenant", [ACME, TECHSTART])
def test_a_seeded_tenant_exports_item_for_item_and_audits_clean(clean, tmp_path, tenant):
    scope = clean.tenant(tenant)
    results = export_tenant(clean, tenant, tmp_path, page_size=3)
    assert [r.table for r in results] == [scope.messages_table, scope.metrics_table]
    for r in results:
        live = _live_items(clean, r.table)
        exported = list(read_table_export(r.directory))
        assert len(exported) == len(live) == r.item_count
        assert {_canonical(i) for i in exported} == {_canonical(i) for i in live}
        assert r.summary["tableArn"] == clean.storage.describe_table(r.table)["TableArn"]
    audit = audit_export(tmp_path)
    assert audit.findings == [] and not audit.registry_checked
    (report,) = audit.reports
    live_report = audit_tenant(scope)
    assert report.items == {t: n for t, n in live_report.items.items() if t != scope.registry_table}


def test_the_seed_export_equals_what_the_seed_loader_stores(clean, tmp_path):
    export_seed(SEED_DIR, tmp_path, settings=clean.settings)
    for tenant in (ACME, TECHSTART):
        scope = clean.tenant(tenant)
        for table in (scope.messages_table, scope.metrics_table):
            exported = list(read_table_export(_export_dir(tmp_path, table)))
            assert {_canonical(i) for i in exported} == {_canonical(i) for i in _live_items(clean, table)}


def test_the_export_only_reads_and_streams_scan_pages_into_files(clean, tmp_path):
    events: list[tuple[str, str]] = []
    clean.storage.hooks.append(lambda op, params: events.append((op, params.get("TableName", ""))))
    try:
        results = export_tenant(
            clean,
            ACME,
            tmp_path,
            page_size=2,
            options=ExportOptions(file_bytes=1500, at=AT),
            on_file=lambda f: events.append(("file", f.key.split("/", 1)[0])),
        )
    finally:
        clean.storage.hooks.pop()
    assert {op for op, _ in events} == {"DescribeTable", "Scan", "file"}
    table = clean.tenant(ACME).messages_table
    assert len(results[0].files) > 2
    mine = [op for op, t in events if t == table]
    # data files are completed while the table is still being scanned, not after it was read whole
    assert mine.index("file") < len(mine) - 1 - mine[::-1].index("Scan")
    assert mine.count("Scan") > 2


@pytest.fixture
def broken(endpoint):
    return _seeded(endpoint, "exportbroken")


def test_a_tampered_live_tenant_gives_the_same_findings_exported_as_live(broken, tmp_path):
    st = broken
    acme = st.tenant(ACME)
    bad = copy.deepcopy(next(m for m in _seed_records(ACME, "messages") if m["sender"] == "user"))
    message_id = keys.new_uuid4()
    bad.update(messageId=message_id, pk=keys.message_pk(message_id), sessionId=keys.new_uuid4())
    bad["classification"]["confidence"] = Decimal("1.5")
    st.storage.put_item(acme.messages_table, bad)
    metric = copy.deepcopy(_seed_records(ACME, "metrics")[0])
    metric.update(colour="blue")
    st.storage.put_item(acme.metrics_table, metric)
    st.storage.put_item(acme.messages_table, {"pk": "NOTE#1", "sk": "x", "text": "left behind by a script"})
    session_id = _seed_records(ACME, "messages")[0]["sessionId"]
    st.storage.update_item(
        acme.messages_table,
        {"pk": keys.session_pk(session_id), "sk": keys.session_sk()},
        update="SET messageCount = :n",
        values={":n": 9},
    )
    live = audit_tenant(acme, now=1_800_000_000)
    assert len(live.findings) >= 6
    export_tenant(st, ACME, tmp_path)
    exported = audit_export(tmp_path, now=1_800_000_000)
    assert exported.file_findings == []
    assert exported.findings == live.findings  # one set of rules, two item sources


def test_cli_export_of_a_live_tenant_then_audit(capsys, clean, tmp_path):
    out = tmp_path / "out"
    code = main(
        [
            "export",
            "--tenant",
            ACME,
            "--out",
            str(out),
            "--endpoint-url",
            clean.endpoint.url,
            "--table-prefix",
            clean.settings.table_prefix,
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert clean.tenant(ACME).messages_table in captured.out
    assert main(["audit", "--export", str(out)]) == 0
    assert f"tenant {ACME}: clean" in capsys.readouterr().err
    conn = ["--endpoint-url", clean.endpoint.url, "--table-prefix", clean.settings.table_prefix]
    assert main(["export", "--tenant", "no-such-tenant-009", "--out", str(tmp_path / "none"), *conn]) == 2
    assert "does not exist: nothing to export" in capsys.readouterr().err
    assert main(["export", "--tenant", ACME, "--out", str(out), *conn]) == 2  # a second export into one dir
    assert "already holds an export of" in capsys.readouterr().err


@pytest.mark.engine_only(
    "moto",
    reason="DynamoDB Local has no ImportTable; moto's reads the data files from the S3 it serves on the same endpoint",
)
def test_an_importer_reads_the_export_back_item_for_item(clean, tmp_path):
    """An independent reader of the format: ImportTable (moto's) given the printed prefix, after an S3 upload."""
    bucket = f"exports-{uuid.uuid4().hex[:8]}"
    out = tmp_path / "out"
    results = export_tenant(
        clean, ACME, out, options=ExportOptions(s3_bucket=bucket, s3_prefix="fleet", file_bytes=2000)
    )
    s3 = clean.endpoint.client("s3")
    s3.create_bucket(Bucket=bucket)
    for path in sorted(p for p in out.rglob("*") if p.is_file()):  # `aws s3 sync out/ s3://bucket/fleet/`
        s3.put_object(Bucket=bucket, Key=f"fleet/{path.relative_to(out).as_posix()}", Body=path.read_bytes())
    ddb = clean.endpoint.client("dynamodb")
    for r in results:
        assert len(r.files) > 1 or r.table.endswith("-metrics")
        target = f"{r.table}-imported"
        request = r.import_table_request(target)
        assert request["S3BucketSource"]["S3KeyPrefix"].startswith(f"fleet/{r.table}/AWSDynamoDB/")
        arn = ddb.import_table(**request)["ImportTableDescription"]["ImportArn"]
        for _ in range(600):  # moto imports in a thread: wait for it to settle (at most 30 s)
            status = ddb.describe_import(ImportArn=arn)["ImportTableDescription"]
            if status["ImportStatus"] != "IN_PROGRESS":
                break
            time.sleep(0.05)
        assert status["ImportStatus"] == "COMPLETED", status
        assert status["ErrorCount"] == 0 and status["ImportedItemCount"] == r.item_count
        imported = _live_items(clean, target)
        assert {_canonical(i) for i in imported} == {_canonical(i) for i in _live_items(clean, r.table)}
        clean.storage.delete_table(target)
