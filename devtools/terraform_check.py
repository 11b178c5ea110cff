"""Terraform consistency check: the HCL under `infra/terraform/` against `TABLE_SPECS`.

The Terraform is parsed (python-hcl2, never `terraform` itself), every
`aws_dynamodb_table` is turned into a DescribeTable-like dict and compared by
`tables.describe_differences`, the same comparison provisioning uses for drift,
so keys, attribute types and GSIs have one definition of "different". On top of
that the check covers what only the Terraform can get wrong:

- per-tenant tables are created with `for_each` (on the table or on every
  module call that reaches it), never `count`;
- billing mode PAY_PER_REQUEST, point-in-time recovery on, server-side
  encryption on with a customer-managed key (`kms_key_arn`);
- every key attribute has an `attribute` block and no `attribute` is unused;
- TTL only on the spec's TTL attribute, and off unless a variable turns it on;
- the contract's tags (`tables.tags_for`) and a table name of the spec's shape;
- each of the three table kinds exists;
- IAM does not grow with tenants: every `aws_iam_*` resource lives in the root
  module (never in a module, which a `for_each` over tenants would multiply), none
  is multiplied by `for_each` or `count`, and the roles and policies are the
  constant set of `iam.policies` (one per access level).

A table's kind comes from its `Purpose` tag, or else from its name.

    differences = check_terraform(Path("infra/terraform"))   # [] when consistent

Each difference is one string, `"<file>: aws_dynamodb_table.<name>: <what>"`.
Pure: no boto3, no network; python-hcl2 is imported only when a file is parsed.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from salestalk_lib.contract.tables import TABLE_SPECS, TableKind, TableSpec, describe_differences, tags_for
from salestalk_lib.iam.policies import IAM_OBJECTS

DEFAULT_ROOT = Path(__file__).resolve().parent.parent / "infra" / "terraform"
"""The repository's Terraform root (exists in a source checkout only)."""

TERRAFORM_MANAGED_BY = "terraform"
_BILLING_MODE = "PAY_PER_REQUEST"
_TABLE_TYPE = "aws_dynamodb_table"
# Blocks whose content must be literal for the check (and a reviewer) to see it.
_STATIC_ONLY_BLOCKS = (
    "attribute",
    "global_secondary_index",
    "local_secondary_index",
    "point_in_time_recovery",
    "server_side_encryption",
)
_INTERPOLATION = r"\$\{[^}]+\}"
_TENANT_SENTINEL = "tenant0sentinel0id"


@dataclass(frozen=True)
class ModuleCall:
    """A `module` block whose source is a local directory."""

    file: str
    name: str
    source_dir: Path
    body: dict[str, Any]

    @property
    def address(self) -> str:
        return f"{self.file}: module.{self.name}"


@dataclass(frozen=True)
class TerraformTable:
    """One `aws_dynamodb_table` resource as written in the HCL (strings unquoted)."""

    file: str
    resource_name: str
    module_dir: Path
    body: dict[str, Any]

    @property
    def address(self) -> str:
        return f"{self.file}: {_TABLE_TYPE}.{self.resource_name}"

    @property
    def name(self) -> str:
        """The `name` argument, interpolations such as `${var.tenant_id}` kept."""
        return str(self.body.get("name", ""))

    @property
    def tags(self) -> dict[str, Any] | None:
        """The `tags` map, or None when it is not a literal map (e.g. `merge(...)`)."""
        tags = self.body.get("tags")
        return tags if isinstance(tags, dict) else None

    def description(self) -> dict[str, Any]:
        """A DescribeTable `Table`-like dict of what this resource would create."""
        body = self.body
        key_schema = [{"AttributeName": body.get("hash_key"), "KeyType": "HASH"}]
        if body.get("range_key") is not None:
            key_schema.append({"AttributeName": body["range_key"], "KeyType": "RANGE"})
        sse = _first(_blocks(body, "server_side_encryption"))
        return {
            "TableName": self.name,
            "KeySchema": key_schema,
            "AttributeDefinitions": [
                {"AttributeName": a.get("name"), "AttributeType": a.get("type")} for a in _blocks(body, "attribute")
            ],
            "GlobalSecondaryIndexes": [_index_description(g) for g in _blocks(body, "global_secondary_index")],
            "LocalSecondaryIndexes": [_index_description(g) for g in _blocks(body, "local_secondary_index")],
            # Terraform's default billing mode is PROVISIONED.
            "BillingModeSummary": {"BillingMode": body.get("billing_mode", "PROVISIONED")},
            "SSEDescription": {
                "Status": "ENABLED" if sse is not None and sse.get("enabled") is True else "DISABLED",
                "KMSMasterKeyArn": None if sse is None else sse.get("kms_key_arn"),
            },
        }


