"""Read records from JSON and JSON-lines files, recognise each record's kind, validate it.

Used by `salestalk validate`, `ingest`, `seed` and `provision --seed-dir`. A record's kind comes
from its content, never its file name: a `pk` prefix of the key grammar (message, message
identity, session rollup, metric, ...), an `eventType` (event), or registry fields (tenant). Every
violation is reported, each as `Violation(where="file:record", field="dotted.path",
rule="...")`; `record` is the line number in a JSON-lines file and the position
(from 1) in a JSON array.

Beyond each record's own rules, records validated together are checked against each
other: no two records share a primary key, no two messages of one tenant share a
`messageId` (a message's id is its identity, whatever its time: contract §7),
per-tenant records name a tenant of the registry (when registry records are among
them), and every data reference agrees with the metric it cites (when that
tenant's metrics are among them). A metric's identity is its primary key
(tenant + subject + `sk`), so the primary-key rule covers metrics.

Two kinds of problem are told apart. A *contract violation* is a record that was read
but breaks a rule (`validate` exits 1). *Bad input* is a path or file that cannot be read
as records at all (every command exits 2); it is reported as a violation of field
`(file)` and listed in `ValidationReport.input_errors`. What this reader decides, case by case:

| input | decision |
|---|---|
| missing path, broken symbolic link, symbolic link loop | bad input, naming the path |
| FIFO, socket or device (as a path or inside a directory) | bad input: refused before reading, so it never blocks |
| a directory without `*.json`, `*.jsonl`, `*.ndjson` files | bad input ("no record files"); hidden entries are skipped |
| empty or blank file | bad input ("no records") |
| not UTF-8, or a NUL character | bad input, naming the byte offset or line |
| UTF-8 byte order mark at the start | accepted (editors write it; it carries no data) |
| CRLF line ends | accepted; JSON lines are split on `\\n` only, so U+2028 / U+2029 inside a string are text, not line breaks |
| truncated or otherwise invalid JSON | bad input, naming line and column |
| JSON nested deeper than `MAX_JSON_DEPTH` (64) levels | bad input; within it, nesting deeper than DynamoDB's 32 levels is a contract violation naming the field |
| an integer literal over 4,300 digits (Python's limit) | bad input; a shorter one over 38 significant digits is a contract violation naming the field |
| `NaN`, `Infinity`, `-Infinity` literals | read, then refused by the number rule naming the field (they are not JSON, but Python's `json.dumps` writes them) |
| a key twice in one JSON object | refused naming the key: a silent last-wins would lose data |
"""

from __future__ import annotations

import codecs
import errno
import itertools
import json
import os
import re
import stat
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import ValidationError

from salestalk_lib.contract import keys
from salestalk_lib.contract.errors import ContractError, InputError, ValidationFailed, Violation
from salestalk_lib.contract.fields import _TEXT_CONTROL, _VALID_TENANT_IDS, TEXT_MAX, dynamodb_number
from salestalk_lib.contract.models import (
    EVENT_MODELS,
    ContractModel,
    DataReference,
    IngestBatch,
    Message,
    MessageIdentity,
    Metric,
    MetricFacts,
    NarrativeGeneratedEvent,
    ProcessedEvent,
    SessionRollup,
    Tenant,
    error_path,
    error_rule,
)
from salestalk_lib.contract.vocab import Sender

JSON_SUFFIXES = frozenset({".json", ".jsonl", ".ndjson"})
JSON_LINES_SUFFIXES = frozenset({".jsonl", ".ndjson"})
FILE_FIELD = "(file)"
RECORD_FIELD = "(record)"
MAX_JSON_DEPTH = 64
"""JSON nested deeper than this is not read (bad input). DynamoDB's own 32 levels are a contract rule."""


class RecordKind(StrEnum):
    """What a record is, as recognised from its content."""

    TENANT = "tenant"
    MESSAGE = "message"
    MESSAGE_IDENTITY = "message identity"
    SESSION = "session"
    BATCH = "ingest batch"
    PROCESSED_EVENT = "processed event"
    METRIC = "metric"
    DATA_REFERENCE = "data reference"
    EVENT = "event"


KIND_MODELS: dict[RecordKind, type[ContractModel]] = {
    RecordKind.TENANT: Tenant,
    RecordKind.MESSAGE: Message,
    RecordKind.MESSAGE_IDENTITY: MessageIdentity,
    RecordKind.SESSION: SessionRollup,
    RecordKind.BATCH: IngestBatch,
    RecordKind.PROCESSED_EVENT: ProcessedEvent,
    RecordKind.METRIC: Metric,
    RecordKind.DATA_REFERENCE: DataReference,
}
_PK_KINDS = {
    keys.KeyKind.MESSAGE: RecordKind.MESSAGE,
    keys.KeyKind.MESSAGE_IDENTITY: RecordKind.MESSAGE_IDENTITY,
    keys.KeyKind.SESSION: RecordKind.SESSION,
    keys.KeyKind.METRIC: RecordKind.METRIC,
    keys.KeyKind.BATCH: RecordKind.BATCH,
    keys.KeyKind.EVENT: RecordKind.PROCESSED_EVENT,
}
_REGISTRY_FIELDS = ("messagesTableName", "metricsTableName", "s3Prefix", "ownerEmail")


def detect_kind(record: Any) -> RecordKind | None:
    """The kind of a record judged by its content, or None when nothing identifies it."""
    if type(record) is not _JsonObject and not isinstance(record, Mapping):
        return None
    key_kind = keys.pk_kind(record.get("pk"))
    if key_kind is keys.KeyKind.EVENT:  # a processing record names its eventType too
        return RecordKind.PROCESSED_EVENT
    if "eventType" in record:
        return RecordKind.EVENT
    if key_kind is not None:
        return _PK_KINDS[key_kind]
    if any(f in record for f in _REGISTRY_FIELDS):
        return RecordKind.TENANT
    if "metric" in record and "source" in record:
        return RecordKind.DATA_REFERENCE
    # No usable pk: fall back on the id each kind carries, so a broken pk is reported as such.
    for id_field, kind in (
        ("messageSk", RecordKind.MESSAGE_IDENTITY),
        ("messageId", RecordKind.MESSAGE),
        ("metricId", RecordKind.METRIC),
        ("batchId", RecordKind.BATCH),
        ("messageCount", RecordKind.SESSION),
    ):
        if id_field in record:
            return kind
    return None


