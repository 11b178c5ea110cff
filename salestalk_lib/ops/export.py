"""DynamoDB's own bulk path: write and read tables in the S3 export format that ImportTable accepts.

Past one machine the engine is DynamoDB itself: `ExportTableToPointInTime` writes a
table to S3 and `ImportTable` creates a table from S3, both run by the service,
without one host pushing every item through BatchWriteItem. This module writes and
reads that format locally, so a tenant (`export_tenant`) or the seed (`export_seed`)
can be handed to ImportTable, and an export (ours or one AWS wrote) can be audited
offline (`audit_export`) with the live audit's rules (`audit.AuditChecker`).

**The format** (AWS's "DynamoDB table export output format", full export, DYNAMODB_JSON):

    {s3Prefix}/AWSDynamoDB/{ExportId}/_started                 empty; written first
    {s3Prefix}/AWSDynamoDB/{ExportId}/data/{name}.json.gz      gzip, one {"Item": {...}} per line
    {s3Prefix}/AWSDynamoDB/{ExportId}/manifest-files.json      one line per data file
    {s3Prefix}/AWSDynamoDB/{ExportId}/manifest-files.md5       base64 MD5 of manifest-files.json
    {s3Prefix}/AWSDynamoDB/{ExportId}/manifest-summary.json    the export's summary; written last
    {s3Prefix}/AWSDynamoDB/{ExportId}/manifest-summary.md5     base64 MD5 of manifest-summary.json

ExportId is `{export time in ms, 14 digits}-{8 hex}`, data file names 26 lowercase
base32 characters, as AWS writes them. AWS draws the random parts at random; with a
fixed export time (`deterministic=True`) they are derived from the table ARN and the
time, so the same table exported at the same instant gives byte-identical files
(gzip headers carry no time). AWS's current documentation names the checksum files
`.checksum`; the exports AWS has been seen writing carry `.md5` files (24 characters, the
base64 MD5): this module writes `.md5` and reads either.

Each table goes to `{out}/{table name}/AWSDynamoDB/{ExportId}/`, so `{out}` synced to
`s3://{bucket}/{prefix}/` is laid out as the manifests say (`s3Prefix` is
`{prefix}/{table name}`). ImportTable reads every object under the key prefix it is
given: point it at `.../AWSDynamoDB/{ExportId}/data/` with `InputFormat=DYNAMODB_JSON`
and `InputCompressionType=GZIP` (`TableExport.import_source`).

**Streaming.** Writing pulls one Scan page at a time and writes each item as a line
of the current gzip file, which is closed and a new one started once it holds
`file_bytes` of uncompressed JSON: memory holds one page and the compressor's window,
whatever the table's size. Reading decompresses one line at a time, hashing the
compressed bytes on the way; the audit keeps what its rules between items need, as the
live audit does.

**What it is not.** A local export reads the live table with Scan (consistent reads,
page by page): unlike a point-in-time export it is not a snapshot, so items written
while it runs may or may not be in it. Nothing here calls ExportTableToPointInTime or
ImportTable: DynamoDB Local has neither (moto's work on its own in-memory S3), and on AWS they are
started with the AWS CLI or console (see the Operations page). Ion exports and
incremental exports are not read.
"""

from __future__ import annotations

import base64
import binascii
import functools
import gzip
import hashlib
import json
import secrets
import shutil
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any, cast

from salestalk_lib.contract.errors import InputError, IsolationViolation, KeyGrammarError
from salestalk_lib.contract.keys import parse_table_name
from salestalk_lib.contract.models import MessageIdentity
from salestalk_lib.contract.settings import Settings
from salestalk_lib.contract.tables import TABLE_SPECS, TableKind, create_table_request
from salestalk_lib.dynamo.retry import Retrier
from salestalk_lib.dynamo.storage import deserialize, serialize
from salestalk_lib.ops.audit import AuditChecker, AuditReport, Finding

if TYPE_CHECKING:  # the connection module imports the ops modules
    from salestalk_lib.ops.connection import SalesTalk

EXPORT_ROOT = "AWSDynamoDB"
MANIFEST_VERSION = "2020-06-30"
SUMMARY_FILE = "manifest-summary.json"
FILES_FILE = "manifest-files.json"
STARTED_FILE = "_started"
CHECKSUM_SUFFIXES = (".md5", ".checksum")
DEFAULT_FILE_BYTES = 128 * 1024 * 1024
"""Uncompressed DynamoDB JSON per data file before the next one is started."""
DEFAULT_BUCKET = "salestalk-exports"
LOCAL_ACCOUNT = "000000000000"

