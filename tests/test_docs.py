"""The documentation site: generated pages, a strict build, and nothing loaded from outside.

One session-scoped build serves every site test: the hand-written pages and
mkdocs.yml are copied into a temporary project, `devtools.docsgen` writes
the generated pages there (with the repository's notebooks plus a fixture
notebook that carries math, Mermaid, HTML and image outputs, so the notebook
template is always exercised), and `mkdocs build --strict` builds it.
"""

from __future__ import annotations

import functools
import html.parser
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from devtools import docsgen
from salestalk_lib.contract.tables import TABLE_SPECS

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
FIXTURE_NOTEBOOK = "zz_docs_fixture.ipynb"
BROWSER_TABS = 4  # pages loaded side by side by the every-page test
# A 1x1 transparent PNG, as notebooks embed images.
PNG_1PX = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


def _fixture_notebook() -> dict:
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "cells": [
            {
                "cell_type": "markdown",
                "id": "title",
                "metadata": {},
                "source": "# Docs fixture notebook\n\nExercises the notebook template: math $x^2$, "
                "a [link](https://example.com/), and rich outputs.",
            },
            {
                "cell_type": "code",
                "id": "outputs",
                "metadata": {},
                "execution_count": 1,
                "source": "show_everything()",
                "outputs": [
                    {"output_type": "stream", "name": "stdout", "text": "plain text\n"},
                    {
                        "output_type": "display_data",
                        "metadata": {},
                        "data": {
                            "text/html": "<table><tr><th>tenant</th></tr><tr><td>acme-corp</td></tr></table>",
                            "text/plain": "tenant\nacme-corp",
                        },
                    },
                    {
                        "output_type": "display_data",
                        "metadata": {},
                        "data": {"image/png": PNG_1PX, "text/plain": "<Figure>"},
                    },
                    {
                        "output_type": "display_data",
                        "metadata": {},
                        "data": {"text/vnd.mermaid": "graph LR; A-->B", "text/plain": "graph"},
                    },
                ],
            },
        ],
    }


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", **env}
    return subprocess.run(args, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=300)


def _build_site(root: Path, notebooks: list[Path]) -> Path:
    """Copy the docs sources into `root`, generate pages with `notebooks`, build; returns the site dir."""
    shutil.copy2(REPO / "mkdocs.yml", root / "mkdocs.yml")
    shutil.copytree(
        REPO / "docs",
        root / "docs",
        ignore=shutil.ignore_patterns(docsgen.GENERATED_DIR, docsgen.NOTEBOOKS_DIR, "__pycache__"),
    )
    source = root / "notebooks-src"
    source.mkdir()
    for nb in notebooks:
        shutil.copy2(nb, source / nb.name)
    # devtools is repository tooling, not installed: run from `root`, it is found on PYTHONPATH
    gen = _run(
        [sys.executable, "-m", "devtools.docsgen", "--docs-dir", "docs", "--notebooks", str(source)],
        root,
        PYTHONPATH=str(REPO),
    )
    assert gen.returncode == 0, gen.stderr
    site = root / "site"
    build = _run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)], root)
    assert build.returncode == 0, f"mkdocs build --strict failed:\n{build.stdout}\n{build.stderr}"
    return site


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("docs-build")
    fixture = root / FIXTURE_NOTEBOOK
    fixture.write_text(json.dumps(_fixture_notebook(), indent=1), encoding="utf-8")
    return _build_site(root, sorted((REPO / "notebooks").glob("*.ipynb")) + [fixture])


def _pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


# --- (a) generated pages ------------------------------------------------------


def test_generated_pages_are_identical_across_runs_and_hash_seeds(tmp_path: Path) -> None:
    trees = []
    for seed in ("1", "2"):
        docs = tmp_path / f"docs-{seed}"
        result = _run([sys.executable, "-m", "devtools.docsgen", "--docs-dir", str(docs)], REPO, PYTHONHASHSEED=seed)
        assert result.returncode == 0, result.stderr
        trees.append({p.relative_to(docs).as_posix(): p.read_bytes() for p in sorted(docs.rglob("*")) if p.is_file()})
    assert trees[0] == trees[1]
    assert set(docsgen.PAGES) <= {p.removeprefix("generated/") for p in trees[0]}


