"""The generated contract reference pages: complete, derived from the models, deterministic, linked.

Expectations come from the models themselves (their fields, annotations and
validators), not from the JSON Schemas the pages are built from, so a constraint
the page generator drops or misreads shows up here.
"""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
import typing
from pathlib import Path, PurePosixPath
from typing import Any

import annotated_types
import pytest
import yaml
from pydantic.fields import FieldInfo

from devtools import contract_docs, docsgen
from devtools.contract_docs import CONTRACT_PAGES, CONTRACTS_DIR, SCHEMAS_DIR, layout
from salestalk_lib.cli.main import main as cli_main
from salestalk_lib.contract import keys, models, validation, vocab
from salestalk_lib.contract.models import SCHEMA_MODELS, ContractJsonSchema, ContractModel, schema_file_name

REPO = Path(__file__).resolve().parents[1]
INPUTS = docsgen.Inputs(notebooks=())


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    """Every contract page (path under docs/generated → text); schema files as text too."""
    return {
        path: (out if isinstance(out, str) else out.decode("utf-8"))
        for path, out in ((p, build(INPUTS)) for p, build in CONTRACT_PAGES.items())
    }


def documented_models() -> list[type[ContractModel]]:
    return [m for ms in layout().values() for m in ms]


def section(page: str, model: type[ContractModel]) -> str:
    """The part of a page about one model: from its heading to the next model heading."""
    start = page.index(f"## `{model.__name__}` {{#")
    end = page.find("\n## `", start + 1)
    return page[start:] if end < 0 else page[start:end]


def row(text: str, wire: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(f"| `{wire}`"))


# --- what a field's annotation says, read from pydantic's field info -------------------------


def _annotation_metadata(field: FieldInfo) -> list[Any]:
    """Every constraint object on the field, also those inside `X | None` and nested Annotated types."""
    found: list[Any] = list(field.metadata)

    def walk(tp: Any) -> None:
        # Into `X | None`, Annotated types and container items (`tuple[MetricSubject, ...]`, dict keys/values).
        if typing.get_origin(tp) is typing.Annotated:
            found.extend(typing.get_args(tp)[1:])
            walk(typing.get_args(tp)[0])
        elif typing.get_origin(tp) is not typing.Literal:
            for arg in typing.get_args(tp):
                walk(arg)

    walk(field.annotation)
    flat: list[Any] = []
    for item in found:
        flat += [item, *item.metadata] if isinstance(item, FieldInfo) else [item]
    return flat


def _extras(field: FieldInfo) -> list[dict[str, Any]]:
    """Every json_schema_extra on the field and inside its annotation (patterns, enums, lengths)."""
    extras = [field.json_schema_extra] if isinstance(field.json_schema_extra, dict) else []
    return extras + [
        m.json_schema_extra
        for m in _annotation_metadata(field)
        if isinstance(m, FieldInfo) and isinstance(m.json_schema_extra, dict)
    ]


def _extra(field: FieldInfo, key: str) -> Any:
    return next((e[key] for e in _extras(field) if key in e), None)


def _literal(field: FieldInfo) -> Any:
    return typing.get_args(field.annotation)[0] if typing.get_origin(field.annotation) is typing.Literal else None


def expected_phrases(model: type[ContractModel], name: str, field: FieldInfo) -> list[str]:
    """The constraint texts the row of `name` must contain, from the field's own annotation."""
    out = []
    meta = _annotation_metadata(field)
    for kind, attr, sign in (
        (annotated_types.Ge, "ge", "≥"),
        (annotated_types.Gt, "gt", ">"),
        (annotated_types.Le, "le", "≤"),
        (annotated_types.Lt, "lt", "<"),
    ):
        out += [f"{sign} {getattr(m, attr)}" for m in meta if isinstance(m, kind)]
    low = next((m.min_length for m in meta if isinstance(m, annotated_types.MinLen)), _extra(field, "minLength"))
    high = next((m.max_length for m in meta if isinstance(m, annotated_types.MaxLen)), _extra(field, "maxLength"))
    if low is not None and high is not None:
        out.append(f"{low:,}–{high:,} characters")
    out += [f"`{e['pattern']}`" for e in _extras(field) if "pattern" in e]
    if (value := _literal(field)) is not None:
        out.append(f"always `{value}`")
    annotation = contract_docs.declared_annotation(model, name)
    limit = getattr(models, re.sub(r"(?<!^)(?=[A-Z])", "_", annotation).upper() + "_LIMIT", None)
    if annotation.endswith("Metadata") and limit is not None:
        out.append(f"at most {limit // 1024} KB")
    return out


def expected_vocabulary(field: FieldInfo) -> tuple[list[str], list[str]]:
    """(values the row must list, values it must not) for a field drawn from a vocabulary."""
    enum = contract_docs.field_enum(field)
    if enum is None:
        return [], []
    allowed = _extra(field, "enum") or [v.value for v in enum]
    return allowed, [v.value for v in enum if v.value not in allowed]