def model_for(record: Mapping[str, Any]) -> type[ContractModel] | Violation:
    """The model a record must satisfy, or the violation that says why none applies (where left blank)."""
    kind = detect_kind(record)
    if kind is RecordKind.EVENT:
        event_type = record["eventType"]
        model = EVENT_MODELS.get(event_type) if isinstance(event_type, str) else None
        if model is None:
            known = ", ".join(sorted(EVENT_MODELS))
            return Violation("", "eventType", f"unknown event type {event_type!r}; known types: {known}")
        return model
    if kind is None:
        return Violation(
            "",
            RECORD_FIELD,
            (
                f"cannot tell what kind of record this is: expected a pk starting with {keys.MSG_PREFIX}, "
                f"{keys.SESSION_PREFIX} or {keys.METRIC_PREFIX}, an eventType, or a tenant registry item "
                "(tenantId, ownerEmail, messagesTableName, ...)"
            ),
        )
    return KIND_MODELS[kind]


def violations_from(exc: ValidationError, where: str) -> list[Violation]:
    """One Violation per pydantic error, fields named by their contract (camelCase) path."""
    return [Violation(where, error_path(tuple(e["loc"])), error_rule(e)) for e in exc.errors()]


def validate_record(
    record: Any, where: str, *, tenant_id: str | None = None
) -> tuple[ContractModel | None, list[Violation]]:
    """Validate one record of any kind: the model (None if invalid) and every violation."""
    model, _, violations = _validate_one(record, where, tenant_id)
    return model, violations


_MODEL_KINDS: dict[type[ContractModel], RecordKind] = {
    **{model: kind for kind, model in KIND_MODELS.items()},
    **dict.fromkeys(EVENT_MODELS.values(), RecordKind.EVENT),
}


def _validate_one(
    record: Any, where: str, tenant_id: str | None, *, repeated_keys: bool = True
) -> tuple[ContractModel | None, RecordKind | None, list[Violation]]:
    """`validate_record` that also says the valid model's kind (None with the model).

    `repeated_keys=False`: the caller knows no JSON object of `record` had a key twice.
    """
    if type(record) is not _JsonObject and not isinstance(record, Mapping):
        return None, None, [Violation(where, RECORD_FIELD, f"must be a JSON object, got {_json_type(record)}")]
    duplicates = [Violation(where, f, r) for f, r in duplicate_keys(record)] if repeated_keys else []
    model = model_for(record)
    if isinstance(model, Violation):
        return None, None, duplicates + [Violation(where, model.field, model.rule)]
    try:
        validated = model.from_item(record, tenant_id=tenant_id)
    except ValidationError as exc:
        return None, None, duplicates + violations_from(exc, where)
    # A record with a duplicated attribute is ambiguous even if its last values pass.
    if duplicates:
        return None, None, duplicates
    return validated, _MODEL_KINDS[model], duplicates


# --- the fast path for plain messages -------------------------------------------------------------
#
# `salestalk validate` spends most of its time on records of one shape: a message with its eight
# required attributes (and perhaps `ttl`), no `classification`, no `metadata`. For those, the checks
# below decide what `Message.from_item` would decide, on the decoded values, without building a
# model: they *accept* a record only when every rule of the full path holds (the same compiled
# patterns, the same key-grammar and number functions), and return None for anything else, which
# then goes the full way (`_validate_one`) and is explained there. They never produce a violation.
# `tests/test_fast_path.py` feeds both paths the malformed corpora and generated records and
# asserts the fast path accepts nothing the full path refuses, with the same keys.

_MESSAGE_REQUIRED = frozenset({"tenantId", "messageId", "sessionId", "pk", "sk", "timestamp", "sender", "text"})
_MESSAGE_WITH_TTL = _MESSAGE_REQUIRED | {"ttl"}
_MESSAGE_STRINGS = 7
"""String values of a plain message (all its attributes but `timestamp` and `ttl`): a line's quote count."""
_SENDERS = frozenset(s.value for s in Sender)
_UUID4_MATCH = keys.UUID4_RE.fullmatch
_TEXT_CONTROL_SEARCH = _TEXT_CONTROL.search
_NUMBER_TYPES = (int, Decimal)  # exact types as the decoder gives them (a bool is not one)


_MSG_SK_MATCH = re.compile(keys.MESSAGE_SK_PATTERN).fullmatch
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_EPOCH_DAYS: dict[str, int] = {}
"""Days since 1970-01-01 of the dates (`YYYY-MM-DD`) message sort keys named (bounded)."""


def _message_instant(sk: str) -> Decimal | None:
    """`keys.unix_seconds(keys.parse_message_sk(sk))` when that is after 1970-01-01T00:00:00Z; None otherwise.

    The same pattern and the same calendar (a real date, hours 0-23, minutes and seconds 0-59),
    without building a datetime: a date's day number is computed once.
    """
    if not _MSG_SK_MATCH(sk):
        return None
    day = sk[:10]
    days = _EPOCH_DAYS.get(day)
    if days is None:
        try:
            days = date(int(sk[0:4]), int(sk[5:7]), int(sk[8:10])).toordinal() - _EPOCH_ORDINAL
        except ValueError:
            return None
        if len(_EPOCH_DAYS) < 4096:
            _EPOCH_DAYS[day] = days
    hour, minute, second = int(sk[11:13]), int(sk[14:16]), int(sk[17:19])
    if hour > 23 or minute > 59 or second > 59:
        return None
    seconds = days * 86_400 + hour * 3_600 + minute * 60 + second
    if seconds < 0:
        return None
    millis = sk[20:23]
    return Decimal(seconds) if millis == "000" else Decimal(f"{seconds}.{millis}")


class FastMessage(tuple[str, str, str, str]):
    """What the rules between records need of a plain message the fast path accepted: tenant, id, pk, sk."""

    __slots__ = ()


