"""Proof of tenant isolation: every generated policy evaluated against every tenant's resources.

The verdicts come from @cloud-copilot/iam-simulate, a maintained IAM evaluation
engine (wildcards in actions and resources, Allow/Deny precedence, every
condition operator including `ForAllValues:` and `Null`), run by Node from
`tools/iam-simulate/`. This module only decides which requests to ask about and
counts the answers; it implements no IAM matching itself.

The requests asked of each policy, for every tenant `u` of the population
(the policy's own tenant included, which gives the diagonal):

- every DynamoDB action (the library's own action list) against each ARN of
  `u` whose resource type the action accepts: both tables, their GSIs, and a
  stream, backup, export and import under each table, and the global table;
- on the registry, every item action (those DynamoDB sends `dynamodb:LeadingKeys`
  with) with the key `[u]`, and with `[owner, u]` (one batch mixing the owner's
  key with a foreign one);
- account-wide requests, counted against every tenant because they reach all
  of them: every action on the registry and its indexes with no leading key (a
  Scan, a DescribeTable) and each wildcard-only action (ListTables, ...) on `*`.

`isolation_matrix` has one row per policy (tenant, role), one column per target
tenant, and in each cell the number of allowed requests on that target. The
diagonal must be positive and every other cell zero.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from salestalk_lib.contract.errors import ConfigurationError, SalesTalkError
from salestalk_lib.contract.keys import validate_tenant_id
from salestalk_lib.iam.policies import (
    LEADING_KEYS,
    ROLES,
    Deployment,
    Role,
    TenantArns,
    policies_for,
    role_of,
    tenant_arns,
)

TOOL_DIR_ENV = "SALESTALK_IAM_SIMULATE_DIR"
DEFAULT_TOOL_DIR = Path(__file__).resolve().parents[1] / "tools" / "iam-simulate"
INSTALL_HINT = "npm ci --prefix tools/iam-simulate"
ALLOWED = "Allowed"
ALL_TENANTS = "*"

# Ids chosen to break naive name matching: prefixes of each other, ids inside
# other ids, one character apart, digits only, the longest allowed and its
# prefix, the shortest, and ids whose table names extend another tenant's.
ADVERSARIAL_TENANT_IDS: tuple[str, ...] = (
    "acme",
    "acme-corp",  # acme + "-corp": matched by tenant-acme-*
    "acme-corp-001",  # acme-corp + "-001"
    "acm",  # a prefix of acme, no separator
    "acme1",  # acme + one character
    "acne",  # one character off acme
    "corp",  # inside acme-corp
    "acme-messages",  # tenant-acme-messages-... extends acme's messages table name
    "1234",  # digits only ...
    "12345",  # ... and one digit longer
    "a" * 63,
    "a" * 64,  # the longest id; the one above is its prefix
    "a",  # the shortest id, inside almost every other
)

# Child resources of a table that DynamoDB authorises under their own ARNs. The
# ids are made-up but well-formed: only their position under a table name matters.
_TABLE_CHILDREN = {
    "stream": "/stream/2025-01-01T00:00:00.000",
    "backup": "/backup/01735689600000-a1b2c3d4",
    "export": "/export/01735689600000-a1b2c3d4",
    "import": "/import/01735689600000-a1b2c3d4",
}


class EvaluatorError(SalesTalkError):
    """The IAM evaluator could not run or rejected its input (for example an invalid policy)."""


@dataclass(frozen=True)
class IamAction:
    """One action from the evaluator's IAM data: the resource types and condition keys it takes."""

    name: str
    resource_types: tuple[str, ...]
    condition_keys: frozenset[str]


@dataclass(frozen=True)
class EvalRequest:
    """One question for the evaluator: may policy `policy` do `action` on `resource` with `context`?"""

    policy: int
    target: str  # the tenant the request reaches, or ALL_TENANTS
    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)


