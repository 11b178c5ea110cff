"""Measure validation: `python -m devtools.validation_bench [--counts 1000,10000,100000,300000]`.

For each count, a file of that many generated messages (JSON lines, and a JSON array
with `--formats jsonl,json`) is validated by `StreamingInput(...).validate()` (what
`salestalk validate` runs) in a fresh subprocess, which reports:

- `records_per_s`: records over the CPU time (user + system, `getrusage`) of the
  validation alone, so the figure is one core's rate whatever else the machine runs;
  `wall_records_per_s` beside it;
- `peak_rss_mb`: the subprocess's peak resident set (`ru_maxrss`), and `start_rss_mb`,
  its peak after the imports, before the first record is read.

Beside them, the raw rate of pydantic-core on the same records: `Message.from_item`
(`model_validate` with the contract's options) on records already decoded, which is
the floor that reading, recognising and cross-checking records add to. `measure` and
`raw_rate` are what `devtools/bench.py` can call; nothing here asserts a goal.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from salestalk_lib.contract.models import canonical_json
from salestalk_lib.testing.samples import sample_messages

TENANT = "bench-tenant"
DEFAULT_COUNTS = (1_000, 10_000, 100_000, 300_000)
GOAL_RECORDS_PER_S = 100_000
GOAL_PEAK_RSS_MB_300K = 150
_CHUNK = 10_000


def write_messages(path: Path, count: int, *, fmt: str = "jsonl") -> Path:
    """Write `count` distinct valid messages to `path` (JSON lines, or a JSON array with `fmt="json"`), in chunks."""
    with path.open("w", encoding="utf-8") as out:
        if fmt == "json":
            out.write("[\n")
        written = 0
        for seed in range(0, count, _CHUNK):
            # Each chunk draws its ids from its own seed: ids (and so keys) never repeat across chunks.
            for message in sample_messages(TENANT, min(_CHUNK, count - seed), seed=seed, sessions=20):
                line = canonical_json(message.to_item())
                if fmt == "json":
                    line = ("" if written == 0 else ",\n") + line
                else:
                    line += "\n"
                out.write(line)
                written += 1
        if fmt == "json":
            out.write("\n]\n")
    return path


def _child(path: str) -> dict[str, Any]:
    """Validate `path` in this process; the figures `measure` reports."""
    import resource
    import time

    from salestalk_lib.contract.validation import StreamingInput

    start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    before = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.perf_counter()
    report = StreamingInput([path]).validate()
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "records": report.checked,
        "violations": len(report.violations),
        "cpu_s": round(cpu, 3),
        "wall_s": round(wall, 3),
        "records_per_s": round(report.checked / cpu) if cpu else None,
        "wall_records_per_s": round(report.checked / wall) if wall else None,
        "start_rss_mb": round(start_rss / 1024, 1),
        "peak_rss_mb": round(after.ru_maxrss / 1024, 1),
    }


def measure(count: int, *, fmt: str = "jsonl", workdir: Path | None = None) -> dict[str, Any]:
    """Validate a generated file of `count` messages in a fresh subprocess: rate, CPU, wall time and peak RSS."""
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        path = write_messages(Path(tmp) / f"messages.{fmt}", count, fmt=fmt)
        done = subprocess.run(
            [sys.executable, "-m", "devtools.validation_bench", "--child", str(path)],
            check=True,
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parents[1],
        )
    result: dict[str, Any] = json.loads(done.stdout)
    return {"count": count, "format": fmt, **result}


def raw_rate(count: int = 20_000) -> dict[str, Any]:
    """pydantic-core alone: `Message.from_item` on `count` decoded records, CPU time (this process)."""
    import resource

    from salestalk_lib.contract.models import Message
    from salestalk_lib.contract.validation import parse_json

    records = [
        parse_json(canonical_json(m.to_item()))
        for seed in range(0, count, _CHUNK)
        for m in sample_messages(TENANT, min(_CHUNK, count - seed), seed=seed, sessions=20)
    ]
    best = None
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_SELF)
        for record in records:
            Message.from_item(record)
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best = cpu if best is None else min(best, cpu)
    assert best is not None
    return {"count": count, "cpu_s": round(best, 3), "records_per_s": round(count / best) if best else None}


def main(argv: Sequence[str] | None = None) -> int:
    """Print the validation rate and peak RSS per count (and pydantic-core's raw rate) as a table and JSON."""
    parser = argparse.ArgumentParser(prog="python -m devtools.validation_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", default=",".join(map(str, DEFAULT_COUNTS)), help="comma-separated record counts")
    parser.add_argument("--formats", default="jsonl", help="comma-separated: jsonl, json (a JSON array)")
    parser.add_argument("--raw", type=int, default=20_000, help="records for the raw model_validate rate (0: skip)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON only")
    parser.add_argument("--child", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child)))
        return 0
    counts = [int(c) for c in args.counts.split(",") if c]
    formats = [f for f in args.formats.split(",") if f]
    rows = [measure(count, fmt=fmt) for fmt in formats for count in counts]
    raw = raw_rate(args.raw) if args.raw else None
    if args.json:
        print(json.dumps({"validation": rows, "raw_model_validate": raw}, indent=2))
        return 0
    print(f"{'format':6} {'records':>9} {'rec/s (CPU)':>12} {'rec/s (wall)':>12} {'start RSS':>10} {'peak RSS':>9}")
    for r in rows:
        print(
            f"{r['format']:6} {r['count']:>9,} {r['records_per_s']:>12,} {r['wall_records_per_s']:>12,} "
            f"{r['start_rss_mb']:>8} MB {r['peak_rss_mb']:>6} MB"
        )
    if raw:
        print(f"raw Message.from_item (pydantic-core): {raw['records_per_s']:,} records/s on {raw['count']:,} records")
    print(f"goals: >= {GOAL_RECORDS_PER_S:,} records/s; peak RSS <= {GOAL_PEAK_RSS_MB_300K} MB at 300,000 messages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
