"""SalesTalk data platform: multi-tenant DynamoDB contracts, provisioning, ingestion and queries.

Start with `connect()`: it finds an endpoint (an embedded DynamoDB by default,
real AWS only when opted in) and returns a `SalesTalk` connection.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

# Lazy, so that importing a pure module (keys, tables, models) never imports boto3.
_LAZY = {"connect": "connection", "SalesTalk": "connection", "Settings": "settings"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module
        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["connect", "SalesTalk", "Settings", "__version__"]