def check_terraform(root: str | Path = DEFAULT_ROOT) -> list[str]:
    """Every difference between the Terraform under `root` and `TABLE_SPECS`; [] if consistent."""
    root = Path(root)
    if not root.is_dir():
        return [f"{root}: Terraform directory does not exist"]
    diffs, tables, calls = _load(root)
    diffs += _instantiation_differences(tables, calls)
    diffs += iam_differences(root)
    found: dict[TableKind, list[TerraformTable]] = {kind: [] for kind in TABLE_SPECS}
    for table in tables:
        kind, kind_diffs = table_kind(table)
        diffs += [f"{table.address}: {d}" for d in kind_diffs]
        if kind is None:
            continue
        found[kind].append(table)
        diffs += [f"{table.address}: {d}" for d in table_differences(table, TABLE_SPECS[kind])]
    for kind, spec in TABLE_SPECS.items():
        if not found[kind]:
            diffs.append(f"{root.name}: no {_TABLE_TYPE} for the {kind} table ({_spec_name(spec)})")
    if len(found[TableKind.REGISTRY]) > 1:
        names = ", ".join(t.address for t in found[TableKind.REGISTRY])
        diffs.append(f"{root.name}: the registry table is declared more than once ({names})")
    return diffs


_IAM_COUNTED = {"aws_iam_role": "roles", "aws_iam_policy": "customer_managed_policies"}


