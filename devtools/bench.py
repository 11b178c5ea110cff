"""Benchmark bulk loading: `python -m devtools.bench` (`make bench`).

Loads the same validated metrics four ways on each embedded engine (`--engine`,
default: moto and DynamoDB Local), each run on a fresh server process
(`salestalk serve --engine E`), so no run pays for the memory an earlier one left:

1. a `put_item` per item (the original seed loader's way), on a sample of the
   items (its rate is flat, and all 20,000 would take minutes);
2. boto3's `Table.batch_writer()` (25 items per BatchWriteItem, sequential);
   both baselines use boto3's stock client configuration, as a user would;
3. the library's bulk path, `Ingestor.bulk_load_metrics`, timed *with* its
   validation of every record: existence check (BatchGetItem) then parallel
   BatchWriteItem, UnprocessedItems resent with backoff;
4. the same without the existence check (`check_existing=False`).

It also times validation alone. Each method runs `--repeat` times (3) on each
engine, the rounds interleaved (every engine and method once per round) so that a
busy spell on the machine slows every method alike, and the median run is
reported with all samples. Ratios and goals are per engine: the engines are not
raced against each other, they are two places the same client paths are measured. The server runs in its own
process, so client and server use separate cores. Every load is verified by
counting the table afterwards. Results are printed and written to
`benchmarks/results.json` and `benchmarks/results.md` (committed: that is what
the docs publish).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from salestalk_lib.contract.models import canonical_json
from salestalk_lib.contract.settings import Settings
from salestalk_lib.contract.tables import TableKind
from salestalk_lib.contract.validation import parse_json
from salestalk_lib.dynamo.retry import Retrier
from salestalk_lib.embedded.engines import ENGINES, MOTO
from salestalk_lib.ops.connection import SalesTalk, connect
from salestalk_lib.ops.ingest import Ingestor, validate_for_ingest
from salestalk_lib.testing.samples import sample_metrics

TENANT = "bench-tenant"
REPO = Path(__file__).resolve().parents[1]
GOAL_VS_PUT_LOOP = 10.0
GOAL_VS_BATCH_WRITER = 1.2


@dataclass(frozen=True)
class Run:
    """One way of loading: how many items, how long, items per second."""

    name: str
    items: int
    seconds: float
    stored: int

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds else float("inf")


_SERVING = re.compile(r"Embedded DynamoDB \((\S+) (\S+)\) listening on (http://127\.0\.0\.1:\d+)")


def start_server(engine: str = MOTO, *, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """`salestalk serve --engine ENGINE` in its own process; returns it and its URL (once it answers)."""
    proc, url, _ = start_server_with_version(engine, env=env)
    return proc, url


def start_server_with_version(
    engine: str = MOTO, *, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, str, str]:
    """As `start_server`, also returning the engine's version as the server printed it."""
    # stderr to a file, not a pipe: nobody reads a long-lived server's pipe, and a full one would block it.
    with tempfile.TemporaryFile("w+") as errors:
        proc = subprocess.Popen(
            [sys.executable, "-m", "salestalk_lib", "serve", "--engine", engine, "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env=env,
        )
        if proc.stdout is None:  # stdout=PIPE always sets it; checked, not asserted (python -O strips asserts)
            raise RuntimeError("the server's output is not readable")
        for line in proc.stdout:  # ends when the server exits: serve bounds its own start-up
            if m := _SERVING.search(line):
                return proc, m.group(3), m.group(2)
        proc.wait(timeout=30)
        proc.stdout.close()
        errors.seek(0)
        raise RuntimeError(f"salestalk serve --engine {engine} did not start: {errors.read().strip() or 'no output'}")


def records(count: int, seed: int) -> list[dict[str, Any]]:
    """`count` metric records as they come out of a JSON-lines file (Decimal numbers)."""
    return [parse_json(canonical_json(m.to_item())) for m in sample_metrics(TENANT, count, seed=seed)]


def fresh(url: str, label: str) -> tuple[SalesTalk, str]:
    """A connection with a new table prefix and the tenant onboarded (ingestion writes for active tenants only)."""
    st = connect(url, settings=Settings(table_prefix=f"bench-{label}-{os.getpid()}-"))
    st.tenants().onboard(TENANT, name="Benchmark tenant", owner_email="bench@example.com")
    return st, st.settings.table_name(TableKind.METRICS, TENANT)


def count_items(st: SalesTalk, table: str) -> int:
    """Items in `table` (a COUNT scan: verification only, never an access pattern)."""
    client = st.endpoint.client()
    total, params = 0, {"TableName": table, "Select": "COUNT"}
    while True:
        page = client.scan(**params)
        total += page["Count"]
        if "LastEvaluatedKey" not in page:
            return total
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def drop_tables(st: SalesTalk) -> None:
    """Delete the tables `fresh` made (only on a given endpoint: a started server is simply stopped)."""
    client = st.endpoint.client()
    for kind in (TableKind.MESSAGES, TableKind.METRICS):
        client.delete_table(TableName=st.settings.table_name(kind, TENANT))


def resource_table(st: SalesTalk, table: str) -> Any:
    """boto3's resource Table as a user would have it: the stock client configuration."""
    resource = st.endpoint.session.resource("dynamodb", endpoint_url=st.endpoint.url, region_name=st.endpoint.region)
    return resource.Table(table)


@dataclass(frozen=True)
class Method:
    """One way of loading the items: `load(connection, table) -> items loaded`."""

    name: str
    label: str
    load: Callable[[SalesTalk, str], int]


def measure_once(method: Method, engine: str, given_url: str | None) -> Run:
    """Time `method` once, on a fresh `engine` server process (or fresh tables on a given endpoint); verify it."""
    proc, url = (None, given_url) if given_url else start_server(engine)
    try:
        st, table = fresh(url, method.label)
        start = time.perf_counter()
        items = method.load(st, table)
        seconds = time.perf_counter() - start
        stored = count_items(st, table)
        if proc is None:
            drop_tables(st)
    finally:
        stop_server(proc)
    print(
        f"  {engine}, {method.name}: {items} items in {seconds:.2f}s = {items / seconds:,.0f} items/s (stored {stored})"
    )
    if stored != items:
        raise RuntimeError(f"{method.name}: loaded {items} items but the table holds {stored}")
    return Run(method.name, items, seconds, stored)


def stop_server(proc: subprocess.Popen | None) -> None:
    """Stop a server `start_server` started (terminate, then kill after 30 s) and close its output pipe."""
    if proc is None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def median_run(samples: Sequence[Run]) -> Run:
    """The run of median duration (an odd number of samples gives a real run)."""
    ordered = sorted(samples, key=lambda r: r.seconds)
    return ordered[len(ordered) // 2]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=20_000, help="metrics to load (default: %(default)s)")
    parser.add_argument(
        "--put-loop-items",
        type=int,
        default=2_000,
        help="items for the put_item loop (default: %(default)s; its rate is flat)",
    )
    parser.add_argument("--workers", type=int, default=4, help="parallel writers of the bulk path")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of each method, interleaved; the median is reported (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--engine",
        action="append",
        choices=ENGINES,
        dest="engines",
        help="benchmark on this engine (repeatable; default: every engine)",
    )
    parser.add_argument("--endpoint-url", help="use this endpoint instead of starting `salestalk serve` per run")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results.json")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    print(f"building {args.items} metric records ...")
    data = records(args.items, args.seed)
    start = time.perf_counter()
    validate_for_ingest(data)
    validation = len(data) / (time.perf_counter() - start)
    print(f"  validation alone: {validation:,.0f} records/s")

    def put_loop(st: SalesTalk, table: str) -> int:
        t = resource_table(st, table)
        for item in data[: args.put_loop_items]:
            t.put_item(Item=item)
        return min(args.put_loop_items, len(data))

    def batch_writer(st: SalesTalk, table: str) -> int:
        with resource_table(st, table).batch_writer() as writer:
            for item in data:
                writer.put_item(Item=item)
        return len(data)

    def bulk(check: bool) -> Callable[[SalesTalk, str], int]:
        def load(st: SalesTalk, table: str) -> int:
            report = Ingestor(st.storage, st.settings, retrier=Retrier(seed=args.seed)).bulk_load_metrics(
                data, workers=args.workers, check_existing=check
            )
            if not report.ok:
                raise RuntimeError(f"bulk load reported {report.counts()}")
            return len(report.results)

        return load

    methods = [
        Method("put_item loop", "put", put_loop),
        Method("boto3 batch_writer", "bw", batch_writer),
        Method(f"salestalk bulk, checked ({args.workers} writers, validation included)", "bulk", bulk(True)),
        Method(f"salestalk bulk, unchecked ({args.workers} writers, validation included)", "bulku", bulk(False)),
    ]
    engines = ["endpoint"] if args.endpoint_url else list(dict.fromkeys(args.engines or ENGINES))
    versions: dict[str, str] = {}
    if not args.endpoint_url:
        for engine in engines:  # fail now, not after the first round, if an engine cannot start
            proc, _, versions[engine] = start_server_with_version(engine)
            stop_server(proc)
    where = args.endpoint_url or "salestalk serve --engine E, a fresh process for every run"
    print(f"endpoint: {where}; engines {', '.join(engines)}; {args.repeat} interleaved run(s) of each method")
    samples: dict[tuple[str, str], list[Run]] = {(e, m.name): [] for e in engines for m in methods}
    for n in range(args.repeat):  # interleaved, so a busy spell on the machine hits every method alike
        print(f"round {n + 1} of {args.repeat}")
        for engine in engines:
            for method in methods:
                samples[(engine, method.name)].append(measure_once(method, engine, args.endpoint_url))

    entries = []
    for engine in engines:
        runs = [median_run(samples[(engine, m.name)]) for m in methods]
        put, bw, checked, unchecked = runs
        entries.append(
            {
                "engine": engine,
                "version": versions.get(engine, ""),
                "server": args.endpoint_url or f"salestalk serve --engine {engine}, own process, fresh per run",
                "runs": [
                    {
                        **asdict(r),
                        "seconds": round(r.seconds, 3),
                        "items_per_s": round(r.rate),
                        "samples_s": [round(x.seconds, 3) for x in samples[(engine, r.name)]],
                    }
                    for r in runs
                ],
                "ratios": {
                    "checked_vs_put_loop": round(checked.rate / put.rate, 2),
                    "checked_vs_batch_writer": round(checked.rate / bw.rate, 2),
                    "unchecked_vs_put_loop": round(unchecked.rate / put.rate, 2),
                    "unchecked_vs_batch_writer": round(unchecked.rate / bw.rate, 2),
                },
            }
        )
    results = {
        "format": 2,
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "command": "make bench  (python -m devtools.bench)",
        "environment": {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "boto3": boto3.__version__,
            # Other work on the machine slows every method; the load says how busy it was.
            "load_average_1m": round(os.getloadavg()[0], 2),
        },
        "items": args.items,
        "workers": args.workers,
        "repeats": args.repeat,
        "validation_records_per_s": round(validation),
        "goals": {"vs_put_loop": GOAL_VS_PUT_LOOP, "vs_batch_writer": GOAL_VS_BATCH_WRITER},
        "engines": entries,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    markdown = render_markdown(results)
    args.out.with_suffix(".md").write_text(markdown, encoding="utf-8")
    print()
    print(markdown)
    print(f"written: {args.out} and {args.out.with_suffix('.md')}")
    return 0


def render_markdown(results: dict[str, Any]) -> str:
    """The results as a short markdown summary (the docs' Benchmarks page is `site_docs.benchmarks_page`)."""
    env = results["environment"]
    lines = [
        "# Bulk-load benchmark",
        "",
        f"{results['items']:,} metrics per run, {results['date']}, Python {env['python']}, {env['cpus']} CPUs "
        f"(load average {env['load_average_1m']}). Each method ran {results.get('repeats', 1)} time(s) per engine, "
        f"interleaved; the median run is shown. Produced by `{results['command']}`.",
        "",
        f"Validation alone: {results['validation_records_per_s']:,} records/s.",
    ]
    goals = results["goals"]
    for entry in results["engines"]:
        lines += [
            "",
            f"## {entry['engine']} {entry.get('version', '')}".rstrip(),
            "",
            f"Server: {entry['server']}.",
            "",
            "| method | items | seconds | items/s |",
            "|---|---:|---:|---:|",
        ]
        lines += [
            f"| {r['name']} | {r['items']:,} | {r['seconds']:.2f} | {r['items_per_s']:,} |" for r in entry["runs"]
        ]
        lines += ["", "| ratio | value | goal |", "|---|---:|---:|"]
        for name, value in entry["ratios"].items():
            goal = goals["vs_put_loop"] if name.endswith("put_loop") else goals["vs_batch_writer"]
            lines.append(f"| {name.replace('_', ' ')} | {value:.2f}× | ≥ {goal:g}× |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