def fast_message(record: Mapping[str, Any], tenant_id: str | None = None) -> FastMessage | None:
    """`(tenantId, messageId, pk, sk)` if `record` is a plain message that `Message.from_item` accepts; else None.

    Plain: the eight required attributes and perhaps `ttl`, nothing else (a record with
    `classification` or `metadata`, or of another kind, is None). None says nothing about validity:
    the full path decides. A mapping given here must hold each key once (the caller knows).
    """
    n = len(record)
    if n == 8:
        if record.keys() != _MESSAGE_REQUIRED:
            return None
    elif n != 9 or record.keys() != _MESSAGE_WITH_TTL:
        return None
    tenant = record["tenantId"]
    if type(tenant) is not str:
        return None
    if tenant not in _VALID_TENANT_IDS:  # fields._tenant_id's cache: ids that passed validate_tenant_id
        try:
            keys.validate_tenant_id(tenant)
        except ContractError:
            return None
        if len(_VALID_TENANT_IDS) < 4096:
            _VALID_TENANT_IDS.add(tenant)
    if tenant_id is not None and tenant != tenant_id:
        return None
    message_id, session_id, pk, sk = record["messageId"], record["sessionId"], record["pk"], record["sk"]
    if (
        type(message_id) is not str
        or type(session_id) is not str
        or type(pk) is not str
        or type(sk) is not str
        or not _UUID4_MATCH(message_id)
        or not _UUID4_MATCH(session_id)
        or pk != keys.MSG_PREFIX + message_id
    ):
        return None
    instant = _message_instant(sk)
    if instant is None or instant <= 0:
        return None  # not a message time, or not after 1970-01-01T00:00:00Z (timestamp must be > 0)
    timestamp = record["timestamp"]
    if type(timestamp) not in _NUMBER_TYPES or timestamp != instant:
        return None  # equal to the sk's instant: every number rule holds for it as for the instant
    sender, text = record["sender"], record["text"]
    if type(sender) is not str or sender not in _SENDERS or type(text) is not str:
        return None
    if not 0 < len(text) <= TEXT_MAX or not text.strip() or _TEXT_CONTROL_SEARCH(text):
        return None
    if not text.isascii():
        try:
            text.encode("utf-8")  # a lone surrogate (`"\ud800"` in JSON) is not a string pydantic takes
        except UnicodeEncodeError:
            return None
    if n == 9:
        ttl = record["ttl"]
        if type(ttl) not in _NUMBER_TYPES:
            return None
        try:
            if not dynamodb_number(ttl) > instant:
                return None
        except ContractError:
            return None
    # No size check: without classification and metadata, such an item is under 41 KB (text: 10,000
    # characters of at most 4 UTF-8 bytes), far below the 400 KB item limit.
    return FastMessage((tenant, message_id, pk, sk))


_PLAIN_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder(  # type: ignore[attr-defined]
    parse_float=Decimal, parse_constant=float
).scan_once
"""`_DECODER`'s grammar and numbers, decoding objects as plain dicts (a repeated key: the last wins)."""
_ESCAPE = re.compile(r"\\.", re.DOTALL)


def fast_message_line(line: str, tenant_id: str | None = None) -> FastMessage | None:
    """`fast_message` of one JSON line, decoded as `parse_json` decodes it; None for anything else.

    The line is decoded into plain dicts (no hook: faster), so a repeated key is found by counting
    quotes instead: in valid JSON every unescaped `"` delimits a string, and a plain message's
    object holds its keys and seven string values, so any key given twice adds quotes. Escapes
    are dropped before counting (left to right, each `\\` with the character after it, as JSON
    reads them).
    """
    if not line.startswith("{"):
        return None  # leading space, a byte order mark, not an object: parse_json decides
    try:
        record, end = _PLAIN_SCAN(line, 0)
    except (StopIteration, RecursionError, ValueError):
        return None
    if end != len(line) and line[end:].strip(" \t\n\r"):
        return None
    if type(record) is not dict:
        return None
    found = fast_message(record, tenant_id)
    if found is None:
        return None
    quotes = (_ESCAPE.sub("", line) if "\\" in line else line).count('"')
    if quotes != 2 * (len(record) + _MESSAGE_STRINGS):
        return None  # a key given twice: parse_json names it
    return found


@dataclass(frozen=True)
class ValidRecord:
    """A record that passed its own rules: where it came from, its kind and its model."""

    where: str
    kind: RecordKind
    model: ContractModel


@dataclass
class ValidationReport:
    """The outcome of validating files or records: the valid models (unless streamed) and every violation.

    `counts` holds how many valid records of each kind were read, also when the records
    themselves were not kept (`StreamingInput.validate`).
    """

    records: list[ValidRecord] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    files: int = 0
    checked: int = 0
    counts: dict[RecordKind, int] = field(default_factory=dict)

    @property
    def input_errors(self) -> list[Violation]:
        """The violations that are bad input (a path or file that cannot be read as records), not broken rules."""
        return [v for v in self.violations if v.field == FILE_FIELD]

    @property
    def ok(self) -> bool:
        return not self.violations

    def models(self, kind: RecordKind | None = None) -> list[ContractModel]:
        """The valid models, optionally of one kind, in file order."""
        return [r.model for r in self.records if kind is None or r.kind is kind]

    def raise_for_violations(self) -> None:
        """Raise ValidationFailed (with every violation) unless the report is clean."""
        if self.violations:
            raise ValidationFailed(self.violations)

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for kind, n in self.counts.items():
            counts[kind.value] = counts.get(kind.value, 0) + n
        detail = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
        files = f" in {self.files} file(s)" if self.files else ""
        return f"{self.checked} record(s){files}" + (f" ({detail})" if detail else "")


def _validate_labelled(labelled: Iterable[tuple[str, Any]], report: ValidationReport, tenant_id: str | None) -> None:
    for where, record in labelled:
        report.checked += 1
        model, kind, violations = _validate_one(record, where, tenant_id)
        report.violations.extend(violations)
        if model is not None and kind is not None:  # a valid model always has a kind
            report.records.append(ValidRecord(where, kind, model))
            report.counts[kind] = report.counts.get(kind, 0) + 1


def validate_records(
    records: Iterable[Any], where: str = "<records>", *, tenant_id: str | None = None
) -> list[Violation]:
    """Every violation in `records` (labelled `where:1`, `where:2`, ...), cross-record checks included."""
    report = ValidationReport()
    _validate_labelled(((f"{where}:{i}", r) for i, r in enumerate(records, start=1)), report, tenant_id)
    report.violations.extend(cross_check(report.records))
    return report.violations


def validate_paths(paths: Sequence[str | Path], *, tenant_id: str | None = None) -> ValidationReport:
    """Validate every JSON / JSON-lines file in `paths` (directories are searched recursively).

    Paths that cannot be read as records are reported too (`ValidationReport.input_errors`).
    The valid records are kept in the report (`records`); to validate large inputs without
    holding them, use `StreamingInput` (what `salestalk validate` does).
    """
    return StreamingInput(paths, tenant_id=tenant_id).validate(keep_records=True)


def load_valid(paths: Sequence[str | Path], *, tenant_id: str | None = None) -> ValidationReport:
    """Like `validate_paths`, but raise ValidationFailed (listing every violation) unless all is valid."""
    report = validate_paths(paths, tenant_id=tenant_id)
    report.raise_for_violations()
    return report


