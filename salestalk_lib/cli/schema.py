"""`salestalk schema`: write one JSON Schema file per contract model."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from salestalk_lib.contract.errors import InputError
from salestalk_lib.contract.models import schema_documents


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "schema",
        help="write one JSON Schema file per contract model",
        description="Write the JSON Schema (draft 2020-12) of every contract model (tenant, message, "
        "classification, session rollup, metric, data reference, the four events) into DIR, one "
        "`<model>.schema.json` per model. Cross-field rules (keys agree with ids, timestamps with "
        "sort keys, ...) cannot be expressed in JSON Schema; `salestalk validate` checks those too.",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("schemas"),
        metavar="DIR",
        help="directory to write into (created if missing; default: ./schemas); a path that is "
        "not a directory is exit 2",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if os.path.lexists(args.out) and not args.out.is_dir():
        raise InputError(str(args.out), "is not a directory: --out names the directory to write the schemas into")
    documents = schema_documents()
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        for name, document in documents.items():
            (args.out / name).write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as exc:
        raise InputError(str(exc.filename or args.out), f"cannot be written: {exc.strerror or exc}") from None
    print(f"wrote {len(documents)} JSON Schema files to {args.out}")
    return 0