# manifest-summary.json of a full export: field -> the JSON types it may hold (AWS's documented schema).
SUMMARY_FIELDS: dict[str, tuple[type, ...]] = {
    "version": (str,),
    "exportArn": (str,),
    "startTime": (str,),
    "endTime": (str,),
    "tableArn": (str,),
    "tableId": (str,),
    "exportTime": (str,),
    "s3Bucket": (str,),
    "s3Prefix": (str, type(None)),
    "s3SseAlgorithm": (str,),
    "s3SseKmsKeyId": (str, type(None)),
    "manifestFilesS3Key": (str,),
    "billedSizeBytes": (int,),
    "itemCount": (int,),
    "outputFormat": (str,),
    "exportType": (str,),
}
OPTIONAL_SUMMARY_FIELDS = frozenset({"s3Prefix", "s3SseKmsKeyId", "exportType"})  # older exports lack exportType
FILE_FIELDS: dict[str, tuple[type, ...]] = {
    "itemCount": (int,),
    "md5Checksum": (str,),
    "etag": (str,),
    "dataFileS3Key": (str,),
}


# --- writing -------------------------------------------------------------------


@dataclass(frozen=True)
class DataFile:
    """One data file of an export, as its line of manifest-files.json describes it."""

    key: str
    path: Path
    item_count: int
    md5: str
    etag: str
    size: int

    def manifest_line(self) -> dict[str, Any]:
        """Its line of manifest-files.json."""
        return {"itemCount": self.item_count, "md5Checksum": self.md5, "etag": self.etag, "dataFileS3Key": self.key}


@dataclass(frozen=True)
class TableExport:
    """One table written in the export format: where, under which id, how many items in which files."""

    table: str
    directory: Path
    export_id: str
    summary: dict[str, Any]
    files: tuple[DataFile, ...]

    @property
    def item_count(self) -> int:
        return sum(f.item_count for f in self.files)

    def import_source(self) -> dict[str, Any]:
        """The ImportTable parameters that read this export once synced to its bucket and prefix."""
        prefix = PurePosixPath(self.summary["manifestFilesS3Key"]).parent / "data"
        return {
            "S3BucketSource": {"S3Bucket": self.summary["s3Bucket"], "S3KeyPrefix": f"{prefix}/"},
            "InputFormat": "DYNAMODB_JSON",
            "InputCompressionType": "GZIP",
        }

    def import_table_request(self, table_name: str | None = None) -> dict[str, Any]:
        """The whole ImportTable request that creates `table_name` (default: this table's name) from this export.

        The table's key schema and indexes come from its spec (contract `tables`), on-demand with
        SSE as provisioning creates it; tags are not part of ImportTable (tag the table after).
        """
        _prefix, kind, _tenant = parse_table_name(self.table)
        creation = create_table_request(TABLE_SPECS[TableKind(kind)], table_name or self.table)
        return {**self.import_source(), "TableCreationParameters": creation}

    def row(self) -> dict[str, Any]:
        """A table row for the CLI: table, items, files, where, the ImportTable key prefix."""
        return {
            "table": self.table,
            "items": self.item_count,
            "files": len(self.files),
            "directory": str(self.directory),
            "import prefix": self.import_source()["S3BucketSource"]["S3KeyPrefix"],
        }


@dataclass(frozen=True)
class ExportOptions:
    """Where the export will live on S3, how big its data files get, and its clock.

    `at` fixes the export time (and so startTime, endTime and exportTime) and makes the
    ExportId and data file names derived instead of random: the same table exported with
    the same `at` gives the same files, byte for byte.
    """

    s3_bucket: str = DEFAULT_BUCKET
    s3_prefix: str = ""
    file_bytes: int = DEFAULT_FILE_BYTES
    at: datetime | None = None

    def __post_init__(self) -> None:
        if self.file_bytes < 1:
            raise InputError("--file-size", f"must be a positive number of bytes, got {self.file_bytes}")
        if self.at is not None and self.at.tzinfo is None:
            raise InputError("--at", "must carry a time zone (e.g. 2025-01-01T00:00:00Z)")

    def now(self) -> datetime:
        """The export's clock: the fixed time, else the system clock (UTC)."""
        return self.at if self.at is not None else datetime.now(UTC)

    def prefix_for(self, table: str) -> str:
        """The s3Prefix of `table`'s export: `{s3_prefix}/{table}` (or just the table name)."""
        head = self.s3_prefix.strip("/")
        return f"{head}/{table}" if head else table


class _HashingWriter:
    """A binary sink that counts and MD5-hashes everything written to the file under it."""

    def __init__(self, raw: IO[bytes]):
        self.raw = raw
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0

    def write(self, data: bytes) -> int:
        self.raw.write(data)
        self.md5.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        self.raw.flush()