# --- model pages ----------------------------------------------------------------------------------


def test_every_contract_model_has_exactly_one_home_page() -> None:
    every = {
        m
        for m in vars(models).values()
        if inspect.isclass(m) and issubclass(m, ContractModel) and m not in contract_docs._GENERIC_BASES
    }  # bases whose rules their subclasses show
    homes = documented_models()
    assert len(homes) == len(set(homes))
    assert set(homes) == every


@pytest.mark.parametrize("model", documented_models(), ids=lambda m: m.__name__)
def test_every_field_is_in_its_models_table_with_its_constraints(
    model: type[ContractModel], pages: dict[str, str]
) -> None:
    text = section(pages[f"{CONTRACTS_DIR}/{contract_docs.home(model)}.md"], model)
    base = contract_docs._shared_base(model, layout()[contract_docs.home(model)])
    own = inspect.get_annotations(model)
    for name, field in model.model_fields.items():
        if base is not None and name not in own:
            assert f"## `{base.__name__}`" in pages[f"{CONTRACTS_DIR}/{contract_docs.home(model)}.md"]
            continue
        wire = field.alias or name
        line = row(text, wire)
        assert ("| required |" if field.is_required() else "| optional |") in line, (wire, line)
        if wire != name:
            assert f"Python: `{name}`" in line
        for phrase in expected_phrases(model, name, field):
            assert phrase in line, (model.__name__, wire, phrase, line)
        allowed, refused = expected_vocabulary(field)
        for value in allowed:
            assert f"`{value}`" in line, (wire, value)
        for value in refused:
            assert f"`{value}`" not in line, (wire, value)


def test_spot_checks_of_constraints_that_matter(pages: dict[str, str]) -> None:
    message = pages[f"{CONTRACTS_DIR}/message.md"]
    assert "≥ 0; ≤ 1" in row(section(message, models.Classification), "confidence")
    assert "1–10,000 characters" in row(section(message, models.Message), "text")
    assert "at most 50 KB" in row(section(message, models.Message), "metadata")
    tenant = section(pages[f"{CONTRACTS_DIR}/tenant.md"], models.Tenant)
    assert "at most 10 KB" in row(tenant, "metadata") and "format `email`" in row(tenant, "ownerEmail")
    assert "> 0" in row(tenant, "createdAt")
    assert "≥ 1" in row(section(pages[f"{CONTRACTS_DIR}/session-rollup.md"], models.SessionRollup), "messageCount")
    for intent in vocab.Intent:
        assert f"`{intent.value}`" in row(section(message, models.Classification), "intent")


@pytest.mark.parametrize("model", documented_models(), ids=lambda m: m.__name__)
def test_every_cross_field_rule_is_listed_from_its_validators_docstring(
    model: type[ContractModel], pages: dict[str, str]
) -> None:
    text = section(pages[f"{CONTRACTS_DIR}/{contract_docs.home(model)}.md"], model)
    base = contract_docs._shared_base(model, layout()[contract_docs.home(model)])
    decorators = model.__pydantic_decorators__
    for dec in [*decorators.field_validators.values(), *decorators.model_validators.values()]:
        doc = inspect.getdoc(dec.func)
        assert doc, f"{dec.func.__qualname__} has no docstring: its rule would be missing from the docs"
        owner = dec.func.__qualname__.split(".")[0]
        if owner == "ContractModel":
            assert doc in pages[f"{CONTRACTS_DIR}/index.md"]
        elif base is None or owner == model.__name__:
            assert doc in text, dec.func.__qualname__


def test_cross_field_rules_name_the_attributes_on_the_wire(pages: dict[str, str]) -> None:
    metric = section(pages[f"{CONTRACTS_DIR}/metric.md"], models.Metric)
    assert "- **`metricType`:** `metricType` equals `subject`." in metric
    assert "- **`dimensionKey`:**" in metric
    tenant = section(pages[f"{CONTRACTS_DIR}/tenant.md"], models.Tenant)
    assert "- **`messagesTableName`, `metricsTableName`, `s3Prefix`:**" in tenant
    assert "- **`updatedAt`:** `updatedAt` ≥ `createdAt`." in tenant


def test_named_type_descriptions_come_from_their_docstrings(pages: dict[str, str]) -> None:
    classification = section(pages[f"{CONTRACTS_DIR}/message.md"], models.Classification)
    assert "A probability in [0.0, 1.0], both ends included." in row(classification, "confidence")
    assert contract_docs.type_docs()["Name"] == contract_docs.type_docs()["NonEmptyText"]  # an alias
    assert "Any finite number DynamoDB can store" in contract_docs.type_docs()["Confidence"]  # its base, Number


