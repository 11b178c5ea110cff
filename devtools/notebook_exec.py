"""Execute notebooks reproducibly: `python -m devtools.notebook_exec [--out DIR] NOTEBOOK...`.

Executes each notebook top to bottom with nbclient in the current environment's
`python3` kernel, without per-cell timing metadata, and writes it back (or into
`--out`). Stored outputs are what `pytest --nbval` compares against, so this is
how notebooks are saved after an edit.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import nbformat
from nbclient import NotebookClient

KERNEL = "python3"
# The repository root: a notebook may use the repository's own tooling (notebook 06 runs
# devtools.isolation), which is no part of the installed package.
REPO = Path(__file__).resolve().parents[1]


def kernel_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """`env` (default: this process's environment) with the repository root on PYTHONPATH."""
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    return env


def _scrub(nb: nbformat.NotebookNode) -> None:
    """Drop what varies between runs and says nothing: timings, widget state, kernel versions."""
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": KERNEL}
    nb.metadata["language_info"] = {"name": "python"}
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.metadata.pop("collapsed", None)
            cell.outputs = _coalesced(cell.outputs)


def _coalesced(outputs: list) -> list:
    """Consecutive stream outputs of one stream as one: how the kernel chunked a print varies between runs."""
    merged: list = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (
            output.output_type == "stream"
            and previous is not None
            and previous.output_type == "stream"
            and previous.name == output.name
        ):
            previous.text += output.text
        else:
            merged.append(output)
    return merged


def execute(path: Path, out: Path | None = None, *, env: Mapping[str, str] | None = None, timeout: int = 600) -> Path:
    """Run one notebook and save it (in place unless `out` is given); returns where it was saved."""
    nb = nbformat.read(path, as_version=4)
    workdir = path.resolve().parent
    client = NotebookClient(
        nb, timeout=timeout, kernel_name=KERNEL, record_timing=False, resources={"metadata": {"path": str(workdir)}}
    )
    # These reach jupyter_client's start_kernel: the kernel gets exactly `env` (plus the
    # repository on PYTHONPATH), and its own stderr chatter (the "running over TCP" notice)
    # stays out of the terminal. Cell errors still arrive as messages and fail the run.
    kernel_args: dict = {"stderr": subprocess.DEVNULL, "env": kernel_env(env)}
    client.execute(**kernel_args)
    _scrub(nb)
    target = out if out is not None else path
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return target


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.notebook_exec", description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, help="write executed copies here instead of in place")
    args = parser.parse_args(argv)
    for path in args.notebooks:
        target = execute(path, args.out / path.name if args.out else None)
        print(f"executed {path} -> {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
