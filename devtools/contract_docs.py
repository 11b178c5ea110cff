"""The contract reference pages, built from the models, the key grammar and the vocabularies.

Nothing on these pages is typed by hand: `docsgen.PAGES` registers every builder
in `CONTRACT_PAGES`, which write under `docs/generated/contracts/`:

- one page per contract model (`MODEL_PAGES`): the model's docstring, an attribute
  table built from its fields and its JSON Schema (wire name, type, required or
  optional, constraints with every vocabulary value, description from the named
  type's docstring), and its cross-field rules, each the docstring of the
  validator that holds it; nested models follow on the page of their first user;
- the key grammar, built by calling the builders in `salestalk_lib.contract.keys`;
- the vocabularies of `salestalk_lib.contract.vocab` and the units a metric may use;
- the JSON Schemas: one page with every schema in a collapsible block, and the
  `.schema.json` files themselves, byte for byte what `salestalk schema` writes.

Pure: reads code only, so the pages are deterministic.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from functools import cache
from typing import Any

from pydantic.fields import FieldInfo

from devtools.model_views import example_section
from salestalk_lib.contract import envelopes, fields, items, keys, models, schemas, validation, vocab
from salestalk_lib.contract.currency import CURRENCY_CODES
from salestalk_lib.contract.models import (
    EVENT_MODELS,
    SCHEMA_MODELS,
    ContractModel,
    DataReference,
    EventEnvelope,
    IngestBatch,
    ItemModel,
    KeyedItem,
    Message,
    MessageIdentity,
    MetadataItem,
    Metric,
    ProcessedEvent,
    SessionRollup,
    Tenant,
    schema_documents,
    schema_file_name,
)

CONTRACTS_DIR = "contracts"
SCHEMAS_DIR = "schemas"
"""Where the `.schema.json` files go, relative to the contract pages."""
KEY_GRAMMAR_PAGE = "key-grammar"
VOCABULARIES_PAGE = "vocabularies"
JSON_SCHEMAS_PAGE = "json-schemas"
INDEX_PAGE = "index"


@dataclass(frozen=True)
class ModelPage:
    """One model page: its file stem, its title and the models it documents first (nested ones follow)."""

    stem: str
    title: str
    models: tuple[type[ContractModel], ...]


MODEL_PAGES: tuple[ModelPage, ...] = (
    ModelPage("tenant", "Tenant", (Tenant,)),
    ModelPage("message", "Message", (Message,)),
    ModelPage("message-identity", "Message identity", (MessageIdentity,)),
    ModelPage("session-rollup", "Session rollup", (SessionRollup,)),
    ModelPage("ingest-batch", "Ingest batch", (IngestBatch,)),
    ModelPage("processed-event", "Processed event", (ProcessedEvent,)),
    ModelPage("metric", "Metric", (Metric,)),
    ModelPage("data-reference", "Data reference", (DataReference,)),
    ModelPage("events", "Events", (EventEnvelope, *EVENT_MODELS.values())),
)

# Bases whose fields and rules hold for every model; the overview page states them once.
_GENERIC_BASES = (ContractModel, ItemModel, KeyedItem, MetadataItem)


@cache
def _json_schema(model: type[ContractModel]) -> dict[str, Any]:
    # Read-only here; generating a schema is the slow part of building the pages.
    return models.json_schema(model)


# --- markdown ---------------------------------------------------------------------

_CODE_SPAN = re.compile(r"(`[^`]*`)")


def _cell(text: object) -> str:
    """Text for a table cell: pipes escaped outside code spans (inside them Markdown keeps them literal)."""
    parts = _CODE_SPAN.split(" ".join(str(text).split()))
    return "".join(p if p.startswith("`") else p.replace("|", "\\|") for p in parts)


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], *, wide: bool = False) -> list[str]:
    """A markdown table; `wide` ones scroll sideways and never break a name inside it (site.css `.wide-table`)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    if wide:
        return ['<div class="wide-table" markdown>', "", *lines, "", "</div>", ""]
    return lines + [""]


def _code(text: object) -> str:
    return f"`{text}`"


def _page(lines: Sequence[str]) -> str:
    return "\n".join(lines).rstrip("\n") + "\n"


def _doc(obj: Any) -> str:
    return inspect.getdoc(obj) or ""


def _first_line(text: str) -> str:
    return text.split("\n\n")[0].replace("\n", " ").strip()


