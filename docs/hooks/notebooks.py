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
"""

from __future__ import annotations

import re
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
