"""Fault injection on the real HTTP path: a small proxy in front of a DynamoDB endpoint.

`FaultProxy(upstream_url, profile)` listens on 127.0.0.1 and forwards every
request to the upstream endpoint (the embedded moto server, or any other),
except that, per DynamoDB data-plane request and by a seeded random draw, it
injects one fault (`FAULT_KINDS` says what each does and whether the request
was applied upstream):

| kind | client sees | applied upstream? |
|---|---|---|
| `throttle` | 400 ThrottlingException / ProvisionedThroughputExceededException / RequestLimitExceeded | no |
| `error5xx` | 500 InternalServerError or 503 ServiceUnavailable | no |
| `reset` | the connection is reset before any answer | no |
| `timeout` | no answer until the client's read timeout fires | no |
| `lost` | the connection is reset *after* the upstream answered | **yes** |
| `unprocessed` | BatchWriteItem answers with part of its items in UnprocessedItems | only the others |
| `conflict` | TransactionConflict (TransactWriteItems: TransactionCanceledException) | no |

Besides faults, `latency=MS` holds every request (data plane and control plane
alike, as a network link would) for MS milliseconds before forwarding it: a
same-machine emulator answers in well under a millisecond, a real endpoint is a
few milliseconds away, and a client that waits for each answer in turn pays that
per request. `make bench` measures the write paths behind it
(`salestalk ingest --faults latency=5`).

`hold_writes(after=N)` is a test's hand on the link rather than a fault: the
next N writes are answered, and every later one is applied upstream but its
answer is held until `release()` (then the connection is reset, the answer
lost). A process killed while its writes are held dies mid-write at a point
counted in requests, however fast the machine: nothing can finish behind the
hold, and each held write really happened.

`lost` is the hard case: the write happened, the client cannot know it, and
its retry meets its own write. Error bodies are DynamoDB's JSON error format
(`{"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", ...}`),
which botocore parses into the same error codes a real endpoint produces.

**Determinism.** The draw for a request comes from a random generator seeded
with (seed, a digest of the operation and body, how many times that exact
request was seen before), so the same requests get the same faults run after
run, whatever the thread interleaving, and a retry of a request gets a fresh
draw. The body digest ignores `ClientRequestToken`, which callers may
randomise. Control-plane calls (CreateTable, DescribeTable, …) and other
services pass through untouched.

`faulty_endpoint(endpoint, profile)` returns an `Endpoint` whose URL is a new
proxy's, with clients whose read timeout is the profile's `read_timeout`, so
`connect(endpoint=faulty_endpoint(...))` sends everything through the faults.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import re
import socket
import struct
import sys
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from random import Random
from typing import Any
from urllib.parse import urlparse

from salestalk_lib.contract.errors import ConfigurationError
from salestalk_lib.dynamo.endpoint import Endpoint

FAULT_KINDS: dict[str, str] = {
    "throttle": "400 throttling error (ThrottlingException, ProvisionedThroughputExceededException or "
    "RequestLimitExceeded); not applied",
    "error5xx": "500 InternalServerError or 503 ServiceUnavailable; not applied",
    "reset": "connection reset before any answer; not applied",
    "timeout": "no answer until the client's read timeout; not applied",
    "lost": "applied upstream, then the connection is reset: the response is lost",
    "unprocessed": "BatchWriteItem only: some items returned in UnprocessedItems (only the rest applied)",
    "conflict": "TransactionConflict on writes (TransactWriteItems: TransactionCanceledException); not applied",
}

DATA_PLANE_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
        "ExecuteStatement",
        "BatchExecuteStatement",
    }
)
_WRITE_OPERATIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"})
_HOLDABLE_OPERATIONS = _WRITE_OPERATIONS | {"BatchWriteItem", "BatchExecuteStatement", "ExecuteStatement"}
_ERROR_PREFIX = "com.amazonaws.dynamodb.v20120810#"
_THROTTLE_CODES = ("ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded")
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)
MAX_LATENCY_MS = 10_000
_TOKEN_RE = re.compile(rb'"ClientRequestToken":\s*"[^"]*",?\s*')


@dataclass(frozen=True)
class FaultProfile:
    """Per-request fault probabilities (each in [0, 1], summing to ≤ 1), a seed, the client read timeout, a latency.

    Parse one from the CLI form with `FaultProfile.parse("throttle=0.2,error5xx=0.05,seed=7")`.
    `read_timeout` (seconds) is the read timeout of clients built by `faulty_endpoint`; a
    `timeout` fault holds the request a little longer than that. `latency` (milliseconds,
    0 to 10,000) is added to every request, faulty or not, before it is forwarded.
    """

    throttle: float = 0.0
    error5xx: float = 0.0
    reset: float = 0.0
    timeout: float = 0.0
    lost: float = 0.0
    unprocessed: float = 0.0
    conflict: float = 0.0
    seed: int = 0
    read_timeout: float = 1.0
    latency: float = 0.0

    def __post_init__(self) -> None:
        for kind in FAULT_KINDS:
            rate = getattr(self, kind)
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate <= 1.0:
                raise ConfigurationError(f"fault rate {kind}={rate!r} must be a number between 0 and 1")
        if self.total_rate > 1.0 + 1e-9:
            raise ConfigurationError(f"fault rates add up to {self.total_rate:g}; they must add up to at most 1")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ConfigurationError(f"fault seed must be an integer, got {self.seed!r}")
        if not isinstance(self.read_timeout, (int, float)) or not 0.05 <= self.read_timeout <= 60:
            raise ConfigurationError(f"read_timeout={self.read_timeout!r} must be between 0.05 and 60 seconds")
        if (
            isinstance(self.latency, bool)
            or not isinstance(self.latency, (int, float))
            or not 0 <= self.latency <= MAX_LATENCY_MS
        ):
            raise ConfigurationError(
                f"latency={self.latency!r} must be a number of milliseconds between 0 and {MAX_LATENCY_MS:,}"
            )

    @property
    def total_rate(self) -> float:
        return sum(self.rates.values())  # the zero rates left out add nothing

    @property
    def rates(self) -> dict[str, float]:
        """Fault kind -> probability, only the non-zero ones."""
        return {kind: getattr(self, kind) for kind in FAULT_KINDS if getattr(self, kind)}

    @classmethod
    def parse(cls, text: str) -> FaultProfile:
        """Parse `kind=rate,...,seed=N[,read_timeout=S][,latency=MS]`; `""` or `"none"` means no faults.

        Every mistake is reported with what is allowed: unknown keys, repeated
        keys, missing `=`, rates that are not numbers in [0, 1], rates summing
        above 1, a seed that is not an integer.
        """
        text = (text or "").strip()
        if text.lower() in ("", "none", "off"):
            return cls()
        allowed = [*FAULT_KINDS, "seed", "read_timeout", "latency"]
        values: dict[str, Any] = {}
        for part in text.split(","):
            part = part.strip()
            if not part:
                raise ConfigurationError(f"fault profile {text!r} has an empty entry (stray comma?)")
            key, sep, raw = part.partition("=")
            key, raw = key.strip(), raw.strip()
            if not sep or not raw:
                raise ConfigurationError(f"fault profile entry {part!r} must look like name=value")
            if key not in allowed:
                raise ConfigurationError(f"unknown fault {key!r}; known: {', '.join(allowed)}")
            if key in values:
                raise ConfigurationError(f"fault {key!r} is given twice in {text!r}")
            try:
                values[key] = int(raw) if key == "seed" else float(raw)
            except ValueError:
                kind = "an integer" if key == "seed" else "a number"
                raise ConfigurationError(f"fault profile: {key}={raw!r} is not {kind}") from None
        return cls(**values)

    def __str__(self) -> str:
        parts = [f"{k}={v:g}" for k, v in self.rates.items()]
        parts.append(f"seed={self.seed}")
        if self.read_timeout != 1.0:
            parts.append(f"read_timeout={self.read_timeout:g}")
        if self.latency:
            parts.append(f"latency={self.latency:g}")
        return ",".join(parts)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in one segment, and small segments are not held back:
    # otherwise Nagle + delayed ACK add ~40 ms to every answer.
    disable_nagle_algorithm = True
    wbufsize = -1
    server: _Server

    def do_POST(self) -> None:
        self.server.proxy._serve(self)

    do_GET = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass  # the connection was reset on purpose


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    proxy: FaultProxy

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Quiet (clients that vanish mid-request are part of the game), but kept for inspection.
        exc = sys.exc_info()[1]
        if exc is not None:
            self.proxy.errors.append(f"{type(exc).__name__}: {exc}")


class FaultProxy:
    """A threaded HTTP proxy on 127.0.0.1 that injects faults into DynamoDB requests.

    `counts` holds how many faults of each kind were injected, `requests` how
    many data-plane requests were seen per operation, `injected` the
    (operation, kind) pairs. `profile` may be swapped at any time (e.g.
    `FaultProfile()` to turn faults off). Use as a context manager or call `stop()`.
    `sleep` is how the profile's latency is waited (`time.sleep`; tests pass a fake one).
    """

    def __init__(
        self,
        upstream: str,
        profile: FaultProfile | str = FaultProfile(),
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        parsed = urlparse(upstream)
        if parsed.scheme != "http" or not parsed.hostname:
            raise ConfigurationError(f"fault proxy upstream must be an http:// URL, got {upstream!r}")
        self.upstream = upstream
        self._up_host, self._up_port = parsed.hostname, parsed.port or 80
        self.profile = FaultProfile.parse(profile) if isinstance(profile, str) else profile
        self.counts: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.injected: Counter[tuple[str, str]] = Counter()
        self.errors: list[str] = []  # exceptions inside the proxy itself (should stay empty)
        self._sleep = sleep
        self._seen: Counter[bytes] = Counter()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._hold_left: int | None = None  # writes still answered before the hold; None: no hold
        self._held = threading.Event()
        self._release = threading.Event()
        self._server = _Server((host, port), _Handler)
        self._server.proxy = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="salestalk-fault-proxy", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host if isinstance(host, str) else host.decode()}:{port}"

    def hold_writes(self, *, after: int) -> threading.Event:
        """Answer the next `after` write requests, then apply each later one upstream and hold its answer.

        Returns an event that is set once a write is held (applied upstream, its answer not sent).
        Held answers wait for `release()` or `stop()`; then their connections are reset, so the
        client never learns of them. Reads and control-plane calls are never held.
        """
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            raise ConfigurationError(f"hold_writes(after={after!r}): after must be an integer >= 0")
        with self._lock:
            self._hold_left = after
            self._held = threading.Event()
            self._release = threading.Event()
            return self._held

    def release(self) -> None:
        """End the hold: held answers are dropped (their connections reset) and writes are answered again."""
        with self._lock:
            self._hold_left = None
            self._release.set()

    def _take_hold(self, operation: str) -> tuple[threading.Event, threading.Event] | None:
        """(held, release) events of the hold this request falls under, else None (counts the answered ones)."""
        if operation not in _HOLDABLE_OPERATIONS:
            return None
        with self._lock:
            if self._hold_left is None:
                return None
            if self._hold_left > 0:
                self._hold_left -= 1
                return None
            return self._held, self._release

    def stop(self) -> None:
        """Stop listening; requests held by `timeout` faults or by `hold_writes` are released."""
        self._stopping.set()
        self.release()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- one request ------------------------------------------------------------

    def _decide(self, operation: str, body: bytes) -> tuple[str | None, Random]:
        """The fault for this request (or None) and the request's own seeded generator for its details."""
        profile = self.profile
        digest = hashlib.sha256(operation.encode() + b"\0" + _TOKEN_RE.sub(b"", body)).digest()
        with self._lock:
            self.requests[operation] += 1
            nth = self._seen[digest]
            self._seen[digest] = nth + 1
        rng = Random(f"{profile.seed}:{digest.hex()}:{nth}")
        draw = rng.random()
        edge = 0.0
        for kind, rate in profile.rates.items():
            edge += rate
            if draw < edge:
                if kind == "unprocessed" and operation != "BatchWriteItem":
                    return None, rng
                if kind == "conflict" and operation not in _WRITE_OPERATIONS:
                    return None, rng
                return kind, rng
        return None, rng

    def _count(self, operation: str, kind: str) -> None:
        with self._lock:
            self.counts[kind] += 1
            self.injected[(operation, kind)] += 1

    def _serve(self, handler: _Handler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        latency = self.profile.latency
        if latency:  # every request crosses the link, whatever happens to it afterwards
            self._sleep(latency / 1000)
        target = handler.headers.get("X-Amz-Target", "")
        operation = target.rpartition(".")[2] if target.startswith("DynamoDB_") else ""
        hold = self._take_hold(operation)
        if hold is not None:  # applied upstream, the answer never sent
            held, release = hold
            try:
                self._forward(handler, body)
            except OSError:
                pass
            held.set()
            release.wait()
            return _reset(handler)
        kind, rng = self._decide(operation, body) if operation in DATA_PLANE_OPERATIONS else (None, Random(0))
        if kind is not None:
            self._count(operation, kind)
        if kind == "reset":
            return _reset(handler)
        if kind == "timeout":
            self._stopping.wait(self.profile.read_timeout + 0.5)
            return _reset(handler)
        if kind == "throttle":
            return _reply_error(handler, 400, rng.choice(_THROTTLE_CODES), "Rate exceeded (injected fault)")
        if kind == "error5xx":
            status, code = rng.choice(((500, "InternalServerError"), (503, "ServiceUnavailable")))
            return _reply_error(handler, status, code, "The server encountered an internal error (injected fault)")
        if kind == "conflict":
            return _reply_conflict(handler, operation, body)
        dropped: dict[str, list[Any]] = {}
        if kind == "unprocessed":
            body, dropped = _split_batch(body, rng)
            if not json.loads(body)["RequestItems"]:  # nothing left to apply: answer for the server
                payload, headers = _merge_unprocessed(b"{}", [("Content-Type", "application/x-amz-json-1.0")], dropped)
                return _reply(handler, 200, "OK", headers, payload)
        try:
            status, reason, headers, payload = self._forward(handler, body)
        except OSError as exc:
            return _reply_error(handler, 502, "InternalServerError", f"upstream unreachable: {exc}")
        if kind == "lost":
            return _reset(handler)
        if dropped and status == 200:
            payload, headers = _merge_unprocessed(payload, headers, dropped)
        _reply(handler, status, reason, headers, payload)

    def _forward(self, handler: _Handler, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        # A fresh upstream connection per request: a stale keep-alive connection could
        # fail after the upstream applied the request, and a blind resend would apply it twice.
        conn = http.client.HTTPConnection(self._up_host, self._up_port, timeout=60)
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP_BY_HOP}
            headers["Content-Length"] = str(len(body))
            conn.request(handler.command, handler.path, body=body, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
            return resp.status, resp.reason, resp.getheaders(), payload
        finally:
            conn.close()


def _reset(handler: _Handler) -> None:
    """Abort the client connection with a TCP RST (SO_LINGER 0), as a crashed peer would."""
    sock = handler.connection
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass
    handler.close_connection = True
    handler.wfile = io.BytesIO()  # http.server flushes wfile after the handler returns


def _reply(handler: _Handler, status: int, reason: str, headers: list[tuple[str, str]], payload: bytes) -> None:
    handler.send_response_only(status, reason)
    for name, value in headers:
        if name.lower() not in _HOP_BY_HOP:
            handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)


def _reply_error(handler: _Handler, status: int, code: str, message: str) -> None:
    payload = json.dumps({"__type": _ERROR_PREFIX + code, "message": message}).encode()
    _reply(
        handler,
        status,
        "Injected",
        [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-RequestId", "injected-fault")],
        payload,
    )


def _reply_conflict(handler: _Handler, operation: str, body: bytes) -> None:
    message = "Transaction is ongoing for the item (injected fault)"
    if operation != "TransactWriteItems":
        return _reply_error(handler, 400, "TransactionConflictException", message)
    try:
        n = len(json.loads(body).get("TransactItems", [])) or 1
    except ValueError:
        n = 1
    reasons = [{"Code": "TransactionConflict", "Message": message}] + [{"Code": "None"}] * (n - 1)
    payload = json.dumps(
        {
            "__type": _ERROR_PREFIX + "TransactionCanceledException",
            "message": "Transaction cancelled, please refer cancellation reasons for specific "
            "reasons [TransactionConflict]",
            "CancellationReasons": reasons,
        }
    ).encode()
    _reply(handler, 400, "Injected", [("Content-Type", "application/x-amz-json-1.0")], payload)


def _split_batch(body: bytes, rng: Random) -> tuple[bytes, dict[str, list[Any]]]:
    """Keep a random part of a BatchWriteItem's requests; return (new body, the rest by table)."""
    request = json.loads(body)
    kept: dict[str, list[Any]] = {}
    dropped: dict[str, list[Any]] = {}
    for table, writes in request.get("RequestItems", {}).items():
        for write in writes:
            (dropped if rng.random() < 0.5 else kept).setdefault(table, []).append(write)
    if not dropped:  # an "unprocessed" fault leaves at least one item behind
        table = next(iter(kept))
        dropped[table] = [kept[table].pop()]
        if not kept[table]:
            del kept[table]
    request["RequestItems"] = kept
    return json.dumps(request).encode(), dropped


def _merge_unprocessed(
    payload: bytes, headers: list[tuple[str, str]], dropped: dict[str, list[Any]]
) -> tuple[bytes, list[tuple[str, str]]]:
    response = json.loads(payload) if payload else {}
    left = response.setdefault("UnprocessedItems", {})
    for table, writes in dropped.items():
        left.setdefault(table, []).extend(writes)
    new_payload = json.dumps(response).encode()
    new_headers = [(k, v) for k, v in headers if k.lower() != "x-amz-crc32"]
    new_headers.append(("x-amz-crc32", str(zlib.crc32(new_payload) & 0xFFFFFFFF)))
    return new_payload, new_headers


@dataclass
class FaultyEndpoint(Endpoint):
    """An Endpoint whose requests go through a `FaultProxy`; `close()` stops the proxy only."""

    proxy: FaultProxy | None = None
    read_timeout: float = 1.0

    def client(self, service: str = "dynamodb", **config: Any) -> Any:
        """A client through the proxy with the profile's read timeout (botocore retries still off)."""
        config.setdefault("read_timeout", self.read_timeout)
        return super().client(service, **config)

    def close(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
            self.proxy = None


def faulty_endpoint(endpoint: Endpoint, profile: FaultProfile | str) -> FaultyEndpoint:
    """Put a new `FaultProxy` in front of `endpoint` and return the endpoint that goes through it."""
    if endpoint.url is None or endpoint.is_real_aws:
        raise ConfigurationError("fault injection needs a local endpoint URL, not real AWS")
    prof = FaultProfile.parse(profile) if isinstance(profile, str) else profile
    proxy = FaultProxy(endpoint.url, prof)
    return FaultyEndpoint(
        url=proxy.url,
        region=endpoint.region,
        source=f"faults({endpoint.source})",
        session=endpoint.session,
        proxy=proxy,
        read_timeout=prof.read_timeout,
    )