# --- key grammar, vocabularies, limits -------------------------------------------------------------


def _rebuild(form: contract_docs.KeyForm) -> str:
    parsed = form.parse(form.example)
    if isinstance(parsed, keys.MetricSortKey):
        return str(parsed)
    return form.build(*parsed) if isinstance(parsed, tuple) else form.build(parsed)


@pytest.mark.parametrize("form", contract_docs.KEY_FORMS, ids=lambda f: f"{f.item}-{f.attribute}")
def test_key_grammar_rows_are_built_and_parse_back(form: contract_docs.KeyForm, pages: dict[str, str]) -> None:
    page = pages[f"{CONTRACTS_DIR}/key-grammar.md"]
    line = next(row for row in page.splitlines() if row.startswith(f"| {form.item} | `{form.attribute}` |"))
    assert f"| `{form.example}` |" in line and f"`{form.grammar}`" in line and f"`keys.{form.build.__name__}`" in line
    if form.parse is not None:
        assert _rebuild(form) == form.example


def test_key_grammar_page_shows_periods_names_patterns_and_sort_order(pages: dict[str, str]) -> None:
    page = pages[f"{CONTRACTS_DIR}/key-grammar.md"]
    assert "| quarter | `2025-Q3` | `2025-07-01T00:00:00Z` | `1751328000` |" in page  # contract §2.3
    for name, pattern in contract_docs.key_patterns():
        assert f"| `keys.{name}` | `{pattern}` |" in page
    assert "`tenant-{tenantId}-metrics`" in page and f"`{keys.REGISTRY_TABLE_BASE}`" in page
    order = re.findall(r"^\d+\. `([^`]+)`", page, re.M)
    assert order == sorted(order) and order.index("2025-10") < order.index("2025-10-05") < order.index("2025-11")
    assert "**Slice decision.**" in page


def test_vocabularies_page_lists_every_value_and_unit_rule(pages: dict[str, str]) -> None:
    page = pages[f"{CONTRACTS_DIR}/vocabularies.md"]
    for enum in vocab.VOCABULARIES.values():
        part = page[page.index(f"## `{enum.__name__}`") :]
        part = part[: part.find("\n## ", 1)]
        for value in enum:
            assert f"| `{value.value}` |" in part
    assert "- [`Metric.subject`](metric.md#metric) (all but `unknown`)" in page
    for subject, kinds in models.SUBJECT_UNITS.items():
        assert f"| `{subject.value}` | {', '.join(sorted(kinds))} |" in page
    for unit in vocab.NON_CURRENCY_UNITS:
        assert f"`{unit}`" in page


def test_overview_lists_every_model_and_limit(pages: dict[str, str]) -> None:
    page = pages[f"{CONTRACTS_DIR}/index.md"]
    for model in documented_models():
        assert f"[`{model.__name__}`]({contract_docs.home(model)}.md#" in page
    assert "| `ITEM_SIZE_LIMIT` | 409,600 |" in page
    assert inspect.getdoc(models.item_size_bytes).splitlines()[0] in page


def test_overview_states_how_files_are_read(pages: dict[str, str]) -> None:
    # The reader's decisions (BOM, CRLF, duplicate keys, NaN, FIFOs, ...) are published as the code states them.
    page = pages[f"{CONTRACTS_DIR}/index.md"]
    decisions = [line for line in inspect.getdoc(validation).splitlines() if line.startswith("| ")]
    assert len(decisions) >= 12 and "## Reading files {#reading-files}" in page
    for line in decisions:
        assert line in page


# --- JSON Schemas ---------------------------------------------------------------------------------


def test_schema_files_equal_each_models_json_schema() -> None:
    files = {p.rsplit("/", 1)[1]: b for p, b in CONTRACT_PAGES.items() if "/" + SCHEMAS_DIR + "/" in p}
    assert sorted(files) == sorted(schema_file_name(m) for m in SCHEMA_MODELS)
    for model in SCHEMA_MODELS:
        published = json.loads(files[schema_file_name(model)](INPUTS))
        assert published.pop("$schema") == "https://json-schema.org/draft/2020-12/schema"
        assert published == model.model_json_schema(by_alias=True, schema_generator=ContractJsonSchema)