class StreamingInput:
    """Record files validated in bounded memory: a full first pass, then the valid records streamed again.

    `validate()` reads every file one record at a time (JSON lines line by line, a JSON array
    element by element), validates each record and drops it: only compact key logs survive
    for the rules between records (`cross_check`), so memory does not grow with the records
    kept (64-bit key hashes and record positions, about 30 bytes a record; exact: records
    whose hashes collide are read again and compared by their keys). The report is the one
    `validate_paths` gives, minus `records`. `records()` then reads the files again and yields
    each valid record, file by file; it raises ValidationFailed unless the first pass was
    clean (all-or-nothing: a caller writes nothing until every record is known to be valid).
    """

    def __init__(self, paths: Sequence[str | Path], *, tenant_id: str | None = None) -> None:
        self.paths = list(paths)
        self.tenant_id = tenant_id
        self._files: list[Path] | None = None
        self._report: ValidationReport | None = None
        self.observed_once = True
        """False when the last `validate(observe=...)` told `observe` of some record twice (a file whose
        streaming reader gave way to the whole-file reader after valid records): fold `records()` instead."""

    def validate(
        self, *, keep_records: bool = False, observe: Callable[[ValidRecord], None] | None = None
    ) -> ValidationReport:
        """The first pass: every violation (each record's and those between records) in a report.

        `observe`, when given, is called with every valid record as the pass reads it (once per
        record, in file order), so a caller can fold what it needs (a fingerprint, counts) into
        its own compact state without a pass of its own; the record is dropped afterwards.
        """
        report = ValidationReport()
        self.observed_once = True
        files = json_files(self.paths, report.violations)
        names = [str(p) for p in files]
        state = _CrossState()
        for index, path in enumerate(files):
            self._scan_file(index, path, report, state, keep_records, observe)
        report.violations.extend(
            state.finish(
                lambda pos: f"{names[pos >> 32]}:{pos & _RECORD_MASK}",
                lambda wanted: self._models_at(files, wanted),
            )
        )
        self._files, self._report = files, report
        return report

    def records(self) -> Iterator[ValidRecord]:
        """The second pass: every valid record, file by file, after `validate()` found no violation."""
        report = self._report if self._report is not None else self.validate()
        report.raise_for_violations()
        for path in self._files or []:
            name = str(path)
            problems: list[Violation] = []
            for n, record in _numbered_records(path, problems):
                where = f"{name}:{n}"
                model, kind, violations = _validate_one(record, where, self.tenant_id)
                problems.extend(violations)
                if model is not None and kind is not None:
                    yield ValidRecord(where, kind, model)
            if problems:  # the file changed since the first pass
                raise ValidationFailed(problems)

    def _scan_file(
        self,
        index: int,
        path: Path,
        report: ValidationReport,
        state: _CrossState,
        keep_records: bool,
        observe: Callable[[ValidRecord], None] | None = None,
    ) -> None:
        name = str(path)
        mark = state.mark()
        checked, counts, kept = report.checked, dict(report.counts), len(report.records)
        problems: list[Violation] = []
        found: list[Violation] = []
        read_any = False
        duplicates_seen = _DUPLICATES_SEEN[0]
        whole_file = False  # records decoded all at once: the counter says nothing of each one
        observed = [0]  # records of this file `observe` was told of

        def take(n: int, record: Any) -> None:
            nonlocal read_any, duplicates_seen
            read_any = True
            report.checked += 1
            if fast is not None and type(record) is _JsonObject and not record.duplicates:
                # Decoded by parse_json or the array reader: a plain message holds no nested object, so
                # its own `duplicates` say whether any key was repeated.
                record = fast_message(record, self.tenant_id) or record
            if type(record) is FastMessage:  # a plain message the fast path accepted: no violation, no model
                report.counts[RecordKind.MESSAGE] = report.counts.get(RecordKind.MESSAGE, 0) + 1
                state.add_message((index << 32) | n, *record)
                return
            where = f"{name}:{n}"
            # Decoded since the last record: this one. No object had a key twice: no need to look for one.
            repeated = whole_file or _DUPLICATES_SEEN[0] != duplicates_seen
            duplicates_seen = _DUPLICATES_SEEN[0]
            model, kind, violations = _validate_one(record, where, self.tenant_id, repeated_keys=repeated)
            if violations:
                found.extend(violations)
            if model is not None and kind is not None:
                report.counts[kind] = report.counts.get(kind, 0) + 1
                state.add((index << 32) | n, kind, model)
                if keep_records or observe is not None:
                    record = ValidRecord(where, kind, model)
                    if keep_records:
                        report.records.append(record)
                    if observe is not None:
                        observed[0] += 1
                        observe(record)

        # Without records to keep or tell of, plain messages need no model: the fast path decides them.
        fast: Callable[[str], FastMessage | None] | None = None
        if not keep_records and observe is None:
            tenant_id = self.tenant_id
            fast = (lambda line: fast_message_line(line, tenant_id)) if tenant_id is not None else fast_message_line
        # Plain messages the fast path accepted are logged here, without a call to `take` each (the
        # commonest record: this loop is most of `salestalk validate`'s time); counted when the loop ends.
        fast_taken = 0
        add_message = state.add_message
        shift = index << 32

        def count_fast() -> None:
            nonlocal read_any
            if fast_taken:
                read_any = True
                report.checked += fast_taken
                report.counts[RecordKind.MESSAGE] += fast_taken

        try:
            for item in _stream_file(path, fast=fast):
                if isinstance(item, Violation):
                    problems.append(item)
                    continue
                n, record = item
                if type(record) is FastMessage:
                    if not fast_taken:  # the kind counted in the order kinds were first seen, as `take` does
                        report.counts.setdefault(RecordKind.MESSAGE, 0)
                    fast_taken += 1
                    add_message(shift | n, *record)
                else:
                    take(n, record)
            count_fast()
        except InputError as exc:
            count_fast()
            problems = [Violation(exc.where, FILE_FIELD, exc.problem)]
        except _Fallback:  # the whole-file reader decides, exactly as it always has
            state.rollback(mark)
            if observed[0]:  # the whole-file reader tells `observe` of these records again
                self.observed_once = False
            report.checked, report.counts = checked, counts
            del report.records[kept:]
            problems, found, read_any, whole_file = [], [], False, True
            numbered, problems = _read_numbered(path)
            for n, record in numbered:
                take(n, record)
        report.files += read_any or not problems  # files that were read (some records may be bad)
        report.violations.extend(problems)
        report.violations.extend(found)

    def _models_at(self, files: Sequence[Path], wanted: set[int]) -> dict[int, tuple[RecordKind, ContractModel]]:
        """The kinds and models of the records at positions `wanted`, read again (only those are validated)."""
        found: dict[int, tuple[RecordKind, ContractModel]] = {}
        for index in sorted({pos >> 32 for pos in wanted}):
            path = files[index]
            numbers = {pos & _RECORD_MASK for pos in wanted if pos >> 32 == index}
            for n, record in _numbered_records(path, [], numbers):
                if n in numbers:
                    model, kind, _ = _validate_one(record, f"{path}:{n}", self.tenant_id)
                    if model is not None and kind is not None:
                        found[(index << 32) | n] = (kind, model)
        return found


