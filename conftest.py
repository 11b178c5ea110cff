"""The whole run (tests/ and notebooks/): notebooks bound to one engine, and how long each engine took.

A test's time (setup, call and teardown, so a server's start counts where it happens) is
added to its engine: the `engine` parameter of a database test (see tests/conftest.py), or
`SALESTALK_ENGINE` for a notebook (nbval runs each notebook on the engine of the environment;
`make test` runs them once per engine). Tests without a database are counted apart.

`ENGINE_ONLY_NOTEBOOKS` is the notebooks' twin of the tests' `engine_only` marker: a notebook
whose stored outputs depend on one engine's behaviour is collected only on that engine, and the
run's summary names it with the reason.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict

import pytest

ENGINE_ONLY_NOTEBOOKS: dict[str, tuple[tuple[str, ...], str]] = {
    "04_idempotency_and_retries.ipynb": (
        ("moto",),
        "its lost-response cells expect moto's ignored ClientRequestToken (a resent transaction executed again, "
        "ending already_exists); DynamoDB Local, like DynamoDB, replays it (created). Issue 10 rewrites them to the "
        "engine-independent invariant."),
}
_LEFT_OUT: dict[str, str] = {}


def _engine() -> str:
    return os.environ.get("SALESTALK_ENGINE") or "moto"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    keep, drop = [], []
    for item in items:
        bound = ENGINE_ONLY_NOTEBOOKS.get(item.path.name) if item.path.suffix == ".ipynb" else None
        if bound is not None and _engine() not in bound[0]:
            _LEFT_OUT[item.path.name] = bound[1]
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


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
    for name, reason in sorted(_LEFT_OUT.items()):
        terminalreporter.write_line(f"not run on {_engine()}: notebooks/{name}: {reason}")
    if _SECONDS:
        terminalreporter.section("time by engine")
        for key in sorted(_SECONDS):
            terminalreporter.write_line(f"{key:30} {_COUNTS[key]:5} items {_SECONDS[key]:8.1f} s")
