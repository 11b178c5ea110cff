"""Fleet onboarding: many tenants from one file, validated first, tables created concurrently.

`read_fleet(path)` reads a JSON array (or one object) or JSON lines of tenant records,
`{"tenantId", "name", "ownerEmail", "plan"?, "metadata"?}`, and validates every one with
the `Tenant` contract model (as `salestalk tenant add` does). `Fleet.plan(records)` then
reads the registry (BatchGetItem, 100 ids a request) and the account's table list, and
collects every problem before anything is created: broken rules (record, field, rule),
an id repeated in the file, an id already registered with other details or retired by an
offboarding, and a fleet that would cross the table quota (`QuotaExceeded`). Any problem:
`ValidationFailed` listing them all, nothing created.

`Fleet.run(plan)` onboards the tenants that are not registered yet, `workers` at a time.
For each tenant its two tables are created (or confirmed) first and its registry item is
written last, with `attribute_not_exists`: the commit point, exactly as `Tenants.onboard`.
Table operations are bounded: at most `max_in_flight` (≤ 500, DynamoDB's limit of
concurrent table operations per account and region) are in progress at once, a CreateTable
counting until its table is ACTIVE; a `LimitExceededException` is backed off (exponential,
full jitter, each sleep ≤ 5 s) and retried. A tenant whose registry item exists already
and whose two tables are listed is "already present": no request is sent for it.

So a run is idempotent: a re-run after a crash, a kill or a stop (`stop` event, Ctrl-C)
finishes the rest (a tenant whose tables were created but whose item was not is completed)
and changes nothing already done; a re-run of a finished import sends no write at all.
"""

from __future__ import annotations

import functools
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic.alias_generators import to_camel

from salestalk_lib.contract.errors import (
    ContractError,
    IngestConflict,
    Interrupted,
    ProvisioningError,
    RequestRejected,
    SalesTalkError,
    StorageError,
    TableNotFound,
    ValidationFailed,
    Violation,
)
from salestalk_lib.contract.keys import validate_tenant_id
from salestalk_lib.contract.models import Tenant, error_path, error_rule
from salestalk_lib.contract.quotas import (
    DEFAULT_TABLE_LIMIT,
    MAX_CONCURRENT_TABLE_OPERATIONS,
    SHARED_TABLES,
    check_tables_fit,
)
from salestalk_lib.contract.settings import Settings
from salestalk_lib.contract.tables import REGISTRY, TENANT_TABLE_SPECS, tags_for
from salestalk_lib.contract.validation import RECORD_FIELD, duplicate_keys, read_records
from salestalk_lib.contract.vocab import TenantStatus
from salestalk_lib.dynamo.retry import MAX_SLEEP_SECONDS, Retrier
from salestalk_lib.dynamo.storage import Storage
from salestalk_lib.dynamo.writes import Outcome, create_once
from salestalk_lib.ops.events import EventSink, MemorySink
from salestalk_lib.ops.provision import TableResult, provision_table
from salestalk_lib.ops.tenants import DEFAULT_PLAN, Clock, Tenants, system_clock

IMPORT_FIELDS = ("tenantId", "name", "ownerEmail", "plan", "metadata")
"""The fields of a tenant import record (plan defaults to free, metadata to none)."""
REQUIRED_FIELDS = ("tenantId", "name", "ownerEmail")
DEFAULT_WORKERS = 16
LIMIT_EXCEEDED = "LimitExceededException"
DEFAULT_LIMIT_RETRIES = 12
_IDENTITY_FIELDS = ("tenantId", "name", "ownerEmail", "plan", "metadata")
_BATCH_GET = 100


@dataclass(frozen=True)
class FleetRecord:
    """One valid record of an import file: where it is (`file:N`) and the tenant it describes."""

    where: str
    tenant: Tenant


@dataclass(frozen=True)
class FleetPlan:
    """What an import will do: tenants to onboard, tenants already present, and the table count."""

    to_onboard: tuple[FleetRecord, ...]
    present: tuple[FleetRecord, ...]
    repair: frozenset[str]  # registered tenants with a table missing: their tables are provisioned again
    tables_used: int
    new_tables: int
    registry_exists: bool