def _prose(doc: str) -> list[str]:
    """A module docstring's paragraphs after its summary line, without its hand-drawn tables."""
    paragraphs = [p.strip() for p in doc.split("\n\n")[1:] if p.strip()]
    return [line for p in paragraphs if not p.startswith("|") for line in (p, "")]


def anchor(name: str) -> str:
    """`ClassificationPerformedEvent` → `classification-performed-event` (also used as heading ids)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


# --- what the models say about themselves --------------------------------------------


@cache
def type_docs() -> dict[str, str]:
    """Docstrings of the named types in `salestalk_lib.contract.models` (`Confidence` → "A probability in ...").

    A module-level `Name = ...` followed by a string is documented by that string; an
    alias (`Name = NonEmptyText`) inherits its target's docstring.
    """
    # the named types live in the models' part modules (fields, items, envelopes); read them all
    tree = ast.parse("\n".join(inspect.getsource(part) for part in (fields, items, envelopes, schemas)))
    own: dict[str, str] = {}
    bases: dict[str, str] = {}
    body = tree.body
    for stmt, after in zip(body, body[1:] + [None], strict=True):
        target = stmt.targets[0] if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 else None
        if not isinstance(target, ast.Name):
            continue
        if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str):
            own[target.id] = " ".join(inspect.cleandoc(after.value.value).split())
        value = stmt.value
        if isinstance(value, ast.Name):
            bases[target.id] = value.id
        elif (
            isinstance(value, ast.Subscript)
            and isinstance(value.value, ast.Name)
            and value.value.id == "Annotated"
            and isinstance(value.slice, ast.Tuple)
            and isinstance(value.slice.elts[0], ast.Name)
        ):
            bases[target.id] = value.slice.elts[0].id

    def chain(name: str) -> list[str]:
        # A named type's own docstring, then its base's (`Confidence` is a `Number`), without repeats.
        seen: list[str] = []
        while name and name not in seen:
            seen.append(name)
            name = bases.get(name, "")
        return list(dict.fromkeys(own[n] for n in seen if n in own))

    return {name: " ".join(chain(name)) for name in sorted(own.keys() | bases.keys()) if chain(name)}


def declared_annotation(model: type[ContractModel], name: str) -> str:
    """The annotation of field `name` as written in the class that declares it, `| None` dropped."""
    for cls in model.__mro__:
        own = inspect.get_annotations(cls) if isinstance(cls, type) else {}
        if name in own:
            text = own[name] if isinstance(own[name], str) else getattr(own[name], "__name__", str(own[name]))
            return re.sub(r"\s*\|\s*None$", "", text)
    return ""


def wire_name(name: str, field: FieldInfo) -> str:
    """The attribute's name in items, files and JSON Schemas."""
    return field.alias or name


def _walk_types(annotation: Any) -> Iterator[Any]:
    yield annotation
    for arg in typing.get_args(annotation):
        yield from _walk_types(arg)


def nested_models(model: type[ContractModel]) -> list[type[ContractModel]]:
    """Contract models used by `model`'s fields, in field order (each once)."""
    found: list[type[ContractModel]] = []
    for field in model.model_fields.values():
        for t in _walk_types(field.annotation):
            if inspect.isclass(t) and issubclass(t, ContractModel) and t is not model and t not in found:
                found.append(t)
    return found


def field_enum(field: FieldInfo) -> type[Enum] | None:
    """The vocabulary (a `salestalk_lib.contract.vocab` enum) a field's values come from, if any."""
    for t in _walk_types(field.annotation):
        if inspect.isclass(t) and issubclass(t, Enum):
            return t
    return None


@dataclass(frozen=True)
class Rule:
    """A cross-field rule: the attributes it concerns and what it says (its validator's docstring)."""

    fields: tuple[str, ...]
    """Wire names; empty for a rule on the whole record."""
    text: str
    owner: type
    """The class whose validator holds the rule."""


def _owner(model: type, func: Callable[..., Any]) -> type:
    owner_name = func.__qualname__.split(".")[0]
    return next(cls for cls in model.__mro__ if cls.__name__ == owner_name)


