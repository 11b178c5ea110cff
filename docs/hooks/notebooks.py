"""MkDocs hooks for the notebook pages: list them in the nav, and keep them offline.

Nav: MkDocs has no globs in `nav`, so every `notebooks/*.ipynb` that
`python -m devtools.docsgen` copied into the docs tree is appended, in
file-name order, to the nav section titled "Notebooks". An empty folder leaves
the section with just its overview page.

Offline: mkdocs-jupyter renders notebooks through nbconvert's `lab` template,
and no option of either stops it from emitting
- a MathJax `<script src=...>` (an empty URL unless `custom_mathjax_url` is set),
- a Mermaid loader that `import()`s Mermaid from cdnjs,
- a Jupyter-widgets loader from unpkg, when a notebook carries widget state.
This hook removes those blocks from notebook pages, and renames the class of
Mermaid outputs (`pre.mermaid`), for which Material's own bundle would fetch
Mermaid from unpkg. (`include_requirejs: false` in mkdocs.yml already drops
require.js.) Math then shows as its TeX source and Mermaid outputs as text. If a
notebook page still loads a script from anywhere but the site, the build fails.

Width: a notebook page hides the right-hand table of contents (as `hide: [toc]`
front matter would on a markdown page). Code cells and DataFrames are the
content, and beside both sidebars they were 570 px wide at a 1280 px window, so
most cells and tables scrolled sideways; the left navigation and the page's
previous/next links stay.

Search: the theme's indexer splits a page into sections at its headings, but in
a rendered notebook every heading sits inside its cell's `<div>`s, and when that
cell closes the indexer returns to the page's first section. Each notebook
therefore became one 20–37 KB search document (every cell, prompt, the copy
button's "Copied!" and each code cell twice: highlighted and as the clipboard's
text), which outranked the concept pages for almost any word. `on_post_build`
replaces a notebook's entries in `search/search_index.json` with one entry per
heading: the heading's prose and code (once), without prompts, copy-button text,
outputs, styles or scripts (`notebook_sections` below).
"""

from __future__ import annotations

import html as html_lib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

from mkdocs.exceptions import PluginError

NAV_SECTION = "Notebooks"
NOTEBOOKS_DIR = "notebooks"

_LOADER_BLOCKS = (
    # nbconvert base/mathjax.html.j2
    re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S),
    # nbconvert lab/mermaidjs.html.j2: module script + its stylesheet
    re.compile(
        r'<script type="module">\s*document\.addEventListener\("DOMContentLoaded", async \(\) => \{\s*'
        r'const diagrams = document\.querySelectorAll\("\.jp-Mermaid.*?<!-- End of mermaid configuration -->',
        re.S,
    ),
    # nbconvert base/jupyter_widgets.html.j2
    re.compile(r"<script>\s*\(function\(\) \{\s*function addWidgetsRenderer\(\).*?</script>", re.S),
)

_PRE_CLASS = re.compile(r"""(<pre\b[^>]*\bclass\s*=\s*)(["'])(.*?)\2""")

_REMOTE_LOAD = re.compile(
    r"""<script\b[^>]*\bsrc\s*=\s*["'](?:https?:)?//"""
    r"""|<script\b[^>]*\bsrc\s*=\s*["']\s*["']"""
    r"""|\bimport\s*\(\s*["'`](?:https?:)?//""",
    re.I,
)


def on_config(config):
    notebooks = sorted((Path(config["docs_dir"]) / NOTEBOOKS_DIR).glob("*.ipynb"), key=lambda p: p.name)
    for entry in config["nav"] or []:
        if isinstance(entry, dict) and NAV_SECTION in entry:
            section = entry[NAV_SECTION]
            if not isinstance(section, list):
                section = entry[NAV_SECTION] = [section]
            listed = {item if isinstance(item, str) else next(iter(item.values())) for item in section}
            section.extend(f"{NOTEBOOKS_DIR}/{p.name}" for p in notebooks
                           if f"{NOTEBOOKS_DIR}/{p.name}" not in listed)
            return config
    raise PluginError(f"mkdocs.yml nav has no {NAV_SECTION!r} section for the notebooks")


def on_page_content(html, page, config, files):
    if not page.file.src_uri.endswith(".ipynb"):
        return html
    _NOTEBOOK_PAGES[page.url] = page.title  # its search entries are rebuilt by on_post_build
    hidden = page.meta.setdefault("hide", [])
    if "toc" not in hidden:
        hidden.append("toc")
    for block in _LOADER_BLOCKS:
        html = block.sub("", html)
    # Material's own bundle fetches Mermaid from unpkg for any `pre.mermaid` on a page.
    html = _PRE_CLASS.sub(_rename_mermaid_class, html)
    if match := _REMOTE_LOAD.search(html):
        raise PluginError(
            f"{page.file.src_uri}: the rendered notebook still loads a script from outside the site "
            f"({match.group(0)!r}); extend docs/hooks/notebooks.py to remove it"
        )
    return html


