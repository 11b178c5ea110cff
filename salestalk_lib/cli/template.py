"""`salestalk template message|metric|tenant [--param NAME=VALUE ...]`: print a valid record to edit and load."""

from __future__ import annotations

import argparse

from salestalk_lib.cli.query import to_json
from salestalk_lib.contract.errors import ContractError
from salestalk_lib.ops.templates import TEMPLATES, build_template


def _param_help() -> str:
    lines = []
    for template in TEMPLATES.values():
        lines.append(f"{template.kind} parameters (NAME: rule; default):")
        lines += [f"  {p.name}: {p.rule}; default {p.default}" for p in template.params]
    return "\n".join(lines)


EXAMPLES = """\
Examples:
  salestalk template message --param time=2026-01-15T09:30:00Z > message.json
  salestalk template metric --param subject=revenue --param period=2025-Q3 --param value=12450000
  salestalk template metric --param period=2025-Q3 --param dimension=region:Europe --param value=2240000
  salestalk template tenant --param tenant_id=globex-003 --param plan=enterprise
  salestalk template message --compact >> messages.jsonl   # one line, to append to a JSON-lines file

Then: salestalk validate message.json && salestalk ingest message.json (a message or metric of a
registered, active tenant; a tenant record belongs in a seed directory's tenants.json, or use
`salestalk tenant add`).
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "template",
        help="print a valid message, metric or tenant record (JSON) to edit and ingest",
        description="Print one valid record of KIND as JSON, ready to edit and to pass to `salestalk validate` "
        "and `salestalk ingest`. Its keys, sort key and timestamp are derived from the parameters by the key "
        "grammar (a message's sk and timestamp from its time, a metric's sk and timestamp from its period and "
        "dimension, a tenant's table names from its id), never typed by hand: edit the parameters, not the "
        "derived attributes. Every parameter has a default; an unknown parameter or a value that breaks its "
        "rule is exit 2, naming the parameter and the rule. Talks to no endpoint.",
        epilog=_param_help() + "\n\n" + EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("kind", choices=list(TEMPLATES), metavar="KIND", help="message, metric or tenant")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a template parameter (repeatable); the list is below",
    )
    p.add_argument("--compact", action="store_true", help="print the record on one line (JSON-lines)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    params: dict[str, str] = {}
    for text in args.param:
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise ContractError(f"--param {text!r}: expected NAME=VALUE")
        if name.strip() in params:
            raise ContractError(f"--param {name.strip()}: given twice")
        params[name.strip()] = value
    record = build_template(args.kind, params)
    print(to_json(record, 0).replace("\n", "") if args.compact else to_json(record))
    return 0
