"""SalesTalk data platform: multi-tenant DynamoDB contracts, provisioning, ingestion and queries.

Start with `connect()`: it finds an endpoint (an embedded DynamoDB by default, real AWS
only when opted in) and returns a `SalesTalk` connection; `st.tenant(id)` is a tenant's
scope, `patterns.run(scope, n, params)` an access pattern as a DataFrame.

The package is laid out in layers, each a subpackage that may import only those below it
(checked by import-linter, see pyproject.toml):

| layer | owns |
|---|---|
| `cli` | the `salestalk` command line |
| `testing` | fault injection and sample data for users' own tests |
| `ops` | connection, provisioning, tenants, seeding, ingestion, access patterns, audit |
| `iam` | the tenant roles' IAM policy documents |
| `dynamo` | the one seam to DynamoDB (the only layer that imports boto3/botocore) |
| `embedded` | local engines: moto's server and Amazon's DynamoDB Local |
| `contract` | keys, vocabularies, table specs, models, validation, errors (pure) |

Everything below is exported lazily, so importing a pure module (`salestalk_lib.contract.keys`)
never imports boto3.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from salestalk_lib import _compat

__version__ = "0.1.0"

# name -> the module that defines it (relative to this package)
_EXPORTS: dict[str, str] = {
    # connecting
    "connect": "ops.connection",
    "SalesTalk": "ops.connection",
    "Settings": "contract.settings",
    "TenantScope": "dynamo.scope",
    "Storage": "dynamo.storage",
    "Retrier": "dynamo.retry",
    "policy_table": "dynamo.retry",
    # provisioning, seeding and the tenant lifecycle
    "schema_rows": "ops.provision",
    "load_seed": "ops.seed",
    "plan_seed": "ops.seed",
    "DEFAULT_SEED_DIR": "ops.seed",
    "Tenants": "ops.tenants",
    "TenantStateError": "ops.tenants",
    "FixedClock": "ops.tenants",
    "Fleet": "ops.fleet",
    "read_export": "ops.tenants",
    # ingesting: idempotent writes, batches, the event inbox
    "Ingestor": "ops.ingest",
    "validate_for_ingest": "ops.ingest",
    "TenantGate": "ops.ingest",
    "metric_version": "ops.ingest",
    "write_mode_table": "ops.ingest",
    "write_cost": "ops.ingest",
    "Outcome": "dynamo.writes",
    "WriteResult": "dynamo.writes",
    "BatchState": "ops.batches",
    "read_batch": "ops.batches",
    "process_once": "ops.inbox",
    "Delivery": "ops.inbox",
    "MemorySink": "ops.events",
    "JsonLinesSink": "ops.events",
    "event_json": "contract.models",
    "verify_reference": "ops.references",
    # the contract
    "Tenant": "contract.models",
    "Message": "contract.models",
    "Metric": "contract.models",
    "SessionRollup": "contract.models",
    "MessageIdentity": "contract.models",
    "IngestBatch": "contract.models",
    "ProcessedEvent": "contract.models",
    "DataReference": "contract.models",
    "EventEnvelope": "contract.models",
    "validate_record": "contract.validation",
    "validate_paths": "contract.validation",
    "StreamingInput": "contract.validation",
    "iter_valid": "contract.validation",
    # errors, grouped by what a caller can do
    "SalesTalkError": "contract.errors",
    "ContractError": "contract.errors",
    "ValidationFailed": "contract.errors",
    "Violation": "contract.errors",
    "InvalidTenantId": "contract.errors",
    "SchemaDrift": "contract.errors",
    "InputError": "contract.errors",
    "ConfigurationError": "contract.errors",
    "RealAwsNotAllowed": "contract.errors",
    "StorageError": "contract.errors",
    "ConditionFailed": "contract.errors",
    "RetryBudgetExhausted": "contract.errors",
    "RetryableError": "contract.errors",
    "IsolationViolation": "contract.errors",
    "TenantNotFound": "contract.errors",
    "TenantNotActive": "contract.errors",
    "IngestConflict": "contract.errors",
    "BatchConflict": "contract.errors",
    "IngestInterrupted": "contract.errors",
}
# modules exported as attributes: `from salestalk_lib import patterns, keys` (`patterns.run(scope, n)`)
_MODULES: dict[str, str] = {
    "patterns": "ops.patterns",
    "keys": "contract.keys",
    "models": "contract.models",
    "tables": "contract.tables",
    "vocab": "contract.vocab",
    "errors": "contract.errors",
    "iam": "iam",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    if name in _MODULES:
        return import_module(f"{__name__}.{_MODULES[name]}")
    moved = _compat.MOVED.get(name)
    if moved is not None:
        return import_module(f"{__name__}.{moved}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS, *_MODULES])


_compat.install()

__all__ = sorted([*_EXPORTS, *_MODULES, "__version__"])

if TYPE_CHECKING:  # what static checkers and IDEs see (tests/test_public_api.py keeps it equal to _EXPORTS)
    from salestalk_lib import iam
    from salestalk_lib.contract import errors, keys, models, tables, vocab
    from salestalk_lib.contract.errors import (
        BatchConflict,
        ConditionFailed,
        ConfigurationError,
        ContractError,
        IngestConflict,
        IngestInterrupted,
        InputError,
        InvalidTenantId,
        IsolationViolation,
        RealAwsNotAllowed,
        RetryableError,
        RetryBudgetExhausted,
        SalesTalkError,
        SchemaDrift,
        StorageError,
        TenantNotActive,
        TenantNotFound,
        ValidationFailed,
        Violation,
    )
    from salestalk_lib.contract.models import (
        DataReference,
        EventEnvelope,
        IngestBatch,
        Message,
        MessageIdentity,
        Metric,
        ProcessedEvent,
        SessionRollup,
        Tenant,
        event_json,
    )
    from salestalk_lib.contract.settings import Settings
    from salestalk_lib.contract.validation import StreamingInput, iter_valid, validate_paths, validate_record
    from salestalk_lib.dynamo.retry import Retrier, policy_table
    from salestalk_lib.dynamo.scope import TenantScope
    from salestalk_lib.dynamo.storage import Storage
    from salestalk_lib.dynamo.writes import Outcome, WriteResult
    from salestalk_lib.ops import patterns
    from salestalk_lib.ops.batches import BatchState, read_batch
    from salestalk_lib.ops.connection import SalesTalk, connect
    from salestalk_lib.ops.events import JsonLinesSink, MemorySink
    from salestalk_lib.ops.fleet import Fleet
    from salestalk_lib.ops.inbox import Delivery, process_once
    from salestalk_lib.ops.ingest import (
        Ingestor,
        TenantGate,
        metric_version,
        validate_for_ingest,
        write_cost,
        write_mode_table,
    )
    from salestalk_lib.ops.provision import schema_rows
    from salestalk_lib.ops.references import verify_reference
    from salestalk_lib.ops.seed import DEFAULT_SEED_DIR, load_seed, plan_seed
    from salestalk_lib.ops.tenants import FixedClock, Tenants, TenantStateError, read_export