def item_line(item: Mapping[str, Any]) -> bytes:
    """One item as its DynamoDB JSON line `{"Item": {...}}\\n` (binary values base64, as AWS writes them)."""
    return (
        json.dumps(
            {"Item": serialize(item)}, default=_json_binary, sort_keys=True, ensure_ascii=False, separators=(",", ":")
        )
        + "\n"
    ).encode("utf-8")


def write_table_export(
    items: Iterable[Mapping[str, Any]],
    out: Path,
    *,
    table: str,
    table_arn: str,
    table_id: str,
    options: ExportOptions = ExportOptions(),
    on_file: Callable[[DataFile], None] | None = None,
) -> TableExport:
    """Write `items` (consumed lazily, once) as a full DYNAMODB_JSON export of `table` under `out/{table}`.

    `on_file` is called as each data file is completed. Returns what was written; the
    manifests are written last, so a directory without manifest-summary.json is an
    export that did not finish.
    """
    start = options.now()
    export_id = _export_id(table_arn, start, options)
    s3_prefix = options.prefix_for(table)
    key_head = f"{s3_prefix}/{EXPORT_ROOT}/{export_id}"
    directory = out / table / EXPORT_ROOT / export_id
    if directory.exists():
        shutil.rmtree(directory)  # only a fixed-time export comes back to the same id: it rewrites it
    (directory / "data").mkdir(parents=True)
    (directory / STARTED_FILE).write_bytes(b"")

    files: list[DataFile] = []

    def file_name(n: int) -> str:
        seed = (
            hashlib.sha256(f"{export_id}|{n}".encode()).digest() if options.at is not None else secrets.token_bytes(16)
        )
        return base64.b32encode(seed).decode("ascii")[:26].lower() + ".json.gz"

    current: tuple[IO[bytes], _HashingWriter, gzip.GzipFile, str, Path] | None = None
    written = count = 0

    def open_file() -> tuple[IO[bytes], _HashingWriter, gzip.GzipFile, str, Path]:
        name = file_name(len(files))
        path = directory / "data" / name
        raw = path.open("wb")
        sink = _HashingWriter(raw)
        gz = gzip.GzipFile(filename="", mode="wb", fileobj=sink, mtime=0)
        return raw, sink, gz, f"{key_head}/data/{name}", path

    def close_file() -> None:
        nonlocal current, written, count
        if current is None:
            raise RuntimeError("no data file is open")  # unreachable: every call follows an open_file()
        raw, sink, gz, key, path = current
        gz.close()
        raw.close()
        digest = sink.md5.digest()
        done = DataFile(key, path, count, base64.b64encode(digest).decode("ascii"), digest.hex(), sink.size)
        files.append(done)
        current, written, count = None, 0, 0
        if on_file is not None:
            on_file(done)

    try:
        for item in items:
            line = item_line(item)
            if current is not None and written and written + len(line) > options.file_bytes:
                close_file()
            if current is None:
                current = open_file()
            current[2].write(line)
            written += len(line)
            count += 1
    except BaseException:
        if current is not None:  # the export stays unfinished (no manifests), its file handle closed
            current[0].close()
        raise
    if current is None:
        current = open_file()  # an empty table: one empty data file, as AWS writes for an empty partition
    close_file()

    files_bytes = b"".join((json.dumps(f.manifest_line(), separators=(",", ":")) + "\n").encode("utf-8") for f in files)
    (directory / FILES_FILE).write_bytes(files_bytes)
    (directory / "manifest-files.md5").write_text(_b64md5(files_bytes), encoding="ascii")
    end = options.now()
    summary = {
        "version": MANIFEST_VERSION,
        "exportArn": f"{table_arn}/export/{export_id}",
        "startTime": _timestamp(start),
        "endTime": _timestamp(end),
        "tableArn": table_arn,
        "tableId": table_id,
        "exportTime": _timestamp(start),
        "s3Bucket": options.s3_bucket,
        "s3Prefix": s3_prefix,
        "s3SseAlgorithm": "AES256",
        "s3SseKmsKeyId": None,
        "manifestFilesS3Key": f"{key_head}/{FILES_FILE}",
        "billedSizeBytes": 0,  # nothing was billed: a local export
        "itemCount": sum(f.item_count for f in files),
        "outputFormat": "DYNAMODB_JSON",
        "exportType": "FULL_EXPORT",
    }
    summary_bytes = json.dumps(summary, separators=(",", ":")).encode("utf-8")
    (directory / SUMMARY_FILE).write_bytes(summary_bytes)
    (directory / "manifest-summary.md5").write_text(_b64md5(summary_bytes), encoding="ascii")
    return TableExport(table, directory, export_id, summary, tuple(files))


