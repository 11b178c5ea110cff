"""`salestalk serve`: run an embedded DynamoDB engine in the foreground."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from salestalk_lib.contract.settings import DEFAULT_REGION
from salestalk_lib.dynamo.endpoint import start_embedded
from salestalk_lib.embedded.engines import (
    DEFAULT_ENGINE,
    DYNAMODB_LOCAL,
    ENGINE_ENV,
    ENGINES,
    INSTALL_TARGET,
    engine_from_env,
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        help="run an embedded DynamoDB engine (moto or DynamoDB Local) in the foreground",
        description="Run a DynamoDB engine on this machine until Ctrl-C, and print the export line that points "
        f"other shells at it. Data lives in memory and is gone when it stops. Engines: {DEFAULT_ENGINE} (the "
        "default; moto's server, pure Python) or dynamodb-local (Amazon's DynamoDB Local; Java 17+, installed by "
        f"`{INSTALL_TARGET}`; it listens on every network interface, not only 127.0.0.1, so run it only for "
        "as long as you need it).",
    )
    p.add_argument(
        "--engine", choices=ENGINES, default=None, help=f"which engine (default: {ENGINE_ENV}, else {DEFAULT_ENGINE})"
    )
    p.add_argument("--port", type=port_number, default=0, help="TCP port, 1-65535 (default 0: a free one)")
    p.add_argument("--region", default=DEFAULT_REGION, help="region clients should use (default: %(default)s)")
    p.set_defaults(func=run)


def port_number(text: str) -> int:
    """argparse type: a TCP port 0-65535 (0 = any free port); anything else is a usage error (exit 2)."""
    if not text.isascii() or not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"must be a number from 0 (any free port) to 65535, got {text!r}")
    return int(text)


def run(args: argparse.Namespace) -> int:
    engine = args.engine or engine_from_env()
    endpoint = start_embedded(args.port, region=args.region, engine=engine)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server = endpoint._server
    print(
        f"Embedded DynamoDB ({engine} {server.version}) listening on {endpoint.url} (Ctrl-C to stop). In another shell:"
    )
    for line in endpoint.client_exports():
        print(f"  {line}")
    if engine == DYNAMODB_LOCAL:
        print(
            f"note: DynamoDB Local listens on every network interface (port {server.port}), not only 127.0.0.1; "
            "its data is in memory and gone when it stops."
        )
    sys.stdout.flush()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        endpoint.close()
    return 0
