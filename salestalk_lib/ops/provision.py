"""Create tables from their specs, idempotently, and detect drift.

Provisioning a table that exists and matches its spec changes nothing; one that
differs in keys, attribute types or GSIs raises `SchemaDrift` naming each
difference. A table still being deleted (DELETING, right after a DeleteTable) is
waited for and created anew, not read as drift. Tags, point-in-time recovery and
TTL are applied where the endpoint supports them, and the result says which it
did: a setting the engine has no API for (DynamoDB Local has no PITR or tagging
API) is listed as "unsupported on this engine", never silently assumed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from salestalk_lib.contract.errors import KeyGrammarError, ProvisioningError, RequestRejected, SchemaDrift
from salestalk_lib.contract.keys import parse_table_name, validate_tenant_id
from salestalk_lib.contract.settings import Settings
from salestalk_lib.contract.tables import (
    REGISTRY,
    TABLE_SPECS,
    TENANT_TABLE_SPECS,
    TableKind,
    TableSpec,
    create_table_request,
    describe_differences,
    tags_for,
)
from salestalk_lib.dynamo.storage import Storage


@dataclass(frozen=True)
class TableResult:
    """What provisioning did to one table."""

    table: str
    kind: TableKind
    tenant_id: str | None
    action: str  # "created" | "unchanged" | "updated"
    changes: tuple[str, ...] = field(default=())
    unsupported: tuple[str, ...] = field(default=())


# The error an engine answers for an API it does not have (DynamoDB Local: PITR, tagging).
UNSUPPORTED_CODES = frozenset({"UnknownOperationException"})
UNSUPPORTED = "unsupported on this engine"


def refusal(exc: RequestRejected) -> str:
    """How a refused settings call reads in results: unsupported on this engine, or rejected (with the code)."""
    if exc.code in UNSUPPORTED_CODES:
        return f"{UNSUPPORTED} ({exc.code})"
    return f"rejected ({exc.code or 'no code'})"


def check_table(storage: Storage, spec: TableSpec, name: str) -> list[str]:
    """Differences between the live table `name` and `spec` (empty: it matches). Raises if absent."""
    desc = storage.describe_table(name)
    if desc is None:
        raise ProvisioningError(f"table {name!r} does not exist; run `salestalk provision` first")
    return describe_differences(spec, desc)


def provision_table(
    storage: Storage,
    spec: TableSpec,
    name: str,
    tags: dict[str, str],
    *,
    ttl_enabled: bool = False,
    wait_timeout: float = 120.0,
) -> TableResult:
    """Bring one table to its spec: create it if missing, refuse it if it drifted.

    A table that is being deleted (status DELETING, e.g. right after an offboarding)
    is not the table to check against the spec: provisioning waits, at most
    `wait_timeout` seconds, until it is gone and then creates it anew.
    """
    action = "unchanged"
    desc = None
    # Bounded: each round either finds the table, creates it, or saw it vanish or appear meanwhile.
    for _ in range(3):
        desc = storage.describe_table(name)
        if desc is not None and desc.get("TableStatus") == "DELETING":
            storage.wait_deleted(name, timeout=wait_timeout)
            desc = None
        if desc is not None:
            break
        try:
            desc = storage.create_table(create_table_request(spec, name, tags))
            action = "created"
            break
        except RequestRejected as exc:
            if exc.code != "ResourceInUseException":  # someone else created it a moment ago, or it is
                raise  # still being deleted: look again
    if desc is None:
        raise ProvisioningError(f"table {name!r} is being created and deleted concurrently; try again")
    if action == "unchanged":
        diffs = describe_differences(spec, desc)
        if diffs:
            raise SchemaDrift(name, diffs)
    desc = storage.wait_active(name, timeout=wait_timeout)
    changes, unsupported = _apply_settings(storage, spec, name, desc, tags, ttl_enabled)
    if action == "unchanged" and changes:
        action = "updated"
    return TableResult(name, spec.kind, tags.get("TenantId"), action, tuple(changes), tuple(unsupported))


def _apply_settings(
    storage: Storage, spec: TableSpec, name: str, desc: dict[str, Any], tags: dict[str, str], ttl_enabled: bool
) -> tuple[list[str], list[str]]:
    changes: list[str] = []
    unsupported: list[str] = []
    arn = desc.get("TableArn", "")

    def attempt(what: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except RequestRejected as exc:  # e.g. an engine without the API: say so, don't fail
            unsupported.append(f"{what}: {refusal(exc)}")

    def ensure_tags() -> None:
        have = storage.tags(arn, table=name)
        missing = {k: v for k, v in tags.items() if have.get(k) != v}
        if missing:
            storage.tag(arn, missing, table=name)
            changes.append("tags " + ", ".join(sorted(missing)))

    def ensure_pitr() -> None:
        if not storage.pitr_enabled(name):
            storage.enable_pitr(name)
            changes.append("point-in-time recovery enabled")

    def ensure_ttl(ttl_attribute: str) -> None:
        status, attribute = storage.ttl_status(name)
        on = status in ("ENABLED", "ENABLING")
        if ttl_enabled and not on:
            storage.set_ttl(name, ttl_attribute, True)
            changes.append(f"TTL on {ttl_attribute!r} enabled")
        elif not ttl_enabled and on:
            storage.set_ttl(name, attribute or ttl_attribute, False)
            changes.append("TTL disabled")

    attempt("tags", ensure_tags)
    attempt("point-in-time recovery", ensure_pitr)
    if spec.ttl_attribute:
        ttl_attribute = spec.ttl_attribute
        attempt("TTL", lambda: ensure_ttl(ttl_attribute))
    return changes, unsupported


def provision_registry(storage: Storage, settings: Settings) -> TableResult:
    """Create (or confirm) the global tenants registry table."""
    tags = tags_for(REGISTRY, environment=settings.environment)
    return provision_table(storage, REGISTRY, settings.registry_table, tags)


def provision_tenant(
    storage: Storage, settings: Settings, tenant_id: str, *, ttl_enabled: bool = False
) -> list[TableResult]:
    """Create (or confirm) a tenant's messages and metrics tables (the id is validated first)."""
    results = []
    for spec in TENANT_TABLE_SPECS:
        name = settings.table_name(spec, tenant_id)
        tags = tags_for(spec, environment=settings.environment, tenant_id=tenant_id)
        results.append(
            provision_table(storage, spec, name, tags, ttl_enabled=ttl_enabled and spec.ttl_attribute is not None)
        )
    return results


