"""The `salestalk` command line: one subcommand per module of `salestalk_lib.cli`."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from salestalk_lib.cli.common import escaped_output
from salestalk_lib.contract.errors import SalesTalkError

# Each module exposes `register(subparsers)`, which adds its subcommand(s) and sets
# `func=callable(args) -> int` as the parser default.
COMMAND_MODULES: tuple[str, ...] = (
    "serve",
    "provision",
    "seed",
    "schema",
    "validate",
    "query",
    "audit",
    "tenant",
    "ingest",
    "template",
    "quota",
    "export",
)

EPILOG = """\
Endpoint: --endpoint-url, else AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL, else an
embedded DynamoDB on 127.0.0.1 (moto; SALESTALK_ENGINE=dynamodb-local for Amazon's
DynamoDB Local). An endpoint is used as it is only when it is local: loopback
(127.0.0.0/8, ::1, localhost) or a host in SALESTALK_LOCAL_HOSTS (or --local-host),
signed with dummy credentials. Real AWS, and any other endpoint, only with --allow-aws
or SALESTALK_ALLOW_AWS=1. Table names get SALESTALK_TABLE_PREFIX (or --table-prefix).
"""


# Commands a module registers besides the one named like it.
OTHER_COMMANDS: dict[str, str] = {"tables": "provision"}


def _modules_for(argv: Sequence[str] | None) -> tuple[str, ...]:
    """The command modules a command line needs: only its command's (start-up stays short), else all of them.

    All of them when the line does not start with a known command (`--help`, a typo: argparse then
    lists every command).
    """
    first = (list(sys.argv[1:]) if argv is None else list(argv))[:1]
    if first:
        module = OTHER_COMMANDS.get(first[0], first[0])
        if module in COMMAND_MODULES:
            return (module,)
    return COMMAND_MODULES


def build_parser(modules: Sequence[str] = COMMAND_MODULES) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="salestalk",
        description="SalesTalk data platform: provision, seed, validate, ingest and query "
        "the multi-tenant DynamoDB tables.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in modules:
        importlib.import_module(f"{__package__}.{name}").register(sub)
    return parser


@escaped_output()  # no raw control character from stored data or arguments reaches the terminal
def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 findings, 2 bad input or error)."""
    parser = build_parser(_modules_for(argv))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SalesTalkError as exc:
        print(f"salestalk {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
