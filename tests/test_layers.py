"""The layer rules: the import-linter contracts in pyproject.toml, checked by `lint-imports`.

`lint-imports` is the console script of this venv (the `test` extra installs import-linter).
The second half proves the check can fail: on a copy of the package with one forbidden import
added, the contract it breaks is reported broken.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
CONTRACTS = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"]


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    assert LINT_IMPORTS.is_file(), f"{LINT_IMPORTS} is missing: install the test extra (.[test])"
    # lint-imports puts its working directory first on sys.path: the packages under `cwd` are analysed.
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def _contract(contract_id: str) -> dict:
    return next(c for c in CONTRACTS if c["id"] == contract_id)


def test_every_layer_contract_is_kept() -> None:
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    for contract in CONTRACTS:
        assert f"{contract['name']} KEPT" in result.stdout, contract["name"]
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in result.stdout


def test_the_contracts_state_the_layer_rules() -> None:
    layers = _contract("layers")
    assert layers["type"] == "layers" and layers["containers"] == ["salestalk_lib"]
    assert layers["layers"] == ["cli", "testing", "ops | iam", "dynamo", "embedded", "contract"]
    assert layers["exhaustive"] is True  # a new subpackage must be placed in a layer
    aws = _contract("aws-in-dynamo")
    subpackages = {p.name for p in (REPO / "salestalk_lib").iterdir() if (p / "__init__.py").is_file()}
    assert {s.removeprefix("salestalk_lib.") for s in aws["source_modules"]} == subpackages - {"dynamo"}
    assert set(aws["forbidden_modules"]) == {"boto3", "botocore"}
    assert set(_contract("contract-pure")["forbidden_modules"]) >= {"boto3", "botocore", "pandas", "tqdm", "moto"}
    assert _contract("no-devtools")["source_modules"] == ["salestalk_lib"]


@pytest.fixture()
def copy(tmp_path: Path) -> Path:
    """The package, the tooling and pyproject.toml copied into `tmp_path` (sources only)."""
    skip = shutil.ignore_patterns("__pycache__", "seed_data", "*.pyc")
    for package in ("salestalk_lib", "devtools"):
        shutil.copytree(REPO / package, tmp_path / package, ignore=skip)
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _add_import(module: Path, line: str) -> None:
    module.write_text(module.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("contract/keys.py", "from salestalk_lib.ops import connection", "layers"),
        ("iam/policies.py", "from salestalk_lib.ops import connection", "layers"),  # ops | iam: independent
        ("ops/seed.py", "import boto3", "aws-in-dynamo"),
        ("contract/models.py", "import pandas", "contract-pure"),
        ("ops/ingest.py", "from salestalk_lib.embedded import engines", "ops-through-dynamo"),
        ("dynamo/storage.py", "import moto", "moto-in-embedded"),
        ("cli/main.py", "from devtools import docsgen", "no-devtools"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(copy: Path, module: str, line: str, broken: str) -> None:
    assert _lint(copy).returncode == 0  # the copy alone keeps every contract
    _add_import(copy / "salestalk_lib" / module, line)
    result = _lint(copy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{_contract(broken)['name']} BROKEN" in result.stdout
    importer = "salestalk_lib." + module.removesuffix(".py").replace("/", ".")
    assert importer in result.stdout  # the report names the module with the import


def test_a_subpackage_outside_every_layer_breaks_the_layers_contract(copy: Path) -> None:
    (copy / "salestalk_lib" / "extra").mkdir()
    (copy / "salestalk_lib" / "extra" / "__init__.py").write_text('"""Not in the layers contract."""\n')
    result = _lint(copy)
    assert result.returncode == 1
    assert f"{_contract('layers')['name']} BROKEN" in result.stdout and "salestalk_lib.extra" in result.stdout