def test_render_is_pure_and_repeatable() -> None:
    inputs = docsgen.Inputs.from_dir(REPO / "notebooks")
    assert docsgen.render(inputs) == docsgen.render(inputs)


def test_tables_page_names_every_table_index_and_key_attribute() -> None:
    page = docsgen.tables_page(docsgen.Inputs(notebooks=()))
    for spec in TABLE_SPECS.values():
        assert f"## `{docsgen.table_name_pattern(spec)}`" in page
        for attr in spec.key_attributes_all():
            assert f"| `{attr.name}` | {attr.type} |" in page, attr
        for index in spec.indexes:
            row = next(line for line in page.splitlines() if line.startswith(f"| `{index.name}` |"))
            assert f"`{index.hash_key.name}` ({index.hash_key.type})" in row
            if index.range_key is not None:
                assert f"`{index.range_key.name}` ({index.range_key.type})" in row
            assert "| ALL |" in row and index.purpose in row
        for note in spec.notes:
            assert note in page


def test_table_name_patterns_use_the_tenant_placeholder() -> None:
    patterns = {spec.kind: docsgen.table_name_pattern(spec) for spec in TABLE_SPECS.values()}
    for spec in TABLE_SPECS.values():
        if spec.per_tenant:
            assert "{tenantId}" in patterns[spec.kind]
            assert patterns[spec.kind].replace("{tenantId}", "acme") == spec.base_name("acme")
        else:
            assert patterns[spec.kind] == spec.base_name()


def test_notebooks_page_lists_notebooks_in_name_order(tmp_path: Path) -> None:
    for name, title in (("02_b.ipynb", "Second"), ("01_a.ipynb", "First")):
        nb = _fixture_notebook()
        nb["cells"][0]["source"] = f"# {title}\n\nPurpose of {title}."
        (tmp_path / name).write_text(json.dumps(nb), encoding="utf-8")
    page = docsgen.notebooks_page(docsgen.Inputs.from_dir(tmp_path))
    assert page.index("[First](../notebooks/01_a.ipynb)") < page.index("[Second](../notebooks/02_b.ipynb)")
    assert "Purpose of First." in page


