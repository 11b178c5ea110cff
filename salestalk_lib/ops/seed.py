"""Load the seed tenants: validate everything first, then write each item once.

`load_seed(st)`:

1. validates every file under the seed directory against the contract, plus the
   cross-record rules (every message and metric belongs to a tenant in the
   seed; one message per messageId; a rollup or message identity item given in
   a file must equal the one its messages imply: both are derived, so files
   normally leave them out). Any violation, or any file that cannot be read as
   records, raises `ValidationFailed` listing all of them, and nothing is written
   (a seed directory that is missing or not a directory raises `InputError`);
2. provisions what is missing (registry and each tenant's two tables);
3. writes the tenants' registry items with `create_once`, then the metrics and
   messages through the ingestion path (`ingest.Ingestor`): conditional creates,
   each message in one transaction with its identity item and its session
   rollup, so rollups and identities are kept by the same code as live
   ingestion. An identical existing item is `unchanged`, a different one is a
   reported `conflict`, never overwritten. Like every ingestion, it writes only
   for tenants whose registry item is active: a seed tenant suspended since an
   earlier load is refused (`TenantNotActive`) until it is reactivated.

A second run writes nothing and reports every item unchanged.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from salestalk_lib.contract.errors import ValidationFailed, Violation
from salestalk_lib.contract.models import Message, MessageIdentity, Metric, SessionRollup, Tenant
from salestalk_lib.contract.tables import REGISTRY
from salestalk_lib.contract.validation import RecordKind, require_directory, validate_paths
from salestalk_lib.dynamo.retry import Retrier
from salestalk_lib.dynamo.writes import Outcome, WriteResult, create_once
from salestalk_lib.ops.ingest import Ingestor
from salestalk_lib.ops.provision import TableResult

if TYPE_CHECKING:  # the connection module imports this one
    from salestalk_lib.ops.connection import SalesTalk

# The seed tenants ship with the package (package data; their one source is the repository's seed_data/).
DEFAULT_SEED_DIR = Path(str(resources.files("salestalk_lib") / "seed_data")).resolve()


@dataclass
class TableCounts:
    """Per-table outcome counts of one load."""

    created: int = 0
    unchanged: int = 0
    conflicts: int = 0


@dataclass
class SeedReport:
    """What a seed load did: per-table counts, the conflicts in full, and the provisioning."""

    tables: dict[str, TableCounts] = field(default_factory=dict)
    conflicts: list[WriteResult] = field(default_factory=list)
    provisioned: list[TableResult] = field(default_factory=list)

    def record(self, result: WriteResult) -> None:
        counts = self.tables.setdefault(result.table, TableCounts())
        if result.outcome is Outcome.CREATED:
            counts.created += 1
        elif result.outcome is Outcome.ALREADY_EXISTS:
            counts.unchanged += 1
        else:
            counts.conflicts += 1
            self.conflicts.append(result)

    @property
    def created(self) -> int:
        return sum(c.created for c in self.tables.values())

    def rows(self) -> list[dict[str, Any]]:
        """One row per table: created / unchanged / conflicts (for a DataFrame or the CLI)."""
        return [
            {"table": t, "created": c.created, "unchanged": c.unchanged, "conflicts": c.conflicts}
            for t, c in self.tables.items()
        ]

    def conflict_lines(self) -> list[str]:
        """One line per conflict: table, key and the fields that differ."""
        return [
            f"{c.table} {c.key}: stored item differs in {', '.join(c.differing_fields())} (kept, not overwritten)"
            for c in self.conflicts
        ]


def plan_seed(seed_dir: Path) -> tuple[list[Tenant], list[Metric], list[Message], list[SessionRollup]]:
    """Validate a seed directory and return its records; raise ValidationFailed listing every violation."""
    require_directory(seed_dir, "the seed directory")
    report = validate_paths([seed_dir])
    tenants = [m for m in report.models(RecordKind.TENANT) if isinstance(m, Tenant)]
    metrics = [m for m in report.models(RecordKind.METRIC) if isinstance(m, Metric)]
    messages = [m for m in report.models(RecordKind.MESSAGE) if isinstance(m, Message)]
    given_rollups = [
        (r.where, r.model)
        for r in report.records
        if r.kind is RecordKind.SESSION and isinstance(r.model, SessionRollup)
    ]
    given_identities = [
        (r.where, r.model)
        for r in report.records
        if r.kind is RecordKind.MESSAGE_IDENTITY and isinstance(r.model, MessageIdentity)
    ]
    violations = list(report.violations)

    known = {t.tenant_id for t in tenants}
    for rec in report.records:
        tenant_id = getattr(rec.model, "tenant_id", None)
        if (
            rec.kind in (RecordKind.MESSAGE, RecordKind.METRIC, RecordKind.SESSION, RecordKind.MESSAGE_IDENTITY)
            and tenant_id not in known
        ):
            violations.append(
                Violation(
                    rec.where,
                    "tenantId",
                    f"tenant {tenant_id!r} is not among the seed tenants ({', '.join(sorted(known))})",
                )
            )

    rollups = rollups_of(messages)
    implied = {(r.tenant_id, r.session_id): r for r in rollups}
    for where, given in given_rollups:
        if implied.get((given.tenant_id, given.session_id)) != given:
            violations.append(
                Violation(
                    where,
                    "messageCount",
                    "session rollup must equal the one its messages imply "
                    "(leave rollups out: the loader computes them)",
                )
            )
    identities = {(m.tenant_id, m.message_id): MessageIdentity.of(m) for m in messages}
    for where, given_identity in given_identities:
        if identities.get((given_identity.tenant_id, given_identity.message_id)) != given_identity:
            violations.append(
                Violation(
                    where,
                    "messageSk",
                    "message identity must equal the one its message implies "
                    "(leave identity items out: ingestion writes them)",
                )
            )
    if violations:
        raise ValidationFailed(violations)
    return tenants, metrics, messages, rollups


def rollups_of(messages: Iterable[Message]) -> list[SessionRollup]:
    """One rollup per (tenant, session), computed from its messages."""
    by_session: dict[tuple[str, str], list[Message]] = defaultdict(list)
    for m in messages:
        by_session[(m.tenant_id, m.session_id)].append(m)
    return [SessionRollup.of_messages(ms) for _, ms in sorted(by_session.items())]


def load_seed(
    st: SalesTalk,
    seed_dir: Path | str | None = None,
    *,
    retrier: Retrier | None = None,
    progress: bool | None = None,
    workers: int = 4,
) -> SeedReport:
    """Validate, provision what is missing, then create each seed item once (see the module doc)."""
    seed_dir = Path(seed_dir) if seed_dir is not None else DEFAULT_SEED_DIR
    tenants, metrics, messages, _ = plan_seed(seed_dir)
    retrier = retrier or Retrier()
    report = SeedReport()
    report.provisioned = st.provision([t.tenant_id for t in tenants])

    registry = st.settings.table_name(REGISTRY)
    for t in tenants:
        report.record(create_once(st.storage, registry, t.to_item(), REGISTRY_KEY, retrier))

    records: list[Metric | Message] = [*metrics, *messages]
    show = sys.stderr.isatty() if progress is None else progress
    with tqdm(total=len(records), desc="seeding", unit="item", disable=not show) as bar:
        # The seed restores a fixture state, not an upload: no batch record (seeding again must
        # re-create anything deleted since, which a replayed batch would not).
        ingested = Ingestor(st.storage, st.settings, retrier=retrier).ingest(
            records, workers=workers, progress=bar.update, record_batch=False
        )
    for model, result in zip(records, ingested.results, strict=True):
        scope = st.tenant(model.tenant_id)
        table = scope.metrics_table if isinstance(model, Metric) else scope.messages_table
        settled = (Outcome.CREATED, Outcome.ALREADY_EXISTS) if result.conflict is None else (Outcome.CONFLICT,)
        if result.outcome not in settled:
            result.raise_for_conflict()  # a failure after the retry budget: raise its error
            raise RuntimeError(f"unexpected ingest outcome {result.outcome} for {result.key}")
        report.record(result.write_result(table, _key_of(model)))
    return report


def _key_of(model: Metric | Message) -> dict[str, Any]:
    return {"pk": model.pk, "sk": model.sk}


REGISTRY_KEY = tuple(a.name for a in REGISTRY.key_attributes)
