"""The house's floors: which room may import which, checked from the source (run it with -m).

Rooms stand on floors; a door (an import) may only run down. Bottom to top::

    0  ground      versions, win32, errors, retry, profiles    facts, the exception tree, the clock
    1  model       model, placement                            records of nodes and groups
    2  wire        wire                                        what travels: records, cmd.exe lines,
                                                               cluster.exe text, shared limits
    3  transports  transports   | sim  (side by side: neither may import the other)
    4  dialects    dialects                                    how to say each operation
    5  cluster     cluster                                     the handles (Cluster, Node, Group)
    6  html        html                                        notebook views of the records
    7  facade      clusterlib (the package's __init__)         connect() and the public names
    8  upgrade     upgrade                                     the rolling upgrade
    9  fleet       fleet                                       many clusters
   10  cli         clusterlib_cli                              the command line

A room imports its own modules and any room on a lower floor, except where it declares a
narrower list: the transports stand on the wire and the ground floor only. Every import counts:
module level, inside functions (lazy) and under ``if TYPE_CHECKING:``; a type-only import is a
door too (it couples the rooms even if it never runs), so it is reported the same way, marked
"type-only". A module in no room is reported as well, so a new file gets a floor on purpose.

Run ``python -m clusterlib._layering [ROOT]``: one line per forbidden door and exit status 1, or
a one-line summary and 0. ``--rooms`` prints the table above from the declaration below.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

__all__ = ["ROOMS", "Door", "Room", "check", "main", "room_of"]


class Room(NamedTuple):
    name: str
    floor: int
    modules: tuple[str, ...]  # module names; a package name covers its submodules
    only: tuple[str, ...] | None = None  # rooms it may import, narrower than "any lower floor"


ROOMS: tuple[Room, ...] = (
    Room("ground", 0, ("clusterlib.versions", "clusterlib.win32", "clusterlib.errors",
                       "clusterlib.retry", "clusterlib.profiles", "clusterlib._layering")),
    Room("model", 1, ("clusterlib.model", "clusterlib.placement")),
    Room("wire", 2, ("clusterlib.wire",)),
    Room("transports", 3, ("clusterlib.transports",), only=("ground", "wire")),
    Room("sim", 3, ("clusterlib.sim",)),
    Room("dialects", 4, ("clusterlib.dialects",)),
    Room("cluster", 5, ("clusterlib.cluster",)),
    Room("html", 6, ("clusterlib.html",)),
    Room("facade", 7, ("clusterlib",)),
    Room("upgrade", 8, ("clusterlib.upgrade",)),
    Room("fleet", 9, ("clusterlib.fleet",)),
    Room("cli", 10, ("clusterlib_cli",)),
)

#: Where each import package lives under the repository root.
SOURCES = {"clusterlib": "clusterlib", "clusterlib_cli": "cli"}
#: The library package's own ``__init__`` is the facade room; its submodules are not.
_FACADE = frozenset({"clusterlib"})


class Door(NamedTuple):
    """One first-party import: who imports what, where, and whether only for type checking."""

    path: str
    line: int
    source: str  # the importing module
    target: str  # the imported module
    type_only: bool


def room_of(module: str) -> Room | None:
    """The room a module belongs to (its longest declared prefix), or None."""
    best: Room | None = None
    best_len = -1
    for room in ROOMS:
        for prefix in room.modules:
            inside = module == prefix or (prefix not in _FACADE and module.startswith(prefix + "."))
            if inside and len(prefix) > best_len:
                best, best_len = room, len(prefix)
    return best


def _modules(root: Path) -> dict[str, Path]:
    """Every first-party module under ``root``, by its import name."""
    found: dict[str, Path] = {}
    for package, folder in SOURCES.items():
        for path in sorted((root / folder).rglob("*.py")):
            parts = list(path.relative_to(root / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, type_only: bool = False) -> Iterator[tuple[ast.stmt, bool]]:
    """Every import statement in ``tree`` (any depth), and whether it sits under TYPE_CHECKING."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, type_only
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _imports(ast.Module(body=node.body, type_ignores=[]), True)
            yield from _imports(ast.Module(body=node.orelse, type_ignores=[]), type_only)
        else:
            yield from _imports(node, type_only)


def _targets(node: ast.stmt, module: str, is_package: bool, known: Iterable[str]) -> list[str]:
    """The first-party modules one import statement names (``from pkg import mod`` is the
    module when ``pkg.mod`` exists, else ``pkg``)."""
    names = set(known)
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] in SOURCES]
    assert isinstance(node, ast.ImportFrom)
    base = node.module or ""
    if node.level:
        package = module if is_package else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}" if base else package
    if base.split(".")[0] not in SOURCES:
        return []
    out = [f"{base}.{a.name}" if f"{base}.{a.name}" in names else base for a in node.names]
    return list(dict.fromkeys(out))


def doors(root: Path) -> list[Door]:
    """Every first-party import in the tree under ``root``."""
    modules = _modules(root)
    out: list[Door] = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        shown = path.relative_to(root).as_posix()
        for node, type_only in _imports(tree):
            for target in _targets(node, module, is_package, modules):
                out.append(Door(shown, node.lineno, module, target, type_only))
    return out


def _verdict(door: Door) -> str | None:
    """Why a door is forbidden, or None when it runs down (or stays in its room)."""
    here, there = room_of(door.source), room_of(door.target)
    if here is None:
        return None  # reported once for the module (check)
    if there is None:
        return f"imports {door.target}, which is in no room"
    if here is there:
        return None
    kind = ("up" if there.floor > here.floor else "sideways" if there.floor == here.floor
            else "outside" if here.only is not None and there.name not in here.only else None)
    if kind is None:
        return None
    note = f" (it may import only {', '.join(here.only)})" if kind == "outside" and here.only else ""
    return (f"{here.name} (floor {here.floor}) -> {there.name} (floor {there.floor}): {kind}"
            f"{note}: imports {door.target}" + (" [type-only]" if door.type_only else ""))


def check(root: Path) -> list[str]:
    """Every forbidden door under ``root``, one line each (``path:line: why``), sorted."""
    lines = {f"{d.path}:{d.line}: {why}" for d in doors(root) if (why := _verdict(d)) is not None}
    lines |= {f"{path.relative_to(root).as_posix()}:1: {module} is in no room (declare it in"
              " clusterlib._layering.ROOMS)"
              for module, path in _modules(root).items() if room_of(module) is None}
    return sorted(lines, key=lambda s: (s.split(":")[0], int(s.split(":")[1]), s))


def rooms_table() -> str:
    lines = []
    for floor in sorted({r.floor for r in ROOMS}):
        on = [r for r in ROOMS if r.floor == floor]
        for room in on:
            only = f"  (may import only {', '.join(room.only)})" if room.only else ""
            lines.append(f"{floor:>2}  {room.name:<11} {', '.join(room.modules)}{only}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--rooms" in args:
        print(rooms_table())
        return 0
    root = Path(args[0]) if args else Path(__file__).resolve().parents[1]
    problems = check(root)
    for line in problems:
        print(line)
    if problems:
        print(f"layering: {len(problems)} door(s) run up or sideways where forbidden")
        return 1
    found = doors(root)
    modules = len(_modules(root))
    print(f"layering: {len(found)} imports in {modules} modules, {len(ROOMS)} rooms on"
          f" {len({r.floor for r in ROOMS})} floors; every door runs down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
