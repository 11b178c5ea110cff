"""Static checks: mypy (strict, the library) and ruff (check and format: library, tooling, tests, scripts) pass.

Both run as this interpreter's own tools (the venv's `mypy` and `ruff`), with the
configuration in pyproject.toml; mypy keeps its incremental cache in `.mypy_cache`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RUFF_PATHS = ["salestalk_lib", "devtools", "tests", "scripts"]


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)


def test_mypy_strict_passes_on_the_library():
    done = _run(str(BIN / "mypy"), "--config-file", "pyproject.toml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found" in done.stdout


def test_ruff_check_passes():
    done = _run(str(BIN / "ruff"), "check", *RUFF_PATHS)
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_format_leaves_every_file_as_it_is():
    done = _run(str(BIN / "ruff"), "format", "--check", *RUFF_PATHS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "already formatted" in done.stdout