def provision(storage: Storage, settings: Settings, tenant_ids: Iterable[str]) -> list[TableResult]:
    """The registry plus every listed tenant's two tables, in that order."""
    ids = list(dict.fromkeys(tenant_ids))
    for tenant_id in ids:  # refuse a bad id before anything is created
        validate_tenant_id(tenant_id)
    results = [provision_registry(storage, settings)]
    for tenant_id in ids:
        results.extend(provision_tenant(storage, settings, tenant_id))
    return results


def table_settings(
    storage: Storage, spec: TableSpec, name: str, desc: dict[str, Any], expected_tags: dict[str, str]
) -> dict[str, str]:
    """What the engine says of a table's PITR, TTL and tags: a state, or "unsupported on this engine"."""

    def read(fn: Callable[[], str]) -> str:
        try:
            return fn()
        except RequestRejected as exc:
            return refusal(exc)

    def tags() -> str:
        have = storage.tags(desc.get("TableArn", ""), table=name)
        missing = sorted(k for k, v in expected_tags.items() if have.get(k) != v)
        return "as specified" if not missing else "missing " + ", ".join(missing)

    out = {"pitr": read(lambda: "on" if storage.pitr_enabled(name) else "off"), "tags": read(tags)}
    if spec.ttl_attribute:
        out["ttl"] = read(lambda: storage.ttl_status(name)[0].lower())
    else:
        out["ttl"] = "–"
    return out


def table_overview(storage: Storage, settings: Settings, *, with_settings: bool = False) -> list[dict[str, object]]:
    """One row per SalesTalk table on the endpoint: name, kind, status, keys, GSIs, drift.

    With `with_settings`, also each table's point-in-time recovery, TTL and tags as the
    engine reports them (three more requests per table; `salestalk tables` shows them).
    """
    rows = []
    for name in storage.list_tables(settings.table_prefix):
        spec = _spec_for_name(name, settings.table_prefix)
        if spec is None:
            continue
        desc = storage.describe_table(name)
        if desc is None:
            continue
        keys = " + ".join(f"{k['AttributeName']} ({k['KeyType']})" for k in desc.get("KeySchema", []))
        gsis = ", ".join(sorted(g["IndexName"] for g in desc.get("GlobalSecondaryIndexes") or []))
        diffs = describe_differences(spec, desc)
        row = {
            "table": name,
            "kind": str(spec.kind),
            "status": desc.get("TableStatus"),
            "keys": keys,
            "gsis": gsis,
            "items": desc.get("ItemCount", 0),
            "matches_spec": not diffs,
        }
        if with_settings:
            tenant = parse_table_name(name)[2]
            expected = tags_for(spec, environment=settings.environment, tenant_id=tenant)
            row.update(table_settings(storage, spec, name, desc, expected))
        rows.append(row)
    return rows


def _spec_for_name(name: str, prefix: str) -> TableSpec | None:
    """The spec of a table of this deployment (`prefix`), or None for anyone else's table."""
    try:
        owner, kind, _ = parse_table_name(name)
    except KeyGrammarError:
        return None
    return TABLE_SPECS[TableKind(kind)] if owner == prefix else None


def schema_rows(storage: Storage, table_names: Iterable[str]) -> list[dict[str, object]]:
    """One row per key attribute of each live table and GSI: table, gsi, attribute, key type, type."""
    rows: list[dict[str, object]] = []
    for name in table_names:
        desc = storage.describe_table(name)
        if desc is None:
            raise ProvisioningError(f"table {name!r} does not exist")
        types = {a["AttributeName"]: a["AttributeType"] for a in desc.get("AttributeDefinitions", [])}
        sources = [("(table)", desc.get("KeySchema", []), "")]
        sources += [
            (g["IndexName"], g["KeySchema"], g.get("Projection", {}).get("ProjectionType", ""))
            for g in sorted(desc.get("GlobalSecondaryIndexes") or [], key=lambda g: g["IndexName"])
        ]
        for index, schema, projection in sources:
            for key in schema:
                rows.append(
                    {
                        "table": name,
                        "gsi": index,
                        "attribute": key["AttributeName"],
                        "key": key["KeyType"],
                        "type": types.get(key["AttributeName"], "?"),
                        "projection": projection,
                    }
                )
    return rows
