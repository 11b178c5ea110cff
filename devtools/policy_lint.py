"""Lint IAM policy documents with parliament, run from its own virtualenv.

parliament lives in `.venv-lint` (install: `LINT_INSTALL`), not in the project's
environment: the upstream release still imports `pkg_resources`, which current
setuptools no longer ships, and both it and the maintained fork used here
(`ol-parliament`, same `parliament` module) pull in stale helpers (json-cfg,
kwonly-args) that the library has no use for. So the linter runs as a
subprocess and only JSON crosses the boundary.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from salestalk_lib.contract.errors import ConfigurationError, SalesTalkError

LINT_PYTHON_ENV = "SALESTALK_LINT_PYTHON"
DEFAULT_LINT_PYTHON = Path(__file__).resolve().parents[1] / ".venv-lint" / "bin" / "python"
LINT_INSTALL = "python3 -m venv .venv-lint && .venv-lint/bin/python -m pip install 'ol-parliament==1.7.0'"

# Runs inside .venv-lint: reads [{"name", "policy"}] on stdin, writes the findings as JSON.
_RUNNER = """
import json, sys
from parliament import analyze_policy_string, enhance_finding
out = {"findings": []}
for item in json.load(sys.stdin):
    policy = analyze_policy_string(json.dumps(item["policy"]), filepath=item["name"],
                                   include_community_auditors=True)
    for f in policy.findings:
        f = enhance_finding(f)
        out["findings"].append({"policy": item["name"], "issue": f.issue, "severity": f.severity,
                                "title": f.title, "detail": str(f.detail), "location": str(f.location)})
json.dump(out, sys.stdout)
"""


class LintError(SalesTalkError):
    """The policy linter could not run."""


@dataclass(frozen=True)
class Finding:
    """One parliament finding: which policy, which issue, how severe, and where."""

    policy: str
    issue: str
    severity: str
    title: str
    detail: str
    location: str

    def __str__(self) -> str:
        return f"{self.policy}: {self.severity} {self.issue} ({self.title}) {self.detail} at {self.location}"


def lint_python() -> Path:
    """The interpreter that has parliament: `$SALESTALK_LINT_PYTHON`, else `.venv-lint/bin/python`."""
    path = Path(os.environ.get(LINT_PYTHON_ENV) or DEFAULT_LINT_PYTHON)
    if not path.exists():
        raise ConfigurationError(f"the policy linter is not installed at {path}; run `{LINT_INSTALL}`")
    return path


def lint_policies(policies: Mapping[str, Mapping[str, Any]], *, python: str | Path | None = None) -> list[Finding]:
    """Every parliament finding (community auditors included) for each named policy document."""
    payload = [{"name": name, "policy": dict(doc)} for name, doc in policies.items()]
    proc = subprocess.run(
        [str(python or lint_python()), "-c", _RUNNER],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise LintError(f"parliament failed: {proc.stderr.strip()}")
    return [Finding(**f) for f in json.loads(proc.stdout)["findings"]]


# The fork keeps upstream's `parliament.__version__`, so ask the installed distribution instead.
_VERSION = """
from importlib.metadata import PackageNotFoundError, version
for dist in ("ol-parliament", "parliament"):
    try:
        print(dist, version(dist))
        break
    except PackageNotFoundError:
        pass
"""


def linter_version(*, python: str | Path | None = None) -> str:
    """The installed linter distribution and its version, e.g. `ol-parliament 1.7.0`."""
    proc = subprocess.run([str(python or lint_python()), "-c", _VERSION], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise LintError(f"parliament failed: {proc.stderr.strip()}")
    return proc.stdout.strip()
