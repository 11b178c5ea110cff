"""Tenant lifecycle: onboard, suspend, reactivate, offboard and list tenants.

    (none) --onboard--> active <--suspend / reactivate--> suspended
    active | suspended --offboard--> deleted   (terminal: the id stays retired)

**Onboarding** validates the id and the whole `Tenant` record before any request
is sent, creates (or confirms) the tenant's two tables, and writes the registry
item *last*, with `attribute_not_exists(tenantId)`. The registry item is the
commit point: a tenant exists when its item exists, so a run that failed half-way
(tables created, registry write lost) is completed by running it again, and
onboarding an existing identical tenant changes nothing. An existing tenant with
the same id but other registration fields (name, owner email, plan, metadata) is
an `IngestConflict`; a deleted (offboarded) id is never reused. A
`tenant.provisioned.v1` event goes to the pluggable sink (`events.MemorySink` by
default, or a JSON-lines or EventBridge sink) when the item is
created. Its `eventId` derives from the tenant id and `createdAt`, so publishing
it again (`provisioned_event`) is deduplicated by consumers.

**Suspend / reactivate** change `status` and `updatedAt` with a write conditional
on the status and `updatedAt` that were read (optimistic concurrency). `updatedAt`
never moves backwards, even when the clock does, so `updatedAt ≥ createdAt` holds.
Asking for the state a tenant is already in changes nothing.

**Offboarding** marks the tenant `deleted` first (from then on it is gone for
every reader of the registry), exports both tables to JSON-lines when asked, then
deletes the tables unless told to keep them. Every step converges on a re-run.

**Listing** reads `StatusIndex`, one Query per status (paginated), never a Scan.

The clock is injected (`FixedClock` in tests and notebooks), so timestamps, the
event and everything derived from them are deterministic.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic.alias_generators import to_camel

from salestalk_lib.contract.errors import (
    ConditionFailed,
    IngestConflict,
    ProvisioningError,
    TableNotFound,
    TenantNotFound,
    TenantStateError,
    ValidationFailed,
    Violation,
)
from salestalk_lib.contract.keys import from_unix_seconds, validate_tenant_id
from salestalk_lib.contract.models import Tenant, TenantProvisionedEvent, error_path, error_rule
from salestalk_lib.contract.settings import Settings
from salestalk_lib.contract.tables import MESSAGES, METRICS, REGISTRY
from salestalk_lib.contract.vocab import Plan, TenantStatus
from salestalk_lib.dynamo.retry import Retrier
from salestalk_lib.dynamo.storage import Storage, deserialize, serialize
from salestalk_lib.dynamo.writes import Outcome, create_once
from salestalk_lib.ops import events
from salestalk_lib.ops.events import EventSink, MemorySink
from salestalk_lib.ops.provision import TableResult, provision_registry, provision_tenant

EVENT_SOURCE = "salestalk.tenants"
DEFAULT_PLAN = Plan.FREE  # a default never signs anyone up for a paid plan
# Namespace of the deterministic tenant.provisioned.v1 event ids (uuid5).
_EVENT_NAMESPACE = uuid.UUID("6f0c1d52-7a55-4a8e-9d0b-2f6a3c1e8b71")
# Fields that identify a registration; timestamps and status are lifecycle, not identity.
_IDENTITY_FIELDS = ("tenantId", "name", "ownerEmail", "plan", "metadata")
_MAX_CONCURRENT_RETRIES = 3


Clock = Callable[[], int]
"""Returns the current time as whole unix seconds."""


def system_clock() -> int:
    """The wall clock, in whole unix seconds."""
    return int(time.time())


class FixedClock:
    """A clock that stands still until `advance`d: deterministic tests and notebooks."""

    def __init__(self, now: int):
        self.now = int(now)

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: int) -> int:
        """Move the clock forward (or back, to test clock skew) and return the new time."""
        self.now += int(seconds)
        return self.now


@dataclass(frozen=True)
class OnboardResult:
    """What onboarding did: `outcome` is "created" or "already_exists"."""

    tenant: Tenant
    outcome: str
    tables: tuple[TableResult, ...]
    event: TenantProvisionedEvent | None = None

    @property
    def created(self) -> bool:
        return self.outcome == "created"


@dataclass(frozen=True)
class TransitionResult:
    """A status change: the tenant after it, the status before, whether anything was written."""

    tenant: Tenant
    previous_status: TenantStatus
    changed: bool


@dataclass(frozen=True)
class ExportResult:
    """One table exported to a JSON-lines file (`items` is None when the table was already gone)."""

    table: str
    path: Path
    items: int | None


@dataclass(frozen=True)
class OffboardResult:
    """What offboarding did to the registry item, the tables and the exports."""

    tenant: Tenant
    previous_status: TenantStatus
    exports: tuple[ExportResult, ...] = ()
    tables_deleted: tuple[str, ...] = ()
    tables_kept: tuple[str, ...] = ()
    tables_missing: tuple[str, ...] = ()


def build_tenant(
    tenant_id: object,
    *,
    name: object,
    owner_email: object,
    plan: object = DEFAULT_PLAN,
    created_at: int,
    metadata: object = None,
) -> Tenant:
    """A new active `Tenant` record, validated; every broken rule is reported in one `ValidationFailed`."""
    tenant_id = validate_tenant_id(tenant_id)
    try:
        # The caller's values may be of any type: the model validates each and names what is wrong.
        given: dict[str, Any] = {"name": name, "owner_email": owner_email, "plan": plan, "metadata": metadata}
        return Tenant.create(tenant_id=tenant_id, created_at=created_at, **given)
    except ValidationError as exc:
        raise ValidationFailed(_violations(exc, f"tenant {tenant_id}")) from None


def _violations(exc: ValidationError, where: str) -> list[Violation]:
    # Tenant.create validates by Python name; report the contract's camelCase field name
    # (only the field itself: keys inside `metadata` are the caller's own and stay as given).
    def path(loc: tuple[Any, ...]) -> str:
        head = (to_camel(loc[0]),) if loc and isinstance(loc[0], str) else loc[:1]
        return error_path(head + tuple(loc[1:]))

    return [Violation(where, path(tuple(e["loc"])), error_rule(e)) for e in exc.errors()]


def iso_utc(seconds: int | Decimal) -> str:
    """Unix seconds as ISO-8601 UTC with milliseconds: `2025-11-09T10:00:00.000Z`."""
    return events.iso_utc(from_unix_seconds(seconds))


class Tenants:
    """The tenant lifecycle over the (unscoped, administrative) storage seam."""

    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        *,
        clock: Clock = system_clock,
        sink: EventSink | None = None,
        retrier: Retrier | None = None,
    ):
        self.storage = storage
        self.settings = settings
        self.clock = clock
        self.sink: EventSink = MemorySink() if sink is None else sink
        self.retrier = retrier or Retrier()

    @classmethod
    def of(cls, st: Any, **kw: Any) -> Tenants:
        """The lifecycle for a `SalesTalk` connection (its storage and settings)."""
        return cls(st.storage, st.settings, **kw)

    @property
    def registry_table(self) -> str:
        return self.settings.table_name(REGISTRY)

    def table_names(self, tenant_id: str) -> tuple[str, str]:
        """The tenant's (messages, metrics) table names under this deployment's prefix."""
        return self.settings.table_name(MESSAGES, tenant_id), self.settings.table_name(METRICS, tenant_id)

    # --- reading ----------------------------------------------------------------

    def get(self, tenant_id: str) -> Tenant | None:
        """The tenant's registry item (strongly consistent), or None."""
        tenant_id = validate_tenant_id(tenant_id)
        try:
            item = self.retrier.call(
                "GetItem", lambda: self.storage.get_item(self.registry_table, {"tenantId": tenant_id}, consistent=True)
            )
        except TableNotFound as exc:
            raise self._no_registry() from exc
        return None if item is None else self._from_item(item)

    def _no_registry(self) -> ProvisioningError:
        return ProvisioningError(
            f"the registry table {self.registry_table!r} does not exist; run "
            "`salestalk provision` or onboard a tenant first (check the table prefix)"
        )

    def require(self, tenant_id: str) -> Tenant:
        """The tenant's registry item; TenantNotFound if there is none."""
        tenant = self.get(tenant_id)
        if tenant is None:
            raise TenantNotFound(f"tenant {tenant_id!r} is not in the registry {self.registry_table!r}")
        return tenant

    def list(self, status: TenantStatus | str | None = None, *, page_size: int | None = None) -> list[Tenant]:
        """Tenants with `status` (all statuses if None), by status then id; Queries on StatusIndex only."""
        statuses = list(TenantStatus) if status is None else [_status(status)]
        out: list[Tenant] = []
        for s in statuses:
            out.extend(sorted(self._query_status(s, page_size), key=lambda t: t.tenant_id))
        return out

    def _query_status(self, status: TenantStatus, page_size: int | None) -> Iterator[Tenant]:
        start: dict[str, Any] | None = None
        while True:
            try:
                items, start = self.retrier.call(
                    "Query",
                    functools.partial(
                        self.storage.query,
                        self.registry_table,
                        index="StatusIndex",
                        key_condition="#s = :s",
                        names={"#s": "status"},
                        values={":s": status.value},
                        limit=page_size,
                        start_key=start,
                    ),
                )
            except TableNotFound as exc:
                raise self._no_registry() from exc
            yield from (self._from_item(i) for i in items)
            if start is None:
                return

    # --- onboarding -------------------------------------------------------------

    def onboard(
        self,
        tenant_id: str,
        *,
        name: str,
        owner_email: str,
        plan: Plan | str = DEFAULT_PLAN,
        metadata: Mapping[str, Any] | None = None,
        correlation_id: str | None = None,
    ) -> OnboardResult:
        """Create the tenant's tables, then its registry item (the commit point); converges on a re-run."""
        tenant = build_tenant(
            tenant_id, name=name, owner_email=owner_email, plan=plan, created_at=self.clock(), metadata=metadata
        )
        provision_registry(self.storage, self.settings)
        existing = self.get(tenant.tenant_id)
        if existing is not None:
            self._check_same_registration(existing, tenant)
        tables = tuple(provision_tenant(self.storage, self.settings, tenant.tenant_id))
        if existing is not None:
            return OnboardResult(existing, "already_exists", tables)
        outcome = self._put_registry_item(tenant)
        if outcome == "already_exists":
            return OnboardResult(self.require(tenant.tenant_id), outcome, tables)
        event = self.provisioned_event(tenant, correlation_id=correlation_id)
        self.sink.send([event])
        return OnboardResult(tenant, "created", tables, event)

    def _put_registry_item(self, tenant: Tenant) -> str:
        result = create_once(
            self.storage,
            self.registry_table,
            tenant.to_item(),
            tuple(a.name for a in REGISTRY.key_attributes),
            self.retrier,
        )
        if result.outcome is not Outcome.CONFLICT:
            return "created"  # an identical stored item is our own write whose response was lost
        # createdAt/updatedAt come from the clock, so a re-run differs there: compare identities
        if result.stored is None:  # create_once reports a conflict with the item it found
            raise RuntimeError(f"registry write for {tenant.tenant_id}: a conflict without the stored item")
        self._check_same_registration(self._from_item(result.stored), tenant)
        return "already_exists"

    def _check_same_registration(self, stored: Tenant, incoming: Tenant) -> None:
        if stored.status is TenantStatus.DELETED:
            raise TenantStateError(
                f"tenant {stored.tenant_id!r} was offboarded (status deleted); its id is retired and "
                "cannot be onboarded again"
            )
        have, want = _identity(stored), _identity(incoming)
        if have != want:
            raise IngestConflict(f"tenantId={stored.tenant_id}", have, want)

    def provisioned_event(self, tenant: Tenant, *, correlation_id: str | None = None) -> TenantProvisionedEvent:
        """The `tenant.provisioned.v1` event of a tenant (deterministic id: safe to publish again)."""
        event_id = str(uuid.uuid5(_EVENT_NAMESPACE, f"tenant.provisioned.v1:{tenant.tenant_id}:{tenant.created_at}"))
        messages, metrics = self.table_names(tenant.tenant_id)
        return TenantProvisionedEvent.model_validate(
            {
                "eventId": event_id,
                "eventType": "tenant.provisioned.v1",
                "eventVersion": "1.0",
                "source": EVENT_SOURCE,
                "timestamp": iso_utc(tenant.created_at),
                "tenantId": tenant.tenant_id,
                "metadata": {"correlationId": correlation_id or event_id},
                "data": {
                    "tenantId": tenant.tenant_id,
                    "tables": {"messages": messages, "metrics": metrics},
                    "plan": tenant.plan,
                },
            }
        )

    # --- status changes ---------------------------------------------------------

    def suspend(self, tenant_id: str) -> TransitionResult:
        """active → suspended (a suspended tenant stays as it is)."""
        return self._transition(tenant_id, TenantStatus.SUSPENDED, {TenantStatus.ACTIVE})

    def reactivate(self, tenant_id: str) -> TransitionResult:
        """suspended → active (an active tenant stays as it is)."""
        return self._transition(tenant_id, TenantStatus.ACTIVE, {TenantStatus.SUSPENDED})

    def _transition(self, tenant_id: str, to: TenantStatus, allowed_from: set[TenantStatus]) -> TransitionResult:
        tenant_id = validate_tenant_id(tenant_id)
        for _ in range(_MAX_CONCURRENT_RETRIES):
            stored = self.require(tenant_id)
            if stored.status is to:
                return TransitionResult(stored, stored.status, changed=False)
            if stored.status not in allowed_from:
                raise TenantStateError(
                    f"tenant {tenant_id!r} is {stored.status.value}; only a tenant that is "
                    f"{' or '.join(sorted(s.value for s in allowed_from))} can become {to.value}"
                )
            # max(): a clock that runs behind the stored updatedAt must not move it backwards.
            now = max(Decimal(self.clock()), stored.updated_at)
            try:
                new = self.retrier.call(
                    "UpdateItem",
                    lambda: self.storage.update_item(
                        self.registry_table,
                        {"tenantId": tenant_id},
                        update="SET #s = :to, updatedAt = :now",
                        condition="#s = :from AND updatedAt = :read",
                        names={"#s": "status"},
                        values={":to": to.value, ":now": now, ":from": stored.status.value, ":read": stored.updated_at},
                    ),
                )
            except ConditionFailed:
                continue  # changed by someone else since we read it: read again and decide again
            return TransitionResult(self._from_item(new), stored.status, changed=True)
        raise TenantStateError(f"tenant {tenant_id!r} kept changing concurrently; try again")

    # --- offboarding ------------------------------------------------------------

    def offboard(
        self, tenant_id: str, *, keep_tables: bool = False, export_dir: str | os.PathLike[str] | None = None
    ) -> OffboardResult:
        """Mark the tenant deleted, export its tables if asked, then delete them unless `keep_tables`."""
        tenant_id = validate_tenant_id(tenant_id)
        export_path = Path(export_dir) if export_dir is not None else None
        if export_path is not None and export_path.exists() and not export_path.is_dir():
            raise ValidationFailed([Violation("offboard", "export_dir", f"{export_path} is not a directory")])
        marked = self._transition(tenant_id, TenantStatus.DELETED, {TenantStatus.ACTIVE, TenantStatus.SUSPENDED})
        names = self.table_names(tenant_id)
        exports = tuple(self.export_table(n, export_path) for n in names) if export_path is not None else ()
        deleted: list[str] = []
        missing: list[str] = [e.table for e in exports if e.items is None]
        if not keep_tables:
            for name in names:
                try:
                    self.retrier.call("DeleteTable", functools.partial(self.storage.delete_table, name))
                    deleted.append(name)
                except TableNotFound:  # a previous run deleted it already
                    if name not in missing:
                        missing.append(name)
        kept = tuple(n for n in names if keep_tables and n not in missing)
        return OffboardResult(marked.tenant, marked.previous_status, exports, tuple(deleted), kept, tuple(missing))

    def export_table(self, table: str, directory: Path) -> ExportResult:
        """Write every item of `table` to `{directory}/{table}.jsonl` in DynamoDB JSON (`{"Item": {...}}`).

        The format is the one DynamoDB's own export to S3 writes, so types survive
        exactly (numbers as decimal strings, binaries base64, sets as sets). The
        file appears only when complete. A table that no longer exists is not
        exported (`items` None) and an earlier export of it is left untouched.
        """
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{table}.jsonl"
        tmp = path.with_suffix(".jsonl.partial")
        count = 0
        try:
            with tmp.open("w", encoding="utf-8") as out:
                for item in self._scan(table):
                    out.write(
                        json.dumps({"Item": serialize(item)}, default=_json_bytes, sort_keys=True, ensure_ascii=False)
                        + "\n"
                    )
                    count += 1
        except TableNotFound:
            tmp.unlink(missing_ok=True)
            return ExportResult(table, path, None)
        tmp.replace(path)
        return ExportResult(table, path, count)

    def _scan(self, table: str) -> Iterator[dict[str, Any]]:
        # An export must read every item, and no key pattern enumerates a whole table:
        # this is the one place outside the audit that Scans, and only the tenant's own tables.
        start: dict[str, Any] | None = None
        while True:
            items, start = self.retrier.call(
                "Scan", functools.partial(self.storage.scan, table, start_key=start, consistent=True)
            )
            yield from items
            if start is None:
                return

    # --- helpers ----------------------------------------------------------------

    def _from_item(self, item: Mapping[str, Any]) -> Tenant:
        try:
            return Tenant.from_item(item)
        except ValidationError as exc:
            raise ValidationFailed(_violations(exc, f"{self.registry_table} item")) from None


