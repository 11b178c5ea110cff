"""Notebooks keep to their own tables on a shared endpoint, and leave nothing behind.

Every `connect(...)` in a notebook names the notebook's own table prefix (`nb03-` for notebook
03, `devtools.run.notebook_prefix`), whatever `SALESTALK_TABLE_PREFIX` says, and the notebook's
last cell drops those tables (`SalesTalk.drop_tables`) before it closes the connection.
`drop_tables` itself deletes exactly the SalesTalk tables of its own prefix.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from devtools.run import notebook_prefix
from salestalk_lib.contract.errors import ConfigurationError
from salestalk_lib.contract.settings import Settings
from salestalk_lib.ops.connection import connect

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def _code(path: Path) -> list[str]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def _connect_calls(source: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "connect"
    ]


def _prefix_of(call: ast.Call) -> str | None:
    """The literal `table_prefix=` given to `connect(settings=Settings.from_env(table_prefix=...))`."""
    for keyword in call.keywords:
        if keyword.arg == "settings" and isinstance(keyword.value, ast.Call):
            for inner in keyword.value.keywords:
                if inner.arg == "table_prefix" and isinstance(inner.value, ast.Constant):
                    return str(inner.value.value)
    return None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_connect_uses_the_notebooks_own_prefix(path):
    calls = [call for source in _code(path) for call in _connect_calls(source)]
    assert calls, f"{path.name} never connects"
    assert [_prefix_of(call) for call in calls] == [notebook_prefix(path)] * len(calls)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_starts_clean_and_drops_its_tables_at_its_end(path):
    code = _code(path)
    first = next(i for i, source in enumerate(code) if _connect_calls(source))
    assert "st.drop_tables()" in code[first].split("connect(", 1)[1]  # right after connecting
    assert code[-1].splitlines() and code[-1].splitlines()[-1] == "st.close()"
    assert code[-1].startswith("st.drop_tables()")


def test_drop_tables_deletes_exactly_its_prefixes_salestalk_tables(endpoint):
    mine = connect(settings=Settings(table_prefix="nbzz-"), endpoint=endpoint)
    longer = connect(settings=Settings(table_prefix="nbzz-b-"), endpoint=endpoint)
    mine.provision(["drop-a"])
    longer.provision(["drop-a"])
    stray = "nbzz-not-a-salestalk-table"
    mine.endpoint.client().create_table(
        TableName=stray,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    try:
        dropped = mine.drop_tables()
        assert dropped == ["nbzz-tenant-drop-a-messages", "nbzz-tenant-drop-a-metrics", "nbzz-tenants-metadata"]
        left = mine.storage.list_tables("nbzz-")
        assert left == sorted([stray, *(f"nbzz-b-{n.removeprefix('nbzz-')}" for n in dropped)])
        assert mine.drop_tables() == []  # nothing of its own is left: a second cleanup is a no-op
    finally:
        longer.drop_tables()
        mine.endpoint.client().delete_table(TableName=stray)


def test_drop_tables_without_a_prefix_is_refused(endpoint):
    with pytest.raises(ConfigurationError, match="needs a table prefix"):
        connect(settings=Settings(table_prefix=""), endpoint=endpoint).drop_tables()