def rules(model: type[ContractModel]) -> list[Rule]:
    """Every rule `model`'s validators hold, in declaration order, inherited ones included."""
    decorators = model.__pydantic_decorators__
    generate = model.model_config.get("alias_generator")
    aliases = {n: wire_name(n, f) for n, f in model.model_fields.items()}
    out: list[Rule] = []
    for dec in decorators.field_validators.values():
        owner = _owner(model, dec.func)
        # A base's validator may name a field only its subclasses declare (EventEnvelope's `data`).
        declared = [f for f in dec.info.fields if f == "*" or f in aliases or owner is model]
        fields = tuple(aliases.get(f) or (generate(f) if callable(generate) and f != "*" else f) for f in declared)
        if fields:
            out.append(Rule(fields, _doc(dec.func), owner))
    for dec in decorators.model_validators.values():
        out.append(Rule((), _doc(dec.func), _owner(model, dec.func)))
    return out


def model_rules(model: type[ContractModel]) -> list[Rule]:
    """The rules shown in a model's own section: all but ContractModel's, which the overview states once."""
    return [r for r in rules(model) if r.owner is not ContractModel]


# --- page layout ------------------------------------------------------------------------


@cache
def layout() -> dict[str, tuple[type[ContractModel], ...]]:
    """Page stem → the models documented on it; every model has exactly one home page."""
    placed: dict[type[ContractModel], str] = {}
    pages: dict[str, tuple[type[ContractModel], ...]] = {}
    for page in MODEL_PAGES:
        queue = list(page.models)
        here: list[type[ContractModel]] = []
        while queue:
            model = queue.pop(0)
            if model in placed or model in here:
                continue
            here.append(model)
            queue += [n for n in nested_models(model) if n not in placed]
        for model in here:
            placed[model] = page.stem
        pages[page.stem] = tuple(here)
    return pages


def home(model: type[ContractModel]) -> str:
    """The page stem where `model` is documented."""
    return next(stem for stem, ms in layout().items() if model in ms)


def _link_to_model(model: type[ContractModel], from_page: str, label: str | None = None) -> str:
    page = home(model)
    target = f"#{anchor(model.__name__)}" if page == from_page else f"{page}.md#{anchor(model.__name__)}"
    return f"[`{label or model.__name__}`]({target})"


def _link_to_vocab(enum: type[Enum]) -> str:
    return f"[`{enum.__name__}`]({VOCABULARIES_PAGE}.md#{anchor(enum.__name__)})"


def _shared_base(model: type[ContractModel], page_models: Sequence[type[ContractModel]]) -> type | None:
    """A non-generic base of `model` documented on the same page (its fields are not repeated)."""
    return next((b for b in model.__mro__[1:] if b in page_models and b not in _GENERIC_BASES), None)


# --- attribute tables ---------------------------------------------------------------------


def _resolve(node: Mapping[str, Any], defs: Mapping[str, Any]) -> tuple[str | None, Mapping[str, Any]]:
    ref = node.get("$ref")
    if ref is None:
        return None, node
    name = ref.rsplit("/", 1)[-1]
    return name, defs[name]


def _number(value: Any) -> str:
    return json.dumps(value)


def constraints(node: Mapping[str, Any], defs: Mapping[str, Any]) -> list[str]:
    """The constraints a JSON Schema node states, as short phrases (`≥ 0`, `one of `a`, `b``, ...)."""
    ref, target = _resolve(node, defs)
    out: list[str] = []
    enum = node.get("enum", target.get("enum") if ref else None)
    if "const" in node:
        out.append(f"always `{node['const']}`")
    if enum is not None:
        out.append("one of " + ", ".join(_code(v) for v in enum))
    for key, sign in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<")):
        if key in node:
            out.append(f"{sign} {_number(node[key])}")
    low, high = node.get("minLength"), node.get("maxLength")
    if low is not None and high is not None:
        out.append(f"{low:,}–{high:,} characters")
    elif high is not None:
        out.append(f"at most {high:,} characters")
    elif low is not None:
        out.append(f"at least {low:,} characters")
    if "pattern" in node:
        out.append(f"matches `{node['pattern']}`")
    if "format" in node:
        out.append(f"format `{node['format']}`")
    if node.get("type") == "array" and "items" in node:
        inner = constraints(node["items"], defs)
        if inner:
            out.append("each item: " + "; ".join(inner))
    for key_pattern, value in node.get("patternProperties", {}).items():
        out.append(f"keys match `{key_pattern}`")
        out += ["values: " + "; ".join(constraints(value, defs))] if constraints(value, defs) else []
    if ref is None and "description" in node:
        out.append(node["description"])
    elif node.get("additionalProperties") is True:
        out.append("free-form map")
    if "default" in node:
        out.append(f"default `{json.dumps(node['default'])}`")
    return out