def iter_valid(paths: Sequence[str | Path], *, tenant_id: str | None = None) -> Iterator[ContractModel]:
    """The valid models of `paths`, file by file, in bounded memory; ValidationFailed (listing all) first if any is not.

    A full first pass validates everything before the first model is yielded, so a consumer
    that writes what it is given writes nothing from an invalid input (`StreamingInput`).
    """
    for record in StreamingInput(paths, tenant_id=tenant_id).records():
        yield record.model


_RECORD_MASK = (1 << 32) - 1


def json_files(paths: Sequence[str | Path], problems: list[Violation]) -> list[Path]:
    """The files named by `paths`, directories expanded to their JSON / JSON-lines files (sorted, hidden skipped).

    A directory entry with a JSON suffix that is not a regular file (a FIFO, a broken link) is
    kept, so reading it reports why; a directory without record files is a problem of its own.
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            found.append(path)  # read_records says what is wrong with it, if anything
            continue
        try:
            entries = sorted(
                p
                for p in path.rglob("*")
                if p.suffix.lower() in JSON_SUFFIXES
                and not p.is_dir()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        except OSError as exc:
            problems.append(Violation(str(path), FILE_FIELD, f"cannot list the directory: {_reason(exc)}"))
            continue
        if not entries:
            problems.append(
                Violation(
                    str(path),
                    FILE_FIELD,
                    "is a directory with no record files "
                    "(*.json, *.jsonl, *.ndjson): nothing to read; name the files or their directory",
                )
            )
        found.extend(entries)
    return found


def require_directory(path: str | Path, what: str) -> Path:
    """`path` as a Path if it is a directory; InputError naming it (`what`: "the seed directory") otherwise."""
    path = Path(path)
    if path.is_dir():
        return path
    if os.path.lexists(path):
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            reason = "is a symbolic link loop" if exc.errno == errno.ELOOP else f"cannot be read: {_reason(exc)}"
            raise InputError(str(path), f"{reason}: name {what}") from None
        kind = next((label for test, label in _FILE_KINDS if test(mode)), "not a directory")
        raise InputError(str(path), f"is {kind}, not a directory: name {what}")
    raise InputError(str(path), f"no such directory: name {what}")


_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISREG, "a file"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def read_input_bytes(path: str | Path) -> bytes:
    """The bytes of a regular file; InputError (naming the path and what to do) for anything else.

    The file is opened non-blocking and checked with fstat before a byte is read, so a FIFO or
    a device is refused instead of blocking, and nothing can swap the file in between.
    """
    with open_input(path) as handle:
        try:
            return handle.read()
        except OSError as exc:
            raise InputError(str(path), f"cannot be read: {_reason(exc)}") from None


def open_input(path: str | Path) -> BinaryIO:
    """A regular file opened for reading in binary; InputError (naming the path and what to do) for anything else.

    Opened non-blocking and checked with fstat before a byte is read (see `read_input_bytes`).
    """
    name = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        if os.path.islink(path):
            raise InputError(name, "is a symbolic link to a missing file: fix the link or name the file") from None
        raise InputError(name, "no such file or directory: check the path") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(name, "is a symbolic link loop: fix the link or name the file") from None
        raise InputError(name, f"cannot be opened: {_reason(exc)}") from None
    try:
        mode = os.fstat(fd).st_mode
    except OSError as exc:
        os.close(fd)
        raise InputError(name, f"cannot be read: {_reason(exc)}") from None
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = next((label for test, label in _FILE_KINDS if test(mode)), "not a regular file")
        raise InputError(name, f"is {kind}, not a regular file: put the records in a file and name that")
    return os.fdopen(fd, "rb")


def read_input_text(path: str | Path) -> str:
    """A regular file's text: UTF-8 (a leading byte order mark is dropped), no NUL characters; else InputError."""
    name = str(path)
    data = read_input_bytes(path)
    skipped = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        text = data[skipped:].decode("utf-8")
    except UnicodeDecodeError as exc:
        utf16 = " (it looks like UTF-16)" if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else ""
        offset = skipped + exc.start
        raise InputError(
            name, f"is not UTF-8 text{utf16}: byte 0x{data[offset]:02x} at offset {offset:,}; save the file as UTF-8"
        ) from None
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        raise InputError(
            f"{name}:{line}",
            f"contains a NUL character (column {nul - text.rfind(chr(10), 0, nul)}): "
            "not a text file; save the records as UTF-8 JSON",
        )
    return text


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


class _JsonObject(dict[str, Any]):
    """A decoded JSON object that remembers keys it saw more than once (json keeps only the last)."""

    duplicates: tuple[str, ...] = ()


_DUPLICATES_SEEN = [0]
"""How many decoded JSON objects have had a key twice (this process): no change, no walk for duplicates."""


def _object_pairs(pairs: list[tuple[str, Any]]) -> _JsonObject:
    obj = _JsonObject(pairs)
    if len(obj) != len(pairs):
        _DUPLICATES_SEEN[0] += 1
        seen: set[str] = set()
        repeated: list[str] = []
        for k, _ in pairs:
            if k in seen:
                repeated.append(k)
            seen.add(k)
        obj.duplicates = tuple(repeated)
    return obj


def _any_duplicates(value: Any) -> bool:
    """Whether any JSON object in `value` saw a key twice (a quick pass; `_duplicate_keys` names them)."""
    if isinstance(value, dict):
        return bool(getattr(value, "duplicates", ())) or any(
            _any_duplicates(v) for v in value.values() if isinstance(v, (dict, list))
        )
    if isinstance(value, list):
        return any(_any_duplicates(v) for v in value if isinstance(v, (dict, list)))
    return False


def _duplicate_keys(value: Any, path: tuple[str | int, ...]) -> list[tuple[str, str]]:
    found = []
    if isinstance(value, Mapping):
        for key in getattr(value, "duplicates", ()):
            found.append(
                (
                    error_path(path + (key,)),
                    "appears more than once in one JSON object (only the last value would be kept)",
                )
            )
        for k, v in value.items():
            found += _duplicate_keys(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _duplicate_keys(v, path + (i,))
    return found


def duplicate_keys(value: Any) -> list[tuple[str, str]]:
    """(field path, rule) for every key a JSON object decoded by `parse_json` saw more than once."""
    return _duplicate_keys(value, ()) if _any_duplicates(value) else []


_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=float, object_pairs_hook=_object_pairs)
"""The records' JSON decoder: `json.loads(text, **these options)` is `_DECODER.decode(text)`."""
_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]
_INT_LIMIT = re.compile(r"Exceeds the limit \((\d+) digits\).*value has (\d+) digits")


