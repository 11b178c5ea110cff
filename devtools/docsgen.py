"""Generate the documentation pages that come from code: `python -m devtools.docsgen`.

Writes every page in `PAGES` into `docs/generated/` and copies the notebooks
(`notebooks/*.ipynb`, or `--notebooks DIR` when `make run` has executed fresh
copies elsewhere) into `docs/notebooks/`; `mkdocs build` then renders both. Both
folders are build output and are not committed.

To add a generated page, write a builder `def my_page(inputs: Inputs) -> str`
(or `-> bytes` for a non-text file) and add it to `PAGES` under the path it is
written to. Builders must be deterministic: the same code and the same inputs
give byte-identical output, so nothing may depend on the clock, the machine,
the hash seed or unsorted directory listings.
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.contract_docs import CONTRACT_PAGES
from devtools.model_views import MODEL_VIEW_PAGES, with_index_matrix
from devtools.parity import DEFAULT_LEDGER, parity_page
from devtools.site_docs import DEFAULT_BENCHMARK_RESULTS, SITE_PAGES
from salestalk_lib.contract.tables import TABLE_SPECS, TableSpec, create_table_request, tags_for
from salestalk_lib.ops.patterns import chart_markdown
from salestalk_lib.ops.provision import provision_table

_TTL_DEFAULT = inspect.signature(provision_table).parameters["ttl_enabled"].default

GENERATED_DIR = "generated"
NOTEBOOKS_DIR = "notebooks"

# A tenant id that is valid for the key grammar and occurs nowhere else in a
# table name or tag, so it can be swapped for the `{tenantId}` placeholder.
_SAMPLE_TENANT = "zz0sample0zz"
_SAMPLE_ENVIRONMENT = "zz0environment0zz"
# "Purpose:", "**Purpose:**" or "**Purpose**:" opening a notebook's first paragraph.
_PURPOSE_LABEL = re.compile(r"^(?:(\*\*|__)purpose(?::\1|\1:)|purpose:)\s*", re.I)


@dataclass(frozen=True)
class Inputs:
    """What a page builder may read besides the library's own code."""

    notebooks: tuple[Path, ...]
    """The notebooks being published, in name order (their source files)."""

    benchmark_results: Path | None = DEFAULT_BENCHMARK_RESULTS
    """The committed results of `make bench` (`benchmarks/results.json`); None or a missing file: none."""

    parity_ledger: Path | None = DEFAULT_LEDGER
    """The engine parity ledger `python -m devtools.parity` wrote (`make docs` runs it first);
    None or a missing file: the page says none was generated."""

    @classmethod
    def from_dir(
        cls,
        notebooks_dir: Path,
        benchmark_results: Path | None = DEFAULT_BENCHMARK_RESULTS,
        parity_ledger: Path | None = DEFAULT_LEDGER,
    ) -> Inputs:
        found = sorted(notebooks_dir.glob("*.ipynb"), key=lambda p: p.name) if notebooks_dir.is_dir() else []
        return cls(notebooks=tuple(found), benchmark_results=benchmark_results, parity_ledger=parity_ledger)


PageBuilder = Callable[[Inputs], str | bytes]


# --- tables -------------------------------------------------------------------