def _json_type(node: Mapping[str, Any], defs: Mapping[str, Any], from_page: str) -> str:
    ref, target = _resolve(node, defs)
    if ref is not None:
        model = getattr(models, ref, None)
        if "enum" in target:
            enum = getattr(vocab, ref)
            return f"string ({_link_to_vocab(enum)})"
        if inspect.isclass(model) and issubclass(model, ContractModel):
            return f"object ({_link_to_model(model, from_page)})"
        return f"`{ref}`"
    kind = node.get("type", "any")
    if kind == "array":
        return "array of " + _json_type(node.get("items", {}), defs, from_page)
    if kind == "object":
        return "map"
    return kind


@dataclass(frozen=True)
class Attribute:
    """One row of a model's attribute table."""

    wire: str
    python: str
    type: str
    required: bool
    constraints: tuple[str, ...]
    description: str


def attributes(model: type[ContractModel], from_page: str, *, own_only: bool = False) -> list[Attribute]:
    """The rows of `model`'s attribute table (only the fields it declares itself when `own_only`)."""
    schema = _json_schema(model)
    defs = schema.get("$defs", {})
    required = set(schema.get("required", ()))
    own = inspect.get_annotations(model) if own_only else None
    field_rules = [r for r in model_rules(model) if r.fields]
    rows = []
    for name, field in model.model_fields.items():
        if own is not None and name not in own:
            continue
        wire = wire_name(name, field)
        node = schema["properties"][wire]
        named = declared_annotation(model, name)
        enum = field_enum(field)
        nested = [t for t in _walk_types(field.annotation) if inspect.isclass(t) and issubclass(t, ContractModel)]
        description = field.description or type_docs().get(named, "")
        if not description and enum is not None:
            description = _first_line(_doc(enum))
        if not description and nested:
            description = _first_line(_doc(nested[0]))
        if not description:
            description = " ".join(r.text for r in field_rules if wire in r.fields)
        type_text = _json_type(node, defs, from_page)
        if named and named not in type_text and not named.startswith(("Literal[", "tuple[", "dict[")):
            type_text += f" · `{named}`"
        rows.append(Attribute(wire, name, type_text, wire in required, tuple(constraints(node, defs)), description))
    return rows


def _attribute_cell(a: Attribute) -> str:
    # The Python name only where it differs: the library's constructors take it, items never do.
    return _code(a.wire) + (f"<br><small>Python: {_code(a.python)}</small>" if a.python != a.wire else "")


def _attribute_table(rows: Sequence[Attribute]) -> list[str]:
    return _table(
        ["attribute", "type", "required", "constraints", "description"],
        [
            (
                _attribute_cell(a),
                a.type,
                "required" if a.required else "optional",
                "; ".join(a.constraints) or "–",
                a.description or "–",
            )
            for a in rows
        ],
    )


def _rule_lines(rule_list: Sequence[Rule]) -> list[str]:
    lines = []
    for rule in rule_list:
        where = (
            "every attribute"
            if rule.fields == ("*",)
            else ", ".join(_code(f) for f in rule.fields)
            if rule.fields
            else "the whole record"
        )
        lines.append(f"- **{where}:** {rule.text}")
    return lines + [""] if lines else []


def _schema_link(model: type[ContractModel]) -> list[str]:
    if model not in SCHEMA_MODELS:
        return []
    name = schema_file_name(model)
    return [
        f"JSON Schema: [`{name}`]({SCHEMAS_DIR}/{name}) (download), also shown on the "
        f"[JSON Schemas]({JSON_SCHEMAS_PAGE}.md#{anchor(model.__name__)}) page.",
        "",
    ]


def model_section(model: type[ContractModel], page: str) -> list[str]:
    """A model's heading, docstring, attribute table, rules and JSON Schema link."""
    page_models = layout()[page]
    base = _shared_base(model, page_models)
    out = [f"## `{model.__name__}` {{#{anchor(model.__name__)}}}", "", _doc(model), ""]
    if base is not None:
        out += [f"Every attribute of {_link_to_model(base, page)}, and:", ""]
    extra = (
        "Unknown attributes are refused."
        if model.model_config.get("extra") == "forbid"
        else "Attributes beyond the named ones are allowed (a free-form map)."
    )
    out += [f"Kind: {kind_of(model)}. {extra}", ""]
    out += _attribute_table(attributes(model, page, own_only=base is not None))
    shown = [r for r in model_rules(model) if base is None or r.owner is model]
    if shown:
        out += ["**Cross-field rules**", ""] + _rule_lines(shown)
    return out + _schema_link(model)