def test_generate_handles_missing_notebooks_and_removes_stale_files(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    stale = [docs / docsgen.GENERATED_DIR / "old.md", docs / docsgen.NOTEBOOKS_DIR / "gone.ipynb"]
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("stale", encoding="utf-8")
    docsgen.generate(docs, tmp_path / "no-such-dir")
    assert not any(p.exists() for p in stale)
    generated = docs / docsgen.GENERATED_DIR
    written = sorted(p.relative_to(generated).as_posix() for p in generated.rglob("*") if p.is_file())
    assert written == sorted(docsgen.PAGES)
    assert list((docs / docsgen.NOTEBOOKS_DIR).iterdir()) == []
    assert "No notebooks have been published yet." in (docs / docsgen.GENERATED_DIR / "notebooks.md").read_text()


def test_docsgen_cli_publishes_no_notebooks_from_a_missing_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert docsgen.main(["--docs-dir", str(tmp_path / "docs"), "--notebooks", str(tmp_path / "missing")]) == 0
    assert "publishing no notebooks" in capsys.readouterr().err
    assert list((tmp_path / "docs" / docsgen.NOTEBOOKS_DIR).iterdir()) == []


def test_notebook_purpose_drops_its_label(tmp_path: Path) -> None:
    nb = _fixture_notebook()
    nb["cells"][0]["source"] = ["# Title\n", "\n", "**Purpose:** load the seed data\n", "into the tables."]
    (tmp_path / "01_x.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    page = docsgen.notebooks_page(docsgen.Inputs.from_dir(tmp_path))
    assert "| [Title](../notebooks/01_x.ipynb) | `01_x.ipynb` | Load the seed data into the tables. |" in page


def _load_hook():
    spec = importlib.util.spec_from_file_location("docs_hook_notebooks", REPO / "docs" / "hooks" / "notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hook_refuses_a_notebook_page_that_still_loads_a_remote_script() -> None:
    from mkdocs.exceptions import PluginError

    hook = _load_hook()
    page = type(
        "P",
        (),
        {"file": type("F", (), {"src_uri": "notebooks/x.ipynb"})(), "meta": {}, "url": "notebooks/x/", "title": "X"},
    )()
    assert hook.on_page_content('<p>ok</p><script src="../../a.js"></script>', page, {}, None)
    assert page.meta["hide"] == ["toc"]  # notebook pages get the width of the table of contents
    with pytest.raises(PluginError, match="outside the site"):
        hook.on_page_content('<script src="https://cdn.example/x.js"></script>', page, {}, None)


_NOTEBOOK_CELLS = """
<article class="md-content__inner">
<div class="jp-Cell jp-MarkdownCell"><div class="jp-RenderedMarkdown">
<h1 id="03-access-patterns">03 · Access patterns<a class="anchor-link" href="#03-access-patterns">¶</a></h1>
<p>Purpose: run <code>every</code> pattern.</p></div></div>
<div class="jp-Cell jp-MarkdownCell"><div class="jp-RenderedMarkdown">
<h2 id="1-load">1. Load<a class="anchor-link" href="#1-load">¶</a></h2><p>Load the seed.</p></div></div>
<div class="jp-Cell jp-CodeCell"><div class="jp-InputArea"><div class="jp-InputPrompt">In [1]:</div>
<div class="zeroclipboard-container"><clipboard-copy for="cell-1"><span class="notice" hidden>Copied!</span>
<svg><path d="M0"></path></svg></clipboard-copy></div>
<div class="highlight-ipynb"><pre><span class="n">report</span> = <span>load_seed</span>(st)</pre></div>
<div class="clipboard-copy-txt" id="cell-1">report = load_seed(st)</div></div>
<div class="jp-OutputArea"><div class="jp-OutputPrompt">Out[1]:</div><style>.dataframe {}</style>
<table class="dataframe"><tr><td>tenants-metadata</td></tr></table></div></div>
</article>
"""


def test_notebook_pages_are_indexed_for_search_by_section() -> None:
    entries = _load_hook().notebook_sections(_NOTEBOOK_CELLS, "notebooks/03/", "03 · Access patterns")
    assert entries == [
        {"location": "notebooks/03/", "title": "03 · Access patterns", "text": "Purpose: run every pattern."},
        {
            "location": "notebooks/03/#1-load",
            "title": "1. Load",
            "text": "Load the seed. <code>report = load_seed(st)</code>",
        },
    ]


def test_search_index_holds_notebooks_by_section_without_prompts_or_copy_text(site: Path) -> None:
    docs = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))["docs"]
    for nb in sorted((REPO / "notebooks").glob("*.ipynb")):
        url = f"notebooks/{nb.stem}/"
        entries = [e for e in docs if e["location"].split("#")[0] == url]
        headings = [
            line
            for cell in json.loads(nb.read_text(encoding="utf-8"))["cells"]
            if cell["cell_type"] == "markdown"
            for line in "".join(cell["source"]).splitlines()
            if re.match(r"#{1,6} ", line)
        ]
        assert len(entries) == len(headings), (url, len(entries), len(headings))
        assert entries[0]["location"] == url
        for e in entries:
            assert len(e["text"]) < 8_000, (e["location"], len(e["text"]))  # a section, not the whole notebook
            assert not re.search(r"Copied!|\bIn \[\d*\]:|\bOut\[\d+\]:|Copy to Clipboard|<style", e["text"]), e


# --- (b) strict build -----------------------------------------------------------


def test_site_builds_strictly_with_every_page(site: Path) -> None:
    built = {p.relative_to(site).as_posix() for p in _pages(site)}
    for page in (
        "index.html",
        "quickstart/index.html",
        "generated/tables/index.html",
        "generated/notebooks/index.html",
        "operations/index.html",
        "api/index.html",
        "generated/access-patterns/index.html",
        "generated/reliability/index.html",
        "generated/benchmarks/index.html",
        "generated/architecture/index.html",
        "generated/table-views/index.html",
        "generated/capacity/index.html",
        f"notebooks/{Path(FIXTURE_NOTEBOOK).stem}/index.html",
    ):
        assert page in built
    for nb in (REPO / "notebooks").glob("*.ipynb"):
        assert f"notebooks/{nb.stem}/index.html" in built
    assert (site / "notebooks" / Path(FIXTURE_NOTEBOOK).stem / FIXTURE_NOTEBOOK).is_file()  # include_source
    assert (site / "search" / "search_index.json").is_file()


def test_api_reference_documents_the_pure_modules(site: Path) -> None:
    api = (site / "api" / "contract" / "index.html").read_text(encoding="utf-8")
    for name in (
        "salestalk_lib.contract.tables.TableSpec",
        "salestalk_lib.contract.keys.metric_sk",
        "salestalk_lib.contract.vocab.Intent",
        "salestalk_lib.contract.errors.SalesTalkError",
    ):
        assert f'id="{name}"' in api, name


def test_notebooks_are_in_the_nav_in_name_order(site: Path) -> None:
    home = (site / "index.html").read_text(encoding="utf-8")
    stems = [p.stem for p in sorted((site / "notebooks").iterdir()) if p.is_dir()]
    positions = [home.index(f'href="notebooks/{stem}/"') for stem in stems]
    assert positions == sorted(positions)


def test_site_builds_with_no_notebooks(tmp_path: Path) -> None:
    site = _build_site(tmp_path, [])
    overview = (site / "generated" / "notebooks" / "index.html").read_text(encoding="utf-8")
    assert "No notebooks have been published yet." in overview
    assert not (site / "notebooks").exists()


# --- (c) no load from an outside host, statically ----------------------------------

# Attributes whose URL the browser fetches as soon as the element is parsed.
_LOAD_ATTRS = {"src", "poster", "background", "manifest", "srcset", "imagesrcset"}
# <link rel=...> values that only describe a relation; any other rel (stylesheet,
# icon, preload, modulepreload, prefetch, preconnect, dns-prefetch, manifest...) loads.
_NON_LOADING_RELS = {"canonical", "alternate", "next", "prev", "author", "license", "help", "bookmark", "me"}
_CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)\s]*))\s*\)""", re.I)
_CSS_IMPORT = re.compile(r"""@import\s+(?:"([^"]*)"|'([^']*)')""", re.I)
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_URL_LITERAL = r"""["'`]((?:(?:https?|wss?):)?//[^"'`\s]+)"""
# A URL literal handed to a call (import(), fetch(), new Worker(), importScripts(), or
# a minified bundle's loader, which hides behind a short name, so any callee counts
# except `URL(`, which only parses), to XMLHttpRequest.open, to a static import, or
# assigned to `.src`. Strings elsewhere (messages, licence comments) are not loads.
_JS_LOADS = (
    re.compile(r"(?<![\w$])(?!URL\b)[\w$]+\s*\(\s*" + _URL_LITERAL),
    re.compile(r"\.open\s*\(\s*[\"'][A-Za-z]+[\"']\s*,\s*" + _URL_LITERAL),
    re.compile(r"\b(?:import|export)\b[^;\"'`]*?\bfrom\s*" + _URL_LITERAL),
    re.compile(r"\bimport\s*" + _URL_LITERAL),
    re.compile(r"\.src\s*=\s*" + _URL_LITERAL),
    re.compile(r"""setAttribute\(\s*["'](?:src|href)["']\s*,\s*""" + _URL_LITERAL),
)
# Loads in Material's bundle that run only under a condition this site never meets.
# Each is checked: ResizeObserver exists in every browser the Chromium test uses, and
# test_no_page_triggers_materials_mermaid_loader keeps `.mermaid` off every page.
_CONDITIONAL_VENDOR_LOADS = {
    ("assets/javascripts/bundle.", "https://unpkg.com/resize-observer-polyfill"),
    ("assets/javascripts/bundle.", "https://unpkg.com/mermaid@11/dist/mermaid.min.js"),
}