def export_tenant(
    st: SalesTalk,
    tenant_id: str,
    out: Path | str,
    *,
    options: ExportOptions = ExportOptions(),
    page_size: int | None = None,
    retrier: Retrier | None = None,
    on_file: Callable[[DataFile], None] | None = None,
) -> list[TableExport]:
    """Export the tenant's messages and metrics tables, one export per table, each read by Scan page by page.

    The reads go through the tenant's audit storage (Scan of its own two tables only) with
    a hook that refuses anything but a read; the table's ARN and id come from DescribeTable
    on the platform's storage. Raises `InputError` if `out` already holds an export of one
    of the tables under another id (a fixed-time export rewrites its own).
    """
    retrier = retrier or Retrier()
    scope = st.tenant(tenant_id)
    out = Path(out)
    tables = [(TableKind.MESSAGES, scope.messages_table), (TableKind.METRICS, scope.metrics_table)]
    descriptions = {}
    for _kind, table in tables:
        description = retrier.call("DescribeTable", functools.partial(st.storage.describe_table, table))
        if description is None:
            raise InputError(f"tenant {tenant_id}", f"table {table} does not exist: nothing to export")
        descriptions[table] = description
        _refuse_other_export(out, table, _table_arn(description, table, st.endpoint.region), options)
    storage = scope.audit_storage()

    def only_reads(operation: str, params: Mapping[str, Any]) -> None:
        if operation != "Scan":
            raise IsolationViolation(f"the export only reads; it refused to send {operation}")

    storage.hooks.append(only_reads)

    def scan(table: str) -> Iterator[dict[str, Any]]:
        start: dict[str, Any] | None = None
        while True:
            page, start = retrier.call(
                "Scan", lambda: storage.scan(table, limit=page_size, start_key=start, consistent=True)
            )
            yield from page
            if start is None:
                return

    results = []
    for _kind, table in tables:
        description = descriptions[table]
        arn = _table_arn(description, table, st.endpoint.region)
        table_id = description.get("TableId") or str(uuid.uuid5(uuid.NAMESPACE_URL, arn))
        results.append(
            write_table_export(
                scan(table), out, table=table, table_arn=arn, table_id=table_id, options=options, on_file=on_file
            )
        )
    return results


def export_seed(
    seed_dir: Path | str,
    out: Path | str,
    *,
    settings: Settings,
    region: str = "us-east-1",
    account: str = LOCAL_ACCOUNT,
    options: ExportOptions = ExportOptions(),
) -> list[TableExport]:
    """The seed as import-ready exports, from the validated seed records (`seed.plan_seed`); no DynamoDB needed.

    One export of the registry (every seed tenant's registry item) and one of each seed
    tenant's two tables, holding exactly the items `salestalk seed` stores: each metric,
    each message with its identity item, and each session's rollup. The table ARNs name
    `account` in `region` (the account the exports are meant for; ImportTable creates
    new tables, so the ARN only labels the source).
    """
    from salestalk_lib.ops.seed import plan_seed

    tenants, metrics, messages, rollups = plan_seed(Path(seed_dir))
    out = Path(out)
    per_table: dict[str, list[dict[str, Any]]] = {settings.registry_table: [t.to_item() for t in tenants]}
    for t in tenants:
        per_table[settings.table_name(TableKind.MESSAGES, t.tenant_id)] = []
        per_table[settings.table_name(TableKind.METRICS, t.tenant_id)] = []
    for metric in metrics:
        per_table[settings.table_name(TableKind.METRICS, metric.tenant_id)].append(metric.to_item())
    for message in messages:
        table = per_table[settings.table_name(TableKind.MESSAGES, message.tenant_id)]
        table += [message.to_item(), MessageIdentity.of(message).to_item()]
    for rollup in rollups:
        per_table[settings.table_name(TableKind.MESSAGES, rollup.tenant_id)].append(rollup.to_item())
    arns = {name: f"arn:aws:dynamodb:{region}:{account}:table/{name}" for name in per_table}
    for name in per_table:
        _refuse_other_export(out, name, arns[name], options)
    results = []
    for name, items in per_table.items():
        arn = arns[name]
        results.append(
            write_table_export(
                items,
                out,
                table=name,
                table_arn=arn,
                table_id=str(uuid.uuid5(uuid.NAMESPACE_URL, arn)),
                options=options,
            )
        )
    return results