@dataclass
class FleetResult:
    """What a run did, per tenant id: created, already present, failed (with why), not started."""

    created: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    not_started: list[str] = field(default_factory=list)
    tables_created: int = 0
    limit_retries: int = 0
    peak_in_flight: int = 0
    interrupted: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.not_started and not self.interrupted

    def summary(self) -> str:
        """One line: the counts of each outcome."""
        parts = [
            f"{len(self.created):,} created",
            f"{len(self.present):,} already present",
            f"{len(self.failed):,} failed",
        ]
        if self.not_started:
            parts.append(f"{len(self.not_started):,} not started")
        return ", ".join(parts) + f" ({self.tables_created:,} table(s) created in {self.seconds:.1f} s)"


def read_fleet(path: str | Path, *, created_at: int) -> list[FleetRecord]:
    """The valid records of an import file; ValidationFailed listing every problem in it (nothing else read)."""
    labelled, problems = read_records(path)
    records, violations = validate_fleet(labelled, created_at=created_at)
    if problems or violations:
        raise ValidationFailed(problems + violations)
    return records


def validate_fleet(
    labelled: Sequence[tuple[str, Any]], *, created_at: int
) -> tuple[list[FleetRecord], list[Violation]]:
    """Validate labelled records with the Tenant model; duplicate ids within them are violations too."""
    records: list[FleetRecord] = []
    violations: list[Violation] = []
    first_at: dict[str, str] = {}
    for where, record in labelled:
        tenant, problems = validate_import_record(record, where, created_at=created_at)
        violations.extend(problems)
        if tenant is None:
            continue
        if tenant.tenant_id in first_at:
            violations.append(
                Violation(where, "tenantId", f"{tenant.tenant_id!r} is already the id of {first_at[tenant.tenant_id]}")
            )
            continue
        first_at[tenant.tenant_id] = where
        records.append(FleetRecord(where, tenant))
    return records, violations


def validate_import_record(record: Any, where: str, *, created_at: int) -> tuple[Tenant | None, list[Violation]]:
    """One import record as a new active Tenant (None if invalid), and every violation in it."""
    if not isinstance(record, dict):
        kind = "an array" if isinstance(record, list) else type(record).__name__
        return None, [Violation(where, RECORD_FIELD, f"must be a JSON object (a tenant record), got {kind}")]
    violations = [Violation(where, f, r) for f, r in duplicate_keys(record)]
    allowed = ", ".join(IMPORT_FIELDS)
    violations += [
        Violation(where, str(k), f"is not a field of a tenant import record (fields: {allowed})")
        for k in record
        if k not in IMPORT_FIELDS
    ]
    violations += [Violation(where, f, "is required") for f in REQUIRED_FIELDS if f not in record]
    tenant_id = record.get("tenantId")
    if "tenantId" in record:
        try:
            tenant_id = validate_tenant_id(tenant_id)
        except ContractError as exc:
            violations.append(Violation(where, "tenantId", str(exc)))
            tenant_id = None
    given = {
        "name": record.get("name"),
        "owner_email": record.get("ownerEmail"),
        "plan": record.get("plan", DEFAULT_PLAN),
        "metadata": record.get("metadata"),
    }
    try:
        # The model validates each value (any JSON type may come in) and names what is wrong.
        tenant = Tenant.create(tenant_id=tenant_id or "placeholder", created_at=created_at, **given)
    except ValidationError as exc:
        for e in exc.errors():
            loc = tuple(e["loc"])
            name = to_camel(loc[0]) if loc and isinstance(loc[0], str) else ""
            if name in REQUIRED_FIELDS and name not in record:
                continue  # already reported as required
            violations.append(Violation(where, error_path((name, *loc[1:])), error_rule(e)))
        return None, violations
    return (tenant if not violations and tenant_id else None), violations


def identity(tenant: Tenant) -> dict[str, Any]:
    """The registration fields of a tenant (not its timestamps or status): what a re-import must match."""
    item = tenant.to_item()
    return {k: item[k] for k in _IDENTITY_FIELDS if k in item}


