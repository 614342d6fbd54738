"""Sizes a newcomer can read: no class over 400 lines and no function over 60 in the library."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_CLASS = 400
MAX_FUNCTION = 60


def _too_big(tree: ast.AST, where: str) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            limit = MAX_CLASS if isinstance(node, ast.ClassDef) else MAX_FUNCTION
            if length > limit:
                found.append(f"{where}:{node.lineno} {node.name}: {length} lines (at most {limit})")
    return found


def test_no_class_over_400_and_no_function_over_60_lines() -> None:
    found = []
    for room in ("clusterlib", "cli"):
        for path in sorted((ROOT / room).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            found += _too_big(tree, str(path.relative_to(ROOT)))
    assert not found, "\n".join(found)


def test_the_count_sees_a_long_function() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION))
    assert _too_big(ast.parse(f"def f():\n{body}\n"), "t.py") == [
        f"t.py:1 f: {MAX_FUNCTION + 1} lines (at most {MAX_FUNCTION})"]
    assert _too_big(ast.parse("def f():\n    return 1\n"), "t.py") == []