def _export_id(table_arn: str, start: datetime, options: ExportOptions) -> str:
    """`{ms}-{8 hex}`: random as AWS's, or derived from the table and the fixed time."""
    export_ms = int(start.timestamp() * 1000)
    suffix = (
        hashlib.sha256(f"{table_arn}|{export_ms}".encode()).hexdigest()[:8]
        if options.at is not None
        else secrets.token_hex(4)
    )
    return f"{export_ms:014d}-{suffix}"


def _refuse_other_export(out: Path, table: str, table_arn: str, options: ExportOptions) -> None:
    """InputError if `out` already holds an export of `table` other than the one a fixed-time export rewrites."""
    root = out / table / EXPORT_ROOT
    own = _export_id(table_arn, options.at, options) if options.at is not None else None
    others = sorted(p.name for p in root.iterdir() if p.name != own) if root.is_dir() else []
    if others:
        raise InputError(
            str(root),
            f"already holds an export of {table} ({others[0]}): an audit or ImportTable of {out} would see "
            "both; choose another --out",
        )


def _table_arn(description: Mapping[str, Any], table: str, region: str | None) -> str:
    """DescribeTable's TableArn (an engine that gives none: the ARN the table would have locally)."""
    arn = description.get("TableArn")
    return (
        arn
        if isinstance(arn, str) and arn
        else f"arn:aws:dynamodb:{region or 'us-east-1'}:{LOCAL_ACCOUNT}:table/{table}"
    )


def _timestamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.astimezone(UTC).microsecond // 1000:03d}Z"


def _b64md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode("ascii")


def _json_binary(value: Any) -> str:
    value = getattr(value, "value", value)  # boto3's Binary, as reads return binaries, holds its bytes
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    raise TypeError(f"cannot write a {type(value).__name__} to DynamoDB JSON")


# --- reading -------------------------------------------------------------------


class NotDynamoJson(ValueError):
    """A line of a data file that is not one DynamoDB JSON item."""


def parse_item_line(line: bytes) -> dict[str, Any]:
    """One DynamoDB JSON line `{"Item": {...}}` as a Python item (Decimal numbers, bytes for binaries)."""
    try:
        document = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotDynamoJson(f"is not JSON ({exc})") from None
    if not isinstance(document, dict) or set(document) != {"Item"} or not isinstance(document["Item"], dict):
        raise NotDynamoJson('is not {"Item": {...}}')
    try:
        return deserialize({k: _binary_back(v) for k, v in document["Item"].items()})
    except (NotDynamoJson, TypeError, ValueError, KeyError, InvalidOperation, binascii.Error) as exc:
        raise NotDynamoJson(f"holds a value that is not a DynamoDB attribute value ({exc})") from None


_TAGS = frozenset({"S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"})


def _binary_back(value: Any) -> Any:
    """Check one DynamoDB-JSON attribute value's shape and turn its base64 binaries into bytes."""
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in _TAGS:
        raise NotDynamoJson(f"{json.dumps(value)[:80]} is not a DynamoDB attribute value")
    ((tag, inner),) = value.items()
    if tag == "B":
        return {tag: base64.b64decode(inner, validate=True)}
    if tag == "BS":
        return {tag: [base64.b64decode(b, validate=True) for b in inner]}
    if tag == "M":
        return {tag: {k: _binary_back(v) for k, v in inner.items()}}
    if tag == "L":
        return {tag: [_binary_back(v) for v in inner]}
    if tag == "N":
        Decimal(inner)  # InvalidOperation for a number that is not one
    return value


class _HashingReader:
    """A binary source that MD5-hashes and counts everything read from the file under it."""

    def __init__(self, raw: IO[bytes]):
        self.raw = raw
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.md5.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        while self.read(1 << 16):
            pass


@dataclass
class ExportInfo:
    """One export found under the audited directory, and what its data files held."""

    directory: Path
    table: str
    export_id: str
    items: int = 0
    files: int = 0


