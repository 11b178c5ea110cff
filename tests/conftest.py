"""Shared fixtures: one embedded DynamoDB server per test session, reached over HTTP.

Each test gets its own table prefix, so tests share the server without sharing
tables. Real AWS is impossible here: the endpoint variables and the opt-in are
removed from the environment before any test runs.
"""

from __future__ import annotations

import os
import uuid

import pytest

from salestalk_lib.connection import SalesTalk, connect
from salestalk_lib.endpoint import Endpoint, start_embedded
from salestalk_lib.settings import Settings

for _var in ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL", "SALESTALK_ALLOW_AWS", "SALESTALK_TABLE_PREFIX",
             "AWS_PROFILE"):
    os.environ.pop(_var, None)


@pytest.fixture(scope="session")
def endpoint() -> Endpoint:
    """The session's embedded DynamoDB endpoint (moto's threaded server on 127.0.0.1)."""
    ep = start_embedded()
    yield ep
    ep.close()


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
