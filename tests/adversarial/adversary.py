"""Helpers of the adversarial suite: a deployment on the shared server, real `salestalk` subprocesses.

Every wait here is bounded in time, every loop in count.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import pytest

from salestalk_lib.contract.settings import Settings
from salestalk_lib.dynamo.endpoint import Endpoint, resolve_endpoint
from salestalk_lib.ops.connection import SalesTalk, connect

COMMAND_TIMEOUT = 180.0
"""No `salestalk` subprocess may run longer than this (a hang fails the test instead of the suite)."""


@dataclass
class Deployment:
    """A table prefix of its own on the shared server, and how to run `salestalk` against it."""

    server: Endpoint
    prefix: str

    @property
    def st(self) -> SalesTalk:
        return connect(endpoint=self.server, settings=Settings(table_prefix=self.prefix, environment="test"))

    def via(self, url: str) -> Deployment:
        """The same deployment reached through another URL (e.g. a `FaultProxy` in front of the server)."""
        return replace(self, server=resolve_endpoint(url))

    def args(self) -> list[str]:
        return ["--endpoint-url", self.server.url, "--table-prefix", self.prefix]

    def onboard(self, *tenant_ids: str) -> None:
        lifecycle = self.st.tenants()
        for tenant_id in tenant_ids:
            lifecycle.onboard(tenant_id, name=f"Adversarial {tenant_id}", owner_email=f"owner@{tenant_id}.example.com")

    def command(self, *argv: str, connected: bool = True) -> list[str]:
        """The argv of one `salestalk` command (against this deployment unless `connected=False`)."""
        return [sys.executable, "-m", "salestalk_lib", *argv, *(self.args() if connected else ())]

    def start(self, *argv: str) -> subprocess.Popen:
        """Start `salestalk ARGV...` against this deployment (its output captured as text)."""
        return subprocess.Popen(
            self.command(*argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_child_env()
        )

    def run(self, *argv: str, connected: bool = True, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess:
        """Run `salestalk ARGV...` to the end (bounded by `timeout`)."""
        return subprocess.run(
            self.command(*argv, connected=connected), capture_output=True, text=True, timeout=timeout, env=_child_env()
        )


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("SALESTALK_TABLE_PREFIX", None)  # the prefix is always given on the command line
    env["PYTHONUNBUFFERED"] = "1"
    return env


def wait_until(condition: Callable[[], bool], *, timeout: float, interval: float = 0.2, what: str = "") -> None:
    """Poll `condition` until it holds; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what or condition}")
        time.sleep(interval)


def count_items(st: SalesTalk, table: str) -> int:
    """Items in `table` now (a COUNT Scan on the raw client: verification only, never an access pattern)."""
    client = st.endpoint.client()
    total, params = 0, {"TableName": table, "Select": "COUNT"}
    for _ in range(10_000):  # pages; bounded
        page = client.scan(**params)
        total += page["Count"]
        if "LastEvaluatedKey" not in page:
            return total
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    raise AssertionError(f"{table}: more pages than any test writes")


def stop(proc: subprocess.Popen, sig: signal.Signals, *, timeout: float) -> tuple[int, str, str, float]:
    """Send `sig`, wait (bounded) for the process to end; (exit code, stdout, stderr, seconds it took)."""
    sent = time.monotonic()
    proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate(timeout=30)
        pytest.fail(f"the process did not end within {timeout:.0f}s of {sig.name}:\n{err[-2000:]}")
    return proc.returncode, out, err, time.monotonic() - sent


def finish(proc: subprocess.Popen, *, timeout: float = COMMAND_TIMEOUT) -> tuple[int, str, str]:
    """Wait (bounded) for a started command to end on its own."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate(timeout=30)
        pytest.fail(f"the command did not end within {timeout:.0f}s:\n{err[-2000:]}")
    return proc.returncode, out, err


def summary(out: str) -> dict[str, dict[str, int]]:
    """The outcome table `salestalk ingest` prints: kind -> {column: count}."""
    lines = [line.split() for line in out.splitlines() if line.strip()]
    header = next(line for line in lines if line[:2] == ["kind", "records"])
    rows = {}
    for line in lines:
        if line and line[0] in ("message", "metric") and len(line) == len(header):
            rows[line[0]] = dict(zip(header[1:], map(int, line[1:]), strict=True))
    return rows


def conflict_keys(err: str) -> list[str]:
    """The keys of the `conflict: conflict on KEY: ...` lines `salestalk ingest` prints."""
    return [
        line.split("conflict on ", 1)[1].split(":", 1)[0].split(" (")[0]
        for line in err.splitlines()
        if line.startswith("conflict: conflict on ")
    ]


def totals(rows: dict[str, dict[str, int]], *columns: str) -> int:
    return sum(row.get(c, 0) for row in rows.values() for c in columns)


__all__: Sequence[str] = (
    "COMMAND_TIMEOUT",
    "Deployment",
    "conflict_keys",
    "count_items",
    "finish",
    "stop",
    "summary",
    "totals",
    "wait_until",
)