def kind_of(model: type[ContractModel]) -> str:
    """What a model is: a stored item, an event (one message, sized like an item) or a nested map."""
    if issubclass(model, EventEnvelope):
        return "event (at most 400 KB, like an item)"
    if issubclass(model, ItemModel):
        return "item (at most 400 KB by DynamoDB's size rules)"
    return "nested map"


def _model_page(page: ModelPage) -> Callable[[Any], str]:
    def build(inputs: Any) -> str:
        out = [
            f"# {page.title}",
            "",
            f"Generated from `salestalk_lib.contract.models`: {', '.join(_code(m.__name__) for m in layout()[page.stem])}. "
            "Attribute names are as stored (camelCase); types and constraints come from each model's "
            "JSON Schema, descriptions from the docstrings of the named types, and each cross-field rule is "
            "the docstring of the validator that holds it. Rules every model holds are on the "
            f"[overview]({INDEX_PAGE}.md#every-model).",
            "",
        ]
        for model in layout()[page.stem]:
            out += model_section(model, page.stem)
        out += example_section(page.stem)  # an example item from the seed data (devtools.model_views)
        return _page(out)

    build.__name__ = build.__qualname__ = f"{page.stem.replace('-', '_')}_page"
    build.__doc__ = f"The {page.title} contract page."
    return build


# --- overview ----------------------------------------------------------------------------


def limits() -> list[tuple[str, int]]:
    """The numeric limits `salestalk_lib.contract.models` enforces (its public upper-case int constants)."""
    return [
        (n, v)
        for n, v in vars(models).items()
        if n.isupper() and not n.startswith("_") and isinstance(v, int) and not isinstance(v, bool)
    ]


def index_page(inputs: Any) -> str:
    """The overview: every model and its page, the rules every model holds, the limits."""
    out = [
        "# Data contracts",
        "",
        "Every item and event of the contract is a pydantic model in `salestalk_lib.contract.models`; these pages "
        "are generated from those models, the key grammar (`salestalk_lib.contract.keys`) and the vocabularies "
        "(`salestalk_lib.contract.vocab`). `salestalk validate` checks files against the same models, and "
        "`salestalk schema` writes the same JSON Schemas.",
        "",
    ]
    rows = []
    for page_models in layout().values():
        for model in page_models:
            schema = (
                f"[`{schema_file_name(model)}`]({SCHEMAS_DIR}/{schema_file_name(model)})"
                if model in SCHEMA_MODELS
                else "–"
            )
            rows.append(
                (_link_to_model(model, INDEX_PAGE), kind_of(model).split(" (")[0], schema, _first_line(_doc(model)))
            )
    out += _table(["model", "kind", "JSON Schema", "what it is"], rows)
    out += [
        "Also generated: the [key grammar](key-grammar.md), the [vocabularies](vocabularies.md) and the "
        "[JSON Schemas](json-schemas.md).",
        "",
    ]
    out += ["## Rules every model holds {#every-model}", ""] + _prose(_doc(models))
    generic = [r for r in rules(Tenant) if r.owner in _GENERIC_BASES]
    out += _rule_lines(generic)
    out += ["## Item size {#item-size}", "", _doc(models.item_size_bytes), ""]
    # The reader's decisions, table included (`salestalk_lib.contract.validation`'s docstring after its summary).
    out += ["## Reading files {#reading-files}", ""] + _doc(validation).split("\n", 1)[1].strip().splitlines() + [""]
    out += ["## Limits {#limits}", "", "The constants `salestalk_lib.contract.models` checks against:", ""]
    out += _table(["constant", "value"], [(_code(n), f"{v:,}") for n, v in limits()])
    return _page(out)


# --- key grammar ------------------------------------------------------------------------------

_SAMPLE_TENANT = "zz0sample0zz"
_SAMPLE_MESSAGE_ID = "0b7e6a1c-5d2f-4c3b-9a8e-1f2d3c4b5a69"
_SAMPLE_SESSION_ID = "6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
_SAMPLE_TIME = datetime(2025, 11, 9, 10, 0, tzinfo=UTC)


@dataclass(frozen=True)
class KeyForm:
    """One key attribute's grammar: its shape, a builder, a parser and an example built with them."""

    item: str
    attribute: str
    grammar: str
    build: Callable[..., Any]
    parse: Callable[[Any], Any] | None
    args: tuple[Any, ...]

    @property
    def example(self) -> str:
        return self.build(*self.args)