class _Slots:
    """At most `limit` table operations in flight; records the peak (for the result and the tests)."""

    def __init__(self, limit: int):
        self._sem = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0

    def __enter__(self) -> _Slots:
        self._sem.acquire()
        with self._lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.in_flight -= 1
        self._sem.release()


class Fleet:
    """Onboard many tenants over the (unscoped, administrative) storage seam."""

    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        *,
        clock: Clock = system_clock,
        sink: EventSink | None = None,
        retrier: Retrier | None = None,
        workers: int = DEFAULT_WORKERS,
        max_in_flight: int = MAX_CONCURRENT_TABLE_OPERATIONS,
        table_limit: int = DEFAULT_TABLE_LIMIT,
        limit_retries: int = DEFAULT_LIMIT_RETRIES,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ):
        if not 1 <= max_in_flight <= MAX_CONCURRENT_TABLE_OPERATIONS:
            raise ValueError(f"max_in_flight must be 1-{MAX_CONCURRENT_TABLE_OPERATIONS}, got {max_in_flight}")
        if workers < 1:
            raise ValueError(f"workers must be ≥ 1, got {workers}")
        self.storage = storage
        self.settings = settings
        self.clock = clock
        self.sink: EventSink = MemorySink() if sink is None else sink
        self.retrier = retrier or Retrier()
        self.workers = workers
        self.max_in_flight = max_in_flight
        self.table_limit = table_limit
        self.limit_retries = limit_retries
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.tenants = Tenants(storage, settings, clock=clock, sink=self.sink, retrier=self.retrier)

    @property
    def registry_table(self) -> str:
        return self.settings.registry_table

    @classmethod
    def of(cls, st: Any, **kw: Any) -> Fleet:
        """The fleet onboarding of a `SalesTalk` connection (its storage and settings)."""
        return cls(st.storage, st.settings, **kw)

    def read(self, path: str | Path) -> list[FleetRecord]:
        """`read_fleet(path)` with this fleet's clock as every new tenant's createdAt."""
        return read_fleet(path, created_at=self.clock())

    # --- planning: everything checked before anything is created ------------------------

    def plan(self, records: Sequence[FleetRecord]) -> FleetPlan:
        """Check the records against the registry and the table quota; ValidationFailed / QuotaExceeded if any."""
        registered = self._registered([r.tenant.tenant_id for r in records])
        tables = set(self.retrier.call("ListTables", self.storage.list_tables))  # per account and region: all count
        registry_exists = self.settings.registry_table in tables
        violations: list[Violation] = []
        to_onboard: list[FleetRecord] = []
        present: list[FleetRecord] = []
        repair: set[str] = set()
        new_tables = 0 if registry_exists else SHARED_TABLES
        for record in records:
            stored = registered.get(record.tenant.tenant_id)
            names = self.tenants.table_names(record.tenant.tenant_id)
            missing = sum(name not in tables for name in names)
            new_tables += missing
            if stored is None:
                to_onboard.append(record)
                continue
            if stored.status is TenantStatus.DELETED:
                violations.append(
                    Violation(
                        record.where,
                        "tenantId",
                        f"{stored.tenant_id!r} was offboarded (status deleted); its id is retired and cannot be "
                        "onboarded again",
                    )
                )
                continue
            have, want = identity(stored), identity(record.tenant)
            differing = sorted(k for k in set(have) | set(want) if have.get(k) != want.get(k))
            if differing:
                violations.append(
                    Violation(
                        record.where,
                        ", ".join(differing),
                        f"conflicts with the registered tenant {stored.tenant_id!r}: "
                        + "; ".join(f"{k} is {have.get(k)!r}, the file says {want.get(k)!r}" for k in differing),
                    )
                )
                continue
            present.append(record)
            if missing:
                repair.add(record.tenant.tenant_id)
        if violations:
            raise ValidationFailed(violations)
        check_tables_fit(len(tables), new_tables, self.table_limit, what=f"importing {len(records):,} tenant(s)")
        return FleetPlan(tuple(to_onboard), tuple(present), frozenset(repair), len(tables), new_tables, registry_exists)

    def _registered(self, tenant_ids: Sequence[str]) -> dict[str, Tenant]:
        """The registry items of these ids that exist (strongly consistent BatchGetItem); none if no registry."""
        found: dict[str, Tenant] = {}
        table = self.settings.registry_table
        for start in range(0, len(tenant_ids), _BATCH_GET):
            pending = [{"tenantId": t} for t in tenant_ids[start : start + _BATCH_GET]]
            while pending:
                try:
                    items, pending = self.retrier.call(
                        "BatchGetItem", functools.partial(self.storage.batch_get, table, pending, consistent=True)
                    )
                except TableNotFound:
                    return {}
                for item in items:
                    tenant = self.tenants._from_item(item)
                    found[tenant.tenant_id] = tenant
                if pending:
                    self.sleep(0.05)  # unprocessed keys: ask again for those, after a pause
        return found

    # --- running ---------------------------------------------------------------------------

    def run(
        self,
        plan: FleetPlan,
        *,
        progress: Callable[[int], object] | None = None,
        stop: threading.Event | None = None,
    ) -> FleetResult:
        """Onboard the plan's tenants concurrently; a set `stop` (or Ctrl-C) lets in-flight tenants finish only."""
        started = time.monotonic()
        stop = stop or threading.Event()
        retrier = self.retrier.stopping(stop)
        result = FleetResult()
        slots = _Slots(self.max_in_flight)
        lock = threading.Lock()
        if not plan.registry_exists or plan.to_onboard or plan.repair:  # the registry first, as onboarding does
            tags = tags_for(REGISTRY, environment=self.settings.environment)
            self._provision_with_backoff(REGISTRY, self.registry_table, tags, slots, retrier, stop, result, lock)
        for record in plan.present:
            if record.tenant.tenant_id not in plan.repair:
                result.present.append(record.tenant.tenant_id)
                if progress:
                    progress(1)
        work = [r for r in plan.present if r.tenant.tenant_id in plan.repair] + list(plan.to_onboard)

        def one(record: FleetRecord) -> None:
            tenant_id = record.tenant.tenant_id
            if stop.is_set():
                with lock:
                    result.not_started.append(tenant_id)
                return
            try:
                outcome, created = self._onboard_one(record, slots, retrier, stop, result, lock)
            except BaseException as exc:
                if not isinstance(exc, (SalesTalkError, OSError)):
                    stop.set()  # a bug or a crash, not a failure of this tenant: start no other tenant
                    raise
                with lock:
                    if isinstance(exc, Interrupted):
                        result.not_started.append(tenant_id)
                    else:
                        result.failed[tenant_id] = f"{type(exc).__name__}: {exc}"
            else:
                with lock:
                    result.tables_created += created
                    (result.created if outcome == "created" else result.present).append(tenant_id)
            if progress:
                progress(1)

        pool = ThreadPoolExecutor(max_workers=min(self.workers, self.max_in_flight), thread_name_prefix="fleet")
        try:
            futures = [pool.submit(one, r) for r in work]
            try:
                _wait_all(futures)
            except KeyboardInterrupt:
                stop.set()  # no tenant starts any more; those under way finish their current step
                result.interrupted = True
                _wait_all(futures)
        finally:
            pool.shutdown(wait=True)
        result.interrupted = result.interrupted or bool(result.not_started)
        result.peak_in_flight = slots.peak
        result.seconds = time.monotonic() - started
        for bucket in (result.created, result.present, result.not_started):
            bucket.sort()
        return result

    def _onboard_one(
        self,
        record: FleetRecord,
        slots: _Slots,
        retrier: Retrier,
        stop: threading.Event,
        result: FleetResult,
        lock: threading.Lock,
    ) -> tuple[str, int]:
        """One tenant: its tables (each under a slot), then its registry item; (outcome, tables created)."""
        tenant = record.tenant
        created = 0
        for spec in TENANT_TABLE_SPECS:
            if stop.is_set():
                raise Interrupted(f"tenant {tenant.tenant_id}: stopped before its {spec.kind} table")
            name = self.settings.table_name(spec, tenant.tenant_id)
            tags = tags_for(spec, environment=self.settings.environment, tenant_id=tenant.tenant_id)
            table = self._provision_with_backoff(spec, name, tags, slots, retrier, stop, result, lock)
            created += table.action == "created"
        if stop.is_set():
            raise Interrupted(f"tenant {tenant.tenant_id}: stopped before its registry item")
        write = create_once(
            self.storage,
            self.settings.registry_table,
            tenant.to_item(),
            tuple(a.name for a in REGISTRY.key_attributes),
            retrier,
        )
        if write.outcome is Outcome.CONFLICT:
            # registered meanwhile (by another run): the same registration is already present, another a conflict
            stored = self.tenants._from_item(write.stored) if write.stored is not None else None
            if stored is None or identity(stored) != identity(tenant) or stored.status is TenantStatus.DELETED:
                raise IngestConflict(
                    f"tenantId={tenant.tenant_id}", identity(stored) if stored else {}, identity(tenant)
                )
            return "already_present", created
        if write.outcome is Outcome.ALREADY_EXISTS:  # our own write, whose response was lost, or a run that raced us
            return "already_present", created
        self.sink.send([self.tenants.provisioned_event(tenant)])
        return "created", created

    def _provision_with_backoff(
        self,
        spec: Any,
        name: str,
        tags: dict[str, str],
        slots: _Slots,
        retrier: Retrier,
        stop: threading.Event,
        result: FleetResult,
        lock: threading.Lock,
    ) -> TableResult:
        """provision_table under a slot; LimitExceededException backed off and retried, throttling by the retrier."""
        for attempt in range(1, self.limit_retries + 2):
            try:
                with slots:
                    return retrier.call("CreateTable", lambda: provision_table(self.storage, spec, name, tags))
            except RequestRejected as exc:
                if exc.code != LIMIT_EXCEEDED or attempt > self.limit_retries:
                    raise
                with lock:
                    result.limit_retries += 1
                delay = self.rng.uniform(0.0, min(MAX_SLEEP_SECONDS, 0.5 * 2 ** (attempt - 1)))
                if stop.wait(0) or (self.sleep is time.sleep and stop.wait(delay)):
                    raise Interrupted(f"{name}: stopped while backing off LimitExceededException") from exc
                if self.sleep is not time.sleep:
                    self.sleep(delay)
        raise ProvisioningError(f"{name}: LimitExceededException after {self.limit_retries} retries")