@dataclass
class ExportAudit:
    """The audit of a directory of exports: one contract report per tenant, and the format findings."""

    root: Path
    exports: list[ExportInfo] = field(default_factory=list)
    reports: list[AuditReport] = field(default_factory=list)
    file_findings: list[Finding] = field(default_factory=list)
    """Broken manifests, checksums, data files and lines: `field` names the file."""
    registry_checked: bool = False

    @property
    def findings(self) -> list[Finding]:
        return sorted(self.file_findings) + [f for r in self.reports for f in r.findings]

    @property
    def ok(self) -> bool:
        return not self.findings

    def rows(self) -> list[dict[str, str]]:
        """Every finding as a table row (what `salestalk audit --export` prints)."""
        return [{"table": f.table, "pk": f.pk, "sk": f.sk, "field": f.field, "rule": f.rule} for f in self.findings]

    def summary_lines(self) -> list[str]:
        """One line per tenant, and one for the export files themselves."""
        lines = []
        for r in self.reports:
            read = ", ".join(f"{n} in {t}" for t, n in r.items.items())
            verdict = "clean" if r.ok else f"{len(r.findings)} finding(s)"
            registry = "" if self.registry_checked else " (no registry export: registry item not checked)"
            lines.append(f"tenant {r.tenant_id}: {verdict}; items read: {read}{registry}")
        files = sum(e.files for e in self.exports)
        verdict = "intact" if not self.file_findings else f"{len(self.file_findings)} finding(s)"
        lines.append(f"export {self.root}: {len(self.exports)} export(s), {files} data file(s): {verdict}")
        return lines


@dataclass
class _Export:
    """An export directory whose summary could be read: its table and what the rest of the audit needs."""

    info: ExportInfo
    summary: dict[str, Any]
    prefix: str = ""
    kind: str = ""
    tenant_id: str | None = None

    def classify(self, root: Path) -> None:
        """Which SalesTalk table this is (prefix, kind, tenant); InputError when it is not one."""
        try:
            self.prefix, self.kind, self.tenant_id = parse_table_name(self.info.table)
        except KeyGrammarError as exc:
            where = _rel(root, self.info.directory / SUMMARY_FILE)
            raise InputError(
                where, f"exports table {self.info.table!r}, which is not a SalesTalk table: {exc}"
            ) from None


