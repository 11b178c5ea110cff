"""Audit a live tenant: read every item of its tables and report each one that breaks the contract.

`audit_tenant(scope)` reads the tenant's registry item (GetItem) and every item of
its messages and metrics tables, and checks:

- each item against its model (`validation.validate_record`: key grammar,
  timestamp vs sk, vocabularies, confidence in [0, 1], unknown attributes, sizes),
  with the tenant of the table as the only tenant it may name;
- that each item sits in the right table (messages and session rollups in the
  messages table, metrics in the metrics table);
- the rules between items (`validation.cross_check`: data references agree with
  the metrics they cite);
- that each session rollup is exact: its count and first/last times match the
  session's messages, and every session with messages has a rollup;
- that messages and their identity items pair up (contract §7: one message per
  `messageId`): each `MSG#` partition holds one message, each message has its
  `MSGID#` identity item, each identity item names a stored message
  (`messageSk`) and carries its `ttl`. Items whose `ttl` has passed are left out
  of the pairing: DynamoDB's TTL deletes the two at different moments.

**One set of rules, two item sources.** The rules live in `AuditChecker`, which is fed
one item at a time: `audit_tenant` feeds it from a live Scan, and
`salestalk_lib.ops.export.audit_export` from the data files of a DynamoDB S3 export
(`salestalk audit --export DIR`), so both report the same findings for the same items.

**Why this reads with Scan.** The access patterns (contract §3) are GetItem or
Query and never Scan. An audit is different: it must see every item, including
items whose keys break the grammar, and no Query can find an item without
knowing its key. So the audit, and nothing else, uses
`TenantScope.audit_storage()`: the tenant's scope, additionally allowed to Scan
the tenant's own two tables (never the registry, never another tenant's table).
It sends only reads: a hook refuses any other request before it is sent.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from salestalk_lib.contract.errors import IsolationViolation, KeyGrammarError, Violation
from salestalk_lib.contract.keys import (
    KeyKind,
    message_identity_pk,
    message_identity_sk,
    message_pk,
    parse_message_pk,
    parse_message_sk,
    pk_kind,
    unix_seconds,
)
from salestalk_lib.contract.models import MessageIdentity, SessionRollup
from salestalk_lib.contract.tables import TableKind
from salestalk_lib.contract.validation import RecordKind, ValidRecord, cross_check, detect_kind, validate_record
from salestalk_lib.dynamo.retry import Retrier
from salestalk_lib.dynamo.scope import TenantScope

READ_OPERATIONS = frozenset({"Scan", "GetItem"})
_TABLE_KINDS = {
    TableKind.MESSAGES: {KeyKind.MESSAGE, KeyKind.MESSAGE_IDENTITY, KeyKind.SESSION, KeyKind.BATCH, KeyKind.EVENT},
    TableKind.METRICS: {KeyKind.METRIC},
}
_REGISTRY = "registry"


@dataclass(frozen=True, order=True)
class Finding:
    """One broken rule on one stored item: which table and key, which field, which rule."""

    table: str
    pk: str
    sk: str
    field: str
    rule: str


@dataclass
class AuditReport:
    """What an audit read and every finding, sorted by table, key and field."""

    tenant_id: str
    items: dict[str, int] = field(default_factory=dict)
    """Items read per table."""
    findings: list[Finding] = field(default_factory=list)
    requests: int = 0

    @property
    def ok(self) -> bool:
        return not self.findings

    def rows(self) -> list[dict[str, str]]:
        """The findings as table rows (what `salestalk audit` prints)."""
        return [{"table": f.table, "pk": f.pk, "sk": f.sk, "field": f.field, "rule": f.rule} for f in self.findings]

    def summary(self) -> str:
        read = ", ".join(f"{n} in {t}" for t, n in self.items.items())
        verdict = "clean" if self.ok else f"{len(self.findings)} finding(s)"
        return f"tenant {self.tenant_id}: {verdict}; items read: {read}; {self.requests} request(s)"


def _text(value: Any) -> str:
    return "" if value is None else str(value)


class AuditChecker:
    """The audit's rules, fed one stored item at a time: the live scan and the export reader both use it.

    Feed the tenant's registry item (`registry`) and every item of its two tables
    (`table_item`), in any order, then call `finish()` for the report. Per-item rules
    are checked as items arrive; the rules between items (references, rollups,
    message identities) at `finish()`, from what the items left behind.
    """

    def __init__(self, tenant_id: str, *, now: float | None = None, report: AuditReport | None = None):
        self.tenant_id = tenant_id
        self.now = time.time() if now is None else now
        self.report = report if report is not None else AuditReport(tenant_id=tenant_id)
        self._valid: list[ValidRecord] = []
        self._keys_at: dict[str, tuple[str, str, str]] = {}
        # Per session: (where, item) of every stored message, and which sessions have a rollup item at all.
        self._messages: dict[str, list[tuple[str, Mapping[str, Any]]]] = defaultdict(list)
        self._rollup_sessions: set[str] = set()
        # Per MSG# partition: (where, item) of every message item stored in it, valid or not.
        self._partitions: dict[str, list[tuple[str, Mapping[str, Any]]]] = defaultdict(list)

    def _check(self, table: str, item: Mapping[str, Any], pk: str, sk: str, extra: list[Violation]) -> str:
        """Validate one item, record its findings; returns the label its violations carry."""
        where = f"{len(self._keys_at)}"
        self._keys_at[where] = (table, pk, sk)
        model, violations = validate_record(item, where, tenant_id=self.tenant_id)
        for v in extra + violations:
            self.report.findings.append(Finding(table, pk, sk, v.field, v.rule))
        kind = detect_kind(item)
        if model is not None and kind is not None:  # a valid model always has a kind
            self._valid.append(ValidRecord(where, kind, model))
        return where

    def registry(self, table: str, item: Mapping[str, Any] | None) -> None:
        """The tenant's registry item as stored in `table` (None: there is none)."""
        self.report.items[table] = 0 if item is None else 1
        if item is None:
            self.report.findings.append(Finding(table, self.tenant_id, "", "(item)", "the tenant has no registry item"))
            return
        wrong_kind = (
            [] if detect_kind(item) is RecordKind.TENANT else [Violation("", "(item)", "is not a tenant registry item")]
        )
        self._check(table, item, self.tenant_id, "", wrong_kind)

    def table_item(self, kind: TableKind, table: str, item: Mapping[str, Any]) -> None:
        """One item of the tenant's `kind` table (messages or metrics), named `table`."""
        self.report.items[table] = self.report.items.get(table, 0) + 1
        found = pk_kind(item.get("pk"))
        misplaced = (
            []
            if found is None or found in _TABLE_KINDS[kind]
            else [Violation("", "pk", f"a {found} item does not belong in the {kind} table")]
        )
        where = self._check(table, item, _text(item.get("pk")), _text(item.get("sk")), misplaced)
        if kind is TableKind.MESSAGES and found is KeyKind.MESSAGE:
            self._partitions[_text(item.get("pk"))].append((where, item))
        session_id = item.get("sessionId")
        if kind is TableKind.MESSAGES and isinstance(session_id, str):
            if found is KeyKind.MESSAGE:
                self._messages[session_id].append((where, item))
            elif found is KeyKind.SESSION:
                self._rollup_sessions.add(session_id)

    def finish(self) -> AuditReport:
        """Check the rules between items and return the report, its findings sorted."""
        for v in (
            cross_check(self._valid)
            + _rollup_checks(self._valid, self._messages, self._rollup_sessions)
            + _identity_checks(self._valid, self._partitions, self.now)
        ):
            table, pk, sk = self._keys_at[v.where]
            self.report.findings.append(Finding(table, pk, sk, v.field, v.rule))
        self.report.findings.sort()
        return self.report