KEY_FORMS: tuple[KeyForm, ...] = (
    KeyForm(
        "message",
        "pk",
        f"{keys.MSG_PREFIX}{{messageId}}",
        keys.message_pk,
        keys.parse_message_pk,
        (_SAMPLE_MESSAGE_ID,),
    ),
    KeyForm("message", "sk", "YYYY-MM-DDTHH:MM:SS.mmmZ", keys.message_sk, keys.parse_message_sk, (_SAMPLE_TIME,)),
    KeyForm(
        "message identity",
        "pk",
        f"{keys.MSG_IDENTITY_PREFIX}{{messageId}}",
        keys.message_identity_pk,
        keys.parse_message_identity_pk,
        (_SAMPLE_MESSAGE_ID,),
    ),
    KeyForm("message identity", "sk", keys.MSG_IDENTITY_SK, keys.message_identity_sk, None, ()),
    KeyForm(
        "session rollup",
        "pk",
        f"{keys.SESSION_PREFIX}{{sessionId}}",
        keys.session_pk,
        keys.parse_session_pk,
        (_SAMPLE_SESSION_ID,),
    ),
    KeyForm("session rollup", "sk", keys.SESSION_SK, keys.session_sk, None, ()),
    KeyForm(
        "ingest batch",
        "pk",
        f"{keys.BATCH_PREFIX}{{batchId}}",
        keys.batch_pk,
        keys.parse_batch_pk,
        ("2025-11-25.nightly",),
    ),
    KeyForm("ingest batch", "sk", keys.BATCH_SK, keys.batch_sk, None, ()),
    KeyForm(
        "processed event",
        "pk",
        f"{keys.EVENT_PREFIX}{{eventId}}",
        keys.event_pk,
        keys.parse_event_pk,
        ("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",),
    ),
    KeyForm("processed event", "sk", keys.EVENT_SK, keys.event_sk, None, ()),
    KeyForm("metric", "pk", f"{keys.METRIC_PREFIX}{{subject}}", keys.metric_pk, keys.parse_metric_pk, ("revenue",)),
    KeyForm("metric headline", "sk", "{period}", keys.metric_sk, keys.parse_metric_sk, ("2025-Q3",)),
    KeyForm(
        "metric slice",
        "sk",
        f"{{period}}{keys.SLICE_SEPARATOR}{{dimName}}{keys.DIMENSION_SEPARATOR}{{dimValue}}",
        keys.metric_sk,
        keys.parse_metric_sk,
        ("2025-Q3", "region:Europe"),
    ),
    KeyForm(
        "metric slice",
        "dimensionKey",
        f"{{dimName}}{keys.DIMENSION_SEPARATOR}{{dimValue}}",
        keys.dimension_key,
        keys.parse_dimension_key,
        ("region", "Europe"),
    ),
)
"""The key grammar as data; each example is built by the builder and parsed back by the parser."""

PERIOD_EXAMPLES: tuple[keys.Period, ...] = (keys.quarter(2025, 3), keys.month(2025, 7), keys.day(2025, 7, 15))

TABLE_NAMES: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("messages table", keys.messages_table_base),
    ("metrics table", keys.metrics_table_base),
    ("S3 prefix", keys.s3_prefix),
)

_SORT_SAMPLE = ("2025-Q1", "2025-11", "2025-10-05", "2025-10", "2025-Q3#region:Europe", "2025-Q3", "2025-Q4")


def key_patterns() -> list[tuple[str, str]]:
    """The regular expressions `salestalk_lib.contract.keys` publishes (its `*_PATTERN` constants)."""
    return [(n, v) for n, v in vars(keys).items() if n.endswith("_PATTERN") and isinstance(v, str)]


def _sk_kind(sk: str) -> str:
    parsed = keys.parse_metric_sk(sk)
    if parsed.is_slice:
        return f"a slice of {parsed.period.text}"
    return f"a {parsed.period.granularity.value} headline"


def _builder_name(fn: Callable[..., Any] | None) -> str:
    return f"`keys.{fn.__name__}`" if fn is not None else "–"