def iam_resources(root: str | Path = DEFAULT_ROOT) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(file, module dir, `type.name`, body) of every `aws_iam_*` resource under `root`."""
    root = Path(root)
    out = []
    for path in sorted(root.rglob("*.tf")):
        rel = path.relative_to(root)
        if ".terraform" in rel.parts:
            continue
        try:
            document = _parse(path)
        except Exception:  # noqa: BLE001 reported by _load already
            continue
        for resource_type, name, body in _labelled(document, "resource", depth=2):
            if str(resource_type).startswith("aws_iam_"):
                out.append((_posix(rel), _posix(rel.parent), f"{resource_type}.{name}", body))
    return out


def iam_differences(root: str | Path = DEFAULT_ROOT) -> list[str]:
    """IAM that would grow with tenants: IAM in a module, IAM under for_each/count, or not the constant set."""
    diffs: list[str] = []
    counted = dict.fromkeys(_IAM_COUNTED.values(), 0)
    for file, module_dir, address, body in iam_resources(root):
        if module_dir != ".":
            diffs.append(
                f"{file}: {address}: IAM inside a module; modules are instantiated per tenant, so IAM belongs "
                "in the root module (one role and policy per access level, tenant chosen by session tag)"
            )
        for meta in ("for_each", "count"):
            if meta in body:
                diffs.append(f"{file}: {address}: multiplied by {meta}; the IAM set must not grow with tenants")
        kind = _IAM_COUNTED.get(address.split(".", 1)[0])
        if kind:
            counted[kind] += 1
    for kind, n in counted.items():
        if n != IAM_OBJECTS[kind]:
            diffs.append(
                f"{Path(root).name}: {n} IAM {kind}, the design has {IAM_OBJECTS[kind]} (one per access level)"
            )
    return diffs


def find_tables(root: str | Path = DEFAULT_ROOT) -> list[TerraformTable]:
    """Every `aws_dynamodb_table` under `root` (parse errors are left to `check_terraform`)."""
    return _load(Path(root))[1]


def table_kind(table: TerraformTable) -> tuple[TableKind | None, list[str]]:
    """Which spec a table implements, by `Purpose` tag or else by name, and any disagreement."""
    by_purpose = None
    purpose = (table.tags or {}).get("Purpose")
    if purpose is not None:
        by_purpose = next((k for k, s in TABLE_SPECS.items() if s.purpose == purpose), None)
        if by_purpose is None:
            known = ", ".join(s.purpose for s in TABLE_SPECS.values())
            return None, [f"Purpose tag {purpose!r} is none of the spec's purposes ({known})"]
    by_name = next((k for k, s in TABLE_SPECS.items() if _name_pattern(s).fullmatch(table.name)), None)
    if by_purpose is not None and by_name is not None and by_purpose != by_name:
        return by_purpose, [
            f"Purpose tag says {by_purpose} table but the name {table.name!r} is a {by_name} table name"
        ]
    kind = by_purpose or by_name
    if kind is None:
        return None, [f"cannot tell which table type {table.name!r} is: give it a spec Purpose tag or name"]
    return kind, []


def table_differences(table: TerraformTable, spec: TableSpec) -> list[str]:
    """Every way one Terraform table differs from `spec` (without the module/for_each check)."""
    description = table.description()
    diffs = describe_differences(spec, description)
    diffs += _attribute_differences(spec, description)
    diffs += [
        f"dynamic {label} block: write it out so it can be checked against the spec"
        for label in _dynamic_labels(table.body)
        if label in _STATIC_ONLY_BLOCKS
    ]
    diffs += [
        f"local secondary index {i['IndexName']} is not in the spec" for i in description["LocalSecondaryIndexes"]
    ]

    billing = description["BillingModeSummary"]["BillingMode"]
    if billing != _BILLING_MODE:
        diffs.append(f"billing mode is {billing}, spec says {_BILLING_MODE}")

    pitr = _first(_blocks(table.body, "point_in_time_recovery"))
    if pitr is None or pitr.get("enabled") is not True:
        diffs.append("point-in-time recovery is off: add point_in_time_recovery { enabled = true }")

    sse = description["SSEDescription"]
    if sse["Status"] != "ENABLED":
        diffs.append("server-side encryption is off: add server_side_encryption { enabled = true }")
    elif not sse["KMSMasterKeyArn"]:
        diffs.append("server-side encryption uses an AWS-owned key: set kms_key_arn to the customer-managed key")

    diffs += _ttl_differences(table, spec)
    diffs += _tag_differences(table, spec)
    if not _name_pattern(spec).fullmatch(table.name):
        diffs.append(f"table name {table.name!r} does not have the spec's shape {_spec_name(spec)}")
    return diffs


def _attribute_differences(spec: TableSpec, description: dict[str, Any]) -> list[str]:
    # DescribeTable always lists every key attribute, so describe_differences
    # need not look for missing or surplus ones; hand-written HCL can have both,
    # and Terraform then fails at plan or apply time.
    declared = [a["AttributeName"] for a in description["AttributeDefinitions"]]
    used = {k["AttributeName"] for k in description["KeySchema"]}
    used |= {k["AttributeName"] for i in description["GlobalSecondaryIndexes"] for k in i["KeySchema"]}
    used |= {k["AttributeName"] for i in description["LocalSecondaryIndexes"] for k in i["KeySchema"]}
    diffs = [
        f"attribute {name!r} is declared more than once"
        for name in sorted({n for n in declared if declared.count(n) > 1})
    ]
    diffs += [
        f"key attribute {a.name!r} has no attribute block (spec says {a.type})"
        for a in spec.key_attributes_all()
        if a.name in used and a.name not in declared
    ]
    diffs += [f"attribute {name!r} is declared but no key or index uses it" for name in sorted(set(declared) - used)]
    return diffs


def _ttl_differences(table: TerraformTable, spec: TableSpec) -> list[str]:
    diffs = []
    static = [(b, False) for b in _blocks(table.body, "ttl")]
    dynamic = [(b, True) for b in _dynamic_contents(table.body, "ttl")]
    for block, conditional in static + dynamic:
        enabled = block.get("enabled")
        if enabled is False:
            continue
        attribute = block.get("attribute_name")
        if spec.ttl_attribute is None:
            diffs.append(f"TTL on {attribute!r} is not in the spec (the {spec.kind} table has no TTL)")
        elif attribute != spec.ttl_attribute:
            diffs.append(f"TTL attribute is {attribute!r}, spec says {spec.ttl_attribute!r}")
        elif enabled is True and not conditional:
            diffs.append("TTL is always on: the contract keeps it off by default (enable it from a variable)")
    return diffs


def _tag_differences(table: TerraformTable, spec: TableSpec) -> list[str]:
    tags = table.tags
    if tags is None:
        return ["tags must be a literal map so the contract's tags can be checked"]
    # tags_for is the contract's tag set; Environment and TenantId are
    # variables here, so for those only their presence can be checked.
    expected = tags_for(
        spec,
        environment="dev",
        managed_by=TERRAFORM_MANAGED_BY,
        tenant_id=_TENANT_SENTINEL if spec.per_tenant else None,
    )
    diffs = []
    for key, value in expected.items():
        if key not in tags:
            diffs.append(f"tag {key} is missing")
        elif key not in ("Environment", "TenantId") and tags[key] != value:
            diffs.append(f"tag {key} is {tags[key]!r}, spec says {value!r}")
    if not spec.per_tenant and "TenantId" in tags:
        diffs.append(f"tag TenantId is set on the {spec.kind} table, which belongs to no tenant")
    return diffs


def _instantiation_differences(tables: list[TerraformTable], calls: list[ModuleCall]) -> list[str]:
    """Per-tenant tables must be multiplied by for_each, never by count."""
    diffs: list[str] = []
    checked_dirs: set[Path] = set()
    for table in tables:
        kind = table_kind(table)[0]
        if kind is None or not TABLE_SPECS[kind].per_tenant:
            continue
        if "count" in table.body:
            diffs.append(
                f"{table.address}: uses count for tenant tables; use for_each over a set or map "
                "of tenant ids (count re-indexes and replaces other tenants' tables)"
            )
        elif "for_each" not in table.body and table.module_dir not in checked_dirs:
            checked_dirs.add(table.module_dir)
            diffs += _per_tenant_call_differences(table.module_dir, calls, set())
    return diffs


def _per_tenant_call_differences(module_dir: Path, calls: list[ModuleCall], seen: set[Path]) -> list[str]:
    if module_dir in seen:
        return [f"{_posix(module_dir)}: module calls form a cycle"]
    seen = seen | {module_dir}
    callers = [c for c in calls if c.source_dir == module_dir]
    if module_dir == Path("."):
        return ["root module: tenant tables are created once, not per tenant: use for_each over the tenant ids"]
    if not callers:
        return [f"{_posix(module_dir)}: module creates tenant tables but no module block calls it"]
    diffs = []
    for call in callers:
        if "count" in call.body:
            diffs.append(
                f"{call.address}: uses count for tenant tables; use for_each over a set or map "
                "of tenant ids (count re-indexes and replaces other tenants' tables)"
            )
        elif "for_each" not in call.body:
            # The multiplication may happen one level up, in the caller's caller.
            caller_dir = Path(call.file).parent
            diffs += [
                f"{call.address}: not per tenant ({d})" for d in _per_tenant_call_differences(caller_dir, calls, seen)
            ]
    return diffs


def _load(root: Path) -> tuple[list[str], list[TerraformTable], list[ModuleCall]]:
    diffs: list[str] = []
    tables: list[TerraformTable] = []
    calls: list[ModuleCall] = []
    for path in sorted(root.rglob("*.tf")):
        rel = path.relative_to(root)
        if ".terraform" in rel.parts:
            continue
        try:
            document = _parse(path)
        except Exception as exc:  # noqa: BLE001 lark's errors vary by version; any failure is a difference
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            diffs.append(f"{_posix(rel)}: does not parse as HCL: {first_line}")
            continue
        module_dir = rel.parent
        for resource_type, name, body in _labelled(document, "resource", depth=2):
            if resource_type == _TABLE_TYPE:
                tables.append(TerraformTable(_posix(rel), name, module_dir, body))
        for name, body in _labelled(document, "module", depth=1):
            source = body.get("source")
            if isinstance(source, str) and source.startswith(("./", "../")):
                source_dir = Path(*_normalise_parts(module_dir / source))
                calls.append(ModuleCall(_posix(rel), name, source_dir, body))
    return diffs, tables, calls


def _parse(path: Path) -> dict[str, Any]:
    import hcl2  # test/infra extra only: the rest of the library must import without it

    with path.open(encoding="utf-8") as handle:
        return _normalise(hcl2.load(handle))


def _normalise(value: Any) -> Any:
    """Drop hcl2's `__meta__` keys and unquote string literals and labels.

    python-hcl2 8.x keeps the quotes of string literals (`'"pk"'`) and labels,
    and marks blocks with `__is_block__`; 7.x did neither. Expressions stay as
    `${...}` in both, so after this a literal and an expression can be told apart.
    """
    if isinstance(value, dict):
        return {_unquote(k): _normalise(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, str):
        return _unquote(value)
    return value


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return re.sub(r'\\(["\\])', r"\1", text[1:-1])
    return text


def _labelled(document: dict[str, Any], block_type: str, depth: int) -> Iterator[tuple[Any, ...]]:
    """(label, ..., body) for every `block_type` block: hcl2 nests one dict per label."""

    def walk(node: Any, labels: tuple[str, ...]) -> Iterator[tuple[Any, ...]]:
        if len(labels) == depth:
            if isinstance(node, dict):
                yield (*labels, node)
            return
        if isinstance(node, dict):
            for label, child in node.items():
                yield from walk(child, (*labels, label))

    for entry in _as_list(document.get(block_type)):
        yield from walk(entry, ())


def _blocks(body: dict[str, Any], block_type: str) -> list[dict[str, Any]]:
    return [b for b in _as_list(body.get(block_type)) if isinstance(b, dict)]


def _dynamic_labels(body: dict[str, Any]) -> list[str]:
    return [label for entry in _blocks(body, "dynamic") for label in entry]


def _dynamic_contents(body: dict[str, Any], label: str) -> list[dict[str, Any]]:
    return [
        content
        for entry in _blocks(body, "dynamic")
        if isinstance(entry.get(label), dict)
        for content in _blocks(entry[label], "content")
    ]


def _index_description(block: dict[str, Any]) -> dict[str, Any]:
    key_schema = [{"AttributeName": block.get("hash_key"), "KeyType": "HASH"}]
    if block.get("range_key") is not None:
        key_schema.append({"AttributeName": block["range_key"], "KeyType": "RANGE"})
    return {
        "IndexName": block.get("name"),
        "KeySchema": key_schema,
        "Projection": {"ProjectionType": block.get("projection_type")},
    }


def _name_pattern(spec: TableSpec) -> re.Pattern[str]:
    # Any prefix (literal characters or an interpolation such as
    # ${var.table_prefix}), then the spec's base name; on a per-tenant table
    # the tenant id must be an interpolation, never one hard-coded tenant.
    base = re.escape(spec.base_name(_TENANT_SENTINEL if spec.per_tenant else None))
    base = base.replace(re.escape(_TENANT_SENTINEL), _INTERPOLATION)
    return re.compile(rf"(?:{_INTERPOLATION}|[A-Za-z0-9_.-])*{base}")


def _spec_name(spec: TableSpec) -> str:
    if not spec.per_tenant:
        return spec.base_name()
    return spec.base_name(_TENANT_SENTINEL).replace(_TENANT_SENTINEL, "{tenantId}")


def _first(blocks: list[dict[str, Any]]) -> dict[str, Any] | None:
    return blocks[0] if blocks else None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _normalise_parts(path: Path) -> list[str]:
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part != ".":
            parts.append(part)
    return parts or ["."]


def _posix(path: Path) -> str:
    return path.as_posix()


def main(argv: list[str] | None = None) -> int:
    """Print every difference for the given (or the repository's) Terraform root; exit 1 if any."""
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]) if args else DEFAULT_ROOT
    differences = check_terraform(root)
    for difference in differences:
        print(difference)
    if not differences:
        print(f"{root}: Terraform matches the table specs")
    return 1 if differences else 0


if __name__ == "__main__":
    raise SystemExit(main())