def audit_tenant(
    scope: TenantScope, *, page_size: int | None = None, retrier: Retrier | None = None, now: float | None = None
) -> AuditReport:
    """Read the tenant's registry item and every item of its two tables; report every contract break.

    `now` (unix seconds; default the clock) decides which items' `ttl` has passed.
    """
    retrier = retrier or Retrier()
    storage = scope.audit_storage()
    checker = AuditChecker(scope.tenant_id, now=now)
    report = checker.report

    def count_and_refuse_writes(operation: str, params: Mapping[str, Any]) -> None:
        if operation not in READ_OPERATIONS:
            raise IsolationViolation(f"the audit only reads; it refused to send {operation}")
        report.requests += 1

    storage.hooks.append(count_and_refuse_writes)
    checker.registry(
        scope.registry_table,
        retrier.call("GetItem", lambda: storage.get_item(scope.registry_table, {"tenantId": scope.tenant_id})),
    )
    for kind, table in ((TableKind.MESSAGES, scope.messages_table), (TableKind.METRICS, scope.metrics_table)):
        report.items[table] = 0
        start: dict[str, Any] | None = None
        while True:
            page, start = retrier.call("Scan", lambda: storage.scan(table, limit=page_size, start_key=start))
            for item in page:
                checker.table_item(kind, table, item)
            if start is None:
                break
    return checker.finish()


