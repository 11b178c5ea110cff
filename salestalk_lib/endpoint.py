"""Find a DynamoDB endpoint, safely: never a real AWS account without an explicit opt-in.

Resolution order (`resolve_endpoint`):

1. an explicit URL argument (`--endpoint-url`);
2. `AWS_ENDPOINT_URL_DYNAMODB`, then `AWS_ENDPOINT_URL` (boto3's own settings);
3. real AWS, only if opted in with `allow_aws=True` / `--allow-aws` / `SALESTALK_ALLOW_AWS=1`;
4. otherwise an embedded DynamoDB engine on 127.0.0.1 with a free port and dummy
   credentials: moto's server, or Amazon's DynamoDB Local with
   `SALESTALK_ENGINE=dynamodb-local` (see `salestalk_lib.engines`).

AWS credentials lying in the environment never lead to a real account by
themselves: without an endpoint and without the opt-in, the embedded server is
used; an endpoint URL that points at `*.amazonaws.com` also needs the opt-in.
Clients are built with botocore's own retries off (one attempt per call), so the
library's retry policy is the only retry layer and attempts never multiply.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import urlparse

import boto3
from botocore.config import Config

from .engines import EmbeddedEngine, start_engine
from .errors import ConfigurationError, RealAwsNotAllowed
from .settings import DEFAULT_REGION, env_flag, ALLOW_AWS_ENV

DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


def _client_config(**overrides: Any) -> Config:
    # total_max_attempts=1: botocore sends once; salestalk_lib.retry decides about retries.
    base = dict(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
        max_pool_connections=32,
    )
    base.update(overrides)
    return Config(**base)


@dataclass
class Endpoint:
    """A reachable DynamoDB endpoint and the boto3 session that talks to it.

    `url` is None only for real AWS (opted in). Close it (or use `with`) to stop an
    embedded server.
    """

    url: str | None
    region: str
    source: str
    session: boto3.Session
    _server: Any = field(default=None, repr=False)

    @property
    def embedded(self) -> bool:
        """True when this process runs the server behind the endpoint."""
        return self._server is not None

    @property
    def engine(self) -> str | None:
        """The embedded engine behind the endpoint (`moto`, `dynamodb-local`), or None when it is not ours."""
        return self._server.engine if self._server is not None else None

    @property
    def is_real_aws(self) -> bool:
        return self.url is None or _is_aws_host(self.url)

    def client(self, service: str = "dynamodb", **config: Any) -> Any:
        """A boto3 client for this endpoint with botocore retries off."""
        kwargs: dict[str, Any] = {"region_name": self.region, "config": _client_config(**config)}
        if self.url is not None:
            kwargs["endpoint_url"] = self.url
        return self.session.client(service, **kwargs)

    def export_line(self) -> str:
        """The shell line that points other processes at this endpoint."""
        return f"export AWS_ENDPOINT_URL_DYNAMODB={self.url}" if self.url else "# real AWS: no endpoint override"

    def close(self) -> None:
        """Stop the embedded server, if this endpoint runs one."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> "Endpoint":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_aws_host(url: str) -> bool:
    host = (urlparse(url).hostname or "").lower()
    return host.endswith(".amazonaws.com") or host.endswith(".amazonaws.com.cn") or host == "amazonaws.com"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on `host` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def start_embedded(port: int = 0, *, region: str = DEFAULT_REGION, host: str = "127.0.0.1",
                   engine: str | None = None, env: Mapping[str, str] | None = None) -> Endpoint:
    """Start an embedded engine on `host:port` (0 = a free one): `engine`, else `SALESTALK_ENGINE`, else moto."""
    server: EmbeddedEngine = start_engine(engine, port, host=host, env=env)
    session = boto3.Session(region_name=region, **DUMMY_CREDENTIALS)
    return Endpoint(url=server.url, region=region, source="embedded", session=session, _server=server)


def resolve_endpoint(
    url: str | None = None,
    *,
    allow_aws: bool | None = None,
    region: str | None = None,
    profile: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Endpoint:
    """Return a ready DynamoDB endpoint (see the module docstring for the order)."""
    env = os.environ if env is None else env
    allow = env_flag(env.get(ALLOW_AWS_ENV)) if allow_aws is None else allow_aws
    region = region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
    profile = profile or env.get("AWS_PROFILE") or None

    source = "explicit"
    if url is None:
        for var in ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"):
            if env.get(var):
                url, source = env[var], var
                break

    if url is not None:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ConfigurationError(f"endpoint URL {url!r} ({source}) must look like http://host:port")
        if _is_aws_host(url) and not allow:
            raise RealAwsNotAllowed(
                f"endpoint {url} ({source}) is real AWS; pass --allow-aws or set {ALLOW_AWS_ENV}=1 to opt in"
            )
        session = _session_for(url, region, profile)
        return Endpoint(url=url, region=region, source=source, session=session)

    if allow:
        session = boto3.Session(region_name=region, profile_name=profile)
        if session.get_credentials() is None:
            raise ConfigurationError(
                "real AWS was opted into but no credentials were found: set AWS_PROFILE or run `aws configure`"
            )
        return Endpoint(url=None, region=region, source="aws", session=session)

    return start_embedded(region=region, env=env)


def _session_for(url: str, region: str, profile: str | None) -> boto3.Session:
    """A session for an endpoint URL: dummy credentials for a loopback emulator, else the usual chain."""
    host = urlparse(url).hostname or ""
    if host in LOOPBACK_HOSTS and not profile:
        # Real keys are never needed by an emulator on this machine; don't sign with them.
        return boto3.Session(region_name=region, **DUMMY_CREDENTIALS)
    return boto3.Session(region_name=region, profile_name=profile)
