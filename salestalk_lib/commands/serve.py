"""`salestalk serve`: run the embedded DynamoDB endpoint in the foreground."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from ..endpoint import start_embedded
from ..settings import DEFAULT_REGION


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="run the embedded DynamoDB endpoint (moto) in the foreground",
        description="Run a DynamoDB-compatible server (moto's threaded server) on 127.0.0.1 until "
        "Ctrl-C, and print the export line that points other shells at it. Data lives in memory "
        "and is gone when the server stops.",
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
    endpoint = start_embedded(args.port, region=args.region)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"Embedded DynamoDB listening on {endpoint.url} (Ctrl-C to stop). In another shell:")
    print(f"  {endpoint.export_line()}")
    print(f"  export AWS_REGION={endpoint.region}")
    sys.stdout.flush()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        endpoint.close()
    return 0
