"""The Reliability page's guarantees name tests that exist and are collected (`site_docs.GUARANTEES`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from devtools.site_docs import GUARANTEES, reliability_page

ROOT = Path(__file__).resolve().parents[1]


def test_every_guarantee_names_at_least_one_test_and_no_test_twice():
    ids = [t for g in GUARANTEES for t in g.tests]
    assert all(g.tests for g in GUARANTEES)
    assert len(ids) == len(set(ids))
    for node_id in ids:
        path, sep, name = node_id.partition("::")
        assert sep and name and "[" not in name, f"{node_id}: a test function, named path::name"
        assert (ROOT / path).is_file(), f"{node_id}: no such file"


def test_every_named_test_is_collected_by_pytest():
    ids = sorted({t for g in GUARANTEES for t in g.tests})
    # -p no:nbval: only the named Python tests are collected, so the notebooks are not even opened.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:nbval",
            "-o",
            "addopts=",
            *ids,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    collected = {line.split("[")[0] for line in result.stdout.splitlines() if "::" in line}
    assert [i for i in ids if i not in collected] == []


def test_the_reliability_page_states_each_guarantee_with_its_tests():
    page = reliability_page()
    for g in GUARANTEES:
        assert g.statement.replace("|", "\\|") in page
        assert all(f"`{t}`" in page for t in g.tests)
