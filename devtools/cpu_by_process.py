"""Where a command's CPU goes, by process: `python -m devtools.cpu_by_process -- make test`.

`make test` is CPU-bound on two cores, so its wall time is its CPU time shared out: the
question that decides what to make cheaper is which processes burn it (the pytest-xdist
workers with moto's in-thread servers, DynamoDB Local's JVMs, Chromium, the Node IAM
simulator, notebook kernels, the CLI subprocesses, mkdocs...), not which test is slowest.

The command runs as a child; every descendant is sampled from /proc (Linux) every
`--interval` seconds, its command line taken at first sight (a finished process has none).
A process's CPU is its utime + stime when last seen, so one that ends between two samples
loses at most an interval of it; the total from getrusage(RUSAGE_CHILDREN), exact, is printed
beside the sampled sum. Processes are grouped by what runs (the program, and the module,
script or jar it runs); `--top` groups are listed, the command's exit code is returned.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")
TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100  # ticks per second: /proc's CPU unit


@dataclass
class Seen:
    """One process as last sampled."""

    argv: list[str]
    cpu: float = 0.0  # utime + stime, seconds


def read_stat(pid: int, proc: Path = PROC) -> tuple[int, str, float] | None:
    """(parent pid, start time in ticks as a string, CPU seconds) of a live (or zombie) process, or None."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces and ")"
    return int(fields[1]), fields[19], (int(fields[11]) + int(fields[12])) / TICK


def read_argv(pid: int, proc: Path = PROC) -> list[str]:
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def label(argv: list[str]) -> str:
    """What a process runs, for grouping: `python -m mkdocs`, `java DynamoDBLocal.jar`, `node evaluate.mjs`."""
    if not argv:
        return "(ended before it was seen)"
    program = os.path.basename(argv[0])
    args = argv[1:]
    if program.startswith("python"):
        for i, arg in enumerate(args):
            if arg == "-m" and i + 1 < len(args):
                return f"python -m {args[i + 1]}"
            if arg == "-c":
                return "python -c (pytest-xdist workers, kernels' helpers...)"
            if not arg.startswith("-"):
                return f"python {os.path.basename(arg)}"
        return "python"
    if program == "java":
        jar = next((args[i + 1] for i, a in enumerate(args[:-1]) if a == "-jar"), "")
        return f"java {os.path.basename(jar)}".strip()
    if program == "node":
        script = next((a for a in args if not a.startswith("-")), "")
        return f"node {os.path.basename(script)}".strip()
    if "chrom" in program:
        return "chromium"
    return program


@dataclass
class Sampler:
    """Samples the descendants of `root` (a pid) in /proc."""

    root: int
    proc: Path = PROC
    seen: dict[tuple[int, str], Seen] = field(default_factory=dict)

    def sample(self) -> None:
        stats: dict[int, tuple[int, str, float]] = {}
        for entry in self.proc.iterdir():
            if entry.name.isdigit() and (stat := read_stat(int(entry.name), self.proc)) is not None:
                stats[int(entry.name)] = stat
        parents = {pid: stat[0] for pid, stat in stats.items()}
        for pid, (_, started, cpu) in stats.items():
            if not self._descends(pid, parents):
                continue
            key = (pid, started)  # a pid may be reused: its start time tells the processes apart
            if key not in self.seen:
                self.seen[key] = Seen(read_argv(pid, self.proc))
            self.seen[key].cpu = max(self.seen[key].cpu, cpu)

    def _descends(self, pid: int, parents: dict[int, int]) -> bool:
        hops = 0
        while pid not in (0, 1) and hops < 64:
            if pid == self.root:
                return True
            pid, hops = parents.get(pid, 0), hops + 1
        return False

    def groups(self) -> dict[str, tuple[int, float]]:
        """label -> (processes, CPU seconds)."""
        out: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
        for seen in self.seen.values():
            group = out[label(seen.argv)]
            group[0] += 1
            group[1] += seen.cpu
        return {name: (int(n), cpu) for name, (n, cpu) in out.items()}


def report(groups: dict[str, tuple[int, float]], wall: float, exact: float, top: int) -> Iterable[str]:
    sampled = sum(cpu for _, cpu in groups.values())
    yield f"wall {wall:.1f} s; CPU {exact:.1f} s in all (getrusage), {sampled:.1f} s sampled by process"
    yield f"{'CPU s':>8} {'share':>6} {'procs':>5}  what"
    for name, (n, cpu) in sorted(groups.items(), key=lambda kv: -kv[1][1])[:top]:
        yield f"{cpu:8.1f} {cpu / sampled if sampled else 0:6.1%} {n:5}  {name}"


def run(command: list[str], interval: float, top: int, write: Callable[[str], object] = print) -> int:
    started = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        child = subprocess.Popen(command)
    except OSError as exc:  # not found, not executable: say so, like a shell
        write(f"cannot run {command[0]!r}: {exc.strerror}")
        return 127
    sampler = Sampler(child.pid)
    try:
        while child.poll() is None:
            sampler.sample()
            time.sleep(interval)
    except KeyboardInterrupt:
        child.wait()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    exact = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    for line in report(sampler.groups(), time.monotonic() - started, exact, top):
        write(line)
    return child.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.cpu_by_process",
        description="Run a command and report its CPU by process (Linux /proc), e.g. -- make test.",
    )
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between samples (default 0.2)")
    parser.add_argument("--top", type=int, default=25, help="groups to list (default 25)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --, e.g. -- make test")
    if not PROC.is_dir():
        parser.error("needs Linux's /proc")
    return run(command, args.interval, args.top)


if __name__ == "__main__":
    sys.exit(main())