def _wait_all(futures: Sequence[Any]) -> None:
    """Wait for every future, in short rounds so that Ctrl-C reaches the main thread promptly."""
    pending = set(futures)
    while pending:
        _, pending = wait(pending, timeout=0.5)
    for f in futures:
        exc = f.exception()
        if exc is not None and not isinstance(exc, (SalesTalkError, StorageError)):
            raise exc


def check_fleet_fits(storage: Storage, settings: Settings, tenant_ids: Sequence[str], limit: int, *, what: str) -> None:
    """Refuse (QuotaExceeded) provisioning these tenants when their missing tables would cross `limit`.

    Counts every table on the endpoint (the quota is per account and region) and the
    tables of `tenant_ids` (and the registry) that do not exist yet; sends only ListTables.
    """
    tables = set(Retrier().call("ListTables", storage.list_tables))
    new = 0 if settings.registry_table in tables else SHARED_TABLES
    for tenant_id in dict.fromkeys(tenant_ids):
        new += sum(settings.table_name(spec, tenant_id) not in tables for spec in TENANT_TABLE_SPECS)
    check_tables_fit(len(tables), new, limit, what=what)


__all__ = [
    "DEFAULT_WORKERS",
    "IMPORT_FIELDS",
    "Fleet",
    "FleetPlan",
    "FleetRecord",
    "FleetResult",
    "check_fleet_fits",
    "identity",
    "read_fleet",
    "validate_fleet",
    "validate_import_record",
]
