"""Benchmark the library's write and validation paths: `python -m devtools.bench` (`make bench`).

Three measurements, in one run, every sample kept (`benchmarks/results.json`):

1. **Throughput on each engine** (`--engine`, default: moto and DynamoDB Local, each
   `salestalk serve --engine E` in its own process): metrics loaded by the public
   `salestalk ingest` in its default mode (`--metric-mode transaction`) and with
   `--metric-mode conditional` and `--metric-mode batch`, beside the baselines a user would write with plain
   boto3 (a `put_item` loop on a sample, `Table.batch_writer()`); messages by
   `salestalk ingest` beside a plain loop of one TransactWriteItems per message
   doing the same work (identity item and message created once, rollup counted).
2. **Behind a latency** (`--latency`, 5 ms): the same metric loads on DynamoDB Local
   through a loopback proxy (`salestalk_lib.testing.faults.FaultProxy`, the
   `--faults latency=5` of `salestalk ingest`) that holds every request that long,
   as a real endpoint a few milliseconds away would. Timed as whole commands, start-up
   included. The engine's ceiling (unchecked transactions of 100 on 8 threads) runs
   behind the link and once more straight to the engine: what the engine alone allows.
3. **Client CPU per item** of every method: each run is its own process
   (`devtools.bench_worker`), which reads `getrusage(RUSAGE_SELF)` around its work;
   the engine and the proxy run in other processes, so the server's speed drops out.

Every fresh server is **warmed up** first (`warm_up`): each method of the block runs once,
untimed and discarded, on a small set (`WARM_UP`). DynamoDB Local is a JVM: the first
transactions on a fresh one ran twice as long as the same transactions a minute later
(5,040 metrics in TransactWriteItems of 100 on 8 threads: 10.0 s cold, 4.7 s warm), so
without it whichever method first used an operation paid the JIT's warm-up for all of them.

Plus a **scaling table** (`salestalk validate` and `salestalk ingest` of messages at
1k / 10k / 100k records: time and the child's peak RSS from `wait4`) and the
memory and validation-speed goals. Every method runs `--repeat` times, the rounds
interleaved so a busy spell on the machine slows every method alike; tables show
medians. `--quick` (or `BENCH_QUICK=1`) uses small sizes and one round: its figures
are below the goal sizes, so the goals that need a size are reported not measured.
The goals are stated beside the figures and judged from them (`evaluate_goals`),
by the docs' Benchmarks page too: a goal the latest run did not meet is never shown met.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from salestalk_lib.contract.models import canonical_json
from salestalk_lib.contract.settings import Settings
from salestalk_lib.contract.tables import TableKind
from salestalk_lib.embedded.engines import DYNAMODB_LOCAL, ENGINES, MOTO
from salestalk_lib.ops.connection import SalesTalk, connect
from salestalk_lib.ops.ingest import DEFAULT_METRIC_MODE
from salestalk_lib.testing.faults import FaultProfile, FaultProxy
from salestalk_lib.testing.samples import sample_messages, sample_metrics, write_jsonl

TENANT = "bench-tenant"
REPO = Path(__file__).resolve().parents[1]
FORMAT = 3
MB = 1024 * 1024


@dataclass(frozen=True)
class Goal:
    """A target the benchmark checks: `figure` (a key of `goal_figures`) compared with `target`."""

    id: str
    text: str
    op: str  # ">=" or "<="
    target: float
    unit: str
    label: str = ""
    """A short name for charts (the Benchmarks page's chart); `text` where none is given."""

    def met(self, value: float) -> bool:
        """Whether a measured `value` meets the goal."""
        return value >= self.target if self.op == ">=" else value <= self.target


GOALS = (
    Goal(
        "message_ingest_vs_transact_loop",
        "message ingest at least 3× as fast as a plain boto3 loop of one TransactWriteItems per message, "
        "on DynamoDB Local",
        ">=",
        3.0,
        "×",
        "messages vs a transaction per message",
    ),
    Goal(
        "metric_ingest_vs_batch_writer_behind_latency",
        "metric ingest (default mode) behind a 5 ms link at least 3× as fast as boto3's batch_writer "
        "(wall time of the command, start-up included), on DynamoDB Local",
        ">=",
        3.0,
        "×",
        "metrics behind 5 ms vs batch_writer",
    ),
    Goal(
        "validate_300k_messages_rss_mb",
        "`salestalk validate` of 300,000 messages: peak RSS",
        "<=",
        150.0,
        "MB",
        "validate 300,000: peak RSS",
    ),
    Goal(
        "ingest_60k_messages_rss_mb",
        "`salestalk ingest` of 60,000 messages: peak RSS",
        "<=",
        200.0,
        "MB",
        "ingest 60,000: peak RSS",
    ),
    Goal(
        "validation_records_per_cpu_s",
        "validation of message records on one core (records per CPU second of `salestalk validate`)",
        ">=",
        100_000.0,
        "records/s",
        "validation on one core",
    ),
)
MEMORY_GOAL_SIZES = {"validate": 300_000, "ingest": 60_000}
LATENCY_GOAL_MS = 5.0


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


# --- one measured run ------------------------------------------------------------------


@dataclass(frozen=True)
class Method:
    """One way of writing or validating records: `id`, what the tables call it, its data set, its baseline."""

    id: str
    name: str
    data: str  # "metrics" or "messages"
    worker: str  # the bench_worker method: cli, put_loop, batch_writer, transact_loop
    cli_args: tuple[str, ...] = ()
    baseline: bool = False
    link: bool = True  # behind the latency: through the slow link (False: straight to the engine)


METRIC_METHODS = (
    Method("put_loop", "boto3 put_item loop (a sample)", "metrics", "put_loop", baseline=True),
    Method("batch_writer", "boto3 batch_writer", "metrics", "batch_writer", baseline=True),
    Method("ingest_default", f"salestalk ingest (default: {DEFAULT_METRIC_MODE.value})", "metrics", "cli"),
    Method(
        "ingest_conditional",
        "salestalk ingest --metric-mode conditional",
        "metrics",
        "cli",
        ("--metric-mode", "conditional"),
    ),
    Method("ingest_batch", "salestalk ingest --metric-mode batch", "metrics", "cli", ("--metric-mode", "batch")),
    # Not a baseline to beat but the ceiling: the engine's own speed for race-free batched writes.
    Method(
        "transact_pool",
        "boto3 TransactWriteItems of 100 on 8 threads, unchecked (engine ceiling)",
        "metrics",
        "transact_pool",
    ),
)
MESSAGE_METHODS = (
    Method(
        "transact_loop", "boto3 TransactWriteItems loop (one per message)", "messages", "transact_loop", baseline=True
    ),
    Method("ingest_messages", "salestalk ingest (messages)", "messages", "cli"),
)
# The ceiling once more, with no link at all: what the engine alone takes for the same metrics.
NO_LINK = Method(
    "transact_pool_no_link",
    "boto3 TransactWriteItems of 100 on 8 threads, unchecked, straight to the engine (no link)",
    "metrics",
    "transact_pool",
    link=False,
)
LATENCY_METHODS = (*(m for m in METRIC_METHODS if m.id != "put_loop"), NO_LINK)
# The scaling runs are whole `salestalk ingest` commands of messages: warmed up by one such command.
SCALING_WARM_UP = MESSAGE_METHODS[1]
RATIO_BASES = {"metrics": ("batch_writer", "put_loop"), "messages": ("transact_loop",)}


def run_worker(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Run one `devtools.bench_worker` process; its own figures plus its wall time and peak RSS (from `wait4`)."""
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "devtools.bench_worker", str(spec_path), str(out_path)], cwd=REPO
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0 or not out_path.is_file():
            raise RuntimeError(f"bench worker {spec['method']} failed (exit {proc.returncode})")
        result = json.loads(out_path.read_text(encoding="utf-8"))
    return {
        "wall_s": round(wall, 3),
        "work_s": round(result["work_s"], 3),
        "cpu_user_s": round(result["cpu_user_s"], 3),
        "cpu_sys_s": round(result["cpu_sys_s"], 3),
        "maxrss_mb": round(usage.ru_maxrss * 1024 / MB, 1),  # Linux reports kilobytes
        "exit": result["exit"],
        "items": result["items"],
    }


def fresh(url: str, label: str) -> tuple[SalesTalk, str]:
    """A connection with a new table prefix and the tenant onboarded (ingestion writes for active tenants only)."""
    prefix = f"bench-{label}-{os.getpid()}-{time.monotonic_ns() % 10**9}-"
    st = connect(url, settings=Settings(table_prefix=prefix))
    st.tenants().onboard(TENANT, name="Benchmark tenant", owner_email="bench@example.com")
    return st, prefix


def count_items(st: SalesTalk, table: str, pk_prefix: str | None = None) -> int:
    """Items in `table` (whose pk starts with `pk_prefix`): a COUNT scan, verification only."""
    client = st.endpoint.client()
    params: dict[str, Any] = {"TableName": table, "Select": "COUNT"}
    if pk_prefix:
        params |= {"FilterExpression": "begins_with(pk, :p)", "ExpressionAttributeValues": {":p": {"S": pk_prefix}}}
    total = 0
    while True:
        page = client.scan(**params)
        total += page["Count"]
        if "LastEvaluatedKey" not in page:
            return total
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def drop_tables(st: SalesTalk) -> None:
    """Delete the tables `fresh` made, so a long-lived server does not carry every earlier run."""
    client = st.endpoint.client()
    for name in (
        st.settings.table_name(TableKind.MESSAGES, TENANT),
        st.settings.table_name(TableKind.METRICS, TENANT),
        st.settings.registry_table,
    ):
        try:
            client.delete_table(TableName=name)
        except client.exceptions.ResourceNotFoundException:
            pass


def measure(method: Method, files: Mapping[str, Path], counts: Mapping[str, int], url: str, write_url: str) -> dict:
    """One run of `method` against fresh tables: set up on `url`, written through `write_url`; verified after."""
    st, prefix = fresh(url, method.id.replace("_", ""))
    try:
        kind = TableKind.METRICS if method.data == "metrics" else TableKind.MESSAGES
        table = st.settings.table_name(kind, TENANT)
        items = counts[method.id] if method.id in counts else counts[method.data]
        spec: dict[str, Any] = {"method": method.worker, "file": str(files[method.data]), "items": items}
        if method.worker == "cli":
            spec["argv"] = [
                "ingest",
                str(files[method.data]),
                "--endpoint-url",
                write_url,
                "--table-prefix",
                prefix,
                "--no-progress",
                "--seed",
                "1",
                *method.cli_args,
            ]
        else:
            spec |= {"url": write_url, "region": st.endpoint.region, "table": table, "limit": items}
        sample = run_worker(spec)
        if sample["exit"] != 0:
            raise RuntimeError(f"{method.name} exited {sample['exit']}")
        stored = count_items(st, table, None if method.data == "metrics" else "MSGID#")
        if stored != items:
            raise RuntimeError(f"{method.name}: {items} records, but {stored} stored")
        sample["stored"] = stored
        return sample
    finally:
        drop_tables(st)


def summary(run: Mapping[str, Any]) -> dict[str, float]:
    """Medians of a run's samples and what follows from them: rates and client CPU per item.

    The pages and the goals use only this, so every figure shown is computed from the stored samples.
    """
    samples, items = run["samples"], run["items"]
    wall = statistics.median(s["wall_s"] for s in samples)
    work = statistics.median(s["work_s"] for s in samples)
    cpu = statistics.median(s["cpu_user_s"] + s["cpu_sys_s"] for s in samples)
    return {
        "items": items,
        "wall_s": wall,
        "work_s": work,
        "per_s": items / work if work else float("inf"),
        "per_s_wall": items / wall if wall else float("inf"),
        "cpu_us_per_item": cpu / items * 1e6 if items else 0.0,
        "maxrss_mb": max(s["maxrss_mb"] for s in samples),
    }


def ratios(runs: Sequence[Mapping[str, Any]], *, wall: bool = False) -> dict[str, dict[str, float]]:
    """method id -> {baseline id: its rate / the baseline's} (work time, or whole-command time when `wall`)."""
    rate = {r["id"]: summary(r)["per_s_wall" if wall else "per_s"] for r in runs}
    data = {r["id"]: r["data"] for r in runs}
    out: dict[str, dict[str, float]] = {}
    for r in runs:
        if r.get("baseline"):
            continue
        out[r["id"]] = {b: rate[r["id"]] / rate[b] for b in RATIO_BASES[data[r["id"]]] if rate.get(b)}
    return out


# --- goals ---------------------------------------------------------------------------


def goal_figures(results: Mapping[str, Any]) -> dict[str, float | None]:
    """Each goal's measured figure, computed from the stored samples; None when the run did not measure it."""
    figures: dict[str, float | None] = {g.id: None for g in GOALS}
    for entry in results.get("throughput", []):
        if entry["engine"] == DYNAMODB_LOCAL:
            ratio = ratios(entry["runs"]).get("ingest_messages", {}).get("transact_loop")
            figures["message_ingest_vs_transact_loop"] = ratio
    latency = results.get("latency")
    if latency and latency["engine"] == DYNAMODB_LOCAL and latency["latency_ms"] == LATENCY_GOAL_MS:
        ratio = ratios(latency["runs"], wall=True).get("ingest_default", {}).get("batch_writer")
        figures["metric_ingest_vs_batch_writer_behind_latency"] = ratio
    for row in results.get("memory", []):
        if row["command"] == "validate" and row["items"] >= MEMORY_GOAL_SIZES["validate"]:
            figures["validate_300k_messages_rss_mb"] = row["maxrss_mb"]
        if row["command"] == "ingest" and row["items"] >= MEMORY_GOAL_SIZES["ingest"]:
            figures["ingest_60k_messages_rss_mb"] = row["maxrss_mb"]
    validation = results.get("validation")
    if validation:
        cpu = validation["cpu_s"]
        figures["validation_records_per_cpu_s"] = validation["records"] / cpu if cpu else None
    return figures


def evaluate_goals(results: Mapping[str, Any]) -> list[tuple[Goal, float | None, bool]]:
    """(goal, measured figure or None, met) for every goal; a goal not measured is not met."""
    figures = goal_figures(results)
    return [(g, figures[g.id], figures[g.id] is not None and g.met(float(figures[g.id] or 0))) for g in GOALS]


# --- the run ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """How many records each measurement uses (`--quick` picks small ones)."""

    metrics: int
    put_loop: int
    messages: int
    latency_metrics: int
    scaling_validate: tuple[int, ...]
    scaling_ingest: tuple[int, ...]
    memory_goals: bool
    repeat: int


FULL = Sizes(
    metrics=10_000,
    put_loop=1_000,
    messages=3_000,
    latency_metrics=5_040,
    scaling_validate=(1_000, 10_000, 100_000),
    scaling_ingest=(1_000, 10_000, 100_000),
    memory_goals=True,
    repeat=3,
)
QUICK = Sizes(
    metrics=2_000,
    put_loop=300,
    messages=600,
    latency_metrics=1_000,
    scaling_validate=(1_000, 10_000),
    scaling_ingest=(500, 2_000),
    memory_goals=False,
    repeat=1,
)


@contextmanager
def server(engine: str) -> Iterator[str]:
    """A `salestalk serve --engine ENGINE` process for the block; yields its URL."""
    proc, url = start_server(engine)
    try:
        yield url
    finally:
        stop_server(proc)


REFERENCE_LOOP = 10_000_000


def reference_cpu_s(rounds: int = 3) -> float:
    """CPU seconds of a fixed pure-Python loop (`REFERENCE_LOOP` additions), the best of `rounds`.

    A rough gauge of how fast this machine ran Python code that day. Only a gauge: a tight loop
    does not see everything that slows a shared host (on 2026-12-03 it read normal while pydantic's
    `model_validate` ran 4.7× slower than the day before), so compare CPU figures across runs with care.
    """
    best = float("inf")
    for _ in range(rounds):
        start, total = time.process_time(), 0
        for n in range(REFERENCE_LOOP):
            total += n
        best = min(best, time.process_time() - start)
    return round(best, 3)


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (how busy the machine was)."""
    return [round(x, 2) for x in os.getloadavg()]


@dataclass(frozen=True)
class WarmUp:
    """What `warm_up` sends each fresh server before the timed runs."""

    metrics: int
    messages: int
    put_loop: int


WARM_UP = WarmUp(metrics=5_040, messages=600, put_loop=300)
QUICK_WARM_UP = WarmUp(metrics=1_000, messages=300, put_loop=100)


def warm_up(
    methods: Sequence[Method], directory: Path, warm: WarmUp, seed: int, url: str, write_url: str | None = None
) -> float:
    """Run each of `methods` once on a small set, untimed and discarded; the seconds it took.

    Each run is the timed run's own code path (`measure`: fresh tables, the worker process,
    the stored count verified), on `warm.metrics` metrics or `warm.messages` messages
    (`warm.put_loop` for the put loop's sample), through `write_url` when a method goes
    behind the link. Its figures are dropped: only the engine's warm state is kept.
    """
    metrics = directory / f"warm-metrics-{warm.metrics}.jsonl"
    if not metrics.exists():  # written once, read by every warm-up of the run
        write_jsonl(metrics, sample_metrics(TENANT, warm.metrics, seed=seed + 1))
    files = {"metrics": metrics, "messages": messages_file(directory, warm.messages, seed + 1)}
    counts = {"metrics": warm.metrics, "messages": warm.messages, "put_loop": min(warm.put_loop, warm.metrics)}
    started = time.perf_counter()
    for m in methods:
        measure(m, files, counts, url, write_url if (write_url and m.link) else url)
    seconds = time.perf_counter() - started
    print(f"  warm-up: every method once on {warm.metrics:,} metrics / {warm.messages:,} messages, {seconds:.1f}s")
    return round(seconds, 1)


def warm_up_text(results: Mapping[str, Any]) -> str | None:
    """The sentence saying how each fresh server was warmed up (None for results from before warm-ups)."""
    warm = results.get("warm_up")
    if not warm:
        return None
    return (
        f"Each fresh server was warmed up before its timed runs: every method once, untimed and discarded, on "
        f"{warm['metrics']:,} metrics or {warm['messages']:,} messages ({warm['put_loop']:,} for the put loop), "
        f"so no method pays the engine's start-up (DynamoDB Local's JIT) for the others."
    )


def write_data(directory: Path, sizes: Sizes, seed: int) -> dict[str, Path]:
    """The JSON-lines files every method reads, as `salestalk ingest` takes them."""
    files = {
        "metrics": write_jsonl(directory / "metrics.jsonl", sample_metrics(TENANT, sizes.metrics, seed=seed)),
        "messages": write_jsonl(
            directory / "messages.jsonl", sample_messages(TENANT, sizes.messages, seed=seed, sessions=50)
        ),
        "latency": write_jsonl(directory / "latency.jsonl", sample_metrics(TENANT, sizes.latency_metrics, seed=seed)),
    }
    return files


def messages_file(directory: Path, count: int, seed: int) -> Path:
    """A JSON-lines file of `count` messages (written once per size, in chunks to keep this process small)."""
    path = directory / f"messages-{count}.jsonl"
    if not path.exists():
        with path.open("w", encoding="utf-8") as out:
            done = 0
            while done < count:  # distinct sessions per chunk: every messageId stays unique
                chunk = min(20_000, count - done)
                for m in sample_messages(TENANT, chunk, seed=seed * 1_000 + done, sessions=max(10, chunk // 100)):
                    out.write(canonical_json(m.to_item()) + "\n")
                done += chunk
    return path


def command_run(argv: list[str], items: int) -> dict[str, Any]:
    """One `salestalk` command (in a worker process): its time, CPU and peak RSS."""
    sample = run_worker({"method": "cli", "argv": argv, "items": items})
    if sample["exit"] != 0:
        raise RuntimeError(f"salestalk {' '.join(argv[:1])} of {items} records exited {sample['exit']}")
    return sample


def scaled(command: str, path: Path, items: int, url: str) -> dict[str, Any]:
    """`salestalk validate` or `salestalk ingest` of `path` (fresh tables on `url` for ingest), as a table row."""
    if command == "validate":
        sample = command_run(["validate", str(path)], items)
    else:
        st, prefix = fresh(url, "scale")
        try:
            argv = [
                "ingest",
                str(path),
                "--endpoint-url",
                url,
                "--table-prefix",
                prefix,
                "--no-progress",
                "--seed",
                "1",
            ]
            sample = command_run(argv, items)
        finally:
            drop_tables(st)
    print(
        f"  {command} {items:,} messages: {sample['wall_s']:.2f}s, peak RSS {sample['maxrss_mb']:.0f} MB, "
        f"CPU {sample['cpu_user_s'] + sample['cpu_sys_s']:.2f}s"
    )
    return {"command": command, "data": "messages", "items": items, **sample}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, write the results file and its markdown summary."""
    parser = argparse.ArgumentParser(prog="python -m devtools.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        default=os.environ.get("BENCH_QUICK", "") not in ("", "0"),
        help="small sizes and one round (also BENCH_QUICK=1); goals that need a size are then not measured",
    )
    parser.add_argument("--repeat", type=int, help="interleaved rounds of each method (default: 3, quick 1)")
    parser.add_argument("--latency", type=float, default=LATENCY_GOAL_MS, help="milliseconds per request (default 5)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--engine",
        action="append",
        choices=ENGINES,
        dest="engines",
        help="measure throughput on this engine (repeatable; default: every engine)",
    )
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results.json")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    warm = QUICK_WARM_UP if args.quick else WARM_UP
    repeat = args.repeat or sizes.repeat
    if repeat < 1:
        parser.error("--repeat must be at least 1")
    engines = list(dict.fromkeys(args.engines or ENGINES))
    load_before = load_average()
    reference = reference_cpu_s()
    versions: dict[str, str] = {}
    for engine in dict.fromkeys([*engines, DYNAMODB_LOCAL]):  # fail now, not after the first round
        proc, _, versions[engine] = start_server_with_version(engine)
        stop_server(proc)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="salestalk-bench-") as tmp:
        directory = Path(tmp)
        files = write_data(directory, sizes, args.seed)
        counts = {"metrics": sizes.metrics, "messages": sizes.messages, "put_loop": min(sizes.put_loop, sizes.metrics)}
        methods = METRIC_METHODS + MESSAGE_METHODS
        samples: dict[tuple[str, str], list[dict[str, Any]]] = {(e, m.id): [] for e in engines for m in methods}
        latency_samples: dict[str, list[dict[str, Any]]] = {m.id: [] for m in LATENCY_METHODS}
        latency_files = {"metrics": files["latency"]}
        latency_counts = {"metrics": sizes.latency_metrics}
        warmed: list[dict[str, Any]] = []
        for n in range(repeat):  # interleaved, so a busy spell on the machine hits every method alike
            print(f"round {n + 1} of {repeat}: throughput")
            for engine in engines:
                with server(engine) as url:
                    warmed.append({"where": engine, "seconds": warm_up(methods, directory, warm, args.seed, url)})
                    for m in methods:
                        sample = measure(m, files, counts, url, url)
                        samples[(engine, m.id)].append(sample)
                        _print_sample(engine, m, sample)
            print(f"round {n + 1} of {repeat}: behind {args.latency:g} ms per request, on {DYNAMODB_LOCAL}")
            with server(DYNAMODB_LOCAL) as url, FaultProxy(url, FaultProfile(latency=args.latency)) as proxy:
                seconds = warm_up(LATENCY_METHODS, directory, warm, args.seed, url, proxy.url)
                warmed.append({"where": f"{DYNAMODB_LOCAL} +{args.latency:g}ms", "seconds": seconds})
                for m in LATENCY_METHODS:
                    sample = measure(m, latency_files, latency_counts, url, proxy.url if m.link else url)
                    latency_samples[m.id].append(sample)
                    _print_sample(f"{DYNAMODB_LOCAL} +{args.latency:g}ms", m, sample)
        print(f"scaling and memory, on {DYNAMODB_LOCAL}")
        scaling: list[dict[str, Any]] = []
        memory: list[dict[str, Any]] = []
        with server(DYNAMODB_LOCAL) as url:
            seconds = warm_up([SCALING_WARM_UP], directory, warm, args.seed, url)
            warmed.append({"where": f"{DYNAMODB_LOCAL} (scaling)", "seconds": seconds})
            for command, scale in (("validate", sizes.scaling_validate), ("ingest", sizes.scaling_ingest)):
                for size in scale:
                    scaling.append(scaled(command, messages_file(directory, size, args.seed), size, url))
            if sizes.memory_goals:
                for command, size in MEMORY_GOAL_SIZES.items():
                    done = [r for r in scaling if r["command"] == command and r["items"] == size]
                    memory.append(
                        done[0] if done else scaled(command, messages_file(directory, size, args.seed), size, url)
                    )
        validate_rows = [r for r in scaling + memory if r["command"] == "validate"]
        biggest = max(validate_rows, key=lambda r: r["items"])
        raw = run_worker(
            {"method": "model_validate", "file": str(messages_file(directory, biggest["items"], args.seed))}
        )
    validation = {
        "records": biggest["items"],
        "cpu_s": round(biggest["cpu_user_s"] + biggest["cpu_sys_s"], 3),
        "work_s": biggest["work_s"],
        "raw_model_validate_cpu_s": round(raw["cpu_user_s"] + raw["cpu_sys_s"], 3),
        "source": f"salestalk validate of {biggest['items']:,} messages (the largest validate run above), in-process "
        "CPU seconds; raw: pydantic Message.model_validate of the same lines after json.loads",
    }

    def entry(engine: str, ms: Sequence[Method], got: Callable[[Method], list[dict[str, Any]]]) -> list[dict]:
        return [
            {
                "id": m.id,
                "name": m.name,
                "data": m.data,
                "baseline": m.baseline,
                "items": got(m)[0]["items"],
                "samples": got(m),
            }
            for m in ms
        ]

    results = {
        "format": FORMAT,
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "command": "BENCH_QUICK=1 make bench  (python -m devtools.bench --quick)"
        if args.quick
        else "make bench  (python -m devtools.bench)",
        "quick": args.quick,
        "repeats": repeat,
        "seconds": round(time.perf_counter() - started),
        "environment": {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "boto3": boto3.__version__,
            # Other work on the machine slows every method; the load says how busy it was.
            "load_average_before": " / ".join(map(str, load_before)),
            "load_average_after": " / ".join(map(str, load_average())),
            "reference_cpu_s": [reference, reference_cpu_s()],  # before and after the run
            "note": "a shared machine busy with other work: figures are noisy; ratios within one run and "
            "CPU per item (which the server's speed does not enter) are the comparable figures",
        },
        "engines": {e: versions[e] for e in versions},
        "throughput": [
            {
                "engine": engine,
                "version": versions[engine],
                "server": f"salestalk serve --engine {engine}, own process, fresh per round",
                "runs": entry(engine, methods, lambda m, e=engine: samples[(e, m.id)]),
            }
            for engine in engines
        ],
        "latency": {
            "engine": DYNAMODB_LOCAL,
            "version": versions[DYNAMODB_LOCAL],
            "latency_ms": args.latency,
            "proxy": f"FaultProxy(latency={args.latency:g}) on loopback in the benchmark's process, in front of "
            "salestalk serve --engine dynamodb-local",
            "runs": entry(DYNAMODB_LOCAL, LATENCY_METHODS, lambda m: latency_samples[m.id]),
        },
        "warm_up": {**asdict(warm), "runs": warmed},
        "scaling": scaling,
        "memory": memory,
        "validation": validation,
        "goals": [{"id": g.id, "text": g.text, "op": g.op, "target": g.target, "unit": g.unit} for g in GOALS],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    markdown = render_markdown(results)
    args.out.with_suffix(".md").write_text(markdown, encoding="utf-8")
    print()
    print(markdown)
    print(f"written: {args.out} and {args.out.with_suffix('.md')}")
    return 0


def _print_sample(where: str, method: Method, s: Mapping[str, Any]) -> None:
    cpu = (s["cpu_user_s"] + s["cpu_sys_s"]) / s["items"] * 1e6
    print(
        f"  {where}, {method.name}: {s['items']:,} in {s['work_s']:.2f}s (command {s['wall_s']:.2f}s) "
        f"= {s['items'] / s['work_s']:,.0f}/s, client CPU {cpu:,.0f} µs/item"
    )


# --- rendering (the docs' Benchmarks page is site_docs.benchmarks_page, built from the same tables) ---------


def _fmt_goal(goal: Goal, value: float | None) -> str:
    if value is None:
        return "not measured"
    if goal.unit == "×":
        return f"{value:.2f}×"
    if goal.unit == "MB":
        return f"{value:,.0f} MB"
    return f"{value:,.0f} {goal.unit}"


def goal_rows(results: Mapping[str, Any]) -> list[list[str]]:
    """The goals table: goal, target, measured, verdict (computed from the samples, never stored)."""
    rows = []
    for goal, value, ok in evaluate_goals(results):
        target = f"{goal.op.replace('>=', '≥').replace('<=', '≤')} {_fmt_goal(goal, goal.target)}"
        verdict = "met" if ok else ("**not met** (not measured in this run)" if value is None else "**not met**")
        rows.append([goal.text, target, _fmt_goal(goal, value), verdict])
    return rows


def method_rows(runs: Sequence[Mapping[str, Any]], *, wall: bool = False) -> list[list[str]]:
    """One row per method: items, median time, rate, ratios to the baselines, client CPU per item, every sample."""
    rel = ratios(runs, wall=wall)
    rows = []
    for r in runs:
        s = summary(r)
        against = ", ".join(f"{v:.2f}× {b.replace('_', ' ')}" for b, v in rel.get(r["id"], {}).items()) or "baseline"
        rows.append(
            [
                r["name"],
                f"{s['items']:,}",
                f"{s['wall_s' if wall else 'work_s']:.2f}",
                f"{s['per_s_wall' if wall else 'per_s']:,.0f}",
                against,
                f"{s['cpu_us_per_item']:,.0f}",
                ", ".join(f"{x['wall_s' if wall else 'work_s']:.2f}" for x in r["samples"]),
            ]
        )
    return rows


METHOD_HEADERS = ["method", "items", "seconds", "items/s", "ratio", "client CPU µs/item", "every run (s)"]


def scaling_rows(results: Mapping[str, Any]) -> list[list[str]]:
    """The scaling table: command, records, time and peak RSS of the child process."""
    return [
        [
            f"salestalk {r['command']}",
            f"{r['items']:,}",
            f"{r['wall_s']:.2f}",
            f"{r['maxrss_mb']:,.0f}",
            f"{(r['cpu_user_s'] + r['cpu_sys_s']) / r['items'] * 1e6:,.0f}",
        ]
        for r in sorted(results.get("scaling", []), key=lambda r: (r["command"] != "validate", r["items"]))
    ]


SCALING_HEADERS = ["command", "messages", "seconds", "peak RSS (MB)", "CPU µs/record"]


def md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A markdown table (numbers right-aligned by the reader's eye; kept plain for the summary file)."""
    return [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
    ]


def reference_text(cpu_s: Sequence[float]) -> str:
    """The machine's speed in words, from `reference_cpu_s` before and after the run."""
    before, after = cpu_s
    return (
        f"A fixed pure-Python loop ({REFERENCE_LOOP:,} additions) took {before:.2f} CPU s on this machine before the "
        f"run and {after:.2f} after: a rough gauge of the machine's speed that day (CPU figures of runs on other "
        "days compare only with care)."
    )


def ceiling_note(results: Mapping[str, Any]) -> str | None:
    """What the engine's own ceiling says of the latency goal, computed from the latency samples (or None).

    `transact_pool` writes the same metrics race-free in transactions of 100 on 8 threads with nothing
    checked: no library path that keeps per-item outcomes can beat it on that engine and machine.
    """
    lat = results.get("latency")
    if not lat:
        return None
    rel = ratios(lat["runs"], wall=True)
    ceiling = rel.get("transact_pool", {}).get("batch_writer")
    default = rel.get("ingest_default", {}).get("batch_writer")
    if ceiling is None or default is None:
        return None
    goal = next(g for g in GOALS if g.id == "metric_ingest_vs_batch_writer_behind_latency")
    text = (
        f"The engine's ceiling (TransactWriteItems of 100 on 8 threads, nothing checked) ran {ceiling:.2f}× "
        f"batch_writer in this run; the default metric path {default:.2f}×, {default / ceiling:.0%} of that ceiling."
    )
    by_id = {r["id"]: r for r in lat["runs"]}
    engine_too_slow = False
    if NO_LINK.id in by_id and "batch_writer" in by_id:
        alone = summary(by_id[NO_LINK.id])["wall_s"]
        need = summary(by_id["batch_writer"])["wall_s"] / goal.target
        engine_too_slow = alone > need
        text += (
            f" Sent straight to the engine, with no link at all, the same transactions took {alone:.2f} s (the whole "
            f"command); the goal asks {need:.2f} s of the whole command behind the link."
        )
    if ceiling < goal.target or engine_too_slow:
        text += (
            f" The {goal.target:g}× goal is out of reach of any race-free batched writer on this engine and "
            "machine: the engine's write rate, not the link, bounds it."
        )
    return text


def render_markdown(results: Mapping[str, Any]) -> str:
    """The results as a markdown summary (benchmarks/results.md)."""
    env = results["environment"]
    lines = [
        "# Benchmark",
        "",
        f"{results['date']}, `{results['command']}`, {results['repeats']} round(s), {env['cpus']} CPUs, load average "
        f"{env['load_average_before']} before and {env['load_average_after']} after. {env['note']}."
        + (f" {reference_text(env['reference_cpu_s'])}" if "reference_cpu_s" in env else ""),
        "",
        "## Goals",
        "",
        *md_table(["goal", "target", "measured", "verdict"], goal_rows(results)),
    ]
    for entry in results["throughput"]:
        lines += [f"## Throughput on {entry['engine']} {entry['version']}", ""]
        lines += md_table(METHOD_HEADERS, method_rows(entry["runs"]))
    lat = results["latency"]
    lines += [f"## Behind {lat['latency_ms']:g} ms per request ({lat['engine']}; whole commands)", ""]
    lines += md_table(METHOD_HEADERS, method_rows(lat["runs"], wall=True))
    if note := ceiling_note(results):
        lines += [note, ""]
    lines += ["## Scaling", "", *md_table(SCALING_HEADERS, scaling_rows(results))]
    if text := warm_up_text(results):
        lines += [text, ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
