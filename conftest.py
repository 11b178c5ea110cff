"""The whole run (tests/ and notebooks/): how long each engine took.

A test's time (setup, call and teardown, so a server's start counts where it happens) is
added to its engine: the `engine` parameter of a database test (see tests/conftest.py), or
`SALESTALK_ENGINE` for a notebook (nbval runs each notebook on the engine of the environment;
`make test` runs them once per engine). Tests without a database are counted apart.

Every notebook runs on every engine: nothing engine-specific may show in a stored output.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict

import pytest

# nbval's kernels (and the tests' subprocesses) import the repository's own tooling too
# (notebook 06 runs devtools.isolation), which is no part of the installed package.
_REPO = os.path.dirname(os.path.abspath(__file__))
os.environ["PYTHONPATH"] = os.pathsep.join([_REPO, *filter(None, [os.environ.get("PYTHONPATH")])])


def _engine() -> str:
    return os.environ.get("SALESTALK_ENGINE") or "moto"


_SECONDS: dict[str, float] = defaultdict(float)
_COUNTS: dict[str, int] = defaultdict(int)


def _bucket(item: pytest.Item) -> str:
    callspec = getattr(item, "callspec", None)
    engine = callspec.params.get("engine") if callspec is not None else None
    if engine:
        return f"{engine}: tests"
    if item.path.suffix == ".ipynb":
        return f"{_engine()}: notebook cells"
    return "no engine: pure tests"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    started = time.perf_counter()
    yield
    key = _bucket(item)
    _SECONDS[key] += time.perf_counter() - started
    _COUNTS[key] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _SECONDS:
        terminalreporter.section("time by engine")
        for key in sorted(_SECONDS):
            terminalreporter.write_line(f"{key:30} {_COUNTS[key]:5} items {_SECONDS[key]:8.1f} s")
