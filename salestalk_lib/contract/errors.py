"""Every exception the library raises, in one tree.

    SalesTalkError                      root: catch this to catch anything of ours
    ├── ContractError (ValueError)      a value breaks the data contract
    │   ├── KeyGrammarError             a pk/sk string does not parse or cannot be built
    │   ├── InvalidTenantId             a tenant id is not safe to put into a table name
    │   └── ValidationFailed            one or more records failed validation (carries all violations)
    ├── InputError                      a file or path cannot be read as input (missing, not a regular
    │                                   file, not UTF-8, not JSON, nested too deep, ...)
    ├── ConfigurationError              settings are missing or contradict each other
    │   └── RealAwsNotAllowed           no endpoint given and real AWS was not opted into
    ├── ProvisioningError               a table cannot be brought to its spec
    │   └── SchemaDrift                 an existing table differs from its spec (names the differences)
    ├── StorageError                    DynamoDB refused or failed a request (translated at the seam)
    │   ├── ConditionFailed             a conditional write's condition was false
    │   ├── RetryableError              sending the request again may succeed: the retry policy retries it
    │   │   ├── Throttled               throttling / capacity errors
    │   │   ├── TransientError          5xx, timeouts, connection errors
    │   │   └── TransactionConflict     a concurrent transaction touched the same item
    │   ├── TableNotFound               the table does not exist
    │   └── RequestRejected             DynamoDB's own ValidationException and other 4xx (not retryable)
    ├── RetryBudgetExhausted            the retry policy gave up; carries the last error
    ├── Interrupted                     a stopped run's retrier refused to send another attempt
    ├── IngestConflict                  same idempotency key, different content (shows both versions)
    │   └── BatchConflict               a batch id already recorded for other records
    ├── IsolationViolation              a tenant-scoped handle was asked for another tenant's data
    ├── TenantNotFound (LookupError)    the registry has no item for this tenant id
    └── TenantStateError                the tenant's status does not allow the operation
        └── TenantNotActive             ingestion refused: the tenant is not registered, or not active

    KeyboardInterrupt
    └── IngestInterrupted               Ctrl-C (or a stop request) ended an ingest run; carries its report

Storage errors are grouped by what the caller can do: a `RetryableError` is
worth sending again (the retry policy retries every one of them, each under the
rule its class names in `retry_rule`); the others are not (fix the request,
settle the condition, create the table).

Only `salestalk_lib.dynamo.storage` turns botocore errors into these; code above the
seam never catches botocore exceptions. `IngestInterrupted` is deliberately
not a `SalesTalkError`: an interrupt is not an error, and `except Exception`
must never swallow a Ctrl-C.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from salestalk_lib.contract.times import format_instant


class SalesTalkError(Exception):
    """Root of every error raised by salestalk_lib."""


class ContractError(SalesTalkError, ValueError):
    """A value breaks the data contract. Catch it to handle any bad input."""


class KeyGrammarError(ContractError):
    """A key string does not follow the key grammar, or its parts cannot form one."""


class InvalidTenantId(ContractError):
    """A tenant id is not 1-64 lowercase letters, digits and inner hyphens."""


@dataclass(frozen=True)
class Violation:
    """One broken rule: where (file and record), which field, which rule."""

    where: str
    field: str
    rule: str

    def __str__(self) -> str:
        return f"{self.where} {self.field}: {self.rule}"


class ValidationFailed(ContractError):
    """One or more records broke the contract; `violations` lists every one of them."""

    def __init__(self, violations: Sequence[Violation]):
        self.violations = list(violations)
        lines = "\n".join(str(v) for v in self.violations)
        super().__init__(f"{len(self.violations)} contract violation(s):\n{lines}")


class InputError(SalesTalkError):
    """A file or path the user named cannot be read as input; the message names it and says what to do.

    Bad input, not a contract violation: the CLI exits 2 for it in every command.
    """

    def __init__(self, where: str, problem: str):
        self.where = where
        self.problem = problem
        super().__init__(f"{where}: {problem}")


class ConfigurationError(SalesTalkError):
    """Settings are missing or contradict each other; the message says what to set."""


class RealAwsNotAllowed(ConfigurationError):
    """Resolution would reach a real AWS account but the user did not opt in."""


class ProvisioningError(SalesTalkError):
    """A table could not be created or brought to ACTIVE."""


class SchemaDrift(ProvisioningError):
    """An existing table differs from its spec; `differences` names each difference."""

    def __init__(self, table: str, differences: Sequence[str]):
        self.table = table
        self.differences = list(differences)
        detail = "; ".join(self.differences)
        super().__init__(
            f"table {table!r} exists but differs from its spec: {detail}. "
            "Fix or delete the table (or use another table prefix) and provision again."
        )


class StorageError(SalesTalkError):
    """DynamoDB refused or failed a request. `code` is DynamoDB's error code."""

    def __init__(self, message: str, *, code: str = "", operation: str = "", table: str = ""):
        self.code = code
        self.operation = operation
        self.table = table
        super().__init__(message)


@dataclass(frozen=True)
class CancellationReason:
    """Why one action of a cancelled TransactWriteItems failed: DynamoDB's code and, for a failed
    condition, the stored item (`ReturnValuesOnConditionCheckFailure=ALL_OLD`; None if it did not exist)."""

    code: str
    item: dict[str, Any] | None = None

    @property
    def condition_failed(self) -> bool:
        return self.code == "ConditionalCheckFailed"