def _is_outside(url: str) -> bool:
    parts = urlsplit(url.strip())
    if parts.scheme and parts.scheme.lower() not in ("http", "https", "ws", "wss"):
        return False  # data:, blob:, about:, javascript:, mailto:
    if not parts.scheme and not url.strip().startswith("//"):
        return False  # relative to the site
    return (parts.hostname or "") not in LOCAL_HOSTS


def _css_loads(css: str) -> list[str]:
    css = _CSS_COMMENT.sub("", css)
    return [next(g for g in m.groups() if g is not None) for rx in (_CSS_URL, _CSS_IMPORT) for m in rx.finditer(css)]


def _js_loads(js: str) -> list[str]:
    return [m.group(1) for rx in _JS_LOADS for m in rx.finditer(js)]


class _LoadFinder(html.parser.HTMLParser):
    """Every URL an HTML page makes the browser fetch by itself (not links a reader may follow)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.loads: list[str] = []
        self._in: str | None = None
        self._script_is_js = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): v or "" for k, v in attrs}
        for name in _LOAD_ATTRS & a.keys():
            values = a[name].split(",") if name.endswith("srcset") else [a[name]]
            self.loads += [v.split()[0] for v in values if v.split()]
        rels = set(a.get("rel", "").lower().split())
        if tag == "link" and "href" in a and not (rels and rels <= _NON_LOADING_RELS):
            self.loads.append(a["href"])
        if tag == "base" and "href" in a:
            self.loads.append(a["href"])  # it redirects every relative load
        if tag == "object" and "data" in a:
            self.loads.append(a["data"])
        if tag in ("image", "use", "feimage", "script") and ("href" in a or "xlink:href" in a):
            self.loads.append(a.get("href") or a["xlink:href"])  # SVG elements
        if tag == "meta" and a.get("http-equiv", "").lower() == "refresh":
            self.loads += re.findall(r"url\s*=\s*['\"]?([^'\";]+)", a.get("content", ""), re.I)
        if "style" in a:
            self.loads += _css_loads(a["style"])
        self._in = tag if tag in ("script", "style") else None
        self._script_is_js = tag == "script" and a.get("type", "text/javascript").lower() in (
            "",
            "text/javascript",
            "application/javascript",
            "module",
        )

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "style":
            self.loads += _css_loads(data)
        elif self._in == "script" and self._script_is_js:
            self.loads += _js_loads(data)


def _outside_loads(site: Path) -> list[str]:
    found = []
    for path in sorted(site.rglob("*")):
        rel = path.relative_to(site).as_posix()
        if path.suffix == ".html":
            finder = _LoadFinder()
            finder.feed(path.read_text(encoding="utf-8"))
            loads = finder.loads
        elif path.suffix == ".css":
            loads = _css_loads(path.read_text(encoding="utf-8"))
        elif path.suffix in (".js", ".mjs"):
            loads = [
                u
                for u in _js_loads(path.read_text(encoding="utf-8"))
                if not any(rel.startswith(prefix) and u == url for prefix, url in _CONDITIONAL_VENDOR_LOADS)
            ]
        else:
            continue
        found += [f"{rel}: {url}" for url in loads if _is_outside(url)]
    return found


def test_load_finder_sees_loads_and_ignores_links_and_text() -> None:
    sample = """
        <link rel="stylesheet" href="https://cdn.example/a.css"><link rel="canonical" href="https://x.example/">
        <script src="//cdn.example/b.js"></script><img srcset="a.png 1x, https://img.example/c.png 2x">
        <div style="background: url('https://img.example/d.png')"></div>
        <style>/* https://licence.example */ @import "https://fonts.example/e.css";</style>
        <script>fetch("https://api.example/f"); const u = new URL("https://parse.example/");
                console.warn(`see https://docs.example/`);</script>
        <script type="module">import x from "https://esm.example/g.js";</script>
        <a href="https://docs.example/">prose link</a> plain https://text.example/ in a page
        <svg xmlns="http://www.w3.org/2000/svg"><image href="https://img.example/h.svg"/></svg>
        <script src="../assets/local.js"></script><img src="data:image/png;base64,AAAA">
        <script src="http://127.0.0.1:8000/ok.js"></script>
    """
    finder = _LoadFinder()
    finder.feed(sample)
    outside = [u for u in finder.loads if _is_outside(u)]
    assert outside == [
        "https://cdn.example/a.css",
        "//cdn.example/b.js",
        "https://img.example/c.png",
        "https://img.example/d.png",
        "https://fonts.example/e.css",
        "https://api.example/f",
        "https://esm.example/g.js",
        "https://img.example/h.svg",
    ]


def test_built_site_loads_nothing_from_an_outside_host(site: Path) -> None:
    assert _outside_loads(site) == []


def test_no_page_triggers_materials_mermaid_loader(site: Path) -> None:
    # Material's bundle fetches Mermaid from unpkg for any `pre.mermaid`; see docs/hooks/notebooks.py.
    class_attr = re.compile(r"""\bclass\s*=\s*(["'])(.*?)\1""")
    pages = [
        p.relative_to(site).as_posix()
        for p in _pages(site)
        if any("mermaid" in m.group(2).split() for m in class_attr.finditer(p.read_text("utf-8")))
    ]
    assert pages == []


# --- (d) headless Chromium ----------------------------------------------------------


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def served_site(site: Path) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory):
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is not installed (scripts/ensure_chromium.sh installs Debian's chromium)")
    pytest.importorskip("websockets", reason="the CDP client needs the `websockets` package")
    from cdp import Browser

    with Browser.launch(str(CHROMIUM), tmp_path_factory.mktemp("chromium-profile")) as b:
        yield b


def test_cdp_connection_sends_no_keepalive_pings(browser):
    # websockets' keepalive thread draws ping payloads from the global `random`; with the
    # session-long browser that broke Hypothesis draws in later test modules.
    assert browser.ws.ping_interval is None


def _page_urls(site: Path, base: str) -> list[str]:
    urls = []
    for path in _pages(site):
        rel = path.relative_to(site).as_posix()
        urls.append(base + (rel.removesuffix("index.html") if rel.endswith("index.html") else rel))
    return urls


def test_browser_harness_sees_outside_requests_console_errors_and_exceptions(browser) -> None:
    # The control for the test below: a page that breaks every rule is caught on each count.
    page = browser.new_page()
    visit = page.visit(
        "data:text/html,<title>t</title><script src='https://cdn.example/x.js'></script>"
        "<script>console.error('boom'); throw new Error('bang')</script>"
    )
    assert "https://cdn.example/x.js" in visit.requests and _is_outside("https://cdn.example/x.js")
    assert any("boom" in e for e in visit.console_errors)
    assert any("bang" in e for e in visit.exceptions)


def test_every_page_renders_in_chromium_without_errors_or_outside_requests(
    site: Path, served_site: str, browser
) -> None:
    from cdp import visit_all

    problems: list[str] = []

    def check(page, visit) -> None:
        url = visit.url
        problems.extend(f"{url}: request to outside host: {r}" for r in visit.requests if _is_outside(r))
        problems.extend(f"{url}: console error: {e}" for e in visit.console_errors)
        problems.extend(f"{url}: uncaught exception: {e}" for e in visit.exceptions)
        problems.extend(f"{url}: failed request: {e}" for e in visit.failed_requests)
        rendered = page.evaluate(
            "({title: document.title, h1: (document.querySelector('article h1') || {}).textContent || '',"
            " text: (document.querySelector('article.md-content__inner') || {innerText: ''}).innerText.length})"
        )
        if url.endswith("404.html"):
            return
        if not (rendered["title"].strip() and rendered["h1"].strip() and rendered["text"] > 100):
            problems.append(f"{url}: did not render main content: {rendered}")

    # Several tabs side by side: each visit still waits for its own load event and quiet network.
    pages = [browser.new_page() for _ in range(BROWSER_TABS)]
    try:
        visit_all(pages, _page_urls(site, served_site), check)
    finally:
        for page in pages:  # nothing left running to load the browser for the tests after this one
            page.close()
    assert problems == []


def _search_hits(page, word: str, what: str) -> list[str]:
    """The search results for the whole of `word`, once they are shown (at most 10 s).

    Typing sends a query per key, and the results of a prefix ("id") may be shown first. Each
    result links with the query it answers (`?h=...`): only results whose links carry the whole
    word (or no query at all) are the answer to it.
    """
    return page.evaluate(
        """((word, what) => new Promise(resolve => {
        const started = Date.now();
        const query = a => (new URL(a.href).searchParams.get('h') || '').toLowerCase();
        const poll = () => {
            const hits = [...document.querySelectorAll('.md-search-result__item')];
            const links = hits.map(h => h.querySelector('a'));
            const answered = links.length && links.every(a => a && [word.toLowerCase(), ''].includes(query(a)))
                && links.some(a => query(a) === word.toLowerCase());
            if (answered || Date.now() - started > 10000) {
                resolve(hits.map(h => what === 'href' ? h.querySelector('a').getAttribute('href') : h.innerText));
            } else setTimeout(poll, 100);
        };
        poll();
    }))"""
        + f"({json.dumps(word)}, {json.dumps(what)})"
    )


def test_search_works_offline(served_site: str, browser) -> None:
    page = browser.new_page()
    page.visit(served_site)
    page.evaluate("document.querySelector('input.md-search__input').focus()")
    page.type("SessionIndex")
    titles = [hit.split("\n")[0] for hit in _search_hits(page, "SessionIndex", "innerText")]
    assert any("Tables" in t or "tenant" in t for t in titles), titles


@pytest.mark.parametrize("word", ["rollup", "idempotency", "DimensionIndex", "grammar", "TransactWriteItems"])
def test_search_ranks_a_concept_page_first(served_site: str, browser, word: str) -> None:
    page = browser.new_page()
    page.visit(served_site)
    page.evaluate("document.querySelector('input.md-search__input').focus()")
    page.type(word)
    links = _search_hits(page, word, "href")
    assert links, word
    assert "/notebooks/" not in links[0], (word, links[:5])


def test_overview_diagrams_load_as_images(served_site: str, browser) -> None:
    page = browser.new_page()
    visit = page.visit(served_site)
    assert visit.failed_requests == []
    images = page.evaluate(
        "[...document.querySelectorAll('article img')].map(i => "
        "({src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0, w: i.naturalWidth}))"
    )
    diagrams = {i["src"]: i for i in images if i["src"].endswith(".svg")}
    # The home page is the data model; the module-layer diagram is on the Architecture page.
    assert set(diagrams) == {"generated/table-diagram.svg"}
    assert all(i["ok"] and i["w"] >= 600 for i in diagrams.values()), diagrams


def test_the_benchmarks_chart_loads_as_an_image(served_site: str, browser) -> None:
    page = browser.new_page()
    visit = page.visit(served_site + "generated/benchmarks/")
    assert visit.failed_requests == []
    images = page.evaluate(
        "[...document.querySelectorAll('article img')].map(i => "
        "({src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0, w: i.naturalWidth, alt: i.alt}))"
    )
    charts = [i for i in images if i["src"].endswith("benchmarks.svg")]
    assert len(charts) == 1, images
    assert charts[0]["ok"] and charts[0]["w"] >= 600 and "met" in charts[0]["alt"], charts


def test_wide_tables_scroll_instead_of_being_cut(served_site: str, browser) -> None:
    page = browser.new_page()
    page.send(
        "Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}
    )
    # A DataFrame wider than its cell (the access-pattern chart in notebook 03) scrolls inside the cell.
    page.visit(served_site + "notebooks/03_access_patterns/")
    frames = page.evaluate("""[...document.querySelectorAll('.jp-OutputArea-output')]
        .filter(o => o.querySelector('table.dataframe'))
        .map(o => ({wide: o.querySelector('table').scrollWidth > o.clientWidth + 1,
                    overflow: getComputedStyle(o).overflowX,
                    inside: o.getBoundingClientRect().right <= document.documentElement.clientWidth}))""")
    assert any(f["wide"] for f in frames), "the chart is expected to be wider than a cell at 1280 px"
    assert all(f["inside"] and (not f["wide"] or f["overflow"] in ("auto", "scroll")) for f in frames), frames
    # Names in the key grammar tables are never broken inside a name: each code span stays on one line.
    page.visit(served_site + "generated/contracts/key-grammar/")
    broken = page.evaluate("""[...document.querySelectorAll('.wide-table td code')]
        .filter(c => c.getClientRects().length > 1).map(c => c.textContent)""")
    spans = page.evaluate("document.querySelectorAll('.wide-table td code').length")
    assert spans > 40 and broken == [], broken


def test_screenshots_of_the_main_pages(served_site: str, browser, tmp_path: Path) -> None:
    # Set SALESTALK_DOCS_SCREENSHOTS=/some/dir to keep the images for a look.
    out = Path(os.environ.get("SALESTALK_DOCS_SCREENSHOTS", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    page = browser.new_page()
    page.send(
        "Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}
    )
    for name, path in (
        ("home", ""),
        ("tables", "generated/tables/"),
        ("access-patterns", "generated/access-patterns/"),
        ("table-views", "generated/table-views/"),
        ("capacity", "generated/capacity/"),
        ("contract-message", "generated/contracts/message/"),
        ("key-grammar", "generated/contracts/key-grammar/"),
        ("other-clients", "other-clients/"),
        ("notebook-03", "notebooks/03_access_patterns/"),
        ("notebook-04", "notebooks/04_idempotency_and_retries/"),
    ):
        page.visit(served_site + path)
        png = page.screenshot()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
        (out / f"salestalk-docs-{name}.png").write_bytes(png)
