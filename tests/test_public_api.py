"""The curated public API (`salestalk_lib/__init__.py`) and the old module paths (`salestalk_lib._compat`).

Every exported name resolves; importing a pure module does not import boto3; the names static
checkers see (the TYPE_CHECKING block) are the names exported at run time; each old top-level
module path is the new module itself, so monkeypatching either name patches both; and the
notebooks, the tutorials, import only from the public API or the documented subpackages.
"""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import salestalk_lib
from salestalk_lib import _compat

REPO = Path(__file__).resolve().parents[1]
INIT = REPO / "salestalk_lib" / "__init__.py"


def test_every_name_in_all_resolves_to_what_its_module_defines() -> None:
    assert salestalk_lib.__all__ == sorted(salestalk_lib.__all__)
    assert set(salestalk_lib.__all__) == {*salestalk_lib._EXPORTS, *salestalk_lib._MODULES, "__version__"}
    for name in salestalk_lib.__all__:
        assert getattr(salestalk_lib, name) is not None, name
    for name, module in salestalk_lib._EXPORTS.items():
        assert getattr(salestalk_lib, name) is getattr(importlib.import_module(f"salestalk_lib.{module}"), name)
    for name, module in salestalk_lib._MODULES.items():
        assert getattr(salestalk_lib, name) is importlib.import_module(f"salestalk_lib.{module}")
    assert set(salestalk_lib._EXPORTS) <= set(dir(salestalk_lib))


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from salestalk_lib import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(salestalk_lib.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        salestalk_lib.no_such_thing  # noqa: B018
    with pytest.raises(ImportError):
        exec("from salestalk_lib import no_such_thing", {})


def test_the_documented_entry_points_are_exported() -> None:
    """What the README and the issue promise callers: connect, scopes, ingest, patterns, seed, models, errors."""
    from salestalk_lib import (  # noqa: F401
        ContractError,
        Ingestor,
        Message,
        Metric,
        SalesTalk,
        SalesTalkError,
        TenantScope,
        connect,
        load_seed,
        patterns,
        process_once,
    )

    assert callable(patterns.run) and callable(patterns.explain)
    assert salestalk_lib.patterns.run is importlib.import_module("salestalk_lib.ops.patterns").run


def _type_checking_imports() -> dict[str, str]:
    """name -> module (relative to salestalk_lib) of each import in __init__'s `if TYPE_CHECKING:` block."""
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    (block,) = [n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING"]
    names: dict[str, str] = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom) and node.module, ast.unparse(node)
        for alias in node.names:
            name = alias.asname or alias.name
            assert name not in names, f"{name} imported twice"
            module = node.module.removeprefix("salestalk_lib").lstrip(".")
            names[name] = f"{module}.{alias.name}".lstrip(".")
    return names


def test_the_type_checking_block_lists_the_exported_names_from_their_modules() -> None:
    seen = _type_checking_imports()
    expected = {name: f"{module}.{name}" for name, module in salestalk_lib._EXPORTS.items()}
    # a module export `name: "a.b"` is imported as `from salestalk_lib.a import b`
    expected |= {name: module for name, module in salestalk_lib._MODULES.items()}
    assert seen == expected


def _run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)


