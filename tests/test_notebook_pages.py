"""The notebooks read as tutorials: their checks are tagged, stated in words, and left off the published pages.

A code cell made only of `assert` statements is a check: nbval runs it (`make test`), the
cell carries the tag `check`, and the markdown cell just before it states the claim in one
sentence. The mkdocs-jupyter block of mkdocs.yml removes `check` cells from the published
pages, so a reader sees the claim, not a wall of asserts.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
TAG = "check"


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def _only_asserts(cell: dict) -> bool:
    body = ast.parse(_source(cell)).body if cell["cell_type"] == "code" else []
    return bool(body) and all(isinstance(statement, ast.Assert) for statement in body)


def _tagged(cell: dict) -> bool:
    return TAG in cell.get("metadata", {}).get("tags", [])


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_check_cell_is_tagged_and_stated_in_words_before_it(notebook: Path) -> None:
    cells = _cells(notebook)
    checks = [i for i, c in enumerate(cells) if _only_asserts(c)]
    assert checks, "a tutorial checks what it shows"
    assert [i for i, c in enumerate(cells) if _tagged(c)] == checks
    for i in checks:
        claim = cells[i - 1]
        assert claim["cell_type"] == "markdown", f"cell {i}: no claim stated before the check"
        text = _source(claim).strip()
        assert text and "\n" not in text and not text.startswith("#"), f"cell {i - 1}: one sentence, not {text!r}"


def _plugin_config() -> dict:
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))
    (plugin,) = [p["mkdocs-jupyter"] for p in config["plugins"] if isinstance(p, dict) and "mkdocs-jupyter" in p]
    return plugin


def test_the_published_pages_leave_the_check_cells_out() -> None:
    from mkdocs_jupyter.nbconvert2 import nb2html

    remove = _plugin_config()["remove_tag_config"]
    assert remove == {"remove_cell_tags": [TAG]}  # mkdocs-jupyter passes on only the first tag of a list
    notebook = REPO / "notebooks" / "00_quickstart.ipynb"
    cells = _cells(notebook)
    code = [c for c in cells if c["cell_type"] == "code"]
    checks = [c for c in code if _tagged(c)]
    assert checks

    page = nb2html(str(notebook), remove_tag_config=remove, include_requirejs=False)
    unfiltered = nb2html(str(notebook), include_requirejs=False)
    code_cells = re.compile(r'class="jp-Cell jp-CodeCell\b')
    # nbconvert marks each tagged cell with the class celltag_<tag>
    assert f"celltag_{TAG}" in unfiltered and f"celltag_{TAG}" not in page
    shown, all_shown = len(code_cells.findall(page)), len(code_cells.findall(unfiltered))
    assert shown * len(code) == all_shown * (len(code) - len(checks)) and shown < all_shown
    for i, cell in enumerate(cells):
        if _tagged(cell):
            assert _source(cells[i - 1]).strip() in page  # the claim stays
