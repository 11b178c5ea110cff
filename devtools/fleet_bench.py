"""Fleet onboarding benchmark: `salestalk tenant import` of N tenants on a fresh embedded engine, then again.

    python -m devtools.fleet_bench [--tenants 1000] [--engine dynamodb-local] [--workers 16] [--out FILE]

Starts `salestalk serve --engine E` in its own process, writes N tenant records to a
JSON-lines file, and runs the real command twice, each in its own process:

1. `salestalk tenant import FILE`: creates 2·N tenant tables, the registry and N items;
2. the same command again: must report every tenant as already present and create nothing;

then `salestalk quota --output json` against the same endpoint. It checks what it
measures (tables on the endpoint = 2·N + 1, the second run's summary says 0 created)
and prints the wall-clock time of each step; `--out` writes them as JSON. Not a test:
times depend on the machine and whatever else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from devtools.bench import start_server_with_version, stop_server
from salestalk_lib.contract.quotas import tables_for
from salestalk_lib.embedded.engines import DYNAMODB_LOCAL, ENGINES


def tenant_records(count: int) -> list[dict[str, Any]]:
    """`count` valid, distinct tenant import records (ids `fleet-00001` ...)."""
    plans = ("free", "standard", "enterprise")
    return [
        {
            "tenantId": f"fleet-{i:05d}",
            "name": f"Fleet Tenant {i}",
            "ownerEmail": f"owner{i}@fleet.example",
            "plan": plans[i % len(plans)],
            "metadata": {"cohort": i % 10},
        }
        for i in range(1, count + 1)
    ]


def run_cli(args: Sequence[str], url: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run `salestalk ARGS --endpoint-url URL` in a new process; (seconds, completed process)."""
    env = {**os.environ, "SALESTALK_TABLE_PREFIX": ""}
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "salestalk_lib", *args, "--endpoint-url", url],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    return time.perf_counter() - started, proc


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 when both runs did what they must, 1 otherwise."""
    parser = argparse.ArgumentParser(prog="python -m devtools.fleet_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--engine", choices=ENGINES, default=DYNAMODB_LOCAL)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    proc, url, version = start_server_with_version(args.engine)
    figures: dict[str, Any] = {
        "engine": args.engine,
        "version": version,
        "tenants": args.tenants,
        "workers": args.workers,
        "machine": f"{os.cpu_count()} cores (shared with whatever else ran), {time.strftime('%Y-%m-%d')}",
    }
    ok = True
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "tenants.jsonl"
            path.write_text("".join(json.dumps(r) + "\n" for r in tenant_records(args.tenants)), encoding="utf-8")
            cmd = ["tenant", "import", str(path), "--no-progress", "--workers", str(args.workers)]
            for label in ("first_run", "second_run"):
                seconds, done = run_cli(cmd, url)
                summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
                figures[label] = {"seconds": round(seconds, 2), "exit": done.returncode, "summary": summary}
                print(f"{label}: {seconds:.1f} s, exit {done.returncode}: {summary}")
                if done.returncode != 0:
                    print(done.stderr[-2000:], file=sys.stderr)
                    ok = False
            if "0 created" not in figures["second_run"]["summary"]:
                ok = False
                print("the second run created something: it must be a no-op", file=sys.stderr)
            seconds, done = run_cli(["quota", "--output", "json"], url)
            report = json.loads(done.stdout) if done.stdout.strip() else {}
            figures["quota"] = {"seconds": round(seconds, 2), "exit": done.returncode, "report": report}
            used = report.get("tables", {}).get("used")
            print(
                f"quota: {seconds:.1f} s, exit {done.returncode}: tables {used} of {report.get('tables', {}).get('limit')}"
            )
            if used != tables_for(args.tenants):
                ok = False
                print(f"expected {tables_for(args.tenants)} tables on the endpoint, found {used}", file=sys.stderr)
    finally:
        stop_server(proc)
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
