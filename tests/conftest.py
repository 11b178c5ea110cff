"""Shared fixtures: one embedded DynamoDB server per engine per test session, reached over HTTP.

Every test that talks to DynamoDB runs once per embedded engine (`salestalk_lib.embedded.engines.ENGINES`:
moto and Amazon's DynamoDB Local): it asks for `endpoint` (or `st`, or `engine` itself) and the
session fixture `engine` is parametrised over the engines, so its id shows the engine
(`test_x[moto]`, `test_x[dynamodb-local]`). Tests that need no database are collected once.
`--engine NAME` (repeatable) restricts a run to some engines. A test that depends on one
engine's behaviour says so with `@pytest.mark.engine_only("moto", reason=...)`; it is then
generated only for that engine.

Each test gets its own table prefix, so tests share a server without sharing tables. Real AWS
is impossible here: the endpoint variables and the opt-in are removed from the environment
before any test runs.
"""

from __future__ import annotations

import os
import uuid

import pytest

from salestalk_lib.contract.settings import Settings
from salestalk_lib.dynamo.endpoint import Endpoint, start_embedded
from salestalk_lib.embedded.engines import ENGINE_ENV, ENGINES
from salestalk_lib.ops.connection import SalesTalk, connect

for _var in (
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL",
    "SALESTALK_ALLOW_AWS",
    "SALESTALK_TABLE_PREFIX",
    "AWS_PROFILE",
    ENGINE_ENV,
):
    os.environ.pop(_var, None)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--engine",
        action="append",
        choices=ENGINES,
        dest="engines",
        help="run the database tests on this embedded engine only (repeatable; default: every engine)",
    )


def _engines_for(metafunc: pytest.Metafunc) -> list[str]:
    chosen = metafunc.config.getoption("engines") or list(ENGINES)
    marker = metafunc.definition.get_closest_marker("engine_only")
    if marker is None:
        return chosen
    if not marker.args or not marker.kwargs.get("reason"):
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: engine_only needs engines and a reason")
    unknown = set(marker.args) - set(ENGINES)
    if unknown:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: engine_only names unknown engines {sorted(unknown)}")
    return [e for e in chosen if e in marker.args]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "engine" not in metafunc.fixturenames:
        if metafunc.definition.get_closest_marker("engine_only"):
            raise pytest.UsageError(f"{metafunc.definition.nodeid}: engine_only on a test that uses no engine")
        return
    engines = _engines_for(metafunc)
    if not engines:  # bound to an engine this run leaves out (--engine): deselected, not skipped
        metafunc.parametrize(
            "engine", [pytest.param(None, marks=_NOT_THIS_RUN)], indirect=True, scope="session", ids=["not-this-run"]
        )
        return
    # scope="session": pytest groups the tests by engine, so each engine's server starts once.
    metafunc.parametrize("engine", engines, indirect=True, scope="session", ids=engines)


_NOT_THIS_RUN = pytest.mark.engine_left_out


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    left_out = [item for item in items if item.get_closest_marker("engine_left_out")]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if not item.get_closest_marker("engine_left_out")]


@pytest.fixture(scope="session")
def engine(request: pytest.FixtureRequest) -> str:
    """The embedded engine this test runs on (the session parametrises every DB test over all engines)."""
    return request.param


@pytest.fixture(scope="session")
def _endpoints() -> dict[str, Endpoint]:
    """Each engine's server, started at its first use and stopped at the end of the session.

    Not in `endpoint` itself: pytest tears a parametrised session fixture down whenever the next
    test has the other parameter, and under pytest-xdist (`--dist loadfile`) a worker runs one
    file's tests on every engine before the next file's, so each file would start its engines anew.
    """
    started: dict[str, Endpoint] = {}
    yield started
    for ep in started.values():
        ep.close()


@pytest.fixture(scope="session")
def endpoint(engine: str, _endpoints: dict[str, Endpoint]) -> Endpoint:
    """The session's embedded DynamoDB endpoint on `engine` (on 127.0.0.1), one server per engine."""
    if engine not in _endpoints:
        _endpoints[engine] = start_embedded(engine=engine)
    return _endpoints[engine]


@pytest.fixture
def settings() -> Settings:
    """Settings with a table prefix unique to this test."""
    return Settings(table_prefix=f"t{uuid.uuid4().hex[:10]}-", environment="test")


@pytest.fixture
def st(endpoint: Endpoint, settings: Settings) -> SalesTalk:
    """A connection to the session endpoint under this test's prefix."""
    return connect(settings=settings, endpoint=endpoint)


def onboard(st: SalesTalk, *tenant_ids: str) -> SalesTalk:
    """Register each tenant as production does (its two tables, then an active registry item).

    Ingestion writes only for registered, active tenants (contract §7), so every test that
    ingests starts here rather than at bare table provisioning.
    """
    lifecycle = st.tenants()
    for tenant_id in tenant_ids:
        lifecycle.onboard(tenant_id, name=f"Test tenant {tenant_id}", owner_email=f"owner@{tenant_id}.example.com")
    return st


@pytest.fixture(scope="session")
def register():
    """`register(st, *tenant_ids)`: onboard tenants (see `onboard`); usable from fixtures of any scope."""
    return onboard
