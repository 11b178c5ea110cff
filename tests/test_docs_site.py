"""The site's generated diagrams, reliability page and benchmark page (`devtools.site_docs`).

Expectations come from the code the pages are built from: the package's own
modules and their imports, `TABLE_SPECS` and the models, `RETRY_RULES`,
`WRITE_MODES` and `write_cost`, `FAULT_KINDS`, and `benchmarks/results.json`.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import tomllib
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

import salestalk_lib
from devtools import bench, docsgen, site_docs
from salestalk_lib.contract.models import SessionRollup
from salestalk_lib.contract.tables import TABLE_SPECS
from salestalk_lib.dynamo.retry import DEFAULT_POLICY, RETRY_RULES
from salestalk_lib.ops.ingest import WRITE_MODES, MetricMode, write_cost
from salestalk_lib.testing.faults import FAULT_KINDS
from salestalk_lib.testing.samples import sample_metrics

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results.json"
SVG_NS = "{http://www.w3.org/2000/svg}"
INPUTS = docsgen.Inputs(notebooks=())


def _modules() -> set[str]:
    """Every module of the package, found by walking it (as `python -m pkgutil` would see it, plus `__main__`)."""
    found = {"salestalk_lib", "salestalk_lib.__main__"}
    for info in pkgutil.walk_packages(salestalk_lib.__path__, "salestalk_lib."):
        found.add(info.name)
    return found


def _svg_texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return [el.text or "" for el in root.iter(f"{SVG_NS}text")]


# --- architecture ---------------------------------------------------------------------


def test_every_module_of_the_package_is_in_exactly_one_layer() -> None:
    placed = [m.name for layer in site_docs.layers() for m in layer.modules]
    root = [m.name for m in site_docs.root_modules()]
    assert len(placed + root) == len(set(placed + root))
    assert set(placed) | set(root) == _modules()
    assert root == ["salestalk_lib", "salestalk_lib.__main__", "salestalk_lib._compat"]
    for module in placed:
        assert site_docs.layer_of(module).package in (module, module.rpartition(".")[0])


def test_layers_are_the_subpackages_in_the_order_of_the_layers_contract() -> None:
    contract = next(
        c
        for c in tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"][
            "contracts"
        ]
        if c["type"] == "layers"
    )
    order = [name.strip() for entry in contract["layers"] for name in entry.split("|")]
    assert [layer.name for layer in site_docs.layers()] == order
    subpackages = {info.name for info in pkgutil.iter_modules(salestalk_lib.__path__) if info.ispkg}
    assert set(order) == subpackages
    for layer in site_docs.layers():
        assert layer.description == importlib.import_module(layer.package).__doc__.strip()
    bands = {layer.name: layer.band for layer in site_docs.layers()}
    assert bands["ops"] == bands["iam"] and bands["cli"] == 0 and bands["contract"] == max(bands.values())


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    upward = {}
    for layer in site_docs.layers():
        for module in layer.modules:
            inside, _ = site_docs.imports_of(module.name)
            above = sorted(m for m in inside if (t := site_docs.layer_of(m)) is not None and t.band < layer.band)
            beside = sorted(
                m
                for m in inside
                if (t := site_docs.layer_of(m)) is not None and t.band == layer.band and t is not layer
            )
            if above or beside:
                upward[module.name] = above + beside
    assert upward == {}


def test_pure_modules_never_import_boto3() -> None:
    pure = site_docs.layers()[-1]
    assert pure.name == "contract" and "pure" in pure.title
    assert [m.name for m in pure.modules if site_docs.talks_to_aws(m.name)] == []
    aws = {
        site_docs.layer_of(m.name).name
        for layer in site_docs.layers()
        for m in layer.modules
        if site_docs.talks_to_aws(m.name)
    }
    assert aws == {"dynamo"}  # the storage seam is where boto3 is used
    assert site_docs.talks_to_aws("salestalk_lib.dynamo.storage")
    assert site_docs.talks_to_aws("salestalk_lib.dynamo.endpoint")


def test_package_imports_sees_relative_absolute_late_and_aliased_imports(tmp_path: Path) -> None:
    inside, outside = site_docs.imports_of("salestalk_lib.dynamo.storage")
    assert "salestalk_lib.contract.errors" in inside and {"boto3", "botocore"} <= outside
    # `from salestalk_lib import models` inside a function: the module the old name gives
    inside, _ = site_docs.imports_of("salestalk_lib.ops.patterns")
    assert "salestalk_lib.contract.models" in inside and "salestalk_lib" not in inside
    inside, _ = site_docs.imports_of(
        "salestalk_lib.cli"
    )  # a package's __init__: `from salestalk_lib.cli.main import main`
    assert "salestalk_lib.cli.main" in inside
    # relative imports, on a package made for the purpose
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "low.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from . import mod\nfrom ..low import x\n")
    (package / "sub" / "mod.py").write_text("from .. import low\nfrom . import other\nimport json\n")
    (package / "sub" / "other.py").write_text("")
    assert [m.name for m in site_docs.discover(package, "pkg")] == [
        "pkg",
        "pkg.low",
        "pkg.sub",
        "pkg.sub.mod",
        "pkg.sub.other",
    ]
    assert site_docs.imports_of("pkg.sub", package, "pkg") == (frozenset({"pkg.sub.mod", "pkg.low"}), frozenset())
    assert site_docs.imports_of("pkg.sub.mod", package, "pkg") == (
        frozenset({"pkg.low", "pkg.sub.other"}),
        frozenset({"json"}),
    )


def test_layer_arrows_are_the_real_imports_and_follow_the_rules() -> None:
    arrows = site_docs.layer_imports()
    for layer in site_docs.layers():
        expected = {
            site_docs.layer_of(i).name
            for m in layer.modules
            for i in site_docs.imports_of(m.name)[0]
            if site_docs.layer_of(i) is not None
        } - {layer.name}
        assert set(arrows[layer.name]) == expected
        allowed, never = site_docs.rules(layer)
        assert set(arrows[layer.name]) <= set(allowed), layer.name
        assert not set(never) & set(site_docs.outside_imports(layer)), layer.name
    assert site_docs.rules(site_docs.layer_of("salestalk_lib.iam"))[0] == ("contract",)
    assert site_docs.rules(site_docs.layer_of("salestalk_lib.contract"))[0] == ()
    assert "boto3" in site_docs.rules(site_docs.layer_of("salestalk_lib.ops"))[1]
    assert "boto3" not in site_docs.rules(site_docs.layer_of("salestalk_lib.dynamo"))[1]


def _arrows(svg: str) -> int:
    return sum(
        1 for el in ET.fromstring(svg).iter(f"{SVG_NS}path") if el.get("marker-end") and el.get("d", "").count(" ") >= 2
    )


def test_architecture_svg_draws_every_module_and_marks_the_boto3_importers() -> None:
    svg = site_docs.architecture_svg(INPUTS)
    texts = _svg_texts(svg)
    for layer in site_docs.layers():
        assert layer.package in texts
    chips = Counter(t for t in texts if t in {m.short for la in site_docs.layers() for m in la.modules})
    expected = Counter(m.short for layer in site_docs.layers() for m in layer.modules[1:])
    assert chips == expected
    marked = svg.count('stroke="#d84315" stroke-width="2.2"') - 1  # minus the legend's sample
    assert marked == sum(site_docs.talks_to_aws(m.name) for layer in site_docs.layers() for m in layer.modules)
    # one arrow per pair of layers an import joins
    assert _arrows(svg) == sum(len(t) for t in site_docs.layer_imports().values())


def test_architecture_page_has_every_layer_its_docstring_modules_rules_and_the_diagram() -> None:
    page = site_docs.architecture_page(INPUTS)
    assert "](architecture.svg)" in page
    for layer in site_docs.layers():
        section = page.split(f"### `{layer.package}`\n", 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
        assert layer.description.strip() in section
        allowed, _never = site_docs.rules(layer)
        assert ("- **May import:** " + (", ".join(f"`{n}`" for n in allowed) or "nothing")) in section
        for module in layer.modules[1:]:
            assert module.summary and module.summary.replace("|", "\\|") in section, module.name
            link = f"[`{module.short}`](../api/{layer.name}.md#{module.name})"
            assert (link in section) == (site_docs.api_page(layer) is not None)
    for contract in tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"][
        "contracts"
    ]:
        assert f"| `{contract['id']}` | {contract['type']} | {contract['name']} |" in page


# --- table diagram ---------------------------------------------------------------------


def test_table_diagram_names_every_table_key_and_index() -> None:
    texts = _svg_texts(site_docs.table_diagram_svg(INPUTS))
    joined = "\n".join(texts)
    for spec in TABLE_SPECS.values():
        assert docsgen.table_name_pattern(spec) in texts
        assert spec.purpose in joined
        for attr in spec.key_attributes:
            assert f"{attr.name} ({attr.type})" in joined
        for index in spec.indexes:
            assert index.name in texts
            assert " + ".join(f"{a.name} ({a.type})" for a in index.key_attributes) in texts
            assert index.purpose in texts


def test_table_diagram_shows_each_item_kind_with_the_indexes_it_is_in() -> None:
    texts = _svg_texts(site_docs.table_diagram_svg(INPUTS))
    assert {k.table for k in site_docs.ITEM_KINDS} == set(TABLE_SPECS)
    for kind in site_docs.ITEM_KINDS:
        assert kind.name in texts
        for attr, grammar in kind.key_grammar:
            assert f"{attr} = {grammar}" in texts
        found = kind.indexes(TABLE_SPECS[kind.table])
        assert ("in " + ", ".join(found) if found else "in no index (sparse)") in texts


def test_item_kind_index_membership_follows_the_models() -> None:
    kinds = {k.name: k for k in site_docs.ITEM_KINDS}
    messages = TABLE_SPECS[kinds["message"].table]
    rollup_attrs = {f.alias or name for name, f in SessionRollup.model_fields.items()}
    expected = tuple(i.name for i in messages.indexes if {a.name for a in i.key_attributes} <= rollup_attrs)
    assert kinds["session rollup"].indexes(messages) == expected == ()
    assert kinds["message"].indexes(messages) == tuple(i.name for i in messages.indexes)
    metrics = TABLE_SPECS[kinds["metric slice"].table]
    assert "DimensionIndex" in kinds["metric slice"].indexes(metrics)
    assert "DimensionIndex" not in kinds["metric headline"].indexes(metrics)


@pytest.mark.parametrize("build", [site_docs.architecture_svg, site_docs.table_diagram_svg, site_docs.benchmarks_svg])
def test_diagrams_are_self_contained_deterministic_svg(build) -> None:
    svg = build(INPUTS)
    assert svg == build(INPUTS)
    root = ET.fromstring(svg)  # well-formed
    assert root.tag == f"{SVG_NS}svg" and root.find(f"{SVG_NS}title") is not None
    # nothing the browser would fetch: no href, no url() but the local arrow marker
    assert "href" not in svg and "<image" not in svg and "@import" not in svg
    assert set(re.findall(r"url\(([^)]*)\)", svg)) <= {"#arrow"}
    width = float(root.get("width"))
    for el in root.iter(f"{SVG_NS}text"):
        if "monospace" in el.get("font-family") and el.get("text-anchor") == "start":
            right = float(el.get("x")) + site_docs.mono_width(el.text, float(el.get("font-size")))
            assert right <= width, el.text


def test_table_boxes_are_wide_enough_for_their_monospace_lines() -> None:
    svg = site_docs.table_diagram_svg(INPUTS)
    root = ET.fromstring(svg)
    boxes = [
        tuple(float(r.get(a)) for a in ("x", "y", "width", "height"))
        for r in root.iter(f"{SVG_NS}rect")
        if r.get("rx") == "8"
    ]  # the three table boxes
    assert len(boxes) == len(TABLE_SPECS)
    checked = 0
    for el in root.iter(f"{SVG_NS}text"):
        if "monospace" not in el.get("font-family") or el.get("text-anchor") != "start":
            continue
        x, y = float(el.get("x")), float(el.get("y"))
        box = next(((bx, bw) for bx, by, bw, bh in boxes if bx <= x <= bx + bw and by <= y <= by + bh), None)
        if box is None:
            continue  # an arrow label between the boxes
        checked += 1
        assert x + site_docs.mono_width(el.text, float(el.get("font-size"))) <= box[0] + box[1], el.text
    assert checked > 3 * len(TABLE_SPECS)


# --- reliability -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def reliability() -> str:
    return site_docs.reliability_page(INPUTS)


def _row(page: str, start: str) -> str:
    return next(line for line in page.splitlines() if line.startswith(start))


def test_reliability_page_lists_every_retry_rule(reliability: str) -> None:
    for rule in RETRY_RULES:
        row = _row(reliability, f"| `{rule.name}` | {rule.description}")
        assert row.endswith(f"| {rule.max_retries} |")
        for error in rule.errors:
            assert f"`{error.__name__}`" in row
        assert ("full jitter" in row) == rule.jitter
        if rule.retries:
            caps = [rule.cap(n, DEFAULT_POLICY.max_sleep) for n in range(1, rule.max_retries + 1)]
            schedule = _row(reliability, f"| `{rule.name}` | {', '.join(f'{c:g}' for c in caps)} |")
            assert schedule.endswith(f"| {round(sum(caps), 3):g} s |")
    assert f"capped at {DEFAULT_POLICY.max_sleep:g} s" in reliability


def test_reliability_page_states_every_write_mode_and_its_costs(reliability: str) -> None:
    for mode in WRITE_MODES:
        assert f"### `{mode.name}`" in reliability
        assert mode.api in reliability
        for text in (mode.guarantees, mode.existing_items, mode.requests, mode.capacity):
            assert f":   {text[:1].upper()}{text[1:]}" in reliability
    items = [m.to_item() for m in sample_metrics("cost-example", site_docs.COST_EXAMPLE_ITEMS)]
    for mode in MetricMode:
        cost = write_cost(mode, items)
        assert f"| `{mode.value}` | {cost['requests']:,} | {cost['wcu']:,} | {cost['rcu']:,} |" in reliability
    unchecked = write_cost(MetricMode.BATCH, items, check_existing=False)
    assert f"| {unchecked['requests']:,} | {unchecked['wcu']:,} | 0 |" in reliability


def test_reliability_page_lists_every_fault_kind(reliability: str) -> None:
    for kind, text in FAULT_KINDS.items():
        assert f"| `{kind}` | {text} |" in reliability


# --- benchmarks ------------------------------------------------------------------------


def _check_benchmarks_page(results: dict, page: str) -> None:
    entries = site_docs.engine_results(results)
    assert entries, "the results name at least one engine"
    met = total = 0
    for entry in entries:
        assert f"## {entry['engine']} {entry.get('version', '')}".rstrip() in page
        for run in entry["runs"]:
            samples = ", ".join(f"{x:.2f}" for x in run["samples_s"])
            assert (
                f"| {run['name']} | {run['items']:,} | {run['seconds']:.2f} | {run['items_per_s']:,} | {samples} |"
            ) in page
            assert (
                len(run["samples_s"]) == results["repeats"]
                and sorted(run["samples_s"])[results["repeats"] // 2] == run["seconds"]
            )  # the median run is the one shown
        for name, value in entry["ratios"].items():
            goal = results["goals"]["vs_put_loop" if name.endswith("put_loop") else "vs_batch_writer"]
            ok = value >= goal
            met += ok
            total += 1
            assert f"| {name.replace('_', ' ')} | {value:.2f}× | ≥ {goal:g}× | {'yes' if ok else '**no**'} |" in page
            assert f"{'Met' if ok else 'Not met'} on {entry['engine']}: {name.replace('_', ' ')}, {value:.2f}×" in page
    assert f"Goals: {met} of {total} met" in page
    assert ("!!! success" in page) == (met == total)  # never a success box over a goal the run missed
    assert f"{results['validation_records_per_s']:,} records/s" in page
    for key, value in results["environment"].items():
        assert f"| {key.replace('_', ' ')} | {value} |" in page


def test_benchmarks_page_numbers_equal_the_committed_results() -> None:
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    page = site_docs.benchmarks_page(docsgen.Inputs(notebooks=(), benchmark_results=RESULTS))
    if results.get("format", 2) >= 3:
        _check_benchmarks_page_v3(results, page)
    else:
        _check_benchmarks_page(results, page)


# The results of `devtools.bench` (format 3): the test recomputes every figure from the samples itself.


def _sample(work: float, wall: float, cpu: float, items: int, rss: float = 90.0) -> dict:
    return {
        "wall_s": wall,
        "work_s": work,
        "cpu_user_s": cpu * 0.75,
        "cpu_sys_s": cpu * 0.25,
        "maxrss_mb": rss,
        "exit": 0,
        "items": items,
        "stored": items,
    }


def _run(id_: str, data: str, items: int, works: list[float], *, baseline: bool = False) -> dict:
    return {
        "id": id_,
        "name": f"method {id_}",
        "data": data,
        "baseline": baseline,
        "items": items,
        "samples": [_sample(w, w + 1.0, w / 4, items) for w in works],
    }


def _v3_results(*, msg_ingest: float, loop: float, bw_wall: float, ingest_wall: float, rss: float) -> dict:
    """Results as `devtools.bench` writes them; the medians of the given seconds decide every goal."""
    throughput = [
        _run("batch_writer", "metrics", 1000, [2.0, 2.2, 2.1], baseline=True),
        _run("ingest_default", "metrics", 1000, [1.0, 1.2, 1.1]),
        _run("transact_loop", "messages", 600, [loop, loop + 1, loop - 1], baseline=True),
        _run("ingest_messages", "messages", 600, [msg_ingest, msg_ingest + 0.5, msg_ingest - 0.5]),
    ]
    latency = [
        _run("batch_writer", "metrics", 1000, [bw_wall - 1.0] * 3, baseline=True),
        _run("ingest_default", "metrics", 1000, [ingest_wall - 1.0] * 3),
    ]
    return {
        "format": 3,
        "date": "2026-12-02",
        "command": "make bench",
        "quick": False,
        "repeats": 3,
        "seconds": 300,
        "environment": {
            "cpus": 2,
            "load_average_before": "1.0 / 1.0 / 1.0",
            "load_average_after": "2.0 / 1.5 / 1.0",
            "note": "a busy machine",
        },
        "engines": {"moto": "5.2.5", "dynamodb-local": "3.3.1"},
        "throughput": [
            {"engine": "dynamodb-local", "version": "3.3.1", "server": "s", "runs": throughput},
            {"engine": "moto", "version": "5.2.5", "server": "s", "runs": throughput},
        ],
        "latency": {"engine": "dynamodb-local", "version": "3.3.1", "latency_ms": 5.0, "proxy": "p", "runs": latency},
        "scaling": [
            {"command": c, "data": "messages", "items": n, **_sample(n / 1e4, n / 1e4, n / 1e5, n, rss)}
            for c in ("validate", "ingest")
            for n in (1000, 10000)
        ],
        "memory": [
            {"command": "validate", "data": "messages", "items": 300_000, **_sample(3, 4, 2.0, 300_000, rss)},
            {"command": "ingest", "data": "messages", "items": 60_000, **_sample(30, 31, 20, 60_000, rss)},
        ],
        "validation": {
            "records": 300_000,
            "cpu_s": 2.0,
            "work_s": 3.0,
            "raw_model_validate_cpu_s": 1.0,
            "source": "salestalk validate of 300,000 messages",
        },
    }


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def _check_benchmarks_page_v3(results: dict, page: str) -> None:
    """Every figure of the page equals one computed here from the samples, and so does every verdict."""

    def rate(run: dict, field: str = "work_s") -> float:
        return run["items"] / _median([s[field] for s in run["samples"]])

    for entry in [*results["throughput"], results["latency"]]:
        field = "wall_s" if entry is results["latency"] else "work_s"
        runs = {r["id"]: r for r in entry["runs"]}
        for r in entry["runs"]:
            cpu = _median([s["cpu_user_s"] + s["cpu_sys_s"] for s in r["samples"]]) / r["items"] * 1e6
            every = ", ".join(f"{s[field]:.2f}" for s in r["samples"])
            med = _median([s[field] for s in r["samples"]])
            row = f"| {r['name']} | {r['items']:,} | {med:.2f} | {rate(r, field):,.0f} | "
            assert row in page and f" | {cpu:,.0f} | {every} |" in page
            base = "batch_writer" if r["data"] == "metrics" else "transact_loop"
            if not r["baseline"] and base in runs:
                ratio = rate(r, field) / rate(runs[base], field)
                assert f"| {ratio:.2f}× {base.replace('_', ' ')}" in page
    figures: dict[str, float | None] = {}
    (local,) = [e for e in results["throughput"] if e["engine"] == "dynamodb-local"] or [None]
    if local:
        runs = {r["id"]: r for r in local["runs"]}
        figures["message"] = rate(runs["ingest_messages"]) / rate(runs["transact_loop"])
    lat = {r["id"]: r for r in results["latency"]["runs"]}
    figures["latency"] = rate(lat["ingest_default"], "wall_s") / rate(lat["batch_writer"], "wall_s")
    memory = {r["command"]: r["maxrss_mb"] for r in results.get("memory", [])}
    figures["validate_rss"], figures["ingest_rss"] = memory.get("validate"), memory.get("ingest")
    figures["speed"] = results["validation"]["records"] / results["validation"]["cpu_s"]
    goals = [
        ("message", 3.0, True, "×"),
        ("latency", 3.0, True, "×"),
        ("validate_rss", 150.0, False, "MB"),
        ("ingest_rss", 200.0, False, "MB"),
        ("speed", 100_000.0, True, "records/s"),
    ]
    met = 0
    for (name, target, at_least, unit), row in zip(goals, bench.goal_rows(results), strict=True):
        value = figures.get(name)
        ok = value is not None and (value >= target if at_least else value <= target)
        met += ok
        shown = (
            "not measured"
            if value is None
            else f"{value:.2f}×"
            if unit == "×"
            else f"{value:,.0f} MB"
            if unit == "MB"
            else f"{value:,.0f} {unit}"
        )
        assert row[2] == shown and row[3].startswith("met" if ok else "**not met**")
        assert f"| {row[0]} | {row[1]} | {shown} | {row[3]} |" in page
        if value is None:
            assert f"Not met (not measured in this run): {row[0]}" in page
        else:
            assert f"{'Met' if ok else 'Not met'}: {row[0]}, {shown} against" in page
    assert f"Goals: {met} of {len(goals)} met" in page
    assert ("!!! success" in page) == (met == len(goals))  # never a success box over a goal the run missed
    for r in results["scaling"]:
        assert f"| salestalk {r['command']} | {r['items']:,} | {r['wall_s']:.2f} | {r['maxrss_mb']:,.0f} |" in page
    assert f"{figures['speed']:,.0f} records per CPU second" in page
    for key, value in results["environment"].items():
        assert f"| {key.replace('_', ' ')} | {value} |" in page


def _page(tmp_path: Path, results: dict) -> str:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results), encoding="utf-8")
    return site_docs.benchmarks_page(docsgen.Inputs(notebooks=(), benchmark_results=path))


def test_benchmarks_page_claims_only_the_goals_the_figures_meet(tmp_path: Path) -> None:
    # message ingest 3.0 s vs the loop's 12 s: 4×; behind the latency 3 s vs 10 s: 3.33×; 120 MB; 150k records/s
    good = _v3_results(msg_ingest=3.0, loop=12.0, bw_wall=10.0, ingest_wall=3.0, rss=120.0)
    page = _page(tmp_path, good)
    _check_benchmarks_page_v3(good, page)
    assert "!!! success" in page and "Goals: 5 of 5 met" in page and "Not met" not in page

    # the same run but message ingest only 2× the loop and 250 MB: three goals missed, said so
    bad = _v3_results(msg_ingest=6.0, loop=12.0, bw_wall=10.0, ingest_wall=3.0, rss=250.0)
    page = _page(tmp_path, bad)
    _check_benchmarks_page_v3(bad, page)
    assert "!!! warning" in page and "!!! success" not in page and "Goals: 2 of 5 met" in page
    assert "Not met: message ingest at least 3× as fast" in page and "2.00× against ≥ 3.00×" in page
    assert "Not met: `salestalk ingest` of 60,000 messages: peak RSS, 250 MB against ≤ 200 MB" in page


def test_benchmarks_page_says_what_the_engine_ceiling_allows(tmp_path: Path) -> None:
    # batch_writer 10 s behind the latency; the engine's raw ceiling 5 s (2×), the default 6 s (1.67×)
    slow_engine = _v3_results(msg_ingest=3.0, loop=12.0, bw_wall=10.0, ingest_wall=6.0, rss=120.0)
    slow_engine["latency"]["runs"].append(_run("transact_pool", "metrics", 1000, [5.0 - 1.0] * 3))
    page = _page(tmp_path, slow_engine)
    assert "The engine's ceiling (TransactWriteItems of 100 on 8 threads, nothing checked) ran 2.00× " in page
    assert "the default metric path 1.67×, 83% of that ceiling" in page
    assert "goal is out of reach of any race-free batched writer on this engine" in page
    assert "no link" not in page  # a run without the no-link sample says nothing of it
    # with no link, the engine alone takes 4 s: the goal asks 10 s / 3
    slow_engine["latency"]["runs"].append(_run("transact_pool_no_link", "metrics", 1000, [4.0 - 1.0] * 3))
    page = _page(tmp_path, slow_engine)
    assert "Sent straight to the engine, with no link at all, the same transactions took 4.00 s (the whole " in page
    assert "the goal asks 3.33 s of the whole command behind the link." in page
    # a faster engine: the ceiling 4×, the default 3.33×, 2 s with no link; the goal is within reach (and met)
    fast_engine = _v3_results(msg_ingest=3.0, loop=12.0, bw_wall=10.0, ingest_wall=3.0, rss=120.0)
    fast_engine["latency"]["runs"].append(_run("transact_pool", "metrics", 1000, [2.5 - 1.0] * 3))
    fast_engine["latency"]["runs"].append(_run("transact_pool_no_link", "metrics", 1000, [2.0 - 1.0] * 3))
    page = _page(tmp_path, fast_engine)
    assert "ran 4.00× batch_writer" in page and "transactions took 2.00 s" in page and "out of reach" not in page
    # a ceiling above the goal behind the link, but the engine alone slower than the goal allows: out of reach
    odd = _v3_results(msg_ingest=3.0, loop=12.0, bw_wall=10.0, ingest_wall=3.0, rss=120.0)
    odd["latency"]["runs"].append(_run("transact_pool", "metrics", 1000, [2.5 - 1.0] * 3))
    odd["latency"]["runs"].append(_run("transact_pool_no_link", "metrics", 1000, [4.0 - 1.0] * 3))
    assert "out of reach" in _page(tmp_path, odd)


def test_benchmarks_page_and_summary_say_how_fast_the_machine_ran_python(tmp_path: Path) -> None:
    run = _v3_results(msg_ingest=3.0, loop=12.0, bw_wall=10.0, ingest_wall=3.0, rss=120.0)
    assert "pure-Python loop" not in _page(tmp_path, run)  # an older run without the reference says nothing
    assert "pure-Python loop" not in bench.render_markdown(run)
    run["environment"]["reference_cpu_s"] = [0.6812, 2.3141]
    said = (
        "A fixed pure-Python loop (10,000,000 additions) took 0.68 CPU s on this machine before the run and 2.31 after"
    )
    assert said in _page(tmp_path, run) and said in bench.render_markdown(run)


def test_benchmarks_page_and_summary_say_how_each_server_was_warmed_up(tmp_path: Path) -> None:
    run = _v3_results(msg_ingest=3.0, loop=12.0, bw_wall=10.0, ingest_wall=3.0, rss=120.0)
    assert "warmed up" not in _page(tmp_path, run)  # an older run without warm-ups claims none
    assert "warmed up" not in bench.render_markdown(run)
    run["warm_up"] = {"metrics": 5040, "messages": 600, "put_loop": 300, "runs": [{"where": "moto", "seconds": 9.5}]}
    said = "every method once, untimed and discarded, on 5,040 metrics or 600 messages (300 for the put loop)"
    assert said in _page(tmp_path, run) and said in bench.render_markdown(run)


def test_warm_up_runs_each_method_once_through_the_link_only_where_the_method_goes(tmp_path, monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(bench, "measure", lambda m, files, counts, url, write_url: calls.append((m.id, write_url)))
    warm = bench.WarmUp(metrics=20, messages=10, put_loop=5)
    bench.warm_up(bench.LATENCY_METHODS, tmp_path, warm, 1, "http://engine", "http://link")
    assert [c[0] for c in calls] == [m.id for m in bench.LATENCY_METHODS]  # each once, in the timed order
    assert {write_url for m_id, write_url in calls if m_id == bench.NO_LINK.id} == {"http://engine"}
    assert {write_url for m_id, write_url in calls if m_id != bench.NO_LINK.id} == {"http://link"}
    assert len((tmp_path / "warm-metrics-20.jsonl").read_text(encoding="utf-8").splitlines()) == 20
    assert len((tmp_path / "messages-10.jsonl").read_text(encoding="utf-8").splitlines()) == 10


def test_benchmarks_page_never_claims_a_goal_the_run_did_not_measure(tmp_path: Path) -> None:
    quick = _v3_results(msg_ingest=3.0, loop=12.0, bw_wall=10.0, ingest_wall=3.0, rss=120.0)
    quick["memory"] = []  # --quick: no run at the goal sizes
    quick["throughput"] = [e for e in quick["throughput"] if e["engine"] == "moto"]  # --engine moto
    page = _page(tmp_path, quick)
    _check_benchmarks_page_v3(quick, page)
    assert "Goals: 2 of 5 met" in page and "!!! success" not in page
    assert "Not met (not measured in this run): `salestalk validate` of 300,000 messages" in page
    assert "Not met (not measured in this run): message ingest at least 3×" in page


def test_benchmarks_page_shows_every_engine_and_names_one_not_measured(tmp_path: Path) -> None:
    run = {"name": "put_item loop", "items": 100, "seconds": 1.0, "stored": 100, "items_per_s": 100, "samples_s": [1.0]}
    entry = {
        "engine": "moto",
        "version": "5.2.5",
        "server": "s",
        "runs": [run],
        "ratios": {"checked_vs_put_loop": 12.0, "checked_vs_batch_writer": 1.1},
    }
    results = {
        "format": 2,
        "date": "2026-12-01",
        "command": "make bench",
        "environment": {"cpus": 2},
        "items": 100,
        "workers": 4,
        "repeats": 1,
        "validation_records_per_s": 10,
        "goals": {"vs_put_loop": 10.0, "vs_batch_writer": 1.2},
        "engines": [entry],
    }
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results), encoding="utf-8")
    page = site_docs.benchmarks_page(docsgen.Inputs(notebooks=(), benchmark_results=path))
    _check_benchmarks_page(results, page)
    assert "!!! warning" in page and "Not met on moto: checked vs batch writer, 1.10×" in page
    assert "Not measured in these results: dynamodb-local" in page
    results["engines"].append(
        {
            **entry,
            "engine": "dynamodb-local",
            "version": "3.3.1",
            "ratios": {"checked_vs_put_loop": 15.0, "checked_vs_batch_writer": 1.5},
        }
    )
    path.write_text(json.dumps(results), encoding="utf-8")
    page = site_docs.benchmarks_page(docsgen.Inputs(notebooks=(), benchmark_results=path))
    _check_benchmarks_page(results, page)
    assert "Not measured" not in page and "## dynamodb-local 3.3.1" in page


def test_benchmarks_page_without_results_says_so(tmp_path: Path) -> None:
    page = site_docs.benchmarks_page(docsgen.Inputs(notebooks=(), benchmark_results=tmp_path / "none.json"))
    assert "No benchmark results have been published yet" in page


def test_benchmark_goal_verdicts_compare_with_the_goal() -> None:
    results = {
        "goals": {"vs_put_loop": 10.0, "vs_batch_writer": 1.2},
        "ratios": {"checked_vs_put_loop": 10.0, "checked_vs_batch_writer": 1.19},
    }
    assert site_docs.goal_verdicts(results) == [
        ("checked_vs_put_loop", 10.0, 10.0, True),
        ("checked_vs_batch_writer", 1.19, 1.2, False),
    ]


# --- registration ----------------------------------------------------------------------


def test_site_pages_are_registered_and_linked_from_the_nav() -> None:
    for path in site_docs.SITE_PAGES:
        assert docsgen.PAGES[path] is site_docs.SITE_PAGES[path]
    nav = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    for page in ("generated/access-patterns.md", "generated/reliability.md", "generated/benchmarks.md"):
        assert page in nav
    overview = (REPO / "docs" / "index.md").read_text(encoding="utf-8")
    # The overview shows the data model; the module layers are drawn on the Architecture page only.
    assert "(generated/table-diagram.svg)" in overview and "architecture.svg" not in overview
    assert "(generated/architecture.md)" in overview


def test_api_reference_covers_every_public_module() -> None:
    documented = set()
    for page in sorted((REPO / "docs" / "api").glob("*.md")):
        documented |= set(re.findall(r"^::: (salestalk_lib\.[\w.]+)$", page.read_text(encoding="utf-8"), re.M))
    public = set(site_docs.public_modules())
    assert {
        "salestalk_lib.contract.keys",
        "salestalk_lib.dynamo.storage",
        "salestalk_lib.ops.connection",
        "salestalk_lib.iam.policies",
        "salestalk_lib.testing.faults",
        "salestalk_lib.embedded.engines",
    } <= public
    assert public <= documented
    # every documented module sits below the entry points, on its layer's page
    for page in sorted((REPO / "docs" / "api").glob("*.md")):
        for module in re.findall(r"^::: (salestalk_lib\.[\w.]+)$", page.read_text(encoding="utf-8"), re.M):
            layer = site_docs.layer_of(module)
            assert layer is not None and layer.band > 0 and site_docs.api_page(layer) == f"api/{page.name}", module


def test_access_pattern_tables_are_wrapped_for_the_chart_style() -> None:
    page = docsgen.access_patterns_page(INPUTS)
    lines = page.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("|") and not lines[i - 1].startswith("|"):
            assert lines[i - 2 : i] == [f'<div class="{docsgen.CHART_CLASS}" markdown>', ""]
    assert page.count("<div ") == page.count("</div>")


def test_reliability_page_links_the_retries_notebook_only_when_published(tmp_path: Path) -> None:
    assert "](notebooks.md)" in site_docs.reliability_page(INPUTS)
    notebook = tmp_path / site_docs.RETRIES_NOTEBOOK
    notebook.write_text("{}", encoding="utf-8")
    page = site_docs.reliability_page(docsgen.Inputs(notebooks=(notebook,)))
    assert f"](../notebooks/{site_docs.RETRIES_NOTEBOOK})" in page


def test_reliability_page_explains_batch_uploads_from_the_batches_module(reliability: str) -> None:
    from salestalk_lib.ops import batches

    section = reliability.split("## Batch uploads", 1)[1].split("\n## ", 1)[0]
    for state in batches.BatchState:
        assert f"`{state.value}`" in section
    assert "`BatchConflict` before anything is written" in section
    assert f"`{batches.BEGIN_CONDITION}`" in section and f"`{batches.COMPLETE_CONDITION}`" in section
    assert "(contracts/ingest-batch.md)" in section


def test_reliability_page_explains_event_processing_from_the_inbox_module(reliability: str) -> None:
    from salestalk_lib.ops import inbox

    section = reliability.split("## Event processing", 1)[1].split("\n## ", 1)[0]
    for delivery in inbox.Delivery:
        assert f"`{delivery.value}`" in section
    assert f"`{inbox.CLAIM_CONDITION}`" in section and f"`{inbox.MINE}`" in section
    assert "(contracts/processed-event.md)" in section


# --- the benchmarks chart -----------------------------------------------------------------


def _chart(tmp_path: Path, results: dict | None) -> str:
    path = tmp_path / "chart-results.json"
    if results is not None:
        path.write_text(json.dumps(results), encoding="utf-8")
    return site_docs.benchmarks_svg(docsgen.Inputs(notebooks=(), benchmark_results=path))


def _bars(svg: str) -> list[tuple[float, str]]:
    """(width, stroke) of each goal's bar, top to bottom (the rects of height 20 drawn in a verdict's colour)."""
    colours = {site_docs._MET_COLOR, site_docs._AWS}
    return [
        (float(r.get("width")), r.get("stroke"))
        for r in ET.fromstring(svg).iter(f"{SVG_NS}rect")
        if r.get("height") == "20" and r.get("stroke") in colours
    ]


def test_goal_share_is_one_at_the_goal_and_longer_is_better() -> None:
    assert site_docs.goal_share(">=", 3.0, 3.0) == 1.0 and site_docs.goal_share("<=", 150.0, 150.0) == 1.0
    assert site_docs.goal_share(">=", 3.0, 1.5) == 0.5  # half the speed asked
    assert site_docs.goal_share("<=", 150.0, 300.0) == 0.5  # twice the memory allowed
    assert site_docs.goal_share("<=", 200.0, 100.0) == 2.0
    assert site_docs.goal_share(">=", 3.0, None) is None


@pytest.mark.parametrize(
    ("figures", "met"),
    [
        ({"msg_ingest": 3.0, "loop": 12.0, "bw_wall": 10.0, "ingest_wall": 3.0, "rss": 120.0}, 5),
        ({"msg_ingest": 6.0, "loop": 12.0, "bw_wall": 10.0, "ingest_wall": 3.0, "rss": 250.0}, 2),
    ],
)
def test_benchmarks_chart_draws_each_goal_as_the_figures_decide(tmp_path: Path, figures: dict, met: int) -> None:
    results = _v3_results(**figures)
    svg = _chart(tmp_path, results)
    texts = _svg_texts(svg)
    assert texts[0] == f"Goals of the run of {results['date']}: {met} of 5 met"
    verdicts = bench.evaluate_goals(results)
    bars = _bars(svg)
    assert len(bars) == len(verdicts)
    unit = bars[0][0] / min(site_docs.goal_share(verdicts[0][0].op, verdicts[0][0].target, verdicts[0][1]), 2.0)
    for (goal, value, ok), (width, stroke) in zip(verdicts, bars, strict=True):
        assert goal.label in texts
        said = [t for t in texts if t.startswith(bench._fmt_goal(goal, value) + " (")]
        assert said and said[0].endswith(": met" if ok else ": not met"), (goal.id, said)
        assert stroke == (site_docs._MET_COLOR if ok else site_docs._AWS)
        share = min(site_docs.goal_share(goal.op, goal.target, value), 2.0)
        assert width == pytest.approx(share * unit, abs=0.01)  # every bar on one scale, the goal's line at 1
        assert (share >= 1.0) == ok


def test_benchmarks_chart_plots_every_scaling_and_memory_run(tmp_path: Path) -> None:
    results = _v3_results(msg_ingest=3.0, loop=12.0, bw_wall=10.0, ingest_wall=3.0, rss=120.0)
    results["scaling"][1]["maxrss_mb"] = 131.0  # one run apart from the rest, to be found by its label
    svg = _chart(tmp_path, results)
    runs = results["scaling"] + results["memory"]
    points = [r for r in ET.fromstring(svg).iter(f"{SVG_NS}rect") if r.get("width") == "7"]
    assert len(points) == len(runs)
    texts = _svg_texts(svg)
    assert texts.count("131") == 1 and texts.count("120") == len(runs) - 1
    for goal in (g for g in bench.GOALS if g.unit == "MB"):  # each memory goal drawn as its line
        assert f"≤ {goal.target:,.0f} MB" in texts and texts.count(goal.label) == 2  # its bar, and its line
    for n in sorted({r["items"] for r in runs}):
        assert f"{n:,}" in texts


def test_benchmarks_page_shows_the_chart_only_with_results(tmp_path: Path) -> None:
    results = _v3_results(msg_ingest=3.0, loop=12.0, bw_wall=10.0, ingest_wall=3.0, rss=120.0)
    assert "](benchmarks.svg)" in _page(tmp_path, results)
    none = site_docs.benchmarks_page(docsgen.Inputs(notebooks=(), benchmark_results=tmp_path / "none.json"))
    assert "benchmarks.svg" not in none
    assert "No benchmark results have been published yet" in " ".join(_svg_texts(_chart(tmp_path, None)))


def test_benchmarks_chart_keeps_its_memory_axis_readable_when_a_run_grows(tmp_path: Path) -> None:
    results = _v3_results(msg_ingest=3.0, loop=12.0, bw_wall=10.0, ingest_wall=3.0, rss=120.0)
    results["memory"][0]["maxrss_mb"] = 3_500.0  # memory that grew with the file: the axis must reach it
    texts = _svg_texts(_chart(tmp_path, results))
    grid = [int(t.removesuffix(" MB")) for t in texts if t.endswith(" MB") and t[:-3].isdigit()]
    assert 3 <= len(grid) <= 7 and grid[0] == 0 and grid[-1] <= 3_500 * 1.15 and grid[-1] >= 3_000
    assert "3,500" in texts