def _md_cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _placeholders(value: Any) -> Any:
    """Swap the sample tenant id and environment for `{tenantId}` and `{environment}`, recursively."""
    if isinstance(value, str):
        return value.replace(_SAMPLE_TENANT, "{tenantId}").replace(_SAMPLE_ENVIRONMENT, "{environment}")
    if isinstance(value, Mapping):
        return {k: _placeholders(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_placeholders(v) for v in value]
    return value


def table_name_pattern(spec: TableSpec) -> str:
    """The table's base name, with `{tenantId}` where a tenant's id goes."""
    return _placeholders(spec.base_name(_SAMPLE_TENANT if spec.per_tenant else None))


def _sample_request(spec: TableSpec) -> dict[str, Any]:
    tenant = _SAMPLE_TENANT if spec.per_tenant else None
    tags = tags_for(spec, environment=_SAMPLE_ENVIRONMENT, tenant_id=tenant)
    return create_table_request(spec, spec.base_name(tenant), tags)


def _code(name: str) -> str:
    return f"`{name}`"


def _table_section(spec: TableSpec) -> list[str]:
    request = _placeholders(_sample_request(spec))
    pattern = request["TableName"]
    usage: dict[str, list[str]] = {}
    for key in spec.key_schema():
        usage.setdefault(key["AttributeName"], []).append(f"table {key['KeyType']}")
    for index in spec.indexes:
        for key in index.key_schema():
            usage.setdefault(key["AttributeName"], []).append(f"{index.name} {key['KeyType']}")

    out = [f"## {_code(pattern)}", ""]
    scope = "one table per tenant" if spec.per_tenant else "one table for the whole deployment"
    out += [
        f"- **Kind:** `{spec.kind}` ({scope})",
        f"- **Purpose:** `{spec.purpose}`",
        f"- **Billing:** `{request['BillingMode']}`",
        f"- **Server-side encryption:** {'on' if request.get('SSESpecification', {}).get('Enabled') else 'off'}",
        "- **Point-in-time recovery:** on (`provision_table` enables it on every table)",
        f"- **TTL attribute:** {_code(spec.ttl_attribute) if spec.ttl_attribute else 'none'}"
        + (
            f" (expiry {'on' if _TTL_DEFAULT else 'off'} by default: `provision_table(ttl_enabled=...)`)"
            if spec.ttl_attribute
            else ""
        ),
        "",
        "### Key schema",
        "",
    ]
    types = {a["AttributeName"]: a["AttributeType"] for a in request["AttributeDefinitions"]}
    out += _md_table(
        ["attribute", "type", "key type"],
        [(_code(k["AttributeName"]), types[k["AttributeName"]], k["KeyType"]) for k in request["KeySchema"]],
    )
    out += ["### Attribute definitions", ""]
    out += _md_table(
        ["attribute", "type", "used by"],
        [
            (_code(a["AttributeName"]), a["AttributeType"], ", ".join(usage[a["AttributeName"]]))
            for a in request["AttributeDefinitions"]
        ],
    )
    out += ["### Global secondary indexes", ""]
    gsis = request.get("GlobalSecondaryIndexes", [])
    if gsis:
        purposes = {i.name: i.purpose for i in spec.indexes}
        rows = []
        for gsi in gsis:
            keys = {k["KeyType"]: k["AttributeName"] for k in gsi["KeySchema"]}
            rows.append(
                (
                    _code(gsi["IndexName"]),
                    f"{_code(keys['HASH'])} ({types[keys['HASH']]})",
                    f"{_code(keys['RANGE'])} ({types[keys['RANGE']]})" if "RANGE" in keys else "–",
                    gsi["Projection"]["ProjectionType"],
                    purposes[gsi["IndexName"]],
                )
            )
        out += _md_table(["index", "partition key", "sort key", "projection", "purpose"], rows)
    else:
        out += ["None.", ""]
    if spec.notes:
        out += ["### Notes", ""] + [f"- {note}" for note in spec.notes] + [""]
    out += ["### Tags", ""]
    out += _md_table(["tag", "value"], [(_code(t["Key"]), _code(t["Value"])) for t in request.get("Tags", [])])
    out += [
        '??? example "CreateTable request"',
        "",
        "    ```json",
        *("    " + line for line in json.dumps(request, indent=2).splitlines()),
        "    ```",
        "",
    ]
    return out


def tables_page(inputs: Inputs) -> str:
    """The table reference: every table type, its keys, attributes, GSIs, notes and tags."""
    specs = list(TABLE_SPECS.values())
    out = [
        "# Tables",
        "",
        "Generated from `salestalk_lib.contract.tables.TABLE_SPECS`, the one place the tables are declared.",
        "Provisioning, drift checks and this page all read the same specs.",
        "`{tenantId}` stands for a tenant's id and `{environment}` for the deployment's environment;",
        "every deployed name also gets the `SALESTALK_TABLE_PREFIX` prefix (empty by default).",
        "",
    ]
    overview = []
    for spec in specs:
        keys = " + ".join(f"{_code(k.name)} ({k.type})" for k in spec.key_attributes)
        indexes = ", ".join(_code(i.name) for i in spec.indexes) or "–"
        overview.append((_code(table_name_pattern(spec)), spec.kind, keys, indexes))
    out += _md_table(["table", "kind", "primary key", "GSIs"], overview)
    for spec in specs:
        out += _table_section(spec)
    return "\n".join(out).rstrip("\n") + "\n"


# --- notebooks ----------------------------------------------------------------


def _notebook_summary(path: Path) -> tuple[str, str]:
    """Title (the first `# ` heading) and purpose (the first paragraph after it) of a notebook."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    title, purpose = path.stem, ""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else source
        paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
        for para in paragraphs:
            if para.startswith("# ") and title == path.stem:
                title = para.splitlines()[0][2:].strip()
            elif not para.startswith("#") and not purpose:
                purpose = _PURPOSE_LABEL.sub("", " ".join(para.split()))
        if purpose:
            break
    return title, purpose[:1].upper() + purpose[1:]


def notebooks_page(inputs: Inputs) -> str:
    """The list of published notebooks, in name order, with each one's title and purpose."""
    out = [
        "# Notebooks",
        "",
        "Tutorials that use the library's public API against a live endpoint and check each",
        "claim with an `assert`. `make run` executes them top to bottom on the embedded",
        "DynamoDB and publishes the executed copies here, in file-name order.",
        "",
    ]
    if not inputs.notebooks:
        return "\n".join(out + ["No notebooks have been published yet.", ""])
    rows = []
    for path in inputs.notebooks:
        title, purpose = _notebook_summary(path)
        rows.append((f"[{_md_cell(title)}](../{NOTEBOOKS_DIR}/{path.name})", _code(path.name), purpose))
    return "\n".join(out + _md_table(["notebook", "file", "purpose"], rows)).rstrip("\n") + "\n"


# --- access patterns ------------------------------------------------------------


CHART_CLASS = "pattern-chart"


def wrap_tables(markdown: str, css_class: str) -> str:
    """Put every markdown table of a page in `<div class="css_class" markdown>` (md_in_html), for styling."""
    out: list[str] = []
    in_table = in_fence = False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        is_row = not in_fence and line.startswith("|")
        if is_row and not in_table:
            out += [f'<div class="{css_class}" markdown>', ""]
        elif not is_row and in_table:
            out += ["", "</div>"]
        in_table = is_row
        out.append(line)
    if in_table:
        out += ["", "</div>"]
    return "\n".join(out) + "\n"


def access_patterns_page(inputs: Inputs) -> str:
    """The access-pattern chart, from the registry in `salestalk_lib.ops.patterns` (tables styled as the chart)."""
    return wrap_tables(with_index_matrix(chart_markdown()), CHART_CLASS)


# --- registry and writer --------------------------------------------------------

PAGES: dict[str, PageBuilder] = {
    "tables.md": tables_page,
    "notebooks.md": notebooks_page,
    "access-patterns.md": access_patterns_page,
    "engine-parity.md": parity_page,
    **MODEL_VIEW_PAGES,
    **SITE_PAGES,
    **CONTRACT_PAGES,
}
"""Every generated file: its path under `docs/generated/` and the builder that writes it."""


def render(inputs: Inputs) -> dict[str, bytes]:
    """Every generated page's path and bytes (pure: touches no file but the inputs)."""
    rendered: dict[str, bytes] = {}
    for path, build in PAGES.items():
        content = build(inputs)
        rendered[path] = content.encode("utf-8") if isinstance(content, str) else content
    return rendered


def _write_if_changed(path: Path, data: bytes) -> None:
    # Leaving unchanged files alone keeps `mkdocs serve` from rebuilding for nothing.
    if path.is_file() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _sync(target: Path, wanted: Mapping[str, bytes]) -> None:
    """Make `target` hold exactly `wanted` (relative path → bytes): write new, remove stale."""
    for rel, data in wanted.items():
        _write_if_changed(target / rel, data)
    if target.is_dir():
        for existing in sorted(target.rglob("*"), reverse=True):
            rel = existing.relative_to(target).as_posix()
            if existing.is_file() and rel not in wanted:
                existing.unlink()
            elif existing.is_dir() and not any(existing.iterdir()):
                existing.rmdir()
    target.mkdir(parents=True, exist_ok=True)


def generate(
    docs_dir: Path,
    notebooks_dir: Path,
    benchmark_results: Path | None = DEFAULT_BENCHMARK_RESULTS,
    parity_ledger: Path | None = DEFAULT_LEDGER,
) -> list[Path]:
    """Write the generated pages and the notebooks under `docs_dir`; returns the files written."""
    inputs = Inputs.from_dir(notebooks_dir, benchmark_results, parity_ledger)
    pages = render(inputs)
    notebooks = {p.name: p.read_bytes() for p in inputs.notebooks}
    _sync(docs_dir / GENERATED_DIR, pages)
    _sync(docs_dir / NOTEBOOKS_DIR, notebooks)
    return [docs_dir / GENERATED_DIR / p for p in pages] + [docs_dir / NOTEBOOKS_DIR / n for n in notebooks]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.docsgen",
        description="Write the generated documentation pages and copy the notebooks into the docs tree.",
    )
    parser.add_argument(
        "--notebooks",
        type=Path,
        metavar="DIR",
        help=f"publish the notebooks in DIR (default: ./{NOTEBOOKS_DIR}, if it exists)",
    )
    parser.add_argument(
        "--docs-dir",
        type=Path,
        default=Path("docs"),
        metavar="DIR",
        help="the mkdocs docs_dir to write into (default: %(default)s)",
    )
    parser.add_argument(
        "--benchmarks",
        type=Path,
        metavar="FILE",
        default=DEFAULT_BENCHMARK_RESULTS,
        help="the benchmark results to publish (default: the repository's benchmarks/results.json)",
    )
    parser.add_argument(
        "--parity",
        type=Path,
        metavar="FILE",
        default=DEFAULT_LEDGER,
        help="the engine parity ledger to publish (default: %(default)s, written by "
        "`python -m devtools.parity`, which `make docs` runs first)",
    )
    args = parser.parse_args(argv)
    notebooks = args.notebooks or Path(NOTEBOOKS_DIR)
    if not notebooks.is_dir():
        # `make run` only creates its output folder when there is a notebook to execute.
        print(f"docsgen: {notebooks} does not exist; publishing no notebooks", file=sys.stderr)
    if not args.parity.is_file():
        print(f"docsgen: no parity ledger at {args.parity}; the Engine parity page says so", file=sys.stderr)
    written = generate(args.docs_dir, notebooks, args.benchmarks, args.parity)
    print(f"docsgen: {len(written)} file(s) in {args.docs_dir}/{GENERATED_DIR} and {args.docs_dir}/{NOTEBOOKS_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