def key_grammar_page(inputs: Any) -> str:
    """Every pk/sk form with a built example, the periods, table names, patterns and the sort order."""
    out = [
        "# Key grammar",
        "",
        _first_line(_doc(keys)) + " Generated from `salestalk_lib.contract.keys`: every example "
        "below was built by the builder named beside it and parses back with the parser.",
        "",
    ]
    out += _table(
        ["item", "attribute", "grammar", "example", "builder", "parser"],
        [
            (
                f.item,
                _code(f.attribute),
                _code(f.grammar),
                _code(f.example),
                _builder_name(f.build),
                _builder_name(f.parse),
            )
            for f in KEY_FORMS
        ],
        wide=True,
    )
    out += _prose(_doc(keys))
    out += [
        "## Periods {#periods}",
        "",
        "A metric's period, and its `timestamp`: the unix seconds of the period's first instant, UTC.",
        "",
    ]
    out += _table(
        ["granularity", "example", "first instant", "timestamp"],
        [
            (p.granularity.value, _code(p.text), _code(f"{p.start:%Y-%m-%dT%H:%M:%SZ}"), _code(p.timestamp))
            for p in PERIOD_EXAMPLES
        ],
    )
    out += [
        "## Sort order in one metric partition {#sort-order}",
        "",
        "DynamoDB sorts `sk` as a string. These sort keys, in the order a Query returns them:",
        "",
    ]
    out += [f"{i}. `{sk}`: {_sk_kind(sk)}" for i, sk in enumerate(sorted(_SORT_SAMPLE), start=1)] + [""]
    out += [
        "## Table names and S3 prefix {#table-names}",
        "",
        "Derived from the tenant id, which is validated first "
        f"(1–{keys.TENANT_ID_MAX} characters, `{keys.TENANT_ID_PATTERN}`). A deployment may put "
        "`SALESTALK_TABLE_PREFIX` in front of every table name; data references name the base name.",
        "",
    ]
    rows = [
        (what, _code(fn(_SAMPLE_TENANT).replace(_SAMPLE_TENANT, "{tenantId}")), _builder_name(fn))
        for what, fn in TABLE_NAMES
    ]
    rows.append(("registry table", _code(keys.REGISTRY_TABLE_BASE), "`keys.REGISTRY_TABLE_BASE`"))
    out += _table(["what", "name", "builder"], rows, wide=True)
    out += ["## Patterns {#patterns}", "", "The regular expressions the models and JSON Schemas use:", ""]
    out += _table(["constant", "pattern"], [(_code(f"keys.{n}"), _code(v)) for n, v in key_patterns()])
    return _page(out)


# --- vocabularies ----------------------------------------------------------------------------


def _all_models() -> list[type[ContractModel]]:
    return [m for ms in layout().values() for m in ms]


def vocabulary_uses(enum: type[Enum]) -> list[tuple[type[ContractModel], str, tuple[str, ...] | None]]:
    """(model, wire name, the values allowed there when fewer than the whole vocabulary) per field using `enum`."""
    uses = []
    for model in _all_models():
        schema = _json_schema(model)
        own = inspect.get_annotations(model)
        for name, field in model.model_fields.items():
            if field_enum(field) is not enum:
                continue
            if _shared_base(model, layout()[home(model)]) is not None and name not in own:
                continue  # documented on the base
            wire = wire_name(name, field)
            node = schema["properties"][wire]
            node = node.get("items", node) if node.get("type") == "array" else node
            narrowed = tuple(node["enum"]) if "enum" in node and len(node["enum"]) < len(enum) else None
            uses.append((model, wire, narrowed))
    return uses


def vocabularies_page(inputs: Any) -> str:
    """Every controlled vocabulary with its values and the attributes that use it, and the units."""
    out = ["# Vocabularies", "", _first_line(_doc(vocab)) + " Generated from `salestalk_lib.contract.vocab`.", ""]
    out += _prose(_doc(vocab))
    out += _table(
        ["vocabulary", "key in `VOCABULARIES`", "values"],
        [(f"[`{e.__name__}`](#{anchor(e.__name__)})", _code(label), len(e)) for label, e in vocab.VOCABULARIES.items()],
    )
    for enum in vocab.VOCABULARIES.values():
        out += [f"## `{enum.__name__}` {{#{anchor(enum.__name__)}}}", "", _doc(enum), ""]
        out += _table(["value"], [(_code(v.value),) for v in enum])
        used = []
        for model, wire, narrowed in vocabulary_uses(enum):
            excluded = [_code(v.value) for v in enum if narrowed is not None and v.value not in narrowed]
            note = f" (all but {', '.join(excluded)})" if excluded else ""
            used.append(f"- {_link_to_model(model, VOCABULARIES_PAGE, f'{model.__name__}.{wire}')}{note}")
        out += ["Used by:", ""] + used + [""]
    out += [
        "## Units {#units}",
        "",
        "A metric's `unit`: one of "
        + ", ".join(_code(u) for u in sorted(vocab.NON_CURRENCY_UNITS))
        + f", or an active ISO 4217 currency code ({len(CURRENCY_CODES)} codes in "
        "`salestalk_lib.contract.currency.CURRENCY_CODES`). `percentage` is a fraction: 0.35 means 35 %.",
        "",
        "Which kinds of unit each metric subject may use (`salestalk_lib.contract.items.SUBJECT_UNITS`):",
        "",
    ]
    out += _table(
        ["subject", "units"], [(_code(s.value), ", ".join(sorted(kinds))) for s, kinds in models.SUBJECT_UNITS.items()]
    )
    out += ['??? note "The currency codes"', "", "    " + " ".join(_code(c) for c in sorted(CURRENCY_CODES)), ""]
    return _page(out)


