"""Proof of tenant isolation: the constant role policies evaluated for every tenant's session.

The verdicts come from @cloud-copilot/iam-simulate, a maintained IAM evaluation
engine (wildcards in actions and resources, policy variables such as
`${aws:PrincipalTag/TenantId}`, Allow/Deny precedence, every condition operator
including `ForAllValues:` and `Null`), run by Node from `tools/iam-simulate/`. The
engine takes the request context as given, so this module supplies what AWS would
put there: the session's principal tag (`aws:PrincipalTag/TenantId`, from the
session tags of `iam.session_tags`), the resource's tag (`aws:ResourceTag/TenantId`,
on tables and, inherited, their indexes; streams, backups, exports, imports and global
tables carry none), and `dynamodb:LeadingKeys` on item actions. It decides which
requests to ask about and counts the answers; it implements no IAM matching itself.

Rows are principals: one per (tenant, role) of the population, each the role's one
shared policy with the tenant's principal tag, and one per role for a session
without the tag (`NO_TAG`). The requests asked of each, for every tenant `u`:

- every DynamoDB action (the library's own action list) against each ARN of
  `u` whose resource type the action accepts: both tables, their GSIs (tagged
  `TenantId=u`), and a stream, backup, export and import under each table, and the
  global table;
- the same table and index ARNs as decoys nobody owns: untagged (column `UNTAGGED`),
  and tagged with the next tenant's id (column `MISTAGGED`), for the two targets where a
  mistake in this principal's policy would show: its own tenant's names (untagged, or tagged
  for another tenant) and the previous tenant's names (tagged with the owner's id);
- on the registry, every item action (those DynamoDB sends `dynamodb:LeadingKeys`
  with) with the key `[u]`, and with `[owner, u]` (one batch mixing the owner's
  key with a foreign one);
- account-wide requests, counted against every tenant because they reach all
  of them: every action on the registry and its indexes with no leading key (a
  Scan, a DescribeTable) and each wildcard-only action (ListTables, ...) on `*`.

`isolation_matrix` has one row per principal (tenant, role), one column per target
tenant plus the two decoy columns, and in each cell the number of allowed requests
on that target. The diagonal must be positive and every other cell zero; the
`NO_TAG` rows must be zero everywhere.
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
    RESOURCE_TAG,
    ROLES,
    Deployment,
    Role,
    TenantArns,
    principal_context,
    role_of,
    role_policy_document,
    tenant_arns,
)

TOOL_DIR_ENV = "SALESTALK_IAM_SIMULATE_DIR"
DEFAULT_TOOL_DIR = Path(__file__).resolve().parents[1] / "tools" / "iam-simulate"
INSTALL_HINT = "npm ci --prefix tools/iam-simulate"
ALLOWED = "Allowed"
ALL_TENANTS = "*"
NO_TAG = "(no tag)"  # a principal row: a session without the TenantId tag
UNTAGGED = "(untagged)"  # a target column: tenant tables and indexes without the TenantId tag
MISTAGGED = "(mis-tagged)"  # a target column: tenant tables and indexes tagged with another tenant's id
DECOYS: tuple[str, ...] = (UNTAGGED, MISTAGGED)

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
    "acme-eu",  # acme + "-eu": a region-style suffix
    "a-b",  # "a" + "-b"
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
    """Every request asked of policy number `policy`, whose principal is `owner`'s session (see the module docstring).

    `owner` is a tenant id (the session carries `aws:PrincipalTag/TenantId = owner`) or `NO_TAG`.
    """
    by_type: dict[str, list[IamAction]] = {}
    for action in actions.values():
        for rtype in action.resource_types:
            by_type.setdefault(rtype, []).append(action)
    principal = {} if owner == NO_TAG else principal_context(owner)

    def asked(target: str, resources: Mapping[str, list[str]], tag: str | None) -> Iterator[EvalRequest]:
        for rtype, arns in resources.items():
            # Tables carry the TenantId tag and their indexes inherit it; other child resources carry none.
            context = dict(principal, **{RESOURCE_TAG: tag}) if tag is not None and rtype in _TAGGED else principal
            for resource in arns:
                for action in by_type.get(rtype, ()):
                    yield EvalRequest(policy, target, action.name, resource, context)

    # Decoys where a mistake of this principal's policy could show: the owner's own table names untagged
    # or tagged for the next tenant, and the previous tenant's names tagged with the owner's id.
    at = population.index(owner) if owner in population else 0
    decoy_targets = {population[at], population[at - 1]}
    for i, target in enumerate(population):
        arns = tenant_arns(target, deployment)
        yield from asked(target, tenant_resources(arns, deployment), target)
        if target in decoy_targets:
            tagged = {rtype: tenant_resources(arns, deployment)[rtype] for rtype in _TAGGED}
            yield from asked(UNTAGGED, tagged, None)
            yield from asked(MISTAGGED, tagged, _mistag(population, i))
        # DynamoDB sends LeadingKeys only with item actions; the rest reach the
        # registry keyless, which is asked below as an account-wide request.
        keysets = [[target]] if target == owner or owner == NO_TAG else [[target], [owner, target]]
        for keys in keysets:
            for rtype, resources in _registry_resources(arns).items():
                for resource in resources:
                    for action in by_type.get(rtype, ()):
                        if LEADING_KEYS in action.condition_keys:
                            yield EvalRequest(
                                policy, target, action.name, resource, dict(principal, **{LEADING_KEYS: keys})
                            )

    registry_owner = population[0] if owner == NO_TAG else owner
    for rtype, resources in _registry_resources(tenant_arns(registry_owner, deployment)).items():
        for resource in resources:
            for action in by_type.get(rtype, ()):
                yield EvalRequest(policy, ALL_TENANTS, action.name, resource, principal)
    for action in actions.values():
        if not action.resource_types:
            yield EvalRequest(policy, ALL_TENANTS, action.name, "*", principal)


_TAGGED = ("table", "index")


def _mistag(population: Sequence[str], i: int) -> str:
    """The wrong tag for target `population[i]`: the next tenant's id (a real tenant's, the dangerous case)."""
    return population[(i + 1) % len(population)] if len(population) > 1 else population[i] + "-other"


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
        """Allowed requests that reach anything but the session's own tenant (must be empty).

        That includes the decoy tables (untagged, mis-tagged) and every grant to a session without the tag.
        """
        g = self.grants
        return g[g["target"] != g["tenant"]].reset_index(drop=True)

    @property
    def isolated(self) -> bool:
        """True when no session reaches another tenant or a decoy and every tagged session reaches its own."""
        return self.cross_tenant.empty and bool((_diagonal(self.matrix) > 0).all())


def _diagonal(matrix: pd.DataFrame) -> pd.Series:
    rows = [(t, r) for t, r in matrix.index if t != NO_TAG]
    return pd.Series([matrix.loc[(t, r), t] for t, r in rows], index=pd.MultiIndex.from_tuples(rows), dtype="int64")


def evaluate_isolation(
    tenant_ids: Iterable[str] = ADVERSARIAL_TENANT_IDS,
    *,
    roles: Iterable[Role | str] = ROLES,
    deployment: Deployment | None = None,
    policies: Mapping[tuple[str, Role | str], Mapping[str, Any]] | None = None,
    evaluator: IamSimulator | None = None,
) -> IsolationReport:
    """Evaluate each principal against every tenant's resources and the decoys; see the module docstring.

    `policies` defaults to the role policies for every tenant of `tenant_ids` x `roles`, plus one
    `NO_TAG` principal per role; pass your own (keyed by (tenant or NO_TAG, role)) to check a
    hand-written policy against the same population.
    """
    population = list(dict.fromkeys(validate_tenant_id(t) for t in tenant_ids))
    dep = deployment or Deployment()
    role_list = [role_of(r) for r in roles]
    if policies is None:
        shared = {r: role_policy_document(r, dep) for r in role_list}
        policies = {(t, r): shared[r] for t in [*population, NO_TAG] for r in role_list}
    items = [((t if t == NO_TAG else validate_tenant_id(t), role_of(r)), dict(doc)) for (t, r), doc in policies.items()]
    keys = [k for k, _ in items]
    docs = [doc for _, doc in items]
    missing = sorted({t for t, _ in keys} - set(population) - {NO_TAG})
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
                    "resource_tag": req.context.get(RESOURCE_TAG, ""),
                    "leading_keys": ",".join(req.context.get(LEADING_KEYS, [])),
                    "account_wide": req.target == ALL_TENANTS,
                }
            )
    columns = ["tenant", "role", "target", "action", "resource", "resource_tag", "leading_keys", "account_wide"]
    grants = pd.DataFrame(rows, columns=columns)
    index = pd.MultiIndex.from_tuples([(t, str(r)) for t, r in keys], names=["tenant", "role"])
    counts = grants.groupby(["tenant", "role", "target"]).size()
    matrix = pd.DataFrame(0, index=index, columns=pd.Index([*population, *DECOYS], name="target"), dtype="int64")
    for (tenant, role, target), n in counts.items():
        matrix.loc[(tenant, role), target] = int(n)
    return IsolationReport(
        matrix=matrix, grants=grants, requests_evaluated=len(requests), evaluator_versions=evaluator.versions
    )


def isolation_matrix(tenant_ids: Iterable[str] = ADVERSARIAL_TENANT_IDS, **kwargs: Any) -> pd.DataFrame:
    """Rows (tenant, role), columns target tenant and the decoys, cells = allowed requests on that target."""
    return evaluate_isolation(tenant_ids, **kwargs).matrix
