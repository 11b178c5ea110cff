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
_WORKERS: list[str] = []
# Under pytest-xdist (`make test` runs `-n 2`) each worker sums its own tests and hands the sums to
# the controller at its end (`workeroutput`); the controller adds them up and prints the summary.
_WORKER_OUTPUT_KEY = "salestalk_time_by_engine"


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


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)  # set on an xdist worker only
    if workeroutput is not None:
        workeroutput[_WORKER_OUTPUT_KEY] = {key: [_SECONDS[key], _COUNTS[key]] for key in _SECONDS}


def pytest_configure(config: pytest.Config) -> None:
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistController())


class _XdistController:
    """The controller's side: the sums each worker sends when it ends (a hook spec of xdist only)."""

    @pytest.hookimpl
    def pytest_testnodedown(self, node, error) -> None:  # node: xdist's WorkerController
        sums = getattr(node, "workeroutput", {}).get(_WORKER_OUTPUT_KEY, {})
        _WORKERS.append(node.gateway.id)
        for key, (seconds, count) in sums.items():
            _SECONDS[key] += seconds
            _COUNTS[key] += count


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _SECONDS:
        over = f" (summed over {len(_WORKERS)} workers)" if len(_WORKERS) > 1 else ""
        terminalreporter.section("time by engine" + over)
        for key in sorted(_SECONDS):
            terminalreporter.write_line(f"{key:30} {_COUNTS[key]:5} items {_SECONDS[key]:8.1f} s")