def parse_json(text: str, where: str = "<json>") -> Any:
    """Decode JSON with every fraction as an exact Decimal (never a binary float); InputError if it cannot be read.

    NaN and ±Infinity tokens decode to floats so that the number rules, not the parser, reject
    them and name the field. Objects remember repeated keys (`duplicate_keys`). Refused as bad
    input, naming `where` (and, in a text of several lines, the line): invalid JSON, nesting
    deeper than `MAX_JSON_DEPTH`, an integer literal longer than Python converts (4,300 digits).
    """
    value = _quick_object(text)
    if value is not None:
        return value
    try:
        if text.startswith("\ufeff"):  # what json.loads says of a byte order mark
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        value = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        if "\n" not in text:  # one line (a JSON-lines record): `where` already names it
            raise InputError(where, f"not valid JSON: {exc.msg} (column {exc.colno})") from None
        raise InputError(
            f"{where}:{exc.lineno}", f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise InputError(where, _too_deep()) from None
    except ValueError as exc:  # int() refused a literal: Python's integer conversion limit
        match = _INT_LIMIT.search(str(exc))
        detail = f"an integer of {int(match[2]):,} digits" if match else "an integer literal"
        limit = f"{int(match[1]):,}" if match else "4,300"
        raise InputError(
            where,
            f"{detail} is longer than this reader takes ({limit} digits); DynamoDB numbers "
            "have at most 38 significant digits",
        ) from None
    if (text.count("{") + text.count("[") > MAX_JSON_DEPTH) and _deeper_than(value, MAX_JSON_DEPTH):
        raise InputError(where, _too_deep())
    return value


def _quick_object(text: str) -> _JsonObject | None:
    """The JSON object `text` holds, decoded as `parse_json` would; None whenever `parse_json` must look closer.

    A record's usual shape (one object, no nesting over the limit) skips `JSONDecoder.decode`'s
    wrappers; anything else, an error included, gets None and `parse_json`'s own decisions.
    """
    if not text.startswith("{"):
        return None
    try:
        value, end = _SCAN(text, 0)
    except (StopIteration, RecursionError, ValueError):
        return None
    if (end != len(text) and text[end:].strip(" \t\n\r")) or text.count("{") + text.count("[") > MAX_JSON_DEPTH:
        return None
    return value if type(value) is _JsonObject else None


def _too_deep() -> str:
    return (
        f"is nested deeper than {MAX_JSON_DEPTH} levels, more than this reader takes "
        "(DynamoDB allows 32 levels inside an item)"
    )


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects in `value` nest more than `limit` levels (iterative: no recursion to exhaust)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def read_records(path: str | Path) -> tuple[list[tuple[str, Any]], list[Violation]]:
    """The records of one file, each labelled `file:record`, and any file-level problems (bad input).

    A JSON document holding an array gives one record per element, an object one
    record; a JSON-lines file (or any file whose JSON is followed by more JSON) one
    record per non-blank line (lines end at `\\n`; a `\\r` before it is JSON whitespace).
    The whole file is read at once; `StreamingInput` reads one record at a time.
    """
    name = str(path)
    numbered, problems = _read_numbered(Path(path))
    return [(f"{name}:{n}", r) for n, r in numbered], problems


def _read_numbered(path: Path) -> tuple[list[tuple[int, Any]], list[Violation]]:
    """`read_records` with each record's number (line or array position) instead of its label."""
    name = str(path)
    try:
        text = read_input_text(path)
    except InputError as exc:
        return [], [Violation(exc.where, FILE_FIELD, exc.problem)]
    if not text.strip():
        return [], [
            Violation(name, FILE_FIELD, "is empty: no records (a JSON array or object, or JSON lines, expected)")
        ]
    if path.suffix.lower() not in JSON_LINES_SUFFIXES:
        try:
            document = parse_json(text, name)
        except InputError as exc:
            if "Extra data" not in exc.problem:
                return [], [Violation(exc.where, FILE_FIELD, exc.problem)]
        else:
            if isinstance(document, list):
                return list(enumerate(document, start=1)), []
            if isinstance(document, Mapping):
                return [(1, document)], []
            return [], [
                Violation(
                    name,
                    FILE_FIELD,
                    f"the top level must be a record (object) or an array of records, got {_json_type(document)}",
                )
            ]
    records, problems = [], []
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            records.append((lineno, parse_json(line, f"{name}:{lineno}")))
        except InputError as exc:
            problems.append(Violation(exc.where, FILE_FIELD, exc.problem))
    return records, problems


class _Fallback(Exception):
    """The streaming reader met what only the whole-file reader decides (bad input, or an unusual layout)."""


_CHUNK = 1 << 20
_NOT_JSON_SPACE = re.compile(r"[^ \t\n\r]")
_NUMBER_CHARS = re.compile(r"[0-9.eE+\-]*")


class _Chunks:
    """A file's text read a chunk at a time: UTF-8 (a leading byte order mark dropped), no NUL, else `_Fallback`."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.buf = ""
        self.pos = 0
        self.eof = False

    def read(self, size: int = 0) -> str:
        """The next chunk of text (of about `size` or `_CHUNK` bytes; "" at the end of the file, then `eof` is set)."""
        try:
            data = self.handle.read(size or _CHUNK)
            text = self.decoder.decode(data, final=not data)
        except (OSError, UnicodeDecodeError):
            raise _Fallback from None
        if "\x00" in text:
            raise _Fallback
        self.eof = not data
        return text

    def more(self, size: int = 0) -> bool:
        """Append the next chunk to `buf` (dropping what lies before `pos`); False at the end of the file."""
        while not self.eof:
            text = self.read(size)
            if text:
                self.buf = self.buf[self.pos :] + text
                self.pos = 0
                return True
        return False

    def next_char(self) -> str:
        """Skip JSON whitespace; the character at `pos` then, or "" at the end of the file."""
        while True:
            found = _NOT_JSON_SPACE.search(self.buf, self.pos)
            if found is not None:
                self.pos = found.start()
                return self.buf[self.pos]
            self.pos = len(self.buf)
            if not self.more():
                return ""

    def value(self) -> Any:
        """Decode the JSON value at `pos` (reading on until it is complete) and move past it."""
        while True:
            start = self.pos
            try:
                value, end = _DECODER.raw_decode(self.buf, start)
            except json.JSONDecodeError:
                if not self.more(max(_CHUNK, len(self.buf) - self.pos)):
                    raise _Fallback from None
                continue
            except (RecursionError, ValueError):
                raise _Fallback from None
            if (  # a number may go on in the next chunk (`12` of `12.5e3`): read on until something follows it
                isinstance(value, (int, float, Decimal))
                and not isinstance(value, bool)
                and _NUMBER_CHARS.fullmatch(self.buf, end)
                and self.more()
            ):
                continue
            if (
                self.buf.count("{", start, end) + self.buf.count("[", start, end) >= MAX_JSON_DEPTH
                and _deeper_than(value, MAX_JSON_DEPTH - 1)  # inside the array: one level less
            ):
                raise _Fallback
            self.pos = end
            return value


def _stream_file(
    path: Path, wanted: set[int] | None = None, fast: Callable[[str], FastMessage | None] | None = None
) -> Iterator[tuple[int, Any] | Violation]:
    """The numbered records of one file, read one at a time, and its problems (bad input) as they are met.

    Raises InputError for a path that is not a readable regular file, and `_Fallback` when the
    whole-file reader (`_read_numbered`) must decide: a JSON file that is not an array of
    records, an error after records were given, text that is not UTF-8 or holds a NUL. With
    `wanted`, JSON lines of other numbers are skipped unread. With `fast`, a JSON line it
    accepts (`fast_message_line`) is given as its `FastMessage`, not decoded again.
    """
    with open_input(path) as handle:
        chunks = _Chunks(handle)
        if path.suffix.lower() in JSON_LINES_SUFFIXES:
            yield from _stream_lines(chunks, str(path), wanted, fast)
        else:
            yield from _stream_array(chunks, str(path))


def _stream_lines(
    chunks: _Chunks, name: str, wanted: set[int] | None, fast: Callable[[str], FastMessage | None] | None = None
) -> Iterator[tuple[int, Any] | Violation]:
    carry = ""
    lineno = 0
    blank = True
    while True:
        text = chunks.read()
        lines = (carry + text).split("\n")
        carry = "" if chunks.eof else lines.pop()
        for line in lines:
            lineno += 1
            if wanted is not None and lineno not in wanted:
                continue
            if fast is not None:
                found = fast(line)
                if found is not None:
                    blank = False
                    yield lineno, found
                    continue
            if not line.strip():
                continue
            blank = False
            where = f"{name}:{lineno}"
            try:
                yield lineno, parse_json(line, where)
            except InputError as exc:
                yield Violation(exc.where, FILE_FIELD, exc.problem)
        if chunks.eof:
            break
    if blank and wanted is None:
        yield Violation(name, FILE_FIELD, "is empty: no records (a JSON array or object, or JSON lines, expected)")


def _stream_array(chunks: _Chunks, name: str) -> Iterator[tuple[int, Any] | Violation]:
    if chunks.next_char() != "[":
        raise _Fallback  # an object (one record), a scalar, an empty file, not JSON: read whole
    chunks.pos += 1
    n = 0
    if chunks.next_char() == "]":
        chunks.pos += 1
    else:
        while True:
            value = chunks.value()
            n += 1
            yield n, value
            after = chunks.next_char()
            chunks.pos += 1
            if after == "]":
                break
            if after != ",":
                raise _Fallback
            chunks.next_char()
    if chunks.next_char():
        raise _Fallback  # more JSON after the array: JSON lines, or not JSON


def _numbered_records(
    path: Path, problems: list[Violation], wanted: set[int] | None = None
) -> Iterator[tuple[int, Any]]:
    """The numbered records of a file read one at a time (a second pass); its problems go to `problems`."""
    given = False
    try:
        for item in _stream_file(path, wanted):
            if isinstance(item, Violation):
                problems.append(item)
            else:
                given = True
                yield item
    except InputError as exc:
        problems.append(Violation(exc.where, FILE_FIELD, exc.problem))
    except _Fallback:
        if given:
            problems.append(Violation(str(path), FILE_FIELD, "changed while it was read: run again"))
            return
        numbered, found = _read_numbered(path)
        problems.extend(found)
        yield from numbered


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float, Decimal)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "null" if value is None else type(value).__name__


_MESSAGE_TABLE_MODELS = (Message, MessageIdentity, SessionRollup, IngestBatch, ProcessedEvent)
_TENANT_SCOPED = (*_MESSAGE_TABLE_MODELS, Metric)


def _table_key(kind: RecordKind, model: ContractModel) -> tuple[Any, ...] | None:
    if isinstance(model, Tenant):
        return ("registry", model.tenant_id)
    if isinstance(model, _MESSAGE_TABLE_MODELS):
        return ("messages", model.tenant_id, model.pk, model.sk)
    if isinstance(model, Metric):
        return ("metrics", model.tenant_id, model.pk, model.sk)
    if kind is RecordKind.EVENT:
        return ("event", model.event_id)  # type: ignore[attr-defined]
    return None


def _references(model: ContractModel) -> list[tuple[str, DataReference]]:
    """(field path, reference) for every data reference a record holds."""
    if isinstance(model, Message):
        return [(f"metadata.dataReferences[{i}]", ref) for i, ref in enumerate(model.data_references)]
    if isinstance(model, NarrativeGeneratedEvent):
        return [(f"data.dataReferences[{i}]", ref) for i, ref in enumerate(model.data.data_references)]
    return []


_key_hash = hash
_SORT_PARTS = 4
"""The 64-bit hash of a key (a tuple of str); collisions are resolved exactly, so any hash would do."""


def _colliding(hashes: array[int], positions: array[int]) -> set[int]:
    """The positions whose hash another position shares (sorts, then one pass): the only ones compared exactly."""
    shared: set[int] = set()
    for part in range(_SORT_PARTS):  # a quarter of the hashes at a time: a quarter of the sort's memory
        ordered = sorted(h for h in hashes if h % _SORT_PARTS == part)
        shared.update(a for a, b in itertools.pairwise(ordered) if a == b)
        del ordered
    return {positions[i] for i, h in enumerate(hashes) if h in shared} if shared else set()


class _CrossState:
    """What the rules between records need, logged compactly as records go by (`cross_check`).

    Per record: the 64-bit hash of its primary key (and, for a message, of its tenant and
    `messageId`) with its position (an int that `finish` turns into a label), and for a
    tenant-scoped record the index of its tenant: about 30 bytes, not the record. Metrics
    (`MetricFacts`) and data references are kept, as the reference rule compares them.
    Exact: the records whose hashes collide are fetched again and compared by their keys.
    """

    def __init__(self) -> None:
        self.key_hashes = array("q")
        self.key_positions = array("Q")
        self.id_hashes = array("q")
        self.id_positions = array("Q")
        self.tenant_index: dict[str, int] = {}
        self.tenant_names: list[str] = []
        self.scoped_tenants = array("L")
        self.scoped_positions = array("Q")
        self.registry: list[str] = []
        self.metrics: list[tuple[int, MetricFacts]] = []
        self.references: list[tuple[int, str, DataReference]] = []

    def _logs(self) -> tuple[array[int] | list[Any], ...]:
        return (
            self.key_hashes,
            self.key_positions,
            self.id_hashes,
            self.id_positions,
            self.scoped_tenants,
            self.scoped_positions,
            self.registry,
            self.metrics,
            self.references,
        )

    def mark(self) -> tuple[int, ...]:
        """A point to `rollback` to (the lengths of the logs)."""
        return tuple(len(log) for log in self._logs())

    def rollback(self, mark: tuple[int, ...]) -> None:
        """Forget the records added since `mark` (a file the whole-file reader reads again)."""
        for log, length in zip(self._logs(), mark, strict=True):
            del log[length:]

    def add_message(self, pos: int, tenant_id: str, message_id: str, pk: str, sk: str) -> None:
        """`add` of a valid message without metadata, from its keys alone (what `fast_message` gives)."""
        self.key_hashes.append(_key_hash(("messages", tenant_id, pk, sk)))
        self.key_positions.append(pos)
        self.id_hashes.append(_key_hash((tenant_id, message_id)))
        self.id_positions.append(pos)
        index = self.tenant_index.get(tenant_id)
        if index is None:
            index = self.tenant_index[tenant_id] = len(self.tenant_names)
            self.tenant_names.append(tenant_id)
        self.scoped_tenants.append(index)
        self.scoped_positions.append(pos)

    def add(self, pos: int, kind: RecordKind, model: ContractModel) -> None:
        """Log a valid record at position `pos` (positions must grow in record order)."""
        key = _table_key(kind, model)
        if key is not None:
            self.key_hashes.append(_key_hash(key))
            self.key_positions.append(pos)
        if isinstance(model, Message):
            self.id_hashes.append(_key_hash((model.tenant_id, model.message_id)))
            self.id_positions.append(pos)
            if model.metadata and "dataReferences" in model.metadata:
                self.references.extend((pos, prefix, ref) for prefix, ref in _references(model))
        elif isinstance(model, Metric):
            self.metrics.append((pos, MetricFacts.of(model)))
        elif isinstance(model, Tenant):
            self.registry.append(model.tenant_id)
        elif isinstance(model, NarrativeGeneratedEvent):
            self.references.extend((pos, prefix, ref) for prefix, ref in _references(model))
        if isinstance(model, _TENANT_SCOPED):
            index = self.tenant_index.get(model.tenant_id)
            if index is None:
                index = self.tenant_index[model.tenant_id] = len(self.tenant_names)
                self.tenant_names.append(model.tenant_id)
            self.scoped_tenants.append(index)
            self.scoped_positions.append(pos)

    def finish(
        self,
        label: Callable[[int], str],
        models_at: Callable[[set[int]], Mapping[int, tuple[RecordKind, ContractModel]]],
    ) -> list[Violation]:
        """The violations of the rules between the logged records, in record order rule by rule.

        `label` names the record at a position; `models_at` gives the kinds and models of the
        records at some positions (those whose key hashes collide), to compare their keys.
        """
        violations: list[Violation] = []
        wanted = _colliding(self.key_hashes, self.key_positions) | _colliding(self.id_hashes, self.id_positions)
        if wanted:
            models = models_at(wanted)
            first_at: dict[tuple[Any, ...], str] = {}
            first_message: dict[tuple[str, str], str] = {}
            for pos in sorted(wanted):
                if pos not in models:
                    continue
                kind, model = models[pos]
                where = label(pos)
                key = _table_key(kind, model)
                if key is None:
                    continue
                if key in first_at:
                    field_name = {"registry": "tenantId", "event": "eventId"}.get(key[0], "pk")
                    violations.append(
                        Violation(
                            where,
                            field_name,
                            f"has the same key as {first_at[key]}: writing both would overwrite one with the other",
                        )
                    )
                    continue
                first_at[key] = where
                if isinstance(model, Message):
                    # The same id at another time has another primary key, so the rule above misses it.
                    identity = (model.tenant_id, model.message_id)
                    if identity in first_message:
                        violations.append(
                            Violation(
                                where,
                                "messageId",
                                (
                                    f"{model.message_id} is already the id of the message at "
                                    f"{first_message[identity]}: a message's id is its identity, whatever its time, "
                                    "so only one of them can be stored"
                                ),
                            )
                        )
                    else:
                        first_message[identity] = where

        tenants = set(self.registry)
        unknown = {i for i, name in enumerate(self.tenant_names) if name not in tenants} if tenants else set()
        if unknown:
            for index, pos in zip(self.scoped_tenants, self.scoped_positions, strict=True):
                if index in unknown:
                    violations.append(
                        Violation(
                            label(pos),
                            "tenantId",
                            f"{self.tenant_names[index]!r} has no tenant registry record among the validated records",
                        )
                    )

        if self.references:
            metrics = {(m.tenant_id, m.pk, m.sk): (pos, m) for pos, m in self.metrics}  # the last one wins
            metric_tenants = {t for t, _, _ in metrics}
            for pos, prefix, ref in self.references:
                if ref.tenant_id not in metric_tenants:
                    continue  # the cited metrics are not among these records; nothing to compare with
                stored = metrics.get((ref.tenant_id, ref.source.pk, ref.source.sk))
                if stored is None:
                    violations.append(
                        Violation(
                            label(pos),
                            f"{prefix}.source",
                            (
                                f"cites {ref.source.pk} {ref.source.sk}, but no such metric of tenant "
                                f"{ref.tenant_id!r} is among the validated records"
                            ),
                        )
                    )
                    continue
                stored_pos, facts = stored
                violations.extend(
                    Violation(label(pos), f"{prefix}.{m.field}", f"{m.rule} (metric at {label(stored_pos)})")
                    for m in ref.check_against(facts)
                )
        return violations


def cross_check(records: Sequence[ValidRecord]) -> list[Violation]:
    """Rules between records: unique keys, tenants in the registry, references match their metrics."""
    state = _CrossState()
    for pos, r in enumerate(records):
        state.add(pos, r.kind, r.model)
    return state.finish(
        lambda pos: records[pos].where, lambda wanted: {p: (records[p].kind, records[p].model) for p in wanted}
    )