# --- JSON Schemas ----------------------------------------------------------------------------


@cache
def schema_files() -> dict[str, bytes]:
    """Every `.schema.json` file, byte for byte as `salestalk schema` writes it."""
    return {
        name: (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        for name, doc in schema_documents().items()
    }


def json_schemas_page(inputs: Any) -> str:
    """Every model's JSON Schema in a collapsible block, with a link to download the file."""
    files = schema_files()
    out = [
        "# JSON Schemas",
        "",
        "One JSON Schema (draft 2020-12) per contract model, generated from the models and identical to "
        "what `salestalk schema --out DIR` writes. Each file can be downloaded from the link in its row.",
        "",
        "A schema checks each attribute's shape: types, required attributes, ranges, lengths, patterns "
        "and vocabularies. The cross-field rules (keys agree with ids, timestamps with sort keys, table "
        "names with the tenant id, size limits) cannot be said in JSON Schema; the models hold them, and "
        "`salestalk validate` checks both.",
        "",
    ]
    by_name = {schema_file_name(m): m for m in SCHEMA_MODELS}
    out += _table(
        ["model", "file", "what it is"],
        [
            (f"[`{m.__name__}`](#{anchor(m.__name__)})", f"[`{name}`]({SCHEMAS_DIR}/{name})", _first_line(_doc(m)))
            for name, m in by_name.items()
        ],
    )
    for name, data in files.items():
        model = by_name[name]
        out += [
            f"## `{model.__name__}` {{#{anchor(model.__name__)}}}",
            "",
            f"[Download `{name}`]({SCHEMAS_DIR}/{name}) · attributes and rules: "
            f"{_link_to_model(model, JSON_SCHEMAS_PAGE)}",
            "",
            f'??? abstract "{name}"',
            "",
            "    ```json",
        ]
        out += ["    " + line if line else "" for line in data.decode("utf-8").splitlines()]
        out += ["    ```", ""]
    return _page(out)


# --- registry -------------------------------------------------------------------------------


def _schema_file_builder(name: str) -> Callable[[Any], bytes]:
    def build(inputs: Any) -> bytes:
        return schema_files()[name]

    build.__name__ = build.__qualname__ = f"schema_file_{anchor(name).replace('-', '_').replace('.', '_')}"
    build.__doc__ = f"The published JSON Schema file {name}."
    return build


def _pages() -> dict[str, Callable[[Any], str | bytes]]:
    pages: dict[str, Callable[[Any], str | bytes]] = {f"{CONTRACTS_DIR}/{INDEX_PAGE}.md": index_page}
    pages.update({f"{CONTRACTS_DIR}/{p.stem}.md": _model_page(p) for p in MODEL_PAGES})
    pages[f"{CONTRACTS_DIR}/{KEY_GRAMMAR_PAGE}.md"] = key_grammar_page
    pages[f"{CONTRACTS_DIR}/{VOCABULARIES_PAGE}.md"] = vocabularies_page
    pages[f"{CONTRACTS_DIR}/{JSON_SCHEMAS_PAGE}.md"] = json_schemas_page
    pages.update({f"{CONTRACTS_DIR}/{SCHEMAS_DIR}/{name}": _schema_file_builder(name) for name in schema_documents()})
    return pages


CONTRACT_PAGES: dict[str, Callable[[Any], str | bytes]] = _pages()
"""Every contract page and schema file: its path under `docs/generated/` and its builder."""
