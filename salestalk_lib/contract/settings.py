"""Deployment settings: table-name prefix, environment tag, region, AWS opt-in, local hosts.

Pure: reads a mapping (the environment by default), never boto3.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from salestalk_lib.contract.endpoint_guard import LOCAL_HOSTS_ENV, parse_local_hosts
from salestalk_lib.contract.errors import ConfigurationError
from salestalk_lib.contract.keys import TABLE_PREFIX_PATTERN, table_prefix_problem
from salestalk_lib.contract.tables import TABLE_SPECS, TableKind, TableSpec

PREFIX_ENV = "SALESTALK_TABLE_PREFIX"
ENVIRONMENT_ENV = "SALESTALK_ENVIRONMENT"
ALLOW_AWS_ENV = "SALESTALK_ALLOW_AWS"
DEFAULT_REGION = "us-east-1"
ENVIRONMENTS = ("local", "test", "dev", "staging", "production")

_PREFIX_RE = re.compile(TABLE_PREFIX_PATTERN)  # the key grammar's prefix rule (keys.table_prefix_problem)
_TRUE = {"1", "true", "yes", "on"}


def env_flag(value: str | None) -> bool:
    """True for 1/true/yes/on (any case); false for anything else, including unset."""
    return (value or "").strip().lower() in _TRUE


@dataclass(frozen=True)
class Settings:
    """Where tables live and how they are named and tagged."""

    table_prefix: str = ""
    environment: str = "local"
    allow_aws: bool = False
    local_hosts: tuple[str, ...] = ()
    """Hosts besides loopback that are local emulators (`SALESTALK_LOCAL_HOSTS`); see `endpoint_guard`."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "local_hosts", parse_local_hosts(self.local_hosts))
        problem = table_prefix_problem(self.table_prefix)
        if problem is not None:
            raise ConfigurationError(f"table prefix {self.table_prefix!r} {problem}")
        if self.environment not in ENVIRONMENTS:
            raise ConfigurationError(f"environment {self.environment!r} must be one of {', '.join(ENVIRONMENTS)}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from SALESTALK_* variables, with keyword overrides winning."""
        env = os.environ if env is None else env
        base = cls(
            table_prefix=env.get(PREFIX_ENV, ""),
            environment=env.get(ENVIRONMENT_ENV, "local"),
            allow_aws=env_flag(env.get(ALLOW_AWS_ENV)),
            local_hosts=parse_local_hosts(env.get(LOCAL_HOSTS_ENV)),
        )
        given = {k: v for k, v in overrides.items() if v is not None}
        return replace(base, **given) if given else base

    def table_name(self, kind: TableKind | TableSpec, tenant_id: str | None = None) -> str:
        """The full table name: prefix + base name (the tenant id is validated first)."""
        spec = kind if isinstance(kind, TableSpec) else TABLE_SPECS[kind]
        return self.table_prefix + spec.base_name(tenant_id)

    @property
    def registry_table(self) -> str:
        return self.table_name(TableKind.REGISTRY)
