"""The built wheel works outside the repository, and no module of the package reaches a repository path.

`pip wheel .` builds the package from a copy of the repository's files (so a stale `build/`
cannot leak into it); the wheel is installed into a fresh virtual environment in a temporary
directory, whose dependencies come from this environment's site-packages through a `.pth`
file, so nothing is downloaded and the package itself comes only from the wheel. From a
working directory outside the repository, `salestalk validate` and `salestalk seed` (on a
temporary embedded engine it starts itself) must work and print what the repository's own
copy prints.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "salestalk_lib"
SEED_DATA = REPO / "seed_data"


def _tracked_files() -> list[str]:
    """The repository's files as a clean clone would have them (tracked, plus new files not ignored)."""
    done = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    )
    return [p for p in done.stdout.decode().split("\0") if p]


def _copy_tree(dest: Path) -> None:
    for rel in _tracked_files():
        src = REPO / rel
        if not src.is_symlink() and not src.exists():
            continue  # deleted in the working tree, not yet committed
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            target.symlink_to(os.readlink(src))
        else:
            shutil.copy2(src, target)


def _clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "AWS_ENDPOINT_URL", "SALESTALK_", "VIRTUAL_ENV"))
    }
    return {**env, **extra}


def _run(cmd: list[str], cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=_clean_env(**extra), capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Build the wheel, install it in a fresh venv outside the repository; the paths involved."""
    root = tmp_path_factory.mktemp("wheel")
    assert not root.resolve().is_relative_to(REPO), "the temporary directory must be outside the repository"
    src, dist, venv, work = root / "src", root / "dist", root / "venv", root / "work"
    _copy_tree(src)
    built = _run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-q", "-w", str(dist)], cwd=src)
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("salestalk_lib-*.whl")

    made = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=root)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    site = Path(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=root).stdout.strip()
    )
    # The dependencies: this environment's site-packages, appended after the venv's own (so the
    # wheel's copy of salestalk_lib comes first; .pth files in the appended directory, such as
    # this environment's editable install of the package, are not processed).
    ours = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    (site / "_salestalk_test_deps.pth").write_text("".join(f"{p}\n" for p in ours), encoding="utf-8")
    done = _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel)],
        cwd=root,
    )
    assert done.returncode == 0, done.stderr
    work.mkdir()
    return {
        "wheel": wheel,
        "venv": venv,
        "python": python,
        "site": site,
        "work": work,
        "salestalk": venv / "bin" / "salestalk",
    }


def _seed_files(top: Path) -> set[str]:
    return {p.relative_to(top).as_posix() for p in top.rglob("*") if p.is_file() and p.suffix in (".json", ".md")}


@pytest.mark.slow
def test_the_wheel_holds_the_seed_data_and_no_repository_tooling(installed: dict[str, Path]) -> None:
    names = zipfile.ZipFile(installed["wheel"]).namelist()
    shipped = {n.removeprefix("salestalk_lib/seed_data/") for n in names if n.startswith("salestalk_lib/seed_data/")}
    assert shipped == _seed_files(SEED_DATA)
    assert not [n for n in names if n.startswith(("devtools/", "tests/", "notebooks/", "tools/", "infra/"))]
    assert {n.split("/")[0] for n in names} == {"salestalk_lib", wheel_dist_info(installed["wheel"])}


def wheel_dist_info(wheel: Path) -> str:
    name, version = wheel.name.split("-")[:2]
    return f"{name}-{version}.dist-info"


@pytest.mark.slow
def test_the_installed_package_comes_from_the_wheel_and_names_no_repository_path(installed: dict[str, Path]) -> None:
    probe = _run(
        [
            str(installed["python"]),
            "-c",
            "import salestalk_lib, salestalk_lib.ops.seed as s; print(salestalk_lib.__file__); "
            "print(s.DEFAULT_SEED_DIR)",
        ],
        cwd=installed["work"],
    )
    assert probe.returncode == 0, probe.stderr
    module_file, seed_dir = (Path(line) for line in probe.stdout.splitlines())
    package = installed["site"] / "salestalk_lib"
    assert module_file.is_relative_to(package)
    assert seed_dir == (package / "seed_data").resolve() and seed_dir.is_dir()
    assert _seed_files(seed_dir) == _seed_files(SEED_DATA)
    files = [p for p in package.rglob("*") if p.is_file()]
    assert len(files) > 40
    repo = str(REPO).encode()
    assert [str(p) for p in files if repo in p.read_bytes()] == []


@pytest.mark.slow
def test_validate_and_seed_work_outside_the_repository(installed: dict[str, Path]) -> None:
    work, salestalk = installed["work"], str(installed["salestalk"])
    seed_dir = (installed["site"] / "salestalk_lib" / "seed_data").resolve()
    validated = _run([salestalk, "validate", str(seed_dir)], cwd=work)
    assert validated.returncode == 0, validated.stderr
    here = _run([sys.executable, "-m", "salestalk_lib", "validate", str(SEED_DATA)], cwd=REPO)
    assert validated.stdout == here.stdout
    assert re.fullmatch(
        r"OK: \d+ record\(s\) in 5 file\(s\) \(\d+ message, \d+ metric, 2 tenant\) valid\n", validated.stdout
    )

    shutil.copy(SEED_DATA / "tenants.json", work / "tenants.json")
    one = _run([salestalk, "validate", "tenants.json"], cwd=work)
    assert (one.returncode, one.stdout) == (0, "OK: 2 record(s) in 1 file(s) (2 tenant) valid\n")

    # No --dir, no ./seed_data here: the seed tenants shipped in the wheel, on an embedded engine.
    seeded = _run([salestalk, "seed", "--no-progress"], cwd=work, SALESTALK_ENGINE="moto")
    assert seeded.returncode == 0, seeded.stderr
    assert "temporary embedded DynamoDB" in seeded.stderr
    rows = [line.split() for line in seeded.stdout.splitlines()[2:]]
    assert rows and all(
        int(created) > 0 and (unchanged, conflicts) == ("0", "0") for _, created, unchanged, conflicts in rows
    )
    assert rows[0] == ["tenants-metadata", "2", "0", "0"]
    # ... exactly what the repository's own copy writes from seed_data/.
    reference = _run(
        [sys.executable, "-m", "salestalk_lib", "seed", "--no-progress", "--dir", str(SEED_DATA)],
        cwd=REPO,
        SALESTALK_ENGINE="moto",
    )
    assert reference.returncode == 0, reference.stderr
    assert seeded.stdout == reference.stdout


# --- static: no module reaches into the repository -------------------------------------------------

# Repository folders the library must not name as paths. The one exception is documented in
# salestalk_lib/embedded/engines.py: DynamoDB Local is found under ./tools/dynamodb-local of the
# working directory (or SALESTALK_DYNAMODB_LOCAL_DIR), relative to where the user runs, not to the package.
_REPO_DIRS = ("tools", "infra", "benchmarks", "devtools", "notebooks", "tests", "scripts")
_REPO_PATH = re.compile(rf"(?:^|[\s/`'\"(])(?:{'|'.join(_REPO_DIRS)})(?:/|$)")
_ALLOWED = {("embedded/engines.py", "tools")}


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _reaches(rel: str, source: str) -> list[str]:
    """How the module at `rel` (relative to the package) with this source reaches the repository."""
    tree = ast.parse(source)
    docs = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "__file__":
            found.append(f"{rel}:{node.lineno} uses __file__")
        elif (
            isinstance(node, ast.Attribute)
            and node.attr in ("parent", "parents")
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "parent"
        ):
            found.append(f"{rel}:{node.lineno} climbs .parent.{node.attr}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            for match in _REPO_PATH.finditer(node.value):
                word = match.group(0).strip("\t\n /`'\"(")
                if (rel, word) not in _ALLOWED:
                    found.append(f"{rel}:{node.lineno} names the repository path {node.value!r}")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [f"{rel}:{node.lineno} imports {n}" for n in names if n.split(".")[0] == "devtools"]
    return found


def test_no_module_of_the_package_reaches_a_repository_path() -> None:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 40
    assert [
        hit for m in modules for hit in _reaches(m.relative_to(PACKAGE).as_posix(), m.read_text(encoding="utf-8"))
    ] == []


@pytest.mark.parametrize(
    "source",
    [
        "ROOT = Path(__file__).parents[2]",
        "ROOT = Path(x).parent.parent",
        "ROOT = x.parent.parent.parent",
        "P = 'infra/terraform'",
        "P = Path('benchmarks') / 'x'",
        "P = ROOT / 'tools/iam-simulate'",
        "import devtools.bench",
        "from devtools import bench",
        "LOCAL = Path('tools') / 'dynamodb-local'",  # allowed in embedded/engines.py only
    ],
)
def test_the_repository_path_check_sees_each_way_a_module_used_to_reach_it(source: str) -> None:
    assert _reaches("ops/probe.py", f"from pathlib import Path\n{source}\n")


def test_the_repository_path_check_lets_docstrings_and_other_paths_be() -> None:
    text = '"""Rendered into infra/ by devtools/."""\nX = "a/b"\nY = Path("seed_data")\nZ = parent.parent\n'
    assert _reaches("ops/probe.py", text) == []
    assert _reaches("embedded/engines.py", "LOCAL = Path('tools') / 'dynamodb-local'\n") == []
