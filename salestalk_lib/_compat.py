"""Old module paths keep working: `salestalk_lib.seed` is `salestalk_lib.ops.seed`, and so on.

Before the layers became subpackages every module sat at the top of the package;
existing callers import them by those names. A meta-path finder answers each old name
with the module itself (the same object, so monkeypatching either name patches both);
it never creates a second copy.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

# old top-level name -> its module now (relative to salestalk_lib)
MOVED: dict[str, str] = {
    "errors": "contract.errors",
    "keys": "contract.keys",
    "vocab": "contract.vocab",
    "currency": "contract.currency",
    "tables": "contract.tables",
    "models": "contract.models",
    "validation": "contract.validation",
    "settings": "contract.settings",
    "endpoint_guard": "contract.endpoint_guard",
    "endpoint": "dynamo.endpoint",
    "storage": "dynamo.storage",
    "scope": "dynamo.scope",
    "retry": "dynamo.retry",
    "writes": "dynamo.writes",
    "engines": "embedded.engines",
    "moto_fixes": "embedded.moto_fixes",
    "connection": "ops.connection",
    "provision": "ops.provision",
    "seed": "ops.seed",
    "ingest": "ops.ingest",
    "batches": "ops.batches",
    "inbox": "ops.inbox",
    "patterns": "ops.patterns",
    "tenants": "ops.tenants",
    "audit": "ops.audit",
    "references": "ops.references",
    "events": "ops.events",
    "faults": "testing.faults",
    "samples": "testing.samples",
    "commands": "cli.common",
}
# `salestalk_lib.iam` (once one module) is now the package `iam`: it is no alias, it re-exports
# the names of `iam.policies` (see salestalk_lib/iam/__init__.py). Nor are the old
# `salestalk_lib.commands.<name>` submodules: the CLI's commands are `salestalk_lib.cli.<name>`.
_PACKAGE = __name__.rpartition(".")[0]


class _Alias(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

        self.own_spec: importlib.machinery.ModuleSpec | None = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(self.target)
        self.own_spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # The import system has just set __spec__ to the alias's: the module keeps its own.
        module.__spec__ = self.own_spec


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        prefix, _, name = fullname.rpartition(".")
        if prefix != _PACKAGE or name not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Alias(f"{_PACKAGE}.{MOVED[name]}"))


def install() -> None:
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_Finder())
