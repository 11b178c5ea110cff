"""`make lab`: JupyterLab on the notebooks, on 127.0.0.1:LAB_PORT only (`python -m devtools.lab [--port N]`).

The command line (`lab_command`) is the one `make lab` runs and tests/test_lab.py starts:

- `--ServerApp.ip=127.0.0.1` and `--ServerApp.port_retries=0`: it listens on the loopback
  interface only, on exactly the port asked for (a busy port is an error, not another port);
- `--no-browser`: on a headless machine (a container, a server over SSH) there is no browser
  to open, which is not an error; open the URL it prints (with its token) yourself;
- `--allow-root`: Jupyter refuses to start as root without it, and containers often run as root.

The package is installed by `make install` (its stamp); starting the lab installs nothing.
The kernels get the repository root on PYTHONPATH (notebook 06 uses devtools.isolation).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from devtools.notebook_exec import kernel_env

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
LAB_PORT_ENV = "LAB_PORT"
DEFAULT_PORT = 8888
HOST = "127.0.0.1"


def lab_port(env: dict[str, str] | None = None) -> int:
    """`LAB_PORT` from the environment (default 8888); anything but a port 1-65535 is a SystemExit naming it."""
    text = (os.environ if env is None else env).get(LAB_PORT_ENV) or str(DEFAULT_PORT)
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 65535:
        raise SystemExit(f"{LAB_PORT_ENV}={text!r}: must be a TCP port from 1 to 65535")
    return int(text)


def lab_command(port: int, notebook_dir: Path = NOTEBOOKS, *, python: str = sys.executable) -> list[str]:
    """The JupyterLab command line: loopback only, on `port` exactly, no browser, allowed as root."""
    return [
        python,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        f"--ServerApp.ip={HOST}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={notebook_dir}",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Replace this process with JupyterLab (Ctrl-C stops it)."""
    parser = argparse.ArgumentParser(prog="python -m devtools.lab", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--port", type=int, default=None, help=f"TCP port (default: {LAB_PORT_ENV}, else {DEFAULT_PORT})"
    )
    args = parser.parse_args(argv)
    port = args.port if args.port is not None else lab_port()
    command = lab_command(port)
    print(f"==> JupyterLab on http://{HOST}:{port}/lab (loopback only; open the URL with the token it prints)")
    sys.stdout.flush()
    os.execve(command[0], command, kernel_env())
    return 0  # not reached: execve replaces the process


if __name__ == "__main__":
    sys.exit(main())