class ConditionFailed(StorageError):
    """A conditional write found its condition false (the item exists or changed).

    `item` is the stored item of the (first) failed condition. For a cancelled
    transaction, `reasons` holds one `CancellationReason` per action, in the
    order of the request's actions (empty when the endpoint gave none), so a
    caller can tell which of its actions failed and settle each one.
    """

    def __init__(
        self, message: str, *, item: dict[str, Any] | None = None, reasons: Sequence[CancellationReason] = (), **kw: Any
    ):
        self.item = item
        self.reasons = tuple(reasons)
        super().__init__(message, **kw)

    def reason(self, index: int) -> CancellationReason | None:
        """The reason of action `index` of the cancelled transaction (None if the endpoint gave none)."""
        return self.reasons[index] if 0 <= index < len(self.reasons) else None


class RetryableError(StorageError):
    """Sending the same request again may succeed: the retry policy retries every subclass.

    `retry_rule` names the rule of the policy (`salestalk_lib.dynamo.retry`)
    whose budget and backoff apply; a subclass inherits its parent's. The base
    rule is `transient`: fixed backoff, and the request may have been applied.
    """

    retry_rule: str = "transient"


class Throttled(RetryableError):
    """DynamoDB throttled the request; retry with jittered backoff."""

    retry_rule = "throttling"


class TransientError(RetryableError):
    """A 5xx, timeout or broken connection; the request may or may not have been applied."""

    retry_rule = "transient"


class TransactionConflict(RetryableError):
    """Another transaction touched the same item at the same time; retry with jitter."""

    retry_rule = "transaction_conflict"


class TableNotFound(StorageError):
    """The named table does not exist on this endpoint."""


class RequestRejected(StorageError):
    """DynamoDB rejected the request as invalid; retrying will not help."""


class Interrupted(SalesTalkError):
    """The run was asked to stop: the retrier sent no further attempt.

    `last_error` is the failure that would have been retried (None when the stop
    came before a first attempt). When it is a transient error, the request may
    have been applied: a re-run settles it (created or already_exists).
    """

    def __init__(self, message: str, *, last_error: BaseException | None = None):
        self.last_error = last_error
        super().__init__(message)


class RetryBudgetExhausted(SalesTalkError):
    """The retry policy gave up after its budget; `last_error` is the final failure."""

    def __init__(self, message: str, *, attempts: int, last_error: BaseException):
        self.attempts = attempts
        self.last_error = last_error
        super().__init__(message)


class IngestConflict(SalesTalkError):
    """A record with the same idempotency key but different content is already stored."""

    def __init__(self, key: str, stored: dict[str, Any], incoming: dict[str, Any]):
        self.key = key
        self.stored = stored
        self.incoming = incoming
        diff = sorted(k for k in set(stored) | set(incoming) if stored.get(k) != incoming.get(k))
        super().__init__(f"conflict on {key}: stored and incoming differ in {', '.join(diff) or 'nothing'}")


class BatchConflict(IngestConflict):
    """A batch id already recorded for other records (contract §4): nothing of the new batch is written."""

    def __init__(self, batch_id: str, tenant_id: str, stored: dict[str, Any], incoming: dict[str, Any]):
        self.batch_id = batch_id
        self.tenant_id = tenant_id
        super().__init__(f"batch {batch_id} of tenant {tenant_id}", stored, incoming)
        self.args = (
            f"batch {batch_id!r} of tenant {tenant_id!r} was recorded on "
            f"{format_instant(stored.get('startedAt'))} for other records ({stored.get('recordCount')} record(s), "
            f"{stored.get('contentHash')}); these {incoming.get('recordCount')} record(s) have "
            f"{incoming.get('contentHash')}. Nothing was written: use a new batch id, or wait until "
            f"the old record expires on {format_instant(stored.get('ttl'))}.",
        )

    def __str__(self) -> str:
        return str(self.args[0])


class IsolationViolation(SalesTalkError):
    """A tenant-scoped handle refused to touch a table or item of another tenant."""


class TenantNotFound(SalesTalkError, LookupError):
    """The registry has no item for this tenant id."""


class TenantStateError(SalesTalkError):
    """The tenant's status does not allow the operation (e.g. suspending a deleted tenant)."""


class TenantNotActive(TenantStateError):
    """Ingestion refused: the tenant has no registry item, or its status is not `active` (contract §7).

    `status` is the stored status, or None when the tenant is not registered.
    Nothing of the tenant's records was written by the refused call.
    """

    def __init__(
        self, tenant_id: str, status: str | None, *, registry: str = "tenants-metadata", during_run: bool = False
    ):
        self.tenant_id = tenant_id
        self.status = status
        if status is None:
            state = f"tenant {tenant_id!r} is not registered (no item in {registry!r})"
            advice = f"register it first: `salestalk tenant add {tenant_id} ...` (or `Tenants.onboard`)"
        elif status == "suspended":
            state = f"tenant {tenant_id!r} is suspended"
            advice = f"reactivate it first: `salestalk tenant activate {tenant_id}` (or `Tenants.reactivate`)"
        elif status == "deleted":
            state = f"tenant {tenant_id!r} was offboarded (status deleted)"
            advice = "its id is retired and receives no data"
        else:
            state = f"tenant {tenant_id!r} has status {status!r}"
            advice = "only an active tenant receives data"
        when = (
            "it stopped being active during the run: its remaining records were not written"
            if during_run
            else "nothing of its records was written"
        )
        super().__init__(f"{state}; {when}; {advice}")


class IngestInterrupted(KeyboardInterrupt):
    """An ingest run stopped on Ctrl-C (or a stop request) before every record was written.

    `report` (an `ingest.IngestReport`) says what was done: records that
    finished, records in flight when the run stopped (each atomic: applied whole
    or not at all, so they "may have been applied"), and records never started.
    The batch stays in progress; running the same batch again completes it exactly.
    """

    def __init__(self, report: Any):
        self.report = report
        super().__init__("ingest interrupted")
