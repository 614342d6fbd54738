"""Doors open downward only: clusterlib._layering on the real tree and on planted violations."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clusterlib import _layering
from clusterlib.profiles import toml_parser

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
    """Not even typer (a third-party door, which clusterlib._layering does not follow)."""
    bad = {f: sorted(m for m in mods if m.split(".")[0] in ("clusterlib_cli", "cli", "typer"))
           for f, mods in _room_imports("clusterlib").items()}
    assert not {f: m for f, m in bad.items() if m}, "library modules importing the CLI"


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


def test_every_door_in_the_house_runs_down(capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m clusterlib._layering``, in process, on the repository itself."""
    code = _layering.main([str(ROOT)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.startswith("layering: ") and "every door runs down" in out


def _plant(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def test_planted_violations_are_caught(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for folder in ("clusterlib", "cli"):
        shutil.copytree(ROOT / folder, tmp_path / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    lib = tmp_path / "clusterlib"
    # A lazy import inside a function: the transports reaching into the simulator.
    _plant(lib / "transports" / "base.py",
           "\n\ndef _lazy() -> object:\n    from clusterlib.sim import SimCluster\n\n"
           "    return SimCluster\n")
    # A type-only import: still a door from the records up to how they are drawn.
    _plant(lib / "model.py", "\nif TYPE_CHECKING:\n    from clusterlib.html import label\n")
    _plant(lib / "wire" / "records.py", "\nimport clusterlib.dialects.base  # noqa\n")
    # Allowed by the floors, but the transports stand on the wire and the ground floor only.
    _plant(lib / "transports" / "winrm.py", "\nfrom clusterlib import model  # noqa\n")
    # A relative import, resolved against the importing package.
    _plant(lib / "sim" / "transport.py", "\nfrom ..transports import base as _b  # noqa\n")
    (lib / "newroom.py").write_text('"""A module nobody gave a floor."""\n', encoding="utf-8")

    code = _layering.main([str(tmp_path)])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    expected = [
        ("clusterlib/transports/base.py:", "transports (floor 3) -> sim (floor 3): sideways:"
         " imports clusterlib.sim"),
        ("clusterlib/model.py:", "model (floor 1) -> html (floor 6): up: imports"
         " clusterlib.html [type-only]"),
        ("clusterlib/wire/records.py:", "wire (floor 2) -> dialects (floor 4): up: imports"
         " clusterlib.dialects.base"),
        ("clusterlib/transports/winrm.py:", "transports (floor 3) -> model (floor 1): outside"
         " (it may import only ground, wire): imports clusterlib.model"),
        ("clusterlib/sim/transport.py:", "sim (floor 3) -> transports (floor 3): sideways:"
         " imports clusterlib.transports.base"),
        ("clusterlib/newroom.py:1:", "clusterlib.newroom is in no room"),
    ]
    for where, why in expected:
        assert any(line.startswith(where) and why in line for line in lines), (where, lines)
    assert lines[-1] == f"layering: {len(expected)} door(s) run up or sideways where forbidden"


def test_upgrade_actions_build_no_wire_records_themselves() -> None:
    """Node-side commands come from clusterlib.dialects.host_commands, not from the engine room."""
    actions = [d for d in _layering.doors(ROOT) if d.path == "clusterlib/upgrade/actions.py"]
    assert actions and not [d.target for d in actions if d.target.startswith("clusterlib.wire")]


def test_every_package_is_shipped() -> None:
    """Each folder of the library is a package the build lists (a new floor is easy to forget)."""
    parser = toml_parser()
    if parser is None:
        pytest.skip("no TOML parser (Python 3.10 without tomli)")
    config = parser.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts)
             for p in (ROOT / "clusterlib").rglob("__init__.py")}
    assert found <= listed, sorted(found - listed)
