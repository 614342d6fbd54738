"""The Ansible module imports only public clusterlib names: internal moves never break it."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

MODULE = (Path(__file__).resolve().parents[2] / "ansible_collections" / "clusterlib" / "failover"
          / "plugins" / "modules" / "rolling_upgrade.py")
PUBLIC = ("clusterlib", "clusterlib.upgrade", "clusterlib.fleet")


def test_the_ansible_module_imports_only_public_names() -> None:
    imported: list[tuple[str, str]] = []
    for node in ast.walk(ast.parse(MODULE.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("clusterlib"):
            imported += [(str(node.module), alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            assert not any(a.name.startswith("clusterlib") for a in node.names), ast.dump(node)
    assert {"RollingUpgrade", "parse_inventory", "report_document"} <= {n for _, n in imported}
    for module, name in imported:
        assert module in PUBLIC, f"{module}.{name}: import it from one of {PUBLIC}"
        assert name in importlib.import_module(module).__all__, f"{module}.{name} is not public"