@pytest.mark.parametrize(
    "module",
    [
        "salestalk_lib",
        "salestalk_lib.contract.keys",
        "salestalk_lib.contract.models",
        "salestalk_lib.contract.validation",
        "salestalk_lib.keys",
        "salestalk_lib.iam",
    ],
)
def test_importing_a_pure_module_imports_no_boto3(module: str) -> None:
    done = _run_python(
        f"import sys, {module}; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'boto3', 'botocore', 'moto'}))"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_boto3_check_would_see_boto3() -> None:
    done = _run_python("import sys, salestalk_lib.dynamo.storage; print('boto3' in sys.modules)")
    assert done.stdout.strip() == "True", done.stderr


OLD_PATHS = [
    "seed",
    "patterns",
    "models",
    "commands",
    "keys",
    "errors",
    "storage",
    "endpoint",
    "ingest",
    "batches",
    "inbox",
    "tenants",
    "faults",
    "samples",
    "engines",
    "moto_fixes",
    "retry",
    "writes",
]


def test_the_old_paths_cover_the_examples_and_every_old_name_is_mapped() -> None:
    assert set(OLD_PATHS) <= set(_compat.MOVED)
    for old, new in _compat.MOVED.items():
        assert importlib.import_module(f"salestalk_lib.{new}").__name__ == f"salestalk_lib.{new}", old


@pytest.mark.parametrize("old", sorted(_compat.MOVED))
def test_an_old_path_is_the_new_module_itself(old: str) -> None:
    new = importlib.import_module(f"salestalk_lib.{_compat.MOVED[old]}")
    assert importlib.import_module(f"salestalk_lib.{old}") is new
    assert sys.modules[f"salestalk_lib.{old}"] is new
    assert getattr(salestalk_lib, old) is new
    assert new.__spec__.name == new.__name__ == f"salestalk_lib.{_compat.MOVED[old]}"  # keeps its own identity


def test_old_paths_import_in_a_fresh_interpreter_in_either_order() -> None:
    done = _run_python(
        "import salestalk_lib.seed as old; import salestalk_lib.ops.seed as new; "
        "from salestalk_lib.patterns import run; import salestalk_lib.ops.patterns as p; "
        "from salestalk_lib import commands; import salestalk_lib.cli.common as c; "
        "import salestalk_lib.ops.ingest as i2; import salestalk_lib.ingest as i1; "
        "print(old is new, run is p.run, commands is c, i1 is i2)"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True"] * 4


def test_monkeypatching_through_an_old_path_patches_the_new_one(monkeypatch: pytest.MonkeyPatch) -> None:
    import salestalk_lib.ops.seed as new

    marker = Path("/nonexistent/seed")
    monkeypatch.setattr("salestalk_lib.seed.DEFAULT_SEED_DIR", marker)
    assert new.DEFAULT_SEED_DIR is marker
    monkeypatch.undo()
    assert new.DEFAULT_SEED_DIR is not marker


def test_monkeypatching_through_the_new_path_is_seen_through_the_old(monkeypatch: pytest.MonkeyPatch) -> None:
    import salestalk_lib.patterns as old

    sentinel = object()
    monkeypatch.setattr("salestalk_lib.ops.patterns.run", sentinel)
    assert old.run is sentinel and salestalk_lib.patterns.run is sentinel
    monkeypatch.setattr("salestalk_lib.commands.format_table", sentinel)
    assert importlib.import_module("salestalk_lib.cli.common").format_table is sentinel


def test_the_old_iam_module_names_stay_readable_from_the_iam_package() -> None:
    """`salestalk_lib.iam` was a module; it is now the package, which reads its names from `iam.policies`."""
    policies = importlib.import_module("salestalk_lib.iam.policies")
    from salestalk_lib import iam

    assert iam is importlib.import_module("salestalk_lib.iam")
    for name in ("policy_document", "Deployment", "Role", "ADMIN_DENIED", "ADMIN_DENIED_ACTIONS", "policies_for"):
        assert getattr(iam, name) is getattr(policies, name)
    with pytest.raises(AttributeError):
        iam.no_such_policy  # noqa: B018


# --- the notebooks import the public API -----------------------------------------------------------

# Where a tutorial may import from: the curated API, the pure contract's modules, the testing
# helpers, the IAM policies; the isolation matrix (notebook 06) and the fleet benchmark's stored
# figures (notebook 07) are the repository's own tooling.
ALLOWED_IMPORTS = (
    "salestalk_lib",
    "salestalk_lib.contract.",
    "salestalk_lib.testing.",
    "salestalk_lib.iam.",
    "devtools.isolation",
    "devtools.fleet_docs",
)


def _notebook_imports(path: Path) -> list[str]:
    found = []
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        tree = ast.parse("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.append(node.module)
            elif isinstance(node, ast.Import):
                found += [a.name for a in node.names]
    return found


def _is_allowed(module: str) -> bool:
    if not module.startswith(("salestalk_lib", "devtools")):
        return True  # the standard library and third-party packages
    return module == "salestalk_lib" or module.startswith(ALLOWED_IMPORTS[1:])


@pytest.mark.parametrize("notebook", sorted((REPO / "notebooks").glob("*.ipynb")), ids=lambda p: p.stem)
def test_a_notebook_imports_only_the_public_api_or_documented_subpackages(notebook: Path) -> None:
    imports = _notebook_imports(notebook)
    assert "salestalk_lib" in imports
    assert [m for m in imports if not _is_allowed(m)] == []


def test_the_notebook_import_rule_refuses_internal_modules() -> None:
    assert not _is_allowed("salestalk_lib.ops.seed") and not _is_allowed("salestalk_lib.dynamo.storage")
    assert not _is_allowed("salestalk_lib.seed") and not _is_allowed("devtools.bench")
    assert _is_allowed("salestalk_lib.contract.errors") and _is_allowed("salestalk_lib.testing.faults")
