"""What every `salestalk` subcommand shares: connection options, the table printer, output escaping.

Shared here: the connection options every database command takes, a plain table
printer, and the output layer's escaping of control characters: stored data may hold
them (free-form metadata, or items written by other clients), and printed raw they
would move the cursor, recolour or rewrite the terminal, or forge output lines.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from salestalk_lib.contract.errors import ValidationFailed, Violation
from salestalk_lib.contract.keys import validate_tenant_id
from salestalk_lib.contract.models import Tenant
from salestalk_lib.contract.settings import ENVIRONMENTS, Settings
from salestalk_lib.contract.validation import RECORD_FIELD, RecordKind, require_directory, validate_paths
from salestalk_lib.ops.connection import SalesTalk, connect


def add_connection_args(parser: argparse.ArgumentParser) -> None:
    """--endpoint-url, --allow-aws, --local-host, --region, --profile, --table-prefix, --environment."""
    g = parser.add_argument_group("connection")
    g.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="DynamoDB endpoint (default: AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL, "
        "else a temporary embedded server: moto, or SALESTALK_ENGINE's); used without "
        "--allow-aws only when its host is loopback or a --local-host",
    )
    g.add_argument(
        "--allow-aws",
        action="store_true",
        default=None,
        help="allow a real AWS account, or any endpoint that is not local (same as SALESTALK_ALLOW_AWS=1)",
    )
    g.add_argument(
        "--local-host",
        action="append",
        default=[],
        metavar="HOST",
        help="a host besides loopback that runs a local emulator, e.g. a container name "
        "(repeatable; added to SALESTALK_LOCAL_HOSTS, a comma-separated list); "
        "signed with dummy credentials, never your AWS keys",
    )
    g.add_argument("--region", help="AWS region (default: AWS_REGION or us-east-1)")
    g.add_argument("--profile", help="AWS profile (default: AWS_PROFILE)")
    g.add_argument("--table-prefix", help="prefix for every table name (default: SALESTALK_TABLE_PREFIX)")
    g.add_argument(
        "--environment",
        choices=ENVIRONMENTS,
        help="Environment tag on created tables (default: SALESTALK_ENVIRONMENT or local)",
    )


# Argument names that carry tenant ids, across every subcommand.
TENANT_ARGS = ("tenant", "tenants", "tenant_id")


def connect_from_args(args: argparse.Namespace) -> SalesTalk:
    """Connect using the connection options; warn when the endpoint is a throwaway embedded one.

    Every tenant id among the arguments is validated first, so a hostile id is refused
    before an endpoint is resolved or a server started, let alone a request sent.
    """
    for name in TENANT_ARGS:
        value = getattr(args, name, None)
        for tenant_id in value if isinstance(value, list) else [value]:
            if tenant_id is not None:
                validate_tenant_id(tenant_id)
    from_env = Settings.from_env()
    settings = Settings.from_env(
        table_prefix=args.table_prefix,
        environment=args.environment,
        allow_aws=args.allow_aws,
        local_hosts=(*from_env.local_hosts, *getattr(args, "local_host", ())),
    )
    st = connect(args.endpoint_url, settings=settings, region=args.region, profile=args.profile)
    if st.endpoint.embedded:
        print(
            "note: no endpoint configured, so this runs on a temporary embedded DynamoDB that stops "
            "when the command exits. To keep data, run `salestalk serve` in another shell and "
            "export the AWS_ENDPOINT_URL_DYNAMODB line it prints.",
            file=sys.stderr,
        )
    return st


def seed_tenant_ids(seed_dir: Path | None = None) -> list[str]:
    """The tenant ids of `tenants.json` in `seed_dir` (default: the seed data), each record validated.

    A `seed_dir` given explicitly must be a directory holding `tenants.json` (else InputError /
    ValidationFailed); without one, a missing default file means no tenants. Any record that
    breaks the contract, or is not a tenant registry record, raises ValidationFailed listing all.
    """
    if seed_dir is not None:
        path = require_directory(seed_dir, "the seed directory that holds tenants.json") / "tenants.json"
    else:
        path = default_seed_dir() / "tenants.json"
        if not path.exists():
            return []
    report = validate_paths([path])
    problems = report.violations + [
        Violation(r.where, RECORD_FIELD, f"is a {r.kind.value} record; tenants.json holds tenant registry records")
        for r in report.records
        if r.kind is not RecordKind.TENANT
    ]
    if problems:
        raise ValidationFailed(problems)
    return [m.tenant_id for m in report.models(RecordKind.TENANT) if isinstance(m, Tenant)]


def default_seed_dir() -> Path:
    """`./seed_data` if present, else the seed tenants shipped with the package."""
    from salestalk_lib.ops.seed import DEFAULT_SEED_DIR

    local = Path("seed_data")
    return local if local.is_dir() else DEFAULT_SEED_DIR


def format_table(rows: Sequence[Mapping[str, Any]], columns: Iterable[str] | None = None) -> str:
    """Rows as a plain aligned text table (no colour, stable for tests and pipes)."""
    cols = list(columns) if columns is not None else (list(rows[0]) if rows else [])
    if not rows:
        return "(no rows)"
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]

    def line(vals: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(vals, widths, strict=True)).rstrip()

    return "\n".join([line(cols), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return escape_controls(", ".join(str(v) for v in value))
    return escape_controls(str(value))  # a cell is one line: a stored line break or TAB is shown escaped


# C0 and C1 controls, DEL, the line/paragraph separators and the bidirectional embedding,
# override and isolate controls (which reorder how the rest of a line is displayed).
_ESCAPED = [*range(0x00, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_ESCAPES = {c: (f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}") for c in _ESCAPED}
_ESCAPES.update({ord("\t"): "\\t", ord("\n"): "\\n", ord("\r"): "\\r"})


def escape_controls(text: str, keep: str = "") -> str:
    """`text` with every control character written as its Python escape (ESC → `\\x1b`), except those in `keep`."""
    table = _ESCAPES if not keep else {c: e for c, e in _ESCAPES.items() if chr(c) not in keep}
    return text.translate(table)


class EscapingStream:
    """A text stream that escapes control characters on the way out, except the layout ones in `keep`."""

    def __init__(self, stream: TextIO, keep: str):
        self._stream = stream
        self._table = {c: e for c, e in _ESCAPES.items() if chr(c) not in keep}

    def write(self, text: str) -> int:
        self._stream.write(text.translate(self._table))
        return len(text)

    def __getattr__(self, name: str) -> Any:  # flush, isatty, fileno, encoding, ...: the wrapped stream's
        return getattr(self._stream, name)


@contextlib.contextmanager
def escaped_output() -> Iterator[None]:
    """While active, nothing printed carries a raw control character but line breaks and TAB (and CR on stderr).

    Values that must stay on one line (table cells) are escaped fully by `format_table`; this is the
    net under everything else (error messages, the progress bar's CR on stderr is kept).
    """
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = EscapingStream(out, "\n\t"), EscapingStream(err, "\n\t\r")
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err
