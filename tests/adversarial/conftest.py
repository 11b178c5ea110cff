"""The adversarial suite (contract §7): its promises attacked through real processes, then checked in the tables.

Every test here attacks a promise the way a careful reviewer would (kills, races, interrupts, hostile
state) through the real command line and a DynamoDB server in its own process (`salestalk serve`), and
then checks the stored state with the library and the audit rather than trusting what the attacked
process said. Every wait is bounded in time; all traffic stays on the loopback interface. Helpers are
in `adversary.py`.
"""

from __future__ import annotations

import uuid

import pytest
from adversary import Deployment

from devtools.bench import start_server, stop_server
from salestalk_lib.dynamo.endpoint import Endpoint, resolve_endpoint


@pytest.fixture(scope="session")
def server() -> Endpoint:
    """One `salestalk serve` process for the whole suite, on a free loopback port."""
    proc, url = start_server()
    try:
        yield resolve_endpoint(url)
    finally:
        stop_server(proc)


@pytest.fixture
def deployment(server: Endpoint) -> Deployment:
    """A fresh table prefix on the shared server: nothing of another test is visible in it."""
    return Deployment(server, f"adv{uuid.uuid4().hex[:8]}-")