def _rename_mermaid_class(match: re.Match[str]) -> str:
    classes = ["jp-MermaidSource" if c == "mermaid" else c for c in match.group(3).split()]
    return f"{match.group(1)}{match.group(2)}{' '.join(classes)}{match.group(2)}"


# --- search: one index entry per notebook section -------------------------------

_NOTEBOOK_PAGES: dict[str, str] = {}  # page url -> title, filled by on_page_content

# Parts of a rendered notebook that are not content: prompts ("In [3]:"), the copy
# button (its hidden "Copied!" notice) and the clipboard's copy of each cell's source,
# the outputs (DataFrames and figures: data, not prose), styles and scripts.
_SKIP_CLASSES = frozenset(
    {"jp-InputPrompt", "jp-OutputPrompt", "zeroclipboard-container", "clipboard-copy-txt", "jp-OutputArea"}
)
_SKIP_TAGS = frozenset({"script", "style", "svg", "button", "textarea", "clipboard-copy"})
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})


class _SectionParser(HTMLParser):
    """Splits a notebook page's article into (heading id, title, text) sections."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[dict[str, object]] = []
        self._stack: list[tuple[str, bool]] = []  # (tag, skipped)
        self._in_article = 0
        self._heading: str | None = None

    def _skipping(self) -> bool:
        return any(skipped for _, skipped in self._stack)

    def handle_starttag(self, tag, attrs):
        if tag in _VOID:
            return
        attributes = dict(attrs)
        classes = set((attributes.get("class") or "").split())
        skipped = (
            tag in _SKIP_TAGS
            or bool(classes & _SKIP_CLASSES)
            or "data-search-exclude" in attributes
            or "headerlink" in classes
            or "anchor-link" in classes
        )
        self._stack.append((tag, skipped))
        if tag == "article":
            self._in_article += 1
        if self._in_article and tag in _HEADINGS and attributes.get("id") and not self._skipping():
            self._heading = tag
            self.sections.append({"id": attributes["id"], "title": [], "text": []})
        elif self._in_article and tag == "pre" and not self._skipping() and self.sections:
            self.sections[-1]["text"].append("<code>")

    def handle_endtag(self, tag):
        if tag in _VOID or not self._stack:
            return
        while self._stack:  # tolerate unclosed elements: pop to the matching tag
            open_tag, skipped = self._stack.pop()
            if open_tag == "pre" and not skipped and not self._skipping() and self._in_article and self.sections:
                self.sections[-1]["text"].append("</code>")
            if open_tag == "article":
                self._in_article -= 1
            if open_tag == self._heading:
                self._heading = None
            if open_tag == tag:
                break

    def handle_data(self, data):
        if not self._in_article or not self.sections or self._skipping():
            return
        part = "title" if self._heading else "text"
        self.sections[-1][part].append(html_lib.escape(data, quote=False))


def notebook_sections(page_html: str, url: str, title: str) -> list[dict[str, str]]:
    """Search entries for one rendered notebook page: the first heading at the page's url, then one per heading."""
    parser = _SectionParser()
    parser.feed(page_html)
    parser.close()
    entries = []
    for n, section in enumerate(parser.sections):
        text = re.sub(r"\s+", " ", "".join(section["text"])).strip()
        text = text.replace("<code> ", "<code>").replace(" </code>", "</code>").replace("<code></code>", "")
        heading = re.sub(r"\s+", " ", "".join(section["title"])).strip()
        location = url if n == 0 else f"{url}#{section['id']}"
        entries.append({"location": location, "title": heading or title, "text": text})
    return entries


def on_post_build(config):
    index_path = Path(config["site_dir"]) / "search" / "search_index.json"
    if not index_path.is_file() or not _NOTEBOOK_PAGES:
        return
    index = json.loads(index_path.read_text(encoding="utf-8"))
    replaced: dict[str, list[dict[str, str]]] = {}
    for url, title in _NOTEBOOK_PAGES.items():
        page_file = Path(config["site_dir"]) / url / "index.html" if config["use_directory_urls"] else None
        if page_file is None or not page_file.is_file():
            page_file = Path(config["site_dir"]) / (url.rstrip("/") or "index.html")
        entries = notebook_sections(page_file.read_text(encoding="utf-8"), url, title)
        if not entries:
            raise PluginError(f"{url}: no headed sections found to index for search")
        replaced[url] = entries
    docs = []
    for entry in index["docs"]:
        page_url = entry["location"].split("#", 1)[0]
        if page_url in replaced:
            docs.extend(replaced.pop(page_url))  # the first entry of the page stands for all of them
        elif page_url not in _NOTEBOOK_PAGES:
            docs.append(entry)
    for entries in replaced.values():  # a page the theme's indexer did not list
        docs.extend(entries)
    index["docs"] = docs
    index_path.write_text(json.dumps(index, sort_keys=True, separators=(",", ":")), encoding="utf-8")