class IamSimulator:
    """@cloud-copilot/iam-simulate behind a subprocess: the IAM engine the isolation proof trusts.

    `tool_dir` holds `evaluate.mjs` and its `node_modules` (default: `$SALESTALK_IAM_SIMULATE_DIR`,
    else `tools/iam-simulate` in the repository). Requests are split over `workers` Node processes.
    """

    def __init__(self, tool_dir: str | Path | None = None, *, node: str | None = None, workers: int | None = None):
        self.tool_dir = Path(tool_dir or os.environ.get(TOOL_DIR_ENV) or DEFAULT_TOOL_DIR)
        self.node = node or shutil.which("node")
        self.workers = max(1, workers or min(4, os.cpu_count() or 1))
        self._actions: dict[str, dict[str, IamAction]] = {}
        if not self.node:
            raise ConfigurationError(f"the IAM evaluator needs Node.js (18+) on PATH; then run `{INSTALL_HINT}`")
        if not (self.tool_dir / "node_modules" / "@cloud-copilot" / "iam-simulate").is_dir():
            raise ConfigurationError(
                f"@cloud-copilot/iam-simulate is not installed in {self.tool_dir}; run `{INSTALL_HINT}`"
            )

    def _run(self, payloads: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        script = str(self.tool_dir / "evaluate.mjs")

        def one(payload: Mapping[str, Any]) -> dict[str, Any]:
            proc = subprocess.run(
                [self.node, script],
                input=json.dumps(payload),
                capture_output=True,
                text=True,
                cwd=self.tool_dir,
                check=False,
            )
            if proc.returncode != 0:
                raise EvaluatorError(proc.stderr.strip() or f"evaluate.mjs exited with {proc.returncode}")
            return json.loads(proc.stdout)

        if len(payloads) == 1:
            return [one(payloads[0])]
        with ThreadPoolExecutor(len(payloads)) as pool:
            return list(pool.map(one, payloads))

    @cached_property
    def versions(self) -> dict[str, str]:
        """The installed versions of the evaluator's packages."""
        return self._run([{"op": "info"}])[0]["versions"]

    def actions(self, service: str = "dynamodb") -> dict[str, IamAction]:
        """Every action of `service` in the library's IAM data, by name."""
        if service not in self._actions:
            out = self._run([{"op": "actions", "service": service}])[0]["actions"]
            self._actions[service] = {
                a["action"]: IamAction(a["action"], tuple(a["resourceTypes"]), frozenset(a["conditionKeys"]))
                for a in out
            }
        return self._actions[service]

    def evaluate(
        self,
        policies: Sequence[Mapping[str, Any]],
        requests: Sequence[EvalRequest],
        *,
        account: str,
        partition: str = "aws",
        checked: bool = False,
    ) -> list[str]:
        """The decision (Allowed, ImplicitlyDenied, ExplicitlyDenied) for each request, in order.

        Each request is evaluated against its one policy, as the only identity policy of a
        role in `account`. `checked` also lets the library reject ill-typed requests.
        """
        if not requests:
            return []
        principal = f"arn:{partition}:iam::{account}:role/salestalk-isolation-check"
        rows = [[r.policy, r.action, r.resource, dict(r.context)] for r in requests]
        size = -(-len(rows) // self.workers)
        chunks = [rows[i : i + size] for i in range(0, len(rows), size)]
        outs = self._run(
            [
                {
                    "op": "simulate",
                    "policies": list(policies),
                    "principal": principal,
                    "account": account,
                    "checked": checked,
                    "requests": chunk,
                }
                for chunk in chunks
            ]
        )
        results = [r for out in outs for r in out["results"]]
        if len(results) != len(requests):
            raise EvaluatorError(f"asked {len(requests)} questions, got {len(results)} answers")
        return results


def tenant_resources(arns: TenantArns, deployment: Deployment) -> dict[str, list[str]]:
    """Every ARN that belongs to one tenant, grouped by DynamoDB resource type."""
    out: dict[str, list[str]] = {"table": list(arns.tables), "index": list(arns.indexes)}
    for rtype, suffix in _TABLE_CHILDREN.items():
        out[rtype] = [table + suffix for table in arns.tables]
    # A global table's ARN has no region, and its name is the table's name.
    out["global-table"] = [
        f"arn:{deployment.partition}:dynamodb::{deployment.account}:global-table/{t.split(':table/', 1)[1]}"
        for t in arns.tables
    ]
    return out


def requests_for(
    owner: str, policy: int, population: Sequence[str], deployment: Deployment, actions: Mapping[str, IamAction]
) -> Iterator[EvalRequest]:
    """Every request asked of policy number `policy`, which belongs to `owner` (see the module docstring)."""
    by_type: dict[str, list[IamAction]] = {}
    for action in actions.values():
        for rtype in action.resource_types:
            by_type.setdefault(rtype, []).append(action)

    for target in population:
        arns = tenant_arns(target, deployment)
        for rtype, resources in tenant_resources(arns, deployment).items():
            for resource in resources:
                for action in by_type.get(rtype, ()):
                    yield EvalRequest(policy, target, action.name, resource)
        # DynamoDB sends LeadingKeys only with item actions; the rest reach the
        # registry keyless, which is asked below as an account-wide request.
        keysets = [[target]] if target == owner else [[target], [owner, target]]
        for keys in keysets:
            for rtype, resources in _registry_resources(arns).items():
                for resource in resources:
                    for action in by_type.get(rtype, ()):
                        if LEADING_KEYS in action.condition_keys:
                            yield EvalRequest(policy, target, action.name, resource, {LEADING_KEYS: keys})

    for rtype, resources in _registry_resources(tenant_arns(owner, deployment)).items():
        for resource in resources:
            for action in by_type.get(rtype, ()):
                yield EvalRequest(policy, ALL_TENANTS, action.name, resource)
    for action in actions.values():
        if not action.resource_types:
            yield EvalRequest(policy, ALL_TENANTS, action.name, "*")


def _registry_resources(arns: TenantArns) -> dict[str, list[str]]:
    return {"table": [arns.registry], "index": list(arns.registry_indexes)}


@dataclass(frozen=True)
class IsolationReport:
    """The isolation matrix, the allowed requests behind it, and what produced it."""

    matrix: pd.DataFrame
    grants: pd.DataFrame
    requests_evaluated: int
    evaluator_versions: Mapping[str, str]

    @property
    def cross_tenant(self) -> pd.DataFrame:
        """Allowed requests that reach a tenant other than the policy's own (must be empty)."""
        g = self.grants
        return g[g["target"] != g["tenant"]].reset_index(drop=True)

    @property
    def isolated(self) -> bool:
        """True when no policy reaches another tenant and every policy reaches its own."""
        return self.cross_tenant.empty and bool((_diagonal(self.matrix) > 0).all())


def _diagonal(matrix: pd.DataFrame) -> pd.Series:
    return pd.Series([matrix.loc[(t, r), t] for t, r in matrix.index], index=matrix.index)


def evaluate_isolation(
    tenant_ids: Iterable[str] = ADVERSARIAL_TENANT_IDS,
    *,
    roles: Iterable[Role | str] = ROLES,
    deployment: Deployment | None = None,
    policies: Mapping[tuple[str, Role | str], Mapping[str, Any]] | None = None,
    evaluator: IamSimulator | None = None,
) -> IsolationReport:
    """Evaluate each policy against every tenant's resources; see the module docstring.

    `policies` defaults to the generated ones for `tenant_ids` x `roles`; pass your own
    (keyed by (tenant, role)) to check a hand-written policy against the same population.
    """
    population = list(dict.fromkeys(validate_tenant_id(t) for t in tenant_ids))
    dep = deployment or Deployment()
    if policies is None:
        policies = policies_for(population, dep, roles)
    items = [((validate_tenant_id(t), role_of(r)), dict(doc)) for (t, r), doc in policies.items()]
    keys = [k for k, _ in items]
    docs = [doc for _, doc in items]
    missing = sorted({t for t, _ in keys} - set(population))
    if missing:
        raise ConfigurationError(f"policies for tenants outside the population: {', '.join(missing)}")
    evaluator = evaluator or IamSimulator()
    actions = evaluator.actions("dynamodb")

    requests = [req for i, (owner, _) in enumerate(keys) for req in requests_for(owner, i, population, dep, actions)]
    decisions = evaluator.evaluate(docs, requests, account=dep.account, partition=dep.partition)

    rows = []
    for req, decision in zip(requests, decisions, strict=True):
        if decision != ALLOWED:
            continue
        owner, role = keys[req.policy]
        targets = population if req.target == ALL_TENANTS else [req.target]
        for target in targets:
            rows.append(
                {
                    "tenant": owner,
                    "role": str(role),
                    "target": target,
                    "action": req.action,
                    "resource": req.resource,
                    "leading_keys": ",".join(req.context.get(LEADING_KEYS, [])),
                    "account_wide": req.target == ALL_TENANTS,
                }
            )
    grants = pd.DataFrame(
        rows, columns=["tenant", "role", "target", "action", "resource", "leading_keys", "account_wide"]
    )
    index = pd.MultiIndex.from_tuples([(t, str(r)) for t, r in keys], names=["tenant", "role"])
    counts = grants.groupby(["tenant", "role", "target"]).size()
    matrix = pd.DataFrame(0, index=index, columns=pd.Index(population, name="target"), dtype="int64")
    for (tenant, role, target), n in counts.items():
        matrix.loc[(tenant, role), target] = int(n)
    return IsolationReport(
        matrix=matrix, grants=grants, requests_evaluated=len(requests), evaluator_versions=evaluator.versions
    )


def isolation_matrix(tenant_ids: Iterable[str] = ADVERSARIAL_TENANT_IDS, **kwargs: Any) -> pd.DataFrame:
    """Rows (tenant, role), columns target tenant, cells = allowed requests on that target."""
    return evaluate_isolation(tenant_ids, **kwargs).matrix