def _rollup_checks(
    valid: list[ValidRecord], messages: Mapping[str, list[tuple[str, Mapping[str, Any]]]], rollup_sessions: set[str]
) -> list[Violation]:
    """Each valid rollup matches its session's stored messages; each session with messages has a rollup.

    Every stored message item counts, valid or not (a broken message is reported on its own and is
    still one of the session's messages), and its time is the instant its sk names.
    """
    out: list[Violation] = []
    for r in valid:
        if not isinstance(rollup := r.model, SessionRollup):
            continue
        stored = messages.get(rollup.session_id, [])
        times = sorted(t for _, item in stored if (t := _sk_instant(item)) is not None)
        if rollup.message_count != len(stored):
            out.append(
                Violation(
                    r.where,
                    "messageCount",
                    f"is {rollup.message_count}, but the session has {len(stored)} message(s) in the table",
                )
            )
        if times and rollup.first_message_at != times[0]:
            out.append(
                Violation(
                    r.where,
                    "firstMessageAt",
                    f"is {rollup.first_message_at}, but the session's first message is at {times[0]}",
                )
            )
        if times and rollup.last_message_at != times[-1]:
            out.append(
                Violation(
                    r.where,
                    "lastMessageAt",
                    f"is {rollup.last_message_at}, but the session's last message is at {times[-1]}",
                )
            )
    for session_id, members in sorted(messages.items()):
        if session_id not in rollup_sessions:
            where = min(members, key=lambda wm: str(wm[1].get("sk")))[0]
            out.append(
                Violation(where, "sessionId", f"session {session_id} has {len(members)} message(s) but no rollup item")
            )
    return out


def _expired(item: Mapping[str, Any], now: float) -> bool:
    ttl = item.get("ttl")
    return isinstance(ttl, Decimal) and ttl <= Decimal(str(now))


def _identity_checks(
    valid: list[ValidRecord], partitions: Mapping[str, list[tuple[str, Mapping[str, Any]]]], now: float
) -> list[Violation]:
    """One message per `MSG#` partition, each with its identity item, each identity item with its message."""
    out: list[Violation] = []
    identities = {r.model.pk: (r.where, r.model) for r in valid if isinstance(r.model, MessageIdentity)}
    for pk, members in sorted(partitions.items()):
        live = [(where, item) for where, item in members if not _expired(item, now)]
        if len(live) > 1:
            sks = ", ".join(sorted(_text(item.get("sk")) for _, item in live))
            out += [
                Violation(
                    where,
                    "pk",
                    f"{pk} holds {len(live)} message items ({sks}): a message's id is its "
                    "identity, whatever its time, so only one may be stored",
                )
                for where, _ in live
            ]
        try:
            identity_pk = message_identity_pk(parse_message_pk(pk))
        except KeyGrammarError:
            continue  # a broken pk is reported by the item's own validation
        for where, _item in live:
            if identity_pk not in identities:
                out.append(
                    Violation(
                        where,
                        "messageId",
                        f"has no identity item ({identity_pk} / "
                        f"{message_identity_sk()}): "
                        "written outside ingestion, a second message under "
                        "this id would not be seen",
                    )
                )
    for _pk, (where, identity) in sorted(identities.items()):
        if identity.ttl is not None and identity.ttl <= Decimal(str(now)):
            continue
        message = next(
            (
                item
                for _, item in partitions.get(message_pk(identity.message_id), [])
                if item.get("sk") == identity.message_sk
            ),
            None,
        )
        if message is None:
            out.append(
                Violation(
                    where,
                    "messageSk",
                    f"names {message_pk(identity.message_id)} at {identity.message_sk}, but no such message is stored",
                )
            )
        elif message.get("ttl") != identity.ttl:
            out.append(
                Violation(
                    where,
                    "ttl",
                    f"is {identity.ttl}, but its message's ttl is {message.get('ttl')}: the two must expire together",
                )
            )
    return out


def _sk_instant(item: Mapping[str, Any]) -> Decimal | None:
    try:
        return unix_seconds(parse_message_sk(item.get("sk")))
    except KeyGrammarError:
        return None


__all__ = ["AuditChecker", "AuditReport", "Finding", "audit_tenant"]