def test_schema_files_are_byte_for_byte_what_salestalk_schema_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main(["schema", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    written = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert written == contract_docs.schema_files()


_KEYWORDS = {
    "$schema",
    "$defs",
    "$ref",
    "title",
    "description",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "patternProperties",
    "items",
    "enum",
    "const",
    "default",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
}


def _schema_keywords(node: Any, parent: str = "") -> set[str]:
    if isinstance(node, list):
        return set().union(*(_schema_keywords(v) for v in node)) if node else set()
    if not isinstance(node, dict):
        return set()
    found = set() if parent in ("properties", "$defs", "patternProperties", "default") else set(node)
    for key, value in node.items():
        if key not in ("enum", "const", "default", "required"):
            found |= _schema_keywords(value, key)
    return found


def test_published_schemas_use_only_standard_keywords() -> None:
    # pydantic's own names (ge, le, gt, lt) are ignored by JSON Schema validators: a bound would be lost.
    for name, build in CONTRACT_PAGES.items():
        if name.endswith(".schema.json"):
            assert _schema_keywords(json.loads(build(INPUTS))) <= _KEYWORDS, name


def test_json_schemas_page_shows_each_schema_collapsed_with_a_download_link(pages: dict[str, str]) -> None:
    page = pages[f"{CONTRACTS_DIR}/json-schemas.md"]
    for model in SCHEMA_MODELS:
        name = schema_file_name(model)
        assert f'??? abstract "{name}"' in page and f"[Download `{name}`]({SCHEMAS_DIR}/{name})" in page
        block = page[page.index(f'??? abstract "{name}"') :]
        body = block[block.index("```json") + len("```json") : block.index("    ```\n")]
        assert json.loads("\n".join(ln.removeprefix("    ") for ln in body.splitlines())) == json.loads(
            contract_docs.schema_files()[name]
        )


# --- the pages as a site: registered, in the nav, linked, deterministic ---------------------------------


def test_contract_pages_are_registered_in_docsgen() -> None:
    assert CONTRACT_PAGES.items() <= docsgen.PAGES.items()


def _nav_paths(entries: Any) -> list[str]:
    if isinstance(entries, str):
        return [entries]
    if isinstance(entries, list):
        return [p for e in entries for p in _nav_paths(e)]
    if isinstance(entries, dict):
        return [p for v in entries.values() for p in _nav_paths(v)]
    return []


KEY_GRAMMAR_PAGE = f"{docsgen.GENERATED_DIR}/contracts/key-grammar.md"


def test_every_contract_page_is_in_the_mkdocs_nav_under_contracts() -> None:
    # The key grammar is read second, right after the tables, so it has its own top-level entry.
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))
    section = next(e["Contracts"] for e in config["nav"] if isinstance(e, dict) and "Contracts" in e)
    pages = [f"{docsgen.GENERATED_DIR}/{p}" for p in CONTRACT_PAGES if p.endswith(".md")]
    assert KEY_GRAMMAR_PAGE in pages
    assert sorted(_nav_paths(section)) == sorted(p for p in pages if p != KEY_GRAMMAR_PAGE)
    assert {"Key grammar": KEY_GRAMMAR_PAGE} in config["nav"]


def test_the_nav_reads_in_learning_order() -> None:
    # The data model first, then keys, questions, items, costs, contracts, notebooks, reliability, operations.
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))
    titles = [next(iter(e)) for e in config["nav"]]
    order = ["Overview", "Tables", "Key grammar", "Access patterns", "Table views", "Capacity", "Contracts",
             "Notebooks", "Reliability", "Operations"]  # fmt: skip
    assert [t for t in titles if t in order] == order
    assert titles.index("Architecture") > titles.index("Operations")  # the module layers come after the model


_LINK = re.compile(r"\]\(([^)\s]+)\)")
_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)


def test_every_link_and_anchor_between_contract_pages_resolves(pages: dict[str, str]) -> None:
    anchors = {path: set(re.findall(r"\{#([a-z0-9-]+)\}", text)) for path, text in pages.items()}
    for path, text in pages.items():
        if not path.endswith(".md"):
            continue
        for target in _LINK.findall(_CODE.sub("", text)):
            file, _, fragment = target.partition("#")
            resolved = str(PurePosixPath(path).parent / file) if file else path
            assert resolved in pages, f"{path}: link to missing {target}"
            if fragment:
                assert fragment in anchors[resolved], f"{path}: no anchor #{fragment} in {resolved}"


def test_generation_is_deterministic_across_hash_seeds() -> None:
    script = (
        "import hashlib, sys; from devtools.contract_docs import CONTRACT_PAGES as P; "
        "h = hashlib.sha256(); [h.update(k.encode() + (lambda o: o if isinstance(o, bytes) else o.encode())"
        "(b(None))) for k, b in P.items()]; print(h.hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(digests) == 1
    assert {p: b(INPUTS) for p, b in CONTRACT_PAGES.items()} == {p: b(INPUTS) for p, b in CONTRACT_PAGES.items()}


def test_pages_use_no_decimal_or_float_reprs(pages: dict[str, str]) -> None:
    # A leaked repr (Decimal('0.35'), <enum ...>, frozenset(...)) would mean a value was printed, not rendered.
    for path, text in pages.items():
        assert not re.search(r"Decimal\(|<enum |frozenset\(|<class ", text), path
