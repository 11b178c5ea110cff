"""Peak memory of `salestalk ingest`: `python -m devtools.ingest_memory_bench [--counts 1000,10000,60000]`.

Starts `salestalk serve` (moto by default: the client's memory is what counts, and the
engine runs in its own process), provisions the deployment, and for each count onboards a
tenant of its own, writes that many generated messages (20 messages a session) as JSON
lines and runs `salestalk ingest FILE --no-progress` in a child process, whose peak
resident set is read with `os.wait4` (`ru_maxrss`). Prints one JSON line per count:
records, exit code, wall seconds, client CPU seconds and peak RSS in MB. Nothing here
asserts a goal (the goal, ingest of 60,000 messages ≤ 200 MB and flat in the count, is
`GOAL_PEAK_RSS_MB_60K`).
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

from salestalk_lib.contract.models import canonical_json
from salestalk_lib.testing.samples import sample_messages

DEFAULT_COUNTS = (1_000, 10_000, 60_000)
GOAL_PEAK_RSS_MB_60K = 200
_CHUNK = 10_000
_CLI = [sys.executable, "-c", "import sys; from salestalk_lib.cli import main; sys.exit(main())"]


def write_messages(path: Path, tenant_id: str, count: int) -> Path:
    """`count` distinct valid messages of `tenant_id` as JSON lines, generated a chunk at a time."""
    with path.open("w", encoding="utf-8") as out:
        for seed in range(0, count, _CHUNK):
            n = min(_CHUNK, count - seed)
            for message in sample_messages(tenant_id, n, seed=seed, sessions=max(1, n // 20)):
                out.write(canonical_json(message.to_item()) + "\n")
    return path


def run_child(args: Sequence[str], env: dict[str, str]) -> dict[str, Any]:
    """Run `args`; its exit code, wall and CPU seconds and peak RSS (`os.wait4`), and the tail of its output."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(list(args), stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        tail = out.read().decode(errors="replace")[-600:]
    return {
        "exit": proc.returncode,
        "seconds": round(time.perf_counter() - started, 2),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "tail": tail,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Measure each count and print one JSON line per count."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", default=",".join(map(str, DEFAULT_COUNTS)))
    parser.add_argument("--engine", default="moto", choices=["moto", "dynamodb-local"])
    parser.add_argument("--extra", default="", help="extra arguments of `salestalk ingest`, space-separated")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.counts.split(",")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALESTALK_")}
    server = subprocess.Popen(
        [*_CLI, "serve", "--engine", args.engine],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**env, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert server.stdout is not None
        for line in server.stdout:  # `export NAME=value ...   # comment` lines; the credentials come last
            if line.strip().startswith("export "):
                for token in line.split("#")[0].split()[1:]:
                    name, _, value = token.partition("=")
                    env[name] = value
            if "AWS_ACCESS_KEY_ID" in env and "AWS_ENDPOINT_URL_DYNAMODB" in env:
                break
        if "AWS_ENDPOINT_URL_DYNAMODB" not in env:
            raise SystemExit("salestalk serve printed no endpoint")
        conn: list[str] = []
        subprocess.run([*_CLI, "provision", *conn], check=True, env=env, capture_output=True)
        with tempfile.TemporaryDirectory() as work:
            for count in counts:
                tenant = f"mem-bench-{count}"
                subprocess.run(
                    [
                        *_CLI,
                        "tenant",
                        "add",
                        tenant,
                        "--name",
                        tenant,
                        "--owner-email",
                        f"o@{tenant}.example.com",
                        *conn,
                    ],
                    check=True,
                    env=env,
                    capture_output=True,
                )
                path = write_messages(Path(work) / f"{count}.jsonl", tenant, count)
                result = run_child([*_CLI, "ingest", str(path), "--no-progress", *conn, *args.extra.split()], env)
                tail = result.pop("tail")
                print(json.dumps({"records": count, "engine": args.engine, **result}), flush=True)
                if result["exit"] != 0:
                    print(tail, file=sys.stderr)
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stdout is not None:
            server.stdout.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
