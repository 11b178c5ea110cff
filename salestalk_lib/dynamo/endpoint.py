"""Find a DynamoDB endpoint, safely: never a real AWS account without an explicit opt-in.

Resolution order (`resolve_endpoint`):

1. an explicit URL argument (`--endpoint-url`);
2. `AWS_ENDPOINT_URL_DYNAMODB`, then `AWS_ENDPOINT_URL` (boto3's own settings);
3. real AWS, only if opted in with `allow_aws=True` / `--allow-aws` / `SALESTALK_ALLOW_AWS=1`;
4. otherwise an embedded DynamoDB engine on 127.0.0.1 with a free port and dummy
   credentials: moto's server, or Amazon's DynamoDB Local with
   `SALESTALK_ENGINE=dynamodb-local` (see `salestalk_lib.embedded.engines`).

AWS credentials lying in the environment never lead to a real account by
themselves: without an endpoint and without the opt-in, the embedded server is
used. An endpoint URL is used without the opt-in only when it is **local**, decided
positively by `salestalk_lib.contract.endpoint_guard`: its host is loopback (127.0.0.0/8,
::1, `localhost`) or listed in `SALESTALK_LOCAL_HOSTS` (`--local-host`). Any other
URL, every spelling of an AWS endpoint included, is refused before a credential is
read or a request is sent (`RealAwsNotAllowed`), unless opted in.

A local endpoint is always signed with dummy credentials, from a session that reads
nothing of the user's AWS configuration (no profile, no config or credentials file,
no `AWS_*` variable), so a missing or broken `AWS_PROFILE` cannot break it and real
keys never reach an emulator. Clients are built with botocore's own retries off
(one attempt per call), so the library's retry policy is the only retry layer and
attempts never multiply.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.configprovider import BOTOCORE_DEFAUT_SESSION_VARIABLES
from botocore.exceptions import BotoCoreError

from salestalk_lib.contract.endpoint_guard import (
    LOCAL_HOSTS_ENV,
    classify,
    parse_endpoint_url,
    parse_local_hosts,
    refusal,
)
from salestalk_lib.contract.errors import ConfigurationError, RealAwsNotAllowed
from salestalk_lib.contract.settings import ALLOW_AWS_ENV, DEFAULT_REGION, env_flag
from salestalk_lib.embedded import moto_fixes
from salestalk_lib.embedded.engines import MOTO, EmbeddedEngine, check_engine, engine_from_env, start_engine

DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def _client_config(**overrides: Any) -> Config:
    # total_max_attempts=1: botocore sends once; salestalk_lib.dynamo.retry decides about retries.
    base: dict[str, Any] = dict(
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
    local_hosts: tuple[str, ...] = ()
    """The hosts the user declared local (`SALESTALK_LOCAL_HOSTS`), canonical."""

    @property
    def embedded(self) -> bool:
        """True when this process runs the server behind the endpoint."""
        return self._server is not None

    @property
    def engine(self) -> str | None:
        """The embedded engine behind the endpoint (`moto`, `dynamodb-local`), or None when it is not ours."""
        return self._server.engine if self._server is not None else None

    @property
    def is_local(self) -> bool:
        """True for a loopback endpoint or one on a host declared local (see `endpoint_guard`)."""
        if self.url is None:
            return False
        try:
            return classify(parse_endpoint_url(self.url), self.local_hosts).local
        except ConfigurationError:
            return False

    @property
    def is_real_aws(self) -> bool:
        """True unless the endpoint is local: anything not known to be local may be real AWS."""
        return not self.is_local

    def client(self, service: str = "dynamodb", **config: Any) -> Any:
        """A boto3 client for this endpoint with botocore retries off."""
        kwargs: dict[str, Any] = {"region_name": self.region, "config": _client_config(**config)}
        if self.url is not None:
            kwargs["endpoint_url"] = self.url
        # boto3-stubs overload client() per literal service name; this passes the caller's (dynamodb, events, sqs)
        return self.session.client(service, **kwargs)  # type: ignore[call-overload]

    def export_line(self) -> str:
        """The shell line that points other processes at this endpoint."""
        return f"export AWS_ENDPOINT_URL_DYNAMODB={self.url}" if self.url else "# real AWS: no endpoint override"

    def client_exports(self) -> list[str]:
        """What another shell needs for other clients (the AWS CLI, other SDKs) to reach this endpoint.

        The endpoint and region, and for a local endpoint the dummy credentials this library signs
        with: without any, the AWS CLI stops at "Unable to locate credentials". Never real keys.
        """
        lines = [self.export_line(), f"export AWS_REGION={self.region} AWS_DEFAULT_REGION={self.region}"]
        if self.url:
            lines.append(
                f"export AWS_ACCESS_KEY_ID={DUMMY_CREDENTIALS['aws_access_key_id']} "
                f"AWS_SECRET_ACCESS_KEY={DUMMY_CREDENTIALS['aws_secret_access_key']}   # dummy: a local endpoint"
            )
        return lines

    def close(self) -> None:
        """Stop the embedded server, if this endpoint runs one."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> Endpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def local_session(region: str) -> boto3.Session:
    """A session with dummy credentials that reads nothing of the user's AWS configuration.

    Every botocore setting is cut off from its environment variable and from the
    config file (`AWS_PROFILE`, `AWS_CONFIG_FILE`, `AWS_USE_FIPS_ENDPOINT`,
    `AWS_MAX_ATTEMPTS`, ...), keeping only its default: an unknown profile or a
    broken config file then cannot fail a local endpoint, and no real key is read.
    """
    isolated = {
        name: (None, None, default, convert)
        for name, (_, _, default, convert) in BOTOCORE_DEFAUT_SESSION_VARIABLES.items()
    }
    isolated["config_file"] = (None, None, os.devnull, None)
    isolated["credentials_file"] = (None, None, os.devnull, None)
    core = botocore.session.Session(session_vars=isolated)
    core.register_component("data_loader", _local_loader())
    return boto3.Session(botocore_session=core, region_name=region, **DUMMY_CREDENTIALS)


