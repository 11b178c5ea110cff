"""The site's generated overview diagrams, reliability page and benchmark page.

Registered in `docsgen.PAGES` through `SITE_PAGES`:

| file under `docs/generated/` | built from |
|---|---|
| `architecture.md`, `architecture.svg` | the package itself: its subpackages and their docstrings, the layer order and rules of the import-linter contracts in `pyproject.toml`, the imports read from the source |
| `table-diagram.svg` | `tables.TABLE_SPECS`, the key grammar (`contract_docs.KEY_FORMS`) and one sample item per `ITEM_KINDS` entry |
| `reliability.md` | `GUARANTEES`, `retry.RETRY_RULES`, `ingest.WRITE_MODES` and `write_cost`, `faults.FAULT_KINDS` |
| `benchmarks.md`, `benchmarks.svg` | `benchmarks/results.json`, written by `make bench`: every sample; the figures and goal verdicts are computed from them here (`devtools.bench.evaluate_goals`); the chart draws each goal's share reached and the scaling runs' peak RSS |

The diagrams are plain SVG drawn here, with no layout tool and nothing fetched
by the browser: text widths are estimated from character counts (a monospace
character is 0.6 em wide; proportional text is kept well inside its box), so
output depends only on the inputs. Which indexes an item kind appears in is not
declared anywhere: it is read off a sample item built by the models, exactly as
DynamoDB decides it (an item is in a GSI iff it carries the index's key attributes).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import math
import re
import sys
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import salestalk_lib
from devtools.contract_docs import KEY_FORMS
from salestalk_lib.contract.models import (
    IngestBatch,
    Message,
    MessageIdentity,
    ProcessedEvent,
    SessionRollup,
    Tenant,
)
from salestalk_lib.contract.tables import TABLE_SPECS, TableKind, TableSpec
from salestalk_lib.dynamo.retry import DEFAULT_POLICY, RETRY_RULES, policy_table
from salestalk_lib.ops import batches, inbox
from salestalk_lib.ops.events import metrics_ingested
from salestalk_lib.ops.ingest import DEFAULT_MESSAGE_MODE, DEFAULT_METRIC_MODE, WRITE_MODES, MetricMode, write_cost
from salestalk_lib.testing.faults import FAULT_KINDS, FaultProfile
from salestalk_lib.testing.samples import sample_messages, sample_metrics

REPO_DIR = Path(__file__).resolve().parents[1]
DEFAULT_BENCHMARK_RESULTS = REPO_DIR / "benchmarks" / "results.json"

SANS = "'DejaVu Sans', 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
MONO = "'DejaVu Sans Mono', Menlo, Consolas, 'Liberation Mono', monospace"
MONO_EM = 0.6  # width of one monospace character, in em
INK, MUTED, RULE, PAPER = "#1f2330", "#5b6170", "#d5d8e0", "#ffffff"


# --- architecture ---------------------------------------------------------------------
#
# Nothing here is declared by hand. The layers are the subpackages of `salestalk_lib`, in
# the order of the import-linter layers contract in pyproject.toml (`lint-imports` enforces
# it, tests/test_layers.py runs it); a layer's description is its subpackage's docstring;
# its modules are the files found in it; the imports are read from their source with `ast`.

PACKAGE = "salestalk_lib"
PACKAGE_DIR = Path(salestalk_lib.__file__).resolve().parent
TOOLING = "devtools"
TOOLING_DIR = Path(__file__).resolve().parent
PYPROJECT = REPO_DIR / "pyproject.toml"
AWS_PACKAGES = ("boto3", "botocore")
_LAYER_COLORS = ("#8e24aa", "#6d4c41", "#ef6c00", "#c2185b", "#00897b", "#546e7a", "#3949ab", "#7cb342")


def _module_name(path: Path, root: Path, package: str) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((package, *parts))


@dataclass(frozen=True)
class Module:
    """A module of a package found on disk: its dotted name, its file and the first line of its docstring."""

    name: str
    path: Path

    @property
    def short(self) -> str:
        """The last part of the dotted name (`keys` for `salestalk_lib.contract.keys`)."""
        return self.name.rpartition(".")[2]

    @property
    def docstring(self) -> str:
        return ast.get_docstring(ast.parse(self.path.read_text(encoding="utf-8"))) or ""

    @property
    def summary(self) -> str:
        """The first line of the module's docstring."""
        return (self.docstring.strip().splitlines() or [""])[0]


def discover(root: Path = PACKAGE_DIR, package: str = PACKAGE) -> tuple[Module, ...]:
    """Every module of the package under `root` (packages by their `__init__`), in name order."""
    found = [Module(_module_name(p, root, package), p) for p in root.rglob("*.py") if "__pycache__" not in p.parts]
    return tuple(sorted(found, key=lambda m: m.name))


def importlinter_contracts(pyproject: Path = PYPROJECT) -> list[dict[str, Any]]:
    """The import-linter contracts declared in pyproject.toml, in order."""
    config = tomllib.loads(pyproject.read_text(encoding="utf-8"))["tool"]["importlinter"]
    return list(config["contracts"])


def layer_bands(pyproject: Path = PYPROJECT) -> list[tuple[str, ...]]:
    """The layers contract of the package, top to bottom: each band's layer names (`ops | iam` is one band)."""
    for contract in importlinter_contracts(pyproject):
        if contract["type"] == "layers" and contract.get("containers") == [PACKAGE]:
            return [tuple(name.strip() for name in re.split(r"[|:]", entry)) for entry in contract["layers"]]
    raise LookupError(f"pyproject.toml declares no import-linter layers contract for {PACKAGE}")


@dataclass(frozen=True)
class Layer:
    """A subpackage of the library, in its place in the layers contract."""

    name: str
    band: int
    """Its row in the layers contract, 0 for the top; layers in one band are independent of each other."""
    modules: tuple[Module, ...]
    """Its modules, the subpackage's `__init__` first."""
    color: str

    @property
    def package(self) -> str:
        return f"{PACKAGE}.{self.name}"

    @property
    def description(self) -> str:
        """The subpackage's docstring."""
        return self.modules[0].docstring

    @property
    def title(self) -> str:
        """The docstring's first line up to its colon, without code marks: the diagram's caption."""
        return self.description.splitlines()[0].split(":")[0].replace("`", "").rstrip(".")


@cache
def layers() -> tuple[Layer, ...]:
    """The library's layers, top band first (within a band in the contract's order)."""
    modules = discover()
    out: list[Layer] = []
    for band, names in enumerate(layer_bands()):
        for name in names:
            package = f"{PACKAGE}.{name}"
            own = [m for m in modules if m.name == package or m.name.startswith(package + ".")]
            if not own or own[0].name != package:
                raise LookupError(f"the layers contract names {package}, which is not a package")
            out.append(Layer(name, band, tuple(own), _LAYER_COLORS[len(out) % len(_LAYER_COLORS)]))
    return tuple(out)


def root_modules() -> tuple[Module, ...]:
    """The package root's own modules (`salestalk_lib`, `__main__`, `_compat`): in no layer."""
    return tuple(m for m in discover() if m.path.parent == PACKAGE_DIR)


def layer_of(module: str) -> Layer | None:
    """The layer `module` (a dotted name) belongs to; None for the package root's own modules."""
    return next((la for la in layers() if module == la.package or module.startswith(la.package + ".")), None)


def _resolve(name: str, known: set[str]) -> str:
    """The module of the package that importing `name` gives: itself, a module an old path aliases, or its parent."""
    if name in known:
        return name
    try:  # an old path (salestalk_lib._compat) answers with the module itself
        module = importlib.import_module(name).__name__
    except ImportError:
        module = name
    while module not in known and "." in module:
        module = module.rpartition(".")[0]
    return module