def read_export(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The items of a JSON-lines export written by `Tenants.export_table`, as Python values."""
    items = []
    with Path(path).open(encoding="utf-8") as f:
        for line in f:
            typed = json.loads(line)["Item"]
            items.append(deserialize({k: _bytes_back(v) for k, v in typed.items()}))
    return items


def _identity(tenant: Tenant) -> dict[str, Any]:
    item = tenant.to_item()
    return {k: item[k] for k in _IDENTITY_FIELDS if k in item}


def _status(value: TenantStatus | str) -> TenantStatus:
    try:
        return TenantStatus(value)
    except ValueError:
        raise ValidationFailed(
            [Violation("list", "status", f"must be one of {', '.join(s.value for s in TenantStatus)}, got {value!r}")]
        ) from None


def _json_bytes(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    raise TypeError(f"cannot write a {type(value).__name__} to JSON")


def _bytes_back(value: Any) -> Any:
    """Undo `_json_bytes` in one DynamoDB-JSON attribute value: B and BS hold base64 text."""
    ((tag, inner),) = value.items()
    if tag == "B":
        return {tag: base64.b64decode(inner)}
    if tag == "BS":
        return {tag: [base64.b64decode(b) for b in inner]}
    if tag == "M":
        return {tag: {k: _bytes_back(v) for k, v in inner.items()}}
    if tag == "L":
        return {tag: [_bytes_back(v) for v in inner]}
    return value


__all__ = [
    "Clock",
    "ExportResult",
    "FixedClock",
    "OffboardResult",
    "OnboardResult",
    "TenantNotFound",
    "TenantStateError",
    "Tenants",
    "TransitionResult",
    "build_tenant",
    "read_export",
    "system_clock",
]