def audit_export(root: Path | str, *, tenant_id: str | None = None, now: float | None = None) -> ExportAudit:
    """Audit every export under `root` offline: the format, the checksums, and each tenant's items.

    Each `AWSDynamoDB/{ExportId}/manifest-summary.json` under `root` is one export; its
    `tableArn` names the table, hence the tenant and the kind (`keys.parse_table_name`,
    any prefix). Every tenant whose tables are exported is audited with the live audit's
    rules; a registry export, when present, supplies each tenant's registry item.
    `tenant_id` restricts the audit to one tenant. Raises `InputError` when `root` holds
    no export, an export of a table that is not a SalesTalk table, or two exports of
    one table.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(str(root), "is not a directory of exports")
    audit = ExportAudit(root)
    found: list[_Export] = []
    for directory in _export_dirs(root):
        export = _read_summary(root, directory, audit.file_findings)
        if export is not None:
            export.classify(root)
            found.append(export)
    if not found and not audit.file_findings:
        raise InputError(str(root), f"holds no DynamoDB export (no {EXPORT_ROOT}/<ExportId>/{SUMMARY_FILE})")
    by_table: dict[str, _Export] = {}
    for export in found:
        if export.info.table in by_table:
            raise InputError(
                str(root),
                f"holds two exports of {export.info.table} ({by_table[export.info.table].info.directory} and "
                f"{export.info.directory}): audit one at a time",
            )
        by_table[export.info.table] = export
    tenants = sorted({(e.prefix, t) for e in found if (t := e.tenant_id) is not None})
    if tenant_id is not None:
        tenants = [(p, t) for p, t in tenants if t == tenant_id]
        if not tenants:
            raise InputError(str(root), f"holds no export of a table of tenant {tenant_id}")
    registries = {e.prefix: e for e in found if e.kind == "registry"}
    audit.registry_checked = bool(tenants) and all(p in registries for p, _ in tenants)
    registry_items: dict[tuple[str, str], dict[str, Any]] = {}
    for prefix, registry in registries.items():
        wanted = {t for p, t in tenants if p == prefix}
        for item in _items(root, registry, audit.file_findings):
            if item.get("tenantId") in wanted:
                registry_items[(prefix, str(item["tenantId"]))] = item
        audit.exports.append(registry.info)
    settings_for = {p: Settings(table_prefix=p) for p, _ in tenants}
    for prefix, tenant in tenants:
        checker = AuditChecker(tenant, now=now)
        settings = settings_for[prefix]
        if prefix in registries:
            checker.registry(settings.registry_table, registry_items.get((prefix, tenant)))
        for kind in (TableKind.MESSAGES, TableKind.METRICS):
            table = settings.table_name(kind, tenant)
            checker.report.items[table] = 0
            export = by_table.get(table)
            if export is None:
                checker.report.findings.append(
                    Finding(table, "", "", "(export)", f"no export of this table under {root}")
                )
                continue
            audit.exports.append(export.info)
            for item in _items(root, export, audit.file_findings):
                checker.table_item(kind, table, item)
        audit.reports.append(checker.finish())
    audit.file_findings.sort()
    return audit


def read_table_export(directory: Path | str) -> Iterator[dict[str, Any]]:
    """Every item of one export directory (`.../AWSDynamoDB/{ExportId}`), in file order; ValueError if broken."""
    directory = Path(directory)
    findings: list[Finding] = []
    base = _prefix_dir(directory)
    export = _read_summary(base, directory, findings)
    if export is None:
        raise ValueError("; ".join(f"{f.field}: {f.rule}" for f in findings))
    yield from _items(base, export, findings)
    if findings:
        raise ValueError("; ".join(f"{f.field}: {f.rule}" for f in findings))


def _prefix_dir(directory: Path) -> Path:
    """The directory holding `AWSDynamoDB/` for an export directory `.../AWSDynamoDB/{ExportId}` (file names are shown relative to it)."""
    export_root = directory.parent
    return export_root.parent if export_root.name == EXPORT_ROOT else export_root


def _export_dirs(root: Path) -> list[Path]:
    """Every `AWSDynamoDB/{ExportId}` directory under `root` (root itself may be one)."""
    candidates = {p.parent for p in root.rglob(SUMMARY_FILE)} | {p.parent for p in root.rglob(STARTED_FILE)}
    if (root / SUMMARY_FILE).exists() or (root / STARTED_FILE).exists():
        candidates.add(root)
    return sorted(c for c in candidates if c.parent.name == EXPORT_ROOT)


def _rel(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _read_summary(root: Path, directory: Path, findings: list[Finding]) -> _Export | None:
    """The export's summary, checked against its checksum and AWS's schema; None when unusable."""
    where = _rel(root, directory / SUMMARY_FILE)
    label = _rel(root, directory)

    def problem(rule: str, at: str = where, table: str = label) -> None:
        findings.append(Finding(table, "", "", at, rule))

    path = directory / SUMMARY_FILE
    if not path.is_file():
        problem(f"is missing: the export under {label} did not finish (AWS writes the manifests last)")
        return None
    raw = path.read_bytes()
    try:
        summary = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        problem(f"is not JSON ({exc})")
        return None
    if not isinstance(summary, dict):
        problem("is not a JSON object")
        return None
    table_arn = summary.get("tableArn")
    table = table_arn.rpartition("table/")[2] if isinstance(table_arn, str) and "table/" in table_arn else ""
    if not table:
        problem(f"tableArn is {table_arn!r}: not a DynamoDB table ARN")
        return None
    _check_checksum(root, path, raw, findings, table)
    for name, types in SUMMARY_FIELDS.items():
        if name not in summary:
            if name not in OPTIONAL_SUMMARY_FIELDS:
                problem(f"{name} is missing", table=table)
        elif not isinstance(summary[name], types) or isinstance(summary[name], bool):
            problem(f"{name} is {summary[name]!r}: must be {' or '.join(_json_type(t) for t in types)}", table=table)
    export_id = directory.name
    if isinstance(table_arn, str) and summary.get("exportArn") != f"{table_arn}/export/{export_id}":
        problem(f"exportArn is {summary.get('exportArn')!r}, not {table_arn}/export/{export_id}", table=table)
    if summary.get("outputFormat") != "DYNAMODB_JSON":
        problem(f"outputFormat is {summary.get('outputFormat')!r}: only DYNAMODB_JSON exports are read", table=table)
        return None
    if summary.get("exportType", "FULL_EXPORT") != "FULL_EXPORT":
        problem(f"exportType is {summary.get('exportType')!r}: only full exports are read", table=table)
        return None
    return _Export(ExportInfo(directory, table, export_id), summary)


def _check_checksum(root: Path, path: Path, raw: bytes, findings: list[Finding], table: str) -> None:
    """The `.md5` (or `.checksum`) file next to a manifest holds the base64 MD5 of its bytes."""
    stem = path.with_suffix("")
    sums = [stem.with_name(stem.name + s) for s in CHECKSUM_SUFFIXES if stem.with_name(stem.name + s).is_file()]
    if not sums:
        findings.append(Finding(table, "", "", _rel(root, path), f"has no checksum file ({stem.name}.md5)"))
        return
    expected = sums[0].read_text(encoding="ascii", errors="replace").strip()
    actual = _b64md5(raw)
    if expected not in (actual, hashlib.md5(raw, usedforsecurity=False).hexdigest()):
        findings.append(
            Finding(table, "", "", _rel(root, sums[0]), f"says {expected!r}, but {path.name}'s MD5 is {actual!r}")
        )


def _local(root: Path, export: _Export, key: object) -> Path | None:
    """The local file an S3 key of this export names (keys carry the prefix; the layout below it is fixed)."""
    if not isinstance(key, str):
        return None
    marker = f"{EXPORT_ROOT}/{export.info.export_id}/"
    if marker not in key:
        return None
    rest = PurePosixPath(key.split(marker, 1)[1])
    if rest.is_absolute() or ".." in rest.parts or not rest.parts:
        return None  # never a file outside the export's own directory
    return export.info.directory.joinpath(*rest.parts)


def _items(root: Path, export: _Export, findings: list[Finding]) -> Iterator[dict[str, Any]]:
    """Stream the export's items, file by file and line by line, reporting every broken file or line."""
    table = export.info.table

    def problem(at: str, rule: str) -> None:
        findings.append(Finding(table, "", "", at, rule))

    files_path = _local(root, export, export.summary.get("manifestFilesS3Key"))
    if files_path is None or not files_path.is_file():
        problem(
            _rel(root, export.info.directory / SUMMARY_FILE),
            f"manifestFilesS3Key {export.summary.get('manifestFilesS3Key')!r} names no file of this export",
        )
        return
    raw = files_path.read_bytes()
    _check_checksum(root, files_path, raw, findings, table)
    listed: set[Path] = set()
    total = 0
    for n, text in enumerate(raw.splitlines(), start=1):
        at = f"{_rel(root, files_path)}:{n}"
        try:
            entry = json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            problem(at, f"is not JSON ({exc})")
            continue
        if not isinstance(entry, dict):
            problem(at, "is not a JSON object")
            continue
        broken = [
            f"{k} is {entry.get(k)!r}: must be {_json_type(t[0])}"
            for k, t in FILE_FIELDS.items()
            if not isinstance(entry.get(k), t) or isinstance(entry.get(k), bool)
        ]
        if broken:
            problem(at, "; ".join(broken))
            continue
        path = _local(root, export, entry["dataFileS3Key"])
        if path is None or not path.is_file():
            problem(at, f"dataFileS3Key {entry['dataFileS3Key']!r} names no file of this export")
            continue
        if path in listed:
            problem(at, f"dataFileS3Key {entry['dataFileS3Key']!r} is listed twice (read once)")
            continue
        listed.add(path)
        export.info.files += 1
        count = 0
        name = _rel(root, path)
        with path.open("rb") as handle:
            source = _HashingReader(handle)
            try:
                with gzip.GzipFile(fileobj=cast(IO[bytes], source), mode="rb") as gz:
                    for line_no, line in enumerate(gz, start=1):
                        if not line.strip():
                            continue
                        try:
                            item = parse_item_line(line)
                        except NotDynamoJson as exc:
                            problem(f"{name}:{line_no}", str(exc))
                            continue
                        count += 1
                        yield item
                source.drain()
            except (EOFError, OSError, zlib.error) as exc:
                problem(name, f"cannot be read to its end as gzip ({exc}); {count} item(s) read before")
                source.drain()
        export.info.items += count
        total += count
        if count != entry["itemCount"]:
            problem(name, f"holds {count} item(s), but manifest-files.json says {entry['itemCount']}")
        digest = source.md5.digest()
        if entry["md5Checksum"] != base64.b64encode(digest).decode("ascii"):
            problem(
                name,
                f"md5Checksum is {entry['md5Checksum']!r}, but the file's MD5 is "
                f"{base64.b64encode(digest).decode('ascii')!r}",
            )
        etag = entry["etag"].strip('"')
        if "-" not in etag and etag != digest.hex():  # a multipart ETag ("...-N") depends on the part size
            problem(name, f"etag is {etag!r}, but the file's MD5 is {digest.hex()!r}")
    data_dir = export.info.directory / "data"
    if data_dir.is_dir():
        for path in sorted(data_dir.iterdir()):
            if path not in listed:
                problem(
                    _rel(root, path),
                    "is not listed in manifest-files.json: ImportTable reads every object under the data prefix",
                )
    if isinstance(export.summary.get("itemCount"), int) and total != export.summary["itemCount"]:
        problem(
            _rel(root, export.info.directory / SUMMARY_FILE),
            f"itemCount is {export.summary['itemCount']}, but the data files hold {total} item(s)",
        )


def _json_type(kind: type) -> str:
    return {str: "a string", int: "an integer", type(None): "null"}.get(kind, kind.__name__)


__all__ = [
    "DataFile",
    "ExportAudit",
    "ExportInfo",
    "ExportOptions",
    "TableExport",
    "audit_export",
    "export_seed",
    "export_tenant",
    "item_line",
    "parse_item_line",
    "read_table_export",
    "write_table_export",
]