@functools.cache
def _local_loader() -> botocore.loaders.Loader:
    """The data loader every local session shares (botocore's defaults: `data_path` is cut off above).

    A botocore session loads its models (endpoints.json, ~1 MB, and the DynamoDB model) into its own
    loader the first time it makes a client; every `connect()` makes a session, so without this each
    one parsed them again (~10 % of the test suite's client time). What is loaded is only read.
    """
    return botocore.loaders.create_loader()


def start_embedded(
    port: int = 0,
    *,
    region: str = DEFAULT_REGION,
    host: str = "127.0.0.1",
    engine: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Endpoint:
    """Start an embedded engine on `host:port` (0 = a free one): `engine`, else `SALESTALK_ENGINE`, else moto.

    A port that cannot be bound (in use, out of range) raises ConfigurationError at once
    (`engines.start_engine`). Clients of the engine sign with `local_session`'s dummy credentials.
    """
    name = check_engine(engine) if engine is not None else engine_from_env(env)
    if name == MOTO:
        # moto lists regions with a plain boto3.Session(), which reads AWS_PROFILE and the config
        # files: an unknown profile failed every request with a 500. Give it one that reads nothing.
        moto_fixes.isolate_from_aws_config(lambda: local_session(region))
    server: EmbeddedEngine = start_engine(name, port, host=host, env=env)
    return Endpoint(url=server.url, region=region, source="embedded", session=local_session(region), _server=server)


def resolve_endpoint(
    url: str | None = None,
    *,
    allow_aws: bool | None = None,
    region: str | None = None,
    profile: str | None = None,
    env: Mapping[str, str] | None = None,
    local_hosts: Iterable[str] | None = None,
) -> Endpoint:
    """Return a ready DynamoDB endpoint (see the module docstring for the order).

    `local_hosts` (default: `SALESTALK_LOCAL_HOSTS` from `env`) are hosts besides
    loopback that are local emulators. A non-local URL without the opt-in raises
    `RealAwsNotAllowed` before any credential is read or request sent.
    """
    env = os.environ if env is None else env
    allow = env_flag(env.get(ALLOW_AWS_ENV)) if allow_aws is None else allow_aws
    region = region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
    hosts = parse_local_hosts(env.get(LOCAL_HOSTS_ENV) if local_hosts is None else local_hosts)

    source = "explicit"
    if url is None:
        for var in ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"):
            if env.get(var):
                url, source = env[var], var
                break

    if url is not None:
        parsed = parse_endpoint_url(url, source)
        verdict = classify(parsed, hosts)
        if not verdict.local and not allow:
            raise RealAwsNotAllowed(refusal(verdict, url, source, ALLOW_AWS_ENV))
        if parsed.userinfo:
            raise ConfigurationError(
                f"endpoint URL {url!r} ({source}) must not carry a user name or password: "
                "credentials never go in the URL"
            )
        # The rebuilt URL, not the text: the client connects to exactly the host checked above.
        if verdict.local:
            return Endpoint(
                url=parsed.url, region=region, source=source, session=local_session(region), local_hosts=hosts
            )
        return Endpoint(
            url=parsed.url,
            region=region,
            source=source,
            session=_aws_session(region, profile or env.get("AWS_PROFILE") or None),
            local_hosts=hosts,
        )

    if allow:
        session = _aws_session(region, profile or env.get("AWS_PROFILE") or None)
        try:
            credentials = session.get_credentials()
        except BotoCoreError as exc:
            raise ConfigurationError(f"real AWS was opted into but its credentials cannot be read: {exc}") from None
        if credentials is None:
            raise ConfigurationError(
                "real AWS was opted into but no credentials were found: set AWS_PROFILE or run `aws configure`"
            )
        return Endpoint(url=None, region=region, source="aws", session=session, local_hosts=hosts)

    endpoint = start_embedded(region=region, env=env)
    endpoint.local_hosts = hosts
    return endpoint


def _aws_session(region: str, profile: str | None) -> boto3.Session:
    """A session on the usual credential chain (opted-in real AWS only); a missing profile is a clear error."""
    try:
        return boto3.Session(region_name=region, profile_name=profile)
    except BotoCoreError as exc:  # ProfileNotFound, a config file that does not parse, ...
        raise ConfigurationError(f"AWS profile {profile or '(default)'}: {exc}") from None
