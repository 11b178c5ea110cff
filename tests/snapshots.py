"""Read back every item under a connection's table prefix, to prove what was (not) written."""

from __future__ import annotations

import json
from typing import Any


def snapshot(st: Any) -> dict[str, list[dict[str, Any]]]:
    """Every table under the connection's prefix and every item in it, in a canonical order."""
    out = {}
    for table in st.storage.list_tables(st.settings.table_prefix):
        items, start = [], None
        while True:
            page, start = st.storage.scan(table, start_key=start, consistent=True)
            items.extend(page)
            if start is None:
                break
        out[table] = sorted(items, key=lambda i: json.dumps(i, sort_keys=True, default=str))
    return out
