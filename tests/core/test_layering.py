"""Doors open downward only: the library never imports the CLI; lower rooms never import the engine."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _room_imports(room: str) -> dict[str, set[str]]:
    return {str(p.relative_to(ROOT)): _imports(p) for p in (ROOT / room).rglob("*.py")}


def test_the_library_never_imports_the_cli() -> None:
    bad = {f: sorted(m for m in mods if m.split(".")[0] in ("clusterlib_cli", "cli", "typer"))
           for f, mods in _room_imports("clusterlib").items()}
    assert not {f: m for f, m in bad.items() if m}, "library modules importing the CLI"


@pytest.mark.parametrize("room", ["clusterlib/transports", "clusterlib/dialects", "clusterlib/sim"])
def test_lower_rooms_never_import_the_upgrade_engine_or_fleets(room: str) -> None:
    bad = {f: sorted(m for m in mods if m.startswith(("clusterlib.upgrade", "clusterlib.fleet")))
           for f, mods in _room_imports(room).items()}
    assert not {f: m for f, m in bad.items() if m}


def test_layouts_follow_the_supported_rolling_paths() -> None:
    from clusterlib.sim.layouts import build, parse_layout

    assert parse_layout("classic").upgrade_to == "2003"
    assert parse_layout("classic-2012r2").upgrade_to == "2016"
    # 2003 -> 2008 and 2008 R2 -> 2012 are migrations (KB 935197), never a rolling layout.
    assert parse_layout("classic-2003").upgrade_to is None
    assert parse_layout("classic-2008r2").upgrade_to is None
    with pytest.raises(ValueError, match="Windows 2000"):
        build("build:3x6@2000")  # more nodes than Windows 2000 Advanced Server allows


def test_a_layout_windows_refuses_is_a_usage_error() -> None:
    from clusterlib_cli.main import app

    result = CliRunner().invoke(app, ["status", "--sim", "build:3x6@2000"])
    assert result.exit_code == 2, result.output
    assert "Windows 2000" in result.output