@cache
def imports_of(module: str, root: Path = PACKAGE_DIR, package: str = PACKAGE) -> tuple[frozenset[str], frozenset[str]]:
    """(modules of the package, top-level outside packages) that `module` imports anywhere in its source.

    Every import counts, also a late one inside a function and one under TYPE_CHECKING, as for
    import-linter. `from salestalk_lib import models` counts as the module that name gives.
    """
    mods = {m.name: m for m in discover(root, package)}
    known = set(mods)
    this = mods[module]
    parent = module if this.path.name == "__init__.py" else module.rpartition(".")[0]
    inside: set[str] = set()
    outside: set[str] = set()
    for node in ast.walk(ast.parse(this.path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = parent.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            if base.split(".")[0] != package:
                names = [base]
            else:  # `from a import b`: the module a.b if there is one, else (an attribute of a) a itself
                names = [
                    f"{base}.{alias.name}"
                    if f"{base}.{alias.name}" in known or (base == package and alias.name != "*")
                    else base
                    for alias in node.names
                ]
        else:
            continue
        for name in names:
            if name.split(".")[0] == package:
                inside.add(_resolve(name, known))
            else:
                outside.add(name.split(".")[0])
    inside.discard(module)
    return frozenset(inside), frozenset(outside)


def talks_to_aws(module: str) -> bool:
    """Whether `module` imports boto3 or botocore itself."""
    return bool(imports_of(module)[1] & set(AWS_PACKAGES))


def layer_imports() -> dict[str, tuple[str, ...]]:
    """Each layer's name and the other layers its modules import (the diagram's arrows), in layer order."""
    order = [la.name for la in layers()]
    out: dict[str, tuple[str, ...]] = {}
    for layer in layers():
        targets = {t.name for m in layer.modules for i in imports_of(m.name)[0] if (t := layer_of(i)) is not None}
        targets.discard(layer.name)
        out[layer.name] = tuple(sorted(targets, key=order.index))
    return out


def outside_imports(layer: Layer) -> tuple[str, ...]:
    """The third-party packages (not the standard library) a layer's modules import, sorted."""
    found = {name for m in layer.modules for name in imports_of(m.name)[1]}
    return tuple(sorted(n for n in found if n not in sys.stdlib_module_names and n != "__future__"))


def _covers(expression: str, package: str) -> bool:
    return package == expression or package.startswith(expression + ".")


def rules(layer: Layer) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the layers `layer` may import, what a forbidden contract keeps it from importing), from pyproject.toml."""
    below = [la.name for la in layers() if la.band > layer.band]
    forbidden: list[str] = []
    for contract in importlinter_contracts():
        if contract["type"] == "forbidden" and any(_covers(s, layer.package) for s in contract["source_modules"]):
            forbidden += [f for f in contract["forbidden_modules"] if f not in forbidden]
    allowed = tuple(n for n in below if not any(_covers(f, f"{PACKAGE}.{n}") for f in forbidden))
    never = tuple(f for f in forbidden if not f.startswith(PACKAGE + "."))
    return allowed, never


class _Svg:
    """A tiny SVG writer: elements in order, no ids except the arrow marker."""

    def __init__(self, width: int, title: str, description: str) -> None:
        self.width = width
        self.title = title
        self.description = description
        self.parts: list[str] = []

    def rect(
        self,
        x: float,
        y: float,
        w: float,
        h: float,
        *,
        fill: str = PAPER,
        stroke: str = RULE,
        rx: float = 6,
        dash: bool = False,
        width: float = 1.2,
    ) -> None:
        extra = ' stroke-dasharray="5 4"' if dash else ""
        self.parts.append(
            f'<rect x="{x:g}" y="{y:g}" width="{w:g}" height="{h:g}" rx="{rx:g}" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="{width:g}"{extra}/>'
        )

    def text(
        self,
        x: float,
        y: float,
        content: str,
        *,
        size: float = 13,
        mono: bool = False,
        weight: str = "normal",
        fill: str = INK,
        anchor: str = "start",
        italic: bool = False,
    ) -> None:
        style = ' font-style="italic"' if italic else ""
        self.parts.append(
            f'<text x="{x:g}" y="{y:g}" font-family="{MONO if mono else SANS}" font-size="{size:g}" '
            f'font-weight="{weight}" fill="{fill}" text-anchor="{anchor}"{style}>'
            f"{escape(content)}</text>"
        )

    def line(
        self, x1: float, y1: float, x2: float, y2: float, *, stroke: str = MUTED, arrow: bool = True, dash: bool = False
    ) -> None:
        extra = ' marker-end="url(#arrow)"' if arrow else ""
        extra += ' stroke-dasharray="5 4"' if dash else ""
        self.parts.append(
            f'<line x1="{x1:g}" y1="{y1:g}" x2="{x2:g}" y2="{y2:g}" stroke="{stroke}" stroke-width="1.6"{extra}/>'
        )

    def path(self, d: str, *, stroke: str = MUTED, arrow: bool = True) -> None:
        extra = ' marker-end="url(#arrow)"' if arrow else ""
        self.parts.append(f'<path d="{d}" fill="none" stroke="{stroke}" stroke-width="1.6"{extra}/>')

    def render(self, height: float) -> str:
        head = (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.width} {height:g}" '
            f'width="{self.width}" height="{height:g}" role="img">\n'
            f"<title>{escape(self.title)}</title>\n<desc>{escape(self.description)}</desc>\n"
            '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
            f'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{MUTED}"/>'
            "</marker></defs>\n"
            f'<rect width="{self.width}" height="{height:g}" fill="{PAPER}"/>\n'
        )
        return head + "\n".join(self.parts) + "\n</svg>\n"


def mono_width(text: str, size: float) -> float:
    """Estimated rendered width of monospace `text` at `size` px."""
    return len(text) * MONO_EM * size


def _tint(color: str, amount: float) -> str:
    """`color` mixed with white (`amount` 0 = color, 1 = white)."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    mix = [round(c + (255 - c) * amount) for c in (r, g, b)]
    return "#" + "".join(f"{c:02x}" for c in mix)


_GUTTER_X = 16
_LANE_GAP = 9
_BAND_W = 560
_CHIP_SIZE, _CHIP_H, _CHIP_GAP = 13, 26, 8
_SIBLING_GAP = 14
_AWS = "#d84315"
_SANS_EM = 0.56  # a generous estimate of a proportional character's width, in em


def _chip_rows(labels: Sequence[str], width: float) -> list[list[tuple[str, float]]]:
    rows: list[list[tuple[str, float]]] = [[]]
    used = 0.0
    for label in labels:
        w = mono_width(label, _CHIP_SIZE) + 18
        if rows[-1] and used + w > width:
            rows.append([])
            used = 0.0
        rows[-1].append((label, w))
        used += w + _CHIP_GAP
    return rows


def _wrap(text: str, width: float, size: float) -> list[str]:
    """`text` in lines that fit `width` px of proportional text at `size` px (estimated)."""
    per_line = max(8, int(width / (_SANS_EM * size)))
    lines: list[str] = [""]
    for word in text.split():
        if lines[-1] and len(lines[-1]) + 1 + len(word) > per_line:
            lines.append("")
        lines[-1] = f"{lines[-1]} {word}".strip()
    return lines


@dataclass
class _Box:
    x: float
    y: float
    w: float
    h: float


def _tooling_labels() -> list[str]:
    return [m.short for m in discover(TOOLING_DIR, TOOLING) if m.name != TOOLING] + ["notebooks/*.ipynb"]


def architecture_svg(inputs: Any = None) -> str:
    """The layers of the library as boxes, top band first, every module a chip, arrows for the real imports.

    An arrow from layer A to layer B means some module of A imports a module of B (read from
    the source, `layer_imports`); chips with a heavy red border import boto3 or botocore
    themselves. The dashed band on top is the repository's tooling, which uses the library.
    """
    all_layers = layers()
    edges = [(src, dst) for src, dsts in layer_imports().items() for dst in dsts]
    by_name = {la.name: la for la in all_layers}
    bands = [[la for la in all_layers if la.band == b] for b in range(max(la.band for la in all_layers) + 1)]
    # every edge that skips a band runs down its own lane in the gutter on the left
    # (the edge reaching furthest down outermost, so that lanes turning off never cross one going on)
    long_edges = sorted(
        (e for e in edges if by_name[e[1]].band - by_name[e[0]].band > 1),
        key=lambda e: (-by_name[e[1]].band, by_name[e[0]].band),
    )
    lane_x = {e: _GUTTER_X + 6 + _LANE_GAP * i for i, e in enumerate(long_edges)}
    band_x = _GUTTER_X + 6 + _LANE_GAP * len(long_edges) + 14
    engine_x = band_x + _BAND_W + 30
    width = round(engine_x + 170 + 12)
    svg = _Svg(
        width,
        "SalesTalk data platform: architecture",
        f"The {len(all_layers)} layers of salestalk_lib, the subpackages of the import-linter layers "
        "contract in pyproject.toml, top band first; each arrow is an import between layers read from "
        "the source. Only dynamo imports boto3 and botocore.",
    )

    # the horizontal runs of the arrows below and above each band (a gap per pair of bands)
    leaving = {e: by_name[e[0]].band for e in edges}  # in the gap below this band
    arriving = {e: by_name[e[1]].band - 1 for e in edges}  # in the gap above the target (its index: band - 1)
    gap_runs: dict[int, list[tuple[tuple[str, str], str]]] = {}
    for e in edges:
        gap_runs.setdefault(leaving[e], []).append((e, "out"))
        if e in lane_x:
            gap_runs.setdefault(arriving[e], []).append((e, "in"))

    y = 20.0
    # the repository's tooling: uses the library, never used by it
    labels = _tooling_labels()
    rows = _chip_rows(labels, _BAND_W - 32)
    th = 52 + len(rows) * (_CHIP_H + _CHIP_GAP) + 6
    svg.rect(band_x, y, _BAND_W, th, fill="#fafafa", stroke=MUTED, rx=10, dash=True)
    svg.text(band_x + 16, y + 24, f"{TOOLING}/ and the notebooks", size=15, weight="bold", fill=MUTED)
    svg.text(
        band_x + 16,
        y + 42,
        "repository tooling, not in the wheel: uses the library, which never imports it",
        size=12,
        fill=MUTED,
    )
    cy = y + 54
    for row in rows:
        cx = band_x + 16
        for label, w in row:
            svg.rect(cx, cy, w, _CHIP_H, fill="#fafafa", stroke=MUTED, rx=5, dash=True)
            svg.text(cx + w / 2, cy + 17.5, label, size=_CHIP_SIZE, mono=True, anchor="middle")
            cx += w + _CHIP_GAP
        cy += _CHIP_H + _CHIP_GAP
    y += th
    svg.line(band_x + _BAND_W / 2, y + 2, band_x + _BAND_W / 2, y + 26)
    svg.text(band_x + _BAND_W / 2 + 10, y + 18, "uses", size=12, fill=MUTED)
    y += 30

    boxes: dict[str, _Box] = {}
    gap_y: dict[int, float] = {}
    for b, band in enumerate(bands):
        # siblings share the band's width by how many chips they hold (at least 190 px each)
        free = _BAND_W - _SIBLING_GAP * (len(band) - 1)
        weights = [max(len(la.modules) - 1, 1) for la in band]
        widths = [max(190.0, free * w / sum(weights)) for w in weights]
        widths[0] = free - sum(widths[1:])
        layouts = []
        for la, w in zip(band, widths, strict=True):
            caption = _wrap(la.title, w - 32, 12)
            chips = _chip_rows([m.short for m in la.modules[1:]], w - 32)
            layouts.append((caption, chips))
        height = max(36 + 16 * len(c) + len(r) * (_CHIP_H + _CHIP_GAP) + 8 for c, r in layouts)
        x = float(band_x)
        for la, w, (caption, chips) in zip(band, widths, layouts, strict=True):
            boxes[la.name] = _Box(x, y, w, height)
            svg.rect(x, y, w, height, fill=_tint(la.color, 0.9), stroke=la.color, rx=10)
            svg.text(x + 16, y + 24, la.package, size=15, weight="bold", fill=la.color)
            for n, line in enumerate(caption):
                svg.text(x + 16, y + 42 + 16 * n, line, size=12, fill=MUTED)
            cy = y + 36 + 16 * len(caption) + 6
            for row in chips:
                cx = x + 16
                for label, cw in row:
                    module = f"{la.package}.{label}"
                    aws = talks_to_aws(module)
                    svg.rect(cx, cy, cw, _CHIP_H, stroke=_AWS if aws else la.color, rx=5, width=2.2 if aws else 1.2)
                    svg.text(cx + cw / 2, cy + 17.5, label, size=_CHIP_SIZE, mono=True, anchor="middle")
                    cx += cw + _CHIP_GAP
                cy += _CHIP_H + _CHIP_GAP
            x += w + _SIBLING_GAP
        y += height
        if b < len(bands) - 1:
            runs = len(gap_runs.get(b, []))
            gap_y[b] = y
            y += 14 + 7 * runs

    # ports: where each edge leaves its source's bottom and enters its target's top
    def ports(key: int) -> dict[tuple[str, str], float]:
        groups: dict[str, list[tuple[str, str]]] = {}
        for e in edges:
            groups.setdefault(e[key], []).append(e)
        out: dict[tuple[str, str], float] = {}
        for name, group in groups.items():
            box = boxes[name]
            # long edges (to the gutter on the left) take the left ports, outermost lane first
            group.sort(key=lambda e: (e not in lane_x, lane_x.get(e, 0), by_name[e[1 - key]].band))
            for i, e in enumerate(group):
                out[e] = box.x + box.w * (i + 1) / (len(group) + 1)
        return out

    out_x, in_x = ports(0), ports(1)
    run_y: dict[tuple[tuple[str, str], str], float] = {}
    for b, runs in gap_runs.items():
        # leaving: the outermost lane's run highest; arriving: lowest (so no run crosses a lane it passes)
        order = sorted(runs, key=lambda r: (r[1], lane_x.get(r[0], 1e9) * (1 if r[1] == "out" else -1)))
        for i, (e, kind) in enumerate(order):
            run_y[(e, kind)] = gap_y[b] + 8 + 7 * i
    for e in edges:
        src, dst = boxes[e[0]], boxes[e[1]]
        x1, x2 = out_x[e], in_x[e]
        y_out = run_y[(e, "out")]
        if e in lane_x:
            y_in = run_y[(e, "in")]
            lx = lane_x[e]
            svg.path(
                f"M{x1:g},{src.y + src.h:g} V{y_out:g} H{lx:g} V{y_in:g} H{x2:g} V{dst.y - 2:g}",
                stroke=by_name[e[0]].color,
            )
        else:
            svg.path(f"M{x1:g},{src.y + src.h:g} V{y_out:g} H{x2:g} V{dst.y - 2:g}", stroke=by_name[e[0]].color)

    # DynamoDB beside the one layer that talks to it
    seam = [la.name for la in all_layers if any(talks_to_aws(m.name) for m in la.modules)]
    if len(seam) != 1:
        raise RuntimeError(f"exactly one layer should import boto3/botocore; these do: {seam}")
    box = boxes[seam[0]]
    dw = width - engine_x - 12
    dh = max(box.h - 16, 100.0)
    dy = box.y + (box.h - dh) / 2
    svg.rect(engine_x, dy, dw, dh, fill="#fff3e0", stroke=_AWS, rx=14)
    svg.text(engine_x + dw / 2, dy + 26, "DynamoDB", size=15, weight="bold", fill=_AWS, anchor="middle")
    for n, line in enumerate(("moto (embedded)", "DynamoDB Local", "LocalStack", "AWS (opt-in)")):
        svg.text(engine_x + dw / 2, dy + 48 + 17 * n, line, size=11.5, fill=INK, anchor="middle")
    svg.line(box.x + box.w, box.y + box.h / 2, engine_x - 2, box.y + box.h / 2)
    # legend
    y += 18
    svg.rect(band_x, y, 34, 18, stroke=_AWS, rx=4, width=2.2)
    svg.text(band_x + 44, y + 14, "imports boto3 / botocore itself", size=12, fill=MUTED)
    svg.rect(band_x + 270, y, 34, 18, stroke=MUTED, rx=4, dash=True)
    svg.text(band_x + 314, y + 14, "not a module of salestalk_lib", size=12, fill=MUTED)
    svg.path(f"M{band_x:g},{y + 40:g} H{band_x + 32:g}")
    svg.text(
        band_x + 44, y + 44, "imports (some module of the upper layer imports one of the lower)", size=12, fill=MUTED
    )
    return svg.render(y + 60)


API_LAYERS_LEFT_OUT = ("cli",)
"""Layers the API reference leaves out: the command line is documented by `salestalk --help`."""


def api_page(layer: Layer) -> str | None:
    """The API reference page of `layer`, relative to `docs/` (None for a layer it leaves out)."""
    return None if layer.name in API_LAYERS_LEFT_OUT else f"api/{layer.name}.md"


def public_modules() -> tuple[str, ...]:
    """The modules the API reference must document: every module of a documented layer but private ones."""
    return tuple(m.name for la in layers() if api_page(la) for m in la.modules[1:] if not m.short.startswith("_"))


def _layer_list(names: Sequence[str]) -> str:
    return ", ".join(f"`{n}`" for n in names) or "nothing"


def architecture_page(inputs: Any = None) -> str:
    """The Architecture page: every layer with its docstring, its modules, what it may import, and the diagram."""
    all_layers = layers()
    imported = layer_imports()
    contracts = importlinter_contracts()
    out = [
        "# Architecture",
        "",
        f"`{PACKAGE}` is a stack of layers, each a subpackage that imports only the layers below it. This page",
        "is generated from the package itself: the layers and their order are the import-linter layers contract",
        "in `pyproject.toml`, each description is its subpackage's docstring, the modules are the files found in",
        "it, and the arrows of the diagram are the imports read from their source. `lint-imports` checks the",
        "contracts below; `make test` runs it (`tests/test_layers.py`).",
        "",
        "[![The layers of salestalk_lib top to bottom, every module a chip, an arrow for each import between "
        "layers; only dynamo reaches DynamoDB](architecture.svg)](architecture.svg)",
        "",
        "## Contracts",
        "",
    ]
    out += _md_table(
        ["contract", "kind", "what it says"],
        [[f"`{c['id']}`" if "id" in c else "", c["type"], c["name"]] for c in contracts],
    )
    bands = [
        "  |  ".join(f"`{la.name}`" for la in all_layers if la.band == b)
        for b in range(max(la.band for la in all_layers) + 1)
    ]
    out += [
        "Top to bottom: " + " → ".join(bands) + ". Layers side by side in one band (`|`) are independent:",
        "neither imports the other.",
        "",
        "## Layers",
        "",
    ]
    for layer in all_layers:
        allowed, never = rules(layer)
        out += [f"### `{layer.package}`", "", layer.description.strip(), ""]
        out += [f"- **May import:** {_layer_list(allowed)} (of the library's layers)"]
        if never:
            out += [f"- **Never imports:** {_layer_list(never)}"]
        out += [
            f"- **Imports today:** {_layer_list(imported[layer.name])}; outside the standard library: "
            f"{_layer_list(outside_imports(layer))}",
            "",
        ]
        page = api_page(layer)
        rows = []
        for module in layer.modules[1:]:
            name = f"[`{module.short}`](../{page}#{module.name})" if page else f"`{module.short}`"
            rows.append([name, module.summary + (" **Imports boto3/botocore.**" if talks_to_aws(module.name) else "")])
        out += _md_table(["module", "what it is"], rows)
    out += [
        "## The package root",
        "",
        f"The modules directly in `{PACKAGE}/` belong to no layer: the curated lazy exports, the old",
        "module paths, `python -m salestalk_lib`.",
        "",
    ]
    out += _md_table(["module", "what it is"], [[f"`{m.name}`", m.summary] for m in root_modules()])
    out += [
        f"## Repository tooling: `{TOOLING}/`",
        "",
        "Not in the wheel. It may import the library, which never imports it (contract `no-devtools`):",
        "",
    ]
    out += _md_table(
        ["module", "what it is"],
        [[f"`{m.name}`", m.summary] for m in discover(TOOLING_DIR, TOOLING) if m.name != TOOLING],
    )
    return "\n".join(out).rstrip("\n") + "\n"


# --- tables ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemKind:
    """One kind of item stored in a table: its name, its keys' grammar and a sample item built by the models."""

    name: str
    table: TableKind
    key_grammar: tuple[tuple[str, str], ...]
    sample: Callable[[], Mapping[str, Any]]

    def indexes(self, spec: TableSpec) -> tuple[str, ...]:
        """The GSIs of `spec` this kind appears in: those whose key attributes the sample item carries."""
        item = self.sample()
        return tuple(i.name for i in spec.indexes if all(a.name in item for a in i.key_attributes))


_SAMPLE_TENANT = "acme-corp-001"


def _grammar(item: str, attribute: str) -> str:
    return next(f.grammar for f in KEY_FORMS if f.item == item and f.attribute == attribute)


def _sample_tenant() -> Mapping[str, Any]:
    return Tenant.create(
        tenant_id=_SAMPLE_TENANT,
        name="Acme Corp",
        owner_email="owner@example.com",
        plan="enterprise",
        created_at=1_700_000_000,
    ).to_item()


def _sample_message() -> Message:
    return sample_messages(_SAMPLE_TENANT, 1)[0]


def _sample_event() -> Any:
    return metrics_ingested(
        tenant_id=_SAMPLE_TENANT,
        batch_id="2025-11-25.nightly",
        metrics=sample_metrics(_SAMPLE_TENANT, 1),
        outcomes={"created": 1},
        correlation_id="2025-11-25.nightly",
        event_id="9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
        now=lambda: datetime(2025, 11, 25, tzinfo=UTC),
    )


def _sample_metric(sliced: bool) -> Mapping[str, Any]:
    return next(m for m in sample_metrics(_SAMPLE_TENANT, 40) if (m.dimension_key is not None) == sliced).to_item()


ITEM_KINDS: tuple[ItemKind, ...] = (
    ItemKind("tenant", TableKind.REGISTRY, (("tenantId", "{tenantId}"),), _sample_tenant),
    ItemKind(
        "message",
        TableKind.MESSAGES,
        (("pk", _grammar("message", "pk")), ("sk", _grammar("message", "sk"))),
        lambda: _sample_message().to_item(),
    ),
    ItemKind(
        "message identity",
        TableKind.MESSAGES,
        (("pk", _grammar("message identity", "pk")), ("sk", _grammar("message identity", "sk"))),
        lambda: MessageIdentity.of(_sample_message()).to_item(),
    ),
    ItemKind(
        "session rollup",
        TableKind.MESSAGES,
        (("pk", _grammar("session rollup", "pk")), ("sk", _grammar("session rollup", "sk"))),
        lambda: SessionRollup.of_messages([_sample_message()]).to_item(),
    ),
    ItemKind(
        "ingest batch",
        TableKind.MESSAGES,
        (("pk", _grammar("ingest batch", "pk")), ("sk", _grammar("ingest batch", "sk"))),
        lambda: IngestBatch.begin(
            tenant_id=_SAMPLE_TENANT,
            batch_id="2025-11-25.nightly",
            content_hash="sha256:" + "0" * 64,
            message_count=0,
            metric_count=1,
            started_at=1_764_028_800,
            event_id="0b0e9f0e-8a9f-4c1e-9d6f-3c2b1a0f9e8d",
            run_token="7c1d2e3f-4a5b-4c6d-9e7f-8a9b0c1d2e3f",
        ).to_item(),
    ),
    ItemKind(
        "processed event",
        TableKind.MESSAGES,
        (("pk", _grammar("processed event", "pk")), ("sk", _grammar("processed event", "sk"))),
        lambda: ProcessedEvent.claim(
            _sample_event(), claim_token="5d0c7b0e-4f3a-4b2c-9d1e-0f9a8b7c6d5e", claimed_at=1_764_028_800
        ).to_item(),
    ),
    ItemKind(
        "metric headline",
        TableKind.METRICS,
        (("pk", _grammar("metric", "pk")), ("sk", _grammar("metric headline", "sk"))),
        lambda: _sample_metric(False),
    ),
    ItemKind(
        "metric slice",
        TableKind.METRICS,
        (("pk", _grammar("metric", "pk")), ("sk", _grammar("metric slice", "sk"))),
        lambda: _sample_metric(True),
    ),
)
"""Every kind of item the three table types hold, in table order."""

_TABLE_COLORS = {TableKind.REGISTRY: "#3949ab", TableKind.MESSAGES: "#00897b", TableKind.METRICS: "#ef6c00"}
_LH = 18  # line height inside a table box
_PAD = 12
_KEY_SIZE = 12.5  # monospace lines in a table box
_NAME_SIZE = 14.5  # the table name in a box's header


def table_name(spec: TableSpec) -> str:
    """The table's base name with `{tenantId}` for a tenant's id."""
    placeholder = "zz0sample0zz"
    return spec.base_name(placeholder if spec.per_tenant else None).replace(placeholder, "{tenantId}")


def _box_lines(spec: TableSpec) -> list[tuple[str, str]]:
    """(style, text) rows of a table box below its header."""
    rows: list[tuple[str, str]] = [("section", "PRIMARY KEY")]
    for attr, role in zip(spec.key_attributes, ("partition key", "sort key"), strict=False):
        rows.append(("key", f"{attr.name} ({attr.type})  {role}"))
    rows.append(("section", "GLOBAL SECONDARY INDEXES"))
    for index in spec.indexes:
        keys_text = " + ".join(f"{a.name} ({a.type})" for a in index.key_attributes)
        rows += [("index", index.name), ("key", f"  {keys_text}"), ("note", f"  {index.purpose}")]
    rows.append(("section", "ITEM KINDS"))
    for kind in ITEM_KINDS:
        if kind.table is not spec.kind:
            continue
        rows.append(("kind", kind.name))
        rows += [("key", f"  {attr} = {grammar}") for attr, grammar in kind.key_grammar]
        found = kind.indexes(spec)
        if spec.indexes:
            rows.append(("note", "  in " + ", ".join(found) if found else "  in no index (sparse)"))
    return rows


def _box_width(spec: TableSpec) -> float:
    texts = [(table_name(spec), _NAME_SIZE)] + [
        (text, _KEY_SIZE) for style, text in _box_lines(spec) if style in ("key", "index", "kind")
    ]
    return max(mono_width(t, size) for t, size in texts) + 2 * _PAD


def _box_height(spec: TableSpec) -> float:
    lines = _box_lines(spec)
    return 54 + sum(_LH + (8 if style == "section" else 0) for style, _ in lines) + 8


def _draw_table(svg: _Svg, spec: TableSpec, x: float, y: float, w: float, h: float) -> dict[str, float]:
    """Draw one table box; returns the y of each item kind's row (for arrows)."""
    color = _TABLE_COLORS[spec.kind]
    svg.rect(x, y, w, h, stroke=color, rx=8, width=1.6)
    svg.parts.append(
        f'<path d="M{x:g},{y + 48:g} V{y + 8:g} a8,8 0 0 1 8,-8 H{x + w - 8:g} a8,8 0 0 1 8,8 '
        f'V{y + 48:g} z" fill="{color}"/>'
    )
    svg.text(x + _PAD, y + 21, table_name(spec), size=_NAME_SIZE, mono=True, weight="bold", fill=PAPER)
    scope = "one per tenant" if spec.per_tenant else "one per deployment"
    svg.text(x + _PAD, y + 40, f"{scope} · {spec.purpose}", size=12, fill=_tint(color, 0.8))
    rows_y: dict[str, float] = {}
    cy = y + 54
    for style, text in _box_lines(spec):
        if style == "section":
            cy += 8
            svg.parts.append(
                f'<line x1="{x + _PAD:g}" y1="{cy - 4:g}" x2="{x + w - _PAD:g}" y2="{cy - 4:g}" '
                f'stroke="{RULE}" stroke-width="1"/>'
            )
            svg.text(x + _PAD, cy + 12, text, size=11, weight="bold", fill=color)
        elif style == "kind":
            cw = mono_width(text, _KEY_SIZE) + 14
            svg.rect(x + _PAD - 4, cy + 1, cw, _LH - 2, fill=_tint(color, 0.85), stroke=_tint(color, 0.5), rx=4)
            svg.text(x + _PAD + 3, cy + 13.5, text, size=_KEY_SIZE, mono=True, weight="bold")
            rows_y[text] = cy + _LH / 2
        elif style == "index":
            svg.text(x + _PAD, cy + 13.5, text, size=_KEY_SIZE, mono=True, weight="bold")
        else:  # SVG collapses leading spaces: indent by position instead
            indent = mono_width(text[: len(text) - len(text.lstrip())], _KEY_SIZE)
            if style == "key":
                svg.text(x + _PAD + indent, cy + 13.5, text.strip(), size=_KEY_SIZE, mono=True)
            else:
                svg.text(x + _PAD + indent, cy + 13.5, text.strip(), size=11.5, fill=MUTED, italic=True)
        cy += _LH
    return rows_y


TABLES_WIDTH = 720


def table_diagram_svg(inputs: Any = None) -> str:
    """The three table types as boxes (keys, GSIs, item kinds and the indexes each kind is in), with their links."""
    registry, messages, metrics = (TABLE_SPECS[k] for k in (TableKind.REGISTRY, TableKind.MESSAGES, TableKind.METRICS))
    gap = 36
    bottom_w = max(_box_width(messages), _box_width(metrics), (TABLES_WIDTH - 32 - gap) / 2)
    width = round(32 + gap + 2 * bottom_w)  # wider than TABLES_WIDTH only if a box needs it
    svg = _Svg(
        width,
        "SalesTalk tables: the registry and each tenant's two tables",
        "The tenants-metadata registry names each tenant's messages and metrics tables; messages cite "
        "metrics through data references.",
    )
    reg_w = max(_box_width(registry), 340)
    reg_h = _box_height(registry)
    reg_x = (width - reg_w) / 2
    _draw_table(svg, registry, reg_x, 20, reg_w, reg_h)
    top = 20 + reg_h + 70
    bottom_h = max(_box_height(messages), _box_height(metrics))
    left_x, right_x = 16, 16 + bottom_w + gap
    msg_rows = _draw_table(svg, messages, left_x, top, bottom_w, bottom_h)
    met_rows = _draw_table(svg, metrics, right_x, top, bottom_w, bottom_h)
    # registry item -> the tenant's two tables, by the names it stores
    for target_x, label in ((left_x + bottom_w / 2, "messagesTableName"), (right_x + bottom_w / 2, "metricsTableName")):
        start_x = reg_x + (reg_w * 0.3 if target_x < width / 2 else reg_w * 0.7)
        svg.path(
            f"M{start_x:g},{20 + reg_h:g} C{start_x:g},{top - 30:g} {target_x:g},{20 + reg_h + 20:g} "
            f"{target_x:g},{top - 2:g}"
        )
        left = target_x < width / 2
        mid_x, mid_y = (start_x + target_x) / 2, (20 + reg_h + top) / 2
        svg.text(
            mid_x + (-10 if left else 10),
            mid_y + 4,
            label,
            size=12,
            mono=True,
            fill=MUTED,
            anchor="end" if left else "start",
        )
    svg.text(width / 2, top - 12, "× every tenant", size=12, fill=MUTED, anchor="middle")
    # a message's data references cite metric items
    y1, y2 = msg_rows["message"], met_rows["metric headline"]
    svg.path(
        f"M{left_x + bottom_w:g},{y1:g} C{left_x + bottom_w + gap / 2:g},{y1:g} "
        f"{right_x - gap / 2:g},{y2:g} {right_x - 2:g},{y2:g}"
    )
    svg.text(left_x + bottom_w + gap / 2, min(y1, y2) - 8, "cites", size=12, fill=MUTED, anchor="middle")
    return svg.render(top + bottom_h + 20)


# --- reliability ------------------------------------------------------------------------


@dataclass(frozen=True)
class Guarantee:
    """A promise the platform makes, and the tests (pytest node ids) that prove it."""

    statement: str
    tests: tuple[str, ...]


_ADV = "tests/adversarial/"
GUARANTEES: tuple[Guarantee, ...] = (
    Guarantee(
        "One message per `messageId`, whatever its time: the same id again is `already_exists` with the "
        "same content and a `conflict` with any difference (its time included), nothing written; exactly "
        "one of several racing writers wins (contract §7).",
        (
            f"{_ADV}test_message_identity.py::test_the_same_message_id_at_another_time_is_a_conflict_and_"
            "writes_nothing",
            f"{_ADV}test_message_identity.py::test_writers_racing_one_id_at_different_times_end_with_one_winner",
            "tests/test_ingest_proof.py::test_b_threads_ingesting_the_same_records_create_each_once",
        ),
    ),
    Guarantee(
        "`validate` (and `ingest`, before writing) reports a file, or a run's set of files, that holds one "
        "`messageId` twice.",
        (f"{_ADV}test_message_identity.py::test_validate_reports_one_message_id_twice_in_one_file_and_across_files",),
    ),
    Guarantee(
        "Only registered, active tenants receive data: an unregistered, suspended or removed tenant is "
        "refused (exit 2, naming it and its status) before anything is written, ingestion never creates "
        "tables, and a tenant suspended during a run receives nothing more.",
        (
            f"{_ADV}test_tenant_status.py::test_an_unregistered_tenant_is_refused_and_no_table_is_created",
            f"{_ADV}test_tenant_status.py::test_a_suspended_tenant_is_refused_and_nothing_is_written",
            f"{_ADV}test_tenant_status.py::test_a_removed_tenant_is_refused_and_its_tables_are_not_recreated",
            f"{_ADV}test_tenant_status.py::test_the_library_refuses_before_any_table_is_written",
            f"{_ADV}test_tenant_status.py::test_a_tenant_suspended_during_a_run_receives_nothing_more",
        ),
    ),
    Guarantee(
        "A killed ingest loses and doubles nothing: after SIGKILLs at random points, running it again "
        "stores every message once, every rollup exact.",
        (
            f"{_ADV}test_crash_and_race.py::test_three_sigkills_then_a_finish_store_every_message_once_and_"
            "every_rollup_exact",
        ),
    ),
    Guarantee(
        "Concurrent ingests of the same, overlapping and conflicting files end exact: each id created "
        "once over all runs, the other versions conflicts, every rollup exact.",
        (
            f"{_ADV}test_crash_and_race.py::test_racing_processes_on_same_and_overlapping_files_and_reused_ids_"
            "end_exact",
            "tests/test_batches.py::test_concurrent_runs_of_one_batch_write_each_record_once_and_send_one_event_id",
        ),
    ),
    Guarantee(
        "Ctrl-C stops an ingest within seconds, leaves no half-applied record, prints what was done and "
        "how to finish, and a re-run completes exactly; no cleanup after an interrupt retries.",
        (
            f"{_ADV}test_interrupt.py::test_sigint_stops_within_seconds_reports_and_a_rerun_completes_exactly",
            f"{_ADV}test_ingest_defects.py::test_every_metric_mode_stops_retrying_when_the_run_is_stopped",
            "tests/test_batches.py::test_ctrl_c_while_the_batch_begins_sends_no_cleanup_and_a_rerun_completes",
            "tests/test_inbox.py::test_ctrl_c_in_the_handler_withdraws_the_claim_in_one_attempt_without_retries",
        ),
    ),
    Guarantee(
        "A lost response ends `created` or `already_exists`, never a conflict, never counted twice, on every engine.",
        (
            "tests/test_ingest_proof.py::test_d_lost_responses_end_created_or_already_exists_never_conflict",
            "tests/test_ingest_proof.py::test_a_thousands_of_records_under_faults_end_exact",
        ),
    ),
    Guarantee(
        "A record that failed after the retry budget says whether it may have been applied, and running "
        "the batch again settles it (`already_exists` or `created`).",
        (
            f"{_ADV}test_ingest_defects.py::test_a_failed_record_that_was_written_says_may_have_been_applied_"
            "and_a_rerun_settles_it",
            f"{_ADV}test_ingest_defects.py::test_the_cli_says_may_have_been_applied_and_exits_2",
        ),
    ),
    Guarantee(
        "The bulk load (`--metric-mode batch`) says what it is: last writer wins, and what it writes is "
        "counted `written`, never `created`, in its counts, its events, `--help` and the write-mode table.",
        (
            f"{_ADV}test_batch_mode.py::test_concurrent_batch_runs_never_claim_created_and_account_for_every_record",
            f"{_ADV}test_batch_mode.py::test_ingest_help_never_says_never_overwritten_of_a_mode_that_overwrites",
            "tests/test_ingest.py::test_write_modes_table_and_costs",
        ),
    ),
    Guarantee(
        "The same batch again within 30 days is replayed (nothing written, no second event); a run that "
        "gives up before writing withdraws only the batch records carrying its own run token.",
        (
            "tests/test_batches.py::test_the_same_batch_again_is_replayed_nothing_written_no_event",
            "tests/test_batches.py::test_a_withdrawal_never_deletes_a_record_another_run_holds",
        ),
    ),
    Guarantee(
        "Outputs are checked before any data is written: an events file that cannot be written, or two "
        "event destinations at once, are refused (exit 2) with nothing written.",
        (
            f"{_ADV}test_ingest_defects.py::test_an_events_file_that_cannot_be_written_is_refused_before_"
            "anything_is_written",
            f"{_ADV}test_ingest_defects.py::test_events_file_and_event_bus_together_are_refused",
        ),
    ),
    Guarantee(
        "Every retry-like loop of ingestion and event processing is bounded, and the library checks its "
        "invariants with real errors, never `assert`.",
        (
            f"{_ADV}test_ingest_defects.py::test_a_metric_whose_stored_item_keeps_vanishing_gives_up_after_"
            "bounded_rounds",
            "tests/test_inbox.py::test_a_claim_that_keeps_vanishing_gives_up_after_a_bounded_number_of_rounds",
            f"{_ADV}test_ingest_defects.py::test_the_library_holds_its_invariants_with_real_checks_not_asserts",
        ),
    ),
    Guarantee(
        "The audit names a message without its identity item, an identity item without its message and "
        "a `MSG#` partition holding two messages.",
        ("tests/test_audit.py::test_message_identity_pairing_breaks_are_reported",),
    ),
    Guarantee(
        "Every number is either refused naming its field or stored and read back equal: DynamoDB's rules "
        "exactly (38 significant digits, 1E-130 to 9.99…E+125, normalised as DynamoDB stores it), checked "
        "before anything is written.",
        (
            f"{_ADV}test_number_rules.py::test_numbers_that_crashed_ingest_are_stored_and_read_back_equal",
            f"{_ADV}test_number_rules.py::test_unstorable_numbers_are_refused_naming_their_field_and_nothing_is_"
            "written",
            f"{_ADV}test_number_rules.py::test_the_rule_accepts_what_dynamodb_local_stores_and_normalises_it_the_"
            "same_way",
            f"{_ADV}test_number_rules.py::test_a_metric_either_refuses_its_value_naming_it_or_stores_and_reads_it_"
            "back_equal",
        ),
    ),
    Guarantee(
        "Items are sized as DynamoDB sizes them: an item the contract accepts at 409,600 bytes is accepted "
        "by DynamoDB Local, one byte more is refused, and write costs cross the 1 KB boundary where the "
        "engine's do.",
        (
            "tests/test_item_size.py::test_a_number_is_sized_as_dynamodb_local_charges_it",
            "tests/test_item_size.py::test_the_largest_item_dynamodb_local_accepted_is_409600_bytes",
            "tests/test_item_size.py::test_a_contract_metric_dynamodb_local_accepted_at_the_limit_is_accepted_"
            "and_one_byte_more_refused",
        ),
    ),
    Guarantee(
        "Bad input gets one clear line and the right exit code, never a traceback, and changes no table: "
        "truncated, empty, BOM, CRLF, NUL, non-UTF-8, deeply nested, huge-integer, NaN, duplicate-key files, "
        "a FIFO, a symbolic link loop or a missing path, through `validate`, `ingest` and `seed --dir`.",
        (
            f"{_ADV}test_bad_files.py::test_validate_says_it_in_one_line_with_the_right_exit_code",
            f"{_ADV}test_bad_files.py::test_ingest_refuses_with_exit_2_and_writes_nothing",
            f"{_ADV}test_bad_files.py::test_seed_refuses_with_exit_2_and_writes_nothing",
            f"{_ADV}test_bad_files.py::test_a_fifo_is_refused_before_it_is_opened_for_reading",
        ),
    ),
    Guarantee(
        "Hostile records, key strings and command-line parameters raise only the library's own errors "
        "(fuzzed with a fixed budget); whatever is accepted round-trips.",
        (
            f"{_ADV}test_fuzz_inputs.py::test_a_hostile_record_gets_violations_or_round_trips",
            f"{_ADV}test_fuzz_inputs.py::test_a_key_parser_parses_and_rebuilds_the_same_text_or_raises_a_key_error",
            f"{_ADV}test_pattern_params.py::test_fuzzed_parameters_raise_only_the_librarys_errors",
            f"{_ADV}test_hostile_ids.py::test_a_hostile_tenant_id_never_becomes_a_table_name",
        ),
    ),
    Guarantee(
        "Control characters are refused in names and other one-line text, and stored data is never printed raw.",
        (
            f"{_ADV}test_control_characters.py::test_a_tenant_name_refuses_every_control_character",
            f"{_ADV}test_control_characters.py::test_stored_control_characters_are_never_printed_raw",
        ),
    ),
    Guarantee(
        'Real AWS is never reached without the opt-in, whatever the spelling of its endpoint: "local" is '
        "decided positively (loopback, or a host declared local), every other endpoint is refused (exit 2) "
        "before a credential is read, and local endpoints are signed with dummy credentials.",
        (
            f"{_ADV}test_aws_guard.py::test_every_spelling_of_an_aws_endpoint_is_refused_before_any_credential_is_read",
            f"{_ADV}test_aws_guard.py::test_an_endpoint_that_is_not_local_needs_the_opt_in_or_the_local_hosts_setting",
            f"{_ADV}test_aws_guard.py::test_loopback_in_any_spelling_is_local_and_signed_with_dummy_credentials",
            f"{_ADV}test_aws_guard.py::test_fuzzed_endpoint_urls_are_refused_or_local_never_anything_else",
        ),
    ),
    Guarantee(
        "A tenant scope reads its own registry item and never writes it, reaches no table setting (TTL, "
        "PITR, tags, backups, ...) and leads to no unscoped client; IAM, not the scope, is the security "
        "boundary.",
        (
            f"{_ADV}test_sealed_scope.py::test_a_scope_reads_its_registry_item_and_can_never_write_it",
            f"{_ADV}test_sealed_scope.py::test_no_table_setting_is_reachable_through_a_scope",
            f"{_ADV}test_sealed_scope.py::test_no_public_attribute_chain_leads_to_the_client_or_an_unscoped_storage",
            f"{_ADV}test_sealed_scope.py::test_a_hook_that_rewrites_a_request_cannot_send_it_elsewhere",
        ),
    ),
    Guarantee(
        "Every table name (and ARN) has exactly one owner: no table prefix and tenant id of one deployment "
        "can name another's table.",
        (
            f"{_ADV}test_table_names.py::test_every_name_has_exactly_one_owner_and_so_does_every_arn",
            f"{_ADV}test_table_names.py::test_the_reported_collision_cannot_be_built_any_more",
        ),
    ),
    Guarantee(
        "A resume token resumes its own query only: a token of another pattern, other parameters or "
        "another partition is refused.",
        (
            f"{_ADV}test_pattern_params.py::test_a_token_resumes_its_own_query_and_nothing_else",
            f"{_ADV}test_pattern_params.py::test_a_token_whose_start_key_is_in_another_partition_is_refused",
            f"{_ADV}test_pattern_params.py::test_an_edited_or_foreign_token_is_refused",
        ),
    ),
    Guarantee(
        "A tenant session reaches its own tables, indexes and registry item and nothing else: no other "
        "tenant's (prefix-colliding ids included), no untagged or mis-tagged table, nothing without its "
        "TenantId session tag; and the IAM is three roles and three policies whatever the tenant count.",
        (
            "tests/test_iam.py::test_no_session_reaches_another_tenant_a_decoy_or_anything_without_its_tag",
            "tests/test_iam.py::test_every_session_reaches_exactly_its_own_tables_indexes_and_registry_item",
            "tests/test_terraform.py::test_the_iam_is_a_constant_set_in_the_root_module",
        ),
    ),
    Guarantee(
        "A tenant's admin role cannot change its tables' settings, who may reach them, or copy their data: "
        "the explicit Deny wins over any Allow.",
        (f"{_ADV}test_admin_deny.py::test_the_deny_wins_over_an_allow_everything_policy_on_every_own_resource",),
    ),
    Guarantee(
        "The embedded servers fail at once, with one line, on a busy or impossible port; provisioning "
        "right after a DeleteTable waits for the old table to go instead of reading it as drift.",
        (
            f"{_ADV}test_aws_guard.py::test_serve_on_a_busy_port_fails_at_once_with_one_line_and_exit_2",
            f"{_ADV}test_provision_after_delete.py::test_provisioning_right_after_a_delete_waits_and_creates_the_"
            "table_anew",
        ),
    ),
)
"""Every guarantee the Reliability page states, with the tests that prove it (`tests/test_guarantees.py`
checks that each node id exists and is collected)."""


def _md_cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[object]], align: str = "") -> list[str]:
    marks = [("---:" if c == "r" else "---") for c in (align or "l" * len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(marks) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _seconds(value: float) -> str:
    return f"{value:g} s"


def retry_schedule(rule_name: str) -> list[float]:
    """The capped (un-jittered) delay before each retry a rule allows, in seconds."""
    rule = DEFAULT_POLICY.rule(rule_name)
    return [rule.cap(n, DEFAULT_POLICY.max_sleep) for n in range(1, rule.max_retries + 1)]


COST_EXAMPLE_ITEMS = 1_000


def cost_rows() -> list[tuple[str, dict[str, int]]]:
    """`write_cost` of `COST_EXAMPLE_ITEMS` sample metrics into an empty table, per metric write mode."""
    items = [m.to_item() for m in sample_metrics("cost-example", COST_EXAMPLE_ITEMS)]
    rows = [(mode.value, write_cost(mode, items)) for mode in MetricMode]
    rows.append(
        (f"{MetricMode.BATCH.value}, check_existing=False", write_cost(MetricMode.BATCH, items, check_existing=False))
    )
    return rows


RETRIES_NOTEBOOK = "04_idempotency_and_retries.ipynb"


def _notebook_link(inputs: Any, name: str, title: str) -> str:
    """A link to a published notebook, or to the notebook list when it is not published in this build."""
    published = {p.name for p in getattr(inputs, "notebooks", ())}
    if name in published:
        return f"The notebook [{title}](../notebooks/{name})"
    return f"The notebook *{title}* (see [Notebooks](notebooks.md))"


def reliability_page(inputs: Any = None) -> str:
    """Retry policy, write modes with their guarantees and costs, and the injectable fault kinds."""
    out = [
        "# Reliability",
        "",
        "What happens when DynamoDB throttles, fails, or loses a response, generated from the code that",
        "decides it: `salestalk_lib.dynamo.retry.RETRY_RULES`, `salestalk_lib.ops.ingest.WRITE_MODES` and",
        "`salestalk_lib.testing.faults.FAULT_KINDS`. "
        + _notebook_link(inputs, RETRIES_NOTEBOOK, "Idempotency and retries")
        + " shows each of them at work.",
        "",
    ]
    out += [
        "## Guarantees and the tests that prove them",
        "",
        "Each promise below is held by the tests named beside it (`devtools.site_docs.GUARANTEES`); the",
        "`tests/adversarial/` suite attacks them through real processes: kills, races, interrupts.",
        "",
    ]
    out += _md_table(
        ["guarantee", "proved by"], [[g.statement, "<br>".join(f"`{t}`" for t in g.tests)] for g in GUARANTEES]
    )
    out += [
        "## Retry policy",
        "",
        "`Retrier.call` retries an operation by the first rule whose errors match the error it raised.",
        "Errors are translated into these classes at the storage seam only; anything that is not a storage",
        f"error is never retried. Every single sleep is capped at {_seconds(DEFAULT_POLICY.max_sleep)}, and each",
        "rule has its own budget within one call. Clients built by the library have botocore's own retries",
        "off, so this is the only retry layer.",
        "",
    ]
    header = ["rule", "error", "raised as", "retry?", "backoff", "max retries"]
    out += _md_table(
        header,
        [
            [
                f"`{r['rule']}`",
                r["error"],
                ", ".join(f"`{e}`" for e in r["raised as"].split(", ")),
                r["retry?"],
                r["backoff"],
                r["max retries"],
            ]
            for r in policy_table()
        ],
        align="lllllr",
    )
    out += [
        "### Delay caps per retry",
        "",
        "The delay before retry *n* is `base · 2^(n-1)`, capped; with full jitter the actual sleep is drawn",
        "uniformly from 0 to that cap.",
        "",
    ]
    rows = []
    for rule in RETRY_RULES:
        if not rule.retries:
            continue
        schedule = retry_schedule(rule.name)
        rows.append(
            [
                f"`{rule.name}`",
                ", ".join(f"{d:g}" for d in schedule),
                "drawn from [0, cap]" if rule.jitter else "exactly the cap",
                _seconds(round(sum(schedule), 3)),
            ]
        )
    out += _md_table(["rule", "cap before retry 1, 2, … (s)", "sleep", "longest total wait"], rows, align="lllr")

    out += [
        "## Write modes",
        "",
        "Each write path states what it guarantees and what it costs (`salestalk_lib.ops.ingest.WRITE_MODES`).",
        "Metrics take one of the first three (`MetricMode`; the default of `salestalk ingest` and "
        f"`Ingestor.ingest` is `{DEFAULT_METRIC_MODE.value}`, the fastest race-free path the benchmark "
        "measured); messages always take the last: packed many to a transaction (`MessageMode.PACKED`, the "
        f"default: `{DEFAULT_MESSAGE_MODE.value}`) or one per transaction (`MessageMode.SINGLE`: "
        '`message_mode="single"`, `salestalk ingest --message-mode single`).',
        "",
    ]
    for mode in WRITE_MODES:
        out += [
            f"### `{mode.name}`",
            "",
            f"**API:** {mode.api}, up to {mode.items_per_request:,} item(s) per request.",
            "",
        ]
        for term, text in (
            ("Guarantees", mode.guarantees),
            ("Existing items", mode.existing_items),
            ("Requests", mode.requests),
            ("Capacity", mode.capacity),
        ):
            out += [term, f":   {text[:1].upper()}{text[1:]}", ""]
    out += [
        f"### Cost of loading {COST_EXAMPLE_ITEMS:,} metrics",
        "",
        f"`write_cost(mode, items)` for {COST_EXAMPLE_ITEMS:,} sample metrics (`samples.sample_metrics`) "
        "into an empty table, without retries:",
        "",
    ]
    out += _md_table(
        ["mode", "requests", "WCU", "RCU"],
        [[f"`{name}`", f"{c['requests']:,}", f"{c['wcu']:,}", f"{c['rcu']:,}"] for name, c in cost_rows()],
        align="lrrr",
    )

    out += ["## Batch uploads", ""]
    out += inspect.cleandoc(batches.__doc__ or "").split("\n", 1)[1].strip("\n").splitlines()
    out += [
        "",
        f"The record is created with `{batches.BEGIN_CONDITION}` and completed with",
        f"`{batches.COMPLETE_UPDATE}` under `{batches.COMPLETE_CONDITION}`. "
        "See the [Ingest batch](contracts/ingest-batch.md) contract for its fields and rules.",
        "",
    ]

    out += ["## Event processing", ""]
    out += inspect.cleandoc(inbox.__doc__ or "").split("\n", 1)[1].strip("\n").splitlines()
    out += [
        "",
        f"The claim is written with `{inbox.CLAIM_CONDITION}`; it becomes processed with",
        f"`{inbox.DONE_UPDATE}` under `{inbox.MINE}`. "
        "See the [Processed event](contracts/processed-event.md) contract for its fields and rules.",
        "",
    ]

    example = FaultProfile.parse("throttle=0.2,error5xx=0.05,lost=0.02,seed=7")
    out += [
        "## Fault kinds",
        "",
        "The tests and notebook 04 put `salestalk_lib.testing.faults.FaultProxy` between the client and the",
        "endpoint. Per data-plane request it injects at most one fault, drawn from a seeded generator, so the",
        "same requests meet the same faults on every run. The kinds:",
        "",
    ]
    out += _md_table(
        ["kind", "what the client sees, and whether the request was applied"],
        [[f"`{kind}`", text] for kind, text in FAULT_KINDS.items()],
    )
    out += [
        "A profile gives each kind a probability, a seed and the client's read timeout:",
        "",
        "```python",
        "from salestalk_lib.testing.faults import FaultProfile, faulty_endpoint",
        "",
        f'profile = FaultProfile.parse("{example}")',
        f"profile.total_rate  # {example.total_rate:g}",
        "```",
        "",
    ]
    return "\n".join(out).rstrip("\n") + "\n"


# --- benchmarks -------------------------------------------------------------------------

_RATIO_GOALS = {
    "checked_vs_put_loop": "vs_put_loop",
    "checked_vs_batch_writer": "vs_batch_writer",
    "unchecked_vs_put_loop": "vs_put_loop",
    "unchecked_vs_batch_writer": "vs_batch_writer",
}


def load_benchmark_results(path: Path | None) -> dict[str, Any] | None:
    """The committed results of `make bench`, or None when there are none."""
    if path is None or not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def engine_results(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each engine's part of the results: `engines` (format 2), or the one moto run of an older file."""
    if "engines" in results:
        return list(results["engines"])
    env = results.get("environment", {})
    return [
        {
            "engine": "moto",
            "version": env.get("moto", ""),
            "server": env.get("server", ""),
            "runs": results["runs"],
            "ratios": results["ratios"],
        }
    ]


def goal_verdicts(
    results: Mapping[str, Any], entry: Mapping[str, Any] | None = None
) -> list[tuple[str, float, float, bool]]:
    """(ratio name, measured, goal, met) for every ratio of `entry` (default: `results` itself) that has a goal."""
    goals = results["goals"]
    ratios = (entry or results)["ratios"]
    return [
        (name, float(value), float(goals[_RATIO_GOALS[name]]), float(value) >= float(goals[_RATIO_GOALS[name]]))
        for name, value in ratios.items()
        if name in _RATIO_GOALS
    ]


def benchmarks_page(inputs: Any) -> str:
    """The published benchmark results, with the goals and whether each was met (judged from the figures)."""
    from salestalk_lib.embedded.engines import ENGINES

    results = load_benchmark_results(getattr(inputs, "benchmark_results", None))
    out = ["# Benchmarks", ""]
    if results is None:
        return "\n".join(
            out
            + [
                "No benchmark results have been published yet: run `make bench` and commit",
                "`benchmarks/results.json`.",
                "",
            ]
        )
    if results.get("format", 2) >= 3:
        return _benchmarks_page_v3(results)
    entries = engine_results(results)
    verdicts = {e["engine"]: goal_verdicts(results, e) for e in entries}
    everything = [v for vs in verdicts.values() for v in vs]
    met = sum(1 for v in everything if v[3])
    measured = ", ".join(f"{e['engine']} {e.get('version', '')}".rstrip() for e in entries)
    out += [
        "Bulk loading of metrics, from the committed results of `make bench` (`benchmarks/results.json`,",
        f"run on {results['date']}). `python -m devtools.bench` loads the same {results['items']:,} validated",
        "metrics into fresh tables several ways, on each embedded engine, and counts each table afterwards.",
        f"Engines measured: {measured}.",
        "",
        "!!! "
        + ("success" if met == len(everything) else "warning")
        + ' "Goals: '
        + f'{met} of {len(everything)} met ({measured})"',
        "",
        f"    The goals are the library's checked bulk load at least {results['goals']['vs_put_loop']:g}× as fast",
        f"    as a `put_item` loop and at least {results['goals']['vs_batch_writer']:g}× as fast as boto3's",
        "    `batch_writer`, with validation included, on each engine.",
    ]
    for entry in entries:
        for name, value, goal, ok in verdicts[entry["engine"]]:
            out.append(
                f"    {'Met' if ok else 'Not met'} on {entry['engine']}: {name.replace('_', ' ')}, "
                f"{value:.2f}× against ≥ {goal:g}×."
            )
    out += [
        "    These numbers come from embedded engines on a small shared machine, not from DynamoDB;",
        "    they compare the client-side paths with one another on the same engine, not the engines",
        "    with each other or with the service.",
        "",
    ]
    missing = [e for e in ENGINES if e not in verdicts]
    if missing:
        out += [
            f"Not measured in these results: {', '.join(missing)} (the committed results predate it, or the "
            "run was limited with `--engine`); `make bench` measures every engine.",
            "",
        ]
    repeats = results.get("repeats", 1)
    for entry in entries:
        out += [f"## {entry['engine']} {entry.get('version', '')}".rstrip(), ""]
        if entry.get("server"):
            out += [f"Server: {entry['server']}.", ""]
        if repeats > 1:
            out += [
                f"Each method ran {repeats} times, the rounds interleaved and every run on a fresh server "
                "process; the table shows the median run, and every run's seconds beside it.",
                "",
            ]
        out += _md_table(
            ["method", "items", "seconds", "items/s", "every run (s)"],
            [
                [
                    r["name"],
                    f"{r['items']:,}",
                    f"{r['seconds']:.2f}",
                    f"{r['items_per_s']:,}",
                    ", ".join(f"{x:.2f}" for x in r.get("samples_s", [r["seconds"]])),
                ]
                for r in entry["runs"]
            ],
            align="lrrrl",
        )
        out += _md_table(
            ["ratio", "measured", "goal", "met?"],
            [
                [name.replace("_", " "), f"{value:.2f}×", f"≥ {goal:g}×", "yes" if ok else "**no**"]
                for name, value, goal, ok in verdicts[entry["engine"]]
            ],
            align="lrrl",
        )
    out += [
        f"Validation alone: {results['validation_records_per_s']:,} records/s, with "
        f"{results['workers']} writers for the library's bulk loads.",
        "",
        "## Environment",
        "",
    ]
    env = results["environment"]
    out += _md_table(
        ["", ""], [["command", f"`{results['command']}`"]] + [[k.replace("_", " "), v] for k, v in env.items()]
    )
    return "\n".join(out).rstrip("\n") + "\n"


def _benchmarks_page_v3(results: Mapping[str, Any]) -> str:
    """The page for the results of `devtools.bench` (format 3): goals, the three measurements, the scaling table.

    Every figure and every verdict is computed here from the stored samples (`devtools.bench.summary`,
    `evaluate_goals`): the results file holds measurements, never a claim.
    """
    from devtools import bench

    env = results["environment"]
    verdicts = bench.evaluate_goals(results)
    met = sum(1 for _, _, ok in verdicts if ok)
    out = [
        "# Benchmarks",
        "",
        f"From the committed results of `make bench` (`benchmarks/results.json`, run on {results['date']} with",
        f"`{results['command']}`, {results['repeats']} interleaved round(s) of every method"
        + (", the small sizes of `--quick`" if results.get("quick") else "")
        + "). Every method runs as its own process against an engine in another process, so the",
        "client CPU it reports (`getrusage`) is the library's, not the server's; every table is counted",
        "afterwards. Tables show the median of the rounds and every run beside it.",
        "",
        "!!! " + ("success" if met == len(verdicts) else "warning") + f' "Goals: {met} of {len(verdicts)} met"',
        "",
    ]
    for goal, value, ok in verdicts:
        shown = bench._fmt_goal(goal, value)
        target = f"{goal.op.replace('>=', '≥').replace('<=', '≤')} {bench._fmt_goal(goal, goal.target)}"
        if value is None:
            out.append(f"    Not met (not measured in this run): {goal.text}, target {target}.")
        else:
            out.append(f"    {'Met' if ok else 'Not met'}: {goal.text}, {shown} against {target}.")
    out += [
        "",
        f"    Measured on a shared machine ({env['cpus']} CPUs, load average {env['load_average_before']} before",
        f"    and {env['load_average_after']} after): {env['note']}. These are embedded engines, not DynamoDB.",
        *([f"    {bench.reference_text(env['reference_cpu_s'])}"] if "reference_cpu_s" in env else []),
        "",
        f"[![Goals of this run ({met} of {len(verdicts)} met): each bar is the share of its goal reached, a bar "
        "that reaches the line meets it; below, peak RSS of validate and ingest against the records in the "
        "file](benchmarks.svg)](benchmarks.svg)",
        "",
        "## Goals",
        "",
        *_md_table(["goal", "target", "measured", "verdict"], bench.goal_rows(results), align="lrrl"),
        "## Throughput and client CPU per engine",
        "",
        "Seconds are the work of each process (its imports excluded); the ratio is this method's",
        "items/s over each baseline's in the same run; client CPU is user + system time of the",
        "client process per item.",
        "",
    ]
    for entry in results["throughput"]:
        out += [f"### {entry['engine']} {entry.get('version', '')}".rstrip(), ""]
        out += _md_table(bench.METHOD_HEADERS, bench.method_rows(entry["runs"]), align="lrrrlrl")
    lat = results["latency"]
    out += [
        f"## Behind {lat['latency_ms']:g} ms per request",
        "",
        f"{lat['proxy']}. Seconds are whole commands, start-up included.",
        "",
        *_md_table(bench.METHOD_HEADERS, bench.method_rows(lat["runs"], wall=True), align="lrrrlrl"),
        *([note, ""] if (note := bench.ceiling_note(results)) else []),
        "## Scaling",
        "",
        "Messages validated and ingested (DynamoDB Local) by the CLI in a child process; peak RSS is the",
        "child's `ru_maxrss`. Flat memory from the smallest to the largest file is the goal.",
        "",
        *_md_table(bench.SCALING_HEADERS, bench.scaling_rows(results), align="lrrrr"),
        *([text, ""] if (text := bench.warm_up_text(results)) else []),
    ]
    if results.get("memory"):
        out += ["Memory goal runs:", ""]
        out += _md_table(
            ["command", "messages", "seconds", "peak RSS (MB)"],
            [
                [f"salestalk {r['command']}", f"{r['items']:,}", f"{r['wall_s']:.2f}", f"{r['maxrss_mb']:,.0f}"]
                for r in results["memory"]
            ],
            align="lrrr",
        )
    validation = results["validation"]
    per_cpu = validation["records"] / validation["cpu_s"] if validation["cpu_s"] else 0.0
    raw_cpu = validation["raw_model_validate_cpu_s"]
    raw = validation["records"] / raw_cpu if raw_cpu else 0.0
    out += [
        "## Validation speed",
        "",
        f"{per_cpu:,.0f} records per CPU second ({validation['source']}); raw `Message.model_validate`:",
        f"{raw:,.0f} records per CPU second.",
        "",
        "## Environment",
        "",
    ]
    out += _md_table(
        ["", ""],
        [["command", f"`{results['command']}`"], ["total seconds", results.get("seconds", "")]]
        + [[k.replace("_", " "), v] for k, v in env.items()]
        + [[f"engine {k}", v] for k, v in results.get("engines", {}).items()],
    )
    return "\n".join(out).rstrip("\n") + "\n"


_MET_COLOR = "#2e7d32"
_CHART_W = 760
_GOAL_ROW = 48
_SHARE_CAP = 2.0  # bars are drawn up to twice the goal; the figure beside says the rest


def goal_share(op: str, target: float, value: float | None) -> float | None:
    """How much of a goal a figure reaches: 1.0 exactly at the goal, above 1 beyond it (met), None if not measured.

    For a `>=` goal, value / target; for a `<=` goal (a ceiling), target / value: either way a
    longer bar is better and the goal's line is at 1.
    """
    if value is None:
        return None
    if op == ">=":
        return value / target if target else None
    return target / value if value else _SHARE_CAP


def _log_x(n: float, low: float, high: float, x0: float, w: float) -> float:
    span = math.log10(high) - math.log10(low)
    return x0 + (0.5 if span == 0 else (math.log10(n) - math.log10(low)) / span) * w


def benchmarks_svg(inputs: Any = None) -> str:
    """The Benchmarks page's chart, from `benchmarks/results.json`: each goal's share reached, and peak RSS by size.

    The verdicts are `devtools.bench.evaluate_goals`'s, the same the page's tables show; the
    memory panel plots the scaling and memory-goal runs (peak RSS of the child process against
    the records in its file, on a log scale), with each memory goal as a dashed line.
    """
    from devtools import bench

    results = load_benchmark_results(getattr(inputs, "benchmark_results", None))
    if results is None or results.get("format", 2) < 3:
        svg = _Svg(_CHART_W, "Benchmarks", "No benchmark results of the current format have been published.")
        svg.text(20, 36, "No benchmark results have been published yet: run make bench.", size=14, fill=MUTED)
        return svg.render(60)
    verdicts = bench.evaluate_goals(results)
    met = sum(1 for _, _, ok in verdicts if ok)
    svg = _Svg(
        _CHART_W,
        f"Benchmark goals of the run of {results['date']}: {met} of {len(verdicts)} met",
        "Each goal's bar is the share of the goal the latest run reached (the line is the goal: a bar "
        "that reaches it is met); below, peak memory of validate and ingest against the size of the file.",
    )
    svg.text(20, 28, f"Goals of the run of {results['date']}: {met} of {len(verdicts)} met", size=16, weight="bold")
    svg.text(20, 48, "bar: the share of the goal reached; a bar that reaches the line meets it", size=12, fill=MUTED)
    x0, bar_w = 20.0, 400.0
    goal_x = x0 + bar_w / _SHARE_CAP
    top = 62.0
    for n, (goal, value, ok) in enumerate(verdicts):
        y = top + n * _GOAL_ROW
        svg.text(x0, y + 14, goal.label or goal.text, size=13)
        share = goal_share(goal.op, goal.target, value)
        color = _MET_COLOR if ok else _AWS
        svg.rect(x0, y + 20, bar_w, 20, fill="#f3f4f7", stroke="#f3f4f7", rx=3, width=0)
        if share is not None:
            length = max(2.0, min(share, _SHARE_CAP) * (goal_x - x0))
            svg.rect(x0, y + 20, length, 20, fill=_tint(color, 0.35), stroke=color, rx=3)
        target = f"{goal.op.replace('>=', '≥').replace('<=', '≤')} {bench._fmt_goal(goal, goal.target)}"
        figure = f"{bench._fmt_goal(goal, value)} ({target}): {'met' if ok else 'not met'}"
        svg.text(x0 + bar_w + 14, y + 35, figure, size=13, fill=color, weight="bold" if not ok else "normal")
    bottom = top + len(verdicts) * _GOAL_ROW
    for n in range(len(verdicts)):  # the goal's line across each bar, clear of the labels
        svg.line(goal_x, top + n * _GOAL_ROW + 16, goal_x, top + n * _GOAL_ROW + 44, stroke=INK, arrow=False, dash=True)
    svg.text(goal_x, bottom + 6, "goal", size=11, fill=MUTED, anchor="middle")
    return _memory_panel(svg, results, bottom + 44)


def _memory_panel(svg: _Svg, results: Mapping[str, Any], top: float) -> str:
    from devtools import bench

    runs = [*results.get("scaling", []), *results.get("memory", [])]
    limits = [g for g in bench.GOALS if g.unit == "MB"]
    svg.text(
        20,
        top,
        "Peak RSS by file size (flat: memory does not grow with the input)",
        size=16,
        weight="bold",
    )
    if not runs:
        svg.text(20, top + 24, "No scaling runs in these results.", size=13, fill=MUTED)
        return svg.render(top + 40)
    x0, w, y0, h = 70.0, 480.0, top + 24, 200.0
    sizes = sorted({r["items"] for r in runs})
    high_mb = max([r["maxrss_mb"] for r in runs] + [g.target for g in limits]) * 1.15
    low_n, high_n = sizes[0], sizes[-1]

    def at(n: float, mb: float) -> tuple[float, float]:
        return _log_x(n, low_n, high_n, x0, w), y0 + h - mb / high_mb * h

    svg.rect(x0, y0, w, h, fill=PAPER, stroke=RULE, rx=0)
    step = next((s for s in (10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000) if high_mb / s <= 6), 10_000)
    for mb in range(0, int(high_mb) + 1, step):  # at most six grid lines, however much memory a run took
        _, y = at(low_n, mb)
        svg.line(x0, y, x0 + w, y, stroke=RULE, arrow=False)
        svg.text(x0 - 8, y + 4, f"{mb} MB", size=11, fill=MUTED, anchor="end")
    last_x, lowered = -1e9, False
    for n in sizes:
        x, _ = at(n, 0)
        lowered = x - last_x < 60 and not lowered  # sizes close on the log scale: every other one a line lower
        svg.text(x, y0 + h + (29 if lowered else 16), f"{n:,}", size=11, fill=MUTED, anchor="middle")
        last_x = x
    for goal in limits:
        _, y = at(low_n, goal.target)
        svg.line(x0, y, x0 + w, y, stroke=_AWS, arrow=False, dash=True)
        svg.text(x0 + w + 8, y - 2, f"≤ {goal.target:,.0f} MB", size=11, fill=_AWS, weight="bold")
        svg.text(x0 + w + 8, y + 11, goal.label or goal.text, size=10, fill=_AWS)
    colors = {"validate": "#1565c0", "ingest": "#6a1b9a"}
    for n_cmd, command in enumerate(("validate", "ingest")):
        points = sorted((r["items"], r["maxrss_mb"]) for r in runs if r["command"] == command)
        if not points:
            continue
        color = colors[command]
        coords = [at(n, mb) for n, mb in points]
        svg.path("M" + " L".join(f"{x:g},{y:g}" for x, y in coords), stroke=color, arrow=False)
        for (_, mb), (x, y) in zip(points, coords, strict=True):
            svg.rect(x - 3.5, y - 3.5, 7, 7, fill=color, stroke=color, rx=3.5)
            svg.text(x, y + 17 if command == "validate" else y - 8, f"{mb:,.0f}", size=11, fill=color, anchor="middle")
        svg.text(x0 + w + 8, y0 + h - 40 + 18 * n_cmd, f"salestalk {command}", size=12, fill=color, weight="bold")
    return svg.render(y0 + h + 40)


SITE_PAGES: dict[str, Callable[[Any], str]] = {
    "architecture.md": architecture_page,
    "architecture.svg": architecture_svg,
    "table-diagram.svg": table_diagram_svg,
    "reliability.md": reliability_page,
    "benchmarks.md": benchmarks_page,
    "benchmarks.svg": benchmarks_svg,
}
"""The site pages this module builds, by their path under `docs/generated/`."""
