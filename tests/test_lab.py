"""`make lab`: JupyterLab as root and headless, on 127.0.0.1:LAB_PORT only, installing nothing on start.

The test starts the very command `make lab` runs (`python -m devtools.lab --port N`), waits for
it to answer on 127.0.0.1, checks from the kernel's socket table that nothing listens on that
port but 127.0.0.1, and stops it.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from devtools.lab import DEFAULT_PORT, HOST, lab_command, lab_port
from devtools.notebook_exec import kernel_env

ROOT = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT = 180  # seconds: a readiness bound on a loaded machine, not a speed goal


def _recipe(target: str) -> list[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    match = re.search(rf"^{target}:([^\n]*)\n((?:\t[^\n]*\n)+)", text, re.M)
    assert match, f"no {target} target"
    return [match.group(1).strip(), *(line.strip() for line in match.group(2).splitlines())]


def test_make_lab_runs_devtools_lab_on_lab_port_and_installs_nothing():
    prerequisites, *recipe = _recipe("lab")
    assert prerequisites == "install"  # the install stamp only
    assert recipe == ["$(BIN)/python -m devtools.lab --port $(LAB_PORT)"]
    assert re.search(r"^LAB_PORT \?= 8888$", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M)


def test_the_command_line_is_loopback_only_headless_and_allowed_as_root():
    command = lab_command(9999, ROOT / "notebooks", python="python3")
    assert command[:3] == ["python3", "-m", "jupyterlab"]
    for flag in ("--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1", "--ServerApp.port=9999"):
        assert flag in command
    assert "--ServerApp.port_retries=0" in command  # exactly LAB_PORT, never a neighbour


def test_lab_port_comes_from_the_environment():
    assert lab_port({}) == DEFAULT_PORT == 8888
    assert lab_port({"LAB_PORT": "9123"}) == 9123
    for bad in ("0", "65536", "http", "８８８８"):
        with pytest.raises(SystemExit, match="LAB_PORT"):
            lab_port({"LAB_PORT": bad})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/api/status", timeout=5):
            return True
    except urllib.error.HTTPError:
        return True  # 403 without a token is still JupyterLab answering
    except OSError:
        return False


def _listening(port: int) -> list[str]:
    """Local addresses of every TCP socket in LISTEN state on `port`, from /proc/net/tcp and tcp6."""
    found = []
    for name, width in (("tcp", 8), ("tcp6", 32)):
        path = Path("/proc/net") / name
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A: TCP_LISTEN
                raw = bytes.fromhex(address)
                if width == 8:
                    found.append(socket.inet_ntop(socket.AF_INET, raw[::-1]))
                else:
                    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                    found.append(socket.inet_ntop(socket.AF_INET6, words))
    return found


def _other_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback (the route out, and the host name's)."""
    addresses = set()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent by a UDP connect
            addresses.add(s.getsockname()[0])
        except OSError:
            pass
    try:
        addresses.update(info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET))
    except OSError:
        pass
    return sorted(a for a in addresses if not a.startswith("127."))


def test_make_lab_command_answers_on_loopback_only_and_stops(tmp_path):
    port = _free_port()
    env = kernel_env()
    # Jupyter's own state in the test's directory: no user config changes what is tested, nothing is left behind.
    for var in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        env[var] = str(tmp_path / var.lower())
    env.pop("DISPLAY", None)  # headless
    env.pop("BROWSER", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "devtools.lab", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not _answers(port):
            if proc.poll() is not None:
                pytest.fail(f"the lab exited with {proc.returncode}:\n{proc.stdout.read() if proc.stdout else ''}")
            if time.monotonic() > deadline:
                pytest.fail(f"the lab did not answer on {HOST}:{port} within {STARTUP_TIMEOUT} s")
            time.sleep(0.5)
        assert _listening(port) == [HOST]
        for address in _other_addresses():
            with socket.socket() as s:
                s.settimeout(5)
                assert s.connect_ex((address, port)) != 0, f"the lab answers on {address}:{port}"
        if os.geteuid() == 0:
            assert proc.poll() is None  # running as root: --allow-root
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            output, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
    assert f"==> JupyterLab on http://{HOST}:{port}/lab" in output
    assert "No web browser found" not in output and "Traceback" not in output
    assert not _answers(port)
