"""The records as the CLI shows them: the documented JSON documents, and tables of nodes, groups, actions.

The JSON field names written here are a documented interface (docs/cli.md): change them only by
adding fields, and bump ``schema`` on a break. Every cluster-supplied value in a table goes
through ``render.cell`` (shown, escaped), like every other line the CLI prints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from clusterlib_cli.render import cell, console, out

if TYPE_CHECKING:
    from clusterlib import ClusterSnapshot, GroupInfo, NodeInfo


# --- records -> JSON (the documented field names) --------------------------------------------------

def node_doc(n: NodeInfo, snap: ClusterSnapshot | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": n.name,
        "id": n.id,
        "state": n.state.name,
        "drain_status": n.drain_status.name,
        "os_version": str(n.os_version) if n.os_version else None,
        "service_version": str(n.highest_version) if n.highest_version else None,
        "lowest_version": str(n.lowest_version) if n.lowest_version else None,
        "node_weight": n.node_weight,
        "dynamic_weight": n.dynamic_weight,
    }
    if snap is not None:
        doc["groups"] = [g.name for g in snap.groups_on(n.name)]
    return doc


def group_doc(g: GroupInfo) -> dict[str, Any]:
    return {
        "name": g.name,
        "state": g.state.name,
        "owner": g.owner,
        "type": g.group_type.name,
        "priority": g.priority,
        "is_core": g.is_core,
        # None: not read (null in JSON, "unknown" in tables), never an empty list
        "preferred_owners": None if g.preferred_owners is None else list(g.preferred_owners),
        "possible_owners": list(g.possible_owners),
    }


def status_doc(snap: ClusterSnapshot, *, dialect: str, endpoint: str) -> dict[str, Any]:
    health = snap.health()
    return {
        "schema": "clusterlib.status/1",
        "cluster": snap.name,
        "endpoint": endpoint,
        "dialect": dialect,
        "functional_level": snap.functional_level,
        "quorum": {"type": snap.quorum_type or None, "dynamic": snap.dynamic_quorum,
                   "witness": snap.witness},
        "mixed_version": snap.mixed_version,
        "health": {"ok": health.ok, "problems": list(health.problems)},
        "nodes": [node_doc(n, snap) for n in snap.nodes],
        "groups": [group_doc(g) for g in snap.groups],
    }


def nodes_doc(snap: ClusterSnapshot) -> dict[str, Any]:
    return {"schema": "clusterlib.nodes/1", "cluster": snap.name,
            "nodes": [node_doc(n, snap) for n in snap.nodes]}


def groups_doc(snap: ClusterSnapshot) -> dict[str, Any]:
    return {"schema": "clusterlib.groups/1", "cluster": snap.name,
            "groups": [group_doc(g) for g in snap.groups]}


def placement_changes(before: ClusterSnapshot, after: ClusterSnapshot) -> list[dict[str, Any]]:
    """Every group whose owner changed between two snapshots (moves the cluster made itself,
    e.g. a drain, emit no clusterlib event, so they are found by comparison)."""
    old = before.placement()
    return [{"group": g.name, "source": old.get(g.name), "target": g.owner, "state": g.state.name}
            for g in after.groups if old.get(g.name) != g.owner]


def action_doc(action: str, subject: str, before: ClusterSnapshot, snap: ClusterSnapshot,
               events: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What an action (pause, resume, move) did: placement changes, clusterlib's own moves and
    retries (from the events), and the resulting state."""
    moves = [{k: v for k, v in e.items() if k != "event"} for e in events if e.get("event") == "move"]
    retries = [{k: v for k, v in e.items() if k != "event"} for e in events
               if e.get("event") == "retry"]
    return {"schema": "clusterlib.action/1", "action": action, "subject": subject,
            "placement_changes": placement_changes(before, snap),
            "moves": moves, "retries": retries,
            "nodes": [node_doc(n, snap) for n in snap.nodes],
            "groups": [group_doc(g) for g in snap.groups]}


# --- records -> tables -----------------------------------------------------------------------------

_STATE_STYLE = {"Up": "green", "Online": "green", "Paused": "yellow", "Pending": "yellow",
                "PartialOnline": "yellow", "Joining": "yellow", "Offline": "dim",
                "Down": "red", "Failed": "red", "Unknown": "red"}


def _state(name: str) -> str:
    style = _STATE_STYLE.get(name)
    return f"[{style}]{name}[/]" if style else name


def nodes_table(snap: ClusterSnapshot) -> Any:
    from rich.table import Table

    table = Table(title=f"Nodes of {cell(snap.name)}", title_justify="left")
    for col in ("Node", "State", "Drain", "OS", "Cluster service", "Groups"):
        table.add_column(col)
    for n in snap.nodes:
        table.add_row(cell(n.name), _state(n.state.name), n.drain_status.name,
                      cell(n.os_version or "?"), cell(n.highest_version or "?"),
                      str(len(snap.groups_on(n.name))))
    return table


def groups_table(snap: ClusterSnapshot) -> Any:
    from rich.table import Table

    table = Table(title=f"Groups of {cell(snap.name)}", title_justify="left")
    for col in ("Group", "State", "Owner", "Type", "Priority", "Preferred owners"):
        table.add_column(col)
    for g in snap.groups:
        name = cell(g.name) + (" [dim](core)[/]" if g.is_core else "")
        table.add_row(name, _state(g.state.name), cell(g.owner or "-"), g.group_type.name,
                      "unknown" if g.priority is None else str(g.priority),
                      "unknown" if g.preferred_owners is None
                      else cell(", ".join(g.preferred_owners) or "-"))
    return table


def print_status(snap: ClusterSnapshot, *, dialect: str, endpoint: str) -> None:
    con = console()
    health = snap.health()
    verdict = ("[bold green]healthy[/]" if health.ok
               else "[bold red]unhealthy[/]: " + cell("; ".join(health.problems)))
    versions = sorted({str(n.highest_version) for n in snap.nodes if n.highest_version})
    con.print(f"[bold]{cell(snap.name)}[/] via {cell(endpoint)} ({cell(dialect)}): {verdict}")
    level = "" if snap.functional_level is None else f", functional level {snap.functional_level}"
    mixed = " [yellow](mixed versions)[/]" if snap.mixed_version else ""
    con.print(f"cluster service {cell(', '.join(versions) or '?')}{mixed}{level}")
    con.print(nodes_table(snap))
    con.print(groups_table(snap))


def print_nodes(snap: ClusterSnapshot) -> None:
    console().print(nodes_table(snap))


def print_groups(snap: ClusterSnapshot) -> None:
    console().print(groups_table(snap))


def print_action(summary: str, before: ClusterSnapshot, after: ClusterSnapshot) -> None:
    for change in placement_changes(before, after):
        out(f"  {change['group']}: {change['source']} -> {change['target']} ({change['state']})")
    out(summary)
